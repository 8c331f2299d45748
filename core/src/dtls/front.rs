//! [`Dtls`]: one DTLS association over a datagram socket ([`DatagramSocket`]: std's or tokio's
//! `UdpSocket`), after Qt's `QDtls`.
//!
//! The front end owns what Qt's `QDtls` owns: the peer's address and verification name, the
//! handshake state, the MTU hint, the server's cookie parameters, the retransmission timer and
//! the verification decision. The decision is the one [`SslSocket`](crate::SslSocket) uses
//! (ignore lists, the errors handler), with Qt's DTLS twist: errors nobody ignored do not end
//! the handshake at once but leave it in [`HandshakeState::PeerVerificationFailed`], from where
//! the caller ignores them and [`resume_handshake`](Dtls::resume_handshake)s, or
//! [`abort_handshake`](Dtls::abort_handshake)s. Nothing is encrypted or decrypted before the
//! decision.
//!
//! Every call checks Qt's preconditions first, in Qt's order, and records the outcome as a
//! [`DtlsError`] kind with a message ([`dtls_error`](Dtls::dtls_error),
//! [`dtls_error_string`](Dtls::dtls_error_string)); a successful call clears it. The
//! application reads datagrams from the socket itself and hands those from the peer to
//! [`do_handshake`](Dtls::do_handshake) or [`decrypt_datagram`](Dtls::decrypt_datagram); while
//! the handshake runs it waits at most [`timeout`](Dtls::timeout) for one, and calls
//! [`handle_timeout`](Dtls::handle_timeout) when none came.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::cookie::Check;
use super::engine::{DtlsEngine, DtlsEngineParams, DtlsRead};
use super::route::{Route, Via};
use super::DatagramSocket;
use super::{
    check_peer_address, DtlsClientVerifier, DtlsError, GeneratorParameters, HandshakeState,
};
use crate::verification::Verification;
use crate::{
    Certificate, Error, ImplementedClass, PeerName, PeerVerifyMode, PreSharedKeyAuthenticator,
    Registry, SessionInfo, SslCipher, SslConfiguration, SslError, SslErrorKind, SslErrorsDecision,
    SslMode, SslProtocol, TlsBackend, VerificationHook,
};

/// The smallest MTU an engine is given (OpenSSL's and RFC 6347's floor).
pub const MIN_MTU: u16 = 256;
/// An Ethernet MTU, from which IP and UDP headers are taken when no hint is set.
const LINK_MTU: u16 = 1500;

type TimeoutHandler = Box<dyn FnMut() + Send>;

/// The engine's view of the verification decision: the decision is recorded, and the
/// handshake goes on on the wire either way (the front end withholds the association until
/// the errors are ignored), except when a handler panicked, which refuses the peer at once.
struct DtlsHook(Verification);

impl VerificationHook for DtlsHook {
    /// The TLS socket's decision (the blacklist included), then the exception above.
    fn decide(&self, peer_chain: &[Certificate], errors: Vec<SslError>) -> bool {
        VerificationHook::decide(&self.0, peer_chain, errors) || !self.0.has_panic()
    }

    fn pre_shared_key(&self, authenticator: &mut PreSharedKeyAuthenticator) -> bool {
        self.0.pre_shared_key(authenticator)
    }
}

/// One DTLS association (Qt's `QDtls`); see the module documentation.
pub struct Dtls {
    backend: Arc<dyn TlsBackend>,
    mode: SslMode,
    config: SslConfiguration,
    peer: Option<SocketAddr>,
    route: Route,
    verification_name: Option<String>,
    mtu_hint: u16,
    /// Made on first use (a server verifying cookies, or the parameters asked for): a client
    /// or a server without cookie verification never draws its secret.
    cookies: std::cell::OnceCell<DtlsClientVerifier>,
    engine: Option<Box<dyn DtlsEngine>>,
    /// The last send left datagrams queued because the socket would block.
    unsent: bool,
    state: HandshakeState,
    verification: Verification,
    peer_errors: Vec<SslError>,
    session: SessionInfo,
    error: DtlsError,
    error_string: String,
    on_timeout: Option<TimeoutHandler>,
}

impl std::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls")
            .field("backend", &self.backend.name())
            .field("mode", &self.mode)
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Dtls {
    /// An association for `mode` on the active backend, with the default DTLS configuration
    /// ([`SslConfiguration::default_dtls_configuration`]).
    ///
    /// Fails with [`Error::NoBackend`] when there is no backend, with [`Error::InvalidInput`]
    /// for `UnencryptedMode`, and with [`Error::Unsupported`] when the backend does not
    /// implement the Dtls class.
    pub fn new(mode: SslMode) -> Result<Dtls, Error> {
        let backend = Registry::global().backend_for_new_object(None)?;
        Dtls::with_backend_object(mode, backend)
    }

    /// An association for `mode` on the backend named `backend`.
    ///
    /// Fails as [`new`](Self::new) does, and with [`Error::UnknownBackend`] for an unknown
    /// name.
    pub fn with_backend(mode: SslMode, backend: &str) -> Result<Dtls, Error> {
        let backend = Registry::global().backend(Some(backend))?;
        Dtls::with_backend_object(mode, backend)
    }

    /// An association for `mode` on `backend` directly (for backends that are not
    /// registered).
    ///
    /// Fails as [`new`](Self::new) does.
    pub fn with_backend_object(mode: SslMode, backend: Arc<dyn TlsBackend>) -> Result<Dtls, Error> {
        if mode == SslMode::UnencryptedMode {
            return Err(Error::InvalidInput(
                "a DTLS association is a client or a server".into(),
            ));
        }
        if !backend
            .implemented_classes()
            .contains(&ImplementedClass::Dtls)
        {
            return Err(Error::unsupported(backend.name(), "DTLS"));
        }
        Ok(Dtls {
            backend,
            mode,
            config: SslConfiguration::default_dtls_configuration(),
            peer: None,
            route: Route::default(),
            verification_name: None,
            mtu_hint: 0,
            cookies: std::cell::OnceCell::new(),
            engine: None,
            unsent: false,
            state: HandshakeState::HandshakeNotStarted,
            verification: Verification::default(),
            peer_errors: Vec::new(),
            session: SessionInfo::new(),
            error: DtlsError::NoError,
            error_string: String::new(),
            on_timeout: None,
        })
    }

    // ---- errors ---------------------------------------------------------------------------

    fn fail(&mut self, kind: DtlsError, error: Error) -> Error {
        self.error = kind;
        self.error_string = error.to_string();
        error
    }

    fn invalid_operation(&mut self, message: &str) -> Error {
        self.fail(
            DtlsError::InvalidOperation,
            Error::InvalidState(message.into()),
        )
    }

    fn invalid_input(&mut self, message: &str) -> Error {
        self.fail(
            DtlsError::InvalidInputParameters,
            Error::InvalidInput(message.into()),
        )
    }

    fn clear_error(&mut self) {
        self.error = DtlsError::NoError;
        self.error_string.clear();
    }

    /// The kind of the last error, or [`DtlsError::NoError`] after a successful call.
    pub fn dtls_error(&self) -> DtlsError {
        self.error
    }

    /// The last error as text, or an empty string.
    pub fn dtls_error_string(&self) -> &str {
        &self.error_string
    }

    // ---- setup ----------------------------------------------------------------------------

    /// Client or server.
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// The name of the backend this association runs on.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// Sets the peer's address and port, and (when given) the name its certificate is
    /// verified against (Qt's `setPeer`). Without a name, a client verifies the address.
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) once the
    /// handshake started, and with [`Error::InvalidInput`]
    /// ([`DtlsError::InvalidInputParameters`]) for an unspecified, broadcast or multicast
    /// address.
    pub fn set_peer(
        &mut self,
        address: IpAddr,
        port: u16,
        verification_name: Option<&str>,
    ) -> Result<(), Error> {
        if self.state != HandshakeState::HandshakeNotStarted {
            return Err(self.invalid_operation("Cannot set peer after handshake started"));
        }
        if let Err(e) = check_peer_address(address) {
            return Err(self.fail(DtlsError::InvalidInputParameters, e));
        }
        self.clear_error();
        self.peer = Some(SocketAddr::new(address, port));
        self.route.peer_changed();
        self.verification_name = verification_name.map(str::to_owned);
        Ok(())
    }

    /// The peer's address, once set.
    pub fn peer_address(&self) -> Option<IpAddr> {
        self.peer.map(|p| p.ip())
    }

    /// The peer's port, or 0.
    pub fn peer_port(&self) -> u16 {
        self.peer.map_or(0, |p| p.port())
    }

    /// The name the peer's certificate is verified against, if one was set.
    pub fn peer_verification_name(&self) -> Option<&str> {
        self.verification_name.as_deref()
    }

    /// Sets the name the peer's certificate is verified against (Qt's
    /// `setPeerVerificationName`).
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) once the
    /// handshake started.
    pub fn set_peer_verification_name(&mut self, name: &str) -> Result<(), Error> {
        if self.state != HandshakeState::HandshakeNotStarted {
            return Err(
                self.invalid_operation("Cannot set verification name after handshake started")
            );
        }
        self.clear_error();
        self.verification_name = Some(name.to_owned());
        Ok(())
    }

    /// Sets the path MTU (the largest IP packet), discovered or guessed; 0 (the default)
    /// means 1500. It takes effect at the next handshake; the engine subtracts IP and UDP
    /// headers and never goes below 256 bytes per datagram.
    pub fn set_mtu_hint(&mut self, mtu: u16) {
        self.mtu_hint = mtu;
    }

    /// Declares whether the socket given to every call from now on is connected to the peer
    /// ([`UdpSocket::connect`](std::net::UdpSocket::connect) to the address
    /// [`set_peer`](Self::set_peer) named), so that datagrams go out with `send` instead of
    /// `send_to`: the kernel then skips a route lookup per datagram (over loopback on Linux,
    /// the difference between 0.93 and 0.98 of OpenSSL's own throughput on a connected
    /// socket). Off by default, which works with any socket. polytls checks the claim
    /// (`getpeername`) the first time a socket is used and whenever another one is given.
    ///
    /// ```no_run
    /// # fn client() -> Result<(), polytls::Error> {
    /// use std::net::UdpSocket;
    /// use polytls::{Dtls, SslMode};
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0")?;
    /// socket.connect("192.0.2.10:4433")?;
    /// let mut dtls = Dtls::new(SslMode::SslClientMode)?;
    /// dtls.set_peer("192.0.2.10".parse().unwrap(), 4433, Some("example.com"))?;
    /// dtls.set_socket_connected(true);
    /// dtls.do_handshake(&socket, &[])?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A call that sends on a socket declared connected but connected to another address,
    /// or to none, fails with [`Error::InvalidInput`] ([`DtlsError::InvalidInputParameters`])
    /// naming the peer (and the other address), and sends nothing. On a platform that gives
    /// no descriptor to tell sockets apart, datagrams go out with `send_to` all the same.
    pub fn set_socket_connected(&mut self, connected: bool) {
        self.route.set_connected(connected);
    }

    /// Whether the sockets are declared connected to the peer
    /// ([`set_socket_connected`](Self::set_socket_connected)); false by default.
    pub fn socket_connected(&self) -> bool {
        self.route.connected()
    }

    /// The MTU hint, or 0 when none was set.
    pub fn mtu_hint(&self) -> u16 {
        self.mtu_hint
    }

    /// The largest datagram the engine may send to this peer.
    fn datagram_mtu(&self) -> u16 {
        let link = if self.mtu_hint == 0 {
            LINK_MTU
        } else {
            self.mtu_hint
        };
        let headers = match self.peer.map(|p| p.ip()) {
            Some(IpAddr::V6(_)) => 48,
            _ => 28,
        };
        link.saturating_sub(headers).max(MIN_MTU)
    }

    /// Sets the secret and hash a server checks cookies with; a server verifies a
    /// ClientHello's cookie itself when cookie verification is on (the default), so this
    /// must match the [`DtlsClientVerifier`] in front of it when that one has its own.
    ///
    /// Fails with [`Error::InvalidInput`] ([`DtlsError::InvalidInputParameters`]) for an
    /// empty secret.
    pub fn set_cookie_generator_parameters(
        &mut self,
        params: GeneratorParameters,
    ) -> Result<(), Error> {
        match self
            .cookie_verifier()
            .set_cookie_generator_parameters(params)
        {
            Ok(()) => {
                self.clear_error();
                Ok(())
            }
            Err(e) => Err(self.fail(DtlsError::InvalidInputParameters, e)),
        }
    }

    /// The secret and hash cookies are checked with.
    pub fn cookie_generator_parameters(&self) -> GeneratorParameters {
        self.cookies
            .get_or_init(DtlsClientVerifier::new)
            .cookie_generator_parameters()
    }

    /// The association's own cookie verifier, made on first use.
    fn cookie_verifier(&mut self) -> &mut DtlsClientVerifier {
        self.cookies.get_or_init(DtlsClientVerifier::new);
        self.cookies
            .get_mut()
            .expect("the cookie verifier was just made")
    }

    /// Replaces the configuration (Qt's `setDtlsConfiguration`).
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) once the
    /// handshake started, and with [`Error::InvalidInput`]
    /// ([`DtlsError::InvalidInputParameters`]) when `config.protocol` is not a DTLS selector
    /// (a TLS configuration given to a datagram association); the configuration in place
    /// stays then.
    pub fn set_dtls_configuration(&mut self, config: SslConfiguration) -> Result<(), Error> {
        if self.state != HandshakeState::HandshakeNotStarted {
            return Err(self.invalid_operation("Cannot set configuration after handshake started"));
        }
        if !config.protocol.is_dtls() {
            return Err(self.invalid_input(&format!(
                "Invalid protocol version {}: a DTLS protocol is expected",
                config.protocol
            )));
        }
        self.clear_error();
        self.config = config;
        Ok(())
    }

    /// The configuration.
    pub fn dtls_configuration(&self) -> &SslConfiguration {
        &self.config
    }

    // ---- verification ---------------------------------------------------------------------

    /// Ignores the errors equal (kind and certificate) to one of `errors` in this
    /// association's handshakes, before the handshake or once it stopped in
    /// [`HandshakeState::PeerVerificationFailed`] (then [`resume_handshake`](Self::resume_handshake)).
    pub fn ignore_verification_errors(&mut self, errors: &[SslError]) {
        self.verification.ignore_list(errors);
    }

    /// Calls `handler` with the verification problems during the handshake; it may ignore
    /// them (as [`Session::on_ssl_errors`](crate::Session::on_ssl_errors) does).
    pub fn on_ssl_errors(
        &mut self,
        handler: impl FnMut(&mut SslErrorsDecision<'_>) + Send + 'static,
    ) {
        self.verification.set_ssl_errors_handler(Box::new(handler));
    }

    /// Calls `handler` for each verification problem as it is found.
    pub fn on_peer_verify_error(&mut self, handler: impl FnMut(&SslError) + Send + 'static) {
        self.verification
            .set_peer_verify_error_handler(Box::new(handler));
    }

    /// Calls `handler` when the handshake negotiates a pre-shared key cipher suite (Qt's
    /// `pskRequired`), as
    /// [`Session::on_pre_shared_key_authentication_required`](crate::Session::on_pre_shared_key_authentication_required)
    /// does for TLS: PSK suites are offered and accepted only with a handler, on a backend that
    /// claims [`SupportedFeature::Psk`](crate::SupportedFeature::Psk) (others refuse the
    /// handshake with [`Error::Unsupported`]), and a server with a handler may have no
    /// certificate. A side that verifies its peer stops a PSK handshake in
    /// [`HandshakeState::PeerVerificationFailed`] with
    /// [`NoPeerCertificate`](crate::SslErrorKind::NoPeerCertificate), to ignore and resume.
    pub fn on_pre_shared_key_authentication_required(
        &mut self,
        handler: impl FnMut(&mut PreSharedKeyAuthenticator) + Send + 'static,
    ) {
        self.verification
            .set_pre_shared_key_handler(Box::new(handler));
    }

    /// Calls `handler` each time [`handle_timeout`](Self::handle_timeout) retransmits
    /// (Qt's `handshakeTimeout` signal).
    pub fn on_handshake_timeout(&mut self, handler: impl FnMut() + Send + 'static) {
        self.on_timeout = Some(Box::new(handler));
    }

    /// The verification problems of the last handshake, ignored or not.
    pub fn peer_verification_errors(&self) -> &[SslError] {
        &self.peer_errors
    }

    // ---- handshake ------------------------------------------------------------------------

    /// Where the handshake is.
    pub fn handshake_state(&self) -> HandshakeState {
        self.state
    }

    /// Whether the handshake completed and the peer was accepted.
    pub fn is_connection_encrypted(&self) -> bool {
        self.state == HandshakeState::HandshakeComplete
    }

    /// The PSK identity (the one the client sent) when a pre-shared key authenticated the
    /// association; `None` otherwise, and before it is encrypted.
    pub fn pre_shared_key_identity(&self) -> Option<&[u8]> {
        if self.is_connection_encrypted() {
            self.session.psk_identity.as_deref()
        } else {
            None
        }
    }

    /// The negotiated cipher suite, once encrypted.
    pub fn session_cipher(&self) -> Option<SslCipher> {
        self.is_connection_encrypted()
            .then_some(self.session.cipher)
            .flatten()
    }

    /// The negotiated version (`DtlsV1_2`), or `UnknownProtocol` when not encrypted.
    pub fn session_protocol(&self) -> SslProtocol {
        if self.is_connection_encrypted() {
            self.session.protocol
        } else {
            SslProtocol::UnknownProtocol
        }
    }

    /// The ALPN protocol agreed on (from the configuration's `allowed_next_protocols`), once
    /// encrypted; `None` when none was, and before.
    pub fn negotiated_application_protocol(&self) -> Option<&[u8]> {
        if self.is_connection_encrypted() {
            self.session.alpn_protocol.as_deref()
        } else {
            None
        }
    }

    /// The peer's certificates as it sent them, leaf first, once the handshake finished.
    pub fn peer_certificate_chain(&self) -> &[Certificate] {
        &self.session.peer_chain
    }

    /// Starts or continues the handshake (Qt's `doHandshake`): a client's first call sends
    /// the ClientHello (`datagram` is ignored, pass `&[]`); a server's first call takes the
    /// ClientHello. With cookie verification on (the default), a server answers a ClientHello
    /// without a valid cookie for the peer with a HelloVerifyRequest, stays in
    /// [`HandshakeState::HandshakeNotStarted`] and returns `Ok`, and ignores a datagram that is
    /// not a ClientHello; it never creates an engine for an unverified client. Later calls
    /// take the peer's datagrams. The handshake's datagrams are sent to the peer through
    /// `socket`.
    ///
    /// Fails, recording Qt's error kind, with [`Error::InvalidState`]
    /// ([`DtlsError::InvalidOperation`]) without a peer or once the handshake is over, with
    /// [`Error::InvalidInput`] ([`DtlsError::InvalidInputParameters`]) for a server's empty
    /// datagram, with [`Error::Unsupported`] or the configuration's error
    /// ([`DtlsError::TlsInitializationError`]) when the engine cannot be set up, with
    /// [`Error::Verification`] ([`DtlsError::PeerVerificationError`]) when the handshake
    /// finished but the peer's identity was not accepted, with [`Error::Io`]
    /// ([`DtlsError::UnderlyingSocketError`]) when the socket fails, and with
    /// [`Error::Handshake`] or [`Error::Protocol`] ([`DtlsError::TlsFatalError`]) when the
    /// handshake failed; the state is then `HandshakeNotStarted`.
    pub fn do_handshake(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
    ) -> Result<(), Error> {
        match self.state {
            HandshakeState::HandshakeNotStarted => self.start_handshake(socket, datagram),
            HandshakeState::HandshakeInProgress => self.continue_handshake(socket, datagram),
            _ => {
                Err(self
                    .invalid_operation("Cannot start/continue handshake, invalid handshake state"))
            }
        }
    }

    fn start_handshake(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
    ) -> Result<(), Error> {
        let Some(peer) = self.peer else {
            return Err(self.invalid_operation(
                "To start a handshake you must set peer's address and port first",
            ));
        };
        let server = self.mode == SslMode::SslServerMode;
        if server && datagram.is_empty() {
            return Err(self.invalid_input(
                "To start a handshake, DTLS server requires non-empty datagram (client hello)",
            ));
        }
        let psk = self.verification.has_pre_shared_key_handler();
        // A server with a pre-shared key handler may have no certificate (PSK suites only).
        if let Err(e) = self.config.validate(server && !psk, true) {
            return Err(self.fail(DtlsError::TlsInitializationError, e));
        }
        let cookie = if server && self.config.dtls_cookie_verification_enabled {
            if !self
                .backend
                .implemented_classes()
                .contains(&ImplementedClass::DtlsCookie)
            {
                let e = Error::unsupported(
                    self.backend.name(),
                    "DTLS cookie verification (turn dtls_cookie_verification_enabled off)",
                );
                return Err(self.fail(DtlsError::TlsInitializationError, e));
            }
            match self.cookie_verifier().check(datagram, peer) {
                Check::Verified(hello) => Some(hello.cookie.to_vec()),
                Check::Challenge(request) => {
                    self.clear_error();
                    let route = self.route_to_peer(socket)?.unwrap_or(Via::To(peer));
                    return match route.send(socket, &request) {
                        Ok(_) => Ok(()),
                        Err(e) => Err(self.fail(DtlsError::UnderlyingSocketError, Error::Io(e))),
                    };
                }
                Check::Garbage => {
                    self.clear_error();
                    return Ok(());
                }
            }
        } else {
            None
        };
        let peer_name = match (&self.verification_name, server) {
            (_, true) => None,
            (Some(name), false) if !name.is_empty() => match PeerName::parse(name) {
                Ok(name) => Some(name),
                Err(e) => return Err(self.fail(DtlsError::TlsInitializationError, e)),
            },
            (_, false) => Some(PeerName::Ip(peer.ip())),
        };
        self.verification.reset(false);
        self.peer_errors.clear();
        self.session = SessionInfo::new();
        let hook: Arc<dyn VerificationHook> = Arc::new(DtlsHook(self.verification.clone()));
        let mut params = DtlsEngineParams::new(
            self.mode,
            &self.config,
            peer_name.as_ref(),
            hook,
            self.datagram_mtu(),
        );
        params.pre_shared_key_handler = psk;
        if let Err(e) = crate::backend::refuse_unclaimed_dtls(&*self.backend, &params) {
            return Err(self.fail(DtlsError::TlsInitializationError, e));
        }
        let engine = match self.backend.new_dtls_engine(params) {
            Ok(engine) => engine,
            Err(e) => return Err(self.fail(DtlsError::TlsInitializationError, e)),
        };
        self.engine = Some(engine);
        self.state = HandshakeState::HandshakeInProgress;
        self.clear_error();
        let step = match (&cookie, server) {
            (Some(cookie), _) => self.with_engine(|e| e.accept_verified_hello(datagram, cookie)),
            (None, true) => self.with_engine(|e| e.handshake(Some(datagram))),
            (None, false) => self.with_engine(|e| e.handshake(None)),
        };
        self.after_step(socket, step)
    }

    fn continue_handshake(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
    ) -> Result<(), Error> {
        if datagram.is_empty() {
            return Err(self
                .invalid_input("A valid, non-empty datagram is needed to continue the handshake"));
        }
        self.clear_error();
        let step = self.with_engine(|e| e.handshake(Some(datagram)));
        self.after_step(socket, step)
    }

    fn with_engine<T>(
        &mut self,
        f: impl FnOnce(&mut dyn DtlsEngine) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self.engine.as_mut() {
            Some(engine) => f(engine.as_mut()),
            None => Err(Error::InvalidState("no DTLS engine".into())),
        }
    }

    /// Sends the datagrams an earlier call left queued because `socket` would block (a
    /// non-blocking socket whose send buffer was full: that call failed with
    /// [`Error::Io`] of kind `WouldBlock`). Returns the bytes sent (0 when nothing waited).
    ///
    /// Fails as the call that queued them did: with [`Error::Io`]
    /// ([`DtlsError::UnderlyingSocketError`]) when the socket fails again (what is left stays
    /// queued), and with [`Error::InvalidInput`] ([`DtlsError::InvalidInputParameters`]) when
    /// `socket` was declared connected to the peer and is not.
    pub fn send_pending(&mut self, socket: &dyn DatagramSocket) -> Result<usize, Error> {
        self.clear_error();
        let sent = self.flush(socket);
        if sent.is_ok() && self.state == HandshakeState::HandshakeNotStarted {
            // The close_notify of a shutdown is out: the ended association has nothing more.
            self.engine = None;
        }
        sent
    }

    /// Whether datagrams wait for [`send_pending`](Self::send_pending): the last send found
    /// a non-blocking socket's buffer full (a call that failed with `WouldBlock`, or a
    /// [`decrypt_datagram`](Self::decrypt_datagram) whose answer did not fit). A caller
    /// waits for the socket to be writable and calls `send_pending` then.
    pub fn has_pending(&self) -> bool {
        self.unsent
    }

    /// Sends what the engine queued, to the peer. Returns the bytes sent.
    ///
    /// Fails with [`DtlsError::InvalidInputParameters`] when the socket is declared connected
    /// to the peer and is not (nothing is sent), and with
    /// [`DtlsError::UnderlyingSocketError`] when the socket fails.
    fn flush(&mut self, socket: &dyn DatagramSocket) -> Result<usize, Error> {
        let route = self.route_to_peer(socket)?;
        self.flush_via(socket, route)
    }

    /// How to send to the peer through `socket`.
    ///
    /// Fails with [`DtlsError::InvalidInputParameters`] when the socket is declared connected
    /// to the peer and is not.
    fn route_to_peer(&mut self, socket: &dyn DatagramSocket) -> Result<Option<Via>, Error> {
        let Some(peer) = self.peer else {
            return Ok(None);
        };
        match self.route.to(socket, peer) {
            Ok(route) => Ok(Some(route)),
            Err(e) => Err(self.fail(DtlsError::InvalidInputParameters, e)),
        }
    }

    /// [`flush`](Self::flush) the way `route` says (`None`: no peer, nothing is sent).
    fn flush_via(
        &mut self,
        socket: &dyn DatagramSocket,
        route: Option<Via>,
    ) -> Result<usize, Error> {
        let (Some(engine), Some(route)) = (self.engine.as_mut(), route) else {
            self.unsent = false;
            return Ok(0);
        };
        let mut written = 0;
        let sent = engine.send_queued(&mut |datagram| {
            let n = route.send(socket, datagram)?;
            written += n;
            Ok(n)
        });
        self.unsent = matches!(&sent, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        match sent {
            Ok(()) => Ok(written),
            Err(e) => Err(self.fail(DtlsError::UnderlyingSocketError, Error::Io(e))),
        }
    }

    /// Sends the engine's output after a handshake step and acts on the step's outcome.
    fn after_step(
        &mut self,
        socket: &dyn DatagramSocket,
        step: Result<bool, Error>,
    ) -> Result<(), Error> {
        let flushed = self.flush(socket).map(drop);
        match step {
            Ok(true) => {
                flushed?;
                self.finish_handshake(socket)
            }
            Ok(false) => flushed,
            Err(e) => Err(self.handshake_failed(e)),
        }
    }

    /// Ends a failed handshake: the engine is dropped (its alert was sent), the state goes
    /// back to `HandshakeNotStarted`, and a handler's panic is resumed.
    fn handshake_failed(&mut self, e: Error) -> Error {
        self.engine = None;
        self.state = HandshakeState::HandshakeNotStarted;
        if let Some(panic) = self.verification.take_panic() {
            std::panic::resume_unwind(panic);
        }
        match (self.verification.refused(), e) {
            (Some(errors), _) => {
                self.peer_errors = self.verification.found();
                self.fail(
                    DtlsError::PeerVerificationError,
                    Error::Verification(errors),
                )
            }
            (None, e @ Error::Verification(_)) => self.fail(DtlsError::PeerVerificationError, e),
            (None, e @ Error::Timeout { .. }) => self.fail(DtlsError::TlsFatalError, e),
            (None, e @ Error::Io(_)) => self.fail(DtlsError::UnderlyingSocketError, e),
            (None, Error::Handshake { message, alert }) => {
                // When the pre-shared key handler's answer could not be used, that is why the
                // engine failed: say so.
                let message = self.verification.psk_problem().unwrap_or(message);
                self.fail(
                    DtlsError::TlsFatalError,
                    Error::Handshake { message, alert },
                )
            }
            (None, e) => self.fail(DtlsError::TlsFatalError, e),
        }
    }

    fn finish_handshake(&mut self, socket: &dyn DatagramSocket) -> Result<(), Error> {
        if let Some(engine) = self.engine.as_ref() {
            self.session = engine.session();
        }
        let server = self.mode == SslMode::SslServerMode;
        let verifies =
            self.config.peer_verify_mode.resolve(self.mode) == PeerVerifyMode::VerifyPeer;
        let psk_only = self.session.psk_identity.is_some() && self.session.peer_chain.is_empty();
        if verifies && psk_only && !self.verification.was_asked() && !server {
            // A pre-shared key authenticated the server, which sent no certificate: Qt's
            // NoPeerCertificate, to ignore (and resume) or refuse.
            self.verification
                .judge(vec![SslError::new(SslErrorKind::NoPeerCertificate)]);
        } else if server && verifies && self.session.peer_chain.is_empty() {
            let missing = vec![SslError::new(SslErrorKind::NoPeerCertificate)];
            if self.config.missing_certificate_is_fatal {
                self.abort_engine(socket);
                return Err(self.fail(
                    DtlsError::PeerVerificationError,
                    Error::Verification(missing),
                ));
            }
            self.verification.judge(missing);
        } else if verifies && !self.verification.was_asked() {
            self.abort_engine(socket);
            let e = Error::Handshake {
                message: format!(
                    "the {} backend completed the handshake without verifying the peer",
                    self.backend.name()
                ),
                alert: None,
            };
            return Err(self.fail(DtlsError::TlsFatalError, e));
        }
        self.peer_errors = self.verification.found();
        if let Some(refused) = self.verification.refused() {
            self.state = HandshakeState::PeerVerificationFailed;
            return Err(self.fail(
                DtlsError::PeerVerificationError,
                Error::Verification(refused),
            ));
        }
        self.state = HandshakeState::HandshakeComplete;
        Ok(())
    }

    /// Sends close_notify (when the engine still can) and forgets the engine.
    fn abort_engine(&mut self, socket: &dyn DatagramSocket) {
        if let Some(engine) = self.engine.as_mut() {
            engine.send_close_notify();
        }
        let _ = self.flush(socket);
        self.engine = None;
        self.state = HandshakeState::HandshakeNotStarted;
    }

    /// How long the application may wait for the peer's next handshake datagram before it
    /// calls [`handle_timeout`](Self::handle_timeout); `None` when no handshake timer runs.
    pub fn timeout(&self) -> Option<Duration> {
        match (self.state, self.engine.as_ref()) {
            (HandshakeState::HandshakeInProgress, Some(engine)) => engine.timeout(),
            _ => None,
        }
    }

    /// Retransmits the last handshake flight when its timer has passed (Qt's
    /// `handleTimeout`), doubling the timer (1 s up to 60 s), and fires the handshake-timeout
    /// handler. Returns `Ok(true)` when it retransmitted, `Ok(false)` when the timer has not
    /// passed or none runs.
    ///
    /// Fails with [`Error::Io`] ([`DtlsError::UnderlyingSocketError`]) when the socket fails,
    /// and with [`Error::Timeout`] ([`DtlsError::TlsFatalError`]) when the engine gives up;
    /// the state is then `HandshakeNotStarted`.
    pub fn handle_timeout(&mut self, socket: &dyn DatagramSocket) -> Result<bool, Error> {
        self.clear_error();
        if self.state != HandshakeState::HandshakeInProgress {
            return Ok(false);
        }
        match self.timeout() {
            Some(left) if left.is_zero() => {}
            _ => return Ok(false),
        }
        match self.with_engine(|e| e.handle_timeout()) {
            Ok(retransmitted) => {
                if retransmitted {
                    if let Some(handler) = self.on_timeout.as_mut() {
                        handler();
                    }
                }
                self.flush(socket)?;
                Ok(retransmitted)
            }
            Err(e) => {
                let _ = self.flush(socket);
                Err(self.handshake_failed(e))
            }
        }
    }

    /// Completes a handshake stopped in [`HandshakeState::PeerVerificationFailed`] once every
    /// error that stopped it is ignored (Qt's `resumeHandshake`).
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) in any other
    /// state, and with [`Error::Verification`] ([`DtlsError::PeerVerificationError`]) listing
    /// the errors still not ignored (the state stays).
    pub fn resume_handshake(&mut self, socket: &dyn DatagramSocket) -> Result<(), Error> {
        let _ = socket;
        if self.state != HandshakeState::PeerVerificationFailed {
            return Err(self.invalid_operation("Cannot resume, not in VerificationError state"));
        }
        let refused = self.verification.refused().unwrap_or_default();
        let left = self.verification.not_ignored(&refused);
        if !left.is_empty() {
            return Err(self.fail(DtlsError::PeerVerificationError, Error::Verification(left)));
        }
        self.clear_error();
        self.state = HandshakeState::HandshakeComplete;
        Ok(())
    }

    /// Ends a handshake in progress or stopped on verification errors (Qt's
    /// `abortHandshake`): a stopped one is closed with close_notify; the state goes back to
    /// `HandshakeNotStarted`.
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) when no handshake
    /// is in progress or stopped.
    pub fn abort_handshake(&mut self, socket: &dyn DatagramSocket) -> Result<(), Error> {
        match self.state {
            HandshakeState::PeerVerificationFailed => self.abort_engine(socket),
            HandshakeState::HandshakeInProgress => {
                self.engine = None;
                self.state = HandshakeState::HandshakeNotStarted;
            }
            _ => return Err(self.invalid_operation("No handshake in progress, nothing to abort")),
        }
        self.clear_error();
        Ok(())
    }

    /// Sends close_notify and ends the association (Qt's `shutdown`); the state goes back to
    /// `HandshakeNotStarted`.
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) when not
    /// encrypted, and with [`Error::Io`] ([`DtlsError::UnderlyingSocketError`]) when the alert
    /// cannot be sent (the association is ended all the same). A non-blocking socket whose
    /// send buffer is full fails with an [`Error::Io`] of kind `WouldBlock`: the association
    /// is ended, and its close_notify stays queued for [`send_pending`](Self::send_pending)
    /// (a new handshake on this `Dtls` drops it).
    pub fn shutdown(&mut self, socket: &dyn DatagramSocket) -> Result<(), Error> {
        if !self.is_connection_encrypted() {
            return Err(self.invalid_operation("Cannot send shutdown alert, not encrypted"));
        }
        self.clear_error();
        if let Some(engine) = self.engine.as_mut() {
            engine.send_close_notify();
        }
        self.state = HandshakeState::HandshakeNotStarted;
        let sent = self.flush(socket);
        if !matches!(&sent, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock) {
            self.engine = None;
        }
        sent.map(drop)
    }

    // ---- data -----------------------------------------------------------------------------

    /// The largest datagram [`write_datagram_encrypted`](Self::write_datagram_encrypted)
    /// takes now (0 when not encrypted).
    pub fn max_datagram_size(&self) -> usize {
        match (self.is_connection_encrypted(), self.engine.as_ref()) {
            (true, Some(engine)) => engine.max_plaintext(),
            _ => 0,
        }
    }

    /// Encrypts `datagram` into one record and sends it to the peer (Qt's
    /// `writeDatagramEncrypted`). Returns the bytes sent on the wire.
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) when not
    /// encrypted, with [`Error::InvalidInput`] ([`DtlsError::TlsNonFatalError`]) when
    /// `datagram` is larger than [`max_datagram_size`](Self::max_datagram_size) (nothing is
    /// sent; the association goes on), with [`Error::InvalidInput`]
    /// ([`DtlsError::InvalidInputParameters`]) when `socket` was declared connected to the
    /// peer ([`set_socket_connected`](Self::set_socket_connected)) and is not (nothing is
    /// encrypted or sent), and with [`Error::Io`] ([`DtlsError::UnderlyingSocketError`]) when
    /// the socket fails. A non-blocking socket whose send buffer is full fails with an
    /// [`Error::Io`] of kind `WouldBlock`: the record stays queued and goes out with
    /// [`send_pending`](Self::send_pending) (or the next call that sends).
    pub fn write_datagram_encrypted(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
    ) -> Result<usize, Error> {
        if !self.is_connection_encrypted() {
            return Err(self.invalid_operation("Cannot write a datagram, not in encrypted state"));
        }
        self.clear_error();
        // Before encrypting: a record refused here is never sent later.
        let route = self.route_to_peer(socket)?;
        if let Err(e) = self.with_engine(|engine| engine.encrypt(datagram)) {
            let kind = match e {
                Error::InvalidInput(_) => DtlsError::TlsNonFatalError,
                _ => DtlsError::TlsFatalError,
            };
            return Err(self.fail(kind, e));
        }
        self.flush_via(socket, route)
    }

    /// Decrypts one datagram from the peer (Qt's `decryptDatagram`) and returns its
    /// application data, that of every record it holds, in order (a sender may pack several
    /// into one datagram). It is empty for an empty datagram and for one holding no
    /// application data (an answer the engine owed the peer is then sent through `socket`).
    /// When the datagram ends with the peer's close_notify, the data before it is returned,
    /// and then [`dtls_error`](Self::dtls_error) is
    /// [`DtlsError::RemoteClosedConnectionError`] and the state `HandshakeNotStarted`.
    ///
    /// Fails with [`Error::InvalidState`] ([`DtlsError::InvalidOperation`]) when not
    /// encrypted, with [`Error::Io`] ([`DtlsError::UnderlyingSocketError`]) when the socket
    /// fails, and with [`Error::Protocol`] ([`DtlsError::TlsFatalError`]) when the peer sent a
    /// fatal alert (the association is over). A non-blocking socket whose send buffer is full
    /// is no failure here: the data is returned, and the answer the engine owed the peer
    /// stays queued for the next call or [`send_pending`](Self::send_pending).
    pub fn decrypt_datagram(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.decrypt_datagram_into(socket, datagram, &mut out)?;
        Ok(out)
    }

    /// Decrypts one datagram from the peer as
    /// [`decrypt_datagram`](Self::decrypt_datagram) does, appending its application data to
    /// `out` (whose room is reused from call to call) instead of returning a new buffer.
    /// Returns the number of bytes appended (0 where `decrypt_datagram` returns an empty
    /// buffer).
    ///
    /// ```no_run
    /// # fn serve(dtls: &mut polytls::Dtls, socket: &std::net::UdpSocket) -> Result<(), polytls::Error> {
    /// let (mut datagram, mut data) = (vec![0; 65536], Vec::new());
    /// loop {
    ///     let n = socket.recv(&mut datagram)?;
    ///     data.clear();
    ///     dtls.decrypt_datagram_into(socket, &datagram[..n], &mut data)?;
    ///     // ... use `data` ...
    /// }
    /// # }
    /// ```
    ///
    /// Fails as [`decrypt_datagram`](Self::decrypt_datagram) does; `out` is then as it was.
    pub fn decrypt_datagram_into(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Error> {
        if !self.is_connection_encrypted() {
            return Err(self.invalid_operation("Cannot read a datagram, not in encrypted state"));
        }
        self.clear_error();
        if datagram.is_empty() {
            return Ok(0);
        }
        let start = out.len();
        let read = self.with_engine(|engine| engine.decrypt(datagram, out));
        // An answer (a retransmitted flight, an alert) is rare here: nothing to send, no
        // route to find.
        let flushed = match &self.engine {
            Some(engine) if !engine.has_queued() => {
                self.unsent = false;
                Ok(0)
            }
            _ => self.flush(socket),
        };
        match read {
            Ok(DtlsRead::Data(_) | DtlsRead::Nothing) => match flushed {
                Ok(_) => Ok(out.len() - start),
                // The data is the caller's; the answer stays queued for the next call or
                // `send_pending`.
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.clear_error();
                    Ok(out.len() - start)
                }
                Err(e) => {
                    out.truncate(start);
                    Err(e)
                }
            },
            Ok(DtlsRead::Closed) => {
                self.engine = None;
                self.state = HandshakeState::HandshakeNotStarted;
                self.error = DtlsError::RemoteClosedConnectionError;
                self.error_string = "The DTLS connection has been closed".into();
                Ok(out.len() - start)
            }
            Err(e) => {
                out.truncate(start);
                self.engine = None;
                self.state = HandshakeState::HandshakeNotStarted;
                Err(self.fail(DtlsError::TlsFatalError, e))
            }
        }
    }
}
