//! The human-readable dump behind [`Certificate::to_text`](super::Certificate::to_text): what
//! Qt prints on OpenSSL, which is OpenSSL's `X509_print` (`openssl x509 -text -noout
//! -nameopt compat`), byte for byte for the certificates this library meets (RSA, EC on the
//! named curves, Ed25519 and Ed448 keys; the RFC 5280 extensions; names in any string type),
//! and the calendar arithmetic it needs. Extensions OpenSSL decodes but this module does not
//! (signed certificate timestamps, name and policy constraints, policy qualifiers) are shown
//! as OpenSSL shows an extension it does not know.

use super::oid::Dotted;
use std::fmt::Write as _;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::Oid;
use x509_parser::x509::X509Name;

use super::name::short_name;
use crate::der::{single, Reader, BIT_STRING, INTEGER, OID, SEQUENCE};

/// A civil date and time (UTC) from seconds since the Unix epoch, valid for any `i64` that an
/// X.509 time can hold (years 0 to 9999).
pub(crate) fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let c = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        year,
        c(month),
        c(day),
        c(rem / 3600),
        c(rem % 3600 / 60),
        c(rem % 60),
    )
}

/// `Jan  2 03:04:05 2024 GMT`, as OpenSSL prints times.
pub(crate) fn format_time(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = civil(secs);
    let month = usize::try_from(mo)
        .ok()
        .and_then(|m| m.checked_sub(1))
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"???");
    format!("{month} {d:>2} {h:02}:{mi:02}:{s:02} {y} GMT")
}

/// The public key's size in bits, as [`Key::bits`](crate::Key::bits) reads it from the
/// SubjectPublicKeyInfo (RSA modulus, curve size, 256 for Ed25519, DSA and DH prime size), plus
/// Ed448 (456, as OpenSSL reports it), which `Key` does not name; `None` when unknown.
pub(crate) fn public_key_bits(cert: &X509Certificate<'_>) -> Option<usize> {
    let spki = cert.public_key();
    let bits = crate::Key::from_der(spki.raw, crate::KeyType::PublicKey)
        .ok()
        .and_then(|key| key.bits());
    match bits {
        Some(bits) => usize::try_from(bits).ok(),
        None => (spki.algorithm.algorithm.dotted() == "1.3.101.113").then_some(456),
    }
}

/// OpenSSL's long names (`OBJ_nid2ln`) for the OIDs the dump names: signature and key
/// algorithms, extensions, extended key usages and access methods.
const LONG_NAMES: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.1", "rsaEncryption"),
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.10045.2.1", "id-ecPublicKey"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.2.840.10040.4.1", "dsaEncryption"),
    ("1.2.840.10040.4.3", "dsaWithSHA1"),
    ("2.16.840.1.101.3.4.3.1", "dsa_with_SHA224"),
    ("2.16.840.1.101.3.4.3.2", "dsa_with_SHA256"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.3.101.112", "ED25519"),
    ("1.3.101.113", "ED448"),
    ("2.5.29.14", "X509v3 Subject Key Identifier"),
    ("2.5.29.15", "X509v3 Key Usage"),
    ("2.5.29.16", "X509v3 Private Key Usage Period"),
    ("2.5.29.17", "X509v3 Subject Alternative Name"),
    ("2.5.29.18", "X509v3 Issuer Alternative Name"),
    ("2.5.29.19", "X509v3 Basic Constraints"),
    ("2.5.29.30", "X509v3 Name Constraints"),
    ("2.5.29.31", "X509v3 CRL Distribution Points"),
    ("2.5.29.32", "X509v3 Certificate Policies"),
    ("2.5.29.32.0", "X509v3 Any Policy"),
    ("2.5.29.33", "X509v3 Policy Mappings"),
    ("2.5.29.35", "X509v3 Authority Key Identifier"),
    ("2.5.29.36", "X509v3 Policy Constraints"),
    ("2.5.29.37", "X509v3 Extended Key Usage"),
    ("2.5.29.37.0", "Any Extended Key Usage"),
    ("2.5.29.46", "X509v3 Freshest CRL"),
    ("2.5.29.54", "X509v3 Inhibit Any Policy"),
    ("1.3.6.1.5.5.7.1.1", "Authority Information Access"),
    ("1.3.6.1.5.5.7.1.11", "Subject Information Access"),
    ("1.3.6.1.5.5.7.1.24", "TLS Feature"),
    ("1.3.6.1.4.1.11129.2.4.2", "CT Precertificate SCTs"),
    ("1.3.6.1.4.1.11129.2.4.3", "CT Precertificate Poison"),
    ("2.16.840.1.113730.1.1", "Netscape Cert Type"),
    ("2.16.840.1.113730.1.13", "Netscape Comment"),
    ("1.3.6.1.5.5.7.3.1", "TLS Web Server Authentication"),
    ("1.3.6.1.5.5.7.3.2", "TLS Web Client Authentication"),
    ("1.3.6.1.5.5.7.3.3", "Code Signing"),
    ("1.3.6.1.5.5.7.3.4", "E-mail Protection"),
    ("1.3.6.1.5.5.7.3.5", "IPSec End System"),
    ("1.3.6.1.5.5.7.3.6", "IPSec Tunnel"),
    ("1.3.6.1.5.5.7.3.7", "IPSec User"),
    ("1.3.6.1.5.5.7.3.8", "Time Stamping"),
    ("1.3.6.1.5.5.7.3.9", "OCSP Signing"),
    ("1.3.6.1.5.5.7.48.1", "OCSP"),
    ("1.3.6.1.5.5.7.48.2", "CA Issuers"),
    ("1.3.6.1.5.5.7.48.3", "Time Stamping"),
    ("1.3.6.1.5.5.7.48.5", "CA Repository"),
];

/// The named curves: OID, OpenSSL's short name (`ASN1 OID:`), NIST name (`NIST CURVE:`).
const CURVES: &[(&str, &str, Option<&str>)] = &[
    ("1.2.840.10045.3.1.1", "prime192v1", Some("P-192")),
    ("1.3.132.0.33", "secp224r1", Some("P-224")),
    ("1.2.840.10045.3.1.7", "prime256v1", Some("P-256")),
    ("1.3.132.0.34", "secp384r1", Some("P-384")),
    ("1.3.132.0.35", "secp521r1", Some("P-521")),
    ("1.3.132.0.10", "secp256k1", None),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", None),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", None),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", None),
];

/// `i2a_ASN1_OBJECT`: OpenSSL's long name of `dotted`, or `dotted` itself.
fn long_name(dotted: &str) -> String {
    LONG_NAMES
        .iter()
        .find(|(o, _)| *o == dotted)
        .map_or_else(|| dotted.to_owned(), |(_, n)| (*n).to_owned())
}

fn oid_long_name(oid: &Oid<'_>) -> String {
    long_name(&oid.dotted())
}

/// The dotted form of an OID's contents.
fn dotted_contents(contents: &[u8]) -> String {
    Oid::new(std::borrow::Cow::Borrowed(contents)).dotted()
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `i2s_ASN1_OCTET_STRING`: uppercase hex, colon-separated.
fn upper_hex(bytes: &[u8]) -> String {
    hex(bytes, ":").to_uppercase()
}

/// `X509_NAME_oneline`: `/C=US/O=Example/CN=x`, each value's bytes as they are encoded, bytes
/// outside printable ASCII as `\xHH`, `/` and `+` escaped with a backslash; a GeneralString
/// whose bytes are UCS-4 with three zero bytes out of four keeps only the fourth.
fn oneline(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for attr in name.iter_attributes() {
        let value = attr.attr_value();
        let data = value.data;
        let general_string = value.tag().0 == 27;
        let mut keep = [true; 4];
        if general_string && data.len() % 4 == 0 {
            let mut nonzero = [false; 4];
            for (j, &b) in data.iter().enumerate() {
                if b != 0 {
                    nonzero[j & 3] = true;
                }
            }
            if !(nonzero[0] || nonzero[1] || nonzero[2]) {
                keep = [false, false, false, true];
            }
        }
        out.push('/');
        out.push_str(&short_name(&attr.attr_type().dotted()));
        out.push('=');
        for (j, &b) in data.iter().enumerate() {
            if !keep[j & 3] {
                continue;
            }
            match b {
                b'/' | b'+' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                b' '..=b'~' => out.push(char::from(b)),
                _ => {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
        }
    }
    out
}

/// `X509_NAME_print` (what `X509_print` uses, `XN_FLAG_COMPAT`): the one-line form without
/// its first `/`, each `/` followed by one or two capital letters and `=` written as `, `.
pub(crate) fn compat_name(name: &X509Name<'_>) -> String {
    let line = oneline(name);
    let b = line.as_bytes();
    let Some(rest) = b.get(1..) else {
        return String::new();
    };
    let upper = |i: usize| rest.get(i).is_some_and(u8::is_ascii_uppercase);
    let is = |i: usize, c: u8| rest.get(i) == Some(&c);
    let mut out = Vec::with_capacity(rest.len() + 8);
    for (i, &c) in rest.iter().enumerate() {
        if c == b'/' && upper(i + 1) && (is(i + 2, b'=') || (upper(i + 2) && is(i + 3, b'='))) {
            out.extend_from_slice(b", ");
        } else {
            out.push(c);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The serial number line(s): decimal and hex when it fits OpenSSL's `long`, else the bytes.
fn serial_lines(out: &mut String, raw: &[u8], magnitude: &[u8]) {
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let small = (magnitude.len() <= 8)
        .then(|| {
            magnitude
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
        })
        .filter(|&v| {
            // ASN1_INTEGER_get: a positive value above LONG_MAX fails; so does -1, which it
            // returns for failures too.
            if negative {
                v <= 1u64 << 63 && v != 1
            } else {
                v <= i64::MAX as u64
            }
        });
    out.push_str("        Serial Number:");
    match small {
        Some(v) => {
            let neg = if negative { "-" } else { "" };
            let _ = writeln!(out, " {neg}{v} ({neg}0x{v:x})");
        }
        None => {
            if negative {
                out.push_str(" (Negative)");
            }
            let _ = writeln!(out, "\n            {}", hex(magnitude, ":"));
        }
    }
}

/// `X509_signature_dump`: 18 bytes a line, `:` after every byte but the last.
fn signature_dump(out: &mut String, bytes: &[u8], indent: usize) {
    for (i, b) in bytes.iter().enumerate() {
        if i % 18 == 0 {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
        }
        let sep = if i + 1 == bytes.len() { "" } else { ":" };
        let _ = write!(out, "{b:02x}{sep}");
    }
    out.push('\n');
}

/// OpenSSL's `print_labeled_buf`, each line under `indent`: the label, then 15 bytes a line.
fn labeled_buf(out: &mut String, indent: &str, label: &str, bytes: &[u8]) {
    let _ = writeln!(out, "{indent}{label}");
    for (i, b) in bytes.iter().enumerate() {
        if i % 15 == 0 {
            if i > 0 {
                out.push('\n');
            }
            let _ = write!(out, "{indent}    ");
        }
        let sep = if i + 1 == bytes.len() { "" } else { ":" };
        let _ = write!(out, "{b:02x}{sep}");
    }
    out.push('\n');
}

/// OpenSSL's `print_labeled_bignum` for a non-negative INTEGER's contents, under `indent`.
fn labeled_bignum(out: &mut String, indent: &str, label: &str, contents: &[u8]) {
    let first = contents
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(contents.len());
    let magnitude = contents.get(first..).unwrap_or_default();
    if magnitude.is_empty() {
        let _ = writeln!(out, "{indent}{label} 0");
        return;
    }
    if magnitude.len() <= 8 {
        let v = magnitude
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let _ = writeln!(out, "{indent}{label} {v} (0x{v:x})");
        return;
    }
    let _ = writeln!(out, "{indent}{label}");
    let mut bytes: Vec<u8> = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(magnitude);
    let _ = write!(out, "{indent}    ");
    for (i, b) in bytes.iter().enumerate() {
        if i % 15 == 0 && i > 0 {
            let _ = write!(out, ":\n{indent}    ");
        } else if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
    out.push('\n');
}

/// The public key as OpenSSL's text encoders print it, every line under 16 spaces.
fn public_key(out: &mut String, cert: &X509Certificate<'_>) {
    let indent = " ".repeat(16);
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.dotted();
    let key = &spki.subject_public_key.data;
    match algorithm.as_str() {
        "1.2.840.113549.1.1.1" => {
            let parts = single(key, SEQUENCE).and_then(|seq| {
                let mut r = Reader::new(seq.contents);
                let n = r.expect(INTEGER)?;
                let e = r.expect(INTEGER)?;
                Some((n.contents, e.contents))
            });
            if let Some((n, e)) = parts {
                let bits = crate::der::positive_integer_bits(n).unwrap_or(0);
                let _ = writeln!(out, "{indent}Public-Key: ({bits} bit)");
                labeled_bignum(out, &indent, "Modulus:", n);
                labeled_bignum(out, &indent, "Exponent:", e);
                return;
            }
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag().0 == u32::from(OID))
                .map(|p| dotted_contents(p.data))
                .and_then(|oid| CURVES.iter().find(|(o, _, _)| *o == oid));
            if let (Some(&(_, name, nist)), Some(bits)) = (curve, public_key_bits(cert)) {
                let _ = writeln!(out, "{indent}Public-Key: ({bits} bit)");
                labeled_buf(out, &indent, "pub:", key);
                let _ = writeln!(out, "{indent}ASN1 OID: {name}");
                if let Some(nist) = nist {
                    let _ = writeln!(out, "{indent}NIST CURVE: {nist}");
                }
                return;
            }
        }
        "1.3.101.112" | "1.3.101.113" => {
            let kind = if algorithm.ends_with("112") {
                "ED25519"
            } else {
                "ED448"
            };
            let _ = writeln!(out, "{indent}{kind} Public-Key:");
            labeled_buf(out, &indent, "pub:", key);
            return;
        }
        _ => {}
    }
    match public_key_bits(cert) {
        Some(bits) => {
            let _ = writeln!(out, "{indent}Public-Key: ({bits} bit)");
        }
        None => {
            let _ = writeln!(out, "{indent}Unable to load Public Key");
        }
    }
}

/// An IP address entry as OpenSSL prints it: dotted quad, or eight uppercase hex groups
/// without zero compression.
fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join("."),
        16 => bytes
            .chunks(2)
            .map(|c| {
                let hi = c.first().copied().unwrap_or(0);
                let lo = c.get(1).copied().unwrap_or(0);
                format!("{:X}", u16::from_be_bytes([hi, lo]))
            })
            .collect::<Vec<_>>()
            .join(":"),
        _ => "<invalid>".to_owned(),
    }
}

/// `i2v_GENERAL_NAME`, as `name:value`; `None` where OpenSSL would fail (a NUL in a string).
fn general_name(name: &GeneralName<'_>) -> Option<String> {
    let text = |kind: &str, s: &str| (!s.contains('\0')).then(|| format!("{kind}:{s}"));
    match name {
        GeneralName::DNSName(s) => text("DNS", s),
        GeneralName::RFC822Name(s) => text("email", s),
        GeneralName::URI(s) => text("URI", s),
        GeneralName::IPAddress(b) => Some(format!("IP Address:{}", ip_text(b))),
        GeneralName::DirectoryName(n) => Some(format!("DirName:{}", oneline(n))),
        GeneralName::RegisteredID(oid) => Some(format!("Registered ID:{}", oid_long_name(oid))),
        GeneralName::OtherName(..) => Some("othername:<unsupported>".to_owned()),
        GeneralName::X400Address(_) => Some("X400Name:<unsupported>".to_owned()),
        GeneralName::EDIPartyName(_) => Some("EdiPartyName:<unsupported>".to_owned()),
        _ => None,
    }
}

fn general_names(names: &[GeneralName<'_>]) -> Option<Vec<String>> {
    names.iter().map(general_name).collect()
}

/// Non-multiline `X509V3_EXT_val_prn`: the values joined by `, ` on one indented line.
fn one_line(indent: &str, values: &[String]) -> String {
    if values.is_empty() {
        return format!("{indent}<EMPTY>\n");
    }
    format!("{indent}{}", values.join(", "))
}

/// Multiline `X509V3_EXT_val_prn`: one indented line for each value.
fn lines(indent: &str, values: &[String]) -> String {
    if values.is_empty() {
        return format!("{indent}<EMPTY>\n");
    }
    values
        .iter()
        .map(|v| format!("{indent}{v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

const KEY_USAGES: [&str; 9] = [
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

const NS_CERT_TYPES: [&str; 8] = [
    "SSL Client",
    "SSL Server",
    "S/MIME",
    "Object Signing",
    "Unused",
    "SSL CA",
    "S/MIME CA",
    "Object Signing CA",
];

/// The names of the bits set in a DER BIT STRING's contents, bit 0 first.
fn bit_names(contents: &[u8], names: &[&str]) -> Vec<String> {
    let data = contents.get(1..).unwrap_or_default();
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            data.get(i / 8)
                .is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0)
        })
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

/// An extension's body as `X509V3_EXT_print` writes it (without the newline after it), or
/// `None` when OpenSSL would fall back to printing its raw bytes.
fn extension_body(oid: &str, value: &[u8], parsed: &ParsedExtension<'_>) -> Option<String> {
    let indent = " ".repeat(16);
    Some(match (oid, parsed) {
        ("2.5.29.14", ParsedExtension::SubjectKeyIdentifier(k)) => {
            format!("{indent}{}", upper_hex(k.0))
        }
        ("2.5.29.35", ParsedExtension::AuthorityKeyIdentifier(aki)) => {
            let named = aki.authority_cert_issuer.is_some() || aki.authority_cert_serial.is_some();
            let mut values = Vec::new();
            if let Some(k) = &aki.key_identifier {
                let prefix = if named { "keyid:" } else { "" };
                values.push(format!("{prefix}{}", upper_hex(k.0)));
            }
            if let Some(issuer) = &aki.authority_cert_issuer {
                values.extend(general_names(issuer)?);
            }
            if let Some(serial) = aki.authority_cert_serial {
                values.push(format!("serial:{}", upper_hex(serial)));
            }
            lines(&indent, &values)
        }
        ("2.5.29.19", ParsedExtension::BasicConstraints(bc)) => {
            let mut values = vec![format!("CA:{}", if bc.ca { "TRUE" } else { "FALSE" })];
            if let Some(n) = bc.path_len_constraint {
                values.push(format!("pathlen:{n}"));
            }
            one_line(&indent, &values)
        }
        ("2.5.29.15", ParsedExtension::KeyUsage(_)) => {
            let bits = single(value, BIT_STRING)?;
            one_line(&indent, &bit_names(bits.contents, &KEY_USAGES))
        }
        ("2.16.840.1.113730.1.1", ParsedExtension::NSCertType(_)) => {
            let bits = single(value, BIT_STRING)?;
            one_line(&indent, &bit_names(bits.contents, &NS_CERT_TYPES))
        }
        ("2.5.29.37", ParsedExtension::ExtendedKeyUsage(_)) => {
            let seq = single(value, SEQUENCE)?;
            let mut r = Reader::new(seq.contents);
            let mut values = Vec::new();
            while !r.is_empty() {
                values.push(long_name(&dotted_contents(r.expect(OID)?.contents)));
            }
            one_line(&indent, &values)
        }
        ("2.5.29.17", ParsedExtension::SubjectAlternativeName(san)) => {
            one_line(&indent, &general_names(&san.general_names)?)
        }
        ("2.5.29.18", ParsedExtension::IssuerAlternativeName(ian)) => {
            one_line(&indent, &general_names(&ian.general_names)?)
        }
        ("2.5.29.32", ParsedExtension::CertificatePolicies(policies)) => {
            if policies.iter().any(|p| p.policy_qualifiers.is_some()) {
                return None;
            }
            policies
                .iter()
                .map(|p| format!("{indent}Policy: {}", oid_long_name(&p.policy_id)))
                .collect::<Vec<_>>()
                .join("\n")
        }
        ("2.5.29.31", ParsedExtension::CRLDistributionPoints(points)) => {
            let mut parts = Vec::new();
            for point in points.iter() {
                if point.reasons.is_some() || point.crl_issuer.is_some() {
                    return None;
                }
                match &point.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        let mut text = format!("{indent}Full Name:\n");
                        let names: Vec<String> = general_names(names)?
                            .into_iter()
                            .map(|n| format!("{indent}  {n}"))
                            .collect();
                        text.push_str(&names.join("\n"));
                        parts.push(text);
                    }
                    Some(_) => return None,
                    None => parts.push(String::new()),
                }
            }
            parts.join("\n")
        }
        ("1.3.6.1.5.5.7.1.1", ParsedExtension::AuthorityInfoAccess(aia)) => {
            let values: Option<Vec<String>> = aia
                .accessdescs
                .iter()
                .map(|d| {
                    let name = general_name(&d.access_location)?;
                    let (kind, rest) = name.split_once(':')?;
                    Some(format!(
                        "{} - {kind}:{rest}",
                        oid_long_name(&d.access_method)
                    ))
                })
                .collect();
            lines(&indent, &values?)
        }
        ("2.16.840.1.113730.1.13", ParsedExtension::NsCertComment(comment)) => {
            format!("{indent}{comment}")
        }
        ("2.5.29.54", ParsedExtension::InhibitAnyPolicy(p)) => {
            format!("{indent}{}", p.skip_certs)
        }
        _ => return None,
    })
}

/// `ASN1_STRING_print` of an extension OpenSSL cannot show otherwise: its bytes, each
/// non-printable one (line breaks excepted) as `.`.
fn raw_extension(value: &[u8]) -> String {
    value
        .iter()
        .map(|&b| match b {
            b' '..=b'~' | b'\n' | b'\r' => char::from(b),
            _ => '.',
        })
        .collect()
}

/// The dump; see [`Certificate::to_text`](super::Certificate::to_text). `serial` is the
/// serial number's magnitude.
pub(crate) fn to_text(cert: &X509Certificate<'_>, serial: &[u8]) -> String {
    let mut out = String::from("Certificate:\n    Data:\n");
    let version = cert.version().0;
    if version <= 2 {
        let _ = writeln!(
            out,
            "        Version: {} (0x{version:x})",
            u64::from(version) + 1
        );
    } else {
        let _ = writeln!(out, "        Version: Unknown ({version})");
    }
    serial_lines(&mut out, cert.raw_serial(), serial);
    let _ = writeln!(
        out,
        "        Signature Algorithm: {}",
        oid_long_name(&cert.tbs_certificate.signature.algorithm)
    );
    let _ = writeln!(out, "        Issuer: {}", compat_name(cert.issuer()));
    out.push_str("        Validity\n");
    let _ = writeln!(
        out,
        "            Not Before: {}",
        format_time(cert.validity().not_before.timestamp())
    );
    let _ = writeln!(
        out,
        "            Not After : {}",
        format_time(cert.validity().not_after.timestamp())
    );
    let _ = writeln!(out, "        Subject: {}", compat_name(cert.subject()));
    out.push_str("        Subject Public Key Info:\n");
    let _ = writeln!(
        out,
        "            Public Key Algorithm: {}",
        oid_long_name(&cert.public_key().algorithm.algorithm)
    );
    public_key(&mut out, cert);
    if let Some(uid) = &cert.tbs_certificate.issuer_uid {
        out.push_str("        Issuer Unique ID: ");
        signature_dump(&mut out, &uid.0.data, 12);
    }
    if let Some(uid) = &cert.tbs_certificate.subject_uid {
        out.push_str("        Subject Unique ID: ");
        signature_dump(&mut out, &uid.0.data, 12);
    }
    let extensions = cert.extensions();
    if !extensions.is_empty() {
        out.push_str("        X509v3 extensions:\n");
    }
    for ext in extensions {
        let oid = ext.oid.dotted();
        let critical = if ext.critical { "critical" } else { "" };
        let _ = writeln!(out, "            {}: {critical}", long_name(&oid));
        match extension_body(&oid, ext.value, ext.parsed_extension()) {
            Some(body) => out.push_str(&body),
            None => {
                let _ = write!(out, "{}{}", " ".repeat(16), raw_extension(ext.value));
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "    Signature Algorithm: {}",
        oid_long_name(&cert.signature_algorithm.algorithm)
    );
    out.push_str("    Signature Value:\n");
    signature_dump(&mut out, &cert.signature_value.data, 8);
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(2_524_608_000), (2050, 1, 1, 0, 0, 0));
        assert_eq!(civil(-631_152_000), (1950, 1, 1, 0, 0, 0));
        assert_eq!(civil(253_402_300_799), (9999, 12, 31, 23, 59, 59));
        assert_eq!(format_time(1_704_164_645), "Jan  2 03:04:05 2024 GMT");
    }
}
