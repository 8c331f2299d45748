//! An [`SslConfiguration`] (with the rest of [`EngineParams`]) turned into a rustls client or
//! server configuration and connection.
//!
//! Each engine gets its own configuration with an explicit aws-lc-rs [`CryptoProvider`] (never
//! the process default), restricted to the configured cipher suites. Settings rustls cannot
//! honour are refused with [`Error::Unsupported`]. What rustls does with the rest:
//!
//! - ALPN: the client offers its list; the server picks the first protocol of *its* list that
//!   the client offered. When the client offered ALPN and nothing matches, rustls aborts the
//!   handshake with a `no_application_protocol` alert (it does not proceed without ALPN).
//! - SNI: sent when `peer_name` is a DNS name, unless `DisableServerNameIndication` is set.
//! - `DisableSessionTickets`: the client keeps no resumption state, the server sends no TLS 1.3
//!   tickets. (Each engine has its own configuration, so sessions are never resumed across
//!   engines anyway.)
//! - `DisableServerCipherPreference`: the server follows the client's suite order; by default it
//!   follows its own (rustls' `ignore_client_order`).

use std::sync::Arc;

use polytls::{
    EngineParams, Error, Key, KeyFormat, PeerVerifyMode, ProtocolVersion, SslCipher,
    SslConfiguration, SslMode, SslOption, SslProtocol,
};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::{
    ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};

use crate::backend::{trust_anchors, RustlsBackend, NAME, PROTOCOLS, VERSIONS};
use crate::verify::{Checker, ClientVerifier, HostCheck, ServerVerifier};

/// The polytls cipher for a rustls suite: its IANA code point and the protocol it belongs to.
pub(crate) fn cipher_of_suite(suite: &SupportedCipherSuite) -> SslCipher {
    let protocol = match suite {
        SupportedCipherSuite::Tls13(_) => SslProtocol::TlsV1_3,
        SupportedCipherSuite::Tls12(_) => SslProtocol::TlsV1_2,
    };
    SslCipher::from_id(u16::from(suite.suite()), protocol)
}

/// Builds the rustls connection for `params`.
///
/// Fails with [`Error::InvalidInput`] for `UnencryptedMode` or a configuration rustls rejects,
/// [`Error::Unsupported`] for settings this backend cannot honour, and [`Error::Key`] or
/// [`Error::Certificate`] when rustls rejects the local certificate or key.
pub(crate) fn connection(
    backend: &RustlsBackend,
    params: &EngineParams<'_>,
) -> Result<Connection, Error> {
    let config = params.config;
    let versions = versions(config.protocol)?;
    let provider = provider(config)?;
    let algorithms = provider.signature_verification_algorithms;
    let verify_mode = params.verify_mode.resolve(params.mode);
    let checker = (verify_mode == PeerVerifyMode::VerifyPeer).then(|| Checker {
        anchors: match &config.ca_certificates {
            Some(list) => {
                let ders: Vec<CertificateDer<'_>> = list
                    .iter()
                    .map(|cert| CertificateDer::from(cert.to_der()))
                    .collect();
                let anchors: Arc<[TrustAnchor<'static>]> = trust_anchors(&ders).into();
                anchors
            }
            None => backend.system_trust_anchors(),
        },
        hook: Arc::clone(&params.verifier),
    });
    let local = local_identity(config)?;
    let invalid = |e: rustls::Error| Error::InvalidInput(format!("rustls: {e}"));

    match params.mode {
        SslMode::SslClientMode => {
            let (server_name, host) = HostCheck::for_peer_name(params.peer_name);
            let verifier = ServerVerifier::new(checker, host, algorithms);
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
            if config.test_ssl_option(SslOption::DisableSessionTickets) {
                client.resumption = Resumption::disabled();
            }
            let connection =
                ClientConnection::new(Arc::new(client), server_name).map_err(invalid)?;
            Ok(Connection::Client(connection))
        }
        SslMode::SslServerMode => {
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
            if config.test_ssl_option(SslOption::DisableSessionTickets) {
                server.send_tls13_tickets = 0;
            }
            let connection = ServerConnection::new(Arc::new(server)).map_err(invalid)?;
            Ok(Connection::Server(connection))
        }
        SslMode::UnencryptedMode => Err(Error::InvalidInput(
            "an engine is either a client or a server".into(),
        )),
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
