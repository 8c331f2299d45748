//! DTLS: security for datagrams, after Qt's `QDtls` and `QDtlsClientVerifier`.
//!
//! Three parts, split as for TLS:
//!
//! - [`DtlsClientVerifier`] (Qt's `QDtlsClientVerifier`, in [`cookie`]): the stateless cookie
//!   exchange of RFC 6347 section 4.2.1 a server runs before it commits any state to a
//!   client. It lives here, in core, and needs no engine.
//! - [`DtlsEngine`] (in [`engine`]): what a backend implements, one association sans-IO: a
//!   datagram in, datagrams out, the retransmission timer as data.
//! - [`Dtls`] (Qt's `QDtls`, in [`front`]): the front end over a [`std::net::UdpSocket`]. It
//!   owns the peer, the handshake state, the timer and the verification decision (the same
//!   code [`SslSocket`](crate::SslSocket) uses), and reports Qt's [`DtlsError`] kinds. How it
//!   sends to the peer (to its address, or on a socket connected to it) lives in `route`;
//!   what it sends through is any [`DatagramSocket`] (in [`socket`]): std's or tokio's.

pub mod cookie;
pub mod engine;
pub mod front;
mod route;
pub mod socket;

use std::fmt;

pub use cookie::{CookieHash, DtlsClientVerifier, GeneratorParameters};
pub use engine::{DtlsEngine, DtlsEngineParams, DtlsRead};
pub use front::Dtls;
pub use socket::DatagramSocket;

/// Qt's `QDtls::HandshakeState`: where an association's handshake is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HandshakeState {
    /// No handshake was started (or the association was shut down or aborted).
    #[default]
    HandshakeNotStarted,
    /// The handshake is running.
    HandshakeInProgress,
    /// The handshake finished on the wire, but the peer's identity could not be established:
    /// ignore the errors and resume it, or abort it.
    PeerVerificationFailed,
    /// The association is encrypted.
    HandshakeComplete,
}

/// Qt's `QDtlsError`: the kind of the last error of a [`Dtls`] or [`DtlsClientVerifier`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DtlsError {
    /// No error.
    #[default]
    NoError,
    /// An argument cannot work (an address, an empty datagram, an empty secret).
    InvalidInputParameters,
    /// The call is not possible in the current handshake state.
    InvalidOperation,
    /// The UDP socket failed.
    UnderlyingSocketError,
    /// The peer sent close_notify.
    RemoteClosedConnectionError,
    /// The peer's identity could not be established.
    PeerVerificationError,
    /// The backend could not set the association up.
    TlsInitializationError,
    /// The association failed and cannot go on.
    TlsFatalError,
    /// A datagram could not be processed, but the association goes on.
    TlsNonFatalError,
}

impl DtlsError {
    /// The member's name, as Qt spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoError => "NoError",
            Self::InvalidInputParameters => "InvalidInputParameters",
            Self::InvalidOperation => "InvalidOperation",
            Self::UnderlyingSocketError => "UnderlyingSocketError",
            Self::RemoteClosedConnectionError => "RemoteClosedConnectionError",
            Self::PeerVerificationError => "PeerVerificationError",
            Self::TlsInitializationError => "TlsInitializationError",
            Self::TlsFatalError => "TlsFatalError",
            Self::TlsNonFatalError => "TlsNonFatalError",
        }
    }
}

impl fmt::Display for DtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Refuses, with [`Error::InvalidInput`](crate::Error::InvalidInput), an address a DTLS peer
/// cannot have: unspecified (Qt's null address), broadcast or multicast.
pub(crate) fn check_peer_address(address: std::net::IpAddr) -> Result<(), crate::Error> {
    use std::net::IpAddr;
    let why = if address.is_unspecified() {
        Some("is not a valid address")
    } else if address.is_multicast() {
        Some("is a multicast address")
    } else if matches!(address, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("is a broadcast address")
    } else {
        None
    };
    match why {
        Some(why) => Err(crate::Error::InvalidInput(format!(
            "{address} {why}: a DTLS peer needs a unicast address"
        ))),
        None => Ok(()),
    }
}
