//! Peer verification: rustls' verifier hooks ([`ServerVerifier`] on the client,
//! [`ClientVerifier`] on the server) that check the peer's chain with webpki, report every
//! problem as an [`SslError`] to the front end's [`VerificationHook`], and let its decision
//! continue or abort the handshake.
//!
//! webpki proves the chain or rejects it with its first problem; the `chain` module then names
//! every problem of a rejected chain, each link's signature proven, so that an ignore list lets
//! through only what it names. The host name is checked separately, so a wrong name is
//! reported together with chain problems.
//!
//! Handshake signatures (CertificateVerify, ServerKeyExchange) are always checked with the
//! provider's algorithms, whatever the verification mode.
//!
//! The verifiers belong to rustls configurations that are shared by every session with an
//! equal configuration (see `config`), so they hold only what such sessions share: the trust
//! anchors and the signature algorithms. What belongs to one session, the front end's
//! [`VerificationHook`] and the client's host name, is a [`Session`] that the engine installs
//! for the current thread with [`SessionGuard`] while rustls processes handshake records;
//! rustls calls the verifiers synchronously from there. A verifier that finds no session
//! installed refuses the certificate (fail closed).

use std::cell::Cell;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use polytls_core::{Certificate, KeyStrength, PeerName, SslError, SslErrorKind, VerificationHook};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use webpki::{CertRevocationList, EndEntityCert};

use crate::chain::{Anchors, ChainCheck, PeerCert, ProvenCache, Role};

/// What to check the peer's certificate name against (client side).
pub(crate) enum HostCheck {
    /// No name was given: no host check.
    Skip,
    /// A DNS name or IP address.
    Name(ServerName<'static>),
    /// A DNS name rustls does not accept as one: it matches no certificate (fail closed).
    Invalid,
}

impl HostCheck {
    /// The name checked, as errors show it.
    fn expected(&self) -> Option<String> {
        match self {
            HostCheck::Name(ServerName::DnsName(name)) => Some(name.as_ref().to_owned()),
            HostCheck::Name(ServerName::IpAddress(ip)) => {
                Some(std::net::IpAddr::from(*ip).to_string())
            }
            _ => None,
        }
    }

    /// The name to hand to rustls (used for SNI when it is a DNS name) and the check to make,
    /// for `peer_name`. Without a usable name, rustls gets the placeholder IP address 0.0.0.0:
    /// rustls never sends an IP address as SNI, and this verifier ignores the name rustls
    /// passes, so the placeholder has no effect on the wire or on verification.
    pub(crate) fn for_peer_name(peer_name: Option<&PeerName>) -> (ServerName<'static>, HostCheck) {
        let placeholder = ServerName::IpAddress(Ipv4Addr::UNSPECIFIED.into());
        let server_name = match peer_name {
            None => return (placeholder, HostCheck::Skip),
            Some(PeerName::Ip(ip)) => ServerName::IpAddress((*ip).into()),
            Some(PeerName::Dns(name)) => match DnsName::try_from(name.clone()) {
                Ok(dns) => ServerName::DnsName(dns),
                Err(_) => return (placeholder, HostCheck::Invalid),
            },
        };
        (server_name.clone(), HostCheck::Name(server_name))
    }
}

/// What one session's verification needs beyond its (shared) configuration.
pub(crate) struct Session {
    /// The front end's decision.
    pub(crate) hook: Arc<dyn VerificationHook>,
    /// The client's host check (`Skip` on a server).
    pub(crate) host: HostCheck,
    /// Server: a client without a certificate is refused inside the handshake (see
    /// [`EngineParams::require_peer_certificate`](polytls_core::EngineParams)).
    pub(crate) require_certificate: bool,
    /// The peer's certificates as the verification converted them for the hook (those with a
    /// certificate's outer structure, in order), so that the engine's session report does not
    /// convert them again.
    pub(crate) converted: Mutex<Vec<Certificate>>,
}

impl Session {
    /// A session reporting to `hook`, checking `host`.
    pub(crate) fn new(hook: Arc<dyn VerificationHook>, host: HostCheck) -> Session {
        Session {
            hook,
            host,
            require_certificate: false,
            converted: Mutex::new(Vec::new()),
        }
    }

    /// The certificates of `ders`, in order, as [`Certificate::from_peer_der`] gives them;
    /// taken from the verification when it converted exactly these.
    pub(crate) fn certificates(&self, ders: &[CertificateDer<'_>]) -> Vec<Certificate> {
        let converted = self
            .converted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        certificates(&converted, ders)
    }
}

/// The certificates of `ders`, in order, as [`Certificate::from_peer_der`] gives them: a copy
/// of `converted` when it holds exactly these.
pub(crate) fn certificates(
    converted: &[Certificate],
    ders: &[CertificateDer<'_>],
) -> Vec<Certificate> {
    let same = converted.len() == ders.len()
        && converted
            .iter()
            .zip(ders)
            .all(|(cert, der)| cert.to_der() == der.as_ref());
    if same {
        return converted.to_vec();
    }
    ders.iter()
        .filter_map(|der| Certificate::from_peer_der(der).ok())
        .collect()
}

thread_local! {
    /// The session whose records rustls is processing on this thread, if any.
    static CURRENT: Cell<Option<Arc<Session>>> = const { Cell::new(None) };
}

/// Installs a session as the current thread's for as long as it lives; dropping it (also
/// during unwinding) restores the session that was installed before, so nested engines (a hook
/// that drives another session) are handled.
pub(crate) struct SessionGuard {
    previous: Option<Arc<Session>>,
}

impl SessionGuard {
    /// Makes `session` the current thread's session until the guard is dropped.
    pub(crate) fn install(session: &Arc<Session>) -> SessionGuard {
        let previous = CURRENT
            .try_with(|current| current.replace(Some(Arc::clone(session))))
            .ok()
            .flatten();
        SessionGuard { previous }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // Fails only while the thread's locals are being destroyed; nothing to restore then.
        let _ = CURRENT.try_with(|current| current.set(previous));
    }
}

/// The session installed on this thread, if any.
fn current_session() -> Option<Arc<Session>> {
    CURRENT
        .try_with(|current| {
            let session = current.take();
            let copy = session.clone();
            current.set(session);
            copy
        })
        .ok()
        .flatten()
}

/// The error for a verifier called outside an engine's processing: no hook to ask, so the
/// certificate is refused.
fn no_session() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
}

/// The state shared by both verifiers when the mode is `VerifyPeer`.
pub(crate) struct Checker {
    /// The trust anchors: the configured CA certificates, or the system's.
    pub(crate) anchors: Arc<Anchors>,
    /// The most CA certificates allowed between the leaf and its anchor; `None` for no limit.
    pub(crate) depth: Option<u32>,
    /// How strong every key of the chain, the anchor's included, must be.
    pub(crate) key_strength: KeyStrength,
    /// Revocation lists to check the leaf against (none in handshakes).
    pub(crate) crls: Vec<CertRevocationList<'static>>,
    /// Whether the strict RFC 5280 profile applies.
    pub(crate) strict: bool,
    /// What the paths proven recently were found to have (see `chain`).
    pub(crate) cache: ProvenCache,
}

impl Checker {
    /// Checks the peer's chain (and, on the client, its name), reports the problems to the hook
    /// exactly once, and returns its decision: `Ok` to continue, or the rustls error whose alert
    /// matches the first problem.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        session: &Session,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        role: Role,
        host: &HostCheck,
        algorithms: &WebPkiSupportedAlgorithms,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let (chain, errors) = self.problems(end_entity, intermediates, role, host, algorithms, now);
        let first = errors.first().map(SslError::kind);
        *session
            .converted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = chain.clone();
        if session.hook.decide(&chain, errors) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(certificate_error(first)))
        }
    }

    /// Checks a chain (and a name, unless `host` is `Skip`) and returns the certificates as
    /// polytls reads them with every problem found, each once, in the order found.
    pub(crate) fn problems(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        role: Role,
        host: &HostCheck,
        algorithms: &WebPkiSupportedAlgorithms,
        now: UnixTime,
    ) -> (Vec<Certificate>, Vec<SslError>) {
        // Never empty: it starts with the leaf.
        let peer: Vec<PeerCert<'_>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(PeerCert::new)
            .collect();
        let mut errors = Vec::new();
        match EndEntityCert::try_from(end_entity) {
            Ok(leaf) => {
                let crls: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
                let chain = ChainCheck {
                    peer: &peer,
                    leaf: &leaf,
                    intermediates,
                    anchors: &self.anchors,
                    depth: self.depth,
                    algorithms,
                    role,
                    now,
                    key_strength: self.key_strength,
                    crls: &crls,
                    strict: self.strict,
                    cache: &self.cache,
                };
                chain.errors(&mut errors);
                if !matches!(host, HostCheck::Skip) {
                    let matches = match host {
                        HostCheck::Name(name) => {
                            leaf.verify_is_valid_for_subject_name(name).is_ok()
                        }
                        _ => false,
                    };
                    if !matches {
                        let error = peer[0].error(SslErrorKind::HostNameMismatch);
                        errors.push(match host.expected() {
                            Some(name) => error.with_expected_name(name),
                            None => error,
                        });
                    }
                }
            }
            Err(_) => errors.push(peer[0].error(SslErrorKind::UnspecifiedError)),
        }
        let mut unique: Vec<SslError> = Vec::with_capacity(errors.len());
        for error in errors {
            if !unique.contains(&error) {
                unique.push(error);
            }
        }
        let chain: Vec<Certificate> = peer.iter().filter_map(|p| p.certificate.clone()).collect();
        (chain, unique)
    }
}

/// The rustls certificate error (and so the alert sent) for the first problem found.
fn certificate_error(kind: Option<SslErrorKind>) -> CertificateError {
    use SslErrorKind as K;
    match kind {
        Some(K::CertificateExpired) => CertificateError::Expired,
        Some(K::CertificateNotYetValid) => CertificateError::NotValidYet,
        Some(
            K::SelfSignedCertificate
            | K::SelfSignedCertificateInChain
            | K::UnableToGetLocalIssuerCertificate,
        ) => CertificateError::UnknownIssuer,
        Some(K::HostNameMismatch) => CertificateError::NotValidForName,
        Some(K::CertificateSignatureFailed) => CertificateError::BadSignature,
        Some(K::CertificateRevoked) => CertificateError::Revoked,
        Some(K::InvalidPurpose) => CertificateError::InvalidPurpose,
        _ => CertificateError::ApplicationVerificationFailure,
    }
}

/// Checks a handshake signature made with the peer's key, for TLS 1.2 (`tls13` false) or 1.3.
fn check_signature(
    algorithms: &WebPkiSupportedAlgorithms,
    tls13: bool,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    if tls13 {
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    } else {
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }
}

/// The client's verifier of the server certificate.
///
/// With a [`Checker`] (mode `VerifyPeer`) it verifies the chain for server authentication and
/// the current session's host name, and asks the session's hook. Without one (`VerifyNone`,
/// `QueryPeer`) it accepts any certificate and never calls the hook. Either way it refuses the
/// certificate when no session is installed.
pub(crate) struct ServerVerifier {
    checker: Option<Checker>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    /// A verifier that uses `checker` (or accepts anything without one) and checks handshake
    /// signatures with `algorithms`.
    pub(crate) fn new(
        checker: Option<Checker>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> ServerVerifier {
        ServerVerifier {
            checker,
            algorithms,
        }
    }
}

impl fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("verify", &self.checker.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let session = current_session().ok_or_else(no_session)?;
        if let Some(checker) = &self.checker {
            checker.check(
                &session,
                end_entity,
                intermediates,
                Role::Server,
                &session.host,
                &self.algorithms,
                now,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check_signature(&self.algorithms, false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check_signature(&self.algorithms, true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server's verifier of client certificates.
///
/// It asks for a certificate unless the mode is `VerifyNone`, and requires one only when the
/// current session says so (otherwise the front end reports a missing certificate). With a [`Checker`] (mode `VerifyPeer`) it verifies a
/// certificate the client sends for client authentication and asks the current session's hook;
/// without one (`QueryPeer`) it accepts any certificate. Either way it refuses the certificate
/// when no session is installed.
pub(crate) struct ClientVerifier {
    offer: bool,
    checker: Option<Checker>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientVerifier {
    /// A verifier that asks for a certificate when `offer` is set, uses `checker` (or accepts
    /// anything without one), and checks handshake signatures with `algorithms`.
    pub(crate) fn new(
        offer: bool,
        checker: Option<Checker>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> ClientVerifier {
        ClientVerifier {
            offer,
            checker,
            algorithms,
        }
    }
}

impl fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientVerifier")
            .field("offer", &self.offer)
            .field("verify", &self.checker.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.offer
    }

    /// What the session being processed asks for; without one, mandatory (fail closed).
    fn client_auth_mandatory(&self) -> bool {
        current_session().map_or(true, |session| session.require_certificate)
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let session = current_session().ok_or_else(no_session)?;
        if let Some(checker) = &self.checker {
            checker.check(
                &session,
                end_entity,
                intermediates,
                Role::Client,
                &HostCheck::Skip,
                &self.algorithms,
                now,
            )?;
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check_signature(&self.algorithms, false, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check_signature(&self.algorithms, true, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Always(bool);

    impl VerificationHook for Always {
        fn decide(&self, _: &[Certificate], _: Vec<SslError>) -> bool {
            self.0
        }
    }

    fn session(accept: bool) -> Arc<Session> {
        Arc::new(Session::new(Arc::new(Always(accept)), HostCheck::Skip))
    }

    #[test]
    fn guards_nest_and_restore_on_unwind() {
        assert!(current_session().is_none());
        let a = session(true);
        let b = session(false);
        {
            let _a = SessionGuard::install(&a);
            assert!(Arc::ptr_eq(&current_session().unwrap(), &a));
            {
                let _b = SessionGuard::install(&b);
                assert!(Arc::ptr_eq(&current_session().unwrap(), &b));
            }
            assert!(Arc::ptr_eq(&current_session().unwrap(), &a));
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _b = SessionGuard::install(&b);
                panic!("unwind");
            }));
            assert!(unwound.is_err());
            assert!(Arc::ptr_eq(&current_session().unwrap(), &a));
        }
        assert!(current_session().is_none());
    }

    #[test]
    fn verifiers_refuse_without_a_session() {
        let algorithms =
            rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        let name = ServerName::try_from("localhost").unwrap();
        let now = UnixTime::now();
        for checker in [
            None,
            Some(Checker {
                anchors: Arc::default(),
                depth: None,
                key_strength: KeyStrength::Standard,
                crls: Vec::new(),
                strict: true,
                cache: ProvenCache::default(),
            }),
        ] {
            let verify = checker.is_some();
            let server = ServerVerifier::new(checker, algorithms);
            assert!(matches!(
                server.verify_server_cert(&cert, &[], &name, &[], now),
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure
                ))
            ));
            let checker = verify.then(|| Checker {
                anchors: Arc::default(),
                depth: None,
                key_strength: KeyStrength::Standard,
                crls: Vec::new(),
                strict: true,
                cache: ProvenCache::default(),
            });
            let client = ClientVerifier::new(true, checker, algorithms);
            assert!(client.verify_client_cert(&cert, &[], now).is_err());
        }
        // With a session installed and no check, anything is accepted.
        let accepting = session(false);
        let _guard = SessionGuard::install(&accepting);
        let server = ServerVerifier::new(None, algorithms);
        assert!(server
            .verify_server_cert(&cert, &[], &name, &[], now)
            .is_ok());
    }
}
