//! [`Certificate`]: a backend-neutral X.509 certificate (Qt's `QSslCertificate`).
//!
//! A certificate is its DER encoding, validated on construction by a pure-Rust parser
//! (x509-parser), so one value works with every backend; certificates a TLS engine received
//! and already parsed are only framed ([`Certificate::from_peer_der`]), to keep X.509 parsing
//! off the handshake. Accessors parse on demand; nothing here depends on a backend. The submodules hold the pieces: [`name`] (distinguished names and
//! [`SubjectInfo`]), [`extension`] ([`CertificateExtension`]), [`digest`]
//! ([`DigestAlgorithm`]), [`path`] ([`PatternSyntax`] and [`Certificate::from_path`]),
//! [`info`] (the parsed facts, to compare with a backend's parser), [`pkcs12`] (import through a
//! backend), plus host name matching, chain verification through a backend
//! ([`Certificate::verify`]) and the text dump.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::{Error, Key, KeyType};
use oid::Dotted;

mod blacklist;
pub mod digest;
pub mod extension;
mod host;
pub mod info;
mod issued;
pub mod name;
mod oid;
pub mod path;
pub mod pkcs12;
#[cfg(test)]
mod tests;
mod text;
mod verify;

pub(crate) use blacklist::with_blacklist_errors;
pub use digest::DigestAlgorithm;
pub use extension::{CertificateExtension, ExtensionValue};
pub use info::{CertificateInfo, NameEntry, RawExtension};
pub use name::SubjectInfo;
pub use path::PatternSyntax;
pub use pkcs12::{pkcs12_iteration_check, Pkcs12};

/// How a certificate or key is encoded (Qt's `QSsl::EncodingFormat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EncodingFormat {
    /// Base64 between `-----BEGIN ...-----` lines.
    #[default]
    Pem,
    /// Binary ASN.1 DER.
    Der,
}

/// A subject alternative name of a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AlternativeName {
    /// A DNS name (`dNSName`), possibly a wildcard such as `*.example.com`.
    Dns(String),
    /// An e-mail address (`rfc822Name`).
    Email(String),
    /// An IPv4 or IPv6 address (`iPAddress`).
    Ip(IpAddr),
}

/// An X.509 certificate, held as DER. Cheap to clone; equal (and hashed) by its DER.
///
/// ```no_run
/// # fn main() -> Result<(), polytls::Error> {
/// use polytls::{AlternativeName, Certificate, DigestAlgorithm, EncodingFormat, SubjectInfo};
///
/// let cert = Certificate::from_pem(&std::fs::read("server.pem")?)?;
/// println!("subject: {}", cert.subject_display_name());
/// println!("organisation: {:?}", cert.subject_info(SubjectInfo::Organization));
/// for name in cert.subject_alternative_names() {
///     if let AlternativeName::Dns(dns) = name {
///         println!("DNS name: {dns}");
///     }
/// }
/// let fingerprint = cert.digest(DigestAlgorithm::Sha256);
/// println!("SHA-256: {}", fingerprint.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"));
/// println!("expires: {:?} ({} s after the epoch)", cert.expiry_date(), cert.expiry_date_unix());
/// println!("valid for www.example.com: {}", cert.matches_host_name("www.example.com"));
///
/// // Every certificate of a bundle, or of the matching files of a directory:
/// let bundle = Certificate::list_from_file("ca-bundle.pem", EncodingFormat::Pem)?;
/// let dir = Certificate::from_path("certs/*.pem", EncodingFormat::Pem, Default::default())?;
/// # let _ = (bundle, dir);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Certificate {
    der: Arc<[u8]>,
}

impl Certificate {
    /// Wraps one DER-encoded certificate.
    ///
    /// Fails with [`Error::Certificate`] when `der` is not exactly one well-formed certificate
    /// (empty, truncated, trailing data, or not a certificate at all). Well-formed includes
    /// validity times that are dates (a notBefore or notAfter that is no valid UTCTime or
    /// GeneralizedTime refuses the certificate, as Qt's backends other than OpenSSL do) and a
    /// serial number INTEGER in its shortest form (as OpenSSL requires).
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        if der.is_empty() {
            return Err(Error::Certificate("empty DER input".into()));
        }
        match X509Certificate::from_der(der) {
            Ok(([], c)) if !crate::der::is_minimal_integer(c.raw_serial()) => Err(
                Error::Certificate("the serial number is not a DER INTEGER".into()),
            ),
            Ok(([], _)) => Ok(Certificate { der: der.into() }),
            Ok(_) => Err(Error::Certificate(
                "trailing data after the certificate".into(),
            )),
            Err(e) => Err(Error::Certificate(format!(
                "malformed DER certificate: {e}"
            ))),
        }
    }

    /// Wraps a certificate that a TLS engine has already parsed and accepted, such as one of
    /// a peer's chain, checking only its outer structure: one SEQUENCE of a SEQUENCE
    /// (tbsCertificate), a SEQUENCE (signatureAlgorithm) and a BIT STRING, with nothing after
    /// it. For backends: the full parse is left to the accessors, which keeps X.509 parsing
    /// off the handshake's path (it cost rustls handshakes about 2 % in the benchmarks).
    /// Accessors of a certificate polytls' own parser cannot read return empty values.
    ///
    /// Fails with [`Error::Certificate`] when the outer structure is not a certificate's.
    pub fn from_peer_der(der: &[u8]) -> Result<Certificate, Error> {
        use crate::der::{single, Reader, BIT_STRING, SEQUENCE};
        let framed = single(der, SEQUENCE).is_some_and(|outer| {
            let mut parts = Reader::new(outer.contents);
            parts.expect(SEQUENCE).is_some()
                && parts.expect(SEQUENCE).is_some()
                && parts.expect(BIT_STRING).is_some()
                && parts.is_empty()
        });
        if framed {
            Ok(Certificate { der: der.into() })
        } else {
            Err(Error::Certificate(
                "not a DER certificate (outer structure)".into(),
            ))
        }
    }

    /// Reads the first `CERTIFICATE` block of a PEM text.
    ///
    /// Fails with [`Error::Certificate`] when there is none (the message says what the text
    /// holds instead: nothing, a private key...) or the text is malformed (bad framing, bad
    /// base64, or a block that is not a certificate).
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        Self::list_from_pem(pem)?.into_iter().next().ok_or_else(|| {
            Error::Certificate(format!(
                "the PEM text {}",
                crate::source::pem_lacks(pem, "certificate")
            ))
        })
    }

    /// Reads every `CERTIFICATE` block of a PEM text, in order, skipping blocks of other types
    /// (keys, parameters). An input with no certificate gives an empty list.
    ///
    /// Fails with [`Error::Certificate`] when the PEM framing or a certificate is malformed.
    pub fn list_from_pem(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
        let blocks =
            pem::parse_many(pem).map_err(|e| Error::Certificate(format!("malformed PEM: {e}")))?;
        blocks
            .iter()
            .filter(|b| b.tag() == "CERTIFICATE" || b.tag() == "X509 CERTIFICATE")
            .map(|b| Self::from_der(b.contents()))
            .collect()
    }

    /// Reads certificates from `data` in the given format: every PEM block, or the one DER
    /// certificate.
    ///
    /// Fails with [`Error::Certificate`] on malformed input.
    pub fn list_from_data(data: &[u8], format: EncodingFormat) -> Result<Vec<Certificate>, Error> {
        match format {
            EncodingFormat::Pem => Self::list_from_pem(data),
            EncodingFormat::Der => Ok(vec![Self::from_der(data)?]),
        }
    }

    /// Reads one certificate from `data` in the given format (the first, for PEM).
    ///
    /// Fails with [`Error::Certificate`] on malformed input or a PEM text without a
    /// certificate.
    pub fn from_data(data: &[u8], format: EncodingFormat) -> Result<Certificate, Error> {
        match format {
            EncodingFormat::Pem => Self::from_pem(data),
            EncodingFormat::Der => Self::from_der(data),
        }
    }

    /// Reads certificates from a file in the given format. A PEM file without a certificate
    /// gives an empty list, as [`list_from_pem`](Self::list_from_pem) does; the loaders of
    /// [`SslConfiguration`](crate::SslConfiguration) refuse one.
    ///
    /// Fails with [`Error::Io`] when the file cannot be read and [`Error::Certificate`] when it
    /// holds malformed data, both naming the file.
    pub fn list_from_file(
        path: impl AsRef<Path>,
        format: EncodingFormat,
    ) -> Result<Vec<Certificate>, Error> {
        let path = path.as_ref();
        Self::list_from_data(&crate::source::read(path)?, format)
            .map_err(|e| crate::source::in_file(path, e))
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding, one `CERTIFICATE` block with `\n` line endings (64-column base64,
    /// as Qt and OpenSSL write it) and a trailing newline.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.to_vec()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    fn with_parsed<R: Default>(&self, f: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
        // The DER was parsed successfully on construction and is immutable, so this parse
        // succeeds too; only a certificate from `from_peer_der` that polytls' parser cannot
        // read gives the default.
        X509Certificate::from_der(&self.der)
            .map(|(_, c)| f(&c))
            .unwrap_or_default()
    }

    /// The X.509 version (1, 2 or 3).
    pub fn version(&self) -> u32 {
        self.with_parsed(|c| c.version().0.saturating_add(1))
    }

    /// The serial number as colon-separated lowercase hex bytes, as Qt prints it
    /// (`"01:a2:ff"`): the big-endian magnitude, without the `00` byte DER adds to keep a
    /// positive number's top bit clear. Serials of any length (RFC 5280 allows 20 bytes; longer
    /// ones are kept too) come out whole.
    pub fn serial_number(&self) -> String {
        serial_text(&self.serial_number_bytes())
    }

    /// The serial number's bytes, big-endian, as [`serial_number`](Self::serial_number)
    /// prints them (a leading `00` sign byte removed). A (non-conforming) negative serial is
    /// given as its magnitude, as OpenSSL and Qt give it.
    pub fn serial_number_bytes(&self) -> Vec<u8> {
        self.with_parsed(|c| serial_magnitude(c.raw_serial()))
    }

    /// The digest of the DER encoding with `algorithm` (Qt's `digest()`), e.g. a SHA-256
    /// fingerprint. Never fails.
    pub fn digest(&self, algorithm: DigestAlgorithm) -> Vec<u8> {
        algorithm.hash(&self.der)
    }

    /// The values of the subject's `info` attribute, in order; empty when it has none. Values
    /// are decoded to text from whichever ASN.1 string type they use (see [`name`]); a value
    /// that is not a string is left out. An embedded NUL byte is kept, as Qt's OpenSSL
    /// backend keeps it (Qt's own ASN.1 reader gives an empty string instead), so that the
    /// name reads as the certificate has it; such a name never matches a host (see
    /// [`matches_host_name`](Self::matches_host_name)).
    pub fn subject_info(&self, info: SubjectInfo) -> Vec<String> {
        self.with_parsed(|c| name::values(c.subject(), info.oid()))
    }

    /// The values of the issuer's `info` attribute, as [`subject_info`](Self::subject_info).
    pub fn issuer_info(&self, info: SubjectInfo) -> Vec<String> {
        self.with_parsed(|c| name::values(c.issuer(), info.oid()))
    }

    /// The values of the subject's attribute named by `attribute`: a dotted OID (`"2.5.4.3"`)
    /// or OpenSSL's short or long name (`"CN"`, `"commonName"`, `"emailAddress"`,
    /// `"jurisdictionC"`, ...; case-insensitive). Empty when
    /// the subject has no such attribute or `attribute` names none.
    pub fn subject_info_by_oid(&self, attribute: &str) -> Vec<String> {
        let Some(oid) = name::resolve_attribute(attribute) else {
            return Vec::new();
        };
        self.with_parsed(|c| name::values(c.subject(), &oid))
    }

    /// The values of the issuer's attribute named by `attribute`, as
    /// [`subject_info_by_oid`](Self::subject_info_by_oid).
    pub fn issuer_info_by_oid(&self, attribute: &str) -> Vec<String> {
        let Some(oid) = name::resolve_attribute(attribute) else {
            return Vec::new();
        };
        self.with_parsed(|c| name::values(c.issuer(), &oid))
    }

    /// The attributes in the subject, each once, in order of appearance, named as Qt names
    /// them (OpenSSL's short name: `"CN"`, `"O"`, `"emailAddress"`, `"favouriteDrink"`,
    /// `"jurisdictionC"`...), or as a dotted OID when OpenSSL has no name for the attribute.
    /// Each works as an argument of [`subject_info_by_oid`](Self::subject_info_by_oid).
    pub fn subject_info_attributes(&self) -> Vec<String> {
        self.with_parsed(|c| name::attribute_names(c.subject()))
    }

    /// The attributes in the issuer, each once, in order of appearance, named as
    /// [`subject_info_attributes`](Self::subject_info_attributes) names them.
    pub fn issuer_info_attributes(&self) -> Vec<String> {
        self.with_parsed(|c| name::attribute_names(c.issuer()))
    }

    /// The subject as one line, `C=US, O=Example, CN=example.com`, in encoded order.
    pub fn subject_name(&self) -> String {
        self.with_parsed(|c| name::to_line(c.subject()))
    }

    /// The issuer as one line, as [`subject_name`](Self::subject_name).
    pub fn issuer_name(&self) -> String {
        self.with_parsed(|c| name::to_line(c.issuer()))
    }

    /// The values of the subject's common name (CN) attributes, in order.
    pub fn subject_common_names(&self) -> Vec<String> {
        self.subject_info(SubjectInfo::CommonName)
    }

    /// The values of the issuer's common name (CN) attributes, in order.
    pub fn issuer_common_names(&self) -> Vec<String> {
        self.issuer_info(SubjectInfo::CommonName)
    }

    /// A one-line description of the subject (Qt's `subjectDisplayName`): its first common
    /// name, else its first organisation, else its first organisational unit, else `""`, as
    /// in Qt ([`subject_name`](Self::subject_name) gives the whole name).
    pub fn subject_display_name(&self) -> String {
        self.with_parsed(|c| name::display_name(c.subject()))
    }

    /// A one-line description of the issuer, chosen as [`subject_display_name`](Self::subject_display_name) does.
    pub fn issuer_display_name(&self) -> String {
        self.with_parsed(|c| name::display_name(c.issuer()))
    }

    /// The subject alternative names. Entries of other types (URIs, directory names) are
    /// skipped, and so is an IP address entry whose length is neither 4 nor 16. Empty when the
    /// certificate has no (decodable) subject alternative name extension.
    pub fn subject_alternative_names(&self) -> Vec<AlternativeName> {
        self.with_parsed(|c| {
            let Ok(Some(san)) = c.subject_alternative_name() else {
                return Vec::new();
            };
            san.value
                .general_names
                .iter()
                .filter_map(extension::alternative_name)
                .collect()
        })
    }

    /// Whether the certificate is valid for `name` under the rule a handshake applies on every
    /// backend (RFC 6125): DNS names are compared with the DNS subject alternative names
    /// (case-insensitively; a wildcard only as the whole left-most label, matching one
    /// label), IP literals with the IP address entries. The common name is never consulted,
    /// so a certificate without subject alternative names matches no name. (Qt's
    /// `isMatchingHostname` falls back to the common name when there is no DNS name; a
    /// handshake in polytls would refuse such a certificate, and this method agrees with the
    /// handshake.) A name that contains a NUL byte, in the certificate or in `name`, never
    /// matches. This checks the name only, not validity dates or the chain.
    pub fn matches_host_name(&self, name: &str) -> bool {
        host::matches(name, &self.subject_alternative_names())
    }

    /// The start of the validity period (`notBefore`). Dates before 1970 and after 2049
    /// (GeneralizedTime) are exact; a date the platform's `SystemTime` cannot hold gives the
    /// epoch.
    pub fn effective_date(&self) -> SystemTime {
        system_time(self.effective_date_unix())
    }

    /// The end of the validity period (`notAfter`), as [`effective_date`](Self::effective_date).
    pub fn expiry_date(&self) -> SystemTime {
        system_time(self.expiry_date_unix())
    }

    /// The start of the validity period in seconds since the Unix epoch (negative before 1970).
    pub fn effective_date_unix(&self) -> i64 {
        self.with_parsed(|c| c.validity().not_before.timestamp())
    }

    /// The end of the validity period in seconds since the Unix epoch (negative before 1970).
    pub fn expiry_date_unix(&self) -> i64 {
        self.with_parsed(|c| c.validity().not_after.timestamp())
    }

    /// Whether the certificate is self-issued in the way OpenSSL's `X509_check_issued` (which
    /// Qt uses) decides it, without checking the signature: subject and issuer are the same
    /// name (equal DER, or equal after case-folding and white-space folding of string values);
    /// its extensions are well formed; its signature algorithm fits its own key's algorithm;
    /// when an authority key identifier is present, its key identifier equals the subject key
    /// identifier and its serial (if given) equals the certificate's own; and, when a key usage
    /// extension is present, it allows certificate signing. So a self-signed leaf whose key
    /// usage is only `digitalSignature` is not self-signed here, as in Qt.
    pub fn is_self_signed(&self) -> bool {
        self.with_parsed(issued::is_self_issued)
    }

    /// Whether the certificate is a CA certificate (basic constraints `cA` set).
    pub fn is_ca(&self) -> bool {
        self.with_parsed(|c| c.is_ca())
    }

    /// The subject's public key, as a [`Key`] of [`KeyType::PublicKey`] holding the
    /// SubjectPublicKeyInfo DER.
    ///
    /// Fails with [`Error::Key`] when the key cannot be read as a public key.
    pub fn public_key(&self) -> Result<Key, Error> {
        let spki = X509Certificate::from_der(&self.der)
            .map(|(_, c)| c.public_key().raw.to_vec())
            .map_err(|e| Error::Certificate(format!("malformed DER certificate: {e}")))?;
        Key::from_der(&spki, KeyType::PublicKey)
    }

    /// The size of the public key in bits (RSA modulus, elliptic curve size, 256 for Ed25519),
    /// or `None` when the algorithm or its parameters are not known.
    pub fn public_key_bits(&self) -> Option<usize> {
        self.with_parsed(text::public_key_bits)
    }

    /// The dotted OID of the signature algorithm (`"1.2.840.113549.1.1.11"` for
    /// sha256WithRSAEncryption).
    pub fn signature_algorithm_oid(&self) -> String {
        self.with_parsed(|c| c.signature_algorithm.algorithm.dotted())
    }

    /// The extensions, in encoded order (Qt's `extensions()`); empty for a version 1 or 2
    /// certificate. Common extensions come decoded (see [`ExtensionValue`]); others, and any
    /// that fail to decode, as raw DER.
    pub fn extensions(&self) -> Vec<CertificateExtension> {
        self.with_parsed(extension::extensions)
    }

    /// A multi-line, human-readable description, as Qt's `toText` gives it on OpenSSL: the
    /// text of OpenSSL's `X509_print` (`openssl x509 -text -noout -nameopt compat`), byte for
    /// byte for RSA, EC (named curves), Ed25519 and Ed448 keys and the RFC 5280 extensions:
    /// version, serial, algorithms, names (bytes outside printable ASCII, NUL among them, as
    /// `\xHH`), validity, the key with its modulus or point, extensions under their long
    /// names, and the signature. An extension OpenSSL decodes and this method does not
    /// (signed certificate timestamps, name or policy constraints, policy qualifiers) is shown
    /// as OpenSSL shows an unknown one, its bytes as text. Never fails; `""` for a certificate
    /// that cannot be parsed.
    pub fn to_text(&self) -> String {
        self.with_parsed(|c| text::to_text(c, &serial_magnitude(c.raw_serial())))
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject_display_name())
            .field("issuer", &self.issuer_display_name())
            .field("serial", &self.serial_number())
            .finish()
    }
}

/// The serial's magnitude, big-endian, as OpenSSL (and so Qt) reports it: a positive
/// number without the leading `00` that keeps its top bit clear, a (non-conforming) negative
/// one as the magnitude of its two's complement.
/// The serial number's contents (the INTEGER's octets, as x509-parser's `raw_serial` gives
/// them) and the whole SubjectPublicKeyInfo element of a certificate's DER, taken apart with
/// core's DER reader instead of a full X.509 parse (which costs about 30,000 instructions per
/// certificate, where a handshake needs only these two fields). `None` when the DER does not
/// hold them where RFC 5280 puts them; callers then fall back to the full parse.
fn serial_and_spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use crate::der::{single, Reader, CONTEXT_0, INTEGER, SEQUENCE};
    let outer = single(der, SEQUENCE)?;
    let tbs = Reader::new(outer.contents).expect(SEQUENCE)?;
    let mut fields = Reader::new(tbs.contents);
    let _version = fields.optional(CONTEXT_0);
    let serial = fields.expect(INTEGER)?;
    // signature, issuer, validity, subject
    for _ in 0..4 {
        fields.expect(SEQUENCE)?;
    }
    let spki = fields.expect(SEQUENCE)?;
    Some((serial.contents, spki.whole))
}

/// Serial number bytes as [`Certificate::serial_number`] prints them.
fn serial_text(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    text
}

/// The subject's public key as [`Certificate::public_key`] gives it, its SubjectPublicKeyInfo
/// found with core's DER reader (see [`serial_and_spki`]); the full parse when that cannot
/// find it or the element found is not a public key.
///
/// Fails as [`Certificate::public_key`] does.
pub(crate) fn quick_public_key(certificate: &Certificate) -> Result<Key, Error> {
    serial_and_spki(&certificate.der)
        .and_then(|(_, spki)| Key::from_der(spki, KeyType::PublicKey).ok())
        .map_or_else(|| certificate.public_key(), Ok)
}

/// The serial number as [`Certificate::serial_number`] prints it, read with core's DER
/// reader (see [`serial_and_spki`]); `None` when that cannot find it.
pub(crate) fn quick_serial_number(der: &[u8]) -> Option<String> {
    serial_and_spki(der).map(|(serial, _)| serial_text(&serial_magnitude(serial)))
}

fn serial_magnitude(raw: &[u8]) -> Vec<u8> {
    match raw {
        [0, next, ..] if next & 0x80 != 0 => raw[1..].to_vec(),
        [first, ..] if first & 0x80 != 0 => {
            // Negate: invert every byte and add one.
            let mut magnitude: Vec<u8> = raw.iter().map(|b| !b).collect();
            for byte in magnitude.iter_mut().rev() {
                let (sum, carry) = byte.overflowing_add(1);
                *byte = sum;
                if !carry {
                    break;
                }
            }
            let start = magnitude
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(magnitude.len().saturating_sub(1));
            magnitude[start..].to_vec()
        }
        _ => raw.to_vec(),
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn system_time(secs: i64) -> SystemTime {
    let offset = Duration::from_secs(secs.unsigned_abs());
    let time = if secs >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    time.unwrap_or(UNIX_EPOCH)
}
