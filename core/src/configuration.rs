//! [`SslConfiguration`]: every setting of a TLS session (Qt's `QSslConfiguration`), with Qt's
//! defaults, and the process-wide default configurations for TLS and DTLS.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use crate::{Certificate, Error, Key, KeyStrength, PeerVerifyMode, SslCipher, SslProtocol};

/// An option that turns off a protocol behaviour (Qt's `QSsl::SslOption`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SslOption {
    /// Do not insert empty fragments (a TLS 1.0 CBC countermeasure).
    DisableEmptyFragments,
    /// Do not use or accept session tickets.
    DisableSessionTickets,
    /// Do not compress records (polytls never does; listed for Qt parity).
    DisableCompression,
    /// Do not send the server name (SNI) in the ClientHello.
    DisableServerNameIndication,
    /// Refuse insecure legacy renegotiation.
    DisableLegacyRenegotiation,
    /// Do not share sessions between connections.
    DisableSessionSharing,
    /// Do not keep session data for the user to persist.
    DisableSessionPersistence,
    /// Let the client's cipher order win over the server's.
    DisableServerCipherPreference,
}

/// All settings of a TLS (or DTLS) session. `Default` gives Qt's defaults:
/// [`SslProtocol::SecureProtocols`], [`PeerVerifyMode::AutoVerifyPeer`], unlimited depth,
/// system CA certificates, the backend's cipher list, DTLS cookie verification on.
///
/// ```
/// use polytls::{PeerVerifyMode, SslConfiguration, SslProtocol};
///
/// let mut config = SslConfiguration::default_configuration();
/// config.protocol = SslProtocol::TlsV1_3OrLater;
/// config.allowed_next_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
/// assert_eq!(config.peer_verify_mode, PeerVerifyMode::AutoVerifyPeer);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SslConfiguration {
    /// The protocol versions to accept.
    pub protocol: SslProtocol,
    /// Whether to request and verify the peer's certificate.
    pub peer_verify_mode: PeerVerifyMode,
    /// The most CA certificates allowed between the peer's certificate and its trust anchor
    /// (OpenSSL's verify depth, which Qt passes on unchanged); 0 means no limit. A longer chain
    /// is reported as [`SslErrorKind::PathLengthExceeded`](crate::SslErrorKind) naming the
    /// first certificate beyond the limit.
    pub peer_verify_depth: u32,
    /// This side's certificate followed by its intermediates (leaf first).
    pub local_certificate_chain: Vec<Certificate>,
    /// The private key of the leaf in `local_certificate_chain`.
    pub private_key: Option<Key>,
    /// The cipher suites to offer or accept, in preference order; `None` is the backend's default.
    pub ciphers: Option<Vec<SslCipher>>,
    /// The trust anchors; `None` means the system's CA certificates. When set, only these are
    /// trusted.
    pub ca_certificates: Option<Vec<Certificate>>,
    /// Protocol behaviours to turn off.
    pub ssl_options: BTreeSet<SslOption>,
    /// A session ticket to resume from (client side).
    pub session_ticket: Vec<u8>,
    /// The elliptic curves (named groups) to offer, by name; empty is the backend's default.
    pub elliptic_curves: Vec<String>,
    /// The PSK identity hint a server sends.
    pub pre_shared_key_identity_hint: Option<Vec<u8>>,
    /// ALPN protocols, in preference order; empty disables ALPN.
    pub allowed_next_protocols: Vec<Vec<u8>>,
    /// Whether to request (client) or staple (server) an OCSP response.
    pub ocsp_stapling_enabled: bool,
    /// Whether a DTLS server verifies cookies before creating state.
    pub dtls_cookie_verification_enabled: bool,
    /// Whether the handshake stops on each verification error until the program decides, from
    /// the [`on_handshake_interrupted_on_error`](crate::Session::on_handshake_interrupted_on_error)
    /// handler (Qt's early error reporting). Supported with every backend.
    pub handshake_must_interrupt_on_error: bool,
    /// Whether a missing peer certificate under `VerifyPeer` fails the handshake even if
    /// `NoPeerCertificate` is ignored.
    pub missing_certificate_is_fatal: bool,
    /// How strong the keys of the peer's chain must be (beyond Qt); a weaker key is an
    /// `UnspecifiedError` naming its certificate. [`KeyStrength::Standard`] (RSA 2048, EC 224)
    /// unless relaxed explicitly.
    pub key_strength: KeyStrength,
    /// Whether certificates must follow RFC 5280's profile strictly (beyond Qt; OpenSSL's
    /// `X509_V_FLAG_X509_STRICT`, Python's default): authority key identifiers below the top
    /// of the chain, subject key identifiers and key usage on CAs, no keyCertSign or path
    /// length on a leaf, non-empty names. A fault is an `UnspecifiedError` naming its
    /// certificate. On unless turned off explicitly.
    pub strict_certificate_profile: bool,
}

impl Default for SslConfiguration {
    fn default() -> Self {
        SslConfiguration {
            protocol: SslProtocol::SecureProtocols,
            peer_verify_mode: PeerVerifyMode::AutoVerifyPeer,
            peer_verify_depth: 0,
            local_certificate_chain: Vec::new(),
            private_key: None,
            ciphers: None,
            ca_certificates: None,
            ssl_options: [
                SslOption::DisableEmptyFragments,
                SslOption::DisableLegacyRenegotiation,
                SslOption::DisableCompression,
                SslOption::DisableSessionSharing,
                SslOption::DisableSessionPersistence,
            ]
            .into_iter()
            .collect(),
            session_ticket: Vec::new(),
            elliptic_curves: Vec::new(),
            pre_shared_key_identity_hint: None,
            allowed_next_protocols: Vec::new(),
            ocsp_stapling_enabled: false,
            dtls_cookie_verification_enabled: true,
            handshake_must_interrupt_on_error: false,
            missing_certificate_is_fatal: false,
            key_strength: KeyStrength::Standard,
            strict_certificate_profile: true,
        }
    }
}

/// A process-wide default: set by the user, or built from Qt's defaults on first use. It is
/// shared (`Arc`), so that every new socket starts from it without copying it.
struct DefaultSlot {
    slot: RwLock<Option<Arc<SslConfiguration>>>,
    fallback: fn() -> SslConfiguration,
}

static DEFAULT: DefaultSlot = DefaultSlot {
    slot: RwLock::new(None),
    fallback: SslConfiguration::default,
};
static DEFAULT_DTLS: DefaultSlot = DefaultSlot {
    slot: RwLock::new(None),
    fallback: || SslConfiguration {
        protocol: SslProtocol::DtlsV1_2OrLater,
        ..SslConfiguration::default()
    },
};

impl DefaultSlot {
    /// The current default, shared.
    fn get(&self) -> Arc<SslConfiguration> {
        let current = self
            .slot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(config) = current {
            return config;
        }
        let mut slot = self
            .slot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(slot.get_or_insert_with(|| Arc::new((self.fallback)())))
    }

    fn set(&self, config: SslConfiguration) {
        *self
            .slot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(config));
    }
}

impl SslConfiguration {
    /// The process-wide default for new TLS sockets: Qt's defaults until
    /// [`set_default_configuration`](Self::set_default_configuration) replaces it.
    pub fn default_configuration() -> SslConfiguration {
        SslConfiguration::clone(&DEFAULT.get())
    }

    /// The process-wide default for new TLS sockets, shared rather than copied (what new
    /// sockets and servers start from).
    pub(crate) fn shared_default_configuration() -> Arc<SslConfiguration> {
        DEFAULT.get()
    }

    /// Replaces the process-wide default for sockets created from now on.
    pub fn set_default_configuration(config: SslConfiguration) {
        DEFAULT.set(config);
    }

    /// The process-wide default for new DTLS associations: Qt's defaults with
    /// `DtlsV1_2OrLater`, until replaced.
    pub fn default_dtls_configuration() -> SslConfiguration {
        SslConfiguration::clone(&DEFAULT_DTLS.get())
    }

    /// Replaces the process-wide DTLS default for associations created from now on.
    pub fn set_default_dtls_configuration(config: SslConfiguration) {
        DEFAULT_DTLS.set(config);
    }

    /// The local leaf certificate (the first of the chain), if any.
    pub fn local_certificate(&self) -> Option<&Certificate> {
        self.local_certificate_chain.first()
    }

    /// Whether `option` is set.
    pub fn test_ssl_option(&self, option: SslOption) -> bool {
        self.ssl_options.contains(&option)
    }

    /// Sets or clears `option`.
    pub fn set_ssl_option(&mut self, option: SslOption, on: bool) {
        if on {
            self.ssl_options.insert(option);
        } else {
            self.ssl_options.remove(&option);
        }
    }

    /// Checks the settings that do not depend on a backend: a server needs a certificate and a
    /// key, a key needs a certificate, ALPN names are 1 to 255 bytes, and the protocol fits
    /// the transport (`dtls`).
    ///
    /// Fails with [`Error::InvalidInput`] naming the first problem.
    pub fn validate(&self, server: bool, dtls: bool) -> Result<(), Error> {
        if server && (self.local_certificate_chain.is_empty() || self.private_key.is_none()) {
            return Err(Error::InvalidInput(
                "a server needs a local certificate and a private key".into(),
            ));
        }
        if self.private_key.is_some() == self.local_certificate_chain.is_empty() {
            return Err(Error::InvalidInput(
                "a local certificate and a private key must be set together".into(),
            ));
        }
        if let Some(key) = &self.private_key {
            if key.key_type() != crate::KeyType::PrivateKey {
                return Err(Error::InvalidInput(
                    "the private key is a public key".into(),
                ));
            }
        }
        if self
            .allowed_next_protocols
            .iter()
            .any(|p| p.is_empty() || p.len() > 255)
        {
            return Err(Error::InvalidInput(
                "an ALPN protocol name must be 1 to 255 bytes".into(),
            ));
        }
        let protocol_is_dtls = self.protocol.is_dtls();
        let generic = matches!(
            self.protocol,
            SslProtocol::AnyProtocol | SslProtocol::SecureProtocols
        );
        if self.protocol == SslProtocol::UnknownProtocol || (!generic && protocol_is_dtls != dtls) {
            return Err(Error::InvalidInput(format!(
                "protocol {} cannot be used for a {} session",
                self.protocol,
                if dtls { "DTLS" } else { "TLS" }
            )));
        }
        Ok(())
    }
}
