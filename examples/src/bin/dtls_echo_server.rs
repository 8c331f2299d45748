//! A DTLS echo server: serves many clients at once over one `UdpSocket`, sending each
//! datagram back in upper case. A stateless `DtlsClientVerifier` stands in front: a client
//! gets a `Dtls` of its own only once its ClientHello came back with a valid cookie, so
//! garbage and hellos from addresses that never answer cost no memory.
//!
//! ```text
//! dtls_echo_server CERT.pem KEY.pem PORT [--backend NAME] [--clients N]
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` when ready (PORT 0 picks a free port). With
//! `--clients N` it stops after N clients have closed their association with close_notify and
//! prints how many associations it created. Without `--backend` it takes the first backend
//! that implements both DTLS and the cookie hand-over (OpenSSL among the linked ones). An
//! association silent for 30 seconds is forgotten.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use polytls::{
    Dtls, DtlsClientVerifier, DtlsError, EncodingFormat, ImplementedClass, SslConfiguration,
    SslMode,
};

/// How long an association may stay silent before it is forgotten.
const IDLE: Duration = Duration::from_secs(30);

/// One verified client.
struct Client {
    dtls: Dtls,
    last_heard: Instant,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: dtls_echo_server CERT.pem KEY.pem PORT [--backend NAME] [--clients N]";
    let cert = args.next().ok_or(usage)?;
    let key = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let (mut backend, mut clients) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => backend = Some(value),
            "--clients" => clients = Some(value.parse::<usize>()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let backend = match backend {
        Some(name) => name,
        None => polytls::available_backends()
            .into_iter()
            .find(|name| {
                [ImplementedClass::Dtls, ImplementedClass::DtlsCookie]
                    .into_iter()
                    .all(|class| polytls::is_class_implemented(class, Some(name)))
            })
            .ok_or("no linked backend implements DTLS with the cookie verifier")?,
    };
    let mut config = SslConfiguration::default_dtls_configuration();
    config.set_local_certificate_chain_from_file(&cert, EncodingFormat::Pem)?;
    config.set_private_key_from_file(&key, EncodingFormat::Pem, b"")?;
    // Refuse a key that is not the certificate's now, not at every client.
    config.validate(true, true)?;

    let socket = UdpSocket::bind(("127.0.0.1", port))?;
    println!("listening on {}", socket.local_addr()?);
    let mut verifier = DtlsClientVerifier::new();
    let mut peers: HashMap<SocketAddr, Client> = HashMap::new();
    let (mut created, mut closed) = (0usize, 0usize);
    let mut buf = vec![0u8; 65_536];
    let limit = clients.unwrap_or(usize::MAX);
    while closed < limit {
        // Wait for the next datagram, but no longer than the earliest retransmission timer.
        let wait = peers
            .values()
            .filter_map(|c| c.dtls.timeout())
            .min()
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        socket.set_read_timeout(Some(wait))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = &buf[..n];
                if let Some(client) = peers.get_mut(&from) {
                    client.last_heard = Instant::now();
                    match serve(&socket, &mut client.dtls, datagram) {
                        Ok(true) => {}
                        Ok(false) => {
                            peers.remove(&from);
                            closed += 1;
                        }
                        Err(e) => {
                            eprintln!("dtls_echo_server: {from}: {e}");
                            peers.remove(&from);
                        }
                    }
                } else if !datagram.is_empty() && verify(&mut verifier, &socket, datagram, from) {
                    // Only now, with the address proven, is anything kept for this client.
                    let mut dtls = Dtls::with_backend(SslMode::SslServerMode, &backend)?;
                    dtls.set_dtls_configuration(config.clone())?;
                    dtls.set_cookie_generator_parameters(verifier.cookie_generator_parameters())?;
                    dtls.set_peer(from.ip(), from.port(), None)?;
                    match dtls.do_handshake(&socket, verifier.verified_hello()) {
                        Ok(()) => {
                            created += 1;
                            let last_heard = Instant::now();
                            peers.insert(from, Client { dtls, last_heard });
                        }
                        Err(e) => eprintln!("dtls_echo_server: {from}: {e}"),
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
        // Retransmit where a timer passed; forget clients that failed or went quiet.
        peers.retain(|from, client| {
            if let Err(e) = client.dtls.handle_timeout(&socket) {
                eprintln!("dtls_echo_server: {from}: {e}");
                return false;
            }
            client.last_heard.elapsed() < IDLE
        });
    }
    println!("{closed} clients served, {created} associations created");
    Ok(())
}

/// Whether `datagram` from `from` is a ClientHello with a valid cookie; a hello without one
/// is answered with a HelloVerifyRequest, anything else ignored. A failure to send the
/// answer is reported and the datagram dropped: it concerns that client alone.
fn verify(
    verifier: &mut DtlsClientVerifier,
    socket: &UdpSocket,
    datagram: &[u8],
    from: SocketAddr,
) -> bool {
    verifier
        .verify_client(socket, datagram, from.ip(), from.port())
        .unwrap_or_else(|e| {
            eprintln!("dtls_echo_server: {from}: {e}");
            false
        })
}

/// Hands one datagram to a client's association: a handshake message while the handshake
/// runs, and otherwise a record whose content is echoed back in upper case. Returns
/// `Ok(false)` once the client closed with close_notify.
fn serve(socket: &UdpSocket, dtls: &mut Dtls, datagram: &[u8]) -> Result<bool, polytls::Error> {
    if !dtls.is_connection_encrypted() {
        dtls.do_handshake(socket, datagram)?;
        return Ok(true);
    }
    let message = dtls.decrypt_datagram(socket, datagram)?;
    if dtls.dtls_error() == DtlsError::RemoteClosedConnectionError {
        return Ok(false);
    }
    if !message.is_empty() {
        dtls.write_datagram_encrypted(socket, &message.to_ascii_uppercase())?;
    }
    Ok(true)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("dtls_echo_server: {e}");
        std::process::exit(1);
    }
}
