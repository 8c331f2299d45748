//! A DTLS client: sets up an association with a DTLS server over UDP, verifying it, sends
//! each `--send` text as one datagram and prints each reply on a line of its own, then closes
//! with close_notify.
//!
//! ```text
//! dtls_client HOST PORT [--backend NAME] [--ca FILE.pem] [--send TEXT]... [--tokio]
//! ```
//!
//! Without `--ca` the system's trust store is used; without `--send` one greeting is sent.
//! With `--tokio` the same exchange runs on tokio, through `polytls::tokio::AsyncDtls`, which
//! waits for the server's datagrams and the retransmission timer itself.
//! Without `--backend` it takes the first linked backend that implements DTLS. Lost
//! handshake datagrams are sent again on the retransmission timer; a reply that does not come
//! within 10 seconds, like any other error, ends the program with status 1.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polytls::tokio::AsyncDtls;
use polytls::{Dtls, EncodingFormat, ImplementedClass, PatternSyntax, SslMode};

/// How long to wait for the handshake, and for each reply.
const WAIT: Duration = Duration::from_secs(10);

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: dtls_client HOST PORT [--backend NAME] [--ca FILE] [--send TEXT]... [--tokio]";
    let host = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let (mut backend, mut ca, mut texts, mut on_tokio) = (None, None, Vec::new(), false);
    while let Some(flag) = args.next() {
        if flag == "--tokio" {
            on_tokio = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => backend = Some(value),
            "--ca" => ca = Some(value),
            "--send" => texts.push(value),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if texts.is_empty() {
        texts.push("hello from polytls over DTLS".into());
    }
    let backend = match backend {
        Some(name) => name,
        None => polytls::available_backends()
            .into_iter()
            .find(|name| polytls::is_class_implemented(ImplementedClass::Dtls, Some(name)))
            .ok_or("no linked backend implements DTLS")?,
    };
    let server: SocketAddr = (host.as_str(), port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let local = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local)?;
    // Connected: the kernel passes on only the server's datagrams, and sends to it without
    // a route lookup per datagram (declared to the association below).
    socket.connect(server)?;

    let mut dtls = Dtls::with_backend(SslMode::SslClientMode, &backend)?;
    if let Some(path) = ca {
        let mut config = dtls.dtls_configuration().clone();
        // Only these CAs are trusted; a file holding none is an error, not "trust nothing".
        config.add_ca_certificates_from_path(
            path,
            EncodingFormat::Pem,
            PatternSyntax::FixedString,
        )?;
        dtls.set_dtls_configuration(config)?;
    }
    dtls.set_peer(server.ip(), server.port(), Some(&host))?;
    dtls.set_socket_connected(true);
    if on_tokio {
        return on_tokio_runtime(dtls, socket, &host, &texts);
    }
    dtls.do_handshake(&socket, &[])?;
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; 65_536];
    while !dtls.is_connection_encrypted() {
        if Instant::now() > deadline {
            return Err(format!("no handshake with {host} within {WAIT:?}").into());
        }
        // Wait no longer than the retransmission timer, then let it resend the flight.
        let wait = dtls.timeout().unwrap_or(WAIT).max(Duration::from_millis(1));
        match receive(&socket, server, &mut buf, wait)? {
            Some(datagram) => dtls.do_handshake(&socket, datagram)?,
            None => {
                dtls.handle_timeout(&socket)?;
            }
        }
    }
    eprintln!(
        "{host} via {}: {} {}",
        dtls.backend_name(),
        dtls.session_protocol(),
        dtls.session_cipher().map(|c| c.name()).unwrap_or_default()
    );
    let mut out = std::io::stdout();
    for text in &texts {
        dtls.write_datagram_encrypted(&socket, text.as_bytes())?;
        let deadline = Instant::now() + WAIT;
        let reply = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let datagram = receive(&socket, server, &mut buf, left)?
                .ok_or_else(|| format!("no reply from {host} within {WAIT:?}"))?;
            let reply = dtls.decrypt_datagram(&socket, datagram)?;
            if !reply.is_empty() {
                break reply;
            }
            if !dtls.is_connection_encrypted() {
                return Err(format!("{host} closed the association").into());
            }
        };
        out.write_all(&reply)?;
        out.write_all(b"\n")?;
    }
    dtls.shutdown(&socket)?;
    Ok(())
}

/// The same exchange on tokio: `AsyncDtls` over the socket, each step within [`WAIT`].
fn on_tokio_runtime(
    dtls: Dtls,
    socket: UdpSocket,
    host: &str,
    texts: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        socket.set_nonblocking(true)?;
        let socket = Arc::new(tokio::net::UdpSocket::from_std(socket)?);
        let mut association = AsyncDtls::new(dtls, socket);
        let within = |what: String| move |_| format!("{what} within {WAIT:?}");
        tokio::time::timeout(WAIT, association.connect())
            .await
            .map_err(within(format!("no handshake with {host}")))??;
        let dtls = association.dtls();
        eprintln!(
            "{host} via {} on tokio: {} {}",
            dtls.backend_name(),
            dtls.session_protocol(),
            dtls.session_cipher().map(|c| c.name()).unwrap_or_default()
        );
        let mut out = std::io::stdout();
        for text in texts {
            association.send(text.as_bytes()).await?;
            let reply = tokio::time::timeout(WAIT, association.recv())
                .await
                .map_err(within(format!("no reply from {host}")))??
                .ok_or_else(|| format!("{host} closed the association"))?;
            out.write_all(&reply)?;
            out.write_all(b"\n")?;
        }
        association.shutdown().await?;
        Ok(())
    })
}

/// The next datagram from `server`, waiting at most `wait`; `None` when none came.
/// Datagrams from anyone else are dropped.
fn receive<'a>(
    socket: &UdpSocket,
    server: SocketAddr,
    buf: &'a mut [u8],
    wait: Duration,
) -> std::io::Result<Option<&'a [u8]>> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(buf) {
            Ok((n, from)) if from == server => return Ok(Some(&buf[..n])),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("dtls_client: {e}");
        std::process::exit(1);
    }
}
