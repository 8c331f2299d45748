//! Runs the example programs as a user would: the echo server and the client against each
//! other on loopback for every pair of backends, and the backend listing with and without
//! `POLYTLS_BACKEND`, the tokio echo server, hyper over the tokio stream (server and GET), the
//! `s_client` tool, and the DTLS echo server with several DTLS clients and some noise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("polytls-examples-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for `localhost` and its key, written as `cert.pem` and `key.pem`
/// into `dir`.
fn self_signed_files(dir: &TempDir) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.0.join("cert.pem");
    let key_path = dir.0.join("key.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// Starts `echo_server --once` with `extra` arguments; returns it and the port it listens on.
fn start_echo_server(cert: &Path, key: &Path, extra: &[&str]) -> (Child, String) {
    start_server(env!("CARGO_BIN_EXE_echo_server"), cert, key, extra)
}

/// Starts the server program `program` with `--once` and `extra` arguments; returns it and
/// the port it listens on.
fn start_server(program: &str, cert: &Path, key: &Path, extra: &[&str]) -> (Child, String) {
    let mut server = Command::new(program)
        .args([cert.to_str().unwrap(), key.to_str().unwrap(), "0", "--once"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let port = ready.trim().rsplit(':').next().unwrap().to_owned();
    (server, port)
}

#[test]
fn echo_server_and_client_on_every_pair_of_backends() {
    let dir = TempDir::new("echo");
    let (cert_path, key_path) = self_signed_files(&dir);
    for server_backend in ["openssl", "rustls"] {
        for client_backend in ["openssl", "rustls"] {
            let (mut server, port) =
                start_echo_server(&cert_path, &key_path, &["--backend", server_backend]);
            let client = Command::new(env!("CARGO_BIN_EXE_client"))
                .args(["localhost", &port, "--backend", client_backend])
                .args([
                    "--ca",
                    cert_path.to_str().unwrap(),
                    "--send",
                    "hello polytls",
                ])
                .output()
                .unwrap();
            let status = server.wait().unwrap();
            assert!(
                client.status.success(),
                "{client_backend} -> {server_backend}: {}",
                String::from_utf8_lossy(&client.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&client.stdout), "HELLO POLYTLS\n");
            assert!(status.success());
        }
    }
}

#[test]
fn client_refuses_an_untrusted_server() {
    let dir = TempDir::new("untrusted");
    let (cert_path, key_path) = self_signed_files(&dir);
    let (mut server, port) = start_echo_server(&cert_path, &key_path, &[]);
    // No --ca: the system trust store does not know this self-signed certificate.
    let client = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(["localhost", &port])
        .output()
        .unwrap();
    // The server goes on after a failed handshake (`--once` counts served connections).
    let _ = server.kill();
    let _ = server.wait();
    assert!(!client.status.success());
    let stderr = String::from_utf8_lossy(&client.stderr);
    assert!(stderr.contains("self-signed"), "{stderr}");
}

#[test]
fn list_backends_honours_the_environment() {
    let command = |env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_list_backends"));
        command.env_remove("POLYTLS_BACKEND");
        if let Some(name) = env {
            command.env("POLYTLS_BACKEND", name);
        }
        command.output().unwrap()
    };
    let run = |env: Option<&str>| {
        let output = command(env);
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let active = |listing: &str| {
        listing
            .lines()
            .find(|l| l.starts_with('*'))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert!(active(&run(None)).starts_with("* openssl"), "{}", run(None));
    assert!(
        active(&run(Some("rustls"))).starts_with("* rustls"),
        "{}",
        run(Some("rustls"))
    );
    // A name no backend has is reported, not replaced by the default.
    let typo = command(Some("no-such-backend"));
    assert!(!typo.status.success());
    assert!(active(&String::from_utf8_lossy(&typo.stdout)).is_empty());
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        stderr.contains("POLYTLS_BACKEND names 'no-such-backend'")
            && stderr.contains("available: openssl, rustls"),
        "{stderr}"
    );
    let listing = run(None);
    assert!(
        listing.contains("protocols: ") && listing.contains("TlsV1_3"),
        "{listing}"
    );
}

#[test]
fn tokio_echo_server_and_client_on_every_backend() {
    let dir = TempDir::new("tokio-echo");
    let (cert_path, key_path) = self_signed_files(&dir);
    for backend in ["openssl", "rustls"] {
        let (mut server, port) = start_server(
            env!("CARGO_BIN_EXE_tokio_echo_server"),
            &cert_path,
            &key_path,
            &["--backend", backend],
        );
        let client = Command::new(env!("CARGO_BIN_EXE_client"))
            .args(["localhost", &port, "--backend", backend])
            .args(["--ca", cert_path.to_str().unwrap(), "--send", "over tokio"])
            .output()
            .unwrap();
        let status = server.wait().unwrap();
        assert!(
            client.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&client.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&client.stdout), "OVER TOKIO\n");
        assert!(status.success());
    }
}

#[test]
fn hyper_get_from_the_hyper_server_on_every_pair_of_backends() {
    let dir = TempDir::new("hyper");
    let (cert_path, key_path) = self_signed_files(&dir);
    for server_backend in ["openssl", "rustls"] {
        for client_backend in ["openssl", "rustls"] {
            let (mut server, port) = start_server(
                env!("CARGO_BIN_EXE_https_server"),
                &cert_path,
                &key_path,
                &["--backend", server_backend],
            );
            let get = Command::new(env!("CARGO_BIN_EXE_https_get"))
                .arg(format!("https://localhost:{port}/some/path"))
                .args([
                    "--backend",
                    client_backend,
                    "--ca",
                    cert_path.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            let status = server.wait().unwrap();
            let stdout = String::from_utf8_lossy(&get.stdout);
            assert!(
                get.status.success(),
                "{client_backend} -> {server_backend}: {}",
                String::from_utf8_lossy(&get.stderr)
            );
            assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
            assert!(
                stdout.contains(&format!("hello from polytls over {server_backend} TlsV1_3"))
                    && stdout.contains("you asked for /some/path"),
                "{stdout}"
            );
            assert!(status.success());
        }
    }
}

#[test]
fn s_client_shows_the_session_and_the_verification_errors() {
    let dir = TempDir::new("s-client");
    let (cert_path, key_path) = self_signed_files(&dir);
    for backend in ["openssl", "rustls"] {
        // Trusted: the chain, protocol, cipher and ALPN are shown.
        let (mut server, port) = start_echo_server(&cert_path, &key_path, &[]);
        let run = Command::new(env!("CARGO_BIN_EXE_s_client"))
            .args(["localhost", &port, "--backend", backend])
            .args(["--ca", cert_path.to_str().unwrap()])
            .output()
            .unwrap();
        let _ = server.wait();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{backend}: {stdout} {}",
            String::from_utf8_lossy(&run.stderr)
        );
        for expected in [
            &format!("backend: {backend}") as &str,
            "  0 s:",
            "protocol: TlsV1_3",
            "cipher: TLS_",
            "alpn: none",
        ] {
            assert!(
                stdout.contains(expected),
                "{backend}: no {expected:?} in {stdout}"
            );
        }
        // Untrusted: the problem is shown and the exit status says so.
        let (mut server, port) = start_echo_server(&cert_path, &key_path, &[]);
        let run = Command::new(env!("CARGO_BIN_EXE_s_client"))
            .args(["localhost", &port, "--backend", backend])
            .output()
            .unwrap();
        let _ = server.kill();
        let _ = server.wait();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(!run.status.success(), "{backend}: {stdout}");
        assert!(
            stdout.contains("verify error: ") && stdout.contains("self-signed"),
            "{backend}: {stdout}"
        );
    }
}

#[test]
fn dtls_echo_server_serves_several_clients_behind_the_cookie_verifier() {
    use std::net::UdpSocket;
    use std::time::Duration;

    let dir = TempDir::new("dtls");
    let (cert_path, key_path) = self_signed_files(&dir);
    let mut server = Command::new(env!("CARGO_BIN_EXE_dtls_echo_server"))
        .args([cert_path.to_str().unwrap(), key_path.to_str().unwrap(), "0"])
        .args(["--backend", "openssl", "--clients", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let address = ready
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    // A real ClientHello, caught from a client aimed at a socket of the test's own.
    let capture = UdpSocket::bind("127.0.0.1:0").unwrap();
    capture
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let capture_port = capture.local_addr().unwrap().port().to_string();
    let mut catcher = Command::new(env!("CARGO_BIN_EXE_dtls_client"))
        .args(["127.0.0.1", &capture_port, "--backend", "openssl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 2048];
    let (hello_len, _) = capture.recv_from(&mut buf).unwrap();
    let hello = buf[..hello_len].to_vec();
    let _ = catcher.kill();
    let _ = catcher.wait();

    // Garbage, and that hello from an address that never answers the cookie request: the
    // server answers the hello with fewer bytes than it got and keeps nothing for either.
    let noise = UdpSocket::bind("127.0.0.1:0").unwrap();
    noise
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    noise.send_to(b"not a DTLS record", &address).unwrap();
    noise.send_to(&hello, &address).unwrap();
    let (answer_len, _) = noise.recv_from(&mut buf).unwrap();
    assert!(
        answer_len <= hello_len,
        "a {hello_len}-byte hello got {answer_len} bytes back"
    );

    let port = address.rsplit(':').next().unwrap().to_owned();
    // The fourth client runs on tokio (`--tokio`, through `AsyncDtls`).
    let clients: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_dtls_client"))
                .args(["localhost", &port, "--backend", "openssl"])
                .args(["--ca", cert_path.to_str().unwrap()])
                .args([
                    "--send",
                    &format!("hello {i}"),
                    "--send",
                    &format!("again {i}"),
                ])
                .args(if i == 3 { &["--tokio"][..] } else { &[] })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let output = client.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "client {i}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("HELLO {i}\nAGAIN {i}\n")
        );
    }
    let mut summary = String::new();
    stdout.read_line(&mut summary).unwrap();
    assert!(server.wait().unwrap().success());
    assert_eq!(summary.trim(), "4 clients served, 4 associations created");
}
