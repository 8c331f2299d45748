//! Verification and data integrity under attack: a peer that asks for a renegotiation, in
//! either direction. A polytls socket must never hang, never run its verification hook twice,
//! and must send every alert its engine produces before it waits for the peer.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use polytls::{Error, SslConfiguration, SslProtocol, SslSocket};

use super::external::Peer;
use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, TempDir, IO_TIMEOUT};
use crate::pki::Pki;

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
    vec![
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
    ]
}
