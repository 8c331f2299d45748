//! [`Key`]: a backend-neutral private or public key (Qt's `QSslKey`).
//!
//! A key is its DER encoding plus the facts needed to hand it to any backend: algorithm, type
//! and DER layout. Private key bytes are wiped from memory when the value is dropped.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::{EncodingFormat, Error};

/// The algorithm of a key (Qt's `QSsl::KeyAlgorithm`, plus Ed25519).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// An algorithm this library does not name (Qt's `Opaque`).
    Opaque,
    /// RSA (including RSASSA-PSS keys).
    Rsa,
    /// DSA.
    Dsa,
    /// Elliptic curve (ECDSA / ECDH) on a named curve.
    Ec,
    /// Diffie-Hellman.
    Dh,
    /// Ed25519 (beyond Qt).
    Ed25519,
}

/// Whether a key is private or public (Qt's `QSsl::KeyType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A private key.
    PrivateKey,
    /// A public key.
    PublicKey,
}

/// The DER layout of a key's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// PKCS#8 `PrivateKeyInfo` (PEM label `PRIVATE KEY`).
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` (PEM label `RSA PRIVATE KEY`).
    Pkcs1,
    /// SEC 1 `ECPrivateKey` (PEM label `EC PRIVATE KEY`).
    Sec1,
    /// X.509 `SubjectPublicKeyInfo` (PEM label `PUBLIC KEY`).
    Spki,
}

/// A private or public key. Equal when algorithm, type, layout and bytes are equal.
///
/// ```no_run
/// # fn main() -> Result<(), polytls::Error> {
/// use polytls::{EncodingFormat, Key, KeyAlgorithm, KeyType};
/// let key = Key::from_file("server.key", EncodingFormat::Pem, KeyType::PrivateKey)?;
/// assert_eq!(key.key_type(), KeyType::PrivateKey);
/// println!("{:?} key", key.algorithm());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    algorithm: KeyAlgorithm,
    key_type: KeyType,
    format: KeyFormat,
    der: Zeroizing<Vec<u8>>,
}

impl Key {
    /// Reads a key of type `key_type` from DER, detecting the layout (PKCS#8, PKCS#1 or SEC 1
    /// for private keys; SubjectPublicKeyInfo for public keys) and the algorithm.
    ///
    /// Fails with [`Error::Key`] when the bytes are not a key of that type.
    pub fn from_der(der: &[u8], key_type: KeyType) -> Result<Key, Error> {
        let (format, algorithm) = match key_type {
            KeyType::PrivateKey => sniff_private(der)?,
            KeyType::PublicKey => (KeyFormat::Spki, sniff_spki(der)?),
        };
        Ok(Key {
            algorithm,
            key_type,
            format,
            der: Zeroizing::new(der.to_vec()),
        })
    }

    /// Reads the first key of type `key_type` from a PEM text (`PRIVATE KEY`, `RSA PRIVATE KEY`,
    /// `EC PRIVATE KEY` or `PUBLIC KEY` blocks; other blocks are skipped).
    ///
    /// Fails with [`Error::Key`] when there is no such block, the block is malformed, or the key
    /// is encrypted (encrypted keys need a passphrase, which this constructor does not take).
    pub fn from_pem(pem: &[u8], key_type: KeyType) -> Result<Key, Error> {
        let blocks = pem::parse_many(pem).map_err(|e| Error::Key(format!("malformed PEM: {e}")))?;
        for block in &blocks {
            let expected = match (block.tag(), key_type) {
                ("PRIVATE KEY", KeyType::PrivateKey) => KeyFormat::Pkcs8,
                ("RSA PRIVATE KEY", KeyType::PrivateKey) => KeyFormat::Pkcs1,
                ("EC PRIVATE KEY", KeyType::PrivateKey) => KeyFormat::Sec1,
                ("PUBLIC KEY", KeyType::PublicKey) => KeyFormat::Spki,
                ("ENCRYPTED PRIVATE KEY", KeyType::PrivateKey) => {
                    return Err(Error::Key(
                        "the key is encrypted and no passphrase was given".into(),
                    ))
                }
                _ => continue,
            };
            if block
                .headers()
                .get("Proc-Type")
                .is_some_and(|v| v.contains("ENCRYPTED"))
            {
                return Err(Error::Key(
                    "the key is encrypted and no passphrase was given".into(),
                ));
            }
            let key = Self::from_der(block.contents(), key_type)?;
            if key.format != expected {
                return Err(Error::Key(format!(
                    "the {} block does not hold a {expected:?} key",
                    block.tag()
                )));
            }
            return Ok(key);
        }
        Err(Error::Key(format!("no {key_type:?} block in the PEM text")))
    }

    /// Reads a key from `data` in the given encoding.
    ///
    /// Fails with [`Error::Key`] on malformed input.
    pub fn from_data(data: &[u8], format: EncodingFormat, key_type: KeyType) -> Result<Key, Error> {
        match format {
            EncodingFormat::Pem => Self::from_pem(data, key_type),
            EncodingFormat::Der => Self::from_der(data, key_type),
        }
    }

    /// Reads a key from a file in the given encoding.
    ///
    /// Fails with [`Error::Io`] when the file cannot be read and [`Error::Key`] on malformed data.
    pub fn from_file(
        path: impl AsRef<Path>,
        format: EncodingFormat,
        key_type: KeyType,
    ) -> Result<Key, Error> {
        let data = Zeroizing::new(std::fs::read(path)?);
        Self::from_data(&data, format, key_type)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Whether the key is private or public.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The DER layout of [`to_der`](Self::to_der).
    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// The DER encoding, in the layout [`format`](Self::format) names.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding, labelled after the layout, with a trailing newline.
    pub fn to_pem(&self) -> Zeroizing<String> {
        let tag = match self.format {
            KeyFormat::Pkcs8 => "PRIVATE KEY",
            KeyFormat::Pkcs1 => "RSA PRIVATE KEY",
            KeyFormat::Sec1 => "EC PRIVATE KEY",
            KeyFormat::Spki => "PUBLIC KEY",
        };
        Zeroizing::new(pem::encode(&pem::Pem::new(tag, self.der.to_vec())))
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (
            self.algorithm,
            self.key_type,
            self.format,
            self.der.as_slice(),
        )
            .hash(state);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key bytes.
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("key_type", &self.key_type)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;

fn algorithm_of_oid(oid: &[u8]) -> KeyAlgorithm {
    match oid {
        // 1.2.840.113549.1.1.1 rsaEncryption, 1.2.840.113549.1.1.10 RSASSA-PSS
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 | 0x0a] => KeyAlgorithm::Rsa,
        // 1.2.840.10045.2.1 id-ecPublicKey
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => KeyAlgorithm::Ec,
        // 1.2.840.10040.4.1 id-dsa
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01] => KeyAlgorithm::Dsa,
        // 1.2.840.113549.1.3.1 dhKeyAgreement, 1.2.840.10046.2.1 dhpublicnumber
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01]
        | [0x2a, 0x86, 0x48, 0xce, 0x3e, 0x02, 0x01] => KeyAlgorithm::Dh,
        // 1.3.101.112 id-Ed25519
        [0x2b, 0x65, 0x70] => KeyAlgorithm::Ed25519,
        _ => KeyAlgorithm::Opaque,
    }
}

/// The algorithm named by an `AlgorithmIdentifier` sequence's contents.
fn algorithm_identifier(contents: &[u8]) -> Option<KeyAlgorithm> {
    let (tag, oid, _) = tlv(contents)?;
    (tag == OID).then(|| algorithm_of_oid(oid))
}

fn sniff_private(der: &[u8]) -> Result<(KeyFormat, KeyAlgorithm), Error> {
    let malformed = || Error::Key("malformed DER private key".into());
    let (tag, body, rest) = tlv(der).ok_or_else(malformed)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err(malformed());
    }
    let (tag, _version, body) = tlv(body).ok_or_else(malformed)?;
    if tag != INTEGER {
        return Err(malformed());
    }
    let (tag, second, _) = tlv(body).ok_or_else(malformed)?;
    match tag {
        SEQUENCE => {
            let algorithm = algorithm_identifier(second).ok_or_else(malformed)?;
            Ok((KeyFormat::Pkcs8, algorithm))
        }
        INTEGER => Ok((KeyFormat::Pkcs1, KeyAlgorithm::Rsa)),
        OCTET_STRING => Ok((KeyFormat::Sec1, KeyAlgorithm::Ec)),
        _ => Err(malformed()),
    }
}

fn sniff_spki(der: &[u8]) -> Result<KeyAlgorithm, Error> {
    let malformed = || Error::Key("malformed DER public key".into());
    let (tag, body, rest) = tlv(der).ok_or_else(malformed)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err(malformed());
    }
    let (tag, alg, _) = tlv(body).ok_or_else(malformed)?;
    if tag != SEQUENCE {
        return Err(malformed());
    }
    algorithm_identifier(alg).ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x02\x01\x00",
        ] {
            assert!(Key::from_der(input, KeyType::PrivateKey).is_err());
            assert!(Key::from_der(input, KeyType::PublicKey).is_err());
        }
        assert!(Key::from_pem(
            b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n",
            KeyType::PrivateKey
        )
        .is_err());
    }
}
