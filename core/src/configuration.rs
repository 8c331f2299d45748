//! [`SslConfiguration`]: every setting of a TLS session (Qt's `QSslConfiguration`), with Qt's
//! defaults, and the process-wide default configurations for TLS and DTLS.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::{
    source, Certificate, EncodingFormat, Error, Key, KeyStrength, KeyType, PatternSyntax,
    PeerVerifyMode, SslCipher, SslProtocol,
};

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
    /// The private key of the leaf in `local_certificate_chain`. A server needs one: starting
    /// a server handshake with a certificate and no key fails with [`Error::InvalidInput`]
    /// before anything is sent (see [`validate`](Self::validate)), where Qt starts such a
    /// server's handshake anyway and leaves its client waiting.
    pub private_key: Option<Key>,
    /// The cipher suites to offer or accept, in preference order; `None` (the default) is
    /// the backend's own default list. Qt copies its default suites into the default
    /// configuration, so that its `ciphers()` is never empty; polytls leaves the choice to
    /// each backend, so that one configuration suits every backend, and the suites a backend
    /// can negotiate are its [`supported_ciphers`](crate::TlsBackend::supported_ciphers).
    /// An empty list enables no suite, and no handshake succeeds under it.
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
    /// handler (Qt's early error reporting). Supported with every backend. A DTLS handshake
    /// always stops on its verification errors, in
    /// [`PeerVerificationFailed`](crate::HandshakeState::PeerVerificationFailed) until they are
    /// ignored and the handshake resumed (Qt's `QDtls`), so there the flag changes nothing.
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

    /// Adds `certificates` to the trusted CA certificates (Qt's `addCaCertificates`). As in
    /// Qt, a configuration with CA certificates of its own trusts only those: adding to one
    /// that trusted the system's CA certificates (`None`) starts a list without them.
    pub fn add_ca_certificates(&mut self, certificates: impl IntoIterator<Item = Certificate>) {
        self.ca_certificates
            .get_or_insert_with(Vec::new)
            .extend(certificates);
    }

    /// Adds the CA certificates of the files `path` names (Qt's `addCaCertificates(path,
    /// format, syntax)`), matched as [`Certificate::from_path`] matches them, and returns how
    /// many were added.
    ///
    /// Unlike Qt, which returns `false`, loading nothing is an error, because a configuration
    /// that trusts nothing fails every handshake far from the mistake: fails with
    /// [`Error::Certificate`] naming the file when it holds no certificate (it is empty, or
    /// holds only a private key...), or naming the pattern when it matches no file that holds
    /// one; with [`Error::Io`] naming the file when a file named without a pattern cannot be
    /// read; and as [`Certificate::from_path`] does. Nothing is added on failure.
    pub fn add_ca_certificates_from_path(
        &mut self,
        path: impl AsRef<Path>,
        format: EncodingFormat,
        syntax: PatternSyntax,
    ) -> Result<usize, Error> {
        let path = path.as_ref();
        let mut found = Certificate::from_path(path, format, syntax)?;
        if found.is_empty() {
            if syntax == PatternSyntax::FixedString || path.exists() {
                found = certificates_in_file(path, format)?;
            } else {
                return Err(Error::Certificate(format!(
                    "{} matches no file that holds a certificate",
                    path.display()
                )));
            }
        }
        let added = found.len();
        self.add_ca_certificates(found);
        Ok(added)
    }

    /// Sets the local certificate chain (leaf first) from the certificates of one file (Qt's
    /// `QSslSocket::setLocalCertificate(path, format)`, with the chain).
    ///
    /// Fails with [`Error::Io`] naming the file when it cannot be read, and with
    /// [`Error::Certificate`] naming it when it holds no certificate (the message says what
    /// it holds instead: nothing, a private key...) or a malformed one. The chain is unchanged
    /// on failure.
    pub fn set_local_certificate_chain_from_file(
        &mut self,
        path: impl AsRef<Path>,
        format: EncodingFormat,
    ) -> Result<(), Error> {
        self.local_certificate_chain = certificates_in_file(path.as_ref(), format)?;
        Ok(())
    }

    /// Sets the private key from a file, decrypting it with `passphrase` when it is encrypted
    /// (Qt's `QSslSocket::setPrivateKey(fileName, ...)`). Whether it matches the local
    /// certificate is checked by [`validate`](Self::validate), when a handshake starts.
    ///
    /// Fails with [`Error::Io`] naming the file when it cannot be read, [`Error::Key`] naming it
    /// when it holds no private key (the message says what it holds instead: a
    /// certificate...) or a malformed one, and as [`Key::from_data_with_passphrase`] does. The
    /// key is unchanged on failure.
    pub fn set_private_key_from_file(
        &mut self,
        path: impl AsRef<Path>,
        format: EncodingFormat,
        passphrase: &[u8],
    ) -> Result<(), Error> {
        let path = path.as_ref();
        let data = source::read(path)?;
        let key = Key::from_data_with_passphrase(&data, format, KeyType::PrivateKey, passphrase)
            .map_err(|e| match e {
                Error::Key(_)
                    if format == EncodingFormat::Der && Certificate::from_der(&data).is_ok() =>
                {
                    Error::Key(format!(
                        "{} holds a certificate, not a private key",
                        path.display()
                    ))
                }
                other => source::in_file(path, other),
            })?;
        self.private_key = Some(key);
        Ok(())
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
    /// key (pass `server` false for one that authenticates only with pre-shared keys), a key needs a certificate and must be the private half of the local certificate's
    /// key, ALPN names are 1 to 255 bytes, and the protocol fits the transport (`dtls`).
    /// Every handshake starts with this check.
    ///
    /// Whether the key matches is decided by comparing the certificate's public key with the
    /// public value the private key holds: RSA and traditional DSA keys always hold theirs, EC
    /// keys when they carry their public point (as OpenSSL and most tools write them), Ed25519
    /// keys in the PKCS#8 v2 layout. A key that holds none (Ed25519 in PKCS#8 v1, as `openssl
    /// genpkey` writes it; DSA in PKCS#8) is left to the backend, which refuses a mismatch
    /// when the engine is made.
    ///
    /// Fails with [`Error::Key`] naming the certificate's subject when the key does not match
    /// it, and with [`Error::InvalidInput`] naming the first other problem.
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
            if let Some(leaf) = self.local_certificate() {
                key_matches(key, leaf)?;
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

/// The certificates of one file, at least one.
///
/// Fails with [`Error::Io`] naming the file when it cannot be read and with
/// [`Error::Certificate`] naming it when it holds none or a malformed one.
fn certificates_in_file(path: &Path, format: EncodingFormat) -> Result<Vec<Certificate>, Error> {
    let data = source::read(path)?;
    let holds_key = || Key::from_der(&data, KeyType::PrivateKey).is_ok();
    match Certificate::list_from_data(&data, format) {
        Ok(found) if !found.is_empty() => Ok(found),
        Ok(_) => Err(Error::Certificate(format!(
            "{} {}",
            path.display(),
            source::pem_lacks(&data, "certificate")
        ))),
        Err(_) if format == EncodingFormat::Der && holds_key() => Err(Error::Certificate(format!(
            "{} holds a private key, not a certificate",
            path.display()
        ))),
        Err(e) => Err(source::in_file(path, e)),
    }
}

/// Checks that `key` is the private half of `leaf`'s key.
///
/// Fails with [`Error::Key`] naming the certificate when it is not.
fn key_matches(key: &Key, leaf: &Certificate) -> Result<(), Error> {
    // A certificate whose key polytls cannot read is left to the backend.
    // Per session: without a full parse of the certificate.
    let Ok(public) = crate::certificate::quick_public_key(leaf) else {
        return Ok(());
    };
    if key.differs_from(&public) != Some(true) {
        return Ok(());
    }
    let subject = leaf.subject_name();
    let subject = if subject.is_empty() {
        "an empty subject".to_owned()
    } else {
        format!("subject {subject}")
    };
    let detail = if key.same_kind(&public) {
        format!("the private key is another {} key", key.describe())
    } else {
        format!(
            "the certificate's key is {}, the private key is {}",
            public.describe(),
            key.describe()
        )
    };
    Err(Error::Key(format!(
        "the private key does not match the local certificate ({subject}): {detail}"
    )))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "polytls-configuration-{name}-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A self-signed certificate for `cn` and its key pair.
    fn identity(cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> (Certificate, Key) {
        let pair = if alg == &rcgen::PKCS_RSA_SHA256 {
            rcgen::KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
        } else {
            rcgen::KeyPair::generate_for(alg).unwrap()
        };
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&pair).unwrap();
        (
            Certificate::from_der(cert.der()).unwrap(),
            Key::from_der(&pair.serialize_der(), KeyType::PrivateKey).unwrap(),
        )
    }

    fn server(cert: &Certificate, key: &Key) -> SslConfiguration {
        SslConfiguration {
            local_certificate_chain: vec![cert.clone()],
            private_key: Some(key.clone()),
            ..SslConfiguration::default()
        }
    }

    #[test]
    fn a_file_without_certificates_is_an_error_naming_it() {
        let dir = Scratch::new("empty");
        let (cert, key) = identity("ca", &rcgen::PKCS_ECDSA_P256_SHA256);
        let empty = dir.file("empty.pem", b"");
        let key_only = dir.file("server.key", key.to_pem().as_bytes());
        let key_der = dir.file("server.key.der", key.to_der());
        let mut config = SslConfiguration::default();

        let e = config
            .add_ca_certificates_from_path(&empty, EncodingFormat::Pem, PatternSyntax::FixedString)
            .unwrap_err();
        assert!(matches!(e, Error::Certificate(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("certificate: {} is empty", empty.display())
        );
        assert_eq!(config.ca_certificates, None, "nothing is trusted instead");

        for (path, format) in [
            (&key_only, EncodingFormat::Pem),
            (&key_der, EncodingFormat::Der),
        ] {
            let e = config
                .set_local_certificate_chain_from_file(path, format)
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "certificate: {} holds a private key, not a certificate",
                    path.display()
                )
            );
            let e = config
                .add_ca_certificates_from_path(path, format, PatternSyntax::Wildcard)
                .unwrap_err();
            assert!(e.to_string().contains("holds a private key"), "{e}");
        }
        assert!(config.local_certificate_chain.is_empty());

        let pattern = dir.0.join("*.crt");
        let e = config
            .add_ca_certificates_from_path(&pattern, EncodingFormat::Pem, PatternSyntax::Wildcard)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "certificate: {} matches no file that holds a certificate",
                pattern.display()
            )
        );

        let missing = dir.0.join("missing.pem");
        let e = config
            .add_ca_certificates_from_path(
                &missing,
                EncodingFormat::Pem,
                PatternSyntax::FixedString,
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(
            e.to_string().contains(&missing.display().to_string()),
            "{e}"
        );

        let bundle = dir.file(
            "bundle.pem",
            format!("{}{}", cert.to_pem(), cert.to_pem()).as_bytes(),
        );
        let added = config
            .add_ca_certificates_from_path(&bundle, EncodingFormat::Pem, PatternSyntax::FixedString)
            .unwrap();
        assert_eq!(added, 2);
        let added = config
            .add_ca_certificates_from_path(
                dir.0.join("bun*.pem"),
                EncodingFormat::Pem,
                PatternSyntax::Wildcard,
            )
            .unwrap();
        assert_eq!(added, 2);
        assert_eq!(config.ca_certificates.as_ref().map(Vec::len), Some(4));
    }

    #[test]
    fn a_certificate_given_as_the_key_is_an_error_naming_the_file() {
        let dir = Scratch::new("cert-as-key");
        let (cert, key) = identity("server", &rcgen::PKCS_ECDSA_P256_SHA256);
        let mut config = SslConfiguration::default();
        for (path, format) in [
            (
                dir.file("cert.pem", cert.to_pem().as_bytes()),
                EncodingFormat::Pem,
            ),
            (dir.file("cert.der", cert.to_der()), EncodingFormat::Der),
        ] {
            let e = config
                .set_private_key_from_file(&path, format, b"")
                .unwrap_err();
            assert!(matches!(e, Error::Key(_)), "{e:?}");
            let said = e.to_string();
            assert!(
                said.contains(&path.display().to_string())
                    && said.contains("holds a certificate, not a private key"),
                "{said}"
            );
        }
        assert!(config.private_key.is_none());
        let key_file = dir.file("server.key", key.to_pem().as_bytes());
        let cert_file = dir.file("server.pem", cert.to_pem().as_bytes());
        config
            .set_private_key_from_file(&key_file, EncodingFormat::Pem, b"")
            .unwrap();
        config
            .set_local_certificate_chain_from_file(&cert_file, EncodingFormat::Pem)
            .unwrap();
        assert_eq!(config.private_key.as_ref(), Some(&key));
        assert_eq!(config.local_certificate_chain, [cert]);
        config.validate(true, false).unwrap();
    }

    #[test]
    fn a_key_that_does_not_match_its_certificate_is_refused() {
        let algorithms: [&'static rcgen::SignatureAlgorithm; 3] = [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ED25519,
            &rcgen::PKCS_RSA_SHA256,
        ];
        for alg in algorithms {
            let (cert, key) = identity("server.example", alg);
            let (_, other) = identity("other", alg);
            server(&cert, &key).validate(true, false).unwrap();
            // The same key in its traditional layout (PKCS#1, SEC 1) still matches, and
            // another key in it does not.
            let inner = |key: &Key| {
                use crate::der::{single, Reader, INTEGER, OCTET_STRING, SEQUENCE};
                let outer = single(key.to_der(), SEQUENCE).unwrap();
                let mut r = Reader::new(outer.contents);
                r.expect(INTEGER).unwrap();
                r.expect(SEQUENCE).unwrap();
                let inner = r.expect(OCTET_STRING).unwrap().contents.to_vec();
                Key::from_der(&inner, KeyType::PrivateKey).ok()
            };
            if let (Some(same), Some(another)) = (inner(&key), inner(&other)) {
                assert_ne!(same.format(), crate::KeyFormat::Pkcs8);
                server(&cert, &same).validate(true, false).unwrap();
                server(&cert, &another).validate(true, false).unwrap_err();
            }
            let e = server(&cert, &other).validate(true, false).unwrap_err();
            assert!(matches!(e, Error::Key(_)), "{alg:?}: {e:?}");
            let said = e.to_string();
            assert!(
                said.contains("the private key does not match the local certificate (subject CN=server.example)")
                    && said.contains("another"),
                "{alg:?}: {said}"
            );
            // A client certificate too.
            let e = server(&cert, &other).validate(false, false).unwrap_err();
            assert!(matches!(e, Error::Key(_)), "{e:?}");
        }
        let (rsa_cert, _) = identity("rsa", &rcgen::PKCS_RSA_SHA256);
        let (_, ec_key) = identity("ec", &rcgen::PKCS_ECDSA_P256_SHA256);
        let e = server(&rsa_cert, &ec_key)
            .validate(true, false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "key: the private key does not match the local certificate (subject CN=rsa): the \
             certificate's key is RSA 2048 bits, the private key is EC P-256"
        );
    }
}
