//! [`DimplDtlsEngine`]: one DTLS association over dimpl as a sans-IO [`DtlsEngine`].
//!
//! dimpl is sans-IO itself, so the translation is direct: a datagram from the peer goes to
//! `Dtls::handle_packet`, and after every call the engine drains `Dtls::poll_output` until
//! dimpl's `Timeout`, which always ends a poll cycle. What the drain finds is kept: the
//! datagrams to send (queued until the front end sends them), the retransmission deadline
//! (reported by [`DtlsEngine::timeout`] and fired with `Dtls::handle_timeout`), the end of the
//! handshake, the peer's leaf certificate, application data and the peer's close_notify.
//!
//! While the handshake runs, a datagram holding plaintext handshake records is handed to
//! dimpl as the datagrams the `reassembly` module cuts it into: one handshake message
//! each, whole, so that a peer that re-fragments a retransmitted message (OpenSSL at a
//! small MTU) is understood.
//!
//! dimpl keeps its own clock from the instants it is handed, so every call first hands it
//! the current time (`handle_timeout(now)`), which also sends a flight whose timer has passed.
//!
//! dimpl does no PKI validation: when the peer is to be verified, the engine verifies the
//! leaf certificate dimpl surfaces (see the `verify` module), asks the front end's
//! [`VerificationHook`] exactly once per handshake, and a refused peer ends the handshake
//! (dimpl has no way to send a fatal alert: the datagrams of that step are not sent, and the
//! peer times out).
//!
//! dimpl exposes no accessor for the negotiated cipher suite; the engine reads it from the
//! ServerHello as it passes (received by a client, sent by a server), an unencrypted
//! handshake message in both DTLS 1.2 and 1.3.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dimpl::{Config, Dtls, DtlsCertificate, Output, ProtocolVersion};
use polytls_core::context_cache::ContextCache;
use polytls_core::{
    Certificate, DtlsEngine, DtlsEngineParams, DtlsRead, EngineParams, Error, KeyAlgorithm,
    PeerName, PeerVerifyMode, SessionInfo, SslCipher, SslConfiguration, SslMode, SslProtocol,
    VerificationHook,
};

use crate::backend::{DimplBackend, NAME};
use crate::reassembly::Reassembly;
use crate::verify::{self, Role};

/// The largest record overhead of the suites dimpl negotiates: a DTLS 1.2 record header (13
/// bytes), the AES-GCM explicit nonce (8) and tag (16). DTLS 1.3 records and ChaCha20-Poly1305
/// need less.
const RECORD_OVERHEAD: usize = 13 + 8 + 16;

/// How the engine was told to verify the peer.
struct Verification {
    hook: Arc<dyn VerificationHook>,
    /// The certificates trusted as issuers (DER).
    anchors: Vec<Vec<u8>>,
    role: Role,
    /// Client only: the name the server's certificate must carry.
    peer_name: Option<PeerName>,
}

/// One DTLS association over dimpl (see the module documentation).
pub(crate) struct DimplDtlsEngine {
    dtls: Dtls,
    server: bool,
    mtu: usize,
    /// `Some` when the peer is to be verified (`VerifyPeer`).
    verification: Option<Verification>,
    /// Whether the hook was asked (once per handshake).
    asked: bool,
    /// Whether the hook refused the peer: the association is dead.
    refused: bool,
    /// A fatal error from dimpl ended the association.
    failed: bool,
    connected: bool,
    /// close_notify was queued, or the handshake aborted: nothing more is encrypted.
    closed: bool,
    /// The peer sent close_notify.
    peer_closed: bool,
    deadline: Option<Instant>,
    outgoing: VecDeque<Vec<u8>>,
    /// Application data drained from dimpl, not yet handed out by `decrypt`.
    received: Vec<u8>,
    peer_leaf: Option<Certificate>,
    cipher_id: Option<u16>,
    /// The peer's fragmented plaintext handshake messages, until they are whole.
    reassembly: Reassembly,
    buf: Vec<u8>,
}

/// A dimpl constructor (`Dtls::new_12` and its siblings).
type Constructor = fn(Arc<Config>, DtlsCertificate, Instant) -> Dtls;

/// The dimpl configurations shared by associations with equal parameters.
///
/// Building a `dimpl::Config` checks its crypto provider (signs, verifies and agrees keys
/// with test vectors): about 11 million instructions, more than the handshake it is for.
/// Associations whose configuration, mode, verify mode and MTU are equal share one through
/// core's [`ContextCache`], keyed as the OpenSSL backend's contexts are, with the MTU and
/// the verify mode as the extra part. What the dimpl configuration holds is read from
/// those alone (no key, no certificate).
static CONFIGS: ContextCache<(u16, PeerVerifyMode), Arc<Config>> = ContextCache::new(16);

/// The dimpl configuration for `params` (from [`CONFIGS`], or built and cached).
///
/// Fails with [`Error::InvalidInput`] when dimpl refuses it (an MTU out of its range).
fn dimpl_config_for(params: &DtlsEngineParams<'_>) -> Result<Arc<Config>, Error> {
    let server = params.mode == SslMode::SslServerMode;
    let verifies = params.verify_mode == PeerVerifyMode::VerifyPeer;
    let key = EngineParams::new(
        params.mode,
        params.config,
        params.peer_name,
        Arc::clone(&params.verifier),
    );
    CONFIGS.get_or_build(&key, (params.mtu, params.verify_mode), |_| {
        // The front end refused every setting this engine does not carry
        // (polytls_core::backend::refuse_unclaimed_dtls), `QueryPeer` on a server among
        // them: dimpl can only require a client certificate or not ask for one.
        Config::builder()
            .mtu(usize::from(params.mtu))
            .require_client_certificate(server && verifies)
            // The front end runs cookie exchanges only through DtlsCookie, which this
            // backend does not claim; a server reached directly with cookies on runs
            // dimpl's own.
            .use_server_cookie(server && params.config.dtls_cookie_verification_enabled)
            .build()
            .map(Arc::new)
            .map_err(|e| Error::InvalidInput(format!("dimpl refuses the configuration: {e}")))
    })
}

/// The dimpl constructor a DTLS selector maps to, or `None` for selectors this engine refuses.
///
/// "1.2 or later" is dimpl's auto-sensing endpoint: a client offers both versions in one
/// ClientHello and follows the server's answer (a HelloVerifyRequest or a 1.2 ServerHello
/// means 1.2); a server answers 1.3 when the ClientHello offers it, 1.2 otherwise.
fn constructor(protocol: SslProtocol) -> Option<Constructor> {
    match protocol {
        SslProtocol::DtlsV1_2 => Some(Dtls::new_12),
        SslProtocol::DtlsV1_2OrLater => Some(Dtls::new_auto),
        SslProtocol::DtlsV1_3 | SslProtocol::DtlsV1_3OrLater => Some(Dtls::new_13),
        _ => None,
    }
}

/// The local identity as dimpl takes it: the leaf of the configured chain and its key (DER,
/// PKCS#8 or SEC1). A client without one presents a throwaway self-signed certificate when a
/// server asks for one: dimpl's client always answers a CertificateRequest with a
/// certificate.
fn identity(config: &SslConfiguration, server: bool) -> Result<DtlsCertificate, Error> {
    match (config.local_certificate_chain.first(), &config.private_key) {
        (Some(leaf), Some(key)) => {
            if key.algorithm() != KeyAlgorithm::Ec {
                return Err(Error::unsupported(
                    NAME,
                    format!("{:?} keys (dimpl signs with ECDSA only)", key.algorithm()),
                ));
            }
            Ok(DtlsCertificate {
                certificate: leaf.to_der().to_vec(),
                private_key: key.to_der().to_vec(),
            })
        }
        _ if server => Err(Error::InvalidInput(
            "a DTLS server needs a local certificate and private key".into(),
        )),
        _ => dimpl::certificate::generate_self_signed_certificate().map_err(|e| {
            Error::Certificate(format!("dimpl cannot make a client certificate: {e}"))
        }),
    }
}

/// The cipher suite of the ServerHello in `datagram`, if it holds one (unencrypted, epoch 0,
/// first fragment).
fn server_hello_suite(mut datagram: &[u8]) -> Option<u16> {
    let mut found = None;
    while datagram.len() >= 13 {
        let length = usize::from(u16::from_be_bytes([datagram[11], datagram[12]]));
        let Some(body) = datagram.get(13..13 + length) else {
            break;
        };
        let epoch = u16::from_be_bytes([datagram[3], datagram[4]]);
        // Handshake header: type, length (3), message_seq (2), offset (3), fragment length (3).
        if datagram[0] == 22 && epoch == 0 && body.len() >= 12 && body[0] == 2 {
            let offset = &body[6..9];
            if offset == [0, 0, 0] {
                // legacy_version (2), random (32), session id (1 + n), cipher suite (2).
                let hello = &body[12..];
                let sid = usize::from(*hello.get(34)?);
                let suite = hello.get(35 + sid..37 + sid)?;
                found = Some(u16::from_be_bytes([suite[0], suite[1]]));
            }
        }
        datagram = &datagram[13 + length..];
    }
    found
}

impl DimplDtlsEngine {
    /// An association ready to start its handshake.
    ///
    /// Fails with [`Error::Unsupported`] for a protocol other than those the backend claims
    /// or a key other than ECDSA (the front end refused every other unclaimed setting
    /// first), with [`Error::InvalidInput`] for a server without an identity or an MTU dimpl
    /// refuses, and with [`Error::Certificate`] when no client certificate could be made.
    pub(crate) fn new(
        backend: &DimplBackend,
        params: &DtlsEngineParams<'_>,
    ) -> Result<DimplDtlsEngine, Error> {
        let config = params.config;
        let server = match params.mode {
            SslMode::SslServerMode => true,
            SslMode::SslClientMode => false,
            SslMode::UnencryptedMode => {
                return Err(Error::InvalidInput(
                    "a DTLS engine needs client or server mode".into(),
                ))
            }
        };
        if config.ciphers.is_some() {
            // dimpl can narrow its suites but keeps its own order of preference, so a list
            // (whose order is the preference) cannot be honoured.
            return Err(Error::unsupported(NAME, "choosing DTLS cipher suites"));
        }
        let certificate = identity(config, server)?;
        let verifies = params.verify_mode == PeerVerifyMode::VerifyPeer;
        let dimpl_config = dimpl_config_for(params)?;
        let verification = if verifies {
            let anchors = match &config.ca_certificates {
                Some(list) => list.iter().map(|c| c.to_der().to_vec()).collect(),
                None => backend.system_anchor_ders(),
            };
            Some(Verification {
                hook: Arc::clone(&params.verifier),
                anchors,
                role: if server { Role::Client } else { Role::Server },
                peer_name: if server {
                    None
                } else {
                    params.peer_name.cloned()
                },
            })
        } else {
            None
        };
        let make = constructor(config.protocol).ok_or_else(|| {
            Error::unsupported(NAME, format!("protocol {} for DTLS", config.protocol))
        })?;
        let mut dtls = make(dimpl_config, certificate, Instant::now());
        dtls.set_active(!server);
        Ok(DimplDtlsEngine {
            dtls,
            server,
            mtu: usize::from(params.mtu),
            verification,
            asked: false,
            refused: false,
            failed: false,
            connected: false,
            closed: false,
            peer_closed: false,
            deadline: None,
            outgoing: VecDeque::new(),
            received: Vec::new(),
            peer_leaf: None,
            cipher_id: None,
            reassembly: Reassembly::default(),
            buf: vec![0u8; 2048],
        })
    }

    /// A dimpl error as polytls reports it; every dimpl error is fatal.
    fn fatal(&mut self, e: dimpl::Error) -> Error {
        self.failed = true;
        self.closed = true;
        match e {
            dimpl::Error::Timeout(t) => Error::Timeout {
                what: format!("the DTLS handshake: dimpl gave up ({t:?})"),
            },
            e if self.connected => Error::Protocol(format!("dimpl DTLS: {e}")),
            e => Error::Handshake {
                message: format!("dimpl DTLS handshake: {e}"),
                alert: None,
            },
        }
    }

    /// Refuses calls on an association that ended.
    fn alive(&self) -> Result<(), Error> {
        if self.failed || self.refused {
            return Err(Error::InvalidState("the DTLS association has ended".into()));
        }
        Ok(())
    }

    /// Hands dimpl the current time (firing a timer that has passed).
    fn tick(&mut self) -> Result<(), Error> {
        self.dtls
            .handle_timeout(Instant::now())
            .map_err(|e| self.fatal(e))
    }

    /// Verifies the peer's leaf and asks the hook (once per handshake).
    fn peer_certificate(&mut self, der: &[u8]) {
        let leaf = Certificate::from_der(der).ok();
        if let (Some(v), false) = (&self.verification, self.asked) {
            self.asked = true;
            let accepted = match &leaf {
                Some(cert) => {
                    let errors =
                        verify::problems(der, cert, &v.anchors, v.role, v.peer_name.as_ref());
                    v.hook.decide(std::slice::from_ref(cert), errors)
                }
                // Not a certificate polytls can parse: nothing to show, refused.
                None => false,
            };
            self.refused = !accepted;
        }
        if self.peer_leaf.is_none() {
            self.peer_leaf = leaf;
        }
    }

    /// Drains dimpl's output (see the module documentation).
    fn drain(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            match self.dtls.poll_output(&mut buf) {
                Output::Packet(p) => {
                    if self.server && !self.connected {
                        if let Some(id) = server_hello_suite(p) {
                            self.cipher_id = Some(id);
                        }
                    }
                    self.outgoing.push_back(p.to_vec());
                }
                Output::BufferTooSmall { needed } => buf.resize(needed, 0),
                Output::Timeout(at) => {
                    self.deadline = Some(at);
                    break;
                }
                Output::Connected => {
                    self.connected = true;
                    // Nothing is reassembled once connected: what was kept goes.
                    self.reassembly = Reassembly::default();
                }
                Output::PeerCert(der) => {
                    let der = der.to_vec();
                    self.peer_certificate(&der);
                }
                Output::ApplicationData(data) => self.received.extend_from_slice(data),
                Output::CloseNotify => self.peer_closed = true,
                _ => {}
            }
        }
        self.buf = buf;
    }

    /// Feeds `datagram` to dimpl (after the time) and drains its output; during the
    /// handshake, its plaintext handshake messages go through [`Reassembly`] first.
    fn feed(&mut self, datagram: Option<&[u8]>) -> Result<(), Error> {
        self.tick()?;
        if let Some(datagram) = datagram {
            let split = if self.connected {
                None
            } else {
                self.reassembly.split(datagram)
            };
            return match split {
                None => self.handle(datagram),
                Some(datagrams) => {
                    for d in &datagrams {
                        // Nothing more goes to dimpl once the hook refused the peer.
                        if self.refused {
                            break;
                        }
                        self.handle(d)?;
                    }
                    Ok(())
                }
            };
        }
        self.drain();
        Ok(())
    }

    /// Hands dimpl one datagram and drains its output; a client reads the suite of a
    /// ServerHello on its way.
    fn handle(&mut self, datagram: &[u8]) -> Result<(), Error> {
        if !self.server && !self.connected {
            if let Some(id) = server_hello_suite(datagram) {
                self.cipher_id = Some(id);
            }
        }
        let handled = self.dtls.handle_packet(datagram);
        self.drain();
        handled.map_err(|e| self.fatal(e))
    }
}

impl DtlsEngine for DimplDtlsEngine {
    fn handshake(&mut self, datagram: Option<&[u8]>) -> Result<bool, Error> {
        self.alive()?;
        if self.connected {
            return Ok(true);
        }
        let queued = self.outgoing.len();
        self.feed(datagram)?;
        if self.refused {
            // Nothing of a refused handshake goes out.
            self.outgoing.truncate(queued);
            self.closed = true;
            return Err(Error::Handshake {
                message: "the peer's certificate was refused".into(),
                alert: None,
            });
        }
        Ok(self.connected)
    }

    fn timeout(&self) -> Option<Duration> {
        if self.connected || self.failed || self.refused {
            return None;
        }
        self.deadline
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn handle_timeout(&mut self) -> Result<bool, Error> {
        self.alive()?;
        let queued = self.outgoing.len();
        self.tick()?;
        self.drain();
        Ok(self.outgoing.len() > queued)
    }

    fn encrypt(&mut self, plaintext: &[u8]) -> Result<(), Error> {
        self.alive()?;
        if !self.connected || self.closed {
            return Err(Error::InvalidState(
                "DTLS data can only be sent once the handshake completed".into(),
            ));
        }
        let max = self.max_plaintext();
        if plaintext.len() > max {
            return Err(Error::InvalidInput(format!(
                "a datagram of {} bytes does not fit in one DTLS record at this MTU (at most {max})",
                plaintext.len()
            )));
        }
        if plaintext.is_empty() {
            return Ok(());
        }
        match self.dtls.send_application_data(plaintext) {
            Err(e) => return Err(self.fatal(e)),
            // dimpl takes a whole datagram or none of it (none only while an auto-sensing
            // endpoint has not chosen its version, which a connected one has).
            Ok(taken) if taken < plaintext.len() => {
                return Err(Error::InvalidState(format!(
                    "dimpl took {taken} of the {} bytes of a datagram",
                    plaintext.len()
                )))
            }
            Ok(_) => {}
        }
        self.drain();
        Ok(())
    }

    fn decrypt(&mut self, datagram: &[u8], out: &mut Vec<u8>) -> Result<DtlsRead, Error> {
        if !self.peer_closed {
            self.alive()?;
            self.feed(Some(datagram))?;
        }
        let n = self.received.len();
        out.append(&mut self.received);
        match (n, self.peer_closed) {
            (_, true) => Ok(DtlsRead::Closed),
            (0, false) => Ok(DtlsRead::Nothing),
            (n, false) => Ok(DtlsRead::Data(n)),
        }
    }

    fn max_plaintext(&self) -> usize {
        if !self.connected {
            return 0;
        }
        self.mtu.saturating_sub(RECORD_OVERHEAD)
    }

    fn send_close_notify(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        // During a handshake dimpl aborts without an alert (there is no authenticated
        // channel); once connected it queues close_notify.
        if self.dtls.close().is_ok() {
            self.drain();
        }
    }

    fn send_queued(&mut self, send: &mut dyn FnMut(&[u8]) -> io::Result<usize>) -> io::Result<()> {
        while let Some(datagram) = self.outgoing.front() {
            send(datagram)?;
            self.outgoing.pop_front();
        }
        Ok(())
    }

    fn has_queued(&self) -> bool {
        !self.outgoing.is_empty()
    }

    fn session(&self) -> SessionInfo {
        let mut session = SessionInfo::new();
        if !self.connected {
            return session;
        }
        let protocol = match self.dtls.protocol_version() {
            Some(ProtocolVersion::DTLS1_2) => SslProtocol::DtlsV1_2,
            Some(ProtocolVersion::DTLS1_3) => SslProtocol::DtlsV1_3,
            _ => SslProtocol::UnknownProtocol,
        };
        session.protocol = protocol;
        session.cipher = self.cipher_id.map(|id| SslCipher::from_id(id, protocol));
        session.peer_chain = self.peer_leaf.iter().cloned().collect();
        session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Accept;

    impl VerificationHook for Accept {
        fn decide(&self, _: &[Certificate], _: Vec<polytls_core::SslError>) -> bool {
            true
        }
    }

    #[test]
    fn associations_with_equal_parameters_share_one_dimpl_configuration() {
        let config = SslConfiguration {
            peer_verify_mode: PeerVerifyMode::VerifyPeer,
            ..SslConfiguration::default_dtls_configuration()
        };
        let hook: Arc<dyn VerificationHook> = Arc::new(Accept);
        let params = |mode, mtu| DtlsEngineParams::new(mode, &config, None, hook.clone(), mtu);
        let server = params(SslMode::SslServerMode, 1000);
        let first = dimpl_config_for(&server).unwrap();
        let again = dimpl_config_for(&params(SslMode::SslServerMode, 1000)).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(first.require_client_certificate());
        assert_eq!(first.mtu(), 1000);
        // Another MTU, mode or verify mode is another configuration.
        let other_mtu = dimpl_config_for(&params(SslMode::SslServerMode, 999)).unwrap();
        assert_eq!(other_mtu.mtu(), 999);
        let client = dimpl_config_for(&params(SslMode::SslClientMode, 1000)).unwrap();
        assert!(!client.require_client_certificate());
        let mut unverified = params(SslMode::SslServerMode, 1000);
        unverified.verify_mode = PeerVerifyMode::VerifyNone;
        let unverified = dimpl_config_for(&unverified).unwrap();
        assert!(!unverified.require_client_certificate());
        for other in [&other_mtu, &client, &unverified] {
            assert!(!Arc::ptr_eq(&first, other));
        }
    }

    #[test]
    fn reads_the_suite_of_a_server_hello() {
        // One record: handshake, DTLS 1.2, epoch 0, sequence 0, a ServerHello fragment.
        let mut hello = vec![0xfe, 0xfd];
        hello.extend([7u8; 32]);
        hello.push(2);
        hello.extend([1, 2]);
        hello.extend([0xc0, 0x2b, 0]);
        let mut body = vec![2, 0, 0, hello.len() as u8, 0, 1, 0, 0, 0, 0, 0];
        body.push(hello.len() as u8);
        body.extend(&hello);
        let mut record = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        record.extend((body.len() as u16).to_be_bytes());
        record.extend(&body);
        assert_eq!(server_hello_suite(&record), Some(0xc02b));
        // Not epoch 0: encrypted, not read.
        record[4] = 1;
        assert_eq!(server_hello_suite(&record), None);
        assert_eq!(server_hello_suite(&record[..5]), None);
    }
}
