//! GnuTLS as the DTLS 1.2 peer of polytls: `gnutls-serv --udp` serving a polytls client and
//! `gnutls-cli --udp` connecting to a polytls server (verifying cookies, and not), for every
//! backend that claims Dtls.
//!
//! `gnutls-serv` cannot be bound to loopback alone (it listens on every interface), so its
//! case runs on a thread of its own that first moves into a private network namespace with
//! only loopback up, then starts `gnutls-serv` and makes the client's socket there; where no
//! namespace can be made the case is skipped loudly (also under CI, which can
//! install a peer but not grant the privilege a namespace needs). `gnutls-cli` binds
//! nothing and runs on the host's loopback. Both peers keep their stdin open until the case
//! ends, so they do not close the association early.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polytls::{Dtls, SslConfiguration, SslMode, SslProtocol};

use super::dtls::{
    addr, drive, dtls_client_config, needs_cookie, needs_dtls, pair_server_config, recv,
    start_client_after, udp,
};
use crate::case::Case;
use crate::cases::external::{spawn_gnutls_cli, Peer};
use crate::harness::{check, TempDir, IO_TIMEOUT};
use crate::netns;
use crate::pki::Pki;

/// The GnuTLS priority string that allows DTLS 1.2 only.
const DTLS_1_2: &str = "NORMAL:-VERS-ALL:+VERS-DTLS1.2";

/// The port `gnutls-serv` listens on. Its namespace is private to the case, so no other
/// program can hold the port.
const GNUTLS_SERV_PORT: u16 = 5556;

/// Whether a UDP socket of the calling thread's network namespace is bound to `port`
/// (`/proc/thread-self/net` shows the namespace of the thread that reads it).
fn udp_port_bound(port: u16) -> Result<bool, String> {
    let suffix = format!(":{port:04X}");
    for table in ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"] {
        let text = std::fs::read_to_string(table).map_err(|e| format!("{table}: {e}"))?;
        let bound = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1))
            .any(|local| local.ends_with(&suffix));
        if bound {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `gnutls-serv --udp --echo` (with the test server's certificate) as the peer of a polytls
/// client, inside a private network namespace.
fn against_gnutls_serv(backend: &str) -> Result<(), String> {
    against_gnutls_serv_with(
        backend,
        |dir| {
            let pki = Pki::get();
            let cert = dir.write_certs("server.pem", &pki.server.chain)?;
            let key = dir.write("server.key", pki.server.key.to_pem().as_bytes())?;
            Ok(vec![
                "--priority".into(),
                DTLS_1_2.into(),
                format!("--x509certfile={}", cert.display()),
                format!("--x509keyfile={}", key.display()),
            ])
        },
        dtls_client_config(),
        |_| {},
        |c| {
            check(!c.peer_certificate_chain().is_empty(), || {
                "no chain from gnutls-serv".into()
            })
        },
    )
}

/// What a case gives `gnutls-serv`: its arguments, written for the case's temporary
/// directory (files it names live there).
type ServArgs = fn(&TempDir) -> Result<Vec<String>, String>;

/// `gnutls-serv --udp --echo` with the arguments `args` makes, inside a private network
/// namespace, as the peer of a polytls client on `backend` with `config`, `setup` applied
/// before its handshake and `checked` after it; a line goes each way.
pub(super) fn against_gnutls_serv_with(
    backend: &str,
    args: ServArgs,
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls) + Send + 'static,
    checked: fn(&Dtls) -> Result<(), String>,
) -> Result<(), String> {
    let backend = backend.to_owned();
    std::thread::Builder::new()
        .name("gnutls-serv in a private network namespace".into())
        .spawn(move || {
            netns::enter_private_loopback()?;
            gnutls_serv_in_namespace(&backend, args, config, setup, checked)
        })
        .map_err(|e| format!("cannot start the namespace thread: {e}"))?
        .join()
        .map_err(|_| "the namespace thread panicked".to_string())?
}

/// The body of [`against_gnutls_serv_with`], on the thread that entered the namespace.
fn gnutls_serv_in_namespace(
    backend: &str,
    args: ServArgs,
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
    checked: fn(&Dtls) -> Result<(), String>,
) -> Result<(), String> {
    let dir = TempDir::new()?;
    let args = args(&dir)?;
    let port = GNUTLS_SERV_PORT;
    check(!udp_port_bound(port)?, || {
        format!("port {port} is taken in a namespace that should be empty")
    })?;
    let mut child = Command::new("gnutls-serv")
        .args(["--udp", "--echo", "--port", &port.to_string()])
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start gnutls-serv: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let mut peer = Peer(child);
    // gnutls-serv reports its port only on a buffered stdout; wait until it is bound.
    let deadline = Instant::now() + IO_TIMEOUT;
    while !udp_port_bound(port)? {
        if let Ok(Some(status)) = peer.0.try_wait() {
            return Err(format!("gnutls-serv exited before listening: {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!("gnutls-serv did not bind port {port}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let socket = udp()?;
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let mut c =
        start_client_after(backend, config, setup, server, &socket).map_err(|e| e.to_string())?;
    drive(&mut c, &socket).map_err(|e| format!("handshake with gnutls-serv: {e}"))?;
    check(c.session_protocol() == SslProtocol::DtlsV1_2, || {
        format!("negotiated {}", c.session_protocol())
    })?;
    checked(&c)?;
    let message = b"hello gnutls-serv over DTLS\n";
    c.write_datagram_encrypted(&socket, message)
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    while Instant::now() < deadline && got.len() < message.len() {
        if let Some((d, _)) = recv(&socket, Duration::from_millis(200))? {
            got.extend(c.decrypt_datagram(&socket, &d).map_err(|e| e.to_string())?);
        }
    }
    check(got == message, || {
        format!("gnutls-serv echoed {:?}", String::from_utf8_lossy(&got))
    })?;
    c.shutdown(&socket).map_err(|e| e.to_string())?;
    drop(stdin);
    Ok(())
}

/// `gnutls-cli --udp` as the peer of a polytls server, which verifies cookies or not.
fn against_gnutls_cli(backend: &str, cookies: bool) -> Result<(), String> {
    against_gnutls_cli_with(
        backend,
        &["--udp"],
        DTLS_1_2,
        pair_server_config(cookies),
        |_| {},
        |_| Ok(()),
    )
}

/// `gnutls-cli` with `extra` arguments (`--udp` among them) and the priority string
/// `priority` as the peer of a polytls server on `backend` with `config`, `setup` applied
/// before its handshake and `checked` after it; a line goes each way.
pub(super) fn against_gnutls_cli_with(
    backend: &str,
    extra: &[&str],
    priority: &str,
    config: SslConfiguration,
    setup: impl FnOnce(&mut Dtls),
    checked: fn(&Dtls) -> Result<(), String>,
) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let log = dir.path().join("gnutls-cli.log");
    let socket = udp()?;
    let port = addr(&socket)?.port();
    let mut child = spawn_gnutls_cli(extra, port, priority, &ca, &log)?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let _peer = Peer(child);
    let said = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut s = Dtls::with_backend(SslMode::SslServerMode, backend).map_err(|e| e.to_string())?;
    s.set_dtls_configuration(config)
        .map_err(|e| e.to_string())?;
    setup(&mut s);
    drive(&mut s, &socket).map_err(|e| {
        format!(
            "handshake with gnutls-cli: {e}; gnutls-cli said: {}",
            said()
        )
    })?;
    check(s.session_protocol() == SslProtocol::DtlsV1_2, || {
        format!("negotiated {}", s.session_protocol())
    })?;
    checked(&s)?;
    let ping = b"ping from gnutls-cli\n";
    stdin.write_all(ping).map_err(|e| e.to_string())?;
    stdin.flush().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    while Instant::now() < deadline && !got.ends_with(ping) {
        if let Some((d, _)) = recv(&socket, Duration::from_millis(200))? {
            got.extend(s.decrypt_datagram(&socket, &d).map_err(|e| e.to_string())?);
        }
    }
    check(got.ends_with(ping), || {
        format!("got {:?} from gnutls-cli", String::from_utf8_lossy(&got))
    })?;
    let pong = b"pong from polytls\n";
    s.write_datagram_encrypted(&socket, pong)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; 18];
    stdout
        .read_exact(&mut out)
        .map_err(|e| format!("gnutls-cli output: {e}; gnutls-cli said: {}", said()))?;
    check(&out == pong, || {
        format!("gnutls-cli printed {:?}", String::from_utf8_lossy(&out))
    })?;
    s.shutdown(&socket).map_err(|e| e.to_string())?;
    drop(stdin);
    Ok(())
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "external/gnutls_serv/DtlsV1_2",
            needs_dtls().and_tool("gnutls-serv").and_private_network(),
            against_gnutls_serv,
        ),
        Case::single(
            "external/gnutls_cli/DtlsV1_2",
            needs_cookie().and_tool("gnutls-cli"),
            |b| against_gnutls_cli(b, true),
        ),
        Case::single(
            "external/gnutls_cli/DtlsV1_2/without_cookie",
            needs_dtls().and_tool("gnutls-cli"),
            |b| against_gnutls_cli(b, false),
        ),
    ]
}
