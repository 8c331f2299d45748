//! [`TlsStream`]: the async front end over any `AsyncRead + AsyncWrite` transport.

use std::future::poll_fn;
use std::io;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::io::{ready, SyncIo};
use super::{ReadHalf, WriteHalf};
use crate::{ConnectOptions, Error, Registry, Session, SslConfiguration, SslMode, TlsBackend};

/// A TLS stream over an async transport: the tokio counterpart of
/// [`SslSocket`](crate::SslSocket), over the same [`Session`] (to which it dereferences), so
/// the verification decision, events, write queue and close_notify rules are the same.
///
/// It starts unencrypted (plain bytes pass through, for STARTTLS);
/// [`start_client_encryption`](Self::start_client_encryption) or
/// [`start_server_encryption`](Self::start_server_encryption) begins a handshake that
/// [`handshake`](Self::handshake), a read or a flush drives. [`AsyncRead`] gives plaintext and
/// ends at the peer's close_notify (a transport that ends without it is an `UnexpectedEof`
/// error wrapping [`Error::Truncated`]); [`AsyncWrite::poll_shutdown`] sends close_notify, then
/// shuts the transport down.
///
/// ```no_run
/// # async fn run() -> Result<(), polytls::Error> {
/// use polytls::tokio::TlsStream;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let tcp = tokio::net::TcpStream::connect("example.com:443").await?;
/// let mut tls = TlsStream::connect(tcp, "example.com").await?;
/// tls.write_all(b"HEAD / HTTP/1.0\r\nHost: example.com\r\n\r\n").await?;
/// let mut reply = Vec::new();
/// tls.read_to_end(&mut reply).await?;
/// tls.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct TlsStream<T> {
    io: T,
    session: Session,
}

impl<T> std::fmt::Debug for TlsStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<T> Deref for TlsStream<T> {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<T> DerefMut for TlsStream<T> {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> TlsStream<T> {
    /// Wraps a connected transport, unencrypted, with the active backend and the default
    /// configuration.
    ///
    /// Fails with [`Error::NoBackend`] when no backend is available.
    pub fn new(io: T) -> Result<Self, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Ok(Self::with_backend_object(io, backend))
    }

    /// Wraps a connected transport, unencrypted, with the backend named `backend`.
    ///
    /// Fails with [`Error::UnknownBackend`] when no available backend has that name.
    pub fn with_backend(io: T, backend: &str) -> Result<Self, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Ok(Self::with_backend_object(io, backend))
    }

    /// Wraps a connected transport, unencrypted, with `backend` itself (for backends that are
    /// not registered).
    pub fn with_backend_object(io: T, backend: Arc<dyn TlsBackend>) -> Self {
        TlsStream {
            io,
            session: Session::new(backend),
        }
    }

    /// Joins a transport and a session (for example one taken from an
    /// [`SslSocket`](crate::SslSocket) with `into_parts`).
    pub fn from_parts(io: T, session: Session) -> Self {
        TlsStream { io, session }
    }

    /// Splits the stream into its transport and its session.
    pub fn into_parts(self) -> (T, Session) {
        (self.io, self.session)
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport, mutably. Reading or writing it directly while encrypted corrupts the
    /// session.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Unwraps the transport; whatever is queued and not sent is dropped (shut down first).
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Splits the stream into a read half and a write half that can be used from two tasks
    /// at once; they share the session behind a lock, and each half's task is woken for the
    /// transport's readiness in either direction (see [`ReadHalf`]).
    pub fn split(self) -> (ReadHalf<T>, WriteHalf<T>) {
        super::split::split(self)
    }

    /// A client handshake over `io` with the active backend and the default configuration,
    /// verifying the server against `host` (which is also sent as SNI), driven to its end.
    ///
    /// Fails as [`start_client_encryption`](Self::start_client_encryption) and
    /// [`handshake`](Self::handshake) do.
    pub async fn connect(io: T, host: &str) -> Result<Self, Error> {
        let mut stream = Self::new(io)?;
        stream.set_peer_verify_name(host);
        stream.start_client_encryption()?;
        stream.handshake().await?;
        Ok(stream)
    }

    /// A server handshake over `io` with the active backend and `config` (which holds the
    /// local certificate and key), driven to its end.
    ///
    /// Fails as [`start_server_encryption`](Self::start_server_encryption) and
    /// [`handshake`](Self::handshake) do.
    pub async fn accept(io: T, config: impl Into<Arc<SslConfiguration>>) -> Result<Self, Error> {
        let mut stream = Self::new(io)?;
        stream.set_ssl_configuration(config);
        stream.start_server_encryption()?;
        stream.handshake().await?;
        Ok(stream)
    }

    /// Starts a client handshake (immediately, or after a plaintext exchange for STARTTLS):
    /// the engine is made and its first flight queued; [`handshake`](Self::handshake), a read
    /// or a flush sends it and drives the rest.
    ///
    /// Fails as [`SslSocket::start_client_encryption`](crate::SslSocket::start_client_encryption)
    /// does (nothing is sent yet, so never with [`Error::Io`]).
    pub fn start_client_encryption(&mut self) -> Result<(), Error> {
        self.session.begin(SslMode::SslClientMode)
    }

    /// Starts a server handshake: the configuration must hold a local certificate and key.
    ///
    /// Fails as [`start_client_encryption`](Self::start_client_encryption) does.
    pub fn start_server_encryption(&mut self) -> Result<(), Error> {
        self.session.begin(SslMode::SslServerMode)
    }

    /// Drives the handshake to its end; returns at once when it is over.
    ///
    /// Fails as [`SslSocket::handshake`](crate::SslSocket::handshake) does.
    pub async fn handshake(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_handshake(cx)).await
    }

    /// Drives the handshake to its end within `timeout`.
    ///
    /// Fails with [`Error::Timeout`] when time runs out (the session fails with it), and as
    /// [`handshake`](Self::handshake) does.
    pub async fn handshake_within(&mut self, timeout: Duration) -> Result<(), Error> {
        match tokio::time::timeout(timeout, self.handshake()).await {
            Ok(result) => result,
            Err(_) => Err(self.session.time_out(timeout)),
        }
    }

    /// The handshake as a poll: `Ready` once it ended, `Pending` while it waits for the
    /// transport.
    ///
    /// Fails as [`handshake`](Self::handshake) does.
    pub fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut io = SyncIo {
            io: &mut self.io,
            cx,
        };
        ready(self.session.handshake(&mut io, &mut |_| Ok(())))
    }
}

impl TlsStream<TcpStream> {
    /// Connects to `host:port` and completes a client handshake as `options` say: the connect
    /// timeout bounds connecting, the I/O timeout bounds the handshake (the tokio stream has
    /// no per-read limit: wrap later reads in `tokio::time::timeout`).
    ///
    /// Fails with [`Error::Io`] naming the host, the port and the address (kind `TimedOut`
    /// when time ran out), [`Error::Timeout`] when the handshake took too long, and as
    /// [`handshake`](Self::handshake) does.
    pub async fn connect_to_host_encrypted(
        host: &str,
        port: u16,
        options: &ConnectOptions,
    ) -> Result<Self, Error> {
        let backend = Registry::global().backend_for_new_object(options.backend_name())?;
        let limit = options.connect_timeout_value();
        let tcp = match tokio::time::timeout(limit, TcpStream::connect((host, port))).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(crate::socket::connect_error(host, port, None, e, limit)),
            Err(_) => {
                let e = io::Error::from(io::ErrorKind::TimedOut);
                return Err(crate::socket::connect_error(host, port, None, e, limit));
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut stream = Self::with_backend_object(tcp, backend);
        stream.set_peer_verify_name(options.verify_name_value().unwrap_or(host));
        stream.start_client_encryption()?;
        match options.io_timeout_value() {
            Some(limit) => stream.handshake_within(limit).await?,
            None => stream.handshake().await?,
        }
        Ok(stream)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut io = SyncIo {
            io: &mut this.io,
            cx,
        };
        match ready(this.session.read(&mut io, buf.initialize_unfilled())) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut io = SyncIo {
            io: &mut this.io,
            cx,
        };
        ready(this.session.write(&mut io, buf)).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut io = SyncIo {
            io: &mut this.io,
            cx,
        };
        ready(this.session.flush(&mut io)).map_err(io::Error::from)
    }

    /// Sends close_notify (after whatever is queued), then shuts the transport down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut io = SyncIo {
            io: &mut this.io,
            cx,
        };
        match ready(this.session.close(&mut io)) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}
