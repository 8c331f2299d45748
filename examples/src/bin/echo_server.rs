//! A TLS echo server: serves many clients at once on loopback, each on a thread of its own,
//! sending each received line back in upper case, then closes cleanly with close_notify.
//!
//! ```text
//! echo_server CERT.pem KEY.pem PORT [--backend NAME] [--once]
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` when ready (PORT 0 picks a free port). A client that
//! says nothing is dropped after 10 seconds; it delays no other client.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use polytls::{EncodingFormat, SslServer, SslSocket};

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: echo_server CERT.pem KEY.pem PORT [--backend NAME] [--once]";
    let cert = args.next().ok_or(usage)?;
    let key = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let (mut backend, mut once) = (None, false);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--backend" => backend = Some(args.next().ok_or("--backend needs a name")?),
            "--once" => once = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let address = ("127.0.0.1", port);
    let mut server = match &backend {
        Some(name) => SslServer::bind_with_backend(address, name)?,
        None => SslServer::bind(address)?,
    };
    let mut config = server.ssl_configuration().clone();
    config.set_local_certificate_chain_from_file(&cert, EncodingFormat::Pem)?;
    config.set_private_key_from_file(&key, EncodingFormat::Pem, b"")?;
    // Refuse a key that is not the certificate's now, not at every connection.
    config.validate(true, false)?;
    server.set_ssl_configuration(config);
    // A client that fails its handshake does not stop the server; it is reported here.
    server.on_error_occurred(|peer, e| eprintln!("echo_server: {peer}: {e}"));
    println!("listening on {}", server.local_addr()?);
    for connection in server.incoming() {
        let socket = connection?;
        let worker = std::thread::spawn(move || {
            if let Err(e) = serve(socket) {
                eprintln!("echo_server: connection failed: {e}");
            }
        });
        if once {
            let _ = worker.join();
            break;
        }
    }
    Ok(())
}

fn serve(mut socket: SslSocket<TcpStream>) -> Result<(), Box<dyn std::error::Error>> {
    // A client that goes quiet holds only its own thread, and not for long.
    socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new(&mut socket).read_line(&mut line)?;
    socket.write_all(line.to_uppercase().as_bytes())?;
    socket.close()?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("echo_server: {e}");
        std::process::exit(1);
    }
}
