//! The servers, after Qt's tst_qsslserver: handshakes run concurrently and off the accepting
//! path, each under its own time limit, and failures are reported with the peer they concern.
//!
//! Each case runs on the front end of its run: the blocking [`SslServer`] or the tokio
//! [`polytls::tokio::SslServer`] (clients are blocking sockets either way).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polytls::{
    Error, PeerVerifyMode, SslConfiguration, SslErrorKind, SslProtocol, SslServer, SslSocket,
    SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::frontend::{self, FrontEnd};
use crate::harness::{check, client_config, server_config, with_identity, IO_TIMEOUT};
use crate::pki::Pki;

/// The handshake limit of the servers here: short, so that the timeout case is quick, and
/// far above a loopback handshake.
const LIMIT: Duration = Duration::from_millis(1500);

/// What a server reported through `on_error_occurred`: the peer and the error's text.
type Reports = Arc<Mutex<Vec<(SocketAddr, String)>>>;

/// What a server's other handlers saw (Qt's signal spies): the peers whose handshakes
/// started (`startedEncryptionHandshake`), the kinds of each verification problem
/// (`peerVerifyError`) and of each list handed to `on_ssl_errors` (`sslErrors`).
#[derive(Debug, Default)]
struct Events {
    started: Vec<SocketAddr>,
    peer_verify_errors: Vec<SslErrorKind>,
    ssl_errors: Vec<Vec<SslErrorKind>>,
}

/// A server on either front end, echoing one line per connection in upper case.
struct TestServer {
    inner: Inner,
    events: Arc<Mutex<Events>>,
}

enum Inner {
    Blocking(SslServer),
    Tokio(tokio::runtime::Runtime, polytls::tokio::SslServer),
}

/// Registers the handlers that fill `events` on a server of either front end.
macro_rules! record_events {
    ($server:expr, $events:expr) => {{
        let events = Arc::clone($events);
        $server.on_started_encryption_handshake(move |peer| {
            lock(&events).started.push(peer);
        });
        let events = Arc::clone($events);
        $server.on_peer_verify_error(move |_, error| {
            lock(&events).peer_verify_errors.push(error.kind());
        });
        let events = Arc::clone($events);
        $server.on_ssl_errors(move |_, decision| {
            let kinds = decision.errors().iter().map(|e| e.kind()).collect();
            lock(&events).ssl_errors.push(kinds);
        });
    }};
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl TestServer {
    fn new(
        backend: &str,
        config: SslConfiguration,
        reports: &Reports,
    ) -> Result<TestServer, String> {
        let text = |e: Error| e.to_string();
        let reports = Arc::clone(reports);
        let report = move |peer: SocketAddr, e: &Error| {
            reports
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((peer, e.to_string()))
        };
        let events = Arc::new(Mutex::new(Events::default()));
        let inner = match frontend::current() {
            FrontEnd::Blocking => {
                let mut server =
                    SslServer::bind_with_backend("127.0.0.1:0", backend).map_err(text)?;
                server.set_ssl_configuration(config);
                server.set_handshake_timeout(LIMIT);
                server.on_error_occurred(report);
                record_events!(server, &events);
                Inner::Blocking(server)
            }
            FrontEnd::Tokio => {
                frontend::ran_on_tokio();
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let mut server = runtime
                    .block_on(polytls::tokio::SslServer::bind_with_backend(
                        "127.0.0.1:0",
                        backend,
                    ))
                    .map_err(text)?;
                server.set_ssl_configuration(config);
                server.set_handshake_timeout(LIMIT);
                server.on_error_occurred(report);
                record_events!(server, &events);
                Inner::Tokio(runtime, server)
            }
        };
        Ok(TestServer { inner, events })
    }

    /// Sets the server's pre-shared key handler.
    fn on_pre_shared_key(
        &mut self,
        handler: impl Fn(SocketAddr, &mut polytls::PreSharedKeyAuthenticator) + Send + Sync + 'static,
    ) {
        match &mut self.inner {
            Inner::Blocking(s) => s.on_pre_shared_key_authentication_required(handler),
            Inner::Tokio(_, s) => s.on_pre_shared_key_authentication_required(handler),
        }
    }

    /// Sets the server's handler for the alerts its connections receive.
    fn on_alert_received(
        &mut self,
        handler: impl Fn(SocketAddr, polytls::AlertLevel, polytls::AlertType) + Send + Sync + 'static,
    ) {
        match &mut self.inner {
            Inner::Blocking(s) => s.on_alert_received(handler),
            Inner::Tokio(_, s) => s.on_alert_received(handler),
        }
    }

    /// Sets the server's handler for the alerts its connections send.
    fn on_alert_sent(
        &mut self,
        handler: impl Fn(SocketAddr, polytls::AlertLevel, polytls::AlertType) + Send + Sync + 'static,
    ) {
        match &mut self.inner {
            Inner::Blocking(s) => s.on_alert_sent(handler),
            Inner::Tokio(_, s) => s.on_alert_sent(handler),
        }
    }

    /// Sets the server's handler for handshakes interrupted on a verification error.
    fn on_interrupted(
        &mut self,
        handler: impl Fn(SocketAddr, &mut polytls::HandshakeInterruption<'_>) + Send + Sync + 'static,
    ) {
        match &mut self.inner {
            Inner::Blocking(s) => s.on_handshake_interrupted_on_error(handler),
            Inner::Tokio(_, s) => s.on_handshake_interrupted_on_error(handler),
        }
    }

    /// Sets the most handshakes the server runs at once.
    fn set_max_pending_handshakes(&mut self, count: usize) {
        match &mut self.inner {
            Inner::Blocking(s) => s.set_max_pending_handshakes(count),
            Inner::Tokio(_, s) => s.set_max_pending_handshakes(count),
        }
    }

    /// The handshakes running now and the established connections waiting for `accept`.
    fn pending(&self) -> (usize, usize) {
        match &self.inner {
            Inner::Blocking(s) => (s.pending_handshakes(), s.pending_connections()),
            Inner::Tokio(_, s) => (s.pending_handshakes(), s.pending_connections()),
        }
    }

    /// Checks the counts of Qt's spies: handshakes started, verification problems and
    /// `on_ssl_errors` calls.
    fn check_events(&self, started: usize, verify: usize, ssl_errors: usize) -> Result<(), String> {
        let events = lock(&self.events);
        check(
            events.started.len() == started
                && events.peer_verify_errors.len() == verify
                && events.ssl_errors.len() == ssl_errors,
            || {
                format!("wanted {started} started, {verify} verification problems and {ssl_errors} ssl_errors calls, saw {events:?}")
            },
        )
    }

    fn port(&self) -> u16 {
        match &self.inner {
            Inner::Blocking(s) => s.local_addr().map(|a| a.port()).unwrap_or(0),
            Inner::Tokio(_, s) => s.local_addr().port(),
        }
    }

    /// Accepts one connection within `within` and echoes one 3-byte line in upper case.
    fn serve_one(&self, within: Duration) -> Result<(), String> {
        match &self.inner {
            Inner::Blocking(server) => {
                let mut socket = server.accept_within(within).map_err(|e| e.to_string())?;
                let mut line = [0u8; 3];
                socket.read_exact(&mut line).map_err(|e| e.to_string())?;
                socket
                    .write_all(&line.to_ascii_uppercase())
                    .map_err(|e| e.to_string())?;
                socket.close().map_err(|e| e.to_string())
            }
            Inner::Tokio(runtime, server) => runtime.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = server
                    .accept_within(within)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut line = [0u8; 3];
                stream
                    .read_exact(&mut line)
                    .await
                    .map_err(|e| e.to_string())?;
                stream
                    .write_all(&line.to_ascii_uppercase())
                    .await
                    .map_err(|e| e.to_string())?;
                stream.shutdown().await.map_err(|e| e.to_string())
            }),
        }
    }

    /// Serves every connection from now on where its handshake ran (`on_connection`): one
    /// 3-byte line echoed in upper case, then close_notify; the line `die` makes the handler
    /// panic instead.
    fn echo_on_connection(&mut self) {
        match &mut self.inner {
            Inner::Blocking(server) => server.on_connection(|mut socket| {
                let mut line = [0u8; 3];
                if socket.read_exact(&mut line).is_ok() {
                    assert!(&line != b"die", "handler panicked on purpose");
                    let _ = socket.write_all(&line.to_ascii_uppercase());
                    let _ = socket.close();
                }
            }),
            Inner::Tokio(_, server) => server.on_connection(|mut stream| async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut line = [0u8; 3];
                if stream.read_exact(&mut line).await.is_ok() {
                    assert!(&line != b"die", "handler panicked on purpose");
                    let _ = stream.write_all(&line.to_ascii_uppercase()).await;
                    let _ = stream.shutdown().await;
                }
            }),
        }
    }

    /// Accepts one connection within `within` and drops it.
    fn accept_one(&self, within: Duration) -> Result<(), String> {
        match &self.inner {
            Inner::Blocking(server) => server.accept_within(within).map(drop),
            Inner::Tokio(runtime, server) => {
                runtime.block_on(server.accept_within(within)).map(drop)
            }
        }
        .map_err(|e| e.to_string())
    }

    /// Expects no connection to be handed out within `within`.
    fn expect_none(&self, within: Duration) -> Result<(), String> {
        let got = match &self.inner {
            Inner::Blocking(server) => server.accept_within(within).map(drop),
            Inner::Tokio(runtime, server) => {
                runtime.block_on(server.accept_within(within)).map(drop)
            }
        };
        check(matches!(got, Err(Error::Timeout { .. })), || {
            format!("a connection that should have failed was handed out: {got:?}")
        })
    }
}

/// A loopback connection to `port`, with [`IO_TIMEOUT`] to read, and its own address.
fn connect(port: u16) -> Result<(TcpStream, SocketAddr), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let local = stream.local_addr().map_err(|e| e.to_string())?;
    Ok((stream, local))
}

/// A client on `backend` with a self-signed certificate, which a verifying server on `port`
/// refuses: it may finish its side before the refusal arrives, but it reads no data. Returns
/// its address and what the server reported for it.
fn refused_self_signed_client(
    backend: &str,
    port: u16,
    reports: &Reports,
) -> Result<(SocketAddr, String), String> {
    let (stream, local) = connect(port)?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(with_identity(
        client_config(),
        &Pki::get().client_self_signed,
    ));
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    let read = socket
        .write_all(b"hi\n")
        .and_then(|()| socket.read(&mut [0u8; 1]));
    check(!matches!(read, Ok(n) if n > 0), || {
        "the refused client read data".into()
    })?;
    Ok((local, reported(reports, local, IO_TIMEOUT)?))
}

/// What a server's alert handler heard: the connection's peer, the level and description.
type HeardAlerts = Arc<Mutex<Vec<(SocketAddr, polytls::AlertLevel, polytls::AlertType)>>>;

/// Checks that `heard` (what the server `did`) is exactly one fatal alert, for `peer`.
fn one_fatal_alert(heard: &HeardAlerts, peer: SocketAddr, did: &str) -> Result<(), String> {
    let heard = lock(heard).clone();
    check(
        heard.len() == 1 && heard[0].0 == peer && heard[0].1 == polytls::AlertLevel::Fatal,
        || format!("the server {did} {heard:?}, the client is {peer}"),
    )
}

/// A client with `backend` and `config` that sends one line and expects it back upper-cased.
fn client(backend: &str, port: u16, config: SslConfiguration) -> Result<(), String> {
    client_after(backend, port, config, |_| {}).map(drop)
}

/// [`client`], with `setup` applied to the socket before its handshake; returns the client's
/// own address.
fn client_after(
    backend: &str,
    port: u16,
    config: SslConfiguration,
    setup: impl FnOnce(&mut SslSocket<TcpStream>),
) -> Result<SocketAddr, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let local = stream.local_addr().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name("localhost");
    setup(&mut socket);
    socket
        .start_client_encryption()
        .map_err(|e| format!("client start: {e}"))?;
    socket
        .write_all(b"hi\n")
        .map_err(|e| format!("client: {e}"))?;
    let mut reply = [0u8; 3];
    socket
        .read_exact(&mut reply)
        .map_err(|e| format!("client: {e}"))?;
    check(&reply == b"HI\n", || format!("reply {reply:?}"))?;
    Ok(local)
}

/// A client with `backend` whose handshake completed, kept open.
fn encrypted_client(backend: &str, port: u16) -> Result<SslSocket<TcpStream>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| format!("client start: {e}"))?;
    socket.handshake().map_err(|e| format!("client: {e}"))?;
    Ok(socket)
}

/// Waits until `reports` holds an error for the connection from `local` (the client's own
/// address; `None`: any connection), for at most `within`.
fn reported(
    reports: &Reports,
    local: impl Into<Option<SocketAddr>>,
    within: Duration,
) -> Result<String, String> {
    let local = local.into();
    let deadline = Instant::now() + within;
    loop {
        if let Some((_, e)) = reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(peer, _)| local.map_or(true, |l| *peer == l))
        {
            return Ok(e.clone());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no error was reported for the connection from {local:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn new_reports() -> Reports {
    Arc::new(Mutex::new(Vec::new()))
}

/// With a connection handler, each connection is served where its handshake ran: a client
/// that completed its handshake and says nothing holds its own handler and delays nobody, a
/// second client is served meanwhile, and nothing is queued for `accept`. A handler that
/// panics loses its own connection only: the server serves the next one and holds no slot
/// for it.
fn served_on_connection(c: &str, s: &str) -> Result<(), String> {
    let reports = new_reports();
    let mut server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
    server.echo_on_connection();
    let port = server.port();
    let mut quiet = encrypted_client(c, port)?;
    client(c, port, client_config()).map_err(|e| format!("beside a quiet client: {e}"))?;
    server.expect_none(Duration::from_millis(200))?;
    check(server.pending() == (0, 0), || {
        format!("handshakes and queued connections: {:?}", server.pending())
    })?;
    quiet
        .write_all(b"ok\n")
        .map_err(|e| format!("quiet client: {e}"))?;
    let mut reply = [0u8; 3];
    quiet
        .read_exact(&mut reply)
        .map_err(|e| format!("quiet client: {e}"))?;
    check(&reply == b"OK\n", || {
        format!("the quiet client got {reply:?}")
    })?;
    let mut doomed = encrypted_client(c, port)?;
    doomed
        .write_all(b"die")
        .map_err(|e| format!("doomed client: {e}"))?;
    let after_panic = doomed.read(&mut reply);
    check(matches!(after_panic, Ok(0) | Err(_)), || {
        format!("a panicking handler answered: {after_panic:?}")
    })?;
    client(c, port, client_config()).map_err(|e| format!("after a handler panicked: {e}"))?;
    check(server.pending() == (0, 0), || {
        format!("after a handler panicked: {:?}", server.pending())
    })?;
    let reported = lock(&reports).clone();
    check(reported.is_empty(), || {
        format!("errors reported: {reported:?}")
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "server/on_connection_serves_where_the_handshake_ran",
            Needs::socket(),
            Needs::socket(),
            served_on_connection,
        ),
        // tst_QSslServer::testOneSuccessfulConnection
        Case::pair(
            "server/one_good_connection",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                let port = server.port();
                let client_thread = {
                    let c = c.to_owned();
                    std::thread::spawn(move || client(&c, port, client_config()))
                };
                let served = server.serve_one(IO_TIMEOUT);
                let client = client_thread.join().map_err(|_| "the client panicked")?;
                served?;
                client?;
                {
                    let reports = lock(&reports);
                    check(reports.is_empty(), || {
                        format!("errors reported: {reports:?}")
                    })?;
                }
                // One handshake started, with no verification problem.
                server.check_events(1, 0, 0)
            },
        ),
        // Qt's preSharedKeyAuthenticationRequired on a server: a server with no certificate
        // serves a PSK client, and its handler learns which peer sent which identity.
        Case::pair(
            "server/pre_shared_key",
            Needs::feature(SupportedFeature::Psk),
            Needs::feature(SupportedFeature::Psk),
            |c, s| {
                let reports = new_reports();
                let config = SslConfiguration {
                    protocol: SslProtocol::TlsV1_2,
                    pre_shared_key_identity_hint: Some(b"server hint".to_vec()),
                    ..SslConfiguration::default()
                };
                let mut server = TestServer::new(s, config, &reports)?;
                let asked = Arc::new(Mutex::new(Vec::new()));
                let recorded = Arc::clone(&asked);
                server.on_pre_shared_key(move |peer, auth| {
                    lock(&recorded).push((peer, auth.identity().to_vec()));
                    auth.set_pre_shared_key(b"sixteen byte key".to_vec());
                });
                let port = server.port();
                let client_thread = {
                    let c = c.to_owned();
                    std::thread::spawn(move || {
                        let config = SslConfiguration {
                            protocol: SslProtocol::TlsV1_2,
                            peer_verify_mode: PeerVerifyMode::VerifyNone,
                            ..client_config()
                        };
                        client_after(&c, port, config, |socket| {
                            socket.on_pre_shared_key_authentication_required(|auth| {
                                auth.set_identity(b"device-9".to_vec());
                                auth.set_pre_shared_key(b"sixteen byte key".to_vec());
                            });
                        })
                    })
                };
                let served = server.serve_one(IO_TIMEOUT);
                let client = client_thread.join().map_err(|_| "the client panicked")?;
                served?;
                let local = client?;
                let asked = lock(&asked).clone();
                check(asked == [(local, b"device-9".to_vec())], || {
                    format!("the handler saw {asked:?}, the client is {local}")
                })
            },
        ),
        // Qt's alertReceived on a server: a client that refuses the server's self-signed
        // certificate sends a fatal alert, which the server's handler hears with that
        // client's address.
        Case::pair(
            "server/alert_received_carries_the_peer",
            Needs::socket(),
            Needs::feature(SupportedFeature::Alerts),
            |c, s| {
                let reports = new_reports();
                let config = server_config(&Pki::get().self_signed);
                let mut server = TestServer::new(s, config, &reports)?;
                let heard = HeardAlerts::default();
                let recorded = Arc::clone(&heard);
                server.on_alert_received(move |peer, level, kind| {
                    lock(&recorded).push((peer, level, kind));
                });
                let (stream, local) = connect(server.port())?;
                let mut socket = SslSocket::with_backend(stream, c).map_err(|e| e.to_string())?;
                socket.set_ssl_configuration(client_config());
                socket.set_peer_verify_name("localhost");
                socket
                    .start_client_encryption()
                    .map_err(|e| e.to_string())?;
                let refused = socket.handshake();
                check(matches!(refused, Err(Error::Verification(_))), || {
                    format!("the client's handshake ended with {refused:?}")
                })?;
                reported(&reports, local, IO_TIMEOUT)?;
                one_fatal_alert(&heard, local, "heard")
            },
        ),
        // tst_QSslServer::testSelfSignedCertificateRejectedByServer, its alertSent count: a
        // server that refuses a client's self-signed certificate sends one fatal alert, which
        // its handler hears with that client's address.
        Case::pair(
            "server/alert_sent_carries_the_peer",
            Needs::socket(),
            Needs::feature(SupportedFeature::Alerts),
            |c, s| {
                let reports = new_reports();
                let mut config = server_config(&Pki::get().server);
                config.peer_verify_mode = PeerVerifyMode::VerifyPeer;
                let mut server = TestServer::new(s, config, &reports)?;
                let heard = HeardAlerts::default();
                let recorded = Arc::clone(&heard);
                server.on_alert_sent(move |peer, level, kind| {
                    lock(&recorded).push((peer, level, kind));
                });
                let (local, _) = refused_self_signed_client(c, server.port(), &reports)?;
                one_fatal_alert(&heard, local, "heard itself send")
            },
        ),
        // tst_QSslServer::testHandshakeInterruptedOnError, its alertSent count: a server that
        // interrupts its handshake on a verification error, and whose handler does not
        // continue it, refuses the client with one fatal alert, heard with its address.
        Case::pair(
            "server/interrupted_and_not_continued_sends_one_alert",
            Needs::socket(),
            Needs::feature(SupportedFeature::Alerts),
            |c, s| {
                let reports = new_reports();
                let mut config = server_config(&Pki::get().server);
                config.peer_verify_mode = PeerVerifyMode::VerifyPeer;
                config.handshake_must_interrupt_on_error = true;
                let mut server = TestServer::new(s, config, &reports)?;
                let interrupted = Arc::new(Mutex::new(Vec::new()));
                let seen = Arc::clone(&interrupted);
                server.on_interrupted(move |peer, stop| {
                    lock(&seen).push((peer, stop.error().kind()));
                });
                let heard = HeardAlerts::default();
                let recorded = Arc::clone(&heard);
                server.on_alert_sent(move |peer, level, kind| {
                    lock(&recorded).push((peer, level, kind));
                });
                let (local, _) = refused_self_signed_client(c, server.port(), &reports)?;
                let interrupted = lock(&interrupted).clone();
                check(
                    interrupted == [(local, SslErrorKind::SelfSignedCertificate)],
                    || format!("the interruption handler saw {interrupted:?}"),
                )?;
                one_fatal_alert(&heard, local, "heard itself send")
            },
        ),
        // tst_QSslServer::testSelfSignedCertificateRejectedByServer
        Case::pair(
            "server/self_signed_client_rejected_by_server",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let reports = new_reports();
                let mut config = server_config(&Pki::get().server);
                config.peer_verify_mode = PeerVerifyMode::VerifyPeer;
                let server = TestServer::new(s, config, &reports)?;
                let (_, error) = refused_self_signed_client(c, server.port(), &reports)?;
                check(error.contains("verif"), || {
                    format!("the server reported {error:?}, not a verification failure")
                })?;
                server.expect_none(Duration::from_millis(200))?;
                // Qt's spies: one handshake started, one verification problem and one
                // sslErrors list, each the self-signed certificate.
                server.check_events(1, 1, 1)?;
                let events = lock(&server.events);
                check(
                    events.peer_verify_errors == [SslErrorKind::SelfSignedCertificate]
                        && events.ssl_errors == [vec![SslErrorKind::SelfSignedCertificate]],
                    || format!("the server saw {events:?}"),
                )
            },
        ),
        // tst_QSslServer::testSelfSignedCertificateRejectedByClient
        Case::pair(
            "server/self_signed_server_rejected_by_client",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().self_signed), &reports)?;
                let outcome = client(c, server.port(), client_config());
                check(outcome.as_ref().is_err_and(|e| e.contains("verif")), || {
                    format!("the client accepted a self-signed server: {outcome:?}")
                })?;
                // The server learns of the refusal from the client's alert.
                reported(&reports, None, IO_TIMEOUT)?;
                server.expect_none(Duration::from_millis(200))?;
                // The server verified nothing (it asks for no client certificate).
                server.check_events(1, 0, 0)
            },
        ),
        // tst_QSslServer::plaintextClient: a client that says nothing for a while keeps its
        // connection; once it writes plain text, the server closes it at once, long before the
        // handshake limit.
        Case::pair(
            "server/plaintext_client",
            Needs::socket(),
            Needs::socket(),
            |_, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                let mut stream =
                    TcpStream::connect(("127.0.0.1", server.port())).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                let local = stream.local_addr().map_err(|e| e.to_string())?;
                // The first accept starts the listener; nothing is handed out.
                server.expect_none(Duration::from_millis(50))?;
                stream
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .map_err(|e| e.to_string())?;
                let idle = stream.read(&mut [0u8; 16]);
                check(
                    idle.as_ref().is_err_and(|e| {
                        matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    }),
                    || format!("a short pause already ended the connection: {idle:?}"),
                )?;
                stream
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                let wrote = Instant::now();
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .map_err(|e| e.to_string())?;
                // Whatever the server sends before closing (an alert, perhaps), the connection
                // ends: a read of 0 bytes or a reset.
                let mut buf = [0u8; 256];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return Err("the plaintext client was not disconnected".into())
                        }
                        Err(_) => break,
                    }
                }
                let closed_after = wrote.elapsed();
                check(closed_after < LIMIT / 2, || {
                    format!("the plaintext client was closed after {closed_after:?}")
                })?;
                let error = reported(&reports, local, IO_TIMEOUT)?;
                check(!error.contains("timed out"), || {
                    format!("a plaintext client was only stopped by the timeout: {error}")
                })?;
                server.expect_none(Duration::from_millis(200))
            },
        ),
        // tst_QSslServer::quietClient
        Case::pair(
            "server/quiet_client_closed_at_the_timeout",
            Needs::socket(),
            Needs::socket(),
            |_, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                let mut quiet =
                    TcpStream::connect(("127.0.0.1", server.port())).map_err(|e| e.to_string())?;
                quiet
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                let local = quiet.local_addr().map_err(|e| e.to_string())?;
                let started = Instant::now();
                // The first accept starts the listener; nothing is handed out.
                server.expect_none(Duration::from_millis(50))?;
                // The server closes the connection: the read ends (0 or reset), it does not
                // time out on our side.
                let read = quiet.read(&mut [0u8; 16]);
                let closed_after = started.elapsed();
                check(
                    matches!(read, Ok(0))
                        || read.is_err_and(|e| {
                            e.kind() != std::io::ErrorKind::WouldBlock
                                && e.kind() != std::io::ErrorKind::TimedOut
                        }),
                    || "the quiet client was not disconnected".into(),
                )?;
                check(
                    closed_after >= LIMIT - Duration::from_millis(100) && closed_after < LIMIT * 3,
                    || {
                        format!("the quiet client was closed after {closed_after:?}, with a limit of {LIMIT:?}")
                    },
                )?;
                let error = reported(&reports, local, IO_TIMEOUT)?;
                check(error.contains("timed out"), || {
                    format!("reported {error:?}")
                })
            },
        ),
        // A client that completes its handshake and closes at once, before the server has sent
        // its TLS 1.3 tickets: the server's last write meets a closed connection, and the
        // connection, established all the same, is still handed out (it used to be failed).
        Case::pair(
            "server/client_that_closes_right_after_its_handshake_is_handed_out",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                let port = server.port();
                for round in 0..10 {
                    let stream =
                        TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
                    stream
                        .set_read_timeout(Some(IO_TIMEOUT))
                        .map_err(|e| e.to_string())?;
                    let mut socket =
                        SslSocket::with_backend(stream, c).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(client_config());
                    socket.set_peer_verify_name("localhost");
                    socket
                        .start_client_encryption()
                        .map_err(|e| e.to_string())?;
                    socket.handshake().map_err(|e| format!("client: {e}"))?;
                    drop(socket);
                    server
                        .accept_one(IO_TIMEOUT)
                        .map_err(|e| format!("round {round}: {e}; reported: {reports:?}"))?;
                }
                Ok(())
            },
        ),
        // tst_QSslServer::twoGoodAndManyBadClients: with at most 5 handshakes at once, one
        // good client is established and waits for `accept` while 10 quiet ones connect; 5 of
        // them hold the handshake slots (never more), the rest wait in the listen queue, and a
        // second good client is still served once the quiet ones' time has run out.
        Case::pair(
            "server/five_handshakes_at_once_and_the_rest_wait",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                const SLOTS: usize = 5;
                let reports = new_reports();
                let mut server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                server.set_max_pending_handshakes(SLOTS);
                let port = server.port();
                // The first accept starts the listener; nothing is handed out.
                server.expect_none(Duration::from_millis(20))?;
                let _first = encrypted_client(c, port)?;
                let quiet: Vec<TcpStream> = (0..2 * SLOTS)
                    .map(|_| TcpStream::connect(("127.0.0.1", port)))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                let deadline = Instant::now() + LIMIT / 2;
                while server.pending() != (SLOTS, 1) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // The count stays at the limit while the quiet clients wait.
                for _ in 0..10 {
                    let pending = server.pending();
                    check(pending == (SLOTS, 1), || {
                        format!("(handshakes, established) {pending:?}, wanted ({SLOTS}, 1)")
                    })?;
                    std::thread::sleep(Duration::from_millis(10));
                }
                server.accept_one(Duration::from_millis(100))?;
                let second = {
                    let c = c.to_owned();
                    std::thread::spawn(move || client(&c, port, client_config()))
                };
                // Two rounds of quiet clients time out before the second good one's turn.
                server.serve_one(LIMIT * 4)?;
                second.join().map_err(|_| "the client panicked")??;
                drop(quiet);
                Ok(())
            },
        ),
        // tst_QSslServer::twoGoodAndManyBadClients, with more bad clients than Qt's 10 and the
        // default limits: the good clients are served at once while 50 quiet ones hold their
        // slots (`server/five_handshakes_at_once_and_the_rest_wait` keeps Qt's limit).
        Case::pair(
            "server/good_clients_finish_while_50_bad_ones_hang",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let reports = new_reports();
                let server = TestServer::new(s, server_config(&Pki::get().server), &reports)?;
                let port = server.port();
                let quiet: Vec<TcpStream> = (0..50)
                    .map(|_| TcpStream::connect(("127.0.0.1", port)))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                let started = Instant::now();
                let clients: Vec<_> = (0..2)
                    .map(|_| {
                        let c = c.to_owned();
                        std::thread::spawn(move || {
                            client(&c, port, client_config()).map(|()| Instant::now())
                        })
                    })
                    .collect();
                server.serve_one(LIMIT / 2)?;
                server.serve_one(LIMIT / 2)?;
                let mut latest = started;
                for handle in clients {
                    latest = latest.max(handle.join().map_err(|_| "a client panicked")??);
                }
                let delay = latest - started;
                // Both were served within half the handshake limit: no quiet client's time
                // ran out first. The delay is what a user sees.
                check(delay < LIMIT / 2, || {
                    format!("the good clients took {delay:?}")
                })?;
                eprintln!(
                    "{}server/good_clients: served in {delay:?} beside 50 quiet clients",
                    frontend::current().prefix()
                );
                drop(quiet);
                Ok(())
            },
        ),
    ]
}
