//! DTLS, after Qt's tst_qdtls and tst_qdtlscookie: the `Dtls` front end and the cookie
//! verifier over loopback UDP, for every client x server pair that claims DTLS, and against
//! `openssl s_server -dtls1_2` / `s_client -dtls1_2`.
//!
//! Every socket reads with a timeout taken from the association's retransmission timer (or
//! a short poll), and every exchange has an overall deadline, so a silent peer fails a case
//! instead of hanging it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polytls::{
    Dtls, DtlsClientVerifier, DtlsError, Error, HandshakeState, ImplementedClass, PeerVerifyMode,
    ProtocolVersion, SslCipher, SslConfiguration, SslErrorKind, SslMode, SslOption, SslProtocol,
    SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::cases::external::{Peer, SClient};
use crate::frontend::{self, FrontEnd};
use crate::harness::{check, client_config, server_config, with_identity, TempDir, IO_TIMEOUT};
use crate::pki::{Identity, Pki};

/// What a DTLS case needs from a side.
pub(super) fn needs_dtls() -> Needs {
    Needs {
        classes: vec![ImplementedClass::Dtls],
        protocols: vec![SslProtocol::DtlsV1_2],
        ..Needs::default()
    }
}

/// What a server verifying cookies needs.
pub(super) fn needs_cookie() -> Needs {
    let mut needs = needs_dtls();
    needs.classes.push(ImplementedClass::DtlsCookie);
    needs
}

pub(super) fn dtls_client_config() -> SslConfiguration {
    SslConfiguration {
        protocol: SslProtocol::DtlsV1_2,
        ..client_config()
    }
}

/// The server configuration of the DTLS cases: DTLS 1.2, the test server's identity, and
/// `VerifyNone` (the four verify modes have cases of their own, `dtls/verify_mode/*`; a
/// backend without `OptionalClientCertificate` refuses the default's `QueryPeer`).
pub(super) fn dtls_server_config() -> SslConfiguration {
    dtls_server_config_for(&Pki::get().server)
}

/// [`dtls_server_config`] with `identity` as the server's.
pub(super) fn dtls_server_config_for(identity: &Identity) -> SslConfiguration {
    SslConfiguration {
        protocol: SslProtocol::DtlsV1_2,
        peer_verify_mode: PeerVerifyMode::VerifyNone,
        ..server_config(identity)
    }
}

/// The server configuration of a pair case: verifying cookies (the server needs the
/// DtlsCookie class) or not (the Dtls class is enough).
pub(super) fn pair_server_config(cookies: bool) -> SslConfiguration {
    SslConfiguration {
        dtls_cookie_verification_enabled: cookies,
        ..dtls_server_config()
    }
}

pub(super) fn udp() -> Result<UdpSocket, String> {
    UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))
}

pub(super) fn addr(socket: &UdpSocket) -> Result<SocketAddr, String> {
    socket.local_addr().map_err(|e| e.to_string())
}

/// Receives one datagram, waiting at most `wait`; `None` on timeout.
pub(super) fn recv(
    socket: &UdpSocket,
    wait: Duration,
) -> Result<Option<(Vec<u8>, SocketAddr)>, String> {
    socket
        .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_536];
    match socket.recv_from(&mut buf) {
        Ok((n, from)) => {
            buf.truncate(n);
            Ok(Some((buf, from)))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("recv: {e}")),
    }
}

/// How long to wait for the next handshake datagram: the retransmission timer, or a poll.
pub(super) fn wait_for(dtls: &Dtls) -> Duration {
    dtls.timeout()
        .unwrap_or(Duration::from_millis(200))
        .min(Duration::from_millis(200))
}

/// Drives `dtls` until its handshake is complete or stopped on verification errors. A
/// server that has not started takes its peer from the first datagram.
pub(super) fn drive(dtls: &mut Dtls, socket: &UdpSocket) -> Result<(), Error> {
    match frontend::current() {
        FrontEnd::Blocking => drive_until(dtls, socket, |_| false),
        FrontEnd::Tokio => drive_on_tokio(dtls, socket),
    }
}

/// [`drive`] on tokio's front end: once the handshake is under way (a server's peer is set
/// from the first datagram, and a cookie exchange runs, here), the rest of it runs through
/// [`AsyncDtls`](polytls::tokio::AsyncDtls) over a tokio socket sharing `socket`'s; the
/// association comes back to the blocking socket for the case's checks.
fn drive_on_tokio(dtls: &mut Dtls, socket: &UdpSocket) -> Result<(), Error> {
    drive_until(dtls, socket, |d| {
        d.handshake_state() == HandshakeState::HandshakeInProgress
    })?;
    if dtls.handshake_state() != HandshakeState::HandshakeInProgress {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let shared = socket.try_clone()?;
    shared.set_nonblocking(true)?;
    // `AsyncDtls` owns the association it drives: a fresh one stands in until it is back.
    let placeholder = Dtls::with_backend(dtls.ssl_mode(), dtls.backend_name())?;
    let association = std::mem::replace(dtls, placeholder);
    let (association, result) = runtime.block_on(async {
        let tokio_socket = match tokio::net::UdpSocket::from_std(shared) {
            Ok(s) => Arc::new(s),
            Err(e) => return (association, Err(Error::Io(e))),
        };
        let mut running = polytls::tokio::AsyncDtls::new(association, tokio_socket);
        frontend::ran_on_tokio();
        let result = tokio::time::timeout(IO_TIMEOUT, running.handshake())
            .await
            .unwrap_or_else(|_| Err(Error::timed_out("the DTLS handshake on tokio", IO_TIMEOUT)));
        (running.into_inner().0, result)
    });
    *dtls = association;
    // The tokio socket shared the blocking one's file, and with it the non-blocking flag.
    socket.set_nonblocking(false)?;
    result
}

/// Runs the handshake on the blocking socket until it completes, stops on verification
/// errors, or `enough` says so.
fn drive_until(
    dtls: &mut Dtls,
    socket: &UdpSocket,
    enough: impl Fn(&Dtls) -> bool,
) -> Result<(), Error> {
    let deadline = Instant::now() + IO_TIMEOUT;
    while !matches!(
        dtls.handshake_state(),
        HandshakeState::HandshakeComplete | HandshakeState::PeerVerificationFailed
    ) && !enough(dtls)
    {
        if Instant::now() > deadline {
            return Err(Error::timed_out("the DTLS handshake", IO_TIMEOUT));
        }
        let received =
            recv(socket, wait_for(dtls)).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        match received {
            Some((datagram, from)) => {
                if dtls.handshake_state() == HandshakeState::HandshakeNotStarted
                    && dtls.ssl_mode() == SslMode::SslServerMode
                {
                    dtls.set_peer(from.ip(), from.port(), None)?;
                }
                dtls.do_handshake(socket, &datagram)?;
            }
            None => {
                dtls.handle_timeout(socket)?;
            }
        }
    }
    Ok(())
}

/// A client `Dtls` on `backend` aimed at `server` (verifying `localhost`), its handshake
/// started.
pub(super) fn start_client(
    backend: &str,
    config: SslConfiguration,
    server: SocketAddr,
    socket: &UdpSocket,
) -> Result<Dtls, Error> {
    start_client_after(backend, config, |_| {}, server, socket)
}

/// [`start_client`], with `setup` applied to the association before its handshake starts
/// (after its peer is set, so that it may change the verification name).
pub(super) fn start_client_after(
    backend: &str,
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
    server: SocketAddr,
    socket: &UdpSocket,
) -> Result<Dtls, Error> {
    let mut dtls = Dtls::with_backend(SslMode::SslClientMode, backend)?;
    dtls.set_dtls_configuration(config)?;
    dtls.set_peer(server.ip(), server.port(), Some("localhost"))?;
    setup(&mut dtls);
    dtls.do_handshake(socket, &[])?;
    Ok(dtls)
}

type ServerSetup = Box<dyn FnOnce(&mut Dtls) + Send>;

/// One side of an association: the `Dtls` and its socket.
pub(super) type Side = (Dtls, UdpSocket);

/// A side with the result its handshake ended with.
pub(super) type SideEnded = (Side, Result<(), Error>);

/// Runs a handshake between a client on `client_backend` and a server on `server_backend`
/// over loopback UDP; returns both associations and their sockets.
fn pair(
    client_backend: &str,
    client_config: SslConfiguration,
    server_backend: &str,
    cookies: bool,
    server_setup: ServerSetup,
) -> Result<(Side, Side), String> {
    pair_with(
        client_backend,
        client_config,
        server_backend,
        pair_server_config(cookies),
        server_setup,
    )
}

/// [`pair`] with the server's whole configuration given.
fn pair_with(
    client_backend: &str,
    client_config: SslConfiguration,
    server_backend: &str,
    server_config: SslConfiguration,
    server_setup: ServerSetup,
) -> Result<(Side, Side), String> {
    let (client, (server, server_result)) = run_pair(
        client_backend,
        client_config,
        server_backend,
        server_config,
        server_setup,
    )?;
    let client = client.map_err(|e| format!("client: {e}"))?;
    server_result.map_err(|e| format!("server: {e}"))?;
    Ok((client, server))
}

/// Both handshakes of a pair as they ended: the client's association (or its error), and the
/// server's association with the result of its handshake. Fails only when the pair could not
/// be set up (a socket, a backend, a configuration refused, a thread that panicked).
type PairRun = (Result<Side, Error>, SideEnded);

/// Runs the handshakes of [`pair_with`] and returns how each side ended.
fn run_pair(
    client_backend: &str,
    client_config: SslConfiguration,
    server_backend: &str,
    server_config: SslConfiguration,
    server_setup: ServerSetup,
) -> Result<PairRun, String> {
    let (client, server) = run_pair_after(
        client_backend,
        client_config,
        |_| {},
        server_backend,
        server_config,
        server_setup,
    )?;
    let client = client.and_then(|((dtls, socket), result)| result.map(|()| (dtls, socket)));
    Ok((client, server))
}

/// How a pair's client ended: its association with the result of its handshake, or the
/// error that kept its handshake from starting.
pub(super) type ClientEnd = Result<SideEnded, Error>;

/// [`run_pair`] with `client_setup` applied to the client before its handshake starts (after
/// its peer is set), keeping the client's association however its handshake ended: one that
/// stopped on verification errors can still resume or abort. A client that failed otherwise
/// is aborted, so that its server's handshake ends now rather than at its time limit.
pub(super) fn run_pair_after(
    client_backend: &str,
    client_config: SslConfiguration,
    client_setup: impl FnOnce(&mut Dtls),
    server_backend: &str,
    server_config: SslConfiguration,
    server_setup: ServerSetup,
) -> Result<(ClientEnd, SideEnded), String> {
    run_pair_on(
        (udp()?, udp()?),
        client_backend,
        client_config,
        client_setup,
        server_backend,
        server_config,
        server_setup,
    )
}

/// [`run_pair_after`] over the given sockets (the client's, the server's), bound to
/// loopback.
fn run_pair_on(
    (client_socket, server_socket): (UdpSocket, UdpSocket),
    client_backend: &str,
    client_config: SslConfiguration,
    client_setup: impl FnOnce(&mut Dtls),
    server_backend: &str,
    server_config: SslConfiguration,
    server_setup: ServerSetup,
) -> Result<(ClientEnd, SideEnded), String> {
    let server_addr = addr(&server_socket)?;
    let server_backend = server_backend.to_owned();
    let server = frontend::spawn(move || -> Result<SideEnded, String> {
        let mut dtls = Dtls::with_backend(SslMode::SslServerMode, &server_backend)
            .map_err(|e| e.to_string())?;
        dtls.set_dtls_configuration(server_config)
            .map_err(|e| e.to_string())?;
        server_setup(&mut dtls);
        let result = drive(&mut dtls, &server_socket);
        Ok(((dtls, server_socket), result))
    });
    let client = start_client_after(
        client_backend,
        client_config,
        client_setup,
        server_addr,
        &client_socket,
    )
    .map(|mut dtls| {
        let result = drive(&mut dtls, &client_socket);
        if result.is_err() && dtls.handshake_state() != HandshakeState::PeerVerificationFailed {
            let _ = dtls.abort_handshake(&client_socket);
        }
        ((dtls, client_socket), result)
    });
    let server = server
        .join()
        .map_err(|_| "the server thread panicked".to_string())??;
    Ok((client, server))
}

/// What [`exchange`]'s buffer holds before the datagram is decrypted into it.
const KEPT: &[u8] = b"kept before: ";

/// Sends `data` from `from` and checks `to` decrypts exactly it (appended to a buffer that
/// already holds [`KEPT`]).
pub(super) fn exchange(
    from: &mut Dtls,
    from_socket: &UdpSocket,
    to: &mut Dtls,
    to_socket: &UdpSocket,
    data: &[u8],
) -> Result<(), String> {
    from.write_datagram_encrypted(from_socket, data)
        .map_err(|e| format!("write: {e}"))?;
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        let Some((datagram, _)) = recv(to_socket, Duration::from_millis(200))? else {
            continue;
        };
        // Appended after what the buffer held, which stays (the other cases read with
        // decrypt_datagram, which returns a buffer of its own).
        let mut plain = KEPT.to_vec();
        let n = to
            .decrypt_datagram_into(to_socket, &datagram, &mut plain)
            .map_err(|e| format!("decrypt: {e}"))?;
        check(n == plain.len() - KEPT.len(), || {
            format!(
                "decrypt_datagram_into said {n} bytes and appended {}",
                plain.len() - KEPT.len()
            )
        })?;
        if n > 0 {
            return check(
                plain.starts_with(KEPT) && plain[KEPT.len()..] == *data,
                || {
                    format!(
                        "decrypted {} bytes, not the {} sent after the {} kept",
                        n,
                        data.len(),
                        KEPT.len()
                    )
                },
            );
        }
    }
    Err("the datagram never arrived".into())
}

/// `config` with `protocol` selected.
fn at(protocol: SslProtocol, config: SslConfiguration) -> SslConfiguration {
    SslConfiguration { protocol, ..config }
}

/// A handshake at `protocol`, data both ways (up to 1200 bytes), and a shutdown by either
/// side that the other sees as the peer's close_notify.
fn handshake_and_data(
    client: &str,
    server: &str,
    cookies: bool,
    shutdown_by_client: bool,
    protocol: SslProtocol,
) -> Result<(), String> {
    let ((mut c, cs), (mut s, ss)) = pair_with(
        client,
        at(protocol, dtls_client_config()),
        server,
        at(protocol, pair_server_config(cookies)),
        Box::new(|_| {}),
    )?;
    for (name, d) in [("client", &c), ("server", &s)] {
        check(d.is_connection_encrypted(), || {
            format!("{name} not encrypted")
        })?;
        check(d.session_protocol() == protocol, || {
            format!("{name} negotiated {}", d.session_protocol())
        })?;
        check(d.session_cipher().is_some(), || {
            format!("{name} has no cipher")
        })?;
        check(d.dtls_error() == DtlsError::NoError, || {
            format!("{name}: {}", d.dtls_error())
        })?;
    }
    check(!c.peer_certificate_chain().is_empty(), || {
        "client saw no server chain".into()
    })?;
    exchange(&mut c, &cs, &mut s, &ss, b"ping over DTLS")?;
    exchange(&mut s, &ss, &mut c, &cs, b"pong over DTLS")?;
    let big = vec![0xa5u8; 1200];
    exchange(&mut c, &cs, &mut s, &ss, &big)?;
    let (closer, closer_socket, other, other_socket) = if shutdown_by_client {
        (&mut c, &cs, &mut s, &ss)
    } else {
        (&mut s, &ss, &mut c, &cs)
    };
    closer.shutdown(closer_socket).map_err(|e| e.to_string())?;
    check(
        closer.handshake_state() == HandshakeState::HandshakeNotStarted,
        || "shutdown left a state".into(),
    )?;
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        if let Some((datagram, _)) = recv(other_socket, Duration::from_millis(200))? {
            let plain = other
                .decrypt_datagram(other_socket, &datagram)
                .map_err(|e| e.to_string())?;
            check(plain.is_empty(), || "data after close_notify".into())?;
            if other.dtls_error() == DtlsError::RemoteClosedConnectionError {
                return check(!other.is_connection_encrypted(), || {
                    "still encrypted after close_notify".into()
                });
            }
        }
    }
    Err("close_notify never arrived".into())
}

/// tst_qdtlscookie's verifyClient, then the handshake: the verifier answers the first hello
/// with a HelloVerifyRequest no larger than it, verifies the second, and a server `Dtls`
/// takes the verified hello and completes the handshake.
fn verifier_then_handshake(client: &str, server: &str) -> Result<(), String> {
    let server_socket = udp()?;
    let client_socket = udp()?;
    let server_addr = addr(&server_socket)?;
    let mut c = start_client(client, dtls_client_config(), server_addr, &client_socket)
        .map_err(|e| e.to_string())?;
    let mut verifier = DtlsClientVerifier::new();
    let (hello, from) = recv(&server_socket, IO_TIMEOUT)?.ok_or("no ClientHello")?;
    let verified = verifier
        .verify_client(&server_socket, &hello, from.ip(), from.port())
        .map_err(|e| e.to_string())?;
    check(!verified, || "a hello without a cookie was verified".into())?;
    check(verifier.dtls_error() == DtlsError::NoError, || {
        verifier.dtls_error_string().into()
    })?;
    let (request, _) = recv(&client_socket, IO_TIMEOUT)?.ok_or("no HelloVerifyRequest")?;
    check(request.len() <= hello.len(), || {
        format!(
            "HelloVerifyRequest of {} bytes for a hello of {}",
            request.len(),
            hello.len()
        )
    })?;
    c.do_handshake(&client_socket, &request)
        .map_err(|e| e.to_string())?;
    let (second, from2) = recv(&server_socket, IO_TIMEOUT)?.ok_or("no second ClientHello")?;
    check(from2 == from, || "the hello came from elsewhere".into())?;
    for _ in 0..2 {
        let ok = verifier
            .verify_client(&server_socket, &second, from.ip(), from.port())
            .map_err(|e| e.to_string())?;
        check(ok && verifier.verified_hello() == second.as_slice(), || {
            "the hello with its cookie was not verified".into()
        })?;
    }
    let wrong_port = verifier
        .verify_client(&server_socket, &second, from.ip(), from.port() ^ 1)
        .map_err(|e| e.to_string())?;
    check(!wrong_port && verifier.verified_hello().is_empty(), || {
        "a cookie verified for another port".into()
    })?;
    check(verifier.dtls_error() == DtlsError::NoError, || {
        "a fishy datagram set an error".into()
    })?;
    // The verifier sent a HelloVerifyRequest to the wrong port; nobody listens there.
    let server_backend = server.to_owned();
    let params = verifier.cookie_generator_parameters();
    let server_thread = frontend::spawn(move || -> Result<Dtls, String> {
        let mut s = Dtls::with_backend(SslMode::SslServerMode, &server_backend)
            .map_err(|e| e.to_string())?;
        s.set_dtls_configuration(dtls_server_config())
            .map_err(|e| e.to_string())?;
        s.set_cookie_generator_parameters(params)
            .map_err(|e| e.to_string())?;
        s.set_peer(from.ip(), from.port(), None)
            .map_err(|e| e.to_string())?;
        s.do_handshake(&server_socket, &second)
            .map_err(|e| format!("verified hello: {e}"))?;
        check(
            s.handshake_state() == HandshakeState::HandshakeInProgress,
            || "the verified hello did not start the handshake".into(),
        )?;
        drive(&mut s, &server_socket).map_err(|e| format!("server: {e}"))?;
        Ok(s)
    });
    let client_result = drive(&mut c, &client_socket);
    let s = server_thread
        .join()
        .map_err(|_| "server thread panicked".to_string())??;
    client_result.map_err(|e| format!("client: {e}"))?;
    check(
        c.is_connection_encrypted() && s.is_connection_encrypted(),
        || "not encrypted".into(),
    )
}

/// Qt's setPeer checks, and the calls that are refused once the handshake started.
fn set_peer_validation(backend: &str) -> Result<(), String> {
    let mut dtls =
        Dtls::with_backend(SslMode::SslClientMode, backend).map_err(|e| e.to_string())?;
    let invalid = [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1)),
        IpAddr::V6("ff02::1".parse().map_err(|_| "ff02::1")?),
    ];
    for address in invalid {
        let refused = matches!(
            dtls.set_peer(address, 4433, None),
            Err(Error::InvalidInput(_))
        );
        check(
            refused && dtls.dtls_error() == DtlsError::InvalidInputParameters,
            || format!("{address} accepted"),
        )?;
        check(dtls.peer_address().is_none(), || {
            format!("{address} was kept")
        })?;
    }
    let socket = udp()?;
    let target = udp()?;
    let target = addr(&target)?;
    dtls.set_peer(target.ip(), target.port(), Some("localhost"))
        .map_err(|e| e.to_string())?;
    check(dtls.dtls_error() == DtlsError::NoError, || {
        "a good peer left the error".into()
    })?;
    dtls.do_handshake(&socket, &[]).map_err(|e| e.to_string())?;
    check(
        dtls.handshake_state() == HandshakeState::HandshakeInProgress,
        || "handshake not in progress".into(),
    )?;
    let op = |r: Result<(), Error>, d: &Dtls, what: &str| {
        check(
            matches!(r, Err(Error::InvalidState(_)))
                && d.dtls_error() == DtlsError::InvalidOperation,
            || format!("{what} accepted after the handshake started"),
        )
    };
    let r = dtls.set_peer(target.ip(), target.port(), None);
    op(r, &dtls, "set_peer")?;
    let r = dtls.set_peer_verification_name("other");
    op(r, &dtls, "set_peer_verification_name")?;
    let r = dtls.set_dtls_configuration(dtls_client_config());
    op(r, &dtls, "set_dtls_configuration")?;
    let r = dtls.do_handshake(&socket, &[]);
    check(
        matches!(r, Err(Error::InvalidInput(_)))
            && dtls.dtls_error() == DtlsError::InvalidInputParameters,
        || "an empty datagram continued the handshake".into(),
    )?;
    dtls.abort_handshake(&socket).map_err(|e| e.to_string())?;
    check(
        dtls.handshake_state() == HandshakeState::HandshakeNotStarted,
        || "abort left a state".into(),
    )?;
    dtls.set_peer(target.ip(), target.port(), None)
        .map_err(|e| e.to_string())
}

/// tst_QDtls::construction and configuration: a new association, in either mode, has no peer,
/// no MTU hint, a SHA-256 cookie secret, the default DTLS configuration (DTLS 1.2 or later,
/// cookies on), no session and no error.
fn construction(backend: &str) -> Result<(), String> {
    let default = SslConfiguration::default_dtls_configuration();
    check(
        default.protocol == SslProtocol::DtlsV1_2OrLater
            && default.dtls_cookie_verification_enabled,
        || format!("the default DTLS configuration: {:?}", default.protocol),
    )?;
    for mode in [SslMode::SslClientMode, SslMode::SslServerMode] {
        let d = Dtls::with_backend(mode, backend).map_err(|e| e.to_string())?;
        let params = d.cookie_generator_parameters();
        let facts = [
            ("mode", d.ssl_mode() == mode),
            ("peer", d.peer_address().is_none() && d.peer_port() == 0),
            ("verification name", d.peer_verification_name().is_none()),
            ("MTU hint", d.mtu_hint() == 0),
            (
                "cookie parameters",
                params.hash == polytls::dtls::CookieHash::Sha256 && !params.secret.is_empty(),
            ),
            ("configuration", *d.dtls_configuration() == default),
            (
                "state",
                d.handshake_state() == HandshakeState::HandshakeNotStarted,
            ),
            (
                "session",
                !d.is_connection_encrypted()
                    && d.session_cipher().is_none()
                    && d.session_protocol() == SslProtocol::UnknownProtocol,
            ),
            (
                "error",
                d.dtls_error() == DtlsError::NoError
                    && d.dtls_error_string().is_empty()
                    && d.peer_verification_errors().is_empty(),
            ),
        ];
        if let Some((what, _)) = facts.iter().find(|(_, ok)| !ok) {
            return Err(format!("{mode:?}: a new association's {what} is not Qt's"));
        }
    }
    Ok(())
}

/// tst_QDtls::invalidConfiguration: a TLS configuration (a selector that is not DTLS) is
/// refused with InvalidInputParameters and the configuration in place stays.
fn invalid_configuration(backend: &str) -> Result<(), String> {
    let mut d = Dtls::with_backend(SslMode::SslClientMode, backend).map_err(|e| e.to_string())?;
    let kept = dtls_client_config();
    d.set_dtls_configuration(kept.clone())
        .map_err(|e| e.to_string())?;
    for protocol in [
        SslProtocol::SecureProtocols,
        SslProtocol::TlsV1_2,
        SslProtocol::TlsV1_3OrLater,
        SslProtocol::AnyProtocol,
    ] {
        let tls = SslConfiguration {
            protocol,
            ..SslConfiguration::default()
        };
        let r = d.set_dtls_configuration(tls);
        check(
            matches!(r, Err(Error::InvalidInput(_)))
                && d.dtls_error() == DtlsError::InvalidInputParameters,
            || format!("{protocol} accepted: {r:?}, {:?}", d.dtls_error()),
        )?;
        check(*d.dtls_configuration() == kept, || {
            format!("refusing {protocol} changed the configuration")
        })?;
    }
    Ok(())
}

/// Qt's precondition checks before any handshake: each call fails with Qt's kind.
fn preconditions(backend: &str) -> Result<(), String> {
    let socket = udp()?;
    let mut client =
        Dtls::with_backend(SslMode::SslClientMode, backend).map_err(|e| e.to_string())?;
    let r = client.do_handshake(&socket, &[]);
    check(
        matches!(r, Err(Error::InvalidState(_)))
            && client.dtls_error() == DtlsError::InvalidOperation,
        || "a handshake without a peer".into(),
    )?;
    let invalid_op = |d: &Dtls, failed: bool, what: &str| {
        check(
            failed
                && d.dtls_error() == DtlsError::InvalidOperation
                && !d.dtls_error_string().is_empty(),
            || format!("{what}: {:?}", d.dtls_error()),
        )
    };
    let failed = client.write_datagram_encrypted(&socket, b"x").is_err();
    invalid_op(&client, failed, "write before the handshake")?;
    let failed = client.decrypt_datagram(&socket, b"x").is_err();
    invalid_op(&client, failed, "decrypt before the handshake")?;
    let failed = client.shutdown(&socket).is_err();
    invalid_op(&client, failed, "shutdown before the handshake")?;
    let failed = client.resume_handshake(&socket).is_err();
    invalid_op(&client, failed, "resume before the handshake")?;
    let failed = client.abort_handshake(&socket).is_err();
    invalid_op(&client, failed, "abort before the handshake")?;
    check(matches!(client.handle_timeout(&socket), Ok(false)), || {
        "a timeout without a handshake".into()
    })?;
    check(client.timeout().is_none(), || {
        "a timer without a handshake".into()
    })?;
    let mut server =
        Dtls::with_backend(SslMode::SslServerMode, backend).map_err(|e| e.to_string())?;
    server
        .set_dtls_configuration(dtls_server_config())
        .map_err(|e| e.to_string())?;
    server
        .set_peer(IpAddr::V4(Ipv4Addr::LOCALHOST), 9, None)
        .map_err(|e| e.to_string())?;
    let r = server.do_handshake(&socket, &[]);
    check(
        matches!(r, Err(Error::InvalidInput(_)))
            && server.dtls_error() == DtlsError::InvalidInputParameters,
        || "a server started without a ClientHello".into(),
    )?;
    // Garbage as a first datagram starts nothing and creates no state.
    server
        .do_handshake(&socket, b"not a ClientHello")
        .map_err(|e| e.to_string())?;
    check(
        server.handshake_state() == HandshakeState::HandshakeNotStarted,
        || "garbage started a handshake".into(),
    )?;
    check(
        Dtls::with_backend(SslMode::UnencryptedMode, backend).is_err(),
        || "an unencrypted DTLS association".into(),
    )
}

/// A backend that does not claim Dtls refuses it with Unsupported, in the front end and in
/// its factory.
fn refusal(backend: &str) -> Result<(), String> {
    if polytls::is_class_implemented(ImplementedClass::Dtls, Some(backend)) {
        return Ok(());
    }
    check(
        matches!(
            Dtls::with_backend(SslMode::SslClientMode, backend),
            Err(Error::Unsupported { .. })
        ),
        || "Dtls created on a backend without DTLS".into(),
    )?;
    let b = polytls::Registry::global()
        .backend(Some(backend))
        .map_err(|e| e.to_string())?;
    let config = dtls_client_config();
    struct Accept;
    impl polytls::VerificationHook for Accept {
        fn decide(&self, _: &[polytls::Certificate], _: Vec<polytls::SslError>) -> bool {
            true
        }
    }
    let params = polytls::DtlsEngineParams::new(
        SslMode::SslClientMode,
        &config,
        None,
        Arc::new(Accept),
        1200,
    );
    check(
        matches!(b.new_dtls_engine(params), Err(Error::Unsupported { .. })),
        || "the DTLS factory did not refuse".into(),
    )
}

/// An oversized write is refused, nothing is sent, and the association goes on.
fn oversized_write(
    client: &str,
    server: &str,
    cookies: bool,
    protocol: SslProtocol,
) -> Result<(), String> {
    let ((mut c, cs), (mut s, ss)) = pair_with(
        client,
        at(protocol, dtls_client_config()),
        server,
        at(protocol, pair_server_config(cookies)),
        Box::new(|_| {}),
    )?;
    let max = c.max_datagram_size();
    check(max > 1000 && max < 1500, || format!("max datagram {max}"))?;
    let r = c.write_datagram_encrypted(&cs, &vec![1u8; max + 1]);
    check(
        matches!(r, Err(Error::InvalidInput(_))) && c.dtls_error() == DtlsError::TlsNonFatalError,
        || format!("oversized write: {r:?}"),
    )?;
    check(c.is_connection_encrypted(), || {
        "the association ended".into()
    })?;
    exchange(&mut c, &cs, &mut s, &ss, &vec![2u8; max])
}

/// Several records in one datagram, as RFC 6347 section 4.1.1 allows a sender to pack them:
/// the client's next three datagrams, joined into one, reach the server, whose
/// `decrypt_datagram_into` returns the three records' data in order; a datagram after it is
/// then decrypted on its own (a record the engine still held neither takes its place nor is
/// lost). DTLS 1.2, whose records all carry their length.
fn records_in_one_datagram(client: &str, server: &str) -> Result<(), String> {
    let v12 = SslProtocol::DtlsV1_2;
    let ((mut c, cs), (mut s, ss)) = pair_with(
        client,
        at(v12, dtls_client_config()),
        server,
        at(v12, pair_server_config(false)),
        Box::new(|_| {}),
    )?;
    let parts: [&[u8]; 3] = [b"the first record, ", b"the second, ", b"and the third"];
    let mut joined = Vec::new();
    for part in parts {
        c.write_datagram_encrypted(&cs, part)
            .map_err(|e| format!("write: {e}"))?;
        // Only application data (content type 23): nothing else is owed after the handshake.
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            check(Instant::now() < deadline, || {
                "the client's datagram never arrived".into()
            })?;
            if let Some((datagram, _)) = recv(&ss, Duration::from_millis(200))? {
                if datagram.first() == Some(&23) {
                    joined.extend_from_slice(&datagram);
                    break;
                }
            }
        }
    }
    let mut plain = Vec::new();
    let n = s
        .decrypt_datagram_into(&ss, &joined, &mut plain)
        .map_err(|e| format!("decrypt of three records in one datagram: {e}"))?;
    let want = parts.concat();
    check(n == plain.len() && plain == want, || {
        format!(
            "three records in one datagram decrypted to {:?} ({n} bytes reported), not {:?}",
            String::from_utf8_lossy(&plain),
            String::from_utf8_lossy(&want)
        )
    })?;
    exchange(&mut c, &cs, &mut s, &ss, b"the datagram after")
        .map_err(|e| format!("after three records in one datagram: {e}"))?;
    // Data and close_notify in one datagram: the data, then the close.
    c.write_datagram_encrypted(&cs, b"last words")
        .map_err(|e| format!("write: {e}"))?;
    c.shutdown(&cs).map_err(|e| format!("shutdown: {e}"))?;
    let mut joined = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    while joined.first() != Some(&23) || !has_record_of_type(&joined, 21) {
        check(Instant::now() < deadline, || {
            "the client's data and close_notify never arrived".into()
        })?;
        if let Some((datagram, _)) = recv(&ss, Duration::from_millis(200))? {
            if matches!(datagram.first(), Some(23 | 21)) {
                joined.extend_from_slice(&datagram);
            }
        }
    }
    let plain = s
        .decrypt_datagram(&ss, &joined)
        .map_err(|e| format!("decrypt of data and close_notify in one datagram: {e}"))?;
    check(plain == b"last words", || {
        format!(
            "data and close_notify in one datagram decrypted to {:?}",
            String::from_utf8_lossy(&plain)
        )
    })?;
    check(
        s.dtls_error() == DtlsError::RemoteClosedConnectionError && !s.is_connection_encrypted(),
        || {
            format!(
                "after data and close_notify in one datagram: {}, encrypted {}",
                s.dtls_error(),
                s.is_connection_encrypted()
            )
        },
    )
}

/// Whether the DTLS 1.2 records of `datagram` include one of content `type` (each record: a
/// 13-byte header whose last two bytes are the length of its body).
fn has_record_of_type(mut datagram: &[u8], content_type: u8) -> bool {
    while datagram.len() >= 13 {
        if datagram[0] == content_type {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([datagram[11], datagram[12]]));
        datagram = datagram.get(13 + len..).unwrap_or_default();
    }
    false
}

/// Sockets connected to the peer (`Dtls::set_socket_connected`, beyond Qt): with both sides'
/// sockets connected to each other and declared so, the handshake and data both ways work.
/// A write through a socket connected elsewhere, or to nothing, is refused with
/// InvalidInputParameters naming the peer, and nothing of it reaches the peer: the next
/// datagram the server gets is the one written after, through the right socket.
fn connected_sockets(client: &str, server: &str) -> Result<(), String> {
    let (client_socket, server_socket) = (udp()?, udp()?);
    let server_addr = addr(&server_socket)?;
    client_socket
        .connect(server_addr)
        .map_err(|e| format!("connect: {e}"))?;
    server_socket
        .connect(addr(&client_socket)?)
        .map_err(|e| format!("connect: {e}"))?;
    let (c, (s, server_result)) = run_pair_on(
        (client_socket, server_socket),
        client,
        dtls_client_config(),
        |c| c.set_socket_connected(true),
        server,
        pair_server_config(false),
        Box::new(|s| s.set_socket_connected(true)),
    )?;
    let ((mut c, cs), client_result) = c.map_err(|e| format!("client: {e}"))?;
    client_result.map_err(|e| format!("client: {e}"))?;
    server_result.map_err(|e| format!("server: {e}"))?;
    let (mut s, ss) = s;
    check(c.socket_connected() && s.socket_connected(), || {
        "the declarations did not hold".into()
    })?;
    exchange(&mut c, &cs, &mut s, &ss, b"on connected sockets")?;
    exchange(&mut s, &ss, &mut c, &cs, b"and back")?;
    let elsewhere = udp()?;
    elsewhere
        .connect(addr(&udp()?)?)
        .map_err(|e| format!("connect: {e}"))?;
    for (what, socket) in [
        ("connected elsewhere", &elsewhere),
        ("unconnected", &udp()?),
    ] {
        let r = c.write_datagram_encrypted(socket, b"must not be sent");
        let refused =
            matches!(&r, Err(Error::InvalidInput(m)) if m.contains(&server_addr.to_string()));
        check(
            refused && c.dtls_error() == DtlsError::InvalidInputParameters,
            || format!("a write through a socket {what}: {r:?}, {}", c.dtls_error()),
        )?;
        check(c.is_connection_encrypted(), || {
            format!("a refused write through a socket {what} ended the association")
        })?;
    }
    exchange(&mut c, &cs, &mut s, &ss, b"after the refused writes")
}

/// A socket that refuses sends with `WouldBlock` while it is armed, as a non-blocking socket
/// with a full send buffer does.
struct FullBuffer {
    socket: UdpSocket,
    armed: AtomicBool,
}

impl polytls::DatagramSocket for FullBuffer {
    fn send_datagram_to(&self, datagram: &[u8], peer: SocketAddr) -> std::io::Result<usize> {
        if self.armed.load(Ordering::Relaxed) {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.socket.send_to(datagram, peer)
    }

    fn send_datagram(&self, datagram: &[u8]) -> std::io::Result<usize> {
        if self.armed.load(Ordering::Relaxed) {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.socket.send(datagram)
    }

    fn connected_peer(&self) -> std::io::Result<SocketAddr> {
        self.socket.peer_addr()
    }

    fn identity(&self) -> Option<u64> {
        self.socket.identity()
    }
}

/// An established pair whose client sends through a socket that refuses every datagram with
/// `WouldBlock` until it is disarmed.
fn pair_behind_full_buffer(
    client: &str,
    server: &str,
) -> Result<((Dtls, FullBuffer), Side), String> {
    let ((c, cs), server) = pair(
        client,
        dtls_client_config(),
        server,
        false,
        Box::new(|_| {}),
    )?;
    let full = FullBuffer {
        socket: cs,
        armed: AtomicBool::new(true),
    };
    Ok(((c, full), server))
}

/// Datagrams wait (`has_pending`), and `send_pending` into a buffer still full fails with
/// `WouldBlock`; then the buffer empties.
fn still_full_then_emptied(c: &mut Dtls, full: &FullBuffer) -> Result<(), String> {
    check(c.has_pending(), || {
        "nothing said to wait behind the full buffer".into()
    })?;
    let again = c.send_pending(full);
    check(
        matches!(&again, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock)
            && c.has_pending(),
        || format!("send_pending into a still full buffer: {again:?}"),
    )?;
    full.armed.store(false, Ordering::Relaxed);
    Ok(())
}

/// A write the socket refuses with `WouldBlock` is not lost: the call fails with an I/O
/// error of that kind (UnderlyingSocketError), the record stays queued, and
/// `send_pending` sends it once the socket takes datagrams again, and the peer decrypts it
/// before the next.
fn would_block_then_pending(client: &str, server: &str) -> Result<(), String> {
    let ((mut c, full), (mut s, ss)) = pair_behind_full_buffer(client, server)?;
    let r = c.write_datagram_encrypted(&full, b"queued behind a full buffer");
    check(
        matches!(&r, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock)
            && c.dtls_error() == DtlsError::UnderlyingSocketError,
        || format!("a write into a full buffer: {r:?}, {}", c.dtls_error()),
    )?;
    check(c.is_connection_encrypted(), || {
        "a full send buffer ended the association".into()
    })?;
    still_full_then_emptied(&mut c, &full)?;
    let sent = c
        .send_pending(&full)
        .map_err(|e| format!("send_pending: {e}"))?;
    check(sent > 27 && c.dtls_error() == DtlsError::NoError, || {
        format!("send_pending sent {sent} bytes ({})", c.dtls_error())
    })?;
    check(
        matches!(c.send_pending(&full), Ok(0)) && !c.has_pending(),
        || "send_pending sent something twice, or something still waits".into(),
    )?;
    let plain = decrypt_until(&mut s, &ss, "the queued datagram", |_, plain| {
        !plain.is_empty()
    })?;
    check(plain == b"queued behind a full buffer", || {
        format!("the server decrypted {:?}", String::from_utf8_lossy(&plain))
    })?;
    exchange(&mut c, &full.socket, &mut s, &ss, b"and the next one")
}

/// Decrypts what `socket` receives until `done` says so of the association and the data of
/// a datagram; returns that data. Fails when decryption fails or nothing does within
/// [`IO_TIMEOUT`].
fn decrypt_until(
    dtls: &mut Dtls,
    socket: &UdpSocket,
    awaited: &str,
    done: impl Fn(&Dtls, &[u8]) -> bool,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        if let Some((datagram, _)) = recv(socket, Duration::from_millis(200))? {
            let plain = dtls
                .decrypt_datagram(socket, &datagram)
                .map_err(|e| format!("decrypt: {e}"))?;
            if done(dtls, &plain) {
                return Ok(plain);
            }
        }
    }
    Err(format!("{awaited} never arrived"))
}

/// A shutdown whose close_notify the socket refuses with `WouldBlock` ends the association
/// and keeps the alert queued: `send_pending` sends it once the socket takes datagrams
/// again, and the peer reads it as the end of the association.
fn shutdown_would_block_then_pending(client: &str, server: &str) -> Result<(), String> {
    let ((mut c, full), (mut s, ss)) = pair_behind_full_buffer(client, server)?;
    let r = c.shutdown(&full);
    check(
        matches!(&r, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock),
        || format!("a shutdown into a full buffer: {r:?}"),
    )?;
    check(
        c.handshake_state() == HandshakeState::HandshakeNotStarted,
        || format!("after the shutdown: {:?}", c.handshake_state()),
    )?;
    still_full_then_emptied(&mut c, &full)?;
    let sent = c
        .send_pending(&full)
        .map_err(|e| format!("send_pending: {e}"))?;
    check(sent > 0, || "send_pending sent no close_notify".into())?;
    check(matches!(c.send_pending(&full), Ok(0)), || {
        "send_pending sent the close_notify twice".into()
    })?;
    let plain = decrypt_until(&mut s, &ss, "the queued close_notify", |s, _| {
        s.dtls_error() == DtlsError::RemoteClosedConnectionError
    })?;
    check(plain.is_empty(), || {
        format!("the server decrypted {} bytes", plain.len())
    })?;
    check(!s.is_connection_encrypted(), || {
        "the server stayed encrypted after close_notify".into()
    })
}

/// A server sends the intermediates of its local chain (`LocalCertificateChain`): with the
/// leaf two intermediates below the root, a client that trusts only the root completes the
/// handshake with no errors and sees the whole chain.
fn intermediates_sent(client: &str, server: &str) -> Result<(), String> {
    let deep = &Pki::get().deep;
    let ((c, _), _) = pair_with(
        client,
        dtls_client_config(),
        server,
        SslConfiguration {
            dtls_cookie_verification_enabled: false,
            ..dtls_server_config_for(deep)
        },
        Box::new(|_| {}),
    )?;
    check(c.peer_verification_errors().is_empty(), || {
        format!("the client found {:?}", c.peer_verification_errors())
    })?;
    let chain = c.peer_certificate_chain();
    check(chain == deep.chain, || {
        format!(
            "the client saw {} certificates, the server's chain has {}",
            chain.len(),
            deep.chain.len()
        )
    })
}

/// A local chain longer than its leaf needs `LocalCertificateChain`: a backend that does not
/// claim it refuses one with `Unsupported` naming the intermediates, as a server and as a
/// client (before any engine exists); one that claims it starts the handshake.
fn chain_refused_unless_claimed(backend: &str) -> Result<(), String> {
    let claimed = polytls::supported_features(Some(backend))
        .contains(&SupportedFeature::LocalCertificateChain);
    let deep = &Pki::get().deep;
    for mode in [SslMode::SslServerMode, SslMode::SslClientMode] {
        let config = match mode {
            SslMode::SslServerMode => SslConfiguration {
                dtls_cookie_verification_enabled: false,
                ..dtls_server_config_for(deep)
            },
            _ => SslConfiguration {
                local_certificate_chain: deep.chain.clone(),
                private_key: Some(deep.key.clone()),
                ..dtls_client_config()
            },
        };
        let socket = udp()?;
        let target = addr(&udp()?)?;
        let mut dtls = Dtls::with_backend(mode, backend).map_err(|e| e.to_string())?;
        dtls.set_dtls_configuration(config)
            .map_err(|e| e.to_string())?;
        dtls.set_peer(target.ip(), target.port(), None)
            .map_err(|e| e.to_string())?;
        let hello: &[u8] = match mode {
            SslMode::SslServerMode => b"\x16\xfe\xfd a datagram",
            _ => &[],
        };
        match (claimed, dtls.do_handshake(&socket, hello)) {
            (false, Err(Error::Unsupported { what, .. })) => {
                check(what.contains("intermediate"), || {
                    format!("{mode:?}: refused as {what:?}")
                })?;
            }
            (false, other) => {
                return Err(format!("{mode:?}: a chain of 3 was not refused: {other:?}"))
            }
            (true, Err(Error::Unsupported { what, .. })) => {
                return Err(format!("{mode:?}: refused as {what:?} although claimed"))
            }
            (true, _) => {}
        }
    }
    Ok(())
}

/// Where the relay is, and what it did.
pub(super) struct Relay {
    pub(super) addr: SocketAddr,
    largest: Arc<AtomicUsize>,
    pub(super) dropped: Arc<AtomicUsize>,
}

/// A UDP relay between one client and `server`: drops the first datagram of each direction,
/// sends every third datagram twice and holds every fifth back until the next one has gone
/// (reordering); records the largest datagram seen. Stops after `life`.
pub(super) fn relay(server: SocketAddr, life: Duration) -> Result<Relay, String> {
    let socket = udp()?;
    let relay_addr = addr(&socket)?;
    let largest = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (l, d) = (Arc::clone(&largest), Arc::clone(&dropped));
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        let mut client: Option<SocketAddr> = None;
        let mut counts = [0usize; 2];
        let mut held: [Option<Vec<u8>>; 2] = [None, None];
        while Instant::now() < end {
            let Ok(Some((datagram, from))) = recv(&socket, Duration::from_millis(50)) else {
                continue;
            };
            let (dir, to) = if from == server {
                match client {
                    Some(c) => (1, c),
                    None => continue,
                }
            } else {
                client = Some(from);
                (0, server)
            };
            l.fetch_max(datagram.len(), Ordering::Relaxed);
            counts[dir] += 1;
            let n = counts[dir];
            if n == 1 {
                d.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if n % 5 == 0 && held[dir].is_none() {
                held[dir] = Some(datagram);
                continue;
            }
            let _ = socket.send_to(&datagram, to);
            if n % 3 == 0 {
                let _ = socket.send_to(&datagram, to);
            }
            if let Some(late) = held[dir].take() {
                let _ = socket.send_to(&late, to);
            }
        }
    });
    Ok(Relay {
        addr: relay_addr,
        largest,
        dropped,
    })
}

/// The handshake completes through a relay that loses, duplicates and reorders datagrams,
/// by retransmission on the timer (the handshake-timeout event fires); with `mtu_hint`,
/// every datagram fits the MTU.
fn lossy(
    client: &str,
    server: &str,
    cookies: bool,
    mtu_hint: u16,
    protocol: SslProtocol,
) -> Result<(), String> {
    let server_socket = udp()?;
    let client_socket = udp()?;
    let relay = relay(addr(&server_socket)?, IO_TIMEOUT)?;
    let server_backend = server.to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let server_done = Arc::clone(&done);
    let server_thread = frontend::spawn(move || -> Result<Vec<u8>, String> {
        let mut s = Dtls::with_backend(SslMode::SslServerMode, &server_backend)
            .map_err(|e| e.to_string())?;
        s.set_dtls_configuration(at(protocol, pair_server_config(cookies)))
            .map_err(|e| e.to_string())?;
        s.set_mtu_hint(mtu_hint);
        drive(&mut s, &server_socket).map_err(|e| format!("server: {e}"))?;
        // Keep answering: the client may need the last flight again, and sends data.
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut got = Vec::new();
        while !server_done.load(Ordering::Relaxed) && Instant::now() < deadline {
            if let Some((d, _)) = recv(&server_socket, Duration::from_millis(50))? {
                got.extend(
                    s.decrypt_datagram(&server_socket, &d)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        Ok(got)
    });
    let timeouts = Arc::new(AtomicUsize::new(0));
    let client_result = (|| {
        let mut c = Dtls::with_backend(SslMode::SslClientMode, client)?;
        c.set_dtls_configuration(at(protocol, dtls_client_config()))?;
        c.set_mtu_hint(mtu_hint);
        let t = Arc::clone(&timeouts);
        c.on_handshake_timeout(move || {
            t.fetch_add(1, Ordering::Relaxed);
        });
        c.set_peer(relay.addr.ip(), relay.addr.port(), Some("localhost"))?;
        c.do_handshake(&client_socket, &[])?;
        drive(&mut c, &client_socket)?;
        // Several datagrams: the relay may hold one back until the next.
        for _ in 0..3 {
            c.write_datagram_encrypted(&client_socket, b"through the relay")?;
        }
        Ok::<_, Error>(c)
    })();
    let deadline = Instant::now() + IO_TIMEOUT;
    while client_result.is_ok() && Instant::now() < deadline && !server_thread.is_finished() {
        // Give the server the data, then stop it.
        if recv(&client_socket, Duration::from_millis(300))?.is_none() {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    let got = server_thread
        .join()
        .map_err(|_| "server thread panicked".to_string())??;
    let c = client_result.map_err(|e| format!("client: {e}"))?;
    check(got.starts_with(b"through the relay"), || {
        format!("the server got {:?}", String::from_utf8_lossy(&got))
    })?;
    check(relay.dropped.load(Ordering::Relaxed) >= 2, || {
        "the relay dropped nothing".into()
    })?;
    check(timeouts.load(Ordering::Relaxed) > 0, || {
        "the client never retransmitted".into()
    })?;
    if mtu_hint > 0 {
        let largest = relay.largest.load(Ordering::Relaxed);
        check(largest <= 256, || {
            format!("a datagram of {largest} bytes at MTU 256")
        })?;
        check(c.max_datagram_size() < 256, || {
            "max datagram above the MTU".into()
        })?;
    }
    Ok(())
}

/// `openssl s_server -dtls1_2` as the peer of a polytls client.
fn against_s_server(backend: &str) -> Result<(), String> {
    against_s_server_with(backend, &[], dtls_client_config(), |_| {}, |_| Ok(()))
}

/// `openssl s_server -dtls1_2` with `extra` arguments as the peer of a polytls client with
/// `config` and `setup`; `verify` checks the association once its handshake is done.
pub(super) fn against_s_server_with(
    backend: &str,
    extra: &[&str],
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
    verify: impl FnOnce(&Dtls) -> Result<(), String>,
) -> Result<(), String> {
    let dir = TempDir::new()?;
    let pki = Pki::get();
    let cert = dir.write_certs("server.pem", &pki.server.chain)?;
    let key = dir.write("server.key", pki.server.key.to_pem().as_bytes())?;
    let probe = udp()?;
    let port = addr(&probe)?.port();
    drop(probe);
    let mut child = Command::new("openssl")
        .args([
            "s_server",
            "-dtls1_2",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-naccept",
            "1",
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start openssl s_server: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let peer = Peer(child);
    let mut lines = BufReader::new(stdout).lines();
    // s_server says ACCEPT once it listens.
    loop {
        let line = lines
            .next()
            .ok_or("s_server exited before accepting")?
            .map_err(|e| e.to_string())?;
        if line.starts_with("ACCEPT") {
            break;
        }
    }
    let socket = udp()?;
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let mut c =
        start_client_after(backend, config, setup, server, &socket).map_err(|e| e.to_string())?;
    drive(&mut c, &socket).map_err(|e| format!("handshake with s_server: {e}"))?;
    check(c.session_protocol() == SslProtocol::DtlsV1_2, || {
        format!("negotiated {}", c.session_protocol())
    })?;
    verify(&c)?;
    c.write_datagram_encrypted(&socket, b"hello s_server\n")
        .map_err(|e| e.to_string())?;
    let mut saw = false;
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if line.contains("hello s_server") {
            saw = true;
            break;
        }
    }
    check(saw, || "s_server never printed the datagram".into())?;
    stdin
        .write_all(b"hello polytls\n")
        .map_err(|e| e.to_string())?;
    stdin.flush().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    while Instant::now() < deadline && !got.ends_with(b"hello polytls\n") {
        if let Some((d, _)) = recv(&socket, Duration::from_millis(200))? {
            got.extend(c.decrypt_datagram(&socket, &d).map_err(|e| e.to_string())?);
        }
    }
    check(got.ends_with(b"hello polytls\n"), || {
        format!("got {:?} from s_server", String::from_utf8_lossy(&got))
    })?;
    c.shutdown(&socket).map_err(|e| e.to_string())?;
    drop(stdin);
    drop(peer);
    Ok(())
}

/// `openssl s_client -dtls1_2` as the peer of a polytls server verifying cookies.
fn against_s_client(backend: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let ca = ca.display().to_string();
    let args = [
        "-verify_return_error",
        "-verify_hostname",
        "localhost",
        "-CAfile",
        &ca,
    ];
    against_s_client_with(backend, &args, dtls_server_config(), |_| {}, |_| Ok(()))
}

/// `openssl s_client -dtls1_2` with `args` as the peer of a polytls server with `config` and
/// `setup`; `verify` checks the association once its handshake is done.
pub(super) fn against_s_client_with(
    backend: &str,
    args: &[&str],
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
    verify: impl FnOnce(&Dtls) -> Result<(), String>,
) -> Result<(), String> {
    let socket = udp()?;
    let port = addr(&socket)?.port();
    let mut peer = SClient::start(port, std::iter::once(&"-dtls1_2").chain(args))?;
    let mut s = Dtls::with_backend(SslMode::SslServerMode, backend).map_err(|e| e.to_string())?;
    s.set_dtls_configuration(config)
        .map_err(|e| e.to_string())?;
    setup(&mut s);
    if let Err(e) = drive(&mut s, &socket) {
        return Err(format!(
            "handshake with s_client: {e}; s_client said: {}",
            peer.said()
        ));
    }
    verify(&s)?;
    peer.stdin
        .write_all(b"ping from s_client\n")
        .map_err(|e| e.to_string())?;
    peer.stdin.flush().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    while Instant::now() < deadline && !got.ends_with(b"ping from s_client\n") {
        if let Some((d, _)) = recv(&socket, Duration::from_millis(200))? {
            got.extend(s.decrypt_datagram(&socket, &d).map_err(|e| e.to_string())?);
        }
    }
    check(got.ends_with(b"ping from s_client\n"), || {
        format!("got {:?} from s_client", String::from_utf8_lossy(&got))
    })?;
    s.write_datagram_encrypted(&socket, b"pong from polytls\n")
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; 18];
    peer.stdout
        .read_exact(&mut out)
        .map_err(|e| format!("s_client output: {e}"))?;
    check(&out == b"pong from polytls\n", || {
        format!("s_client printed {:?}", String::from_utf8_lossy(&out))
    })?;
    s.shutdown(&socket).map_err(|e| e.to_string())?;
    Ok(())
}

/// A client accepting DTLS 1.2 or later negotiates DTLS 1.2 with a DTLS 1.2 server.
fn or_later(client: &str, server: &str, cookies: bool) -> Result<(), String> {
    let config = SslConfiguration {
        protocol: SslProtocol::DtlsV1_2OrLater,
        ..dtls_client_config()
    };
    let ((c, _), (s, _)) = pair(client, config, server, cookies, Box::new(|_| {}))?;
    check(
        c.session_protocol() == SslProtocol::DtlsV1_2
            && s.session_protocol() == SslProtocol::DtlsV1_2,
        || {
            format!(
                "negotiated {} / {}",
                c.session_protocol(),
                s.session_protocol()
            )
        },
    )
}

/// The DTLS selectors the version matrix crosses, polytls' DTLS 1.3 selectors included.
const MATRIX: [SslProtocol; 6] = [
    SslProtocol::DtlsV1_0,
    SslProtocol::DtlsV1_0OrLater,
    SslProtocol::DtlsV1_2,
    SslProtocol::DtlsV1_2OrLater,
    SslProtocol::DtlsV1_3,
    SslProtocol::DtlsV1_3OrLater,
];

/// The DTLS versions `backend` claims: those whose exact selector it claims.
fn claimed_versions(backend: &str) -> Vec<ProtocolVersion> {
    let claims = polytls::supported_protocols(Some(backend));
    ProtocolVersion::DTLS
        .into_iter()
        .filter(|v| claims.contains(&v.exact()))
        .collect()
}

/// The DTLS version matrix: a client allowing `client_protocol` and a server allowing
/// `server_protocol` negotiate the newest version both allow (of those their backends
/// claim), with a cipher suite of that version; when they share none, the handshake fails
/// on both sides.
fn version_pair(
    client: &str,
    server: &str,
    client_protocol: SslProtocol,
    server_protocol: SslProtocol,
) -> Result<(), String> {
    let server_allows = server_protocol.dtls_versions(&claimed_versions(server));
    let expected = client_protocol
        .dtls_versions(&claimed_versions(client))
        .into_iter()
        .rfind(|v| server_allows.contains(v));
    let client_config = SslConfiguration {
        protocol: client_protocol,
        ..dtls_client_config()
    };
    let server_config = SslConfiguration {
        protocol: server_protocol,
        ..pair_server_config(false)
    };
    let result = pair_with(
        client,
        client_config,
        server,
        server_config,
        Box::new(|_| {}),
    );
    match (expected, result) {
        (Some(version), Ok(((c, _), (s, _)))) => {
            for (side, d) in [("client", &c), ("server", &s)] {
                check(d.session_protocol() == version.exact(), || {
                    format!(
                        "{side} negotiated {}, expected {version}",
                        d.session_protocol()
                    )
                })?;
                let cipher = d.session_cipher().ok_or(format!("{side} has no cipher"))?;
                check(cipher.protocol() == version.exact(), || {
                    format!(
                        "{side}'s cipher {} is of {}",
                        cipher.name(),
                        cipher.protocol()
                    )
                })?;
            }
            Ok(())
        }
        (Some(version), Err(e)) => Err(format!("expected {version}: {e}")),
        (None, Ok(((c, _), _))) => Err(format!(
            "no version in common, yet {} was negotiated",
            c.session_protocol()
        )),
        (None, Err(_)) => Ok(()),
    }
}

/// The version matrix cases: every pair of [`MATRIX`] selectors the two backends claim.
fn version_cases() -> Vec<Case> {
    let side = |protocol: SslProtocol| Needs {
        classes: vec![ImplementedClass::Dtls],
        protocols: vec![protocol],
        ..Needs::default()
    };
    let mut cases = Vec::new();
    for client_protocol in MATRIX {
        for server_protocol in MATRIX {
            cases.push(Case::pair(
                format!("dtls/protocols/{client_protocol}_to_{server_protocol}"),
                side(client_protocol),
                side(server_protocol),
                move |c, s| version_pair(c, s, client_protocol, server_protocol),
            ));
        }
    }
    cases
}

/// ALPN over DTLS: the client offers `client_offers`, the server chooses from `server_offers`
/// (in its own order); both sides agree on `expected`, or, with `expected` `Err(())`, neither
/// side is encrypted (the server found nothing in common).
fn alpn_pair(
    c: &str,
    s: &str,
    client_offers: &[&[u8]],
    server_offers: &[&[u8]],
    expected: Result<Option<&[u8]>, ()>,
) -> Result<(), String> {
    let list = |offers: &[&[u8]]| offers.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    let client_config = SslConfiguration {
        allowed_next_protocols: list(client_offers),
        ..dtls_client_config()
    };
    let server_config = SslConfiguration {
        allowed_next_protocols: list(server_offers),
        ..pair_server_config(false)
    };
    let (client, (server, server_result)) =
        run_pair(c, client_config, s, server_config, Box::new(|_| {}))?;
    match (expected, client, server_result) {
        (Ok(expected), Ok((c, _)), Ok(())) => {
            for (side, d) in [("client", &c), ("server", &server.0)] {
                check(d.negotiated_application_protocol() == expected, || {
                    format!(
                        "{side} negotiated {:?}, expected {:?}",
                        d.negotiated_application_protocol()
                            .map(String::from_utf8_lossy),
                        expected.map(String::from_utf8_lossy)
                    )
                })?;
            }
            Ok(())
        }
        (Err(()), Err(_), Err(_)) => check(!server.0.is_connection_encrypted(), || {
            "the server is encrypted".into()
        }),
        (_, c, s) => Err(format!(
            "unexpected outcome: client {:?}, server {:?}",
            c.err().map(|e| e.to_string()),
            s.err().map(|e| e.to_string())
        )),
    }
}

/// Checks that an association in `mode` on `b` with `config`, after `setup`, refuses to start
/// its handshake with Unsupported (a server is handed a first datagram, which it never reads).
pub(super) fn refused_at_start(
    b: &str,
    mode: SslMode,
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
) -> Result<(), String> {
    let socket = udp()?;
    let target = addr(&udp()?)?;
    let mut dtls = Dtls::with_backend(mode, b).map_err(|e| e.to_string())?;
    dtls.set_dtls_configuration(config)
        .map_err(|e| e.to_string())?;
    setup(&mut dtls);
    dtls.set_peer(target.ip(), target.port(), None)
        .map_err(|e| e.to_string())?;
    let hello: &[u8] = if mode == SslMode::SslServerMode {
        b"\x16\xfe\xfd a datagram"
    } else {
        &[]
    };
    match dtls.do_handshake(&socket, hello) {
        Err(Error::Unsupported { .. }) => Ok(()),
        other => Err(format!("{mode:?}: expected Unsupported, got {other:?}")),
    }
}

/// A DTLS backend that does not claim ALPN refuses it on the side it lacks, with Unsupported.
fn alpn_refused(b: &str) -> Result<(), String> {
    for (mode, feature, base) in [
        (
            SslMode::SslClientMode,
            SupportedFeature::ClientSideAlpn,
            dtls_client_config(),
        ),
        (
            SslMode::SslServerMode,
            SupportedFeature::ServerSideAlpn,
            pair_server_config(false),
        ),
    ] {
        if !polytls::is_feature_supported(feature, Some(b)) {
            let config = SslConfiguration {
                allowed_next_protocols: vec![b"h2".to_vec()],
                ..base
            };
            refused_at_start(b, mode, config, |_| {}).map_err(|e| format!("{feature}: {e}"))?;
        }
    }
    Ok(())
}

/// tst_QDtls::cipherPreferences: a cipher list is honoured in its order (the server's wins,
/// or the client's with `DisableServerCipherPreference`), or refused at the start with
/// Unsupported where the backend cannot honour the order (dimpl), never ignored.
fn cipher_preferences(b: &str) -> Result<(), String> {
    let suite = |name: &str| SslCipher::from_name(name).ok_or(format!("{name} is unknown"));
    let aes128 = suite("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")?;
    let aes256 = suite("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")?;
    let server_base = SslConfiguration {
        ciphers: Some(vec![aes128, aes256]),
        ..pair_server_config(false)
    };
    let client_config = SslConfiguration {
        ciphers: Some(vec![aes256, aes128]),
        ..dtls_client_config()
    };
    if refused_at_start(b, SslMode::SslClientMode, client_config.clone(), |_| {}).is_ok() {
        return refused_at_start(b, SslMode::SslServerMode, server_base, |_| {})
            .map_err(|e| format!("the client refused a cipher list, the server: {e}"));
    }
    for (prefer_client, expected) in [(false, aes128), (true, aes256)] {
        let mut server_config = server_base.clone();
        server_config.set_ssl_option(SslOption::DisableServerCipherPreference, prefer_client);
        let ((c, _), (s, _)) =
            pair_with(b, client_config.clone(), b, server_config, Box::new(|_| {}))?;
        for (side, d) in [("client", &c), ("server", &s)] {
            check(
                d.session_cipher().map(|c| c.id()) == Some(expected.id()),
                || {
                    format!(
                        "prefer client {prefer_client}: {side} negotiated {:?}, expected {}",
                        d.session_cipher().map(|c| c.name()),
                        expected.name()
                    )
                },
            )?;
        }
    }
    Ok(())
}

fn alpn_cases() -> Vec<Case> {
    let client = || needs_dtls().and_feature(SupportedFeature::ClientSideAlpn);
    let server = || needs_dtls().and_feature(SupportedFeature::ServerSideAlpn);
    vec![
        Case::single("dtls/alpn/unclaimed_is_refused", needs_dtls(), alpn_refused),
        Case::single(
            "dtls/ciphers/list_is_honoured_in_order_or_refused",
            needs_dtls(),
            cipher_preferences,
        ),
        Case::pair("dtls/alpn/server_order_wins", client(), server(), |c, s| {
            alpn_pair(
                c,
                s,
                &[b"h2", b"http/1.1"],
                &[b"http/1.1", b"h2"],
                Ok(Some(b"http/1.1")),
            )
        }),
        Case::pair(
            "dtls/alpn/client_only_agrees_on_none",
            client(),
            needs_dtls(),
            |c, s| alpn_pair(c, s, &[b"h2"], &[], Ok(None)),
        ),
        Case::pair("dtls/alpn/no_overlap_fails", client(), server(), |c, s| {
            alpn_pair(c, s, &[b"h2"], &[b"coap"], Err(()))
        }),
    ]
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::single("dtls/refusal/unclaimed", Needs::default(), refusal),
        Case::single(
            "dtls/set_peer_validation",
            needs_dtls(),
            set_peer_validation,
        ),
        Case::single("dtls/preconditions", needs_cookie(), preconditions),
        Case::single("dtls/construction", needs_dtls(), construction),
        Case::single(
            "dtls/invalid_configuration",
            needs_dtls(),
            invalid_configuration,
        ),
        Case::pair(
            "dtls/data/records_in_one_datagram",
            needs_dtls(),
            needs_dtls(),
            records_in_one_datagram,
        ),
        Case::pair(
            "dtls/socket/connected",
            needs_dtls(),
            needs_dtls(),
            connected_sockets,
        ),
        Case::pair(
            "dtls/socket/would_block_then_pending",
            needs_dtls(),
            needs_dtls(),
            would_block_then_pending,
        ),
        Case::pair(
            "dtls/socket/shutdown_would_block_then_pending",
            needs_dtls(),
            needs_dtls(),
            shutdown_would_block_then_pending,
        ),
        Case::pair(
            "dtls/chain/intermediates_sent",
            needs_dtls().and_feature(SupportedFeature::CertificateVerification),
            needs_dtls().and_feature(SupportedFeature::LocalCertificateChain),
            intermediates_sent,
        ),
        Case::single(
            "dtls/chain/refused_unless_claimed",
            needs_dtls(),
            chain_refused_unless_claimed,
        ),
    ]
    .into_iter()
    .chain(pair_cases(true))
    .chain(pair_cases(false))
    .chain(version_cases())
    .chain(dtls13_cases())
    .chain(verify_mode_cases())
    .chain(alpn_cases())
    .chain([
        Case::single(
            "external/openssl_s_server/DtlsV1_2",
            needs_dtls().and_tool("openssl"),
            against_s_server,
        ),
        Case::single(
            "external/openssl_s_client/DtlsV1_2",
            needs_cookie().and_tool("openssl"),
            against_s_client,
        ),
    ])
    .collect()
}

/// The two-sided cases, with a server verifying cookies (named as they always were; the
/// server needs DtlsCookie) or not (`.../without_cookie`; the Dtls class is enough, so a
/// backend whose engine runs no cookie exchange for core is proved too).
fn pair_cases(cookies: bool) -> Vec<Case> {
    let server = if cookies {
        needs_cookie()
    } else {
        needs_dtls()
    };
    let name = |base: &str| {
        if cookies {
            base.to_owned()
        } else {
            format!("{base}/without_cookie")
        }
    };
    let mut cases = vec![
        Case::pair(
            name("dtls/handshake/client_shutdown"),
            needs_dtls(),
            server.clone(),
            move |c, s| handshake_and_data(c, s, cookies, true, SslProtocol::DtlsV1_2),
        ),
        Case::pair(
            name("dtls/handshake/server_shutdown"),
            needs_dtls(),
            server.clone(),
            move |c, s| handshake_and_data(c, s, cookies, false, SslProtocol::DtlsV1_2),
        ),
        Case::pair(
            name("dtls/write/oversized"),
            needs_dtls(),
            server.clone(),
            move |c, s| oversized_write(c, s, cookies, SslProtocol::DtlsV1_2),
        ),
        Case::pair(
            name("dtls/retransmission/lossy_relay"),
            needs_dtls(),
            server.clone(),
            move |c, s| lossy(c, s, cookies, 0, SslProtocol::DtlsV1_2),
        ),
        Case::pair(
            name("dtls/protocols/client_DtlsV1_2OrLater"),
            needs_dtls().and_protocol(SslProtocol::DtlsV1_2OrLater),
            server.clone(),
            move |c, s| or_later(c, s, cookies),
        ),
    ];
    // Without cookies, the relay drops the first datagram of the server's first flight
    // (ServerHello and the start of the Certificate), and OpenSSL's retransmission cuts the
    // Certificate at other offsets: the client holds fragments whose boundaries overlap
    // those of the retransmission (RFC 6347 section 4.2.3 allows it) and must still
    // complete the message.
    cases.push(Case::pair(
        name("dtls/fragmentation/mtu_256"),
        needs_dtls(),
        server.clone(),
        move |c, s| lossy(c, s, cookies, 256, SslProtocol::DtlsV1_2),
    ));
    if cookies {
        cases.push(Case::pair(
            "dtls/cookie/verifier_then_handshake",
            needs_dtls(),
            needs_cookie(),
            verifier_then_handshake,
        ));
    }
    cases
}

/// The two-sided cases again at DTLS 1.3 (polytls' selector beyond Qt's), for pairs whose
/// backends both claim it; no cookie exchange through core (no DTLS 1.3 engine claims
/// DtlsCookie).
fn dtls13_cases() -> Vec<Case> {
    let v13 = SslProtocol::DtlsV1_3;
    let side = || Needs {
        classes: vec![ImplementedClass::Dtls],
        protocols: vec![v13],
        ..Needs::default()
    };
    vec![
        Case::pair(
            "dtls/DtlsV1_3/handshake/client_shutdown",
            side(),
            side(),
            move |c, s| handshake_and_data(c, s, false, true, v13),
        ),
        Case::pair(
            "dtls/DtlsV1_3/handshake/server_shutdown",
            side(),
            side(),
            move |c, s| handshake_and_data(c, s, false, false, v13),
        ),
        Case::pair(
            "dtls/DtlsV1_3/write/oversized",
            side(),
            side(),
            move |c, s| oversized_write(c, s, false, v13),
        ),
        Case::pair(
            "dtls/DtlsV1_3/retransmission/lossy_relay",
            side(),
            side(),
            move |c, s| lossy(c, s, false, 0, v13),
        ),
        Case::pair(
            "dtls/DtlsV1_3/fragmentation/mtu_256",
            side(),
            side(),
            move |c, s| lossy(c, s, false, 256, v13),
        ),
    ]
}

/// The client certificate of a verify-mode case.
#[derive(Clone, Copy, Debug)]
enum ClientCertificate {
    None,
    /// Issued by the root the server trusts.
    Trusted,
    /// Self-signed.
    Untrusted,
}

/// After tst_qdtls's verify-mode cases: a server in `mode` against a client with no, a
/// trusted or an untrusted certificate. `VerifyNone` asks for nothing and sees nothing;
/// `QueryPeer` (and `AutoVerifyPeer`, which is `QueryPeer` on a server) sees the client's
/// certificate and refuses nobody; `VerifyPeer` sees a trusted certificate and refuses an
/// untrusted one or none: the server stops in `PeerVerificationFailed` with the problems (or
/// its engine ends the handshake itself, on an engine that cannot take a client without a
/// certificate). As with Qt's QDtls, a DTLS 1.2 server decides after its last flight, so the
/// client may have completed: it then sees the server's close once the server aborts.
fn verify_mode_case(
    client: &str,
    server: &str,
    mode: PeerVerifyMode,
    certificate: ClientCertificate,
) -> Result<(), String> {
    let pki = Pki::get();
    let client_config = match certificate {
        ClientCertificate::None => dtls_client_config(),
        ClientCertificate::Trusted => with_identity(dtls_client_config(), &pki.client),
        ClientCertificate::Untrusted => {
            with_identity(dtls_client_config(), &pki.client_self_signed)
        }
    };
    let server_config = SslConfiguration {
        peer_verify_mode: mode,
        ..pair_server_config(false)
    };
    let (client_end, ((mut s, server_socket), server_result)) = run_pair(
        client,
        client_config,
        server,
        server_config,
        Box::new(|_| {}),
    )?;
    let expected_peer = match (mode, certificate) {
        (PeerVerifyMode::VerifyNone, _) => Some(None),
        (_, ClientCertificate::Trusted) => Some(Some(pki.client.leaf())),
        (_, ClientCertificate::Untrusted) => Some(Some(pki.client_self_signed.leaf())),
        // A client without a certificate may still answer a request with a throwaway one
        // (dimpl's client always answers), so what the server sees is not fixed.
        (_, ClientCertificate::None) => None,
    };
    let refused =
        mode == PeerVerifyMode::VerifyPeer && !matches!(certificate, ClientCertificate::Trusted);
    if refused {
        let Err(e) = server_result else {
            return Err(format!(
                "the server accepted a client with {certificate:?} certificate"
            ));
        };
        check(!s.is_connection_encrypted(), || {
            "the refusing server is encrypted".into()
        })?;
        if let Error::Verification(errors) = &e {
            let allowed = [
                SslErrorKind::NoPeerCertificate,
                SslErrorKind::SelfSignedCertificate,
            ];
            check(
                !errors.is_empty() && errors.iter().all(|e| allowed.contains(&e.kind())),
                || format!("the server refused with {errors:?}"),
            )?;
            check(
                s.handshake_state() == HandshakeState::PeerVerificationFailed,
                || format!("the refusing server is in {:?}", s.handshake_state()),
            )?;
            s.abort_handshake(&server_socket)
                .map_err(|e| format!("abort_handshake: {e}"))?;
        }
        return match client_end {
            Err(_) => Ok(()),
            Ok((mut c, client_socket)) => closed_by_peer(&mut c, &client_socket),
        };
    }
    server_result.map_err(|e| format!("server: {e}"))?;
    client_end.map_err(|e| format!("client: {e}"))?;
    check(s.peer_verification_errors().is_empty(), || {
        format!("the server found {:?}", s.peer_verification_errors())
    })?;
    if let Some(expected) = expected_peer {
        let seen = s.peer_certificate_chain().first();
        check(seen == expected, || {
            format!(
                "the server sees {:?}, expected {:?}",
                seen.map(|c| c.subject_display_name()),
                expected.map(|c| c.subject_display_name())
            )
        })?;
    }
    Ok(())
}

/// Waits for the datagram that ends `dtls` from the peer's side: decrypting it gives no data
/// and leaves `RemoteClosedConnectionError`.
pub(super) fn closed_by_peer(dtls: &mut Dtls, socket: &UdpSocket) -> Result<(), String> {
    let deadline = Instant::now() + IO_TIMEOUT;
    while Instant::now() < deadline {
        if let Some((datagram, _)) = recv(socket, Duration::from_millis(200))? {
            let plain = dtls
                .decrypt_datagram(socket, &datagram)
                .map_err(|e| e.to_string())?;
            check(plain.is_empty(), || "data after close_notify".into())?;
            if dtls.dtls_error() == DtlsError::RemoteClosedConnectionError {
                return check(!dtls.is_connection_encrypted(), || {
                    "still encrypted after close_notify".into()
                });
            }
        }
    }
    Err("the peer's close never arrived".into())
}

/// The verify-mode cases: every server mode against each client certificate. `QueryPeer`
/// and `AutoVerifyPeer` need `OptionalClientCertificate` of the server's backend.
fn verify_mode_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for mode in PeerVerifyMode::ALL {
        let server = match mode {
            PeerVerifyMode::QueryPeer | PeerVerifyMode::AutoVerifyPeer => {
                needs_dtls().and_feature(SupportedFeature::OptionalClientCertificate)
            }
            _ => needs_dtls(),
        };
        for (label, certificate) in [
            ("no_certificate", ClientCertificate::None),
            ("trusted_certificate", ClientCertificate::Trusted),
            ("untrusted_certificate", ClientCertificate::Untrusted),
        ] {
            cases.push(Case::pair(
                format!("dtls/verify_mode/server/{mode}/{label}"),
                needs_dtls(),
                server.clone(),
                move |c, s| verify_mode_case(c, s, mode, certificate),
            ));
        }
    }
    cases.push(Case::single(
        "dtls/verify_mode/server/QueryPeer/refused_unless_claimed",
        needs_dtls(),
        query_refused_unless_claimed,
    ));
    cases
}

/// A backend that does not claim `OptionalClientCertificate` refuses a `QueryPeer` (or
/// `AutoVerifyPeer`) server with `Unsupported` naming it; one that claims it starts the
/// handshake.
fn query_refused_unless_claimed(backend: &str) -> Result<(), String> {
    let claimed = polytls::supported_features(Some(backend))
        .contains(&SupportedFeature::OptionalClientCertificate);
    for mode in [PeerVerifyMode::QueryPeer, PeerVerifyMode::AutoVerifyPeer] {
        let socket = udp()?;
        let mut s =
            Dtls::with_backend(SslMode::SslServerMode, backend).map_err(|e| e.to_string())?;
        s.set_dtls_configuration(SslConfiguration {
            peer_verify_mode: mode,
            ..pair_server_config(false)
        })
        .map_err(|e| e.to_string())?;
        let peer = addr(&socket)?;
        s.set_peer(peer.ip(), peer.port(), None)
            .map_err(|e| e.to_string())?;
        // Any ClientHello-sized datagram starts the engine; it is not a valid hello.
        let r = s.do_handshake(&socket, &[0u8; 64]);
        match (claimed, r) {
            (false, Err(Error::Unsupported { what, .. })) => {
                check(what.contains("QueryPeer"), || {
                    format!("{mode} refused as {what:?}")
                })?;
            }
            (false, other) => return Err(format!("{mode} was not refused: {other:?}")),
            (true, Err(Error::Unsupported { what, .. })) => {
                return Err(format!("{mode} refused as {what:?} although claimed"))
            }
            (true, _) => {}
        }
    }
    Ok(())
}
