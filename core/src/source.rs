//! Where certificates and keys come from: reading a file so that its errors name it, and
//! saying what a PEM text holds when it does not hold what was asked for.

use std::io;
use std::path::Path;

use zeroize::Zeroizing;

use crate::Error;

/// Reads `path` whole. Fails with [`Error::Io`] (of the same kind) naming the file.
pub(crate) fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::Io(io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", path.display()),
        ))
    })
}

/// `error` with the file it concerns named at the front of its message, for the variants
/// that carry one (certificate, key and invalid-input errors); the others are returned as
/// they are.
pub(crate) fn in_file(path: &Path, error: Error) -> Error {
    let name = |message: String| format!("{}: {message}", path.display());
    match error {
        Error::Certificate(message) => Error::Certificate(name(message)),
        Error::Key(message) => Error::Key(name(message)),
        Error::InvalidInput(message) => Error::InvalidInput(name(message)),
        other => other,
    }
}

/// What a text holds, in words, for an error that says it lacks `wanted` (`"certificate"`,
/// `"private key"`): `"is empty"`, `"holds a private key, not a certificate"`, `"holds no
/// certificate (only PUBLIC KEY blocks)"`, `"holds no PEM block"`...
pub(crate) fn pem_lacks(text: &[u8], wanted: &str) -> String {
    if text.iter().all(u8::is_ascii_whitespace) {
        return "is empty".into();
    }
    let labels: Vec<String> = ::pem::parse_many(text)
        .map(|blocks| blocks.iter().map(|b| b.tag().to_owned()).collect())
        .unwrap_or_default();
    let holds = |what: &str| labels.iter().any(|label| kind_of(label) == Some(what));
    let found = ["private key", "certificate", "public key"]
        .into_iter()
        .find(|kind| *kind != wanted && holds(kind));
    match (labels.is_empty(), found) {
        (true, _) => format!("holds no PEM block (is it DER? no {wanted} found)"),
        (false, Some(found)) => format!("holds {} {found}, not {} {wanted}", a(found), a(wanted)),
        (false, None) => {
            let mut distinct = labels.clone();
            distinct.dedup();
            format!("holds no {wanted} (only {} blocks)", distinct.join(", "))
        }
    }
}

fn a(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// What a PEM label holds, in the words of [`pem_lacks`].
fn kind_of(label: &str) -> Option<&'static str> {
    if label.ends_with("PRIVATE KEY") {
        Some("private key")
    } else if label.ends_with("PUBLIC KEY") {
        Some("public key")
    } else if label.ends_with("CERTIFICATE") && !label.contains("REQUEST") {
        Some("certificate")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_a_text_holds_instead() {
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_lacks(key, "certificate"),
            "holds a private key, not a certificate"
        );
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_lacks(cert, "private key"),
            "holds a certificate, not a private key"
        );
        assert_eq!(pem_lacks(b" \n", "certificate"), "is empty");
        assert_eq!(
            pem_lacks(b"\x30\x03\x02\x01\x00", "certificate"),
            "holds no PEM block (is it DER? no certificate found)"
        );
        let params = b"-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n";
        assert_eq!(
            pem_lacks(params, "certificate"),
            "holds no certificate (only DH PARAMETERS blocks)"
        );
    }

    #[test]
    fn errors_name_their_file() {
        let missing = Path::new("no/such/dir/ca.pem");
        let e = read(missing).unwrap_err();
        assert!(
            matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot read no/such/dir/ca.pem: "),
            "{e}"
        );
        let e = in_file(missing, Error::Certificate("bad".into()));
        assert_eq!(e.to_string(), "certificate: no/such/dir/ca.pem: bad");
        assert!(matches!(
            in_file(missing, Error::WrongPassphrase),
            Error::WrongPassphrase
        ));
    }
}
