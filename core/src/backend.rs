//! The contract between polytls and a TLS engine: [`TlsBackend`] (one per library) and
//! [`TlsEngine`] (one per session).
//!
//! polytls' front ends own I/O, state, buffering, timeouts and the verification decision; a
//! backend owns only cryptography and the protocol. Its engine is sans-IO: it is handed a
//! reader or writer for each call and never blocks by itself (only as the reader or writer it
//! was handed does), so the same engine serves the blocking socket, an async adapter and
//! in-memory tests.
//!
//! Writing a backend means implementing these two traits and registering the backend with
//! [`register_backend!`](crate::register_backend); the conformance suite then proves its claims.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::certificate::{CertificateInfo, Pkcs12};
pub use crate::dtls::engine::{DtlsEngine, DtlsEngineParams, DtlsRead};
use crate::{
    Certificate, Crl, EncodingFormat, Error, ImplementedClass, Key, KeyStrength, KeyType, KeyUsage,
    PeerName, PeerVerifyMode, PreSharedKeyAuthenticator, Purpose, SslCipher, SslConfiguration,
    SslError, SslMode, SslProtocol, SupportedFeature,
};

/// A TLS library as polytls sees it: what it can do, and factories for its objects.
///
/// Every factory a backend does not implement returns [`Error::Unsupported`]; the defaults do.
pub trait TlsBackend: Send + Sync + 'static {
    /// The backend's registry name, lowercase (`"openssl"`, `"rustls"`).
    fn name(&self) -> &str;

    /// Whether the library can be used in this process (for example, it loaded).
    fn is_available(&self) -> bool {
        true
    }

    /// The version of the library running now, as a number (OpenSSL's `0xMNN00PP0` style, or
    /// `major << 24 | minor << 16 | patch << 8`), or 0 when unknown.
    fn library_version_number(&self) -> u64;

    /// The version of the library running now, as text.
    fn library_version_string(&self) -> String;

    /// The version of the library the backend was built against, as a number.
    fn build_version_number(&self) -> u64 {
        self.library_version_number()
    }

    /// The version of the library the backend was built against, as text.
    fn build_version_string(&self) -> String {
        self.library_version_string()
    }

    /// The classes this backend implements; each is proved by the conformance suite.
    fn implemented_classes(&self) -> Vec<ImplementedClass>;

    /// The optional features this backend supports; each is proved by the conformance suite.
    fn supported_features(&self) -> Vec<SupportedFeature>;

    /// The protocol selectors this backend accepts in a configuration.
    fn supported_protocols(&self) -> Vec<SslProtocol>;

    /// The cipher suites this backend can negotiate.
    fn supported_ciphers(&self) -> Vec<SslCipher>;

    /// The trust anchors of the system, as this backend finds them.
    ///
    /// Fails with [`Error::Io`] when the store cannot be read.
    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error>;

    /// Verifies a certificate chain outside a handshake with the request's purpose, time,
    /// depth, key usages, revocation lists and key strength (by default as a TLS client
    /// verifies a server's chain): every problem is reported, each naming the certificate it
    /// concerns, in the kinds the handshake would report them, and in the same list on every
    /// backend. An empty list means the chain is trusted (and matches the host name, when one
    /// is given). Backends that claim [`SupportedFeature::CertificateVerification`] implement
    /// it, and append [`ChainVerification::policy_problems`].
    ///
    /// Fails with [`Error::InvalidInput`] for an empty chain, [`Error::Certificate`] when the
    /// library cannot read a certificate or a CRL, and [`Error::Unsupported`] (the default)
    /// when the backend cannot verify chains.
    fn verify_chain(&self, request: &ChainVerification<'_>) -> Result<Vec<SslError>, Error> {
        let _ = request;
        Err(Error::unsupported(
            self.name(),
            "certificate chain verification",
        ))
    }

    /// The Certificate class: reads a DER certificate with the library's own parser.
    ///
    /// Fails with [`Error::Certificate`] when the library rejects the input, and with
    /// [`Error::Unsupported`] (the default) when the backend has no certificate parser.
    fn certificate_info(&self, der: &[u8]) -> Result<CertificateInfo, Error> {
        let _ = der;
        Err(Error::unsupported(self.name(), "the Certificate class"))
    }

    /// The Certificate class: reads a PKCS#12 file protected by `passphrase`.
    ///
    /// Fails with [`Error::WrongPassphrase`] when the passphrase does not open it,
    /// [`Error::Certificate`] when the data is not a PKCS#12 file with a key and a
    /// certificate, and [`Error::Unsupported`] (the default) when the backend cannot read it.
    fn import_pkcs12(&self, data: &[u8], passphrase: &[u8]) -> Result<Pkcs12, Error> {
        let _ = (data, passphrase);
        Err(Error::unsupported(self.name(), "PKCS#12 import"))
    }

    /// The Key class: reads a key with the library's own parser, decrypting it with
    /// `passphrase` when it is encrypted. The result holds the DER layout the input had
    /// (an encrypted PKCS#8 key comes back as plain PKCS#8, a legacy encrypted PEM key in its
    /// traditional layout).
    ///
    /// Fails with [`Error::Key`] on malformed input, [`Error::PassphraseRequired`] or
    /// [`Error::WrongPassphrase`] for an encrypted key, and [`Error::Unsupported`] (the
    /// default) when the backend has no key parser.
    fn read_key(
        &self,
        data: &[u8],
        format: EncodingFormat,
        key_type: KeyType,
        passphrase: Option<&[u8]>,
    ) -> Result<Key, Error> {
        let _ = (data, format, key_type, passphrase);
        Err(Error::unsupported(self.name(), "the Key class"))
    }

    /// The Key class: writes a key with the library's own encoder, in `format`, encrypted
    /// (as PKCS#8) when a passphrase is given.
    ///
    /// Fails with [`Error::Key`] when the library rejects the key, [`Error::InvalidInput`]
    /// when encryption is asked for a public key or with an empty passphrase, and
    /// [`Error::Unsupported`] (the default) when the backend has no key encoder.
    fn write_key(
        &self,
        key: &Key,
        format: EncodingFormat,
        passphrase: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let _ = (key, format, passphrase);
        Err(Error::unsupported(self.name(), "the Key class"))
    }

    /// Creates the engine for one TLS session.
    ///
    /// Fails with [`Error::Unsupported`] when the configuration asks for something this backend
    /// cannot do (a protocol, a feature), and with [`Error::Certificate`] or [`Error::Key`] when
    /// the engine rejects the local certificate or key.
    fn new_tls_engine(&self, params: EngineParams<'_>) -> Result<Box<dyn TlsEngine>, Error> {
        let _ = params;
        Err(Error::unsupported(self.name(), "TLS sockets"))
    }

    /// The Dtls class: creates the engine for one DTLS association.
    ///
    /// Fails as [`new_tls_engine`](Self::new_tls_engine) does, and with
    /// [`Error::Unsupported`] (the default) when the backend has no DTLS.
    fn new_dtls_engine(&self, params: DtlsEngineParams<'_>) -> Result<Box<dyn DtlsEngine>, Error> {
        let _ = params;
        Err(Error::unsupported(self.name(), "DTLS"))
    }
}

/// Refuses, with [`Error::Unsupported`], every setting in `params` that `backend` does not
/// claim: a protocol outside its supported protocols, ALPN without `ClientSideAlpn` (client) or
/// `ServerSideAlpn` (server), a PSK identity hint or handler without `Psk`, OCSP stapling without `Ocsp`,
/// a session ticket without `SessionTicket`, elliptic curves without the `EllipticCurve`
/// class, a server in `QueryPeer` without `OptionalClientCertificate`, a local certificate
/// chain longer than its leaf without `LocalCertificateChain`, and an alert handler without
/// `Alerts`.
///
/// Backends call it first thing in [`TlsBackend::new_tls_engine`], so that what they claim and
/// what they refuse cannot drift apart.
pub fn refuse_unclaimed<B: TlsBackend + ?Sized>(
    backend: &B,
    params: &EngineParams<'_>,
) -> Result<(), Error> {
    let config = params.config;
    let server = params.mode == SslMode::SslServerMode;
    let features = backend.supported_features();
    let lacks = |f: SupportedFeature| !features.contains(&f);
    let refused = if !backend.supported_protocols().contains(&config.protocol) {
        Some(format!("protocol {}", config.protocol))
    } else if let Some(what) = unclaimed_query(server, params.verify_mode, &features) {
        Some(what)
    } else if let Some(alpn) = unclaimed_alpn(server, config, &features) {
        Some(format!("{alpn}"))
    } else if let Some(what) = unclaimed_chain(config, &features) {
        Some(what.into())
    } else if (config.pre_shared_key_identity_hint.is_some() || params.pre_shared_key_handler)
        && lacks(SupportedFeature::Psk)
    {
        Some("pre-shared keys".into())
    } else if params.alert_handler && lacks(SupportedFeature::Alerts) {
        Some("reporting alerts (an alert-sent or alert-received handler)".into())
    } else if config.ocsp_stapling_enabled && lacks(SupportedFeature::Ocsp) {
        Some("OCSP stapling".into())
    } else if !config.session_ticket.is_empty() && lacks(SupportedFeature::SessionTicket) {
        Some("resuming a session from a ticket".into())
    } else if !config.elliptic_curves.is_empty()
        && !backend
            .implemented_classes()
            .contains(&ImplementedClass::EllipticCurve)
    {
        Some("choosing elliptic curves".into())
    } else {
        None
    };
    match refused {
        Some(what) => Err(Error::unsupported(backend.name(), what)),
        None => Ok(()),
    }
}

/// What a local certificate chain longer than its leaf needs when `features` lack
/// `LocalCertificateChain`, or `None`.
fn unclaimed_chain(
    config: &crate::SslConfiguration,
    features: &[SupportedFeature],
) -> Option<&'static str> {
    (config.local_certificate_chain.len() > 1
        && !features.contains(&SupportedFeature::LocalCertificateChain))
    .then_some("sending intermediate certificates (a local certificate chain longer than its leaf)")
}

/// The ALPN feature a configuration with protocols to offer (client) or choose from (server)
/// needs and `features` lacks, or `None`.
fn unclaimed_alpn(
    server: bool,
    config: &SslConfiguration,
    features: &[SupportedFeature],
) -> Option<SupportedFeature> {
    let alpn = if server {
        SupportedFeature::ServerSideAlpn
    } else {
        SupportedFeature::ClientSideAlpn
    };
    (!config.allowed_next_protocols.is_empty() && !features.contains(&alpn)).then_some(alpn)
}

/// What a server in `QueryPeer` asks of a backend that does not claim
/// `OptionalClientCertificate`, or `None` when the mode needs nothing unclaimed.
fn unclaimed_query(
    server: bool,
    mode: PeerVerifyMode,
    features: &[SupportedFeature],
) -> Option<String> {
    (server
        && mode == PeerVerifyMode::QueryPeer
        && !features.contains(&SupportedFeature::OptionalClientCertificate))
    .then(|| {
        "asking for a client certificate without requiring one (QueryPeer, which \
         AutoVerifyPeer means on a server): choose VerifyNone or VerifyPeer"
            .to_owned()
    })
}

/// Refuses, with [`Error::Unsupported`], every setting of a DTLS association that `backend`
/// does not claim or that polytls' DTLS does not carry yet: a protocol outside the backend's
/// supported protocols (or not a DTLS one), a server in `QueryPeer` without
/// `OptionalClientCertificate`, ALPN without `ClientSideAlpn` (client) or `ServerSideAlpn`
/// (server), a PSK identity hint or handler without `Psk`, a local certificate chain longer
/// than its leaf without `LocalCertificateChain`, and, on every backend, OCSP stapling, a
/// session ticket and elliptic curves. A cipher suite choice is each engine's to
/// map (and refuse, suite by suite or whole), as for TLS.
///
/// The [`Dtls`](crate::Dtls) front end calls it before it asks the backend for an engine, so
/// no DTLS engine repeats the list.
pub fn refuse_unclaimed_dtls<B: TlsBackend + ?Sized>(
    backend: &B,
    params: &DtlsEngineParams<'_>,
) -> Result<(), Error> {
    let config = params.config;
    let server = params.mode == SslMode::SslServerMode;
    let refused = if !config.protocol.is_dtls()
        || !backend.supported_protocols().contains(&config.protocol)
    {
        Some(format!("protocol {} for DTLS", config.protocol))
    } else if let Some(what) =
        unclaimed_query(server, params.verify_mode, &backend.supported_features())
    {
        Some(what)
    } else if let Some(alpn) = unclaimed_alpn(server, config, &backend.supported_features()) {
        Some(format!("{alpn} over DTLS"))
    } else if let Some(what) = unclaimed_chain(config, &backend.supported_features()) {
        Some(format!("{what} over DTLS"))
    } else if (config.pre_shared_key_identity_hint.is_some() || params.pre_shared_key_handler)
        && !backend
            .supported_features()
            .contains(&SupportedFeature::Psk)
    {
        Some("pre-shared keys over DTLS".into())
    } else if config.ocsp_stapling_enabled {
        Some("OCSP stapling over DTLS".into())
    } else if !config.session_ticket.is_empty() {
        Some("resuming a DTLS session".into())
    } else if !config.elliptic_curves.is_empty() {
        Some("choosing elliptic curves for DTLS".into())
    } else {
        None
    };
    match refused {
        Some(what) => Err(Error::unsupported(backend.name(), what)),
        None => Ok(()),
    }
}

/// A chain to verify outside a handshake: the arguments of
/// [`TlsBackend::verify_chain`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use polytls::{ChainVerification, KeyUsage, PeerName, Purpose};
///
/// # fn check(chain: &[polytls::Certificate], roots: &[polytls::Certificate]) -> Result<(), polytls::Error> {
/// let host = PeerName::parse("www.example.com")?;
/// // Was this server chain good a year ago, with no intermediate at all allowed?
/// let request = ChainVerification::new(chain, Some(&host), Some(roots))
///     .with_time(SystemTime::now() - Duration::from_secs(365 * 86400))
///     .with_depth(Some(0))
///     .with_key_usages(&[KeyUsage::DigitalSignature]);
/// let problems = polytls::Registry::global().backend(None)?.verify_chain(&request)?;
/// # let _ = (problems, Purpose::ClientAuth);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ChainVerification<'a> {
    /// The chain, leaf first, then the certificates that may help to reach a trust anchor (in
    /// any order; extra ones are ignored).
    pub chain: &'a [Certificate],
    /// The name the leaf must be valid for; `None` skips the host check.
    pub host_name: Option<&'a PeerName>,
    /// The trust anchors; `None` means the system's, as the backend finds them.
    pub ca_certificates: Option<&'a [Certificate]>,
    /// The most CA certificates allowed between the leaf and its trust anchor: `None` for no
    /// limit, `Some(0)` when the anchor itself must have issued the leaf. A longer chain is
    /// reported as [`PathLengthExceeded`](crate::SslErrorKind::PathLengthExceeded) naming
    /// the first certificate beyond the limit.
    pub depth: Option<u32>,
    /// What the chain must be good for (the extended key usage of its certificates, where they
    /// carry one): [`Purpose::ServerAuth`] unless changed; `None` checks no purpose (Qt's
    /// `QSslCertificate::verify`).
    pub purpose: Option<Purpose>,
    /// The time at which every certificate must be valid; `None` means now.
    pub time: Option<SystemTime>,
    /// The key usages the leaf must allow (when it has a key usage extension); a missing one
    /// is reported as [`InvalidPurpose`](crate::SslErrorKind::InvalidPurpose) for the leaf.
    pub key_usages: &'a [KeyUsage],
    /// Revocation lists. When any are given, the leaf's status is checked: a revoked leaf is
    /// [`CertificateRevoked`](crate::SslErrorKind::CertificateRevoked), and a leaf whose
    /// issuer has no valid list among them is
    /// [`CertificateStatusUnknown`](crate::SslErrorKind::CertificateStatusUnknown).
    pub crls: &'a [Crl],
    /// How strong every key of the chain, the trust anchor's included, must be.
    pub key_strength: KeyStrength,
    /// Whether the strict RFC 5280 profile applies (see
    /// [`SslConfiguration::strict_certificate_profile`]); on unless changed.
    pub strict: bool,
}

impl<'a> ChainVerification<'a> {
    /// A request to verify `chain` as a TLS client verifies a server (purpose
    /// [`Purpose::ServerAuth`]) against `ca_certificates` (the system's for `None`) and, when
    /// given, `host_name`, now, with no depth limit, no key usage or revocation check, and
    /// the default key strength.
    pub fn new(
        chain: &'a [Certificate],
        host_name: Option<&'a PeerName>,
        ca_certificates: Option<&'a [Certificate]>,
    ) -> ChainVerification<'a> {
        ChainVerification {
            chain,
            host_name,
            ca_certificates,
            depth: None,
            purpose: Some(Purpose::ServerAuth),
            time: None,
            key_usages: &[],
            crls: &[],
            key_strength: KeyStrength::default(),
            strict: true,
        }
    }

    /// The same request with the strict RFC 5280 profile on or off.
    pub fn with_strict_profile(self, strict: bool) -> ChainVerification<'a> {
        ChainVerification { strict, ..self }
    }

    /// The same request with a depth limit (`None`: none; `Some(0)`: no intermediates).
    pub fn with_depth(self, depth: Option<u32>) -> ChainVerification<'a> {
        ChainVerification { depth, ..self }
    }

    /// The same request for another purpose (`None`: any).
    pub fn with_purpose(self, purpose: Option<Purpose>) -> ChainVerification<'a> {
        ChainVerification { purpose, ..self }
    }

    /// The same request at another time.
    pub fn with_time(self, time: SystemTime) -> ChainVerification<'a> {
        ChainVerification {
            time: Some(time),
            ..self
        }
    }

    /// The same request requiring the leaf to allow `key_usages`.
    pub fn with_key_usages(self, key_usages: &'a [KeyUsage]) -> ChainVerification<'a> {
        ChainVerification { key_usages, ..self }
    }

    /// The same request checking the leaf against `crls`.
    pub fn with_crls(self, crls: &'a [Crl]) -> ChainVerification<'a> {
        ChainVerification { crls, ..self }
    }

    /// The same request with another key strength.
    pub fn with_key_strength(self, key_strength: KeyStrength) -> ChainVerification<'a> {
        ChainVerification {
            key_strength,
            ..self
        }
    }

    /// The problems of the request's own checks that no TLS library makes: key usages the
    /// leaf does not allow. Backends append them to what their library found.
    pub fn policy_problems(&self) -> Vec<SslError> {
        let Some(leaf) = self.chain.first() else {
            return Vec::new();
        };
        if self.key_usages.iter().all(|usage| usage.allowed_by(leaf)) {
            Vec::new()
        } else {
            vec![SslError::with_certificate(
                crate::SslErrorKind::InvalidPurpose,
                leaf.clone(),
            )]
        }
    }
}

/// Everything a backend needs to create a [`TlsEngine`].
#[non_exhaustive]
pub struct EngineParams<'a> {
    /// Client or server (never `UnencryptedMode`).
    pub mode: SslMode,
    /// The session's configuration, already validated by the front end.
    pub config: &'a SslConfiguration,
    /// The verification mode with `AutoVerifyPeer` resolved for this side.
    pub verify_mode: PeerVerifyMode,
    /// Client only: the name to send as SNI (when it is a DNS name) and to verify the server's
    /// certificate against. `None` skips the host check (the front end never passes `None`
    /// to a client that verifies its peer).
    pub peer_name: Option<&'a PeerName>,
    /// Where the engine reports what it found when `verify_mode` is `VerifyPeer`.
    pub verifier: Arc<dyn VerificationHook>,
    /// Server with `verify_mode` `VerifyPeer` only: a client that sends no certificate cannot
    /// be accepted, so the engine refuses it inside the handshake with the protocol's alert
    /// (`certificate_required` in TLS 1.3, `handshake_failure` before) and fails with
    /// [`Error::Verification`] holding [`NoPeerCertificate`](crate::SslErrorKind::NoPeerCertificate).
    /// When it is false the engine accepts a client without a certificate and the front end
    /// decides. [`new`](Self::new) sets it from `missing_certificate_is_fatal`; the front end
    /// also sets it when nothing could ignore the missing certificate.
    pub require_peer_certificate: bool,
    /// Whether the session has a pre-shared key handler: only then does the engine offer
    /// (client) or accept (server) PSK cipher suites, asking
    /// [`VerificationHook::pre_shared_key`] for the key. [`new`](Self::new) sets it to false.
    pub pre_shared_key_handler: bool,
    /// Whether the session has an alert handler when its engine is made: a backend that does
    /// not claim [`SupportedFeature::Alerts`] is then refused. An engine that claims it
    /// reports every alert to [`VerificationHook::alert`] whatever this says (a handler may
    /// be set later). [`new`](Self::new) sets it to false.
    pub alert_handler: bool,
}

impl<'a> EngineParams<'a> {
    /// Bundles the parameters (for the front ends and for tests of a backend).
    pub fn new(
        mode: SslMode,
        config: &'a SslConfiguration,
        peer_name: Option<&'a PeerName>,
        verifier: Arc<dyn VerificationHook>,
    ) -> EngineParams<'a> {
        let verify_mode = config.peer_verify_mode.resolve(mode);
        EngineParams {
            mode,
            config,
            verify_mode,
            peer_name,
            verifier,
            require_peer_certificate: mode == SslMode::SslServerMode
                && verify_mode == PeerVerifyMode::VerifyPeer
                && config.missing_certificate_is_fatal,
            pre_shared_key_handler: false,
            alert_handler: false,
        }
    }
}

/// The front end's side of peer verification, called by an engine from inside the handshake.
pub trait VerificationHook: Send + Sync {
    /// Called once per handshake when `verify_mode` is `VerifyPeer` and the peer's chain has
    /// been checked: `peer_chain` as the peer sent it (leaf first) and every problem found
    /// (an empty list when there were none). Returns `true` to continue the handshake, `false`
    /// to abort it with a fatal alert.
    fn decide(&self, peer_chain: &[Certificate], errors: Vec<SslError>) -> bool;

    /// Called when the handshake negotiated a PSK cipher suite and needs the key (only when the
    /// engine was told of a [`pre_shared_key_handler`](EngineParams::pre_shared_key_handler)):
    /// the handler fills in `authenticator`. Returns `true` when the identity and key it holds
    /// can be used, `false` to fail the handshake (no key, or one the engine could not send).
    /// The default refuses.
    fn pre_shared_key(&self, authenticator: &mut PreSharedKeyAuthenticator) -> bool {
        let _ = authenticator;
        false
    }

    /// An alert this side sent (`sent`) or received, with its level and description (Qt's
    /// `alertSent` and `alertReceived`). Engines of backends that claim
    /// [`SupportedFeature::Alerts`] call it for every alert; the front end keeps those it has
    /// a handler for and calls the handlers once the engine call returns. The default does
    /// nothing.
    fn alert(&self, sent: bool, level: crate::AlertLevel, kind: crate::AlertType) {
        let _ = (sent, level, kind);
    }
}

/// The outcome of [`TlsEngine::read_plaintext`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaintextRead {
    /// This many bytes were copied into the buffer (never 0).
    Data(usize),
    /// No plaintext is available until more ciphertext is read.
    NeedMore,
    /// The peer sent close_notify: no more data will come.
    Closed,
}

/// The facts of an established session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The negotiated version as an exact selector (`TlsV1_3`), or `UnknownProtocol`.
    pub protocol: SslProtocol,
    /// The negotiated cipher suite.
    pub cipher: Option<SslCipher>,
    /// The peer's certificates as it sent them, leaf first; empty when it sent none.
    pub peer_chain: Vec<Certificate>,
    /// The ALPN protocol agreed on, if any.
    pub alpn_protocol: Option<Vec<u8>>,
    /// Server only: the SNI name the client sent, if any.
    pub server_name: Option<String>,
    /// The PSK identity of the session when its key exchange used a pre-shared key (the one
    /// the client sent); `None` otherwise.
    pub psk_identity: Option<Vec<u8>>,
}

impl SessionInfo {
    /// An empty session record (used before a handshake completes): protocol
    /// `UnknownProtocol`, no cipher, no peer chain, no ALPN protocol, no server name, no PSK
    /// identity.
    pub fn new() -> SessionInfo {
        SessionInfo {
            protocol: SslProtocol::UnknownProtocol,
            cipher: None,
            peer_chain: Vec::new(),
            alpn_protocol: None,
            server_name: None,
            psk_identity: None,
        }
    }
}

impl Default for SessionInfo {
    /// [`SessionInfo::new`].
    fn default() -> SessionInfo {
        SessionInfo::new()
    }
}

/// One TLS session, sans-IO: ciphertext in, ciphertext out, plaintext in, plaintext out.
///
/// The front end's loop is: write whatever the engine [`wants_write`](Self::wants_write);
/// [`read_tls`](Self::read_tls) from the transport; [`process`](Self::process); then read or
/// write plaintext. No method blocks or performs I/O other than on the reader or writer it is
/// handed.
///
/// Once the handshake is complete, the front end reads and writes application data through
/// [`read_plaintext_from`](Self::read_plaintext_from) and
/// [`write_plaintext_to`](Self::write_plaintext_to), which also hand the engine the transport.
/// An engine whose library works best on the transport itself (OpenSSL reads each record
/// straight into its record buffer and writes each encrypted record straight out) overrides
/// them and saves a copy of every record; the defaults fall back to
/// [`read_plaintext`](Self::read_plaintext) and [`write_plaintext`](Self::write_plaintext),
/// and the front end then moves the ciphertext with [`read_tls`](Self::read_tls),
/// [`process`](Self::process) and [`write_tls`](Self::write_tls). Either way the engine must
/// keep working with only the other methods (in-memory tests use them).
pub trait TlsEngine: Send {
    /// Reads ciphertext with at most one call to `rd.read`, returning the bytes taken. The
    /// front end calls it only while the handshake runs or when
    /// [`read_plaintext`](Self::read_plaintext) said `NeedMore`, and always follows it with
    /// [`process`](Self::process), so an engine need not buffer decrypted data beyond one
    /// record.
    /// `Ok(0)` means the transport reached end of stream; the engine remembers it, so that a
    /// later read reports truncation if close_notify was not seen.
    ///
    /// Fails with the reader's error (including `WouldBlock`), unchanged.
    fn read_tls(&mut self, rd: &mut dyn io::Read) -> io::Result<usize>;

    /// Processes the ciphertext read so far: advances the handshake, decrypts records. The
    /// front end also calls it once right after creating the engine, with nothing read yet:
    /// a client engine produces its first flight then.
    ///
    /// Fails with [`Error::Handshake`] or [`Error::Protocol`] when the session cannot go on;
    /// an alert for the peer may then be waiting in [`write_tls`](Self::write_tls).
    fn process(&mut self) -> Result<(), Error>;

    /// Whether the engine has ciphertext to send.
    fn wants_write(&self) -> bool;

    /// Writes pending ciphertext with at most one call to `wr.write`, returning the bytes
    /// written.
    ///
    /// Fails with the writer's error, unchanged.
    fn write_tls(&mut self, wr: &mut dyn io::Write) -> io::Result<usize>;

    /// Whether the handshake is still in progress.
    fn is_handshaking(&self) -> bool;

    /// Copies decrypted application data into `buf`.
    ///
    /// Fails with [`Error::Truncated`] when the transport ended without close_notify, and with
    /// [`Error::Protocol`] when a record is invalid.
    fn read_plaintext(&mut self, buf: &mut [u8]) -> Result<PlaintextRead, Error>;

    /// Encrypts application data from `buf`, returning how much was taken (possibly less than
    /// `buf.len()` while ciphertext waits to be written; 0 only when `buf` is empty or the
    /// buffer is full). Only valid once the handshake is complete.
    ///
    /// Fails with [`Error::InvalidState`] during the handshake or after close.
    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error>;

    /// Like [`process`](Self::process), but the engine may write the ciphertext it produces
    /// (handshake flights, alerts, tickets) straight to `wr` as it goes, the way its library
    /// does on a socket, instead of queuing all of it for [`write_tls`](Self::write_tls). The
    /// front end calls it after each [`read_tls`](Self::read_tls) (not for the first flight,
    /// which [`process`](Self::process) produces) and afterwards sends whatever is still
    /// queued.
    ///
    /// As with [`write_plaintext_to`](Self::write_plaintext_to), the engine writes to `wr` only
    /// while nothing is queued, queues whatever `wr` does not take, and does not report the
    /// writer's errors (the front end meets them again when it sends the queue).
    ///
    /// The default never touches `wr`: it is [`process`](Self::process).
    ///
    /// Fails as [`process`](Self::process) does.
    fn process_to(&mut self, wr: &mut dyn io::Write) -> Result<(), Error> {
        let _ = wr;
        self.process()
    }

    /// Like [`read_plaintext`](Self::read_plaintext), but the engine may read the ciphertext
    /// it needs from `rd` itself. The front end calls it only once the handshake is complete.
    ///
    /// An engine that reads may call `rd.read` several times in one call (for example once
    /// for a record's header and once for its body), and stops at the first record that
    /// yields application data, close_notify or an error; ciphertext read beyond that record
    /// and plaintext that did not fit in `buf` are kept for the next call.
    /// End of stream from `rd` is remembered as [`read_tls`](Self::read_tls) remembers it:
    /// [`PlaintextRead::Closed`] after close_notify, [`Error::Truncated`] otherwise.
    /// [`PlaintextRead::NeedMore`] asks the front end to move ciphertext itself
    /// ([`read_tls`](Self::read_tls), then [`process`](Self::process)) and call again.
    ///
    /// The default never touches `rd`: it is [`read_plaintext`](Self::read_plaintext).
    ///
    /// Fails with [`Error::Io`] carrying the reader's error unchanged (`WouldBlock`,
    /// `TimedOut`, `Interrupted`, a reset connection): the session is left as it was, ciphertext
    /// already read is kept, and the call may be repeated. Fails otherwise as
    /// [`read_plaintext`](Self::read_plaintext) does; no other failure is an [`Error::Io`].
    fn read_plaintext_from(
        &mut self,
        rd: &mut dyn io::Read,
        buf: &mut [u8],
    ) -> Result<PlaintextRead, Error> {
        let _ = rd;
        self.read_plaintext(buf)
    }

    /// Like [`write_plaintext`](Self::write_plaintext), but the engine may write the
    /// ciphertext straight to `wr`. The front end calls it only once the handshake is
    /// complete, and afterwards sends whatever is still queued
    /// ([`wants_write`](Self::wants_write), [`write_tls`](Self::write_tls)).
    ///
    /// Returns the plaintext bytes taken, as [`write_plaintext`](Self::write_plaintext) does.
    /// Every byte taken is either written to `wr` or queued: an engine writes to `wr` directly
    /// only while nothing is queued (so that the order is kept), and queues whatever `wr` does
    /// not accept (a partial write, `WouldBlock`, any other error). The writer's errors are not
    /// reported by this call: the front end meets them again when it sends what is queued.
    ///
    /// The default never touches `wr`: it is [`write_plaintext`](Self::write_plaintext).
    ///
    /// Fails as [`write_plaintext`](Self::write_plaintext) does.
    fn write_plaintext_to(&mut self, wr: &mut dyn io::Write, buf: &[u8]) -> Result<usize, Error> {
        let _ = wr;
        self.write_plaintext(buf)
    }

    /// Queues a close_notify alert; nothing is encrypted after it.
    fn send_close_notify(&mut self);

    /// The facts of the session; meaningful once the handshake is complete.
    fn session(&self) -> SessionInfo;
}
