//! Verification problems: [`SslErrorKind`] (every member of Qt's `QSslError::SslError`) and
//! [`SslError`], a kind together with the certificate it concerns.

use std::fmt;

use crate::Certificate;

macro_rules! ssl_error_kinds {
    ($($(#[$doc:meta])* $name:ident = $message:literal,)*) => {
        /// What went wrong while verifying a peer (Qt's `QSslError::SslError`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SslErrorKind {
            $($(#[$doc])* $name,)*
        }

        impl SslErrorKind {
            /// Every member, in Qt's order (`UnspecifiedError` last).
            pub const ALL: &'static [SslErrorKind] = &[$(Self::$name,)*];

            /// A sentence describing the problem, as Qt's `errorString()` gives it.
            pub fn message(self) -> &'static str {
                match self {
                    $(Self::$name => $message,)*
                }
            }
        }
    };
}

ssl_error_kinds! {
    /// No error.
    NoError = "No error",
    /// The issuer certificate of a looked-up certificate could not be found.
    UnableToGetIssuerCertificate = "The issuer certificate could not be found",
    /// The certificate signature could not be decrypted.
    UnableToDecryptCertificateSignature = "The certificate signature could not be decrypted",
    /// The public key of the issuer could not be read.
    UnableToDecodeIssuerPublicKey = "The public key in the certificate could not be read",
    /// The signature of the certificate is invalid.
    CertificateSignatureFailed = "The signature of the certificate is invalid",
    /// The certificate is not yet valid.
    CertificateNotYetValid = "The certificate is not yet valid",
    /// The certificate has expired.
    CertificateExpired = "The certificate has expired",
    /// The notBefore field contains an invalid time.
    InvalidNotBeforeField = "The certificate's notBefore field contains an invalid time",
    /// The notAfter field contains an invalid time.
    InvalidNotAfterField = "The certificate's notAfter field contains an invalid time",
    /// The peer's certificate is self-signed and not trusted.
    SelfSignedCertificate = "The certificate is self-signed, and untrusted",
    /// The chain contains a self-signed root that is not trusted.
    SelfSignedCertificateInChain = "The root certificate of the certificate chain is self-signed, and untrusted",
    /// The issuer of a certificate in the chain is not among the trusted certificates.
    UnableToGetLocalIssuerCertificate = "The issuer certificate of a locally looked up certificate could not be found",
    /// No signature in the chain could be verified (a single certificate without its issuer).
    UnableToVerifyFirstCertificate = "No certificates could be verified",
    /// The certificate has been revoked.
    CertificateRevoked = "The certificate has been revoked",
    /// A CA certificate is invalid (not a CA, or wrong usage).
    InvalidCaCertificate = "One of the CA certificates is invalid",
    /// The basicConstraints path length was exceeded.
    PathLengthExceeded = "The basicConstraints path length parameter has been exceeded",
    /// The certificate cannot be used for this purpose (extended key usage).
    InvalidPurpose = "The supplied certificate is unsuitable for this purpose",
    /// The root CA is not trusted for this purpose.
    CertificateUntrusted = "The root CA certificate is not trusted for this purpose",
    /// The root CA rejects this purpose.
    CertificateRejected = "The root CA certificate is marked to reject the specified purpose",
    /// The issuer's subject name does not match the certificate's issuer name.
    SubjectIssuerMismatch = "The current candidate issuer certificate was rejected because its subject name did not match the issuer name of the current certificate",
    /// The authority key identifier's issuer and serial do not match.
    AuthorityIssuerSerialNumberMismatch = "The current candidate issuer certificate was rejected because its issuer name and serial number was present and did not match the authority key identifier of the current certificate",
    /// The peer did not present a certificate.
    NoPeerCertificate = "The peer did not present any certificate",
    /// The host name matches none of the certificate's names.
    HostNameMismatch = "The host name did not match any of the valid hosts for this certificate",
    /// TLS is not available.
    NoSslSupport = "No SSL support available",
    /// The certificate is on a block list.
    CertificateBlacklisted = "The peer certificate is blacklisted",
    /// The certificate's revocation status is unknown.
    CertificateStatusUnknown = "The certificate status is unknown",
    /// No OCSP response was found.
    OcspNoResponseFound = "No OCSP status response found",
    /// The OCSP request was malformed.
    OcspMalformedRequest = "The OCSP status request had invalid syntax",
    /// The OCSP response was malformed.
    OcspMalformedResponse = "OCSP response contains an unexpected number of SingleResponse structures",
    /// The OCSP responder had an internal error.
    OcspInternalError = "OCSP responder reached an inconsistent internal state",
    /// The OCSP responder asked to try later.
    OcspTryLater = "OCSP responder was unable to return a status for the requested certificate",
    /// The OCSP responder requires a signed request.
    OcspSigRequired = "The server requires the client to sign the OCSP request in order to construct a response",
    /// The OCSP request was unauthorised.
    OcspUnauthorized = "The client is not authorized to request OCSP status from this server",
    /// The OCSP response has expired.
    OcspResponseExpired = "OCSP responder's identity cannot be verified",
    /// The OCSP status is unknown.
    OcspStatusUnknown = "The certificate status is unknown",
    /// Any other problem.
    UnspecifiedError = "An unknown error occurred",
}

impl fmt::Display for SslErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One verification problem: its kind and, where it concerns one, the certificate
/// (Qt's `QSslError`).
///
/// Two errors are equal when kind and certificate are equal (the [expected
/// name](Self::expected_name) of a host name mismatch is not compared); that is how an ignore list
/// given to [`Session::ignore_ssl_errors_list`](crate::Session::ignore_ssl_errors_list)
/// matches the errors found.
#[derive(Clone, Debug)]
pub struct SslError {
    kind: SslErrorKind,
    certificate: Option<Certificate>,
    /// The name the certificate was checked against (host name mismatches).
    expected_name: Option<String>,
}

impl PartialEq for SslError {
    fn eq(&self, other: &SslError) -> bool {
        self.kind == other.kind && self.certificate == other.certificate
    }
}

impl Eq for SslError {}

impl std::hash::Hash for SslError {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.kind, &self.certificate).hash(state);
    }
}

impl SslError {
    /// An error of `kind` that concerns no particular certificate.
    pub fn new(kind: SslErrorKind) -> SslError {
        SslError {
            kind,
            certificate: None,
            expected_name: None,
        }
    }

    /// An error of `kind` that concerns `certificate`.
    pub fn with_certificate(kind: SslErrorKind, certificate: Certificate) -> SslError {
        SslError {
            kind,
            certificate: Some(certificate),
            expected_name: None,
        }
    }

    /// This error, saying which name the certificate was checked against (for a
    /// [`HostNameMismatch`](SslErrorKind::HostNameMismatch); backends set it). The name is
    /// shown, not compared: an ignore list matches the error with or without it.
    pub fn with_expected_name(mut self, name: impl Into<String>) -> SslError {
        self.expected_name = Some(name.into());
        self
    }

    /// The name the certificate was checked against, when the error says.
    pub fn expected_name(&self) -> Option<&str> {
        self.expected_name.as_deref()
    }

    /// The kind of problem.
    pub fn kind(&self) -> SslErrorKind {
        self.kind
    }

    /// The certificate the problem concerns, if any.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }
}

/// Gives every [`HostNameMismatch`](SslErrorKind::HostNameMismatch) in `errors` the name the
/// certificate was checked against (see [`SslError::with_expected_name`]): what a backend
/// calls on the list it found, so that the error says which name was expected.
pub fn name_mismatches(errors: &mut [SslError], expected: &str) {
    for error in errors
        .iter_mut()
        .filter(|e| e.kind == SslErrorKind::HostNameMismatch)
    {
        error.expected_name = Some(expected.to_owned());
    }
}

/// The names a certificate is valid for, as a host name check sees them.
fn names_of(cert: &Certificate) -> String {
    let names: Vec<String> = cert
        .subject_alternative_names()
        .iter()
        .filter_map(|name| match name {
            crate::AlternativeName::Dns(dns) => Some(format!("DNS:{dns}")),
            crate::AlternativeName::Ip(ip) => Some(format!("IP:{ip}")),
            crate::AlternativeName::Email(_) => None,
        })
        .collect();
    if names.is_empty() {
        "no name (it has no DNS or IP subject alternative name)".into()
    } else {
        names.join(", ")
    }
}

/// A host name mismatch names the name expected (when known) and the names the certificate
/// has: `... (expected 'www.example.com'; the certificate, CN=example.org, is for
/// DNS:example.org, DNS:*.example.org)`.
impl fmt::Display for SslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.certificate, self.kind) {
            (Some(cert), SslErrorKind::HostNameMismatch) => {
                write!(f, "{} (", self.kind)?;
                if let Some(name) = &self.expected_name {
                    write!(f, "expected '{name}'; ")?;
                }
                write!(
                    f,
                    "the certificate, {}, is for {})",
                    cert.subject_display_name(),
                    names_of(cert)
                )
            }
            (Some(cert), _) => write!(f, "{} ({})", self.kind, cert.subject_display_name()),
            (None, _) => {
                fmt::Display::fmt(&self.kind, f)?;
                match &self.expected_name {
                    Some(name) => write!(f, " (expected '{name}')"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Two certificates of one test run, made by rcgen.
    fn two_certificates() -> (Certificate, Certificate) {
        let make = |name: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
            Certificate::from_der(params.self_signed(&key).unwrap().der()).unwrap()
        };
        (make("one.example"), make("two.example"))
    }

    /// tst_QSslError::hash: errors are equal, and hash alike, by kind and certificate: equal
    /// errors collapse in a set, an error of another kind or about another certificate (or
    /// about none) does not.
    #[test]
    fn errors_in_a_hash_set() {
        let (one, two) = two_certificates();
        let mut set = HashSet::new();
        assert!(set.insert(SslError::new(SslErrorKind::NoError)));
        assert!(!set.insert(SslError::new(SslErrorKind::NoError)));
        assert!(set.insert(SslError::new(SslErrorKind::CertificateExpired)));
        assert!(set.insert(SslError::with_certificate(
            SslErrorKind::CertificateExpired,
            one.clone()
        )));
        assert!(!set.insert(SslError::with_certificate(
            SslErrorKind::CertificateExpired,
            one.clone()
        )));
        assert!(set.insert(SslError::with_certificate(
            SslErrorKind::CertificateExpired,
            two.clone()
        )));
        assert!(set.insert(SslError::with_certificate(
            SslErrorKind::SelfSignedCertificate,
            one.clone()
        )));
        assert!(!set.insert(
            SslError::with_certificate(SslErrorKind::CertificateExpired, one.clone())
                .with_expected_name("shown, not compared")
        ));
        assert_eq!(set.len(), 5);
        assert!(set.contains(&SslError::with_certificate(
            SslErrorKind::CertificateExpired,
            two
        )));
        assert!(!set.contains(&SslError::with_certificate(
            SslErrorKind::HostNameMismatch,
            one
        )));
    }

    /// tst_QSslError::constructing: an error of no kind says "No error" and concerns no
    /// certificate.
    #[test]
    fn no_error() {
        let error = SslError::new(SslErrorKind::NoError);
        assert_eq!(error.kind(), SslErrorKind::NoError);
        assert_eq!(error.kind().message(), "No error");
        assert_eq!(error.to_string(), "No error");
        assert!(error.certificate().is_none());
    }

    /// tst_QSslError::nonDefaultConstructors: every kind, with and without a certificate,
    /// keeps its kind, and only NoError says "No error"; each says something of its own
    /// (the two "certificate status is unknown" kinds aside, whose texts are Qt's).
    #[test]
    fn every_kind_with_and_without_a_certificate() {
        let (certificate, _) = two_certificates();
        let mut messages = HashSet::new();
        for &kind in SslErrorKind::ALL {
            for error in [
                SslError::new(kind),
                SslError::with_certificate(kind, certificate.clone()),
            ] {
                assert_eq!(error.kind(), kind);
                assert_eq!(kind.message() == "No error", kind == SslErrorKind::NoError);
                assert!(!kind.message().is_empty());
            }
            let with = SslError::with_certificate(kind, certificate.clone());
            assert_eq!(with.certificate(), Some(&certificate));
            assert!(with.to_string().starts_with(kind.message()));
            messages.insert(kind.message());
        }
        assert_eq!(messages.len(), SslErrorKind::ALL.len() - 1);
        assert_eq!(
            SslErrorKind::ALL.last(),
            Some(&SslErrorKind::UnspecifiedError)
        );
    }

    #[test]
    fn a_host_name_mismatch_names_the_expected_name_and_the_certificates() {
        let (cert, _) = two_certificates();
        let error = SslError::with_certificate(SslErrorKind::HostNameMismatch, cert.clone())
            .with_expected_name("www.example.com");
        let said = error.to_string();
        assert!(
            said.starts_with(SslErrorKind::HostNameMismatch.message())
                && said.contains("expected 'www.example.com'")
                && said.contains(&cert.subject_display_name()),
            "{said}"
        );
        assert!(
            said.ends_with(&format!("is for {})", names_of(&cert))),
            "{said}"
        );
        assert_eq!(error.expected_name(), Some("www.example.com"));
    }
}
