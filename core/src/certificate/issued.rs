//! Whether a certificate issued itself, decided as OpenSSL's `X509_check_issued(cert, cert)`
//! decides it (Qt's `isSelfSigned`), so that every backend and polytls give one answer.

use super::oid::Dotted;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::{name, serial_magnitude};

/// The key algorithm (by SubjectPublicKeyInfo OID) a signature algorithm OID needs, or `None`
/// for a signature algorithm this check does not know.
fn key_algorithm_for(signature: &str) -> Option<&'static str> {
    const RSA: &str = "1.2.840.113549.1.1.1";
    const RSA_PSS: &str = "1.2.840.113549.1.1.10";
    Some(match signature {
        // md5/sha1/sha224/sha256/sha384/sha512 with RSA encryption
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.14"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.113549.1.1.12"
        | "1.2.840.113549.1.1.13" => RSA,
        RSA_PSS => RSA_PSS,
        // ecdsa-with-SHA1 / SHA224 / SHA256 / SHA384 / SHA512
        "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.1"
        | "1.2.840.10045.4.3.2"
        | "1.2.840.10045.4.3.3"
        | "1.2.840.10045.4.3.4" => "1.2.840.10045.2.1",
        // dsa-with-sha1 / sha224 / sha256
        "1.2.840.10040.4.3" | "2.16.840.1.101.3.4.3.1" | "2.16.840.1.101.3.4.3.2" => {
            "1.2.840.10040.4.1"
        }
        "1.3.101.112" => "1.3.101.112",
        "1.3.101.113" => "1.3.101.113",
        _ => return None,
    })
}

/// Whether the signature algorithm fits the certificate's own key (an RSA key also signs
/// RSASSA-PSS).
fn signature_fits_key(c: &X509Certificate<'_>) -> bool {
    let key = c.public_key().algorithm.algorithm.dotted();
    match key_algorithm_for(&c.signature_algorithm.algorithm.dotted()) {
        Some(needed) => {
            needed == key || (needed == "1.2.840.113549.1.1.10" && key == "1.2.840.113549.1.1.1")
        }
        None => true,
    }
}

/// See [`Certificate::is_self_signed`](super::Certificate::is_self_signed).
pub(super) fn is_self_issued(c: &X509Certificate<'_>) -> bool {
    if !name::names_equal(c.subject(), c.issuer()) || !signature_fits_key(c) {
        return false;
    }
    let mut aki = None;
    let mut ski = None;
    for ext in c.extensions() {
        match ext.parsed_extension() {
            // OpenSSL marks a certificate with a malformed extension invalid; an invalid
            // certificate issues nothing.
            ParsedExtension::ParseError { .. } => return false,
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = Some(a),
            ParsedExtension::SubjectKeyIdentifier(s) => ski = Some(s.0),
            ParsedExtension::KeyUsage(ku) if !ku.key_cert_sign() => return false,
            _ => {}
        }
    }
    let Some(aki) = aki else { return true };
    let key_ok = match (&aki.key_identifier, ski) {
        (Some(kid), Some(ski)) => kid.0 == ski,
        _ => true,
    };
    let serial_ok = aki.authority_cert_serial.map_or(true, |s| {
        serial_magnitude(s) == serial_magnitude(c.raw_serial())
    });
    key_ok && serial_ok
}
