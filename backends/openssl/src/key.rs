//! The Key class: keys read and written with OpenSSL's own parsers and encoders
//! (`PEM_read_bio_PrivateKey`, `d2i_PKCS8PrivateKey`, `PEM_write_bio_PKCS8PrivateKey`...),
//! translated to and from polytls' backend-neutral [`Key`].
//!
//! A key keeps the layout it came in: PKCS#8 stays PKCS#8 (an encrypted PKCS#8 key comes back
//! decrypted as plain PKCS#8), a traditional RSA, EC or DSA key stays traditional.
//!
//! OpenSSL 3 keeps DES, RC2 and RC4 (and so PBES1 and most PKCS#12 schemes) in its legacy
//! provider. This backend does not load it: loading a provider by name switches off the
//! automatic default provider of the process's default library context, and what algorithms
//! a process's OpenSSL offers is the application's decision, not a TLS library's. When the
//! application has loaded it, such keys read as any other; when not, reading one fails with
//! [`Error::UnavailableCipher`] naming the algorithm, never with a wrong passphrase. polytls'
//! own [`Key`] reads all of them without OpenSSL.

use std::cell::Cell;

use openssl::error::ErrorStack;
use openssl::pkey::{Id, PKey, Private};
use openssl::symm::Cipher;
use polytls_core::{EncodingFormat, Error, Key, KeyFormat, KeyType};
use zeroize::Zeroizing;

/// The label of the first PEM block in `data`, if any.
fn pem_label(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// The algorithm OpenSSL could not fetch, when `e` says it lacks one: its fetch errors read
/// "unsupported", with data naming the algorithm (`Algorithm (RC2-CBC : 4), ...`).
fn unavailable_algorithm(e: &ErrorStack) -> Option<String> {
    e.errors()
        .iter()
        .filter(|e| e.reason() == Some("unsupported"))
        .find_map(|e| {
            let data = e.data()?;
            let start = data.find("Algorithm (")? + "Algorithm (".len();
            let name = data[start..].split([' ', ')']).next()?;
            (!name.is_empty()).then(|| name.to_owned())
        })
}

/// A key OpenSSL failed to read: a cipher OpenSSL does not have when it says so, a wrong
/// passphrase when one was used, a missing one when OpenSSL asked for it, otherwise malformed
/// input.
fn read_error(e: &ErrorStack, asked: bool, passphrase: Option<&[u8]>) -> Error {
    if let Some(algorithm) = unavailable_algorithm(e) {
        return Error::UnavailableCipher {
            cipher: algorithm,
            reason: "OpenSSL 3 keeps it in its legacy provider, which polytls-openssl does not \
                     load: load OpenSSL's \"legacy\" and \"default\" providers in the \
                     application, or read the key with polytls' Key::from_pem_with_passphrase, \
                     which decrypts it without OpenSSL"
                .into(),
        };
    }
    match (asked, passphrase) {
        (true, None) => Error::PassphraseRequired,
        (true, Some(_)) => Error::WrongPassphrase,
        _ => Error::Key(format!("OpenSSL cannot read the key: {e}")),
    }
}

/// OpenSSL's passphrase callback: notes that OpenSSL asked, and hands over `passphrase`. An
/// empty or missing passphrase (or one longer than OpenSSL's buffer) fails the read, which
/// [`read_error`] then reports as missing or wrong.
fn give<'a>(
    passphrase: Option<&'a [u8]>,
    asked: &'a Cell<bool>,
) -> impl FnOnce(&mut [u8]) -> Result<usize, ErrorStack> + 'a {
    move |buf| {
        asked.set(true);
        match passphrase {
            Some(p) if !p.is_empty() && p.len() <= buf.len() => {
                buf[..p.len()].copy_from_slice(p);
                Ok(p.len())
            }
            _ => Err(ErrorStack::get()),
        }
    }
}

/// Reads a private key in PEM, asking for the passphrase only if the key is encrypted.
fn private_from_pem(pem: &[u8], passphrase: Option<&[u8]>) -> Result<PKey<Private>, Error> {
    let asked = Cell::new(false);
    PKey::private_key_from_pem_callback(pem, give(passphrase, &asked))
        .map_err(|e| read_error(&e, asked.get(), passphrase.filter(|p| !p.is_empty())))
}

/// Reads a private key in DER: encrypted PKCS#8, plain PKCS#8 or a traditional layout.
/// Returns the key and whether it was PKCS#8.
fn private_from_der(der: &[u8], passphrase: Option<&[u8]>) -> Result<(PKey<Private>, bool), Error> {
    if let Ok(key) = PKey::private_key_from_pkcs8(der) {
        return Ok((key, true));
    }
    if let Ok(key) = PKey::private_key_from_der(der) {
        return Ok((key, false));
    }
    // Perhaps an EncryptedPrivateKeyInfo: it needs the passphrase.
    let asked = Cell::new(false);
    PKey::private_key_from_pkcs8_callback(der, give(passphrase, &asked))
        .map(|key| (key, true))
        .map_err(|e| read_error(&e, asked.get(), passphrase.filter(|p| !p.is_empty())))
}

/// The polytls key for OpenSSL's: PKCS#8 DER, or the traditional DER of the key's type.
fn to_key(key: &PKey<Private>, pkcs8: bool) -> Result<Key, Error> {
    let der = if pkcs8 {
        key.private_key_to_pkcs8()
    } else {
        key.private_key_to_der()
    }
    .map(Zeroizing::new)
    .map_err(|e| Error::Key(format!("OpenSSL cannot encode the key: {e}")))?;
    Key::from_der(&der, KeyType::PrivateKey)
}

/// Reads a key with OpenSSL (see [`polytls_core::TlsBackend::read_key`]).
///
/// Fails with [`Error::Key`] on malformed input and [`Error::PassphraseRequired`] /
/// [`Error::WrongPassphrase`] for an encrypted key.
pub(crate) fn read(
    data: &[u8],
    format: EncodingFormat,
    key_type: KeyType,
    passphrase: Option<&[u8]>,
) -> Result<Key, Error> {
    let malformed = |e: ErrorStack| Error::Key(format!("OpenSSL cannot read the key: {e}"));
    match (key_type, format) {
        (KeyType::PublicKey, EncodingFormat::Pem) => {
            // With a callback that refuses, so that OpenSSL never prompts on a terminal for
            // the passphrase of an encrypted block.
            let key = PKey::public_key_from_pem_callback(data, |_| Err(ErrorStack::get()))
                .map_err(malformed)?;
            let der = key.public_key_to_der().map_err(malformed)?;
            Key::from_der(&der, KeyType::PublicKey)
        }
        (KeyType::PublicKey, EncodingFormat::Der) => {
            let key = PKey::public_key_from_der(data).map_err(malformed)?;
            let der = key.public_key_to_der().map_err(malformed)?;
            Key::from_der(&der, KeyType::PublicKey)
        }
        (KeyType::PrivateKey, EncodingFormat::Pem) => {
            let pkcs8 = matches!(
                pem_label(data),
                Some("PRIVATE KEY" | "ENCRYPTED PRIVATE KEY")
            );
            to_key(&private_from_pem(data, passphrase)?, pkcs8)
        }
        (KeyType::PrivateKey, EncodingFormat::Der) => {
            let (key, pkcs8) = private_from_der(data, passphrase)?;
            to_key(&key, pkcs8)
        }
    }
}

/// Writes a key with OpenSSL (see [`polytls_core::TlsBackend::write_key`]): the key's own layout,
/// or encrypted PKCS#8 (AES-256-CBC, OpenSSL's PBKDF2 defaults) with a passphrase.
///
/// Fails with [`Error::InvalidInput`] when a passphrase is given for a public key or is empty,
/// and [`Error::Key`] when OpenSSL rejects the key.
pub(crate) fn write(
    key: &Key,
    format: EncodingFormat,
    passphrase: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let failed = |e: ErrorStack| Error::Key(format!("OpenSSL cannot write the key: {e}"));
    if key.key_type() == KeyType::PublicKey {
        if passphrase.is_some() {
            return Err(Error::InvalidInput("a public key is not encrypted".into()));
        }
        let public = PKey::public_key_from_der(key.to_der()).map_err(failed)?;
        let out = match format {
            EncodingFormat::Pem => public.public_key_to_pem(),
            EncodingFormat::Der => public.public_key_to_der(),
        };
        return out.map(Zeroizing::new).map_err(failed);
    }
    let private = PKey::private_key_from_der(key.to_der())
        .or_else(|_| PKey::private_key_from_pkcs8(key.to_der()))
        .map_err(failed)?;
    let out = match (passphrase, format) {
        (Some([]), _) => {
            return Err(Error::InvalidInput("the passphrase is empty".into()));
        }
        (Some(p), EncodingFormat::Pem) => {
            private.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), p)
        }
        (Some(p), EncodingFormat::Der) => {
            private.private_key_to_pkcs8_passphrase(Cipher::aes_256_cbc(), p)
        }
        (None, EncodingFormat::Der) => match key.format() {
            KeyFormat::Pkcs8 => private.private_key_to_pkcs8(),
            _ => private.private_key_to_der(),
        },
        (None, EncodingFormat::Pem) => match (key.format(), private.id()) {
            (KeyFormat::Pkcs1, Id::RSA) => private.rsa().and_then(|k| k.private_key_to_pem()),
            (KeyFormat::Sec1, Id::EC) => private.ec_key().and_then(|k| k.private_key_to_pem()),
            (KeyFormat::Dsa, Id::DSA) => private.dsa().and_then(|k| k.private_key_to_pem()),
            _ => private.private_key_to_pem_pkcs8(),
        },
    };
    out.map(Zeroizing::new).map_err(failed)
}
