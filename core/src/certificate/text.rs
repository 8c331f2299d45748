//! The human-readable dump behind [`Certificate::to_text`](super::Certificate::to_text), laid
//! out in the spirit of `openssl x509 -text`, and the calendar arithmetic it needs.

use super::oid::Dotted;
use std::fmt::Write as _;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::oid_registry::Oid;

use super::extension::{extensions, ExtensionValue};
use super::name::to_line;
use super::AlternativeName;

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

fn oid_name(oid: &Oid<'_>) -> String {
    let known = [
        ("1.2.840.10045.2.1", "id-ecPublicKey"),
        ("1.3.101.112", "ED25519"),
        ("1.3.101.113", "ED448"),
        ("1.2.840.113549.1.1.1", "rsaEncryption"),
        ("1.2.840.113549.1.1.10", "rsassaPss"),
    ];
    let dotted = oid.dotted();
    known
        .iter()
        .find(|(o, _)| *o == dotted)
        .map(|(_, n)| (*n).to_owned())
        .or_else(|| oid2sn(oid, oid_registry()).ok().map(str::to_owned))
        .unwrap_or(dotted)
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Hex bytes, colon-separated, `per_line` bytes a line, each line indented by `indent`.
fn hex_block(out: &mut String, bytes: &[u8], indent: &str, per_line: usize) {
    for chunk in bytes.chunks(per_line.max(1)) {
        let _ = writeln!(out, "{indent}{}", hex(chunk, ":"));
    }
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

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{}", s.escape_debug()),
        GeneralName::RFC822Name(s) => format!("email:{}", s.escape_debug()),
        GeneralName::URI(s) => format!("URI:{}", s.escape_debug()),
        GeneralName::IPAddress(b) => match super::ip_from_bytes(b) {
            Some(ip) => format!("IP Address:{ip}"),
            None => format!("IP Address:<invalid {}>", hex(b, ":")),
        },
        GeneralName::DirectoryName(n) => format!("DirName:{}", to_line(n)),
        GeneralName::RegisteredID(oid) => format!("Registered ID:{}", oid.dotted()),
        GeneralName::OtherName(oid, _) => format!("othername:{}", oid.dotted()),
        _ => "<unsupported>".to_owned(),
    }
}

/// The dump; see [`Certificate::to_text`](super::Certificate::to_text).
pub(crate) fn to_text(cert: &X509Certificate<'_>, serial: &[u8]) -> String {
    let mut out = String::new();
    let version = cert.version().0;
    let _ = writeln!(out, "Certificate:\n    Data:");
    let _ = writeln!(
        out,
        "        Version: {} (0x{version:x})",
        u64::from(version) + 1
    );
    let _ = writeln!(out, "        Serial Number:");
    hex_block(&mut out, serial, "            ", 16);
    let _ = writeln!(
        out,
        "        Signature Algorithm: {}",
        oid_name(&cert.tbs_certificate.signature.algorithm)
    );
    let _ = writeln!(out, "        Issuer: {}", to_line(cert.issuer()));
    let _ = writeln!(out, "        Validity");
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
    let _ = writeln!(out, "        Subject: {}", to_line(cert.subject()));
    let _ = writeln!(out, "        Subject Public Key Info:");
    let _ = writeln!(
        out,
        "            Public Key Algorithm: {}",
        oid_name(&cert.public_key().algorithm.algorithm)
    );
    match public_key_bits(cert) {
        Some(bits) => {
            let _ = writeln!(out, "                Public-Key: ({bits} bit)");
        }
        None => {
            let _ = writeln!(out, "                Public-Key: (unknown size)");
        }
    }
    let exts = extensions(cert);
    if !exts.is_empty() {
        let _ = writeln!(out, "        X509v3 extensions:");
    }
    let parsed = cert.extensions();
    for (i, ext) in exts.iter().enumerate() {
        let critical = if ext.is_critical { " critical" } else { "" };
        let _ = writeln!(out, "            {}:{critical}", ext.name);
        let indent = "                ";
        let line = match &ext.value {
            ExtensionValue::BasicConstraints { ca, path_length } => {
                let ca = if *ca { "TRUE" } else { "FALSE" };
                match path_length {
                    Some(n) => format!("CA:{ca}, pathlen:{n}"),
                    None => format!("CA:{ca}"),
                }
            }
            ExtensionValue::KeyUsage(v)
            | ExtensionValue::ExtendedKeyUsage(v)
            | ExtensionValue::CrlDistributionPoints(v) => v.join(", "),
            ExtensionValue::CertificatePolicies(v) => v
                .iter()
                .map(|p| format!("Policy: {p}"))
                .collect::<Vec<_>>()
                .join(", "),
            ExtensionValue::SubjectAlternativeName(names) => {
                // Show every entry, not only the DNS, e-mail and IP ones.
                match parsed.get(i).map(|e| e.parsed_extension()) {
                    Some(x509_parser::extensions::ParsedExtension::SubjectAlternativeName(s)) => s
                        .general_names
                        .iter()
                        .map(general_name)
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => names
                        .iter()
                        .map(|n| match n {
                            AlternativeName::Dns(s) => format!("DNS:{}", s.escape_debug()),
                            AlternativeName::Email(s) => format!("email:{}", s.escape_debug()),
                            AlternativeName::Ip(ip) => format!("IP Address:{ip}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            }
            ExtensionValue::AuthorityKeyIdentifier {
                key_identifier,
                serial,
            } => {
                let mut parts = Vec::new();
                if let Some(k) = key_identifier {
                    parts.push(hex(k, ":").to_uppercase());
                }
                if let Some(s) = serial {
                    parts.push(format!("serial:{}", hex(s, ":").to_uppercase()));
                }
                parts.join(", ")
            }
            ExtensionValue::SubjectKeyIdentifier(k) => hex(k, ":").to_uppercase(),
            ExtensionValue::AuthorityInformationAccess { ocsp, ca_issuers } => ocsp
                .iter()
                .map(|u| format!("OCSP - URI:{u}"))
                .chain(ca_issuers.iter().map(|u| format!("CA Issuers - URI:{u}")))
                .collect::<Vec<_>>()
                .join(", "),
            ExtensionValue::Raw(der) => {
                let shown = der.get(..64).unwrap_or(der);
                let more = if der.len() > shown.len() { ":..." } else { "" };
                format!("{}{more}", hex(shown, ":"))
            }
        };
        let _ = writeln!(out, "{indent}{line}");
    }
    let _ = writeln!(
        out,
        "    Signature Algorithm: {}",
        oid_name(&cert.signature_algorithm.algorithm)
    );
    let _ = writeln!(out, "    Signature Value:");
    hex_block(&mut out, &cert.signature_value.data, "        ", 18);
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
