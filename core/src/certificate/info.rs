//! [`CertificateInfo`]: the facts of one certificate as one parser reads them.
//!
//! polytls reads certificates with its own pure-Rust parser; a backend that implements the
//! Certificate class reads them with its library's parser
//! ([`TlsBackend::certificate_info`](crate::TlsBackend::certificate_info)). Both produce this
//! record, so the conformance suite can prove that the engine sees what the user sees: two
//! parsers that disagree about a certificate are a security problem, not a detail.

use super::oid::Dotted;
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Name;

use super::{name, serial_magnitude, AlternativeName, Certificate};
use crate::DigestAlgorithm;

/// One attribute of a distinguished name: its dotted OID and its value as text (`None` when
/// the value is not a string type).
pub type NameEntry = (String, Option<String>);

/// One extension: dotted OID, critical flag, and the DER of its value (the contents of
/// `extnValue`).
pub type RawExtension = (String, bool, Vec<u8>);

/// Everything a parser reports about a certificate, in a form two parsers can be compared on.
///
/// ```
/// # fn main() -> Result<(), polytls::Error> {
/// # let pem = polytls_doc_support();
/// use polytls::Certificate;
///
/// let cert = Certificate::from_pem(pem.as_bytes())?;
/// let info = cert.info();
/// assert_eq!(info.version, cert.version());
/// assert_eq!(info.serial_number, cert.serial_number_bytes());
/// // With a backend that implements the Certificate class, its parser must agree:
/// // assert_eq!(polytls::certificate_info(cert.to_der(), Some("openssl"))?, info);
/// # Ok(())
/// # }
/// # fn polytls_doc_support() -> String {
/// #     let key = rcgen::KeyPair::generate().unwrap();
/// #     rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap()
/// #         .self_signed(&key).unwrap().pem()
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// The X.509 version (1, 2 or 3).
    pub version: u32,
    /// The serial number's big-endian magnitude (no sign byte).
    pub serial_number: Vec<u8>,
    /// The subject's attributes, in encoded order.
    pub subject: Vec<NameEntry>,
    /// The issuer's attributes, in encoded order.
    pub issuer: Vec<NameEntry>,
    /// The DNS, e-mail and IP subject alternative names, in encoded order.
    pub subject_alternative_names: Vec<AlternativeName>,
    /// `notBefore`, in seconds since the Unix epoch.
    pub effective_date_unix: i64,
    /// `notAfter`, in seconds since the Unix epoch.
    pub expiry_date_unix: i64,
    /// Whether the certificate issued itself (OpenSSL's `X509_check_issued` rule, no signature
    /// check).
    pub is_self_signed: bool,
    /// Whether basic constraints mark it as a CA.
    pub is_ca: bool,
    /// The SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// The public key's size in bits, when the algorithm is known.
    pub public_key_bits: Option<usize>,
    /// The dotted OID of the signature algorithm.
    pub signature_algorithm_oid: String,
    /// The extensions, in encoded order.
    pub extensions: Vec<RawExtension>,
    /// The SHA-256 digest of the DER, computed by the parser's own hash implementation.
    pub sha256: Vec<u8>,
}

impl Certificate {
    /// The certificate's facts as polytls' own parser reads them (the reference that backends'
    /// parsers are compared with). Never fails: the DER was checked on construction.
    pub fn info(&self) -> CertificateInfo {
        self.with_parsed(|c| info_of(c, self))
    }
}

fn entries(name: &X509Name<'_>) -> Vec<NameEntry> {
    name.iter_attributes()
        .map(|a| (a.attr_type().dotted(), name::decode_string(a.attr_value())))
        .collect()
}

fn info_of(c: &X509Certificate<'_>, cert: &Certificate) -> CertificateInfo {
    CertificateInfo {
        version: cert.version(),
        serial_number: serial_magnitude(c.raw_serial()),
        subject: entries(c.subject()),
        issuer: entries(c.issuer()),
        subject_alternative_names: cert.subject_alternative_names(),
        effective_date_unix: c.validity().not_before.timestamp(),
        expiry_date_unix: c.validity().not_after.timestamp(),
        is_self_signed: cert.is_self_signed(),
        is_ca: c.is_ca(),
        public_key: c.public_key().raw.to_vec(),
        public_key_bits: super::text::public_key_bits(c),
        signature_algorithm_oid: c.signature_algorithm.algorithm.dotted(),
        extensions: c
            .extensions()
            .iter()
            .map(|e| (e.oid.dotted(), e.critical, e.value.to_vec()))
            .collect(),
        sha256: cert.digest(DigestAlgorithm::Sha256),
    }
}
