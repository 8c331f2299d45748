//! What both servers (blocking and tokio) share: the settings every new connection gets, the
//! limits on connections in flight, and the events that name the connection they concern.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::verification::HandshakeInterruption;
use crate::{
    Error, PreSharedKeyAuthenticator, Session, SslConfiguration, SslError, SslErrorsDecision,
    TlsBackend,
};

/// The handshake time limit of a new server (Qt's default is 5 seconds).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most handshakes a new server runs at once.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;

/// The most established connections a new server holds for `accept` (Qt's
/// `maxPendingConnections` default, 30).
pub const DEFAULT_MAX_PENDING_CONNECTIONS: usize = 30;

/// A server handler: the peer's address, and what the event carries.
type Handler<A> = Arc<dyn Fn(SocketAddr, A) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(SocketAddr, &SslError) + Send + Sync>;
type ErrorsHandler = Arc<dyn Fn(SocketAddr, &mut SslErrorsDecision<'_>) + Send + Sync>;
type InterruptionHandler = Arc<dyn Fn(SocketAddr, &mut HandshakeInterruption<'_>) + Send + Sync>;
type FailureHandler = Arc<dyn Fn(SocketAddr, &Error) + Send + Sync>;
type PskHandler = Arc<dyn Fn(SocketAddr, &mut PreSharedKeyAuthenticator) + Send + Sync>;
type AlertHandler = Arc<dyn Fn(SocketAddr, crate::AlertLevel, crate::AlertType) + Send + Sync>;

/// A server's handlers: each is called with the peer address of the connection it concerns,
/// from the task or thread that runs that connection's handshake.
#[derive(Clone, Default)]
pub(crate) struct ServerEvents {
    pub(crate) started_encryption_handshake: Option<Handler<()>>,
    pub(crate) peer_verify_error: Option<ErrorHandler>,
    pub(crate) ssl_errors: Option<ErrorsHandler>,
    pub(crate) interrupted: Option<InterruptionHandler>,
    pub(crate) pre_shared_key: Option<PskHandler>,
    pub(crate) alert_sent: Option<AlertHandler>,
    pub(crate) alert_received: Option<AlertHandler>,
    pub(crate) error_occurred: Option<FailureHandler>,
}

/// Everything a server hands each connection it accepts.
#[derive(Clone)]
pub(crate) struct ServerSettings {
    pub(crate) backend: Arc<dyn TlsBackend>,
    /// Shared by every connection accepted with it.
    pub(crate) config: Arc<SslConfiguration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) max_pending_connections: usize,
    pub(crate) events: ServerEvents,
}

impl ServerSettings {
    /// The defaults, with `backend` and the default configuration.
    pub(crate) fn new(backend: Arc<dyn TlsBackend>) -> ServerSettings {
        ServerSettings {
            backend,
            config: SslConfiguration::shared_default_configuration(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
            max_pending_connections: DEFAULT_MAX_PENDING_CONNECTIONS,
            events: ServerEvents::default(),
        }
    }

    /// A server session for the connection from `peer`: the server's configuration, and the
    /// server's verification handlers bound to `peer`. Reports the start of its handshake.
    pub(crate) fn session_for(&self, peer: SocketAddr) -> Session {
        let mut session = Session::new(Arc::clone(&self.backend));
        session.set_ssl_configuration(Arc::clone(&self.config));
        let events = &self.events;
        if let Some(handler) = events.peer_verify_error.clone() {
            session.on_peer_verify_error(move |error| handler(peer, error));
        }
        if let Some(handler) = events.ssl_errors.clone() {
            session.on_ssl_errors(move |decision| handler(peer, decision));
        }
        if let Some(handler) = events.interrupted.clone() {
            session.on_handshake_interrupted_on_error(move |stop| handler(peer, stop));
        }
        if let Some(handler) = events.pre_shared_key.clone() {
            session.on_pre_shared_key_authentication_required(move |auth| handler(peer, auth));
        }
        if let Some(handler) = events.alert_sent.clone() {
            session.on_alert_sent(move |level, kind| handler(peer, level, kind));
        }
        if let Some(handler) = events.alert_received.clone() {
            session.on_alert_received(move |level, kind| handler(peer, level, kind));
        }
        if let Some(handler) = &events.started_encryption_handshake {
            handler(peer, ());
        }
        session
    }

    /// Reports that the connection from `peer` failed with `error`.
    pub(crate) fn report(&self, peer: SocketAddr, error: &Error) {
        if let Some(handler) = &self.events.error_occurred {
            handler(peer, error);
        }
    }
}

/// Locks `mutex`, going on past a panic of another holder (every update the servers make
/// under a lock is one step).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A server's settings: its own copy, which its accessors read, and the copy its listener
/// hands each new connection, replaced whenever a change ends.
pub(crate) struct PublishedSettings {
    own: ServerSettings,
    published: Arc<Mutex<Arc<ServerSettings>>>,
}

impl PublishedSettings {
    /// Publishes `settings`.
    pub(crate) fn new(settings: ServerSettings) -> PublishedSettings {
        PublishedSettings {
            published: Arc::new(Mutex::new(Arc::new(settings.clone()))),
            own: settings,
        }
    }

    /// The settings as they are now.
    pub(crate) fn get(&self) -> &ServerSettings {
        &self.own
    }

    /// A change, published to new connections when the returned guard is dropped.
    pub(crate) fn change(&mut self) -> SettingsChange<'_> {
        SettingsChange { settings: self }
    }

    /// Where the listener finds the settings for a new connection.
    pub(crate) fn published(&self) -> Arc<Mutex<Arc<ServerSettings>>> {
        Arc::clone(&self.published)
    }
}

/// A change to a server's settings (see [`PublishedSettings::change`]).
pub(crate) struct SettingsChange<'a> {
    settings: &'a mut PublishedSettings,
}

impl Deref for SettingsChange<'_> {
    type Target = ServerSettings;

    fn deref(&self) -> &ServerSettings {
        &self.settings.own
    }
}

impl DerefMut for SettingsChange<'_> {
    fn deref_mut(&mut self) -> &mut ServerSettings {
        &mut self.settings.own
    }
}

impl Drop for SettingsChange<'_> {
    fn drop(&mut self) {
        *lock(&self.settings.published) = Arc::new(self.settings.own.clone());
    }
}

/// The accessors both servers offer for [`ServerSettings`]. The server implements
/// `settings()` (its copy) and `settings_mut()` (a guard that hands the change to the
/// connections accepted from then on).
macro_rules! server_settings_methods {
    () => {
        /// The name of the backend new connections use.
        pub fn backend_name(&self) -> &str {
            self.settings().backend.name()
        }

        /// The configuration new connections get.
        pub fn ssl_configuration(&self) -> &$crate::SslConfiguration {
            &self.settings().config
        }

        /// Replaces the configuration for connections accepted from now on (an
        /// [`SslConfiguration`](crate::SslConfiguration) or an `Arc` of one). The connections
        /// share it.
        pub fn set_ssl_configuration(
            &mut self,
            config: impl Into<std::sync::Arc<$crate::SslConfiguration>>,
        ) {
            self.settings_mut().config = config.into();
        }

        /// How long a client may take to complete its handshake (each connection has its own
        /// clock, started when it is accepted).
        pub fn handshake_timeout(&self) -> std::time::Duration {
            self.settings().handshake_timeout
        }

        /// Sets how long a client may take to complete its handshake.
        pub fn set_handshake_timeout(&mut self, timeout: std::time::Duration) {
            self.settings_mut().handshake_timeout = timeout;
        }

        /// The most handshakes run at once; while that many run, new clients wait in the
        /// listen queue.
        pub fn max_pending_handshakes(&self) -> usize {
            self.settings().max_pending_handshakes
        }

        /// Sets the most handshakes run at once (at least 1).
        pub fn set_max_pending_handshakes(&mut self, count: usize) {
            self.settings_mut().max_pending_handshakes = count.max(1);
        }

        /// The most established connections held for `accept` (Qt's
        /// `maxPendingConnections`); while that many wait, no new client is accepted, and the
        /// handshakes already running finish and join them.
        pub fn max_pending_connections(&self) -> usize {
            self.settings().max_pending_connections
        }

        /// Sets the most established connections held for `accept` (at least 1).
        pub fn set_max_pending_connections(&mut self, count: usize) {
            self.settings_mut().max_pending_connections = count.max(1);
        }

        /// Calls `handler` with the peer's address when a connection's handshake starts (Qt's
        /// `startedEncryptionHandshake`).
        pub fn on_started_encryption_handshake(
            &mut self,
            handler: impl Fn(std::net::SocketAddr) + Send + Sync + 'static,
        ) {
            self.settings_mut().events.started_encryption_handshake =
                Some(std::sync::Arc::new(move |peer, ()| handler(peer)));
        }

        /// Calls `handler` for each verification problem of a connection, as
        /// [`Session::on_peer_verify_error`](crate::Session::on_peer_verify_error) does, with
        /// the peer's address (Qt's `peerVerifyError`).
        pub fn on_peer_verify_error(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, &$crate::SslError) + Send + Sync + 'static,
        ) {
            self.settings_mut().events.peer_verify_error = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` with a connection's verification problems, as
        /// [`Session::on_ssl_errors`](crate::Session::on_ssl_errors) does, with the peer's
        /// address (Qt's `sslErrors`); it may ignore some or all of them.
        pub fn on_ssl_errors(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, &mut $crate::SslErrorsDecision<'_>)
                + Send
                + Sync
                + 'static,
        ) {
            self.settings_mut().events.ssl_errors = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` for each error a connection's handshake stops on, as
        /// [`Session::on_handshake_interrupted_on_error`](crate::Session::on_handshake_interrupted_on_error)
        /// does, with the peer's address (Qt's `handshakeInterruptedOnError`).
        pub fn on_handshake_interrupted_on_error(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, &mut $crate::HandshakeInterruption<'_>)
                + Send
                + Sync
                + 'static,
        ) {
            self.settings_mut().events.interrupted = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` when a connection's handshake negotiates a pre-shared key cipher
        /// suite, as
        /// [`Session::on_pre_shared_key_authentication_required`](crate::Session::on_pre_shared_key_authentication_required)
        /// does, with the peer's address (Qt's `preSharedKeyAuthenticationRequired`): it reads
        /// the client's identity and sets the key for it. With a handler the server may have
        /// no certificate (it then speaks only PSK suites); a backend that does not claim
        /// `Psk` fails each handshake with `Unsupported`.
        pub fn on_pre_shared_key_authentication_required(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, &mut $crate::PreSharedKeyAuthenticator)
                + Send
                + Sync
                + 'static,
        ) {
            self.settings_mut().events.pre_shared_key = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` with the peer's address and each alert a connection sends (Qt's
        /// `alertSent`), as [`Session::on_alert_sent`](crate::Session::on_alert_sent) does;
        /// the handler stays with the connection once it is accepted. A backend that does not
        /// claim `Alerts` fails each handshake with `Unsupported`.
        pub fn on_alert_sent(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, $crate::AlertLevel, $crate::AlertType)
                + Send
                + Sync
                + 'static,
        ) {
            self.settings_mut().events.alert_sent = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` with the peer's address and each alert a connection receives (Qt's
        /// `alertReceived`), as [`on_alert_sent`](Self::on_alert_sent) does for those sent.
        pub fn on_alert_received(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, $crate::AlertLevel, $crate::AlertType)
                + Send
                + Sync
                + 'static,
        ) {
            self.settings_mut().events.alert_received = Some(std::sync::Arc::new(handler));
        }

        /// Calls `handler` with the peer's address and the error when a connection fails
        /// before it is handed to `accept` (Qt's `errorOccurred`): a handshake that failed or
        /// ran out of time.
        pub fn on_error_occurred(
            &mut self,
            handler: impl Fn(std::net::SocketAddr, &$crate::Error) + Send + Sync + 'static,
        ) {
            self.settings_mut().events.error_occurred = Some(std::sync::Arc::new(handler));
        }
    };
}
pub(crate) use server_settings_methods;
