//! Cases that answer functions of Qt 6's own tests (tst_qsslsocket) for features polytls
//! already has: how a handler's decision, an ignore list, early error reporting on both sides,
//! the server's cipher preference, the socket's refusals and the convenience constructors
//! behave. Each case names, in a comment, the Qt test function it answers.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use polytls::{
    Error, PeerVerifyMode, SslCipher, SslConfiguration, SslError, SslErrorKind, SslOption,
    SslProtocol, SslSocket, SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::harness::{
    against_server, check, client_config, configure, handshake, server_config, tcp_pair,
    verification_kinds, with_identity, Socket,
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
                let server = std::thread::spawn(move || -> Result<(), String> {
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

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = handler_cases();
    cases.extend(interrupt_cases());
    cases.extend(socket_cases());
    cases
}
