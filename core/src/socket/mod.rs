//! [`SslSocket`]: a blocking TLS socket over any `Read + Write` stream (Qt's `QSslSocket`).
//!
//! The socket is a thin loop over the connection's [`Session`], the driver the tokio stream
//! shares: the session owns the state machine, the write queue, the verification decision and
//! events, the socket owns the stream and the waiting (timeouts). The engine, made by the
//! chosen backend, only turns ciphertext into plaintext and back. So every backend behaves
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

mod connect;
mod timeout;

use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Error, Registry, Session, SslMode, TlsBackend};
#[cfg(feature = "tokio")]
pub(crate) use connect::connect_error;
pub use connect::{ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT};
pub use timeout::ReadTimeout;

/// The most a read under [`SslSocket::wait_for_encrypted`] may end after the handshake's
/// deadline, so that the stream's read timeout need not be set again before every read.
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// A TLS socket over a blocking stream.
///
/// It starts in [`SslMode::UnencryptedMode`], where reads and writes pass through unchanged
/// (for STARTTLS protocols). [`start_client_encryption`](Self::start_client_encryption) or
/// [`start_server_encryption`](Self::start_server_encryption) begins the handshake; data
/// written before it ends is queued and sent once the session is encrypted. Reading, flushing
/// or [`wait_for_encrypted`](Self::wait_for_encrypted) drive the handshake to its end.
///
/// The socket dereferences to its [`Session`]: settings, handlers and the facts of the
/// session (`set_peer_verify_name`, `on_ssl_errors`, `session_cipher`, ...) are called on it
/// directly.
///
/// `Read` gives plaintext; it returns 0 once the peer sent close_notify and fails with
/// `UnexpectedEof` (wrapping [`Error::Truncated`]) when the peer closed without it.
///
/// Over a non-blocking stream, any call may fail with `WouldBlock`; the socket stays usable and
/// the call can be repeated when the stream is ready. Data a `write` accepted is never lost:
/// it is sent by the next call that flushes. During the handshake, writes are queued up to
/// [`set_pending_write_limit`](Session::set_pending_write_limit) bytes; a write to a full
/// queue drives the handshake first (so it blocks on a blocking stream, and fails with
/// `WouldBlock` on a non-blocking one).
pub struct SslSocket<S> {
    stream: S,
    session: Session,
}

impl<S> std::fmt::Debug for SslSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslSocket")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<S> Deref for SslSocket<S> {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<S> DerefMut for SslSocket<S> {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
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
            session: Session::new(backend),
        }
    }

    /// Joins a stream and a session (a session taken from another front end with
    /// [`into_parts`](Self::into_parts), or the tokio stream's): the socket goes on where the
    /// session is.
    pub fn from_parts(stream: S, session: Session) -> Self {
        SslSocket { stream, session }
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

    /// Splits the socket into its stream and its session.
    pub fn into_parts(self) -> (S, Session) {
        (self.stream, self.session)
    }

    // ---- handshake -------------------------------------------------------------------------

    /// Starts a client handshake on the connected stream (immediately, or after a plaintext
    /// exchange for STARTTLS). Sends the first flight; the handshake is finished by
    /// [`wait_for_encrypted`](Self::wait_for_encrypted), a read or a flush.
    ///
    /// Fails with [`Error::InvalidState`] when encryption already started, with
    /// [`Error::InvalidInput`] when the configuration is unusable (for example `VerifyPeer`
    /// with no peer verify name, or a peer verify name that is not a
    /// [`PeerName`](crate::PeerName): an empty one included), with [`Error::Unsupported`] when
    /// the backend cannot do what the configuration asks, and with [`Error::Io`] when the first
    /// flight cannot be sent.
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
        self.session.begin(mode)?;
        // Send the client's first flight now, so that a peer waiting for it can go on.
        self.session.send_queued(&mut self.stream)
    }

    /// Drives the handshake to its end, waiting at most `timeout` (`None`: as long as the
    /// stream blocks). Returns at once when already encrypted. The stream's read timeout
    /// ends each read by the deadline or at most 1/50 of `timeout` (10 ms at most) after
    /// it, and is restored afterwards.
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
        if !self.session.is_handshaking() {
            return self.handshake();
        }
        let previous = self.stream.read_timeout()?;
        self.wait_within(timeout, previous)
    }

    /// [`wait_for_encrypted`](Self::wait_for_encrypted) with a time limit, a handshake
    /// running and the stream's read timeout known to be `previous` (restored at the end).
    ///
    /// The read timeout is set before the first read to the time left, and set again before
    /// a later read only when a read blocking for the limit in force could end more than the
    /// slack (1/50 of `timeout`, at most [`TIMEOUT_SLACK`]) after the deadline: a handshake
    /// whose peer answers promptly costs one `setsockopt` for its reads, not one per read.
    ///
    /// Fails as [`wait_for_encrypted`](Self::wait_for_encrypted) does.
    pub(crate) fn wait_within(
        &mut self,
        timeout: Duration,
        previous: Option<Duration>,
    ) -> Result<(), Error>
    where
        S: ReadTimeout,
    {
        let deadline = Instant::now() + timeout;
        let slack = (timeout / 50).min(TIMEOUT_SLACK);
        // The read timeout set, if any: a read started at `now` may end at `now + limit`.
        let mut limit: Option<Duration> = None;
        let result = self
            .session
            .handshake(&mut self.stream, &mut |stream: &mut S| {
                let now = Instant::now();
                let left = deadline.saturating_duration_since(now);
                if left.is_zero() {
                    return Err(Error::timed_out("the handshake", timeout));
                }
                if limit.map_or(true, |limit| limit > left + slack) {
                    stream.set_read_timeout(Some(left))?;
                    limit = Some(left);
                }
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
                Err(self.session.time_out(timeout))
            }
            Err(Error::Timeout { .. }) => Err(self.session.time_out(timeout)),
            other => other,
        }
    }

    /// Drives the handshake to its end, blocking as the stream does. Returns at once when
    /// already encrypted.
    ///
    /// Fails as [`wait_for_encrypted`](Self::wait_for_encrypted) does, without the timeout.
    pub fn handshake(&mut self) -> Result<(), Error> {
        self.session.handshake(&mut self.stream, &mut |_| Ok(()))
    }

    /// Sends everything queued: finishes the handshake if it is running, then writes the
    /// queued data.
    ///
    /// Fails as [`handshake`](Self::handshake) does, with [`Error::Io`], and with
    /// [`Error::InvalidState`] once the session failed (what was queued is not delivered).
    pub fn flush_all(&mut self) -> Result<(), Error> {
        self.session.flush(&mut self.stream)
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
        self.session.close(&mut self.stream)
    }
}

impl<S: Read + Write> Read for SslSocket<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.session.read(&mut self.stream, buf)?)
    }
}

impl<S: Read + Write> Write for SslSocket<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.session.write(&mut self.stream, buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(self.session.flush(&mut self.stream)?)
    }
}
