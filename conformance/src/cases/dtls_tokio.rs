//! DTLS on tokio: [`AsyncDtls`] over tokio `UdpSocket`s, client and server, on every pair
//! of DTLS backends. The blocking cases (`dtls/*`) prove the association itself; these prove
//! that the async driver waits where a blocking application waits (the peer's datagram, the
//! retransmission timer) and keeps the blocking front end's semantics: data both ways,
//! close_notify, retransmission through a lossy relay, and a stop on verification errors that
//! the caller ignores and resumes.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use polytls::tokio::AsyncDtls;
use polytls::{Dtls, DtlsError, Error, HandshakeState, SslConfiguration, SslErrorKind, SslMode};
use tokio::net::UdpSocket;

use super::dtls::{
    dtls_client_config, dtls_server_config_for, needs_cookie, needs_dtls, pair_server_config, relay,
};
use crate::case::Case;
use crate::harness::{check, IO_TIMEOUT};
use crate::pki::Pki;

/// Runs `body` on a current-thread runtime, within [`IO_TIMEOUT`] times two.
fn on_tokio<F>(body: F) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        match tokio::time::timeout(IO_TIMEOUT * 2, body).await {
            Ok(result) => result,
            Err(_) => Err(format!("no outcome within {:?}", IO_TIMEOUT * 2)),
        }
    })
}

async fn bind() -> Result<UdpSocket, String> {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))
}

fn local(socket: &UdpSocket) -> Result<SocketAddr, String> {
    socket.local_addr().map_err(|e| e.to_string())
}

/// A client association on `backend` aimed at `server` (verifying `localhost`).
fn client_at(
    backend: &str,
    config: SslConfiguration,
    server: SocketAddr,
    socket: UdpSocket,
) -> Result<AsyncDtls, String> {
    let mut dtls =
        Dtls::with_backend(SslMode::SslClientMode, backend).map_err(|e| e.to_string())?;
    dtls.set_dtls_configuration(config)
        .map_err(|e| e.to_string())?;
    dtls.set_peer(server.ip(), server.port(), Some("localhost"))
        .map_err(|e| e.to_string())?;
    Ok(AsyncDtls::new(dtls, Arc::new(socket)))
}

/// A server association on `backend` over `socket`: it waits for the first datagram, takes
/// its sender as the peer, and runs the handshake from it.
async fn serve(
    backend: &str,
    config: SslConfiguration,
    socket: UdpSocket,
) -> Result<AsyncDtls, Error> {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = socket.recv_from(&mut buf).await?;
    let mut dtls = Dtls::with_backend(SslMode::SslServerMode, backend)?;
    dtls.set_dtls_configuration(config)?;
    dtls.set_peer(from.ip(), from.port(), None)?;
    let mut server = AsyncDtls::new(dtls, Arc::new(socket));
    server.accept(&buf[..n]).await?;
    Ok(server)
}

/// Sends `data` from `from` and checks `to` receives exactly it; the names are the sender's
/// and the receiver's, for messages. Returns the bytes `from` put on the wire.
async fn pass(
    from: &mut AsyncDtls,
    to: &mut AsyncDtls,
    data: &[u8],
    (sender, receiver): (&str, &str),
) -> Result<usize, String> {
    let sent = from
        .send(data)
        .await
        .map_err(|e| format!("{sender} send: {e}"))?;
    let got = to
        .recv()
        .await
        .map_err(|e| format!("{receiver} recv: {e}"))?;
    check(got.as_deref() == Some(data), || {
        format!("the {receiver} received {got:?}")
    })?;
    Ok(sent)
}

/// Data both ways, then the client's close_notify, seen by the server as the end.
async fn data_and_close(client: &mut AsyncDtls, server: &mut AsyncDtls) -> Result<(), String> {
    let sent = pass(client, server, b"ping on tokio", ("client", "server")).await?;
    check(sent > 13, || {
        format!("the client sent {sent} bytes on the wire")
    })?;
    pass(server, client, b"pong on tokio", ("server", "client")).await?;
    client
        .shutdown()
        .await
        .map_err(|e| format!("client shutdown: {e}"))?;
    let got = server
        .recv()
        .await
        .map_err(|e| format!("server recv after close: {e}"))?;
    check(
        got.is_none()
            && server.dtls().dtls_error() == DtlsError::RemoteClosedConnectionError
            && !server.dtls().is_connection_encrypted(),
        || {
            format!(
                "after close_notify the server received {got:?} ({})",
                server.dtls().dtls_error()
            )
        },
    )
}

/// A handshake on tokio, data both ways and the client's close_notify; the client's socket is
/// connected to the server and declared so.
fn handshake_data_close(client: &str, server: &str) -> Result<(), String> {
    on_tokio(async {
        let (client_socket, server_socket) = (bind().await?, bind().await?);
        let server_addr = local(&server_socket)?;
        client_socket
            .connect(server_addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut c = client_at(client, dtls_client_config(), server_addr, client_socket)?;
        c.dtls_mut().set_socket_connected(true);
        let (connected, served) = tokio::join!(
            c.connect(),
            serve(server, pair_server_config(false), server_socket)
        );
        connected.map_err(|e| format!("client: {e}"))?;
        let mut s = served.map_err(|e| format!("server: {e}"))?;
        for (name, d) in [("client", c.dtls()), ("server", s.dtls())] {
            check(d.is_connection_encrypted(), || {
                format!("{name} not encrypted")
            })?;
        }
        data_and_close(&mut c, &mut s).await
    })
}

/// The handshake through a relay that drops the first datagram of each direction and
/// duplicates and reorders others: the async driver retransmits on the engine's timer.
fn lossy_relay(client: &str, server: &str) -> Result<(), String> {
    on_tokio(async {
        let server_socket = bind().await?;
        let relay = relay(local(&server_socket)?, IO_TIMEOUT)?;
        let mut c = client_at(client, dtls_client_config(), relay.addr, bind().await?)?;
        // The server keeps reading after its handshake (the client may need its last flight
        // again) until the client's data arrives; the client sends until then (the relay
        // may hold a datagram back until the next).
        let arrived = std::cell::Cell::new(false);
        let server_side = async {
            let mut s = serve(server, pair_server_config(false), server_socket)
                .await
                .map_err(|e| format!("server: {e}"))?;
            let got = s.recv().await.map_err(|e| format!("server recv: {e}"));
            arrived.set(true);
            got
        };
        let client_side = async {
            c.connect().await.map_err(|e| format!("client: {e}"))?;
            while !arrived.get() {
                c.send(b"through the relay")
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<(), String>(())
        };
        let (got, sent) = tokio::join!(server_side, client_side);
        sent?;
        check(relay.dropped.load(Ordering::Relaxed) >= 2, || {
            "the relay dropped nothing".into()
        })?;
        check(got?.as_deref() == Some(&b"through the relay"[..]), || {
            "other data arrived".into()
        })
    })
}

/// A client against a self-signed server fails with a verification error and stops in
/// PeerVerificationFailed with SelfSignedCertificate; once the caller ignores exactly those
/// errors it resumes, and data flows.
fn stop_ignore_resume(client: &str, server: &str) -> Result<(), String> {
    on_tokio(async {
        let (client_socket, server_socket) = (bind().await?, bind().await?);
        let server_addr = local(&server_socket)?;
        let mut c = client_at(client, dtls_client_config(), server_addr, client_socket)?;
        let server_config = SslConfiguration {
            dtls_cookie_verification_enabled: false,
            ..dtls_server_config_for(&Pki::get().self_signed)
        };
        let server_task = serve(server, server_config, server_socket);
        let client_task = async {
            match c.connect().await {
                Err(Error::Verification(_)) => {}
                other => return Err(format!("the client's handshake ended with {other:?}")),
            }
            check(
                c.dtls().handshake_state() == HandshakeState::PeerVerificationFailed,
                || format!("the client ended in {:?}", c.dtls().handshake_state()),
            )?;
            let errors = c.dtls().peer_verification_errors().to_vec();
            check(
                errors
                    .iter()
                    .any(|e| e.kind() == SslErrorKind::SelfSignedCertificate),
                || format!("the client found {errors:?}"),
            )?;
            c.dtls_mut().ignore_verification_errors(&errors);
            c.resume().await.map_err(|e| format!("resume: {e}"))?;
            check(c.dtls().is_connection_encrypted(), || {
                "not encrypted after resuming".into()
            })
        };
        let (resumed, served) = tokio::join!(client_task, server_task);
        resumed?;
        let mut s = served.map_err(|e| format!("server: {e}"))?;
        data_and_close(&mut c, &mut s).await
    })
}

/// A server with one tokio socket for all its clients, as a server demultiplexes: core's
/// cookie verifier and one `Dtls` per client address, called with the tokio socket (a
/// `DatagramSocket` whose sends never wait), serving two `AsyncDtls` clients at once; each
/// gets its own data back upper-cased, and each close is seen.
fn shared_server_socket(client: &str, server: &str) -> Result<(), String> {
    on_tokio(async {
        let server_socket = Arc::new(bind().await?);
        let server_addr = local(&server_socket)?;
        let serve_all = async {
            let mut verifier = polytls::DtlsClientVerifier::new();
            let mut associations: std::collections::HashMap<SocketAddr, Dtls> =
                std::collections::HashMap::new();
            let (mut closed, mut buf) = (0, vec![0u8; 65_536]);
            while closed < 2 {
                let (n, from) = server_socket
                    .recv_from(&mut buf)
                    .await
                    .map_err(|e| format!("server recv: {e}"))?;
                let datagram = &buf[..n];
                let socket = &*server_socket;
                match associations.get_mut(&from) {
                    Some(d) if d.is_connection_encrypted() => {
                        let data = d
                            .decrypt_datagram(socket, datagram)
                            .map_err(|e| format!("server decrypt: {e}"))?;
                        if !data.is_empty() {
                            d.write_datagram_encrypted(socket, &data.to_ascii_uppercase())
                                .map_err(|e| format!("server write: {e}"))?;
                        } else if !d.is_connection_encrypted() {
                            closed += 1;
                        }
                    }
                    Some(d) => d
                        .do_handshake(socket, datagram)
                        .map_err(|e| format!("server handshake: {e}"))?,
                    None => {
                        let verified = verifier
                            .verify_client(socket, datagram, from.ip(), from.port())
                            .map_err(|e| format!("verifier: {e}"))?;
                        if verified {
                            let mut d = Dtls::with_backend(SslMode::SslServerMode, server)
                                .map_err(|e| e.to_string())?;
                            d.set_dtls_configuration(pair_server_config(true))
                                .map_err(|e| e.to_string())?;
                            d.set_peer(from.ip(), from.port(), None)
                                .map_err(|e| e.to_string())?;
                            d.do_handshake(socket, verifier.verified_hello())
                                .map_err(|e| format!("server handshake: {e}"))?;
                            associations.insert(from, d);
                        }
                    }
                }
            }
            Ok::<usize, String>(associations.len())
        };
        let one_client = |i: usize| async move {
            let mut c = client_at(client, dtls_client_config(), server_addr, bind().await?)?;
            c.connect().await.map_err(|e| format!("client {i}: {e}"))?;
            let message = format!("ping {i}");
            c.send(message.as_bytes())
                .await
                .map_err(|e| format!("client {i} send: {e}"))?;
            let got = c
                .recv()
                .await
                .map_err(|e| format!("client {i} recv: {e}"))?;
            check(
                got == Some(message.to_ascii_uppercase().into_bytes()),
                || format!("client {i} received {got:?}"),
            )?;
            c.shutdown()
                .await
                .map_err(|e| format!("client {i} shutdown: {e}"))
        };
        let (served, first, second) = tokio::join!(serve_all, one_client(0), one_client(1));
        first?;
        second?;
        let associations = served?;
        check(associations == 2, || {
            format!("the server made {associations} associations for 2 clients")
        })
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "dtls/tokio/handshake_data_close",
            needs_dtls(),
            needs_dtls(),
            handshake_data_close,
        ),
        Case::pair(
            "dtls/tokio/lossy_relay",
            needs_dtls(),
            needs_dtls(),
            lossy_relay,
        ),
        Case::pair(
            "dtls/tokio/shared_server_socket_with_cookies",
            needs_dtls(),
            needs_cookie(),
            shared_server_socket,
        ),
        Case::pair(
            "dtls/tokio/stop_ignore_resume",
            needs_dtls(),
            needs_dtls(),
            stop_ignore_resume,
        ),
    ]
}
