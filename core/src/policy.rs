//! What a chain verification asks of a chain beyond its signatures and names: the purpose it
//! must serve, the key usages its leaf must allow, how strong its keys must be, and the
//! revocation lists to consult. The types are shared by handshakes
//! ([`SslConfiguration`](crate::SslConfiguration)) and verification outside one
//! ([`ChainVerification`](crate::ChainVerification)), so that both check the same thing on
//! every backend; the checks that no TLS library makes by itself (required key usages, and key
//! strength for libraries without security levels) are here, once.
//!
//! ```
//! use polytls::{KeyStrength, KeyUsage, Purpose};
//!
//! assert_eq!(KeyStrength::default(), KeyStrength::Standard);
//! assert_eq!(KeyStrength::Standard.minimum_bits(), (2048, 224));
//! let wanted = [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];
//! # let _ = (wanted, Purpose::ServerAuth);
//! ```

use std::sync::Arc;

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::{Certificate, Error, KeyAlgorithm};

/// What a verified chain must be good for: the extended key usage its certificates must allow
/// (when they carry one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A TLS server's certificate (`id-kp-serverAuth`): what a client checks.
    ServerAuth,
    /// A TLS client's certificate (`id-kp-clientAuth`): what a server checks.
    ClientAuth,
}

/// A bit of the X.509 key usage extension (RFC 5280 4.2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// `digitalSignature`.
    DigitalSignature,
    /// `nonRepudiation` (`contentCommitment`).
    NonRepudiation,
    /// `keyEncipherment`.
    KeyEncipherment,
    /// `dataEncipherment`.
    DataEncipherment,
    /// `keyAgreement`.
    KeyAgreement,
    /// `keyCertSign`.
    KeyCertSign,
    /// `cRLSign`.
    CrlSign,
    /// `encipherOnly`.
    EncipherOnly,
    /// `decipherOnly`.
    DecipherOnly,
}

impl KeyUsage {
    /// Whether `certificate` allows this usage: it has no key usage extension (every usage is
    /// allowed, RFC 5280), or the extension has this bit. A certificate whose extension cannot
    /// be read allows nothing.
    pub fn allowed_by(self, certificate: &Certificate) -> bool {
        let Ok((_, cert)) =
            x509_parser::certificate::X509Certificate::from_der(certificate.to_der())
        else {
            return false;
        };
        let mut allowed = true;
        for extension in cert.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    allowed = match self {
                        KeyUsage::DigitalSignature => ku.digital_signature(),
                        KeyUsage::NonRepudiation => ku.non_repudiation(),
                        KeyUsage::KeyEncipherment => ku.key_encipherment(),
                        KeyUsage::DataEncipherment => ku.data_encipherment(),
                        KeyUsage::KeyAgreement => ku.key_agreement(),
                        KeyUsage::KeyCertSign => ku.key_cert_sign(),
                        KeyUsage::CrlSign => ku.crl_sign(),
                        KeyUsage::EncipherOnly => ku.encipher_only(),
                        KeyUsage::DecipherOnly => ku.decipher_only(),
                    }
                }
                ParsedExtension::ParseError { .. }
                    if extension.oid.to_id_string() == "2.5.29.15" =>
                {
                    return false
                }
                _ => {}
            }
        }
        allowed
    }
}

/// How strong the keys of a chain must be (every certificate's, the trust anchor's
/// included), as OpenSSL's security levels count it. A weaker key is reported as
/// [`SslErrorKind::UnspecifiedError`](crate::SslErrorKind) naming its certificate, which is
/// what Qt reports for OpenSSL's "key too small".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyStrength {
    /// RSA, DSA and DH keys of 1024 bits, elliptic curves of 160 (OpenSSL's level 1): for
    /// legacy peers only, chosen explicitly.
    Legacy,
    /// RSA, DSA and DH keys of 2048 bits, elliptic curves of 224 (OpenSSL's level 2, Python's
    /// and Debian's default). The default.
    #[default]
    Standard,
    /// RSA, DSA and DH keys of 3072 bits, elliptic curves of 256 (OpenSSL's level 3).
    High,
}

impl KeyStrength {
    /// The smallest RSA/DSA/DH and elliptic-curve key sizes allowed, in bits.
    pub fn minimum_bits(self) -> (usize, usize) {
        match self {
            KeyStrength::Legacy => (1024, 160),
            KeyStrength::Standard => (2048, 224),
            KeyStrength::High => (3072, 256),
        }
    }

    /// OpenSSL's security level for this strength (`X509_VERIFY_PARAM_set_auth_level`).
    pub fn openssl_level(self) -> i32 {
        match self {
            KeyStrength::Legacy => 1,
            KeyStrength::Standard => 2,
            KeyStrength::High => 3,
        }
    }

    /// Whether the public key of `certificate` is strong enough. Ed25519 (and Ed448) always
    /// are; a key polytls cannot size is not.
    pub fn allows(self, certificate: &Certificate) -> bool {
        let (finite_field, curve) = self.minimum_bits();
        let Ok(key) = certificate.public_key() else {
            return false;
        };
        let bits = key.bits().map(|b| usize::try_from(b).unwrap_or(usize::MAX));
        match (key.algorithm(), bits) {
            (KeyAlgorithm::Rsa | KeyAlgorithm::Dsa | KeyAlgorithm::Dh, Some(bits)) => {
                bits >= finite_field
            }
            (KeyAlgorithm::Ec, Some(bits)) => bits >= curve,
            (KeyAlgorithm::Ed25519, _) => true,
            // Ed448 is the one algorithm polytls' Key does not name.
            (KeyAlgorithm::Opaque, _) => certificate.public_key_bits() == Some(456),
            _ => false,
        }
    }
}

/// A certificate revocation list (X.509 CRL), checked for its structure when read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Crl {
    der: Arc<[u8]>,
}

impl Crl {
    /// Reads a DER CRL.
    ///
    /// Fails with [`Error::Certificate`] when `der` is not a CRL.
    pub fn from_der(der: &[u8]) -> Result<Crl, Error> {
        match CertificateRevocationList::from_der(der) {
            Ok(([], _)) => Ok(Crl { der: der.into() }),
            Ok(_) => Err(Error::Certificate(
                "the CRL is followed by other data".into(),
            )),
            Err(e) => Err(Error::Certificate(format!("not a CRL: {e}"))),
        }
    }

    /// Reads a PEM CRL (`-----BEGIN X509 CRL-----`).
    ///
    /// Fails with [`Error::Certificate`] when there is no such block or it is not a CRL.
    pub fn from_pem(pem: &[u8]) -> Result<Crl, Error> {
        let block = pem::parse(pem).map_err(|e| Error::Certificate(format!("not PEM: {e}")))?;
        if block.tag() != "X509 CRL" {
            return Err(Error::Certificate(format!(
                "a PEM block of type '{}', not 'X509 CRL'",
                block.tag()
            )));
        }
        Crl::from_der(block.contents())
    }

    /// The CRL's DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }
}
