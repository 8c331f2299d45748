//! [`SslServer`]: a blocking TLS listener (Qt's `QSslServer`).
//!
//! It accepts TCP connections, wraps each in an [`SslSocket`] with the server's configuration
//! and backend, and runs the handshake under a time limit, so that a client that connects and
//! says nothing cannot hold the accepting thread.
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! use std::io::{Read, Write};
//! use polytls::{Certificate, EncodingFormat, Key, KeyType, SslServer};
//!
//! let mut server = SslServer::bind("127.0.0.1:8443")?;
//! let mut config = server.ssl_configuration().clone();
//! config.local_certificate_chain = Certificate::list_from_file("server.pem", EncodingFormat::Pem)?;
//! config.private_key = Some(Key::from_file("server.key", EncodingFormat::Pem, KeyType::PrivateKey)?);
//! server.set_ssl_configuration(config);
//! for connection in server.incoming() {
//!     match connection {
//!         Ok(mut socket) => {
//!             socket.write_all(b"hello\n")?;
//!             socket.close()?;
//!         }
//!         Err(e) => eprintln!("handshake failed: {e}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::{Error, Registry, SslConfiguration, SslSocket, TlsBackend};

/// The handshake time limit of a new server (Qt's default is 5 seconds).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS server socket: a TCP listener whose connections come out encrypted.
pub struct SslServer {
    listener: TcpListener,
    backend: Arc<dyn TlsBackend>,
    /// Shared by every connection accepted with it.
    config: Arc<SslConfiguration>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for SslServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslServer")
            .field("listener", &self.listener)
            .field("backend", &self.backend.name())
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl SslServer {
    /// Listens on `addr` with the active backend and the default configuration (which needs a
    /// local certificate and key before the first connection).
    ///
    /// Fails with [`Error::Io`] when the address cannot be bound and [`Error::NoBackend`] when
    /// no backend is available.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<SslServer, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Ok(Self::from_listener(TcpListener::bind(addr)?, backend))
    }

    /// Listens on `addr` with the backend named `backend`.
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown name, and as [`bind`](Self::bind).
    pub fn bind_with_backend(addr: impl ToSocketAddrs, backend: &str) -> Result<SslServer, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Ok(Self::from_listener(TcpListener::bind(addr)?, backend))
    }

    /// Serves connections from an existing listener with `backend`.
    pub fn from_listener(listener: TcpListener, backend: Arc<dyn TlsBackend>) -> SslServer {
        SslServer {
            listener,
            backend,
            config: SslConfiguration::shared_default_configuration(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The address the server listens on.
    ///
    /// Fails with [`Error::Io`] when the system cannot tell.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.listener.local_addr()?)
    }

    /// The name of the backend new connections use.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// The configuration new connections get.
    pub fn ssl_configuration(&self) -> &SslConfiguration {
        &self.config
    }

    /// Replaces the configuration for connections accepted from now on (an
    /// [`SslConfiguration`] or an `Arc<SslConfiguration>`). The connections share it.
    pub fn set_ssl_configuration(&mut self, config: impl Into<Arc<SslConfiguration>>) {
        self.config = config.into();
    }

    /// How long a client may take to complete its handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Sets how long a client may take to complete its handshake.
    pub fn set_handshake_timeout(&mut self, timeout: Duration) {
        self.handshake_timeout = timeout;
    }

    /// Waits for the next connection and completes its handshake.
    ///
    /// Fails with [`Error::Io`] when accepting fails, and with the handshake's error
    /// ([`Error::Timeout`], [`Error::Verification`], [`Error::Handshake`], ...) when that client
    /// could not be served; the server itself stays usable either way.
    pub fn accept(&self) -> Result<SslSocket<TcpStream>, Error> {
        let (stream, _) = self.listener.accept()?;
        let mut socket = SslSocket::with_backend_object(stream, self.backend.clone());
        socket.set_ssl_configuration(Arc::clone(&self.config));
        socket.start_server_encryption()?;
        socket.wait_for_encrypted(Some(self.handshake_timeout))?;
        Ok(socket)
    }

    /// An endless iterator of [`accept`](Self::accept) results.
    pub fn incoming(&self) -> impl Iterator<Item = Result<SslSocket<TcpStream>, Error>> + '_ {
        std::iter::repeat_with(|| self.accept())
    }
}
