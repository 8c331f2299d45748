//! Pre-shared key authentication (Qt's `QSslPreSharedKeyAuthenticator`).
//!
//! When a handshake negotiates a PSK cipher suite, the engine asks the front end for the key:
//! a [`PreSharedKeyAuthenticator`] goes to the handler set with
//! [`Session::on_pre_shared_key_authentication_required`](crate::Session::on_pre_shared_key_authentication_required),
//! which fills it in. A client learns the server's identity hint and gives its identity and
//! key; a server learns the client's identity and gives the key for it. A handler that gives
//! no key, or a key or an identity longer than the protocol allows, fails the handshake.
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! use polytls::{PeerVerifyMode, SslSocket};
//!
//! let mut socket = SslSocket::new(std::net::TcpStream::connect("sensor.local:4433")?)?;
//! // A PSK server sends no certificate: the key is what authenticates it.
//! socket.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
//! socket.on_pre_shared_key_authentication_required(|auth| {
//!     auth.set_identity(b"sensor-17".to_vec());
//!     auth.set_pre_shared_key(b"a key of at least 16 bytes".to_vec());
//! });
//! socket.start_client_encryption()?;
//! socket.handshake()?;
//! # Ok(())
//! # }
//! ```

use std::fmt;

use zeroize::Zeroizing;

/// The authentication data of one PSK handshake, handed to a handler to fill in.
///
/// Backends make it with [`for_client`](Self::for_client) or
/// [`for_server`](Self::for_server) and read back [`identity`](Self::identity) and
/// [`pre_shared_key`](Self::pre_shared_key) once the handler returns. The key is wiped from
/// memory when the authenticator is dropped.
#[derive(Clone)]
pub struct PreSharedKeyAuthenticator {
    /// Made for a server (the identity is the client's and cannot change).
    server: bool,
    identity_hint: Vec<u8>,
    identity: Vec<u8>,
    pre_shared_key: Zeroizing<Vec<u8>>,
    maximum_identity_length: usize,
    maximum_pre_shared_key_length: usize,
}

impl PreSharedKeyAuthenticator {
    /// The authenticator a client's handler fills in: the server's `identity_hint` (empty
    /// when it sent none), the longest identity and key the engine can send.
    pub fn for_client(
        identity_hint: &[u8],
        maximum_identity_length: usize,
        maximum_pre_shared_key_length: usize,
    ) -> PreSharedKeyAuthenticator {
        PreSharedKeyAuthenticator {
            server: false,
            identity_hint: identity_hint.to_vec(),
            identity: Vec::new(),
            pre_shared_key: Zeroizing::new(Vec::new()),
            maximum_identity_length,
            maximum_pre_shared_key_length,
        }
    }

    /// The authenticator a server's handler fills in: the `identity` the client sent and the
    /// longest key the engine can use. Its maximum identity length is 0: a server gives no
    /// identity.
    pub fn for_server(
        identity: &[u8],
        maximum_pre_shared_key_length: usize,
    ) -> PreSharedKeyAuthenticator {
        PreSharedKeyAuthenticator {
            server: true,
            identity_hint: Vec::new(),
            identity: identity.to_vec(),
            pre_shared_key: Zeroizing::new(Vec::new()),
            maximum_identity_length: 0,
            maximum_pre_shared_key_length,
        }
    }

    /// The identity hint the server sent (a client's handler reads it to choose the identity);
    /// empty when it sent none, and on a server.
    pub fn identity_hint(&self) -> &[u8] {
        &self.identity_hint
    }

    /// The identity: on a server, the one the client sent; on a client, the one its handler
    /// set (empty until then).
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// Sets the identity a client sends. At most
    /// [`maximum_identity_length`](Self::maximum_identity_length) bytes, and no NUL byte
    /// (TLS libraries take it as a C string); otherwise the handshake fails, naming the
    /// identity. A server's handler does not set it.
    pub fn set_identity(&mut self, identity: impl Into<Vec<u8>>) {
        self.identity = identity.into();
    }

    /// The longest identity the client may send, in bytes; 0 on a server.
    pub fn maximum_identity_length(&self) -> usize {
        self.maximum_identity_length
    }

    /// The key the handler set (empty until then).
    pub fn pre_shared_key(&self) -> &[u8] {
        &self.pre_shared_key
    }

    /// Sets the key. At most
    /// [`maximum_pre_shared_key_length`](Self::maximum_pre_shared_key_length) bytes; an empty
    /// or longer key fails the handshake.
    pub fn set_pre_shared_key(&mut self, key: impl Into<Vec<u8>>) {
        self.pre_shared_key = Zeroizing::new(key.into());
    }

    /// The longest key the engine can use, in bytes.
    pub fn maximum_pre_shared_key_length(&self) -> usize {
        self.maximum_pre_shared_key_length
    }

    /// Why what the handler gave cannot be used, or `None` when it can: no key, a key or an
    /// identity that is too long, an identity with a NUL byte, or a server's handler that set
    /// an identity of its own.
    pub(crate) fn problem(&self, given_identity: &[u8]) -> Option<String> {
        let server = self.server;
        let shown = String::from_utf8_lossy(&self.identity);
        if self.pre_shared_key.is_empty() {
            Some(if server {
                format!("no pre-shared key for the identity \"{shown}\"")
            } else {
                "no pre-shared key was given".to_owned()
            })
        } else if self.pre_shared_key.len() > self.maximum_pre_shared_key_length {
            Some(format!(
                "the pre-shared key is {} bytes, more than the {} the engine can use",
                self.pre_shared_key.len(),
                self.maximum_pre_shared_key_length
            ))
        } else if server && self.identity != given_identity {
            Some("a server's handler cannot change the client's identity".to_owned())
        } else if !server && self.identity.len() > self.maximum_identity_length {
            Some(format!(
                "the identity \"{shown}\" is {} bytes, more than the {} that can be sent",
                self.identity.len(),
                self.maximum_identity_length
            ))
        } else if !server && self.identity.contains(&0) {
            Some(format!("the identity \"{shown}\" holds a NUL byte"))
        } else {
            None
        }
    }
}

impl fmt::Debug for PreSharedKeyAuthenticator {
    /// Shows everything but the key, of which only the length is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreSharedKeyAuthenticator")
            .field("server", &self.server)
            .field(
                "identity_hint",
                &String::from_utf8_lossy(&self.identity_hint),
            )
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("pre_shared_key_len", &self.pre_shared_key.len())
            .field("maximum_identity_length", &self.maximum_identity_length)
            .field(
                "maximum_pre_shared_key_length",
                &self.maximum_pre_shared_key_length,
            )
            .finish()
    }
}

impl PartialEq for PreSharedKeyAuthenticator {
    /// Equal when every field is (Qt's `operator==`).
    fn eq(&self, other: &Self) -> bool {
        self.server == other.server
            && self.identity_hint == other.identity_hint
            && self.identity == other.identity
            && *self.pre_shared_key == *other.pre_shared_key
            && self.maximum_identity_length == other.maximum_identity_length
            && self.maximum_pre_shared_key_length == other.maximum_pre_shared_key_length
    }
}

impl Eq for PreSharedKeyAuthenticator {}

#[cfg(test)]
mod tests {
    use super::PreSharedKeyAuthenticator;

    #[test]
    fn what_a_handler_gives_is_checked() {
        let mut client = PreSharedKeyAuthenticator::for_client(b"hint", 4, 8);
        assert!(client.problem(b"").unwrap().contains("no pre-shared key"));
        client.set_pre_shared_key(vec![1; 9]);
        assert!(client.problem(b"").unwrap().contains("9 bytes"));
        client.set_pre_shared_key(vec![1; 8]);
        assert_eq!(client.problem(b""), None);
        client.set_identity(b"abcde".to_vec());
        assert!(client.problem(b"").unwrap().contains("5 bytes"));
        client.set_identity(b"a\0b".to_vec());
        assert!(client.problem(b"").unwrap().contains("NUL"));

        let mut server = PreSharedKeyAuthenticator::for_server(b"id", 8);
        assert!(server.problem(b"id").unwrap().contains("\"id\""));
        server.set_pre_shared_key(vec![1]);
        assert_eq!(server.problem(b"id"), None);
        server.set_identity(b"other".to_vec());
        assert!(server.problem(b"id").unwrap().contains("cannot change"));
    }

    #[test]
    fn the_key_is_not_shown() {
        let mut auth = PreSharedKeyAuthenticator::for_client(b"h", 128, 256);
        auth.set_pre_shared_key(b"secret".to_vec());
        let shown = format!("{auth:?}");
        assert!(!shown.contains("secret") && shown.contains("pre_shared_key_len: 6"));
        assert_eq!(auth.clone(), auth);
    }
}
