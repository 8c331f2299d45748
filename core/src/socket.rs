//! [`SslSocket`]: a blocking TLS socket over any `Read + Write` stream (Qt's `QSslSocket`).
//!
//! The socket owns everything around the engine: the state machine (unencrypted,
//! handshaking, encrypted, closed), the queue of data written before the handshake ends, the
//! verification decision (ignore lists and handlers), events and timeouts. The engine, made by
//! the chosen backend, only turns ciphertext into plaintext and back. So every backend behaves
//! the same, and two sockets in one process may use two backends.
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use polytls::{SslErrorKind, SslSocket};
//!
//! let tcp = TcpStream::connect("mail.example.com:587")?;
//! let mut socket = SslSocket::with_backend(tcp, "rustls")?;
//! // ... a plaintext SMTP exchange up to STARTTLS ...
//! socket.set_peer_verify_name("mail.example.com");
//! socket.on_ssl_errors(|decision| {
//!     // Accept an expired certificate, and nothing else.
//!     let expired: Vec<_> = decision.errors().iter()
//!         .filter(|e| e.kind() == SslErrorKind::CertificateExpired).cloned().collect();
//!     decision.ignore(&expired);
//! });
//! socket.start_client_encryption()?;
//! socket.wait_for_encrypted(Some(Duration::from_secs(10)))?;
//! println!("{:?} with {:?}", socket.session_protocol(), socket.session_cipher());
//! socket.write_all(b"EHLO me\r\n")?;
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::verification::{HandshakeInterruption, Verification};
use crate::{
    Certificate, EngineParams, Error, Key, PeerName, PeerVerifyMode, PlaintextRead, Registry,
    SessionInfo, SslCipher, SslConfiguration, SslError, SslErrorKind, SslErrorsDecision, SslMode,
    SslProtocol, TlsBackend, TlsEngine,
};

/// A stream whose blocking reads can be given a time limit, so that
/// [`SslSocket::wait_for_encrypted`] can honour its timeout.
pub trait ReadTimeout {
    /// Sets the limit for each blocking read; `None` blocks indefinitely.
    ///
    /// Fails with the stream's error when the limit cannot be set.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// The current limit.
    ///
    /// Fails with the stream's error when the limit cannot be read.
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::read_timeout(self)
    }
}

#[cfg(unix)]
impl ReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::read_timeout(self)
    }
}

/// The default for [`SslSocket::set_pending_write_limit`]: 1 MiB.
pub const DEFAULT_PENDING_LIMIT: usize = 1 << 20;

/// Where the socket is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Plain bytes pass straight through.
    Unencrypted,
    /// The engine exists and the handshake has not finished.
    Handshaking,
    /// Application data flows through the engine.
    Encrypted,
    /// This side sent close_notify: no more writes.
    Closed,
    /// The session failed; the message says why.
    Failed(String),
}

#[derive(Default)]
struct Events {
    encrypted: Option<Box<dyn FnMut() + Send>>,
    mode_changed: Option<Box<dyn FnMut(SslMode) + Send>>,
    encrypted_bytes_written: Option<Box<dyn FnMut(usize) + Send>>,
}

/// A TLS socket over a blocking stream.
///
/// It starts in [`SslMode::UnencryptedMode`], where reads and writes pass through unchanged
/// (for STARTTLS protocols). [`start_client_encryption`](Self::start_client_encryption) or
/// [`start_server_encryption`](Self::start_server_encryption) begins the handshake; data
/// written before it ends is queued and sent once the session is encrypted. Reading, flushing
/// or [`wait_for_encrypted`](Self::wait_for_encrypted) drive the handshake to its end.
///
/// `Read` gives plaintext; it returns 0 once the peer sent close_notify and fails with
/// `UnexpectedEof` (wrapping [`Error::Truncated`]) when the peer closed without it.
///
/// Over a non-blocking stream, any call may fail with `WouldBlock`; the socket stays usable and
/// the call can be repeated when the stream is ready. Data a `write` accepted is never lost:
/// it is sent by the next call that flushes. During the handshake, writes are queued up to
/// [`set_pending_write_limit`](Self::set_pending_write_limit) bytes; a write to a full queue
/// drives the handshake first (so it blocks on a blocking stream, and fails with
/// `WouldBlock` on a non-blocking one).
pub struct SslSocket<S> {
    stream: S,
    backend: Arc<dyn TlsBackend>,
    /// Shared with other sockets (and servers) until a setter here changes it.
    config: Arc<SslConfiguration>,
    mode: SslMode,
    state: State,
    engine: Option<Box<dyn TlsEngine>>,
    /// Plaintext written during the handshake, sent in order once it completes:
    /// `pending[pending_sent..]` is not yet handed to the engine.
    pending: Vec<u8>,
    pending_sent: usize,
    /// The most plaintext `pending` holds (see [`SslSocket::set_pending_write_limit`]).
    pending_limit: usize,
    peer_verify_name: Option<String>,
    verification: Verification,
    session: SessionInfo,
    transport_eof: bool,
    events: Events,
}

impl<S> std::fmt::Debug for SslSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslSocket")
            .field("backend", &self.backend.name())
            .field("mode", &self.mode)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl SslSocket<TcpStream> {
    /// Connects to `host:port` and starts a client handshake with the active backend and the
    /// default configuration, verifying the server against `host`.
    ///
    /// Fails with [`Error::Io`] when the connection fails and as
    /// [`start_client_encryption`](Self::start_client_encryption) does.
    pub fn connect_to_host_encrypted(host: &str, port: u16) -> Result<Self, Error> {
        Self::connect_to_host_encrypted_with(host, port, None)
    }

    /// Like [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) but verifies the
    /// server's certificate against `verify_name` instead of `host` (and sends it as SNI).
    ///
    /// Fails as [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) does.
    pub fn connect_to_host_encrypted_with_verify_name(
        host: &str,
        port: u16,
        verify_name: &str,
    ) -> Result<Self, Error> {
        let mut socket = Self::new(TcpStream::connect((host, port))?)?;
        socket.set_peer_verify_name(verify_name);
        socket.start_client_encryption()?;
        Ok(socket)
    }

    /// Like [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) with the backend
    /// named `backend` (`None`: the active backend).
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown name, and as
    /// [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) does.
    pub fn connect_to_host_encrypted_with(
        host: &str,
        port: u16,
        backend: Option<&str>,
    ) -> Result<Self, Error> {
        let backend = Registry::global().backend_for_new_object(backend)?;
        let mut socket = Self::with_backend_object(TcpStream::connect((host, port))?, backend);
        socket.set_peer_verify_name(host);
        socket.start_client_encryption()?;
        Ok(socket)
    }
}

impl<S: Read + Write> SslSocket<S> {
    /// Wraps a connected stream, using the active backend and the default configuration. The
    /// active backend can no longer change afterwards.
    ///
    /// Fails with [`Error::NoBackend`] when no backend is available.
    pub fn new(stream: S) -> Result<Self, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Ok(Self::with_backend_object(stream, backend))
    }

    /// Wraps a connected stream, using the backend named `backend` whatever the active one is.
    ///
    /// Fails with [`Error::UnknownBackend`] when no available backend has that name.
    pub fn with_backend(stream: S, backend: &str) -> Result<Self, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Ok(Self::with_backend_object(stream, backend))
    }

    /// Wraps a connected stream, using `backend` directly (for backends that are not
    /// registered, such as test doubles).
    pub fn with_backend_object(stream: S, backend: Arc<dyn TlsBackend>) -> Self {
        SslSocket {
            stream,
            backend,
            config: SslConfiguration::shared_default_configuration(),
            mode: SslMode::UnencryptedMode,
            state: State::Unencrypted,
            engine: None,
            pending: Vec::new(),
            pending_sent: 0,
            pending_limit: DEFAULT_PENDING_LIMIT,
            peer_verify_name: None,
            verification: Verification::default(),
            session: SessionInfo::new(),
            transport_eof: false,
            events: Events::default(),
        }
    }

    /// Sets the most plaintext queued while the handshake runs (default
    /// [`DEFAULT_PENDING_LIMIT`], 1 MiB; at least 1 byte is always accepted). Data already
    /// queued stays queued.
    pub fn set_pending_write_limit(&mut self, bytes: usize) {
        self.pending_limit = bytes.max(1);
    }

    /// The most plaintext queued while the handshake runs.
    pub fn pending_write_limit(&self) -> usize {
        self.pending_limit
    }

    /// The name of the backend this socket uses.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably. Reading or writing it directly while encrypted corrupts
    /// the session.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Unwraps the underlying stream. Anything queued and not yet sent is dropped; call
    /// [`close`](Self::close) or `flush` first.
    pub fn into_inner(self) -> S {
        self.stream
    }

    // ---- configuration ------------------------------------------------------------------

    /// The configuration the next handshake will use.
    pub fn ssl_configuration(&self) -> &SslConfiguration {
        &self.config
    }

    /// Replaces the configuration for the next handshake. It takes an [`SslConfiguration`] or
    /// an `Arc<SslConfiguration>`: sockets that are handed clones of one `Arc` share the
    /// configuration instead of each holding a copy (the setters below copy it first, for this
    /// socket only).
    pub fn set_ssl_configuration(&mut self, config: impl Into<Arc<SslConfiguration>>) {
        self.config = config.into();
    }

    /// The configuration the next handshake will use, shared.
    pub fn shared_ssl_configuration(&self) -> Arc<SslConfiguration> {
        Arc::clone(&self.config)
    }

    /// The configuration, for a change that concerns this socket only (copied first if it is
    /// shared).
    fn config_mut(&mut self) -> &mut SslConfiguration {
        Arc::make_mut(&mut self.config)
    }

    /// Sets the local certificate chain (leaf first).
    pub fn set_local_certificate_chain(&mut self, chain: Vec<Certificate>) {
        self.config_mut().local_certificate_chain = chain;
    }

    /// The local certificate chain (leaf first).
    pub fn local_certificate_chain(&self) -> &[Certificate] {
        &self.config.local_certificate_chain
    }

    /// The local leaf certificate, if any.
    pub fn local_certificate(&self) -> Option<&Certificate> {
        self.config.local_certificate()
    }

    /// Sets the private key of the local certificate.
    pub fn set_private_key(&mut self, key: Key) {
        self.config_mut().private_key = Some(key);
    }

    /// The private key of the local certificate, if any.
    pub fn private_key(&self) -> Option<&Key> {
        self.config.private_key.as_ref()
    }

    /// Sets whether and how the peer's certificate is verified.
    pub fn set_peer_verify_mode(&mut self, mode: PeerVerifyMode) {
        self.config_mut().peer_verify_mode = mode;
    }

    /// How the peer's certificate is verified.
    pub fn peer_verify_mode(&self) -> PeerVerifyMode {
        self.config.peer_verify_mode
    }

    /// Sets the longest peer chain accepted (0: no limit).
    pub fn set_peer_verify_depth(&mut self, depth: u32) {
        self.config_mut().peer_verify_depth = depth;
    }

    /// The longest peer chain accepted (0: no limit).
    pub fn peer_verify_depth(&self) -> u32 {
        self.config.peer_verify_depth
    }

    /// Sets the name the server's certificate is verified against (and sent as SNI), instead
    /// of the host connected to: a host name or an IP literal, read as [`PeerName::parse`]
    /// reads it when the handshake starts (which refuses a name that is not one).
    pub fn set_peer_verify_name(&mut self, name: impl Into<String>) {
        self.peer_verify_name = Some(name.into());
    }

    /// The name the server's certificate is verified against, if set.
    pub fn peer_verify_name(&self) -> Option<&str> {
        self.peer_verify_name.as_deref()
    }

    // ---- verification decisions and events ------------------------------------------------

    /// Ignores every verification error of the coming handshake (Qt's `ignoreSslErrors()`).
    pub fn ignore_ssl_errors(&mut self) {
        self.verification.ignore_all();
    }

    /// Ignores exactly these errors (kind and certificate); any other error still fails the
    /// handshake.
    pub fn ignore_ssl_errors_list(&mut self, errors: &[SslError]) {
        self.verification.ignore_list(errors);
    }

    /// Calls `handler` for each verification problem as it is found, during the handshake.
    pub fn on_peer_verify_error(&mut self, handler: impl FnMut(&SslError) + Send + 'static) {
        self.verification
            .set_peer_verify_error_handler(Box::new(handler));
    }

    /// With `handshake_must_interrupt_on_error` set (Qt's early error reporting), calls
    /// `handler` during the handshake for each verification error not ignored beforehand, one
    /// at a time; the handshake goes on past an error only if the handler calls
    /// [`continue_handshake`](HandshakeInterruption::continue_handshake) (Qt's
    /// `continueInterruptedHandshake()`), and otherwise fails with [`Error::Verification`].
    /// The [`on_ssl_errors`](Self::on_ssl_errors) handler is not asked in this mode. Works with
    /// every backend: engines report problems synchronously, from inside the handshake.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use polytls::{SslConfiguration, SslErrorKind, SslSocket};
    ///
    /// let mut config = SslConfiguration::default_configuration();
    /// config.handshake_must_interrupt_on_error = true;
    /// let mut socket = SslSocket::new(std::net::TcpStream::connect("device.local:443")?)?;
    /// socket.set_ssl_configuration(config);
    /// socket.set_peer_verify_name("device.local");
    /// socket.on_handshake_interrupted_on_error(|stop| {
    ///     // Decide now, with the handshake held: here, accept only an expired certificate.
    ///     if stop.error().kind() == SslErrorKind::CertificateExpired {
    ///         stop.continue_handshake();
    ///     }
    /// });
    /// socket.start_client_encryption()?;
    /// socket.handshake()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_handshake_interrupted_on_error(
        &mut self,
        handler: impl FnMut(&mut HandshakeInterruption<'_>) + Send + 'static,
    ) {
        self.verification
            .set_interruption_handler(Box::new(handler));
    }

    /// Calls `handler` with the list of verification problems, during the handshake; it may
    /// ignore some or all of them. The handshake continues only if all are ignored.
    pub fn on_ssl_errors(
        &mut self,
        handler: impl FnMut(&mut SslErrorsDecision<'_>) + Send + 'static,
    ) {
        self.verification.set_ssl_errors_handler(Box::new(handler));
    }

    /// Calls `handler` once the handshake has completed.
    pub fn on_encrypted(&mut self, handler: impl FnMut() + Send + 'static) {
        self.events.encrypted = Some(Box::new(handler));
    }

    /// Calls `handler` when the socket's mode changes.
    pub fn on_mode_changed(&mut self, handler: impl FnMut(SslMode) + Send + 'static) {
        self.events.mode_changed = Some(Box::new(handler));
    }

    /// Calls `handler` with the number of ciphertext bytes each time some are written to the
    /// stream.
    pub fn on_encrypted_bytes_written(&mut self, handler: impl FnMut(usize) + Send + 'static) {
        self.events.encrypted_bytes_written = Some(Box::new(handler));
    }

    // ---- state -----------------------------------------------------------------------------

    /// Whether the socket is unencrypted, a TLS client or a TLS server.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Whether the handshake has completed and the session is open.
    pub fn is_encrypted(&self) -> bool {
        self.state == State::Encrypted
    }

    /// The negotiated protocol version, or `UnknownProtocol` before the handshake completes.
    pub fn session_protocol(&self) -> SslProtocol {
        self.session.protocol
    }

    /// The negotiated cipher suite, if the handshake completed.
    pub fn session_cipher(&self) -> Option<SslCipher> {
        self.session.cipher
    }

    /// The peer's leaf certificate, if it sent one.
    pub fn peer_certificate(&self) -> Option<&Certificate> {
        self.session.peer_chain.first()
    }

    /// The certificates the peer sent, leaf first.
    pub fn peer_certificate_chain(&self) -> &[Certificate] {
        &self.session.peer_chain
    }

    /// The ALPN protocol both sides agreed on, if any.
    pub fn negotiated_application_protocol(&self) -> Option<&[u8]> {
        self.session.alpn_protocol.as_deref()
    }

    /// The verification problems found in the last handshake, ignored or not.
    pub fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.verification.found()
    }

    // ---- handshake -------------------------------------------------------------------------

    /// Starts a client handshake on the connected stream (immediately, or after a plaintext
    /// exchange for STARTTLS). Sends the first flight; the handshake is finished by
    /// [`wait_for_encrypted`](Self::wait_for_encrypted), a read or a flush.
    ///
    /// Fails with [`Error::InvalidState`] when encryption already started, with
    /// [`Error::InvalidInput`] when the configuration is unusable (for example `VerifyPeer`
    /// with no peer verify name, or a peer verify name that is not a [`PeerName`]: an empty
    /// one included), with [`Error::Unsupported`] when the backend cannot do what
    /// the configuration asks, and with [`Error::Io`] when the first flight cannot be sent.
    pub fn start_client_encryption(&mut self) -> Result<(), Error> {
        self.start(SslMode::SslClientMode)
    }

    /// Starts a server handshake on the connected stream. The configuration must hold a local
    /// certificate and private key.
    ///
    /// Fails as [`start_client_encryption`](Self::start_client_encryption) does.
    pub fn start_server_encryption(&mut self) -> Result<(), Error> {
        self.start(SslMode::SslServerMode)
    }

    fn start(&mut self, mode: SslMode) -> Result<(), Error> {
        if self.state != State::Unencrypted {
            return Err(Error::InvalidState("encryption has already started".into()));
        }
        let server = mode == SslMode::SslServerMode;
        self.config.validate(server, false)?;
        let verify_mode = self.config.peer_verify_mode.resolve(mode);
        let peer_name = match &self.peer_verify_name {
            Some(name) if !server => Some(PeerName::parse(name)?),
            _ => None,
        };
        if !server && verify_mode == PeerVerifyMode::VerifyPeer && peer_name.is_none() {
            return Err(Error::InvalidInput(
                "a client that verifies its peer needs a peer verify name: call set_peer_verify_name"
                    .into(),
            ));
        }
        self.verification
            .reset(self.config.handshake_must_interrupt_on_error);
        let mut params = EngineParams::new(
            mode,
            &self.config,
            peer_name.as_ref(),
            self.verification.hook(),
        );
        if server && verify_mode == PeerVerifyMode::VerifyPeer {
            // Refused inside the handshake, with an alert, when nothing could accept it.
            let missing = SslError::new(SslErrorKind::NoPeerCertificate);
            params.require_peer_certificate |= !self.verification.may_accept(&missing);
        }
        let mut engine = self.backend.new_tls_engine(params)?;
        // Let the engine produce its first flight (a client's ClientHello).
        engine.process()?;
        self.engine = Some(engine);
        self.state = State::Handshaking;
        self.mode = mode;
        if let Some(handler) = self.events.mode_changed.as_mut() {
            handler(mode);
        }
        // Send the client's first flight now, so that a peer waiting for it can go on.
        self.flush_tls().map_err(|e| self.fail(e))
    }

    /// Drives the handshake to its end, waiting at most `timeout` (`None`: as long as the
    /// stream blocks). Returns at once when already encrypted.
    ///
    /// Fails with [`Error::Timeout`] when time runs out, [`Error::Verification`] when the peer
    /// failed verification and nobody ignored the errors, [`Error::Handshake`] or
    /// [`Error::Protocol`] when the handshake failed otherwise, and [`Error::InvalidState`]
    /// when no handshake was started.
    pub fn wait_for_encrypted(&mut self, timeout: Option<Duration>) -> Result<(), Error>
    where
        S: ReadTimeout,
    {
        let Some(timeout) = timeout else {
            return self.handshake();
        };
        let deadline = Instant::now() + timeout;
        let previous = self.stream.read_timeout()?;
        let result = self.drive_handshake(&mut |stream: &mut S| {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            stream.set_read_timeout(Some(left))?;
            Ok(())
        });
        self.stream.set_read_timeout(previous)?;
        match result {
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.fail(Error::Timeout))
            }
            Err(Error::Timeout) => Err(self.fail(Error::Timeout)),
            other => other,
        }
    }

    /// Drives the handshake to its end, blocking as the stream does. Returns at once when
    /// already encrypted.
    ///
    /// Fails as [`wait_for_encrypted`](Self::wait_for_encrypted) does, without the timeout.
    pub fn handshake(&mut self) -> Result<(), Error> {
        self.drive_handshake(&mut |_| Ok(()))
    }

    fn drive_handshake(
        &mut self,
        before_read: &mut dyn FnMut(&mut S) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match &self.state {
            State::Handshaking => {}
            State::Encrypted | State::Closed => return Ok(()),
            State::Unencrypted => {
                return Err(Error::InvalidState("no handshake was started".into()))
            }
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
        }
        loop {
            self.flush_tls().map_err(|e| self.fail(e))?;
            let Some(engine) = self.engine.as_mut() else {
                return Err(Error::InvalidState("no engine".into()));
            };
            if !engine.is_handshaking() {
                return self.finish_handshake();
            }
            if self.transport_eof {
                let e = Error::Handshake {
                    message: "the peer closed the connection during the handshake".into(),
                    alert: None,
                };
                return Err(self.fail(e));
            }
            before_read(&mut self.stream)?;
            let n = match engine.read_tls(&mut self.stream) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e.into())),
            };
            self.transport_eof = n == 0;
            if let Err(e) = self.process_engine() {
                // Deliver the engine's alert if we can; the handshake error is what matters.
                let _ = self.flush_tls();
                return Err(self.fail(e));
            }
        }
    }

    /// Lets the engine process what was read, writing what it produces straight to the
    /// stream when it can (its writes are reported to the event handler, and the stream is
    /// flushed after them); what the stream did not take stays queued for
    /// [`flush_tls`](Self::flush_tls).
    ///
    /// Fails with the engine's error, or the stream's when flushing it fails.
    fn process_engine(&mut self) -> Result<(), Error> {
        let Some(engine) = self.engine.as_mut() else {
            return Err(Error::InvalidState("no engine".into()));
        };
        let mut stream = Counted {
            inner: &mut self.stream,
            written: 0,
        };
        let result = engine.process_to(&mut stream);
        let written = stream.written;
        if written > 0 {
            if let Some(handler) = self.events.encrypted_bytes_written.as_mut() {
                handler(written);
            }
        }
        result?;
        if written > 0 {
            self.stream.flush()?;
        }
        Ok(())
    }

    fn finish_handshake(&mut self) -> Result<(), Error> {
        let Some(engine) = self.engine.as_mut() else {
            return Err(Error::InvalidState("no engine".into()));
        };
        self.session = engine.session();
        let server = self.mode == SslMode::SslServerMode;
        let verify_mode = self.config.peer_verify_mode.resolve(self.mode);
        let verifies = verify_mode == PeerVerifyMode::VerifyPeer;
        if server && verifies && self.session.peer_chain.is_empty() {
            let missing = vec![SslError::new(SslErrorKind::NoPeerCertificate)];
            let fatal = self.config.missing_certificate_is_fatal;
            if fatal || !self.verification.judge(missing.clone()) {
                return Err(self.refuse_established(Error::Verification(missing)));
            }
        } else if verifies && !self.verification.was_asked() {
            // The peer was never judged: a resumed session, a suite without certificates, or
            // a backend's bug. A session that verifies its peer is never accepted unjudged.
            let e = Error::Handshake {
                message: format!(
                    "the {} backend completed the handshake without verifying the peer",
                    self.backend.name()
                ),
                alert: None,
            };
            return Err(self.refuse_established(e));
        }
        self.state = State::Encrypted;
        if let Some(handler) = self.events.encrypted.as_mut() {
            handler();
        }
        self.drain_pending()
    }

    /// Ends a session whose handshake completed but whose peer the front end refuses: the
    /// engine sends close_notify (nothing was sent or received in it) and the socket fails with
    /// `error`.
    fn refuse_established(&mut self, error: Error) -> Error {
        if let Some(engine) = self.engine.as_mut() {
            engine.send_close_notify();
        }
        let _ = self.flush_tls();
        self.fail(error)
    }

    /// Hands the plaintext queued during the handshake to the engine, in order. What the
    /// engine does not take yet stays queued.
    ///
    /// Fails as writing does; `WouldBlock` keeps the rest queued.
    fn drain_pending(&mut self) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        let mut result = Ok(());
        while self.pending_sent < pending.len() {
            match self.write_encrypted(&pending[self.pending_sent..]) {
                Ok(n) => self.pending_sent += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if self.pending_sent == pending.len() {
            self.pending_sent = 0;
        } else {
            self.pending = pending;
        }
        result
    }

    /// Records a failure: the socket is unusable from now on. Returns the error to report,
    /// replacing an engine's error with the verification errors when the front end refused
    /// the peer.
    ///
    /// A transport that would block (non-blocking mode) is no failure: the error is returned
    /// and the call may be repeated once the transport is ready.
    fn fail(&mut self, error: Error) -> Error {
        if matches!(&error, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock) {
            return error;
        }
        let error = match (self.verification.refused(), error) {
            (Some(errors), _) if self.state == State::Handshaking => Error::Verification(errors),
            (None, Error::Verification(errors)) if self.state == State::Handshaking => {
                // The engine refused on its own (a required certificate was missing).
                self.verification.record_refusal(&errors);
                Error::Verification(errors)
            }
            (_, error) => error,
        };
        self.state = State::Failed(error.to_string());
        if let Some(panic) = self.verification.take_panic() {
            // A verification handler panicked inside the engine; the engine refused the peer
            // and its alert went out (or could not): the panic goes on from here.
            self.state = State::Failed("a verification handler panicked".into());
            std::panic::resume_unwind(panic);
        }
        error
    }

    // ---- data ------------------------------------------------------------------------------

    /// Writes every byte of ciphertext the engine has to the stream.
    fn flush_tls(&mut self) -> Result<(), Error> {
        self.send_queued(false)
    }

    /// Writes every byte of ciphertext the engine has queued to the stream, then flushes the
    /// stream if anything was written (`wrote`: the engine already wrote some itself).
    fn send_queued(&mut self, mut wrote: bool) -> Result<(), Error> {
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        while engine.wants_write() {
            match engine.write_tls(&mut self.stream) {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    wrote = true;
                    if let Some(handler) = self.events.encrypted_bytes_written.as_mut() {
                        handler(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if wrote {
            self.stream.flush()?;
        }
        Ok(())
    }

    fn write_encrypted(&mut self, data: &[u8]) -> Result<usize, Error> {
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Err(Error::InvalidState("no engine".into()));
            };
            // The engine may write the ciphertext straight to the stream; it queues what the
            // stream does not take, and the flush below sends that.
            let mut stream = Counted {
                inner: &mut self.stream,
                written: 0,
            };
            let result = engine.write_plaintext_to(&mut stream, data);
            let direct = stream.written;
            if direct > 0 {
                if let Some(handler) = self.events.encrypted_bytes_written.as_mut() {
                    handler(direct);
                }
            }
            let n = result.map_err(|e| self.fail(e))?;
            match self.send_queued(direct > 0) {
                // The engine holds the data now; it goes out with the next flush.
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => {
                    return Ok(n)
                }
                Err(e) => return Err(self.fail(e)),
                Ok(()) => {}
            }
            if n > 0 || data.is_empty() {
                return Ok(n);
            }
        }
    }

    /// Reads plaintext, driving the handshake first if it is still running.
    fn read_plaintext(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        match &self.state {
            State::Unencrypted => return Ok(self.stream.read(buf)?),
            State::Handshaking => self.handshake()?,
            State::Encrypted | State::Closed => {}
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(engine) = self.engine.as_mut() else {
                return Err(Error::InvalidState("no engine".into()));
            };
            // The engine may read the ciphertext it needs from the stream itself.
            match engine.read_plaintext_from(&mut self.stream, buf) {
                Ok(PlaintextRead::Data(n)) => {
                    if engine.wants_write() {
                        // Answers to post-handshake messages (key updates). The data read is
                        // returned whatever happens; a failure is reported by the next call.
                        if let Err(e) = self.flush_tls() {
                            self.fail(e);
                        }
                    }
                    return Ok(n);
                }
                Ok(PlaintextRead::Closed) => return Ok(0),
                Ok(PlaintextRead::NeedMore) if self.transport_eof => {
                    return Err(self.fail(Error::Truncated))
                }
                Ok(PlaintextRead::NeedMore) => {}
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The stream's own error: the session is intact and the caller may retry.
                Err(Error::Io(e)) => return Err(Error::Io(e)),
                Err(e) => {
                    // The engine's alert (bad_record_mac...) goes out before the socket gives up.
                    let _ = self.flush_tls();
                    return Err(self.fail(e));
                }
            }
            // What the engine answered while reading (a no_renegotiation alert, a key update)
            // goes out before the socket waits for the peer, who may be waiting for it.
            self.flush_tls().map_err(|e| self.fail(e))?;
            let Some(engine) = self.engine.as_mut() else {
                return Err(Error::InvalidState("no engine".into()));
            };
            let n = match engine.read_tls(&mut self.stream) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock and TimedOut leave the session intact: the caller may retry.
                Err(e) => return Err(e.into()),
            };
            self.transport_eof = n == 0;
            if let Err(e) = self.process_engine() {
                let _ = self.flush_tls();
                return Err(self.fail(e));
            }
            // Post-handshake messages (key updates, tickets) may need an answer.
            self.flush_tls().map_err(|e| self.fail(e))?;
        }
    }

    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
        match &self.state {
            State::Unencrypted => Ok(self.stream.write(buf)?),
            State::Handshaking => {
                let queued = self.pending.len() - self.pending_sent;
                let room = self.pending_limit.saturating_sub(queued);
                if room == 0 && !buf.is_empty() {
                    // The queue is full: the data waits for the handshake.
                    self.handshake()?;
                    return self.write_plaintext(buf);
                }
                let n = room.min(buf.len());
                self.pending.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            State::Encrypted => {
                // What was queued during the handshake goes first.
                self.drain_pending()?;
                self.write_encrypted(buf)
            }
            State::Closed => Err(Error::InvalidState(
                "the socket was closed for writing".into(),
            )),
            State::Failed(why) => Err(Error::InvalidState(why.clone())),
        }
    }

    /// Sends everything queued: finishes the handshake if it is running, then writes the
    /// queued data.
    ///
    /// Fails as [`handshake`](Self::handshake) does, with [`Error::Io`], and with
    /// [`Error::InvalidState`] once the session failed (what was queued is not delivered).
    pub fn flush_all(&mut self) -> Result<(), Error> {
        match &self.state {
            State::Handshaking => self.handshake()?,
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
            _ => {}
        }
        if self.state == State::Encrypted {
            self.drain_pending()?;
        }
        self.flush_tls().map_err(|e| self.fail(e))?;
        Ok(self.stream.flush()?)
    }

    /// Ends the session cleanly (Qt's `disconnectFromHost`): finishes a running handshake,
    /// sends queued data, then close_notify. Reading may continue until the peer's
    /// close_notify; writing fails from now on. Closing an unencrypted socket does nothing;
    /// closing a closed one sends what is still queued (so a `close` that failed with
    /// `WouldBlock` is finished by calling it again).
    ///
    /// Fails as [`flush_all`](Self::flush_all) does: with [`Error::InvalidState`] once the
    /// session failed, so a caller learns that what it wrote was not all delivered.
    pub fn close(&mut self) -> Result<(), Error> {
        match self.state {
            State::Handshaking | State::Encrypted => {
                self.flush_all()?;
                if let Some(engine) = self.engine.as_mut() {
                    engine.send_close_notify();
                }
                self.state = State::Closed;
                self.flush_all()
            }
            State::Closed | State::Failed(_) => self.flush_all(),
            State::Unencrypted => Ok(()),
        }
    }
}

/// A writer that counts the bytes its inner writer accepted.
struct Counted<'a, W> {
    inner: &'a mut W,
    written: usize,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Read + Write> Read for SslSocket<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_plaintext(buf)?)
    }
}

impl<S: Read + Write> Write for SslSocket<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.write_plaintext(buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(self.flush_all()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImplementedClass, SupportedFeature};

    /// A backend that only has a name (sockets here never start a handshake).
    struct Stub;

    impl TlsBackend for Stub {
        fn name(&self) -> &str {
            "stub"
        }
        fn library_version_number(&self) -> u64 {
            0
        }
        fn library_version_string(&self) -> String {
            String::new()
        }
        fn implemented_classes(&self) -> Vec<ImplementedClass> {
            Vec::new()
        }
        fn supported_features(&self) -> Vec<SupportedFeature> {
            Vec::new()
        }
        fn supported_protocols(&self) -> Vec<SslProtocol> {
            Vec::new()
        }
        fn supported_ciphers(&self) -> Vec<SslCipher> {
            Vec::new()
        }
        fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
            Ok(Vec::new())
        }
    }

    /// A backend whose engines complete every handshake at once without asking the hook and
    /// report `peer_chain` as the peer's certificates: what a resumed session, a suite without
    /// certificates or a buggy backend looks like to the front end.
    struct Careless {
        peer_chain: Vec<Certificate>,
    }

    struct CarelessEngine {
        peer_chain: Vec<Certificate>,
        closed: bool,
    }

    impl TlsBackend for Careless {
        fn name(&self) -> &str {
            "careless"
        }
        fn library_version_number(&self) -> u64 {
            0
        }
        fn library_version_string(&self) -> String {
            String::new()
        }
        fn implemented_classes(&self) -> Vec<ImplementedClass> {
            vec![ImplementedClass::Socket]
        }
        fn supported_features(&self) -> Vec<SupportedFeature> {
            Vec::new()
        }
        fn supported_protocols(&self) -> Vec<SslProtocol> {
            vec![SslProtocol::SecureProtocols]
        }
        fn supported_ciphers(&self) -> Vec<SslCipher> {
            Vec::new()
        }
        fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
            Ok(Vec::new())
        }
        fn new_tls_engine(&self, _: EngineParams<'_>) -> Result<Box<dyn TlsEngine>, Error> {
            Ok(Box::new(CarelessEngine {
                peer_chain: self.peer_chain.clone(),
                closed: false,
            }))
        }
    }

    impl TlsEngine for CarelessEngine {
        fn read_tls(&mut self, _: &mut dyn io::Read) -> io::Result<usize> {
            Ok(0)
        }
        fn process(&mut self) -> Result<(), Error> {
            Ok(())
        }
        fn wants_write(&self) -> bool {
            false
        }
        fn write_tls(&mut self, _: &mut dyn io::Write) -> io::Result<usize> {
            Ok(0)
        }
        fn is_handshaking(&self) -> bool {
            false
        }
        fn read_plaintext(&mut self, _: &mut [u8]) -> Result<PlaintextRead, Error> {
            Ok(PlaintextRead::NeedMore)
        }
        fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
            Ok(buf.len())
        }
        fn send_close_notify(&mut self) {
            self.closed = true;
        }
        fn session(&self) -> SessionInfo {
            SessionInfo {
                peer_chain: self.peer_chain.clone(),
                ..SessionInfo::new()
            }
        }
    }

    fn careless(
        peer_chain: Vec<Certificate>,
        mode: PeerVerifyMode,
    ) -> SslSocket<io::Cursor<Vec<u8>>> {
        let backend = Arc::new(Careless { peer_chain });
        let mut socket = SslSocket::with_backend_object(io::Cursor::new(Vec::new()), backend);
        socket.set_peer_verify_mode(mode);
        socket.set_peer_verify_name("localhost");
        socket
    }

    /// A certificate for the careless engine to report (its contents do not matter here).
    fn some_certificate() -> Certificate {
        let pem = include_str!("../../conformance/corpus/duplicate-attributes.pem");
        Certificate::from_pem(pem.as_bytes()).expect("the corpus certificate parses")
    }

    #[test]
    fn a_verifying_session_that_was_never_judged_is_refused() {
        let mut client = careless(vec![some_certificate()], PeerVerifyMode::VerifyPeer);
        client.start_client_encryption().unwrap();
        match client.handshake() {
            Err(Error::Handshake { message, .. }) => {
                assert!(message.contains("without verifying the peer"), "{message}")
            }
            other => panic!("accepted unjudged: {other:?}"),
        }
        assert!(!client.is_encrypted());
        assert!(client.write(b"secret").is_err());

        // A server that verifies and got a certificate nobody judged: refused too.
        let mut server = careless(vec![some_certificate()], PeerVerifyMode::VerifyPeer);
        let mut ed25519 = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b];
        ed25519.extend([0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
        ed25519.extend([7u8; 32]);
        server.set_local_certificate_chain(vec![some_certificate()]);
        server.set_private_key(Key::from_der(&ed25519, crate::KeyType::PrivateKey).unwrap());
        server.start_server_encryption().unwrap();
        assert!(matches!(server.handshake(), Err(Error::Handshake { .. })));
        assert!(!server.is_encrypted());
    }

    #[test]
    fn sessions_that_do_not_verify_need_no_judgement() {
        for mode in [PeerVerifyMode::VerifyNone, PeerVerifyMode::QueryPeer] {
            let mut client = careless(vec![some_certificate()], mode);
            client.start_client_encryption().unwrap();
            client.handshake().unwrap();
            assert!(client.is_encrypted());
        }
    }

    fn socket() -> SslSocket<io::Cursor<Vec<u8>>> {
        SslSocket::with_backend_object(io::Cursor::new(Vec::new()), Arc::new(Stub))
    }

    /// tst_QSslSocket::constructing: a fresh socket is unencrypted, has no session, no peer
    /// and no local chain, and holds the default configuration.
    #[test]
    fn a_fresh_socket() {
        let socket = socket();
        assert_eq!(socket.mode(), SslMode::UnencryptedMode);
        assert!(!socket.is_encrypted());
        assert_eq!(socket.session_protocol(), SslProtocol::UnknownProtocol);
        assert_eq!(socket.session_cipher(), None);
        assert!(socket.peer_certificate().is_none());
        assert!(socket.peer_certificate_chain().is_empty());
        assert!(socket.local_certificate_chain().is_empty());
        assert!(socket.local_certificate().is_none());
        assert!(socket.private_key().is_none());
        assert!(socket.ssl_handshake_errors().is_empty());
        assert_eq!(socket.negotiated_application_protocol(), None);
        assert_eq!(socket.peer_verify_name(), None);
        assert_eq!(socket.pending_write_limit(), DEFAULT_PENDING_LIMIT);
        assert_eq!(
            *socket.ssl_configuration(),
            SslConfiguration::default_configuration()
        );
    }

    #[test]
    fn shared_configurations_are_copied_on_change() {
        let shared = Arc::new(SslConfiguration {
            peer_verify_depth: 0,
            allowed_next_protocols: vec![b"h2".to_vec()],
            ..SslConfiguration::default()
        });
        let (mut a, mut b) = (socket(), socket());
        a.set_ssl_configuration(Arc::clone(&shared));
        b.set_ssl_configuration(Arc::clone(&shared));
        assert!(Arc::ptr_eq(&a.shared_ssl_configuration(), &shared));

        a.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
        assert_eq!(a.peer_verify_mode(), PeerVerifyMode::VerifyNone);
        assert_eq!(b.peer_verify_mode(), PeerVerifyMode::AutoVerifyPeer);
        assert_eq!(shared.peer_verify_mode, PeerVerifyMode::AutoVerifyPeer);
        assert!(Arc::ptr_eq(&b.shared_ssl_configuration(), &shared));
        assert_eq!(
            a.ssl_configuration().allowed_next_protocols,
            [b"h2".to_vec()]
        );

        // A plain configuration still works, and the default is Qt's.
        assert_eq!(
            *socket().ssl_configuration(),
            SslConfiguration::default_configuration()
        );
        b.set_ssl_configuration(SslConfiguration::default());
        assert_eq!(*b.ssl_configuration(), SslConfiguration::default());
    }
}
