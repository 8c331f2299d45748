//! [`RustlsBackend`]: what the rustls backend is and claims (name, versions, classes, features,
//! protocols, cipher suites, system trust store), and the factory of its engines.
//!
//! Every claim here is backed by the engine: the protocol selectors are the ones rustls can
//! negotiate (TLS 1.2 and 1.3), the cipher suites are those of the aws-lc-rs provider.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use polytls_core::{
    Certificate, ChainVerification, EngineParams, Error, ImplementedClass, ProtocolVersion,
    SslCipher, SslError, SslProtocol, SupportedFeature, TlsBackend, TlsEngine,
};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::chain::Anchors;
use crate::verify::{Checker, HostCheck};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use crate::config::{ConfigCache, CACHE_SIZE};

/// The backend's registry name.
pub(crate) const NAME: &str = "rustls";

/// The TLS versions rustls implements, oldest first.
pub(crate) const VERSIONS: [ProtocolVersion; 2] =
    [ProtocolVersion::Tls1_2, ProtocolVersion::Tls1_3];

/// The protocol selectors this backend accepts (those whose range rustls can honour exactly).
pub(crate) const PROTOCOLS: [SslProtocol; 6] = [
    SslProtocol::TlsV1_2,
    SslProtocol::TlsV1_2OrLater,
    SslProtocol::TlsV1_3,
    SslProtocol::TlsV1_3OrLater,
    SslProtocol::AnyProtocol,
    SslProtocol::SecureProtocols,
];

/// The rustls version this crate was built against, as the build script resolved it: the exact
/// version from the build's `Cargo.lock` when one was found, else the semver requirement
/// (`"0.23"`). rustls is linked statically, so the run-time and build-time versions are the same.
const RUSTLS_VERSION: &str = env!("POLYTLS_RUSTLS_VERSION");

/// Where [`RUSTLS_VERSION`] came from: `"Cargo.lock"` or `"requirement"`.
const RUSTLS_VERSION_SOURCE: &str = env!("POLYTLS_RUSTLS_VERSION_SOURCE");

/// The trust anchors of the system store, with the environment they were loaded under.
struct SystemRoots {
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` at load time: a change makes the cache stale.
    env: (Option<OsString>, Option<OsString>),
    anchors: Arc<Anchors>,
}

/// The rustls backend (rustls 0.23 with the aws-lc-rs crypto provider).
///
/// Its engines are sans-IO wrappers of `rustls::Connection`. See the crate documentation for
/// the modules that translate configuration, verification and the engine.
pub struct RustlsBackend {
    system_roots: Mutex<Option<SystemRoots>>,
    /// The rustls configurations built recently, shared by sessions with an equal
    /// configuration (see the `config` module).
    configs: ConfigCache,
}

impl RustlsBackend {
    /// Creates the backend. Cheap: nothing is loaded until an engine needs it.
    pub fn new() -> RustlsBackend {
        RustlsBackend {
            system_roots: Mutex::new(None),
            configs: ConfigCache::new(CACHE_SIZE),
        }
    }

    /// The cache of built configurations (only engine creation uses it).
    pub(crate) fn configs(&self) -> &ConfigCache {
        &self.configs
    }

    /// The system trust anchors for verification, loaded once and reloaded when `SSL_CERT_FILE`
    /// or `SSL_CERT_DIR` change. A store that cannot be read (or certificates webpki cannot use
    /// as anchors) contribute nothing: verification then reports the missing issuer, as an
    /// empty OpenSSL store would.
    pub(crate) fn system_trust_anchors(&self) -> Arc<Anchors> {
        let env = (
            std::env::var_os("SSL_CERT_FILE"),
            std::env::var_os("SSL_CERT_DIR"),
        );
        let mut cache = self
            .system_roots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match cache.as_ref() {
            Some(roots) if roots.env == env => Arc::clone(&roots.anchors),
            _ => {
                // An unreadable store trusts nothing; system_ca_certificates reports why.
                let ders = polytls_webpki::system_store_ders().unwrap_or_default();
                let anchors = Arc::new(Anchors::from_ders(ders.iter().map(Vec::as_slice)));
                *cache = Some(SystemRoots {
                    env,
                    anchors: Arc::clone(&anchors),
                });
                anchors
            }
        }
    }
}

impl Default for RustlsBackend {
    fn default() -> Self {
        RustlsBackend::new()
    }
}

/// `major << 24 | minor << 16 | patch << 8` for a `major.minor[.patch]` version; 0 when the
/// text is not such a version.
fn version_number(version: &str) -> u64 {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|part| part.parse::<u64>().ok());
    let major = parts.next().flatten();
    let minor = parts.next().flatten();
    let patch = parts.next().flatten().unwrap_or(0);
    match (major, minor) {
        (Some(major), Some(minor)) if major < 256 && minor < 256 && patch < 256 => {
            major << 24 | minor << 16 | patch << 8
        }
        _ => 0,
    }
}

impl TlsBackend for RustlsBackend {
    /// `"rustls"`.
    fn name(&self) -> &str {
        NAME
    }

    /// The rustls version built in (see [`RustlsBackend::library_version_string`]) as
    /// `major << 24 | minor << 16 | patch << 8`.
    fn library_version_number(&self) -> u64 {
        version_number(RUSTLS_VERSION)
    }

    /// `"rustls 0.23.N"` with the version resolved in the build's `Cargo.lock`; when the build
    /// script found no lock file, `"rustls 0.23 (requirement)"`. rustls has no run-time version
    /// API; being statically linked, the build version is the run-time version.
    fn library_version_string(&self) -> String {
        match RUSTLS_VERSION_SOURCE {
            "Cargo.lock" => format!("rustls {RUSTLS_VERSION}"),
            _ => format!("rustls {RUSTLS_VERSION} (requirement)"),
        }
    }

    /// `[Socket]`.
    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        vec![ImplementedClass::Socket]
    }

    /// Certificate verification, ALPN on both sides, optional client certificates and the
    /// whole local chain sent.
    fn supported_features(&self) -> Vec<SupportedFeature> {
        vec![
            SupportedFeature::CertificateVerification,
            SupportedFeature::ClientSideAlpn,
            SupportedFeature::ServerSideAlpn,
            SupportedFeature::OptionalClientCertificate,
            SupportedFeature::LocalCertificateChain,
        ]
    }

    /// TLS 1.2 and 1.3 selectors: `TlsV1_2`, `TlsV1_2OrLater`, `TlsV1_3`, `TlsV1_3OrLater`,
    /// `AnyProtocol` (= TLS 1.2 to 1.3) and `SecureProtocols`.
    fn supported_protocols(&self) -> Vec<SslProtocol> {
        PROTOCOLS.to_vec()
    }

    /// The cipher suites of the aws-lc-rs provider, in its preference order, each with the
    /// protocol it belongs to.
    fn supported_ciphers(&self) -> Vec<SslCipher> {
        rustls::crypto::aws_lc_rs::default_provider()
            .cipher_suites
            .iter()
            .map(crate::config::cipher_of_suite)
            .collect()
    }

    /// The system store as rustls-native-certs finds it (honouring `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`). Certificates polytls cannot parse are skipped.
    ///
    /// Fails with [`Error::Io`] when no certificate could be loaded and reading the store
    /// failed.
    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        polytls_webpki::system_store()
    }

    /// Verifies the chain with webpki and the `chain` module as a handshake does (the same
    /// problem reports), against the request's trust anchors or the system's, for the
    /// request's purpose (none: any extended key usage), at its time, with its depth, key
    /// strength and revocation lists (the leaf's status, which must be known; expired lists
    /// refused).
    ///
    /// Fails with [`Error::InvalidInput`] for an empty chain and [`Error::Certificate`] for a
    /// CRL webpki cannot read.
    fn verify_chain(&self, request: &ChainVerification<'_>) -> Result<Vec<SslError>, Error> {
        let Some((leaf, rest)) = request.chain.split_first() else {
            return Err(Error::InvalidInput(
                "an empty chain cannot be verified".into(),
            ));
        };
        let crls = request
            .crls
            .iter()
            .map(|crl| {
                OwnedCertRevocationList::from_der(crl.to_der())
                    .map(CertRevocationList::from)
                    .map_err(|e| Error::Certificate(format!("webpki cannot read a CRL: {e}")))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let checker = Checker {
            anchors: match request.ca_certificates {
                Some(list) => crate::config::anchors_of(list),
                None => self.system_trust_anchors(),
            },
            depth: request.depth,
            key_strength: request.key_strength,
            crls,
            strict: request.strict,
            cache: Default::default(),
        };
        let intermediates: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|cert| CertificateDer::from(cert.to_der()))
            .collect();
        let (_, host) = HostCheck::for_peer_name(request.host_name);
        let algorithms =
            rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        // webpki counts from 1970: an earlier time is taken as 1970.
        let time = match request.time {
            Some(time) => UnixTime::since_unix_epoch(
                time.duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
            None => UnixTime::now(),
        };
        let (_, mut errors) = checker.problems(
            &CertificateDer::from(leaf.to_der()),
            &intermediates,
            crate::chain::Role::of(request.purpose),
            &host,
            &algorithms,
            time,
        );
        for problem in request.policy_problems() {
            if !errors.contains(&problem) {
                errors.push(problem);
            }
        }
        Ok(errors)
    }

    /// An engine over a rustls client or server connection for the session. The rustls
    /// configuration is shared with recent sessions of an equal configuration (see the `config`
    /// module); the connection, server name and verification hook are the session's own.
    ///
    /// Fails with [`Error::Unsupported`] for a protocol, cipher suite or setting this backend
    /// cannot honour, [`Error::InvalidInput`] for a configuration rustls rejects (for example a
    /// cipher list with no suite usable by the selected versions), and [`Error::Key`] or
    /// [`Error::Certificate`] when rustls rejects the local key or certificate.
    fn new_tls_engine(&self, params: EngineParams<'_>) -> Result<Box<dyn TlsEngine>, Error> {
        polytls_core::backend::refuse_unclaimed(self, &params)?;
        let (connection, session) = crate::config::connection(self, &params)?;
        Ok(Box::new(crate::engine::RustlsEngine::new(
            connection,
            session,
            polytls_core::failure::Wording::new(params.config),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers() {
        assert_eq!(version_number("0.23.46"), 0x0017_2e00);
        assert_eq!(version_number("0.23"), 0x0017_0000);
        assert_eq!(version_number("garbage"), 0);
        assert!(RUSTLS_VERSION.starts_with("0.23"));
    }
}
