//! One DTLS server behind the cookie verifier, after Qt's tst_qdtls: several clients
//! handshake and exchange data with it while another socket sprays random, truncated,
//! mutated and replayed datagrams at it; and a ClientHello cut short or split into fragments,
//! which the verifier must refuse without keeping anything or answering with more bytes than
//! it got.
//!
//! The server is the shape a real one has: one `UdpSocket`, a `DtlsClientVerifier` in front,
//! and one server `Dtls` per verified peer address, created only from a verified hello.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polytls::{Dtls, DtlsClientVerifier, DtlsError, GeneratorParameters, SslMode};

use super::dtls::{
    addr, drive, dtls_client_config, dtls_server_config, needs_cookie, needs_dtls, recv,
    start_client, udp,
};
use crate::case::Case;
use crate::harness::{check, mutate, Rng, IO_TIMEOUT};

/// How many good clients share the server.
const CLIENTS: usize = 4;
/// How many datagrams each good client sends (and expects echoed).
const MESSAGES: usize = 3;
/// The size of a HelloVerifyRequest from core's verifier.
const HELLO_VERIFY_REQUEST: usize = 60;

/// What the server saw, for the checks after the run.
#[derive(Default)]
struct Seen {
    /// Every address a server `Dtls` was ever created for.
    stored: HashSet<SocketAddr>,
    /// The most associations held at once.
    most_held: usize,
    /// Datagrams echoed back, over all clients.
    echoed: usize,
}

/// The server's state: the verifier in front, and one `Dtls` per verified peer address.
struct Server {
    socket: UdpSocket,
    backend: String,
    verifier: DtlsClientVerifier,
    params: GeneratorParameters,
    peers: HashMap<SocketAddr, Dtls>,
    seen: Seen,
}

impl Server {
    /// One step: a datagram from `from`. Datagrams of a known peer go to its `Dtls`;
    /// anything else goes to the verifier, and only a verified hello creates a `Dtls`. A
    /// peer whose association fails is forgotten; only a failing verifier or a `Dtls` that
    /// cannot be set up fails the server.
    fn datagram(&mut self, datagram: &[u8], from: SocketAddr) -> Result<(), String> {
        let socket = &self.socket;
        if let Some(dtls) = self.peers.get_mut(&from) {
            let keep = if dtls.is_connection_encrypted() {
                match dtls.decrypt_datagram(socket, datagram) {
                    Ok(plain) if !plain.is_empty() => {
                        let echoed = dtls.write_datagram_encrypted(socket, &plain).is_ok();
                        self.seen.echoed += usize::from(echoed);
                        echoed
                    }
                    Ok(_) => dtls.dtls_error() != DtlsError::RemoteClosedConnectionError,
                    Err(_) => false,
                }
            } else {
                dtls.do_handshake(socket, datagram).is_ok()
            };
            if !keep {
                self.peers.remove(&from);
            }
            return Ok(());
        }
        if datagram.is_empty() {
            return Ok(());
        }
        let verified = self
            .verifier
            .verify_client(socket, datagram, from.ip(), from.port())
            .map_err(|e| format!("the verifier failed on a datagram from {from}: {e}"))?;
        if !verified {
            return Ok(());
        }
        let mut dtls =
            Dtls::with_backend(SslMode::SslServerMode, &self.backend).map_err(|e| e.to_string())?;
        dtls.set_dtls_configuration(dtls_server_config())
            .map_err(|e| e.to_string())?;
        dtls.set_cookie_generator_parameters(self.params.clone())
            .map_err(|e| e.to_string())?;
        dtls.set_peer(from.ip(), from.port(), None)
            .map_err(|e| e.to_string())?;
        self.seen.stored.insert(from);
        if dtls
            .do_handshake(socket, self.verifier.verified_hello())
            .is_ok()
        {
            self.peers.insert(from, dtls);
            self.seen.most_held = self.seen.most_held.max(self.peers.len());
        }
        Ok(())
    }

    /// Serves until `stop` (or a deadline), recording a copy of the first datagrams in
    /// `heard` for the sprayer to replay; returns what it saw.
    fn run(mut self, stop: &AtomicBool, heard: &Mutex<Vec<Vec<u8>>>) -> Result<Seen, String> {
        let deadline = Instant::now() + 3 * IO_TIMEOUT;
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() > deadline {
                return Err("the server was never told to stop".into());
            }
            let wait = self
                .peers
                .values()
                .filter_map(Dtls::timeout)
                .min()
                .unwrap_or(Duration::from_millis(50))
                .min(Duration::from_millis(50));
            if let Some((datagram, from)) = recv(&self.socket, wait)? {
                if let Ok(mut heard) = heard.lock() {
                    if heard.len() < 256 {
                        heard.push(datagram.clone());
                    }
                }
                self.datagram(&datagram, from)?;
            }
            let socket = &self.socket;
            self.peers
                .retain(|_, dtls| dtls.handle_timeout(socket).is_ok());
        }
        Ok(self.seen)
    }
}

/// Starts the server on `socket` with a fresh verifier.
fn server(
    socket: UdpSocket,
    backend: String,
    stop: Arc<AtomicBool>,
    heard: Arc<Mutex<Vec<Vec<u8>>>>,
) -> Result<Seen, String> {
    let verifier = DtlsClientVerifier::new();
    let params = verifier.cookie_generator_parameters();
    let server = Server {
        socket,
        backend,
        verifier,
        params,
        peers: HashMap::new(),
        seen: Seen::default(),
    };
    server.run(&stop, &heard)
}

/// A good client: handshakes with `server`, sends [`MESSAGES`] datagrams and checks each
/// comes back decrypted, then closes.
fn good_client(backend: &str, server: SocketAddr, index: usize) -> Result<SocketAddr, String> {
    let socket = udp()?;
    let me = addr(&socket)?;
    let mut c = start_client(backend, dtls_client_config(), server, &socket)
        .map_err(|e| format!("client {index}: {e}"))?;
    drive(&mut c, &socket).map_err(|e| format!("client {index}: handshake: {e}"))?;
    for m in 0..MESSAGES {
        let message = format!("client {index} message {m}");
        c.write_datagram_encrypted(&socket, message.as_bytes())
            .map_err(|e| format!("client {index}: write: {e}"))?;
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < deadline {
            if let Some((d, _)) = recv(&socket, Duration::from_millis(200))? {
                got = c
                    .decrypt_datagram(&socket, &d)
                    .map_err(|e| format!("client {index}: decrypt: {e}"))?;
            }
        }
        check(got == message.as_bytes(), || {
            format!(
                "client {index} got {:?} for {message:?}",
                String::from_utf8_lossy(&got)
            )
        })?;
    }
    c.shutdown(&socket)
        .map_err(|e| format!("client {index}: shutdown: {e}"))?;
    Ok(me)
}

/// What the sprayer sent and got back.
#[derive(Default)]
struct Sprayed {
    sent: usize,
    sent_bytes: usize,
    answers: usize,
    answer_bytes: usize,
    largest_answer: usize,
}

/// Sprays `server` from `socket` until `stop`: random bytes, random bytes behind a DTLS
/// handshake record header, real ClientHellos without a cookie and their truncations and
/// mutations, and replays of what the server heard from others. Counts what comes back.
fn sprayer(
    socket: UdpSocket,
    server: SocketAddr,
    hello: Vec<u8>,
    heard: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    started: Arc<AtomicUsize>,
) -> Result<Sprayed, String> {
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("sprayer: {e}"))?;
    let mut rng = Rng::new(0x006e_6f69_7365);
    let mut out = Sprayed::default();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10 {
            let datagram = match rng.below(6) {
                0 => (0..rng.below(1500)).map(|_| rng.next_u64() as u8).collect(),
                1 => {
                    let mut d = vec![0x16, 0xfe, 0xfd];
                    d.extend((0..rng.below(300)).map(|_| rng.next_u64() as u8));
                    d
                }
                2 => hello.clone(),
                3 => hello[..rng.below(hello.len())].to_vec(),
                4 => mutate(&hello, &mut rng),
                _ => {
                    let heard = heard.lock().map_err(|_| "a poisoned lock")?;
                    match heard.len() {
                        0 => hello.clone(),
                        n => heard[rng.below(n)].clone(),
                    }
                }
            };
            if socket.send_to(&datagram, server).is_ok() {
                out.sent += 1;
                out.sent_bytes += datagram.len();
            }
        }
        started.store(out.sent, Ordering::Relaxed);
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            out.answers += 1;
            out.answer_bytes += n;
            out.largest_answer = out.largest_answer.max(n);
        }
        // Pace the spray so the good clients' datagrams are not simply crowded out of the
        // server's receive buffer on a small machine.
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(out)
}

/// Many clients under a noise of garbage: every good client completes its handshake and its
/// exchanges, the server keeps serving, and nothing is created for the garbage sender.
fn clients_under_noise(client: &str, server_backend: &str) -> Result<(), String> {
    let server_socket = udp()?;
    let server_addr = addr(&server_socket)?;
    let stop = Arc::new(AtomicBool::new(false));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let server_thread = {
        let (backend, stop, heard) = (server_backend.to_owned(), stop.clone(), heard.clone());
        std::thread::spawn(move || server(server_socket, backend, stop, heard))
    };
    // A real ClientHello from the sprayer's own address, which it never follows up.
    let spray_socket = udp()?;
    let spray_addr = addr(&spray_socket)?;
    let hello = {
        let capture = udp()?;
        let _c = start_client(client, dtls_client_config(), addr(&capture)?, &spray_socket)
            .map_err(|e| e.to_string())?;
        recv(&capture, IO_TIMEOUT)?
            .ok_or("no ClientHello to spray")?
            .0
    };
    let started = Arc::new(AtomicUsize::new(0));
    let spray_thread = {
        let (stop, heard, started) = (stop.clone(), heard.clone(), started.clone());
        std::thread::spawn(move || sprayer(spray_socket, server_addr, hello, heard, stop, started))
    };
    let noise_deadline = Instant::now() + IO_TIMEOUT;
    while started.load(Ordering::Relaxed) < 100 && Instant::now() < noise_deadline {
        std::thread::yield_now();
    }
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let backend = client.to_owned();
            crate::frontend::spawn(move || good_client(&backend, server_addr, i))
        })
        .collect();
    let results: Vec<_> = clients
        .into_iter()
        .map(|t| t.join().unwrap_or_else(|_| Err("a client panicked".into())))
        .collect();
    let sent_during = started.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let sprayed = spray_thread
        .join()
        .map_err(|_| "the sprayer panicked".to_string())??;
    let seen = server_thread
        .join()
        .map_err(|_| "the server panicked".to_string())??;
    let good: Vec<SocketAddr> = results.into_iter().collect::<Result<_, _>>()?;
    check(sent_during >= 100, || {
        format!("only {sent_during} garbage datagrams were sent while the clients ran")
    })?;
    check(!seen.stored.contains(&spray_addr), || {
        "the server created an association for the garbage sender".into()
    })?;
    check(seen.stored == good.iter().copied().collect(), || {
        format!(
            "associations were created for {:?}, the good clients are {good:?}",
            seen.stored
        )
    })?;
    check(seen.echoed == CLIENTS * MESSAGES, || {
        format!(
            "the server echoed {} datagrams, not {}",
            seen.echoed,
            CLIENTS * MESSAGES
        )
    })?;
    check(seen.most_held <= CLIENTS, || {
        format!("{} associations held at once", seen.most_held)
    })?;
    check(
        sprayed.largest_answer <= HELLO_VERIFY_REQUEST
            && sprayed.answer_bytes <= sprayed.sent_bytes,
        || {
            format!(
                "the garbage sender got {} answers, {} bytes (largest {}) for {} datagrams of {} bytes",
                sprayed.answers,
                sprayed.answer_bytes,
                sprayed.largest_answer,
                sprayed.sent,
                sprayed.sent_bytes
            )
        },
    )
}

/// Rewrites the DTLS handshake record `record` (one whole ClientHello) as two records
/// holding the message in two fragments split at `at` bytes of its body.
fn fragments(record: &[u8], at: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    const RECORD: usize = 13;
    const HANDSHAKE: usize = 12;
    let body = record.get(RECORD + HANDSHAKE..)?;
    if at == 0 || at >= body.len() {
        return None;
    }
    let piece = |offset: usize, part: &[u8]| {
        let mut out = record[..RECORD + HANDSHAKE].to_vec();
        let record_len = u16::try_from(HANDSHAKE + part.len()).unwrap_or(u16::MAX);
        out[11..13].copy_from_slice(&record_len.to_be_bytes());
        out[RECORD + 6..RECORD + 9].copy_from_slice(&(offset as u32).to_be_bytes()[1..]);
        out[RECORD + 9..RECORD + 12].copy_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(part);
        out
    };
    Some((piece(0, &body[..at]), piece(at, &body[at..])))
}

/// A ClientHello carrying a valid cookie, cut short at every length or split into two
/// fragments (in two datagrams, or two records of one), is refused by the verifier: `false`,
/// no verified hello, no error, and no answer larger than the datagram it got. The whole
/// hello still verifies afterwards, so the verifier kept nothing from the refused ones.
fn fragmented_or_truncated_hello(backend: &str) -> Result<(), String> {
    let server = udp()?;
    let client_socket = udp()?;
    let mut c = start_client(
        backend,
        dtls_client_config(),
        addr(&server)?,
        &client_socket,
    )
    .map_err(|e| e.to_string())?;
    let mut verifier = DtlsClientVerifier::new();
    let (first, from) = recv(&server, IO_TIMEOUT)?.ok_or("no ClientHello")?;
    check(
        !verifier
            .verify_client(&server, &first, from.ip(), from.port())
            .map_err(|e| e.to_string())?,
        || "a hello without a cookie was verified".into(),
    )?;
    let (request, _) = recv(&client_socket, IO_TIMEOUT)?.ok_or("no HelloVerifyRequest")?;
    c.do_handshake(&client_socket, &request)
        .map_err(|e| e.to_string())?;
    let (hello, _) = recv(&server, IO_TIMEOUT)?.ok_or("no ClientHello with the cookie")?;
    let verifies = |v: &mut DtlsClientVerifier| {
        v.verify_client(&server, &hello, from.ip(), from.port())
            .map_err(|e| e.to_string())
    };
    check(verifies(&mut verifier)?, || {
        "the whole hello with its cookie was not verified".into()
    })?;
    client_socket
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_536];
    let mut refused = |datagram: &[u8], what: &str| -> Result<(), String> {
        let verified = verifier
            .verify_client(&server, datagram, from.ip(), from.port())
            .map_err(|e| format!("{what}: {e}"))?;
        check(!verified && verifier.verified_hello().is_empty(), || {
            format!("{what} was verified")
        })?;
        check(verifier.dtls_error() == DtlsError::NoError, || {
            format!("{what} set an error: {}", verifier.dtls_error_string())
        })?;
        // Loopback delivers a datagram before send_to returns, so any answer is here now.
        while let Ok((n, _)) = client_socket.recv_from(&mut buf) {
            check(n <= datagram.len(), || {
                format!("{what} of {} bytes was answered with {n}", datagram.len())
            })?;
        }
        Ok(())
    };
    for len in 1..hello.len() {
        refused(&hello[..len], &format!("the hello cut to {len} bytes"))?;
    }
    let mut tried = 0;
    for at in [1, 2, 34, 35, hello.len() / 2, hello.len() - 26] {
        let Some((a, b)) = fragments(&hello, at) else {
            continue;
        };
        tried += 1;
        refused(&a, &format!("the first fragment (split at {at})"))?;
        refused(&b, &format!("the second fragment (split at {at})"))?;
        refused(
            &[a, b].concat(),
            &format!("both fragments in one datagram (split at {at})"),
        )?;
    }
    check(tried >= 4, || {
        format!("only {tried} splits fitted the hello")
    })?;
    check(verifies(&mut verifier)?, || {
        "the whole hello no longer verifies after the refused ones".into()
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "dtls/noise/clients_under_garbage",
            needs_dtls(),
            needs_cookie(),
            clients_under_noise,
        ),
        Case::single(
            "dtls/cookie/fragmented_or_truncated_hello",
            needs_dtls(),
            fragmented_or_truncated_hello,
        ),
    ]
}
