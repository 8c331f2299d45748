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

/// OpenSSL's names for attribute types beyond [`SubjectInfo`]: dotted OID, short name, long
/// name (the same where OpenSSL gives one name). Qt names attributes by OpenSSL's short name.
const ATTRIBUTE_NAMES: &[(&str, &str, &str)] = &[
    ("2.5.4.3", "CN", "commonName"),
    ("2.5.4.4", "SN", "surname"),
    ("2.5.4.5", "serialNumber", "serialNumber"),
    ("2.5.4.6", "C", "countryName"),
    ("2.5.4.7", "L", "localityName"),
    ("2.5.4.8", "ST", "stateOrProvinceName"),
    ("2.5.4.9", "street", "streetAddress"),
    ("2.5.4.10", "O", "organizationName"),
    ("2.5.4.11", "OU", "organizationalUnitName"),
    ("2.5.4.12", "title", "title"),
    ("2.5.4.13", "description", "description"),
    ("2.5.4.14", "searchGuide", "searchGuide"),
    ("2.5.4.15", "businessCategory", "businessCategory"),
    ("2.5.4.16", "postalAddress", "postalAddress"),
    ("2.5.4.17", "postalCode", "postalCode"),
    ("2.5.4.18", "postOfficeBox", "postOfficeBox"),
    (
        "2.5.4.19",
        "physicalDeliveryOfficeName",
        "physicalDeliveryOfficeName",
    ),
    ("2.5.4.20", "telephoneNumber", "telephoneNumber"),
    ("2.5.4.21", "telexNumber", "telexNumber"),
    (
        "2.5.4.22",
        "teletexTerminalIdentifier",
        "teletexTerminalIdentifier",
    ),
    (
        "2.5.4.23",
        "facsimileTelephoneNumber",
        "facsimileTelephoneNumber",
    ),
    ("2.5.4.24", "x121Address", "x121Address"),
    (
        "2.5.4.25",
        "internationaliSDNNumber",
        "internationaliSDNNumber",
    ),
    ("2.5.4.26", "registeredAddress", "registeredAddress"),
    ("2.5.4.27", "destinationIndicator", "destinationIndicator"),
    (
        "2.5.4.28",
        "preferredDeliveryMethod",
        "preferredDeliveryMethod",
    ),
    ("2.5.4.29", "presentationAddress", "presentationAddress"),
    (
        "2.5.4.30",
        "supportedApplicationContext",
        "supportedApplicationContext",
    ),
    ("2.5.4.31", "member", "member"),
    ("2.5.4.32", "owner", "owner"),
    ("2.5.4.33", "roleOccupant", "roleOccupant"),
    ("2.5.4.34", "seeAlso", "seeAlso"),
    ("2.5.4.35", "userPassword", "userPassword"),
    ("2.5.4.36", "userCertificate", "userCertificate"),
    ("2.5.4.37", "cACertificate", "cACertificate"),
    (
        "2.5.4.38",
        "authorityRevocationList",
        "authorityRevocationList",
    ),
    (
        "2.5.4.39",
        "certificateRevocationList",
        "certificateRevocationList",
    ),
    ("2.5.4.40", "crossCertificatePair", "crossCertificatePair"),
    ("2.5.4.41", "name", "name"),
    ("2.5.4.42", "GN", "givenName"),
    ("2.5.4.43", "initials", "initials"),
    ("2.5.4.44", "generationQualifier", "generationQualifier"),
    ("2.5.4.45", "x500UniqueIdentifier", "x500UniqueIdentifier"),
    ("2.5.4.46", "dnQualifier", "dnQualifier"),
    ("2.5.4.47", "enhancedSearchGuide", "enhancedSearchGuide"),
    ("2.5.4.48", "protocolInformation", "protocolInformation"),
    ("2.5.4.49", "distinguishedName", "distinguishedName"),
    ("2.5.4.50", "uniqueMember", "uniqueMember"),
    ("2.5.4.51", "houseIdentifier", "houseIdentifier"),
    ("2.5.4.52", "supportedAlgorithms", "supportedAlgorithms"),
    ("2.5.4.53", "deltaRevocationList", "deltaRevocationList"),
    ("2.5.4.54", "dmdName", "dmdName"),
    ("2.5.4.65", "pseudonym", "pseudonym"),
    ("2.5.4.72", "role", "role"),
    (
        "2.5.4.97",
        "organizationIdentifier",
        "organizationIdentifier",
    ),
    ("2.5.4.98", "c3", "countryCode3c"),
    ("2.5.4.99", "n3", "countryCode3n"),
    ("2.5.4.100", "dnsName", "dnsName"),
    ("1.2.840.113549.1.9.1", "emailAddress", "emailAddress"),
    (
        "1.2.840.113549.1.9.2",
        "unstructuredName",
        "unstructuredName",
    ),
    (
        "1.2.840.113549.1.9.8",
        "unstructuredAddress",
        "unstructuredAddress",
    ),
    ("0.9.2342.19200300.100.1.1", "UID", "userId"),
    ("0.9.2342.19200300.100.1.3", "mail", "rfc822Mailbox"),
    (
        "0.9.2342.19200300.100.1.5",
        "favouriteDrink",
        "favouriteDrink",
    ),
    ("0.9.2342.19200300.100.1.25", "DC", "domainComponent"),
    (
        "1.3.6.1.4.1.311.60.2.1.1",
        "jurisdictionL",
        "jurisdictionLocalityName",
    ),
    (
        "1.3.6.1.4.1.311.60.2.1.2",
        "jurisdictionST",
        "jurisdictionStateOrProvinceName",
    ),
    (
        "1.3.6.1.4.1.311.60.2.1.3",
        "jurisdictionC",
        "jurisdictionCountryName",
    ),
];

/// The name of an attribute OID as OpenSSL's `OBJ_nid2sn` (and so Qt) gives it: its short
/// name, or the dotted OID itself when OpenSSL has no name for it.
pub(crate) fn short_name(oid: &str) -> String {
    ATTRIBUTE_NAMES
        .iter()
        .find(|(o, _, _)| *o == oid)
        .map_or_else(|| oid.to_owned(), |(_, sn, _)| (*sn).to_owned())
}

/// Resolves what a caller may name an attribute by: a dotted OID, or OpenSSL's short or long
/// name (`CN`, `commonName`, `O`, `emailAddress`, `jurisdictionC`, ...; case-insensitive).
/// `None` when it is neither.
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
    // Short names first: OpenSSL's "SN" (surname) must not be shadowed by a long name.
    ATTRIBUTE_NAMES
        .iter()
        .find(|(_, sn, _)| *sn == attribute)
        .or_else(|| {
            ATTRIBUTE_NAMES.iter().find(|(_, sn, ln)| {
                sn.eq_ignore_ascii_case(attribute) || ln.eq_ignore_ascii_case(attribute)
            })
        })
        .map(|(o, _, _)| (*o).to_owned())
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

/// The names ([`short_name`]) of the attributes present in `name`, each once, in order of
/// appearance.
pub(crate) fn attribute_names(name: &X509Name<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for attr in name.iter_attributes() {
        let name = short_name(&attr.attr_type().dotted());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
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
/// organisational unit, else nothing (`""`).
pub(crate) fn display_name(name: &X509Name<'_>) -> String {
    [
        SubjectInfo::CommonName,
        SubjectInfo::Organization,
        SubjectInfo::OrganizationalUnitName,
    ]
    .iter()
    .find_map(|info| values(name, info.oid()).into_iter().next())
    .unwrap_or_default()
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
