//! A diagnostic client in the manner of `openssl s_client`: connects, and shows the chain the
//! server sent, the protocol, the cipher, the ALPN protocol and every verification problem.
//!
//! ```text
//! s_client HOST PORT [--backend NAME] [--ca FILE.pem] [--alpn PROTOCOL]... [--servername NAME]
//! ```
//!
//! Verification problems are shown, not ignored: the exit status is 1 when the server is not
//! trusted (or anything else fails), 0 when the session was established.

use std::net::TcpStream;

use polytls::{EncodingFormat, PatternSyntax, SslSocket};

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: s_client HOST PORT [--backend NAME] [--ca FILE] [--alpn P]... [--servername NAME]";
    let host = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let (mut backend, mut ca, mut alpn, mut servername) = (None, None, Vec::new(), None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => backend = Some(value),
            "--ca" => ca = Some(value),
            "--alpn" => alpn.push(value.into_bytes()),
            "--servername" => servername = Some(value),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let mut config = polytls::SslConfiguration::default_configuration();
    if let Some(ca) = &ca {
        config.add_ca_certificates_from_path(
            ca,
            EncodingFormat::Pem,
            PatternSyntax::FixedString,
        )?;
    }
    config.allowed_next_protocols = alpn;
    let tcp = TcpStream::connect((host.as_str(), port))
        .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    tcp.set_read_timeout(Some(polytls::DEFAULT_IO_TIMEOUT))?;
    let mut socket = match &backend {
        Some(name) => SslSocket::with_backend(tcp, name)?,
        None => SslSocket::new(tcp)?,
    };
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name(servername.unwrap_or_else(|| host.clone()));
    socket.on_peer_verify_error(|error| println!("verify error: {error}"));
    socket.start_client_encryption()?;
    let result = socket.wait_for_encrypted(Some(polytls::DEFAULT_IO_TIMEOUT));
    println!("backend: {}", socket.backend_name());
    println!("certificate chain:");
    for (depth, certificate) in socket.peer_certificate_chain().iter().enumerate() {
        println!(
            "  {depth} s:{} i:{}",
            certificate.subject_display_name(),
            certificate.issuer_display_name()
        );
    }
    result?;
    println!("protocol: {:?}", socket.session_protocol());
    if let Some(cipher) = socket.session_cipher() {
        println!("cipher: {}", cipher.name());
    }
    match socket.negotiated_application_protocol() {
        Some(protocol) => println!("alpn: {}", String::from_utf8_lossy(protocol)),
        None => println!("alpn: none"),
    }
    socket.close()?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("s_client: {e}");
        std::process::exit(1);
    }
}
