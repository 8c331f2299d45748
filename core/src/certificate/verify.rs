//! [`Certificate::verify`]: a chain checked outside a handshake by a backend (Qt's
//! `QSslCertificate::verify`), against the default configuration's trust anchors.

use crate::backend::ChainVerification;
use crate::registry::Registry;
use crate::{Certificate, Error, PeerName, SslConfiguration, SslError};

impl Certificate {
    /// Verifies `chain` (leaf first, then intermediates in any order) with the active backend,
    /// against the default configuration's CA certificates (the system's, loaded on first
    /// use, unless the default configuration sets them), its peer verify depth, key strength
    /// and certificate profile; and, when `host_name` is given, checks that the leaf is valid
    /// for it. Blacklisted certificates are reported too. As
    /// Qt's `QSslCertificate::verify`, it asks for no purpose: a certificate for client
    /// authentication only is accepted (a [`ChainVerification`] names a purpose). Returns
    /// every problem found, each naming its certificate; an empty list means the chain is
    /// good.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use polytls::{Certificate, SslErrorKind};
    ///
    /// let chain = Certificate::list_from_file("chain.pem", polytls::EncodingFormat::Pem)?;
    /// let errors = Certificate::verify(&chain, Some("www.example.com"))?;
    /// for error in &errors {
    ///     println!("{error}");
    /// }
    /// let expired = errors.iter().any(|e| e.kind() == SslErrorKind::CertificateExpired);
    /// # let _ = expired;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Fails as [`verify_with`](Self::verify_with) does.
    pub fn verify(chain: &[Certificate], host_name: Option<&str>) -> Result<Vec<SslError>, Error> {
        Self::verify_with(chain, host_name, None)
    }

    /// [`verify`](Self::verify) with the backend named `backend` (the active one for `None`).
    ///
    /// Fails with [`Error::InvalidInput`] for an empty chain or a host name that cannot be a
    /// [`PeerName`] (an empty one included), [`Error::Unsupported`] when the
    /// backend does not claim certificate verification, and [`Error::UnknownBackend`] /
    /// [`Error::NoBackend`] when there is no such backend.
    pub fn verify_with(
        chain: &[Certificate],
        host_name: Option<&str>,
        backend: Option<&str>,
    ) -> Result<Vec<SslError>, Error> {
        if chain.is_empty() {
            return Err(Error::InvalidInput(
                "an empty chain cannot be verified".into(),
            ));
        }
        let host_name = host_name.map(PeerName::parse).transpose()?;
        let backend = Registry::global().backend(backend)?;
        let config = SslConfiguration::default_configuration();
        let depth = config.peer_verify_depth;
        let request =
            ChainVerification::new(chain, host_name.as_ref(), config.ca_certificates.as_deref())
                .with_depth((depth > 0).then_some(depth))
                .with_purpose(None)
                .with_key_strength(config.key_strength)
                .with_strict_profile(config.strict_certificate_profile);
        backend
            .verify_chain(&request)
            .map(|errors| super::with_blacklist_errors(chain, errors))
    }
}
