//! A client engine and a server engine driven against each other in memory, with certificates
//! made at test time: handshakes, data, close_notify and truncation, verification results and
//! the hook's verdict, protocols, cipher suites, ALPN and client certificates.

use std::sync::{Arc, Mutex, OnceLock};

use polytls_core::{
    AlertType, Certificate, EngineParams, Error, Key, KeyType, PeerVerifyMode, PlaintextRead,
    SslCipher, SslConfiguration, SslError, SslErrorKind, SslMode, SslProtocol, TlsBackend,
    TlsEngine, VerificationHook,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};

use crate::OpenSslBackend;

/// A certificate chain (leaf first) and its key.
#[derive(Clone)]
struct Identity {
    chain: Vec<Certificate>,
    key: Key,
}

/// The certificates the tests use.
struct Pki {
    root: Certificate,
    /// ECDSA leaf for `localhost` and 127.0.0.1, issued by the root.
    server: Identity,
    /// RSA leaf for `localhost`, issued by the root.
    server_rsa: Identity,
    /// Self-signed leaf for `localhost`.
    self_signed: Identity,
    /// Expired leaf for `localhost`, issued by the root.
    expired: Identity,
    /// Not-yet-valid leaf for `localhost`, issued by the root.
    not_yet_valid: Identity,
    /// Client certificate issued by the root.
    client: Identity,
    /// Leaf for `localhost` issued by an intermediate of the root, with the intermediate.
    via_intermediate: Identity,
    /// Leaf for `localhost` whose signature was damaged.
    bad_signature: Identity,
    /// Leaf for `localhost` for client authentication only.
    client_only: Identity,
    /// A root nobody trusts, and a leaf for `localhost` it issued.
    other_root: Certificate,
    other_leaf: Identity,
}

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("rcgen makes valid certificates")
}

fn key(pair: &KeyPair) -> Key {
    Key::from_der(&pair.serialize_der(), KeyType::PrivateKey).expect("rcgen makes valid keys")
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    CertifiedIssuer::self_signed(params, pair).expect("root")
}

fn leaf_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    // RFC 5280's profile, which verification applies strictly by default.
    params.use_authority_key_identifier_extension = true;
    params
}

fn issued(
    params: CertificateParams,
    pair: KeyPair,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Identity {
    let leaf = params.signed_by(&pair, issuer).expect("leaf");
    Identity {
        chain: vec![cert(leaf.der())],
        key: key(&pair),
    }
}

fn ec_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key")
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = ca("polytls test root");
        let other = ca("polytls untrusted root");
        let rsa = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).expect("rsa");
        let mut expired = leaf_params("expired");
        expired.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let mut future = leaf_params("future");
        future.not_before = rcgen::date_time_ymd(2090, 1, 1);
        future.not_after = rcgen::date_time_ymd(2091, 1, 1);
        let self_pair = ec_key();
        let self_signed = leaf_params("self-signed")
            .self_signed(&self_pair)
            .expect("self-signed");
        let mut intermediate_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        intermediate_params
            .distinguished_name
            .push(DnType::CommonName, "polytls intermediate");
        intermediate_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        intermediate_params.use_authority_key_identifier_extension = true;
        intermediate_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let intermediate =
            CertifiedIssuer::signed_by(intermediate_params, ec_key(), &root).expect("intermediate");
        let mut via_intermediate = issued(leaf_params("via intermediate"), ec_key(), &intermediate);
        via_intermediate.chain.push(cert(intermediate.der()));
        let mut bad_signature = issued(leaf_params("bad signature"), ec_key(), &root);
        let mut der = bad_signature.chain[0].to_der().to_vec();
        if let Some(last) = der.last_mut() {
            *last ^= 0x01;
        }
        bad_signature.chain[0] = cert(&der);
        let mut client_only = leaf_params("client only");
        client_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Pki {
            via_intermediate,
            bad_signature,
            client_only: issued(client_only, ec_key(), &root),
            root: cert(root.der()),
            server: issued(leaf_params("server"), ec_key(), &root),
            server_rsa: issued(leaf_params("server rsa"), rsa, &root),
            self_signed: Identity {
                chain: vec![cert(self_signed.der())],
                key: key(&self_pair),
            },
            expired: issued(expired, ec_key(), &root),
            not_yet_valid: issued(future, ec_key(), &root),
            client: issued(leaf_params("client"), ec_key(), &root),
            other_root: cert(other.der()),
            other_leaf: issued(leaf_params("other"), ec_key(), &other),
        }
    })
}

/// A hook that records what it is given and, like core's, accepts a clean chain; for a chain
/// with errors it answers `verdict`.
struct Recorder {
    verdict: bool,
    calls: Mutex<Vec<(Vec<Certificate>, Vec<SslError>)>>,
    /// What each pre-shared key request carried: the hint and the identity.
    psk_calls: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// The identity and key every [`Recorder`] gives when asked for a pre-shared key.
const PSK_IDENTITY: &[u8] = b"client-1";
const PSK_KEY: &[u8] = b"0123456789abcdef";

impl Recorder {
    fn new(verdict: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            verdict,
            calls: Mutex::new(Vec::new()),
            psk_calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<(Vec<Certificate>, Vec<SslError>)> {
        self.calls.lock().expect("lock").clone()
    }

    /// The single call's errors (fails if the hook was not called exactly once).
    fn errors(&self) -> Vec<SslError> {
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "the hook must be called exactly once");
        calls[0].1.clone()
    }
}

impl VerificationHook for Recorder {
    fn decide(&self, peer_chain: &[Certificate], errors: Vec<SslError>) -> bool {
        let accept = errors.is_empty() || self.verdict;
        self.calls
            .lock()
            .expect("lock")
            .push((peer_chain.to_vec(), errors));
        accept
    }

    fn pre_shared_key(&self, auth: &mut polytls_core::PreSharedKeyAuthenticator) -> bool {
        self.psk_calls
            .lock()
            .expect("lock")
            .push((auth.identity_hint().to_vec(), auth.identity().to_vec()));
        if auth.maximum_identity_length() > 0 {
            auth.set_identity(PSK_IDENTITY.to_vec());
        }
        auth.set_pre_shared_key(PSK_KEY.to_vec());
        true
    }
}

fn client_config() -> SslConfiguration {
    SslConfiguration {
        ca_certificates: Some(vec![pki().root.clone()]),
        ..SslConfiguration::default()
    }
}

fn server_config(identity: &Identity) -> SslConfiguration {
    SslConfiguration {
        local_certificate_chain: identity.chain.clone(),
        private_key: Some(identity.key.clone()),
        ca_certificates: Some(vec![pki().root.clone()]),
        ..SslConfiguration::default()
    }
}

fn engine(
    mode: SslMode,
    config: &SslConfiguration,
    peer_name: Option<&str>,
    hook: Arc<Recorder>,
) -> Box<dyn TlsEngine> {
    psk_engine(mode, config, peer_name, hook, false)
}

/// [`engine`], with a pre-shared key handler when `psk`.
fn psk_engine(
    mode: SslMode,
    config: &SslConfiguration,
    peer_name: Option<&str>,
    hook: Arc<Recorder>,
    psk: bool,
) -> Box<dyn TlsEngine> {
    let name = peer_name.map(|n| polytls_core::PeerName::parse(n).expect("a valid test name"));
    let mut params = EngineParams::new(mode, config, name.as_ref(), hook);
    params.pre_shared_key_handler = psk;
    OpenSslBackend::new()
        .new_tls_engine(params)
        .expect("engine creation")
}

/// Moves everything `from` wants to send into `to`.
fn transfer(from: &mut dyn TlsEngine, to: &mut dyn TlsEngine) {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("write_tls");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read_tls");
    }
}

/// Runs the handshake; returns each side's first error.
fn handshake(
    client: &mut dyn TlsEngine,
    server: &mut dyn TlsEngine,
) -> (Result<(), Error>, Result<(), Error>) {
    let mut client_result = Ok(());
    let mut server_result = Ok(());
    for _ in 0..20 {
        if client_result.is_ok() {
            client_result = client.process();
        }
        transfer(client, server);
        if server_result.is_ok() {
            server_result = server.process();
        }
        transfer(server, client);
        let client_done = client_result.is_err() || !client.is_handshaking();
        let server_done = server_result.is_err() || !server.is_handshaking();
        if client_done && server_done && !client.wants_write() && !server.wants_write() {
            // One more round lets a late alert (TLS 1.3 client authentication) arrive.
            if client_result.is_ok() {
                client_result = client.process();
            }
            if server_result.is_ok() {
                server_result = server.process();
            }
            break;
        }
    }
    (client_result, server_result)
}

/// Sends `data` from `from` to `to` and reads it back out.
fn send(from: &mut dyn TlsEngine, to: &mut dyn TlsEngine, data: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    let mut offset = 0;
    let mut buf = vec![0; 16 * 1024];
    while received.len() < data.len() {
        if offset < data.len() {
            offset += from.write_plaintext(&data[offset..]).expect("write");
        }
        transfer(from, to);
        to.process().expect("process");
        loop {
            match to.read_plaintext(&mut buf).expect("read") {
                PlaintextRead::Data(n) => received.extend_from_slice(&buf[..n]),
                PlaintextRead::NeedMore => break,
                PlaintextRead::Closed => panic!("unexpected close"),
            }
        }
        transfer(to, from);
        from.process().expect("process");
    }
    received
}

struct Pair {
    client: Box<dyn TlsEngine>,
    server: Box<dyn TlsEngine>,
    client_hook: Arc<Recorder>,
    server_hook: Arc<Recorder>,
}

fn pair(client: &SslConfiguration, server: &SslConfiguration, peer_name: Option<&str>) -> Pair {
    psk_pair(client, server, peer_name, false)
}

/// [`pair`], both sides with a pre-shared key handler when `psk`.
fn psk_pair(
    client: &SslConfiguration,
    server: &SslConfiguration,
    peer_name: Option<&str>,
    psk: bool,
) -> Pair {
    let client_hook = Recorder::new(false);
    let server_hook = Recorder::new(false);
    Pair {
        client: psk_engine(
            SslMode::SslClientMode,
            client,
            peer_name,
            client_hook.clone(),
            psk,
        ),
        server: psk_engine(
            SslMode::SslServerMode,
            server,
            None,
            server_hook.clone(),
            psk,
        ),
        client_hook,
        server_hook,
    }
}

/// Connects a default client (trusting the test root, verifying `localhost`) to a server with
/// `server`, expecting success.
fn connect(client: &SslConfiguration, server: &SslConfiguration) -> Pair {
    let mut p = pair(client, server, Some("localhost"));
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    c.expect("client handshake");
    s.expect("server handshake");
    p
}

#[test]
fn tls13_handshake_data_and_close_notify() {
    let mut client = client_config();
    client.protocol = SslProtocol::TlsV1_3;
    let server = server_config(&pki().server);
    let mut p = connect(&client, &server);
    assert!(p.client_hook.errors().is_empty());
    assert_eq!(p.client_hook.calls()[0].0, pki().server.chain);
    assert!(
        p.server_hook.calls().is_empty(),
        "QueryPeer never calls the hook"
    );

    let session = p.client.session();
    assert_eq!(session.protocol, SslProtocol::TlsV1_3);
    assert!(session.cipher.is_some_and(|c| c.is_tls13()));
    assert_eq!(session.peer_chain, pki().server.chain);
    let server_session = p.server.session();
    assert_eq!(server_session.server_name.as_deref(), Some("localhost"));
    assert_eq!(server_session.cipher, session.cipher);
    assert!(server_session.peer_chain.is_empty());

    let big: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
    assert_eq!(send(p.client.as_mut(), p.server.as_mut(), &big), big);
    assert_eq!(send(p.server.as_mut(), p.client.as_mut(), b"pong"), b"pong");

    p.client.send_close_notify();
    assert!(matches!(
        p.client.write_plaintext(b"late"),
        Err(Error::InvalidState(_))
    ));
    transfer(p.client.as_mut(), p.server.as_mut());
    p.server.process().expect("process");
    let mut buf = [0; 16];
    assert_eq!(
        p.server.read_plaintext(&mut buf).expect("read"),
        PlaintextRead::Closed
    );
    // The server may still answer, and close in turn.
    assert_eq!(send(p.server.as_mut(), p.client.as_mut(), b"bye"), b"bye");
    p.server.send_close_notify();
    transfer(p.server.as_mut(), p.client.as_mut());
    p.client.process().expect("process");
    assert_eq!(
        p.client.read_plaintext(&mut buf).expect("read"),
        PlaintextRead::Closed
    );
}

#[test]
fn tls12_handshake_with_alpn_and_truncation() {
    let mut client = client_config();
    client.protocol = SslProtocol::TlsV1_2;
    client.allowed_next_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
    let mut server = server_config(&pki().server_rsa);
    server.allowed_next_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut p = connect(&client, &server);
    let session = p.client.session();
    assert_eq!(session.protocol, SslProtocol::TlsV1_2);
    assert_eq!(session.alpn_protocol.as_deref(), Some(&b"h2"[..]));
    assert_eq!(
        p.server.session().alpn_protocol.as_deref(),
        Some(&b"h2"[..])
    );
    let cipher = session.cipher.expect("cipher");
    assert!(!cipher.is_tls13());
    assert_eq!(cipher.authentication_method(), "RSA");

    assert_eq!(send(p.client.as_mut(), p.server.as_mut(), b"ping"), b"ping");
    // Data, then end of stream without close_notify.
    p.client.write_plaintext(b"last words").expect("write");
    transfer(p.client.as_mut(), p.server.as_mut());
    assert_eq!(p.server.read_tls(&mut &b""[..]).expect("eof"), 0);
    p.server.process().expect("process");
    let mut buf = [0; 64];
    assert_eq!(
        p.server.read_plaintext(&mut buf).expect("data first"),
        PlaintextRead::Data(10)
    );
    assert!(matches!(
        p.server.read_plaintext(&mut buf),
        Err(Error::Truncated)
    ));
    assert!(matches!(
        p.server.read_plaintext(&mut buf),
        Err(Error::Truncated)
    ));
}

#[test]
fn old_protocols_handshake() {
    for protocol in [SslProtocol::TlsV1_0, SslProtocol::TlsV1_1] {
        for identity in [&pki().server, &pki().server_rsa] {
            let mut client = client_config();
            client.protocol = protocol;
            let mut server = server_config(identity);
            server.protocol = SslProtocol::AnyProtocol;
            let mut p = connect(&client, &server);
            assert_eq!(p.client.session().protocol, protocol);
            assert_eq!(send(p.client.as_mut(), p.server.as_mut(), b"old"), b"old");
        }
    }
    // AnyProtocol on both sides still picks TLS 1.3.
    let mut client = client_config();
    client.protocol = SslProtocol::AnyProtocol;
    let mut server = server_config(&pki().server);
    server.protocol = SslProtocol::AnyProtocol;
    let p = connect(&client, &server);
    assert_eq!(p.client.session().protocol, SslProtocol::TlsV1_3);
}

#[test]
fn secure_protocols_refuse_tls10() {
    let mut client = client_config();
    client.protocol = SslProtocol::TlsV1_0;
    let server = server_config(&pki().server);
    let mut p = pair(&client, &server, Some("localhost"));
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    assert!(c.is_err() && s.is_err());
}

#[test]
fn every_claimed_cipher_negotiates() {
    let claimed = OpenSslBackend::new().supported_ciphers();
    assert!(claimed.len() >= 20, "{claimed:?}");
    let mut failures = Vec::new();
    for cipher in claimed {
        let identity = match cipher.authentication_method() {
            "RSA" => &pki().server_rsa,
            _ => &pki().server,
        };
        let protocol = if cipher.is_tls13() {
            SslProtocol::TlsV1_3
        } else {
            SslProtocol::TlsV1_2
        };
        let mut client = client_config();
        client.protocol = protocol;
        client.ciphers = Some(vec![cipher]);
        let mut server = server_config(identity);
        server.ciphers = Some(vec![cipher]);
        let psk = cipher.authentication_method() == "PSK";
        let mut p = psk_pair(&client, &server, Some("localhost"), psk);
        match handshake(p.client.as_mut(), p.server.as_mut()) {
            (Ok(()), Ok(())) => {
                let session = p.client.session();
                assert_eq!(
                    session.cipher.map(|c| c.id()),
                    Some(cipher.id()),
                    "{cipher}"
                );
                assert_eq!(session.protocol, protocol);
                let identity = psk.then_some(PSK_IDENTITY.to_vec());
                assert_eq!(session.psk_identity, identity, "{cipher}");
                assert_eq!(p.server.session().psk_identity, identity, "{cipher}");
            }
            (c, s) => failures.push(format!("{cipher}: {c:?} / {s:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn psk_handshake_carries_the_hint_and_the_identity() {
    let mut client = client_config();
    client.protocol = SslProtocol::TlsV1_2;
    client.ciphers = Some(vec![SslCipher::from_name(
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
    )
    .expect("known")]);
    let mut server = server_config(&pki().server);
    server.pre_shared_key_identity_hint = Some(b"the hint".to_vec());
    let mut p = psk_pair(&client, &server, None, true);
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    c.expect("client");
    s.expect("server");
    let calls = |r: &Recorder| r.psk_calls.lock().expect("lock").clone();
    assert_eq!(calls(&p.client_hook), [(b"the hint".to_vec(), Vec::new())]);
    assert_eq!(calls(&p.server_hook), [(Vec::new(), PSK_IDENTITY.to_vec())]);
    assert!(p.client.session().peer_chain.is_empty());
    assert_eq!(
        p.client.session().psk_identity.as_deref(),
        Some(PSK_IDENTITY)
    );
    assert_eq!(send(p.client.as_mut(), p.server.as_mut(), b"ping"), b"ping");
}

#[test]
fn tls13_never_asks_for_a_pre_shared_key() {
    // Both sides have a handler; TLS 1.3 (OpenSSL would use it as an external PSK) stays with
    // certificates, and the client's first flight does not call the handler.
    let mut p = psk_pair(
        &client_config(),
        &server_config(&pki().server),
        Some("localhost"),
        true,
    );
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    c.expect("client");
    s.expect("server");
    assert_eq!(p.client.session().protocol, SslProtocol::TlsV1_3);
    assert!(p.client_hook.psk_calls.lock().expect("lock").is_empty());
    assert!(p.server_hook.psk_calls.lock().expect("lock").is_empty());
    assert_eq!(p.client.session().psk_identity, None);
    assert_eq!(
        p.client_hook.calls().len(),
        1,
        "the certificate was verified"
    );
}

#[test]
fn unknown_cipher_is_unsupported() {
    let mut config = client_config();
    config.ciphers = Some(vec![SslCipher::from_id(0x0005, SslProtocol::TlsV1_0)]);
    let params = EngineParams::new(SslMode::SslClientMode, &config, None, Recorder::new(true));
    assert!(matches!(
        OpenSslBackend::new().new_tls_engine(params),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn unsupported_settings_are_refused() {
    let cases: Vec<fn(&mut SslConfiguration)> = vec![
        |c| c.elliptic_curves = vec!["prime256v1".into()],
        |c| c.ocsp_stapling_enabled = true,
        |c| c.session_ticket = vec![1, 2, 3],
        |c| c.protocol = SslProtocol::DtlsV1_2,
    ];
    for change in cases {
        let mut config = client_config();
        change(&mut config);
        let params = EngineParams::new(SslMode::SslClientMode, &config, None, Recorder::new(true));
        assert!(matches!(
            OpenSslBackend::new().new_tls_engine(params),
            Err(Error::Unsupported { .. })
        ));
    }
}

/// Handshakes a client verifying `name` against a server presenting `identity`; returns the
/// errors the client's hook received and whether the handshake worked on both sides.
fn verification(
    identity: &Identity,
    name: &str,
    verdict: bool,
) -> (Vec<SslError>, Result<(), Error>, Result<(), Error>) {
    let hook = Recorder::new(verdict);
    let client_cfg = client_config();
    let server_cfg = server_config(identity);
    let mut client = engine(
        SslMode::SslClientMode,
        &client_cfg,
        Some(name),
        hook.clone(),
    );
    let mut server = engine(
        SslMode::SslServerMode,
        &server_cfg,
        None,
        Recorder::new(false),
    );
    let (c, s) = handshake(client.as_mut(), server.as_mut());
    (hook.errors(), c, s)
}

fn with(kind: SslErrorKind, cert: &Certificate) -> SslError {
    SslError::with_certificate(kind, cert.clone())
}

#[test]
fn self_signed_server_is_reported_and_the_hook_decides() {
    let leaf = &pki().self_signed.chain[0];
    let (errors, client, server) = verification(&pki().self_signed, "localhost", false);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::SelfSignedCertificate, leaf)]
    );
    assert!(matches!(client, Err(Error::Handshake { .. })), "{client:?}");
    match server {
        Err(Error::Handshake { alert, .. }) => assert!(alert.is_some(), "{alert:?}"),
        other => panic!("the server must see the client's alert: {other:?}"),
    }

    let (errors, client, server) = verification(&pki().self_signed, "localhost", true);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::SelfSignedCertificate, leaf)]
    );
    client.expect("accepted by the hook");
    server.expect("server");
}

#[test]
fn canonical_error_lists() {
    let pki = pki();
    // Leaf and its self-signed root, root not trusted.
    let mut chain = pki.other_leaf.clone();
    chain.chain.push(pki.other_root.clone());
    let (errors, ..) = verification(&chain, "localhost", true);
    assert_eq!(
        errors,
        vec![with(
            SslErrorKind::SelfSignedCertificateInChain,
            &pki.other_root
        )]
    );
    // Only a leaf whose issuer is unknown.
    let leaf = &pki.other_leaf.chain[0];
    let (errors, ..) = verification(&pki.other_leaf, "localhost", true);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::UnableToGetLocalIssuerCertificate, leaf)]
    );
    // Expired, not yet valid.
    let leaf = &pki.expired.chain[0];
    let (errors, ..) = verification(&pki.expired, "localhost", true);
    assert_eq!(errors, vec![with(SslErrorKind::CertificateExpired, leaf)]);
    let future = &pki.not_yet_valid.chain[0];
    let (errors, ..) = verification(&pki.not_yet_valid, "localhost", true);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::CertificateNotYetValid, future)]
    );
    // Wrong host name; wrong host name and expired.
    let server = &pki.server.chain[0];
    let (errors, ..) = verification(&pki.server, "example.com", true);
    assert_eq!(errors, vec![with(SslErrorKind::HostNameMismatch, server)]);
    let (mut errors, ..) = verification(&pki.expired, "example.com", true);
    errors.sort_by_key(|e| format!("{:?}", e.kind()));
    assert_eq!(
        errors,
        vec![
            with(SslErrorKind::CertificateExpired, leaf),
            with(SslErrorKind::HostNameMismatch, leaf)
        ]
    );
    // A chain through an intermediate is clean, and reaches the hook as sent.
    let hook = Recorder::new(false);
    let client_cfg = client_config();
    let server_cfg = server_config(&pki.via_intermediate);
    let mut c_engine = engine(
        SslMode::SslClientMode,
        &client_cfg,
        Some("localhost"),
        hook.clone(),
    );
    let mut s_engine = engine(
        SslMode::SslServerMode,
        &server_cfg,
        None,
        Recorder::new(false),
    );
    let (c, s) = handshake(c_engine.as_mut(), s_engine.as_mut());
    c.expect("client");
    s.expect("server");
    assert!(hook.errors().is_empty());
    assert_eq!(hook.calls()[0].0, pki.via_intermediate.chain);
    assert_eq!(c_engine.session().peer_chain, pki.via_intermediate.chain);
    // A damaged signature; a certificate for the wrong purpose.
    let damaged = &pki.bad_signature.chain[0];
    let (errors, ..) = verification(&pki.bad_signature, "localhost", true);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::CertificateSignatureFailed, damaged)]
    );
    let client_only = &pki.client_only.chain[0];
    let (errors, ..) = verification(&pki.client_only, "localhost", true);
    assert_eq!(
        errors,
        vec![with(SslErrorKind::InvalidPurpose, client_only)]
    );
    // IP literals match iPAddress names.
    let (errors, client, _) = verification(&pki.server, "127.0.0.1", false);
    assert!(errors.is_empty());
    client.expect("IP match");
    let (errors, ..) = verification(&pki.server, "127.0.0.2", true);
    assert_eq!(errors, vec![with(SslErrorKind::HostNameMismatch, server)]);
}

#[test]
fn verify_none_and_query_peer_never_call_the_hook() {
    for mode in [PeerVerifyMode::VerifyNone, PeerVerifyMode::QueryPeer] {
        let mut client = client_config();
        client.peer_verify_mode = mode;
        let server = server_config(&pki().self_signed);
        let p = connect(&client, &server);
        assert!(p.client_hook.calls().is_empty());
    }
}

#[test]
fn client_certificates() {
    let pki = pki();
    let client_with_cert = SslConfiguration {
        local_certificate_chain: pki.client.chain.clone(),
        private_key: Some(pki.client.key.clone()),
        ..client_config()
    };
    for protocol in [SslProtocol::TlsV1_2, SslProtocol::TlsV1_3] {
        // VerifyPeer: the server checks the client's certificate and asks its hook.
        let mut server = server_config(&pki.server);
        server.protocol = protocol;
        server.peer_verify_mode = PeerVerifyMode::VerifyPeer;
        let p = connect(&client_with_cert, &server);
        assert!(p.server_hook.errors().is_empty());
        assert_eq!(p.server.session().peer_chain, pki.client.chain);

        // VerifyPeer without a client certificate: the engine goes on (core reports it).
        let p = connect(&client_config(), &server);
        assert!(p.server_hook.calls().is_empty());
        assert!(p.server.session().peer_chain.is_empty());

        // QueryPeer: the certificate is taken but never judged.
        server.peer_verify_mode = PeerVerifyMode::QueryPeer;
        let p = connect(&client_with_cert, &server);
        assert!(p.server_hook.calls().is_empty());
        assert_eq!(p.server.session().peer_chain, pki.client.chain);

        // VerifyPeer with an untrusted client certificate that the hook refuses.
        server.peer_verify_mode = PeerVerifyMode::VerifyPeer;
        let untrusted = SslConfiguration {
            local_certificate_chain: pki.self_signed.chain.clone(),
            private_key: Some(pki.self_signed.key.clone()),
            ..client_config()
        };
        let mut p = pair(&untrusted, &server, Some("localhost"));
        let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
        assert_eq!(
            p.server_hook.errors(),
            vec![with(
                SslErrorKind::SelfSignedCertificate,
                &pki.self_signed.chain[0]
            )]
        );
        assert!(s.is_err());
        let client_err = match c {
            Ok(()) => {
                // TLS 1.3: the client finished first and learns of the refusal on reading.
                let mut buf = [0; 8];
                p.client.read_plaintext(&mut buf).err()
            }
            Err(e) => Some(e),
        };
        assert!(
            matches!(client_err, Some(Error::Handshake { alert: Some(_), .. })),
            "{protocol}: {client_err:?}"
        );
    }
}

#[test]
fn alpn_without_overlap_fails_with_an_alert() {
    let mut client = client_config();
    client.allowed_next_protocols = vec![b"h2".to_vec()];
    let mut server = server_config(&pki().server);
    server.allowed_next_protocols = vec![b"spdy/3".to_vec()];
    let mut p = pair(&client, &server, Some("localhost"));
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    assert!(s.is_err());
    match c {
        Err(Error::Handshake { alert, .. }) => {
            assert_eq!(alert, Some(AlertType::NoApplicationProtocol))
        }
        other => panic!("{other:?}"),
    }
    // A server without ALPN ignores the client's offer.
    let p = connect(&client, &server_config(&pki().server));
    assert_eq!(p.client.session().alpn_protocol, None);
}

#[test]
fn disabled_sni_is_not_sent() {
    let mut client = client_config();
    client.set_ssl_option(polytls_core::SslOption::DisableServerNameIndication, true);
    let p = connect(&client, &server_config(&pki().server));
    assert_eq!(p.server.session().server_name, None);
    // Nor is an IP literal.
    let mut p = pair(
        &client_config(),
        &server_config(&pki().server),
        Some("127.0.0.1"),
    );
    let (c, s) = handshake(p.client.as_mut(), p.server.as_mut());
    c.expect("client");
    s.expect("server");
    assert_eq!(p.server.session().server_name, None);
}

#[test]
fn garbage_and_early_writes_are_errors() {
    let server_cfg = server_config(&pki().server);
    let mut server = engine(
        SslMode::SslServerMode,
        &server_cfg,
        None,
        Recorder::new(true),
    );
    assert!(matches!(
        server.write_plaintext(b"too early"),
        Err(Error::InvalidState(_))
    ));
    let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    server.read_tls(&mut &junk[..]).expect("read");
    assert!(server.process().is_err());
    assert!(server.process().is_err(), "the failure sticks");
    assert!(!server.is_handshaking());

    // A handshake cut short by end of stream.
    let client_cfg = client_config();
    let mut client = engine(
        SslMode::SslClientMode,
        &client_cfg,
        Some("localhost"),
        Recorder::new(true),
    );
    client.process().expect("first flight");
    assert!(client.wants_write());
    assert_eq!(client.read_tls(&mut &b""[..]).expect("eof"), 0);
    assert!(matches!(client.process(), Err(Error::Handshake { .. })));
}

#[test]
fn tampered_records_and_mismatched_keys_are_errors() {
    let mut p = connect(&client_config(), &server_config(&pki().server));
    p.client.write_plaintext(b"precious data").expect("write");
    let mut wire = Vec::new();
    while p.client.wants_write() {
        p.client.write_tls(&mut wire).expect("write_tls");
    }
    if let Some(last) = wire.last_mut() {
        *last ^= 0x80;
    }
    p.server.read_tls(&mut &wire[..]).expect("read_tls");
    let mut buf = [0; 64];
    let outcome = p
        .server
        .process()
        .and_then(|()| p.server.read_plaintext(&mut buf));
    assert!(matches!(outcome, Err(Error::Protocol(_))), "{outcome:?}");
    assert!(p.server.wants_write(), "an alert for the peer");

    let mut config = server_config(&pki().server);
    config.private_key = Some(pki().client.key.clone());
    let params = EngineParams::new(SslMode::SslServerMode, &config, None, Recorder::new(true));
    assert!(matches!(
        OpenSslBackend::new().new_tls_engine(params),
        Err(Error::Key(_))
    ));
}

#[test]
fn system_store_is_readable() {
    let certs = OpenSslBackend::new()
        .system_ca_certificates()
        .expect("system store");
    // Containers may have no CA bundle; when there is one, it must come out whole.
    if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        assert!(certs.len() > 10, "{}", certs.len());
    }
}

#[test]
fn versions_are_reported() {
    let backend = OpenSslBackend::new();
    assert!(backend.library_version_number() > 0);
    assert!(backend.library_version_string().starts_with("OpenSSL"));
    assert!(backend.build_version_number() > 0);
    assert!(backend.build_version_string().starts_with("OpenSSL"));
}

/// Runs one polytls server engine over a blocking socket: handshake, one byte of application
/// data, then waits for the client to go away.
fn serve_one(config: &SslConfiguration, mut socket: std::os::unix::net::UnixStream) {
    let mut server = engine(SslMode::SslServerMode, config, None, Recorder::new(true));
    let flush = |server: &mut Box<dyn TlsEngine>, socket: &mut std::os::unix::net::UnixStream| {
        while server.wants_write() {
            server.write_tls(socket).expect("server write");
        }
    };
    loop {
        server.process().expect("server handshake");
        flush(&mut server, &mut socket);
        if !server.is_handshaking() {
            break;
        }
        assert_ne!(server.read_tls(&mut socket).expect("server read"), 0);
    }
    assert_eq!(server.write_plaintext(b"x").expect("server data"), 1);
    flush(&mut server, &mut socket);
    while server.read_tls(&mut socket).unwrap_or(0) > 0 {
        let _ = server.process();
        flush(&mut server, &mut socket);
    }
}

/// Servers with equal configurations share one context, and with it its ticket keys; a ticket
/// one session issued must still resume nothing on another (each would skip its own hook).
#[test]
fn tickets_do_not_resume_across_sessions_sharing_a_context() {
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    use openssl::ssl::{SslConnector, SslMethod, SslSession, SslStream, SslVerifyMode, SslVersion};

    let config = server_config(&pki().server);
    for version in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
        let mut builder = SslConnector::builder(SslMethod::tls()).expect("connector");
        builder.set_verify(SslVerifyMode::NONE);
        builder
            .set_min_proto_version(Some(version))
            .expect("version");
        builder
            .set_max_proto_version(Some(version))
            .expect("version");
        let connector = builder.build();
        let mut session: Option<SslSession> = None;
        for round in 0..2 {
            let (client_socket, server_socket) = UnixStream::pair().expect("socket pair");
            let server_config = config.clone();
            let server = std::thread::spawn(move || serve_one(&server_config, server_socket));
            let mut ssl = connector
                .configure()
                .expect("client")
                .into_ssl("localhost")
                .expect("client");
            if let Some(session) = &session {
                // SAFETY: the session comes from a connection made with the same client context.
                unsafe { ssl.set_session(session) }.expect("set session");
            }
            let mut stream = SslStream::new(ssl, client_socket).expect("stream");
            stream.connect().expect("client handshake");
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).expect("client read");
            assert_eq!(&byte, b"x");
            if round == 1 {
                assert!(
                    !stream.ssl().session_reused(),
                    "{version:?}: a ticket of another server session was accepted"
                );
            }
            session = stream.ssl().session().map(ToOwned::to_owned);
            assert!(session.is_some(), "{version:?}: the client got no session");
            // Without close_notify OpenSSL would mark the session not resumable.
            let _ = stream.shutdown();
            drop(stream);
            server.join().expect("server thread");
        }
    }
}

/// A byte pipe that moves data in small pieces and fails every other read and every other
/// write with `fail` (`WouldBlock`, say), as a congested non-blocking socket may.
struct Choppy {
    data: std::collections::VecDeque<u8>,
    piece: usize,
    reads: usize,
    writes: usize,
    fail: std::io::ErrorKind,
}

impl Choppy {
    fn new(piece: usize, fail: std::io::ErrorKind) -> Choppy {
        Choppy {
            data: std::collections::VecDeque::new(),
            piece,
            reads: 0,
            writes: 0,
            fail,
        }
    }
}

impl std::io::Read for Choppy {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        if self.reads % 2 == 0 || self.data.is_empty() {
            return Err(self.fail.into());
        }
        let n = buf.len().min(self.piece).min(self.data.len());
        for (slot, byte) in buf.iter_mut().zip(self.data.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl std::io::Write for Choppy {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes += 1;
        if self.writes % 2 == 0 {
            return Err(self.fail.into());
        }
        let n = buf.len().min(self.piece);
        self.data.extend(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends `data` from `from` to `to` through `wire` with the calls that lend the transport,
/// as the socket does; every failure of the wire is retried.
fn send_through(
    from: &mut dyn TlsEngine,
    to: &mut dyn TlsEngine,
    wire: &mut Choppy,
    data: &[u8],
) -> Vec<u8> {
    let mut received = Vec::new();
    let mut offset = 0;
    let mut buf = vec![0; 5000];
    let mut rounds = 0;
    while received.len() < data.len() {
        rounds += 1;
        assert!(rounds < 1_000_000, "no progress");
        if offset < data.len() {
            offset += from
                .write_plaintext_to(wire, &data[offset..])
                .expect("write");
        }
        while from.wants_write() {
            match from.write_tls(wire) {
                Ok(_) => {}
                Err(e) if e.kind() == wire.fail => break,
                Err(e) => panic!("write_tls: {e}"),
            }
        }
        loop {
            match to.read_plaintext_from(wire, &mut buf) {
                Ok(PlaintextRead::Data(n)) => received.extend_from_slice(&buf[..n]),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(Error::Io(e)) if e.kind() == wire.fail => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    received
}

#[test]
fn lent_transport_survives_would_block_and_partial_io() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    for fail in [std::io::ErrorKind::WouldBlock, std::io::ErrorKind::TimedOut] {
        let mut p = connect(&client_config(), &server_config(&pki().server));
        // Pieces smaller than a record header, and larger than a record.
        for (piece, len) in [(3, 40_000), (1000, data.len()), (20_000, data.len())] {
            let mut wire = Choppy::new(piece, fail);
            let data = &data[..len];
            let got = send_through(p.client.as_mut(), p.server.as_mut(), &mut wire, data);
            assert!(got == data, "{fail:?}, pieces of {piece}: data changed");
            let got = send_through(p.server.as_mut(), p.client.as_mut(), &mut wire, b"back");
            assert_eq!(got, b"back");
        }
        // The calls without a transport still work on the same session.
        assert_eq!(
            send(p.client.as_mut(), p.server.as_mut(), b"plain"),
            b"plain"
        );
    }
}

#[test]
fn errors_left_in_the_queue_by_other_code_do_not_fail_the_session() {
    let mut p = connect(&client_config(), &server_config(&pki().server));
    let mut wire = Choppy::new(100_000, std::io::ErrorKind::WouldBlock);
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        // Someone else's failure, left in this thread's OpenSSL error queue.
        let stale = openssl::x509::X509::from_der(b"not a certificate").expect_err("junk");
        stale.put();
        let read = p.server.read_plaintext_from(&mut wire, &mut buf);
        assert!(
            matches!(&read, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{read:?}"
        );
        stale.put();
        assert_eq!(
            p.server.read_plaintext(&mut buf).ok(),
            Some(PlaintextRead::NeedMore)
        );
        stale.put();
        assert_eq!(
            p.client.write_plaintext_to(&mut wire, b"data").ok(),
            Some(4)
        );
    }
    let _ = openssl::error::ErrorStack::get();
    while p.client.wants_write() {
        let _ = p.client.write_tls(&mut wire);
    }
    let mut got = Vec::new();
    while got.len() < 8 {
        match p.server.read_plaintext_from(&mut wire, &mut buf) {
            Ok(PlaintextRead::Data(n)) => got.extend_from_slice(&buf[..n]),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, b"datadata");
}

/// Sends what `engine` has queued into `out`, then reads from `incoming` and processes it,
/// writing through `out`; "not now" from either is fine.
fn step(engine: &mut dyn TlsEngine, out: &mut Choppy, incoming: &mut Choppy) {
    while engine.wants_write() {
        if engine.write_tls(out).is_err() {
            break;
        }
    }
    match engine.read_tls(incoming) {
        Ok(_) => engine.process_to(out).expect("process"),
        Err(e) if e.kind() == incoming.fail => {}
        Err(e) => panic!("read_tls: {e}"),
    }
}

#[test]
fn handshake_writes_through_a_choppy_transport() {
    let mut p = pair(
        &client_config(),
        &server_config(&pki().server),
        Some("localhost"),
    );
    let fail = std::io::ErrorKind::WouldBlock;
    let (mut to_server, mut to_client) = (Choppy::new(7, fail), Choppy::new(7, fail));
    p.client.process().expect("first flight");
    for _ in 0..100_000 {
        if !p.client.is_handshaking() && !p.server.is_handshaking() {
            break;
        }
        step(p.client.as_mut(), &mut to_server, &mut to_client);
        step(p.server.as_mut(), &mut to_client, &mut to_server);
    }
    assert!(!p.client.is_handshaking() && !p.server.is_handshaking());
    let mut wire = Choppy::new(1000, fail);
    let got = send_through(p.client.as_mut(), p.server.as_mut(), &mut wire, b"after");
    assert_eq!(got, b"after");
}

/// A PKCS#12 file of the test server's identity made by OpenSSL, with `key_iter` iterations
/// for its encryptions and `mac_iter` for its MAC.
fn pkcs12_file(key_iter: u32, mac_iter: u32) -> Vec<u8> {
    let identity = &pki().server;
    let cert = openssl::x509::X509::from_der(identity.chain[0].to_der()).expect("cert");
    let key = openssl::pkey::PKey::private_key_from_der(identity.key.to_der()).expect("key");
    openssl::pkcs12::Pkcs12::builder()
        .name("server")
        .pkey(&key)
        .cert(&cert)
        .key_iter(key_iter)
        .mac_iter(mac_iter)
        .build2("secret")
        .expect("PKCS#12")
        .to_der()
        .expect("DER")
}

/// One DER element of `input`: tag, contents, and what follows.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        let (octets, rest) = (rest.get(..n)?, rest.get(n..)?);
        (
            octets.iter().fold(0, |a, b| (a << 8) | usize::from(*b)),
            rest,
        )
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

fn der_encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len().to_be_bytes();
    let skip = len.iter().take_while(|&&b| b == 0).count();
    match contents.len() {
        0..=0x7f => out.push(len[len.len() - 1]),
        _ => {
            out.push(0x80 | u8::try_from(len.len() - skip).expect("short"));
            out.extend_from_slice(&len[skip..]);
        }
    }
    out.extend_from_slice(contents);
    out
}

/// `der` with each INTEGER whose contents are `from` replaced by one with contents `to`,
/// looking into constructed elements and into OCTET STRINGs that hold DER; lengths are
/// re-encoded. `None` when `der` is not a run of DER elements.
fn patch_integers(der: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = der;
    while !rest.is_empty() {
        let (tag, contents, after) = der_element(rest)?;
        let patched = if tag == 0x02 && contents == from {
            der_encode(tag, to)
        } else if tag & 0x20 != 0 || (tag == 0x04 && contents.first() == Some(&0x30)) {
            match patch_integers(contents, from, to) {
                Some(inner) => der_encode(tag, &inner),
                None => rest[..rest.len() - after.len()].to_vec(),
            }
        } else {
            rest[..rest.len() - after.len()].to_vec()
        };
        out.extend(patched);
        rest = after;
    }
    Some(out)
}

#[test]
fn pkcs12_files_within_the_limits_import() {
    let bundle = OpenSslBackend::new()
        .import_pkcs12(&pkcs12_file(2048, 2048), b"secret")
        .expect("import");
    assert_eq!(bundle.certificate, pki().server.chain[0]);
}

#[test]
fn pkcs12_iteration_counts_beyond_the_limits_are_refused_before_openssl() {
    // 2323 (0x0913) for the encryptions and 2324 (0x0914) for the MAC, to patch them apart.
    let file = pkcs12_file(2323, 2324);
    assert!(OpenSslBackend::new()
        .import_pkcs12(&file, b"secret")
        .is_ok());
    // 20,000,000 MAC iterations: about 4 s of OpenSSL's time, for a file whose MAC then fails.
    let mac = patch_integers(&file, &[0x09, 0x14], &[0x01, 0x31, 0x2d, 0x00]).expect("patch");
    match OpenSslBackend::new().import_pkcs12(&mac, b"secret") {
        Err(Error::Certificate(message)) => assert!(
            message.contains("MAC iteration count 20000000") && message.contains("10000000"),
            "{message}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // 2^31 - 1 iterations for the key and the certificate bag.
    let key = patch_integers(&file, &[0x09, 0x13], &[0x7f, 0xff, 0xff, 0xff]).expect("patch");
    match OpenSslBackend::new().import_pkcs12(&key, b"secret") {
        Err(Error::Certificate(message)) => {
            assert!(message.contains("iteration count 2147483647"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A DTLS client and server on the OpenSSL engine, handshaken over two connected loopback
/// sockets (no cookie exchange); each socket waits at most a second for a datagram.
fn dtls_pair() -> (
    (polytls_core::Dtls, std::net::UdpSocket),
    (polytls_core::Dtls, std::net::UdpSocket),
) {
    use polytls_core::Dtls;
    use std::net::UdpSocket;
    let bound = || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .expect("timeout");
        socket
    };
    let (cs, ss) = (bound(), bound());
    let (ca, sa) = (cs.local_addr().unwrap(), ss.local_addr().unwrap());
    cs.connect(sa).unwrap();
    ss.connect(ca).unwrap();
    let backend = Arc::new(OpenSslBackend::new());
    let mut c = Dtls::with_backend_object(SslMode::SslClientMode, backend.clone()).unwrap();
    c.set_dtls_configuration(SslConfiguration {
        ca_certificates: Some(vec![pki().root.clone()]),
        ..SslConfiguration::default_dtls_configuration()
    })
    .unwrap();
    c.set_peer(sa.ip(), sa.port(), Some("localhost")).unwrap();
    let mut s = Dtls::with_backend_object(SslMode::SslServerMode, backend).unwrap();
    s.set_dtls_configuration(SslConfiguration {
        local_certificate_chain: pki().server.chain.clone(),
        private_key: Some(pki().server.key.clone()),
        dtls_cookie_verification_enabled: false,
        ..SslConfiguration::default_dtls_configuration()
    })
    .unwrap();
    s.set_peer(ca.ip(), ca.port(), None).unwrap();
    c.do_handshake(&cs, &[]).expect("client hello");
    let mut buf = vec![0u8; 65536];
    while !(c.is_connection_encrypted() && s.is_connection_encrypted()) {
        let n = ss.recv(&mut buf).expect("a datagram for the server");
        s.do_handshake(&ss, &buf[..n]).expect("server handshake");
        if !c.is_connection_encrypted() {
            let n = cs.recv(&mut buf).expect("a datagram for the client");
            c.do_handshake(&cs, &buf[..n]).expect("client handshake");
        }
    }
    ((c, cs), (s, ss))
}

/// The DTLS data path does not empty the thread's error queue before each record: errors
/// other code left there neither fail a write or a read nor turn a datagram that does not
/// authenticate (dropped, as DTLS drops damaged datagrams) into a failure.
#[test]
fn dtls_errors_left_in_the_queue_by_other_code_do_not_fail_the_association() {
    let ((mut c, cs), (mut s, ss)) = dtls_pair();
    let stale = || {
        openssl::x509::X509::from_der(b"not a certificate")
            .expect_err("junk")
            .put()
    };
    let mut buf = vec![0u8; 65536];
    for round in 0..2 {
        stale();
        c.write_datagram_encrypted(&cs, b"through a dirty queue")
            .expect("write");
        let n = ss.recv(&mut buf).expect("the record");
        stale();
        let damaged = {
            let mut d = buf[..n].to_vec();
            let last = d.len() - 1;
            d[last] ^= 1;
            d
        };
        assert_eq!(
            s.decrypt_datagram(&ss, &damaged)
                .expect("dropped, not failed"),
            b""
        );
        stale();
        assert_eq!(
            s.decrypt_datagram(&ss, &buf[..n]).expect("read"),
            b"through a dirty queue",
            "round {round}"
        );
        assert!(s.is_connection_encrypted() && c.is_connection_encrypted());
    }
    let _ = openssl::error::ErrorStack::get();
}
