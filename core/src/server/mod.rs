//! [`SslServer`]: a blocking TLS listener (Qt's `QSslServer`).
//!
//! The listener is served by a thread of its own, and each connection's handshake by another,
//! under its own time limit: a client that connects and says nothing holds one handshake slot
//! until its time runs out, and delays nobody. [`accept`](SslServer::accept) hands out
//! connections whose handshake completed (or [`on_connection`](SslServer::on_connection)
//! serves each on its handshake's thread); the ones that failed are reported to
//! [`on_error_occurred`](SslServer::on_error_occurred), naming the peer.
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
//! server.on_error_occurred(|peer, error| eprintln!("{peer}: {error}"));
//! for connection in server.incoming() {
//!     let mut socket = connection?;
//!     std::thread::spawn(move || {
//!         let _ = socket.write_all(b"hello\n");
//!         let _ = socket.close();
//!     });
//! }
//! # Ok(())
//! # }
//! ```

mod queue;
mod settings;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{Error, Registry, SslSocket, TlsBackend};
pub(crate) use queue::Queue;
pub(crate) use settings::{
    lock, server_settings_methods, PublishedSettings, ServerSettings, SettingsChange,
};
pub use settings::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MAX_PENDING_HANDSHAKES,
};

/// What [`SslServer::on_connection`] runs for each established connection.
type ConnectionHandler = Arc<dyn Fn(SslSocket<TcpStream>) + Send + Sync>;

/// A TLS server socket: a TCP listener whose connections come out encrypted.
pub struct SslServer {
    settings: PublishedSettings,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

/// What the server, its listener thread and its handshake threads share.
struct Shared {
    /// The settings a connection accepted now gets.
    settings: Arc<Mutex<Arc<ServerSettings>>>,
    /// The listener, until the listener thread takes it.
    listener: Mutex<Option<TcpListener>>,
    queue: Mutex<Held>,
    /// Signalled when a connection or an error joins the queue and a thread waits in
    /// `accept`.
    arrived: Condvar,
    /// Signalled when a handshake ends or a connection is taken while the listener waits for
    /// room: it may go on.
    room: Condvar,
    closed: AtomicBool,
}

/// The queue and who waits on it, under one lock: a condition variable is signalled only
/// when a thread waits on it (each signal is a system call).
#[derive(Default)]
struct Held {
    queue: Queue<SslSocket<TcpStream>>,
    /// Where established connections go instead of the queue, once set.
    serve: Option<ConnectionHandler>,
    /// Threads waiting in `accept` for `arrived`.
    accepting: usize,
    /// Whether the listener thread waits for `room`.
    listener_waits: bool,
}

impl Shared {
    /// Wakes a thread waiting in `accept`, when `held` says one waits. Called after the lock
    /// is released (the waiter was counted before it began to wait, so it is not missed),
    /// so that the thread woken does not wait for the lock at once.
    fn wake_acceptor(&self, waits: bool) {
        if waits {
            self.arrived.notify_one();
        }
    }

    /// Wakes the listener when it waits for room (after the lock is released, likewise).
    fn wake_listener(&self, waits: bool) {
        if waits {
            self.room.notify_one();
        }
    }
}

impl std::fmt::Debug for SslServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslServer")
            .field("local_addr", &self.local_addr)
            .field("backend", &self.settings.get().backend.name())
            .field("handshake_timeout", &self.settings.get().handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl SslServer {
    /// Listens on `addr` with the active backend and the default configuration (which needs a
    /// local certificate and key before the first connection).
    ///
    /// Fails with [`Error::Io`] naming the address when it cannot be bound, and
    /// [`Error::NoBackend`] when no backend is available.
    pub fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<SslServer, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Self::from_listener(bind(addr)?, backend)
    }

    /// Listens on `addr` with the backend named `backend`.
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown name, and as [`bind`](Self::bind).
    pub fn bind_with_backend(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        backend: &str,
    ) -> Result<SslServer, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Self::from_listener(bind(addr)?, backend)
    }

    /// Serves connections from an existing listener with `backend`: the listener thread
    /// starts now, and connections get the settings in force when they arrive (so configure
    /// the server before clients can connect).
    ///
    /// Fails with [`Error::Io`] when the listener's address cannot be read or its thread
    /// cannot be started.
    pub fn from_listener(
        listener: TcpListener,
        backend: Arc<dyn TlsBackend>,
    ) -> Result<SslServer, Error> {
        let settings = PublishedSettings::new(ServerSettings::new(backend));
        let server = SslServer {
            local_addr: listener.local_addr()?,
            shared: Arc::new(Shared {
                settings: settings.published(),
                listener: Mutex::new(Some(listener)),
                queue: Mutex::new(Held::default()),
                arrived: Condvar::new(),
                room: Condvar::new(),
                closed: AtomicBool::new(false),
            }),
            settings,
        };
        server.start()?;
        Ok(server)
    }

    /// The address the server listens on.
    ///
    /// Never fails today; the `Result` is kept for listeners whose address is not known.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.local_addr)
    }

    fn settings(&self) -> &ServerSettings {
        self.settings.get()
    }

    fn settings_mut(&mut self) -> SettingsChange<'_> {
        self.settings.change()
    }

    server_settings_methods!();

    /// Waits for the next connection whose handshake completed. It has neither a read nor a
    /// write timeout (the handshake's are cleared).
    ///
    /// Fails with [`Error::Io`] when the listener itself fails (a client's failure is
    /// reported to [`on_error_occurred`](Self::on_error_occurred), not here); the server stays
    /// usable.
    pub fn accept(&self) -> Result<SslSocket<TcpStream>, Error> {
        self.next(None)
    }

    /// Like [`accept`](Self::accept), waiting at most `timeout`.
    ///
    /// Fails with [`Error::Timeout`] when no connection completed in time, and as
    /// [`accept`](Self::accept) does.
    pub fn accept_within(&self, timeout: Duration) -> Result<SslSocket<TcpStream>, Error> {
        self.next(Some((Instant::now() + timeout, timeout)))
    }

    /// Hands each connection whose handshake completes from now on to `handler`, on the
    /// thread that ran its handshake, instead of queuing it for [`accept`](Self::accept): a
    /// thread per connection, which ends when `handler` returns, with no hand-off to another
    /// thread. The connection has neither a read nor a write timeout, as from `accept`; it
    /// holds no handshake slot while `handler` runs, and no bound of the server counts it
    /// (a handler that waits on its client should set a read timeout). Connections already
    /// queued stay for `accept`, which then returns only those and the listener's failures.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use std::io::Write;
    ///
    /// let mut server = polytls::SslServer::bind("127.0.0.1:8443")?;
    /// // ... certificate and key ...
    /// server.on_connection(|mut socket| {
    ///     let _ = socket.write_all(b"hello\n");
    ///     let _ = socket.close();
    /// });
    /// // Connections are served while `server` lives.
    /// loop {
    ///     std::thread::park();
    /// }
    /// # #[allow(unreachable_code)]
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_connection(
        &mut self,
        handler: impl Fn(SslSocket<TcpStream>) + Send + Sync + 'static,
    ) {
        lock(&self.shared.queue).serve = Some(Arc::new(handler));
    }

    /// An endless iterator of [`accept`](Self::accept) results.
    pub fn incoming(&self) -> impl Iterator<Item = Result<SslSocket<TcpStream>, Error>> + '_ {
        std::iter::repeat_with(|| self.accept())
    }

    /// The number of handshakes running now.
    pub fn pending_handshakes(&self) -> usize {
        lock(&self.shared.queue).queue.handshaking()
    }

    /// The number of established connections waiting for [`accept`](Self::accept).
    pub fn pending_connections(&self) -> usize {
        lock(&self.shared.queue).queue.waiting()
    }

    /// The next connection, waiting until the deadline, if any (and its limit, for the error).
    fn next(&self, deadline: Option<(Instant, Duration)>) -> Result<SslSocket<TcpStream>, Error> {
        let shared = &*self.shared;
        let mut held = lock(&shared.queue);
        loop {
            if let Some(next) = held.queue.next() {
                let listener_waits = held.listener_waits;
                drop(held);
                shared.wake_listener(listener_waits);
                return next;
            }
            held.accepting += 1;
            held = match deadline {
                None => shared
                    .arrived
                    .wait(held)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some((deadline, limit)) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        held.accepting -= 1;
                        return Err(Error::timed_out(
                            format_args!("waiting for a connection on {}", self.local_addr),
                            limit,
                        ));
                    }
                    shared
                        .arrived
                        .wait_timeout(held, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
            held.accepting -= 1;
        }
    }

    /// Starts the listener thread.
    ///
    /// Fails with [`Error::Io`] when the thread cannot be started.
    fn start(&self) -> Result<(), Error> {
        let Some(listener) = lock(&self.shared.listener).take() else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name(format!("polytls-server {}", self.local_addr))
            .spawn(move || listen(&shared, &listener))?;
        Ok(())
    }
}

impl Drop for SslServer {
    /// Stops the listener thread. Handshakes already running finish on their own threads,
    /// within their time limit, and their connections are closed.
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.room.notify_all();
        if lock(&self.shared.listener).is_none() {
            // The listener thread may be waiting in `accept`: one connection wakes it.
            let mut wake = self.local_addr;
            if wake.ip().is_unspecified() {
                wake.set_ip(match wake {
                    SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
                });
            }
            let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        }
    }
}

/// Binds `addr`.
///
/// Fails with [`Error::Io`] naming the address.
fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<TcpListener, Error> {
    TcpListener::bind(&addr).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("listening on {addr:?}: {e}"),
        ))
    })
}

/// The listener thread: accepts while there is room, and hands each connection to a
/// handshake thread of its own.
fn listen(shared: &Arc<Shared>, listener: &TcpListener) {
    loop {
        {
            let mut held = lock(&shared.queue);
            loop {
                if shared.closed.load(Ordering::SeqCst) {
                    return;
                }
                if held.queue.has_room(&lock(&shared.settings)) {
                    break;
                }
                held.listener_waits = true;
                held = shared
                    .room
                    .wait(held)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                held.listener_waits = false;
            }
        }
        match listener.accept() {
            Ok(_) if shared.closed.load(Ordering::SeqCst) => return,
            Ok((stream, peer)) => {
                lock(&shared.queue).queue.started();
                let settings = Arc::clone(&lock(&shared.settings));
                let for_thread = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("polytls-handshake {peer}"))
                    .spawn(move || {
                        let result = handshake(&settings, stream, peer);
                        finish(&for_thread, &settings, peer, result);
                    });
                if let Err(e) = spawned {
                    let mut held = lock(&shared.queue);
                    held.queue.ended(None);
                    held.queue.failed(Error::Io(e));
                    let accepting = held.accepting > 0;
                    drop(held);
                    shared.wake_acceptor(accepting);
                }
            }
            Err(e) => {
                let mut held = lock(&shared.queue);
                held.queue.failed(Error::Io(e));
                let accepting = held.accepting > 0;
                drop(held);
                shared.wake_acceptor(accepting);
                // Out of file descriptors and the like: give the system a moment.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One connection's handshake, within the server's time limit (reads and writes alike). The
/// connection comes out with neither a read nor a write timeout, as it was accepted.
///
/// Fails as [`SslSocket::wait_for_encrypted`] does.
fn handshake(
    settings: &ServerSettings,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<SslSocket<TcpStream>, Error> {
    let limit = settings.handshake_timeout.max(Duration::from_millis(1));
    stream.set_write_timeout(Some(limit))?;
    let _ = stream.set_nodelay(true);
    let mut socket = SslSocket::from_parts(stream, settings.session_for(peer));
    socket.start_server_encryption()?;
    // The read timeout ends cleared, as the write timeout does: none to read back.
    socket.wait_within(limit, None)?;
    socket.get_ref().set_write_timeout(None)?;
    Ok(socket)
}

/// Queues an established connection for `accept` or, when the server has a connection
/// handler, runs it on this thread; reports a failed one.
fn finish(
    shared: &Shared,
    settings: &ServerSettings,
    peer: SocketAddr,
    result: Result<SslSocket<TcpStream>, Error>,
) {
    let mut held = lock(&shared.queue);
    let (queued, served, failed) = match (result, held.serve.clone()) {
        (Ok(socket), Some(handler)) => (None, Some((handler, socket)), None),
        (Ok(socket), None) => (Some(socket), None, None),
        (Err(error), _) => (None, None, Some(error)),
    };
    let accepting = queued.is_some() && held.accepting > 0;
    held.queue.ended(queued);
    let listener_waits = held.listener_waits;
    drop(held);
    shared.wake_acceptor(accepting);
    shared.wake_listener(listener_waits);
    if let Some(error) = failed {
        settings.report(peer, &error);
    }
    if let Some((handler, socket)) = served {
        handler(socket);
    }
}
