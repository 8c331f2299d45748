//! The servers, after Qt's tst_qsslserver: handshakes run concurrently and off the accepting
//! path, each under its own time limit, and failures are reported with the peer they concern.
//!
//! Each case runs on the front end of its run: the blocking [`SslServer`] or the tokio
//! [`polytls::tokio::SslServer`] (clients are blocking sockets either way).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polytls::{Error, PeerVerifyMode, SslConfiguration, SslServer, SslSocket};

use crate::case::{Case, Needs};
use crate::frontend::{self, FrontEnd};
use crate::harness::{check, client_config, server_config, with_identity, IO_TIMEOUT};
use crate::pki::Pki;

/// The handshake limit of the servers here: short, so that the timeout case is quick, and
/// far above a loopback handshake.
const LIMIT: Duration = Duration::from_millis(1500);

/// What a server reported through `on_error_occurred`: the peer and the error's text.
type Reports = Arc<Mutex<Vec<(SocketAddr, String)>>>;

/// A server on either front end, echoing one line per connection in upper case.
enum TestServer {
    Blocking(SslServer),
    Tokio(tokio::runtime::Runtime, polytls::tokio::SslServer),
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
        Ok(match frontend::current() {
            FrontEnd::Blocking => {
                let mut server =
                    SslServer::bind_with_backend("127.0.0.1:0", backend).map_err(text)?;
                server.set_ssl_configuration(config);
                server.set_handshake_timeout(LIMIT);
                server.on_error_occurred(report);
                TestServer::Blocking(server)
            }
            FrontEnd::Tokio => {
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
                TestServer::Tokio(runtime, server)
            }
        })
    }

    fn port(&self) -> u16 {
        match self {
            TestServer::Blocking(s) => s.local_addr().map(|a| a.port()).unwrap_or(0),
            TestServer::Tokio(_, s) => s.local_addr().port(),
        }
    }

    /// Accepts one connection within `within` and echoes one 3-byte line in upper case.
    fn serve_one(&self, within: Duration) -> Result<(), String> {
        match self {
            TestServer::Blocking(server) => {
                let mut socket = server.accept_within(within).map_err(|e| e.to_string())?;
                let mut line = [0u8; 3];
                socket.read_exact(&mut line).map_err(|e| e.to_string())?;
                socket
                    .write_all(&line.to_ascii_uppercase())
                    .map_err(|e| e.to_string())?;
                socket.close().map_err(|e| e.to_string())
            }
            TestServer::Tokio(runtime, server) => runtime.block_on(async {
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

    /// Accepts one connection within `within` and drops it.
    fn accept_one(&self, within: Duration) -> Result<(), String> {
        match self {
            TestServer::Blocking(server) => server.accept_within(within).map(drop),
            TestServer::Tokio(runtime, server) => {
                runtime.block_on(server.accept_within(within)).map(drop)
            }
        }
        .map_err(|e| e.to_string())
    }

    /// Expects no connection to be handed out within `within`.
    fn expect_none(&self, within: Duration) -> Result<(), String> {
        let got = match self {
            TestServer::Blocking(server) => server.accept_within(within).map(drop),
            TestServer::Tokio(runtime, server) => {
                runtime.block_on(server.accept_within(within)).map(drop)
            }
        };
        check(matches!(got, Err(Error::Timeout { .. })), || {
            format!("a connection that should have failed was handed out: {got:?}")
        })
    }
}

/// A client with `backend` and `config` that sends one line and expects it back upper-cased.
fn client(backend: &str, port: u16, config: SslConfiguration) -> Result<(), String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name("localhost");
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
    check(&reply == b"HI\n", || format!("reply {reply:?}"))
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

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
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
                let reports = reports.lock().unwrap_or_else(|p| p.into_inner());
                check(reports.is_empty(), || {
                    format!("errors reported: {reports:?}")
                })
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
                let stream =
                    TcpStream::connect(("127.0.0.1", server.port())).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                let local = stream.local_addr().map_err(|e| e.to_string())?;
                let mut socket = SslSocket::with_backend(stream, c).map_err(|e| e.to_string())?;
                socket.set_ssl_configuration(with_identity(
                    client_config(),
                    &Pki::get().client_self_signed,
                ));
                socket.set_peer_verify_name("localhost");
                socket
                    .start_client_encryption()
                    .map_err(|e| e.to_string())?;
                // The client may finish its side before the server's refusal arrives.
                let _ = socket
                    .write_all(b"hi\n")
                    .and_then(|()| socket.read(&mut [0u8; 1]));
                let error = reported(&reports, local, IO_TIMEOUT)?;
                check(error.contains("verif"), || {
                    format!("the server reported {error:?}, not a verification failure")
                })?;
                server.expect_none(Duration::from_millis(200))
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
                server.expect_none(Duration::from_millis(200))
            },
        ),
        // tst_QSslServer::testPlainTextClient
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
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .map_err(|e| e.to_string())?;
                let error = reported(&reports, local, IO_TIMEOUT)?;
                check(!error.contains("timed out"), || {
                    format!("a plaintext client was only stopped by the timeout: {error}")
                })?;
                server.expect_none(Duration::from_millis(200))
            },
        ),
        // tst_QSslServer::testQuietClient
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
        // tst_QSslServer::testTwoGoodClientsAndManyBadOnes (Qt's test has one bad client; here
        // 50 say nothing): the good clients are served while the quiet ones hold their slots.
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
