//! The two front ends a case runs on: the blocking [`SslSocket`] and the tokio
//! [`TlsStream`].
//!
//! Every two-sided case runs once per front end. The harness drives each handshake it runs
//! ([`harness::handshake`](crate::harness::handshake) and everything built on it) on the
//! front end of the case's run: on tokio, the socket's session is moved into a `TlsStream`
//! over the same connection for the handshake, then back, so the case's checks after it read
//! the same session. Verification decisions, events, the write queue and every error a
//! handshake can end with therefore go through both front ends' code; the tokio data path has
//! cases of its own (`tokio/...`).

use std::cell::Cell;
use std::net::TcpStream;

use polytls::tokio::TlsStream;
use polytls::{Error, SslSocket};

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
}

/// The front end of the case running on this thread.
pub fn current() -> FrontEnd {
    CURRENT.with(Cell::get)
}

/// Sets the front end of the case running on this thread.
pub fn set_current(front_end: FrontEnd) {
    CURRENT.with(|c| c.set(front_end));
}

/// Starts a thread that runs `f` on this thread's front end.
pub fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let front_end = current();
    std::thread::spawn(move || {
        set_current(front_end);
        f()
    })
}

/// Drives the handshake `socket` started to its end on the current front end, and returns
/// the socket.
///
/// Fails with the handshake's error, or with [`Error::Io`] when the connection cannot be
/// moved between the front ends.
pub fn handshake(mut socket: SslSocket<TcpStream>) -> Result<SslSocket<TcpStream>, Error> {
    match current() {
        FrontEnd::Blocking => socket.handshake().map(|()| socket),
        FrontEnd::Tokio => on_tokio(socket),
    }
}

/// The handshake on a `TlsStream` over the same connection (within the stream's read
/// timeout), then the session back on a blocking socket.
fn on_tokio(socket: SslSocket<TcpStream>) -> Result<SslSocket<TcpStream>, Error> {
    let (stream, session) = socket.into_parts();
    let read_timeout = stream.read_timeout()?;
    let write_timeout = stream.write_timeout()?;
    stream.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (result, stream, session) = runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::from_std(stream)?;
        let mut tls = TlsStream::from_parts(tcp, session);
        let result = match read_timeout {
            Some(limit) => tls.handshake_within(limit).await,
            None => tls.handshake().await,
        };
        let (tcp, session) = tls.into_parts();
        Ok::<_, Error>((result, tcp.into_std()?, session))
    })?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(read_timeout)?;
    stream.set_write_timeout(write_timeout)?;
    result.map(|()| SslSocket::from_parts(stream, session))
}
