//! [`DimplBackend`]: what the dimpl backend is and claims (name, version, the Dtls class, the
//! DTLS protocols and cipher suites dimpl negotiates), and the factory of its engines.
//!
//! Every claim is backed by the engine and proved by the conformance suite: the class is Dtls
//! alone (dimpl has no TLS over streams), DtlsCookie is not claimed (see the crate
//! documentation), and no feature is claimed: the engine verifies the peer's leaf itself with
//! webpki (dimpl leaves verification to the embedder), but offers no chain verification
//! outside a handshake.

use std::sync::Mutex;

use polytls_core::{
    Certificate, DtlsEngine, DtlsEngineParams, Error, ImplementedClass, SslCipher, SslProtocol,
    SupportedFeature, TlsBackend,
};

use crate::engine::DimplDtlsEngine;

/// The backend's registry name.
pub(crate) const NAME: &str = "dimpl";

/// The dimpl series this crate depends on (the workspace requirement). dimpl has no version
/// API; being statically linked, the build version is the run-time version.
const DIMPL_SERIES: &str = "0.9";

/// The protocol selectors the engine accepts.
pub(crate) const PROTOCOLS: [SslProtocol; 4] = [
    SslProtocol::DtlsV1_2,
    SslProtocol::DtlsV1_2OrLater,
    SslProtocol::DtlsV1_3,
    SslProtocol::DtlsV1_3OrLater,
];

/// The certificate-based cipher suites dimpl 0.9 negotiates (IANA numbers), with the protocol
/// each belongs to. dimpl's PSK suite is left out: polytls' PSK is not wired to it.
const SUITES: [(u16, SslProtocol); 6] = [
    (0xc02c, SslProtocol::DtlsV1_2), // ECDHE_ECDSA_AES256_GCM_SHA384
    (0xc02b, SslProtocol::DtlsV1_2), // ECDHE_ECDSA_AES128_GCM_SHA256
    (0xcca9, SslProtocol::DtlsV1_2), // ECDHE_ECDSA_CHACHA20_POLY1305_SHA256
    (0x1301, SslProtocol::DtlsV1_3), // TLS_AES_128_GCM_SHA256
    (0x1302, SslProtocol::DtlsV1_3), // TLS_AES_256_GCM_SHA384
    (0x1303, SslProtocol::DtlsV1_3), // TLS_CHACHA20_POLY1305_SHA256
];

/// The dimpl backend: DTLS only, over the pure-Rust sans-IO `dimpl` crate.
pub struct DimplBackend {
    /// The system store's certificates (DER), loaded the first time a peer is verified
    /// without configured CA certificates.
    system: Mutex<Option<Vec<Vec<u8>>>>,
}

impl DimplBackend {
    /// Creates the backend. Cheap: nothing is loaded until an engine needs it.
    pub fn new() -> DimplBackend {
        DimplBackend {
            system: Mutex::new(None),
        }
    }

    /// The system store's certificates (DER), loaded once.
    pub(crate) fn system_anchor_ders(&self) -> Vec<Vec<u8>> {
        let mut cache = self.system.lock().unwrap_or_else(|p| p.into_inner());
        cache
            // An unreadable store trusts nothing; system_ca_certificates reports why.
            .get_or_insert_with(|| polytls_webpki::system_store_ders().unwrap_or_default())
            .clone()
    }
}

impl Default for DimplBackend {
    fn default() -> Self {
        DimplBackend::new()
    }
}

impl TlsBackend for DimplBackend {
    /// `"dimpl"`.
    fn name(&self) -> &str {
        NAME
    }

    /// `0.9` as `major << 24 | minor << 16`: the series required (the patch level is not
    /// known at run time).
    fn library_version_number(&self) -> u64 {
        9 << 16
    }

    /// `"dimpl 0.9 (requirement)"`.
    fn library_version_string(&self) -> String {
        format!("dimpl {DIMPL_SERIES} (requirement)")
    }

    /// `[Dtls]`: no TLS sockets, and not DtlsCookie (see the crate documentation).
    fn implemented_classes(&self) -> Vec<ImplementedClass> {
        vec![ImplementedClass::Dtls]
    }

    /// None. The engine verifies the peer in every handshake, but only its leaf (dimpl shows
    /// no more), so `CertificateVerification`, which promises [`TlsBackend::verify_chain`]
    /// over whole chains, is not claimed.
    fn supported_features(&self) -> Vec<SupportedFeature> {
        Vec::new()
    }

    /// The DTLS selectors dimpl honours exactly.
    fn supported_protocols(&self) -> Vec<SslProtocol> {
        PROTOCOLS.to_vec()
    }

    /// dimpl's ECDSA cipher suites.
    fn supported_ciphers(&self) -> Vec<SslCipher> {
        SUITES
            .iter()
            .map(|(id, protocol)| SslCipher::from_id(*id, *protocol))
            .collect()
    }

    /// The system store as rustls-native-certs finds it.
    ///
    /// Fails with [`Error::Io`] when no certificate could be loaded and reading the store
    /// failed.
    fn system_ca_certificates(&self) -> Result<Vec<Certificate>, Error> {
        polytls_webpki::system_store()
    }

    /// A dimpl association (see the `engine` module).
    ///
    /// Fails with [`Error::Unsupported`] for a protocol other than those the backend claims
    /// or a key other than ECDSA (the front end refuses the other unclaimed settings, a
    /// server in `QueryPeer` among them, before it gets here), with [`Error::InvalidInput`]
    /// for a server without an identity or an MTU dimpl refuses, and with
    /// [`Error::Certificate`] when no client certificate could be made.
    fn new_dtls_engine(&self, params: DtlsEngineParams<'_>) -> Result<Box<dyn DtlsEngine>, Error> {
        Ok(Box::new(DimplDtlsEngine::new(self, &params)?))
    }
}
