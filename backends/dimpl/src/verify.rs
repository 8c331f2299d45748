//! Peer verification for the dimpl engine: the peer's certificate checked with webpki against
//! the configuration's CA certificates (or the system store) and, on a client, the peer name,
//! every problem reported as an [`SslError`].
//!
//! dimpl proves that the peer holds the key of the certificate it sent (it checks the
//! handshake signatures) but does no PKI validation at all: it hands the embedder the peer's
//! leaf certificate and nothing else. The leaf is therefore all this module sees: a chain
//! whose leaf is not issued directly by a trusted certificate cannot be built (dimpl 0.9 does
//! not surface the intermediates the peer sent) and is reported with
//! [`SslErrorKind::UnableToGetLocalIssuerCertificate`].
//!
//! The problem names follow the rustls backend's mapping of webpki's errors, so the two
//! pure-Rust backends name the same problem the same way.

use polytls_core::{Certificate, PeerName, SslError, SslErrorKind};
use rustls_pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// Which way the certificate is used: a client verifies a server, a server a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The peer is a server (extended key usage `serverAuth`).
    Server,
    /// The peer is a client (extended key usage `clientAuth`).
    Client,
}

/// The kind of problem a webpki error names: the table the rustls backend uses
/// ([`polytls_webpki::kind_of`]), and an unknown issuer, which for a lone leaf is
/// `UnableToGetLocalIssuerCertificate` (refined to `SelfSignedCertificate` by the caller).
fn kind_of(error: &webpki::Error) -> SslErrorKind {
    match error {
        webpki::Error::UnknownIssuer => SslErrorKind::UnableToGetLocalIssuerCertificate,
        other => polytls_webpki::kind_of(other),
    }
}

/// Every problem of `leaf` (DER) as the peer's certificate in `role`, against `anchors` (DER
/// certificates trusted as issuers) and, when given, `peer_name`. An empty list means the
/// certificate is trusted.
pub(crate) fn problems(
    leaf_der: &[u8],
    leaf: &Certificate,
    anchors: &[Vec<u8>],
    role: Role,
    peer_name: Option<&PeerName>,
) -> Vec<SslError> {
    let error = |kind: SslErrorKind| SslError::with_certificate(kind, leaf.clone());
    let der = CertificateDer::from(leaf_der);
    let cert = match EndEntityCert::try_from(&der) {
        Ok(cert) => cert,
        Err(e) => return vec![error(kind_of(&e))],
    };
    let anchor_ders: Vec<CertificateDer<'_>> = anchors
        .iter()
        .map(|a| CertificateDer::from(a.as_slice()))
        .collect();
    let trust: Vec<_> = anchor_ders
        .iter()
        .filter_map(|a| webpki::anchor_from_trusted_cert(a).ok())
        .collect();
    let usage = match role {
        Role::Server => KeyUsage::server_auth(),
        Role::Client => KeyUsage::client_auth(),
    };
    let mut errors = Vec::new();
    if let Err(e) = cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust,
        &[],
        UnixTime::now(),
        usage,
        None,
        None,
    ) {
        // A leaf naming itself as its issuer is self-signed to OpenSSL's depth-zero check
        // (names, key identifiers and the signature algorithm; not the key usage, which
        // `Certificate::is_self_signed` also asks for keyCertSign).
        let self_issued = leaf.subject_name() == leaf.issuer_name();
        let kind = match kind_of(&e) {
            SslErrorKind::UnableToGetLocalIssuerCertificate
                if self_issued || leaf.is_self_signed() =>
            {
                SslErrorKind::SelfSignedCertificate
            }
            kind => kind,
        };
        errors.push(error(kind));
    }
    if let Some(name) = peer_name {
        let (server_name, shown) = match name {
            PeerName::Ip(ip) => (Some(ServerName::IpAddress((*ip).into())), ip.to_string()),
            PeerName::Dns(dns) => (
                DnsName::try_from(dns.as_str())
                    .ok()
                    .map(ServerName::DnsName),
                dns.clone(),
            ),
        };
        let matches = server_name
            .map(|n| cert.verify_is_valid_for_subject_name(&n).is_ok())
            .unwrap_or(false);
        if !matches {
            errors.push(error(SslErrorKind::HostNameMismatch).with_expected_name(shown));
        }
    }
    errors
}
