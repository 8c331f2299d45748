//! Verification and data integrity under attack: a peer that asks for a renegotiation, in
//! either direction, and a peer that completes a handshake and then sends a corrupted record
//! or garbage. A polytls socket must never hang, never run its verification hook twice, and
//! must send every alert its engine produces before it gives up.
//!
//! The corrupting peer is a polytls socket of its own over [`Tap`], a stream wrapper that flips
//! one byte of the first application-data record written once it is armed, and keeps every
//! byte it read. The sessions are TLS 1.2, where a record's content type travels in the clear,
//! so the tap can show that an alert record (content type 21) came back; the attacking engine
//! decrypts that alert and reports which one it was.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};

use polytls::{AlertType, Error, SslConfiguration, SslProtocol, SslSocket};

use super::external::Peer;
use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, tcp_pair, TempDir, IO_TIMEOUT};
use crate::pki::Pki;

/// TLS record content type of an alert.
const ALERT: u8 = 21;
/// TLS record content type of application data.
const APPLICATION_DATA: u8 = 23;

/// The polytls error an I/O error from a socket carries, if any.
fn polytls_error(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// Whether a read failed only because nothing came in time.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// `config` pinned to TLS 1.2.
fn tls12(config: SslConfiguration) -> SslConfiguration {
    SslConfiguration {
        protocol: SslProtocol::TlsV1_2,
        ..config
    }
}

/// Where the tap is in the record framing of what it writes.
#[derive(Clone, Copy, Default)]
struct Framing {
    header: [u8; 5],
    have: usize,
    left: usize,
}

impl Framing {
    /// Takes one byte; returns the record's content type when `byte` ends a record body.
    fn step(&mut self, byte: u8) -> Option<u8> {
        if self.have < self.header.len() {
            self.header[self.have] = byte;
            self.have += 1;
            if self.have == self.header.len() {
                self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                if self.left == 0 {
                    self.have = 0;
                }
            }
            return None;
        }
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            self.have = 0;
            Some(self.header[0])
        } else {
            None
        }
    }
}

#[derive(Default)]
struct TapState {
    /// Every byte read from the peer.
    received: Vec<u8>,
    outgoing: Framing,
    /// Flip the last byte of the next application-data record written.
    armed: bool,
    tampered: bool,
}

/// A TCP stream that can corrupt one outgoing record and remembers what it read.
struct Tap {
    inner: TcpStream,
    state: Arc<Mutex<TapState>>,
}

fn lock(state: &Mutex<TapState>) -> MutexGuard<'_, TapState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        lock(&self.state)
            .received
            .extend_from_slice(&buf[..n.min(buf.len())]);
        Ok(n)
    }
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = lock(&self.state);
        let mut framing = state.outgoing;
        let flip = (state.armed && !state.tampered)
            .then(|| {
                buf.iter()
                    .position(|&b| framing.step(b) == Some(APPLICATION_DATA))
            })
            .flatten();
        let mut data = buf.to_vec();
        if let Some(at) = flip {
            data[at] ^= 0x01;
        }
        let n = self.inner.write(&data)?.min(buf.len());
        for &b in &buf[..n] {
            state.outgoing.step(b);
        }
        if flip.is_some_and(|at| at < n) {
            state.tampered = true;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The content types of the whole records in `stream` (a TLS byte stream read from its
/// start) that begin at or after offset `from`.
fn record_types_from(stream: &[u8], from: usize) -> Vec<u8> {
    let mut types = Vec::new();
    let mut at = 0usize;
    while let Some(header) = stream.get(at..at + 5) {
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if at >= from {
            types.push(header[0]);
        }
        at += 5 + len;
    }
    types
}

/// An attacker over a [`Tap`] and a receiver over a plain stream, TLS 1.2, not started.
struct Attack {
    attacker: SslSocket<Tap>,
    tap: Arc<Mutex<TapState>>,
    receiver: SslSocket<TcpStream>,
    receiver_is_server: bool,
}

impl Attack {
    fn new(attacker: &str, receiver: &str, receiver_is_server: bool) -> Result<Attack, String> {
        let (client, server) = tcp_pair()?;
        let (attacker_stream, receiver_stream) = if receiver_is_server {
            (client, server)
        } else {
            (server, client)
        };
        let tap = Arc::new(Mutex::new(TapState::default()));
        let stream = Tap {
            inner: attacker_stream,
            state: Arc::clone(&tap),
        };
        let mut attacker = SslSocket::with_backend(stream, attacker).map_err(|e| e.to_string())?;
        let mut receiver =
            SslSocket::with_backend(receiver_stream, receiver).map_err(|e| e.to_string())?;
        let client_side = tls12(client_config());
        let server_side = tls12(server_config(&Pki::get().server));
        if receiver_is_server {
            attacker.set_ssl_configuration(client_side);
            attacker.set_peer_verify_name("localhost");
            receiver.set_ssl_configuration(server_side);
        } else {
            attacker.set_ssl_configuration(server_side);
            receiver.set_ssl_configuration(client_side);
            receiver.set_peer_verify_name("localhost");
        }
        Ok(Attack {
            attacker,
            tap,
            receiver,
            receiver_is_server,
        })
    }

    /// Runs both handshakes; then `attack` on the attacker while the receiver reads. The
    /// receiver's read must fail with a protocol error; what `attack` returns is checked after.
    fn run(
        self,
        attack: impl FnOnce(&mut SslSocket<Tap>, &Mutex<TapState>) -> Result<(), String>,
    ) -> Result<(), String> {
        let Attack {
            mut attacker,
            tap,
            mut receiver,
            receiver_is_server,
        } = self;
        let (done, wait) = mpsc::channel::<()>();
        let receiving = std::thread::spawn(move || -> Result<(), String> {
            let started = if receiver_is_server {
                receiver.start_server_encryption()
            } else {
                receiver.start_client_encryption()
            };
            // The bad record may come with the peer's last handshake flight, and then ends the
            // handshake instead of the first read.
            let mut buf = [0u8; 256];
            let read = started
                .and_then(|()| receiver.handshake())
                .map_err(io::Error::from)
                .and_then(|()| receiver.read(&mut buf));
            let outcome = match read {
                Ok(n) => Err(format!(
                    "the receiver read {n} bytes of a bad record as data"
                )),
                Err(e) => match polytls_error(&e) {
                    Some(Error::Protocol(_)) => Ok(()),
                    _ => Err(format!(
                        "the receiver should fail with a protocol error, got: {e} ({:?})",
                        e.kind()
                    )),
                },
            };
            // Keep the connection until the attacker has read what came back.
            let _ = wait.recv_timeout(IO_TIMEOUT);
            outcome
        });
        let attacked = (|| {
            let started = if receiver_is_server {
                attacker.start_client_encryption()
            } else {
                attacker.start_server_encryption()
            };
            started
                .and_then(|()| attacker.handshake())
                .map_err(|e| format!("attacker handshake: {e}"))?;
            attack(&mut attacker, &tap)
        })();
        drop(done);
        drop(attacker);
        let received = receiving
            .join()
            .unwrap_or_else(|_| Err("the receiver thread panicked".into()));
        match (attacked, received) {
            (Ok(()), Ok(())) => Ok(()),
            (a, r) => Err(format!(
                "attacker: {}; receiver: {}",
                a.err().unwrap_or_else(|| "ok".into()),
                r.err().unwrap_or_else(|| "ok".into())
            )),
        }
    }
}

/// Whether an alert record reached the attacker after offset `from` of what it read.
fn alert_came_back(tap: &Mutex<TapState>, from: usize) -> Result<(), String> {
    let types = record_types_from(&lock(tap).received, from);
    check(types.contains(&ALERT), || {
        format!("no alert record came back (record types after the attack: {types:?})")
    })
}

/// The peer flips one byte of an application-data record: the receiver must fail with a
/// protocol error and send bad_record_mac.
fn flipped_byte(attacker: &str, receiver: &str, receiver_is_server: bool) -> Result<(), String> {
    Attack::new(attacker, receiver, receiver_is_server)?.run(|socket, tap| {
        let from = {
            let mut state = lock(tap);
            state.armed = true;
            state.received.len()
        };
        socket
            .write_all(b"a record the wire corrupts")
            .and_then(|()| socket.flush())
            .map_err(|e| format!("write: {e}"))?;
        check(lock(tap).tampered, || "no record was corrupted".into())?;
        let mut buf = [0u8; 64];
        let answer = socket.read(&mut buf);
        alert_came_back(tap, from)?;
        match answer {
            Err(e) => match polytls_error(&e) {
                Some(Error::Handshake {
                    alert: Some(AlertType::BadRecordMac),
                    ..
                }) => Ok(()),
                _ => Err(format!(
                    "expected the peer's bad_record_mac alert, got: {e}"
                )),
            },
            Ok(n) => Err(format!("expected the peer's alert, read {n} bytes")),
        }
    })
}

/// Bytes that are no valid record of an established session.
fn garbage_records() -> Vec<(&'static str, Vec<u8>)> {
    let noise = |len: usize| -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let record = |header: [u8; 5], body: usize| -> Vec<u8> {
        let mut bytes = header.to_vec();
        bytes.extend(noise(body));
        bytes
    };
    vec![
        (
            "nonsense application data",
            record([APPLICATION_DATA, 3, 3, 0, 64], 64),
        ),
        ("unknown content type", record([0x42, 3, 3, 0, 16], 16)),
        (
            "oversized record",
            record([APPLICATION_DATA, 3, 3, 0xff, 0xff], 64),
        ),
        (
            "plain text",
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
    ]
}

/// The peer writes `garbage` straight to the transport after the handshake: the receiver
/// must fail with a protocol error (not time out) and send an alert.
fn garbage_after_handshake(
    attacker: &str,
    receiver: &str,
    receiver_is_server: bool,
    garbage: &[u8],
) -> Result<(), String> {
    Attack::new(attacker, receiver, receiver_is_server)?.run(|socket, tap| {
        let from = lock(tap).received.len();
        socket
            .get_mut()
            .inner
            .write_all(garbage)
            .map_err(|e| format!("write: {e}"))?;
        // The answer is an alert the attacking engine may or may not accept; only its arrival
        // matters here.
        let mut buf = [0u8; 64];
        let _ = socket.read(&mut buf);
        alert_came_back(tap, from)
    })
}

/// Lines a child process prints, as they come.
fn lines_of(output: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it.
fn wait_for_line(lines: &Receiver<String>, needle: &str, who: &str) -> Result<String, String> {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(_) => {}
            Err(_) => return Err(format!("{who} never printed {needle:?}")),
        }
    }
}

/// Waits for a line containing one of `needles` and returns it; empty when none came in time.
fn wait_for_any(lines: &Receiver<String>, needles: &[&str]) -> String {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if needles.iter().any(|n| line.contains(n)) => return line,
            Ok(_) => {}
            Err(_) => return String::new(),
        }
    }
}

/// Reads until `expected` arrived (`Ok(true)`), the stream ended or the read failed
/// (`Ok(false)`). A timeout is a hang; any other failure must be a handshake or protocol error
/// (a clear refusal).
fn read_through<S: Read + Write>(
    socket: &mut SslSocket<S>,
    expected: &[u8],
) -> Result<bool, String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(expected.len()).any(|w| w == expected) {
        match socket.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if timed_out(&e) => {
                return Err(format!(
                    "the session hung after the renegotiation request (read: {e})"
                ))
            }
            Err(e) => {
                return match polytls_error(&e) {
                    Some(Error::Handshake { .. } | Error::Protocol(_)) => Ok(false),
                    _ => Err(format!(
                        "unclear failure after the renegotiation request: {e}"
                    )),
                }
            }
        }
    }
    Ok(true)
}

/// `openssl s_server` asks a polytls client to renegotiate (HelloRequest). The client must
/// neither hang nor run its verification hook again.
fn server_requests_renegotiation(backend: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let pki = Pki::get();
    let cert = dir.write_certs("server.pem", &pki.server.chain)?;
    let key = dir.write("server.key", pki.server.key.to_pem().as_bytes())?;
    let mut child = Command::new("openssl")
        .args([
            "s_server",
            "-state",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
        ])
        .arg("-tls1_2")
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start openssl s_server: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let _peer = Peer(child);
    let lines = lines_of(stdout);
    // `-state` reports each handshake step on stderr, which is not buffered (stdout is).
    let states = lines_of(stderr);
    let accept = wait_for_line(&lines, "ACCEPT ", "s_server")?;
    let port: u16 = accept
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("bad ACCEPT line: {accept}"))?;
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(tls12(client_config()));
    // A name the certificate does not carry: the hook finds an error each time it runs, and
    // the handler (which ignores it) counts the runs.
    socket.set_peer_verify_name("renegotiation.invalid");
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    socket.on_ssl_errors(move |decision| {
        counter.fetch_add(1, Ordering::SeqCst);
        decision.ignore_all();
    });
    socket
        .start_client_encryption()
        .and_then(|()| socket.handshake())
        .map_err(|e| format!("handshake with s_server: {e}"))?;
    let errors = socket.ssl_handshake_errors().len();
    let cipher = socket.session_cipher();
    check(runs.load(Ordering::SeqCst) == 1 && errors > 0, || {
        format!("the hook should run once and find the name mismatch ({errors} errors)")
    })?;
    stdin
        .write_all(b"r\n")
        .and_then(|()| stdin.flush())
        .map_err(|e| e.to_string())?;
    wait_for_line(&states, "write hello request", "s_server")?;
    // Data after the request: it reaches the client, or the session ends with a clear error.
    let _ = stdin
        .write_all(b"after renegotiation\n")
        .and_then(|()| stdin.flush());
    if read_through(&mut socket, b"after renegotiation\n")? {
        // The session is still open: s_server reports what the client answered, a new
        // ClientHello (a renegotiation) or an alert (a refusal).
        let answer = wait_for_any(&states, &["read client hello", "alert"]);
        check(!answer.contains("client hello"), || {
            "the client renegotiated".into()
        })?;
        let _ = stdin
            .write_all(b"still here\n")
            .and_then(|()| stdin.flush());
        read_through(&mut socket, b"still here\n")?;
    }
    let calls = runs.load(Ordering::SeqCst);
    check(calls == 1, || {
        format!("the verification hook ran {calls} times")
    })?;
    check(socket.ssl_handshake_errors().len() == errors, || {
        format!(
            "ssl_handshake_errors went from {errors} to {}",
            socket.ssl_handshake_errors().len()
        )
    })?;
    check(
        socket.session_protocol() == SslProtocol::TlsV1_2 && socket.session_cipher() == cipher,
        || "the session facts changed".into(),
    )
}

/// `openssl s_client` renegotiates (`R`) with a polytls server: the server must refuse, and
/// must not hang.
fn client_renegotiates(backend: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-tls1_2",
        ])
        .args(["-servername", "localhost", "-CAfile"])
        .arg(&ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start openssl s_client: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let _peer = Peer(child);
    let _stdout = lines_of(stdout);
    let stderr = lines_of(stderr);
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(tls12(server_config(&Pki::get().server)));
    socket
        .start_server_encryption()
        .and_then(|()| socket.handshake())
        .map_err(|e| format!("handshake with s_client: {e}"))?;
    let cipher = socket.session_cipher();
    stdin
        .write_all(b"R\n")
        .and_then(|()| stdin.flush())
        .map_err(|e| e.to_string())?;
    wait_for_line(&stderr, "RENEGOTIATING", "s_client")?;
    // Makes s_client go on with the renegotiation, if the request alone did not.
    let _ = stdin
        .write_all(b"after renegotiation\n")
        .and_then(|()| stdin.flush());
    read_through(&mut socket, b"after renegotiation\n")?;
    wait_for_line(&stderr, "no renegotiation", "s_client")?;
    check(
        socket.session_protocol() == SslProtocol::TlsV1_2 && socket.session_cipher() == cipher,
        || "the session facts changed".into(),
    )
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let tls12_needs = || Needs::protocol(SslProtocol::TlsV1_2);
    let mut cases = vec![
        Case::single(
            "attack/renegotiation/requested_by_openssl_s_server",
            tls12_needs().and_tool("openssl"),
            server_requests_renegotiation,
        ),
        Case::single(
            "attack/renegotiation/started_by_openssl_s_client",
            tls12_needs().and_tool("openssl"),
            client_renegotiates,
        ),
    ];
    for (side, receiver_is_server) in [("server", true), ("client", false)] {
        cases.push(
            Case::pair(
                format!("attack/flipped_byte/{side}_sends_bad_record_mac"),
                tls12_needs(),
                tls12_needs(),
                move |c, s| {
                    let (attacker, receiver) = if receiver_is_server { (c, s) } else { (s, c) };
                    flipped_byte(attacker, receiver, receiver_is_server)
                },
            )
            .run_once(),
        );
        cases.push(
            Case::pair(
                format!("attack/garbage_after_handshake/{side}_fails_with_alert"),
                tls12_needs(),
                tls12_needs(),
                move |c, s| {
                    let (attacker, receiver) = if receiver_is_server { (c, s) } else { (s, c) };
                    for (what, garbage) in garbage_records() {
                        garbage_after_handshake(attacker, receiver, receiver_is_server, &garbage)
                            .map_err(|e| format!("{what}: {e}"))?;
                    }
                    Ok(())
                },
            )
            .run_once(),
        );
    }
    cases
}
