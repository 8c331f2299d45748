//! The dimpl backend of polytls, registered under the name `"dimpl"`: the Dtls class over
//! [dimpl](https://crates.io/crates/dimpl), a pure-Rust, sans-IO DTLS implementation
//! (DTLS 1.2 and 1.3, ECDSA certificates only).
//!
//! Linking this crate makes [`DimplBackend`] available to polytls' registry. It implements
//! nothing but DTLS associations (no TLS sockets, no key or certificate parsing of its own):
//!
//! - [`backend`]: the [`TlsBackend`](polytls_core::TlsBackend) implementation: name, version,
//!   claims and the engine factory.
//! - `engine`: the [`DtlsEngine`](polytls_core::DtlsEngine) over `dimpl::Dtls`.
//! - `reassembly`: the peer's fragmented plaintext handshake messages made whole before
//!   dimpl sees them (dimpl 0.9 cannot complete a message a retransmission cut differently).
//! - `verify`: the peer's certificate verified with webpki (dimpl leaves verification to the
//!   embedder), its problems reported as [`SslError`](polytls_core::SslError)s.
//!
//! What it does not do, and why:
//!
//! - DtlsCookie is not claimed: dimpl 0.9 has no entry point for a ClientHello whose cookie
//!   was verified elsewhere. Its server expects the first ClientHello at message sequence 0
//!   unless it sent the HelloVerifyRequest itself (a hello verified by core's
//!   `DtlsClientVerifier` has sequence 1), and then numbers its own messages as after a
//!   fresh hello. A server on this backend must turn `dtls_cookie_verification_enabled` off.
//! - dimpl surfaces the peer's leaf certificate only: the peer chain of a session is that
//!   leaf, and a peer whose leaf is not issued directly by a trusted CA fails verification.
//!   It sends only a leaf of its own, so the backend does not claim `LocalCertificateChain`:
//!   a local chain longer than its leaf is refused with `Unsupported` (it used to be cut to
//!   its leaf without a word).
//! - A server in `QueryPeer` (what `AutoVerifyPeer`, the default, means on a server) is
//!   refused with `Unsupported`: dimpl either requires a client certificate or does not ask
//!   for one, so the backend does not claim `OptionalClientCertificate`; a dimpl server runs
//!   in `VerifyNone` or `VerifyPeer`. A `VerifyPeer` server refuses a client without a
//!   certificate even when `NoPeerCertificate` is ignored (dimpl ends the handshake itself).
//! - A client without a certificate of its own answers a server's request with a throwaway
//!   self-signed one (dimpl always answers a CertificateRequest with a certificate).
//! - A refused peer gets no alert: dimpl has no way to send one during a handshake.
//!
//! ```
//! use polytls_core::{ImplementedClass, TlsBackend};
//!
//! let backend = polytls_dimpl::DimplBackend::new();
//! assert_eq!(backend.implemented_classes(), vec![ImplementedClass::Dtls]);
//! ```

pub mod backend;
mod engine;
mod reassembly;
mod verify;

pub use backend::DimplBackend;

polytls_core::register_backend!(crate::DimplBackend::new());
