//! [`Pkcs12`]: what a PKCS#12 (`.p12`, `.pfx`) file holds, and
//! [`Certificate::import_pkcs12`], which reads one through a backend (Qt's
//! `QSslCertificate::importPkcs12`).

use crate::registry::Registry;
use crate::{Certificate, Error, Key};

/// The contents of a PKCS#12 file: a private key, its certificate, and the CA certificates
/// that came with them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs12 {
    /// The private key.
    pub key: Key,
    /// The certificate of that key.
    pub certificate: Certificate,
    /// The other certificates of the file (its CA chain), in file order.
    pub ca_certificates: Vec<Certificate>,
}

impl Pkcs12 {
    /// Bundles a key, its certificate and CA certificates (for backends building the result).
    pub fn new(key: Key, certificate: Certificate, ca_certificates: Vec<Certificate>) -> Pkcs12 {
        Pkcs12 {
            key,
            certificate,
            ca_certificates,
        }
    }
}

impl Certificate {
    /// Reads a PKCS#12 file protected by `passphrase` with `backend` (the active backend for
    /// `None`), which must implement the Certificate class and PKCS#12.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use polytls::{Certificate, SslConfiguration};
    ///
    /// let bundle = Certificate::import_pkcs12(&std::fs::read("server.p12")?, b"secret", None)?;
    /// let mut config = SslConfiguration::default_configuration();
    /// config.local_certificate_chain = std::iter::once(bundle.certificate)
    ///     .chain(bundle.ca_certificates)
    ///     .collect();
    /// config.private_key = Some(bundle.key);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Fails with [`Error::WrongPassphrase`] when the passphrase does not open the file,
    /// [`Error::Certificate`] when the data is not a PKCS#12 file or holds no key and
    /// certificate, [`Error::Unsupported`] when the backend cannot read PKCS#12, and
    /// [`Error::UnknownBackend`] / [`Error::NoBackend`] when there is no such backend.
    pub fn import_pkcs12(
        data: &[u8],
        passphrase: &[u8],
        backend: Option<&str>,
    ) -> Result<Pkcs12, Error> {
        Registry::global()
            .backend(backend)?
            .import_pkcs12(data, passphrase)
    }
}
