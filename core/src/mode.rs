//! Small enumerations of a socket's role and verification policy.

use std::fmt;

/// Qt's `QSslSocket::SslMode`: whether a socket is encrypting, and on which side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SslMode {
    /// Plain, unencrypted.
    #[default]
    UnencryptedMode,
    /// This side is the TLS client.
    SslClientMode,
    /// This side is the TLS server.
    SslServerMode,
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Qt's `QSslSocket::PeerVerifyMode`: whether the peer's certificate is requested and verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerVerifyMode {
    /// Do not request a certificate and do not verify one the peer sends anyway.
    VerifyNone,
    /// Request a certificate but accept the peer without one or with an invalid one.
    QueryPeer,
    /// Require a valid certificate: every problem is an error that fails the handshake unless
    /// it is ignored.
    VerifyPeer,
    /// `VerifyPeer` for clients, `QueryPeer` for servers.
    #[default]
    AutoVerifyPeer,
}

impl PeerVerifyMode {
    /// Every member, in Qt's order.
    pub const ALL: [PeerVerifyMode; 4] = [
        Self::VerifyNone,
        Self::QueryPeer,
        Self::VerifyPeer,
        Self::AutoVerifyPeer,
    ];

    /// The concrete mode for a side: `AutoVerifyPeer` becomes `VerifyPeer` for a client and
    /// `QueryPeer` for a server; the others are returned unchanged.
    pub fn resolve(self, mode: SslMode) -> PeerVerifyMode {
        match (self, mode) {
            (Self::AutoVerifyPeer, SslMode::SslServerMode) => Self::QueryPeer,
            (Self::AutoVerifyPeer, _) => Self::VerifyPeer,
            (other, _) => other,
        }
    }
}

impl fmt::Display for PeerVerifyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
