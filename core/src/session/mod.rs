//! [`Session`]: one TLS connection's state, and the sans-IO driver both front ends run.
//!
//! Everything between the socket API and the engine lives here once: the state machine
//! (unencrypted, handshaking, encrypted, closed, failed), the queue of data written before the
//! handshake ends, the verification decision (ignore lists and handlers), events, and
//! close_notify and truncation. The driver performs no I/O of its own: each call is handed the
//! transport as a `Read + Write` that may block (the blocking [`SslSocket`](crate::SslSocket)
//! passes its stream) or may fail with `WouldBlock` (the tokio stream passes a non-blocking
//! view of its transport). Either way a call can be repeated after `WouldBlock` and nothing it
//! accepted is lost.
//!
//! Users meet a `Session` through a front end, which dereferences to it: every setting and
//! every fact of the connection (`set_peer_verify_name`, `on_ssl_errors`, `session_cipher`,
//! ...) is a method here, the same on both front ends.
//!
//! ```no_run
//! # fn main() -> Result<(), polytls::Error> {
//! use polytls::{PeerVerifyMode, SslSocket};
//!
//! let mut socket = SslSocket::new(std::net::TcpStream::connect("example.com:443")?)?;
//! // These are `Session` methods, reached through the socket.
//! socket.set_peer_verify_mode(PeerVerifyMode::VerifyPeer);
//! socket.set_peer_verify_name("example.com");
//! socket.start_client_encryption()?;
//! socket.handshake()?;
//! println!("{:?}", socket.session_cipher());
//! # Ok(())
//! # }
//! ```

mod decision;
mod driver;
mod engine;
mod events;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::verification::HandshakeInterruption;
use crate::{
    AlertLevel, AlertType, Certificate, Key, PeerVerifyMode, PreSharedKeyAuthenticator,
    SessionInfo, SslCipher, SslConfiguration, SslError, SslErrorsDecision, SslMode, SslProtocol,
    TlsBackend,
};
use decision::Decision;
use engine::Engine;
use events::Events;

/// The default for [`Session::set_pending_write_limit`]: 1 MiB.
pub const DEFAULT_PENDING_LIMIT: usize = 1 << 20;

/// Where the connection is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Plain bytes pass straight through.
    Unencrypted,
    /// The engine exists and the handshake has not finished.
    Handshaking,
    /// Application data flows through the engine.
    Encrypted,
    /// This side sent close_notify: no more writes.
    Closed,
    /// The session failed; the message says why.
    Failed(String),
}

/// What the handshake agreed on, as the session keeps it: the version and suite inline, the
/// rarer facts apart (an idle connection with neither keeps one pointer for them).
#[derive(Debug)]
struct Negotiated {
    protocol: SslProtocol,
    cipher: Option<SslCipher>,
    rare: Option<Box<Rare>>,
}

/// The ALPN protocol and the PSK identity, when the handshake agreed on either.
#[derive(Debug)]
struct Rare {
    alpn_protocol: Option<Vec<u8>>,
    psk_identity: Option<Vec<u8>>,
}

impl Default for Negotiated {
    /// Nothing agreed on yet: `UnknownProtocol`, no suite.
    fn default() -> Negotiated {
        Negotiated {
            protocol: SslProtocol::UnknownProtocol,
            cipher: None,
            rare: None,
        }
    }
}

impl Negotiated {
    /// What `info` says was agreed on (its peer chain aside).
    fn of(info: &SessionInfo) -> Negotiated {
        let rare = (info.alpn_protocol.is_some() || info.psk_identity.is_some()).then(|| {
            Box::new(Rare {
                alpn_protocol: info.alpn_protocol.clone(),
                psk_identity: info.psk_identity.clone(),
            })
        });
        Negotiated {
            protocol: info.protocol,
            cipher: info.cipher,
            rare,
        }
    }

    /// The PSK identity, when a pre-shared key authenticated the session.
    fn psk_identity(&self) -> Option<&[u8]> {
        self.rare.as_ref()?.psk_identity.as_deref()
    }

    /// The ALPN protocol agreed on, if any.
    fn alpn_protocol(&self) -> Option<&[u8]> {
        self.rare.as_ref()?.alpn_protocol.as_deref()
    }
}

/// Plaintext written during the handshake, sent in order once it completes.
#[derive(Debug)]
struct Pending {
    /// `data[sent..]` is not yet handed to the engine.
    data: Vec<u8>,
    sent: usize,
    /// The most plaintext `data[sent..]` may hold.
    limit: usize,
}

impl Pending {
    /// Bytes still to hand to the engine.
    fn queued(&self) -> usize {
        self.data.len() - self.sent
    }
}

/// One TLS connection: its configuration, state, verification decision and events, and the
/// facts of its session once established.
///
/// A `Session` is reached through a front end ([`SslSocket`](crate::SslSocket), or the tokio
/// stream behind the `tokio` feature), which dereferences to it; the front end adds the
/// transport and the calls that move bytes.
pub struct Session {
    backend: Arc<dyn TlsBackend>,
    /// Shared with other connections (and servers) until a setter here changes it.
    config: Arc<SslConfiguration>,
    mode: SslMode,
    state: State,
    engine: Option<Engine>,
    pending: Pending,
    peer_verify_name: Option<String>,
    verification: Decision,
    negotiated: Negotiated,
    /// Set once the handshake completed: the peer's chain is left in the engine, which holds
    /// it anyway, and read from it the first time it is asked for (an idle connection whose
    /// chain nobody reads keeps no copy). Before, `peer_chain` holds what a refused
    /// handshake's peer sent.
    chain_in_engine: bool,
    peer_chain: std::sync::OnceLock<Vec<Certificate>>,
    /// The transport reached end of stream.
    transport_eof: bool,
    events: Events,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("backend", &self.backend.name())
            .field("mode", &self.mode)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// An unencrypted connection that will use `backend` and the default configuration.
    pub(crate) fn new(backend: Arc<dyn TlsBackend>) -> Session {
        Session {
            backend,
            config: SslConfiguration::shared_default_configuration(),
            mode: SslMode::UnencryptedMode,
            state: State::Unencrypted,
            engine: None,
            pending: Pending {
                data: Vec::new(),
                sent: 0,
                limit: DEFAULT_PENDING_LIMIT,
            },
            peer_verify_name: None,
            verification: Decision::default(),
            negotiated: Negotiated::default(),
            chain_in_engine: false,
            peer_chain: std::sync::OnceLock::new(),
            transport_eof: false,
            events: Events::default(),
        }
    }

    /// Sets the most plaintext queued while the handshake runs (default
    /// [`DEFAULT_PENDING_LIMIT`], 1 MiB; at least 1 byte is always accepted). Data already
    /// queued stays queued.
    pub fn set_pending_write_limit(&mut self, bytes: usize) {
        self.pending.limit = bytes.max(1);
    }

    /// The most plaintext queued while the handshake runs.
    pub fn pending_write_limit(&self) -> usize {
        self.pending.limit
    }

    /// The name of the backend this connection uses.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    // ---- configuration ------------------------------------------------------------------

    /// The configuration the next handshake will use.
    pub fn ssl_configuration(&self) -> &SslConfiguration {
        &self.config
    }

    /// Replaces the configuration for the next handshake. It takes an [`SslConfiguration`] or
    /// an `Arc<SslConfiguration>`: connections that are handed clones of one `Arc` share the
    /// configuration instead of each holding a copy (the setters below copy it first, for this
    /// connection only).
    pub fn set_ssl_configuration(&mut self, config: impl Into<Arc<SslConfiguration>>) {
        self.config = config.into();
    }

    /// The configuration the next handshake will use, shared.
    pub fn shared_ssl_configuration(&self) -> Arc<SslConfiguration> {
        Arc::clone(&self.config)
    }

    /// The configuration, for a change that concerns this connection only (copied first if it
    /// is shared).
    fn config_mut(&mut self) -> &mut SslConfiguration {
        Arc::make_mut(&mut self.config)
    }

    /// Sets the local certificate chain (leaf first).
    pub fn set_local_certificate_chain(&mut self, chain: Vec<Certificate>) {
        self.config_mut().local_certificate_chain = chain;
    }

    /// The local certificate chain (leaf first).
    pub fn local_certificate_chain(&self) -> &[Certificate] {
        &self.config.local_certificate_chain
    }

    /// The local leaf certificate, if any.
    pub fn local_certificate(&self) -> Option<&Certificate> {
        self.config.local_certificate()
    }

    /// Sets the private key of the local certificate.
    pub fn set_private_key(&mut self, key: Key) {
        self.config_mut().private_key = Some(key);
    }

    /// The private key of the local certificate, if any.
    pub fn private_key(&self) -> Option<&Key> {
        self.config.private_key.as_ref()
    }

    /// Sets whether and how the peer's certificate is verified.
    pub fn set_peer_verify_mode(&mut self, mode: PeerVerifyMode) {
        self.config_mut().peer_verify_mode = mode;
    }

    /// How the peer's certificate is verified.
    pub fn peer_verify_mode(&self) -> PeerVerifyMode {
        self.config.peer_verify_mode
    }

    /// Sets the longest peer chain accepted (0: no limit).
    pub fn set_peer_verify_depth(&mut self, depth: u32) {
        self.config_mut().peer_verify_depth = depth;
    }

    /// The longest peer chain accepted (0: no limit).
    pub fn peer_verify_depth(&self) -> u32 {
        self.config.peer_verify_depth
    }

    /// Sets the name the server's certificate is verified against (and sent as SNI), instead
    /// of the host connected to: a host name or an IP literal, read as
    /// [`PeerName::parse`](crate::PeerName::parse) reads it when the handshake starts (which
    /// refuses a name that is not one).
    pub fn set_peer_verify_name(&mut self, name: impl Into<String>) {
        self.peer_verify_name = Some(name.into());
    }

    /// The name the server's certificate is verified against, if set.
    pub fn peer_verify_name(&self) -> Option<&str> {
        self.peer_verify_name.as_deref()
    }

    // ---- verification decisions and events ------------------------------------------------

    /// Ignores every verification error of the coming handshake (Qt's `ignoreSslErrors()`).
    pub fn ignore_ssl_errors(&mut self) {
        self.verification.shared().ignore_all();
    }

    /// Ignores exactly these errors (kind and certificate); any other error still fails the
    /// handshake.
    pub fn ignore_ssl_errors_list(&mut self, errors: &[SslError]) {
        self.verification.shared().ignore_list(errors);
    }

    /// Calls `handler` for each verification problem as it is found, during the handshake.
    pub fn on_peer_verify_error(&mut self, handler: impl FnMut(&SslError) + Send + 'static) {
        self.verification
            .shared()
            .set_peer_verify_error_handler(Box::new(handler));
    }

    /// With `handshake_must_interrupt_on_error` set (Qt's early error reporting), calls
    /// `handler` during the handshake for each verification error not ignored beforehand, one
    /// at a time; the handshake goes on past an error only if the handler calls
    /// [`continue_handshake`](HandshakeInterruption::continue_handshake) (Qt's
    /// `continueInterruptedHandshake()`), and otherwise fails with
    /// [`Error::Verification`](crate::Error::Verification). The
    /// [`on_ssl_errors`](Self::on_ssl_errors) handler is not asked in this mode. Works with
    /// every backend: engines report problems synchronously, from inside the handshake.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use polytls::{SslConfiguration, SslErrorKind, SslSocket};
    ///
    /// let mut config = SslConfiguration::default_configuration();
    /// config.handshake_must_interrupt_on_error = true;
    /// let mut socket = SslSocket::new(std::net::TcpStream::connect("device.local:443")?)?;
    /// socket.set_ssl_configuration(config);
    /// socket.set_peer_verify_name("device.local");
    /// socket.on_handshake_interrupted_on_error(|stop| {
    ///     // Decide now, with the handshake held: here, accept only an expired certificate.
    ///     if stop.error().kind() == SslErrorKind::CertificateExpired {
    ///         stop.continue_handshake();
    ///     }
    /// });
    /// socket.start_client_encryption()?;
    /// socket.handshake()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_handshake_interrupted_on_error(
        &mut self,
        handler: impl FnMut(&mut HandshakeInterruption<'_>) + Send + 'static,
    ) {
        self.verification
            .shared()
            .set_interruption_handler(Box::new(handler));
    }

    /// Calls `handler` with the list of verification problems, during the handshake; it may
    /// ignore some or all of them. The handshake continues only if all are ignored.
    pub fn on_ssl_errors(
        &mut self,
        handler: impl FnMut(&mut SslErrorsDecision<'_>) + Send + 'static,
    ) {
        self.verification
            .shared()
            .set_ssl_errors_handler(Box::new(handler));
    }

    /// Calls `handler` when the handshake negotiates a pre-shared key cipher suite (Qt's
    /// `preSharedKeyAuthenticationRequired`), from inside the handshake: a client's handler
    /// reads the server's [`identity_hint`](PreSharedKeyAuthenticator::identity_hint) and sets
    /// its identity and key, a server's handler reads the client's
    /// [`identity`](PreSharedKeyAuthenticator::identity) and sets the key for it. PSK suites
    /// are offered and accepted only when a handler is set before encryption starts (the
    /// suites are chosen then: one set later is never called), in TLS 1.2 and DTLS 1.2 (a
    /// TLS 1.3 handshake uses certificates, as in Qt), and only by a backend that claims
    /// [`SupportedFeature::Psk`](crate::SupportedFeature::Psk): others refuse the handshake
    /// with [`Error::Unsupported`](crate::Error::Unsupported). A server with a handler may have
    /// no certificate; it then speaks only PSK suites.
    ///
    /// A handler that gives no key, or an identity or key longer than the maximums the
    /// authenticator states, fails the handshake with an error saying so; a handler that
    /// panics fails it as a verification handler does. A PSK session carries no certificate:
    /// a side that verifies its peer (`VerifyPeer`, a client's default) gets
    /// [`NoPeerCertificate`](crate::SslErrorKind::NoPeerCertificate) to ignore or refuse, as in
    /// Qt; the key is what authenticated the peer, so a PSK-only client sets `VerifyNone` or
    /// ignores that one error. See the [`psk`](crate::psk) module for an example.
    pub fn on_pre_shared_key_authentication_required(
        &mut self,
        handler: impl FnMut(&mut PreSharedKeyAuthenticator) + Send + 'static,
    ) {
        self.verification
            .shared()
            .set_pre_shared_key_handler(Box::new(handler));
    }

    /// Calls `handler` with each alert this side sends (Qt's `alertSent`): its level and
    /// description (whose `Display` gives its name and code), close_notify included. It runs
    /// once the engine call during which the alert went out returns, before the handshake
    /// step, read or close that made that call returns to the caller; an alert that goes out
    /// while writing is reported by the next of those. A handler set while the connection
    /// runs hears the alerts from then on. Only a backend that claims
    /// [`SupportedFeature::Alerts`](crate::SupportedFeature::Alerts) reports alerts; with a
    /// handler set, others refuse to start encryption with
    /// [`Error::Unsupported`](crate::Error::Unsupported) (one set after the start is never
    /// called on them).
    ///
    /// ```no_run
    /// # fn watch(socket: &mut polytls::SslSocket<std::net::TcpStream>) {
    /// socket.on_alert_sent(|level, kind| eprintln!("sent {level:?} alert {kind}"));
    /// socket.on_alert_received(|level, kind| eprintln!("received {level:?} alert {kind}"));
    /// # }
    /// ```
    pub fn on_alert_sent(&mut self, handler: impl FnMut(AlertLevel, AlertType) + Send + 'static) {
        self.events.set().alert_sent = Some(Box::new(handler));
        self.verification.shared().hear_alerts();
    }

    /// Calls `handler` with each alert the peer sends (Qt's `alertReceived`), as
    /// [`on_alert_sent`](Self::on_alert_sent) does for the alerts this side sends.
    pub fn on_alert_received(
        &mut self,
        handler: impl FnMut(AlertLevel, AlertType) + Send + 'static,
    ) {
        self.events.set().alert_received = Some(Box::new(handler));
        self.verification.shared().hear_alerts();
    }

    /// Calls `handler` once the handshake has completed.
    pub fn on_encrypted(&mut self, handler: impl FnMut() + Send + 'static) {
        self.events.set().encrypted = Some(Box::new(handler));
    }

    /// Calls `handler` when the connection's mode changes.
    pub fn on_mode_changed(&mut self, handler: impl FnMut(SslMode) + Send + 'static) {
        self.events.set().mode_changed = Some(Box::new(handler));
    }

    /// Calls `handler` with the number of ciphertext bytes each time some are written to the
    /// transport.
    pub fn on_encrypted_bytes_written(&mut self, handler: impl FnMut(usize) + Send + 'static) {
        self.events.set().encrypted_bytes_written = Some(Box::new(handler));
    }

    // ---- state -----------------------------------------------------------------------------

    /// Whether the connection is unencrypted, a TLS client or a TLS server.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Whether the handshake has completed and the session is open.
    pub fn is_encrypted(&self) -> bool {
        self.state == State::Encrypted
    }

    /// The negotiated protocol version, or `UnknownProtocol` before the handshake completes.
    pub fn session_protocol(&self) -> SslProtocol {
        self.negotiated.protocol
    }

    /// The negotiated cipher suite, if the handshake completed.
    pub fn session_cipher(&self) -> Option<SslCipher> {
        self.negotiated.cipher
    }

    /// The PSK identity of the session (the one the client sent) when a pre-shared key
    /// authenticated it; `None` otherwise, and before the handshake completes.
    pub fn pre_shared_key_identity(&self) -> Option<&[u8]> {
        self.negotiated.psk_identity()
    }

    /// The peer's leaf certificate, if it sent one.
    pub fn peer_certificate(&self) -> Option<&Certificate> {
        self.peer_certificate_chain().first()
    }

    /// The certificates the peer sent, leaf first.
    pub fn peer_certificate_chain(&self) -> &[Certificate] {
        if !self.chain_in_engine {
            return self.peer_chain.get().map_or(&[], Vec::as_slice);
        }
        self.peer_chain.get_or_init(|| {
            self.engine
                .as_ref()
                .map(|engine| engine.session().peer_chain)
                .unwrap_or_default()
        })
    }

    /// The ALPN protocol both sides agreed on, if any.
    pub fn negotiated_application_protocol(&self) -> Option<&[u8]> {
        self.negotiated.alpn_protocol()
    }

    /// The verification problems found in the last handshake, ignored or not.
    pub fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.verification.found()
    }
}
