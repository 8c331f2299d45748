//! The certificate corpus every backend that implements the Certificate class must read as
//! polytls does: certificates generated at run time to cover key types, string types, dates,
//! serial numbers and extensions, the test PKI, and small committed files for what the
//! generator cannot make (repeated attributes, multi-valued names). Each entry says what a
//! correct parser must find, so a backend is checked against the facts, not only against
//! polytls' own parser.

use std::net::IpAddr;
use std::sync::OnceLock;

use polytls::{AlternativeName, Certificate};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;

use crate::pki::Pki;

/// One certificate and what a correct parser finds in it (`None`: not checked beyond
/// agreement with polytls' parser).
pub struct Entry {
    /// A short name for messages.
    pub name: &'static str,
    /// The certificate.
    pub certificate: Certificate,
    /// The subject's attributes in encoded order, as (dotted OID, text).
    pub subject: Option<Vec<(&'static str, String)>>,
    /// The subject alternative names, in order.
    pub alternative_names: Option<Vec<AlternativeName>>,
    /// The serial number's magnitude.
    pub serial: Option<Vec<u8>>,
    /// `notBefore` and `notAfter` in seconds since the Unix epoch.
    pub validity: Option<(i64, i64)>,
    /// The public key size in bits.
    pub bits: Option<usize>,
    /// Whether it issued itself.
    pub self_signed: Option<bool>,
    /// The dotted OIDs of its extensions with their critical flags, in order.
    pub extensions: Option<Vec<(&'static str, bool)>>,
}

impl Entry {
    fn new(name: &'static str, certificate: Certificate) -> Entry {
        Entry {
            name,
            certificate,
            subject: None,
            alternative_names: None,
            serial: None,
            validity: None,
            bits: None,
            self_signed: None,
            extensions: None,
        }
    }
}

const CN: &str = "2.5.4.3";
const OU: &str = "2.5.4.11";
const O: &str = "2.5.4.10";

/// Not before 1970-01-01 (1960-01-01T00:00:00Z) and after 2049 (2060-12-31T23:59:59Z).
const OLD: i64 = -315_619_200;
const FAR: i64 = 2_871_763_199;

fn generate(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("rcgen generates keys for its algorithms")
}

fn cert_of(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("rcgen makes well-formed certificates")
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).expect("the corpus dates are in range")
}

/// RSA-2048, every kind of alternative name, a 20-byte serial, and many extensions.
fn rsa_leaf() -> Entry {
    let key = generate(&rcgen::PKCS_RSA_SHA256);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "NZ");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "polytls corpus");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "certificates");
    params
        .distinguished_name
        .push(DnType::CommonName, "rsa.example");
    params.subject_alt_names = vec![
        SanType::DnsName("rsa.example".try_into().expect("valid name")),
        SanType::DnsName("*.rsa.example".try_into().expect("valid name")),
        SanType::Rfc822Name("pki@rsa.example".try_into().expect("valid address")),
        SanType::IpAddress(IpAddr::from([192, 0, 2, 1])),
        SanType::IpAddress("2001:db8::1".parse().expect("valid address")),
    ];
    let serial = vec![
        0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    ];
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = at(1_700_000_000);
    params.not_after = at(1_800_000_000);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec!["http://crl.rsa.example/ca.crl".into()],
    }];
    let mut custom = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
    custom.set_criticality(false);
    params.custom_extensions = vec![custom];
    let cert = params.self_signed(&key).expect("self-signing works");
    let mut entry = Entry::new("rsa2048_leaf", cert_of(cert.der()));
    entry.subject = Some(vec![
        ("2.5.4.6", "NZ".into()),
        (O, "polytls corpus".into()),
        (OU, "certificates".into()),
        (CN, "rsa.example".into()),
    ]);
    entry.alternative_names = Some(vec![
        AlternativeName::Dns("rsa.example".into()),
        AlternativeName::Dns("*.rsa.example".into()),
        AlternativeName::Email("pki@rsa.example".into()),
        AlternativeName::Ip(IpAddr::from([192, 0, 2, 1])),
        AlternativeName::Ip("2001:db8::1".parse().expect("valid address")),
    ]);
    entry.serial = Some(serial);
    entry.validity = Some((1_700_000_000, 1_800_000_000));
    entry.bits = Some(2048);
    // Signed with its own key, but its key usage does not allow certificate signing, so it
    // is not self-signed in OpenSSL's (and Qt's) sense.
    entry.self_signed = Some(false);
    entry.extensions = Some(vec![
        ("2.5.29.17", false),
        ("2.5.29.15", true),
        ("2.5.29.37", false),
        ("2.5.29.31", false),
        ("1.3.6.1.4.1.55555.1", false),
    ]);
    entry
}

/// P-384, names in every string type, dates before 1970 and after 2049.
fn p384_strings() -> Entry {
    let key = generate(&rcgen::PKCS_ECDSA_P384_SHA384);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, DnValue::Utf8String("Zürich ☃".into()));
    params.distinguished_name.push(
        DnType::OrganizationName,
        DnValue::BmpString("Ωmega".try_into().expect("BMP text")),
    );
    params.distinguished_name.push(
        DnType::OrganizationalUnitName,
        DnValue::TeletexString("T61 unit".try_into().expect("T.61 text")),
    );
    params.distinguished_name.push(
        DnType::LocalityName,
        DnValue::UniversalString("€uro".try_into().expect("universal text")),
    );
    params.distinguished_name.push(
        DnType::CountryName,
        DnValue::PrintableString("CH".try_into().expect("printable text")),
    );
    params.not_before = at(OLD);
    params.not_after = at(FAR);
    let cert = params.self_signed(&key).expect("self-signing works");
    let mut entry = Entry::new("p384_string_types_and_dates", cert_of(cert.der()));
    entry.subject = Some(vec![
        (CN, "Zürich ☃".into()),
        (O, "Ωmega".into()),
        (OU, "T61 unit".into()),
        ("2.5.4.7", "€uro".into()),
        ("2.5.4.6", "CH".into()),
    ]);
    entry.validity = Some((OLD, FAR));
    entry.bits = Some(384);
    entry.self_signed = Some(true);
    entry
}

/// An Ed25519 CA with a path length constraint and a serial number with its top bit set.
fn ed25519_ca() -> Entry {
    let key = generate(&rcgen::PKCS_ED25519);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "polytls corpus Ed25519 CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let serial = vec![0x80, 0, 0, 0, 0, 0, 0, 1];
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).expect("self-signing works");
    let mut entry = Entry::new("ed25519_ca", cert_of(cert.der()));
    entry.subject = Some(vec![(CN, "polytls corpus Ed25519 CA".into())]);
    entry.serial = Some(serial);
    entry.bits = Some(256);
    entry.self_signed = Some(true);
    entry
}

/// Made with `openssl req`: repeated O and OU, a multi-valued RDN, emailAddress,
/// serialNumber, dnQualifier and pseudonym, a 19-byte serial with its top bit set, policies,
/// authority information access, and a validity ending in 2126.
fn committed() -> Entry {
    let pem = include_str!("../corpus/duplicate-attributes.pem");
    let certificate = Certificate::from_pem(pem.as_bytes()).expect("the committed file is valid");
    let mut entry = Entry::new(COMMITTED, certificate);
    entry.subject = Some(vec![
        ("2.5.4.6", "DE".into()),
        ("2.5.4.8", "Bayern".into()),
        ("2.5.4.7", "München".into()),
        (O, "Org A".into()),
        (O, "Org B".into()),
        (OU, "Unit 1".into()),
        (OU, "Unit 2".into()),
        // One RDN: DER sorts its SET by encoding, and the shorter OU sorts first.
        (OU, "same RDN".into()),
        (CN, "dup.example".into()),
        ("1.2.840.113549.1.9.1", "admin@dup.example".into()),
        ("2.5.4.5", "1234".into()),
        ("2.5.4.46", "q1".into()),
        ("2.5.4.65", "pseudo".into()),
    ]);
    entry.alternative_names = Some(vec![
        AlternativeName::Dns("dup.example".into()),
        AlternativeName::Dns("*.wild.dup.example".into()),
        AlternativeName::Email("admin@dup.example".into()),
        AlternativeName::Ip(IpAddr::from([192, 0, 2, 7])),
        AlternativeName::Ip("2001:db8::7".parse().expect("valid address")),
    ]);
    entry.serial = Some(vec![
        0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
        0xee, 0xff, 0x00, 0x11,
    ]);
    entry.bits = Some(256);
    entry.self_signed = Some(true);
    entry
}

/// Attributes OpenSSL (and so Qt) names by short name where polytls used to show dotted
/// OIDs: favouriteDrink, jurisdictionC, businessCategory, domainComponent.
fn named_attributes() -> Entry {
    let key = generate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    let custom = |arcs: &[u64]| DnType::CustomDnType(arcs.to_vec());
    params.distinguished_name.push(
        custom(&[0, 9, 2342, 19_200_300, 100, 1, 5]),
        DnValue::Utf8String("tea".into()),
    );
    params.distinguished_name.push(
        custom(&[1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3]),
        DnValue::PrintableString("DE".try_into().expect("printable text")),
    );
    params.distinguished_name.push(
        custom(&[2, 5, 4, 15]),
        DnValue::Utf8String("Private Organization".into()),
    );
    params
        .distinguished_name
        .push(DnType::CommonName, "named attributes");
    let cert = params.self_signed(&key).expect("self-signing works");
    let mut entry = Entry::new("openssl_named_attributes", cert_of(cert.der()));
    entry.subject = Some(vec![
        ("0.9.2342.19200300.100.1.5", "tea".into()),
        ("1.3.6.1.4.1.311.60.2.1.3", "DE".into()),
        ("2.5.4.15", "Private Organization".into()),
        (CN, "named attributes".into()),
    ]);
    entry.self_signed = Some(true);
    entry
}

/// The name of the committed entry: the same bytes on every run.
pub const COMMITTED: &str = "openssl_repeated_attributes";

/// Every corpus entry, generated on first use.
pub fn corpus() -> &'static [Entry] {
    static CORPUS: OnceLock<Vec<Entry>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let pki = Pki::get();
        let mut entries = vec![
            rsa_leaf(),
            p384_strings(),
            ed25519_ca(),
            committed(),
            named_attributes(),
        ];
        let from_pki = [
            ("pki_root", &pki.root),
            ("pki_untrusted_root", &pki.untrusted_root),
            ("pki_intermediate", &pki.intermediates[0]),
            ("pki_server", pki.server.leaf()),
            ("pki_client", pki.client.leaf()),
            ("pki_expired", pki.expired.leaf()),
            ("pki_self_signed_leaf", pki.self_signed.leaf()),
            ("pki_blacklisted", pki.blacklisted.leaf()),
            ("pki_cn_only", pki.cn_only.leaf()),
        ];
        entries.extend(
            from_pki
                .into_iter()
                .map(|(name, cert)| Entry::new(name, cert.clone())),
        );
        entries
    })
}
