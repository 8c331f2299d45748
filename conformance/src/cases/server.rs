//! The server front end: [`SslServer`] accepts, handshakes under a time limit, and survives a
//! client that fails or says nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use polytls::{Error, SslServer, SslSocket};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, IO_TIMEOUT};
use crate::pki::Pki;

fn server(backend: &str) -> Result<SslServer, String> {
    let mut server =
        SslServer::bind_with_backend("127.0.0.1:0", backend).map_err(|e| e.to_string())?;
    server.set_ssl_configuration(server_config(&Pki::get().server));
    server.set_handshake_timeout(Duration::from_millis(500));
    Ok(server)
}

/// Connects a client with `backend` to `port` and exchanges one line.
fn client(backend: &str, port: u16) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    socket.write_all(b"hi\n").map_err(|e| e.to_string())?;
    let mut reply = [0u8; 3];
    socket.read_exact(&mut reply).map_err(|e| e.to_string())?;
    check(&reply == b"HI\n", || format!("reply {reply:?}"))
}

/// Serves `count` connections, answering each line in upper case; returns each outcome.
fn serve(server: SslServer, count: usize) -> std::thread::JoinHandle<Vec<Result<(), String>>> {
    std::thread::spawn(move || {
        (0..count)
            .map(|_| {
                let mut socket = server.accept().map_err(|e| e.to_string())?;
                let mut line = [0u8; 3];
                socket.read_exact(&mut line).map_err(|e| e.to_string())?;
                socket
                    .write_all(&line.to_ascii_uppercase())
                    .map_err(|e| e.to_string())?;
                socket.close().map_err(|e| e.to_string())
            })
            .collect()
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "server/accepts_and_serves",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let server = server(s)?;
                let port = server.local_addr().map_err(|e| e.to_string())?.port();
                let handle = serve(server, 2);
                client(c, port)?;
                client(c, port)?;
                let outcomes = handle
                    .join()
                    .map_err(|_| "the server panicked".to_string())?;
                outcomes.into_iter().collect()
            },
        ),
        Case::pair(
            "server/survives_a_silent_client",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let server = server(s)?;
                let port = server.local_addr().map_err(|e| e.to_string())?.port();
                let handle = std::thread::spawn(move || {
                    let first = server.accept().map(|_| ());
                    (first, serve(server, 1).join())
                });
                let silent = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
                // The silent client holds its connection while the server gives up on it.
                std::thread::sleep(Duration::from_millis(700));
                client(c, port)?;
                drop(silent);
                let (first, rest) = handle
                    .join()
                    .map_err(|_| "the server panicked".to_string())?;
                check(matches!(first, Err(Error::Timeout)), || {
                    format!("silent client: {first:?}")
                })?;
                rest.map_err(|_| "the server panicked".to_string())?
                    .into_iter()
                    .collect()
            },
        ),
    ]
}
