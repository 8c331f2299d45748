//! Real external peers on loopback: `openssl s_server` / `s_client` and `gnutls-serv` /
//! `gnutls-cli`, run as processes. Each case needs its program; without it the case is skipped
//! loudly (and fails under CI, which installs them).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

use polytls::{ProtocolVersion, SslConfiguration, SslSocket};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, with_identity, TempDir, IO_TIMEOUT};
use crate::pki::Pki;

/// A child process killed when dropped.
pub(super) struct Peer(pub(super) Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `openssl s_client`, its three pipes taken.
pub(super) struct SClient {
    pub(super) stdin: ChildStdin,
    pub(super) stdout: ChildStdout,
    stderr: ChildStderr,
    pub(super) peer: Peer,
}

impl SClient {
    /// Starts `openssl s_client -quiet -connect 127.0.0.1:<port>` with `args` after them.
    pub(super) fn start<S: AsRef<OsStr>>(
        port: u16,
        args: impl IntoIterator<Item = S>,
    ) -> Result<SClient, String> {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-connect",
                &format!("127.0.0.1:{port}"),
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start openssl s_client: {e}"))?;
        Ok(SClient {
            stdin: child.stdin.take().ok_or("no stdin")?,
            stdout: child.stdout.take().ok_or("no stdout")?,
            stderr: child.stderr.take().ok_or("no stderr")?,
            peer: Peer(child),
        })
    }

    /// Stops s_client and returns what it said on stderr, for a failure message.
    pub(super) fn said(&mut self) -> String {
        let _ = self.peer.0.kill();
        let mut said = String::new();
        let _ = self.stderr.read_to_string(&mut said);
        said.trim().to_owned()
    }

    /// Closes s_client's input and returns all it printed and how it exited.
    ///
    /// Fails when its output cannot be read or it cannot be waited for.
    pub(super) fn finish(self) -> Result<(String, ExitStatus), String> {
        drop(self.stdin);
        let (mut stdout, mut peer) = (self.stdout, self.peer);
        let mut output = String::new();
        stdout
            .read_to_string(&mut output)
            .map_err(|e| e.to_string())?;
        let status = peer.0.wait().map_err(|e| e.to_string())?;
        Ok((output, status))
    }
}

/// The `openssl` flags that pin one protocol version (and allow the old ones).
fn version_flags(version: ProtocolVersion) -> Vec<&'static str> {
    match version {
        ProtocolVersion::Tls1_0 => vec!["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        ProtocolVersion::Tls1_1 => vec!["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        ProtocolVersion::Tls1_2 => vec!["-tls1_2"],
        _ => vec!["-tls1_3"],
    }
}

/// Starts `openssl s_server` in reverse-echo mode and returns it with its port.
pub(super) fn s_server(
    dir: &TempDir,
    version: ProtocolVersion,
    extra: &[&str],
) -> Result<(Peer, u16), String> {
    let pki = Pki::get();
    let cert = dir.write_certs("server.pem", &pki.server.chain)?;
    let key = dir.write("server.key", pki.server.key.to_pem().as_bytes())?;
    let mut child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-rev",
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(version_flags(version))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start openssl s_server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let peer = Peer(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(addr) = line.strip_prefix("ACCEPT ") {
            let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            return port
                .map(|p| (peer, p))
                .ok_or_else(|| format!("bad ACCEPT line: {line}"));
        }
    }
    Err("openssl s_server exited before accepting".into())
}

fn against_s_server(
    backend: &str,
    version: ProtocolVersion,
    client_cert: bool,
) -> Result<(), String> {
    let dir = TempDir::new()?;
    let pki = Pki::get();
    let extra: Vec<String> = if client_cert {
        let ca = dir.write_certs("root.pem", std::slice::from_ref(&pki.root))?;
        vec![
            "-Verify".into(),
            "1".into(),
            "-verify_return_error".into(),
            "-CAfile".into(),
            ca.display().to_string(),
        ]
    } else {
        Vec::new()
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (_peer, port) = s_server(&dir, version, &extra)?;
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let mut config = SslConfiguration {
        protocol: version.exact(),
        ..client_config()
    };
    if client_cert {
        config = with_identity(config, &pki.client);
    }
    exchange_as_client(
        backend,
        stream,
        config,
        b"hello polytls\n",
        b"sltylop olleh\n",
        "s_server",
    )
}

/// Runs a client over `stream` with `config` (verifying `localhost`), sends `send`, expects
/// `reply` back, checks the session uses `config.protocol`, and closes cleanly.
fn exchange_as_client(
    backend: &str,
    stream: std::net::TcpStream,
    config: SslConfiguration,
    send: &[u8],
    reply: &[u8],
    peer: &str,
) -> Result<(), String> {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let protocol = config.protocol;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name("localhost");
    socket
        .start_client_encryption()
        .map_err(|e| e.to_string())?;
    socket.write_all(send).map_err(|e| format!("write: {e}"))?;
    socket
        .flush()
        .map_err(|e| format!("handshake with {peer}: {e}"))?;
    check(socket.session_protocol() == protocol, || {
        format!("negotiated {}", socket.session_protocol())
    })?;
    let mut got = vec![0u8; reply.len()];
    socket
        .read_exact(&mut got)
        .map_err(|e| format!("read: {e}"))?;
    check(got == reply, || {
        format!("{peer} replied {:?}", String::from_utf8_lossy(&got))
    })?;
    socket.close().map_err(|e| e.to_string())
}

fn against_s_client(backend: &str, version: ProtocolVersion) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let ca = ca.display().to_string();
    let mut args = vec!["-verify_return_error", "-servername", "localhost"];
    args.extend(["-verify_hostname", "localhost", "-CAfile", &ca]);
    args.extend(version_flags(version));
    let mut peer = SClient::start(port, args)?;
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(SslConfiguration {
        protocol: version.exact(),
        ..server_config(&Pki::get().server)
    });
    socket
        .start_server_encryption()
        .map_err(|e| e.to_string())?;
    peer.stdin
        .write_all(b"ping from s_client\n")
        .map_err(|e| e.to_string())?;
    peer.stdin.flush().map_err(|e| e.to_string())?;
    let mut request = [0u8; 19];
    let read = socket.read_exact(&mut request);
    if let Err(e) = read {
        return Err(format!(
            "read from s_client: {e}; s_client said: {}",
            peer.said()
        ));
    }
    check(&request == b"ping from s_client\n", || {
        format!("got {:?}", String::from_utf8_lossy(&request))
    })?;
    check(socket.session_protocol() == version.exact(), || {
        format!("negotiated {}", socket.session_protocol())
    })?;
    socket
        .write_all(b"pong from polytls\n")
        .map_err(|e| e.to_string())?;
    socket.close().map_err(|e| e.to_string())?;
    drop(socket);
    let (output, status) = peer.finish()?;
    check(output.contains("pong from polytls"), || {
        format!("s_client printed {output:?}")
    })?;
    check(status.success(), || {
        format!("s_client exited with {status}")
    })
}

/// A free loopback port (for peers that cannot pick their own).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// The GnuTLS priority string that pins one protocol version.
fn gnutls_priority(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::Tls1_2 => "NORMAL:-VERS-ALL:+VERS-TLS1.2",
        _ => "NORMAL:-VERS-ALL:+VERS-TLS1.3",
    }
}

fn against_gnutls_serv(backend: &str, version: ProtocolVersion) -> Result<(), String> {
    let dir = TempDir::new()?;
    let pki = Pki::get();
    let cert = dir.write_certs("server.pem", &pki.server.chain)?;
    let key = dir.write("server.key", pki.server.key.to_pem().as_bytes())?;
    let (_peer, stream) = start_gnutls_serv(&[
        "--priority".into(),
        gnutls_priority(version).into(),
        format!("--x509certfile={}", cert.display()),
        format!("--x509keyfile={}", key.display()),
    ])?;
    let config = SslConfiguration {
        protocol: version.exact(),
        ..client_config()
    };
    exchange_as_client(
        backend,
        stream,
        config,
        b"hello gnutls\n",
        b"hello gnutls\n",
        "gnutls-serv",
    )
}

/// Starts `gnutls-serv --echo` on a free TCP port with `args`, and connects to it once it
/// accepts connections. Returns the running peer and the connection.
///
/// Fails with a message when it cannot be started or does not listen within [`IO_TIMEOUT`].
pub(super) fn start_gnutls_serv(args: &[String]) -> Result<(Peer, TcpStream), String> {
    let port = free_port()?;
    let child = Command::new("gnutls-serv")
        .args(["--echo", "--port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start gnutls-serv: {e}"))?;
    let peer = Peer(child);
    // gnutls-serv cannot report its port; wait until it accepts connections.
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return Ok((peer, stream)),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => return Err(format!("gnutls-serv did not start listening: {e}")),
        }
    }
}

/// Starts `gnutls-cli` against `127.0.0.1:port` with the priority string `priority`, trusting
/// the root in `ca`, sending and verifying the name `localhost`, logging to `log`, with stdin
/// and stdout piped; `extra` comes first (`--udp` for DTLS). Fails with a message when the
/// program cannot be started.
pub(super) fn spawn_gnutls_cli(
    extra: &[&str],
    port: u16,
    priority: &str,
    ca: &Path,
    log: &Path,
) -> Result<Child, String> {
    Command::new("gnutls-cli")
        .args(extra)
        .args(["--port", &port.to_string(), "--priority", priority])
        .args([
            "--sni-hostname",
            "localhost",
            "--verify-hostname",
            "localhost",
        ])
        .arg(format!("--x509cafile={}", ca.display()))
        .arg(format!("--logfile={}", log.display()))
        .arg("127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start gnutls-cli: {e}"))
}

fn against_gnutls_cli(backend: &str, version: ProtocolVersion) -> Result<(), String> {
    let dir = TempDir::new()?;
    let ca = dir.write_certs("root.pem", std::slice::from_ref(&Pki::get().root))?;
    let log = dir.path().join("gnutls-cli.log");
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let mut child = spawn_gnutls_cli(&[], port, gnutls_priority(version), &ca, &log)?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut peer = Peer(child);
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut socket = SslSocket::with_backend(stream, backend).map_err(|e| e.to_string())?;
    socket.set_ssl_configuration(SslConfiguration {
        protocol: version.exact(),
        ..server_config(&Pki::get().server)
    });
    socket
        .start_server_encryption()
        .map_err(|e| e.to_string())?;
    socket.handshake().map_err(|e| {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        format!(
            "handshake with gnutls-cli: {e}; gnutls-cli said: {}",
            said.trim()
        )
    })?;
    stdin
        .write_all(b"ping from gnutls-cli\n")
        .map_err(|e| e.to_string())?;
    stdin.flush().map_err(|e| e.to_string())?;
    let mut request = [0u8; 21];
    socket
        .read_exact(&mut request)
        .map_err(|e| format!("read from gnutls-cli: {e}"))?;
    check(&request == b"ping from gnutls-cli\n", || {
        format!("got {:?}", String::from_utf8_lossy(&request))
    })?;
    check(socket.session_protocol() == version.exact(), || {
        format!("negotiated {}", socket.session_protocol())
    })?;
    socket
        .write_all(b"pong from polytls\n")
        .map_err(|e| e.to_string())?;
    socket.close().map_err(|e| e.to_string())?;
    drop(socket);
    drop(stdin);
    let mut output = String::new();
    stdout
        .read_to_string(&mut output)
        .map_err(|e| e.to_string())?;
    let _ = peer.0.wait();
    check(output.contains("pong from polytls"), || {
        format!("gnutls-cli printed {output:?}")
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for version in ProtocolVersion::TLS {
        let p = version.exact();
        let needs = Needs::protocol(p).and_tool("openssl");
        cases.push(Case::single(
            format!("external/openssl_s_server/{p}"),
            needs.clone(),
            move |b| against_s_server(b, version, false),
        ));
        cases.push(Case::single(
            format!("external/openssl_s_client/{p}"),
            needs,
            move |b| against_s_client(b, version),
        ));
    }
    for version in [ProtocolVersion::Tls1_2, ProtocolVersion::Tls1_3] {
        let p = version.exact();
        cases.push(Case::single(
            format!("external/gnutls_serv/{p}"),
            Needs::protocol(p).and_tool("gnutls-serv"),
            move |b| against_gnutls_serv(b, version),
        ));
        cases.push(Case::single(
            format!("external/gnutls_cli/{p}"),
            Needs::protocol(p).and_tool("gnutls-cli"),
            move |b| against_gnutls_cli(b, version),
        ));
    }
    cases.push(Case::single(
        "external/openssl_s_server/client_certificate",
        Needs::protocol(polytls::SslProtocol::TlsV1_3).and_tool("openssl"),
        |b| against_s_server(b, ProtocolVersion::Tls1_3, true),
    ));
    cases
}
