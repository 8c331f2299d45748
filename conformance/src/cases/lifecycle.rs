//! A session's life when things go wrong around it: a `close` that the transport cannot finish
//! at once, calls on a socket whose handshake failed, and a verification handler that panics.
//! Each must end the same way on every backend: nothing reported delivered that was not, the
//! peer told with an alert, no socket left half-way.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polytls::{Error, SslSocket};

use crate::case::{Case, Needs};
use crate::harness::{
    against_server, check, client_config, memory_pair, server_config, would_block, MemoryStream,
    ServerThread, Socket,
};
use crate::pki::Pki;

/// A [`MemoryStream`] whose writes can be made to fail with `WouldBlock` at will.
struct Gated {
    inner: MemoryStream,
    closed: Arc<AtomicBool>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Repeats `call` while it says `WouldBlock`, at most `rounds` times, running `between`
/// after each refusal.
fn retry<T>(
    rounds: usize,
    mut call: impl FnMut() -> Result<T, Error>,
    mut between: impl FnMut(),
) -> Result<T, String> {
    for _ in 0..rounds {
        match call() {
            Err(Error::Io(e)) if would_block(&e) => between(),
            other => return other.map_err(|e| e.to_string()),
        }
    }
    Err(format!("still WouldBlock after {rounds} tries"))
}

fn close_retried(c: &str, s: &str) -> Result<(), String> {
    let (a, b) = memory_pair(64 * 1024);
    let gate = Arc::new(AtomicBool::new(false));
    let stream = Gated {
        inner: a,
        closed: gate.clone(),
    };
    let mut client = SslSocket::with_backend(stream, c).map_err(|e| e.to_string())?;
    client.set_ssl_configuration(client_config());
    client.set_peer_verify_name("localhost");
    let mut server = SslSocket::with_backend(b, s).map_err(|e| e.to_string())?;
    server.set_ssl_configuration(server_config(&Pki::get().server));
    client
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    server
        .start_server_encryption()
        .map_err(|e| e.to_string())?;
    let mut done = (false, false);
    for _ in 0..100 {
        let step = |r: Result<(), Error>| match r {
            Ok(()) => Ok(true),
            Err(Error::Io(e)) if would_block(&e) => Ok(false),
            Err(e) => Err(e.to_string()),
        };
        done = (step(client.handshake())?, step(server.handshake())?);
        if done == (true, true) {
            break;
        }
    }
    check(done == (true, true), || {
        "the handshake did not finish".into()
    })?;
    client.write_all(b"last words").map_err(|e| e.to_string())?;
    client.flush().map_err(|e| e.to_string())?;
    // The transport takes nothing: close_notify cannot go out, and close says so each time.
    gate.store(true, Ordering::SeqCst);
    for attempt in 0..3 {
        match client.close() {
            Err(Error::Io(e)) if would_block(&e) => {}
            other => return Err(format!("close #{attempt} while blocked: {other:?}")),
        }
    }
    gate.store(false, Ordering::SeqCst);
    retry(10, || client.close(), || {})?;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if would_block(&e) => {
                return Err(format!("no close_notify after {got:?}"));
            }
            Err(e) => return Err(format!("server read: {e}")),
        }
    }
    check(got == b"last words", || format!("received {got:?}"))
}

/// A client socket (backend `c`) connected to a server (backend `s`) presenting the
/// self-signed certificate on its own thread (see [`against_server`]).
fn against_self_signed_server(c: &str, s: &str) -> Result<(Socket, ServerThread), String> {
    against_server(c, s, &Pki::get().self_signed, Duration::ZERO)
}

/// A client whose `on_ssl_errors` handler panics: the handshake is refused with an alert the
/// server receives, the panic reaches the caller, and the socket is failed afterwards.
fn panicking_handler(c: &str, s: &str) -> Result<(), String> {
    let (mut socket, peer) = against_self_signed_server(c, s)?;
    socket.on_ssl_errors(|_| panic!("handler panicked on purpose"));
    let result = catch_unwind(AssertUnwindSafe(|| {
        socket
            .start_client_encryption()
            .and_then(|()| socket.handshake())
    }));
    let server = peer
        .join()
        .map_err(|_| "the server thread panicked".to_string())?;
    let message = match result {
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        Ok(outcome) => return Err(format!("no panic reached the caller: {outcome:?}")),
    };
    check(message == "handler panicked on purpose", || {
        format!("another panic: {message:?}")
    })?;
    match server {
        Err(Error::Handshake { alert: Some(_), .. }) => {}
        other => return Err(format!("the server received no alert: {other:?}")),
    }
    check(socket.write(b"after").is_err(), || {
        "the socket is usable after the panic".into()
    })
}

/// tst_QSslSocket::disconnectFromHostWhenConnected with data unread: after `close`, what the
/// peer sent is still read, then its close_notify ends the stream.
fn unread_data_at_close(c: &str, s: &str) -> Result<(), String> {
    let (mut client, mut server) = crate::harness::sockets(c, s)?;
    let peer = crate::frontend::spawn(move || -> Result<(), String> {
        server
            .start_server_encryption()
            .map_err(|e| e.to_string())?;
        server.write_all(b"unread").map_err(|e| e.to_string())?;
        server.flush().map_err(|e| e.to_string())?;
        // Wait for the client's close_notify, then answer it.
        let mut buf = [0u8; 16];
        match server.read(&mut buf) {
            Ok(0) => {}
            other => return Err(format!("server read {other:?}")),
        }
        server.close().map_err(|e| e.to_string())
    });
    client
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    client.handshake().map_err(|e| e.to_string())?;
    client.close().map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .map_err(|e| format!("read after close: {e}"))?;
    peer.join()
        .map_err(|_| "the server panicked".to_string())??;
    check(got == b"unread", || format!("read {got:?} after close"))
}

/// tst_QSslSocket::writeBigChunk before a handshake that fails: about 1 MB queued during the
/// handshake never reaches the refused peer, and the failure is reported.
fn big_queue_then_refused(c: &str, s: &str) -> Result<(), String> {
    let (client, server) = crate::harness::tcp_pair()?;
    let peer = crate::frontend::spawn({
        let s = s.to_owned();
        move || -> Result<usize, String> {
            let mut socket = SslSocket::with_backend(server, &s).map_err(|e| e.to_string())?;
            socket.set_ssl_configuration(server_config(&Pki::get().self_signed));
            socket
                .start_server_encryption()
                .map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut received = 0;
            while let Ok(n) = socket.read(&mut buf) {
                if n == 0 {
                    break;
                }
                received += n;
            }
            Ok(received)
        }
    });
    let mut socket = SslSocket::with_backend(client, c).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    let chunk = vec![0x5a; 1000 * 1000];
    let queued = socket.write(&chunk).map_err(|e| e.to_string())?;
    check(queued == chunk.len(), || {
        format!("only {queued} bytes queued")
    })?;
    let refused = socket.flush();
    drop(socket);
    let received = peer
        .join()
        .map_err(|_| "the server panicked".to_string())??;
    check(refused.is_err(), || "the flush succeeded".into())?;
    check(received == 0, || {
        format!("the refused peer read {received} bytes")
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "lifecycle/unread_data_is_read_after_close",
            Needs::socket(),
            Needs::socket(),
            unread_data_at_close,
        ),
        Case::pair(
            "lifecycle/big_queue_before_a_refused_handshake_is_not_sent",
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            big_queue_then_refused,
        )
        .run_once(),
        Case::pair(
            "lifecycle/close_retried_after_would_block_sends_close_notify",
            Needs::socket(),
            Needs::socket(),
            close_retried,
        )
        .run_once(),
        Case::pair(
            "lifecycle/failed_socket_refuses_flush_write_and_close",
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            |c, s| {
                // A client that refused the server holds a failed session: nothing can be
                // reported as sent on it.
                let (mut socket, peer) = against_self_signed_server(c, s)?;
                socket
                    .start_client_encryption()
                    .map_err(|e| e.to_string())?;
                // Queued during the handshake: accepted, but never reported as delivered.
                socket
                    .write_all(b"queued before the verdict")
                    .map_err(|e| format!("queueing: {e}"))?;
                let first = socket.flush();
                let _ = peer.join();
                match first {
                    Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {}
                    other => return Err(format!("flush of a refused session: {other:?}")),
                }
                check(socket.flush().is_err(), || {
                    "a second flush succeeded".into()
                })?;
                check(socket.write(b"more").is_err(), || "write succeeded".into())?;
                match socket.close() {
                    Err(Error::InvalidState(_)) => Ok(()),
                    other => Err(format!("close: {other:?}")),
                }
            },
        ),
        Case::pair(
            "lifecycle/panicking_handler_refuses_with_an_alert",
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            panicking_handler,
        ),
    ]
}
