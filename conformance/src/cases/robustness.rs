//! Bad peers: garbage instead of a handshake, garbage after it, a peer that hangs up halfway,
//! and a peer that says nothing. Each must end in a clear error, never a panic or a hang.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use polytls::{Error, SslSocket};

use crate::case::{Case, Needs};
use crate::harness::{
    check, client_config, run_both, server_config, sockets, start_client, start_server, tcp_pair,
    IO_TIMEOUT,
};
use crate::pki::Pki;

/// Deterministic junk; `tls_header` makes it start like a TLS handshake record that claims
/// the maximum length.
fn garbage(len: usize, tls_header: bool) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect();
    if tls_header && len >= 5 {
        bytes[..5].copy_from_slice(&[0x16, 0x03, 0x03, 0xff, 0xff]);
    }
    bytes
}

/// A raw peer: reads what comes (up to a limit), answers with `reply`, then hangs up.
fn raw_peer(stream: TcpStream, read_first: bool, reply: Vec<u8>) {
    let mut stream = stream;
    if read_first {
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf);
    }
    let _ = stream.write_all(&reply);
    let _ = stream.shutdown(Shutdown::Both);
}

fn client_against_raw(backend: &str, reply: Vec<u8>) -> Result<(), String> {
    let (client, server) = tcp_pair()?;
    let peer = std::thread::spawn(move || raw_peer(server, true, reply));
    let mut socket = SslSocket::with_backend(client, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    let result = socket
        .start_client_encryption()
        .and_then(|()| socket.handshake());
    let _ = peer.join();
    match result {
        Ok(()) => Err("the handshake succeeded against a bad peer".into()),
        Err(Error::Handshake { .. } | Error::Protocol(_) | Error::Io(_)) => Ok(()),
        Err(other) => Err(format!("unexpected kind of error: {other}")),
    }
}

fn server_against_raw(backend: &str, request: Vec<u8>) -> Result<(), String> {
    let (client, server) = tcp_pair()?;
    let peer = std::thread::spawn(move || raw_peer(client, false, request));
    let mut socket = SslSocket::with_backend(server, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(server_config(&Pki::get().server));
    let result = socket
        .start_server_encryption()
        .and_then(|()| socket.handshake());
    let _ = peer.join();
    match result {
        Ok(()) => Err("the handshake succeeded against a bad peer".into()),
        Err(Error::Handshake { .. } | Error::Protocol(_) | Error::Io(_)) => Ok(()),
        Err(other) => Err(format!("unexpected kind of error: {other}")),
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::single("robustness/server_sends_garbage", Needs::socket(), |b| {
            client_against_raw(b, garbage(2000, false))?;
            client_against_raw(b, garbage(2000, true))
        }),
        Case::single(
            "robustness/server_hangs_up_mid_handshake",
            Needs::socket(),
            |b| client_against_raw(b, Vec::new()),
        ),
        Case::single(
            "robustness/server_sends_truncated_record",
            Needs::socket(),
            |b| client_against_raw(b, garbage(300, true)),
        ),
        Case::single("robustness/client_sends_garbage", Needs::socket(), |b| {
            server_against_raw(b, garbage(2000, false))?;
            server_against_raw(b, garbage(2000, true))?;
            server_against_raw(b, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec())
        }),
        Case::single(
            "robustness/client_hangs_up_mid_handshake",
            Needs::socket(),
            |b| {
                server_against_raw(b, Vec::new())?;
                server_against_raw(b, garbage(40, true))
            },
        ),
        Case::single("robustness/silent_server_times_out", Needs::socket(), |b| {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            let (_silent, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut socket = SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
            socket.set_ssl_configuration(client_config());
            socket.set_peer_verify_name("localhost");
            start_client(&mut socket)?;
            let started = Instant::now();
            let result = socket.wait_for_encrypted(Some(Duration::from_millis(300)));
            let named =
                |what: &str| what.contains("handshake as a client") && what.contains("300 ms");
            check(
                matches!(&result, Err(Error::Timeout { what }) if named(what)),
                || format!("expected a timeout, got {result:?}"),
            )?;
            check(started.elapsed() < IO_TIMEOUT, || {
                "the timeout was not honoured".into()
            })
        }),
        Case::pair(
            "robustness/garbage_record_after_handshake",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        client.handshake().map_err(|e| e.to_string())?;
                        let mut buf = [0u8; 64];
                        match client.read(&mut buf) {
                            Err(_) => Ok(()),
                            Ok(n) => Err(format!("read {n} bytes of garbage as data")),
                        }
                    },
                    move || {
                        start_server(&mut server)?;
                        server.handshake().map_err(|e| e.to_string())?;
                        // An application-data record of the right framing and nonsense content.
                        let mut record = vec![0x17, 0x03, 0x03, 0x00, 0x40];
                        record.extend(garbage(64, false));
                        server
                            .get_mut()
                            .write_all(&record)
                            .map_err(|e| e.to_string())?;
                        let mut buf = [0u8; 64];
                        // Wait for the client's alert or hang-up before closing.
                        let _ = server.read(&mut buf);
                        Ok(())
                    },
                )
            },
        ),
    ]
}
