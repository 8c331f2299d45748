//! The block ciphers of encrypted keys, all in CBC mode with PKCS#7 padding: AES-128, AES-192
//! and AES-256, and for older keys DES-EDE3, DES and RC2 (with 40, 64 or 128-bit keys).
//!
//! Decryption works in place, in the caller's buffer, so the caller decides how the plaintext
//! is wiped. A padding error is what a wrong passphrase looks like, and is reported as
//! [`Error::WrongPassphrase`].

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit};

use crate::Error;

/// A block cipher in CBC mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CbcCipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
    Des,
    /// RC2 with a 40-bit key (effective key length 40).
    Rc2_40,
    /// RC2 with a 64-bit key (effective key length 64).
    Rc2_64,
    /// RC2 with a 128-bit key (effective key length 128).
    Rc2_128,
}

impl CbcCipher {
    /// The key size in bytes.
    pub(super) fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 | Self::DesEde3 => 24,
            Self::Aes256 => 32,
            Self::Des | Self::Rc2_64 => 8,
            Self::Rc2_40 => 5,
            Self::Rc2_128 => 16,
        }
    }

    /// The IV (block) size in bytes.
    pub(super) fn iv_len(self) -> usize {
        match self {
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
            Self::DesEde3 | Self::Des | Self::Rc2_40 | Self::Rc2_64 | Self::Rc2_128 => 8,
        }
    }

    /// The cipher an OpenSSL `DEK-Info` header names, if supported.
    pub(super) fn from_pem_name(name: &str) -> Option<CbcCipher> {
        [
            ("AES-128-CBC", Self::Aes128),
            ("AES-192-CBC", Self::Aes192),
            ("AES-256-CBC", Self::Aes256),
            ("DES-EDE3-CBC", Self::DesEde3),
            ("DES-CBC", Self::Des),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, cipher)| cipher)
    }

    /// Decrypts `buf` in place and returns the length of the plaintext at its start.
    ///
    /// Fails with [`Error::WrongPassphrase`] when the padding is wrong or `buf` is not whole
    /// blocks, and with [`Error::Key`] when `key` or `iv` has the wrong size.
    pub(super) fn decrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        match self {
            Self::Aes128 => decrypt::<aes::Aes128>(key, iv, buf),
            Self::Aes192 => decrypt::<aes::Aes192>(key, iv, buf),
            Self::Aes256 => decrypt::<aes::Aes256>(key, iv, buf),
            Self::DesEde3 => decrypt::<des::TdesEde3>(key, iv, buf),
            Self::Des => decrypt::<des::Des>(key, iv, buf),
            // RC2's effective key length is the key's, as these schemes want it.
            Self::Rc2_40 | Self::Rc2_64 | Self::Rc2_128 => decrypt::<rc2::Rc2>(key, iv, buf),
        }
    }

    /// Encrypts the first `len` bytes of `buf` in place, padding into the rest, and returns the
    /// length of the ciphertext.
    ///
    /// Fails with [`Error::Key`] when `key` or `iv` has the wrong size or `buf` has no room for
    /// the padding.
    pub(super) fn encrypt(
        self,
        key: &[u8],
        iv: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, Error> {
        match self {
            Self::Aes128 => encrypt::<aes::Aes128>(key, iv, buf, len),
            Self::Aes192 => encrypt::<aes::Aes192>(key, iv, buf, len),
            Self::Aes256 => encrypt::<aes::Aes256>(key, iv, buf, len),
            Self::DesEde3 => encrypt::<des::TdesEde3>(key, iv, buf, len),
            Self::Des => encrypt::<des::Des>(key, iv, buf, len),
            Self::Rc2_40 | Self::Rc2_64 | Self::Rc2_128 => encrypt::<rc2::Rc2>(key, iv, buf, len),
        }
    }
}

fn decrypt<C: BlockCipher + BlockDecryptMut + KeyInit>(
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<usize, Error> {
    cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| Error::Key("wrong key or IV size for the cipher".into()))?
        .decrypt_padded_mut::<Pkcs7>(buf)
        .map(|plaintext| plaintext.len())
        .map_err(|_| Error::WrongPassphrase)
}

fn encrypt<C: BlockCipher + BlockEncryptMut + KeyInit>(
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
    len: usize,
) -> Result<usize, Error> {
    cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| Error::Key("wrong key or IV size for the cipher".into()))?
        .encrypt_padded_mut::<Pkcs7>(buf, len)
        .map(|ciphertext| ciphertext.len())
        .map_err(|_| Error::Key("no room for the padding".into()))
}

#[cfg(test)]
mod tests {
    use super::CbcCipher;
    use crate::key::tests::unhex;

    /// The cipher, key, IV, plaintext length and ciphertext in hex.
    type Row<'a> = (CbcCipher, &'a [u8], &'a [u8], usize, &'a str);

    /// tst_QSslKey::encrypt: the ciphers of encrypted keys, in CBC mode with PKCS#7 padding,
    /// against the known answers Qt checks its own implementation with (the key, the IV, a
    /// plaintext of 0 or 8 bytes of `a`, the ciphertext), both ways.
    #[test]
    fn known_answers() {
        let des_iv = b"abcdefgh";
        let aes_iv = b"abcdefghijklmnop";
        let rows: [Row<'_>; 16] = [
            (CbcCipher::Des, b"01234567", des_iv, 0, "956585228BAF9B1F"),
            (CbcCipher::Des, b"01234567", des_iv, 1, "E6880AF202BA3C12"),
            (CbcCipher::Des, b"01234567", des_iv, 7, "5003436B8A8E42E9"),
            (
                CbcCipher::Des,
                b"01234567",
                des_iv,
                8,
                "E4C1F054BF5521C0A4A0FD4A2BC6C1B1",
            ),
            (
                CbcCipher::DesEde3,
                b"0123456789abcdefghijklmn",
                des_iv,
                0,
                "3B2B4CD0B0FD495F",
            ),
            (
                CbcCipher::DesEde3,
                b"0123456789abcdefghijklmn",
                des_iv,
                8,
                "F2A5A87763C54A72A3224103D90CDB03",
            ),
            (CbcCipher::Rc2_40, b"01234", des_iv, 0, "6D05D52392FF6E7A"),
            (
                CbcCipher::Rc2_40,
                b"01234",
                des_iv,
                8,
                "75768E64C5749072A5D168F3AFEB0005",
            ),
            (
                CbcCipher::Rc2_64,
                b"01234567",
                des_iv,
                0,
                "ADAE6BF70F420130",
            ),
            (
                CbcCipher::Rc2_64,
                b"01234567",
                des_iv,
                8,
                "C7BF5C80AFBE9FBEFBBB9FD935F6D0DF",
            ),
            (
                CbcCipher::Rc2_128,
                b"012345679abcdefg",
                des_iv,
                0,
                "1E965D483A13C8FB",
            ),
            (
                CbcCipher::Rc2_128,
                b"012345679abcdefg",
                des_iv,
                8,
                "5AEC1A5B295660B02613454232F7DECE",
            ),
            (
                CbcCipher::Aes128,
                b"012345679abcdefg",
                aes_iv,
                0,
                "28DE1A9AA26601C30DD2527407121D1A",
            ),
            (
                CbcCipher::Aes128,
                b"012345679abcdefg",
                aes_iv,
                8,
                "08E880B1BA916F061C1E801D7F44D0EC",
            ),
            (
                CbcCipher::Aes192,
                b"0123456789abcdefghijklmn",
                aes_iv,
                8,
                "3A227D6A3A13237316D30AA17FF9B0A7",
            ),
            (
                CbcCipher::Aes256,
                b"0123456789abcdefghijklmnopqrstuv",
                aes_iv,
                8,
                "879C8C25EC135CDF0B14490A0A7C2F67",
            ),
        ];
        for (cipher, key, iv, len, expected) in rows {
            let expected = unhex(expected);
            let mut buf = vec![b'a'; len];
            buf.resize(len + cipher.iv_len(), 0);
            let written = cipher.encrypt(key, iv, &mut buf, len).unwrap();
            assert_eq!(buf[..written], expected[..], "{cipher:?}, {len} bytes");
            let mut back = expected.clone();
            let read = cipher.decrypt(key, iv, &mut back).unwrap();
            assert_eq!(
                back[..read],
                vec![b'a'; len][..],
                "{cipher:?}, {len} bytes back"
            );
        }
    }
}
