//! The convenience constructors that connect and start the handshake
//! ([`SslSocket::connect_to_host_encrypted`] and its variants), each bounded in time.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::SslSocket;
use crate::{Error, Registry};

/// How long connecting may take by default: 30 seconds (Qt's `waitForConnected` default).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read or write may block by default: 30 seconds (Qt's `waitForEncrypted` and
/// `waitForReadyRead` default).
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How [`SslSocket::connect_to_host_encrypted_with_options`] connects.
///
/// ```no_run
/// # fn main() -> Result<(), polytls::Error> {
/// use std::time::Duration;
/// use polytls::{ConnectOptions, SslSocket};
///
/// let options = ConnectOptions::new()
///     .connect_timeout(Duration::from_secs(5))
///     .io_timeout(Some(Duration::from_secs(10)))
///     .backend("rustls");
/// let mut socket = SslSocket::connect_to_host_encrypted_with_options("example.com", 443, &options)?;
/// socket.handshake()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    connect_timeout: Duration,
    io_timeout: Option<Duration>,
    verify_name: Option<String>,
    backend: Option<String>,
}

impl Default for ConnectOptions {
    /// [`ConnectOptions::new`].
    fn default() -> ConnectOptions {
        ConnectOptions::new()
    }
}

impl ConnectOptions {
    /// The defaults: [`DEFAULT_CONNECT_TIMEOUT`] for each address tried,
    /// [`DEFAULT_IO_TIMEOUT`] for each read and write, the server verified against the host
    /// connected to, the active backend.
    pub fn new() -> ConnectOptions {
        ConnectOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: Some(DEFAULT_IO_TIMEOUT),
            verify_name: None,
            backend: None,
        }
    }

    /// How long connecting to each address of the host may take (a zero duration is taken as
    /// one millisecond).
    pub fn connect_timeout(self, timeout: Duration) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: timeout.max(Duration::from_millis(1)),
            ..self
        }
    }

    /// How long each read and each write of the stream may block (`None`: as long as it
    /// takes). A read that runs out of time fails with `TimedOut` or `WouldBlock` and leaves
    /// the session usable; a handshake that runs out fails.
    pub fn io_timeout(self, timeout: Option<Duration>) -> ConnectOptions {
        ConnectOptions {
            io_timeout: timeout.map(|t| t.max(Duration::from_millis(1))),
            ..self
        }
    }

    /// The name to verify the server's certificate against (and send as SNI) instead of the
    /// host.
    pub fn verify_name(self, name: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            verify_name: Some(name.into()),
            ..self
        }
    }

    /// The backend to use instead of the active one.
    pub fn backend(self, name: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            backend: Some(name.into()),
            ..self
        }
    }
}

/// The options as the tokio stream's constructors read them.
#[cfg(feature = "tokio")]
impl ConnectOptions {
    pub(crate) fn backend_name(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    pub(crate) fn connect_timeout_value(&self) -> Duration {
        self.connect_timeout
    }

    pub(crate) fn io_timeout_value(&self) -> Option<Duration> {
        self.io_timeout
    }

    pub(crate) fn verify_name_value(&self) -> Option<&str> {
        self.verify_name.as_deref()
    }
}

impl SslSocket<TcpStream> {
    /// Connects to `host:port` and starts a client handshake with the active backend and the
    /// default configuration, verifying the server against `host`, with the default time
    /// limits of [`ConnectOptions::new`].
    ///
    /// Fails as [`connect_to_host_encrypted_with_options`](Self::connect_to_host_encrypted_with_options)
    /// does.
    pub fn connect_to_host_encrypted(host: &str, port: u16) -> Result<Self, Error> {
        Self::connect_to_host_encrypted_with_options(host, port, &ConnectOptions::new())
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
        let options = ConnectOptions::new().verify_name(verify_name);
        Self::connect_to_host_encrypted_with_options(host, port, &options)
    }

    /// Like [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) with the backend
    /// named `backend` (`None`: the active backend).
    ///
    /// Fails as [`connect_to_host_encrypted`](Self::connect_to_host_encrypted) does.
    pub fn connect_to_host_encrypted_with(
        host: &str,
        port: u16,
        backend: Option<&str>,
    ) -> Result<Self, Error> {
        let mut options = ConnectOptions::new();
        options.backend = backend.map(str::to_owned);
        Self::connect_to_host_encrypted_with_options(host, port, &options)
    }

    /// Connects to `host:port` as `options` say (trying each address the host resolves to, in
    /// turn, each under the connect timeout), sets the read and write timeouts on the stream,
    /// and starts a client handshake with the default configuration. The handshake is
    /// finished by [`wait_for_encrypted`](Self::wait_for_encrypted), a read or a flush, each
    /// read of it bounded by the I/O timeout.
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown backend name, with [`Error::Io`]
    /// naming the host, the port and the address tried when the name does not resolve or no
    /// address accepts the connection in time (kind `TimedOut` when time ran out), and as
    /// [`start_client_encryption`](Self::start_client_encryption) does.
    pub fn connect_to_host_encrypted_with_options(
        host: &str,
        port: u16,
        options: &ConnectOptions,
    ) -> Result<Self, Error> {
        let backend = Registry::global().backend_for_new_object(options.backend.as_deref())?;
        let stream = connect(host, port, options.connect_timeout)?;
        stream.set_read_timeout(options.io_timeout)?;
        stream.set_write_timeout(options.io_timeout)?;
        let mut socket = Self::with_backend_object(stream, backend);
        socket.set_peer_verify_name(options.verify_name.as_deref().unwrap_or(host));
        socket.start_client_encryption()?;
        Ok(socket)
    }
}

/// Connects to the first address of `host:port` that accepts within `timeout`.
///
/// Fails as [`connect_error`] describes.
fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| connect_error(host, port, None, e, timeout))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    let mut last_addr = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                last = e;
                last_addr = Some(addr);
            }
        }
    }
    Err(connect_error(host, port, last_addr, last, timeout))
}

/// The error for a connection to `host:port` that failed with `e` (at `addr`, when one was
/// tried): an [`Error::Io`] of `e`'s kind whose message names the host, the port and the
/// address, and the time limit when it ran out.
pub(crate) fn connect_error(
    host: &str,
    port: u16,
    addr: Option<SocketAddr>,
    e: io::Error,
    timeout: Duration,
) -> Error {
    let at = addr.map(|a| format!(" ({a})")).unwrap_or_default();
    let what = if e.kind() == io::ErrorKind::TimedOut {
        format!("timed out after {} ms", timeout.as_millis())
    } else {
        e.to_string()
    };
    Error::Io(io::Error::new(
        e.kind(),
        format!("connecting to {host}:{port}{at}: {what}"),
    ))
}
