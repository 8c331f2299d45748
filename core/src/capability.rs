//! What a backend can do: the classes it implements and the optional features it supports.
//!
//! These are contracts. A backend lists a class or feature only when the conformance suite
//! proves it; anything unlisted is refused with [`Error::Unsupported`](crate::Error::Unsupported).

use std::fmt;

/// Qt's `QSsl::ImplementedClass`: the objects a backend can create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImplementedClass {
    /// Backend-specific key handling (parsing, conversion).
    Key,
    /// Backend-specific certificate handling (parsing, verification).
    Certificate,
    /// A TLS session over a stream (the engine behind [`SslSocket`](crate::SslSocket)).
    Socket,
    /// Diffie-Hellman parameters.
    DiffieHellman,
    /// Elliptic curve selection.
    EllipticCurve,
    /// A DTLS association over datagrams.
    Dtls,
    /// Stateless DTLS cookie verification (HelloVerifyRequest).
    DtlsCookie,
}

impl ImplementedClass {
    /// Every member, in Qt's order.
    pub const ALL: [ImplementedClass; 7] = [
        Self::Key,
        Self::Certificate,
        Self::Socket,
        Self::DiffieHellman,
        Self::EllipticCurve,
        Self::Dtls,
        Self::DtlsCookie,
    ];

    /// The member's name, as the matrix prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Key => "Key",
            Self::Certificate => "Certificate",
            Self::Socket => "Socket",
            Self::DiffieHellman => "DiffieHellman",
            Self::EllipticCurve => "EllipticCurve",
            Self::Dtls => "Dtls",
            Self::DtlsCookie => "DtlsCookie",
        }
    }
}

impl fmt::Display for ImplementedClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Qt's `QSsl::SupportedFeature`, plus features polytls offers beyond Qt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SupportedFeature {
    /// The backend verifies certificate chains and host names and reports each problem as an
    /// [`SslError`](crate::SslError).
    CertificateVerification,
    /// A client can offer ALPN protocols.
    ClientSideAlpn,
    /// A server can select among a client's ALPN protocols.
    ServerSideAlpn,
    /// OCSP stapling.
    Ocsp,
    /// Pre-shared keys.
    Psk,
    /// Session tickets (resumption).
    SessionTicket,
    /// Alert messages are reported as events.
    Alerts,
    /// Key material can be logged in the NSS key log format (beyond Qt).
    KeyLog,
    /// Keying material can be exported (RFC 5705 / RFC 8446 section 7.5; beyond Qt).
    KeyingMaterialExport,
    /// TLS channel bindings (RFC 5929 / RFC 9266; beyond Qt).
    ChannelBinding,
    /// A server can pick its certificate by the client's SNI name (beyond Qt).
    ServerNameSelection,
    /// A server can ask for a client certificate without requiring one (`QueryPeer`, which
    /// `AutoVerifyPeer` means on a server; beyond Qt's list, where every backend can).
    OptionalClientCertificate,
    /// A side sends the intermediate certificates of its `local_certificate_chain` after its
    /// leaf, so that a peer trusting only the root can verify it (beyond Qt's list, where
    /// every backend can). A backend without it refuses a chain longer than its leaf.
    LocalCertificateChain,
}

impl SupportedFeature {
    /// Every member: Qt's first, then polytls' own.
    pub const ALL: [SupportedFeature; 13] = [
        Self::CertificateVerification,
        Self::ClientSideAlpn,
        Self::ServerSideAlpn,
        Self::Ocsp,
        Self::Psk,
        Self::SessionTicket,
        Self::Alerts,
        Self::KeyLog,
        Self::KeyingMaterialExport,
        Self::ChannelBinding,
        Self::ServerNameSelection,
        Self::OptionalClientCertificate,
        Self::LocalCertificateChain,
    ];

    /// The member's name, as the matrix prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::CertificateVerification => "CertificateVerification",
            Self::ClientSideAlpn => "ClientSideAlpn",
            Self::ServerSideAlpn => "ServerSideAlpn",
            Self::Ocsp => "Ocsp",
            Self::Psk => "Psk",
            Self::SessionTicket => "SessionTicket",
            Self::Alerts => "Alerts",
            Self::KeyLog => "KeyLog",
            Self::KeyingMaterialExport => "KeyingMaterialExport",
            Self::ChannelBinding => "ChannelBinding",
            Self::ServerNameSelection => "ServerNameSelection",
            Self::OptionalClientCertificate => "OptionalClientCertificate",
            Self::LocalCertificateChain => "LocalCertificateChain",
        }
    }
}

impl fmt::Display for SupportedFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
