//! [`Certificate`]: a backend-neutral X.509 certificate (Qt's `QSslCertificate`).
//!
//! A certificate is its DER encoding, validated on construction by a pure-Rust parser, so one
//! value works with every backend. Accessors parse on demand; nothing here depends on a backend.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::Error;

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

/// An X.509 certificate, held as DER. Cheap to clone; equal when the DER is equal.
///
/// ```no_run
/// # fn main() -> Result<(), polytls::Error> {
/// use polytls::{Certificate, EncodingFormat};
/// let certs = Certificate::list_from_file("ca-bundle.pem", EncodingFormat::Pem)?;
/// for cert in &certs {
///     println!("{} (expires {:?})", cert.subject_display_name(), cert.expiry_date());
/// }
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
    /// Fails with [`Error::Certificate`] when `der` is not exactly one well-formed certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        match X509Certificate::from_der(der) {
            Ok(([], _)) => Ok(Certificate { der: der.into() }),
            Ok(_) => Err(Error::Certificate(
                "trailing data after the certificate".into(),
            )),
            Err(e) => Err(Error::Certificate(format!(
                "malformed DER certificate: {e}"
            ))),
        }
    }

    /// Reads the first `CERTIFICATE` block of a PEM text.
    ///
    /// Fails with [`Error::Certificate`] when there is none or it is malformed.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        Self::list_from_pem(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Certificate("no CERTIFICATE block in the PEM text".into()))
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

    /// Reads certificates from a file in the given format.
    ///
    /// Fails with [`Error::Io`] when the file cannot be read and [`Error::Certificate`] when it
    /// holds malformed data.
    pub fn list_from_file(
        path: impl AsRef<Path>,
        format: EncodingFormat,
    ) -> Result<Vec<Certificate>, Error> {
        Self::list_from_data(&std::fs::read(path)?, format)
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding, one `CERTIFICATE` block with a trailing newline.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.to_vec()))
    }

    fn with_parsed<R: Default>(&self, f: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
        // The DER was parsed successfully on construction and is immutable, so this parse
        // succeeds too; the default is never observed.
        X509Certificate::from_der(&self.der)
            .map(|(_, c)| f(&c))
            .unwrap_or_default()
    }

    /// The X.509 version (1, 2 or 3).
    pub fn version(&self) -> u32 {
        self.with_parsed(|c| c.version().0 + 1)
    }

    /// The serial number as colon-separated lowercase hex bytes, as Qt prints it.
    pub fn serial_number(&self) -> String {
        self.with_parsed(|c| {
            c.raw_serial()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
    }

    /// The values of the subject's common name (CN) attributes, in order.
    pub fn subject_common_names(&self) -> Vec<String> {
        self.with_parsed(|c| {
            c.subject()
                .iter_common_name()
                .filter_map(|a| a.as_str().ok().map(str::to_owned))
                .collect()
        })
    }

    /// The values of the issuer's common name (CN) attributes, in order.
    pub fn issuer_common_names(&self) -> Vec<String> {
        self.with_parsed(|c| {
            c.issuer()
                .iter_common_name()
                .filter_map(|a| a.as_str().ok().map(str::to_owned))
                .collect()
        })
    }

    /// A one-line description of the subject: its common name, else its organisation, else the
    /// whole distinguished name.
    pub fn subject_display_name(&self) -> String {
        self.with_parsed(|c| display_name(c.subject()))
    }

    /// A one-line description of the issuer, chosen as [`subject_display_name`](Self::subject_display_name) does.
    pub fn issuer_display_name(&self) -> String {
        self.with_parsed(|c| display_name(c.issuer()))
    }

    /// The subject alternative names. Entries of other types (URIs, directory names) are
    /// skipped, and so is an IP address entry whose length is neither 4 nor 16.
    pub fn subject_alternative_names(&self) -> Vec<AlternativeName> {
        self.with_parsed(|c| {
            let Ok(Some(san)) = c.subject_alternative_name() else {
                return Vec::new();
            };
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(s) => Some(AlternativeName::Dns((*s).to_owned())),
                    GeneralName::RFC822Name(s) => Some(AlternativeName::Email((*s).to_owned())),
                    GeneralName::IPAddress(b) => ip_from_bytes(b).map(AlternativeName::Ip),
                    _ => None,
                })
                .collect()
        })
    }

    /// The start of the validity period (`notBefore`).
    pub fn effective_date(&self) -> SystemTime {
        system_time(self.with_parsed(|c| c.validity().not_before.timestamp()))
    }

    /// The end of the validity period (`notAfter`).
    pub fn expiry_date(&self) -> SystemTime {
        system_time(self.with_parsed(|c| c.validity().not_after.timestamp()))
    }

    /// Whether subject and issuer are the same name, as for a root or a self-signed leaf.
    pub fn is_self_signed(&self) -> bool {
        self.with_parsed(|c| c.subject().as_raw() == c.issuer().as_raw())
    }

    /// Whether the certificate is a CA certificate (basic constraints `cA` set).
    pub fn is_ca(&self) -> bool {
        self.with_parsed(|c| c.is_ca())
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

fn display_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    fn first<'a, 'b: 'a>(
        mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'b>>,
    ) -> Option<String> {
        it.find_map(|a| a.as_str().ok().map(str::to_owned))
    }
    first(name.iter_common_name())
        .or_else(|| first(name.iter_organization()))
        .unwrap_or_else(|| name.to_string())
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn system_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}
