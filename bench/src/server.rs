//! polytls' servers under load: many clients handshaking at once with polytls' blocking
//! [`SslServer`](polytls::SslServer) and its tokio [`SslServer`](polytls::tokio::SslServer),
//! against a thread-per-connection server written directly over the backend's crate; and a
//! good client's handshake latency while silent clients hold connections open.
//!
//! Every server is on loopback TCP, with the certificate and settings of [`Setup`]; once a
//! connection's handshake is complete, the server writes one byte and closes it. The clients
//! are the same for every server: rustls used directly, blocking, one thread each, without
//! certificate verification (the server's work is what is measured, so the clients do as
//! little as a TLS 1.3 client can) and without resumption, so every handshake is a full one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use openssl::ssl::Ssl;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::UnixTime;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, ServerConnection};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt;

use crate::async_tls::two_worker_runtime;
use crate::inmem::Backend;
use crate::setup::{Setup, HOST};

/// The handshake time limit of the servers measured here: longer than any measurement, so
/// that silent clients stay connected for the whole of one.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which server accepts the connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// polytls' blocking `SslServer` (a thread per handshake), its connections taken with
    /// `accept` by one thread.
    Blocking,
    /// polytls' blocking `SslServer` serving each connection on its handshake's thread
    /// (`on_connection`).
    BlockingServed,
    /// polytls' tokio `SslServer` (a task per handshake) on a runtime of two workers.
    Tokio,
    /// A thread per connection over the backend's crate used directly: `openssl`'s `Ssl`
    /// accepting on a `std::net::TcpStream`, or rustls' `ServerConnection` driven with
    /// `complete_io` on one.
    Direct,
}

impl ServerKind {
    /// Every server, in the order the command line lists them.
    pub const ALL: [ServerKind; 4] = [
        ServerKind::Blocking,
        ServerKind::BlockingServed,
        ServerKind::Tokio,
        ServerKind::Direct,
    ];

    /// The name on the command line: `blocking`, `blocking-served`, `tokio` or `direct`.
    pub fn command_name(self) -> &'static str {
        match self {
            ServerKind::Blocking => "blocking",
            ServerKind::BlockingServed => "blocking-served",
            ServerKind::Tokio => "tokio",
            ServerKind::Direct => "direct",
        }
    }

    /// The server of a command-line name.
    pub fn from_command_name(name: &str) -> Option<ServerKind> {
        ServerKind::ALL
            .into_iter()
            .find(|k| k.command_name() == name)
    }
}

impl ServerKind {
    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Blocking => "blocking SslServer",
            ServerKind::BlockingServed => "blocking SslServer, on_connection",
            ServerKind::Tokio => "tokio SslServer",
            ServerKind::Direct => "thread per connection, direct",
        }
    }
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Accepts any certificate and any signature: the clients here measure the server, not
/// themselves.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The clients' configuration: rustls with aws-lc-rs, TLS 1.3, no verification, no
/// resumption.
fn client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(text)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// One client connection: connects, completes the handshake and reads the server's byte.
/// Returns the time that took.
///
/// Fails with a message when the connection or the handshake fails.
pub fn client_handshake(addr: SocketAddr) -> Result<Duration, String> {
    let config = client_config()?;
    let start = Instant::now();
    let mut tcp = TcpStream::connect(addr).map_err(text)?;
    tcp.set_nodelay(true).map_err(text)?;
    let name = ServerName::try_from(HOST).map_err(text)?;
    let mut conn = ClientConnection::new(config, name).map_err(text)?;
    let mut byte = [0u8; 1];
    rustls::Stream::new(&mut conn, &mut tcp)
        .read_exact(&mut byte)
        .map_err(text)?;
    Ok(start.elapsed())
}

/// A server running until dropped.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// The thread that accepts (and for polytls' servers, writes the byte).
    thread: Option<JoinHandle<()>>,
    /// The tokio server's runtime.
    runtime: Option<tokio::runtime::Runtime>,
    /// Handshakes in progress on the server, where it can say.
    pending: Box<dyn Fn() -> usize + Send>,
}

impl RunningServer {
    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Handshakes the server is running now (0 for the direct server, which does not count).
    pub fn pending_handshakes(&self) -> usize {
        (self.pending)()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A connection wakes a listener waiting in `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// How long an accept loop waits before it looks at its stop flag again.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// Starts a server of `kind` on a free loopback port with `setup`'s server settings.
///
/// Fails with a message when it cannot bind or start.
pub fn start(
    setup: &'static Setup,
    backend: Backend,
    kind: ServerKind,
) -> Result<RunningServer, String> {
    let stop = Arc::new(AtomicBool::new(false));
    match kind {
        ServerKind::Blocking => {
            let mut server = polytls::SslServer::bind_with_backend("127.0.0.1:0", backend.name())
                .map_err(text)?;
            server.set_ssl_configuration(setup.polytls_server.clone());
            server.set_handshake_timeout(HANDSHAKE_TIMEOUT);
            let addr = server.local_addr().map_err(text)?;
            let server = Arc::new(server);
            let (for_thread, flag) = (Arc::clone(&server), Arc::clone(&stop));
            let thread = std::thread::spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    if let Ok(mut socket) = for_thread.accept_within(ACCEPT_POLL) {
                        let _ = socket.write_all(b"!").and_then(|()| socket.flush());
                    }
                }
            });
            Ok(RunningServer {
                addr,
                stop,
                thread: Some(thread),
                runtime: None,
                pending: Box::new(move || server.pending_handshakes()),
            })
        }
        ServerKind::BlockingServed => {
            let mut server = polytls::SslServer::bind_with_backend("127.0.0.1:0", backend.name())
                .map_err(text)?;
            server.set_ssl_configuration(setup.polytls_server.clone());
            server.set_handshake_timeout(HANDSHAKE_TIMEOUT);
            server.on_connection(|mut socket| {
                let _ = socket.write_all(b"!").and_then(|()| socket.flush());
            });
            let addr = server.local_addr().map_err(text)?;
            Ok(RunningServer {
                addr,
                stop,
                thread: None,
                runtime: None,
                pending: Box::new(move || server.pending_handshakes()),
            })
        }
        ServerKind::Tokio => {
            let runtime = two_worker_runtime()?;
            let server = runtime.block_on(async {
                let mut server =
                    polytls::tokio::SslServer::bind_with_backend("127.0.0.1:0", backend.name())
                        .await
                        .map_err(text)?;
                server.set_ssl_configuration(setup.polytls_server.clone());
                server.set_handshake_timeout(HANDSHAKE_TIMEOUT);
                Ok::<_, String>(Arc::new(server))
            })?;
            let addr = server.local_addr();
            let (for_task, flag) = (Arc::clone(&server), Arc::clone(&stop));
            runtime.spawn(async move {
                while !flag.load(Ordering::SeqCst) {
                    if let Ok(mut stream) = for_task.accept_within(ACCEPT_POLL).await {
                        let _ = stream.write_all(b"!").await;
                        let _ = stream.flush().await;
                    }
                }
            });
            Ok(RunningServer {
                addr,
                stop,
                thread: None,
                runtime: Some(runtime),
                pending: Box::new(move || server.pending_handshakes()),
            })
        }
        ServerKind::Direct => {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(text)?;
            let addr = listener.local_addr().map_err(text)?;
            let flag = Arc::clone(&stop);
            let thread = std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(tcp) = tcp {
                        std::thread::spawn(move || {
                            let _ = direct_connection(setup, backend, tcp);
                        });
                    }
                }
            });
            Ok(RunningServer {
                addr,
                stop,
                thread: Some(thread),
                runtime: None,
                pending: Box::new(|| 0),
            })
        }
    }
}

/// The direct server's work for one connection, on its own thread: the handshake, one byte.
fn direct_connection(setup: &Setup, backend: Backend, mut tcp: TcpStream) -> Result<(), String> {
    tcp.set_nodelay(true).map_err(text)?;
    match backend {
        Backend::OpenSsl => {
            let ssl = Ssl::new(&setup.openssl_server).map_err(text)?;
            let mut s = ssl.accept(tcp).map_err(text)?;
            s.write_all(b"!").map_err(text)?;
            s.flush().map_err(text)
        }
        Backend::Rustls => {
            let mut conn = ServerConnection::new(setup.rustls_server.clone()).map_err(text)?;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).map_err(text)?;
            }
            let mut s = rustls::Stream::new(&mut conn, &mut tcp);
            s.write_all(b"!").map_err(text)?;
            s.flush().map_err(text)
        }
    }
}

/// Handshakes per second a server of `kind` completes while `clients` client threads connect
/// to it at once, `total` handshakes in all (spread evenly, at least one per client), after
/// one untimed handshake. The clock runs from the moment every client thread is released to
/// the last one's end.
///
/// Fails with a message when the server cannot start or a client fails.
pub fn concurrent_handshakes_per_second(
    setup: &'static Setup,
    backend: Backend,
    kind: ServerKind,
    clients: usize,
    total: usize,
) -> Result<f64, String> {
    let server = start(setup, backend, kind)?;
    let addr = server.addr();
    client_handshake(addr).map_err(|e| format!("first client: {e}"))?;
    let clients = clients.max(1);
    let each = total.div_ceil(clients).max(1);
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<JoinHandle<Result<(), String>>> = (0..clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..each {
                    client_handshake(addr)?;
                }
                Ok(())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut failure = None;
    for thread in threads {
        let result = thread
            .join()
            .unwrap_or_else(|_| Err("a client thread panicked".into()));
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    let elapsed = start.elapsed();
    drop(server);
    if let Some(e) = failure {
        return Err(format!("client: {e}"));
    }
    Ok((clients * each) as f64 / elapsed.as_secs_f64())
}

/// A good client's mean handshake latency in milliseconds (connect to the server's first
/// byte) over `count` handshakes one after the other, against a server of `kind` holding
/// `silent` connections open that never send a byte (connected, and their handshakes waiting
/// on the server, before the first good client starts).
///
/// Fails with a message when the server cannot start, the silent connections are not all
/// waiting within two seconds, or a good client fails.
pub fn latency_ms_with_silent_clients(
    setup: &'static Setup,
    backend: Backend,
    kind: ServerKind,
    silent: usize,
    count: usize,
) -> Result<f64, String> {
    let server = start(setup, backend, kind)?;
    let addr = server.addr();
    client_handshake(addr).map_err(|e| format!("first client: {e}"))?;
    let quiet: Vec<TcpStream> = (0..silent)
        .map(|_| TcpStream::connect(addr).map_err(text))
        .collect::<Result<_, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while kind != ServerKind::Direct && server.pending_handshakes() < silent {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {silent} silent connections reached the server's handshakes",
                server.pending_handshakes()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut sum = Duration::ZERO;
    for _ in 0..count.max(1) {
        sum += client_handshake(addr).map_err(|e| format!("good client: {e}"))?;
    }
    drop(quiet);
    drop(server);
    Ok(sum.as_secs_f64() * 1e3 / count.max(1) as f64)
}
