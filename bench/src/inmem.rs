//! Client and server in one thread over the conformance suite's in-memory transport
//! (`memory_pair`: bounded, non-blocking, `WouldBlock` when empty or full), three ways: through
//! polytls' [`SslSocket`], through OpenSSL's `SslStream` and through rustls' buffered
//! `ClientConnection`/`ServerConnection` API.
//!
//! Each [`Pair`] is driven the way its API is meant to be driven without blocking, with the
//! same transport, the same write size and the same read buffer.

use std::io::{self, Read, Write};

use openssl::ssl::{ErrorCode, Ssl, SslStream};
use polytls::{Error, SslSocket};
use polytls_conformance::harness::{memory_pair, MemoryStream};
use rustls::{ClientConnection, ServerConnection};
use rustls_pki_types::ServerName;

use crate::setup::{Setup, HOST};

/// Bytes each direction of the in-memory transport buffers at most.
pub const TRANSPORT_CAPACITY: usize = 256 << 10;
/// The application's write size (and the reader's buffer size).
pub const CHUNK: usize = 16 << 10;
/// Passes without progress after which a loop gives up (a bug, not a slow machine).
const STALL_LIMIT: usize = 10_000;

/// Which TLS library does the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// OpenSSL (`polytls-openssl`, or the `openssl` crate directly).
    OpenSsl,
    /// rustls with aws-lc-rs (`polytls-rustls`, or the `rustls` crate directly).
    Rustls,
}

impl Backend {
    /// Both, in table order.
    pub const ALL: [Backend; 2] = [Backend::OpenSsl, Backend::Rustls];

    /// The polytls registry name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::OpenSsl => "openssl",
            Backend::Rustls => "rustls",
        }
    }

    /// The backend of a registry name.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Through polytls or straight to the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// polytls' `SslSocket` over the backend.
    Polytls,
    /// The backend crate's own API.
    Direct,
}

impl Via {
    /// Both, in table order.
    pub const ALL: [Via; 2] = [Via::Polytls, Via::Direct];

    /// `"polytls"` or `"direct"`.
    pub fn name(self) -> &'static str {
        match self {
            Via::Polytls => "polytls",
            Via::Direct => "direct",
        }
    }

    /// The side of a name given by [`Via::name`].
    pub fn from_name(name: &str) -> Option<Via> {
        Via::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// A client/server pair in one thread.
pub trait Pair {
    /// Drives both handshakes to their end.
    ///
    /// Fails with a message when either side fails or nothing progresses.
    fn handshake(&mut self) -> Result<(), String>;

    /// Moves `total` bytes from client to server: the client writes [`CHUNK`]-sized slices,
    /// the server reads into a [`CHUNK`]-sized buffer.
    ///
    /// Fails with a message when either side fails or nothing progresses.
    fn bulk(&mut self, total: usize) -> Result<(), String>;

    /// Handles whatever is still in flight (TLS 1.3 session tickets), without blocking.
    ///
    /// Fails with a message when either side fails.
    fn settle(&mut self) -> Result<(), String>;
}

/// A new pair for `setup`, started (the client's first flight may be out).
///
/// Fails with a message when a side cannot be created.
pub fn new_pair(setup: &Setup, backend: Backend, via: Via) -> Result<Box<dyn Pair>, String> {
    Ok(match (via, backend) {
        (Via::Polytls, b) => Box::new(PolytlsPair::new(setup, b.name())?),
        (Via::Direct, Backend::OpenSsl) => Box::new(OpenSslPair::new(setup)?),
        (Via::Direct, Backend::Rustls) => Box::new(RustlsPair::new(setup)?),
    })
}

/// The data every client writes: a fixed pattern (content does not matter to an AEAD).
pub fn payload() -> &'static [u8; CHUNK] {
    static DATA: [u8; CHUNK] = [0x5a; CHUNK];
    &DATA
}

fn stalled(what: &str) -> String {
    format!("{what}: no progress (this is a bug in the driver or the engine)")
}

// ---- polytls --------------------------------------------------------------------------------

type Socket = SslSocket<MemoryStream>;

/// polytls' socket on both ends.
pub struct PolytlsPair {
    client: Socket,
    server: Socket,
    buf: Vec<u8>,
}

/// `Ok(true)` when done, `Ok(false)` on `WouldBlock`.
fn done(r: Result<(), Error>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

impl PolytlsPair {
    fn new(setup: &Setup, backend: &str) -> Result<PolytlsPair, String> {
        let (a, b) = memory_pair(TRANSPORT_CAPACITY);
        let text = |e: Error| e.to_string();
        let mut client = SslSocket::with_backend(a, backend).map_err(text)?;
        client.set_ssl_configuration(setup.polytls_client.clone());
        client.set_peer_verify_name(HOST);
        let mut server = SslSocket::with_backend(b, backend).map_err(text)?;
        server.set_ssl_configuration(setup.polytls_server.clone());
        client.start_client_encryption().map_err(text)?;
        server.start_server_encryption().map_err(text)?;
        Ok(PolytlsPair {
            client,
            server,
            buf: vec![0; CHUNK],
        })
    }
}

impl Pair for PolytlsPair {
    fn handshake(&mut self) -> Result<(), String> {
        for _ in 0..STALL_LIMIT {
            let c = done(self.client.handshake()).map_err(|e| format!("client: {e}"))?;
            let s = done(self.server.handshake()).map_err(|e| format!("server: {e}"))?;
            if c && s {
                return Ok(());
            }
        }
        Err(stalled("handshake"))
    }

    fn bulk(&mut self, total: usize) -> Result<(), String> {
        let (mut sent, mut got, mut idle) = (0, 0, 0);
        while got < total {
            let before = got;
            if sent < total {
                let len = CHUNK.min(total - sent);
                match self.client.write(&payload()[..len]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("client write: {e}")),
                }
            } else {
                match self.client.flush() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("client flush: {e}")),
                }
            }
            loop {
                match self.server.read(&mut self.buf) {
                    Ok(0) => return Err("server: the stream ended".into()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("server read: {e}")),
                }
            }
            idle = if got == before { idle + 1 } else { 0 };
            if idle > STALL_LIMIT {
                return Err(stalled("bulk"));
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), String> {
        let mut byte = [0u8; 1];
        for (side, socket) in [("client", &mut self.client), ("server", &mut self.server)] {
            match socket.read(&mut byte) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("{side}: {e}")),
                Ok(_) => return Err(format!("{side}: unexpected data")),
            }
        }
        Ok(())
    }
}

// ---- OpenSSL --------------------------------------------------------------------------------

/// OpenSSL's `SslStream` over the transport on both ends.
pub struct OpenSslPair {
    client: SslStream<MemoryStream>,
    server: SslStream<MemoryStream>,
    buf: Vec<u8>,
}

/// `Ok(true)` when done, `Ok(false)` when OpenSSL wants I/O.
fn ossl_done<T>(r: Result<T, openssl::ssl::Error>) -> Result<Option<T>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

impl OpenSslPair {
    fn new(setup: &Setup) -> Result<OpenSslPair, String> {
        let (a, b) = memory_pair(TRANSPORT_CAPACITY);
        let text = |e: openssl::error::ErrorStack| e.to_string();
        let mut c = Ssl::new(&setup.openssl_client).map_err(text)?;
        c.set_hostname(HOST).map_err(text)?;
        c.param_mut().set_host(HOST).map_err(text)?;
        c.set_connect_state();
        let mut s = Ssl::new(&setup.openssl_server).map_err(text)?;
        s.set_accept_state();
        Ok(OpenSslPair {
            client: SslStream::new(c, a).map_err(text)?,
            server: SslStream::new(s, b).map_err(text)?,
            buf: vec![0; CHUNK],
        })
    }
}

impl Pair for OpenSslPair {
    fn handshake(&mut self) -> Result<(), String> {
        for _ in 0..STALL_LIMIT {
            let c = ossl_done(self.client.do_handshake()).map_err(|e| format!("client: {e}"))?;
            let s = ossl_done(self.server.do_handshake()).map_err(|e| format!("server: {e}"))?;
            if c.is_some() && s.is_some() {
                return Ok(());
            }
        }
        Err(stalled("handshake"))
    }

    fn bulk(&mut self, total: usize) -> Result<(), String> {
        let (mut sent, mut got, mut idle) = (0, 0, 0);
        while got < total {
            let before = got;
            if sent < total {
                let len = CHUNK.min(total - sent);
                let n = ossl_done(self.client.ssl_write(&payload()[..len]))
                    .map_err(|e| format!("client write: {e}"))?;
                sent += n.unwrap_or(0);
            }
            loop {
                match ossl_done(self.server.ssl_read(&mut self.buf)) {
                    Ok(Some(0)) => return Err("server: the stream ended".into()),
                    Ok(Some(n)) => got += n,
                    Ok(None) => break,
                    Err(e) => return Err(format!("server read: {e}")),
                }
            }
            idle = if got == before { idle + 1 } else { 0 };
            if idle > STALL_LIMIT {
                return Err(stalled("bulk"));
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), String> {
        let mut byte = [0u8; 1];
        for (side, stream) in [("client", &mut self.client), ("server", &mut self.server)] {
            match ossl_done(stream.ssl_read(&mut byte)) {
                Ok(None) => {}
                Ok(Some(_)) => return Err(format!("{side}: unexpected data")),
                Err(e) => return Err(format!("{side}: {e}")),
            }
        }
        Ok(())
    }
}

// ---- rustls ---------------------------------------------------------------------------------

/// rustls' buffered connections on both ends, each with its end of the transport.
pub struct RustlsPair {
    client: ClientConnection,
    server: ServerConnection,
    client_io: MemoryStream,
    server_io: MemoryStream,
    buf: Vec<u8>,
}

/// Writes what `conn` has to send, reads what the transport has and processes it, until the
/// transport would block either way.
fn pump<D>(conn: &mut rustls::ConnectionCommon<D>, io: &mut MemoryStream) -> Result<(), String> {
    while conn.wants_write() {
        match conn.write_tls(io) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    loop {
        match conn.read_tls(io) {
            Ok(0) => return Err("the stream ended".into()),
            Ok(_) => {
                conn.process_new_packets().map_err(|e| e.to_string())?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    while conn.wants_write() {
        match conn.write_tls(io) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

impl RustlsPair {
    fn new(setup: &Setup) -> Result<RustlsPair, String> {
        let (a, b) = memory_pair(TRANSPORT_CAPACITY);
        let name = ServerName::try_from(HOST).map_err(|e| e.to_string())?;
        let text = |e: rustls::Error| e.to_string();
        let client = ClientConnection::new(setup.rustls_client.clone(), name).map_err(text)?;
        let server = ServerConnection::new(setup.rustls_server.clone()).map_err(text)?;
        Ok(RustlsPair {
            client,
            server,
            client_io: a,
            server_io: b,
            buf: vec![0; CHUNK],
        })
    }

    /// The key exchange group the client negotiated (after the handshake).
    pub fn key_exchange_group(&self) -> Option<String> {
        self.client
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
    }
}

impl Pair for RustlsPair {
    fn handshake(&mut self) -> Result<(), String> {
        for _ in 0..STALL_LIMIT {
            pump(&mut self.client, &mut self.client_io).map_err(|e| format!("client: {e}"))?;
            pump(&mut self.server, &mut self.server_io).map_err(|e| format!("server: {e}"))?;
            if !self.client.is_handshaking() && !self.server.is_handshaking() {
                return Ok(());
            }
        }
        Err(stalled("handshake"))
    }

    fn bulk(&mut self, total: usize) -> Result<(), String> {
        let (mut sent, mut got, mut idle) = (0, 0, 0);
        while got < total {
            let before = got;
            if sent < total {
                let len = CHUNK.min(total - sent);
                sent += self
                    .client
                    .writer()
                    .write(&payload()[..len])
                    .map_err(|e| format!("client write: {e}"))?;
            }
            while self.client.wants_write() {
                match self.client.write_tls(&mut self.client_io) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("client write_tls: {e}")),
                }
            }
            loop {
                match self.server.read_tls(&mut self.server_io) {
                    Ok(0) => return Err("server: the stream ended".into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("server read_tls: {e}")),
                }
                self.server
                    .process_new_packets()
                    .map_err(|e| format!("server: {e}"))?;
                loop {
                    match self.server.reader().read(&mut self.buf) {
                        Ok(0) => return Err("server: the stream ended".into()),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(format!("server read: {e}")),
                    }
                }
            }
            idle = if got == before { idle + 1 } else { 0 };
            if idle > STALL_LIMIT {
                return Err(stalled("bulk"));
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), String> {
        pump(&mut self.client, &mut self.client_io).map_err(|e| format!("client: {e}"))?;
        pump(&mut self.server, &mut self.server_io).map_err(|e| format!("server: {e}"))
    }
}

/// The key exchange group rustls, used directly, negotiates for `setup` (its default choice).
///
/// Fails with a message when the handshake fails.
pub fn rustls_group(setup: &Setup) -> Result<String, String> {
    let mut pair = RustlsPair::new(setup)?;
    pair.handshake()?;
    pair.key_exchange_group()
        .ok_or_else(|| "no group negotiated".into())
}
