//! Cases that answer functions of Qt 6's own tests (tst_qsslsocket) for features polytls
//! already has: how a handler's decision, an ignore list, early error reporting on both sides,
//! the server's cipher preference, the socket's refusals and the convenience constructors
//! behave. Each case names, in a comment, the Qt test function it answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use polytls::{
    ConnectOptions, Error, PeerVerifyMode, Registry, SslCipher, SslConfiguration, SslError,
    SslErrorKind, SslMode, SslOption, SslProtocol, SslSocket, SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::harness::{
    against_server, check, client_config, configure, handshake, server_config, tcp_pair,
    verification_kinds, with_identity, Socket, IO_TIMEOUT,
};
use crate::pki::Pki;

fn verifying() -> Needs {
    Needs::feature(SupportedFeature::CertificateVerification)
}

/// The error a client verifying the self-signed server finds.
fn self_signed_error() -> SslError {
    SslError::with_certificate(
        SslErrorKind::SelfSignedCertificate,
        Pki::get().self_signed.leaf().clone(),
    )
}

/// A handshake of a client set up by `setup` with the self-signed server.
fn against_self_signed(
    c: &str,
    s: &str,
    setup: impl FnOnce(&mut Socket) + Send + 'static,
) -> crate::harness::Handshake {
    handshake(
        c,
        Box::new(move |sock: &mut Socket| {
            sock.set_ssl_configuration(client_config());
            setup(sock);
        }),
        s,
        configure(server_config(&Pki::get().self_signed)),
    )
}

fn handler_cases() -> Vec<Case> {
    vec![
        // tst_QSslSocket::ignoreSslErrorsListWithSlot (the right list, from the slot).
        Case::pair(
            "qt/handler/ignores_exactly_the_errors_found",
            verifying(),
            Needs::socket(),
            |c, s| {
                let result = against_self_signed(c, s, |sock| {
                    sock.on_ssl_errors(|decision| {
                        let found = decision.errors().to_vec();
                        decision.ignore(&found);
                    });
                });
                result.both().map(drop)
            },
        ),
        // tst_QSslSocket::ignoreSslErrorsListWithSlot (a wrong list, from the slot).
        Case::pair(
            "qt/handler/ignores_a_wrong_list",
            verifying(),
            Needs::socket(),
            |c, s| {
                let result = against_self_signed(c, s, |sock| {
                    sock.on_ssl_errors(|decision| {
                        let wrong = SslError::with_certificate(
                            SslErrorKind::SelfSignedCertificate,
                            Pki::get().server.leaf().clone(),
                        );
                        decision.ignore(&[wrong]);
                    });
                });
                let kinds = verification_kinds(&result.client)?;
                check(kinds == [SslErrorKind::SelfSignedCertificate], || {
                    format!("refused with {kinds:?}")
                })
            },
        ),
        // tst_QSslSocket::sslErrors: a slot that ignores nothing lets the handshake fail.
        Case::pair(
            "qt/handler/declines",
            verifying(),
            Needs::socket(),
            |c, s| {
                let calls = Arc::new(Mutex::new(0));
                let counted = calls.clone();
                let result = against_self_signed(c, s, move |sock| {
                    sock.on_ssl_errors(move |_| *counted.lock().unwrap() += 1);
                });
                let kinds = verification_kinds(&result.client)?;
                check(kinds == [SslErrorKind::SelfSignedCertificate], || {
                    format!("refused with {kinds:?}")
                })?;
                let calls = *calls.lock().unwrap();
                check(calls == 1, || format!("the handler ran {calls} times"))
            },
        ),
        // tst_QSslSocket::ignoreSslErrorsList: a list given beforehand with an entry that
        // does not occur still lets the handshake through when it covers every error.
        Case::pair(
            "qt/ignore_list/extra_entry",
            verifying(),
            Needs::socket(),
            |c, s| {
                let result = against_self_signed(c, s, |sock| {
                    sock.ignore_ssl_errors_list(&[
                        self_signed_error(),
                        SslError::new(SslErrorKind::CertificateRevoked),
                    ]);
                });
                let (client, _) = result.both()?;
                check(
                    client.ssl_handshake_errors() == [self_signed_error()],
                    || format!("found {:?}", client.ssl_handshake_errors()),
                )
            },
        ),
    ]
}

fn interrupt_cases() -> Vec<Case> {
    vec![
        // tst_QSslSocket::verifyClientCertificate, with handshakeMustInterruptOnError on the
        // server, not continued: the server refuses, the client learns it from an alert.
        Case::pair(
            "qt/interrupt/server_not_continued",
            Needs::socket(),
            verifying(),
            |c, s| {
                let pki = Pki::get();
                let server = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    handshake_must_interrupt_on_error: true,
                    ..server_config(&pki.server)
                };
                let setup = Box::new(move |sock: &mut Socket| {
                    sock.set_ssl_configuration(server);
                    sock.on_handshake_interrupted_on_error(|_| {});
                });
                let client = with_identity(client_config(), &pki.client_self_signed);
                let result = handshake(c, configure(client), s, setup);
                let kinds = verification_kinds(&result.server)?;
                check(kinds == [SslErrorKind::SelfSignedCertificate], || {
                    format!("the server refused with {kinds:?}")
                })
            },
        ),
        // Both sides in early reporting mode in one handshake, each continuing.
        Case::pair(
            "qt/interrupt/both_sides_continue",
            verifying(),
            verifying(),
            |c, s| {
                let pki = Pki::get();
                let seen = Arc::new(Mutex::new(Vec::new()));
                let (client_seen, server_seen) = (seen.clone(), seen.clone());
                let server = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    handshake_must_interrupt_on_error: true,
                    ..server_config(&pki.self_signed)
                };
                let client = SslConfiguration {
                    handshake_must_interrupt_on_error: true,
                    ..with_identity(client_config(), &pki.client_self_signed)
                };
                let result = handshake(
                    c,
                    Box::new(move |sock: &mut Socket| {
                        sock.set_ssl_configuration(client);
                        sock.on_handshake_interrupted_on_error(move |stop| {
                            client_seen
                                .lock()
                                .unwrap()
                                .push(("client", stop.error().clone()));
                            stop.continue_handshake();
                        });
                    }),
                    s,
                    Box::new(move |sock: &mut Socket| {
                        sock.set_ssl_configuration(server);
                        sock.on_handshake_interrupted_on_error(move |stop| {
                            server_seen
                                .lock()
                                .unwrap()
                                .push(("server", stop.error().clone()));
                            stop.continue_handshake();
                        });
                    }),
                );
                result.both()?;
                let mut seen = seen.lock().unwrap().clone();
                seen.sort_by_key(|(side, _)| *side);
                let wanted = vec![
                    ("client", self_signed_error()),
                    (
                        "server",
                        SslError::with_certificate(
                            SslErrorKind::SelfSignedCertificate,
                            pki.client_self_signed.leaf().clone(),
                        ),
                    ),
                ];
                check(seen == wanted, || format!("interrupted on {seen:?}"))
            },
        ),
    ]
}

/// tst_QSslSocket::serverCipherPreferences: the server's order wins unless
/// `DisableServerCipherPreference` is set, then the client's does.
fn cipher_preference(c: &str, s: &str, disabled: bool) -> Result<(), String> {
    let named = |name: &str| SslCipher::from_name(name).ok_or(format!("unknown suite {name}"));
    let first = named("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")?;
    let second = named("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")?;
    let client = SslConfiguration {
        protocol: SslProtocol::TlsV1_2,
        ciphers: Some(vec![first, second]),
        ..client_config()
    };
    let mut server = SslConfiguration {
        protocol: SslProtocol::TlsV1_2,
        ciphers: Some(vec![second, first]),
        ..server_config(&Pki::get().server)
    };
    if disabled {
        server
            .ssl_options
            .insert(SslOption::DisableServerCipherPreference);
    }
    let (client, server) = handshake(c, configure(client), s, configure(server)).both()?;
    let wanted = if disabled { first } else { second };
    for (side, socket) in [("client", &client), ("server", &server)] {
        check(
            socket.session_cipher().map(|x| x.id()) == Some(wanted.id()),
            || {
                format!(
                    "{side} negotiated {:?}, wanted {wanted:?}",
                    socket.session_cipher()
                )
            },
        )?;
    }
    Ok(())
}

fn socket_cases() -> Vec<Case> {
    vec![
        Case::pair(
            "qt/cipher_preference/server_order_wins",
            Needs::protocol(SslProtocol::TlsV1_2),
            Needs::protocol(SslProtocol::TlsV1_2),
            |c, s| cipher_preference(c, s, false),
        ),
        Case::pair(
            "qt/cipher_preference/disabled_client_order_wins",
            Needs::protocol(SslProtocol::TlsV1_2),
            Needs::protocol(SslProtocol::TlsV1_2),
            |c, s| cipher_preference(c, s, true),
        ),
        // tst_QSslSocket::setLocalCertificateChain / privateKey: a server with a certificate
        // and no key is refused before any engine is made, and so are protocols a TLS socket
        // cannot use (tst_QSslSocket::protocol).
        Case::single("qt/refusals/server_without_key", Needs::socket(), |b| {
            let (stream, _peer) = tcp_pair()?;
            let mut socket = SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
            let mut config = server_config(&Pki::get().server);
            config.private_key = None;
            socket.set_ssl_configuration(config);
            check(
                socket.local_certificate_chain() == Pki::get().server.chain.as_slice(),
                || "the local chain is not the one set".into(),
            )?;
            match socket.start_server_encryption() {
                Err(Error::InvalidInput(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }),
        Case::single(
            "qt/refusals/protocols_a_tls_socket_cannot_use",
            Needs::socket(),
            |b| {
                for protocol in [
                    SslProtocol::DtlsV1_2,
                    SslProtocol::DtlsV1_2OrLater,
                    SslProtocol::UnknownProtocol,
                ] {
                    let (stream, _peer) = tcp_pair()?;
                    let mut socket =
                        SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(SslConfiguration {
                        protocol,
                        ..client_config()
                    });
                    socket.set_peer_verify_name("localhost");
                    match socket.start_client_encryption() {
                        Err(Error::InvalidInput(_)) => {}
                        other => return Err(format!("{protocol}: {other:?}")),
                    }
                }
                Ok(())
            },
        ),
        // tst_QSslSocket::connectToHostEncryptedWithVerificationPeerName (over loopback): the
        // handshake starts at once and finishes on the first wait.
        Case::single(
            "qt/connect_to_host_encrypted_with_verify_name",
            verifying(),
            |b| {
                let listener =
                    TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
                let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                let backend = b.to_owned();
                let server = crate::frontend::spawn(move || -> Result<(), String> {
                    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
                    stream
                        .set_read_timeout(Some(crate::harness::IO_TIMEOUT))
                        .map_err(|e| e.to_string())?;
                    let mut socket =
                        SslSocket::with_backend(stream, &backend).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(server_config(&Pki::get().server));
                    socket
                        .start_server_encryption()
                        .map_err(|e| e.to_string())?;
                    socket.handshake().map_err(|e| e.to_string())
                });
                let mut socket = SslSocket::connect_to_host_encrypted_with_verify_name(
                    "127.0.0.1",
                    port,
                    "localhost",
                )
                .map_err(|e| e.to_string())?;
                // The default configuration trusts the system's roots, not the test root.
                socket.ignore_ssl_errors_list(&[SslError::with_certificate(
                    SslErrorKind::UnableToGetLocalIssuerCertificate,
                    Pki::get().server.leaf().clone(),
                )]);
                socket
                    .wait_for_encrypted(Some(crate::harness::IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                server
                    .join()
                    .map_err(|_| "the server panicked".to_string())??;
                check(socket.is_encrypted(), || "not encrypted".into())?;
                check(
                    socket.peer_certificate() == Some(Pki::get().server.leaf()),
                    || "another peer certificate".into(),
                )
            },
        ),
        Case::pair(
            "qt/wait_for_encrypted_without_a_limit",
            verifying(),
            Needs::socket(),
            wait_without_a_limit,
        ),
    ]
}

/// tst_QSslSocket::waitForEncryptedMinusOne and waitForMinusOne: a wait with no limit (Qt's
/// -1) lasts as long as the handshake, here behind a server that answers late, and ends
/// encrypted; a wait on a socket that is encrypted already returns at once, even with no time
/// left.
fn wait_without_a_limit(c: &str, s: &str) -> Result<(), String> {
    let (mut socket, peer) = against_server(
        c,
        s,
        &Pki::get().server,
        std::time::Duration::from_millis(300),
    )?;
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    let waited = socket.wait_for_encrypted(None);
    peer.join()
        .map_err(|_| "the server panicked".to_string())?
        .map_err(|e| format!("server: {e}"))?;
    waited.map_err(|e| format!("wait without a limit: {e}"))?;
    check(socket.is_encrypted(), || "not encrypted".into())?;
    socket
        .wait_for_encrypted(Some(std::time::Duration::ZERO))
        .map_err(|e| format!("wait when encrypted: {e}"))
}

/// The thread of a loopback server, giving back what it read.
type Reader = std::thread::JoinHandle<Result<Vec<u8>, String>>;

/// A loopback TLS server on its own thread, with `backend` and the test server's identity:
/// it sends `greeting` once encrypted, then reads until the client closes, and gives back
/// what it read.
fn loopback_server(backend: &str, greeting: &'static [u8]) -> Result<(u16, Reader), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let backend = backend.to_owned();
    let server = crate::frontend::spawn(move || -> Result<Vec<u8>, String> {
        let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut socket = SslSocket::with_backend(stream, &backend).map_err(|e| e.to_string())?;
        socket.set_ssl_configuration(server_config(&Pki::get().server));
        socket
            .start_server_encryption()
            .map_err(|e| format!("server: {e}"))?;
        socket.handshake().map_err(|e| format!("server: {e}"))?;
        socket
            .write_all(greeting)
            .map_err(|e| format!("server: {e}"))?;
        let mut read = Vec::new();
        socket
            .read_to_end(&mut read)
            .map_err(|e| format!("server: {e}"))?;
        Ok(read)
    });
    Ok((port, server))
}

/// `connect_to_host_encrypted` with `backend` to the loopback server at `port`, verifying the
/// name `localhost`. The default configuration trusts the system's roots, not the test root,
/// so the one error that gives is ignored by list.
fn connect_encrypted(backend: &str, port: u16) -> Result<SslSocket<TcpStream>, String> {
    let options = ConnectOptions::new()
        .backend(backend)
        .verify_name("localhost")
        .io_timeout(Some(IO_TIMEOUT));
    let mut socket = SslSocket::connect_to_host_encrypted_with_options("127.0.0.1", port, &options)
        .map_err(|e| format!("connect: {e}"))?;
    socket.ignore_ssl_errors_list(&[SslError::with_certificate(
        SslErrorKind::UnableToGetLocalIssuerCertificate,
        Pki::get().server.leaf().clone(),
    )]);
    Ok(socket)
}

fn loopback_cases() -> Vec<Case> {
    vec![
        // tst_QSslSocket::configNoOnDemandLoad: a configuration whose CA list was set (to the
        // system's, which turns off loading them on demand in Qt) is read back from the
        // socket unchanged.
        Case::single(
            "qt/configuration_set_on_a_socket_reads_back",
            Needs::socket(),
            |b| {
                let backend = Registry::global()
                    .backend(Some(b))
                    .map_err(|e| e.to_string())?;
                let mut custom = SslConfiguration::default_configuration();
                custom.ca_certificates = Some(backend.system_ca_certificates().unwrap_or_default());
                custom
                    .ca_certificates
                    .get_or_insert_with(Vec::new)
                    .push(Pki::get().root.clone());
                let (stream, _peer) = tcp_pair()?;
                let mut socket = SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
                socket.set_ssl_configuration(custom.clone());
                check(*socket.ssl_configuration() == custom, || {
                    "the socket's configuration is not the one set".into()
                })
            },
        ),
        // tst_QSslSocket::connectToHostEncrypted (over loopback, where Qt's uses its network
        // test server): the connection is encrypted; after the close it is not, and the socket
        // stays a client. Qt then reconnects the same socket in plain text, which has no
        // counterpart: a socket serves one connection (see `SslSocket::new`).
        Case::single("qt/connect_to_host_encrypted", verifying(), |b| {
            let (port, server) = loopback_server(b, b"")?;
            let mut socket = connect_encrypted(b, port)?;
            check(socket.mode() == SslMode::SslClientMode, || {
                format!("mode {:?} while connecting", socket.mode())
            })?;
            socket
                .wait_for_encrypted(Some(IO_TIMEOUT))
                .map_err(|e| format!("wait: {e}"))?;
            check(socket.is_encrypted(), || "not encrypted".into())?;
            socket.close().map_err(|e| format!("close: {e}"))?;
            let read = server.join().map_err(|_| "the server panicked")??;
            check(read.is_empty(), || format!("the server read {read:?}"))?;
            check(!socket.is_encrypted(), || {
                "still encrypted after the close".into()
            })?;
            check(socket.mode() == SslMode::SslClientMode, || {
                format!("mode {:?} after the close", socket.mode())
            })
        }),
        // tst_QSslSocket::waitForConnectedEncryptedReadyRead (over loopback, a server that
        // greets first as Qt's IMAP server does): connected, encrypted, the greeting read, and
        // the peer's certificate and chain known.
        Case::single(
            "qt/wait_for_connected_encrypted_ready_read",
            verifying(),
            |b| {
                let (port, server) = loopback_server(b, b"* OK ready\r\n")?;
                let mut socket = connect_encrypted(b, port)?;
                socket
                    .wait_for_encrypted(Some(IO_TIMEOUT))
                    .map_err(|e| format!("wait: {e}"))?;
                let mut greeting = [0u8; 12];
                socket
                    .read_exact(&mut greeting)
                    .map_err(|e| format!("read: {e}"))?;
                check(&greeting == b"* OK ready\r\n", || {
                    format!("read {greeting:?}")
                })?;
                check(
                    socket.peer_certificate() == Some(Pki::get().server.leaf()),
                    || "no or another peer certificate".into(),
                )?;
                check(!socket.peer_certificate_chain().is_empty(), || {
                    "no peer certificate chain".into()
                })?;
                socket.close().map_err(|e| format!("close: {e}"))?;
                server.join().map_err(|_| "the server panicked")?.map(drop)
            },
        ),
        Case::pair(
            "qt/wait_for_minus_one",
            verifying(),
            Needs::socket(),
            wait_for_minus_one,
        )
        .run_once(),
        // tst_QSslSocket::defaultCiphers, supportedCiphers and sessionCipher: each backend
        // supports more than one suite; the default configuration names none (`None`: the
        // backend's own list, where Qt copies the list into the configuration) and a new
        // socket starts from it; a handshake under it negotiates a suite both backends list.
        Case::pair(
            "qt/default_and_supported_ciphers",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let listed = |b: &str| -> Result<Vec<SslCipher>, String> {
                    let list = Registry::global()
                        .backend(Some(b))
                        .map_err(|e| e.to_string())?
                        .supported_ciphers();
                    check(list.len() > 1, || format!("{b} lists {list:?}"))?;
                    Ok(list)
                };
                let (client_list, server_list) = (listed(c)?, listed(s)?);
                let default = SslConfiguration::default_configuration();
                check(default.ciphers.is_none(), || {
                    format!("the default names suites: {:?}", default.ciphers)
                })?;
                let (stream, _peer) = tcp_pair()?;
                let fresh = SslSocket::with_backend(stream, c).map_err(|e| e.to_string())?;
                check(fresh.ssl_configuration().ciphers == default.ciphers, || {
                    "a new socket's suites are not the default's".into()
                })?;
                let (client, server) = handshake(
                    c,
                    configure(client_config()),
                    s,
                    configure(server_config(&Pki::get().server)),
                )
                .both()?;
                let negotiated = client.session_cipher().ok_or("no session cipher")?;
                check(server.session_cipher() == Some(negotiated), || {
                    format!(
                        "client {negotiated:?}, server {:?}",
                        server.session_cipher()
                    )
                })?;
                check(
                    client_list.contains(&negotiated) && server_list.contains(&negotiated),
                    || format!("{negotiated:?} is not listed by both backends"),
                )
            },
        ),
        // tst_QSslSocket::setEmptyDefaultConfiguration: under Qt's empty configuration (no
        // suites, no CA certificates) a client never gets encrypted, even ignoring every
        // verification error. (That a default reaches new sockets is core's
        // default_configuration test.)
        Case::pair(
            "qt/empty_configuration_never_encrypts",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let empty = SslConfiguration {
                    ciphers: Some(Vec::new()),
                    ca_certificates: Some(Vec::new()),
                    ..SslConfiguration::default()
                };
                let result = handshake(
                    c,
                    Box::new(move |sock: &mut Socket| {
                        sock.set_ssl_configuration(empty);
                        sock.ignore_ssl_errors();
                    }),
                    s,
                    configure(server_config(&Pki::get().server)),
                );
                match result.client {
                    Ok(_) => Err("a client with no suites got encrypted".into()),
                    Err(_) => Ok(()),
                }
            },
        ),
        // tst_QSslSocket::disconnectFromHostWhenConnecting. `connect_to_host_encrypted`
        // returns connected, so there is no connecting state to close in; the nearest is a
        // close while the handshake runs: it finishes the handshake, sends what was written
        // before and close_notify, and writing fails from then on (`SslSocket::close`), where
        // Qt's socket stays open for more writes.
        Case::pair(
            "qt/close_during_the_handshake_sends_what_was_written",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut socket, peer) = {
                    let (client, server) = tcp_pair()?;
                    let s = s.to_owned();
                    let peer = crate::frontend::spawn(move || -> Result<Vec<u8>, String> {
                        let mut socket =
                            SslSocket::with_backend(server, &s).map_err(|e| e.to_string())?;
                        socket.set_ssl_configuration(server_config(&Pki::get().server));
                        socket
                            .start_server_encryption()
                            .map_err(|e| e.to_string())?;
                        let mut read = Vec::new();
                        socket
                            .read_to_end(&mut read)
                            .map_err(|e| format!("server: {e}"))?;
                        Ok(read)
                    });
                    let mut socket =
                        SslSocket::with_backend(client, c).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(client_config());
                    socket.set_peer_verify_name("localhost");
                    (socket, peer)
                };
                socket
                    .start_client_encryption()
                    .map_err(|e| e.to_string())?;
                socket
                    .write_all(b"XXXX LOGOUT\r\n")
                    .map_err(|e| format!("write: {e}"))?;
                check(!socket.is_encrypted(), || {
                    "encrypted before any wait".into()
                })?;
                socket.close().map_err(|e| format!("close: {e}"))?;
                let read = peer.join().map_err(|_| "the server panicked")??;
                check(read == b"XXXX LOGOUT\r\n", || {
                    format!("the server read {read:?}")
                })?;
                check(socket.write(b"USER ftptest\r\n").is_err(), || {
                    "a write after the close was accepted".into()
                })
            },
        )
        .run_once(),
    ]
}

/// tst_QSslSocket::waitForMinusOne: every wait without a limit (a blocking stream with no
/// timeout) lasts as long as a server that pauses before each step: the handshake, a write
/// the server confirms, a read, a write followed by a read that must send it first (or both
/// sides would wait for ever), and the server's close, after which reads give 0 bytes.
fn wait_for_minus_one(c: &str, s: &str) -> Result<(), String> {
    const PAUSE: Duration = Duration::from_millis(100);
    const STEP: Duration = Duration::from_secs(2);
    let (client, server) = tcp_pair()?;
    let (confirm, confirmed) = mpsc::channel();
    let s = s.to_owned();
    let peer = crate::frontend::spawn(move || -> Result<(), String> {
        let fail = |e: Error| format!("server: {e}");
        let io = |e: std::io::Error| format!("server: {e}");
        server.set_read_timeout(Some(STEP)).map_err(io)?;
        std::thread::sleep(PAUSE);
        let mut socket = SslSocket::with_backend(server, &s).map_err(fail)?;
        socket.set_ssl_configuration(server_config(&Pki::get().server));
        socket.start_server_encryption().map_err(fail)?;
        socket.handshake().map_err(fail)?;
        std::thread::sleep(PAUSE);
        let mut question = [0u8; 18];
        socket.read_exact(&mut question).map_err(io)?;
        if &question != b"How are you doing?" {
            return Err(format!("server read {question:?}"));
        }
        let _ = confirm.send(());
        std::thread::sleep(PAUSE);
        socket.write_all(b"Hello, World").map_err(io)?;
        std::thread::sleep(PAUSE);
        let mut answer = [0u8; 20];
        socket.read_exact(&mut answer).map_err(io)?;
        socket.write_all(b"Hello, World").map_err(io)?;
        std::thread::sleep(PAUSE);
        socket.close().map_err(fail)
    });
    // No limit on the client's side: the server's own limits end a case that goes wrong.
    client.set_read_timeout(None).map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(client, c).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(client_config());
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    socket
        .wait_for_encrypted(None)
        .map_err(|e| format!("wait for encrypted: {e}"))?;
    check(socket.is_encrypted(), || "not encrypted".into())?;
    socket
        .write_all(b"How are you doing?")
        .and_then(|()| socket.flush())
        .map_err(|e| format!("write: {e}"))?;
    confirmed
        .recv_timeout(Duration::from_millis(2500))
        .map_err(|_| "the server did not get the first write")?;
    let mut reply = [0u8; 12];
    socket
        .read_exact(&mut reply)
        .map_err(|e| format!("first read: {e}"))?;
    check(socket.is_encrypted() && &reply == b"Hello, World", || {
        format!("first read {reply:?}")
    })?;
    // Written and not flushed: the read must send it before it waits.
    socket
        .write_all(b"I'm doing just fine!")
        .map_err(|e| format!("write: {e}"))?;
    socket
        .read_exact(&mut reply)
        .map_err(|e| format!("second read: {e}"))?;
    check(&reply == b"Hello, World", || {
        format!("second read {reply:?}")
    })?;
    let end = socket
        .read(&mut reply)
        .map_err(|e| format!("read at the end: {e}"));
    let again = socket
        .read(&mut reply)
        .map_err(|e| format!("read after the end: {e}"));
    peer.join().map_err(|_| "the server panicked")??;
    check(end == Ok(0) && again == Ok(0), || {
        format!("reads after the server's close: {end:?}, {again:?}")
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = handler_cases();
    cases.extend(interrupt_cases());
    cases.extend(socket_cases());
    cases.extend(loopback_cases());
    cases
}
