//! [`RustlsEngine`]: the [`TlsEngine`](polytls_core::TlsEngine) over rustls' sans-IO `Connection`,
//! and the translation of rustls errors into polytls errors.
//!
//! rustls already does what the contract asks: one `read` per `read_tls`, transport EOF
//! remembered (reading plaintext afterwards reports `UnexpectedEof` unless close_notify came),
//! a fatal alert queued for the peer after a failure, and the failure repeated by every later
//! `process`. Decrypted data stays in rustls' buffer until the caller reads it: the front end
//! reads ciphertext only when no plaintext waits, so rustls' read-ahead limit is never hit.
//! This module only maps names, and installs the session's verification state (hook, host
//! name) for the verifiers of the shared configuration while rustls processes handshake records.

use std::io::{self, Read, Write};
use std::sync::Arc;

use polytls_core::failure::{self, Wording};
use polytls_core::{
    AlertType, Error, PlaintextRead, SessionInfo, SslCipher, SslError, SslErrorKind, SslProtocol,
};
use rustls::Connection;

use crate::config::cipher_of_suite;
use crate::verify::{self, Session, SessionGuard};

/// One TLS session on rustls (client or server).
pub(crate) struct RustlsEngine {
    conn: Connection,
    /// What the handshake needs beside rustls' connection, freed once it ended.
    verifying: Verifying,
    /// Set once close_notify was queued: nothing is encrypted after it.
    close_sent: bool,
}

/// What the verifiers of the (possibly shared) configuration and the wording of failures need
/// of one session while its handshake runs.
enum Verifying {
    /// The handshake runs: the verifiers report to this session (hook, host name), installed
    /// for them while rustls processes records, and failures are worded by the peer's first
    /// bytes and the configuration.
    During(Box<Handshake>),
    /// The handshake ended (rustls verifies nothing after it, and no failure after it is one
    /// of negotiation): the session, and the front end's hook it held, are freed, and so are
    /// the certificates the verification converted (the session report converts rustls' own
    /// copies again, once, when asked) and the wording; an idle connection keeps less.
    Done,
}

/// [`Verifying::During`]'s state.
struct Handshake {
    session: Arc<Session>,
    wording: Wording,
}

impl RustlsEngine {
    /// Wraps a fresh rustls connection whose verifiers report to `session`, for a session
    /// whose failures `wording` words.
    pub(crate) fn new(conn: Connection, session: Arc<Session>, wording: Wording) -> RustlsEngine {
        RustlsEngine {
            conn,
            verifying: Verifying::During(Box::new(Handshake { session, wording })),
            close_sent: false,
        }
    }
}

/// The polytls error for a rustls failure, worded as every backend words it (see
/// [`polytls_core::failure`]): a peer whose first bytes are not TLS, an alert from the peer (a
/// handshake error carrying that alert), no protocol version or cipher suite in common.
/// Otherwise malformed or unexpected records become protocol errors, and everything else is
/// a handshake error. `wording` is `None` once the handshake ended: a failure then is not one
/// of negotiation.
fn map_error(error: rustls::Error, wording: Option<&Wording>) -> Error {
    use rustls::Error as E;
    use rustls::PeerIncompatible as P;
    if let Some(not_tls) = wording.and_then(Wording::not_tls) {
        return not_tls;
    }
    if let (E::PeerIncompatible(_), Some(too_old)) =
        (&error, wording.and_then(Wording::client_too_old))
    {
        // rustls names what the old ClientHello lacks (signature algorithms...).
        return too_old;
    }
    let negotiation = wording.and_then(|wording| match &error {
        E::PeerIncompatible(P::NoCipherSuitesInCommon) => Some(wording.no_common_cipher()),
        E::PeerIncompatible(
            P::Tls12NotOffered
            | P::Tls12NotOfferedOrEnabled
            | P::SupportedVersionsExtensionRequired
            | P::ServerDoesNotSupportTls12Or13
            | P::ServerTlsVersionIsDisabledByOurConfig,
        ) => Some(wording.no_common_protocol()),
        _ => None,
    });
    if let Some(negotiation) = negotiation {
        return negotiation;
    }
    match error {
        E::NoCertificatesPresented => {
            Error::Verification(vec![SslError::new(SslErrorKind::NoPeerCertificate)])
        }
        E::AlertReceived(description) => {
            failure::alert_received(AlertType::from_code(u8::from(description)))
        }
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::DecryptError
        | E::PeerSentOversizedRecord
        | E::PeerMisbehaved(_) => Error::Protocol(error.to_string()),
        other => Error::Handshake {
            message: other.to_string(),
            alert: None,
        },
    }
}

impl polytls_core::TlsEngine for RustlsEngine {
    fn read_tls(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        let conn = &mut self.conn;
        match &mut self.verifying {
            Verifying::During(handshake) => handshake.wording.read_tls(rd, |rd| conn.read_tls(rd)),
            Verifying::Done => conn.read_tls(rd),
        }
    }

    /// While the handshake runs, the session is installed for the verifiers, which rustls
    /// calls from within `process_new_packets` (rustls verifies certificates only during the
    /// handshake; after it, a verifier would find no session and refuse).
    /// Once the handshake has ended, the session is let go (see [`Verifying::Done`]).
    fn process(&mut self) -> Result<(), Error> {
        let result = match &self.verifying {
            Verifying::During(handshake) => {
                let _guard = SessionGuard::install(&handshake.session);
                self.conn.process_new_packets()
            }
            Verifying::Done => self.conn.process_new_packets(),
        };
        let wording = match &self.verifying {
            Verifying::During(handshake) => Some(&handshake.wording),
            Verifying::Done => None,
        };
        let result = result.map(|_| ()).map_err(|e| map_error(e, wording));
        if !self.conn.is_handshaking() {
            self.verifying = Verifying::Done;
        }
        result
    }

    fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    fn write_tls(&mut self, wr: &mut dyn Write) -> io::Result<usize> {
        self.conn.write_tls(wr)
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// An empty `buf` gives `NeedMore` (there is no room for data).
    fn read_plaintext(&mut self, buf: &mut [u8]) -> Result<PlaintextRead, Error> {
        if buf.is_empty() {
            return Ok(PlaintextRead::NeedMore);
        }
        match self.conn.reader().read(buf) {
            Ok(0) => Ok(PlaintextRead::Closed),
            Ok(n) => Ok(PlaintextRead::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(PlaintextRead::NeedMore),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::Truncated),
            Err(e) => Err(Error::Protocol(e.to_string())),
        }
    }

    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if self.conn.is_handshaking() {
            return Err(Error::InvalidState("the handshake is not complete".into()));
        }
        if self.close_sent {
            return Err(Error::InvalidState("close_notify was sent".into()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.conn.writer().write(buf).map_err(Error::Io)
    }

    fn send_close_notify(&mut self) {
        self.close_sent = true;
        self.conn.send_close_notify();
    }

    fn session(&self) -> SessionInfo {
        let protocol = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => SslProtocol::TlsV1_2,
            Some(rustls::ProtocolVersion::TLSv1_3) => SslProtocol::TlsV1_3,
            _ => SslProtocol::UnknownProtocol,
        };
        let mut info = SessionInfo::new();
        info.protocol = protocol;
        info.cipher = self
            .conn
            .negotiated_cipher_suite()
            .map(|suite| SslCipher::from_id(cipher_of_suite(&suite).id(), protocol));
        let ders = self.conn.peer_certificates().unwrap_or_default();
        info.peer_chain = match &self.verifying {
            Verifying::During(handshake) => handshake.session.certificates(ders),
            Verifying::Done => verify::certificates(&[], ders),
        };
        info.alpn_protocol = self.conn.alpn_protocol().map(<[u8]>::to_vec);
        if let Connection::Server(server) = &self.conn {
            info.server_name = server.server_name().map(str::to_owned);
        }
        info
    }
}
