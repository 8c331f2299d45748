//! The tokio front end against the tokio adapters of the backends' own crates: polytls'
//! [`TlsStream`] against `tokio-openssl`'s `SslStream` and `tokio-rustls`' `TlsStream`, with
//! the same settings ([`Setup`]) on every side.
//!
//! Handshakes and throughput run over loopback TCP, client and server as tasks of one
//! current-thread runtime (one core does both ends, the reactor wakes each end for its
//! socket), timed by the wall clock. Handshakes: each connection is accepted, handshaken, and
//! the server then writes one byte that the client reads. Throughput: one connection, 16 KiB
//! writes, the clock stopped when the server has read everything.
//!
//! Idle memory holds many established connections over `tokio::io::duplex` pairs in memory
//! (no file descriptor, no port per connection): both ends of each, handshakes done and the
//! session tickets read, each end's read polled once and left pending, as an idle connection
//! waits for its peer.

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use openssl::ssl::Ssl;
use polytls::tokio::TlsStream;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::inmem::{payload, Backend, Via, CHUNK};
use crate::setup::{Setup, HOST};

/// A tokio stream of plaintext, whichever adapter is under it.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// An established stream of any adapter, boxed (on every side alike).
pub type Stream = Box<dyn AsyncStream>;

/// Bytes each direction of an in-memory idle connection buffers at most (what it holds is
/// what the handshake wrote, the same for every side).
pub const DUPLEX_CAPACITY: usize = 64 << 10;

/// Connections whose handshakes run at once while the idle connections are set up.
const SETUP_BATCH: usize = 64;

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A runtime of one thread: client and server share it, as they share the core.
///
/// Fails with a message when the runtime cannot be built.
pub fn current_thread_runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(text)
}

/// A runtime of two worker threads, one per core of the machine this is written for.
///
/// Fails with a message when the runtime cannot be built.
pub fn two_worker_runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(text)
}

/// A client over `io`, handshake complete: polytls' [`TlsStream`], or the backend's own
/// tokio adapter.
///
/// Fails with a message when the handshake fails.
pub async fn client<T>(setup: &Setup, backend: Backend, via: Via, io: T) -> Result<Stream, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Ok(match (via, backend) {
        (Via::Polytls, b) => {
            let mut s = TlsStream::with_backend(io, b.name()).map_err(text)?;
            s.set_ssl_configuration(setup.polytls_client.clone());
            s.set_peer_verify_name(HOST);
            s.start_client_encryption().map_err(text)?;
            s.handshake().await.map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::OpenSsl) => {
            let mut ssl = Ssl::new(&setup.openssl_client).map_err(text)?;
            ssl.set_hostname(HOST).map_err(text)?;
            ssl.param_mut().set_host(HOST).map_err(text)?;
            let mut s = tokio_openssl::SslStream::new(ssl, io).map_err(text)?;
            Pin::new(&mut s).connect().await.map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::Rustls) => {
            let name = ServerName::try_from(HOST).map_err(text)?;
            let connector = tokio_rustls::TlsConnector::from(setup.rustls_client.clone());
            Box::new(connector.connect(name, io).await.map_err(text)?)
        }
    })
}

/// A server over `io`, handshake complete.
///
/// Fails with a message when the handshake fails.
pub async fn server<T>(setup: &Setup, backend: Backend, via: Via, io: T) -> Result<Stream, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Ok(match (via, backend) {
        (Via::Polytls, b) => {
            let mut s = TlsStream::with_backend(io, b.name()).map_err(text)?;
            s.set_ssl_configuration(setup.polytls_server.clone());
            s.start_server_encryption().map_err(text)?;
            s.handshake().await.map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::OpenSsl) => {
            let ssl = Ssl::new(&setup.openssl_server).map_err(text)?;
            let mut s = tokio_openssl::SslStream::new(ssl, io).map_err(text)?;
            Pin::new(&mut s).accept().await.map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::Rustls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(setup.rustls_server.clone());
            Box::new(acceptor.accept(io).await.map_err(text)?)
        }
    })
}

async fn listener() -> Result<(TcpListener, std::net::SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(text)?;
    let addr = listener.local_addr().map_err(text)?;
    Ok((listener, addr))
}

async fn connect(addr: std::net::SocketAddr) -> Result<TcpStream, String> {
    let tcp = TcpStream::connect(addr).await.map_err(text)?;
    tcp.set_nodelay(true).map_err(text)?;
    Ok(tcp)
}

async fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    let (tcp, _) = listener.accept().await.map_err(text)?;
    tcp.set_nodelay(true).map_err(text)?;
    Ok(tcp)
}

/// Full handshakes per second over loopback TCP, `count` connections one after the other
/// (after one untimed connection), client and server tasks on one current-thread runtime.
///
/// Fails with a message when a connection or handshake fails.
pub fn handshakes_per_second(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    count: usize,
) -> Result<f64, String> {
    current_thread_runtime()?.block_on(async move {
        let (listener, addr) = listener().await?;
        let server_task = tokio::spawn(async move {
            for _ in 0..=count {
                let tcp = accept(&listener).await?;
                let mut s = server(setup, backend, via, tcp).await?;
                s.write_all(b"!").await.map_err(text)?;
                s.flush().await.map_err(text)?;
            }
            Ok::<(), String>(())
        });
        let mut byte = [0u8; 1];
        let one = || async move {
            let mut c = client(setup, backend, via, connect(addr).await?).await?;
            c.read_exact(&mut byte).await.map_err(text)?;
            Ok::<(), String>(())
        };
        let clients = async {
            one().await?;
            let start = Instant::now();
            for _ in 0..count {
                one().await?;
            }
            Ok::<Duration, String>(start.elapsed())
        }
        .await;
        let served = server_task.await.map_err(text)?;
        let elapsed = clients.map_err(|e| format!("client: {e}"))?;
        served.map_err(|e| format!("server: {e}"))?;
        Ok(count as f64 / elapsed.as_secs_f64())
    })
}

/// Throughput over loopback TCP in MB/s (10^6 bytes per second): `total` bytes client to
/// server in 16 KiB writes, client and server tasks on one current-thread runtime.
///
/// Fails with a message when the connection fails or the data does not arrive.
pub fn throughput(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    total: usize,
) -> Result<f64, String> {
    current_thread_runtime()?.block_on(async move {
        let (listener, addr) = listener().await?;
        let server_task = tokio::spawn(async move {
            let mut s = server(setup, backend, via, accept(&listener).await?).await?;
            // Tell the client the handshake is over, so that its clock starts with the data.
            s.write_all(b"!").await.map_err(text)?;
            s.flush().await.map_err(text)?;
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            while got < total {
                match s.read(&mut buf).await.map_err(text)? {
                    0 => return Err(format!("the stream ended after {got} bytes")),
                    n => got += n,
                }
            }
            Ok::<(), String>(())
        });
        let sent = async {
            let mut c = client(setup, backend, via, connect(addr).await?).await?;
            let mut byte = [0u8; 1];
            c.read_exact(&mut byte).await.map_err(text)?;
            let start = Instant::now();
            let mut sent = 0;
            while sent < total {
                let len = CHUNK.min(total - sent);
                c.write_all(&payload()[..len]).await.map_err(text)?;
                sent += len;
            }
            c.flush().await.map_err(text)?;
            Ok::<(Instant, Stream), String>((start, c))
        }
        .await;
        let served = server_task.await.map_err(text)?;
        let (start, _client) = sent.map_err(|e| format!("client: {e}"))?;
        let elapsed = start.elapsed();
        served.map_err(|e| format!("server: {e}"))?;
        Ok(total as f64 / elapsed.as_secs_f64() / 1e6)
    })
}

/// One established connection in memory, both ends, handshakes done.
async fn duplex_pair(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
) -> Result<(Stream, Stream), String> {
    let (a, b) = tokio::io::duplex(DUPLEX_CAPACITY);
    let server_task = tokio::spawn(server(setup, backend, via, b));
    let client = client(setup, backend, via, a).await;
    let server = server_task.await.map_err(text)?;
    Ok((
        client.map_err(|e| format!("client: {e}"))?,
        server.map_err(|e| format!("server: {e}"))?,
    ))
}

/// Polls `stream`'s read once: it must be pending (an idle connection, whatever the peer sent
/// during the handshake, such as TLS 1.3 session tickets, processed).
async fn poll_idle(stream: &mut Stream) -> Result<(), String> {
    let mut byte = [0u8; 1];
    std::future::poll_fn(|cx| {
        let mut buf = ReadBuf::new(&mut byte);
        Poll::Ready(match Pin::new(&mut **stream).poll_read(cx, &mut buf) {
            Poll::Pending => Ok(()),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => Err("the stream ended".into()),
            Poll::Ready(Ok(())) => Err("unexpected data".into()),
            Poll::Ready(Err(e)) => Err(e.to_string()),
        })
    })
    .await
}

/// `count` established connections in memory (both ends each), set up `SETUP_BATCH` at a
/// time on `runtime`, each end's read polled once and left pending.
fn idle_connections(
    runtime: &Runtime,
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    count: usize,
    held: &mut Vec<(Stream, Stream)>,
) -> Result<(), String> {
    runtime.block_on(async {
        let mut left = count;
        while left > 0 {
            let batch = left.min(SETUP_BATCH);
            let tasks: Vec<_> = (0..batch)
                .map(|_| tokio::spawn(duplex_pair(setup, backend, via)))
                .collect();
            for task in tasks {
                let (mut c, mut s) = task.await.map_err(text)??;
                // Polled here, not in the task: the transport keeps the waker of the last
                // pending read, and a finished task's waker would keep the task's memory.
                poll_idle(&mut c)
                    .await
                    .map_err(|e| format!("client: {e}"))?;
                poll_idle(&mut s)
                    .await
                    .map_err(|e| format!("server: {e}"))?;
                held.push((c, s));
            }
            left -= batch;
        }
        Ok(())
    })
}

/// Live heap bytes per idle connection (both its ends, their transport included) with `count`
/// established connections held at once over tokio duplex pairs, as counted by `live_bytes`.
/// The handshakes run on a runtime of two workers.
///
/// Fails with a message when a handshake fails or nothing is counted (the counting allocator
/// is not installed).
pub fn bytes_per_idle_connection(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    count: usize,
    live_bytes: fn() -> Option<isize>,
) -> Result<f64, String> {
    let runtime = two_worker_runtime()?;
    // A first batch, for the one-time state (registries, the runtime's queues).
    let mut warm = Vec::with_capacity(SETUP_BATCH);
    idle_connections(&runtime, setup, backend, via, SETUP_BATCH, &mut warm)?;
    drop(warm);
    let mut held = Vec::with_capacity(count);
    let before = live_bytes().ok_or("the counting allocator is not installed")?;
    idle_connections(&runtime, setup, backend, via, count, &mut held)?;
    let after = live_bytes().ok_or("the counting allocator is not installed")?;
    drop(held);
    Ok((after - before) as f64 / count.max(1) as f64)
}
