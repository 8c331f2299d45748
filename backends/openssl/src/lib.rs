//! The OpenSSL backend of polytls, registered under the name `"openssl"`.
//!
//! Linking this crate makes the backend available to [`polytls_core`]: it registers itself at link
//! time, so `polytls_core::available_backends()` lists `"openssl"` and sockets can be created with it.
//! The crate is a translation table between OpenSSL (through the `openssl` crate) and polytls'
//! backend contract:
//!
//! - `alert`: OpenSSL's info callback, reporting the alerts a session sends and receives;
//! - `backend`: [`OpenSslBackend`], what the library is and can do;
//! - `config`: an [`SslConfiguration`](polytls_core::SslConfiguration) turned into an OpenSSL context;
//! - `context_cache`: the contexts shared by sessions with an equal configuration;
//! - `engine`: one TLS session as a sans-IO [`TlsEngine`](polytls_core::TlsEngine);
//! - `certificate` and `key`: the Certificate and Key classes, OpenSSL's parsers and encoders
//!   (and PKCS#12 import) behind polytls' backend-neutral values;
//! - `psk`: OpenSSL's pre-shared key callbacks asking the front end's handler for the key;
//! - `verify`: OpenSSL's certificate verification results turned into
//!   [`SslError`](polytls_core::SslError)s for the front end's decision.
//!
//! Behaviour worth knowing: a server whose ALPN list shares no protocol with the client's
//! aborts the handshake with a `no_application_protocol` alert; host names are matched against
//! the certificate's subject alternative names only (never the subject's common name), without
//! partial wildcards such as `f*.example.com`.

mod alert;
mod backend;
mod certificate;
mod config;
mod context_cache;
mod dtls;
mod engine;
mod key;
mod psk;
mod verify;

#[cfg(test)]
mod tests;

pub use backend::OpenSslBackend;

polytls_core::register_backend!(crate::OpenSslBackend::new());
