//! [`OpenSslBackend`]: which OpenSSL this is (run-time and build-time versions), what it can do
//! (the claims the conformance suite checks), and the factory for its engines.

use openssl::version;
use polytls_core::{
    Certificate, CertificateInfo, ChainVerification, DtlsEngine, DtlsEngineParams, EncodingFormat,
    EngineParams, Error, ImplementedClass, Key, KeyType, Pkcs12, ProtocolVersion, SslCipher,
    SslError, SslProtocol, SupportedFeature, TlsBackend, TlsEngine,
};
use zeroize::Zeroizing;

use crate::dtls::OpenSslDtlsEngine;
use crate::{certificate, config, engine::OpenSslEngine, key, verify};

/// The backend's registry name.
pub(crate) const NAME: &str = "openssl";

/// The TLS versions the engine negotiates, oldest first. TLS 1.0 and 1.1 need OpenSSL's
/// security level 0, which the configuration sets whenever its minimum is below TLS 1.2.
pub(crate) const VERSIONS: [ProtocolVersion; 4] = [
    ProtocolVersion::Tls1_0,
    ProtocolVersion::Tls1_1,
    ProtocolVersion::Tls1_2,
    ProtocolVersion::Tls1_3,
];

/// The OpenSSL library as a polytls backend. It holds no state of its own: engines with equal
/// parameters share an OpenSSL context from a process-wide cache (`context_cache`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenSslBackend {
    _private: (),
}

impl OpenSslBackend {
    /// The backend; creating it never fails (OpenSSL is initialised when first used).
    pub fn new() -> OpenSslBackend {
        OpenSslBackend { _private: () }
    }
}

/// `OPENSSL_VERSION_NUMBER` of the headers the crate was compiled against, or 0 when the build
/// did not report it.
fn build_version_number() -> u64 {
    u64::from_str_radix(env!("POLYTLS_OPENSSL_BUILD_VERSION"), 16).unwrap_or(0)
}

/// Formats an `OPENSSL_VERSION_NUMBER` as OpenSSL names its releases: `3.0.19` for the
/// `0xMNN00PP0` scheme of OpenSSL 3, `1.1.1w` for the `0xMNNFFPPS` scheme before it. Returns an
/// empty string for 0.
fn version_text(number: u64) -> String {
    if number == 0 {
        return String::new();
    }
    let major = number >> 28;
    let minor = (number >> 20) & 0xff;
    if major >= 3 {
        let patch = (number >> 4) & 0xff;
        format!("OpenSSL {major}.{minor}.{patch}")
    } else {
        let fix = (number >> 12) & 0xff;
        let letter = (number >> 4) & 0xff;
        let suffix = match u8::try_from(letter) {
            Ok(l @ 1..=26) => char::from(b'a' + l - 1).to_string(),
            _ => String::new(),
        };
        format!("OpenSSL {major}.{minor}.{fix}{suffix}")
    }
}

impl TlsBackend for OpenSslBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn library_version_number(&self) -> u64 {
        u64::try_from(version::number()).unwrap_or(0)
    }

    fn library_version_string(&self) -> String {
        version::version().to_owned()
    }

    fn build_version_number(&self) -> u64 {
        build_version_number()
    }

    fn build_version_string(&self) -> String {
        version_text(build_version_number())
    }

    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        vec![
            ImplementedClass::Socket,
            ImplementedClass::Certificate,
            ImplementedClass::Key,
            ImplementedClass::Dtls,
            ImplementedClass::DtlsCookie,
        ]
    }

    fn supported_features(&self) -> Vec<SupportedFeature> {
        vec![
            SupportedFeature::CertificateVerification,
            SupportedFeature::ClientSideAlpn,
            SupportedFeature::ServerSideAlpn,
            SupportedFeature::OptionalClientCertificate,
            SupportedFeature::Psk,
            SupportedFeature::Alerts,
            SupportedFeature::LocalCertificateChain,
        ]
    }

    fn supported_protocols(&self) -> Vec<SslProtocol> {
        vec![
            SslProtocol::TlsV1_0,
            SslProtocol::TlsV1_0OrLater,
            SslProtocol::TlsV1_1,
            SslProtocol::TlsV1_1OrLater,
            SslProtocol::TlsV1_2,
            SslProtocol::TlsV1_2OrLater,
            SslProtocol::TlsV1_3,
            SslProtocol::TlsV1_3OrLater,
            SslProtocol::DtlsV1_0,
            SslProtocol::DtlsV1_0OrLater,
            SslProtocol::DtlsV1_2,
            SslProtocol::DtlsV1_2OrLater,
            SslProtocol::AnyProtocol,
            SslProtocol::SecureProtocols,
        ]
    }

    fn supported_ciphers(&self) -> Vec<SslCipher> {
        config::supported_ciphers().to_vec()
    }

    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        verify::system_ca_certificates()
    }

    fn certificate_info(&self, der: &[u8]) -> Result<CertificateInfo, Error> {
        certificate::info(der)
    }

    fn import_pkcs12(&self, data: &[u8], passphrase: &[u8]) -> Result<Pkcs12, Error> {
        certificate::import_pkcs12(data, passphrase)
    }

    fn read_key(
        &self,
        data: &[u8],
        format: EncodingFormat,
        key_type: KeyType,
        passphrase: Option<&[u8]>,
    ) -> Result<Key, Error> {
        key::read(data, format, key_type, passphrase)
    }

    fn write_key(
        &self,
        key: &Key,
        format: EncodingFormat,
        passphrase: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        key::write(key, format, passphrase)
    }

    fn verify_chain(&self, request: &ChainVerification<'_>) -> Result<Vec<SslError>, Error> {
        verify::verify_standalone(request)
    }

    fn new_tls_engine(&self, params: EngineParams<'_>) -> Result<Box<dyn TlsEngine>, Error> {
        polytls_core::backend::refuse_unclaimed(self, &params)?;
        Ok(Box::new(OpenSslEngine::new(&params)?))
    }

    fn new_dtls_engine(&self, params: DtlsEngineParams<'_>) -> Result<Box<dyn DtlsEngine>, Error> {
        Ok(Box::new(OpenSslDtlsEngine::new(&params)?))
    }
}

#[cfg(test)]
mod tests {
    use super::version_text;

    #[test]
    fn version_numbers_read_like_openssl_names_them() {
        assert_eq!(version_text(0x3000_0130), "OpenSSL 3.0.19");
        assert_eq!(version_text(0x3050_0010), "OpenSSL 3.5.1");
        assert_eq!(version_text(0x1010_117f), "OpenSSL 1.1.1w");
        assert_eq!(version_text(0), "");
    }
}
