//! The OpenSSL contexts shared by sessions with an equal configuration.
//!
//! Building an `SslContext` parses the private key, the local chain and the trust anchors and
//! allocates a certificate store; done per session it cost more than the handshake itself.
//! [`context_for`] hands every engine with the same parameters the same context instead (an
//! `SslContext` is reference-counted and safe to use from several threads), through core's
//! [`ContextCache`], which the rustls backend uses too.
//!
//! - **Shared** (the context, built by `config::build_context`): protocol range and security
//!   level, cipher lists, options and modes, local certificate chain and private key, trust
//!   store and client CA names, ALPN list and selection, the certificate-verify callback (which
//!   finds everything it needs through the `Ssl`), the session id context, DH parameters and
//!   the session-ticket keys.
//! - **Per session** (set on the `Ssl` by the engine and `verify::install`): the verification
//!   state and hook (extra data), the verify mode and callback, the host name or IP address the
//!   peer's certificate must match, the SNI name, the connect or accept state.
//!
//! The key is everything the context is built from: the mode, the verify mode with
//! `AutoVerifyPeer` resolved, the whole [`SslConfiguration`](polytls_core::SslConfiguration), and, when the context trusts the
//! system's CA certificates, where OpenSSL finds them (`SSL_CERT_FILE` / `SSL_CERT_DIR`), so
//! that changing those takes effect for new sessions as before. The cache holds the
//! [`CAPACITY`] most recently used contexts; an evicted context lives on until its last session
//! ends. Its lock is taken only when an engine is created (never while a session reads or
//! writes), and not while a context is built. Failures are not cached.
//!
//! The cached configuration includes the private key, which the cached context holds in parsed
//! form anyway (as every live session's context did before).
//!
//! Because servers with an equal configuration now share their session-ticket keys, a server
//! context refuses every ticket (see `config::build_context`): a session of one polytls server
//! must not be resumed on another, which would skip that one's verification hook.

use std::path::PathBuf;

use openssl::ssl::SslContext;
use polytls_core::context_cache::ContextCache;
use polytls_core::{EngineParams, Error, PeerVerifyMode};

use crate::config::build_context;
use crate::verify;

/// The most contexts the cache holds.
pub(crate) const CAPACITY: usize = 16;

/// Where OpenSSL finds the system trust anchors: (CA file, CA directories).
type SystemLocations = (Option<PathBuf>, Vec<PathBuf>);

/// The cached contexts; the extra part of the key is where the system trust store was found,
/// when the context trusts it.
static CONTEXTS: ContextCache<Option<SystemLocations>, SslContext> = ContextCache::new(CAPACITY);

/// The cached DTLS contexts, keyed as the TLS ones (a separate cache: a DTLS context is
/// built by `dtls::build_context`).
static DTLS_CONTEXTS: ContextCache<Option<SystemLocations>, SslContext> =
    ContextCache::new(CAPACITY);

/// The system trust store's locations when a context for `params` trusts it.
fn system_trust(params: &EngineParams<'_>) -> Option<SystemLocations> {
    (params.verify_mode == PeerVerifyMode::VerifyPeer && params.config.ca_certificates.is_none())
        .then(verify::default_locations)
}

/// The context for a session with these parameters: the cached one, or a new one (then
/// cached).
///
/// Fails as `config::build_context` does.
pub(crate) fn context_for(params: &EngineParams<'_>) -> Result<SslContext, Error> {
    CONTEXTS.get_or_build(params, system_trust(params), |_| build_context(params))
}

/// The DTLS context for an association with these parameters: the cached one, or a new one
/// (then cached).
///
/// Fails as `dtls::build_context` does.
pub(crate) fn dtls_context_for(params: &EngineParams<'_>) -> Result<SslContext, Error> {
    DTLS_CONTEXTS.get_or_build(params, system_trust(params), |_| {
        crate::dtls::build_context(params)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use foreign_types::ForeignType;
    use polytls_core::{EngineParams, SslConfiguration, SslMode, VerificationHook};

    use super::*;

    struct Accept;

    impl VerificationHook for Accept {
        fn decide(&self, _: &[polytls_core::Certificate], _: Vec<polytls_core::SslError>) -> bool {
            true
        }
    }

    fn context(mode: SslMode, config: &SslConfiguration) -> SslContext {
        let name = polytls_core::PeerName::parse("localhost").expect("a valid name");
        let params = EngineParams::new(mode, config, Some(&name), Arc::new(Accept));
        context_for(&params).expect("context")
    }

    #[test]
    fn equal_parameters_share_a_context_and_the_cache_is_bounded() {
        // A configuration no other test uses, so that parallel tests cannot evict it between
        // the two look-ups below.
        let config = SslConfiguration {
            allowed_next_protocols: vec![b"context-cache-test".to_vec()],
            ..SslConfiguration::default()
        };
        let first = context(SslMode::SslClientMode, &config);
        let again = context(SslMode::SslClientMode, &config);
        assert_eq!(first.as_ptr(), again.as_ptr());

        let server = context(SslMode::SslServerMode, &config);
        assert_ne!(first.as_ptr(), server.as_ptr());
        let mut other = config.clone();
        other.allowed_next_protocols.push(b"h2".to_vec());
        assert_ne!(
            first.as_ptr(),
            context(SslMode::SslClientMode, &other).as_ptr()
        );

        for n in 0..=CAPACITY {
            let mut filler = config.clone();
            filler.allowed_next_protocols = vec![format!("filler-{n}").into_bytes()];
            context(SslMode::SslClientMode, &filler);
        }
        assert!(CONTEXTS.len() <= CAPACITY);
    }
}
