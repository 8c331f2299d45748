//! [`Key`]: a backend-neutral private or public key (Qt's `QSslKey`).
//!
//! A key is its DER encoding plus the facts needed to hand it to any backend or to show it:
//! algorithm, type, DER layout, curve and size in bits, all read here in pure Rust. Encrypted
//! keys (encrypted PKCS#8 and OpenSSL's encrypted PEM) are decrypted with a passphrase on the
//! way in, and private keys can be written out encrypted. Private key bytes, and every buffer
//! holding decrypted bytes, are wiped from memory when dropped.
//!
//! The submodules hold the pieces: `der` (reading and writing DER), `layout` (what each key
//! layout holds), `pem` (PEM blocks), `encrypted` (encrypted PKCS#8), `legacy_pem` (OpenSSL's
//! PEM encryption) and `block_cipher` (the ciphers both use).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::{EncodingFormat, Error};

mod block_cipher;
pub(crate) mod encrypted;
mod layout;
mod legacy_pem;
mod pbe;
mod pem;
#[cfg(test)]
mod tests;

use layout::{Decoded, Layout};

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

/// The DER layout of a key's bytes: the layout it was read in, kept for output.
///
/// One more layout is read and converted on the way in: PKCS#1 `RSA PUBLIC KEY` becomes
/// [`Spki`](Self::Spki), as Qt writes public keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// PKCS#8 `PrivateKeyInfo` (PEM label `PRIVATE KEY`).
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` (PEM label `RSA PRIVATE KEY`).
    Pkcs1,
    /// SEC 1 `ECPrivateKey` (PEM label `EC PRIVATE KEY`).
    Sec1,
    /// OpenSSL's traditional DSA layout, `SEQUENCE { version, p, q, g, y, x }` (PEM label
    /// `DSA PRIVATE KEY`).
    Dsa,
    /// X.509 `SubjectPublicKeyInfo` (PEM label `PUBLIC KEY`).
    Spki,
}

/// A named elliptic curve, for [`Key::curve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EllipticCurve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

impl EllipticCurve {
    /// The curve's size in bits: 256, 384 or 521.
    pub fn bits(self) -> u32 {
        match self {
            Self::P256 => 256,
            Self::P384 => 384,
            Self::P521 => 521,
        }
    }
}

/// A private or public key (Qt's `QSslKey`).
///
/// ```no_run
/// # fn main() -> Result<(), polytls::Error> {
/// use polytls::{EncodingFormat, Error, Key, KeyAlgorithm, KeyType};
///
/// // An encrypted key (ENCRYPTED PRIVATE KEY, or RSA/EC/DSA PRIVATE KEY with DEK-Info).
/// let key = match Key::from_file_with_passphrase(
///     "server.key",
///     EncodingFormat::Pem,
///     KeyType::PrivateKey,
///     b"correct horse battery staple",
/// ) {
///     Ok(key) => key,
///     Err(Error::WrongPassphrase) => {
///         eprintln!("wrong passphrase");
///         return Ok(());
///     }
///     Err(e) => return Err(e),
/// };
/// assert_eq!(key.key_type(), KeyType::PrivateKey);
/// println!("{:?} key of {:?} bits", key.algorithm(), key.bits());
///
/// // Written back out encrypted: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
/// let pem = key.to_pem_encrypted(b"another passphrase")?;
/// std::fs::write("server-copy.key", pem.as_bytes())?;
///
/// // A plain key needs no passphrase.
/// let public = Key::from_file("server.pub", EncodingFormat::Pem, KeyType::PublicKey)?;
/// assert_eq!(public.algorithm(), KeyAlgorithm::Rsa);
/// # Ok(())
/// # }
/// ```
///
/// Two keys are equal, and hash alike, when they are the same key, as in Qt: same algorithm,
/// type and size, and the same canonical encoding (a public key's SubjectPublicKeyInfo, a
/// private key's PKCS#8 form without optional parts). The layout ([`format`]) is not part of
/// equality: the same RSA key read from PKCS#1 and from PKCS#8 is one key, and a key written
/// with [`to_pem_encrypted`] (always PKCS#8) reads back equal to the original. The layout is
/// kept for [`to_der`] and [`to_pem`], which give back what was read.
///
/// [`format`]: Self::format
/// [`to_pem_encrypted`]: Self::to_pem_encrypted
/// [`to_der`]: Self::to_der
/// [`to_pem`]: Self::to_pem
#[derive(Clone)]
pub struct Key {
    algorithm: KeyAlgorithm,
    key_type: KeyType,
    format: KeyFormat,
    curve: Option<EllipticCurve>,
    bits: Option<u32>,
    /// Shared by the key's clones (a configuration copied per connection copies no key
    /// material), wiped when the last of them goes.
    material: Arc<Material>,
}

/// A key's bytes.
struct Material {
    der: Zeroizing<Vec<u8>>,
    /// What equality and hashing compare (see [`layout::canonical`]).
    canonical: Zeroizing<Vec<u8>>,
}

impl Key {
    /// Reads a key of type `key_type` from DER, detecting the layout (PKCS#8, PKCS#1, SEC 1 or
    /// OpenSSL's traditional DSA layout for private keys, each kept as it is; SubjectPublicKeyInfo
    /// or PKCS#1 `RSAPublicKey`, which becomes SubjectPublicKeyInfo, for public keys) and the
    /// algorithm.
    ///
    /// Fails with [`Error::Key`] when the bytes are not a key of that type and with
    /// [`Error::PassphraseRequired`] for an encrypted PKCS#8 key (see
    /// [`from_der_with_passphrase`](Self::from_der_with_passphrase)).
    pub fn from_der(der: &[u8], key_type: KeyType) -> Result<Key, Error> {
        Self::from_der_with_passphrase(der, key_type, b"")
    }

    /// Reads a key of type `key_type` from DER like [`from_der`](Self::from_der), and also
    /// reads an encrypted PKCS#8 `EncryptedPrivateKeyInfo`, decrypting it with `passphrase`
    /// (unused for anything else).
    ///
    /// Encrypted keys may use PBES2 with PBKDF2 (HMAC-SHA1, -SHA224, -SHA256, -SHA384 or
    /// -SHA512) or scrypt, and AES-128/192/256-CBC, DES-EDE3-CBC or DES-CBC; PBES1 (PKCS#5
    /// v1.5: MD5 or SHA-1 with DES-CBC or RC2-CBC); or the PKCS#12 schemes (SHA-1 with two- or
    /// three-key triple DES, 40 or 128-bit RC2, 40 or 128-bit RC4), as Qt reads them. Fails
    /// with [`Error::PassphraseRequired`] when the key is encrypted and `passphrase` is empty,
    /// [`Error::WrongPassphrase`] when it does not decrypt the key, [`Error::UnavailableCipher`]
    /// for the PBES1 schemes over MD2 (which this library does not implement), and
    /// [`Error::Key`] for malformed input or an unsupported scheme (the message names it), as
    /// well as for more than 10 million iterations or scrypt above 32 MiB of memory.
    pub fn from_der_with_passphrase(
        der: &[u8],
        key_type: KeyType,
        passphrase: &[u8],
    ) -> Result<Key, Error> {
        if key_type == KeyType::PrivateKey && encrypted::is_encrypted(der) {
            let plaintext = encrypted::decrypt(der, passphrase)?;
            return Self::from_decrypted(&plaintext, key_type, Layout::Pkcs8);
        }
        Ok(Self::from_decoded(Self::decode(der, key_type)?, key_type))
    }

    /// Reads the first key of type `key_type` from a PEM text (`PRIVATE KEY`,
    /// `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `DSA PRIVATE KEY`, `PUBLIC KEY` or
    /// `RSA PUBLIC KEY` blocks; other blocks are skipped).
    ///
    /// Fails with [`Error::Key`] when there is no such block or the block is malformed, and
    /// with [`Error::PassphraseRequired`] when it is encrypted (see
    /// [`from_pem_with_passphrase`](Self::from_pem_with_passphrase)).
    pub fn from_pem(pem: &[u8], key_type: KeyType) -> Result<Key, Error> {
        Self::from_pem_with_passphrase(pem, key_type, b"")
    }

    /// Reads the first key of type `key_type` from a PEM text like
    /// [`from_pem`](Self::from_pem), decrypting it with `passphrase` when it is encrypted:
    /// an `ENCRYPTED PRIVATE KEY` block (encrypted PKCS#8, as
    /// [`from_der_with_passphrase`](Self::from_der_with_passphrase) reads it) or a block with
    /// OpenSSL's `Proc-Type: 4,ENCRYPTED` and `DEK-Info` headers (AES-128/192/256-CBC,
    /// DES-EDE3-CBC or DES-CBC). The passphrase is unused for a plain block.
    ///
    /// Fails with [`Error::PassphraseRequired`] when the block is encrypted and `passphrase` is
    /// empty, [`Error::WrongPassphrase`] when it does not decrypt the block into a key of the
    /// layout its label names, and [`Error::Key`] for malformed input or an unsupported
    /// encryption (the message names it).
    pub fn from_pem_with_passphrase(
        pem: &[u8],
        key_type: KeyType,
        passphrase: &[u8],
    ) -> Result<Key, Error> {
        pem::read(pem, key_type, passphrase)
    }

    /// Reads a key from `data` in the given encoding.
    ///
    /// Fails with [`Error::Key`] on malformed input and [`Error::PassphraseRequired`] for an
    /// encrypted key.
    pub fn from_data(data: &[u8], format: EncodingFormat, key_type: KeyType) -> Result<Key, Error> {
        Self::from_data_with_passphrase(data, format, key_type, b"")
    }

    /// Reads a key from `data` in the given encoding, decrypting it with `passphrase` when it
    /// is encrypted, as [`from_pem_with_passphrase`](Self::from_pem_with_passphrase) and
    /// [`from_der_with_passphrase`](Self::from_der_with_passphrase) do.
    ///
    /// Fails as they do.
    pub fn from_data_with_passphrase(
        data: &[u8],
        format: EncodingFormat,
        key_type: KeyType,
        passphrase: &[u8],
    ) -> Result<Key, Error> {
        match format {
            EncodingFormat::Pem => Self::from_pem_with_passphrase(data, key_type, passphrase),
            EncodingFormat::Der => Self::from_der_with_passphrase(data, key_type, passphrase),
        }
    }

    /// Reads a key from a file in the given encoding.
    ///
    /// Fails with [`Error::Io`] when the file cannot be read, [`Error::Key`] on malformed data
    /// and [`Error::PassphraseRequired`] for an encrypted key.
    pub fn from_file(
        path: impl AsRef<Path>,
        format: EncodingFormat,
        key_type: KeyType,
    ) -> Result<Key, Error> {
        Self::from_file_with_passphrase(path, format, key_type, b"")
    }

    /// Reads a key from a file in the given encoding, decrypting it with `passphrase` when it
    /// is encrypted.
    ///
    /// Fails with [`Error::Io`] when the file cannot be read, and otherwise as
    /// [`from_data_with_passphrase`](Self::from_data_with_passphrase) does; I/O and
    /// [`Error::Key`] messages name the file.
    pub fn from_file_with_passphrase(
        path: impl AsRef<Path>,
        format: EncodingFormat,
        key_type: KeyType,
        passphrase: &[u8],
    ) -> Result<Key, Error> {
        let path = path.as_ref();
        let data = crate::source::read(path)?;
        Self::from_data_with_passphrase(&data, format, key_type, passphrase)
            .map_err(|e| crate::source::in_file(path, e))
    }

    /// Takes DER apart as a key of `key_type`.
    fn decode(der: &[u8], key_type: KeyType) -> Result<Decoded, Error> {
        match key_type {
            KeyType::PrivateKey => layout::private(der),
            KeyType::PublicKey => layout::public(der),
        }
    }

    /// Builds a key from decrypted bytes, which must be a key in the `expected` layout: the
    /// padding of a wrong passphrase's output is right now and then, its contents never.
    fn from_decrypted(plaintext: &[u8], key_type: KeyType, expected: Layout) -> Result<Key, Error> {
        match Self::decode(plaintext, key_type) {
            Ok(decoded) if decoded.layout == expected => Ok(Self::from_decoded(decoded, key_type)),
            _ => Err(Error::WrongPassphrase),
        }
    }

    fn from_decoded(decoded: Decoded, key_type: KeyType) -> Key {
        Key {
            material: Arc::new(Material {
                canonical: layout::canonical(decoded.format, &decoded.der),
                der: decoded.der,
            }),
            algorithm: decoded.algorithm,
            key_type,
            format: decoded.format,
            curve: decoded.curve,
            bits: decoded.bits,
        }
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

    /// The key's size in bits, as Qt's `QSslKey::length()` and `openssl pkey -text` give it:
    /// the modulus for RSA, the curve's size for EC (256, 384, 521...), 256 for Ed25519, the
    /// prime `p` for DSA and DH.
    ///
    /// `None` for [`KeyAlgorithm::Opaque`], and where the key does not say: an EC key on a
    /// curve this library does not know or whose curve is not given, a DSA public key that
    /// inherits its parameters.
    pub fn bits(&self) -> Option<u32> {
        self.bits
    }

    /// The named curve of an EC key; `None` for other algorithms and for curves
    /// [`EllipticCurve`] does not name ([`bits`](Self::bits) may still know their size).
    pub fn curve(&self) -> Option<EllipticCurve> {
        self.curve
    }

    /// The DER encoding, in the layout [`format`](Self::format) names.
    pub fn to_der(&self) -> &[u8] {
        &self.material.der
    }

    /// The PEM encoding, labelled after the layout, with `\n` line endings and a trailing
    /// newline.
    pub fn to_pem(&self) -> Zeroizing<String> {
        let label = match self.format {
            KeyFormat::Pkcs8 => "PRIVATE KEY",
            KeyFormat::Pkcs1 => "RSA PRIVATE KEY",
            KeyFormat::Sec1 => "EC PRIVATE KEY",
            KeyFormat::Dsa => "DSA PRIVATE KEY",
            KeyFormat::Spki => "PUBLIC KEY",
        };
        pem::encode(label, &self.material.der)
    }

    /// The private key as a PKCS#8 `PrivateKeyInfo`, as `openssl pkcs8 -topk8 -nocrypt`
    /// writes it: a PKCS#8 key unchanged, a PKCS#1 key under rsaEncryption, a SEC 1 key under
    /// id-ecPublicKey with its curve, a traditional DSA key under id-dsa with its parameters.
    ///
    /// Fails with [`Error::InvalidInput`] for a public key, and with [`Error::Key`] for a SEC 1
    /// key that does not name its curve.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        layout::to_pkcs8(self.format, &self.material.der)
    }

    /// The private key as an encrypted PKCS#8 `EncryptedPrivateKeyInfo` protected by
    /// `passphrase`: PBES2 with PBKDF2-HMAC-SHA256 (2048 iterations, random 16-byte salt) and
    /// AES-256-CBC (random IV), the defaults of `openssl pkcs8 -topk8`, which reads it back.
    /// (Qt's `toDer` with a passphrase gives an empty result: it encrypts PEM only. polytls
    /// encrypts DER too, in the standard PKCS#8 form, so that an encrypted key can be stored
    /// in either encoding.)
    ///
    /// Fails with [`Error::InvalidInput`] for a public key or an empty passphrase,
    /// [`Error::Key`] as [`to_pkcs8_der`](Self::to_pkcs8_der) does, and [`Error::Io`] when the
    /// system has no random bytes.
    pub fn to_der_encrypted(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.encrypt(passphrase, encrypted::PBKDF2_ITERATIONS)
    }

    /// [`to_der_encrypted`](Self::to_der_encrypted) as PEM (`ENCRYPTED PRIVATE KEY`), with
    /// `\n` line endings and a trailing newline.
    ///
    /// Fails as [`to_der_encrypted`](Self::to_der_encrypted) does.
    pub fn to_pem_encrypted(&self, passphrase: &[u8]) -> Result<Zeroizing<String>, Error> {
        let der = self.to_der_encrypted(passphrase)?;
        Ok(pem::encode("ENCRYPTED PRIVATE KEY", &der))
    }

    /// Whether this key and `public` (another key, usually a certificate's) are known to be
    /// different keys: both hold their public value (see [`layout::private_public_value`])
    /// and the values differ. `None` when a key holds no public value (an Ed25519 key in
    /// PKCS#8 v1, a DSA key in PKCS#8, an EC key without its point): deriving one would take
    /// the curve's or group's arithmetic.
    pub(crate) fn differs_from(&self, public: &Key) -> Option<bool> {
        let mine = layout::private_public_value(self.format, &self.material.der)?;
        let theirs = layout::private_public_value(public.format, &public.material.der)?;
        Some(!mine.same_key(&theirs))
    }

    /// Whether two keys are of one kind: algorithm, curve and size.
    pub(crate) fn same_kind(&self, other: &Key) -> bool {
        (self.algorithm, self.curve, self.bits) == (other.algorithm, other.curve, other.bits)
    }

    /// The algorithm and size, for messages: `"RSA 2048 bits"`, `"EC P-256"`, `"Ed25519"`.
    pub(crate) fn describe(&self) -> String {
        let algorithm = match self.algorithm {
            KeyAlgorithm::Opaque => "opaque",
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::Dsa => "DSA",
            KeyAlgorithm::Ec => "EC",
            KeyAlgorithm::Dh => "DH",
            KeyAlgorithm::Ed25519 => return "Ed25519".into(),
        };
        match (self.curve, self.bits) {
            (Some(curve), _) => format!("{algorithm} P-{}", curve.bits()),
            (None, Some(bits)) => format!("{algorithm} {bits} bits"),
            (None, None) => algorithm.into(),
        }
    }

    /// Encrypts the key with a chosen PBKDF2 iteration count.
    fn encrypt(&self, passphrase: &[u8], iterations: u32) -> Result<Zeroizing<Vec<u8>>, Error> {
        if self.key_type == KeyType::PublicKey {
            return Err(Error::InvalidInput(
                "a public key cannot be encrypted".into(),
            ));
        }
        let pkcs8 = self.to_pkcs8_der()?;
        encrypted::encrypt(&pkcs8, passphrase, iterations)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.algorithm == other.algorithm
            && self.key_type == other.key_type
            && self.bits == other.bits
            && (Arc::ptr_eq(&self.material, &other.material)
                || self.material.canonical == other.material.canonical)
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (
            self.algorithm,
            self.key_type,
            self.bits,
            self.material.canonical.as_slice(),
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
            .field("curve", &self.curve)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}
