//! The contract between the [`Dtls`](super::Dtls) front end and a backend's DTLS engine:
//! [`DtlsEngine`], one association, sans-IO.
//!
//! The engine never touches a socket. The front end hands it each datagram received from the
//! peer and sends, after every call, the datagrams the engine queued (handshake flights,
//! retransmissions, alerts, encrypted application data). Time is data too: the engine says
//! how long its retransmission timer has left ([`DtlsEngine::timeout`]), and the front end
//! calls [`DtlsEngine::handle_timeout`] once it has passed.
//!
//! The DtlsCookie class is part of this contract: an engine whose backend claims it accepts,
//! as a server's first datagram, a ClientHello whose cookie core's
//! [`DtlsClientVerifier`](super::DtlsClientVerifier) verified
//! ([`DtlsEngine::accept_verified_hello`]), and continues the handshake as if it had run the
//! cookie exchange itself.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::VerificationHook;
use crate::{Error, PeerName, PeerVerifyMode, SessionInfo, SslConfiguration, SslMode};

/// The outcome of [`DtlsEngine::decrypt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtlsRead {
    /// This many bytes of application data were appended to the output (possibly 0, for an
    /// empty record).
    Data(usize),
    /// The datagram held no application data (a retransmitted handshake message the engine
    /// may have answered, a record that failed authentication and was dropped, as RFC 6347
    /// requires).
    Nothing,
    /// The peer sent close_notify, after the application data appended to the output (if
    /// the datagram held records before it): nothing more will come.
    Closed,
}

/// Everything a backend needs to create a [`DtlsEngine`].
#[non_exhaustive]
pub struct DtlsEngineParams<'a> {
    /// Client or server (never `UnencryptedMode`).
    pub mode: SslMode,
    /// The association's configuration, validated by the front end (a DTLS protocol).
    pub config: &'a SslConfiguration,
    /// The verification mode with `AutoVerifyPeer` resolved for this side.
    pub verify_mode: PeerVerifyMode,
    /// Client only: the name the server's certificate is verified against (and sent as SNI
    /// when it is a DNS name).
    pub peer_name: Option<&'a PeerName>,
    /// Where the engine reports what it found when `verify_mode` is `VerifyPeer`.
    pub verifier: Arc<dyn VerificationHook>,
    /// The largest datagram the engine may send, in bytes (UDP payload); at least 256.
    pub mtu: u16,
    /// Whether the association has a pre-shared key handler, as
    /// [`EngineParams::pre_shared_key_handler`](crate::EngineParams::pre_shared_key_handler)
    /// says for TLS. [`new`](Self::new) sets it to false.
    pub pre_shared_key_handler: bool,
}

impl<'a> DtlsEngineParams<'a> {
    /// Bundles the parameters (for the front end and for tests of a backend).
    pub fn new(
        mode: SslMode,
        config: &'a SslConfiguration,
        peer_name: Option<&'a PeerName>,
        verifier: Arc<dyn VerificationHook>,
        mtu: u16,
    ) -> DtlsEngineParams<'a> {
        DtlsEngineParams {
            mode,
            config,
            verify_mode: config.peer_verify_mode.resolve(mode),
            peer_name,
            verifier,
            mtu,
            pre_shared_key_handler: false,
        }
    }
}

/// One DTLS association, sans-IO (see the module documentation).
///
/// No method blocks or performs I/O; the engine queues what it wants sent and the front end
/// drains the queue with [`send_queued`](Self::send_queued) after every call.
pub trait DtlsEngine: Send {
    /// Advances the handshake with `datagram` from the peer (`None` for a client's first
    /// call, which queues the ClientHello; a server's first call gets the ClientHello).
    /// Returns `true` once the handshake is complete.
    ///
    /// Fails with [`Error::Handshake`] or [`Error::Protocol`] when the association cannot go
    /// on; an alert for the peer may then be queued.
    fn handshake(&mut self, datagram: Option<&[u8]>) -> Result<bool, Error>;

    /// The DtlsCookie class: a server's first call, with a ClientHello whose `cookie` core
    /// verified (the client sent it after a HelloVerifyRequest, so its message sequence is
    /// 1). Returns what [`handshake`](Self::handshake) returns.
    ///
    /// Fails as [`handshake`](Self::handshake) does, and with [`Error::Unsupported`] (the
    /// default) when the engine cannot continue an exchange core started.
    fn accept_verified_hello(&mut self, hello: &[u8], cookie: &[u8]) -> Result<bool, Error> {
        let _ = (hello, cookie);
        Err(Error::unsupported(
            "this DTLS engine",
            "accepting a ClientHello verified by DtlsClientVerifier",
        ))
    }

    /// How long the retransmission timer has left, or `None` when none runs.
    fn timeout(&self) -> Option<Duration>;

    /// Call once [`timeout`](Self::timeout) has passed: retransmits the last flight (with
    /// the timer doubled, from 1 s up to 60 s). Returns `true` when it retransmitted.
    ///
    /// Fails with [`Error::Timeout`] when the engine gives up after too many retransmissions.
    fn handle_timeout(&mut self) -> Result<bool, Error>;

    /// Encrypts `plaintext` into one record in one datagram, queued.
    ///
    /// Fails with [`Error::InvalidInput`] when `plaintext` does not fit in one datagram at
    /// the current MTU (nothing is queued and the association goes on), and with
    /// [`Error::InvalidState`] before the handshake completes or after close.
    fn encrypt(&mut self, plaintext: &[u8]) -> Result<(), Error>;

    /// Decrypts one datagram from the peer, appending its application data to `out`: the
    /// data of every record it holds, in order (a sender may pack several records into one
    /// datagram, RFC 6347 section 4.1.1).
    ///
    /// Fails with [`Error::Protocol`] when the peer sent a fatal alert or broke the protocol.
    fn decrypt(&mut self, datagram: &[u8], out: &mut Vec<u8>) -> Result<DtlsRead, Error>;

    /// The largest plaintext [`encrypt`](Self::encrypt) takes now.
    fn max_plaintext(&self) -> usize;

    /// Queues a close_notify alert; nothing is encrypted after it.
    fn send_close_notify(&mut self);

    /// Sends every queued datagram, in order, with `send`, stopping at the first error
    /// (the unsent datagrams stay queued) and returning it.
    fn send_queued(&mut self, send: &mut dyn FnMut(&[u8]) -> io::Result<usize>) -> io::Result<()>;

    /// Whether datagrams wait for [`send_queued`](Self::send_queued). The front end asks
    /// before sending after a received application datagram, which rarely queues an answer;
    /// the default, `true`, has it call `send_queued` every time.
    fn has_queued(&self) -> bool {
        true
    }

    /// The facts of the association; meaningful once the handshake is complete.
    fn session(&self) -> SessionInfo;
}
