//! Distinguished names: the [`SubjectInfo`] attributes, decoding of attribute values (UTF-8,
//! PrintableString, IA5String, BMPString, TeletexString and the other ASN.1 string types) to
//! text, and the one-line renderings used by display names and the text dump.

use super::oid::Dotted;
use x509_parser::asn1_rs::{Any, Tag};
use x509_parser::x509::X509Name;

/// An attribute of a certificate's subject or issuer name (Qt's `QSslCertificate::SubjectInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectInfo {
    /// The organisation (`O`, 2.5.4.10).
    Organization,
    /// The common name (`CN`, 2.5.4.3); for a server usually its host name.
    CommonName,
    /// The locality or city (`L`, 2.5.4.7).
    LocalityName,
    /// The organisational unit (`OU`, 2.5.4.11).
    OrganizationalUnitName,
    /// The country (`C`, 2.5.4.6).
    CountryName,
    /// The state or province (`ST`, 2.5.4.8).
    StateOrProvinceName,
    /// The distinguished name qualifier (`dnQualifier`, 2.5.4.46).
    DistinguishedNameQualifier,
    /// The subject's serial number attribute (`serialNumber`, 2.5.4.5), not the certificate's.
    SerialNumber,
    /// The e-mail address (`emailAddress`, 1.2.840.113549.1.9.1).
    EmailAddress,
}

impl SubjectInfo {
    /// Every attribute, in Qt's order.
    pub const ALL: &'static [SubjectInfo] = &[
        Self::Organization,
        Self::CommonName,
        Self::LocalityName,
        Self::OrganizationalUnitName,
        Self::CountryName,
        Self::StateOrProvinceName,
        Self::DistinguishedNameQualifier,
        Self::SerialNumber,
        Self::EmailAddress,
    ];

    /// The attribute's object identifier in dotted form, e.g. `"2.5.4.3"` for the common name.
    pub fn oid(self) -> &'static str {
        match self {
            Self::Organization => "2.5.4.10",
            Self::CommonName => "2.5.4.3",
            Self::LocalityName => "2.5.4.7",
            Self::OrganizationalUnitName => "2.5.4.11",
            Self::CountryName => "2.5.4.6",
            Self::StateOrProvinceName => "2.5.4.8",
            Self::DistinguishedNameQualifier => "2.5.4.46",
            Self::SerialNumber => "2.5.4.5",
            Self::EmailAddress => "1.2.840.113549.1.9.1",
        }
    }

    /// The attribute's short name as OpenSSL and RFC 4514 print it, e.g. `"CN"`.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Organization => "O",
            Self::CommonName => "CN",
            Self::LocalityName => "L",
            Self::OrganizationalUnitName => "OU",
            Self::CountryName => "C",
            Self::StateOrProvinceName => "ST",
            Self::DistinguishedNameQualifier => "dnQualifier",
            Self::SerialNumber => "serialNumber",
            Self::EmailAddress => "emailAddress",
        }
    }
}

/// Short names for attribute OIDs beyond [`SubjectInfo`], used when printing names.
const EXTRA_SHORT_NAMES: &[(&str, &str)] = &[
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("2.5.4.4", "SN"),
    ("2.5.4.42", "GN"),
    ("2.5.4.12", "title"),
    ("2.5.4.9", "street"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.65", "pseudonym"),
    ("2.5.4.97", "organizationIdentifier"),
];

/// The short name of an attribute OID, or the dotted OID itself when it has none.
pub(crate) fn short_name(oid: &str) -> String {
    SubjectInfo::ALL
        .iter()
        .find(|i| i.oid() == oid)
        .map(|i| i.short_name())
        .or_else(|| {
            EXTRA_SHORT_NAMES
                .iter()
                .find(|(o, _)| *o == oid)
                .map(|(_, n)| *n)
        })
        .map_or_else(|| oid.to_owned(), str::to_owned)
}

/// Resolves what a caller may name an attribute by: a dotted OID, or a short name (`CN`, `O`,
/// `emailAddress`, ...; case-insensitive). `None` when it is neither.
pub(crate) fn resolve_attribute(attribute: &str) -> Option<String> {
    let attribute = attribute.trim();
    let dotted = !attribute.is_empty()
        && attribute.split('.').count() >= 2
        && attribute
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if dotted {
        return Some(attribute.to_owned());
    }
    SubjectInfo::ALL
        .iter()
        .map(|i| (i.oid(), i.short_name()))
        .chain(EXTRA_SHORT_NAMES.iter().copied())
        .find(|(_, n)| n.eq_ignore_ascii_case(attribute))
        .map(|(o, _)| o.to_owned())
}

/// Decodes an attribute value to text exactly as OpenSSL's `ASN1_STRING_to_UTF8` (which Qt
/// uses) does, so every backend shows the same names: UTF8String when it is valid UTF-8; the
/// one-byte types (Numeric, Printable, T.61, IA5, Visible) as Latin-1; BMPString as UCS-2 and
/// UniversalString as UCS-4, without surrogates. `None` for any other type, for invalid UTF-8,
/// for a length that does not fit the encoding, and for code points that are not characters.
pub(crate) fn decode_string(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    let wide = |width: usize| -> Option<String> {
        if data.len() % width != 0 {
            return None;
        }
        data.chunks_exact(width)
            .map(|c| char::from_u32(c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))))
            .collect()
    };
    match value.tag() {
        Tag::Utf8String => std::str::from_utf8(data).ok().map(str::to_owned),
        Tag::NumericString
        | Tag::PrintableString
        | Tag::TeletexString
        | Tag::Ia5String
        | Tag::VisibleString => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => wide(2),
        Tag::UniversalString => wide(4),
        _ => None,
    }
}

/// The decoded values of every attribute of `name` with the dotted OID `oid`, in order.
pub(crate) fn values(name: &X509Name<'_>, oid: &str) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().dotted() == oid)
        .filter_map(|a| decode_string(a.attr_value()))
        .collect()
}

/// The dotted OIDs of the attributes present in `name`, each once, in order of appearance.
pub(crate) fn attribute_oids(name: &X509Name<'_>) -> Vec<String> {
    let mut oids: Vec<String> = Vec::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().dotted();
        if !oids.contains(&oid) {
            oids.push(oid);
        }
    }
    oids
}

/// The name as one line, `C=US, O=Example, CN=example.com`, in encoded order. A value that is
/// not a string is shown as `#` and its DER in hex (RFC 4514).
pub(crate) fn to_line(name: &X509Name<'_>) -> String {
    name.iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let key = short_name(&attr.attr_type().dotted());
                    let value = decode_string(attr.attr_value()).unwrap_or_else(|| {
                        let hex: String = attr
                            .attr_value()
                            .data
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        format!("#{hex}")
                    });
                    format!("{key}={}", escape_controls(&value))
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `value` with control characters (NUL among them) written as `\xx` escapes.
fn escape_controls(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() {
                format!("\\{:02x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Qt's display name: the first common name, else the first organisation, else the first
/// organisational unit, else the whole name as one line.
pub(crate) fn display_name(name: &X509Name<'_>) -> String {
    [
        SubjectInfo::CommonName,
        SubjectInfo::Organization,
        SubjectInfo::OrganizationalUnitName,
    ]
    .iter()
    .find_map(|info| values(name, info.oid()).into_iter().next())
    .unwrap_or_else(|| to_line(name))
}

/// Whether two names are the same: equal DER, or equal attribute by attribute after
/// case-folding and collapsing white space (a simplified RFC 5280 comparison).
pub(crate) fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    if a.as_raw() == b.as_raw() {
        return true;
    }
    fn normalized(name: &X509Name<'_>) -> Vec<Vec<(String, Option<String>)>> {
        name.iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|attr| {
                        let value = decode_string(attr.attr_value()).map(|v| {
                            v.split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" ")
                                .to_lowercase()
                        });
                        (attr.attr_type().dotted(), value)
                    })
                    .collect()
            })
            .collect()
    }
    let (na, nb) = (normalized(a), normalized(b));
    // A value that is not a string compares only by DER, which already differed.
    na == nb && na.iter().flatten().all(|(_, v)| v.is_some())
}
