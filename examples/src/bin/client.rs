//! A TLS client: connects, verifies the server, sends one line, prints what comes back until
//! the server closes.
//!
//! ```text
//! client HOST PORT [--backend NAME] [--ca FILE.pem] [--send TEXT]
//! ```
//!
//! Without `--ca` the system's trust store is used. The exit status is 1 on any error, which is
//! printed, verification problems included.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use polytls::{Certificate, EncodingFormat, PatternSyntax, SslSocket};

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args
        .next()
        .ok_or("usage: client HOST PORT [--backend NAME] [--ca FILE] [--send TEXT]")?;
    let port: u16 = args.next().ok_or("missing PORT")?.parse()?;
    let (mut backend, mut ca, mut text) = (None, None, String::from("hello from polytls\n"));
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => backend = Some(value),
            "--ca" => ca = Some(value),
            "--send" => text = value + "\n",
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let tcp = TcpStream::connect((host.as_str(), port))?;
    let mut socket = match &backend {
        Some(name) => SslSocket::with_backend(tcp, name)?,
        None => SslSocket::new(tcp)?,
    };
    if let Some(path) = ca {
        let mut config = socket.ssl_configuration().clone();
        // Only these CAs are trusted; a file holding none is an error, not "trust nothing".
        config.add_ca_certificates_from_path(
            path,
            EncodingFormat::Pem,
            PatternSyntax::FixedString,
        )?;
        socket.set_ssl_configuration(config);
    }
    socket.set_peer_verify_name(host.as_str());
    socket.start_client_encryption()?;
    socket.wait_for_encrypted(Some(Duration::from_secs(10)))?;
    eprintln!(
        "{} via {}: {} {}, server certificate for {}",
        host,
        socket.backend_name(),
        socket.session_protocol(),
        socket
            .session_cipher()
            .map(|c| c.name())
            .unwrap_or_default(),
        socket
            .peer_certificate()
            .map(Certificate::subject_display_name)
            .unwrap_or_default()
    );
    socket.write_all(text.as_bytes())?;
    socket.flush()?;
    let mut reply = Vec::new();
    socket.read_to_end(&mut reply)?;
    std::io::stdout().write_all(&reply)?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("client: {e}");
        std::process::exit(1);
    }
}
