//! Early error reporting (`handshake_must_interrupt_on_error`, Qt's
//! `handshakeInterruptedOnError` and `continueInterruptedHandshake`): the handshake stops on
//! each verification error, in the handler, and goes on only when the handler continues it.
//! Engines report problems from inside the handshake, so every backend that verifies supports
//! it, on both sides.

use std::sync::{Arc, Mutex};

use polytls::{Error, PeerVerifyMode, SslConfiguration, SslError, SslErrorKind, SupportedFeature};

use crate::case::{Case, Needs};
use crate::harness::{
    check, client_config, configure, handshake, server_config, with_identity, Setup, Socket,
};
use crate::pki::Pki;

fn verifying() -> Needs {
    Needs::feature(SupportedFeature::CertificateVerification)
}

/// What the interruption handler does.
#[derive(Clone, Copy)]
enum Handler {
    /// No handler installed.
    None,
    /// Continues on every error.
    Continue,
    /// Lets the handshake fail.
    Stop,
}

/// A socket setup for the verifying side: early reporting on, `handler` installed, and the
/// errors it saw (and whether `on_ssl_errors` ran) recorded.
fn interrupting(
    config: SslConfiguration,
    handler: Handler,
    seen: Arc<Mutex<Vec<SslError>>>,
    listed: Arc<Mutex<bool>>,
) -> Setup {
    Box::new(move |sock: &mut Socket| {
        sock.set_ssl_configuration(SslConfiguration {
            handshake_must_interrupt_on_error: true,
            ..config
        });
        sock.on_ssl_errors(move |_| *listed.lock().unwrap_or_else(|p| p.into_inner()) = true);
        if let Handler::None = handler {
            return;
        }
        sock.on_handshake_interrupted_on_error(move |stop| {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stop.error().clone());
            if let Handler::Continue = handler {
                stop.continue_handshake();
            }
        });
    })
}

fn client_case(name: &'static str, handler: Handler) -> Case {
    Case::pair(
        format!("interrupt/client/{name}"),
        verifying(),
        Needs::socket(),
        move |c, s| {
            let pki = Pki::get();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let listed = Arc::new(Mutex::new(false));
            let setup = interrupting(client_config(), handler, seen.clone(), listed.clone());
            let result = handshake(c, setup, s, configure(server_config(&pki.self_signed)));
            let wanted = vec![SslError::with_certificate(
                SslErrorKind::SelfSignedCertificate,
                pki.self_signed.leaf().clone(),
            )];
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let expected_seen = match handler {
                Handler::None => Vec::new(),
                _ => wanted.clone(),
            };
            check(seen == expected_seen, || {
                format!("the handler saw {seen:?}")
            })?;
            check(!*listed.lock().unwrap_or_else(|p| p.into_inner()), || {
                "on_ssl_errors ran although the handshake reports early".into()
            })?;
            match (handler, result.client) {
                (Handler::Continue, Ok(socket)) => check(socket.is_encrypted(), || {
                    "not encrypted after continuing".into()
                }),
                (Handler::Stop | Handler::None, Err(Error::Verification(found))) => {
                    check(found == wanted, || format!("refused with {found:?}"))?;
                    check(result.server.is_err(), || {
                        "the server did not see the handshake fail".into()
                    })
                }
                (_, other) => Err(format!("client: {:?}", other.map(|_| ()))),
            }
        },
    )
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        client_case("continued", Handler::Continue),
        client_case("not_continued", Handler::Stop),
        client_case("no_handler", Handler::None),
        Case::pair(
            "interrupt/client/no_errors",
            verifying(),
            Needs::socket(),
            |c, s| {
                let seen = Arc::new(Mutex::new(Vec::new()));
                let listed = Arc::new(Mutex::new(false));
                let setup = interrupting(client_config(), Handler::Stop, seen.clone(), listed);
                let pki = Pki::get();
                let result = handshake(c, setup, s, configure(server_config(&pki.server)));
                result.both()?;
                let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                check(seen.is_empty(), || format!("interrupted on {seen:?}"))
            },
        ),
        Case::pair(
            "interrupt/client/ignored_beforehand",
            verifying(),
            Needs::socket(),
            |c, s| {
                // An error on the ignore list given beforehand does not stop the handshake.
                let pki = Pki::get();
                let seen = Arc::new(Mutex::new(Vec::new()));
                let listed = Arc::new(Mutex::new(false));
                let inner = interrupting(client_config(), Handler::Stop, seen.clone(), listed);
                let ignored = SslError::with_certificate(
                    SslErrorKind::SelfSignedCertificate,
                    pki.self_signed.leaf().clone(),
                );
                let setup = Box::new(move |sock: &mut Socket| {
                    inner(sock);
                    sock.ignore_ssl_errors_list(&[ignored]);
                });
                let result = handshake(c, setup, s, configure(server_config(&pki.self_signed)));
                result.both()?;
                let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                check(seen.is_empty(), || format!("interrupted on {seen:?}"))
            },
        ),
        Case::pair(
            "interrupt/server/continued",
            Needs::socket(),
            verifying(),
            |c, s| {
                // A server verifying client certificates reports early too.
                let pki = Pki::get();
                let seen = Arc::new(Mutex::new(Vec::new()));
                let listed = Arc::new(Mutex::new(false));
                let server = SslConfiguration {
                    peer_verify_mode: PeerVerifyMode::VerifyPeer,
                    ..server_config(&pki.server)
                };
                let setup = interrupting(server, Handler::Continue, seen.clone(), listed);
                let client = with_identity(client_config(), &pki.client_self_signed);
                let result = handshake(c, configure(client), s, setup);
                let (_, server) = result.both()?;
                let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let wanted = [SslError::with_certificate(
                    SslErrorKind::SelfSignedCertificate,
                    pki.client_self_signed.leaf().clone(),
                )];
                check(seen == wanted, || {
                    format!("the server's handler saw {seen:?}")
                })?;
                check(
                    server.peer_certificate() == Some(pki.client_self_signed.leaf()),
                    || "the server does not see the client's certificate".into(),
                )
            },
        ),
    ]
}
