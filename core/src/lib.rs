//! polytls: one TLS and DTLS API over many TLS engines, chosen at run time.
//!
//! This is `polytls-core`; applications depend on the `polytls` crate, which re-exports it
//! and links the backends its features name (`polytls-openssl`, `polytls-rustls`, ...). A
//! program asks which backends are there and what each can do, picks one per process or per
//! socket, and uses one API for all of them. The model is Qt 6's network security classes:
//! [`SslSocket`] is `QSslSocket` (and, with the `tokio` feature, `tokio::TlsStream` is its
//! async twin; both run one [`Session`] driver), [`SslServer`] is `QSslServer`,
//! [`SslConfiguration`] is `QSslConfiguration`, [`Certificate`] and [`Key`] are
//! `QSslCertificate` and `QSslKey`, and the registry functions below are `QSslSocket`'s static
//! backend queries.
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! use std::io::{Read, Write};
//! use polytls::{SslSocket, SupportedFeature};
//!
//! // Which engines does this program have, and what can they do?
//! for name in polytls::available_backends() {
//!     let alpn = polytls::is_feature_supported(SupportedFeature::ClientSideAlpn, Some(&name));
//!     println!("{name}: ALPN {alpn}, {}", polytls::tls_library_version_string(Some(&name)));
//! }
//! // Choose one for the whole process (POLYTLS_BACKEND does the same from outside)...
//! polytls::set_active_backend("rustls");
//! // ...or for one socket only.
//! let mut socket = SslSocket::connect_to_host_encrypted_with("example.com", 443, Some("openssl"))?;
//! socket.write_all(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")?;
//! let mut reply = Vec::new();
//! socket.read_to_end(&mut reply)?;
//! # Ok(())
//! # }
//! ```
//!
//! Backends implement the traits in [`backend`]; the `polytls-conformance` crate proves what
//! they claim.

pub mod alert;
pub mod backend;
pub mod capability;
pub mod certificate;
pub mod cipher;
pub mod configuration;
pub mod context_cache;
mod der;
pub mod dtls;
pub mod error;
pub mod failure;
pub mod key;
pub mod mode;
pub mod peer_name;
pub mod policy;
pub mod protocol;
pub mod psk;
pub mod registry;
pub mod server;
pub mod session;
pub mod socket;
mod source;
pub mod ssl_error;
#[cfg(feature = "tokio")]
pub mod tokio;
mod verification;

pub use alert::{AlertLevel, AlertType};
pub use backend::{
    ChainVerification, EngineParams, PlaintextRead, SessionInfo, TlsBackend, TlsEngine,
    VerificationHook,
};
pub use capability::{ImplementedClass, SupportedFeature};
pub use certificate::{
    AlternativeName, Certificate, CertificateExtension, CertificateInfo, DigestAlgorithm,
    EncodingFormat, ExtensionValue, PatternSyntax, Pkcs12, SubjectInfo,
};
pub use cipher::SslCipher;
pub use configuration::{SslConfiguration, SslOption};
pub use dtls::{
    DatagramSocket, Dtls, DtlsClientVerifier, DtlsEngine, DtlsEngineParams, DtlsError, DtlsRead,
    GeneratorParameters, HandshakeState,
};
pub use error::Error;
pub use key::{EllipticCurve, Key, KeyAlgorithm, KeyFormat, KeyType};
pub use mode::{PeerVerifyMode, SslMode};
pub use peer_name::PeerName;
pub use policy::{Crl, KeyStrength, KeyUsage, Purpose};
pub use protocol::{ProtocolVersion, SslProtocol};
pub use psk::PreSharedKeyAuthenticator;
pub use registry::Registry;
pub use server::SslServer;
pub use session::{Session, DEFAULT_PENDING_LIMIT};
pub use socket::{
    ConnectOptions, ReadTimeout, SslSocket, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT,
};
pub use ssl_error::{SslError, SslErrorKind};
pub use verification::{HandshakeInterruption, SslErrorsDecision};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}

/// The names of the backends this program can use, in default priority order (openssl,
/// schannel, securetransport, then the others).
pub fn available_backends() -> Vec<String> {
    Registry::global().available_backends()
}

/// The name of the active backend, or `None` when no backend is available or when
/// `POLYTLS_BACKEND` names one that is not (creating an object without naming a backend then
/// fails with [`Error::UnknownBackend`], which names the variable and the available backends).
/// See [`Registry::active_backend`] for how it is chosen.
pub fn active_backend() -> Option<String> {
    Registry::global().active_backend()
}

/// Makes `name` the backend for objects created without naming one. Returns `false` for an
/// unknown or unavailable name, and once an object was created with a different active backend.
pub fn set_active_backend(name: &str) -> bool {
    Registry::global().set_active_backend(name)
}

/// The classes `backend` (or the active backend, for `None`) implements; empty for an unknown
/// name.
pub fn implemented_classes(backend: Option<&str>) -> Vec<ImplementedClass> {
    Registry::global().implemented_classes(backend)
}

/// Whether `backend` (or the active backend) implements `class`.
pub fn is_class_implemented(class: ImplementedClass, backend: Option<&str>) -> bool {
    Registry::global().is_class_implemented(class, backend)
}

/// The features `backend` (or the active backend) supports; empty for an unknown name.
pub fn supported_features(backend: Option<&str>) -> Vec<SupportedFeature> {
    Registry::global().supported_features(backend)
}

/// Whether `backend` (or the active backend) supports `feature`.
pub fn is_feature_supported(feature: SupportedFeature, backend: Option<&str>) -> bool {
    Registry::global().is_feature_supported(feature, backend)
}

/// The protocols `backend` (or the active backend) supports; empty for an unknown name.
pub fn supported_protocols(backend: Option<&str>) -> Vec<SslProtocol> {
    Registry::global().supported_protocols(backend)
}

/// Whether `backend` (or the active backend) supports `protocol`.
pub fn is_protocol_supported(protocol: SslProtocol, backend: Option<&str>) -> bool {
    Registry::global().is_protocol_supported(protocol, backend)
}

/// Whether `backend` (or the active backend) is available and can run TLS sockets.
pub fn supports_ssl(backend: Option<&str>) -> bool {
    is_class_implemented(ImplementedClass::Socket, backend)
}

fn with_backend<T: Default>(backend: Option<&str>, f: impl FnOnce(&dyn TlsBackend) -> T) -> T {
    Registry::global()
        .backend(backend)
        .map(|b| f(b.as_ref()))
        .unwrap_or_default()
}

/// The version number of the TLS library `backend` runs now; 0 for an unknown name.
pub fn tls_library_version_number(backend: Option<&str>) -> u64 {
    with_backend(backend, |b| b.library_version_number())
}

/// The version of the TLS library `backend` runs now, as text; empty for an unknown name.
pub fn tls_library_version_string(backend: Option<&str>) -> String {
    with_backend(backend, |b| b.library_version_string())
}

/// The version number of the TLS library `backend` was built against; 0 for an unknown name.
pub fn tls_library_build_version_number(backend: Option<&str>) -> u64 {
    with_backend(backend, |b| b.build_version_number())
}

/// The version of the TLS library `backend` was built against, as text; empty for an unknown
/// name.
pub fn tls_library_build_version_string(backend: Option<&str>) -> String {
    with_backend(backend, |b| b.build_version_string())
}

/// The trust anchors of the system as `backend` (or the active backend) finds them: what a
/// configuration whose `ca_certificates` is `None` trusts. Backends load them on first use.
///
/// Fails with [`Error::UnknownBackend`] / [`Error::NoBackend`] when there is no such backend,
/// and with [`Error::Io`] when the store cannot be read.
pub fn system_ca_certificates(backend: Option<&str>) -> Result<Vec<Certificate>, Error> {
    Registry::global()
        .backend(backend)?
        .system_ca_certificates()
}

/// Reads a DER certificate with `backend`'s own parser (the active backend for `None`): the
/// backend's Certificate class. Compare with [`Certificate::info`], polytls' own reading.
///
/// Fails with [`Error::Certificate`] when the backend rejects the input, [`Error::Unsupported`]
/// when it does not implement the Certificate class, and [`Error::UnknownBackend`] /
/// [`Error::NoBackend`] when there is no such backend.
pub fn certificate_info(der: &[u8], backend: Option<&str>) -> Result<CertificateInfo, Error> {
    Registry::global().backend(backend)?.certificate_info(der)
}
