//! Criterion micro-benchmarks of the paths a developer tunes, one 16 KiB record at a time, for
//! each backend (TLS 1.3, TLS_AES_128_GCM_SHA256, ECDSA P-256 certificates):
//!
//! - `engine/encrypt`: `TlsEngine::write_plaintext_to` of 16 KiB, then whatever the engine
//!   queued drained with `write_tls`, into a buffer: the work behind every `SslSocket::write`.
//! - `engine/decrypt`: the same record read back with `read_plaintext_from` (falling back to
//!   `read_tls` and `process` when the engine asks for it), as `SslSocket::read` does.
//! - `socket/write`: `SslSocket::write_all` of 16 KiB over an in-memory stream that keeps what
//!   it is given: the blocking socket's write loop, encryption included.
//! - `socket/read`: `SslSocket::read` until 16 KiB arrived, from an in-memory stream replaying
//!   the ciphertext of one such write: the socket's read loop, decryption included.
//!
//! Each ciphertext is made, outside the measurement, by the peer of the session that decrypts
//! it, in order, so that record sequence numbers match. Run with
//! `cargo bench -p polytls-bench --bench hot_paths` (add `-- --quick` for a short run, or a
//! filter such as `-- openssl/engine`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use polytls::{
    Certificate, EngineParams, Error, PlaintextRead, Registry, SslError, SslMode, SslSocket,
    TlsEngine, VerificationHook,
};
use polytls_bench::inmem::{payload, Backend, CHUNK};
use polytls_bench::setup::{KeyKind, Params, Setup, Version, HOST};
use polytls_conformance::harness::{memory_pair, MemoryStream};

/// The bytes the transport of the benchmarks may hold each way.
const CAPACITY: usize = 1 << 20;

/// A verification hook that accepts what the engine accepts (the chain is valid here).
struct Accept;

impl VerificationHook for Accept {
    fn decide(&self, _: &[Certificate], errors: Vec<SslError>) -> bool {
        errors.is_empty()
    }
}

/// The settings of every benchmark.
fn setup() -> Setup {
    Setup::new(Params {
        key: KeyKind::EcdsaP256,
        version: Version::Tls13,
        cipher: Some("TLS_AES_128_GCM_SHA256"),
    })
    .expect("certificates and settings")
}

fn engine(backend: Backend, setup: &Setup, mode: SslMode) -> Box<dyn TlsEngine> {
    let backend = Registry::global()
        .backend(Some(backend.name()))
        .expect("backend is linked");
    let (config, peer) = match mode {
        SslMode::SslClientMode => (
            &setup.polytls_client,
            Some(polytls::PeerName::parse(HOST).expect("a valid host name")),
        ),
        _ => (&setup.polytls_server, None),
    };
    let params = EngineParams::new(mode, config, peer.as_ref(), Arc::new(Accept));
    backend.new_tls_engine(params).expect("engine")
}

/// Moves what `from` queued to `to`.
fn transfer(from: &mut dyn TlsEngine, to: &mut dyn TlsEngine) {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("write_tls");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read_tls");
    }
}

/// A client and a server engine, handshake done and session tickets delivered.
fn engines(backend: Backend, setup: &Setup) -> (Box<dyn TlsEngine>, Box<dyn TlsEngine>) {
    let mut client = engine(backend, setup, SslMode::SslClientMode);
    let mut server = engine(backend, setup, SslMode::SslServerMode);
    client.process().expect("first flight");
    for _ in 0..10 {
        transfer(client.as_mut(), server.as_mut());
        server.process().expect("server handshake");
        transfer(server.as_mut(), client.as_mut());
        client.process().expect("client handshake");
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    (client, server)
}

/// Encrypts one 16 KiB record through the engine into `wire`, as the socket's write does.
fn encrypt(engine: &mut dyn TlsEngine, wire: &mut Vec<u8>) {
    let mut data = &payload()[..];
    while !data.is_empty() {
        let n = engine.write_plaintext_to(wire, data).expect("encrypt");
        data = &data[n..];
        while engine.wants_write() {
            engine.write_tls(wire).expect("write_tls");
        }
    }
}

/// Decrypts `wire` (one 16 KiB write) through the engine, as the socket's read does.
fn decrypt(engine: &mut dyn TlsEngine, wire: &[u8], buf: &mut [u8]) {
    let mut rest = wire;
    let mut got = 0;
    while got < CHUNK {
        match engine.read_plaintext_from(&mut rest, buf) {
            Ok(PlaintextRead::Data(n)) => got += n,
            Ok(PlaintextRead::NeedMore) => {
                engine.read_tls(&mut rest).expect("read_tls");
                engine.process().expect("process");
            }
            other => panic!("decrypt: {other:?}"),
        }
    }
}

fn engine_benches(c: &mut Criterion, setup: &Setup) {
    for backend in Backend::ALL {
        let mut group = c.benchmark_group(format!("{}/engine", backend.name()));
        group.throughput(Throughput::Bytes(CHUNK as u64));

        let (mut client, _server) = engines(backend, setup);
        let mut wire = Vec::with_capacity(2 * CHUNK);
        group.bench_function("encrypt", |b| {
            b.iter(|| {
                wire.clear();
                encrypt(client.as_mut(), &mut wire);
                wire.len()
            })
        });

        let (mut client, mut server) = engines(backend, setup);
        let mut buf = vec![0u8; CHUNK];
        group.bench_function("decrypt", |b| {
            b.iter_batched(
                || {
                    let mut wire = Vec::with_capacity(2 * CHUNK);
                    encrypt(client.as_mut(), &mut wire);
                    wire
                },
                |wire| decrypt(server.as_mut(), &wire, &mut buf),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// What a [`Tapped`] stream does with the socket's I/O.
enum Tap {
    /// Passes it to the in-memory transport (for the handshake).
    Through,
    /// Keeps what is written; reads find nothing.
    Capture(Vec<u8>),
    /// Reads are served from these bytes; writes are kept aside.
    Replay(VecDeque<u8>),
}

/// An in-memory transport whose I/O can be diverted after the handshake.
struct Tapped {
    inner: MemoryStream,
    tap: Rc<RefCell<Tap>>,
}

impl Read for Tapped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut *self.tap.borrow_mut() {
            Tap::Through => self.inner.read(buf),
            Tap::Capture(_) => Err(io::ErrorKind::WouldBlock.into()),
            Tap::Replay(bytes) if bytes.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            Tap::Replay(bytes) => bytes.read(buf),
        }
    }
}

impl Write for Tapped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut *self.tap.borrow_mut() {
            Tap::Through => self.inner.write(data),
            Tap::Capture(kept) => {
                kept.extend_from_slice(data);
                Ok(data.len())
            }
            Tap::Replay(_) => Ok(data.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Socket = SslSocket<Tapped>;

/// `Ok(true)` when done, `Ok(false)` when the transport would block.
fn done(result: Result<(), Error>) -> bool {
    match result {
        Ok(()) => true,
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("handshake: {e}"),
    }
}

/// A client and a server socket over one in-memory transport, handshake done and session
/// tickets read, with the taps that divert each one's I/O.
fn sockets(
    backend: Backend,
    setup: &Setup,
) -> (Socket, Rc<RefCell<Tap>>, Socket, Rc<RefCell<Tap>>) {
    let (a, b) = memory_pair(CAPACITY);
    let (client_tap, server_tap) = (
        Rc::new(RefCell::new(Tap::Through)),
        Rc::new(RefCell::new(Tap::Through)),
    );
    let wrap = |inner, tap: &Rc<RefCell<Tap>>| Tapped {
        inner,
        tap: Rc::clone(tap),
    };
    let mut client = SslSocket::with_backend(wrap(a, &client_tap), backend.name()).expect("client");
    client.set_ssl_configuration(Arc::clone(&setup.polytls_client));
    client.set_peer_verify_name(HOST);
    let mut server = SslSocket::with_backend(wrap(b, &server_tap), backend.name()).expect("server");
    server.set_ssl_configuration(Arc::clone(&setup.polytls_server));
    client.start_client_encryption().expect("client start");
    server.start_server_encryption().expect("server start");
    let mut finished = false;
    for _ in 0..100 {
        let c = done(client.handshake());
        let s = done(server.handshake());
        if c && s {
            finished = true;
            break;
        }
    }
    assert!(finished, "handshake stalled");
    let mut byte = [0u8; 1];
    for socket in [&mut client, &mut server] {
        match socket.read(&mut byte) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => panic!("settle: {other:?}"),
        }
    }
    (client, client_tap, server, server_tap)
}

fn socket_benches(c: &mut Criterion, setup: &Setup) {
    for backend in Backend::ALL {
        let mut group = c.benchmark_group(format!("{}/socket", backend.name()));
        group.throughput(Throughput::Bytes(CHUNK as u64));

        let (mut client, client_tap, _server, _server_tap) = sockets(backend, setup);
        *client_tap.borrow_mut() = Tap::Capture(Vec::with_capacity(2 * CHUNK));
        group.bench_function("write", |b| {
            b.iter(|| {
                if let Tap::Capture(kept) = &mut *client_tap.borrow_mut() {
                    kept.clear();
                }
                client.write_all(payload()).expect("write");
            })
        });

        let (mut client, client_tap, mut server, server_tap) = sockets(backend, setup);
        *client_tap.borrow_mut() = Tap::Capture(Vec::with_capacity(2 * CHUNK));
        *server_tap.borrow_mut() = Tap::Replay(VecDeque::with_capacity(2 * CHUNK));
        let mut buf = vec![0u8; CHUNK];
        group.bench_function("read", |b| {
            b.iter_batched(
                || {
                    client.write_all(payload()).expect("write");
                    match &mut *client_tap.borrow_mut() {
                        Tap::Capture(kept) => std::mem::take(kept),
                        _ => Vec::new(),
                    }
                },
                |wire| {
                    if let Tap::Replay(bytes) = &mut *server_tap.borrow_mut() {
                        bytes.extend(wire);
                    }
                    let mut got = 0;
                    while got < CHUNK {
                        got += server.read(&mut buf).expect("read");
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

fn hot_paths(c: &mut Criterion) {
    let setup = setup();
    engine_benches(c, &setup);
    socket_benches(c, &setup);
}

/// The group `criterion_main!` runs (the macro's function has no documentation of its own).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::hot_paths);
}

criterion_main!(group::benches);
