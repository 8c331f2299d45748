//! [`SslServer`]: the tokio listener whose handshakes run as tasks of their own.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::TlsStream;
use crate::server::{
    lock, server_settings_methods, PublishedSettings, Queue, ServerSettings, SettingsChange,
};
use crate::{Error, Registry, TlsBackend};

/// A TLS listener for tokio (Qt's `QSslServer`, async): each connection's handshake runs as a
/// task of its own under its own time limit, so a client that says nothing delays nobody;
/// [`accept`](Self::accept) yields connections whose handshake completed, and the ones that
/// failed are reported to [`on_error_occurred`](Self::on_error_occurred).
///
/// ```no_run
/// # async fn run(config: polytls::SslConfiguration) -> Result<(), polytls::Error> {
/// use polytls::tokio::SslServer;
/// use tokio::io::AsyncWriteExt;
///
/// let mut server = SslServer::bind("127.0.0.1:8443").await?;
/// server.set_ssl_configuration(config);
/// loop {
///     let mut stream = server.accept().await?;
///     tokio::spawn(async move {
///         let _ = stream.write_all(b"hello\n").await;
///         let _ = stream.shutdown().await;
///     });
/// }
/// # }
/// ```
pub struct SslServer {
    settings: PublishedSettings,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    /// The listener task.
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What [`SslServer::on_connection`] runs for each established connection.
type ConnectionHandler =
    Arc<dyn Fn(TlsStream<TcpStream>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Shared {
    settings: Arc<Mutex<Arc<ServerSettings>>>,
    listener: Mutex<Option<TcpListener>>,
    queue: Mutex<Queue<TlsStream<TcpStream>>>,
    /// Where established connections go instead of the queue, once set.
    serve: Mutex<Option<ConnectionHandler>>,
    /// Notified when a connection or an error joins the queue.
    arrived: Notify,
    /// Notified when a handshake ends or a connection is taken.
    room: Notify,
}

impl std::fmt::Debug for SslServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslServer")
            .field("local_addr", &self.local_addr)
            .field("backend", &self.settings.get().backend.name())
            .finish_non_exhaustive()
    }
}

impl SslServer {
    /// Listens on `addr` with the active backend and the default configuration.
    ///
    /// Fails with [`Error::Io`] naming the address when it cannot be bound, and
    /// [`Error::NoBackend`] when no backend is available.
    pub async fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<SslServer, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Self::from_listener(bind(addr).await?, backend)
    }

    /// Listens on `addr` with the backend named `backend`.
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown name, and as [`bind`](Self::bind).
    pub async fn bind_with_backend(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        backend: &str,
    ) -> Result<SslServer, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Self::from_listener(bind(addr).await?, backend)
    }

    /// Serves connections from an existing listener with `backend`: the listener task starts
    /// now on the current runtime, and connections get the settings in force when they
    /// arrive (so configure the server before clients can connect).
    ///
    /// Fails with [`Error::Io`] when the listener's address cannot be read, and with
    /// [`Error::InvalidState`] outside a tokio runtime.
    pub fn from_listener(
        listener: TcpListener,
        backend: Arc<dyn TlsBackend>,
    ) -> Result<SslServer, Error> {
        let settings = PublishedSettings::new(ServerSettings::new(backend));
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::InvalidState("a tokio SslServer must be created within a tokio runtime".into())
        })?;
        let server = SslServer {
            local_addr: listener.local_addr()?,
            shared: Arc::new(Shared {
                settings: settings.published(),
                listener: Mutex::new(Some(listener)),
                queue: Mutex::new(Queue::default()),
                serve: Mutex::new(None),
                arrived: Notify::new(),
                room: Notify::new(),
            }),
            settings,
            task: Mutex::new(None),
        };
        server.start(&runtime);
        Ok(server)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn settings(&self) -> &ServerSettings {
        self.settings.get()
    }

    fn settings_mut(&mut self) -> SettingsChange<'_> {
        self.settings.change()
    }

    server_settings_methods!();

    /// The number of handshakes running now.
    pub fn pending_handshakes(&self) -> usize {
        lock(&self.shared.queue).handshaking()
    }

    /// The number of established connections waiting for [`accept`](Self::accept).
    pub fn pending_connections(&self) -> usize {
        lock(&self.shared.queue).waiting()
    }

    /// Runs `handler` on each connection whose handshake completes from now on, in the task
    /// that ran its handshake, instead of queuing it for [`accept`](Self::accept): a task per
    /// connection with no hand-off, as the blocking server's
    /// [`on_connection`](crate::SslServer::on_connection) does with threads. The connection
    /// holds no handshake slot while `handler`'s future runs, and no bound of the server
    /// counts it. Connections already queued stay for `accept`, which then returns only those
    /// and the listener's failures.
    ///
    /// ```no_run
    /// # async fn run(mut server: polytls::tokio::SslServer) {
    /// use tokio::io::AsyncWriteExt;
    ///
    /// server.on_connection(|mut stream| async move {
    ///     let _ = stream.write_all(b"hello\n").await;
    ///     let _ = stream.shutdown().await;
    /// });
    /// // Connections are served while `server` lives.
    /// std::future::pending::<()>().await;
    /// # }
    /// ```
    pub fn on_connection<F, Fut>(&mut self, handler: F)
    where
        F: Fn(TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *lock(&self.shared.serve) = Some(Arc::new(move |stream| Box::pin(handler(stream))));
    }

    /// Waits for the next connection whose handshake completed.
    ///
    /// Fails with [`Error::Io`] when the listener itself fails (a client's failure goes to
    /// [`on_error_occurred`](Self::on_error_occurred)); the server stays usable.
    pub async fn accept(&self) -> Result<TlsStream<TcpStream>, Error> {
        loop {
            let arrived = self.shared.arrived.notified();
            {
                let mut queue = lock(&self.shared.queue);
                if let Some(next) = queue.next() {
                    self.shared.room.notify_one();
                    return next;
                }
            }
            arrived.await;
        }
    }

    /// Like [`accept`](Self::accept), waiting at most `timeout`.
    ///
    /// Fails with [`Error::Timeout`] when no connection completed in time, and as
    /// [`accept`](Self::accept) does.
    pub async fn accept_within(&self, timeout: Duration) -> Result<TlsStream<TcpStream>, Error> {
        tokio::time::timeout(timeout, self.accept())
            .await
            .unwrap_or_else(|_| {
                Err(Error::timed_out(
                    format_args!("waiting for a connection on {}", self.local_addr),
                    timeout,
                ))
            })
    }

    fn start(&self, runtime: &tokio::runtime::Handle) {
        let Some(listener) = lock(&self.shared.listener).take() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        *lock(&self.task) = Some(runtime.spawn(listen(shared, listener)));
    }
}

impl Drop for SslServer {
    /// Stops the listener task; handshakes already running end within their time limit.
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

async fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<TcpListener, Error> {
    let described = format!("{addr:?}");
    TcpListener::bind(addr).await.map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("listening on {described}: {e}"),
        ))
    })
}

/// The listener task: accepts while there is room, and spawns each handshake as a task.
async fn listen(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        loop {
            let room = shared.room.notified();
            {
                if lock(&shared.queue).has_room(&lock(&shared.settings)) {
                    break;
                }
            }
            room.await;
        }
        match listener.accept().await {
            Ok((tcp, peer)) => {
                lock(&shared.queue).started();
                let settings = Arc::clone(&lock(&shared.settings));
                tokio::spawn(handshake(Arc::clone(&shared), settings, tcp, peer));
            }
            Err(e) => {
                lock(&shared.queue).failed(Error::Io(e));
                shared.arrived.notify_one();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One connection's handshake within the server's time limit; the connection joins the queue
/// (or goes to the connection handler, which this task then runs) or its failure is
/// reported.
async fn handshake(
    shared: Arc<Shared>,
    settings: Arc<ServerSettings>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let _ = tcp.set_nodelay(true);
    let mut stream = TlsStream::from_parts(tcp, settings.session_for(peer));
    let result = match stream.start_server_encryption() {
        Ok(()) => stream.handshake_within(settings.handshake_timeout).await,
        Err(e) => Err(e),
    };
    let serve = lock(&shared.serve).clone();
    match (result, serve) {
        (Ok(()), Some(handler)) => {
            lock(&shared.queue).ended(None);
            shared.room.notify_one();
            handler(stream).await;
            return;
        }
        (Ok(()), None) => {
            lock(&shared.queue).ended(Some(stream));
            shared.arrived.notify_one();
        }
        (Err(error), _) => {
            lock(&shared.queue).ended(None);
            settings.report(peer, &error);
        }
    }
    shared.room.notify_one();
}
