//! Protocol versions: [`SslProtocol`], Qt's protocol selector, and [`ProtocolVersion`], the
//! concrete version a session negotiated.
//!
//! A selector names a range of versions (`TlsV1_2OrLater`, `SecureProtocols`) or exactly one
//! (`TlsV1_3`). Backends translate the range into their engine's minimum and maximum.

use std::fmt;

/// A concrete wire version of TLS or DTLS, ordered from oldest to newest within each family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// TLS 1.0 (RFC 2246).
    Tls1_0,
    /// TLS 1.1 (RFC 4346).
    Tls1_1,
    /// TLS 1.2 (RFC 5246).
    Tls1_2,
    /// TLS 1.3 (RFC 8446).
    Tls1_3,
    /// DTLS 1.0 (RFC 4347).
    Dtls1_0,
    /// DTLS 1.2 (RFC 6347).
    Dtls1_2,
    /// DTLS 1.3 (RFC 9147).
    Dtls1_3,
}

impl ProtocolVersion {
    /// Every TLS (stream) version, oldest first.
    pub const TLS: [ProtocolVersion; 4] = [Self::Tls1_0, Self::Tls1_1, Self::Tls1_2, Self::Tls1_3];

    /// Every DTLS (datagram) version, oldest first.
    pub const DTLS: [ProtocolVersion; 3] = [Self::Dtls1_0, Self::Dtls1_2, Self::Dtls1_3];

    /// The selector that names exactly this version.
    pub fn exact(self) -> SslProtocol {
        match self {
            Self::Tls1_0 => SslProtocol::TlsV1_0,
            Self::Tls1_1 => SslProtocol::TlsV1_1,
            Self::Tls1_2 => SslProtocol::TlsV1_2,
            Self::Tls1_3 => SslProtocol::TlsV1_3,
            Self::Dtls1_0 => SslProtocol::DtlsV1_0,
            Self::Dtls1_2 => SslProtocol::DtlsV1_2,
            Self::Dtls1_3 => SslProtocol::DtlsV1_3,
        }
    }

    /// Whether this is a datagram (DTLS) version.
    pub fn is_dtls(self) -> bool {
        matches!(self, Self::Dtls1_0 | Self::Dtls1_2 | Self::Dtls1_3)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tls1_0 => "TLSv1.0",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
            Self::Dtls1_0 => "DTLSv1.0",
            Self::Dtls1_2 => "DTLSv1.2",
            Self::Dtls1_3 => "DTLSv1.3",
        })
    }
}

/// Qt's `QSsl::SslProtocol`: which protocol versions a configuration accepts.
///
/// Qt's members come first, in Qt's order; [`SslProtocol::DtlsV1_3`] and
/// [`SslProtocol::DtlsV1_3OrLater`] are polytls' additions (Qt has no DTLS 1.3).
///
/// The default is [`SslProtocol::SecureProtocols`], TLS 1.2 or later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SslProtocol {
    /// TLS 1.0 only.
    TlsV1_0,
    /// TLS 1.0 or later.
    TlsV1_0OrLater,
    /// TLS 1.1 only.
    TlsV1_1,
    /// TLS 1.1 or later.
    TlsV1_1OrLater,
    /// TLS 1.2 only.
    TlsV1_2,
    /// TLS 1.2 or later.
    TlsV1_2OrLater,
    /// DTLS 1.0 only.
    DtlsV1_0,
    /// DTLS 1.0 or later.
    DtlsV1_0OrLater,
    /// DTLS 1.2 only.
    DtlsV1_2,
    /// DTLS 1.2 or later.
    DtlsV1_2OrLater,
    /// TLS 1.3 only.
    TlsV1_3,
    /// TLS 1.3 or later.
    TlsV1_3OrLater,
    /// Any version the backend supports.
    AnyProtocol,
    /// The versions considered secure: TLS 1.2 or later (DTLS 1.2 or later for datagrams).
    #[default]
    SecureProtocols,
    /// No known protocol; a session that is not established reports this.
    UnknownProtocol,
    /// DTLS 1.3 only (not in Qt).
    DtlsV1_3,
    /// DTLS 1.3 or later (not in Qt).
    DtlsV1_3OrLater,
}

impl SslProtocol {
    /// Every member: Qt's in Qt's declaration order, then polytls' DTLS 1.3 selectors.
    pub const ALL: [SslProtocol; 17] = [
        Self::TlsV1_0,
        Self::TlsV1_0OrLater,
        Self::TlsV1_1,
        Self::TlsV1_1OrLater,
        Self::TlsV1_2,
        Self::TlsV1_2OrLater,
        Self::DtlsV1_0,
        Self::DtlsV1_0OrLater,
        Self::DtlsV1_2,
        Self::DtlsV1_2OrLater,
        Self::TlsV1_3,
        Self::TlsV1_3OrLater,
        Self::AnyProtocol,
        Self::SecureProtocols,
        Self::UnknownProtocol,
        Self::DtlsV1_3,
        Self::DtlsV1_3OrLater,
    ];

    /// The TLS versions this selector allows, given the versions a backend `supported`
    /// (oldest first). Returns an empty list for DTLS selectors and `UnknownProtocol`.
    pub fn tls_versions(self, supported: &[ProtocolVersion]) -> Vec<ProtocolVersion> {
        use ProtocolVersion::*;
        let allowed = |v: ProtocolVersion| -> bool {
            match self {
                Self::TlsV1_0 => v == Tls1_0,
                Self::TlsV1_1 => v == Tls1_1,
                Self::TlsV1_2 => v == Tls1_2,
                Self::TlsV1_3 => v == Tls1_3,
                Self::TlsV1_0OrLater | Self::AnyProtocol => !v.is_dtls(),
                Self::TlsV1_1OrLater => !v.is_dtls() && v >= Tls1_1,
                Self::TlsV1_2OrLater | Self::SecureProtocols => !v.is_dtls() && v >= Tls1_2,
                Self::TlsV1_3OrLater => v == Tls1_3,
                _ => false,
            }
        };
        supported.iter().copied().filter(|v| allowed(*v)).collect()
    }

    /// The DTLS versions this selector allows, given the versions a backend `supported`
    /// (oldest first). Returns an empty list for TLS-only selectors and `UnknownProtocol`;
    /// `AnyProtocol` allows every DTLS version and `SecureProtocols` DTLS 1.2 or later.
    pub fn dtls_versions(self, supported: &[ProtocolVersion]) -> Vec<ProtocolVersion> {
        use ProtocolVersion::*;
        let allowed = |v: ProtocolVersion| -> bool {
            v.is_dtls()
                && match self {
                    Self::DtlsV1_0 => v == Dtls1_0,
                    Self::DtlsV1_2 => v == Dtls1_2,
                    Self::DtlsV1_3 | Self::DtlsV1_3OrLater => v == Dtls1_3,
                    Self::DtlsV1_0OrLater | Self::AnyProtocol => true,
                    Self::DtlsV1_2OrLater | Self::SecureProtocols => v >= Dtls1_2,
                    _ => false,
                }
        };
        supported.iter().copied().filter(|v| allowed(*v)).collect()
    }

    /// The name Qt and the matrix use for this selector, for example `"TlsV1_2OrLater"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TlsV1_0 => "TlsV1_0",
            Self::TlsV1_0OrLater => "TlsV1_0OrLater",
            Self::TlsV1_1 => "TlsV1_1",
            Self::TlsV1_1OrLater => "TlsV1_1OrLater",
            Self::TlsV1_2 => "TlsV1_2",
            Self::TlsV1_2OrLater => "TlsV1_2OrLater",
            Self::DtlsV1_0 => "DtlsV1_0",
            Self::DtlsV1_0OrLater => "DtlsV1_0OrLater",
            Self::DtlsV1_2 => "DtlsV1_2",
            Self::DtlsV1_2OrLater => "DtlsV1_2OrLater",
            Self::TlsV1_3 => "TlsV1_3",
            Self::TlsV1_3OrLater => "TlsV1_3OrLater",
            Self::AnyProtocol => "AnyProtocol",
            Self::SecureProtocols => "SecureProtocols",
            Self::UnknownProtocol => "UnknownProtocol",
            Self::DtlsV1_3 => "DtlsV1_3",
            Self::DtlsV1_3OrLater => "DtlsV1_3OrLater",
        }
    }

    /// Whether the selector names a datagram (DTLS) protocol.
    pub fn is_dtls(self) -> bool {
        matches!(
            self,
            Self::DtlsV1_0
                | Self::DtlsV1_0OrLater
                | Self::DtlsV1_2
                | Self::DtlsV1_2OrLater
                | Self::DtlsV1_3
                | Self::DtlsV1_3OrLater
        )
    }
}

impl fmt::Display for SslProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::*;

    #[test]
    fn ranges_follow_qt() {
        let all = ProtocolVersion::TLS;
        assert_eq!(
            SslProtocol::SecureProtocols.tls_versions(&all),
            vec![Tls1_2, Tls1_3]
        );
        assert_eq!(
            SslProtocol::TlsV1_1OrLater.tls_versions(&all),
            vec![Tls1_1, Tls1_2, Tls1_3]
        );
        assert_eq!(SslProtocol::TlsV1_0.tls_versions(&all), vec![Tls1_0]);
        assert_eq!(
            SslProtocol::AnyProtocol.tls_versions(&[Tls1_2, Tls1_3]),
            vec![Tls1_2, Tls1_3]
        );
        assert!(SslProtocol::DtlsV1_2.tls_versions(&all).is_empty());
        assert!(SslProtocol::UnknownProtocol.tls_versions(&all).is_empty());
        assert!(SslProtocol::DtlsV1_3OrLater.tls_versions(&all).is_empty());
    }

    #[test]
    fn dtls_ranges() {
        let all = ProtocolVersion::DTLS;
        assert_eq!(
            SslProtocol::DtlsV1_2OrLater.dtls_versions(&all),
            vec![Dtls1_2, Dtls1_3]
        );
        assert_eq!(
            SslProtocol::DtlsV1_2OrLater.dtls_versions(&[Dtls1_0, Dtls1_2]),
            vec![Dtls1_2]
        );
        assert_eq!(SslProtocol::DtlsV1_3.dtls_versions(&all), vec![Dtls1_3]);
        assert_eq!(
            SslProtocol::DtlsV1_3OrLater.dtls_versions(&all),
            vec![Dtls1_3]
        );
        assert_eq!(SslProtocol::AnyProtocol.dtls_versions(&all), all.to_vec());
        assert!(SslProtocol::TlsV1_3.dtls_versions(&all).is_empty());
        assert!(SslProtocol::DtlsV1_3.dtls_versions(&[Dtls1_2]).is_empty());
        for version in all {
            assert!(version.exact().is_dtls());
            assert_eq!(version.exact().dtls_versions(&all), vec![version]);
        }
    }
}
