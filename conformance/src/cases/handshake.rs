//! Handshakes: one per claimed protocol version, Qt's protocol matrix (which selector pairs
//! must connect, at which version, and which must fail), cipher restriction, and events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use polytls::{ProtocolVersion, SslCipher, SslMode, SslProtocol};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, configure, handshake, server_config};
use crate::pki::Pki;

/// The TLS selectors (every member but the DTLS ones and `UnknownProtocol`), in Qt's order.
fn tls_selectors() -> impl Iterator<Item = SslProtocol> {
    SslProtocol::ALL
        .into_iter()
        .filter(|p| !p.is_dtls() && *p != SslProtocol::UnknownProtocol)
}

/// The exact versions `backend` claims.
fn versions_of(backend: &str) -> Vec<ProtocolVersion> {
    let claimed = polytls::supported_protocols(Some(backend));
    ProtocolVersion::TLS
        .into_iter()
        .filter(|v| claimed.contains(&v.exact()))
        .collect()
}

/// The version a client and server must agree on, or `None` when they must fail.
fn expected_version(
    client: &str,
    cp: SslProtocol,
    server: &str,
    sp: SslProtocol,
) -> Option<ProtocolVersion> {
    let client_versions = cp.tls_versions(&versions_of(client));
    let server_versions = sp.tls_versions(&versions_of(server));
    client_versions
        .into_iter()
        .filter(|v| server_versions.contains(v))
        .max()
}

fn run_protocols(
    client: &str,
    cp: SslProtocol,
    server: &str,
    sp: SslProtocol,
) -> Result<(), String> {
    let expected = expected_version(client, cp, server, sp);
    let client_conf = polytls::SslConfiguration {
        protocol: cp,
        ..client_config()
    };
    let server_conf = polytls::SslConfiguration {
        protocol: sp,
        ..server_config(&Pki::get().server)
    };
    let result = handshake(
        client,
        configure(client_conf),
        server,
        configure(server_conf),
    );
    match (expected, result.both()) {
        (Some(version), Ok((c, s))) => {
            let want = version.exact();
            check(
                c.session_protocol() == want && s.session_protocol() == want,
                || {
                    format!(
                        "expected {want}, client saw {}, server saw {}",
                        c.session_protocol(),
                        s.session_protocol()
                    )
                },
            )?;
            check(
                c.session_cipher().is_some() && c.session_cipher() == s.session_cipher(),
                || {
                    format!(
                        "cipher mismatch: client {:?}, server {:?}",
                        c.session_cipher(),
                        s.session_cipher()
                    )
                },
            )
        }
        (Some(version), Err(e)) => Err(format!("expected {version} to be negotiated, but {e}")),
        (None, Ok((c, _))) => Err(format!(
            "expected failure, but {} was negotiated",
            c.session_protocol()
        )),
        (None, Err(_)) => Ok(()),
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for version in ProtocolVersion::TLS {
        let p = version.exact();
        cases.push(Case::pair(
            format!("handshake/{p}"),
            Needs::protocol(p),
            Needs::protocol(p),
            move |client, server| {
                let result = handshake(
                    client,
                    configure(polytls::SslConfiguration {
                        protocol: p,
                        ..client_config()
                    }),
                    server,
                    configure(polytls::SslConfiguration {
                        protocol: p,
                        ..server_config(&Pki::get().server)
                    }),
                );
                let (c, s) = result.both()?;
                check(c.is_encrypted() && s.is_encrypted(), || {
                    "not encrypted".into()
                })?;
                check(
                    c.session_protocol() == p && s.session_protocol() == p,
                    || {
                        format!(
                            "negotiated {} / {} instead of {p}",
                            c.session_protocol(),
                            s.session_protocol()
                        )
                    },
                )?;
                check(
                    c.peer_certificate() == Some(Pki::get().server.leaf()),
                    || "the client does not see the server's certificate".into(),
                )?;
                check(
                    c.mode() == SslMode::SslClientMode && s.mode() == SslMode::SslServerMode,
                    || format!("modes {:?} / {:?}", c.mode(), s.mode()),
                )?;
                check(c.ssl_handshake_errors().is_empty(), || {
                    format!("unexpected errors: {:?}", c.ssl_handshake_errors())
                })
            },
        ));
    }
    for sp in tls_selectors() {
        for cp in tls_selectors() {
            cases.push(Case::pair(
                format!("protocols/server_{sp}/client_{cp}"),
                Needs::protocol(cp),
                Needs::protocol(sp),
                move |client, server| run_protocols(client, cp, server, sp),
            ));
        }
    }
    cases.push(Case::pair(
        "handshake/cipher_restriction",
        Needs::protocol(SslProtocol::TlsV1_3),
        Needs::protocol(SslProtocol::TlsV1_3),
        |client, server| {
            let wanted = SslCipher::from_name("TLS_AES_256_GCM_SHA384").ok_or("unknown suite")?;
            let restrict = |mut c: polytls::SslConfiguration| {
                c.protocol = SslProtocol::TlsV1_3;
                c.ciphers = Some(vec![wanted]);
                c
            };
            let result = handshake(
                client,
                configure(restrict(client_config())),
                server,
                configure(restrict(server_config(&Pki::get().server))),
            );
            let (c, s) = result.both()?;
            check(
                c.session_cipher().map(|x| x.id()) == Some(wanted.id()),
                || format!("client negotiated {:?}", c.session_cipher()),
            )?;
            check(
                s.session_cipher().map(|x| x.id()) == Some(wanted.id()),
                || format!("server negotiated {:?}", s.session_cipher()),
            )
        },
    ));
    cases.push(Case::pair(
        "handshake/events",
        Needs::socket(),
        Needs::socket(),
        |client, server| {
            let encrypted = Arc::new(AtomicUsize::new(0));
            let modes = Arc::new(std::sync::Mutex::new(Vec::new()));
            let written = Arc::new(AtomicUsize::new(0));
            let (e, m, w) = (encrypted.clone(), modes.clone(), written.clone());
            let setup = Box::new(move |s: &mut crate::harness::Socket| {
                s.set_ssl_configuration(client_config());
                s.on_encrypted(move || {
                    e.fetch_add(1, Ordering::SeqCst);
                });
                s.on_mode_changed(move |mode| m.lock().map(|mut v| v.push(mode)).unwrap_or(()));
                s.on_encrypted_bytes_written(move |n| {
                    w.fetch_add(n, Ordering::SeqCst);
                });
            });
            let result = handshake(
                client,
                setup,
                server,
                configure(server_config(&Pki::get().server)),
            );
            let (mut c, _s) = result.both()?;
            check(encrypted.load(Ordering::SeqCst) == 1, || {
                format!("encrypted fired {} times", encrypted.load(Ordering::SeqCst))
            })?;
            let seen = modes.lock().map(|v| v.clone()).unwrap_or_default();
            check(seen == vec![SslMode::SslClientMode], || {
                format!("mode_changed saw {seen:?}")
            })?;
            let before = written.load(Ordering::SeqCst);
            check(before > 0, || {
                "no encrypted bytes reported for the handshake".into()
            })?;
            crate::harness::send(&mut c, b"ping")?;
            let after = written.load(Ordering::SeqCst);
            // One TLS record carries 4 bytes of data plus at least a 5-byte header and a tag.
            check(after >= before + 4 + 5 + 16, || {
                format!("encrypted_bytes_written {before} -> {after}")
            })
        },
    ));
    cases
}
