//! The rustls backend of polytls, registered under the name `"rustls"`.
//!
//! Linking this crate makes [`RustlsBackend`] available to polytls' registry. The backend
//! translates polytls' contract into rustls 0.23 with the aws-lc-rs crypto provider; it holds
//! no TLS logic of its own:
//!
//! - [`backend`]: the [`TlsBackend`](polytls_core::TlsBackend) implementation: name, versions,
//!   claims and the engine factory.
//! - `config`: an [`SslConfiguration`](polytls_core::SslConfiguration) turned into a rustls client or
//!   server configuration, cached in the backend and shared by sessions with an equal
//!   configuration (the connection, server name and verification hook stay per session).
//! - `verify`: rustls' certificate verifier hooks, reporting webpki's findings as
//!   [`SslError`](polytls_core::SslError)s to the front end's verification hook.
//! - `chain`: every problem of a chain webpki rejected, named as OpenSSL names them, each
//!   link's signature proven, so that an ignore list lets through only what it names.
//! - `engine`: the [`TlsEngine`](polytls_core::TlsEngine) over a buffered `rustls::Connection`.
//!
//! ```
//! use polytls_core::SupportedFeature;
//!
//! let backend = polytls_rustls::RustlsBackend::new();
//! assert!(polytls_core::TlsBackend::supported_features(&backend)
//!     .contains(&SupportedFeature::ClientSideAlpn));
//! ```

pub mod backend;
mod chain;
mod config;
mod engine;
mod verify;

#[cfg(test)]
mod tests;

pub use backend::RustlsBackend;

polytls_core::register_backend!(crate::RustlsBackend::new());
