//! Pre-shared keys over DTLS (Qt's `QDtls::pskRequired`): on a backend that claims both the
//! Dtls class and `Psk`, a DTLS 1.2 PSK handshake in which each side's handler sees what the
//! other sent and data goes both ways; a wrong key is refused; a handler that gives no key says
//! so; and a client that verifies its peer stops on `NoPeerCertificate` until it ignores it.

use std::sync::{Arc, Mutex};

use polytls::{
    Dtls, Error, HandshakeState, PeerVerifyMode, PreSharedKeyAuthenticator, SslConfiguration,
    SslError, SslErrorKind, SslMode, SupportedFeature,
};

use super::dtls::{
    against_s_client_with, against_s_server_with, dtls_client_config, exchange, needs_cookie,
    pair_server_config, refused_at_start, run_pair_after,
};
use super::dtls_external::{against_gnutls_cli_with, against_gnutls_serv_with};
use super::psk::{hex, is_psk_session, s_server_args, text};
use crate::case::{Case, Needs};
use crate::harness::check;

const HINT: &[u8] = b"dtls hint";
const IDENTITY: &[u8] = b"dtls-client";
const KEY: &[u8] = b"a DTLS key, 26 bytes long.";

type Setup = Box<dyn FnOnce(&mut Dtls) + Send>;

/// What a handler saw: the hint (client) or the identity (server).
type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

fn needs() -> Needs {
    needs_cookie().and_feature(SupportedFeature::Psk)
}

fn seen() -> Seen {
    Arc::new(Mutex::new(Vec::new()))
}

fn taken(seen: &Seen) -> Vec<Vec<u8>> {
    seen.lock().unwrap().clone()
}

/// A client configuration in `mode`.
fn client_config(mode: PeerVerifyMode) -> SslConfiguration {
    SslConfiguration {
        peer_verify_mode: mode,
        ..dtls_client_config()
    }
}

/// A client handler that records the hint and gives [`IDENTITY`] and `key`.
fn client_handler(
    key: &'static [u8],
    seen: Seen,
) -> impl FnMut(&mut PreSharedKeyAuthenticator) + Send + 'static {
    move |auth| {
        seen.lock().unwrap().push(auth.identity_hint().to_vec());
        auth.set_identity(IDENTITY.to_vec());
        auth.set_pre_shared_key(key.to_vec());
    }
}

/// A server (verifying cookies) with no certificate, sending [`HINT`], that gives [`KEY`] for
/// [`IDENTITY`] and records each identity it is asked about.
fn psk_server(seen: Seen) -> (SslConfiguration, Setup) {
    let config = SslConfiguration {
        local_certificate_chain: Vec::new(),
        private_key: None,
        pre_shared_key_identity_hint: Some(HINT.to_vec()),
        ..pair_server_config(true)
    };
    let setup: Setup = Box::new(move |dtls: &mut Dtls| {
        dtls.on_pre_shared_key_authentication_required(move |auth| {
            seen.lock().unwrap().push(auth.identity().to_vec());
            if auth.identity() == IDENTITY {
                auth.set_pre_shared_key(KEY.to_vec());
            }
        });
    });
    (config, setup)
}

/// Both associations after a handshake between a client on `c` (configured by `client`) and
/// the [`psk_server`] on `s`: each with its socket, or the error its handshake ended with.
/// Fails only when the pair could not be set up.
#[allow(clippy::type_complexity)]
fn run(
    c: &str,
    client: (SslConfiguration, Setup),
    s: &str,
    server_seen: Seen,
) -> Result<
    (
        (Dtls, std::net::UdpSocket, Result<(), Error>),
        (Dtls, std::net::UdpSocket, Result<(), Error>),
    ),
    String,
> {
    let (server_config, server_setup) = psk_server(server_seen);
    let (config, setup) = client;
    let (client, ((sd, ss), sr)) =
        run_pair_after(c, config, setup, s, server_config, server_setup)?;
    let ((cd, cs), cr) = client.map_err(|e| format!("client start: {e}"))?;
    Ok(((cd, cs, cr), (sd, ss, sr)))
}

fn handshake_and_data(c: &str, s: &str) -> Result<(), String> {
    let (client_seen, server_seen) = (seen(), seen());
    let client: Setup = {
        let seen = client_seen.clone();
        Box::new(move |d: &mut Dtls| {
            d.on_pre_shared_key_authentication_required(client_handler(KEY, seen))
        })
    };
    let ((mut cd, cs, cr), (mut sd, ss, sr)) = run(
        c,
        (client_config(PeerVerifyMode::VerifyNone), client),
        s,
        server_seen.clone(),
    )?;
    cr.map_err(|e| format!("client: {e}"))?;
    sr.map_err(|e| format!("server: {e}"))?;
    check(taken(&client_seen) == [HINT.to_vec()], || {
        format!("the client's handler saw {:?}", taken(&client_seen))
    })?;
    check(taken(&server_seen) == [IDENTITY.to_vec()], || {
        format!("the server's handler saw {:?}", taken(&server_seen))
    })?;
    for (side, dtls) in [("client", &cd), ("server", &sd)] {
        is_psk_session(
            side,
            dtls.pre_shared_key_identity(),
            dtls.session_cipher(),
            IDENTITY,
        )?;
    }
    exchange(&mut cd, &cs, &mut sd, &ss, b"client to server over a PSK")?;
    exchange(&mut sd, &ss, &mut cd, &cs, b"server to client over a PSK")
}

fn wrong_key_is_refused(c: &str, s: &str) -> Result<(), String> {
    let client: Setup = Box::new(|d: &mut Dtls| {
        d.on_pre_shared_key_authentication_required(client_handler(
            b"not the key the server has",
            seen(),
        ))
    });
    let ((cd, _, cr), (sd, _, sr)) = run(
        c,
        (client_config(PeerVerifyMode::VerifyNone), client),
        s,
        seen(),
    )?;
    check(cr.is_err() || sr.is_err(), || {
        "a wrong key was accepted".into()
    })?;
    check(
        !cd.is_connection_encrypted() && !sd.is_connection_encrypted(),
        || "a side is encrypted with a wrong key".into(),
    )
}

fn handler_without_a_key(c: &str, s: &str) -> Result<(), String> {
    let client: Setup = Box::new(|d: &mut Dtls| {
        d.on_pre_shared_key_authentication_required(|auth| {
            auth.set_identity(IDENTITY.to_vec());
        })
    });
    let ((cd, _, cr), _) = run(
        c,
        (client_config(PeerVerifyMode::VerifyNone), client),
        s,
        seen(),
    )?;
    let message = cr.err().map(|e| e.to_string()).unwrap_or_default();
    check(message.contains("no pre-shared key was given"), || {
        format!("client: {message:?}")
    })?;
    check(!cd.is_connection_encrypted(), || {
        "the client is encrypted".into()
    })
}

fn verify_peer_stops_on_no_peer_certificate(c: &str, s: &str) -> Result<(), String> {
    let client: Setup = Box::new(|d: &mut Dtls| {
        d.on_pre_shared_key_authentication_required(client_handler(KEY, seen()))
    });
    let ((mut cd, cs, cr), (mut sd, ss, sr)) = run(
        c,
        (client_config(PeerVerifyMode::VerifyPeer), client),
        s,
        seen(),
    )?;
    sr.map_err(|e| format!("server: {e}"))?;
    let missing = SslError::new(SslErrorKind::NoPeerCertificate);
    match cr {
        Err(Error::Verification(errors)) if errors == [missing.clone()] => {}
        other => return Err(format!("expected NoPeerCertificate, got {other:?}")),
    }
    check(
        cd.handshake_state() == HandshakeState::PeerVerificationFailed,
        || format!("the client is in {:?}", cd.handshake_state()),
    )?;
    check(cd.peer_verification_errors() == [missing.clone()], || {
        format!("errors {:?}", cd.peer_verification_errors())
    })?;
    cd.ignore_verification_errors(&[missing]);
    cd.resume_handshake(&cs)
        .map_err(|e| format!("resume: {e}"))?;
    check(cd.pre_shared_key_identity() == Some(IDENTITY), || {
        "the resumed association is not a PSK one".into()
    })?;
    exchange(
        &mut cd,
        &cs,
        &mut sd,
        &ss,
        b"after ignoring NoPeerCertificate",
    )
}

/// A DTLS backend without `Psk` refuses a handler (client, and server without a certificate)
/// and a hint with `Unsupported`, when the handshake starts.
fn unclaimed_is_refused(b: &str) -> Result<(), String> {
    if polytls::is_feature_supported(SupportedFeature::Psk, Some(b)) {
        return Ok(());
    }
    let (server_config, _) = psk_server(seen());
    let hint_only = SslConfiguration {
        pre_shared_key_identity_hint: Some(HINT.to_vec()),
        ..pair_server_config(false)
    };
    for (mode, config, handler) in [
        (
            SslMode::SslClientMode,
            client_config(PeerVerifyMode::VerifyNone),
            true,
        ),
        (SslMode::SslServerMode, server_config, true),
        (SslMode::SslServerMode, hint_only, false),
    ] {
        refused_at_start(b, mode, config, |dtls| {
            if handler {
                dtls.on_pre_shared_key_authentication_required(client_handler(KEY, seen()));
            }
        })?;
    }
    Ok(())
}

/// Checks that `dtls` is a PSK association with [`IDENTITY`].
fn is_psk(dtls: &Dtls) -> Result<(), String> {
    is_psk_session(
        "the association",
        dtls.pre_shared_key_identity(),
        dtls.session_cipher(),
        IDENTITY,
    )
}

/// A polytls client against `openssl s_server -dtls1_2 -psk` (PSK suites only): its handler
/// sees the server's hint.
fn against_s_server(b: &str) -> Result<(), String> {
    let args = s_server_args(KEY, HINT, IDENTITY);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let hints = seen();
    let handler = client_handler(KEY, hints.clone());
    against_s_server_with(
        b,
        &args,
        client_config(PeerVerifyMode::VerifyNone),
        |d| d.on_pre_shared_key_authentication_required(handler),
        is_psk,
    )?;
    check(taken(&hints) == [HINT.to_vec()], || {
        format!("the handler saw {:?}", taken(&hints))
    })
}

/// `openssl s_client -dtls1_2 -psk` against a polytls server without a certificate.
fn against_s_client(b: &str) -> Result<(), String> {
    let key = hex(KEY);
    let args = ["-psk", &key, "-psk_identity", text(IDENTITY)];
    let identities = seen();
    let (config, setup) = psk_server(identities.clone());
    against_s_client_with(b, &args, config, setup, is_psk)?;
    check(taken(&identities) == [IDENTITY.to_vec()], || {
        format!("the handler saw {:?}", taken(&identities))
    })
}

/// The GnuTLS priority string of DTLS 1.2 with plain PSK key exchange only.
const GNUTLS_DTLS_PSK: &str = "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK";

/// `gnutls-cli --udp --pskusername --pskkey` (plain PSK key exchange only) against a polytls
/// server without a certificate: its handler sees the identity gnutls-cli sends.
fn against_gnutls_cli(b: &str) -> Result<(), String> {
    let key = hex(KEY);
    let identities = seen();
    let (config, setup) = psk_server(identities.clone());
    let extra = ["--udp", "--pskusername", text(IDENTITY), "--pskkey", &key];
    against_gnutls_cli_with(b, &extra, GNUTLS_DTLS_PSK, config, setup, is_psk)?;
    check(taken(&identities) == [IDENTITY.to_vec()], || {
        format!("the handler saw {:?}", taken(&identities))
    })
}

/// A polytls client against `gnutls-serv --udp --pskpasswd` (plain PSK key exchange only,
/// sending [`HINT`]) in a private network namespace: its handler sees the hint.
fn against_gnutls_serv(b: &str) -> Result<(), String> {
    let hints = seen();
    let handler = client_handler(KEY, hints.clone());
    against_gnutls_serv_with(
        b,
        |dir| {
            let line = format!("{}:{}\n", text(IDENTITY), hex(KEY));
            let passwd = dir.write("psk.passwd", line.as_bytes())?;
            Ok(vec![
                "--priority".into(),
                GNUTLS_DTLS_PSK.into(),
                format!("--pskpasswd={}", passwd.display()),
                format!("--pskhint={}", text(HINT)),
            ])
        },
        client_config(PeerVerifyMode::VerifyNone),
        move |d| d.on_pre_shared_key_authentication_required(handler),
        is_psk,
    )?;
    check(taken(&hints) == [HINT.to_vec()], || {
        format!("the handler saw {:?}", taken(&hints))
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "dtls/psk/unclaimed_is_refused",
            super::dtls::needs_dtls(),
            unclaimed_is_refused,
        ),
        Case::pair(
            "dtls/psk/handshake_and_data",
            needs(),
            needs(),
            handshake_and_data,
        ),
        Case::pair(
            "dtls/psk/wrong_key_is_refused",
            needs(),
            needs(),
            wrong_key_is_refused,
        ),
        Case::pair(
            "dtls/psk/handler_without_a_key_fails_saying_so",
            needs(),
            needs(),
            handler_without_a_key,
        ),
        Case::pair(
            "dtls/psk/verify_peer_stops_on_no_peer_certificate",
            needs(),
            needs(),
            verify_peer_stops_on_no_peer_certificate,
        ),
        Case::single(
            "dtls/psk/external/openssl_s_server",
            super::dtls::needs_dtls()
                .and_feature(SupportedFeature::Psk)
                .and_tool("openssl"),
            against_s_server,
        ),
        Case::single(
            "dtls/psk/external/openssl_s_client",
            needs().and_tool("openssl"),
            against_s_client,
        ),
        Case::single(
            "dtls/psk/external/gnutls_cli",
            needs().and_tool("gnutls-cli"),
            against_gnutls_cli,
        ),
        Case::single(
            "dtls/psk/external/gnutls_serv",
            super::dtls::needs_dtls()
                .and_feature(SupportedFeature::Psk)
                .and_tool("gnutls-serv")
                .and_private_network(),
            against_gnutls_serv,
        ),
    ]
}
