//! The attacker's side of verification: chains built so that every problem but one looks
//! ignorable (leaves signed by an impostor of a real CA, untrusted roots behind expired
//! certificates). Whatever a client leaves out of its ignore list, or whatever kind its
//! handler declines, refuses the handshake, and the error it refuses with is exactly what was
//! left out. Run for every client x server pair over TLS (`forgery/*`), and over DTLS for
//! every backend that verifies (`dtls/forgery/*`, the attacker's server on the same backend,
//! since a dimpl server sends its leaf alone and not the attacker's chain), where a refused
//! client must also encrypt and decrypt nothing. The chains and their full error lists are
//! the `chain` module's scenarios, which also check them through chain verification.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polytls::{
    Dtls, Error, HandshakeState, PeerVerifyMode, SslConfiguration, SslError, SslErrorKind,
    SslErrorsDecision, SslMode, SslProtocol, SupportedFeature,
};

use super::chain::{wanted, Scenario, SCENARIOS};
use super::dtls::{addr, needs_dtls, recv, start_client, udp, wait_for};
use super::verification::{describe, same_errors};
use crate::case::{Case, Needs};
use crate::harness::{check, configure, handshake, server_config, Socket, IO_TIMEOUT};
use crate::pki::{Identity, Pki};

/// The chain scenarios an attacker builds.
const ATTACKS: &[&str] = &[
    "forged_leaf_under_untrusted_root",
    "forged_leaf_under_intermediate",
    "forged_leaf_under_expired_intermediate",
    "expired_leaf_from_untrusted_ca",
    "expired_leaf_from_stale_untrusted_ca",
    "long_expired_chain_to_untrusted_root",
];

/// What the attacked client does about the errors it finds.
#[derive(Clone)]
enum Stance {
    /// Ignores these, by its ignore list.
    Ignores(Vec<SslError>),
    /// Ignores the expired certificates from its errors handler (the handler of the
    /// `SslSocket` documentation).
    IgnoresExpiredInHandler,
}

/// The errors handler of [`Stance::IgnoresExpiredInHandler`].
fn ignore_expired(decision: &mut SslErrorsDecision<'_>) {
    let expired: Vec<SslError> = decision
        .errors()
        .iter()
        .filter(|e| e.kind() == SslErrorKind::CertificateExpired)
        .cloned()
        .collect();
    decision.ignore(&expired);
}

/// Over which protocol the attack runs.
#[derive(Clone, Copy)]
enum Transport {
    Tls,
    Dtls,
}

impl Transport {
    fn prefix(self) -> &'static str {
        match self {
            Transport::Tls => "forgery",
            Transport::Dtls => "dtls/forgery",
        }
    }

    /// A case named `name` running `body(client, server)`: for every pair over TLS, for
    /// every backend (client and attacker alike) over DTLS.
    fn case(
        self,
        name: String,
        body: impl Fn(&str, &str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Case {
        let verifies = Needs::feature(SupportedFeature::CertificateVerification);
        match self {
            Transport::Tls => Case::pair(name, verifies, Needs::socket(), body),
            Transport::Dtls => {
                let mut needs = needs_dtls();
                needs.features = verifies.features;
                Case::single(name, needs, move |b| body(b, b))
            }
        }
    }
}

/// How an attempt ended for the client.
enum Ended {
    /// The handshake completed; the client reported these errors (all ignored).
    Accepted(Vec<SslError>),
    /// The client refused the server with these errors (and, checked by the attempt, the
    /// attacker got nothing from it).
    Refused(Vec<SslError>),
}

/// The attacker's server identity and the client's configuration for `scenario`.
fn settings(scenario: &Scenario) -> (Identity, SslConfiguration) {
    let pki = Pki::get();
    let identity = Identity {
        chain: (scenario.chain)(pki),
        key: (scenario.identity)(pki).key.clone(),
    };
    let config = SslConfiguration {
        ca_certificates: Some((scenario.anchors)(pki)),
        peer_verify_depth: scenario.depth,
        ..SslConfiguration::default()
    };
    (identity, config)
}

/// A handshake of a client on `client` taking `stance` against the server of `scenario` on
/// `server`, over `transport`.
fn attempt(
    transport: Transport,
    client: &str,
    server: &str,
    scenario: &'static Scenario,
    stance: Stance,
) -> Result<Ended, String> {
    match transport {
        Transport::Tls => attempt_tls(client, server, scenario, stance),
        Transport::Dtls => attempt_dtls(client, server, scenario, stance),
    }
}

/// [`attempt`] over TLS: a refused handshake must fail on the attacker's side too.
fn attempt_tls(
    client: &str,
    server: &str,
    scenario: &'static Scenario,
    stance: Stance,
) -> Result<Ended, String> {
    let (identity, config) = settings(scenario);
    let result = handshake(
        client,
        Box::new(move |s: &mut Socket| {
            s.set_ssl_configuration(config);
            match stance {
                Stance::Ignores(list) => s.ignore_ssl_errors_list(&list),
                Stance::IgnoresExpiredInHandler => s.on_ssl_errors(ignore_expired),
            }
        }),
        server,
        configure(server_config(&identity)),
    );
    match result.client {
        Ok(socket) => Ok(Ended::Accepted(socket.ssl_handshake_errors())),
        Err(Error::Verification(found)) => {
            check(result.server.is_err(), || {
                "the attacker's server completed its handshake".into()
            })?;
            Ok(Ended::Refused(found))
        }
        Err(e) => Err(format!("client: {e}")),
    }
}

/// [`attempt`] over DTLS 1.2 (no cookie exchange). A refused client must stop in
/// `PeerVerificationFailed`, unencrypted, refuse to encrypt a datagram, and abort; the
/// attacker's server may have completed its side (a DTLS client decides after the
/// handshake's last flight, as Qt's does), so what it may get is checked instead: nothing.
fn attempt_dtls(
    client: &str,
    server: &str,
    scenario: &'static Scenario,
    stance: Stance,
) -> Result<Ended, String> {
    let (identity, config) = settings(scenario);
    let server_config = SslConfiguration {
        protocol: SslProtocol::DtlsV1_2,
        peer_verify_mode: PeerVerifyMode::VerifyNone,
        dtls_cookie_verification_enabled: false,
        ..server_config(&identity)
    };
    let client_config = SslConfiguration {
        protocol: SslProtocol::DtlsV1_2,
        ..config
    };
    let server_socket = udp()?;
    let client_socket = udp()?;
    let server_addr = addr(&server_socket)?;
    let client_done = Arc::new(AtomicBool::new(false));
    let attacker = {
        let (backend, done) = (server.to_owned(), Arc::clone(&client_done));
        crate::frontend::spawn(move || attacker(&backend, server_config, &server_socket, &done))
    };
    let outcome = (|| -> Result<Ended, String> {
        let mut dtls = start_client(client, client_config, server_addr, &client_socket)
            .map_err(|e| format!("client start: {e}"))?;
        match stance {
            Stance::Ignores(list) => dtls.ignore_verification_errors(&list),
            Stance::IgnoresExpiredInHandler => dtls.on_ssl_errors(ignore_expired),
        }
        match super::dtls::drive(&mut dtls, &client_socket) {
            Ok(()) if dtls.handshake_state() == HandshakeState::HandshakeComplete => {
                Ok(Ended::Accepted(dtls.peer_verification_errors().to_vec()))
            }
            Ok(()) => Err(format!(
                "the handshake ended in {:?}",
                dtls.handshake_state()
            )),
            Err(Error::Verification(found)) => {
                check(
                    dtls.handshake_state() == HandshakeState::PeerVerificationFailed,
                    || format!("the refusing client is in {:?}", dtls.handshake_state()),
                )?;
                check(!dtls.is_connection_encrypted(), || {
                    "the refusing client is encrypted".into()
                })?;
                check(
                    dtls.write_datagram_encrypted(&client_socket, b"secret")
                        .is_err(),
                    || "the refusing client encrypted a datagram".into(),
                )?;
                dtls.abort_handshake(&client_socket)
                    .map_err(|e| format!("abort_handshake: {e}"))?;
                Ok(Ended::Refused(found))
            }
            Err(e) => Err(format!("client: {e}")),
        }
    })();
    client_done.store(true, Ordering::SeqCst);
    let got = attacker
        .join()
        .map_err(|_| "the attacker's thread panicked".to_string())??;
    check(got.is_empty(), || {
        format!("the attacker's server decrypted {} bytes", got.len())
    })?;
    outcome
}

/// The attacker's DTLS server: handshakes with the first client, then keeps decrypting
/// whatever arrives until the client is done and quiet. Returns the plaintext it got.
fn attacker(
    backend: &str,
    config: SslConfiguration,
    socket: &UdpSocket,
    client_done: &AtomicBool,
) -> Result<Vec<u8>, String> {
    let mut dtls =
        Dtls::with_backend(SslMode::SslServerMode, backend).map_err(|e| e.to_string())?;
    dtls.set_dtls_configuration(config)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let wait = wait_for(&dtls).min(Duration::from_millis(50));
        match recv(socket, wait)? {
            Some((datagram, from)) => match dtls.handshake_state() {
                HandshakeState::HandshakeComplete => {
                    // An error here is the client's abort or close: nothing to decrypt.
                    if let Ok(plain) = dtls.decrypt_datagram(socket, &datagram) {
                        got.extend_from_slice(&plain);
                    }
                }
                HandshakeState::HandshakeNotStarted => {
                    dtls.set_peer(from.ip(), from.port(), None)
                        .map_err(|e| e.to_string())?;
                    // A failed handshake (the client's alert) ends nothing here: the loop
                    // waits for the client to be done.
                    let _ = dtls.do_handshake(socket, &datagram);
                }
                HandshakeState::HandshakeInProgress => {
                    let _ = dtls.do_handshake(socket, &datagram);
                }
                HandshakeState::PeerVerificationFailed => {}
            },
            None if client_done.load(Ordering::SeqCst) => return Ok(got),
            None => {
                if dtls.handshake_state() == HandshakeState::HandshakeInProgress {
                    let _ = dtls.handle_timeout(socket);
                }
            }
        }
    }
    Err("the client was not done within the time limit".into())
}

/// Checks that the attempt was refused with exactly `left`.
fn refused_with(ended: Ended, left: &[SslError]) -> Result<(), String> {
    match ended {
        Ended::Refused(found) => check(same_errors(&found, left), || {
            format!(
                "refused with {}, expected {}",
                describe(&found),
                describe(left)
            )
        }),
        Ended::Accepted(_) => Err(format!("accepted; {} was not ignored", describe(left))),
    }
}

fn cases_for(transport: Transport, scenario: &'static Scenario) -> Vec<Case> {
    let (name, prefix) = (scenario.name, transport.prefix());
    let mut cases = vec![
        transport.case(
            format!("{prefix}/{name}/each_error_left_out_refuses"),
            move |c, s| {
                let all = wanted(scenario);
                check(all.len() > 1, || "the scenario has too few errors".into())?;
                for (i, left_out) in all.iter().enumerate() {
                    let mut list = all.clone();
                    list.remove(i);
                    let ended = attempt(transport, c, s, scenario, Stance::Ignores(list))?;
                    refused_with(ended, std::slice::from_ref(left_out))?;
                }
                Ok(())
            },
        ),
        transport.case(
            format!("{prefix}/{name}/all_named_accepted"),
            move |c, s| {
                // The list names every problem: the caller accepted exactly this chain.
                let all = wanted(scenario);
                match attempt(transport, c, s, scenario, Stance::Ignores(all.clone()))? {
                    Ended::Accepted(found) => check(same_errors(&found, &all), || {
                        format!("reported {}, expected {}", describe(&found), describe(&all))
                    }),
                    Ended::Refused(found) => Err(format!("refused with {}", describe(&found))),
                }
            },
        ),
    ];
    let expires = wanted(scenario)
        .iter()
        .any(|e| e.kind() == SslErrorKind::CertificateExpired);
    if expires {
        cases.push(transport.case(
            format!("{prefix}/{name}/expired_only_handler_refuses"),
            move |c, s| {
                let ended = attempt(transport, c, s, scenario, Stance::IgnoresExpiredInHandler)?;
                let left: Vec<SslError> = wanted(scenario)
                    .into_iter()
                    .filter(|e| e.kind() != SslErrorKind::CertificateExpired)
                    .collect();
                refused_with(ended, &left)
            },
        ));
    }
    cases
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    ATTACKS
        .iter()
        .map(|name| {
            SCENARIOS
                .iter()
                .find(|s| s.name == *name)
                .expect("every attack is a chain scenario")
        })
        .flat_map(|scenario| {
            let mut cases = cases_for(Transport::Tls, scenario);
            cases.extend(cases_for(Transport::Dtls, scenario));
            cases
        })
        .collect()
}
