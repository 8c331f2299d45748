//! A DTLS client's verification of its server, after Qt's tst_qdtls verificationErrors,
//! presetExpectedErrors, verifyServerCertificate and blacklistedCerificate: a client meeting
//! a server with one of the verification cases' problems (or a leaf on the blacklist) stops in
//! `PeerVerificationFailed` with exactly that problem's errors, encrypts nothing, and resumes
//! only once it ignored them all, after which data flows both ways; a list preset before the
//! handshake lets through exactly what it names; an abort closes the association with
//! close_notify; a client in `VerifyNone` completes and reports nothing. Every client x
//! server pair, DTLS 1.2.
//!
//! The problems are the TLS verification cases' situations whose server sends its leaf alone
//! (a dimpl server sends no chain, so a chain with an untrusted root in it is not among them).

use polytls::{
    Dtls, Error, HandshakeState, PeerVerifyMode, SslConfiguration, SslError, SslErrorKind,
};

use super::dtls::{
    closed_by_peer, dtls_client_config, dtls_server_config_for, exchange, needs_dtls,
    run_pair_after, Side, SideEnded,
};
use super::verification::{describe, expected, same_errors, Situation, SITUATIONS};
use crate::case::Case;
use crate::harness::check;
use crate::pki::Pki;

/// A server's problem as its client sees it.
#[derive(Clone, Copy)]
enum Problem {
    /// One of the TLS verification cases' situations.
    Situation(&'static Situation),
    /// A leaf from a trusted root, with a serial number on the blacklist.
    Blacklisted,
}

impl Problem {
    fn all() -> Vec<Problem> {
        SITUATIONS
            .iter()
            .filter(|s| s.name != "untrusted_root_in_chain")
            .map(Problem::Situation)
            .chain([Problem::Blacklisted])
            .collect()
    }

    fn name(self) -> &'static str {
        match self {
            Problem::Situation(s) => s.name,
            Problem::Blacklisted => "blacklisted",
        }
    }

    /// The errors a verifying client must find.
    fn errors(self) -> Vec<SslError> {
        match self {
            Problem::Situation(s) => expected(s),
            Problem::Blacklisted => vec![SslError::with_certificate(
                SslErrorKind::CertificateBlacklisted,
                Pki::get().blacklisted.leaf().clone(),
            )],
        }
    }

    /// The handshake of a client on `c` in `mode`, ignoring `preset` from the start, against
    /// a server on `s` with this problem: how the client ended, and the server's association.
    fn run(
        self,
        c: &str,
        s: &str,
        mode: PeerVerifyMode,
        preset: Vec<SslError>,
    ) -> Result<(SideEnded, SideEnded), String> {
        let pki = Pki::get();
        let (identity, anchor, name) = match self {
            Problem::Situation(s) => ((s.identity)(pki), &pki.root, s.verify_name),
            Problem::Blacklisted => (&pki.blacklisted, &pki.blacklisted_root, "localhost"),
        };
        let client_config = SslConfiguration {
            ca_certificates: Some(vec![anchor.clone()]),
            peer_verify_mode: mode,
            ..dtls_client_config()
        };
        let (client, server) = run_pair_after(
            c,
            client_config,
            move |d: &mut Dtls| {
                let _ = d.set_peer_verification_name(name);
                d.ignore_verification_errors(&preset);
            },
            s,
            SslConfiguration {
                dtls_cookie_verification_enabled: false,
                ..dtls_server_config_for(identity)
            },
            Box::new(|_| {}),
        )?;
        let client = client.map_err(|e| format!("client start: {e}"))?;
        Ok((client, server))
    }
}

/// Checks that a client stopped with exactly `wanted`, in `PeerVerificationFailed`,
/// unencrypted and refusing to encrypt.
fn stopped(
    (dtls, socket): &mut Side,
    result: Result<(), Error>,
    wanted: &[SslError],
) -> Result<(), String> {
    match result {
        Err(Error::Verification(found)) => check(same_errors(&found, wanted), || {
            format!(
                "stopped with {}, expected {}",
                describe(&found),
                describe(wanted)
            )
        })?,
        other => {
            return Err(format!(
                "expected a stop on {}, the handshake gave {other:?}",
                describe(wanted)
            ))
        }
    }
    check(
        dtls.handshake_state() == HandshakeState::PeerVerificationFailed,
        || format!("the stopped client is in {:?}", dtls.handshake_state()),
    )?;
    check(same_errors(dtls.peer_verification_errors(), wanted), || {
        format!(
            "peer_verification_errors: {}",
            describe(dtls.peer_verification_errors())
        )
    })?;
    check(
        !dtls.is_connection_encrypted() && dtls.write_datagram_encrypted(socket, b"x").is_err(),
        || "the stopped client encrypts".into(),
    )
}

/// verificationErrors: nothing ignored, the client stops; resuming without ignoring keeps
/// it stopped; ignoring what it found and resuming completes it, and data flows both ways.
fn stop_then_resume(c: &str, s: &str, problem: Problem) -> Result<(), String> {
    let wanted = problem.errors();
    let ((mut client, result), ((mut sd, ss), server_result)) =
        problem.run(c, s, PeerVerifyMode::VerifyPeer, Vec::new())?;
    stopped(&mut client, result, &wanted)?;
    let (cd, cs) = &mut client;
    match cd.resume_handshake(cs) {
        Err(Error::Verification(left)) if same_errors(&left, &wanted) => {}
        other => return Err(format!("resumed with nothing ignored: {other:?}")),
    }
    check(
        cd.handshake_state() == HandshakeState::PeerVerificationFailed,
        || format!("a refused resume left {:?}", cd.handshake_state()),
    )?;
    cd.ignore_verification_errors(&wanted);
    cd.resume_handshake(cs)
        .map_err(|e| format!("resume after ignoring: {e}"))?;
    check(
        cd.handshake_state() == HandshakeState::HandshakeComplete && cd.is_connection_encrypted(),
        || format!("resumed into {:?}", cd.handshake_state()),
    )?;
    server_result.map_err(|e| format!("server: {e}"))?;
    exchange(cd, cs, &mut sd, &ss, b"after resuming")?;
    exchange(&mut sd, &ss, cd, cs, b"and back")
}

/// presetExpectedErrors: a list naming the problem's kinds for another certificate stops the
/// client with all of them, and its abort reaches the server as close_notify; the list of
/// exactly those errors, set before the handshake, completes it without a stop.
fn preset(c: &str, s: &str, problem: Problem) -> Result<(), String> {
    let wanted = problem.errors();
    let other = Pki::get().client.leaf();
    let misnamed: Vec<SslError> = wanted
        .iter()
        .map(|e| SslError::with_certificate(e.kind(), other.clone()))
        .collect();
    let ((mut client, result), ((mut sd, ss), server_result)) =
        problem.run(c, s, PeerVerifyMode::VerifyPeer, misnamed)?;
    stopped(&mut client, result, &wanted)?;
    let (cd, cs) = &mut client;
    cd.abort_handshake(cs)
        .map_err(|e| format!("abort_handshake: {e}"))?;
    check(
        cd.handshake_state() == HandshakeState::HandshakeNotStarted,
        || format!("the aborted client is in {:?}", cd.handshake_state()),
    )?;
    server_result.map_err(|e| format!("server: {e}"))?;
    closed_by_peer(&mut sd, &ss).map_err(|e| format!("after the abort: {e}"))?;

    let ((mut client, result), ((mut sd, ss), server_result)) =
        problem.run(c, s, PeerVerifyMode::VerifyPeer, wanted.clone())?;
    let (cd, cs) = &mut client;
    result.map_err(|e| format!("with {} preset: {e}", describe(&wanted)))?;
    server_result.map_err(|e| format!("server: {e}"))?;
    check(
        cd.handshake_state() == HandshakeState::HandshakeComplete
            && same_errors(cd.peer_verification_errors(), &wanted),
        || {
            format!(
                "preset: {:?} with {}",
                cd.handshake_state(),
                describe(cd.peer_verification_errors())
            )
        },
    )?;
    exchange(cd, cs, &mut sd, &ss, b"with the errors preset")
}

/// verifyServerCertificate's VerifyNone rows: a client that does not verify completes its
/// handshake with the problem's server, reports no error, and data flows.
fn verify_none(c: &str, s: &str, problem: Problem) -> Result<(), String> {
    let ((mut client, result), ((mut sd, ss), server_result)) =
        problem.run(c, s, PeerVerifyMode::VerifyNone, Vec::new())?;
    result.map_err(|e| format!("client in VerifyNone: {e}"))?;
    server_result.map_err(|e| format!("server: {e}"))?;
    let (cd, cs) = &mut client;
    check(
        cd.handshake_state() == HandshakeState::HandshakeComplete
            && cd.peer_verification_errors().is_empty(),
        || {
            format!(
                "VerifyNone: {:?} with {}",
                cd.handshake_state(),
                describe(cd.peer_verification_errors())
            )
        },
    )?;
    exchange(cd, cs, &mut sd, &ss, b"unverified")
}

pub(super) fn cases() -> Vec<Case> {
    let client = needs_dtls;
    Problem::all()
        .into_iter()
        .flat_map(|problem| {
            [
                Case::pair(
                    format!("dtls/verification/{}/stops_then_resumes", problem.name()),
                    client(),
                    needs_dtls(),
                    move |c, s| stop_then_resume(c, s, problem),
                ),
                Case::pair(
                    format!("dtls/verification/{}/preset_list", problem.name()),
                    client(),
                    needs_dtls(),
                    move |c, s| preset(c, s, problem),
                ),
                Case::pair(
                    format!("dtls/verification/{}/verify_none_completes", problem.name()),
                    client(),
                    needs_dtls(),
                    move |c, s| verify_none(c, s, problem),
                ),
            ]
        })
        .collect()
}
