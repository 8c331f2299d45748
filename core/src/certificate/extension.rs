//! X.509 v3 extensions: [`CertificateExtension`] (Qt's `QSslCertificateExtension`) and
//! [`ExtensionValue`], the decoded value of the common extensions, built from the parse of
//! x509-parser.

use super::oid::Dotted;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP,
};

use super::AlternativeName;

/// One extension of a certificate (Qt's `QSslCertificateExtension`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertificateExtension {
    /// The extension's object identifier, dotted (`"2.5.29.19"`).
    pub oid: String,
    /// The extension's short name as OpenSSL gives it (`"basicConstraints"`), or the dotted
    /// OID for an extension without a known name.
    pub name: String,
    /// Whether the extension is marked critical. The flag is read as OpenSSL reads it: its
    /// BOOLEAN must hold one octet, 00 is false and any other octet true (DER writes ff).
    /// Qt's own ASN.1 reader refuses octets other than 00 and ff; polytls follows the
    /// library that verifies the chain in a handshake, so that both see the same flag.
    pub is_critical: bool,
    /// Qt's `isSupported()`: whether the extension is one Qt decodes into a value of its own
    /// (basicConstraints, authorityInfoAccess, subjectKeyIdentifier, authorityKeyIdentifier)
    /// and its value decoded. polytls decodes more (key usage, extended key usage, subject
    /// alternative names, policies, CRL distribution points: see [`value`](Self::value)),
    /// but reports those as Qt does, unsupported.
    pub is_supported: bool,
    /// The value, decoded for the common extensions, else the raw DER of the `extnValue`.
    pub value: ExtensionValue,
}

/// The value of a [`CertificateExtension`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionValue {
    /// Basic constraints: whether the subject is a CA and the longest path below it.
    BasicConstraints {
        /// The `cA` flag.
        ca: bool,
        /// The `pathLenConstraint`, when present.
        path_length: Option<u32>,
    },
    /// Key usage: the bits set, by OpenSSL's names (`"Digital Signature"`, `"Certificate
    /// Sign"`, ...).
    KeyUsage(Vec<String>),
    /// Extended key usage: the purposes by OpenSSL's names (`"TLS Web Server
    /// Authentication"`, ...), or dotted OIDs for purposes without a known name.
    ExtendedKeyUsage(Vec<String>),
    /// Subject alternative names: the DNS, e-mail and IP entries (others are left out here;
    /// [`Certificate::to_text`](super::Certificate::to_text) shows them).
    SubjectAlternativeName(Vec<AlternativeName>),
    /// Authority key identifier.
    AuthorityKeyIdentifier {
        /// The `keyIdentifier`, when present.
        key_identifier: Option<Vec<u8>>,
        /// The `authorityCertSerialNumber` (content octets), when present.
        serial: Option<Vec<u8>>,
    },
    /// Subject key identifier: the key identifier bytes.
    SubjectKeyIdentifier(Vec<u8>),
    /// Authority information access: where to ask about the certificate.
    AuthorityInformationAccess {
        /// The OCSP responder URLs.
        ocsp: Vec<String>,
        /// The URLs of the issuer's certificate.
        ca_issuers: Vec<String>,
    },
    /// Certificate policies: the policy OIDs, dotted.
    CertificatePolicies(Vec<String>),
    /// CRL distribution points: the URLs of the full-name distribution points.
    CrlDistributionPoints(Vec<String>),
    /// Any other extension, or one that failed to decode: the DER of the `extnValue`'s content.
    Raw(Vec<u8>),
}

/// OpenSSL's short names for common extension OIDs.
const NAMES: &[(&str, &str)] = &[
    ("2.5.29.14", "subjectKeyIdentifier"),
    ("2.5.29.15", "keyUsage"),
    ("2.5.29.17", "subjectAltName"),
    ("2.5.29.18", "issuerAltName"),
    ("2.5.29.19", "basicConstraints"),
    ("2.5.29.30", "nameConstraints"),
    ("2.5.29.31", "crlDistributionPoints"),
    ("2.5.29.32", "certificatePolicies"),
    ("2.5.29.33", "policyMappings"),
    ("2.5.29.35", "authorityKeyIdentifier"),
    ("2.5.29.36", "policyConstraints"),
    ("2.5.29.37", "extendedKeyUsage"),
    ("2.5.29.54", "inhibitAnyPolicy"),
    ("1.3.6.1.5.5.7.1.1", "authorityInfoAccess"),
    ("1.3.6.1.5.5.7.1.11", "subjectInfoAccess"),
    ("1.3.6.1.5.5.7.1.24", "tlsfeature"),
    ("1.3.6.1.4.1.11129.2.4.2", "ct_precert_scts"),
    ("1.3.6.1.4.1.11129.2.4.3", "ct_precert_poison"),
    ("2.16.840.1.113730.1.1", "nsCertType"),
    ("2.16.840.1.113730.1.13", "nsComment"),
];

/// The short name of an extension OID, or the dotted OID.
pub(crate) fn extension_name(oid: &str) -> String {
    NAMES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or_else(|| oid.to_owned(), |(_, n)| (*n).to_owned())
}

const KEY_USAGE_NAMES: [&str; 9] = [
    "Digital Signature",
    "Non Repudiation",
    "Key Encipherment",
    "Data Encipherment",
    "Key Agreement",
    "Certificate Sign",
    "CRL Sign",
    "Encipher Only",
    "Decipher Only",
];

/// Turns a general name into an [`AlternativeName`] when it is a DNS, e-mail or IP entry.
pub(crate) fn alternative_name(name: &GeneralName<'_>) -> Option<AlternativeName> {
    match name {
        GeneralName::DNSName(s) => Some(AlternativeName::Dns((*s).to_owned())),
        GeneralName::RFC822Name(s) => Some(AlternativeName::Email((*s).to_owned())),
        GeneralName::IPAddress(b) => super::ip_from_bytes(b).map(AlternativeName::Ip),
        _ => None,
    }
}

fn uris<'a>(names: impl IntoIterator<Item = &'a GeneralName<'a>>) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some((*u).to_owned()),
            _ => None,
        })
        .collect()
}

fn decode(parsed: &ParsedExtension<'_>) -> Option<ExtensionValue> {
    Some(match parsed {
        ParsedExtension::BasicConstraints(bc) => ExtensionValue::BasicConstraints {
            ca: bc.ca,
            path_length: bc.path_len_constraint,
        },
        ParsedExtension::KeyUsage(ku) => ExtensionValue::KeyUsage(
            KEY_USAGE_NAMES
                .iter()
                .enumerate()
                .filter(|(bit, _)| ku.flags & (1u16 << bit) != 0)
                .map(|(_, n)| (*n).to_owned())
                .collect(),
        ),
        ParsedExtension::ExtendedKeyUsage(eku) => {
            let mut names: Vec<String> = [
                (eku.server_auth, "TLS Web Server Authentication"),
                (eku.client_auth, "TLS Web Client Authentication"),
                (eku.code_signing, "Code Signing"),
                (eku.email_protection, "E-mail Protection"),
                (eku.time_stamping, "Time Stamping"),
                (eku.ocsp_signing, "OCSP Signing"),
                (eku.any, "Any Extended Key Usage"),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, n)| (*n).to_owned())
            .collect();
            names.extend(eku.other.iter().map(|o| o.dotted()));
            ExtensionValue::ExtendedKeyUsage(names)
        }
        ParsedExtension::SubjectAlternativeName(san) => ExtensionValue::SubjectAlternativeName(
            san.general_names
                .iter()
                .filter_map(alternative_name)
                .collect(),
        ),
        ParsedExtension::AuthorityKeyIdentifier(aki) => ExtensionValue::AuthorityKeyIdentifier {
            key_identifier: aki.key_identifier.as_ref().map(|k| k.0.to_vec()),
            serial: aki.authority_cert_serial.map(<[u8]>::to_vec),
        },
        ParsedExtension::SubjectKeyIdentifier(ski) => {
            ExtensionValue::SubjectKeyIdentifier(ski.0.to_vec())
        }
        ParsedExtension::AuthorityInfoAccess(aia) => {
            let of = |method| {
                uris(
                    aia.accessdescs
                        .iter()
                        .filter(|d| d.access_method == method)
                        .map(|d| &d.access_location),
                )
            };
            ExtensionValue::AuthorityInformationAccess {
                ocsp: of(OID_PKIX_ACCESS_DESCRIPTOR_OCSP),
                ca_issuers: of(OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS),
            }
        }
        ParsedExtension::CertificatePolicies(policies) => ExtensionValue::CertificatePolicies(
            policies.iter().map(|p| p.policy_id.dotted()).collect(),
        ),
        ParsedExtension::CRLDistributionPoints(points) => ExtensionValue::CrlDistributionPoints(
            points
                .points
                .iter()
                .filter_map(|p| match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(uris(names)),
                    _ => None,
                })
                .flatten()
                .collect(),
        ),
        _ => return None,
    })
}

/// Whether Qt's OpenSSL backend has a decoding of its own for an extension with this value
/// (its `x509ExtensionToValue`), which is what its `isSupported()` reports.
fn qt_supports(value: &ExtensionValue) -> bool {
    matches!(
        value,
        ExtensionValue::BasicConstraints { .. }
            | ExtensionValue::AuthorityInformationAccess { .. }
            | ExtensionValue::SubjectKeyIdentifier(_)
            | ExtensionValue::AuthorityKeyIdentifier { .. }
    )
}

/// Every extension of `cert`, in encoded order.
pub(crate) fn extensions(cert: &X509Certificate<'_>) -> Vec<CertificateExtension> {
    cert.extensions()
        .iter()
        .map(|ext| {
            let oid = ext.oid.dotted();
            let value = decode(ext.parsed_extension());
            CertificateExtension {
                name: extension_name(&oid),
                oid,
                is_critical: ext.critical,
                is_supported: value.as_ref().is_some_and(qt_supports),
                value: value.unwrap_or_else(|| ExtensionValue::Raw(ext.value.to_vec())),
            }
        })
        .collect()
}
