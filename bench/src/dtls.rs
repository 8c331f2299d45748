//! DTLS 1.2 over loopback UDP, client and server in the calling thread: handshakes and
//! 1200-byte datagrams through polytls' [`Dtls`] front end and through the engine used
//! directly (OpenSSL's `SslStream` over the socket, dimpl's sans-IO `Dtls`), and the cookie
//! verifier's rate and the heap it keeps per unverified client.
//!
//! Every association gets a fresh pair of connected, non-blocking UDP sockets on 127.0.0.1.
//! The client starts; then each end in turn takes every datagram waiting on its socket, until
//! both finished (loopback delivers a datagram before `send` returns, so nothing is waited
//! for). No cookie exchange runs on either side of the handshake rows (the verifier has rows
//! of its own) and no association is shut down. The client verifies the server's chain and
//! the name `localhost`, except dimpl used directly, which verifies nothing (dimpl does no
//! PKI validation; polytls verifies the leaf with webpki). The direct sides build their
//! context or configuration once, as a program would.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode,
    SslStream, SslVerifyMode, SslVersion,
};
use polytls::{Dtls, DtlsClientVerifier, HandshakeState, SslConfiguration, SslMode, SslProtocol};

use crate::measure::Clock;
use crate::setup::{verify_as_polytls, Setup, HOST};

/// The size of every application datagram in the throughput rows.
pub const DATAGRAM: usize = 1200;

/// Datagrams written before the server reads them (well inside a loopback socket's receive
/// buffer, so none is dropped).
const BATCH: usize = 16;

/// The MTU both sides are given: polytls' default for IPv4 (a 1500-byte link less the IP and
/// UDP headers).
const MTU: u16 = 1472;

/// How long an exchange may go without a datagram before it is reported as stalled.
const STALL: Duration = Duration::from_secs(2);

/// A DTLS engine polytls runs on, and the crate used directly beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// OpenSSL (`polytls-openssl`, or the `openssl` crate directly).
    OpenSsl,
    /// dimpl (`polytls-dimpl`, or the `dimpl` crate directly).
    Dimpl,
}

impl Engine {
    /// Both, in table order.
    pub const ALL: [Engine; 2] = [Engine::OpenSsl, Engine::Dimpl];

    /// The polytls registry name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::OpenSsl => "openssl",
            Engine::Dimpl => "dimpl",
        }
    }
}

/// Both sides' DTLS settings, derived from a TLS [`Setup`] (its certificates, an ECDSA
/// P-256 leaf for `localhost` under a fresh root).
pub struct DtlsSetup {
    polytls_client: SslConfiguration,
    polytls_server: SslConfiguration,
    openssl_client: SslContext,
    openssl_server: SslContext,
    dimpl_config: Arc<dimpl::Config>,
    leaf_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl DtlsSetup {
    /// DTLS 1.2 settings over `setup`'s certificates.
    ///
    /// Fails with a message when OpenSSL or dimpl refuses a setting.
    pub fn new(setup: &Setup) -> Result<DtlsSetup, String> {
        let polytls_client = SslConfiguration {
            protocol: SslProtocol::DtlsV1_2,
            ..(*setup.polytls_client).clone()
        };
        let polytls_server = SslConfiguration {
            protocol: SslProtocol::DtlsV1_2,
            dtls_cookie_verification_enabled: false,
            ..(*setup.polytls_server).clone()
        };
        let pki = &setup.pki;
        // The settings polytls' OpenSSL DTLS engine applies.
        let common = || -> Result<SslContextBuilder, openssl::error::ErrorStack> {
            let mut b = SslContextBuilder::new(SslMethod::dtls())?;
            b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
            b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
            b.set_options(
                SslOptions::NO_COMPRESSION
                    | SslOptions::NO_RENEGOTIATION
                    | SslOptions::NO_QUERY_MTU
                    | SslOptions::NO_TICKET,
            );
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
            Ok(b)
        };
        let openssl_client = (|| {
            let mut b = common()?;
            verify_as_polytls(&mut b, pki)?;
            Ok::<_, openssl::error::ErrorStack>(b.build())
        })()
        .map_err(text)?;
        let openssl_server = (|| {
            let mut b = common()?;
            b.set_certificate(&pki.leaf)?;
            b.set_private_key(&pki.key)?;
            b.check_private_key()?;
            b.set_verify(SslVerifyMode::NONE);
            b.set_session_id_context(b"polytls-bench")?;
            Ok::<_, openssl::error::ErrorStack>(b.build())
        })()
        .map_err(text)?;
        let dimpl_config = dimpl::Config::builder()
            .mtu(usize::from(MTU))
            .use_server_cookie(false)
            .build()
            .map_err(|e| format!("dimpl refuses the configuration: {e}"))?;
        Ok(DtlsSetup {
            polytls_client,
            polytls_server,
            openssl_client,
            openssl_server,
            dimpl_config: Arc::new(dimpl_config),
            leaf_der: pki.leaf.to_der().map_err(text)?,
            key_der: pki.key.private_key_to_pkcs8().map_err(text)?,
        })
    }
}

/// A socket and the address it is connected to.
type Connected = (UdpSocket, SocketAddr);

/// Two non-blocking UDP sockets on 127.0.0.1, each connected to the other (with the address
/// each is connected to, which a program knows without asking the kernel).
fn socket_pair() -> Result<(Connected, Connected), String> {
    let a = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?;
    let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?;
    let (a_addr, b_addr) = (a.local_addr().map_err(text)?, b.local_addr().map_err(text)?);
    a.connect(b_addr).map_err(text)?;
    b.connect(a_addr).map_err(text)?;
    a.set_nonblocking(true).map_err(text)?;
    b.set_nonblocking(true).map_err(text)?;
    Ok(((a, b_addr), (b, a_addr)))
}

/// One end of an association, whichever library runs it.
pub(crate) trait End {
    /// A client sends its first flight; a server does nothing.
    fn start(&mut self) -> Result<(), String>;
    /// Takes every datagram waiting on the socket (handshake or application data). Returns
    /// how many it took.
    fn pump(&mut self) -> Result<usize, String>;
    /// Whether the handshake finished.
    fn finished(&self) -> bool;
    /// Encrypts and sends one application datagram.
    fn send(&mut self, data: &[u8]) -> Result<(), String>;
    /// Application datagrams received so far (each checked to be [`DATAGRAM`] bytes long).
    fn received(&self) -> usize;
}

/// polytls' `Dtls` over its socket.
struct PolytlsEnd {
    dtls: Dtls,
    socket: UdpSocket,
    buf: Vec<u8>,
    /// Decrypted application data, reused (as the direct sides reuse their buffers).
    data: Vec<u8>,
    received: usize,
}

impl PolytlsEnd {
    fn new(
        setup: &DtlsSetup,
        engine: Engine,
        server: bool,
        (socket, peer): Connected,
    ) -> Result<Self, String> {
        let (mode, config) = if server {
            (SslMode::SslServerMode, &setup.polytls_server)
        } else {
            (SslMode::SslClientMode, &setup.polytls_client)
        };
        let mut dtls = Dtls::with_backend(mode, engine.name()).map_err(text)?;
        dtls.set_dtls_configuration(config.clone()).map_err(text)?;
        dtls.set_peer(peer.ip(), peer.port(), (!server).then_some(HOST))
            .map_err(text)?;
        dtls.set_mtu_hint(MTU + 28);
        // The socket is connected to the peer, as the direct sides' are, which send with
        // `send`.
        dtls.set_socket_connected(true);
        Ok(PolytlsEnd {
            dtls,
            socket,
            buf: vec![0; 65536],
            data: Vec::new(),
            received: 0,
        })
    }
}

impl End for PolytlsEnd {
    fn start(&mut self) -> Result<(), String> {
        if self.dtls.ssl_mode() == SslMode::SslClientMode {
            self.dtls.do_handshake(&self.socket, &[]).map_err(text)?;
        }
        Ok(())
    }

    fn pump(&mut self) -> Result<usize, String> {
        let (socket, dtls, data, received) = (
            &self.socket,
            &mut self.dtls,
            &mut self.data,
            &mut self.received,
        );
        each_waiting(socket, &mut self.buf, |datagram| {
            if dtls.is_connection_encrypted() {
                data.clear();
                let n = dtls
                    .decrypt_datagram_into(socket, datagram, data)
                    .map_err(text)?;
                count(received, n)
            } else {
                dtls.do_handshake(socket, datagram).map_err(text)
            }
        })
    }

    fn finished(&self) -> bool {
        self.dtls.handshake_state() == HandshakeState::HandshakeComplete
    }

    fn send(&mut self, data: &[u8]) -> Result<(), String> {
        self.dtls
            .write_datagram_encrypted(&self.socket, data)
            .map(drop)
            .map_err(text)
    }

    fn received(&self) -> usize {
        self.received
    }
}

/// Hands `take` every datagram waiting on the non-blocking `socket` (read into `buf`) and
/// returns how many there were.
///
/// Fails with the socket's error or `take`'s.
fn each_waiting(
    socket: &UdpSocket,
    buf: &mut [u8],
    mut take: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<usize, String> {
    let mut taken = 0;
    loop {
        match socket.recv(buf) {
            Ok(n) => take(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(taken),
            Err(e) => return Err(text(e)),
        }
        taken += 1;
    }
}

/// Counts one received application datagram of `len` bytes (0: none in that datagram).
fn count(received: &mut usize, len: usize) -> Result<(), String> {
    match len {
        0 => Ok(()),
        DATAGRAM => {
            *received += 1;
            Ok(())
        }
        n => Err(format!(
            "an application datagram of {n} bytes arrived, {DATAGRAM} were sent"
        )),
    }
}

/// The socket as OpenSSL's transport: a read is one datagram, a write one datagram.
struct Udp {
    socket: UdpSocket,
    reads: usize,
}

impl Read for Udp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.recv(buf)?;
        self.reads += 1;
        Ok(n)
    }
}

impl Write for Udp {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.socket.send(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// OpenSSL used directly: an `SslStream` over the socket.
struct OpenSslEnd {
    stream: SslStream<Udp>,
    finished: bool,
    buf: Vec<u8>,
    received: usize,
}

impl OpenSslEnd {
    fn new(setup: &DtlsSetup, server: bool, socket: UdpSocket) -> Result<Self, String> {
        let context = if server {
            &setup.openssl_server
        } else {
            &setup.openssl_client
        };
        let mut ssl = Ssl::new(context).map_err(text)?;
        ssl.set_mtu(u32::from(MTU)).map_err(text)?;
        if server {
            ssl.set_accept_state();
        } else {
            ssl.set_hostname(HOST).map_err(text)?;
            ssl.param_mut().set_host(HOST).map_err(text)?;
            ssl.set_connect_state();
        }
        let stream = SslStream::new(ssl, Udp { socket, reads: 0 }).map_err(text)?;
        Ok(OpenSslEnd {
            stream,
            finished: false,
            buf: vec![0; 65536],
            received: 0,
        })
    }

    fn handshake(&mut self) -> Result<(), String> {
        match self.stream.do_handshake() {
            Ok(()) => {
                self.finished = true;
                Ok(())
            }
            Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => Ok(()),
            Err(e) => Err(format!("OpenSSL DTLS handshake: {e}")),
        }
    }
}

impl End for OpenSslEnd {
    fn start(&mut self) -> Result<(), String> {
        if self.stream.ssl().is_server() {
            Ok(())
        } else {
            self.handshake()
        }
    }

    fn pump(&mut self) -> Result<usize, String> {
        let before = self.stream.get_ref().reads;
        if !self.finished {
            self.handshake()?;
        }
        if self.finished {
            loop {
                match self.stream.ssl_read(&mut self.buf) {
                    Ok(n) => count(&mut self.received, n)?,
                    Err(e) if matches!(e.code(), ErrorCode::WANT_READ) => break,
                    Err(e) => return Err(format!("OpenSSL DTLS read: {e}")),
                }
            }
        }
        Ok(self.stream.get_ref().reads - before)
    }

    fn finished(&self) -> bool {
        self.finished
    }

    fn send(&mut self, data: &[u8]) -> Result<(), String> {
        self.stream
            .ssl_write(data)
            .map(drop)
            .map_err(|e| format!("OpenSSL DTLS write: {e}"))
    }

    fn received(&self) -> usize {
        self.received
    }
}

/// dimpl used directly: its sans-IO `Dtls` over the socket.
struct DimplEnd {
    socket: UdpSocket,
    buf: Vec<u8>,
    state: DimplState,
}

/// A [`DimplEnd`]'s association and what it reported.
struct DimplState {
    dtls: dimpl::Dtls,
    server: bool,
    connected: bool,
    out: Vec<u8>,
    received: usize,
}

impl DimplEnd {
    fn new(setup: &DtlsSetup, server: bool, socket: UdpSocket) -> Result<Self, String> {
        let certificate = if server {
            dimpl::DtlsCertificate {
                certificate: setup.leaf_der.clone(),
                private_key: setup.key_der.clone(),
            }
        } else {
            // dimpl's client always has an identity; the server asks for none.
            dimpl::certificate::generate_self_signed_certificate().map_err(text)?
        };
        let mut dtls =
            dimpl::Dtls::new_12(Arc::clone(&setup.dimpl_config), certificate, Instant::now());
        dtls.set_active(!server);
        Ok(DimplEnd {
            socket,
            buf: vec![0; 65536],
            state: DimplState {
                dtls,
                server,
                connected: false,
                out: vec![0; 2048],
                received: 0,
            },
        })
    }
}

impl DimplState {
    /// Sends what dimpl has to send through `socket` and notes what it reports, up to its
    /// next timeout.
    fn drain(&mut self, socket: &UdpSocket) -> Result<(), String> {
        loop {
            match self.dtls.poll_output(&mut self.out) {
                dimpl::Output::Packet(p) => {
                    socket.send(p).map_err(text)?;
                }
                dimpl::Output::BufferTooSmall { needed } => self.out.resize(needed, 0),
                dimpl::Output::Timeout(_) => return Ok(()),
                dimpl::Output::Connected => self.connected = true,
                dimpl::Output::ApplicationData(data) => count(&mut self.received, data.len())?,
                _ => {}
            }
        }
    }
}

impl End for DimplEnd {
    fn start(&mut self) -> Result<(), String> {
        if self.state.server {
            return Ok(());
        }
        self.state
            .dtls
            .handle_timeout(Instant::now())
            .map_err(text)?;
        self.state.drain(&self.socket)
    }

    fn pump(&mut self) -> Result<usize, String> {
        let (socket, state) = (&self.socket, &mut self.state);
        each_waiting(socket, &mut self.buf, |datagram| {
            // dimpl keeps its clock from the instants it is handed (its server picks its
            // random there), so the time goes in before every datagram, as polytls does.
            state.dtls.handle_timeout(Instant::now()).map_err(text)?;
            state.dtls.handle_packet(datagram).map_err(text)?;
            state.drain(socket)
        })
    }

    fn finished(&self) -> bool {
        self.state.connected
    }

    fn send(&mut self, data: &[u8]) -> Result<(), String> {
        self.state.dtls.send_application_data(data).map_err(text)?;
        self.state.drain(&self.socket)
    }

    fn received(&self) -> usize {
        self.state.received
    }
}

/// A client end and a server end.
pub(crate) type Ends = (Box<dyn End>, Box<dyn End>);

/// A client and a server end over a fresh socket pair.
fn ends(setup: &DtlsSetup, engine: Engine, polytls: bool) -> Result<Ends, String> {
    let ((c, c_peer), (s, s_peer)) = socket_pair()?;
    Ok(match (polytls, engine) {
        (true, e) => (
            Box::new(PolytlsEnd::new(setup, e, false, (c, c_peer))?),
            Box::new(PolytlsEnd::new(setup, e, true, (s, s_peer))?),
        ),
        (false, Engine::OpenSsl) => (
            Box::new(OpenSslEnd::new(setup, false, c)?),
            Box::new(OpenSslEnd::new(setup, true, s)?),
        ),
        (false, Engine::Dimpl) => (
            Box::new(DimplEnd::new(setup, false, c)?),
            Box::new(DimplEnd::new(setup, true, s)?),
        ),
    })
}

/// Runs `step` (which returns the datagrams it moved and whether it is done) until done,
/// failing when no datagram moved for [`STALL`].
fn until(
    what: &str,
    mut step: impl FnMut() -> Result<(usize, bool), String>,
) -> Result<(), String> {
    let mut quiet_since: Option<Instant> = None;
    loop {
        match step()? {
            (_, true) => return Ok(()),
            (0, false) => {
                if quiet_since.get_or_insert_with(Instant::now).elapsed() > STALL {
                    return Err(format!("{what} stalled: no datagram arrived for {STALL:?}"));
                }
            }
            (_, false) => quiet_since = None,
        }
    }
}

/// A new client and server over a fresh socket pair, their handshake finished.
///
/// Fails with the handshake's error, or when it stalls.
pub(crate) fn handshake(setup: &DtlsSetup, engine: Engine, polytls: bool) -> Result<Ends, String> {
    let (mut client, mut server) = ends(setup, engine, polytls)?;
    client.start()?;
    until("the DTLS handshake", || {
        let moved = server.pump()? + client.pump()?;
        Ok((moved, client.finished() && server.finished()))
    })?;
    Ok((client, server))
}

/// Handshakes per second: `count` associations, each on new sockets, timed by `clock`.
///
/// Fails with the first handshake's error.
pub fn handshakes_per_second(
    setup: &DtlsSetup,
    engine: Engine,
    polytls: bool,
    count: usize,
    clock: Clock,
) -> Result<f64, String> {
    // One untimed handshake first, so that nothing is built for the first time on the clock.
    handshake(setup, engine, polytls)?;
    let watch = clock.start();
    for _ in 0..count {
        handshake(setup, engine, polytls)?;
    }
    Ok(count as f64 / watch.elapsed().as_secs_f64())
}

/// Application data throughput in MB/s: `bytes` (rounded up to whole datagrams) sent by the
/// client in [`DATAGRAM`]-byte datagrams, 16 at a time, each batch all received by the
/// server before the next; the handshake is not timed.
///
/// Fails when the handshake or a datagram fails, or a datagram does not arrive.
pub fn throughput(
    setup: &DtlsSetup,
    engine: Engine,
    polytls: bool,
    bytes: usize,
    clock: Clock,
) -> Result<f64, String> {
    let (mut client, mut server) = handshake(setup, engine, polytls)?;
    let datagrams = bytes.div_ceil(DATAGRAM);
    let watch = clock.start();
    exchange(client.as_mut(), server.as_mut(), datagrams)?;
    let elapsed = watch.elapsed().as_secs_f64();
    Ok((datagrams * DATAGRAM) as f64 / elapsed / 1e6)
}

/// Sends `datagrams` application datagrams of [`DATAGRAM`] bytes from `client` to
/// `server`, [`BATCH`] at a time, each batch all received before the next.
///
/// Fails when a datagram fails or does not arrive.
pub(crate) fn exchange(
    client: &mut dyn End,
    server: &mut dyn End,
    datagrams: usize,
) -> Result<(), String> {
    let payload = [0x5a; DATAGRAM];
    let (mut sent, base) = (0, server.received());
    while sent < datagrams {
        let batch = BATCH.min(datagrams - sent);
        for _ in 0..batch {
            client.send(&payload)?;
        }
        sent += batch;
        until("DTLS application data", || {
            let moved = server.pump()?;
            Ok((moved, server.received() - base >= sent))
        })?;
    }
    Ok(())
}

/// A ClientHello without a cookie and the same client's second ClientHello, carrying the
/// cookie `verifier` issued for the client's address (a polytls client on `engine` sends
/// both; the verifier answers the first through `socket`).
fn hellos(
    setup: &DtlsSetup,
    engine: Engine,
    verifier: &mut DtlsClientVerifier,
) -> Result<(Vec<u8>, Vec<u8>, SocketAddr), String> {
    let ((c, c_peer), (s, client_addr)) = socket_pair()?;
    let mut client = PolytlsEnd::new(setup, engine, false, (c, c_peer))?;
    client.start()?;
    let mut buf = vec![0; 65536];
    let mut receive = |socket: &UdpSocket| -> Result<Vec<u8>, String> {
        let mut got = None;
        until("the cookie exchange", || match socket.recv(&mut buf) {
            Ok(n) => {
                got = Some(buf[..n].to_vec());
                Ok((1, true))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, false)),
            Err(e) => Err(text(e)),
        })?;
        got.ok_or_else(|| "no datagram".to_owned())
    };
    let first = receive(&s)?;
    let ip = client_addr.ip();
    if verifier
        .verify_client(&s, &first, ip, client_addr.port())
        .map_err(text)?
    {
        return Err("the verifier accepted a ClientHello without a cookie".into());
    }
    client.pump()?;
    let second = receive(&s)?;
    if !verifier
        .verify_client(&s, &second, ip, client_addr.port())
        .map_err(text)?
    {
        return Err("the verifier refused the ClientHello carrying its cookie".into());
    }
    Ok((first, second, client_addr))
}

/// Whether a cookie-verifier measurement takes ClientHellos that carry a valid cookie, or
/// ones without (each answered with a HelloVerifyRequest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hello {
    /// The client's second ClientHello, with the cookie: verified, nothing sent.
    WithCookie,
    /// The client's first ClientHello: a HelloVerifyRequest is sent to the client (whose
    /// socket never reads it; the kernel drops what its buffer cannot hold).
    WithoutCookie,
}

/// The cookie verifier's rate in ClientHellos per second on the calling thread (one core),
/// for `budget` of `clock`'s time.
///
/// Fails when the ClientHellos cannot be made or the verifier decides one wrongly.
pub fn cookie_verifications_per_second(
    setup: &DtlsSetup,
    hello: Hello,
    budget: Duration,
    clock: Clock,
) -> Result<f64, String> {
    let mut verifier = DtlsClientVerifier::new();
    let (first, second, client) = hellos(setup, Engine::OpenSsl, &mut verifier)?;
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?;
    let (datagram, expected) = match hello {
        Hello::WithCookie => (second, true),
        Hello::WithoutCookie => (first, false),
    };
    let watch = clock.start();
    let mut done = 0u64;
    loop {
        for _ in 0..256 {
            let verified = verifier
                .verify_client(&socket, &datagram, client.ip(), client.port())
                .map_err(text)?;
            if verified != expected {
                return Err(format!(
                    "the verifier answered {verified} for a ClientHello {hello:?}"
                ));
            }
        }
        done += 256;
        let elapsed = watch.elapsed();
        if elapsed >= budget.max(Duration::from_millis(1)) {
            return Ok(done as f64 / elapsed.as_secs_f64());
        }
    }
}

/// What the kernel allows [`cookie_verifications_per_second`] for ClientHellos without a
/// cookie: the same HelloVerifyRequest sent with `send_to` alone, from a socket of its own to
/// the same client address, in ClientHellos per second on the calling thread for `budget`
/// of `clock`'s time.
///
/// Fails when the ClientHellos cannot be made or a send fails.
pub fn bare_answers_per_second(
    setup: &DtlsSetup,
    budget: Duration,
    clock: Clock,
) -> Result<f64, String> {
    let mut verifier = DtlsClientVerifier::new();
    let (first, _, client) = hellos(setup, Engine::OpenSsl, &mut verifier)?;
    // The verifier's answer, caught once on a socket that reads it.
    let (socket, catcher) = (
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?,
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?,
    );
    let to = catcher.local_addr().map_err(text)?;
    verifier
        .verify_client(&socket, &first, to.ip(), to.port())
        .map_err(text)?;
    catcher.set_read_timeout(Some(STALL)).map_err(text)?;
    let mut buf = vec![0; 65536];
    let n = catcher.recv(&mut buf).map_err(text)?;
    let answer = &buf[..n];
    let watch = clock.start();
    let mut done = 0u64;
    loop {
        for _ in 0..256 {
            socket.send_to(answer, client).map_err(text)?;
        }
        done += 256;
        let elapsed = watch.elapsed();
        if elapsed >= budget.max(Duration::from_millis(1)) {
            return Ok(done as f64 / elapsed.as_secs_f64());
        }
    }
}

/// Live heap bytes the cookie verifier keeps per unverified client: `clients` ClientHellos
/// without a cookie, each from another port of 127.0.0.1 and answered with a
/// HelloVerifyRequest, with `live_bytes` read before and after (one client answered first,
/// so that the verifier's own buffers have grown).
///
/// Fails when heap bytes are not counted or the verifier fails.
pub fn bytes_per_unverified_client(
    setup: &DtlsSetup,
    clients: usize,
    live_bytes: fn() -> Option<isize>,
) -> Result<f64, String> {
    let mut verifier = DtlsClientVerifier::new();
    let (first, _, _) = hellos(setup, Engine::OpenSsl, &mut verifier)?;
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(text)?;
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut ask = |port: u16| -> Result<(), String> {
        match verifier.verify_client(&socket, &first, ip, port) {
            Ok(false) => Ok(()),
            Ok(true) => Err(format!(
                "the verifier accepted port {port}'s ClientHello without a cookie"
            )),
            Err(e) => Err(text(e)),
        }
    };
    ask(1)?;
    let before = live_bytes().ok_or("heap bytes are not counted")?;
    for i in 0..clients {
        // Ports 2..=65535, wrapping: every client of a round is another address.
        ask(2 + (i % 65534) as u16)?;
    }
    let after = live_bytes().ok_or("heap bytes are not counted")?;
    Ok((after - before) as f64 / clients.max(1) as f64)
}
