//! An [`SslConfiguration`] (with the rest of [`EngineParams`]) turned into a rustls client or
//! server configuration and connection.
//!
//! Each configuration uses an explicit aws-lc-rs [`CryptoProvider`] (never the process default),
//! restricted to the configured cipher suites. Settings rustls cannot honour are refused with
//! [`Error::Unsupported`].
//!
//! # What is shared and what is per session
//!
//! Building a rustls configuration (parsing the local key, building trust anchors, filtering
//! the provider) costs more than creating a connection from one, so the backend keeps the
//! configurations it built for the [`CACHE_SIZE`] most recently used keys, a key being the
//! [`SslConfiguration`] (compared with `Eq`), the mode (client or server) and the resolved
//! verification mode. Sessions with an equal key share one `Arc<ClientConfig>` or
//! `Arc<ServerConfig>`: the provider, the protocol versions, the local certificate and parsed
//! key, the trust anchors, ALPN and option settings, and the certificate verifiers. The cache
//! is locked only while an engine is created. An entry that verifies against the system store
//! is used only while that store has not been reloaded (see
//! [`RustlsBackend::system_trust_anchors`]). The cache holds copies of the configurations,
//! private keys included, for as long as the backend lives.
//!
//! Per session: the rustls connection and its state, the client's server name (SNI and host
//! check, passed to `ClientConnection::new`), and the front end's verification hook. The
//! shared verifiers reach the hook and host name through a [`Session`] the engine installs for
//! the current thread while rustls processes handshake records; without one they refuse the
//! certificate (see `verify`).
//!
//! Session state is never shared between engines: the client's session store keeps nothing
//! and the server's forgets what it is given, so no session is resumed (as when every engine
//! had its own configuration). The server still issues TLS 1.3 tickets and TLS 1.2 session IDs
//! and the client still offers TLS 1.2 tickets, unless `DisableSessionTickets` is set.
//!
//! What rustls does with the rest:
//!
//! - ALPN: the client offers its list; the server picks the first protocol of *its* list that
//!   the client offered. When the client offered ALPN and nothing matches, rustls aborts the
//!   handshake with a `no_application_protocol` alert (it does not proceed without ALPN).
//! - SNI: sent when `peer_name` is a DNS name, unless `DisableServerNameIndication` is set.
//! - `DisableSessionTickets`: the client offers no resumption, the server sends no TLS 1.3
//!   tickets.
//! - `DisableServerCipherPreference`: the server follows the client's suite order; by default it
//!   follows its own (rustls' `ignore_client_order`).

use std::sync::Arc;

use polytls_core::{
    EngineParams, Error, Key, KeyFormat, PeerVerifyMode, ProtocolVersion, SslCipher,
    SslConfiguration, SslMode, SslOption, SslProtocol,
};
use rustls::client::{
    ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::crypto::CryptoProvider;
use rustls::server::StoresServerSessions;
use rustls::{
    ClientConfig, ClientConnection, Connection, NamedGroup, ServerConfig, ServerConnection,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use polytls_core::context_cache::ContextCache;

use crate::backend::{RustlsBackend, NAME, PROTOCOLS, VERSIONS};
use crate::chain::Anchors;
use crate::verify::{Checker, ClientVerifier, HostCheck, ServerVerifier, Session};

/// The polytls cipher for a rustls suite: its IANA code point and the protocol it belongs to.
pub(crate) fn cipher_of_suite(suite: &SupportedCipherSuite) -> SslCipher {
    let protocol = match suite {
        SupportedCipherSuite::Tls13(_) => SslProtocol::TlsV1_3,
        SupportedCipherSuite::Tls12(_) => SslProtocol::TlsV1_2,
    };
    SslCipher::from_id(u16::from(suite.suite()), protocol)
}

/// How many built configurations a backend keeps (the most recently used ones).
pub(crate) const CACHE_SIZE: usize = 16;

/// A built rustls configuration, for one side.
#[derive(Clone)]
pub(crate) enum Built {
    Client(Arc<ClientConfig>),
    Server(Arc<ServerConfig>),
}

/// The extra part of a configuration's cache key: the system trust anchors it verifies
/// against, when it uses them, compared by identity (a reload of the system store makes the
/// entry stale).
#[derive(Clone)]
pub(crate) struct SystemAnchors(Option<Arc<Anchors>>);

impl PartialEq for SystemAnchors {
    fn eq(&self, other: &SystemAnchors) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The rustls configurations a backend built, most recently used first, at most
/// [`CACHE_SIZE`]: core's cache, which the OpenSSL backend uses too.
pub(crate) type ConfigCache = ContextCache<SystemAnchors, Built>;

/// Builds the rustls connection for `params`, and the per-session state its verifiers report
/// to (see [`RustlsEngine`](crate::engine::RustlsEngine)).
///
/// The rustls configuration comes from the backend's cache when a session with an equal
/// configuration, mode and verification mode was created recently; otherwise it is built and
/// cached. Failures are not cached.
///
/// Fails with [`Error::InvalidInput`] for `UnencryptedMode` or a configuration rustls rejects,
/// [`Error::Unsupported`] for settings this backend cannot honour, and [`Error::Key`] or
/// [`Error::Certificate`] when rustls rejects the local certificate or key.
pub(crate) fn connection(
    backend: &RustlsBackend,
    params: &EngineParams<'_>,
) -> Result<(Connection, Arc<Session>), Error> {
    let config = params.config;
    let mode = params.mode;
    if mode == SslMode::UnencryptedMode {
        return Err(Error::InvalidInput(
            "an engine is either a client or a server".into(),
        ));
    }
    let verify_mode = params.verify_mode.resolve(mode);
    let system_anchors = (verify_mode == PeerVerifyMode::VerifyPeer
        && config.ca_certificates.is_none())
    .then(|| backend.system_trust_anchors());

    // Built without holding the cache's lock; two threads building the same configuration at
    // once both get the one cached first.
    let built =
        backend
            .configs()
            .get_or_build(params, SystemAnchors(system_anchors), |anchors| {
                build(config, mode, verify_mode, anchors.0.clone())
            })?;

    let invalid = |e: rustls::Error| Error::InvalidInput(format!("rustls: {e}"));
    match built {
        Built::Client(client) => {
            let (server_name, host) = HostCheck::for_peer_name(params.peer_name);
            let connection = ClientConnection::new(client, server_name).map_err(invalid)?;
            let session = Session::new(Arc::clone(&params.verifier), host);
            Ok((Connection::Client(connection), Arc::new(session)))
        }
        Built::Server(server) => {
            let connection = ServerConnection::new(server).map_err(invalid)?;
            let mut session = Session::new(Arc::clone(&params.verifier), HostCheck::Skip);
            session.require_certificate = params.require_peer_certificate;
            Ok((Connection::Server(connection), Arc::new(session)))
        }
    }
}

/// Builds the rustls configuration for `config` on side `mode` (a client or a server) with
/// The trust anchors webpki makes of `certificates` (those it cannot use are skipped).
pub(crate) fn anchors_of(certificates: &[polytls_core::Certificate]) -> Arc<Anchors> {
    Arc::new(Anchors::from_ders(
        certificates.iter().map(polytls_core::Certificate::to_der),
    ))
}

/// `verify_mode` (resolved); `system_anchors` are the trust anchors when the mode is
/// `VerifyPeer` and no CA certificates are configured.
fn build(
    config: &SslConfiguration,
    mode: SslMode,
    verify_mode: PeerVerifyMode,
    system_anchors: Option<Arc<Anchors>>,
) -> Result<Built, Error> {
    let versions = versions(config.protocol)?;
    let provider = provider(config)?;
    let algorithms = provider.signature_verification_algorithms;
    let checker = (verify_mode == PeerVerifyMode::VerifyPeer).then(|| Checker {
        anchors: match (&config.ca_certificates, system_anchors) {
            (Some(list), _) => anchors_of(list),
            (None, Some(system)) => system,
            (None, None) => Arc::default(),
        },
        depth: (config.peer_verify_depth > 0).then_some(config.peer_verify_depth),
        key_strength: config.key_strength,
        crls: Vec::new(),
        strict: config.strict_certificate_profile,
        cache: Default::default(),
    });
    let local = local_identity(config)?;
    let invalid = |e: rustls::Error| Error::InvalidInput(format!("rustls: {e}"));

    if mode == SslMode::SslClientMode {
        let verifier = ServerVerifier::new(checker, algorithms);
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(invalid)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut client = match local {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(identity_error)?,
            None => builder.with_no_client_auth(),
        };
        client.enable_sni = !config.test_ssl_option(SslOption::DisableServerNameIndication);
        client.alpn_protocols = config.allowed_next_protocols.clone();
        client.resumption = if config.test_ssl_option(SslOption::DisableSessionTickets) {
            Resumption::disabled()
        } else {
            Resumption::store(Arc::new(ForgetfulClientStore))
        };
        Ok(Built::Client(Arc::new(client)))
    } else {
        let Some((chain, key)) = local else {
            return Err(Error::InvalidInput(
                "a server needs a local certificate and a private key".into(),
            ));
        };
        let verifier = ClientVerifier::new(
            verify_mode != PeerVerifyMode::VerifyNone,
            checker,
            algorithms,
        );
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(invalid)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(chain, key)
            .map_err(identity_error)?;
        server.alpn_protocols = config.allowed_next_protocols.clone();
        server.ignore_client_order =
            !config.test_ssl_option(SslOption::DisableServerCipherPreference);
        server.session_storage = Arc::new(ForgetfulServerStore);
        if config.test_ssl_option(SslOption::DisableSessionTickets) {
            server.send_tls13_tickets = 0;
        }
        Ok(Built::Server(Arc::new(server)))
    }
}

/// The client's session store: keeps nothing, so a shared configuration never resumes a
/// session (or reuses a key-exchange hint) of another engine. The client still offers TLS 1.2
/// tickets and session IDs, as it did with a store of its own per engine.
#[derive(Debug)]
struct ForgetfulClientStore;

impl ClientSessionStore for ForgetfulClientStore {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }

    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'_>) {}

    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {}

    fn take_tls13_ticket(&self, _: &ServerName<'_>) -> Option<Tls13ClientSessionValue> {
        None
    }
}

/// The server's session store: accepts sessions and forgets them, so the server still issues
/// TLS 1.3 tickets and TLS 1.2 session IDs (as it did with a store of its own per engine) but
/// never resumes a session, in particular not one another engine sharing the configuration
/// established (which would skip that engine's certificate verification).
#[derive(Debug)]
struct ForgetfulServerStore;

impl StoresServerSessions for ForgetfulServerStore {
    fn put(&self, _: Vec<u8>, _: Vec<u8>) -> bool {
        true
    }

    fn get(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn take(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// The rustls versions for a protocol selector.
///
/// Fails with [`Error::Unsupported`] for a selector this backend does not claim.
fn versions(protocol: SslProtocol) -> Result<Vec<&'static SupportedProtocolVersion>, Error> {
    if !PROTOCOLS.contains(&protocol) {
        return Err(Error::unsupported(NAME, format!("protocol {protocol}")));
    }
    let versions: Vec<_> = protocol
        .tls_versions(&VERSIONS)
        .into_iter()
        .filter_map(|version| match version {
            ProtocolVersion::Tls1_2 => Some(&rustls::version::TLS12),
            ProtocolVersion::Tls1_3 => Some(&rustls::version::TLS13),
            _ => None,
        })
        .collect();
    if versions.is_empty() {
        return Err(Error::unsupported(NAME, format!("protocol {protocol}")));
    }
    Ok(versions)
}

/// The aws-lc-rs provider, its suites restricted to (and ordered as) `config.ciphers`.
///
/// Fails with [`Error::Unsupported`] for a suite the provider does not have and
/// [`Error::InvalidInput`] for an empty list.
fn provider(config: &SslConfiguration) -> Result<Arc<CryptoProvider>, Error> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(ciphers) = &config.ciphers {
        let mut suites: Vec<SupportedCipherSuite> = Vec::with_capacity(ciphers.len());
        for cipher in ciphers {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|suite| u16::from(suite.suite()) == cipher.id())
                .ok_or_else(|| Error::unsupported(NAME, format!("cipher suite {cipher}")))?;
            if !suites.iter().any(|s| s.suite() == suite.suite()) {
                suites.push(*suite);
            }
        }
        if suites.is_empty() {
            return Err(Error::InvalidInput("the cipher suite list is empty".into()));
        }
        provider.cipher_suites = suites;
    }
    Ok(Arc::new(provider))
}

/// The local certificate chain and private key, when set.
///
/// Fails with [`Error::InvalidInput`] when only one of them is set and [`Error::Key`] for a
/// public key.
#[allow(clippy::type_complexity)]
fn local_identity(
    config: &SslConfiguration,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, Error> {
    match (
        &config.private_key,
        config.local_certificate_chain.is_empty(),
    ) {
        (None, true) => Ok(None),
        (Some(key), false) => {
            let chain = config
                .local_certificate_chain
                .iter()
                .map(|cert| CertificateDer::from(cert.to_der().to_vec()))
                .collect();
            Ok(Some((chain, private_key(key)?)))
        }
        _ => Err(Error::InvalidInput(
            "a local certificate and a private key must be set together".into(),
        )),
    }
}

/// The rustls form of a private key.
///
/// Fails with [`Error::Key`] for a public key.
fn private_key(key: &Key) -> Result<PrivateKeyDer<'static>, Error> {
    let der = key.to_der().to_vec();
    Ok(match key.format() {
        KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(der.into()),
        KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(der.into()),
        KeyFormat::Sec1 => PrivateKeyDer::Sec1(der.into()),
        // rustls has no DSA; its PKCS#8 form lets rustls say so.
        KeyFormat::Dsa => PrivateKeyDer::Pkcs8(key.to_pkcs8_der()?.to_vec().into()),
        KeyFormat::Spki => return Err(Error::Key("a public key cannot sign".into())),
    })
}

/// The polytls error for rustls rejecting the local certificate or key.
fn identity_error(error: rustls::Error) -> Error {
    match error {
        rustls::Error::InvalidCertificate(e) => {
            Error::Certificate(format!("rustls rejects the local certificate: {e}"))
        }
        other => Error::Key(format!("rustls rejects the local key: {other}")),
    }
}
