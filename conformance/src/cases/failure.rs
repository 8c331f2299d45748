//! Transport and protocol failures read the same on every backend: plain HTTP spoken to a TLS
//! server, a TLS client talking to a plain HTTP server, a TLS 1.0-only peer, and no protocol
//! version or cipher suite in common; and a host name mismatch names both names. Each case asserts the error's variant (and alert) and
//! its message, as `polytls::failure` words them, so every backend, as client and as server,
//! must report the one same error.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};

use polytls::failure::{self, PeerPrefix};
use polytls::{
    AlertType, Error, ProtocolVersion, SslCipher, SslConfiguration, SslError, SslErrorKind,
    SslProtocol, SslSocket, SupportedFeature,
};

use super::external::{s_server, Peer};
use crate::case::{Case, Needs};
use crate::harness::{
    client_config, configure, handshake, server_config, tcp_pair, TempDir, IO_TIMEOUT,
};
use crate::pki::Pki;

/// What an HTTP client sends first.
const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
/// What an HTTP server answers to a request it cannot read.
const HTTP_RESPONSE: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Checks that `side`'s outcome is `expected`: the same variant, the same alert for a
/// handshake failure, and the same message.
fn expect_error<T>(side: &str, got: &Result<T, Error>, expected: &Error) -> Result<(), String> {
    let alert = |e: &Error| match e {
        Error::Handshake { alert, .. } => *alert,
        _ => None,
    };
    match got {
        Err(e)
            if std::mem::discriminant(e) == std::mem::discriminant(expected)
                && alert(e) == alert(expected)
                && e.to_string() == expected.to_string() =>
        {
            Ok(())
        }
        Err(e) => Err(format!("{side}: expected `{expected}`, got `{e}` ({e:?})")),
        Ok(_) => Err(format!("{side}: succeeded, expected `{expected}`")),
    }
}

/// The error a backend must report for a peer whose first bytes are `bytes`.
fn not_tls(bytes: &[u8]) -> Result<Error, String> {
    let mut prefix = PeerPrefix::new();
    prefix.record(bytes);
    prefix
        .not_tls()
        .ok_or_else(|| "the suite's input is TLS".to_owned())
}

/// Reads and drops what `stream` receives until the peer closes (or the read times out), so
/// that closing never resets the connection under unread data.
fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// The handshake of a server with `config` over `stream`, and its error.
fn serve(backend: &str, stream: TcpStream, config: SslConfiguration) -> Result<(), Error> {
    let mut socket = SslSocket::with_backend(stream, backend)?;
    socket.set_ssl_configuration(config);
    socket.start_server_encryption()?;
    socket.handshake()
}

/// The handshake of a client with `config` (verifying `localhost`) over `stream`.
fn connect(backend: &str, stream: TcpStream, config: SslConfiguration) -> Result<(), Error> {
    let mut socket = SslSocket::with_backend(stream, backend)?;
    socket.set_ssl_configuration(config);
    socket.set_peer_verify_name("localhost");
    socket.start_client_encryption()?;
    socket.handshake()
}

/// An HTTP client sends a request to the TLS server of `backend`.
fn http_to_tls_server(backend: &str) -> Result<(), String> {
    let (mut client, server) = tcp_pair()?;
    let http = std::thread::spawn(move || {
        let _ = client.write_all(HTTP_REQUEST);
        drain(&mut client);
    });
    let result = serve(backend, server, server_config(&Pki::get().server));
    let _ = http.join();
    expect_error("the server", &result, &not_tls(HTTP_REQUEST)?)
}

/// The TLS client of `backend` talks to a plain HTTP server.
fn tls_client_to_http_server(backend: &str) -> Result<(), String> {
    let (client, mut server) = tcp_pair()?;
    let http = std::thread::spawn(move || {
        // The ClientHello's first record, then the answer of a server that does not read it.
        let mut hello = [0u8; 5];
        if server.read_exact(&mut hello).is_ok() {
            let _ = server.write_all(HTTP_RESPONSE);
            let _ = server.shutdown(Shutdown::Write);
        }
        drain(&mut server);
    });
    let result = connect(backend, client, client_config());
    let _ = http.join();
    expect_error("the client", &result, &not_tls(HTTP_RESPONSE)?)
}

/// The client of `backend`, accepting TLS 1.2 or later, against `openssl s_server -tls1`.
fn client_against_tls1_0_server(backend: &str) -> Result<(), String> {
    let dir = TempDir::new()?;
    let (_peer, port) = s_server(&dir, ProtocolVersion::Tls1_0, &[])?;
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let result = connect(backend, stream, client_config());
    // OpenSSL, asked for TLS 1.2 or 1.3 only, refuses with a protocol_version alert.
    expect_error(
        "the client",
        &result,
        &failure::alert_received(AlertType::ProtocolVersion),
    )
}

/// The server of `backend`, accepting TLS 1.2 or later, against `openssl s_client -tls1`.
fn server_against_tls1_0_client(backend: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-quiet",
        ])
        .args(["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start openssl s_client: {e}"))?;
    let _peer = Peer(child);
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let config = server_config(&Pki::get().server);
    let expected = failure::no_common_protocol(config.protocol);
    expect_error("the server", &serve(backend, stream, config), &expected)
}

/// A client that accepts only `client_protocol` and a server that accepts only
/// `server_protocol` (which have no version in common): the server refuses, and the client
/// hears it from a protocol_version alert.
fn no_common_protocol(
    client: &str,
    client_protocol: SslProtocol,
    server: &str,
    server_protocol: SslProtocol,
) -> Result<(), String> {
    let outcome = handshake(
        client,
        configure(SslConfiguration {
            protocol: client_protocol,
            ..client_config()
        }),
        server,
        configure(SslConfiguration {
            protocol: server_protocol,
            ..server_config(&Pki::get().server)
        }),
    );
    expect_error(
        "the server",
        &outcome.server,
        &failure::no_common_protocol(server_protocol),
    )?;
    expect_error(
        "the client",
        &outcome.client,
        &failure::alert_received(AlertType::ProtocolVersion),
    )
}

/// A client and a server restricted to different cipher suites of `protocol`: the server
/// refuses, and the client hears it from a handshake_failure alert.
fn no_common_cipher(
    client: &str,
    server: &str,
    protocol: SslProtocol,
    suites: [&str; 2],
) -> Result<(), String> {
    let suite = |name: &str| SslCipher::from_name(name).ok_or(format!("unknown suite {name}"));
    let (client_suite, server_suite) = (suite(suites[0])?, suite(suites[1])?);
    let outcome = handshake(
        client,
        configure(SslConfiguration {
            protocol,
            ciphers: Some(vec![client_suite]),
            ..client_config()
        }),
        server,
        configure(SslConfiguration {
            protocol,
            ciphers: Some(vec![server_suite]),
            ..server_config(&Pki::get().server)
        }),
    );
    expect_error(
        "the server",
        &outcome.server,
        &failure::no_common_cipher(Some(&[server_suite])),
    )?;
    expect_error(
        "the client",
        &outcome.client,
        &failure::alert_received(AlertType::HandshakeFailure),
    )
}

/// A client that expects another name than the server's certificate has: its
/// `HostNameMismatch` names the name expected and the names the certificate has.
fn host_name_mismatch(client: &str, server: &str) -> Result<(), String> {
    const EXPECTED: &str = "wrong.example";
    let outcome = handshake(
        client,
        Box::new(|s: &mut crate::harness::Socket| {
            s.set_ssl_configuration(client_config());
            s.set_peer_verify_name(EXPECTED);
        }),
        server,
        configure(server_config(&Pki::get().server)),
    );
    let leaf = Pki::get().server.leaf().clone();
    let expected = SslError::with_certificate(SslErrorKind::HostNameMismatch, leaf)
        .with_expected_name(EXPECTED);
    let errors = match &outcome.client {
        Err(Error::Verification(errors)) => errors,
        other => {
            return Err(format!(
                "the client: expected a verification failure, got {other:?}"
            ))
        }
    };
    let found = errors
        .iter()
        .find(|e| e.kind() == SslErrorKind::HostNameMismatch)
        .ok_or_else(|| format!("the client: no HostNameMismatch in {errors:?}"))?;
    if found.expected_name() == Some(EXPECTED) && found.to_string() == expected.to_string() {
        Ok(())
    } else {
        Err(format!("the client: expected `{expected}`, got `{found}`"))
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let (tls12, tls13) = (SslProtocol::TlsV1_2, SslProtocol::TlsV1_3);
    let both = || Needs::protocol(tls12).and_protocol(tls13);
    let mut cases = vec![
        Case::single(
            "failure/plain_http_to_a_tls_server",
            Needs::socket(),
            http_to_tls_server,
        ),
        Case::single(
            "failure/tls_client_to_a_plain_http_server",
            Needs::socket(),
            tls_client_to_http_server,
        ),
        Case::single(
            "failure/tls1_0_only_server",
            Needs::socket().and_tool("openssl"),
            client_against_tls1_0_server,
        ),
        Case::single(
            "failure/tls1_0_only_client",
            Needs::socket().and_tool("openssl"),
            server_against_tls1_0_client,
        ),
        Case::pair("failure/no_common_protocol", both(), both(), move |c, s| {
            no_common_protocol(c, tls13, s, tls12)?;
            no_common_protocol(c, tls12, s, tls13)
        }),
        Case::pair(
            "failure/host_name_mismatch_names_both_names",
            Needs::feature(SupportedFeature::CertificateVerification),
            Needs::socket(),
            host_name_mismatch,
        ),
    ];
    let suites = [
        (tls13, ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]),
        (
            tls12,
            [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            ],
        ),
    ];
    for (protocol, suites) in suites {
        cases.push(Case::pair(
            format!("failure/no_common_cipher/{protocol}"),
            Needs::protocol(protocol),
            Needs::protocol(protocol),
            move |c, s| no_common_cipher(c, s, protocol, suites),
        ));
    }
    cases
}
