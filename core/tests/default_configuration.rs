//! The process-wide default configuration (Qt's `QSslConfiguration::setDefaultConfiguration`
//! and the default CA certificates of tst_QSslSocket): a test binary of its own, since it
//! changes state every socket of the process reads, and one test in it, so that nothing runs
//! beside it.

use std::io::Cursor;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use polytls_core::{
    Certificate, ChainVerification, Error, ImplementedClass, Registry, SslCipher, SslConfiguration,
    SslError, SslProtocol, SslServer, SslSocket, SupportedFeature, TlsBackend,
};

/// A backend that does nothing: sockets and servers take their configuration without one.
/// Its chain verification only records the trust anchors it was asked to use.
struct Stub;

/// The trust anchors of each `verify_chain` call the stub answered (`None`: the system's).
static ANCHORS_ASKED: Mutex<Vec<Option<Vec<Certificate>>>> = Mutex::new(Vec::new());

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
        vec![SupportedFeature::CertificateVerification]
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
    fn verify_chain(&self, request: &ChainVerification<'_>) -> Result<Vec<SslError>, Error> {
        let anchors = request.ca_certificates.map(<[Certificate]>::to_vec);
        ANCHORS_ASKED.lock().unwrap().push(anchors);
        Ok(Vec::new())
    }
}

/// The trust anchors `Certificate::verify` hands the backend for `chain` now.
fn anchors_verify_uses(chain: &[Certificate]) -> Option<Vec<Certificate>> {
    assert_eq!(
        Certificate::verify_with(chain, None, Some("stub")).unwrap(),
        []
    );
    ANCHORS_ASKED.lock().unwrap().pop().unwrap()
}

fn socket() -> SslSocket<Cursor<Vec<u8>>> {
    SslSocket::with_backend_object(Cursor::new(Vec::new()), Arc::new(Stub))
}

fn server() -> SslServer {
    SslServer::from_listener(TcpListener::bind("127.0.0.1:0").unwrap(), Arc::new(Stub)).unwrap()
}

fn ca(name: &str) -> Certificate {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    Certificate::from_der(params.self_signed(&key).unwrap().der()).unwrap()
}

/// tst_QSslSocket::addDefaultCaCertificate, defaultCaCertificates, setDefaultCaCertificates,
/// defaultCiphers, setDefaultCiphers, setEmptyDefaultConfiguration and
/// verifyAndDefaultConfiguration (and the default
/// tst_QSslCertificate::verify extends): the default trusts the system's CAs (`None`) and
/// names no suites until replaced; a CA or suites set in it reach the sockets and servers
/// created afterwards, not those that exist already; the default handed out is a copy; the
/// DTLS default is another one; an empty list trusts nothing.
#[test]
fn a_ca_added_to_the_default_reaches_new_sockets_only() {
    Registry::global().register(Arc::new(Stub)).unwrap();
    let initial = SslConfiguration::default_configuration();
    assert_eq!(initial, SslConfiguration::default());
    assert_eq!(initial.ca_certificates, None);

    let (before, server_before) = (socket(), server());
    let first = ca("first default CA");
    let mut with_ca = SslConfiguration::default_configuration();
    with_ca
        .ca_certificates
        .get_or_insert_with(Vec::new)
        .push(first.clone());
    SslConfiguration::set_default_configuration(with_ca.clone());

    assert_eq!(SslConfiguration::default_configuration(), with_ca);

    // tst_QSslSocket::verifyAndDefaultConfiguration: `Certificate::verify` trusts the
    // default configuration's CAs (the system's while it names none) and leaves the default
    // as it was.
    let leaf = ca("a chain to verify");
    SslConfiguration::set_default_configuration(initial.clone());
    assert_eq!(anchors_verify_uses(std::slice::from_ref(&leaf)), None);
    assert_eq!(SslConfiguration::default_configuration(), initial);
    SslConfiguration::set_default_configuration(with_ca.clone());
    assert_eq!(
        anchors_verify_uses(std::slice::from_ref(&leaf)),
        Some(vec![first.clone()])
    );
    assert_eq!(SslConfiguration::default_configuration(), with_ca);

    let (after, server_after) = (socket(), server());
    assert_eq!(*after.ssl_configuration(), with_ca);
    assert_eq!(*server_after.ssl_configuration(), with_ca);
    assert_eq!(before.ssl_configuration().ca_certificates, None);
    assert_eq!(server_before.ssl_configuration().ca_certificates, None);
    // The DTLS default is not the TLS one.
    assert_eq!(
        SslConfiguration::default_dtls_configuration().ca_certificates,
        None
    );

    // What default_configuration() hands out is a copy: changing it changes nothing.
    let mut copy = SslConfiguration::default_configuration();
    copy.ca_certificates = Some(Vec::new());
    assert_eq!(SslConfiguration::default_configuration(), with_ca);

    // Adding a second CA: sockets made in between keep the list they started with.
    let second = ca("second default CA");
    let mut with_two = SslConfiguration::default_configuration();
    with_two
        .ca_certificates
        .get_or_insert_with(Vec::new)
        .push(second.clone());
    SslConfiguration::set_default_configuration(with_two);
    assert_eq!(
        socket().ssl_configuration().ca_certificates,
        Some(vec![first.clone(), second])
    );
    assert_eq!(after.ssl_configuration().ca_certificates, Some(vec![first]));

    // An empty list: new sockets trust no CA at all (not the system's).
    SslConfiguration::set_default_configuration(SslConfiguration {
        ca_certificates: Some(Vec::new()),
        ..SslConfiguration::default()
    });
    assert_eq!(
        socket().ssl_configuration().ca_certificates,
        Some(Vec::new())
    );

    // tst_QSslSocket::defaultCiphers and setDefaultCiphers: the default names no suites (the
    // backend's own list); suites set in the default reach the sockets and servers created
    // afterwards, in their order, and not those that exist already.
    assert_eq!(initial.ciphers, None);
    let suites: Vec<SslCipher> = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]
        .into_iter()
        .map(|name| SslCipher::from_name(name).unwrap())
        .collect();
    let before = socket();
    SslConfiguration::set_default_configuration(SslConfiguration {
        ciphers: Some(suites.clone()),
        ..SslConfiguration::default()
    });
    assert_eq!(socket().ssl_configuration().ciphers, Some(suites.clone()));
    assert_eq!(server().ssl_configuration().ciphers, Some(suites));
    assert_eq!(before.ssl_configuration().ciphers, None);

    // setEmptyDefaultConfiguration: Qt's empty configuration (no suites, no CA certificates)
    // as the default reaches new sockets whole; the conformance case
    // qt/empty_configuration_never_encrypts shows that no handshake succeeds under it.
    let empty = SslConfiguration {
        ciphers: Some(Vec::new()),
        ca_certificates: Some(Vec::new()),
        ..SslConfiguration::default()
    };
    SslConfiguration::set_default_configuration(empty.clone());
    assert_eq!(*socket().ssl_configuration(), empty);

    SslConfiguration::set_default_configuration(initial.clone());
    assert_eq!(*socket().ssl_configuration(), initial);
}
