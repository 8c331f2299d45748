//! The plumbing cases share: loopback connections, configurations built from the test PKI,
//! a client/server handshake driver, and scratch directories for external peers.
//!
//! Every stream gets a read timeout, so a backend that hangs makes a case fail, not the suite.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use polytls::{Certificate, Error, SslConfiguration, SslErrorKind, SslSocket};

use crate::frontend;
use crate::pki::{Identity, Pki};

/// How long any single read may block before a case gives up.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::frontend::Socket;

/// A setup step applied to a socket before its handshake starts.
pub type Setup = Box<dyn FnOnce(&mut Socket) + Send>;

/// A connected loopback pair `(client end, server end)`, both with [`IO_TIMEOUT`].
pub fn tcp_pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let client = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let (server, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    for s in [&client, &server] {
        s.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
    }
    Ok((client, server))
}

/// The thread of a server, returning its handshake's result.
pub type ServerThread = std::thread::JoinHandle<Result<(), Error>>;

/// A client socket (backend `c`, trusting the test root, verifying `localhost`) connected to
/// a server (backend `s`) presenting `identity` on its own thread, which starts its handshake
/// after `delay` and returns its result. The client's handshake is not started.
pub fn against_server(
    c: &str,
    s: &str,
    identity: &'static Identity,
    delay: Duration,
) -> Result<(Socket, ServerThread), String> {
    let (client, server) = tcp_pair()?;
    let peer = std::thread::spawn({
        let s = s.to_owned();
        move || {
            std::thread::sleep(delay);
            let mut socket = SslSocket::with_backend(server, &s)?;
            socket.set_ssl_configuration(server_config(identity));
            socket.start_server_encryption()?;
            socket.handshake()
        }
    });
    let mut socket = Socket::with_backend(client, c).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    Ok((socket, peer))
}

/// A client configuration that trusts only the test root.
pub fn client_config() -> SslConfiguration {
    SslConfiguration {
        ca_certificates: Some(vec![Pki::get().root.clone()]),
        ..SslConfiguration::default()
    }
}

/// A server configuration presenting `identity` and trusting only the test root for client
/// certificates.
pub fn server_config(identity: &Identity) -> SslConfiguration {
    SslConfiguration {
        local_certificate_chain: identity.chain.clone(),
        private_key: Some(identity.key.clone()),
        ca_certificates: Some(vec![Pki::get().root.clone()]),
        ..SslConfiguration::default()
    }
}

/// Adds `identity` as the client certificate of `config`.
pub fn with_identity(mut config: SslConfiguration, identity: &Identity) -> SslConfiguration {
    config.local_certificate_chain = identity.chain.clone();
    config.private_key = Some(identity.key.clone());
    config
}

/// A setup that installs `config`.
pub fn configure(config: SslConfiguration) -> Setup {
    Box::new(move |s: &mut Socket| s.set_ssl_configuration(config))
}

/// The result of [`handshake`]: each side's socket, or the error its handshake ended with.
pub struct Handshake {
    /// The client's socket (verifying the name `localhost`).
    pub client: Result<Socket, Error>,
    /// The server's socket.
    pub server: Result<Socket, Error>,
}

impl Handshake {
    /// Both sockets, or a message naming the side that failed and why.
    pub fn both(self) -> Result<(Socket, Socket), String> {
        match (self.client, self.server) {
            (Ok(c), Ok(s)) => Ok((c, s)),
            (c, s) => Err(format!(
                "handshake failed: client: {}; server: {}",
                c.err().map_or("ok".into(), |e| e.to_string()),
                s.err().map_or("ok".into(), |e| e.to_string())
            )),
        }
    }
}

/// Runs a handshake over loopback: the server on its own thread with `server_backend` after
/// `server_setup`, the client here with `client_backend` after `client_setup` (verifying the
/// name `localhost` unless the setup names another).
pub fn handshake(
    client_backend: &str,
    client_setup: Setup,
    server_backend: &str,
    server_setup: Setup,
) -> Handshake {
    let (client_stream, server_stream) = match tcp_pair() {
        Ok(pair) => pair,
        Err(e) => {
            let io = || Error::Io(std::io::Error::other(e.clone()));
            return Handshake {
                client: Err(io()),
                server: Err(io()),
            };
        }
    };
    let server_backend = server_backend.to_owned();
    let server = frontend::spawn(move || -> Result<Socket, Error> {
        let mut socket = Socket::with_backend(server_stream, &server_backend)?;
        server_setup(&mut socket);
        socket.start_server_encryption()?;
        socket.handshake().map(|()| socket)
    });
    let client = (|| -> Result<Socket, Error> {
        let mut socket = Socket::with_backend(client_stream, client_backend)?;
        socket.set_peer_verify_name("localhost");
        client_setup(&mut socket);
        socket.start_client_encryption()?;
        socket.handshake().map(|()| socket)
    })();
    // A client that failed has dropped its connection by now, so the server cannot wait
    // forever.
    let server = server.join().unwrap_or_else(|_| {
        Err(Error::Io(std::io::Error::other(
            "the server thread panicked",
        )))
    });
    Handshake { client, server }
}

/// The kinds of a verification failure, or a message when `result` is not one.
pub fn verification_kinds<T>(result: &Result<T, Error>) -> Result<Vec<SslErrorKind>, String> {
    match result {
        Err(Error::Verification(errors)) => Ok(errors.iter().map(|e| e.kind()).collect()),
        Err(other) => Err(format!("expected a verification failure, got: {other}")),
        Ok(_) => Err("expected a verification failure, but the handshake succeeded".into()),
    }
}

/// Whether two lists hold the same kinds, ignoring order.
pub fn same_kinds(a: &[SslErrorKind], b: &[SslErrorKind]) -> bool {
    let mut a: Vec<String> = a.iter().map(|k| format!("{k:?}")).collect();
    let mut b: Vec<String> = b.iter().map(|k| format!("{k:?}")).collect();
    a.sort();
    b.sort();
    a == b
}

/// Checks that a condition holds, or returns the message.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}

/// Writes `data` to `socket` and flushes.
pub fn send(socket: &mut impl Write, data: &[u8]) -> Result<(), String> {
    socket.write_all(data).map_err(|e| format!("write: {e}"))?;
    socket.flush().map_err(|e| format!("flush: {e}"))
}

/// Reads exactly `len` bytes.
pub fn receive(socket: &mut impl Read, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0; len];
    socket
        .read_exact(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    Ok(buf)
}

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system's temporary directory.
    pub fn new() -> Result<TempDir, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("polytls-conformance-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("temp dir: {e}"))?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<PathBuf, String> {
        let path = self.0.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("write {name}: {e}"))?;
        Ok(path)
    }

    /// Writes certificates as one PEM file.
    pub fn write_certs(&self, name: &str, certs: &[Certificate]) -> Result<PathBuf, String> {
        let pem: String = certs.iter().map(Certificate::to_pem).collect();
        self.write(name, pem.as_bytes())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two sockets over a loopback pair, configured (client verifying `localhost` against the test
/// root, server presenting the test server identity) but not started.
pub fn sockets(client_backend: &str, server_backend: &str) -> Result<(Socket, Socket), String> {
    let (c, s) = tcp_pair()?;
    let mut client = Socket::with_backend(c, client_backend).map_err(|e| e.to_string())?;
    client.set_ssl_configuration(client_config());
    client.set_peer_verify_name("localhost");
    let mut server = Socket::with_backend(s, server_backend).map_err(|e| e.to_string())?;
    server.set_ssl_configuration(server_config(&Pki::get().server));
    Ok((client, server))
}

/// Starts the client handshake of `socket` (it finishes on the first read or flush).
pub fn start_client<S: Read + Write>(socket: &mut SslSocket<S>) -> Result<(), String> {
    socket
        .start_client_encryption()
        .map_err(|e| format!("client start: {e}"))
}

/// Starts the server handshake of `socket` (it finishes on the first read or flush).
pub fn start_server<S: Read + Write>(socket: &mut SslSocket<S>) -> Result<(), String> {
    socket
        .start_server_encryption()
        .map_err(|e| format!("server start: {e}"))
}

/// Runs `server` on its own thread and `client` here, and combines their outcomes.
pub fn run_both(
    client: impl FnOnce() -> Result<(), String>,
    server: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<(), String> {
    let server = frontend::spawn(server);
    let client = client();
    let server = server
        .join()
        .unwrap_or_else(|_| Err("the server thread panicked".into()));
    match (client, server) {
        (Ok(()), Ok(())) => Ok(()),
        (c, s) => Err(format!(
            "client: {}; server: {}",
            c.err().unwrap_or_else(|| "ok".into()),
            s.err().unwrap_or_else(|| "ok".into())
        )),
    }
}

/// One end of an in-memory, bounded, non-blocking duplex transport (see [`memory_pair`]).
///
/// A read with nothing buffered fails with `WouldBlock` (or returns 0 once the other end was
/// dropped); a write into a full buffer takes what fits, or fails with `WouldBlock` when
/// nothing does.
pub struct MemoryStream {
    incoming: std::sync::Arc<std::sync::Mutex<MemoryBuffer>>,
    outgoing: std::sync::Arc<std::sync::Mutex<MemoryBuffer>>,
}

#[derive(Default)]
struct MemoryBuffer {
    data: std::collections::VecDeque<u8>,
    capacity: usize,
    writer_gone: bool,
}

/// Two connected [`MemoryStream`]s, each direction buffering at most `capacity` bytes.
pub fn memory_pair(capacity: usize) -> (MemoryStream, MemoryStream) {
    let new = || {
        std::sync::Arc::new(std::sync::Mutex::new(MemoryBuffer {
            capacity,
            ..MemoryBuffer::default()
        }))
    };
    let (a, b) = (new(), new());
    (
        MemoryStream {
            incoming: a.clone(),
            outgoing: b.clone(),
        },
        MemoryStream {
            incoming: b,
            outgoing: a,
        },
    )
}

fn lock(buffer: &std::sync::Mutex<MemoryBuffer>) -> std::sync::MutexGuard<'_, MemoryBuffer> {
    buffer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Read for MemoryStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut incoming = lock(&self.incoming);
        if incoming.data.is_empty() {
            return if incoming.writer_gone {
                Ok(0)
            } else {
                Err(std::io::ErrorKind::WouldBlock.into())
            };
        }
        incoming.data.read(buf)
    }
}

impl Write for MemoryStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut outgoing = lock(&self.outgoing);
        let room = outgoing
            .capacity
            .saturating_sub(outgoing.data.len())
            .min(buf.len());
        if room == 0 && !buf.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        outgoing.data.extend(&buf[..room]);
        Ok(room)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MemoryStream {
    fn drop(&mut self) {
        lock(&self.outgoing).writer_gone = true;
    }
}

/// Whether an I/O error only says "not now".
pub fn would_block(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
}

/// A small deterministic generator of test inputs (xorshift64*): the same seed gives the same
/// sequence on every machine, so a failing input can be reproduced from the case name.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `bound` (0 for a bound of 0).
    pub fn below(&mut self, bound: usize) -> usize {
        match u64::try_from(bound) {
            Ok(b) if b > 0 => usize::try_from(self.next_u64() % b).unwrap_or(0),
            _ => 0,
        }
    }
}

/// `input` damaged in one to four places: bits flipped, bytes replaced (often by a length-like
/// `0x00`, `0x7f`, `0x80`-`0x84` or `0xff`), bytes inserted or removed, or the end cut off.
pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    const SPECIAL: [u8; 8] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff, 0x30];
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len().max(1));
        match rng.below(6) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.below(8),
            1 if !out.is_empty() => out[at] = SPECIAL[rng.below(SPECIAL.len())],
            2 => out.insert(at.min(out.len()), SPECIAL[rng.below(SPECIAL.len())]),
            3 if !out.is_empty() => {
                out.remove(at);
            }
            4 => out.truncate(at),
            _ if !out.is_empty() => out[at] = out[at].wrapping_add(1),
            _ => {}
        }
    }
    out
}
