//! PEM text: which blocks hold keys, what layout each label promises, which are encrypted, and
//! the PEM encoding of a key.
//!
//! The decoded contents of every block read, and the copy handed to the encoder, are wiped
//! when dropped.

use zeroize::Zeroizing;

use super::layout::Layout;
use super::{encrypted, legacy_pem, Key, KeyType};
use crate::Error;

/// One PEM block, its contents decoded.
struct Block {
    label: String,
    /// `Proc-Type: 4,ENCRYPTED`
    encrypted: bool,
    dek_info: Option<String>,
    contents: Zeroizing<Vec<u8>>,
}

fn blocks(text: &[u8]) -> Result<Vec<Block>, Error> {
    let parsed = ::pem::parse_many(text).map_err(|e| Error::Key(format!("malformed PEM: {e}")))?;
    Ok(parsed
        .into_iter()
        .map(|block| {
            let label = block.tag().to_owned();
            let headers = block.headers();
            let encrypted = headers
                .get("Proc-Type")
                .is_some_and(|v| v.contains("ENCRYPTED"));
            let dek_info = headers.get("DEK-Info").map(str::to_owned);
            Block {
                label,
                encrypted,
                dek_info,
                contents: Zeroizing::new(block.into_contents()),
            }
        })
        .collect())
}

/// The layout a block's label promises, for blocks holding a key of `key_type`.
fn expected_layout(label: &str, key_type: KeyType) -> Option<Layout> {
    Some(match (label, key_type) {
        ("PRIVATE KEY" | "ENCRYPTED PRIVATE KEY", KeyType::PrivateKey) => Layout::Pkcs8,
        ("RSA PRIVATE KEY", KeyType::PrivateKey) => Layout::Pkcs1,
        ("EC PRIVATE KEY", KeyType::PrivateKey) => Layout::Sec1,
        ("DSA PRIVATE KEY", KeyType::PrivateKey) => Layout::DsaTraditional,
        ("PUBLIC KEY", KeyType::PublicKey) => Layout::Spki,
        ("RSA PUBLIC KEY", KeyType::PublicKey) => Layout::RsaPublic,
        _ => return None,
    })
}

/// Reads the first block holding a key of `key_type`, decrypting it with `passphrase` when it
/// is encrypted.
///
/// Fails with [`Error::Key`] when the text is not PEM, no block holds such a key, or the first
/// one is malformed; [`Error::PassphraseRequired`] and [`Error::WrongPassphrase`] as
/// [`Key::from_pem_with_passphrase`] says.
pub(super) fn read(text: &[u8], key_type: KeyType, passphrase: &[u8]) -> Result<Key, Error> {
    for block in blocks(text)? {
        let Some(expected) = expected_layout(&block.label, key_type) else {
            continue;
        };
        if block.label == "ENCRYPTED PRIVATE KEY" {
            if !encrypted::is_encrypted(&block.contents) {
                return Err(Error::Key(
                    "the ENCRYPTED PRIVATE KEY block holds no encrypted PKCS#8 key".into(),
                ));
            }
            let plaintext = encrypted::decrypt(&block.contents, passphrase)?;
            return Key::from_decrypted(&plaintext, key_type, expected);
        }
        if block.encrypted {
            let plaintext =
                legacy_pem::decrypt(block.dek_info.as_deref(), &block.contents, passphrase)?;
            return Key::from_decrypted(&plaintext, key_type, expected);
        }
        let decoded = Key::decode(&block.contents, key_type)?;
        if decoded.layout != expected {
            return Err(Error::Key(format!(
                "the {} block holds a key in another layout",
                block.label
            )));
        }
        return Ok(Key::from_decoded(decoded, key_type));
    }
    let wanted = match key_type {
        KeyType::PrivateKey => "private key",
        KeyType::PublicKey => "public key",
    };
    Err(Error::Key(format!(
        "the PEM text {}",
        crate::source::pem_lacks(text, wanted)
    )))
}

/// The PEM encoding of `der` under `label`, with `\n` line endings and a trailing newline.
pub(super) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let block = ::pem::Pem::new(label, der.to_vec());
    let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
    let text = Zeroizing::new(::pem::encode_config(&block, config));
    drop(Zeroizing::new(block.into_contents()));
    text
}
