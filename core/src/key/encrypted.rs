//! Encrypted PKCS#8 (`EncryptedPrivateKeyInfo`, PEM label `ENCRYPTED PRIVATE KEY`).
//!
//! Reads PBES2 with PBKDF2 (HMAC-SHA1, -SHA224, -SHA256, -SHA384 or -SHA512) or scrypt, and
//! AES-128/192/256-CBC, DES-EDE3-CBC or DES-CBC, and (in `pbe`) PBES1 and the PKCS#12 schemes; writes PBES2 with PBKDF2-HMAC-SHA256 and
//! AES-256-CBC, OpenSSL's defaults. The `pkcs5` crate reads and writes the parameters' ASN.1;
//! the key derivation and the decryption happen here, into buffers wiped on drop. Parameters
//! that would make a forged key cost minutes or gigabytes to try are refused.

use pbkdf2::pbkdf2_hmac;
use pkcs5::der::{Decode, Encode};
use pkcs5::pbes2::{self, Kdf, Pbkdf2Prf};
use zeroize::Zeroizing;

use super::block_cipher::CbcCipher;
use crate::der::{element, single, Reader, OCTET_STRING, OID, SEQUENCE};
use crate::Error;

/// The PBKDF2 iteration count of keys this library encrypts (OpenSSL's default).
pub(super) const PBKDF2_ITERATIONS: u32 = 2048;
/// The most PBKDF2 iterations accepted when decrypting (some seconds of work).
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The most memory scrypt may use when decrypting (OpenSSL's default limit).
const MAX_SCRYPT_MEMORY: u128 = 32 * 1024 * 1024;
/// The most scrypt work (N * r * p) accepted when decrypting: 32 times `openssl pkcs8
/// -scrypt`'s default.
const MAX_SCRYPT_WORK: u128 = 1 << 22;

/// 1.2.840.113549.1.5.13 id-PBES2
pub(crate) const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
/// 1.2.840.113549.1.5.12 id-PBKDF2
pub(crate) const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
/// 1.3.6.1.4.1.11591.4.11 id-scrypt
pub(crate) const SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
/// 1.2.840.113549.2.{7,8,9,10,11} hmacWithSHA1, -SHA224, -SHA256, -SHA384, -SHA512
const HMAC_PRFS: [&[u8]; 5] = [
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x08],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0a],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b],
];
/// aes128-CBC, aes192-CBC, aes256-CBC (2.16.840.1.101.3.4.1.{2,22,42}), des-ede3-cbc
/// (1.2.840.113549.3.7), desCBC (1.3.14.3.2.7).
const CIPHERS: [&[u8]; 5] = [
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a],
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07],
    &[0x2b, 0x0e, 0x03, 0x02, 0x07],
];

/// Whether `der` has the shape of an `EncryptedPrivateKeyInfo`:
/// `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`. (A `PrivateKeyInfo` starts with an
/// INTEGER.)
pub(super) fn is_encrypted(der: &[u8]) -> bool {
    single(der, SEQUENCE).is_some_and(|outer| {
        let mut r = Reader::new(outer.contents);
        r.expect(SEQUENCE).is_some() && r.expect(OCTET_STRING).is_some() && r.is_empty()
    })
}

/// An OID's contents in dotted form, for messages.
pub(super) fn dotted(oid: &[u8]) -> String {
    pkcs5::ObjectIdentifier::from_bytes(oid).map_or_else(
        |_| {
            let hex: Vec<String> = oid.iter().map(|b| format!("{b:02x}")).collect();
            format!("OID with contents {}", hex.join(""))
        },
        |oid| oid.to_string(),
    )
}

/// The OID contents of an `AlgorithmIdentifier` element's algorithm, and its parameters.
fn algorithm(element: Option<crate::der::Tlv<'_>>) -> Option<(&[u8], Option<crate::der::Tlv<'_>>)> {
    let element = element.filter(|e| e.tag == SEQUENCE)?;
    let mut r = Reader::new(element.contents);
    let oid = r.expect(OID)?;
    Some((oid.contents, r.next()))
}

/// Names what in the PBES2 parameters this library does not support, before the `pkcs5` crate
/// parses them (its errors do not say).
fn check_supported(params: &[u8]) -> Result<(), Error> {
    let mut r = Reader::new(params);
    let Some((kdf, kdf_params)) = algorithm(r.next()) else {
        return Ok(());
    };
    match kdf {
        PBKDF2 => {
            // PBKDF2-params: salt, iterationCount, keyLength OPTIONAL, prf OPTIONAL.
            let mut p = Reader::new(kdf_params.map_or(&[][..], |p| p.contents));
            p.next();
            while let Some(field) = p.next() {
                if let Some((prf, _)) = algorithm(Some(field)) {
                    if !HMAC_PRFS.contains(&prf) {
                        return Err(Error::Key(format!(
                            "unsupported PBKDF2 pseudo-random function {}",
                            dotted(prf)
                        )));
                    }
                }
            }
        }
        SCRYPT => {}
        other => {
            return Err(Error::Key(format!(
                "unsupported key derivation function {}",
                dotted(other)
            )))
        }
    }
    if let Some((cipher, _)) = algorithm(r.next()) {
        if !CIPHERS.contains(&cipher) {
            return Err(Error::Key(format!(
                "unsupported key encryption cipher {}",
                dotted(cipher)
            )));
        }
    }
    Ok(())
}

/// Decrypts an `EncryptedPrivateKeyInfo` and returns the `PrivateKeyInfo` inside, in a buffer
/// wiped on drop.
///
/// PBES1 and the PKCS#12 schemes are handed to [`super::pbe`].
///
/// Fails with [`Error::Key`] when the structure is malformed or names a scheme, key derivation
/// or cipher this library does not support (or parameters too costly to try),
/// [`Error::UnavailableCipher`] for the PBES1 schemes over MD2,
/// [`Error::PassphraseRequired`] when `passphrase` is empty, and [`Error::WrongPassphrase`]
/// when the padding comes out wrong. (The caller checks that the plaintext is a key.)
pub(super) fn decrypt(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let malformed = || Error::Key("malformed encrypted private key".into());
    let outer = single(der, SEQUENCE).ok_or_else(malformed)?;
    let mut r = Reader::new(outer.contents);
    let scheme = r.expect(SEQUENCE).ok_or_else(malformed)?;
    let ciphertext = r.expect(OCTET_STRING).ok_or_else(malformed)?;
    let (oid, params) = algorithm(Some(scheme)).ok_or_else(malformed)?;
    if super::pbe::name(oid).is_some() {
        return super::pbe::decrypt(oid, params, ciphertext.contents, passphrase);
    }
    if oid != PBES2 {
        return Err(Error::Key(format!(
            "unsupported key encryption scheme {}",
            dotted(oid)
        )));
    }
    let params = params.filter(|p| p.tag == SEQUENCE).ok_or_else(malformed)?;
    check_supported(params.contents)?;
    let params = pbes2::Parameters::from_der(params.whole)
        .map_err(|e| Error::Key(format!("malformed PBES2 parameters: {e}")))?;
    let (cipher, iv): (CbcCipher, &[u8]) = match params.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => (CbcCipher::Aes128, iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => (CbcCipher::Aes192, iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => (CbcCipher::Aes256, iv),
        pbes2::EncryptionScheme::DesEde3Cbc { iv } => (CbcCipher::DesEde3, iv),
        pbes2::EncryptionScheme::DesCbc { iv } => (CbcCipher::Des, iv),
        other => {
            return Err(Error::Key(format!(
                "unsupported key encryption cipher {}",
                other.oid()
            )))
        }
    };
    if passphrase.is_empty() {
        return Err(Error::PassphraseRequired);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    let key = key.get_mut(..cipher.key_len()).ok_or_else(malformed)?;
    derive_key(&params.kdf, passphrase, key)?;
    let mut plaintext = Zeroizing::new(ciphertext.contents.to_vec());
    let len = cipher.decrypt(key, iv, &mut plaintext)?;
    plaintext.truncate(len);
    Ok(plaintext)
}

/// Whether scrypt with cost `n`, block size `r` and parallelisation `p` stays within what this
/// library spends on deriving one key (memory as OpenSSL counts it, and work).
pub(crate) fn scrypt_within_limits(n: u64, r: u64, p: u64) -> bool {
    // As OpenSSL counts it: the p blocks of 128 * r bytes plus the N + 2 of V.
    let memory = 128 * u128::from(r) * (u128::from(n) + u128::from(p) + 2);
    let work = u128::from(n) * u128::from(r) * u128::from(p);
    memory <= MAX_SCRYPT_MEMORY && work <= MAX_SCRYPT_WORK
}

/// Fills `key` from `passphrase` with the key derivation function `kdf`.
///
/// Fails with [`Error::Key`] for parameters that are invalid, unsupported or too costly.
fn derive_key(kdf: &Kdf<'_>, passphrase: &[u8], key: &mut [u8]) -> Result<(), Error> {
    if kdf
        .key_length()
        .is_some_and(|len| usize::from(len) != key.len())
    {
        return Err(Error::Key(
            "the key derivation's key length does not fit the cipher".into(),
        ));
    }
    match kdf {
        Kdf::Pbkdf2(params) => {
            let rounds = params.iteration_count;
            if rounds == 0 || rounds > MAX_PBKDF2_ITERATIONS {
                return Err(Error::Key(format!(
                    "PBKDF2 iteration count {rounds} is outside 1..={MAX_PBKDF2_ITERATIONS}"
                )));
            }
            let salt = params.salt;
            match params.prf {
                Pbkdf2Prf::HmacWithSha1 => pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, rounds, key),
                Pbkdf2Prf::HmacWithSha224 => {
                    pbkdf2_hmac::<sha2::Sha224>(passphrase, salt, rounds, key)
                }
                Pbkdf2Prf::HmacWithSha256 => {
                    pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, rounds, key)
                }
                Pbkdf2Prf::HmacWithSha384 => {
                    pbkdf2_hmac::<sha2::Sha384>(passphrase, salt, rounds, key)
                }
                Pbkdf2Prf::HmacWithSha512 => {
                    pbkdf2_hmac::<sha2::Sha512>(passphrase, salt, rounds, key)
                }
                other => {
                    return Err(Error::Key(format!(
                        "unsupported PBKDF2 pseudo-random function {}",
                        other.oid()
                    )))
                }
            }
            Ok(())
        }
        Kdf::Scrypt(params) => {
            let n = params.cost_parameter;
            let r = u32::from(params.block_size);
            let p = u32::from(params.parallelization);
            if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
                return Err(Error::Key("invalid scrypt parameters".into()));
            }
            if !scrypt_within_limits(n, u64::from(r), u64::from(p)) {
                return Err(Error::Key(format!(
                    "scrypt parameters N={n}, r={r}, p={p} ask for more than this library \
                     spends on a key"
                )));
            }
            // n is a power of two below 2^64: its exponent fits in a u8.
            let log_n = u8::try_from(n.trailing_zeros())
                .map_err(|_| Error::Key("invalid scrypt parameters".into()))?;
            let scrypt_params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
                .map_err(|_| Error::Key("invalid scrypt parameters".into()))?;
            scrypt::scrypt(passphrase, params.salt, &scrypt_params, key)
                .map_err(|_| Error::Key("invalid scrypt parameters".into()))
        }
        _ => Err(Error::Key(format!(
            "unsupported key derivation function {}",
            kdf.oid()
        ))),
    }
}

/// Encrypts a PKCS#8 `PrivateKeyInfo` into an `EncryptedPrivateKeyInfo`: PBES2,
/// PBKDF2-HMAC-SHA256 with `iterations` rounds and a random 16-byte salt, AES-256-CBC with a
/// random IV.
///
/// Fails with [`Error::InvalidInput`] for an empty passphrase, [`Error::Io`] when the system
/// has no random bytes, and [`Error::Key`] when the parameters cannot be encoded.
pub(super) fn encrypt(
    pkcs8: &[u8],
    passphrase: &[u8],
    iterations: u32,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if passphrase.is_empty() {
        return Err(Error::InvalidInput(
            "an empty passphrase cannot protect a key".into(),
        ));
    }
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .and_then(|()| getrandom::getrandom(&mut iv))
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv)
        .map_err(|e| Error::Key(format!("cannot encrypt the key: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2_hmac::<sha2::Sha256>(passphrase, &salt, iterations, &mut key[..]);
    let mut buf = Zeroizing::new(vec![0u8; pkcs8.len() + CbcCipher::Aes256.iv_len()]);
    buf.get_mut(..pkcs8.len())
        .ok_or_else(|| Error::Key("cannot encrypt the key".into()))?
        .copy_from_slice(pkcs8);
    let len = CbcCipher::Aes256.encrypt(&key[..], &iv, &mut buf, pkcs8.len())?;
    // The parameters take under 100 bytes.
    let mut scheme = [0u8; 256];
    let scheme = pkcs5::EncryptionScheme::Pbes2(params)
        .encode_to_slice(&mut scheme)
        .map_err(|e| Error::Key(format!("cannot encode the encryption parameters: {e}")))?;
    let ciphertext = element(OCTET_STRING, &[buf.get(..len).unwrap_or_default()]);
    Ok(element(SEQUENCE, &[scheme, &ciphertext]))
}

#[cfg(test)]
mod tests {
    use pkcs5::pbes2::Pbkdf2Params;

    use super::*;
    use crate::key::tests::unhex;

    fn pbkdf2(
        prf: Pbkdf2Prf,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        len: usize,
    ) -> Result<Vec<u8>, Error> {
        let kdf = Kdf::Pbkdf2(Pbkdf2Params {
            salt,
            iteration_count: iterations,
            key_length: None,
            prf,
        });
        let mut key = vec![0; len];
        derive_key(&kdf, password, &mut key)?;
        Ok(key)
    }

    /// Pseudo-random function, password, salt, iterations, the derived key in hex.
    type Vector<'a> = (Pbkdf2Prf, &'a [u8], &'a [u8], u32, &'a str);

    /// tst_QPasswordDigestor::pbkdf2Vectors: the key derivation of encrypted keys against
    /// RFC 6070's PBKDF2-HMAC-SHA1 vectors and some of RFC 3962's, and RFC 7914's
    /// PBKDF2-HMAC-SHA256 vector.
    #[test]
    fn pbkdf2_vectors() {
        let sha1 = Pbkdf2Prf::HmacWithSha1;
        let athena = b"ATHENA.MIT.EDUraeburn";
        let vectors: [Vector<'_>; 9] = [
            (
                sha1,
                b"password",
                b"salt",
                1,
                "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            ),
            (
                sha1,
                b"password",
                b"salt",
                2,
                "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
            ),
            (
                sha1,
                b"password",
                b"salt",
                4096,
                "4b007901b765489abead49d926f721d065a429c1",
            ),
            (
                sha1,
                b"passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
            ),
            (
                sha1,
                b"pass\0word",
                b"sa\0lt",
                4096,
                "56fa6aa75548099dcc37d7f03425e0c3",
            ),
            (
                sha1,
                b"password",
                athena,
                1,
                "cdedb5281bb2f801565a1122b2563515",
            ),
            (
                sha1,
                b"password",
                athena,
                1200,
                "5c08eb61fdf71e4e4ec3cf6ba1f5512ba7e52ddbc5e5142f708a31e2e62b1e13",
            ),
            (
                sha1,
                &[b'X'; 65],
                b"pass phrase exceeds block size",
                1200,
                "9ccad6d468770cd51b10e6a68721be61",
            ),
            (
                Pbkdf2Prf::HmacWithSha256,
                b"passwd",
                b"salt",
                1,
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                 49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
            ),
        ];
        for (prf, password, salt, iterations, expected) in vectors {
            let expected = unhex(expected);
            assert_eq!(
                pbkdf2(prf, password, salt, iterations, expected.len()).unwrap(),
                expected,
                "{password:?} {salt:?} {iterations}"
            );
        }
    }

    /// tst_QPasswordDigestor::inputSanityChecks, for PBKDF2 as encrypted keys use it: no
    /// iterations, more than the limit (RFC 6070's 16777216-iteration vector among them), and a
    /// key length that does not fit the cipher are refused, never computed.
    #[test]
    fn pbkdf2_refusals() {
        let sha1 = Pbkdf2Prf::HmacWithSha1;
        for iterations in [0, MAX_PBKDF2_ITERATIONS + 1, 16_777_216] {
            assert!(
                matches!(
                    pbkdf2(sha1, b"password", b"salt", iterations, 20),
                    Err(Error::Key(_))
                ),
                "{iterations}"
            );
        }
        let kdf = Kdf::Pbkdf2(Pbkdf2Params {
            salt: b"saltsalt",
            iteration_count: 1,
            key_length: Some(16),
            prf: sha1,
        });
        assert!(matches!(
            derive_key(&kdf, b"password", &mut [0; 32]),
            Err(Error::Key(_))
        ));
        let mut key = [0; 16];
        derive_key(&kdf, b"password", &mut key).unwrap();
        assert_eq!(
            key[..],
            pbkdf2(sha1, b"password", b"saltsalt", 1, 16).unwrap()[..]
        );
    }
}
