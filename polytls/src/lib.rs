//! polytls: one TLS API for Rust programs that need more than one TLS engine.
//!
//! This crate is what applications depend on. It re-exports the whole of `polytls-core`
//! (sockets, servers, DTLS, certificates, keys, the registry) and links the backends named by
//! its features, so that the set-up is one line of `Cargo.toml`:
//!
//! ```toml
//! polytls = { version = "0.1", features = ["openssl", "rustls", "tokio"] }
//! ```
//!
//! | feature | what it adds |
//! |---|---|
//! | `rustls` (default) | the rustls backend, registered as `"rustls"` |
//! | `openssl` | the OpenSSL backend, registered as `"openssl"` (needs OpenSSL's headers to build) |
//! | `dimpl` | the dimpl backend, registered as `"dimpl"`: DTLS only, pure Rust, ECDSA certificates (needs Rust 1.85) |
//! | `tokio` | the async front end, [`tokio::TlsStream`] and [`tokio::SslServer`] |
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! println!("{:?}", polytls::available_backends());
//! let socket = polytls::SslSocket::connect_to_host_encrypted("example.com", 443)?;
//! # let _ = socket;
//! # Ok(())
//! # }
//! ```

#[doc(inline)]
pub use polytls_core::*;

// Naming a backend crate is what makes the linker keep it, and with it its registration.
#[cfg(feature = "dimpl")]
use polytls_dimpl as _;
#[cfg(feature = "openssl")]
use polytls_openssl as _;
#[cfg(feature = "rustls")]
use polytls_rustls as _;
