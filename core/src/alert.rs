//! TLS alerts: [`AlertLevel`] and [`AlertType`] with their wire codes (Qt's `QSsl::AlertLevel`
//! and `QSsl::AlertType`).

use std::fmt;

/// The level of a TLS alert message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertLevel {
    /// A warning; the connection may continue.
    Warning,
    /// A fatal alert; the connection ends.
    Fatal,
    /// A level this library does not know.
    Unknown,
}

impl AlertLevel {
    /// The level for a wire code (1 warning, 2 fatal, anything else unknown).
    pub fn from_code(code: u8) -> AlertLevel {
        match code {
            1 => Self::Warning,
            2 => Self::Fatal,
            _ => Self::Unknown,
        }
    }
}

macro_rules! alert_types {
    ($($(#[$doc:meta])* $name:ident = $code:literal,)*) => {
        /// A TLS alert description, with its code from the IANA registry.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum AlertType {
            $($(#[$doc])* $name,)*
            /// A code this library does not know (Qt's `UnknownAlertMessage`).
            UnknownAlertMessage(u8),
        }

        impl AlertType {
            /// The alert for a wire code; unknown codes become `UnknownAlertMessage(code)`.
            pub fn from_code(code: u8) -> AlertType {
                match code {
                    $($code => Self::$name,)*
                    other => Self::UnknownAlertMessage(other),
                }
            }

            /// The wire code of this alert.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$name => $code,)*
                    Self::UnknownAlertMessage(code) => code,
                }
            }
        }
    };
}

alert_types! {
    /// The sender closes the connection cleanly (0).
    CloseNotification = 0,
    /// An inappropriate message was received (10).
    UnexpectedMessage = 10,
    /// A record failed authentication (20).
    BadRecordMac = 20,
    /// A record was longer than allowed (22).
    RecordOverflow = 22,
    /// Decompression failed (30).
    DecompressionFailure = 30,
    /// No acceptable set of security parameters (40).
    HandshakeFailure = 40,
    /// SSL 3.0 only: no certificate (41).
    NoCertificate = 41,
    /// A certificate was corrupt or its signature did not verify (42).
    BadCertificate = 42,
    /// A certificate of an unsupported type (43).
    UnsupportedCertificate = 43,
    /// A certificate was revoked (44).
    CertificateRevoked = 44,
    /// A certificate has expired or is not yet valid (45).
    CertificateExpired = 45,
    /// Some other certificate problem (46).
    CertificateUnknown = 46,
    /// A field was out of range or inconsistent (47).
    IllegalParameter = 47,
    /// The chain did not lead to a trusted anchor (48).
    UnknownCa = 48,
    /// Access denied by policy (49).
    AccessDenied = 49,
    /// A message could not be decoded (50).
    DecodeError = 50,
    /// A cryptographic operation failed (51).
    DecryptError = 51,
    /// The peer's version is not supported (70).
    ProtocolVersion = 70,
    /// The peer's parameters are too weak (71).
    InsufficientSecurity = 71,
    /// An error unrelated to the peer (80).
    InternalError = 80,
    /// A downgrade was detected (86).
    InappropriateFallback = 86,
    /// The user cancelled the handshake (90).
    UserCancelled = 90,
    /// Renegotiation was refused (100).
    NoRenegotiation = 100,
    /// A required extension was missing (109).
    MissingExtension = 109,
    /// An unsolicited extension was received (110).
    UnsupportedExtension = 110,
    /// A certificate could not be obtained (111).
    CertificateUnobtainable = 111,
    /// The SNI name was not recognised (112).
    UnrecognizedName = 112,
    /// An invalid OCSP response was stapled (113).
    BadCertificateStatusResponse = 113,
    /// A certificate hash did not match (114).
    BadCertificateHashValue = 114,
    /// The PSK identity is unknown (115).
    UnknownPskIdentity = 115,
    /// A certificate was required but not sent (116).
    CertificateRequired = 116,
    /// No ALPN protocol in common (120).
    NoApplicationProtocol = 120,
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownAlertMessage(code) => write!(f, "unknown alert ({code})"),
            other => write!(f, "{other:?} ({})", other.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(AlertType::from_code(code).code(), code);
        }
        assert_eq!(AlertType::from_code(48), AlertType::UnknownCa);
        assert_eq!(AlertLevel::from_code(2), AlertLevel::Fatal);
    }
}
