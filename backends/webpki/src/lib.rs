//! What polytls' pure-Rust backends (rustls, dimpl) share, so that they name the same problem
//! the same way and read the system store the same way: [`kind_of`], webpki's errors as
//! polytls' [`SslErrorKind`]s, and [`system_store`], the system's trusted certificates as
//! rustls-native-certs finds them.
//!
//! It registers no backend: it is a support crate of the backend crates.
//!
//! ```
//! use polytls_core::SslErrorKind;
//!
//! let revoked = webpki::Error::CertRevoked;
//! assert_eq!(polytls_webpki::kind_of(&revoked), SslErrorKind::CertificateRevoked);
//! ```

use std::io;

use polytls_core::{Certificate, Error, SslErrorKind};

/// The polytls kind of a webpki error; `UnspecifiedError` for an error polytls has no kind
/// for. `UnknownIssuer` is left to the caller, which knows whether the path ended at a
/// self-signed certificate (`SelfSignedCertificate`) or nowhere
/// (`UnableToGetLocalIssuerCertificate`); here it is `UnspecifiedError`.
#[allow(deprecated)] // webpki's deprecated variants may still be produced; map them too.
pub fn kind_of(error: &webpki::Error) -> SslErrorKind {
    use webpki::Error as E;
    use SslErrorKind as K;
    match error {
        E::CertExpired { .. } => K::CertificateExpired,
        E::CertNotValidYet { .. } => K::CertificateNotYetValid,
        E::InvalidSignatureForPublicKey
        | E::SignatureAlgorithmMismatch
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => K::CertificateSignatureFailed,
        E::CertRevoked => K::CertificateRevoked,
        E::UnknownRevocationStatus => K::CertificateStatusUnknown,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            K::InvalidPurpose
        }
        E::CertNotValidForName(_) => K::HostNameMismatch,
        E::PathLenConstraintViolated => K::PathLengthExceeded,
        E::EndEntityUsedAsCa => K::InvalidCaCertificate,
        E::CertDistrusted => K::CertificateBlacklisted,
        _ => K::UnspecifiedError,
    }
}

/// The system's trusted certificates (DER) as rustls-native-certs finds them (honouring
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`).
///
/// Fails with [`Error::Io`] when no certificate could be loaded and reading the store
/// failed; a store that reads but holds nothing is an empty list.
pub fn system_store_ders() -> Result<Vec<Vec<u8>>, Error> {
    let loaded = rustls_native_certs::load_native_certs();
    if loaded.certs.is_empty() {
        if let Some(first) = loaded.errors.first() {
            return Err(Error::Io(io::Error::other(format!(
                "cannot read the system certificate store: {first}"
            ))));
        }
    }
    Ok(loaded
        .certs
        .iter()
        .map(|der| der.as_ref().to_vec())
        .collect())
}

/// [`system_store_ders`] as polytls certificates; a certificate polytls cannot read is left
/// out.
///
/// Fails as [`system_store_ders`] does.
pub fn system_store() -> Result<Vec<Certificate>, Error> {
    Ok(system_store_ders()?
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_issuer_is_left_to_the_caller() {
        assert_eq!(
            kind_of(&webpki::Error::UnknownIssuer),
            SslErrorKind::UnspecifiedError
        );
        assert_eq!(
            kind_of(&webpki::Error::CertRevoked),
            SslErrorKind::CertificateRevoked
        );
    }
}
