//! [`MockBackend`]: a backend with declared capabilities and no engine, for registry cases and
//! for backend authors' own tests.

use polytls::{
    Certificate, Error, ImplementedClass, SslCipher, SslProtocol, SupportedFeature, TlsBackend,
};

/// A backend that claims what it is told and creates nothing.
#[derive(Clone, Debug)]
pub struct MockBackend {
    /// The registry name.
    pub name: String,
    /// What `is_available` answers.
    pub available: bool,
    /// The claimed classes.
    pub classes: Vec<ImplementedClass>,
    /// The claimed features.
    pub features: Vec<SupportedFeature>,
    /// The claimed protocols.
    pub protocols: Vec<SslProtocol>,
}

impl MockBackend {
    /// An available mock named `name` that claims nothing.
    pub fn new(name: &str) -> MockBackend {
        MockBackend {
            name: name.into(),
            available: true,
            classes: Vec::new(),
            features: Vec::new(),
            protocols: Vec::new(),
        }
    }
}

impl TlsBackend for MockBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_available(&self) -> bool {
        self.available
    }

    fn library_version_number(&self) -> u64 {
        0x0100_0000
    }

    fn library_version_string(&self) -> String {
        format!("{} 1.0 (mock)", self.name)
    }

    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        self.classes.clone()
    }

    fn supported_features(&self) -> Vec<SupportedFeature> {
        self.features.clone()
    }

    fn supported_protocols(&self) -> Vec<SslProtocol> {
        self.protocols.clone()
    }

    fn supported_ciphers(&self) -> Vec<SslCipher> {
        Vec::new()
    }

    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        Ok(Vec::new())
    }
}
