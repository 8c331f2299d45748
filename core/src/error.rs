//! [`Error`]: everything that can go wrong, as data a caller can match on.

use std::io;

use crate::{AlertType, SslError};

/// The error type of every fallible polytls operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend does not implement what was asked; its capability queries say so too.
    #[error("backend '{backend}' does not support {what}")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// What was asked for.
        what: String,
    },
    /// No backend of that name is registered, or it is not available: a name a caller
    /// passed, or the one the environment variable `variable` gives.
    #[error("{}", unknown_backend(.name, .variable.as_deref(), .available))]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The environment variable the name came from (`POLYTLS_BACKEND`), or `None` when a
        /// caller passed it.
        variable: Option<String>,
        /// The backends that are available, in priority order.
        available: Vec<String>,
    },
    /// No TLS backend is registered at all.
    #[error(
        "no TLS backend is compiled in: enable a backend feature of the polytls crate \
         (openssl, rustls) or depend on a backend crate and name it once \
         (`use polytls_openssl as _;`)"
    )]
    NoBackend,
    /// A caller passed an argument or configuration that cannot work.
    #[error("invalid argument: {0}")]
    InvalidInput(String),
    /// A certificate could not be parsed.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A key could not be parsed or used.
    #[error("key: {0}")]
    Key(String),
    /// The key (or PKCS#12 file) is encrypted and no passphrase, or an empty one, was given.
    #[error("the key is encrypted: a passphrase is needed")]
    PassphraseRequired,
    /// The passphrase does not decrypt the key (or open the PKCS#12 file): the decryption's
    /// padding or the bytes it gives are not a key, or the file's integrity check fails.
    #[error("the passphrase does not decrypt the key")]
    WrongPassphrase,
    /// The key is encrypted with a cipher (or digest) that is not available here: this
    /// library does not implement it, or the backend's library does not offer it (OpenSSL 3
    /// keeps DES, RC2 and RC4 in its legacy provider). The passphrase was not tried.
    #[error("the key is encrypted with {cipher}, which is not available: {reason}")]
    UnavailableCipher {
        /// The encryption scheme or cipher, by name (and OID where it has one).
        cipher: String,
        /// Why it is not available, and what to do about it.
        reason: String,
    },
    /// The handshake was refused because of verification errors nobody ignored.
    #[error("peer verification failed: {}", list(.0))]
    Verification(Vec<SslError>),
    /// The handshake failed for a reason other than verification.
    #[error("handshake failed: {message}")]
    Handshake {
        /// What the engine said.
        message: String,
        /// The alert received from the peer, if the failure was the peer's.
        alert: Option<AlertType>,
    },
    /// The peer sent data that is not valid TLS, or broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer closed the connection without close_notify: the data may be cut short.
    #[error("the peer closed the connection without close_notify: data may be truncated")]
    Truncated,
    /// The operation is not possible in the socket's current state.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The operation did not finish in the time allowed; `what` names it and the limit ("the
    /// TLS handshake as a client (limit 5000 ms)").
    #[error("{what} timed out")]
    Timeout {
        /// What timed out, with the limit.
        what: String,
    },
    /// The underlying transport failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn unknown_backend(name: &str, variable: Option<&str>, available: &[String]) -> String {
    let available = if available.is_empty() {
        "none is available".to_owned()
    } else {
        format!("available: {}", available.join(", "))
    };
    match variable {
        Some(variable) => format!(
            "{variable} names '{name}', which is not an available TLS backend ({available}): \
             name one of them, or unset {variable}"
        ),
        None => format!("no available TLS backend named '{name}' ({available})"),
    }
}

fn list(errors: &[SslError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// [`Error::Timeout`] for `what`, which ran out of `limit`.
    pub fn timed_out(what: impl std::fmt::Display, limit: std::time::Duration) -> Error {
        Error::Timeout {
            what: format!("{what} (limit {} ms)", limit.as_millis()),
        }
    }
    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(backend: impl Into<String>, what: impl Into<String>) -> Error {
        Error::Unsupported {
            backend: backend.into(),
            what: what.into(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::Truncated => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            Error::Timeout { .. } => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::InvalidInput(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            Error::Unsupported { .. } | Error::UnavailableCipher { .. } => {
                io::Error::new(io::ErrorKind::Unsupported, e)
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
