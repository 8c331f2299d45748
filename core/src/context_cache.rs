//! [`ContextCache`]: the library contexts (an OpenSSL `SslContext`, a rustls configuration)
//! that sessions with an equal configuration share, for every backend that builds one.
//!
//! Building a context parses the private key, the local chain and the trust anchors; done per
//! session it costs more than the handshake itself. A backend keeps one `ContextCache` and asks
//! it for each new engine's context. The key is everything a context is built from: the mode,
//! the verification mode (with `AutoVerifyPeer` resolved), the whole [`SslConfiguration`], and
//! an extra part the backend chooses (where the system trust store was found, say), so that a
//! change to any of them builds a new context.
//!
//! ```
//! use polytls_core::context_cache::ContextCache;
//!
//! // The contexts of a backend whose extra key part is a generation number.
//! static CONTEXTS: ContextCache<u64, std::sync::Arc<String>> = ContextCache::new(16);
//! assert!(CONTEXTS.is_empty());
//! ```

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::{EngineParams, Error, PeerVerifyMode, SslConfiguration, SslMode};

/// One cached context and what it was built from.
struct Entry<X, V> {
    mode: SslMode,
    verify_mode: PeerVerifyMode,
    config: SslConfiguration,
    extra: X,
    value: V,
}

impl<X: PartialEq, V> Entry<X, V> {
    /// Whether this entry was built for `params` and `extra` (compared without cloning them).
    fn matches(&self, params: &EngineParams<'_>, extra: &X) -> bool {
        self.mode == params.mode
            && self.verify_mode == params.verify_mode.resolve(params.mode)
            && self.extra == *extra
            && self.config == *params.config
    }
}

/// The most recently used contexts of a backend, at most `capacity`, each shared by every
/// session whose parameters are equal. Its lock is taken only to look up and to insert, never
/// while a context is built or a session runs; failures are not cached. An evicted context
/// lives on for the sessions that hold it.
pub struct ContextCache<X, V> {
    /// Most recently used first.
    entries: Mutex<VecDeque<Entry<X, V>>>,
    capacity: usize,
}

impl<X, V> std::fmt::Debug for ContextCache<X, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextCache")
            .field("len", &self.lock().len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<X, V> ContextCache<X, V> {
    /// An empty cache holding at most `capacity` contexts (at least one).
    pub const fn new(capacity: usize) -> ContextCache<X, V> {
        ContextCache {
            entries: Mutex::new(VecDeque::new()),
            capacity: if capacity == 0 { 1 } else { capacity },
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry<X, V>>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many contexts are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no context is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl<X: PartialEq, V: Clone> ContextCache<X, V> {
    /// The context for `params` and `extra`: the cached one (now the most recently used), or
    /// the one `build` makes, cached for the next session. When two threads build the same
    /// context at once, both get the one cached first.
    ///
    /// Fails as `build` does; a failure is not cached.
    pub fn get_or_build(
        &self,
        params: &EngineParams<'_>,
        extra: X,
        build: impl FnOnce(&X) -> Result<V, Error>,
    ) -> Result<V, Error> {
        if let Some(value) = self.lookup(params, &extra) {
            return Ok(value);
        }
        let value = build(&extra)?;
        let mut entries = self.lock();
        if let Some(position) = entries.iter().position(|e| e.matches(params, &extra)) {
            return Ok(entries[position].value.clone());
        }
        entries.push_front(Entry {
            mode: params.mode,
            verify_mode: params.verify_mode.resolve(params.mode),
            config: params.config.clone(),
            extra,
            value: value.clone(),
        });
        entries.truncate(self.capacity);
        Ok(value)
    }

    /// The cached context for `params` and `extra`, moved to the front.
    fn lookup(&self, params: &EngineParams<'_>, extra: &X) -> Option<V> {
        let mut entries = self.lock();
        let position = entries.iter().position(|e| e.matches(params, extra))?;
        let entry = entries.remove(position)?;
        let value = entry.value.clone();
        entries.push_front(entry);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Certificate, SslError, VerificationHook};

    struct Accept;

    impl VerificationHook for Accept {
        fn decide(&self, _: &[Certificate], _: Vec<SslError>) -> bool {
            true
        }
    }

    fn params(config: &SslConfiguration, mode: SslMode) -> EngineParams<'_> {
        EngineParams::new(mode, config, None, Arc::new(Accept))
    }

    #[test]
    fn equal_parameters_share_one_context_and_any_difference_builds_another() {
        let cache: ContextCache<u8, Arc<u32>> = ContextCache::new(4);
        let config = SslConfiguration::default_configuration();
        let builds = std::cell::Cell::new(0u32);
        let build = |_: &u8| {
            builds.set(builds.get() + 1);
            Ok(Arc::new(builds.get()))
        };
        let client = params(&config, SslMode::SslClientMode);
        let a = cache.get_or_build(&client, 0, build).unwrap();
        let b = cache.get_or_build(&client, 0, build).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // The extra part, the mode and the configuration are each part of the key.
        let c = cache.get_or_build(&client, 1, build).unwrap();
        let server = params(&config, SslMode::SslServerMode);
        let d = cache.get_or_build(&server, 0, build).unwrap();
        let other = SslConfiguration {
            peer_verify_depth: 3,
            ..config.clone()
        };
        let e = cache
            .get_or_build(&params(&other, SslMode::SslClientMode), 0, build)
            .unwrap();
        assert_eq!(
            [*a, *c, *d, *e],
            [1, 2, 3, 4],
            "each difference built its own"
        );
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn the_least_recently_used_is_evicted_and_failures_are_not_cached() {
        let cache: ContextCache<u8, u8> = ContextCache::new(2);
        let config = SslConfiguration::default_configuration();
        let client = params(&config, SslMode::SslClientMode);
        cache.get_or_build(&client, 1, |x| Ok(*x)).unwrap();
        cache.get_or_build(&client, 2, |x| Ok(*x)).unwrap();
        // 1 is used again, so 2 is the least recently used when 3 arrives.
        cache
            .get_or_build(&client, 1, |_| panic!("1 is cached"))
            .unwrap();
        cache.get_or_build(&client, 3, |x| Ok(*x)).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_or_build(&client, 2, |_| Ok(20)).unwrap(), 20);
        let failed = cache.get_or_build(&client, 4, |_| Err(Error::InvalidInput("no".into())));
        assert!(failed.is_err());
        assert_eq!(cache.get_or_build(&client, 4, |_| Ok(40)).unwrap(), 40);
    }
}
