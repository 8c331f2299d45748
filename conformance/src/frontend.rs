//! The two front ends a case runs on: the blocking [`SslSocket`] and the tokio
//! [`TlsStream`].
//!
//! Every two-sided case runs once per front end. A case's [`Socket`] does its handshakes,
//! reads, writes, flushes and closes on the front end of the case's run: on tokio, the
//! socket's session is moved into a `TlsStream` over the same connection for each of these
//! calls, then back, so the case's checks after it read the same session. Verification
//! decisions, events, the write queue, close_notify, truncation and every error a session can
//! end with therefore go through both front ends' code. What only the tokio front end has
//! (split halves, a transport that is pending at random) has cases of its own
//! (`tokio/...`). The DTLS cases' handshakes run on tokio through `AsyncDtls` (see
//! `cases::dtls::drive`).
//!
//! Each call made on tokio's front end is counted for the case that made it
//! ([`ran_on_tokio`]); the harness fails a tokio run that passed without one.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::ops::{Deref, DerefMut};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polytls::tokio::TlsStream;
use polytls::{Error, SslSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which front end drives a case's handshakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FrontEnd {
    /// [`SslSocket`] over a blocking `TcpStream`.
    #[default]
    Blocking,
    /// [`TlsStream`] over a tokio `TcpStream`.
    Tokio,
}

impl FrontEnd {
    /// The prefix of a case's name on this front end (`""` or `"tokio:"`).
    pub fn prefix(self) -> &'static str {
        match self {
            FrontEnd::Blocking => "",
            FrontEnd::Tokio => "tokio:",
        }
    }
}

thread_local! {
    static CURRENT: Cell<FrontEnd> = const { Cell::new(FrontEnd::Blocking) };
    /// How many calls the running case made on the tokio front end, shared by its threads.
    static ON_TOKIO: RefCell<Option<Arc<AtomicUsize>>> = const { RefCell::new(None) };
}

/// The front end of the case running on this thread.
pub fn current() -> FrontEnd {
    CURRENT.with(Cell::get)
}

/// Sets the front end of the case running on this thread.
pub fn set_current(front_end: FrontEnd) {
    CURRENT.with(|c| c.set(front_end));
}

/// Sets the front end of the case running on this thread and the tally of its calls on
/// tokio's (see [`ran_on_tokio`]), which its threads started with [`spawn`] share.
pub fn set_current_counting(front_end: FrontEnd, tally: Arc<AtomicUsize>) {
    set_current(front_end);
    ON_TOKIO.with(|t| *t.borrow_mut() = Some(tally));
}

/// Notes that a call of the running case ran on the tokio front end: a tokio run of a case
/// that passes without one is a failure (it proved nothing the blocking run did not).
pub fn ran_on_tokio() {
    ON_TOKIO.with(|t| {
        if let Some(tally) = &*t.borrow() {
            tally.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Starts a thread that runs `f` on this thread's front end, counting its calls on tokio's
/// with this thread's.
pub fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let front_end = current();
    let tally = ON_TOKIO.with(|t| t.borrow().clone());
    std::thread::spawn(move || {
        set_current(front_end);
        ON_TOKIO.with(|t| *t.borrow_mut() = tally);
        f()
    })
}

/// A case's socket over loopback TCP: an [`SslSocket`] (everything it has is reached through
/// it) whose handshake, reads, writes, flushes and close run on the [current] front end.
pub struct Socket {
    /// `None` only while a call runs on tokio (or after moving the connection there failed).
    socket: Option<SslSocket<TcpStream>>,
    /// The runtime of this socket's tokio calls, made at the first one.
    runtime: Option<tokio::runtime::Runtime>,
}

/// A call on the tokio front end.
enum Call<'b> {
    /// `handshake_within` the limit, or `handshake` without one.
    Handshake(Option<Duration>),
    Read(&'b mut [u8]),
    Write(&'b [u8]),
    Flush,
    /// `shutdown`: close_notify, then the connection's sending side.
    Shutdown,
}

impl Call<'_> {
    /// Makes the call on `tls`; returns the bytes read or written (0 for the others).
    async fn on(self, tls: &mut TlsStream<tokio::net::TcpStream>) -> Result<usize, Error> {
        match self {
            Call::Handshake(Some(limit)) => tls.handshake_within(limit).await.map(|()| 0),
            Call::Handshake(None) => tls.handshake().await.map(|()| 0),
            Call::Read(buf) => tls.read(buf).await.map_err(Error::from),
            Call::Write(buf) => tls.write(buf).await.map_err(Error::from),
            Call::Flush => tls.flush().await.map(|()| 0).map_err(Error::from),
            Call::Shutdown => tls.shutdown().await.map(|()| 0).map_err(polytls_error),
        }
    }
}

const LOST: &str = "the connection was lost moving between the front ends";

impl Socket {
    /// Wraps `stream` with the backend named `backend`.
    ///
    /// Fails as [`SslSocket::with_backend`] does.
    pub fn with_backend(stream: TcpStream, backend: &str) -> Result<Socket, Error> {
        SslSocket::with_backend(stream, backend).map(Socket::from)
    }

    /// Drives the handshake to its end on the current front end (on tokio within the
    /// connection's read timeout).
    ///
    /// Fails as [`SslSocket::handshake`] does (and with [`Error::Timeout`] on tokio).
    pub fn handshake(&mut self) -> Result<(), Error> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().handshake(),
            FrontEnd::Tokio => {
                let limit = self.get_ref().read_timeout()?;
                self.on_tokio(None, Call::Handshake(limit)).map(drop)
            }
        }
    }

    /// Drives the handshake within `timeout` on the current front end.
    ///
    /// Fails as [`SslSocket::wait_for_encrypted`] does.
    pub fn wait_for_encrypted(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().wait_for_encrypted(timeout),
            FrontEnd::Tokio => self.on_tokio(None, Call::Handshake(timeout)).map(drop),
        }
    }

    /// Ends the session with close_notify: [`SslSocket::close`], or on tokio the stream's
    /// `shutdown` (which also ends the connection's sending side).
    ///
    /// Fails as [`SslSocket::close`] does.
    pub fn close(&mut self) -> Result<(), Error> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().close(),
            FrontEnd::Tokio => {
                let limit = self.get_ref().write_timeout()?;
                self.on_tokio(limit, Call::Shutdown).map(drop)
            }
        }
    }

    /// Makes `call` on a `TlsStream` holding this socket's connection and session, within
    /// `limit` (a call still running then fails with `WouldBlock`, as a blocking read does
    /// at its timeout), then puts both back, also when a handler panicked in the call (the
    /// panic then goes on to the caller, as on the blocking front end).
    fn on_tokio(&mut self, limit: Option<Duration>, call: Call<'_>) -> Result<usize, Error> {
        if self.runtime.is_none() {
            self.runtime = Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            );
        }
        let runtime = self.runtime.as_ref().expect("made above");
        let _context = runtime.enter();
        self.socket
            .as_ref()
            .expect(LOST)
            .get_ref()
            .set_nonblocking(true)?;
        let (stream, session) = self.socket.take().expect(LOST).into_parts();
        let mut tls = TlsStream::from_parts(tokio::net::TcpStream::from_std(stream)?, session);
        ran_on_tokio();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, call.on(&mut tls))
                        .await
                        .unwrap_or_else(|_| {
                            Err(Error::Io(io::Error::new(
                                io::ErrorKind::WouldBlock,
                                format!("nothing happened within {limit:?}"),
                            )))
                        }),
                    None => call.on(&mut tls).await,
                }
            })
        }));
        let (tcp, session) = tls.into_parts();
        let stream = tcp.into_std()?;
        stream.set_nonblocking(false)?;
        self.socket = Some(SslSocket::from_parts(stream, session));
        outcome.unwrap_or_else(|panic| resume_unwind(panic))
    }
}

/// The polytls error an I/O error of a front end carries, or the I/O error itself.
pub(crate) fn polytls_error(e: io::Error) -> Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::Io(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(error)) => *error,
        Some(Err(other)) => Error::Io(io::Error::new(kind, other)),
        None => Error::Io(kind.into()),
    }
}

impl From<SslSocket<TcpStream>> for Socket {
    fn from(socket: SslSocket<TcpStream>) -> Socket {
        Socket {
            socket: Some(socket),
            runtime: None,
        }
    }
}

impl Deref for Socket {
    type Target = SslSocket<TcpStream>;

    fn deref(&self) -> &SslSocket<TcpStream> {
        self.socket.as_ref().expect(LOST)
    }
}

impl DerefMut for Socket {
    fn deref_mut(&mut self) -> &mut SslSocket<TcpStream> {
        self.socket.as_mut().expect(LOST)
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Socket").field(&self.socket).finish()
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().read(buf),
            FrontEnd::Tokio => {
                let limit = self.get_ref().read_timeout()?;
                Ok(self.on_tokio(limit, Call::Read(buf))?)
            }
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().write(buf),
            FrontEnd::Tokio => {
                let limit = self.get_ref().write_timeout()?;
                Ok(self.on_tokio(limit, Call::Write(buf))?)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match current() {
            FrontEnd::Blocking => self.deref_mut().flush(),
            FrontEnd::Tokio => {
                let limit = self.get_ref().write_timeout()?;
                self.on_tokio(limit, Call::Flush)?;
                Ok(())
            }
        }
    }
}
