//! Verification: each problem a peer can have is reported as the same [`SslError`]s (kind and
//! certificate) by every backend; the handshake fails unless exactly those errors are ignored;
//! handlers see them during the handshake; and the four peer verify modes behave as Qt's, on
//! both sides.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::io::Read;

use polytls::{
    AlertType, Certificate, Error, PeerVerifyMode, SslConfiguration, SslError, SslErrorKind,
    SslProtocol, SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::harness::{
    check, client_config, configure, handshake, server_config, verification_kinds, with_identity,
    Setup, Socket,
};
use crate::pki::{Identity, Pki};

type Pick = fn(&Pki) -> &Identity;
type PickCert = fn(&Pki) -> &Certificate;

/// A server presenting `identity` to a client verifying `name`, which must find `errors`.
pub(super) struct Situation {
    pub(super) name: &'static str,
    pub(super) identity: Pick,
    pub(super) verify_name: &'static str,
    errors: &'static [(SslErrorKind, PickCert)],
}

pub(super) const SITUATIONS: &[Situation] = &[
    Situation {
        name: "self_signed",
        identity: |p| &p.self_signed,
        verify_name: "localhost",
        errors: &[(SslErrorKind::SelfSignedCertificate, |p| {
            p.self_signed.leaf()
        })],
    },
    Situation {
        name: "untrusted_root_in_chain",
        identity: |p| &p.untrusted_chain,
        verify_name: "localhost",
        errors: &[(SslErrorKind::SelfSignedCertificateInChain, |p| {
            &p.untrusted_root
        })],
    },
    Situation {
        name: "unknown_issuer",
        identity: |p| &p.unknown_issuer,
        verify_name: "localhost",
        errors: &[(SslErrorKind::UnableToGetLocalIssuerCertificate, |p| {
            p.unknown_issuer.leaf()
        })],
    },
    Situation {
        name: "expired",
        identity: |p| &p.expired,
        verify_name: "localhost",
        errors: &[(SslErrorKind::CertificateExpired, |p| p.expired.leaf())],
    },
    Situation {
        name: "not_yet_valid",
        identity: |p| &p.not_yet_valid,
        verify_name: "localhost",
        errors: &[(SslErrorKind::CertificateNotYetValid, |p| {
            p.not_yet_valid.leaf()
        })],
    },
    Situation {
        name: "host_name_mismatch",
        identity: |p| &p.wrong_name,
        verify_name: "localhost",
        errors: &[(SslErrorKind::HostNameMismatch, |p| p.wrong_name.leaf())],
    },
    Situation {
        name: "ip_address_mismatch",
        identity: |p| &p.server,
        verify_name: "127.0.0.2",
        errors: &[(SslErrorKind::HostNameMismatch, |p| p.server.leaf())],
    },
    Situation {
        name: "expired_and_host_name_mismatch",
        identity: |p| &p.expired_wrong_name,
        verify_name: "localhost",
        errors: &[
            (SslErrorKind::CertificateExpired, |p| {
                p.expired_wrong_name.leaf()
            }),
            (SslErrorKind::HostNameMismatch, |p| {
                p.expired_wrong_name.leaf()
            }),
        ],
    },
];

pub(super) fn expected(situation: &Situation) -> Vec<SslError> {
    let pki = Pki::get();
    situation
        .errors
        .iter()
        .map(|(kind, cert)| SslError::with_certificate(*kind, cert(pki).clone()))
        .collect()
}

pub(super) fn same_errors(found: &[SslError], wanted: &[SslError]) -> bool {
    found.len() == wanted.len() && wanted.iter().all(|w| found.contains(w))
}

/// The polytls error inside an I/O error from a socket's `Read` or `Write`.
pub(super) fn polytls_error(e: std::io::Error) -> Result<Error, String> {
    match crate::frontend::polytls_error(e) {
        Error::Io(e) => Err(format!("not a polytls error: {e}")),
        inner => Ok(inner),
    }
}

pub(super) fn describe(errors: &[SslError]) -> String {
    let items: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{:?}({})",
                e.kind(),
                e.certificate()
                    .map_or("-".into(), |c| c.subject_display_name())
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The client setup for a situation, plus `extra`.
fn client_setup(
    situation: &'static Situation,
    extra: impl FnOnce(&mut Socket) + Send + 'static,
) -> Setup {
    Box::new(move |s: &mut Socket| {
        s.set_ssl_configuration(client_config());
        s.set_peer_verify_name(situation.verify_name);
        extra(s);
    })
}

fn server_for(situation: &Situation) -> Setup {
    configure(server_config((situation.identity)(Pki::get())))
}

fn verification_needs() -> Needs {
    Needs::feature(SupportedFeature::CertificateVerification)
}

fn situation_cases(situation: &'static Situation) -> Vec<Case> {
    let name = situation.name;
    let mut cases = Vec::new();
    cases.push(Case::pair(
        format!("verification/{name}/refused"),
        verification_needs(),
        Needs::socket(),
        move |c, s| {
            let result = handshake(c, client_setup(situation, |_| {}), s, server_for(situation));
            let wanted = expected(situation);
            match &result.client {
                Err(polytls::Error::Verification(found)) => {
                    check(same_errors(found, &wanted), || {
                        format!("expected {}, found {}", describe(&wanted), describe(found))
                    })?
                }
                _ => return Err(format!("client: {:?}", verification_kinds(&result.client))),
            }
            check(result.server.is_err(), || {
                "the server did not see the handshake fail".into()
            })
        },
    ));
    cases.push(Case::pair(
        format!("verification/{name}/ignored_by_list"),
        verification_needs(),
        Needs::socket(),
        move |c, s| {
            let wanted = expected(situation);
            let list = wanted.clone();
            let setup = client_setup(situation, move |s| s.ignore_ssl_errors_list(&list));
            let result = handshake(c, setup, s, server_for(situation));
            let (client, _server) = result.both()?;
            let found = client.ssl_handshake_errors();
            check(same_errors(&found, &wanted), || {
                format!(
                    "ssl_handshake_errors: expected {}, found {}",
                    describe(&wanted),
                    describe(&found)
                )
            })
        },
    ));
    cases.push(Case::pair(
        format!("verification/{name}/other_error_ignored"),
        verification_needs(),
        Needs::socket(),
        move |c, s| {
            // The right kind for the wrong certificate, and a kind that does not occur.
            let pki = Pki::get();
            let decoys: Vec<SslError> = expected(situation)
                .iter()
                .map(|e| SslError::with_certificate(e.kind(), pki.client.leaf().clone()))
                .chain([SslError::new(SslErrorKind::CertificateRevoked)])
                .collect();
            let setup = client_setup(situation, move |s| s.ignore_ssl_errors_list(&decoys));
            let result = handshake(c, setup, s, server_for(situation));
            verification_kinds(&result.client).map(|_| ())
        },
    ));
    cases.push(Case::pair(
        format!("verification/{name}/handler"),
        verification_needs(),
        Needs::socket(),
        move |c, s| {
            let per_error = Arc::new(AtomicUsize::new(0));
            let listed = Arc::new(AtomicUsize::new(0));
            let (p, l) = (per_error.clone(), listed.clone());
            let setup = client_setup(situation, move |s| {
                s.on_peer_verify_error(move |_| {
                    p.fetch_add(1, Ordering::SeqCst);
                });
                s.on_ssl_errors(move |decision| {
                    l.fetch_add(decision.errors().len(), Ordering::SeqCst);
                    decision.ignore_all();
                });
            });
            let result = handshake(c, setup, s, server_for(situation));
            let (client, _server) = result.both()?;
            let n = expected(situation).len();
            check(
                per_error.load(Ordering::SeqCst) == n && listed.load(Ordering::SeqCst) == n,
                || {
                    format!(
                        "expected {n} errors in each handler, got {} per-error and {} listed",
                        per_error.load(Ordering::SeqCst),
                        listed.load(Ordering::SeqCst)
                    )
                },
            )?;
            check(client.is_encrypted(), || {
                "not encrypted after ignoring".into()
            })
        },
    ));
    cases
}

/// The client's verify mode against an untrusted (self-signed) server.
fn client_mode_case(mode: PeerVerifyMode) -> Case {
    let verifies = matches!(
        mode,
        PeerVerifyMode::VerifyPeer | PeerVerifyMode::AutoVerifyPeer
    );
    let needs = if verifies {
        verification_needs()
    } else {
        Needs::socket()
    };
    Case::pair(
        format!("verify_mode/client/{mode}"),
        needs,
        Needs::socket(),
        move |c, s| {
            let setup = Box::new(move |sock: &mut Socket| {
                sock.set_ssl_configuration(SslConfiguration {
                    peer_verify_mode: mode,
                    ..client_config()
                });
            });
            let result = handshake(
                c,
                setup,
                s,
                configure(server_config(&Pki::get().self_signed)),
            );
            if verifies {
                let kinds = verification_kinds(&result.client)?;
                check(kinds == [SslErrorKind::SelfSignedCertificate], || {
                    format!("found {kinds:?}")
                })
            } else {
                let (client, _) = result.both()?;
                check(client.ssl_handshake_errors().is_empty(), || {
                    format!(
                        "{mode} reported errors: {}",
                        describe(&client.ssl_handshake_errors())
                    )
                })?;
                check(
                    client.peer_certificate() == Some(Pki::get().self_signed.leaf()),
                    || "the server's certificate is not available".into(),
                )
            }
        },
    )
}

#[derive(Clone, Copy)]
enum ClientCert {
    None,
    Trusted,
    Untrusted,
}

/// The server's verify mode against a client with no, a trusted, or an untrusted certificate.
fn server_mode_case(mode: PeerVerifyMode, cert: ClientCert) -> Case {
    let label = match cert {
        ClientCert::None => "no_certificate",
        ClientCert::Trusted => "trusted_certificate",
        ClientCert::Untrusted => "untrusted_certificate",
    };
    let verifies = mode == PeerVerifyMode::VerifyPeer;
    let server_needs = match mode {
        PeerVerifyMode::VerifyPeer => verification_needs(),
        PeerVerifyMode::QueryPeer | PeerVerifyMode::AutoVerifyPeer => {
            Needs::socket().and_feature(SupportedFeature::OptionalClientCertificate)
        }
        PeerVerifyMode::VerifyNone => Needs::socket(),
    };
    Case::pair(
        format!("verify_mode/server/{mode}/{label}"),
        Needs::socket(),
        server_needs,
        move |c, s| {
            let pki = Pki::get();
            let client_conf = match cert {
                ClientCert::None => client_config(),
                ClientCert::Trusted => with_identity(client_config(), &pki.client),
                ClientCert::Untrusted => with_identity(client_config(), &pki.client_self_signed),
            };
            let server_conf = SslConfiguration {
                peer_verify_mode: mode,
                ..server_config(&pki.server)
            };
            let result = handshake(c, configure(client_conf), s, configure(server_conf));
            let expected_peer = match (mode, cert) {
                (PeerVerifyMode::VerifyNone, _) | (_, ClientCert::None) => None,
                (_, ClientCert::Trusted) => Some(pki.client.leaf()),
                (_, ClientCert::Untrusted) => Some(pki.client_self_signed.leaf()),
            };
            match (verifies, cert) {
                (true, ClientCert::None) => {
                    let kinds = verification_kinds(&result.server)?;
                    check(kinds == [SslErrorKind::NoPeerCertificate], || {
                        format!("server found {kinds:?}")
                    })
                }
                (true, ClientCert::Untrusted) => {
                    let kinds = verification_kinds(&result.server)?;
                    check(kinds == [SslErrorKind::SelfSignedCertificate], || {
                        format!("server found {kinds:?}")
                    })
                }
                _ => {
                    let (_client, server) = result.both()?;
                    check(server.peer_certificate() == expected_peer, || {
                        format!(
                            "server sees client certificate {:?}, expected {:?}",
                            server
                                .peer_certificate()
                                .map(Certificate::subject_display_name),
                            expected_peer.map(Certificate::subject_display_name)
                        )
                    })?;
                    check(server.ssl_handshake_errors().is_empty(), || {
                        format!(
                            "server reported {}",
                            describe(&server.ssl_handshake_errors())
                        )
                    })
                }
            }
        },
    )
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = SITUATIONS.iter().flat_map(situation_cases).collect();
    cases.push(Case::pair(
        "verification/ip_address_matches",
        verification_needs(),
        Needs::socket(),
        |c, s| {
            let setup = Box::new(|sock: &mut Socket| {
                sock.set_ssl_configuration(client_config());
                sock.set_peer_verify_name("127.0.0.1");
            });
            let result = handshake(c, setup, s, configure(server_config(&Pki::get().server)));
            result.both().map(|_| ())
        },
    ));
    cases.push(Case::pair(
        "verification/system_roots_by_default",
        verification_needs(),
        Needs::socket(),
        |c, s| {
            // With no CA certificates configured the system's roots are used, and they do not
            // know the test root.
            let backend = polytls::Registry::global()
                .backend(Some(c))
                .map_err(|e| e.to_string())?;
            let roots = backend
                .system_ca_certificates()
                .map_err(|e| e.to_string())?;
            check(!roots.contains(&Pki::get().root), || {
                "the test root is a system root".into()
            })?;
            let setup = Box::new(|sock: &mut Socket| {
                sock.set_ssl_configuration(SslConfiguration::default());
                sock.set_peer_verify_name("localhost");
            });
            let result = handshake(c, setup, s, configure(server_config(&Pki::get().server)));
            let kinds = verification_kinds(&result.client)?;
            check(
                kinds == [SslErrorKind::UnableToGetLocalIssuerCertificate],
                || format!("found {kinds:?}"),
            )
        },
    ));
    for mode in PeerVerifyMode::ALL {
        cases.push(client_mode_case(mode));
        for cert in [ClientCert::None, ClientCert::Trusted, ClientCert::Untrusted] {
            cases.push(server_mode_case(mode, cert));
        }
    }
    cases.push(Case::pair(
        "verify_mode/server/VerifyPeer/missing_certificate_ignored",
        Needs::socket(),
        verification_needs(),
        |c, s| {
            let setup = Box::new(|sock: &mut Socket| {
                let config = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    ..server_config(&Pki::get().server)
                };
                sock.set_ssl_configuration(config);
                sock.ignore_ssl_errors_list(&[SslError::new(SslErrorKind::NoPeerCertificate)]);
            });
            let result = handshake(c, configure(client_config()), s, setup);
            let (_client, server) = result.both()?;
            let found = server.ssl_handshake_errors();
            let wanted = [SslError::new(SslErrorKind::NoPeerCertificate)];
            check(same_errors(&found, &wanted), || {
                format!("server found {}", describe(&found))
            })
        },
    ));
    // The alerts a server may refuse a client without a certificate with. TLS 1.2 has no
    // certificate_required: OpenSSL sends handshake_failure; rustls sends TLS 1.3's
    // certificate_required in both versions (a fatal alert either way), which is documented.
    const TLS12: &[AlertType] = &[AlertType::HandshakeFailure, AlertType::CertificateRequired];
    const TLS13: &[AlertType] = &[AlertType::CertificateRequired];
    for (protocol, alerts) in [(SslProtocol::TlsV1_2, TLS12), (SslProtocol::TlsV1_3, TLS13)] {
        // Nothing can accept the missing certificate: the server refuses the client inside
        // the handshake with an alert, not with close_notify afterwards.
        cases.push(Case::pair(
            format!("verify_mode/server/VerifyPeer/missing_certificate_refused_with_an_alert/{protocol}"),
            Needs::protocol(protocol),
            verification_needs().and_protocol(protocol),
            move |c, s| {
                let client = SslConfiguration {
                    protocol,
                    ..client_config()
                };
                let server = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    ..server_config(&Pki::get().server)
                };
                let result = handshake(c, configure(client), s, configure(server));
                let kinds = verification_kinds(&result.server)?;
                check(kinds == [SslErrorKind::NoPeerCertificate], || {
                    format!("server found {kinds:?}")
                })?;
                // A TLS 1.3 client finishes first and meets the alert on its first read.
                let received = match result.client {
                    Err(e) => e,
                    Ok(mut socket) => {
                        let mut buf = [0u8; 16];
                        match socket.read(&mut buf) {
                            Ok(n) => return Err(format!("the client read {n} bytes")),
                            Err(e) => polytls_error(e)?,
                        }
                    }
                };
                match received {
                    Error::Handshake { alert: Some(a), .. } if alerts.contains(&a) => Ok(()),
                    other => Err(format!("the client got {other:?}, expected one of {alerts:?}")),
                }
            },
        ));
    }
    cases.push(Case::pair(
        "verify_mode/server/VerifyPeer/missing_certificate_is_fatal",
        Needs::socket(),
        verification_needs(),
        |c, s| {
            let setup = Box::new(|sock: &mut Socket| {
                let config = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    missing_certificate_is_fatal: true,
                    ..server_config(&Pki::get().server)
                };
                sock.set_ssl_configuration(config);
                sock.ignore_ssl_errors();
            });
            let result = handshake(c, configure(client_config()), s, setup);
            let kinds = verification_kinds(&result.server)?;
            check(kinds == [SslErrorKind::NoPeerCertificate], || {
                format!("server found {kinds:?}")
            })
        },
    ));
    cases
}
