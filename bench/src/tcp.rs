//! Loopback TCP with blocking sockets: the server on its own thread, the client here.
//!
//! Handshakes: each connection is accepted, handshaken, and the server then writes one byte
//! that the client reads, so a handshake counts only once both sides finished it. Throughput:
//! one connection, the client writes 16 KiB slices, the clock stops when the server has read
//! everything.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Instant;

use openssl::ssl::Ssl;
use polytls::SslSocket;
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use rustls_pki_types::ServerName;

use crate::inmem::{payload, Backend, Via, CHUNK};
use crate::setup::{Setup, HOST};

/// A blocking stream of plaintext, whichever library is under it.
type Stream = Box<dyn ReadWrite>;

/// `Read + Write`, as one object type.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A client session over `tcp`, handshake complete.
fn client(setup: &Setup, backend: Backend, via: Via, tcp: TcpStream) -> Result<Stream, String> {
    Ok(match (via, backend) {
        (Via::Polytls, b) => {
            let mut s = SslSocket::with_backend(tcp, b.name()).map_err(text)?;
            s.set_ssl_configuration(setup.polytls_client.clone());
            s.set_peer_verify_name(HOST);
            s.start_client_encryption().map_err(text)?;
            s.handshake().map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::OpenSsl) => {
            let mut ssl = Ssl::new(&setup.openssl_client).map_err(text)?;
            ssl.set_hostname(HOST).map_err(text)?;
            ssl.param_mut().set_host(HOST).map_err(text)?;
            Box::new(ssl.connect(tcp).map_err(text)?)
        }
        (Via::Direct, Backend::Rustls) => {
            let name = ServerName::try_from(HOST).map_err(text)?;
            let mut conn =
                ClientConnection::new(setup.rustls_client.clone(), name).map_err(text)?;
            let mut tcp = tcp;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).map_err(text)?;
            }
            Box::new(StreamOwned::new(conn, tcp))
        }
    })
}

/// A server session over `tcp`, handshake complete.
fn server(setup: &Setup, backend: Backend, via: Via, tcp: TcpStream) -> Result<Stream, String> {
    Ok(match (via, backend) {
        (Via::Polytls, b) => {
            let mut s = SslSocket::with_backend(tcp, b.name()).map_err(text)?;
            s.set_ssl_configuration(setup.polytls_server.clone());
            s.start_server_encryption().map_err(text)?;
            s.handshake().map_err(text)?;
            Box::new(s)
        }
        (Via::Direct, Backend::OpenSsl) => {
            let ssl = Ssl::new(&setup.openssl_server).map_err(text)?;
            Box::new(ssl.accept(tcp).map_err(text)?)
        }
        (Via::Direct, Backend::Rustls) => {
            let mut conn = ServerConnection::new(setup.rustls_server.clone()).map_err(text)?;
            let mut tcp = tcp;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).map_err(text)?;
            }
            Box::new(StreamOwned::new(conn, tcp))
        }
    })
}

fn listener() -> Result<(TcpListener, std::net::SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(text)?;
    let addr = listener.local_addr().map_err(text)?;
    Ok((listener, addr))
}

fn connect(addr: std::net::SocketAddr) -> Result<TcpStream, String> {
    let tcp = TcpStream::connect(addr).map_err(text)?;
    tcp.set_nodelay(true).map_err(text)?;
    Ok(tcp)
}

fn join(handle: JoinHandle<Result<(), String>>) -> Result<(), String> {
    handle
        .join()
        .unwrap_or_else(|_| Err("the server thread panicked".into()))
        .map_err(|e| format!("server: {e}"))
}

/// Full handshakes per second over loopback, `count` connections one after the other.
///
/// Fails with a message when a connection or handshake fails.
pub fn handshakes_per_second(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    count: usize,
) -> Result<f64, String> {
    let (listener, addr) = listener()?;
    let handle = std::thread::spawn(move || -> Result<(), String> {
        for _ in 0..count {
            let (tcp, _) = listener.accept().map_err(text)?;
            tcp.set_nodelay(true).map_err(text)?;
            let mut s = server(setup, backend, via, tcp)?;
            s.write_all(b"!").map_err(text)?;
            s.flush().map_err(text)?;
        }
        Ok(())
    });
    let start = Instant::now();
    let client_result = (|| -> Result<(), String> {
        let mut byte = [0u8; 1];
        for _ in 0..count {
            let mut c = client(setup, backend, via, connect(addr)?)?;
            c.read_exact(&mut byte).map_err(text)?;
        }
        Ok(())
    })();
    let elapsed = start.elapsed().as_secs_f64();
    if client_result.is_err() {
        // Unblock a server waiting in accept.
        let _ = TcpStream::connect(addr);
    }
    join(handle)?;
    client_result.map_err(|e| format!("client: {e}"))?;
    Ok(count as f64 / elapsed)
}

/// Throughput over loopback in MB/s (10^6 bytes per second): `total` bytes client to server.
///
/// Fails with a message when the connection fails or the data does not arrive.
pub fn throughput(
    setup: &'static Setup,
    backend: Backend,
    via: Via,
    total: usize,
) -> Result<f64, String> {
    let (listener, addr) = listener()?;
    let handle = std::thread::spawn(move || -> Result<(), String> {
        let (tcp, _) = listener.accept().map_err(text)?;
        tcp.set_nodelay(true).map_err(text)?;
        let mut s = server(setup, backend, via, tcp)?;
        // Tell the client the handshake is over, so that its clock starts with the data.
        s.write_all(b"!").map_err(text)?;
        s.flush().map_err(text)?;
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        while got < total {
            match s.read(&mut buf) {
                Ok(0) => return Err(format!("the stream ended after {got} bytes")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    });
    let mut c = client(setup, backend, via, connect(addr)?)?;
    let mut byte = [0u8; 1];
    c.read_exact(&mut byte).map_err(text)?;
    let start = Instant::now();
    let mut sent = 0;
    let sent_result = (|| -> Result<(), String> {
        while sent < total {
            let len = CHUNK.min(total - sent);
            c.write_all(&payload()[..len]).map_err(text)?;
            sent += len;
        }
        c.flush().map_err(text)
    })();
    join(handle)?;
    let elapsed = start.elapsed().as_secs_f64();
    sent_result.map_err(|e| format!("client: {e}"))?;
    Ok(total as f64 / elapsed / 1e6)
}
