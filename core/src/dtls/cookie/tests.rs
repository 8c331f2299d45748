//! Unit tests of the cookie verifier, on ClientHellos built by hand.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use super::*;

/// The parameters of a hand-built ClientHello.
#[derive(Clone)]
struct Hello {
    record_seq: u64,
    message_seq: u16,
    version: [u8; 2],
    random: [u8; 32],
    session_id: Vec<u8>,
    cookie: Vec<u8>,
    suites: Vec<u16>,
    compression: Vec<u8>,
    extensions: Vec<u8>,
}

impl Default for Hello {
    fn default() -> Hello {
        Hello {
            record_seq: 0,
            message_seq: 0,
            version: [0xfe, 0xfd],
            random: [7; 32],
            session_id: Vec::new(),
            cookie: Vec::new(),
            suites: vec![0xc02b, 0xc02f],
            compression: vec![0],
            extensions: vec![0x00, 0x17, 0x00, 0x00],
        }
    }
}

impl Hello {
    fn bytes(&self) -> Vec<u8> {
        let mut body = self.version.to_vec();
        body.extend_from_slice(&self.random);
        body.push(self.session_id.len() as u8);
        body.extend_from_slice(&self.session_id);
        body.push(self.cookie.len() as u8);
        body.extend_from_slice(&self.cookie);
        body.extend_from_slice(&((self.suites.len() * 2) as u16).to_be_bytes());
        for s in &self.suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.push(self.compression.len() as u8);
        body.extend_from_slice(&self.compression);
        if !self.extensions.is_empty() {
            body.extend_from_slice(&(self.extensions.len() as u16).to_be_bytes());
            body.extend_from_slice(&self.extensions);
        }
        let len = body.len() as u32;
        let mut hs = vec![CLIENT_HELLO];
        hs.extend_from_slice(&len.to_be_bytes()[1..]);
        hs.extend_from_slice(&self.message_seq.to_be_bytes());
        hs.extend_from_slice(&[0, 0, 0]);
        hs.extend_from_slice(&len.to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut record = vec![HANDSHAKE, 0xfe, 0xff, 0, 0];
        record.extend_from_slice(&self.record_seq.to_be_bytes()[2..]);
        record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        record.extend_from_slice(&hs);
        record
    }
}

fn client() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000)
}

/// The cookie of a HelloVerifyRequest, checking its shape on the way.
fn cookie_of(request: &[u8], hello: &[u8]) -> Vec<u8> {
    assert_eq!(request.len(), 60);
    assert!(
        request.len() < hello.len(),
        "the HelloVerifyRequest amplifies"
    );
    assert_eq!(request[0], HANDSHAKE);
    assert_eq!(
        &request[3..11],
        &hello[3..11],
        "the record sequence is echoed"
    );
    assert_eq!(request[13], HELLO_VERIFY_REQUEST);
    assert_eq!(usize::from(request[13 + 14]), COOKIE_LEN);
    request[13 + 15..].to_vec()
}

fn challenge(verifier: &DtlsClientVerifier, hello: &Hello, from: SocketAddr) -> Vec<u8> {
    let bytes = hello.bytes();
    match verifier.check(&bytes, from) {
        Check::Challenge(request) => cookie_of(&request, &bytes),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn verified(verifier: &DtlsClientVerifier, hello: &Hello, from: SocketAddr) -> bool {
    matches!(verifier.check(&hello.bytes(), from), Check::Verified(_))
}

/// The exchange of RFC 6347 4.2.1: a hello with the cookie it was given verifies, from the
/// same address, twice and in a fresh verifier with the default (process-wide) secret.
#[test]
fn hello_with_its_cookie_verifies_statelessly() {
    let verifier = DtlsClientVerifier::new();
    let first = Hello::default();
    let cookie = challenge(&verifier, &first, client());
    let second = Hello {
        cookie,
        record_seq: 1,
        message_seq: 1,
        ..first
    };
    assert!(verified(&verifier, &second, client()));
    assert!(verified(&verifier, &second, client()));
    assert!(verified(&DtlsClientVerifier::new(), &second, client()));
    // Extensions are not among the parameters a client must repeat.
    let other_extensions = Hello {
        extensions: Vec::new(),
        ..second.clone()
    };
    assert!(verified(&verifier, &other_extensions, client()));
}

/// The cookie binds the address, the port and each ClientHello parameter.
#[test]
fn cookie_binds_address_port_and_parameters() {
    let verifier = DtlsClientVerifier::new();
    let first = Hello::default();
    let with_cookie = Hello {
        cookie: challenge(&verifier, &first, client()),
        ..first
    };
    assert!(verified(&verifier, &with_cookie, client()));
    let other_port = SocketAddr::new(client().ip(), 40_001);
    let other_ip = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 40_000);
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 40_000);
    for from in [other_port, other_ip, v6] {
        assert!(!verified(&verifier, &with_cookie, from), "{from}");
    }
    let changes: Vec<fn(&mut Hello)> = vec![
        |h| h.random[0] ^= 1,
        |h| h.version = [0xfe, 0xff],
        |h| h.session_id = vec![1; 32],
        |h| h.suites.push(0x009c),
        |h| h.compression = vec![1, 0],
        |h| h.cookie[5] ^= 0x80,
        |h| h.cookie.truncate(31),
    ];
    for change in changes {
        let mut hello = with_cookie.clone();
        change(&mut hello);
        assert!(!verified(&verifier, &hello, client()));
        // A wrong cookie is answered with a new challenge, as a missing one is.
        challenge(&verifier, &hello, client());
    }
}

/// Qt's cookieGeneratorParameters: an empty secret is refused and the old one stays.
#[test]
fn empty_secret_is_refused() {
    let mut verifier = DtlsClientVerifier::new();
    let before = verifier.cookie_generator_parameters();
    assert_eq!(before.hash, CookieHash::Sha256);
    assert!(!before.secret.is_empty());
    let empty = GeneratorParameters {
        hash: CookieHash::Sha256,
        secret: Vec::new(),
    };
    assert!(matches!(
        verifier.set_cookie_generator_parameters(empty),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(verifier.dtls_error(), DtlsError::InvalidInputParameters);
    assert_eq!(verifier.cookie_generator_parameters(), before);
    let params = GeneratorParameters {
        hash: CookieHash::Sha256,
        secret: b"abcdefghijklmnopqrstuvwxyz".to_vec(),
    };
    verifier
        .set_cookie_generator_parameters(params.clone())
        .unwrap();
    assert_eq!(verifier.dtls_error(), DtlsError::NoError);
    assert_eq!(verifier.cookie_generator_parameters(), params);
}

/// A rotated secret keeps cookies made under the previous one valid during the grace
/// period, and not after it; cookies of two rotations ago are invalid.
#[test]
fn rotation_keeps_the_previous_secret_for_the_grace_period() {
    let secret = |s: &[u8]| GeneratorParameters {
        hash: CookieHash::Sha256,
        secret: s.to_vec(),
    };
    let mut verifier = DtlsClientVerifier::new();
    verifier
        .set_cookie_generator_parameters(secret(b"one"))
        .unwrap();
    let first = Hello::default();
    let with_cookie = Hello {
        cookie: challenge(&verifier, &first, client()),
        ..first
    };
    verifier
        .set_cookie_generator_parameters(secret(b"two"))
        .unwrap();
    assert!(
        verified(&verifier, &with_cookie, client()),
        "previous secret refused"
    );
    verifier
        .set_cookie_generator_parameters(secret(b"three"))
        .unwrap();
    assert!(
        !verified(&verifier, &with_cookie, client()),
        "two rotations ago accepted"
    );

    let mut strict = DtlsClientVerifier::new();
    strict.set_grace_period(Duration::ZERO);
    strict
        .set_cookie_generator_parameters(secret(b"one"))
        .unwrap();
    let with_cookie = Hello {
        cookie: challenge(&strict, &Hello::default(), client()),
        ..Hello::default()
    };
    strict
        .set_cookie_generator_parameters(secret(b"two"))
        .unwrap();
    assert!(
        !verified(&strict, &with_cookie, client()),
        "grace period ignored"
    );
}

/// Malformed hellos are ignored, never answered, and never panic: every prefix of a valid
/// hello, and structural breakages.
#[test]
fn malformed_hellos_are_garbage() {
    let verifier = DtlsClientVerifier::new();
    let bytes = Hello::default().bytes();
    for end in 0..bytes.len() {
        let check = verifier.check(&bytes[..end], client());
        assert_eq!(check, Check::Garbage, "prefix of {end} bytes");
    }
    let breakages: Vec<fn(&mut Vec<u8>)> = vec![
        |b| b[0] = 23,            // application data
        |b| b[4] = 1,             // epoch 1
        |b| b[13] = 2,            // ServerHello
        |b| b[13 + 8] = 1,        // fragment offset
        |b| b[13 + 11] -= 1,      // fragment length
        |b| b[13 + 12] = 0x03,    // TLS version
        |b| b[13 + 12 + 34] = 33, // session id too long
        |b| b[12] = 0xff,         // record longer than the datagram
    ];
    for (i, breakage) in breakages.iter().enumerate() {
        let mut broken = bytes.clone();
        breakage(&mut broken);
        assert_eq!(
            verifier.check(&broken, client()),
            Check::Garbage,
            "breakage {i}"
        );
    }
    let odd_suites = Hello {
        suites: vec![],
        ..Hello::default()
    };
    assert_eq!(
        verifier.check(&odd_suites.bytes(), client()),
        Check::Garbage
    );
    let no_compression = Hello {
        compression: vec![],
        ..Hello::default()
    };
    assert_eq!(
        verifier.check(&no_compression.bytes(), client()),
        Check::Garbage
    );
    // A smallest valid hello is still larger than the HelloVerifyRequest.
    let smallest = Hello {
        suites: vec![0xc02b],
        extensions: Vec::new(),
        ..Hello::default()
    };
    assert_eq!(smallest.bytes().len(), 67);
    challenge(&verifier, &smallest, client());
}

/// Nothing is kept per unverified client: after challenging many clients, the first one's
/// cookie still verifies and the verifier holds no more than before.
#[test]
fn unverified_clients_leave_no_state() {
    let verifier = DtlsClientVerifier::new();
    let first = Hello::default();
    let with_cookie = Hello {
        cookie: challenge(&verifier, &first, client()),
        ..first
    };
    let before = format!("{:?}", verifier.previous.is_some());
    for port in 1..5000u16 {
        let hello = Hello {
            random: [port as u8; 32],
            ..Hello::default()
        };
        challenge(&verifier, &hello, SocketAddr::new(client().ip(), port));
    }
    assert!(verified(&verifier, &with_cookie, client()));
    assert_eq!(format!("{:?}", verifier.previous.is_some()), before);
    assert_eq!(verifier.verified_hello.capacity(), 0);
}

/// Qt's validateParameters over real sockets: an empty datagram and an unspecified,
/// broadcast or multicast address are refused in every combination, with nothing verified.
/// (Qt's null-socket rows cannot be written in Rust: `&UdpSocket` is never null.)
#[test]
fn invalid_parameters_are_refused() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let hello = Hello::default().bytes();
    let addresses = [
        (true, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        (false, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        (false, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        (false, IpAddr::V4(Ipv4Addr::BROADCAST)),
        (false, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0))),
        (false, IpAddr::V6("ff02::1".parse().unwrap())),
    ];
    let mut combinations = 0;
    for empty in [false, true] {
        for (valid, address) in addresses {
            if valid && !empty {
                continue;
            }
            combinations += 1;
            let mut verifier = DtlsClientVerifier::new();
            let datagram: &[u8] = if empty { &[] } else { &hello };
            let result = verifier.verify_client(&server, datagram, address, 40_000);
            assert!(
                matches!(result, Err(Error::InvalidInput(_))),
                "{empty} {address}"
            );
            assert_eq!(verifier.dtls_error(), DtlsError::InvalidInputParameters);
            assert!(!verifier.dtls_error_string().is_empty());
            assert!(verifier.verified_hello().is_empty());
        }
    }
    assert_eq!(combinations, 11);
}

/// verify_client over loopback: the HelloVerifyRequest reaches the client, the hello with
/// its cookie is verified (and kept as the verified hello), a wrong port is not and clears
/// it, without an error.
#[test]
fn verify_client_over_udp() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    client_socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let from = client_socket.local_addr().unwrap();
    let mut verifier = DtlsClientVerifier::new();
    let first = Hello::default();
    let bytes = first.bytes();
    assert!(!verifier
        .verify_client(&server, &bytes, from.ip(), from.port())
        .unwrap());
    assert_eq!(verifier.dtls_error(), DtlsError::NoError);
    let mut buf = [0u8; 512];
    let (n, _) = client_socket.recv_from(&mut buf).unwrap();
    let second = Hello {
        cookie: cookie_of(&buf[..n], &bytes),
        record_seq: 1,
        message_seq: 1,
        ..first
    }
    .bytes();
    assert!(verifier
        .verify_client(&server, &second, from.ip(), from.port())
        .unwrap());
    assert_eq!(verifier.verified_hello(), &second[..]);
    assert!(!verifier
        .verify_client(&server, &second, from.ip(), from.port() ^ 1)
        .unwrap());
    assert!(verifier.verified_hello().is_empty());
    assert_eq!(verifier.dtls_error(), DtlsError::NoError);
    // Garbage is ignored: no answer, no error.
    assert!(!verifier
        .verify_client(&server, b"noise", from.ip(), from.port())
        .unwrap());
    assert_eq!(verifier.dtls_error(), DtlsError::NoError);
}

/// Qt's construction: a new verifier hashes with SHA-256 under a 32-byte random secret (the
/// same as a server `Dtls`'s, so their cookies agree), holds no verified hello and no error.
#[test]
fn a_new_verifier_is_empty_and_keyed() {
    let verifier = DtlsClientVerifier::new();
    let params = verifier.cookie_generator_parameters();
    assert_eq!(params.hash, CookieHash::Sha256);
    assert_eq!(params.secret.len(), 32);
    assert_ne!(params.secret, vec![0u8; 32]);
    assert_eq!(params, GeneratorParameters::default());
    assert!(verifier.verified_hello().is_empty());
    assert_eq!(verifier.dtls_error(), DtlsError::NoError);
    assert!(verifier.dtls_error_string().is_empty());
}
