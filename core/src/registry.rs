//! The backend registry: which backends this process has, which one is active, and what each
//! can do (Qt's `QSslSocket::availableBackends()` family).
//!
//! Backend crates register themselves at link time through [`register_backend!`]; more can be
//! added at run time with [`Registry::register`]. The crate-root functions
//! ([`available_backends`](crate::available_backends) and friends) query [`Registry::global`].
//! A fresh `Registry` can be built for tests.
//!
//! [`register_backend!`]: crate::register_backend

use std::sync::{Arc, OnceLock, RwLock};

use crate::{Error, ImplementedClass, SslProtocol, SupportedFeature, TlsBackend};

/// A backend compiled into the program, collected at link time. Created by
/// [`register_backend!`](crate::register_backend); not meant to be built by hand.
#[doc(hidden)]
pub struct StaticBackend {
    /// Builds the backend the first time the global registry is used.
    pub factory: fn() -> Arc<dyn TlsBackend>,
}

inventory::collect!(StaticBackend);

/// Registers a backend type with every program that links its crate.
///
/// The argument is an expression of a type implementing [`TlsBackend`], evaluated once, the
/// first time the global registry is used.
///
/// ```ignore
/// polytls::register_backend!(MyBackend::new());
/// ```
#[macro_export]
macro_rules! register_backend {
    ($backend:expr) => {
        $crate::__private::inventory::submit! {
            $crate::registry::StaticBackend {
                factory: || ::std::sync::Arc::new($backend),
            }
        }
    };
}

/// The environment variable that names the default backend.
pub const BACKEND_ENV: &str = "POLYTLS_BACKEND";

/// The default priority: Qt's order, then every other backend, those with TLS sockets first,
/// in registration order.
const PRIORITY: [&str; 3] = ["openssl", "schannel", "securetransport"];

#[derive(Default)]
struct State {
    backends: Vec<Arc<dyn TlsBackend>>,
    /// Set by `set_active_backend`.
    chosen: Option<String>,
    /// The backend objects were created with, once one was: it cannot change after that.
    in_use: Option<String>,
}

/// A set of backends and the choice of the active one.
#[derive(Default)]
pub struct Registry {
    state: RwLock<State>,
    /// The default named by the environment, read once.
    env_default: Option<String>,
}

impl Registry {
    /// An empty registry that ignores the environment (for tests and custom setups).
    pub fn new() -> Registry {
        Registry::default()
    }

    /// An empty registry whose default backend is `name`, as [`global`](Self::global) takes it
    /// from [`BACKEND_ENV`]: it wins over the priority order. When it names no available
    /// backend, and no backend was set with [`set_active_backend`](Self::set_active_backend),
    /// there is no active backend: [`backend`](Self::backend) with `None`, and so creating an
    /// object without naming a backend, fails with [`Error::UnknownBackend`] naming the
    /// variable and the available backends.
    pub fn with_default_backend(name: Option<&str>) -> Registry {
        Registry {
            env_default: name.map(str::to_owned),
            ..Registry::default()
        }
    }

    /// The process-wide registry, holding every backend linked into the program and
    /// honouring [`BACKEND_ENV`].
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let registry = Registry {
                env_default: std::env::var(BACKEND_ENV).ok().filter(|s| !s.is_empty()),
                ..Registry::default()
            };
            for entry in inventory::iter::<StaticBackend> {
                // Two crates registering one name is a packaging mistake: keep the first.
                let _ = registry.register((entry.factory)());
            }
            registry
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a backend at run time; it shows up in every query from now on.
    ///
    /// Fails with [`Error::InvalidInput`] when a backend of that name is already registered.
    pub fn register(&self, backend: Arc<dyn TlsBackend>) -> Result<(), Error> {
        let mut state = self.write();
        if state.backends.iter().any(|b| b.name() == backend.name()) {
            return Err(Error::InvalidInput(format!(
                "a backend named '{}' is already registered",
                backend.name()
            )));
        }
        state.backends.push(backend);
        // Qt's order first; then backends that have TLS sockets before those that do not (a
        // DTLS-only backend is never the default for a TLS socket while another is there).
        let rank = |b: &Arc<dyn TlsBackend>| {
            let qt = PRIORITY
                .iter()
                .position(|p| *p == b.name())
                .unwrap_or(PRIORITY.len());
            let sockets = b.implemented_classes().contains(&ImplementedClass::Socket);
            (qt, !sockets)
        };
        // Stable: backends of equal rank keep their registration order.
        state.backends.sort_by_key(rank);
        Ok(())
    }

    /// The names of the available backends, in default priority order.
    pub fn available_backends(&self) -> Vec<String> {
        Self::available_names(&self.read())
    }

    fn available(state: &State, name: &str) -> Option<Arc<dyn TlsBackend>> {
        state
            .backends
            .iter()
            .find(|b| b.name() == name && b.is_available())
            .cloned()
    }

    /// The active backend's name, or why there is none: the backend objects were created
    /// with, else the chosen one, else the one the environment names (an error when it names
    /// no available backend), else the first available by priority.
    fn resolve(&self, state: &State) -> Result<String, Error> {
        let explicit = [state.in_use.as_deref(), state.chosen.as_deref()];
        if let Some(name) = explicit
            .into_iter()
            .flatten()
            .find(|name| Self::available(state, name).is_some())
        {
            return Ok(name.to_owned());
        }
        if let Some(name) = self.env_default.as_deref() {
            return match Self::available(state, name) {
                Some(_) => Ok(name.to_owned()),
                None => Err(Error::UnknownBackend {
                    name: name.to_owned(),
                    variable: Some(BACKEND_ENV.to_owned()),
                    available: Self::available_names(state),
                }),
            };
        }
        state
            .backends
            .iter()
            .find(|b| b.is_available())
            .map(|b| b.name().to_owned())
            .ok_or(Error::NoBackend)
    }

    fn available_names(state: &State) -> Vec<String> {
        state
            .backends
            .iter()
            .filter(|b| b.is_available())
            .map(|b| b.name().to_owned())
            .collect()
    }

    /// The name of the active backend: the one objects were already created with, else the
    /// one set with [`set_active_backend`](Self::set_active_backend), else the one
    /// [`BACKEND_ENV`] names, else the first available by priority.
    ///
    /// `None` when no backend is available, and when [`BACKEND_ENV`] names a backend that is
    /// not available (and none was set or used): a typo in the variable is not replaced by
    /// another backend. [`backend`](Self::backend) with `None` says why, as an
    /// [`Error::UnknownBackend`] naming the variable and the available backends.
    pub fn active_backend(&self) -> Option<String> {
        self.resolve(&self.read()).ok()
    }

    /// Makes `name` the active backend. Returns `false` (and changes nothing) when no
    /// available backend has that name, or when objects were already created with another
    /// active backend.
    pub fn set_active_backend(&self, name: &str) -> bool {
        let mut state = self.write();
        if Self::available(&state, name).is_none() {
            return false;
        }
        match &state.in_use {
            Some(in_use) => in_use == name,
            None => {
                state.chosen = Some(name.to_owned());
                true
            }
        }
    }

    /// The backend named `name`, or the active one for `None`, without fixing the choice.
    ///
    /// Fails with [`Error::UnknownBackend`] for an unknown or unavailable name, with
    /// [`Error::NoBackend`] when `None` is asked and nothing is available, and with
    /// [`Error::UnknownBackend`] naming [`BACKEND_ENV`] when `None` is asked, no backend was
    /// set or used, and the variable names a backend that is not available.
    pub fn backend(&self, name: Option<&str>) -> Result<Arc<dyn TlsBackend>, Error> {
        let state = self.read();
        let name = match name {
            Some(name) => name.to_owned(),
            None => self.resolve(&state)?,
        };
        Self::available(&state, &name).ok_or_else(|| Error::UnknownBackend {
            name,
            variable: None,
            available: Self::available_names(&state),
        })
    }

    /// The backend an object is about to be created with: `name`, or the active backend for
    /// `None`, in which case the active backend can no longer change.
    ///
    /// Fails as [`backend`](Self::backend) does.
    pub fn backend_for_new_object(&self, name: Option<&str>) -> Result<Arc<dyn TlsBackend>, Error> {
        if name.is_some() {
            return self.backend(name);
        }
        let mut state = self.write();
        let active = self.resolve(&state)?;
        let backend = Self::available(&state, &active).ok_or(Error::NoBackend)?;
        state.in_use = Some(active);
        Ok(backend)
    }

    fn query<T>(&self, name: Option<&str>, f: impl FnOnce(&dyn TlsBackend) -> Vec<T>) -> Vec<T> {
        self.backend(name)
            .map(|b| f(b.as_ref()))
            .unwrap_or_default()
    }

    /// The classes the backend implements; empty for an unknown name.
    pub fn implemented_classes(&self, name: Option<&str>) -> Vec<ImplementedClass> {
        self.query(name, |b| b.implemented_classes())
    }

    /// Whether the backend implements `class`.
    pub fn is_class_implemented(&self, class: ImplementedClass, name: Option<&str>) -> bool {
        self.implemented_classes(name).contains(&class)
    }

    /// The features the backend supports; empty for an unknown name.
    pub fn supported_features(&self, name: Option<&str>) -> Vec<SupportedFeature> {
        self.query(name, |b| b.supported_features())
    }

    /// Whether the backend supports `feature`.
    pub fn is_feature_supported(&self, feature: SupportedFeature, name: Option<&str>) -> bool {
        self.supported_features(name).contains(&feature)
    }

    /// The protocols the backend supports; empty for an unknown name.
    pub fn supported_protocols(&self, name: Option<&str>) -> Vec<SslProtocol> {
        self.query(name, |b| b.supported_protocols())
    }

    /// Whether the backend supports `protocol`.
    pub fn is_protocol_supported(&self, protocol: SslProtocol, name: Option<&str>) -> bool {
        self.supported_protocols(name).contains(&protocol)
    }
}
