//! Alert events (Qt's `alertSent` and `alertReceived`): on a backend that claims `Alerts`,
//! each side's handlers hear the alerts it sends and receives, with their level and
//! description, close_notify included, and a refusal's fatal alert is heard by both sides as
//! the same alert. A backend that does not claim `Alerts` refuses a handler with
//! `Unsupported`.

use std::io::Read;
use std::sync::{Arc, Mutex};

use polytls::{
    AlertLevel, AlertType, Error, PeerVerifyMode, SslConfiguration, SslProtocol, SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::frontend::Socket;
use crate::harness::{check, client_config, configure, handshake, server_config, tcp_pair, Setup};
use crate::pki::Pki;

/// The alerts one handler heard, in order.
type Heard = Arc<Mutex<Vec<(AlertLevel, AlertType)>>>;

fn heard() -> Heard {
    Arc::new(Mutex::new(Vec::new()))
}

fn taken(heard: &Heard) -> Vec<(AlertLevel, AlertType)> {
    heard.lock().unwrap().clone()
}

fn needs() -> Needs {
    Needs::socket().and_feature(SupportedFeature::Alerts)
}

/// `setup`, then handlers recording what the socket sends into `sent` and what it receives
/// into `received`.
fn listening(setup: Setup, sent: Heard, received: Heard) -> Setup {
    Box::new(move |s: &mut Socket| {
        setup(s);
        s.on_alert_sent(move |level, kind| sent.lock().unwrap().push((level, kind)));
        s.on_alert_received(move |level, kind| received.lock().unwrap().push((level, kind)));
    })
}

/// The client closes with close_notify, and the server reads to the end.
fn client_closes(client: &mut Socket, server: &mut Socket) -> Result<(), String> {
    client.close().map_err(|e| format!("client close: {e}"))?;
    let mut rest = Vec::new();
    server
        .read_to_end(&mut rest)
        .map_err(|e| format!("server read to the end: {e}"))
        .map(drop)
}

/// A clean close: the client's close_notify is heard as sent by the client and as received
/// by the server, as a warning, and no other alert is heard on either side.
fn close_notify(c: &str, s: &str) -> Result<(), String> {
    let (client_sent, client_received) = (heard(), heard());
    let (server_sent, server_received) = (heard(), heard());
    let (mut client, mut server) = handshake(
        c,
        listening(
            configure(client_config()),
            client_sent.clone(),
            client_received.clone(),
        ),
        s,
        listening(
            configure(server_config(&Pki::get().server)),
            server_sent.clone(),
            server_received.clone(),
        ),
    )
    .both()?;
    check(
        taken(&client_sent).is_empty() && taken(&server_received).is_empty(),
        || {
            format!(
                "alerts during a good handshake: client sent {:?}, server received {:?}",
                taken(&client_sent),
                taken(&server_received)
            )
        },
    )?;
    client_closes(&mut client, &mut server)?;
    let close = (AlertLevel::Warning, AlertType::CloseNotification);
    check(taken(&client_sent) == [close], || {
        format!("the client heard itself send {:?}", taken(&client_sent))
    })?;
    check(taken(&server_received) == [close], || {
        format!("the server heard {:?}", taken(&server_received))
    })?;
    check(taken(&client_received).is_empty(), || {
        format!("the client heard {:?} received", taken(&client_received))
    })
}

/// Handlers set once the handshake is over hear the alerts from then on: the client's
/// close_notify, heard as sent by the client and as received by the server.
fn handlers_set_after_the_handshake(c: &str, s: &str) -> Result<(), String> {
    let (mut client, mut server) = handshake(
        c,
        configure(client_config()),
        s,
        configure(server_config(&Pki::get().server)),
    )
    .both()?;
    let (client_sent, server_received) = (heard(), heard());
    let sent = client_sent.clone();
    client.on_alert_sent(move |level, kind| sent.lock().unwrap().push((level, kind)));
    let received = server_received.clone();
    server.on_alert_received(move |level, kind| received.lock().unwrap().push((level, kind)));
    client_closes(&mut client, &mut server)?;
    let close = (AlertLevel::Warning, AlertType::CloseNotification);
    check(
        taken(&client_sent) == [close] && taken(&server_received) == [close],
        || {
            format!(
                "handlers set after the handshake: the client heard itself send {:?}, the server heard {:?}",
                taken(&client_sent),
                taken(&server_received)
            )
        },
    )
}

/// A client that refuses the server's self-signed certificate sends a fatal alert; its
/// handler hears it, and the server's hears the same alert received.
fn refusal(c: &str, s: &str) -> Result<(), String> {
    let (client_sent, client_received) = (heard(), heard());
    let (server_sent, server_received) = (heard(), heard());
    let result = handshake(
        c,
        listening(
            configure(client_config()),
            client_sent.clone(),
            client_received.clone(),
        ),
        s,
        listening(
            configure(server_config(&Pki::get().self_signed)),
            server_sent.clone(),
            server_received.clone(),
        ),
    );
    check(matches!(result.client, Err(Error::Verification(_))), || {
        format!(
            "the client's handshake ended with {:?}",
            result.client.as_ref().err()
        )
    })?;
    let sent = taken(&client_sent);
    let fatal: Vec<_> = sent
        .iter()
        .filter(|(level, _)| *level == AlertLevel::Fatal)
        .collect();
    check(fatal.len() == 1, || {
        format!("the client heard itself send {sent:?}")
    })?;
    check(taken(&server_received).first() == Some(fatal[0]), || {
        format!(
            "the client sent {:?}, the server heard {:?}",
            fatal[0],
            taken(&server_received)
        )
    })
}

/// Qt's alertMissingCertificate: a TLS 1.2 server that requires a client certificate refuses
/// a client without one with a fatal alert; the server's handler hears it sent, the client's
/// the same alert received.
fn missing_certificate(c: &str, s: &str) -> Result<(), String> {
    let (client_sent, client_received) = (heard(), heard());
    let (server_sent, server_received) = (heard(), heard());
    let client = SslConfiguration {
        protocol: SslProtocol::TlsV1_2,
        ..client_config()
    };
    let server = SslConfiguration {
        protocol: SslProtocol::TlsV1_2,
        peer_verify_mode: PeerVerifyMode::VerifyPeer,
        ..server_config(&Pki::get().server)
    };
    let result = handshake(
        c,
        listening(
            configure(client),
            client_sent.clone(),
            client_received.clone(),
        ),
        s,
        listening(
            configure(server),
            server_sent.clone(),
            server_received.clone(),
        ),
    );
    check(result.server.is_err() && result.client.is_err(), || {
        "a client without a certificate was accepted".into()
    })?;
    let sent = taken(&server_sent);
    check(sent.len() == 1 && sent[0].0 == AlertLevel::Fatal, || {
        format!("the server heard itself send {sent:?}")
    })?;
    check(taken(&client_received) == sent, || {
        format!(
            "the server sent {sent:?}, the client heard {:?}",
            taken(&client_received)
        )
    })
}

/// A backend that does not claim `Alerts` refuses a socket with an alert handler with
/// `Unsupported` naming alerts; one that claims it starts the handshake.
fn unless_claimed(b: &str) -> Result<(), String> {
    let claimed = polytls::supported_features(Some(b)).contains(&SupportedFeature::Alerts);
    for received in [false, true] {
        let (stream, _peer) = tcp_pair()?;
        let mut socket = Socket::with_backend(stream, b).map_err(|e| e.to_string())?;
        socket.set_ssl_configuration(client_config());
        socket.set_peer_verify_name("localhost");
        if received {
            socket.on_alert_received(|_, _| {});
        } else {
            socket.on_alert_sent(|_, _| {});
        }
        match (claimed, socket.start_client_encryption()) {
            (false, Err(Error::Unsupported { what, .. })) => {
                check(what.contains("alert"), || format!("refused as {what:?}"))?;
            }
            (false, other) => return Err(format!("an alert handler was not refused: {other:?}")),
            (true, Err(e)) => return Err(format!("refused although claimed: {e}")),
            (true, Ok(())) => {}
        }
    }
    Ok(())
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "alerts/close_notify_heard_both_ways",
            needs(),
            needs(),
            close_notify,
        ),
        Case::pair("alerts/refusal_heard_both_ways", needs(), needs(), refusal),
        Case::pair(
            "alerts/handlers_set_after_the_handshake",
            needs(),
            needs(),
            handlers_set_after_the_handshake,
        ),
        Case::pair(
            "alerts/missing_certificate_heard_both_ways",
            needs().and_protocol(SslProtocol::TlsV1_2),
            needs()
                .and_protocol(SslProtocol::TlsV1_2)
                .and_feature(SupportedFeature::CertificateVerification),
            missing_certificate,
        ),
        Case::single(
            "alerts/handler_refused_unless_claimed",
            Needs::socket(),
            unless_claimed,
        ),
    ]
}
