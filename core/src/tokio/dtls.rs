//! [`AsyncDtls`]: one DTLS association over a tokio `UdpSocket` that carries it alone,
//! driven by async calls.
//!
//! It runs the blocking front end's [`Dtls`] (the same state, verification decision, events
//! and errors), waiting on the socket where the blocking application waits: for the peer's
//! next datagram, for the retransmission timer, and for room in the send buffer, where a
//! blocking socket would have blocked (what did not fit stays queued and goes out with
//! [`Dtls::send_pending`] once the socket is writable). A server that serves many peers on
//! one socket demultiplexes itself and calls [`Dtls`] with the tokio socket, which is a
//! [`DatagramSocket`](crate::DatagramSocket) too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::{Dtls, Error, HandshakeState};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// How long to wait for the peer's next handshake datagram when the engine runs no timer.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A [`Dtls`] association over a tokio `UdpSocket` (see the module documentation).
///
/// ```no_run
/// # async fn client() -> Result<(), polytls::Error> {
/// use std::sync::Arc;
/// use polytls::tokio::AsyncDtls;
/// use polytls::{Dtls, SslMode};
///
/// let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
/// socket.connect("192.0.2.10:4433").await?;
/// let mut dtls = Dtls::new(SslMode::SslClientMode)?;
/// dtls.set_peer("192.0.2.10".parse().unwrap(), 4433, Some("example.com"))?;
/// dtls.set_socket_connected(true);
/// let mut association = AsyncDtls::new(dtls, Arc::new(socket));
/// association.connect().await?;
/// association.send(b"hello").await?;
/// if let Some(answer) = association.recv().await? {
///     println!("{}", String::from_utf8_lossy(&answer));
/// }
/// association.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct AsyncDtls {
    dtls: Dtls,
    socket: Arc<UdpSocket>,
    buf: Vec<u8>,
    /// The peer's close_notify ended the association (after data [`recv`](Self::recv)
    /// returned, when both came in one datagram).
    closed: bool,
}

impl std::fmt::Debug for AsyncDtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDtls")
            .field("dtls", &self.dtls)
            .finish_non_exhaustive()
    }
}

impl AsyncDtls {
    /// `dtls` over `socket`, which carries this association alone: datagrams from any
    /// address but the peer's are dropped. The peer must be set
    /// ([`Dtls::set_peer`]) before [`connect`](Self::connect) or [`accept`](Self::accept).
    pub fn new(dtls: Dtls, socket: Arc<UdpSocket>) -> AsyncDtls {
        AsyncDtls {
            dtls,
            socket,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// The association, for its state, session and errors.
    pub fn dtls(&self) -> &Dtls {
        &self.dtls
    }

    /// The association, to ignore errors or set handlers between calls.
    pub fn dtls_mut(&mut self) -> &mut Dtls {
        &mut self.dtls
    }

    /// The socket.
    pub fn socket(&self) -> &Arc<UdpSocket> {
        &self.socket
    }

    /// The association and the socket.
    pub fn into_inner(self) -> (Dtls, Arc<UdpSocket>) {
        (self.dtls, self.socket)
    }

    /// A client's handshake: sends the ClientHello and runs the handshake until it completes.
    ///
    /// Fails with [`Error::Verification`] when it stopped on verification errors nobody
    /// ignored: [`handshake_state`](Dtls::handshake_state) is then `PeerVerificationFailed`,
    /// and the caller ignores them ([`Dtls::ignore_verification_errors`]) and
    /// [`resume`](Self::resume)s, or [`abort`](Self::abort)s. Fails otherwise as
    /// [`Dtls::do_handshake`] and [`Dtls::handle_timeout`] do (the latter with
    /// [`Error::Timeout`] when the peer stays silent through every retransmission), and with
    /// [`Error::Io`] when the socket fails.
    pub async fn connect(&mut self) -> Result<(), Error> {
        self.step(|dtls, socket| dtls.do_handshake(socket, &[]).map(drop))
            .await?;
        self.drive().await
    }

    /// A server's handshake: takes the client's first ClientHello (the one
    /// [`DtlsClientVerifier`](crate::DtlsClientVerifier) verified, when cookie verification
    /// is on) and runs the handshake as [`connect`](Self::connect) does.
    ///
    /// Fails as [`connect`](Self::connect) does.
    pub async fn accept(&mut self, hello: &[u8]) -> Result<(), Error> {
        self.step(|dtls, socket| dtls.do_handshake(socket, hello).map(drop))
            .await?;
        self.drive().await
    }

    /// Runs a handshake already under way on the association (started with
    /// [`Dtls::do_handshake`], after a cookie exchange the caller ran, say) as
    /// [`connect`](Self::connect) does.
    ///
    /// Fails with [`Error::InvalidState`] when no handshake is in progress, and as
    /// [`connect`](Self::connect) does.
    pub async fn handshake(&mut self) -> Result<(), Error> {
        self.drive().await
    }

    /// Resumes a handshake stopped on verification errors the caller has since ignored
    /// ([`Dtls::ignore_verification_errors`]), and runs it as [`connect`](Self::connect)
    /// does.
    ///
    /// Fails as [`Dtls::resume_handshake`] and [`connect`](Self::connect) do.
    pub async fn resume(&mut self) -> Result<(), Error> {
        self.step(|dtls, socket| dtls.resume_handshake(socket))
            .await?;
        self.drive().await
    }

    /// Aborts a handshake stopped on verification errors (the peer is told with an alert
    /// where the engine can send one).
    ///
    /// Fails as [`Dtls::abort_handshake`] does.
    pub async fn abort(&mut self) -> Result<(), Error> {
        self.step(|dtls, socket| dtls.abort_handshake(socket)).await
    }

    /// Encrypts `data` into one datagram and sends it, waiting for room in the send buffer
    /// if there is none. Returns the bytes sent on the wire.
    ///
    /// Fails as [`Dtls::write_datagram_encrypted`] does.
    pub async fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        match self.dtls.write_datagram_encrypted(&*self.socket, data) {
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => self.send_pending().await,
            other => other,
        }
    }

    /// The next application datagram from the peer, decrypted: `Some(data)`, or `None` once
    /// the peer closed the association with close_notify ([`Dtls::dtls_error`] is then
    /// `RemoteClosedConnectionError`). Datagrams that hold no application data (a
    /// retransmitted handshake message, which the engine answers, or a record that does not
    /// authenticate) are taken and waited past. A server keeps calling it after its
    /// handshake: a client whose last flight was lost retransmits it, and only a server that
    /// reads answers.
    ///
    /// Fails as [`Dtls::decrypt_datagram`] does, and with [`Error::Io`] when the socket
    /// fails.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if self.closed {
                return Ok(None);
            }
            let n = self.receive().await?;
            let mut out = Vec::new();
            self.dtls
                .decrypt_datagram_into(&*self.socket, &self.buf[..n], &mut out)?;
            if !self.dtls.is_connection_encrypted() {
                // The peer closed, perhaps after data in the same datagram.
                self.closed = true;
                return Ok((!out.is_empty()).then_some(out));
            }
            // An answer the engine owed the peer that did not fit the send buffer.
            if self.dtls.has_pending() {
                self.send_pending().await?;
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    /// Sends close_notify and ends the association.
    ///
    /// Fails as [`Dtls::shutdown`] does; a full send buffer is waited out, not an error.
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        let result = self.dtls.shutdown(&*self.socket);
        self.after(result).await
    }

    /// Runs `call`, and when the socket's send buffer was full, waits for room and sends what
    /// stayed queued.
    async fn step(
        &mut self,
        call: impl FnOnce(&mut Dtls, &UdpSocket) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let result = call(&mut self.dtls, &self.socket);
        self.after(result).await
    }

    /// The outcome of a call on the association: when the socket's send buffer was full,
    /// waits for room and sends what stayed queued.
    async fn after(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        match result {
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.send_pending().await.map(drop)
            }
            other => other,
        }
    }

    /// Waits for room in the send buffer and sends what the association queued, until
    /// nothing is left. Returns the bytes sent.
    async fn send_pending(&mut self) -> Result<usize, Error> {
        loop {
            self.socket.writable().await?;
            match self.dtls.send_pending(&*self.socket) {
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
    }

    /// Runs the handshake until it completes or stops on verification errors: each datagram
    /// from the peer goes to the association, and when none comes before the retransmission
    /// timer passes, the timer is handled.
    async fn drive(&mut self) -> Result<(), Error> {
        loop {
            match self.dtls.handshake_state() {
                HandshakeState::HandshakeComplete | HandshakeState::PeerVerificationFailed => {
                    return Ok(())
                }
                HandshakeState::HandshakeNotStarted => {
                    return Err(Error::InvalidState(
                        "the DTLS handshake is not running".into(),
                    ))
                }
                HandshakeState::HandshakeInProgress => {}
            }
            // At least a millisecond: a timer reported as passed a hair early is not spun on.
            let wait = self
                .dtls
                .timeout()
                .unwrap_or(IDLE_POLL)
                .max(Duration::from_millis(1));
            match tokio::time::timeout(wait, self.receive()).await {
                Ok(received) => {
                    let n = received?;
                    // The datagram is read where it lies, beside the association.
                    let stepped = self.dtls.do_handshake(&*self.socket, &self.buf[..n]);
                    self.after(stepped).await?;
                }
                Err(_) => {
                    self.step(|dtls, socket| dtls.handle_timeout(socket).map(drop))
                        .await?;
                }
            }
        }
    }

    /// Receives the next datagram from the peer into the buffer. Returns its length.
    async fn receive(&mut self) -> Result<usize, Error> {
        let peer = match (self.dtls.peer_address(), self.dtls.peer_port()) {
            (Some(ip), port) => SocketAddr::new(ip, port),
            (None, _) => {
                return Err(Error::InvalidState(
                    "the DTLS association has no peer: call set_peer first".into(),
                ))
            }
        };
        if self.buf.len() < MAX_DATAGRAM {
            self.buf.resize(MAX_DATAGRAM, 0);
        }
        loop {
            let (n, from) = self.socket.recv_from(&mut self.buf).await?;
            if from == peer {
                return Ok(n);
            }
        }
    }
}
