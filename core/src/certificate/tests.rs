//! Tests of [`Certificate`]: real certificates made by rcgen at test time, hand-built DER for
//! the edge cases rcgen will not produce (NUL bytes, repeated attributes, legacy string types,
//! odd dates), garbage input, and a fuzz-style robustness run over mutated DER and PEM.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use super::*;

// ---------------------------------------------------------------------------------------------
// A tiny DER writer for hand-built certificates (the signature is junk: nothing here checks it).

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

/// One RDN holding one attribute whose value has ASN.1 tag `tag`.
fn rdn(attr: &str, tag: u8, value: &[u8]) -> Vec<u8> {
    tlv(0x31, &seq(&[oid(attr), tlv(tag, value)]))
}

const UTF8: u8 = 0x0c;
const PRINTABLE: u8 = 0x13;
const T61: u8 = 0x14;
const IA5: u8 = 0x16;
const UNIVERSAL: u8 = 0x1c;
const BMP: u8 = 0x1e;

fn cn(value: &str) -> Vec<u8> {
    seq(&[rdn("2.5.4.3", UTF8, value.as_bytes())])
}

fn utc(s: &str) -> Vec<u8> {
    tlv(0x17, s.as_bytes())
}

fn generalized(s: &str) -> Vec<u8> {
    tlv(0x18, s.as_bytes())
}

fn ext(id: &str, critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(tlv(0x01, &[0xff]));
    }
    parts.push(tlv(0x04, &value));
    seq(&parts)
}

fn san_dns(names: &[&str]) -> Vec<u8> {
    ext(
        "2.5.29.17",
        false,
        seq(&names
            .iter()
            .map(|n| tlv(0x82, n.as_bytes()))
            .collect::<Vec<_>>()),
    )
}

struct Spec {
    version: Option<u8>,
    serial: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    not_before: Vec<u8>,
    not_after: Vec<u8>,
    extensions: Vec<Vec<u8>>,
    public_key: Vec<u8>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            version: Some(2),
            serial: vec![0x01],
            issuer: cn("Test CA"),
            subject: cn("test.example.com"),
            not_before: utc("240101000000Z"),
            not_after: utc("340101000000Z"),
            extensions: Vec::new(),
            public_key: spki(),
        }
    }
}

fn spki() -> Vec<u8> {
    static SPKI: OnceLock<Vec<u8>> = OnceLock::new();
    SPKI.get_or_init(|| {
        use rcgen::PublicKeyData;
        KeyPair::generate().unwrap().subject_public_key_info()
    })
    .clone()
}

fn build(spec: Spec) -> Vec<u8> {
    let sig_alg = seq(&[oid("1.2.840.10045.4.3.2")]);
    let mut tbs = Vec::new();
    if let Some(v) = spec.version {
        tbs.push(tlv(0xa0, &tlv(0x02, &[v])));
    }
    tbs.extend([
        tlv(0x02, &spec.serial),
        sig_alg.clone(),
        spec.issuer,
        seq(&[spec.not_before, spec.not_after]),
        spec.subject,
        spec.public_key,
    ]);
    if !spec.extensions.is_empty() {
        tbs.push(tlv(0xa3, &seq(&spec.extensions)));
    }
    seq(&[seq(&tbs), sig_alg, tlv(0x03, &[0, 1, 2, 3, 4, 5, 6, 7])])
}

fn cert(spec: Spec) -> Certificate {
    Certificate::from_der(&build(spec)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Certificates from rcgen.

struct Made {
    ca: Certificate,
    leaf: Certificate,
    leaf_key: KeyPair,
}

fn made() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    MADE.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "polytls test CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "polytls");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "leaf.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example Org");
        params.subject_alt_names = vec![
            SanType::DnsName("www.example.com".try_into().unwrap()),
            SanType::DnsName("*.example.org".try_into().unwrap()),
            SanType::Rfc822Name("admin@example.com".try_into().unwrap()),
            SanType::IpAddress("192.0.2.1".parse().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::URI("https://example.com/".try_into().unwrap()),
        ];
        let mut serial = vec![0x80];
        serial.extend(1..20u8);
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(2020, 1, 2);
        params.not_after = rcgen::date_time_ymd(2060, 3, 4);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec!["http://crl.example.com/ca.crl".into()],
        }];
        params.use_authority_key_identifier_extension = true;
        let leaf_der = params.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
        Made {
            ca: Certificate::from_der(&ca_der).unwrap(),
            leaf: Certificate::from_der(&leaf_der).unwrap(),
            leaf_key,
        }
    })
}

#[test]
fn loading_round_trips_and_equality() {
    let m = made();
    let pem = m.leaf.to_pem();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(Certificate::from_pem(pem.as_bytes()).unwrap(), m.leaf);
    assert_eq!(Certificate::from_der(m.leaf.to_der()).unwrap(), m.leaf);
    assert_eq!(
        Certificate::from_data(m.leaf.to_der(), EncodingFormat::Der).unwrap(),
        m.leaf
    );

    // A bundle with a key block in between: the key is skipped, order kept.
    let bundle = format!(
        "{}{}{}",
        m.leaf.to_pem(),
        m.leaf_key.serialize_pem(),
        m.ca.to_pem()
    );
    let list = Certificate::list_from_pem(bundle.as_bytes()).unwrap();
    assert_eq!(list, vec![m.leaf.clone(), m.ca.clone()]);
    assert_eq!(
        Certificate::list_from_data(bundle.as_bytes(), EncodingFormat::Pem).unwrap(),
        list
    );
    assert!(
        Certificate::list_from_pem(m.leaf_key.serialize_pem().as_bytes())
            .unwrap()
            .is_empty()
    );

    let set: HashSet<Certificate> = [m.leaf.clone(), m.ca.clone(), m.leaf.clone()].into();
    assert_eq!(set.len(), 2);
    assert_ne!(m.leaf, m.ca);
    assert!(format!("{:?}", m.leaf).contains("leaf.example.com"));
}

#[test]
fn accessors_of_a_leaf() {
    let m = made();
    let leaf = &m.leaf;
    assert_eq!(leaf.version(), 3);
    // A 20-byte serial with its top bit set: DER adds a 00 byte, Qt's form does not show it.
    let mut serial = vec![0x80];
    serial.extend(1..20u8);
    assert_eq!(leaf.serial_number_bytes(), serial);
    assert_eq!(
        leaf.serial_number(),
        "80:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13"
    );
    assert_eq!(leaf.subject_common_names(), ["leaf.example.com"]);
    assert_eq!(
        leaf.subject_info(SubjectInfo::Organization),
        ["Example Org"]
    );
    assert_eq!(leaf.issuer_common_names(), ["polytls test CA"]);
    assert_eq!(leaf.issuer_info_by_oid("O"), ["polytls"]);
    assert_eq!(leaf.issuer_info_by_oid("2.5.4.10"), ["polytls"]);
    assert_eq!(leaf.subject_display_name(), "leaf.example.com");
    assert_eq!(leaf.issuer_display_name(), "polytls test CA");
    assert_eq!(
        leaf.subject_alternative_names(),
        vec![
            AlternativeName::Dns("www.example.com".into()),
            AlternativeName::Dns("*.example.org".into()),
            AlternativeName::Email("admin@example.com".into()),
            AlternativeName::Ip("192.0.2.1".parse().unwrap()),
            AlternativeName::Ip("2001:db8::1".parse().unwrap()),
        ]
    );
    assert!(leaf.matches_host_name("www.example.com"));
    assert!(leaf.matches_host_name("a.example.org"));
    assert!(leaf.matches_host_name("192.0.2.1"));
    assert!(
        !leaf.matches_host_name("leaf.example.com"),
        "CN ignored with DNS SANs"
    );
    assert!(!leaf.matches_host_name("example.org"));

    // 2020-01-02 and 2060-03-04 (GeneralizedTime), both at midnight UTC.
    assert_eq!(leaf.effective_date_unix(), 1_577_923_200);
    assert_eq!(leaf.expiry_date_unix(), 2_845_584_000);
    assert_eq!(
        leaf.expiry_date(),
        UNIX_EPOCH + Duration::from_secs(2_845_584_000)
    );

    for alg in DigestAlgorithm::ALL {
        let d = leaf.digest(*alg);
        assert_eq!(d.len(), alg.output_len());
        assert_eq!(d, alg.hash(leaf.to_der()));
    }

    let key = leaf.public_key().unwrap();
    assert_eq!(key.key_type(), KeyType::PublicKey);
    assert_eq!(key.algorithm(), crate::KeyAlgorithm::Ed25519);
    {
        use rcgen::PublicKeyData;
        assert_eq!(key.to_der(), m.leaf_key.subject_public_key_info());
    }
    assert_eq!(leaf.public_key_bits(), Some(256));
    assert_eq!(m.ca.public_key_bits(), Some(256));
    assert_eq!(leaf.signature_algorithm_oid(), "1.2.840.10045.4.3.2");

    assert!(!leaf.is_ca());
    assert!(m.ca.is_ca());
    assert!(!leaf.is_self_signed());
    assert!(m.ca.is_self_signed());

    let exts = leaf.extensions();
    let find = |name: &str| exts.iter().find(|e| e.name == name).unwrap();
    assert_eq!(
        find("keyUsage").value,
        ExtensionValue::KeyUsage(vec!["Digital Signature".into()])
    );
    assert_eq!(
        find("extendedKeyUsage").value,
        ExtensionValue::ExtendedKeyUsage(vec![
            "TLS Web Server Authentication".into(),
            "TLS Web Client Authentication".into()
        ])
    );
    assert_eq!(
        find("crlDistributionPoints").value,
        ExtensionValue::CrlDistributionPoints(vec!["http://crl.example.com/ca.crl".into()])
    );
    assert!(matches!(
        find("subjectAltName").value,
        ExtensionValue::SubjectAlternativeName(ref v) if v.len() == 5
    ));
    assert!(matches!(
        find("authorityKeyIdentifier").value,
        ExtensionValue::AuthorityKeyIdentifier {
            key_identifier: Some(_),
            ..
        }
    ));
    // Qt's table: only these four extensions count as supported.
    for e in &exts {
        let qt_supported = matches!(
            e.name.as_str(),
            "basicConstraints"
                | "authorityInfoAccess"
                | "subjectKeyIdentifier"
                | "authorityKeyIdentifier"
        );
        assert_eq!(e.is_supported, qt_supported, "{}", e.name);
    }
    let ca_bc =
        m.ca.extensions()
            .into_iter()
            .find(|e| e.oid == "2.5.29.19")
            .unwrap();
    assert!(ca_bc.is_critical);
    assert_eq!(
        ca_bc.value,
        ExtensionValue::BasicConstraints {
            ca: true,
            path_length: Some(1)
        }
    );

    let text = leaf.to_text();
    for needle in [
        "Version: 3 (0x2)",
        "80:01:02:03",
        "Signature Algorithm: ecdsa-with-SHA256",
        "Issuer: CN=polytls test CA, O=polytls",
        "Not Before: Jan  2 00:00:00 2020 GMT",
        "Not After : Mar  4 00:00:00 2060 GMT",
        "Subject: CN=leaf.example.com, O=Example Org",
        "Public Key Algorithm: ED25519",
        "ED25519 Public-Key:",
        "DNS:www.example.com",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "URI:https://example.com/",
        "TLS Web Server Authentication",
        "Signature Value:",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}

#[test]
fn digests_of_known_input() {
    let hex = |v: Vec<u8>| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(DigestAlgorithm::Md5.hash(b"abc")),
        "900150983cd24fb0d6963f7d28e17f72"
    );
    assert_eq!(
        hex(DigestAlgorithm::Sha1.hash(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex(DigestAlgorithm::Sha256.hash(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(hex(DigestAlgorithm::Sha384.hash(b"abc")).starts_with("cb00753f45a35e8b"));
    assert!(hex(DigestAlgorithm::Sha512.hash(b"abc")).starts_with("ddaf35a193617aba"));
}

#[test]
fn attributes_repeat_and_decode_from_every_string_type() {
    let bmp: Vec<u8> = "Zoë ☃ 中"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let universal: Vec<u8> = "Köln 🦀"
        .chars()
        .flat_map(|c| (c as u32).to_be_bytes())
        .collect();
    let subject = seq(&[
        rdn("2.5.4.6", PRINTABLE, b"DE"),
        rdn("2.5.4.8", PRINTABLE, b"Some-State"),
        rdn("2.5.4.7", UNIVERSAL, &universal),
        rdn("2.5.4.10", T61, b"Soci\xe9t\xe9"),
        rdn("2.5.4.11", UTF8, "Ünit one".as_bytes()),
        rdn("2.5.4.11", PRINTABLE, b"Unit two"),
        rdn("2.5.4.3", BMP, &bmp),
        rdn("1.2.840.113549.1.9.1", IA5, b"a@example.com"),
        rdn("2.5.4.5", PRINTABLE, b"12345"),
        rdn("2.5.4.46", PRINTABLE, b"qualifier"),
        rdn("1.2.3.4", UTF8, b"custom"),
    ]);
    let c = cert(Spec {
        subject,
        ..Spec::default()
    });
    assert_eq!(c.subject_info(SubjectInfo::CountryName), ["DE"]);
    assert_eq!(
        c.subject_info(SubjectInfo::StateOrProvinceName),
        ["Some-State"]
    );
    assert_eq!(c.subject_info(SubjectInfo::LocalityName), ["Köln 🦀"]);
    assert_eq!(c.subject_info(SubjectInfo::Organization), ["Société"]);
    assert_eq!(
        c.subject_info(SubjectInfo::OrganizationalUnitName),
        ["Ünit one", "Unit two"]
    );
    assert_eq!(c.subject_info(SubjectInfo::CommonName), ["Zoë ☃ 中"]);
    assert_eq!(c.subject_info(SubjectInfo::EmailAddress), ["a@example.com"]);
    assert_eq!(c.subject_info(SubjectInfo::SerialNumber), ["12345"]);
    assert_eq!(
        c.subject_info(SubjectInfo::DistinguishedNameQualifier),
        ["qualifier"]
    );
    assert_eq!(c.subject_info_by_oid("1.2.3.4"), ["custom"]);
    assert_eq!(c.subject_info_by_oid("ou"), ["Ünit one", "Unit two"]);
    assert!(c.subject_info_by_oid("no such thing").is_empty());
    assert!(c.subject_info_by_oid("9.9.9").is_empty());
    assert_eq!(
        c.subject_info_attributes(),
        [
            "C",
            "ST",
            "L",
            "O",
            "OU",
            "CN",
            "emailAddress",
            "serialNumber",
            "dnQualifier",
            "1.2.3.4"
        ]
    );
    assert_eq!(c.issuer_info_attributes(), ["CN"]);
    assert_eq!(c.subject_display_name(), "Zoë ☃ 中");
    assert!(c
        .subject_name()
        .starts_with("C=DE, ST=Some-State, L=Köln 🦀, O=Société"));

    // Without CN the display name falls back to O, then OU, then nothing (Qt's "").
    let c = cert(Spec {
        subject: seq(&[
            rdn("2.5.4.11", UTF8, b"unit"),
            rdn("2.5.4.6", PRINTABLE, b"FR"),
        ]),
        ..Spec::default()
    });
    assert_eq!(c.subject_display_name(), "unit");
    let c = cert(Spec {
        subject: seq(&[rdn("2.5.4.6", PRINTABLE, b"FR")]),
        ..Spec::default()
    });
    assert_eq!(c.subject_display_name(), "");
    let c = cert(Spec {
        subject: seq(&[]),
        ..Spec::default()
    });
    assert_eq!(c.subject_display_name(), "");
}

/// Attribute types are named as OpenSSL (and so Qt) names them: its short name where it has
/// one, and lookups take the short name, the long name or the dotted OID.
#[test]
fn attribute_names_are_openssls() {
    let c = cert(Spec {
        subject: seq(&[
            rdn("0.9.2342.19200300.100.1.5", UTF8, b"tea"),
            rdn("1.3.6.1.4.1.311.60.2.1.3", PRINTABLE, b"DE"),
            rdn("2.5.4.15", UTF8, b"Private Organization"),
            rdn("0.9.2342.19200300.100.1.25", IA5, b"example"),
            rdn("2.5.4.3", UTF8, b"x"),
        ]),
        ..Spec::default()
    });
    assert_eq!(
        c.subject_info_attributes(),
        [
            "favouriteDrink",
            "jurisdictionC",
            "businessCategory",
            "DC",
            "CN"
        ]
    );
    assert_eq!(c.subject_info_by_oid("favouriteDrink"), ["tea"]);
    assert_eq!(c.subject_info_by_oid("jurisdictionC"), ["DE"]);
    assert_eq!(c.subject_info_by_oid("jurisdictionCountryName"), ["DE"]);
    assert_eq!(c.subject_info_by_oid("1.3.6.1.4.1.311.60.2.1.3"), ["DE"]);
    assert_eq!(c.subject_info_by_oid("domainComponent"), ["example"]);
    assert!(c.subject_name().starts_with(
        "favouriteDrink=tea, jurisdictionC=DE, businessCategory=Private Organization, DC=example"
    ));
}

#[test]
fn nul_bytes_in_names_never_match_a_host() {
    let evil = "www.example.com\0.evil.com";
    // In the CN, with no SAN (so the CN is consulted).
    let c = cert(Spec {
        subject: cn(evil),
        ..Spec::default()
    });
    assert_eq!(c.subject_common_names(), [evil]);
    assert!(!c.matches_host_name("www.example.com"));
    assert!(!c.matches_host_name(evil));
    // As OpenSSL's X509_print shows it.
    assert!(c.to_text().contains("CN=www.example.com\\x00.evil.com"));
    // In a DNS SAN.
    let c = cert(Spec {
        extensions: vec![san_dns(&[evil, "ok.example.com"])],
        ..Spec::default()
    });
    assert_eq!(
        c.subject_alternative_names(),
        [
            AlternativeName::Dns(evil.into()),
            AlternativeName::Dns("ok.example.com".into())
        ]
    );
    assert!(!c.matches_host_name("www.example.com"));
    assert!(!c.matches_host_name(evil));
    assert!(c.matches_host_name("OK.example.com"));
    // A plain CN does not match, even without SANs: as in a handshake (RFC 6125).
    let c = cert(Spec::default());
    assert!(!c.matches_host_name("test.example.com"));
}

#[test]
fn very_large_serial_numbers() {
    let serial: Vec<u8> = (1..=20).collect();
    let c = cert(Spec {
        serial: serial.clone(),
        ..Spec::default()
    });
    assert_eq!(c.serial_number_bytes(), serial);
    assert_eq!(c.serial_number().split(':').count(), 20);
    // Longer than RFC 5280 allows: still whole.
    let mut long = vec![0x00, 0xff];
    long.extend([0xab; 40]);
    let c = cert(Spec {
        serial: long.clone(),
        ..Spec::default()
    });
    assert_eq!(c.serial_number_bytes(), &long[1..]);
    assert!(c.serial_number().starts_with("ff:ab:ab"));
    let c = cert(Spec {
        serial: vec![0],
        ..Spec::default()
    });
    assert_eq!(c.serial_number(), "00");
}

#[test]
fn dates_before_1970_and_after_2049() {
    let c = cert(Spec {
        not_before: utc("500101000000Z"),
        not_after: generalized("20500101000000Z"),
        ..Spec::default()
    });
    assert_eq!(c.effective_date_unix(), -631_152_000); // 1950-01-01
    assert_eq!(c.expiry_date_unix(), 2_524_608_000); // 2050-01-01
    assert_eq!(
        c.effective_date(),
        UNIX_EPOCH - Duration::from_secs(631_152_000)
    );
    let c = cert(Spec {
        not_before: utc("691231235959Z"),
        not_after: utc("491231235959Z"),
        ..Spec::default()
    });
    assert_eq!(c.effective_date_unix(), -1);
    assert_eq!(c.expiry_date_unix(), 2_524_607_999);
    let c = cert(Spec {
        not_before: generalized("19000101000000Z"),
        not_after: generalized("99991231235959Z"),
        ..Spec::default()
    });
    assert_eq!(c.effective_date_unix(), -2_208_988_800);
    assert_eq!(c.expiry_date_unix(), 253_402_300_799);
    assert!(c.to_text().contains("Dec 31 23:59:59 9999 GMT"));
    assert!(c.to_text().contains("Jan  1 00:00:00 1900 GMT"));
}

#[test]
fn self_signed_by_names_and_key_identifiers() {
    let key_id = |id: &[u8]| {
        (
            ext("2.5.29.14", false, tlv(0x04, id)),
            ext("2.5.29.35", false, seq(&[tlv(0x80, id)])),
        )
    };
    let (ski, aki) = key_id(&[1, 2, 3]);
    let root = cert(Spec {
        issuer: cn("Root"),
        subject: cn("Root"),
        extensions: vec![ski.clone(), aki],
        ..Spec::default()
    });
    assert!(root.is_self_signed());
    // Same name, but the AKI names another key: issued by a different CA of the same name.
    let (_, other_aki) = key_id(&[9, 9, 9]);
    let cross = cert(Spec {
        issuer: cn("Root"),
        subject: cn("Root"),
        extensions: vec![ski, other_aki],
        ..Spec::default()
    });
    assert!(!cross.is_self_signed());
    // Names equal after case and white-space folding, in different string types.
    let folded = cert(Spec {
        issuer: seq(&[rdn("2.5.4.3", PRINTABLE, b"My  Root")]),
        subject: seq(&[rdn("2.5.4.3", UTF8, b"my root")]),
        ..Spec::default()
    });
    assert!(folded.is_self_signed());
    assert!(!cert(Spec::default()).is_self_signed());
}

#[test]
fn extensions_are_decoded() {
    let uri = |u: &str| tlv(0x86, u.as_bytes());
    let extensions = vec![
        ext(
            "2.5.29.19",
            true,
            seq(&[tlv(0x01, &[0xff]), tlv(0x02, &[2])]),
        ),
        // keyCertSign (bit 5) and cRLSign (bit 6): 0000 0110, one unused bit.
        ext("2.5.29.15", true, tlv(0x03, &[0x01, 0x06])),
        ext(
            "2.5.29.37",
            false,
            seq(&[oid("1.3.6.1.5.5.7.3.1"), oid("1.2.3.4")]),
        ),
        ext("2.5.29.14", false, tlv(0x04, &[0xaa, 0xbb])),
        ext("2.5.29.35", false, seq(&[tlv(0x80, &[0xcc, 0xdd])])),
        ext(
            "1.3.6.1.5.5.7.1.1",
            false,
            seq(&[
                seq(&[oid("1.3.6.1.5.5.7.48.1"), uri("http://ocsp.example.com")]),
                seq(&[
                    oid("1.3.6.1.5.5.7.48.2"),
                    uri("http://ca.example.com/ca.der"),
                ]),
            ]),
        ),
        ext(
            "2.5.29.32",
            false,
            seq(&[seq(&[oid("2.23.140.1.2.1")]), seq(&[oid("1.2.3.5")])]),
        ),
        ext(
            "2.5.29.31",
            false,
            seq(&[seq(&[tlv(
                0xa0,
                &tlv(0xa0, &uri("http://crl.example.com/x.crl")),
            )])]),
        ),
        ext("1.2.3.4.5", false, tlv(0x05, &[])),
    ];
    let c = cert(Spec {
        extensions,
        ..Spec::default()
    });
    let exts = c.extensions();
    let values: Vec<(&str, &str, bool, bool)> = exts
        .iter()
        .map(|e| {
            (
                e.oid.as_str(),
                e.name.as_str(),
                e.is_critical,
                e.is_supported,
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("2.5.29.19", "basicConstraints", true, true),
            ("2.5.29.15", "keyUsage", true, false),
            ("2.5.29.37", "extendedKeyUsage", false, false),
            ("2.5.29.14", "subjectKeyIdentifier", false, true),
            ("2.5.29.35", "authorityKeyIdentifier", false, true),
            ("1.3.6.1.5.5.7.1.1", "authorityInfoAccess", false, true),
            ("2.5.29.32", "certificatePolicies", false, false),
            ("2.5.29.31", "crlDistributionPoints", false, false),
            ("1.2.3.4.5", "1.2.3.4.5", false, false),
        ]
    );
    let v: Vec<&ExtensionValue> = exts.iter().map(|e| &e.value).collect();
    assert_eq!(
        *v[0],
        ExtensionValue::BasicConstraints {
            ca: true,
            path_length: Some(2)
        }
    );
    assert_eq!(
        *v[1],
        ExtensionValue::KeyUsage(vec!["Certificate Sign".into(), "CRL Sign".into()])
    );
    assert_eq!(
        *v[2],
        ExtensionValue::ExtendedKeyUsage(vec![
            "TLS Web Server Authentication".into(),
            "1.2.3.4".into()
        ])
    );
    assert_eq!(
        *v[3],
        ExtensionValue::SubjectKeyIdentifier(vec![0xaa, 0xbb])
    );
    assert_eq!(
        *v[4],
        ExtensionValue::AuthorityKeyIdentifier {
            key_identifier: Some(vec![0xcc, 0xdd]),
            serial: None
        }
    );
    assert_eq!(
        *v[5],
        ExtensionValue::AuthorityInformationAccess {
            ocsp: vec!["http://ocsp.example.com".into()],
            ca_issuers: vec!["http://ca.example.com/ca.der".into()],
        }
    );
    assert_eq!(
        *v[6],
        ExtensionValue::CertificatePolicies(vec!["2.23.140.1.2.1".into(), "1.2.3.5".into()])
    );
    assert_eq!(
        *v[7],
        ExtensionValue::CrlDistributionPoints(vec!["http://crl.example.com/x.crl".into()])
    );
    assert_eq!(*v[8], ExtensionValue::Raw(vec![0x05, 0x00]));
    assert!(c.is_ca());
    let text = c.to_text();
    for needle in [
        "X509v3 Basic Constraints: critical",
        "CA:TRUE, pathlen:2",
        "Certificate Sign, CRL Sign",
        "OCSP - URI:http://ocsp.example.com",
        "Policy: 2.23.140.1.2.1",
        "1.2.3.4.5: \n",
        "AA:BB",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}

#[test]
fn version_1_certificate_has_no_extensions() {
    let c = cert(Spec {
        version: None,
        ..Spec::default()
    });
    assert_eq!(c.version(), 1);
    assert!(c.extensions().is_empty());
    assert!(c.subject_alternative_names().is_empty());
    assert!(!c.is_ca());
}

#[test]
fn garbage_gives_certificate_errors() {
    let der = made().leaf.to_der().to_vec();
    let mut trailing = der.clone();
    trailing.push(0);
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0x30],
        vec![0x30, 0x80],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        b"hello world".to_vec(),
        der[..der.len() / 2].to_vec(),
        der[..der.len() - 1].to_vec(),
        trailing,
        (0..=255u8).cycle().take(700).collect(),
    ];
    for input in &inputs {
        assert!(
            matches!(Certificate::from_der(input), Err(Error::Certificate(_))),
            "{input:?}"
        );
        assert!(matches!(
            Certificate::list_from_data(input, EncodingFormat::Der),
            Err(Error::Certificate(_))
        ));
    }
    let bad_pems = [
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n".to_owned(),
        "just text".to_owned(),
        String::new(),
        made().leaf.to_pem().replace("CERTIFICATE", "PUBLIC KEY"),
    ];
    for pem in &bad_pems {
        assert!(
            matches!(
                Certificate::from_pem(pem.as_bytes()),
                Err(Error::Certificate(_))
            ),
            "{pem:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// from_path.

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("polytls-certificate-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn from_path_with_patterns() {
    let m = made();
    let tmp = TempDir::new("from-path");
    let dir = &tmp.0;
    let one = cert(Spec {
        subject: cn("one"),
        ..Spec::default()
    });
    std::fs::write(dir.join("b.pem"), m.leaf.to_pem()).unwrap();
    std::fs::write(
        dir.join("a.pem"),
        format!("{}{}", m.ca.to_pem(), one.to_pem()),
    )
    .unwrap();
    std::fs::write(dir.join("c.crt"), one.to_pem()).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a certificate").unwrap();
    std::fs::write(dir.join("d.der"), m.ca.to_der()).unwrap();
    std::fs::create_dir(dir.join("sub.pem")).unwrap();

    let load = |p: PathBuf, syntax| Certificate::from_path(p, EncodingFormat::Pem, syntax);
    assert_eq!(
        load(dir.join("*.pem"), PatternSyntax::Wildcard).unwrap(),
        [m.ca.clone(), one.clone(), m.leaf.clone()]
    );
    assert_eq!(
        load(dir.join("[bc].*"), PatternSyntax::Wildcard).unwrap(),
        [m.leaf.clone(), one.clone()]
    );
    assert_eq!(
        load(dir.join("?.crt"), PatternSyntax::Wildcard).unwrap(),
        vec![one.clone()]
    );
    assert_eq!(
        load(
            dir.join(r"(b|c)[.](pem|crt)"),
            PatternSyntax::RegularExpression
        )
        .unwrap(),
        [m.leaf.clone(), one.clone()]
    );
    // The regular expression must match the whole name.
    assert!(load(dir.join(r"[.]pem"), PatternSyntax::RegularExpression)
        .unwrap()
        .is_empty());
    assert_eq!(
        load(dir.join("b.pem"), PatternSyntax::FixedString).unwrap(),
        vec![m.leaf.clone()]
    );
    // A fixed string names one file; there is none called `*.pem`.
    assert!(load(dir.join("*.pem"), PatternSyntax::FixedString)
        .unwrap()
        .is_empty());
    // A directory given as the path yields nothing, as in Qt; `dir/*` reads its files.
    assert!(load(dir.clone(), PatternSyntax::Wildcard)
        .unwrap()
        .is_empty());
    assert_eq!(
        load(dir.join("*"), PatternSyntax::Wildcard).unwrap(),
        [m.ca.clone(), one.clone(), m.leaf.clone(), one.clone()]
    );
    assert_eq!(
        Certificate::from_path(
            dir.join("*.der"),
            EncodingFormat::Der,
            PatternSyntax::Wildcard
        )
        .unwrap(),
        vec![m.ca.clone()]
    );
    assert!(load(dir.join("*.nothing"), PatternSyntax::Wildcard)
        .unwrap()
        .is_empty());
    assert!(matches!(
        load(dir.join("(unclosed"), PatternSyntax::RegularExpression),
        Err(Error::InvalidInput(_))
    ));
    // A directory that does not exist matches nothing.
    assert!(
        load(dir.join("missing").join("*.pem"), PatternSyntax::Wildcard)
            .unwrap()
            .is_empty()
    );
    // A single named file: a PEM text without certificates gives none, and so does malformed
    // DER (Qt skips what it cannot read).
    assert!(matches!(
        load(dir.join("notes.txt"), PatternSyntax::Wildcard),
        Ok(v) if v.is_empty()
    ));
    assert!(matches!(
        Certificate::from_path(
            dir.join("notes.txt"),
            EncodingFormat::Der,
            PatternSyntax::Wildcard
        ),
        Ok(v) if v.is_empty()
    ));
}

// ---------------------------------------------------------------------------------------------
// Fuzz-style robustness.

/// A small xorshift generator: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] ^= 1 << rng.below(8);
                }
            }
            1 => data.truncate(rng.below(len + 1)),
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    data.insert(i, rng.next() as u8);
                }
            }
            3 => {
                if len > 0 {
                    let i = rng.below(len);
                    let n = 1 + rng.below(16);
                    data.drain(i..(i + n).min(len));
                }
            }
            // Length-byte corruption: set a byte to a long-form or extreme length marker.
            4 => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] = [0x80, 0x81, 0x82, 0x84, 0x88, 0xff, 0x00, 0x7f][rng.below(8)];
                }
            }
            5 => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] = rng.next() as u8;
                }
            }
            _ => {
                if len > 2 {
                    let i = rng.below(len - 1);
                    let n = 1 + rng.below((len - i).min(32));
                    let chunk = data[i..i + n].to_vec();
                    let at = rng.below(len + 1);
                    data.splice(at..at, chunk);
                }
            }
        }
    }
    data
}

/// Calls every accessor; none may panic.
fn exercise(c: &Certificate) {
    let _ = c.version();
    let _ = c.serial_number();
    let _ = c.serial_number_bytes();
    for alg in DigestAlgorithm::ALL {
        assert_eq!(c.digest(*alg).len(), alg.output_len());
    }
    for info in SubjectInfo::ALL {
        let _ = c.subject_info(*info);
        let _ = c.issuer_info(*info);
    }
    let _ = c.subject_info_by_oid("CN");
    let _ = c.issuer_info_by_oid("2.5.4.10");
    let _ = c.subject_info_attributes();
    let _ = c.issuer_info_attributes();
    let _ = c.subject_name();
    let _ = c.issuer_name();
    let _ = c.subject_common_names();
    let _ = c.issuer_common_names();
    let _ = c.subject_display_name();
    let _ = c.issuer_display_name();
    let _ = c.subject_alternative_names();
    let _ = c.matches_host_name("www.example.com");
    let _ = c.matches_host_name("a.example.org");
    let _ = c.matches_host_name("192.0.2.1");
    let _ = c.effective_date();
    let _ = c.expiry_date();
    let _ = c.is_self_signed();
    let _ = c.is_ca();
    let _ = c.public_key();
    let _ = c.public_key_bits();
    let _ = c.signature_algorithm_oid();
    let _ = c.extensions();
    let _ = c.to_text();
    let _ = format!("{c:?}");
    quick_readers_agree(c);
    assert_eq!(
        Certificate::from_pem(c.to_pem().as_bytes()).ok().as_ref(),
        Some(c)
    );
}

#[test]
fn mutated_der_and_pem_never_panic() {
    let m = made();
    let edge = build(Spec {
        subject: seq(&[
            rdn("2.5.4.3", BMP, &[0, 0x41, 0xd8, 0x00]),
            rdn("2.5.4.10", T61, b"\xff\x00"),
        ]),
        not_after: generalized("20991231235959Z"),
        extensions: vec![
            san_dns(&["a\0b.example.com", "*.example.org"]),
            ext("2.5.29.19", true, seq(&[tlv(0x01, &[0xff])])),
            ext("2.5.29.15", true, tlv(0x03, &[0x07, 0x80])),
        ],
        ..Spec::default()
    });
    let seeds: Vec<Vec<u8>> = vec![m.leaf.to_der().to_vec(), m.ca.to_der().to_vec(), edge];
    let started = std::time::Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut parsed = 0;
    const ROUNDS: usize = 5_000;
    for round in 0..ROUNDS {
        let seed = &seeds[rng.below(seeds.len())];
        let der = mutate(&mut rng, seed);
        if let Ok(c) = Certificate::from_der(&der) {
            parsed += 1;
            exercise(&c);
        }
        if round % 4 == 0 {
            // PEM: mutated DER wrapped, or the text of a valid PEM mutated.
            let pem = if rng.below(2) == 0 {
                pem::encode(&pem::Pem::new("CERTIFICATE", der))
            } else {
                String::from_utf8_lossy(&mutate(
                    &mut rng,
                    pem::encode(&pem::Pem::new("CERTIFICATE", seed.clone())).as_bytes(),
                ))
                .into_owned()
            };
            if let Ok(list) = Certificate::list_from_pem(pem.as_bytes()) {
                list.iter().for_each(exercise);
            }
            let _ = Certificate::from_pem(pem.as_bytes());
        }
    }
    // The seeds themselves parse, and some mutants do (bit flips inside strings, say).
    assert!(parsed > 0);
    eprintln!(
        "{ROUNDS} mutants, {parsed} parsed, in {:?}",
        started.elapsed()
    );
}

/// Where the quick DER readers find the serial number and the public key, they find what the
/// full parse finds.
fn quick_readers_agree(c: &Certificate) {
    let Ok((_, parsed)) = X509Certificate::from_der(c.to_der()) else {
        return;
    };
    if let Some((serial, spki)) = serial_and_spki(c.to_der()) {
        assert_eq!(serial, parsed.raw_serial());
        assert_eq!(quick_serial_number(c.to_der()), Some(c.serial_number()));
        // x509-parser stops at the end of what it read of the key; a mutant may have more in
        // the element. Well-formed, they are the same.
        assert!(spki.starts_with(parsed.public_key().raw));
    }
    assert_eq!(quick_public_key(c).ok(), c.public_key().ok());
}

#[test]
fn quick_readers_find_serial_and_key_without_a_full_parse() {
    let m = made();
    let mut negative = vec![0xff, 0x01];
    negative.extend([0x5a; 8]);
    let certificates = [
        m.leaf.clone(),
        m.ca.clone(),
        cert(Spec::default()),
        cert(Spec {
            version: None,
            ..Spec::default()
        }),
        cert(Spec {
            serial: negative,
            ..Spec::default()
        }),
        cert(Spec {
            serial: (1..=20).collect(),
            ..Spec::default()
        }),
    ];
    for c in &certificates {
        let (_, spki) = serial_and_spki(c.to_der()).unwrap();
        let (_, parsed) = X509Certificate::from_der(c.to_der()).unwrap();
        assert_eq!(spki, parsed.public_key().raw);
        quick_readers_agree(c);
    }
    // The key a certificate was made for, found the quick way.
    use rcgen::PublicKeyData;
    let key = quick_public_key(&m.leaf).unwrap();
    assert_eq!(key.to_der(), m.leaf_key.subject_public_key_info());
    // Not a certificate: nothing found, and the full parse decides.
    assert!(serial_and_spki(b"\x30\x03\x02\x01\x01").is_none());
    assert!(quick_serial_number(&[]).is_none());
}

#[test]
fn peer_certificates_are_only_framed_then_read_on_demand() {
    let der = build(Spec::default());
    let peer = Certificate::from_peer_der(&der).unwrap();
    assert_eq!(peer, Certificate::from_der(&der).unwrap());
    assert_eq!(peer.info(), Certificate::from_der(&der).unwrap().info());
    let mut trailing = der.clone();
    trailing.push(0);
    for bad in [&b""[..], b"\x30\x00", &trailing, &der[..der.len() - 1]] {
        assert!(matches!(
            Certificate::from_peer_der(bad),
            Err(Error::Certificate(_))
        ));
    }
    // Framed like a certificate but unreadable inside: accepted, and every accessor answers
    // with an empty value instead of failing or panicking.
    let hollow = seq(&[seq(&[]), seq(&[]), tlv(0x03, &[0])]);
    let odd = Certificate::from_peer_der(&hollow).unwrap();
    assert!(Certificate::from_der(&hollow).is_err());
    assert!(odd.subject_alternative_names().is_empty());
    assert_eq!(odd.version(), 0);
    let _ = (
        odd.info(),
        odd.to_text(),
        odd.is_self_signed(),
        odd.extensions(),
    );
}

// ---------------------------------------------------------------------------------------------
// to_text against OpenSSL.

/// OpenSSL's `X509_print` of `der` (what Qt's `toText` returns): `openssl x509 -text -noout
/// -nameopt compat`. `None` when the `openssl` command is not installed.
fn openssl_text(der: &[u8]) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args([
            "x509", "-inform", "DER", "-text", "-noout", "-nameopt", "compat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = der.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().ok()?;
    let _ = writer.join();
    assert!(
        output.status.success(),
        "openssl x509: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `openssl` with `args` in `dir`; panics when it fails.
fn openssl_in(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Varied certificates: rcgen's (RSA, EC P-256 and P-384, Ed25519 keys; the usual
/// extensions; serials short, long and with the top bit set; UTF-8 names), the `openssl`
/// command's (P-521, access information, policies, directory names, AKI with issuer and
/// serial, attributes OpenSSL names, a comment), and hand-built ones (version 1, legacy
/// string types, a negative serial, an unknown extension, unique identifiers).
fn text_corpus(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut corpus = Vec::new();
    let m = made();
    corpus.push(("rcgen CA".to_owned(), m.ca.to_der().to_vec()));
    corpus.push(("rcgen leaf".to_owned(), m.leaf.to_der().to_vec()));
    let keys: Vec<(&str, KeyPair)> = vec![
        (
            "rsa",
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap(),
        ),
        (
            "p384",
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        ),
        (
            "ed25519",
            KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        ),
    ];
    for (i, (name, key)) in keys.iter().enumerate() {
        let mut params = CertificateParams::new(vec!["a.example".into()]).unwrap();
        params.distinguished_name.push(DnType::CountryName, "DE");
        params.distinguished_name.push(DnType::LocalityName, "Köln");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Société/Ünit+x");
        params.distinguished_name.push(DnType::CommonName, *name);
        params.serial_number = Some(SerialNumber::from_slice(match i {
            0 => &[0x01],
            1 => &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            _ => &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        }));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(i as u8));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::CodeSigning,
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 99999, 7]),
        ];
        params.subject_alt_names.extend([
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
            SanType::Rfc822Name("x@a.example".try_into().unwrap()),
        ]);
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![0x0c, 0x05, b'h', b'e', b'l', b'l', b'o'],
        )];
        let der = params.self_signed(key).unwrap().der().to_vec();
        corpus.push((format!("rcgen {name}"), der));
    }

    // The openssl command's own.
    std::fs::write(
        dir.join("ext.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\n[ext]\n\
         subjectAltName = DNS:b.example, dirName:dir_sect, RID:1.2.3.4, URI:http://u.example/\n\
         authorityKeyIdentifier = keyid, issuer:always\n\
         subjectKeyIdentifier = hash\n\
         authorityInfoAccess = OCSP;URI:http://ocsp.example/, caIssuers;URI:http://ca.example/ca.crt\n\
         certificatePolicies = 1.2.3.4, 1.3.6.1.4.1.99999.1\n\
         crlDistributionPoints = URI:http://crl.example/a.crl, URI:http://crl.example/b.crl\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, keyEncipherment, keyAgreement, encipherOnly\n\
         extendedKeyUsage = clientAuth, emailProtection, timeStamping, OCSPSigning\n\
         nsComment = \"made by openssl\"\n\
         nsCertType = client, server\n\
         [dir_sect]\nC = UK\nCN = Dir Name\n",
    )
    .unwrap();
    openssl_in(
        dir,
        &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521", "-nodes",
            "-keyout", "p521.key", "-subj",
            "/C=DE/ST=Bayern/favouriteDrink=tea/jurisdictionC=DE/businessCategory=Private Organization/serialNumber=123/CN=openssl",
            "-set_serial", "4096", "-days", "30", "-config", "ext.cnf", "-extensions", "ext",
            "-out", "p521.der", "-outform", "DER",
        ],
    );
    corpus.push((
        "openssl P-521".to_owned(),
        std::fs::read(dir.join("p521.der")).unwrap(),
    ));
    openssl_in(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "rsa.key",
            "-subj",
            "/CN=rsa 3072/emailAddress=a@example.com/DC=example/DC=com",
            "-days",
            "30",
            "-config",
            "ext.cnf",
            "-extensions",
            "ext",
            "-out",
            "rsa.der",
            "-outform",
            "DER",
        ],
    );
    corpus.push((
        "openssl RSA-3072".to_owned(),
        std::fs::read(dir.join("rsa.der")).unwrap(),
    ));

    // Hand-built.
    corpus.push((
        "version 1".to_owned(),
        build(Spec {
            version: None,
            serial: vec![0x00],
            ..Spec::default()
        }),
    ));
    corpus.push((
        "legacy strings".to_owned(),
        build(Spec {
            serial: vec![0xfe, 0x01],
            subject: seq(&[
                rdn("2.5.4.3", T61, b"t61 \xe9"),
                rdn("2.5.4.10", BMP, &[0x00, b'B', 0x00, b'M', 0x00, 0xe9]),
                rdn("2.5.4.11", UNIVERSAL, &[0, 0, 0, b'U', 0, 0, 0x26, 0x03]),
                rdn("2.5.4.7", IA5, b"ia5/with+signs"),
                rdn("1.2.3.4", UTF8, b"custom"),
                rdn("2.5.4.3", UTF8, b"nul\0inside"),
            ]),
            extensions: vec![
                ext("1.2.3.4.5", false, tlv(0x05, &[])),
                ext("2.5.29.19", true, seq(&[])),
                ext("2.5.29.15", false, tlv(0x03, &[0x07, 0x80])),
            ],
            ..Spec::default()
        }),
    ));
    corpus.push((
        "empty issuer, generalized time".to_owned(),
        build(Spec {
            serial: vec![0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88],
            issuer: seq(&[]),
            not_after: generalized("20991231235959Z"),
            ..Spec::default()
        }),
    ));
    corpus
}

/// `to_text` is what Qt prints on OpenSSL (`X509_print`), byte for byte, over varied
/// certificates.
#[test]
fn to_text_is_openssls_x509_print() {
    let tmp = TempDir::new("to-text");
    if openssl_text(made().ca.to_der()).is_none() {
        eprintln!("SKIPPED: the openssl command is not installed");
        return;
    }
    let mut failures = Vec::new();
    for (name, der) in text_corpus(&tmp.0) {
        let expected = openssl_text(&der).unwrap();
        let found = Certificate::from_der(&der).unwrap().to_text();
        if found != expected {
            let line = found
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(found.lines().count().min(expected.lines().count()));
            failures.push(format!(
                "{name}: first difference at line {}:\n  polytls: {:?}\n  openssl: {:?}",
                line + 1,
                found.lines().nth(line).unwrap_or("<end>"),
                expected.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// PEM output, validity times and display names, as Qt's tests expect them.

/// An Ed25519 SubjectPublicKeyInfo of fixed bytes, so that a certificate built with it is the
/// same on every run.
fn fixed_spki() -> Vec<u8> {
    let mut key = vec![0u8];
    key.extend([0x42; 32]);
    seq(&[seq(&[oid("1.3.101.112")]), tlv(0x03, &key)])
}

/// A certificate of fixed bytes whose subject CN is `n` letters long.
fn fixed_certificate(n: usize) -> Vec<u8> {
    build(Spec {
        subject: cn(&"p".repeat(n)),
        public_key: fixed_spki(),
        ..Spec::default()
    })
}

/// `fixed_certificate(35)`, 192 bytes of DER, as `openssl x509 -outform PEM` writes it: its
/// base64 fills all four lines.
const FULL_LINES_PEM: &str = "-----BEGIN CERTIFICATE-----
MIG9MIGkoAMCAQICAQEwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHVGVzdCBDQTAe
Fw0yNDAxMDEwMDAwMDBaFw0zNDAxMDEwMDAwMDBaMC4xLDAqBgNVBAMMI3BwcHBw
cHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwMCowBQYDK2VwAyEAQkJCQkJC
QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkIwCgYIKoZIzj0EAwIDCAABAgMEBQYH
-----END CERTIFICATE-----
";

/// Base64 (RFC 4648, with padding), written out here so that the PEM writer is checked against
/// something other than itself.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// tst_QSslCertificate::task256066toPem, toPemOrDer and certInfo: `to_pem` is the text OpenSSL
/// (and so Qt) writes, byte for byte: the BEGIN line, the base64 of the DER in lines of 64
/// columns, the END line, each ended by `\n` alone. A body whose base64 fills its last line
/// (a DER length that is a multiple of 48) gets no empty line, and the text reads back as the
/// same certificate, also with CRLF line endings or without the final newline.
#[test]
fn pem_output_byte_for_byte() {
    let der = fixed_certificate(35);
    assert_eq!(der.len(), 192, "the fixed certificate fills its last line");
    let full = Certificate::from_der(&der).unwrap();
    assert_eq!(full.to_pem(), FULL_LINES_PEM);
    for text in [
        FULL_LINES_PEM.to_owned(),
        FULL_LINES_PEM.replace('\n', "\r\n"),
        FULL_LINES_PEM.trim_end().to_owned(),
        format!("{FULL_LINES_PEM}  \n\n"),
    ] {
        let read = Certificate::from_pem(text.as_bytes()).unwrap();
        assert_eq!(read, full, "{text:?}");
        assert_eq!(read.to_pem(), FULL_LINES_PEM, "{text:?}");
    }

    // Every length of the last line, against the base64 written out above and, where the
    // command is installed, against `openssl x509 -outform PEM`.
    let openssl = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    for n in 0..48 {
        let der = fixed_certificate(n);
        let pem = Certificate::from_der(&der).unwrap().to_pem();
        let body = base64(&der);
        let mut expected = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            expected.push_str(std::str::from_utf8(line).unwrap());
            expected.push('\n');
        }
        expected.push_str("-----END CERTIFICATE-----\n");
        assert_eq!(pem, expected, "CN of {n} letters");
        if openssl {
            let tmp = TempDir::new(&format!("pem-{n}"));
            std::fs::write(tmp.0.join("c.der"), &der).unwrap();
            openssl_in(
                &tmp.0,
                &[
                    "x509", "-inform", "DER", "-in", "c.der", "-outform", "PEM", "-out", "c.pem",
                ],
            );
            let theirs = std::fs::read_to_string(tmp.0.join("c.pem")).unwrap();
            assert_eq!(pem, theirs, "CN of {n} letters, against OpenSSL");
        }
    }
}

/// tst_QSslCertificate::constructor_device: the encoding is the one asked for, never guessed:
/// DER read as PEM gives no certificate, PEM read as DER is malformed.
#[test]
fn the_encoding_asked_for_is_used() {
    let der = fixed_certificate(35);
    assert!(Certificate::list_from_data(&der, EncodingFormat::Pem)
        .unwrap_or_default()
        .is_empty());
    assert!(matches!(
        Certificate::from_data(&der, EncodingFormat::Pem),
        Err(Error::Certificate(_))
    ));
    assert!(matches!(
        Certificate::from_data(FULL_LINES_PEM.as_bytes(), EncodingFormat::Der),
        Err(Error::Certificate(_))
    ));
    assert_eq!(
        Certificate::from_data(&der, EncodingFormat::Der).unwrap(),
        Certificate::from_data(FULL_LINES_PEM.as_bytes(), EncodingFormat::Pem).unwrap()
    );
}

/// tst_QSslCertificate::threadSafeConstMethods: clones of one certificate read on two threads
/// at once give the same answers.
#[test]
fn accessors_agree_across_threads() {
    let leaf = made().leaf.clone();
    let read = |c: Certificate| {
        move || {
            (
                c.effective_date_unix(),
                c.expiry_date_unix(),
                c.extensions().len(),
                c.issuer_common_names(),
                c.issuer_info_attributes(),
                c.public_key().unwrap(),
                c.serial_number(),
                c.subject_info_attributes(),
                c.to_pem(),
                c.to_text(),
                c.version(),
            )
        }
    };
    let one = std::thread::spawn(read(leaf.clone()));
    let two = std::thread::spawn(read(leaf.clone()));
    let (one, two) = (one.join().unwrap(), two.join().unwrap());
    assert_eq!(one, two);
    assert_eq!(one, read(leaf)());
}

/// tst_QAsn1Element::dateTime (the rows that are dates) and tst_QSslCertificate::certInfo and
/// largeExpirationDate: UTCTime years 50 to 99 are 1950 to 1999 and 00 to 49 are 2000 to 2049;
/// GeneralizedTime carries later years.
#[test]
fn validity_times_as_qt_reads_them() {
    for (element, unix) in [
        (utc("070417074026Z"), 1_176_795_626),
        (utc("501224055500Z"), -600_285_900),
        (utc("991224055500Z"), 946_014_900),
        (utc("001224055500Z"), 977_637_300),
        (utc("491224055500Z"), 2_523_938_100),
        (generalized("20510829095341Z"), 2_576_915_621),
    ] {
        let c = cert(Spec {
            not_before: element.clone(),
            not_after: element.clone(),
            ..Spec::default()
        });
        assert_eq!(c.effective_date_unix(), unix, "{element:02x?}");
        assert_eq!(c.expiry_date_unix(), unix, "{element:02x?}");
    }
}

/// tst_QSslCertificate::invalidDateTime and tst_QAsn1Element::dateTime (the rows that are not
/// dates): a notBefore or notAfter that is no valid time refuses the certificate, as
/// `Certificate::from_der` documents (Qt: "on other backends we don't get a certificate at
/// all"; on OpenSSL a certificate with invalid dates). The same bytes framed as a peer's
/// certificate read as the epoch: accessors of a certificate polytls cannot parse are empty.
#[test]
fn malformed_validity_times_are_refused() {
    let malformed = [
        // Qt's rows.
        ("UTCTime of 12 characters", utc("07041707402Z")),
        ("UTCTime ending in Y", utc("070417074026Y")),
        ("UTCTime year -9", utc("-91224055500Z")),
        ("UTCTime year *9", utc("*91224055500Z")),
        ("UTCTime year 5*", utc("5*1224055500Z")),
        ("UTCTime year AB", utc("AB1224055500Z")),
        ("UTCTime year +1", utc("+11224055500Z")),
        (
            "GeneralizedTime of 14 characters",
            generalized("2051082909534Z"),
        ),
        (
            "GeneralizedTime ending in Y",
            generalized("20510829095341Y"),
        ),
        ("GeneralizedTime month +8", generalized("2051+829095341Z")),
        ("GeneralizedTime day +9", generalized("205108+9095341Z")),
        // Digits, but no date.
        ("month 13", utc("241301000000Z")),
        ("February 30", utc("240230000000Z")),
        ("hour 24", utc("240101240000Z")),
        ("minute 60", utc("240101006000Z")),
        ("an empty UTCTime", utc("")),
        ("an INTEGER", tlv(0x02, &[0x01])),
    ];
    for (what, element) in malformed {
        for (field, spec) in [
            (
                "notBefore",
                Spec {
                    not_before: element.clone(),
                    ..Spec::default()
                },
            ),
            (
                "notAfter",
                Spec {
                    not_after: element.clone(),
                    ..Spec::default()
                },
            ),
        ] {
            let der = build(spec);
            assert!(
                matches!(Certificate::from_der(&der), Err(Error::Certificate(_))),
                "{field} {what}: {element:02x?}"
            );
            let framed = Certificate::from_peer_der(&der).unwrap();
            assert_eq!(framed.effective_date_unix(), 0, "{field} {what}");
            assert_eq!(framed.expiry_date_unix(), 0, "{field} {what}");
        }
    }
}

/// tst_QSslCertificate::subjectIssuerDisplayName: the display name is the first CN, else the
/// first O, else the first OU, else empty, wherever they stand in the name, for the subject
/// and the issuer alike; tst_QSslCertificate::multipleCommonNames: every CN is kept, in order.
#[test]
fn display_names_fall_back_from_cn_to_o_to_ou() {
    let two = cert(Spec {
        subject: seq(&[
            rdn("2.5.4.3", UTF8, b"www.example.com"),
            rdn("2.5.4.3", UTF8, b"www2.example.com"),
        ]),
        ..Spec::default()
    });
    assert_eq!(
        two.subject_common_names(),
        ["www.example.com", "www2.example.com"]
    );
    assert_eq!(two.subject_display_name(), "www.example.com");
    let organisation = seq(&[
        rdn("2.5.4.6", PRINTABLE, b"NO"),
        rdn("2.5.4.11", UTF8, b"Foundations"),
        rdn("2.5.4.10", UTF8, b"R&D"),
        rdn("2.5.4.10", UTF8, b"Second Org"),
    ]);
    let unit = seq(&[
        rdn("2.5.4.6", PRINTABLE, b"NO"),
        rdn("2.5.4.11", UTF8, b"Foundations"),
    ]);
    let common_name_last = seq(&[
        rdn("2.5.4.10", UTF8, b"R&D"),
        rdn("2.5.4.11", UTF8, b"Foundations"),
        rdn("2.5.4.3", UTF8, b"YOUR name"),
    ]);
    for (name, expected) in [
        (common_name_last, "YOUR name"),
        (organisation, "R&D"),
        (unit, "Foundations"),
        (seq(&[rdn("2.5.4.6", PRINTABLE, b"NO")]), ""),
    ] {
        let c = cert(Spec {
            issuer: name.clone(),
            subject: name,
            ..Spec::default()
        });
        assert_eq!(c.subject_display_name(), expected);
        assert_eq!(c.issuer_display_name(), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// ASN.1 encodings, as Qt's tests expect them.

/// tst_QAsn1Element::integer, toBool and invalid, where certificates hold them: serial numbers
/// of Qt's integer rows read as Qt prints them; an INTEGER that is empty or not in its shortest
/// form (a serial, the version) refuses the certificate, as OpenSSL refuses it. A BOOLEAN (the
/// critical flag) must be one octet; 00 reads as false and any other octet as true, as OpenSSL
/// reads it (Qt's own ASN.1 reader, used without OpenSSL, refuses octets other than 00 and ff).
#[test]
fn integer_and_boolean_encodings_in_certificates() {
    for (contents, printed) in [
        (&[0x00][..], "00"),
        (&[0x7f], "7f"),
        (&[0x00, 0x80], "80"),
        (&[0x01, 0x00], "01:00"),
    ] {
        let c = cert(Spec {
            serial: contents.to_vec(),
            ..Spec::default()
        });
        assert_eq!(c.serial_number(), printed);
    }
    let refused = |what: &str, spec: Spec| {
        assert!(
            matches!(
                Certificate::from_der(&build(spec)),
                Err(Error::Certificate(_))
            ),
            "{what}"
        );
    };
    for serial in [&[][..], &[0x00, 0x01], &[0xff, 0x80]] {
        refused(
            &format!("serial {serial:02x?}"),
            Spec {
                serial: serial.to_vec(),
                ..Spec::default()
            },
        );
    }
    // The version, [0] { INTEGER 2 }, padded to 02 02 00 02.
    let der = build(Spec::default());
    let outer = crate::der::single(&der, 0x30).unwrap();
    let mut parts = crate::der::Reader::new(outer.contents);
    let tbs = parts.next().unwrap();
    let rest = &outer.contents[tbs.whole.len()..];
    let version = [0xa0, 0x03, 0x02, 0x01, 0x02];
    assert_eq!(tbs.contents[..5], version);
    let padded = [
        &[0xa0, 0x04, 0x02, 0x02, 0x00, 0x02][..],
        &tbs.contents[5..],
    ]
    .concat();
    let der = tlv(0x30, &[tlv(0x30, &padded), rest.to_vec()].concat());
    assert!(matches!(
        Certificate::from_der(&der),
        Err(Error::Certificate(_))
    ));
    let ski = |critical: &[u8]| {
        seq(&[
            oid("2.5.29.14"),
            tlv(0x01, critical),
            tlv(0x04, &tlv(0x04, &[1, 2])),
        ])
    };
    refused(
        "a critical flag of two octets",
        Spec {
            extensions: vec![ski(&[0xff, 0xff])],
            ..Spec::default()
        },
    );
    refused(
        "an empty critical flag",
        Spec {
            extensions: vec![ski(&[])],
            ..Spec::default()
        },
    );
    for (octet, critical) in [(0x00, false), (0x02, true), (0xff, true)] {
        let c = cert(Spec {
            extensions: vec![ski(&[octet])],
            ..Spec::default()
        });
        assert_eq!(c.extensions()[0].is_critical, critical, "{octet:02x}");
    }
}

/// tst_QAsn1Element::objectIdentifier: an OID's DER reads as its dotted text, and is named as
/// OpenSSL (so Qt) names it, by its dotted text when OpenSSL has no name for it; lookups take
/// either.
#[test]
fn object_identifiers_and_their_names() {
    let attribute = |oid_contents: &[u8], value: &[u8]| {
        tlv(0x31, &seq(&[tlv(0x06, oid_contents), tlv(UTF8, value)]))
    };
    let c = cert(Spec {
        subject: seq(&[
            attribute(&[0x2a, 0x03, 0x04], b"one"),
            attribute(
                &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x05],
                b"tea",
            ),
        ]),
        extensions: vec![seq(&[
            tlv(0x06, &[0x2a, 0x03, 0x04]),
            tlv(0x04, &tlv(0x05, &[])),
        ])],
        ..Spec::default()
    });
    assert_eq!(c.subject_info_attributes(), ["1.2.3.4", "favouriteDrink"]);
    assert_eq!(c.subject_info_by_oid("1.2.3.4"), ["one"]);
    assert_eq!(c.subject_info_by_oid("0.9.2342.19200300.100.1.5"), ["tea"]);
    assert_eq!(c.subject_info_by_oid("favouriteDrink"), ["tea"]);
    assert_eq!(
        c.info().subject,
        [
            ("1.2.3.4".to_owned(), Some("one".to_owned())),
            (
                "0.9.2342.19200300.100.1.5".to_owned(),
                Some("tea".to_owned())
            ),
        ]
    );
    let extension = &c.extensions()[0];
    assert_eq!(extension.oid, "1.2.3.4");
    assert_eq!(extension.name, "1.2.3.4");
}
