//! The driver's rules that need no real engine: the judgement a verifying session cannot
//! skip, and a fresh connection's state.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use super::DEFAULT_PENDING_LIMIT;
use crate::{
    Certificate, EngineParams, Error, ImplementedClass, Key, PeerVerifyMode, PlaintextRead,
    ReadTimeout, SessionInfo, SslCipher, SslConfiguration, SslError, SslErrorKind, SslMode,
    SslProtocol, SslSocket, SupportedFeature, TlsBackend, TlsEngine, VerificationHook,
};

/// A backend that only has a name (sockets here never start a handshake).
struct Stub;

impl TlsBackend for Stub {
    fn name(&self) -> &str {
        "stub"
    }
    fn library_version_number(&self) -> u64 {
        0
    }
    fn library_version_string(&self) -> String {
        String::new()
    }
    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        Vec::new()
    }
    fn supported_features(&self) -> Vec<SupportedFeature> {
        Vec::new()
    }
    fn supported_protocols(&self) -> Vec<SslProtocol> {
        Vec::new()
    }
    fn supported_ciphers(&self) -> Vec<SslCipher> {
        Vec::new()
    }
    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        Ok(Vec::new())
    }
}

/// A backend whose engines complete every handshake without asking the hook, after `reads`
/// reads of one byte each from the transport, and report `peer_chain` as the peer's
/// certificates: what a resumed session, a suite without certificates or a buggy backend
/// looks like to the front end.
struct Careless {
    peer_chain: Vec<Certificate>,
    reads: usize,
    /// Judge the peer after all, with one self-signed error, and keep the hook afterwards
    /// (`Some(true)`) or let it go (`Some(false)`), as OpenSSL and rustls do.
    judges: Option<bool>,
}

struct CarelessEngine {
    peer_chain: Vec<Certificate>,
    closed: bool,
    /// Reads still needed before the handshake is over.
    reads_left: usize,
    /// The front end's hook, while the engine holds it, and whether it keeps it.
    hook: Option<Arc<dyn VerificationHook>>,
    keeps_hook: bool,
}

impl TlsBackend for Careless {
    fn name(&self) -> &str {
        "careless"
    }
    fn library_version_number(&self) -> u64 {
        0
    }
    fn library_version_string(&self) -> String {
        String::new()
    }
    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        vec![ImplementedClass::Socket]
    }
    fn supported_features(&self) -> Vec<SupportedFeature> {
        Vec::new()
    }
    fn supported_protocols(&self) -> Vec<SslProtocol> {
        vec![SslProtocol::SecureProtocols]
    }
    fn supported_ciphers(&self) -> Vec<SslCipher> {
        Vec::new()
    }
    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        Ok(Vec::new())
    }
    fn new_tls_engine(&self, params: EngineParams<'_>) -> Result<Box<dyn TlsEngine>, Error> {
        Ok(Box::new(CarelessEngine {
            peer_chain: self.peer_chain.clone(),
            closed: false,
            reads_left: self.reads,
            hook: self.judges.map(|_| params.verifier),
            keeps_hook: self.judges == Some(true),
        }))
    }
}

impl TlsEngine for CarelessEngine {
    fn read_tls(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        let n = rd.read(&mut [0u8; 1])?;
        self.reads_left = self.reads_left.saturating_sub(n);
        Ok(n)
    }
    fn process(&mut self) -> Result<(), Error> {
        if self.reads_left > 0 {
            return Ok(());
        }
        let Some(hook) = self.hook.take() else {
            return Ok(());
        };
        let errors = vec![SslError::new(SslErrorKind::SelfSignedCertificate)];
        let accepted = hook.decide(&self.peer_chain, errors.clone());
        if self.keeps_hook {
            self.hook = Some(hook);
            self.keeps_hook = false;
        }
        match accepted {
            true => Ok(()),
            false => Err(Error::Verification(errors)),
        }
    }
    fn wants_write(&self) -> bool {
        false
    }
    fn write_tls(&mut self, _: &mut dyn io::Write) -> io::Result<usize> {
        Ok(0)
    }
    fn is_handshaking(&self) -> bool {
        self.reads_left > 0
    }
    fn read_plaintext(&mut self, _: &mut [u8]) -> Result<PlaintextRead, Error> {
        Ok(PlaintextRead::NeedMore)
    }
    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
        Ok(buf.len())
    }
    fn send_close_notify(&mut self) {
        self.closed = true;
    }
    fn session(&self) -> SessionInfo {
        SessionInfo {
            peer_chain: self.peer_chain.clone(),
            ..SessionInfo::new()
        }
    }
}

fn careless(peer_chain: Vec<Certificate>, mode: PeerVerifyMode) -> SslSocket<io::Cursor<Vec<u8>>> {
    judging(peer_chain, mode, None)
}

/// A socket on a [`Careless`] backend whose engine judges as `judges` says.
fn judging(
    peer_chain: Vec<Certificate>,
    mode: PeerVerifyMode,
    judges: Option<bool>,
) -> SslSocket<io::Cursor<Vec<u8>>> {
    let backend = Arc::new(Careless {
        peer_chain,
        reads: 0,
        judges,
    });
    let mut socket = SslSocket::with_backend_object(io::Cursor::new(Vec::new()), backend);
    socket.set_peer_verify_mode(mode);
    socket.set_peer_verify_name("localhost");
    socket
}

/// A certificate for the careless engine to report (its contents do not matter here).
fn some_certificate() -> Certificate {
    let pem = include_str!("../../../conformance/corpus/duplicate-attributes.pem");
    Certificate::from_pem(pem.as_bytes()).expect("the corpus certificate parses")
}

#[test]
fn a_verifying_session_that_was_never_judged_is_refused() {
    let mut client = careless(vec![some_certificate()], PeerVerifyMode::VerifyPeer);
    client.start_client_encryption().unwrap();
    match client.handshake() {
        Err(Error::Handshake { message, .. }) => {
            assert!(message.contains("without verifying the peer"), "{message}")
        }
        other => panic!("accepted unjudged: {other:?}"),
    }
    assert!(!client.is_encrypted());
    assert!(client.write(b"secret").is_err());
    // What the refused peer sent stays readable.
    assert_eq!(client.peer_certificate_chain(), [some_certificate()]);

    // A server that verifies and got a certificate nobody judged: refused too.
    let mut server = careless(vec![some_certificate()], PeerVerifyMode::VerifyPeer);
    let mut ed25519 = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b];
    ed25519.extend([0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
    ed25519.extend([7u8; 32]);
    server.set_local_certificate_chain(vec![some_certificate()]);
    server.set_private_key(Key::from_der(&ed25519, crate::KeyType::PrivateKey).unwrap());
    server.start_server_encryption().unwrap();
    assert!(matches!(server.handshake(), Err(Error::Handshake { .. })));
    assert!(!server.is_encrypted());
}

/// Once the handshake ended and the engine let its hook go, the session keeps only what the
/// handshake found: the errors are still reported, and a setter called afterwards changes
/// nothing about them. An engine that keeps its hook keeps the shared state.
#[test]
fn a_settled_decision_keeps_what_the_handshake_found() {
    let found = [SslError::new(SslErrorKind::SelfSignedCertificate)];
    for keeps_hook in [false, true] {
        let mut client = judging(
            vec![some_certificate()],
            PeerVerifyMode::VerifyPeer,
            Some(keeps_hook),
        );
        client.ignore_ssl_errors_list(&found);
        client.start_client_encryption().unwrap();
        client.handshake().unwrap();
        assert!(client.is_encrypted());
        assert_eq!(client.verification.is_settled(), !keeps_hook);
        assert_eq!(client.ssl_handshake_errors(), found);
        assert_eq!(client.peer_certificate_chain(), [some_certificate()]);
        client.ignore_ssl_errors();
        client.on_ssl_errors(|_| {});
        assert_eq!(client.ssl_handshake_errors(), found);
    }
}

#[test]
fn sessions_that_do_not_verify_need_no_judgement() {
    for mode in [PeerVerifyMode::VerifyNone, PeerVerifyMode::QueryPeer] {
        let mut client = careless(vec![some_certificate()], mode);
        client.start_client_encryption().unwrap();
        client.handshake().unwrap();
        assert!(client.is_encrypted());
    }
}

/// A transport that gives one byte per read, each after `delay`, and records the read
/// timeouts it is given.
struct Timed {
    delay: Duration,
    timeout: Option<Duration>,
    set: Vec<Option<Duration>>,
}

impl io::Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::thread::sleep(self.delay);
        match buf.first_mut() {
            Some(byte) => {
                *byte = 0x16;
                Ok(1)
            }
            None => Ok(0),
        }
    }
}

impl io::Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ReadTimeout for Timed {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeout = timeout;
        self.set.push(timeout);
        Ok(())
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeout)
    }
}

/// The read timeouts a client handshake of `reads` reads, each taking `delay`, sets under
/// `wait_for_encrypted(limit)`, on a transport whose read timeout was 7 s.
fn read_timeouts_set(reads: usize, delay: Duration, limit: Duration) -> Vec<Option<Duration>> {
    let backend = Arc::new(Careless {
        peer_chain: Vec::new(),
        reads,
        judges: None,
    });
    let transport = Timed {
        delay,
        timeout: Some(Duration::from_secs(7)),
        set: Vec::new(),
    };
    let mut client = SslSocket::with_backend_object(transport, backend);
    client.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
    client.start_client_encryption().unwrap();
    client.wait_for_encrypted(Some(limit)).unwrap();
    assert!(client.is_encrypted());
    client.into_inner().set
}

#[test]
fn a_prompt_handshake_sets_its_read_timeout_once() {
    let limit = Duration::from_secs(5);
    let set = read_timeouts_set(4, Duration::ZERO, limit);
    // The time left before the first read, then the transport's own limit back.
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set[0].is_some_and(|first| first <= limit && first > limit / 2));
    assert_eq!(set[1], Some(Duration::from_secs(7)));
}

#[test]
fn a_slow_handshake_keeps_its_reads_within_the_deadline() {
    // A limit of 500 ms allows 10 ms of slack; reads 30 ms apart each need a new timeout.
    let limit = Duration::from_millis(500);
    let set = read_timeouts_set(3, Duration::from_millis(30), limit);
    assert_eq!(set.len(), 4, "{set:?}");
    let given: Vec<Duration> = set[..3].iter().map(|t| t.unwrap()).collect();
    assert!(given[0] <= limit);
    for pair in given.windows(2) {
        assert!(pair[1] + Duration::from_millis(20) <= pair[0], "{given:?}");
    }
    assert_eq!(set[3], Some(Duration::from_secs(7)));
}

fn socket() -> SslSocket<io::Cursor<Vec<u8>>> {
    SslSocket::with_backend_object(io::Cursor::new(Vec::new()), Arc::new(Stub))
}

/// tst_QSslSocket::constructing: a fresh socket is unencrypted, has no session, no peer
/// and no local chain, and holds the default configuration.
#[test]
fn a_fresh_socket() {
    let socket = socket();
    assert_eq!(socket.mode(), SslMode::UnencryptedMode);
    assert!(!socket.is_encrypted());
    assert_eq!(socket.session_protocol(), SslProtocol::UnknownProtocol);
    assert_eq!(socket.session_cipher(), None);
    assert!(socket.peer_certificate().is_none());
    assert!(socket.peer_certificate_chain().is_empty());
    assert!(socket.local_certificate_chain().is_empty());
    assert!(socket.local_certificate().is_none());
    assert!(socket.private_key().is_none());
    assert!(socket.ssl_handshake_errors().is_empty());
    assert_eq!(socket.negotiated_application_protocol(), None);
    assert_eq!(socket.peer_verify_name(), None);
    assert_eq!(socket.pending_write_limit(), DEFAULT_PENDING_LIMIT);
    assert_eq!(
        *socket.ssl_configuration(),
        SslConfiguration::default_configuration()
    );
}

#[test]
fn shared_configurations_are_copied_on_change() {
    let shared = Arc::new(SslConfiguration {
        peer_verify_depth: 0,
        allowed_next_protocols: vec![b"h2".to_vec()],
        ..SslConfiguration::default()
    });
    let (mut a, mut b) = (socket(), socket());
    a.set_ssl_configuration(Arc::clone(&shared));
    b.set_ssl_configuration(Arc::clone(&shared));
    assert!(Arc::ptr_eq(&a.shared_ssl_configuration(), &shared));

    a.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
    assert_eq!(a.peer_verify_mode(), PeerVerifyMode::VerifyNone);
    assert_eq!(b.peer_verify_mode(), PeerVerifyMode::AutoVerifyPeer);
    assert_eq!(shared.peer_verify_mode, PeerVerifyMode::AutoVerifyPeer);
    assert!(Arc::ptr_eq(&b.shared_ssl_configuration(), &shared));
    assert_eq!(
        a.ssl_configuration().allowed_next_protocols,
        [b"h2".to_vec()]
    );

    // A plain configuration still works, and the default is Qt's.
    assert_eq!(
        *socket().ssl_configuration(),
        SslConfiguration::default_configuration()
    );
    b.set_ssl_configuration(SslConfiguration::default());
    assert_eq!(*b.ssl_configuration(), SslConfiguration::default());
}
