//! Certificate fingerprints: [`DigestAlgorithm`] and the hashing behind
//! [`Certificate::digest`](super::Certificate::digest), done with the RustCrypto hash crates.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A hash algorithm for certificate fingerprints (the subset of Qt's
/// `QCryptographicHash::Algorithm` that certificates are fingerprinted with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// MD5 (16 bytes). Broken; for legacy fingerprints only. Qt's default.
    #[default]
    Md5,
    /// SHA-1 (20 bytes). Broken for collisions; still a common fingerprint.
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-384 (48 bytes).
    Sha384,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl DigestAlgorithm {
    /// Every algorithm, weakest first.
    pub const ALL: &'static [DigestAlgorithm] = &[
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
    ];

    /// The length of a digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes `data`; never fails.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Md5 => Md5::digest(data).to_vec(),
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}
