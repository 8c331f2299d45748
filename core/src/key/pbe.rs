//! The password-based encryption schemes of encrypted PKCS#8 that came before PBES2: PBES1
//! (PKCS#5 v1.5: PBKDF1 with MD5 or SHA-1, then DES-CBC or RC2-CBC with a 64-bit key) and the
//! PKCS#12 schemes (RFC 7292 appendix B's key derivation with SHA-1, then two- or three-key
//! triple DES, RC2 with a 40 or 128-bit key, or RC4 with a 40 or 128-bit key). Qt reads them
//! all through OpenSSL; this module reads them without a backend.
//!
//! Both take `SEQUENCE { salt OCTET STRING, iterationCount INTEGER }` as parameters. Iteration
//! counts above the PBKDF2 limit are refused, as for PBES2. The PBES1 schemes over MD2 are
//! reported as [`Error::UnavailableCipher`]: no maintained implementation is used here, and
//! OpenSSL 3 cannot read them either.

use md5::Digest;
use rc4::{KeyInit, StreamCipher};
use zeroize::Zeroizing;

use super::block_cipher::CbcCipher;
use super::encrypted::MAX_PBKDF2_ITERATIONS;
use crate::der::{positive_integer_bits, Reader, Tlv, INTEGER, OCTET_STRING, SEQUENCE};
use crate::Error;

/// The digest of a PBES1 key derivation.
#[derive(Clone, Copy, Debug)]
enum Pbkdf1 {
    Md5,
    Sha1,
}

/// What a scheme does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// PBKDF1 with the digest, then the cipher with the first 8 bytes as key, the next 8 as IV.
    Pbes1(Pbkdf1, CbcCipher),
    /// PKCS#12 key derivation, then the cipher in CBC mode.
    Pkcs12Cbc(CbcCipher),
    /// PKCS#12 key derivation of a two-key triple DES key (K1 K2 K1).
    Pkcs12TwoKeyTripleDes,
    /// PKCS#12 key derivation, then RC4 with a key of this many bytes.
    Pkcs12Rc4(usize),
    /// Not implemented here; the reason.
    Unavailable(&'static str),
}

const MD2: &str = "MD2 is not implemented by this library (nor by OpenSSL 3): re-encrypt the key \
                   with PBES2";

/// The schemes, by the arcs of their OIDs after 1.2.840.113549.1, with their names.
const SCHEMES: [(&[u8], &str, Kind); 12] = [
    (
        &[0x05, 0x01],
        "pbeWithMD2AndDES-CBC (PBES1)",
        Kind::Unavailable(MD2),
    ),
    (
        &[0x05, 0x03],
        "pbeWithMD5AndDES-CBC (PBES1)",
        Kind::Pbes1(Pbkdf1::Md5, CbcCipher::Des),
    ),
    (
        &[0x05, 0x04],
        "pbeWithMD2AndRC2-CBC (PBES1)",
        Kind::Unavailable(MD2),
    ),
    (
        &[0x05, 0x06],
        "pbeWithMD5AndRC2-CBC (PBES1)",
        Kind::Pbes1(Pbkdf1::Md5, CbcCipher::Rc2_64),
    ),
    (
        &[0x05, 0x0a],
        "pbeWithSHA1AndDES-CBC (PBES1)",
        Kind::Pbes1(Pbkdf1::Sha1, CbcCipher::Des),
    ),
    (
        &[0x05, 0x0b],
        "pbeWithSHA1AndRC2-CBC (PBES1)",
        Kind::Pbes1(Pbkdf1::Sha1, CbcCipher::Rc2_64),
    ),
    (
        &[0x0c, 0x01, 0x01],
        "pbeWithSHAAnd128BitRC4 (PKCS#12)",
        Kind::Pkcs12Rc4(16),
    ),
    (
        &[0x0c, 0x01, 0x02],
        "pbeWithSHAAnd40BitRC4 (PKCS#12)",
        Kind::Pkcs12Rc4(5),
    ),
    (
        &[0x0c, 0x01, 0x03],
        "pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12)",
        Kind::Pkcs12Cbc(CbcCipher::DesEde3),
    ),
    (
        &[0x0c, 0x01, 0x04],
        "pbeWithSHAAnd2-KeyTripleDES-CBC (PKCS#12)",
        Kind::Pkcs12TwoKeyTripleDes,
    ),
    (
        &[0x0c, 0x01, 0x05],
        "pbeWithSHAAnd128BitRC2-CBC (PKCS#12)",
        Kind::Pkcs12Cbc(CbcCipher::Rc2_128),
    ),
    (
        &[0x0c, 0x01, 0x06],
        "pbewithSHAAnd40BitRC2-CBC (PKCS#12)",
        Kind::Pkcs12Cbc(CbcCipher::Rc2_40),
    ),
];

/// 1.2.840.113549.1: the arc of PKCS#5 and PKCS#12 OIDs.
const PKCS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01];

/// The name of the scheme with the OID contents `oid`, when it is one of this module's.
pub(super) fn name(oid: &[u8]) -> Option<&'static str> {
    scheme(oid).map(|(name, _)| name)
}

fn scheme(oid: &[u8]) -> Option<(&'static str, Kind)> {
    let tail = oid.strip_prefix(PKCS)?;
    SCHEMES
        .iter()
        .find(|(arcs, _, _)| *arcs == tail)
        .map(|&(_, name, kind)| (name, kind))
}

/// Decrypts `ciphertext` with the scheme `oid` names (one of this module's: see [`name`]) and
/// its parameters, into a buffer wiped on drop.
///
/// Fails with [`Error::UnavailableCipher`] for the MD2 schemes, [`Error::Key`] for malformed
/// parameters or an iteration count outside 1..=10 000 000, [`Error::PassphraseRequired`] for
/// an empty passphrase, and [`Error::WrongPassphrase`] when the padding comes out wrong. (The
/// caller checks that the plaintext is a key: an RC4 key has no padding to check.)
pub(super) fn decrypt(
    oid: &[u8],
    params: Option<Tlv<'_>>,
    ciphertext: &[u8],
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let Some((name, kind)) = scheme(oid) else {
        return Err(Error::Key("not a PBES1 or PKCS#12 scheme".into()));
    };
    if let Kind::Unavailable(reason) = kind {
        return Err(unavailable(name, oid, reason));
    }
    let malformed = || Error::Key(format!("malformed {name} parameters"));
    let params = params.filter(|p| p.tag == SEQUENCE).ok_or_else(malformed)?;
    let mut r = Reader::new(params.contents);
    let salt = r.expect(OCTET_STRING).ok_or_else(malformed)?.contents;
    let count = r.expect(INTEGER).ok_or_else(malformed)?;
    if !r.is_empty() {
        return Err(malformed());
    }
    let iterations = iteration_count(count.contents).ok_or_else(|| {
        Error::Key(format!(
            "{name}: the iteration count is outside 1..={MAX_PBKDF2_ITERATIONS}"
        ))
    })?;
    if passphrase.is_empty() {
        return Err(Error::PassphraseRequired);
    }
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    match kind {
        Kind::Pbes1(digest, cipher) => {
            let derived = pbkdf1(digest, passphrase, salt, iterations);
            let (key, iv) = derived.split_at(8);
            let len = cipher.decrypt(key, iv, &mut plaintext)?;
            plaintext.truncate(len);
        }
        Kind::Pkcs12Cbc(cipher) => {
            let key = pkcs12_kdf(passphrase, salt, iterations, 1, cipher.key_len());
            let iv = pkcs12_kdf(passphrase, salt, iterations, 2, cipher.iv_len());
            let len = cipher.decrypt(&key, &iv, &mut plaintext)?;
            plaintext.truncate(len);
        }
        Kind::Pkcs12TwoKeyTripleDes => {
            let two = pkcs12_kdf(passphrase, salt, iterations, 1, 16);
            let mut key = Zeroizing::new([0u8; 24]);
            key[..16].copy_from_slice(&two);
            key[16..].copy_from_slice(&two[..8]);
            let iv = pkcs12_kdf(passphrase, salt, iterations, 2, 8);
            let len = CbcCipher::DesEde3.decrypt(&key[..], &iv, &mut plaintext)?;
            plaintext.truncate(len);
        }
        Kind::Pkcs12Rc4(key_len) => {
            let key = pkcs12_kdf(passphrase, salt, iterations, 1, key_len);
            rc4_apply(&key, &mut plaintext)?;
        }
        Kind::Unavailable(reason) => return Err(unavailable(name, oid, reason)),
    }
    Ok(plaintext)
}

/// The [`Error::UnavailableCipher`] for the scheme `name` (OID contents `oid`).
fn unavailable(name: &str, oid: &[u8], reason: &str) -> Error {
    Error::UnavailableCipher {
        cipher: format!("{name}, {}", super::encrypted::dotted(oid)),
        reason: reason.into(),
    }
}

/// An iteration count within 1..=[`MAX_PBKDF2_ITERATIONS`], from an INTEGER's contents.
fn iteration_count(contents: &[u8]) -> Option<u32> {
    let bits = positive_integer_bits(contents)?;
    if bits > 32 {
        return None;
    }
    let value = contents
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    u32::try_from(value)
        .ok()
        .filter(|&n| (1..=MAX_PBKDF2_ITERATIONS).contains(&n))
}

/// PBKDF1 (RFC 8018 5.1): the digest of passphrase and salt, digested again `iterations - 1`
/// times; 16 bytes (8 of key, 8 of IV).
fn pbkdf1(digest: Pbkdf1, passphrase: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<Vec<u8>> {
    fn run<D: Digest>(passphrase: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<Vec<u8>> {
        let mut t = Zeroizing::new(
            D::new()
                .chain_update(passphrase)
                .chain_update(salt)
                .finalize()
                .to_vec(),
        );
        for _ in 1..iterations {
            t = Zeroizing::new(D::digest(&t[..]).to_vec());
        }
        t.truncate(16);
        t
    }
    match digest {
        Pbkdf1::Md5 => run::<md5::Md5>(passphrase, salt, iterations),
        Pbkdf1::Sha1 => run::<sha1::Sha1>(passphrase, salt, iterations),
    }
}

/// The passphrase as PKCS#12 wants it: a BMPString (UTF-16BE) with a two-byte NUL at the end.
/// A passphrase that is not UTF-8 is taken byte by byte (Latin-1), as OpenSSL's `asc2uni`.
fn bmp_passphrase(passphrase: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(passphrase.len() * 2 + 2));
    match std::str::from_utf8(passphrase) {
        Ok(text) => {
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_be_bytes());
            }
        }
        Err(_) => {
            for &b in passphrase {
                out.extend_from_slice(&[0, b]);
            }
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// RFC 7292 appendix B.2 with SHA-1 (u = 20, v = 64): `len` bytes of purpose `id` (1 for the
/// key, 2 for the IV).
fn pkcs12_kdf(
    passphrase: &[u8],
    salt: &[u8],
    iterations: u32,
    id: u8,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    const V: usize = 64;
    let password = bmp_passphrase(passphrase);
    let fill = |source: &[u8]| -> Zeroizing<Vec<u8>> {
        let size = source.len().div_ceil(V) * V;
        Zeroizing::new(source.iter().copied().cycle().take(size).collect())
    };
    let mut i = fill(salt);
    i.extend_from_slice(&fill(&password));
    let diversifier = [id; V];
    let mut out = Zeroizing::new(Vec::with_capacity(len + 20));
    while out.len() < len {
        let mut a = Zeroizing::new(
            sha1::Sha1::new()
                .chain_update(diversifier)
                .chain_update(&i[..])
                .finalize()
                .to_vec(),
        );
        for _ in 1..iterations {
            a = Zeroizing::new(sha1::Sha1::digest(&a[..]).to_vec());
        }
        out.extend_from_slice(&a);
        if out.len() >= len {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().copied().cycle().take(V).collect());
        for block in i.chunks_mut(V) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = (sum & 0xff) as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(len);
    out
}

/// RC4 over `buf` in place with `key` (5 or 16 bytes).
fn rc4_apply(key: &[u8], buf: &mut [u8]) -> Result<(), Error> {
    let bad = || Error::Key("wrong key size for RC4".into());
    match key.len() {
        5 => rc4::Rc4::<rc4::consts::U5>::new_from_slice(key)
            .map_err(|_| bad())?
            .apply_keystream(buf),
        16 => rc4::Rc4::<rc4::consts::U16>::new_from_slice(key)
            .map_err(|_| bad())?
            .apply_keystream(buf),
        _ => return Err(bad()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7292's key derivation against OpenSSL's `PKCS12_key_gen` output for a known input
    /// (password "smeg", the salt and count of the test vectors published with OpenSSL).
    #[test]
    fn pkcs12_kdf_known_answer() {
        let salt = [0x0a, 0x58, 0xcf, 0x64, 0x53, 0x0d, 0x82, 0x3f];
        let key = pkcs12_kdf(b"smeg", &salt, 1, 1, 24);
        assert_eq!(
            hex(&key),
            "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"
        );
        let iv = pkcs12_kdf(b"smeg", &salt, 1, 2, 8);
        assert_eq!(hex(&iv), "79993dfe048d3b76");
    }

    /// tst_QPasswordDigestor::pbkdf1Vectors: PBKDF1 with SHA-1 against the vector Qt uses
    /// (password "password", salt 78578E5A5D63CB06, 1000 iterations, 16 bytes), and with MD5
    /// against Python's `hashlib` run on the same input.
    #[test]
    fn pbkdf1_vectors() {
        let salt = [0x78, 0x57, 0x8e, 0x5a, 0x5d, 0x63, 0xcb, 0x06];
        assert_eq!(
            hex(&pbkdf1(Pbkdf1::Sha1, b"password", &salt, 1000)),
            "dc19847e05c64d2faf10ebfb4a3d2a20"
        );
        assert_eq!(
            hex(&pbkdf1(Pbkdf1::Md5, b"password", &salt, 1000)),
            "c11246e6b87e77a09ab0643de76e1ea7"
        );
        // One iteration is the digest of passphrase and salt.
        assert_eq!(
            &pbkdf1(Pbkdf1::Sha1, b"pass", b"saltsalt", 1)[..],
            &sha1::Sha1::digest(b"passsaltsalt")[..16]
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// tst_QPasswordDigestor::inputSanityChecks (no iterations, or a negative count, is
    /// refused) and tst_QAsn1Element::integer's values as iteration counts.
    #[test]
    fn iteration_counts() {
        assert_eq!(iteration_count(&[0x08, 0x00]), Some(2048));
        assert_eq!(iteration_count(&[0x7f]), Some(127));
        assert_eq!(iteration_count(&[0x00, 0x80]), Some(128));
        assert_eq!(iteration_count(&[0x01, 0x00]), Some(256));
        assert_eq!(iteration_count(&[]), None);
        assert_eq!(iteration_count(&[0xf6]), None); // -10
        assert_eq!(iteration_count(&[0x00]), None);
        assert_eq!(iteration_count(&[0xff]), None); // negative
        assert_eq!(iteration_count(&[0x7f, 0xff, 0xff, 0xff]), None); // too many
    }
}
