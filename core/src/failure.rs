//! Failures every backend words alike: the errors for a peer that does not speak TLS, a
//! fatal alert from the peer, and no protocol version or cipher suite in common.
//!
//! Backends build these errors here instead of passing their library's own words on, so that
//! the same failure reads the same on every backend: the conformance suite compares the
//! variant and the message. [`PeerPrefix`] keeps the first bytes a peer sent, which is how an
//! engine tells a peer that speaks plain HTTP (or nothing TLS at all) from one that breaks
//! the protocol; [`Wording`] bundles it with the configuration's protocols and ciphers, which
//! the messages name.

use std::io::{self, Read};

use crate::{AlertType, Error, ProtocolVersion, SslCipher, SslConfiguration, SslProtocol};

/// What an engine keeps to word its failures as every backend does: the peer's first bytes,
/// and the protocols and cipher suites the configuration accepts.
#[derive(Clone, Debug)]
pub struct Wording {
    prefix: PeerPrefix,
    protocol: SslProtocol,
    ciphers: Option<Vec<SslCipher>>,
}

impl Wording {
    /// For a session with `config`.
    pub fn new(config: &SslConfiguration) -> Wording {
        Wording {
            prefix: PeerPrefix::new(),
            protocol: config.protocol,
            ciphers: config.ciphers.clone(),
        }
    }

    /// Calls `read_tls` with `rd`, recording what it reads while the peer's first bytes are
    /// still wanted (an engine's `read_tls` passes its own through this).
    pub fn read_tls<T>(
        &mut self,
        rd: &mut dyn Read,
        read_tls: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.prefix.is_complete() {
            read_tls(rd)
        } else {
            read_tls(&mut self.prefix.recording(rd))
        }
    }

    /// The peer's first bytes.
    pub fn prefix(&self) -> &PeerPrefix {
        &self.prefix
    }

    /// [`PeerPrefix::not_tls`] for the peer's first bytes.
    pub fn not_tls(&self) -> Option<Error> {
        self.prefix.not_tls()
    }

    /// [`no_common_protocol`] when the peer is a client offering only versions older than
    /// any the configuration accepts (see [`PeerPrefix::old_client_version`]), whatever a
    /// server engine found missing in its ClientHello first; `None` otherwise.
    pub fn client_too_old(&self) -> Option<Error> {
        let offered = self.prefix.old_client_version()?;
        let accepted = self.protocol.tls_versions(&ProtocolVersion::TLS);
        (!accepted.iter().any(|v| *v <= offered)).then(|| self.no_common_protocol())
    }

    /// [`no_common_protocol`] for the configured protocols.
    pub fn no_common_protocol(&self) -> Error {
        no_common_protocol(self.protocol)
    }

    /// [`no_common_cipher`] for the configured cipher suites.
    pub fn no_common_cipher(&self) -> Error {
        no_common_cipher(self.ciphers.as_deref())
    }
}

/// How many of the peer's first bytes [`PeerPrefix`] keeps: a record header, a handshake
/// header and a ClientHello's `legacy_version`.
const KEPT: usize = 11;

/// The first bytes a peer sent on a connection, kept by an engine (through
/// [`recording`](Self::recording)) until it has the first 11 of them.
#[derive(Clone, Debug, Default)]
pub struct PeerPrefix {
    bytes: [u8; KEPT],
    len: usize,
}

/// A reader that copies what it reads into a [`PeerPrefix`].
struct Recording<'a> {
    inner: &'a mut dyn Read,
    prefix: &'a mut PeerPrefix,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.prefix.record(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

impl PeerPrefix {
    /// An empty prefix.
    pub fn new() -> PeerPrefix {
        PeerPrefix::default()
    }

    /// Adds bytes received, keeping only the first 11 of the connection.
    pub fn record(&mut self, data: &[u8]) {
        let take = data.len().min(KEPT - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&data[..take]);
        self.len += take;
    }

    /// Whether every byte this prefix keeps has arrived: reading need not go through
    /// [`recording`](Self::recording) any more.
    pub fn is_complete(&self) -> bool {
        self.len == KEPT
    }

    /// `rd`, with what is read from it recorded here.
    pub fn recording<'a>(&'a mut self, rd: &'a mut dyn Read) -> impl Read + 'a {
        Recording {
            inner: rd,
            prefix: self,
        }
    }

    /// The bytes kept so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The error for a peer whose first bytes are not the start of a TLS record, or `None`
    /// when they are (or nothing arrived). A handshake failure is reported as this error
    /// whatever the engine said, because the engine's words (an unknown record type, a wrong
    /// version number) describe the symptom.
    pub fn not_tls(&self) -> Option<Error> {
        let bytes = self.bytes();
        let first = *bytes.first()?;
        // A TLS record: change_cipher_spec, alert, handshake, application_data or heartbeat,
        // then major version 3. An SSL 2.0-style ClientHello sets the top bit of its length.
        let tls = match first {
            20..=24 => bytes.get(1).map_or(true, |major| *major == 3),
            0x80..=0xff => true,
            _ => false,
        };
        (!tls).then(|| Error::Protocol(not_tls_message(bytes)))
    }

    /// The highest version a client offers when its first bytes are a ClientHello whose
    /// `legacy_version` is below TLS 1.2: such a client offers nothing newer (a client that
    /// offers TLS 1.2 or 1.3 says TLS 1.2 there). `None` otherwise.
    pub fn old_client_version(&self) -> Option<ProtocolVersion> {
        match self.bytes() {
            [0x16, 0x03, _, _, _, 0x01, _, _, _, 0x03, 0x01] => Some(ProtocolVersion::Tls1_0),
            [0x16, 0x03, _, _, _, 0x01, _, _, _, 0x03, 0x02] => Some(ProtocolVersion::Tls1_1),
            _ => None,
        }
    }
}

/// What a peer that sent `bytes` (not TLS) is probably doing, for [`PeerPrefix::not_tls`].
fn not_tls_message(bytes: &[u8]) -> String {
    const METHODS: [&[u8]; 9] = [
        b"GET ", b"POST", b"HEAD", b"PUT ", b"DELE", b"OPTI", b"CONN", b"PATC", b"TRAC",
    ];
    if bytes.starts_with(b"HTTP/") {
        "the peer answered in plain HTTP, not TLS: it is an HTTP server, not a TLS one \
         (http:// rather than https://?)"
            .into()
    } else if METHODS.iter().any(|m| bytes.starts_with(m)) {
        "the peer sent a plain HTTP request, not a TLS handshake: an http:// client on a TLS \
         port?"
            .into()
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "the peer does not speak TLS: its first bytes ({}) are not a TLS record",
            hex.join(" ")
        )
    }
}

/// The error for a fatal alert received from the peer: [`Error::Handshake`] carrying the
/// alert, with a message naming it (and, for the common ones, what it usually means).
pub fn alert_received(alert: AlertType) -> Error {
    let meaning = match alert {
        AlertType::ProtocolVersion => ": it accepts none of the protocol versions offered",
        AlertType::HandshakeFailure => {
            ": it found no acceptable set of parameters (cipher suites, groups, signature \
             algorithms), or refused this side's certificate"
        }
        AlertType::InsufficientSecurity => ": the parameters offered are too weak for it",
        AlertType::NoApplicationProtocol => ": no ALPN protocol in common",
        AlertType::UnrecognizedName => ": it does not serve the server name asked for",
        AlertType::CertificateRequired => ": it requires a certificate from this side",
        AlertType::UnknownCa => ": it does not trust the issuer of this side's certificate",
        AlertType::BadCertificate
        | AlertType::UnsupportedCertificate
        | AlertType::CertificateUnknown => ": it refused this side's certificate",
        AlertType::CertificateExpired => ": it found this side's certificate expired",
        AlertType::CertificateRevoked => ": it found this side's certificate revoked",
        _ => "",
    };
    Error::Handshake {
        message: format!("the peer sent a fatal alert, {alert}{meaning}"),
        alert: Some(alert),
    }
}

/// The error for a handshake this side refused because the peer offered (or chose) no
/// protocol version that `accepted` allows: [`Error::Handshake`] naming the versions
/// accepted.
pub fn no_common_protocol(accepted: SslProtocol) -> Error {
    let versions: Vec<String> = accepted
        .tls_versions(&ProtocolVersion::TLS)
        .iter()
        .map(ToString::to_string)
        .collect();
    Error::Handshake {
        message: format!(
            "no protocol version in common with the peer (this side accepts {})",
            if versions.is_empty() {
                accepted.name().to_owned()
            } else {
                versions.join(", ")
            }
        ),
        alert: None,
    }
}

/// The error for a handshake this side refused because the peer offered no cipher suite
/// that `accepted` (the configured list; `None` is the backend's default) holds:
/// [`Error::Handshake`] naming the suites accepted when they were configured.
pub fn no_common_cipher(accepted: Option<&[SslCipher]>) -> Error {
    let accepted = match accepted {
        Some(ciphers) => ciphers
            .iter()
            .map(SslCipher::name)
            .collect::<Vec<_>>()
            .join(", "),
        None => "the backend's default list".into(),
    };
    Error::Handshake {
        message: format!("no cipher suite in common with the peer (this side accepts {accepted})"),
        alert: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(bytes: &[u8]) -> PeerPrefix {
        let mut prefix = PeerPrefix::new();
        let mut rd = bytes;
        let mut buf = [0u8; 3];
        let mut recording = prefix.recording(&mut rd);
        while recording.read(&mut buf).unwrap() > 0 {}
        drop(recording);
        prefix
    }

    #[test]
    fn tells_plain_http_and_garbage_from_tls() {
        let request = prefix(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(request.is_complete());
        assert_eq!(request.bytes(), b"GET / HTTP/");
        assert!(matches!(
            request.not_tls(),
            Some(Error::Protocol(m)) if m.contains("plain HTTP request")
        ));
        let response = prefix(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        assert!(matches!(
            response.not_tls(),
            Some(Error::Protocol(m)) if m.contains("answered in plain HTTP")
        ));
        let junk = prefix(&[0x00, 0x01, 0x02]);
        assert_eq!(
            junk.not_tls().map(|e| e.to_string()),
            Some(
                "protocol error: the peer does not speak TLS: its first bytes (00 01 02) are \
                 not a TLS record"
                    .into()
            )
        );
        for tls in [
            &[0x16, 0x03, 0x01, 0x02, 0x00][..],
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46],
            &[0x80, 0x2e, 0x01],
            &[0x16],
        ] {
            assert!(prefix(tls).not_tls().is_none(), "{tls:?}");
        }
        assert!(prefix(&[0x16, 0x47]).not_tls().is_some());
        assert!(PeerPrefix::new().not_tls().is_none(), "nothing arrived");
    }

    #[test]
    fn tells_a_client_offering_only_old_versions() {
        let hello = |version: u8| {
            let mut p = PeerPrefix::new();
            p.record(&[
                0x16, 0x03, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x7c, 0x03, version,
            ]);
            p
        };
        assert_eq!(hello(1).old_client_version(), Some(ProtocolVersion::Tls1_0));
        assert_eq!(hello(2).old_client_version(), Some(ProtocolVersion::Tls1_1));
        assert_eq!(hello(3).old_client_version(), None);
        let config = SslConfiguration::default();
        let wording = |p: PeerPrefix| Wording {
            prefix: p,
            ..Wording::new(&config)
        };
        assert!(wording(hello(1)).client_too_old().is_some());
        assert!(wording(hello(3)).client_too_old().is_none());
        let any = Wording {
            prefix: hello(1),
            ..Wording::new(&SslConfiguration {
                protocol: SslProtocol::AnyProtocol,
                ..SslConfiguration::default()
            })
        };
        assert!(any.client_too_old().is_none(), "TLS 1.0 is accepted");
    }

    #[test]
    fn messages_name_what_failed() {
        assert_eq!(
            no_common_protocol(SslProtocol::SecureProtocols).to_string(),
            "handshake failed: no protocol version in common with the peer (this side accepts \
             TLSv1.2, TLSv1.3)"
        );
        let e = alert_received(AlertType::ProtocolVersion);
        assert!(matches!(
            e,
            Error::Handshake {
                alert: Some(AlertType::ProtocolVersion),
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "handshake failed: the peer sent a fatal alert, ProtocolVersion (70): it accepts \
             none of the protocol versions offered"
        );
        let suites = [SslCipher::from_id(0x1302, SslProtocol::TlsV1_3)];
        assert_eq!(
            no_common_cipher(Some(&suites)).to_string(),
            "handshake failed: no cipher suite in common with the peer (this side accepts \
             TLS_AES_256_GCM_SHA384)"
        );
    }
}
