//! The certificates and the per-scenario settings, built once and shared by both sides of a
//! comparison: a polytls [`SslConfiguration`] pair, an OpenSSL `SslContext` pair and a rustls
//! config pair, all meaning the same thing.
//!
//! Every scenario uses a fresh root and a leaf for `localhost` signed by it (ECDSA P-256 or
//! RSA-2048, SHA-256 signatures). The client verifies the chain against that root only and the
//! host name `localhost`; the server presents the leaf alone and asks for no client
//! certificate. Key exchange is each engine's default (X25519 first for both). Session caches
//! are off on the direct side as they are inside polytls, so every handshake is a full one.

use std::sync::Arc;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslMode as OpenSslMode, SslOptions,
    SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use polytls::{
    Certificate, Key, KeyType, PeerVerifyMode, SslCipher, SslConfiguration, SslProtocol,
};
use rustls::client::Resumption;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The key type of the server certificate (and of the root that signs it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
    /// RSA-2048 with SHA-256 (PKCS#1 v1.5 certificate signatures).
    Rsa2048,
}

/// The TLS version a scenario pins both sides to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// What a scenario asks of the session.
#[derive(Clone, Debug)]
pub struct Params {
    /// The server certificate's key type.
    pub key: KeyKind,
    /// The one version both sides allow.
    pub version: Version,
    /// The one suite both sides allow (IANA name), or `None` for the engine's defaults.
    pub cipher: Option<&'static str>,
}

/// A root certificate and a `localhost` leaf signed by it, with the leaf's key.
#[derive(Clone)]
pub struct Pki {
    /// The trust anchor.
    pub root: X509,
    /// The server certificate (for `localhost`, `127.0.0.1`).
    pub leaf: X509,
    /// The leaf's private key.
    pub key: PKey<Private>,
}

fn stack(e: openssl::error::ErrorStack) -> String {
    e.to_string()
}

fn new_key(kind: KeyKind) -> Result<PKey<Private>, String> {
    match kind {
        KeyKind::EcdsaP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(stack)?;
            PKey::from_ec_key(EcKey::generate(&group).map_err(stack)?).map_err(stack)
        }
        KeyKind::Rsa2048 => PKey::from_rsa(Rsa::generate(2048).map_err(stack)?).map_err(stack),
    }
}

fn certificate(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "polytls bench")?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(issuer.map_or(&*name, |(cert, _)| cert.subject_name()))?;
    b.set_pubkey(key)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let (not_before, not_after) = (
        Asn1Time::from_unix(now - 86_400)?,
        Asn1Time::from_unix(now + 30 * 86_400)?,
    );
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    // Key identifiers, as RFC 5280's profile (which polytls verifies by default) asks.
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    if let Some((cert, _)) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&**cert), None))?;
        b.append_extension(aki)?;
    }
    if issuer.is_none() {
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
    } else {
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))?;
        b.append_extension(san)?;
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())?;
    Ok(b.build())
}

impl Pki {
    /// Generates a root and a leaf, both with keys of `kind`.
    ///
    /// Fails with OpenSSL's message when generation fails.
    pub fn generate(kind: KeyKind) -> Result<Pki, String> {
        let root_key = new_key(kind)?;
        let root = certificate("polytls bench root", &root_key, None).map_err(stack)?;
        let key = new_key(kind)?;
        let leaf = certificate("localhost", &key, Some((&root, &root_key))).map_err(stack)?;
        Ok(Pki { root, leaf, key })
    }
}

/// Every side's settings for one scenario, built once.
pub struct Setup {
    /// The scenario.
    pub params: Params,
    /// The certificates and key every side's settings are built from.
    pub pki: Pki,
    /// polytls, client side (verifies `localhost` against the root), shared by every client
    /// socket as the direct sides share their context or config.
    pub polytls_client: Arc<SslConfiguration>,
    /// polytls, server side, shared by every server socket.
    pub polytls_server: Arc<SslConfiguration>,
    /// OpenSSL used directly, client side.
    pub openssl_client: SslContext,
    /// OpenSSL used directly, server side.
    pub openssl_server: SslContext,
    /// rustls used directly, client side.
    pub rustls_client: Arc<ClientConfig>,
    /// rustls used directly, server side.
    pub rustls_server: Arc<ServerConfig>,
}

/// The name every client verifies.
pub const HOST: &str = "localhost";

impl Setup {
    /// Generates the certificates for `params` and builds every side's settings.
    ///
    /// Fails with a message when a certificate, key or suite is refused.
    pub fn new(params: Params) -> Result<Setup, String> {
        let pki = Pki::generate(params.key)?;
        let root_der = pki.root.to_der().map_err(stack)?;
        let leaf_der = pki.leaf.to_der().map_err(stack)?;
        let key_der = pki.key.private_key_to_pkcs8().map_err(stack)?;

        // polytls
        let root = Certificate::from_der(&root_der).map_err(|e| e.to_string())?;
        let leaf = Certificate::from_der(&leaf_der).map_err(|e| e.to_string())?;
        let key = Key::from_der(&key_der, KeyType::PrivateKey).map_err(|e| e.to_string())?;
        let protocol = match params.version {
            Version::Tls12 => SslProtocol::TlsV1_2,
            Version::Tls13 => SslProtocol::TlsV1_3,
        };
        let ciphers = match params.cipher {
            Some(name) => Some(vec![SslCipher::from_name(name)
                .ok_or_else(|| format!("polytls does not know the suite {name}"))?]),
            None => None,
        };
        let polytls_client = Arc::new(SslConfiguration {
            protocol,
            ciphers: ciphers.clone(),
            ca_certificates: Some(vec![root]),
            ..SslConfiguration::default()
        });
        let polytls_server = Arc::new(SslConfiguration {
            protocol,
            ciphers,
            peer_verify_mode: PeerVerifyMode::VerifyNone,
            local_certificate_chain: vec![leaf],
            private_key: Some(key),
            ..SslConfiguration::default()
        });

        let (openssl_client, openssl_server) = openssl_contexts(&params, &pki)?;
        let (rustls_client, rustls_server) = rustls_configs(&params, root_der, leaf_der, key_der)?;
        Ok(Setup {
            params,
            pki,
            polytls_client,
            polytls_server,
            openssl_client,
            openssl_server,
            rustls_client,
            rustls_server,
        })
    }
}

/// Makes a client context verify the server as polytls' default profile asks of OpenSSL:
/// against `pki`'s root only, partial chains allowed, X.509 strict, security level 2.
///
/// Fails with OpenSSL's error.
pub fn verify_as_polytls(
    b: &mut SslContextBuilder,
    pki: &Pki,
) -> Result<(), openssl::error::ErrorStack> {
    let mut store = X509StoreBuilder::new()?;
    store.add_cert(pki.root.clone())?;
    b.set_verify_cert_store(store.build())?;
    b.set_verify(SslVerifyMode::PEER);
    b.verify_param_mut()
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::X509_STRICT)?;
    b.verify_param_mut().set_auth_level(2);
    Ok(())
}

/// OpenSSL contexts with the settings polytls' OpenSSL backend applies: the version pinned,
/// the suite restricted, no compression, server cipher preference, partial writes, no
/// automatic chain building, no session cache.
fn openssl_contexts(params: &Params, pki: &Pki) -> Result<(SslContext, SslContext), String> {
    let version = match params.version {
        Version::Tls12 => SslVersion::TLS1_2,
        Version::Tls13 => SslVersion::TLS1_3,
    };
    let common = |server: bool| -> Result<SslContextBuilder, openssl::error::ErrorStack> {
        let mut b = SslContextBuilder::new(SslMethod::tls())?;
        b.set_min_proto_version(Some(version))?;
        b.set_max_proto_version(Some(version))?;
        if let Some(name) = params.cipher {
            b.set_ciphersuites(name)?;
        }
        let mut options = SslOptions::NO_COMPRESSION | SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
        if server {
            options |= SslOptions::CIPHER_SERVER_PREFERENCE;
        }
        b.set_options(options);
        b.set_mode(
            OpenSslMode::ENABLE_PARTIAL_WRITE
                | OpenSslMode::ACCEPT_MOVING_WRITE_BUFFER
                | OpenSslMode::NO_AUTO_CHAIN,
        );
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        Ok(b)
    };
    let client = (|| {
        let mut b = common(false)?;
        verify_as_polytls(&mut b, pki)?;
        Ok(b.build())
    })()
    .map_err(stack)?;
    let server = (|| {
        let mut b = common(true)?;
        b.set_certificate(&pki.leaf)?;
        b.set_private_key(&pki.key)?;
        b.check_private_key()?;
        b.set_verify(SslVerifyMode::NONE);
        b.set_session_id_context(b"polytls-bench")?;
        Ok(b.build())
    })()
    .map_err(stack)?;
    Ok((client, server))
}

/// rustls configs with the settings polytls' rustls backend applies: aws-lc-rs, the version
/// pinned, the suite restricted, server cipher preference. The client shares one config for
/// all connections, as a direct user would, so resumption is disabled to keep every handshake
/// full (polytls makes a config per session, which never resumes).
fn rustls_configs(
    params: &Params,
    root: Vec<u8>,
    leaf: Vec<u8>,
    key: Vec<u8>,
) -> Result<(Arc<ClientConfig>, Arc<ServerConfig>), String> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(name) = params.cipher {
        let id = SslCipher::from_name(name).map(|c| c.id());
        provider
            .cipher_suites
            .retain(|s| Some(u16::from(s.suite())) == id);
        if provider.cipher_suites.is_empty() {
            return Err(format!("rustls does not know the suite {name}"));
        }
    }
    let provider = Arc::new(provider);
    let versions: &[&rustls::SupportedProtocolVersion] = match params.version {
        Version::Tls12 => &[&rustls::version::TLS12],
        Version::Tls13 => &[&rustls::version::TLS13],
    };
    let text = |e: rustls::Error| e.to_string();
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(root)).map_err(text)?;
    let mut client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(text)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(text)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .map_err(text)?;
    server.ignore_client_order = true;
    Ok((Arc::new(client), Arc::new(server)))
}
