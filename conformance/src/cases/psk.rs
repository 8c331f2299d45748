//! Pre-shared keys (Qt's `preSharedKeyAuthenticationRequired`): a backend that claims `Psk`
//! completes a TLS 1.2 PSK handshake in which each side's handler sees what the other sent
//! (the server's hint, the client's identity), refuses every key that does not match, says why
//! when a handler gives nothing usable, never asks a handler in a certificate handshake, and
//! reports the certificate-less session to a side that verifies its peer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use polytls::{
    AlertType, Error, PeerVerifyMode, PreSharedKeyAuthenticator, ProtocolVersion, SslCipher,
    SslConfiguration, SslError, SslErrorKind, SslProtocol, SslSocket, SupportedFeature,
};

use super::external::SClient;
use crate::case::{Case, Needs};
use crate::frontend::Socket;
use crate::harness::{
    check, client_config, handshake, receive, send, server_config, tcp_pair, Setup, TempDir,
    IO_TIMEOUT,
};
use crate::pki::Pki;

const HINT: &[u8] = b"polytls conformance";
const IDENTITY: &[u8] = b"client-17";
const KEY: &[u8] = b"\x00\x01 a key of twenty-four bytes";

/// What a handler saw: the hint (client) or the identity (server), and the maximum identity
/// length the authenticator stated.
type Seen = Arc<Mutex<Vec<(Vec<u8>, usize)>>>;

fn psk() -> Needs {
    Needs::feature(SupportedFeature::Psk)
}

/// A TLS 1.2 configuration: PSK is a TLS 1.2 (and DTLS 1.2) mechanism.
fn tls12(mut config: SslConfiguration) -> SslConfiguration {
    config.protocol = SslProtocol::TlsV1_2;
    config
}

/// A server with no certificate (it can speak only PSK suites), sending [`HINT`], that gives
/// `key` for [`IDENTITY`] and nothing for any other identity.
fn psk_server(key: &'static [u8], seen: Seen) -> Setup {
    Box::new(move |s: &mut Socket| {
        s.set_ssl_configuration(tls12(SslConfiguration {
            pre_shared_key_identity_hint: Some(HINT.to_vec()),
            peer_verify_mode: PeerVerifyMode::VerifyNone,
            ..SslConfiguration::default()
        }));
        s.on_pre_shared_key_authentication_required(move |auth| {
            seen.lock()
                .unwrap()
                .push((auth.identity().to_vec(), auth.maximum_identity_length()));
            if auth.identity() == IDENTITY {
                auth.set_pre_shared_key(key.to_vec());
            }
        });
    })
}

/// A TLS 1.2 client in `mode` with `handler` as its PSK handler.
fn client_with(
    mode: PeerVerifyMode,
    handler: impl FnMut(&mut PreSharedKeyAuthenticator) + Send + 'static,
) -> Setup {
    Box::new(move |s: &mut Socket| {
        let mut config = tls12(client_config());
        config.peer_verify_mode = mode;
        s.set_ssl_configuration(config);
        s.on_pre_shared_key_authentication_required(handler);
    })
}

/// A client in `mode` whose handler gives `identity` and `key`, recording the hint it saw.
fn psk_client(mode: PeerVerifyMode, identity: Vec<u8>, key: &'static [u8], seen: Seen) -> Setup {
    client_with(mode, move |auth| {
        seen.lock().unwrap().push((
            auth.identity_hint().to_vec(),
            auth.maximum_identity_length(),
        ));
        auth.set_identity(identity.clone());
        auth.set_pre_shared_key(key.to_vec());
    })
}

fn seen() -> Seen {
    Arc::new(Mutex::new(Vec::new()))
}

fn taken(seen: &Seen) -> Vec<(Vec<u8>, usize)> {
    seen.lock().unwrap().clone()
}

/// The alert a failed side's error carries, if any.
fn alert(result: &Result<Socket, Error>) -> Option<AlertType> {
    match result {
        Err(Error::Handshake { alert, .. }) => *alert,
        _ => None,
    }
}

fn message(result: &Result<Socket, Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair("psk/handshake_and_data", psk(), psk(), |c, s| {
            let (client_seen, server_seen) = (seen(), seen());
            let (mut client, mut server) = handshake(
                c,
                psk_client(
                    PeerVerifyMode::VerifyNone,
                    IDENTITY.to_vec(),
                    KEY,
                    client_seen.clone(),
                ),
                s,
                psk_server(KEY, server_seen.clone()),
            )
            .both()?;
            let client_saw = taken(&client_seen);
            check(
                client_saw.len() == 1 && client_saw[0].0 == HINT && client_saw[0].1 > 0,
                || format!("the client's handler saw {client_saw:?}"),
            )?;
            let server_saw = taken(&server_seen);
            check(server_saw == [(IDENTITY.to_vec(), 0)], || {
                format!("the server's handler saw {server_saw:?}")
            })?;
            for (side, socket) in [("client", &client), ("server", &server)] {
                is_psk_session(
                    side,
                    socket.pre_shared_key_identity(),
                    socket.session_cipher(),
                    IDENTITY,
                )?;
                check(socket.peer_certificate_chain().is_empty(), || {
                    format!("{side} has a peer certificate")
                })?;
            }
            send(&mut *client, b"over a pre-shared key")?;
            let echoed = receive(&mut *server, 21)?;
            check(echoed == b"over a pre-shared key", || {
                format!("the server read {echoed:?}")
            })
        }),
        Case::pair("psk/wrong_key_is_refused", psk(), psk(), |c, s| {
            let outcome = handshake(
                c,
                psk_client(
                    PeerVerifyMode::VerifyNone,
                    IDENTITY.to_vec(),
                    b"another key of 24 bytes!",
                    seen(),
                ),
                s,
                psk_server(KEY, seen()),
            );
            check(outcome.client.is_err() && outcome.server.is_err(), || {
                format!(
                    "a wrong key was accepted: client {}, server {}",
                    message(&outcome.client),
                    message(&outcome.server)
                )
            })
        }),
        Case::pair(
            "psk/unknown_identity_is_refused_with_its_name",
            psk(),
            psk(),
            |c, s| {
                let outcome = handshake(
                    c,
                    psk_client(
                        PeerVerifyMode::VerifyNone,
                        b"intruder".to_vec(),
                        KEY,
                        seen(),
                    ),
                    s,
                    psk_server(KEY, seen()),
                );
                let server = message(&outcome.server);
                check(server.contains("\"intruder\""), || {
                    format!("server: {server}")
                })?;
                check(
                    alert(&outcome.client) == Some(AlertType::UnknownPskIdentity),
                    || format!("client: {}", message(&outcome.client)),
                )
            },
        ),
        Case::pair(
            "psk/client_without_a_handler_offers_no_psk_suite",
            Needs::socket(),
            psk(),
            |c, s| {
                // Qt's PskConnectDoNotHandlePsk: a client with no handler offers no PSK suite,
                // so a server that speaks only PSK finds none in common and asks its handler
                // nothing.
                let asked = seen();
                let outcome = handshake(
                    c,
                    Box::new(|s: &mut Socket| {
                        let mut config = tls12(client_config());
                        config.peer_verify_mode = PeerVerifyMode::VerifyNone;
                        s.set_ssl_configuration(config);
                    }),
                    s,
                    psk_server(KEY, asked.clone()),
                );
                check(outcome.client.is_err() && outcome.server.is_err(), || {
                    "a client without a handler completed a PSK handshake".into()
                })?;
                check(taken(&asked).is_empty(), || {
                    "the server's handler was asked".into()
                })
            },
        ),
        Case::pair(
            "psk/handler_without_a_key_fails_saying_so",
            psk(),
            psk(),
            |c, s| {
                let outcome = handshake(
                    c,
                    client_with(PeerVerifyMode::VerifyNone, |auth| {
                        auth.set_identity(IDENTITY.to_vec());
                    }),
                    s,
                    psk_server(KEY, seen()),
                );
                let client = message(&outcome.client);
                check(client.contains("no pre-shared key was given"), || {
                    format!("client: {client}")
                })?;
                check(outcome.server.is_err(), || "the server accepted".into())
            },
        ),
        Case::pair(
            "psk/identity_longer_than_the_maximum_fails_saying_so",
            psk(),
            psk(),
            |c, s| {
                let outcome = handshake(
                    c,
                    client_with(PeerVerifyMode::VerifyNone, |auth| {
                        auth.set_identity(vec![b'x'; auth.maximum_identity_length() + 1]);
                        auth.set_pre_shared_key(KEY.to_vec());
                    }),
                    s,
                    psk_server(KEY, seen()),
                );
                let client = message(&outcome.client);
                check(client.contains("more than the"), || {
                    format!("client: {client}")
                })?;
                check(outcome.server.is_err(), || "the server accepted".into())
            },
        ),
        Case::pair(
            "psk/verify_peer_reports_no_peer_certificate",
            psk(),
            psk(),
            |c, s| {
                // A client that verifies (the default) gets Qt's NoPeerCertificate for a PSK
                // session: refused unless that error is ignored, and accepted when it is.
                let refused = handshake(
                    c,
                    psk_client(PeerVerifyMode::VerifyPeer, IDENTITY.to_vec(), KEY, seen()),
                    s,
                    psk_server(KEY, seen()),
                );
                match &refused.client {
                    Err(Error::Verification(errors))
                        if errors
                            .iter()
                            .map(SslError::kind)
                            .eq([SslErrorKind::NoPeerCertificate]) => {}
                    other => {
                        return Err(format!(
                            "expected NoPeerCertificate, got {}",
                            other
                                .as_ref()
                                .map_or_else(|e| e.to_string(), |_| "success".into())
                        ))
                    }
                }
                let client_setup =
                    psk_client(PeerVerifyMode::VerifyPeer, IDENTITY.to_vec(), KEY, seen());
                let (client, _server) = handshake(
                    c,
                    Box::new(move |s: &mut Socket| {
                        client_setup(s);
                        s.ignore_ssl_errors_list(&[SslError::new(SslErrorKind::NoPeerCertificate)]);
                    }),
                    s,
                    psk_server(KEY, seen()),
                )
                .both()?;
                check(client.pre_shared_key_identity() == Some(IDENTITY), || {
                    "the accepted session is not a PSK one".into()
                })
            },
        ),
        Case::pair(
            "psk/certificate_handshake_never_asks_the_handler",
            psk(),
            psk(),
            |c, s| {
                // Both sides have handlers; TLS 1.3 (the default) and a TLS 1.2 server that prefers
                // certificate suites authenticate by certificate, verified as always.
                for protocol in [SslProtocol::SecureProtocols, SslProtocol::TlsV1_2] {
                    let asked = seen();
                    let (client_asked, server_asked) = (asked.clone(), asked.clone());
                    let (client, _server) = handshake(
                        c,
                        Box::new(move |sock: &mut Socket| {
                            let mut config = client_config();
                            config.protocol = protocol;
                            sock.set_ssl_configuration(config);
                            sock.on_pre_shared_key_authentication_required(move |auth| {
                                client_asked
                                    .lock()
                                    .unwrap()
                                    .push((auth.identity_hint().to_vec(), 0));
                                auth.set_pre_shared_key(KEY.to_vec());
                            });
                        }),
                        s,
                        Box::new(move |sock: &mut Socket| {
                            let mut config = server_config(&Pki::get().server);
                            config.ciphers = Some(
                                [
                                    "TLS_AES_128_GCM_SHA256",
                                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_PSK_WITH_AES_128_GCM_SHA256",
                                ]
                                .iter()
                                .filter_map(|n| SslCipher::from_name(n))
                                .collect(),
                            );
                            sock.set_ssl_configuration(config);
                            sock.on_pre_shared_key_authentication_required(move |auth| {
                                server_asked
                                    .lock()
                                    .unwrap()
                                    .push((auth.identity().to_vec(), 0));
                                auth.set_pre_shared_key(KEY.to_vec());
                            });
                        }),
                    )
                    .both()?;
                    check(taken(&asked).is_empty(), || {
                        format!("{protocol}: a handler was asked: {:?}", taken(&asked))
                    })?;
                    check(
                        client.pre_shared_key_identity().is_none()
                            && client.peer_certificate().is_some(),
                        || format!("{protocol}: not a certificate session"),
                    )?;
                }
                Ok(())
            },
        ),
        Case::pair(
            "psk/panicking_handler_refuses_and_panics_on",
            psk(),
            psk(),
            panicking_handler,
        ),
        Case::single(
            "psk/external/openssl_s_server",
            psk().and_tool("openssl"),
            against_s_server,
        ),
        Case::single(
            "psk/external/openssl_s_client",
            psk().and_tool("openssl"),
            against_s_client,
        ),
        Case::single(
            "psk/external/gnutls_serv",
            psk().and_tool("gnutls-serv"),
            against_gnutls_serv,
        ),
        Case::single(
            "psk/external/gnutls_cli",
            psk().and_tool("gnutls-cli"),
            against_gnutls_cli,
        ),
        Case::single(
            "psk/external/tls13_external_psk_is_declined",
            psk().and_protocol(SslProtocol::TlsV1_3).and_tool("openssl"),
            tls13_external_psk_is_declined,
        ),
    ]
}

/// A client whose PSK handler panics: the handshake is refused with an alert the server
/// receives, and the panic reaches the caller.
fn panicking_handler(c: &str, s: &str) -> Result<(), String> {
    let (client_stream, server_stream) = tcp_pair()?;
    let s = s.to_owned();
    let server = crate::frontend::spawn(move || -> Result<(), Error> {
        let mut socket = Socket::with_backend(server_stream, &s)?;
        psk_server(KEY, seen())(&mut socket);
        socket.start_server_encryption()?;
        socket.handshake()
    });
    let mut socket = Socket::with_backend(client_stream, c).map_err(|e| e.to_string())?;
    client_with(PeerVerifyMode::VerifyNone, |_| {
        panic!("psk handler panicked")
    })(&mut socket);
    let result = catch_unwind(AssertUnwindSafe(|| {
        socket
            .start_client_encryption()
            .and_then(|()| socket.handshake())
    }));
    let server = server
        .join()
        .map_err(|_| "the server thread panicked".to_string())?;
    match result {
        Err(payload) => check(
            payload.downcast_ref::<&str>() == Some(&"psk handler panicked"),
            || "another panic reached the caller".into(),
        )?,
        Ok(outcome) => return Err(format!("no panic reached the caller: {outcome:?}")),
    }
    match server {
        Err(Error::Handshake { alert: Some(_), .. }) => Ok(()),
        other => Err(format!("the server received no alert: {other:?}")),
    }
}

/// Checks that a session (named `side`) has the PSK `identity` wanted and a PSK-authenticated
/// `cipher`.
pub(super) fn is_psk_session(
    side: &str,
    identity: Option<&[u8]>,
    cipher: Option<SslCipher>,
    wanted: &[u8],
) -> Result<(), String> {
    check(identity == Some(wanted), || {
        format!("{side} identity {identity:?}")
    })?;
    let cipher = cipher.ok_or_else(|| format!("{side} has no cipher"))?;
    check(cipher.authentication_method() == "PSK", || {
        format!("{side} negotiated {cipher}")
    })
}

/// The arguments that make `openssl s_server` speak only PSK suites with `key`, sending `hint`
/// and expecting `identity`.
pub(super) fn s_server_args(key: &[u8], hint: &[u8], identity: &[u8]) -> Vec<String> {
    let mut args = vec![
        "-cipher".to_owned(),
        "PSK".to_owned(),
        "-psk".to_owned(),
        hex(key),
    ];
    args.extend(["-psk_hint", text(hint), "-psk_identity", text(identity)].map(str::to_owned));
    args
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// A polytls client against `openssl s_server -psk` (PSK suites only, expecting [`IDENTITY`]):
/// its handler sees the server's hint, and data goes both ways.
fn against_s_server(b: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let args = s_server_args(KEY, HINT, IDENTITY);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_peer, port) = super::external::s_server(&dir, ProtocolVersion::Tls1_2, &args)?;
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    client_exchange(b, stream, b"ksp olleh\n", "s_server")
}

/// The GnuTLS priority string of TLS 1.2 with plain PSK key exchange only.
const GNUTLS_PSK: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK";

/// A polytls client against `gnutls-serv --pskpasswd` (plain PSK key exchange only, TLS
/// 1.2, sending [`HINT`], knowing [`IDENTITY`]): its handler sees the hint, and the line it
/// sends comes back.
fn against_gnutls_serv(b: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let passwd = dir.write(
        "psk.passwd",
        format!("{}:{}\n", text(IDENTITY), hex(KEY)).as_bytes(),
    )?;
    let (_peer, stream) = super::external::start_gnutls_serv(&[
        "--priority".into(),
        GNUTLS_PSK.into(),
        format!("--pskpasswd={}", passwd.display()),
        format!("--pskhint={}", text(HINT)),
    ])?;
    client_exchange(b, stream, b"hello psk\n", "gnutls-serv")
}

/// A polytls PSK client over `stream` to an external server (`peer` names it): its handler
/// records the hint and gives [`IDENTITY`] and [`KEY`]; it writes a line and expects `reply`.
fn client_exchange(b: &str, stream: TcpStream, reply: &[u8], peer: &str) -> Result<(), String> {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
    let mut config = tls12(client_config());
    config.peer_verify_mode = PeerVerifyMode::VerifyNone;
    socket.set_ssl_configuration(config);
    let hints = seen();
    let recorded = hints.clone();
    socket.on_pre_shared_key_authentication_required(move |auth| {
        recorded
            .lock()
            .unwrap()
            .push((auth.identity_hint().to_vec(), 0));
        auth.set_identity(IDENTITY.to_vec());
        auth.set_pre_shared_key(KEY.to_vec());
    });
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    socket
        .write_all(b"hello psk\n")
        .map_err(|e| format!("write: {e}"))?;
    socket
        .flush()
        .map_err(|e| format!("handshake with {peer}: {e}"))?;
    let mut got = vec![0u8; reply.len()];
    socket
        .read_exact(&mut got)
        .map_err(|e| format!("read: {e}"))?;
    check(got == reply, || {
        format!("{peer} replied {:?}", String::from_utf8_lossy(&got))
    })?;
    check(taken(&hints) == [(HINT.to_vec(), 0)], || {
        format!("the handler saw {:?}", taken(&hints))
    })?;
    check(socket.pre_shared_key_identity() == Some(IDENTITY), || {
        "not a PSK session".into()
    })?;
    is_psk_session(
        "the client",
        socket.pre_shared_key_identity(),
        socket.session_cipher(),
        IDENTITY,
    )?;
    socket.close().map_err(|e| e.to_string())
}

/// `gnutls-cli --pskusername --pskkey` (plain PSK key exchange only, TLS 1.2) against a
/// polytls server without a certificate: the server's handler sees the identity gnutls-cli
/// sends and gives the key; a line goes each way.
fn against_gnutls_cli(b: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let log = dir.path().join("gnutls-cli.log");
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let key = hex(KEY);
    let psk = ["--pskusername", text(IDENTITY), "--pskkey", &key];
    let mut child = super::external::spawn_gnutls_cli(&psk, port, GNUTLS_PSK, &ca, &log)?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let _peer = super::external::Peer(child);
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = Socket::with_backend(stream, b).map_err(|e| e.to_string())?;
    let asked = seen();
    psk_server(KEY, asked.clone())(&mut socket);
    socket
        .start_server_encryption()
        .map_err(|e| e.to_string())?;
    stdin
        .write_all(b"ping over psk\n")
        .map_err(|e| e.to_string())?;
    stdin.flush().map_err(|e| e.to_string())?;
    let mut request = [0u8; 14];
    socket.read_exact(&mut request).map_err(|e| {
        format!(
            "read from gnutls-cli: {e}; gnutls-cli said: {}",
            said().trim()
        )
    })?;
    check(&request == b"ping over psk\n", || {
        format!("got {:?}", String::from_utf8_lossy(&request))
    })?;
    check(taken(&asked) == [(IDENTITY.to_vec(), 0)], || {
        format!("the handler saw {:?}", taken(&asked))
    })?;
    is_psk_session(
        "the server",
        socket.pre_shared_key_identity(),
        socket.session_cipher(),
        IDENTITY,
    )?;
    socket
        .write_all(b"pong over psk\n")
        .map_err(|e| e.to_string())?;
    socket.flush().map_err(|e| e.to_string())?;
    let mut out = [0u8; 14];
    stdout
        .read_exact(&mut out)
        .map_err(|e| format!("gnutls-cli output: {e}; gnutls-cli said: {}", said().trim()))?;
    check(&out == b"pong over psk\n", || {
        format!("gnutls-cli printed {:?}", String::from_utf8_lossy(&out))
    })?;
    socket.close().map_err(|e| e.to_string())
}

/// `openssl s_client -psk` against a polytls server without a certificate: the server's
/// handler sees the identity s_client sends and gives the key; data goes both ways.
fn against_s_client(b: &str) -> Result<(), String> {
    let asked = seen();
    let (protocol, identity) = s_client_exchange(b, "-tls1_2", psk_server(KEY, asked.clone()))?;
    check(protocol == SslProtocol::TlsV1_2, || {
        format!("negotiated {protocol}")
    })?;
    check(identity.as_deref() == Some(IDENTITY), || {
        format!("identity {identity:?}")
    })?;
    check(taken(&asked) == [(IDENTITY.to_vec(), 0)], || {
        format!("the handler saw {:?}", taken(&asked))
    })
}

/// `openssl s_client -tls1_3 -psk` offers an external TLS 1.3 PSK to a polytls server that has
/// a handler and a certificate: the offer is declined (PSK is TLS 1.2 only, as in Qt), the
/// handler is never asked, and the handshake authenticates the server by its certificate.
fn tls13_external_psk_is_declined(b: &str) -> Result<(), String> {
    let asked = seen();
    let recorded = asked.clone();
    let setup: Setup = Box::new(move |s: &mut Socket| {
        s.set_ssl_configuration(server_config(&Pki::get().server));
        s.on_pre_shared_key_authentication_required(move |auth| {
            recorded.lock().unwrap().push((auth.identity().to_vec(), 0));
            auth.set_pre_shared_key(KEY.to_vec());
        });
    });
    let (protocol, identity) = s_client_exchange(b, "-tls1_3", setup)?;
    check(protocol == SslProtocol::TlsV1_3, || {
        format!("negotiated {protocol}")
    })?;
    check(identity.is_none(), || {
        format!("a PSK session: {identity:?}")
    })?;
    check(taken(&asked).is_empty(), || {
        format!("the handler was asked: {:?}", taken(&asked))
    })
}

/// `openssl s_client <version> -psk` (identity [`IDENTITY`], key [`KEY`]) against a polytls
/// server set up by `setup`: a line each way. Returns the session's protocol and PSK identity.
fn s_client_exchange(
    b: &str,
    version: &str,
    setup: Setup,
) -> Result<(SslProtocol, Option<Vec<u8>>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let key = hex(KEY);
    let mut peer = SClient::start(
        port,
        [version, "-psk", &key, "-psk_identity", text(IDENTITY)],
    )?;
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = Socket::with_backend(stream, b).map_err(|e| e.to_string())?;
    setup(&mut socket);
    socket
        .start_server_encryption()
        .map_err(|e| e.to_string())?;
    peer.stdin
        .write_all(b"ping over psk\n")
        .map_err(|e| e.to_string())?;
    peer.stdin.flush().map_err(|e| e.to_string())?;
    let mut request = [0u8; 14];
    if let Err(e) = socket.read_exact(&mut request) {
        return Err(format!(
            "read from s_client: {e}; s_client said: {}",
            peer.said()
        ));
    }
    check(&request == b"ping over psk\n", || {
        format!("got {:?}", String::from_utf8_lossy(&request))
    })?;
    let facts = (
        socket.session_protocol(),
        socket.pre_shared_key_identity().map(<[u8]>::to_vec),
    );
    socket
        .write_all(b"pong over psk\n")
        .map_err(|e| e.to_string())?;
    socket.close().map_err(|e| e.to_string())?;
    drop(socket);
    let (output, status) = peer.finish()?;
    check(output.contains("pong over psk") && status.success(), || {
        format!("s_client printed {output:?} and exited with {status}")
    })?;
    Ok(facts)
}
