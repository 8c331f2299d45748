//! [`SslCipher`]: a cipher suite, named the same way by every backend (Qt's `QSslCipher`).
//!
//! A suite's identity is its IANA code point; its name is the IANA name
//! (`TLS_AES_128_GCM_SHA256`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), whichever engine
//! negotiated it, so sessions on different backends compare equal.

use std::fmt;

use crate::SslProtocol;

/// A cipher suite: its IANA code point and the protocol it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SslCipher {
    id: u16,
    protocol: SslProtocol,
}

/// (code point, IANA name, protocol family, key exchange, authentication, encryption, bits)
type Row = (
    u16,
    &'static str,
    SslProtocol,
    &'static str,
    &'static str,
    &'static str,
    u16,
);

const TLS13: SslProtocol = SslProtocol::TlsV1_3;
const TLS12: SslProtocol = SslProtocol::TlsV1_2;
const TLS10: SslProtocol = SslProtocol::TlsV1_0;

/// The suites polytls knows by name. Others keep their code point and print it in hex.
const KNOWN: &[Row] = &[
    (
        0x1301,
        "TLS_AES_128_GCM_SHA256",
        TLS13,
        "any",
        "any",
        "AESGCM",
        128,
    ),
    (
        0x1302,
        "TLS_AES_256_GCM_SHA384",
        TLS13,
        "any",
        "any",
        "AESGCM",
        256,
    ),
    (
        0x1303,
        "TLS_CHACHA20_POLY1305_SHA256",
        TLS13,
        "any",
        "any",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0x1304,
        "TLS_AES_128_CCM_SHA256",
        TLS13,
        "any",
        "any",
        "AESCCM",
        128,
    ),
    (
        0x1305,
        "TLS_AES_128_CCM_8_SHA256",
        TLS13,
        "any",
        "any",
        "AESCCM8",
        128,
    ),
    (
        0xc02b,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        TLS12,
        "ECDH",
        "ECDSA",
        "AESGCM",
        128,
    ),
    (
        0xc02c,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        TLS12,
        "ECDH",
        "ECDSA",
        "AESGCM",
        256,
    ),
    (
        0xc02f,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        TLS12,
        "ECDH",
        "RSA",
        "AESGCM",
        128,
    ),
    (
        0xc030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        TLS12,
        "ECDH",
        "RSA",
        "AESGCM",
        256,
    ),
    (
        0xcca8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "ECDH",
        "RSA",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0xcca9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "ECDH",
        "ECDSA",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0x009e,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        TLS12,
        "DH",
        "RSA",
        "AESGCM",
        128,
    ),
    (
        0x009f,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        TLS12,
        "DH",
        "RSA",
        "AESGCM",
        256,
    ),
    (
        0xccaa,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "DH",
        "RSA",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0x009c,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        TLS12,
        "RSA",
        "RSA",
        "AESGCM",
        128,
    ),
    (
        0x009d,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        TLS12,
        "RSA",
        "RSA",
        "AESGCM",
        256,
    ),
    (
        0xc023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        TLS12,
        "ECDH",
        "ECDSA",
        "AES",
        128,
    ),
    (
        0xc024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        TLS12,
        "ECDH",
        "ECDSA",
        "AES",
        256,
    ),
    (
        0xc027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        TLS12,
        "ECDH",
        "RSA",
        "AES",
        128,
    ),
    (
        0xc028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        TLS12,
        "ECDH",
        "RSA",
        "AES",
        256,
    ),
    (
        0xc009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        TLS10,
        "ECDH",
        "ECDSA",
        "AES",
        128,
    ),
    (
        0xc00a,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        TLS10,
        "ECDH",
        "ECDSA",
        "AES",
        256,
    ),
    (
        0xc013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        TLS10,
        "ECDH",
        "RSA",
        "AES",
        128,
    ),
    (
        0xc014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        TLS10,
        "ECDH",
        "RSA",
        "AES",
        256,
    ),
    (
        0x002f,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        TLS10,
        "RSA",
        "RSA",
        "AES",
        128,
    ),
    (
        0x0035,
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        TLS10,
        "RSA",
        "RSA",
        "AES",
        256,
    ),
    (
        0x00a8,
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
        TLS12,
        "PSK",
        "PSK",
        "AESGCM",
        128,
    ),
    (
        0x00a9,
        "TLS_PSK_WITH_AES_256_GCM_SHA384",
        TLS12,
        "PSK",
        "PSK",
        "AESGCM",
        256,
    ),
    (
        0xccab,
        "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "PSK",
        "PSK",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0xccac,
        "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "ECDHEPSK",
        "PSK",
        "CHACHA20/POLY1305",
        256,
    ),
    (
        0xc0a8,
        "TLS_PSK_WITH_AES_128_CCM_8",
        TLS12,
        "PSK",
        "PSK",
        "AESCCM8",
        128,
    ),
    (
        0xc037,
        "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
        TLS10,
        "ECDHEPSK",
        "PSK",
        "AES",
        128,
    ),
    (
        0x008c,
        "TLS_PSK_WITH_AES_128_CBC_SHA",
        TLS10,
        "PSK",
        "PSK",
        "AES",
        128,
    ),
    (
        0x008d,
        "TLS_PSK_WITH_AES_256_CBC_SHA",
        TLS10,
        "PSK",
        "PSK",
        "AES",
        256,
    ),
    (
        0x00aa,
        "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
        TLS12,
        "DHEPSK",
        "PSK",
        "AESGCM",
        128,
    ),
    (
        0x00ab,
        "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
        TLS12,
        "DHEPSK",
        "PSK",
        "AESGCM",
        256,
    ),
    (
        0xccad,
        "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        TLS12,
        "DHEPSK",
        "PSK",
        "CHACHA20/POLY1305",
        256,
    ),
];

impl SslCipher {
    /// The suite with IANA code point `id`, used with `protocol` (the protocol family the suite
    /// belongs to; for a negotiated session, the session's protocol).
    pub fn from_id(id: u16, protocol: SslProtocol) -> SslCipher {
        SslCipher { id, protocol }
    }

    /// The known suite with this IANA name, or `None` for a name polytls does not know.
    pub fn from_name(name: &str) -> Option<SslCipher> {
        KNOWN
            .iter()
            .find(|row| row.1.eq_ignore_ascii_case(name))
            .map(|row| SslCipher {
                id: row.0,
                protocol: row.2,
            })
    }

    /// Every suite polytls knows by name (backends may support fewer, or more).
    pub fn known() -> impl Iterator<Item = SslCipher> {
        KNOWN.iter().map(|row| SslCipher {
            id: row.0,
            protocol: row.2,
        })
    }

    fn row(&self) -> Option<&'static Row> {
        KNOWN.iter().find(|row| row.0 == self.id)
    }

    /// The IANA code point.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The IANA name, or `0xNNNN` for an unknown suite.
    pub fn name(&self) -> String {
        self.row()
            .map_or_else(|| format!("0x{:04x}", self.id), |row| row.1.to_owned())
    }

    /// The protocol this suite is used with.
    pub fn protocol(&self) -> SslProtocol {
        self.protocol
    }

    /// Whether this is a TLS 1.3 suite (code points 0x1301 to 0x13ff).
    pub fn is_tls13(&self) -> bool {
        self.id >> 8 == 0x13
    }

    /// The key exchange method (`ECDH`, `DH`, `RSA`; `any` for TLS 1.3), or `unknown`.
    pub fn key_exchange_method(&self) -> &'static str {
        self.row().map_or("unknown", |row| row.3)
    }

    /// The authentication method (`RSA`, `ECDSA`; `any` for TLS 1.3), or `unknown`.
    pub fn authentication_method(&self) -> &'static str {
        self.row().map_or("unknown", |row| row.4)
    }

    /// The bulk encryption method (`AESGCM`, `CHACHA20/POLY1305`, ...), or `unknown`.
    pub fn encryption_method(&self) -> &'static str {
        self.row().map_or("unknown", |row| row.5)
    }

    /// The key size of the bulk cipher in bits, or 0 when unknown.
    pub fn used_bits(&self) -> u16 {
        self.row().map_or(0, |row| row.6)
    }
}

impl fmt::Display for SslCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
