//! OpenSSL's own PEM encryption, as `openssl rsa -aes128` and `openssl pkey -traditional
//! -des3` write it: an `RSA PRIVATE KEY`, `EC PRIVATE KEY` or `DSA PRIVATE KEY` block with the
//! headers `Proc-Type: 4,ENCRYPTED` and `DEK-Info: <cipher>,<IV in hex>`.
//!
//! The cipher key is OpenSSL's `EVP_BytesToKey` with MD5, one iteration, and the first eight
//! bytes of the IV as salt. Ciphers: AES-128/192/256-CBC, DES-EDE3-CBC and DES-CBC.

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use super::block_cipher::CbcCipher;
use crate::Error;

/// Decrypts the contents of an encrypted PEM block with the cipher and IV its `DEK-Info`
/// header names, and returns the DER inside in a buffer wiped on drop.
///
/// Fails with [`Error::Key`] when the header is missing or malformed or names an unsupported
/// cipher, [`Error::PassphraseRequired`] when `passphrase` is empty, and
/// [`Error::WrongPassphrase`] when the padding comes out wrong. (The caller checks that the
/// plaintext is a key.)
pub(super) fn decrypt(
    dek_info: Option<&str>,
    contents: &[u8],
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let dek_info = dek_info
        .ok_or_else(|| Error::Key("the encrypted PEM block has no DEK-Info header".into()))?;
    let (name, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| Error::Key("malformed DEK-Info header".into()))?;
    let name = name.trim();
    let cipher = CbcCipher::from_pem_name(name)
        .ok_or_else(|| Error::Key(format!("unsupported PEM encryption cipher {name}")))?;
    let iv = decode_hex(iv_hex.trim())
        .filter(|iv| iv.len() == cipher.iv_len())
        .ok_or_else(|| Error::Key("malformed IV in the DEK-Info header".into()))?;
    if passphrase.is_empty() {
        return Err(Error::PassphraseRequired);
    }
    let salt = iv.get(..8).unwrap_or_default();
    let key = bytes_to_key(passphrase, salt, cipher.key_len());
    let mut plaintext = Zeroizing::new(contents.to_vec());
    let len = cipher.decrypt(&key, &iv, &mut plaintext)?;
    plaintext.truncate(len);
    Ok(plaintext)
}

/// OpenSSL's `EVP_BytesToKey(cipher, EVP_md5(), salt, passphrase, 1)`, the key part:
/// `D_i = MD5(D_{i-1} || passphrase || salt)`, concatenated until `len` bytes.
pub(super) fn bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous = Zeroizing::new([0u8; 16]);
    let mut first = true;
    while key.len() < len {
        let mut md5 = Md5::new();
        if !first {
            md5.update(&previous[..]);
        }
        md5.update(passphrase);
        md5.update(salt);
        previous.copy_from_slice(&md5.finalize());
        key.extend_from_slice(&previous[..]);
        first = false;
    }
    key.truncate(len);
    key
}

/// Hexadecimal digits to bytes; `None` on an odd count or a non-digit.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(*pair.first()?).to_digit(16)?;
            let low = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:secret`
        let key = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        let hex: String = key.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, EXPECTED_KEY);
    }

    const EXPECTED_KEY: &str = "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB";

    #[test]
    fn hex() {
        assert_eq!(decode_hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex(""), Some(vec![]));
    }
}
