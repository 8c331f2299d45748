//! Peer names: the name a client verifies is decided once, in core, for every backend. A name
//! that cannot be a host name (empty, blank, a pattern) is refused before any engine sees
//! it, so it can never switch a backend's host check off; a name's canonical forms (case, a
//! trailing dot, IPv6 brackets) verify alike on every backend.

use polytls::{Certificate, Error, SslErrorKind};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, configure, handshake, server_config, tcp_pair};
use crate::pki::Pki;

/// Names no client may verify against: each is refused with `InvalidInput`.
const UNUSABLE: &[&str] = &[
    "",
    " ",
    "\t",
    ".",
    "*.localhost",
    "local host",
    "localhost..",
];

/// Spellings of names in the server's certificate (`localhost`, `::1`), with no error.
const CANONICAL: &[(&str, &str)] = &[
    ("trailing_dot", "localhost."),
    ("upper_case", "LocalHost"),
    ("bracketed_ipv6", "[::1]"),
];

/// Names against the wildcard certificate (`*.example.test`, `xn--bcher-kva.example`), and
/// whether they match (tst_QSslSocket::wildcard, and an internationalised name in its ASCII
/// form: polytls takes A-labels only).
const WILDCARD: &[(&str, &str, bool)] = &[
    ("one_label", "www.example.test", true),
    ("two_labels", "a.b.example.test", false),
    ("the_bare_domain", "example.test", false),
    ("internationalised_a_label", "xn--bcher-kva.example", true),
    ("another_a_label", "xn--bcher-kvb.example", false),
];

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case::single(
            "names/unusable_names_refused_before_the_handshake",
            Needs::socket(),
            |b| {
                for name in UNUSABLE {
                    let (client, _server) = tcp_pair()?;
                    let mut socket =
                        polytls::SslSocket::with_backend(client, b).map_err(|e| e.to_string())?;
                    socket.set_ssl_configuration(client_config());
                    socket.set_peer_verify_name(*name);
                    match socket.start_client_encryption() {
                        Err(Error::InvalidInput(_)) => {}
                        other => return Err(format!("{name:?}: {other:?}")),
                    }
                }
                Ok(())
            },
        ),
        Case::single(
            "names/unusable_names_refused_by_chain_verification",
            Needs::default().and_feature(polytls::SupportedFeature::CertificateVerification),
            |b| {
                let chain = &Pki::get().wrong_name.chain;
                for name in UNUSABLE {
                    match Certificate::verify_with(chain, Some(name), Some(b)) {
                        Err(Error::InvalidInput(_)) => {}
                        other => return Err(format!("{name:?}: {other:?}")),
                    }
                }
                Ok(())
            },
        ),
        Case::pair(
            "names/unusable_name_never_accepts_another_host",
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            |c, s| {
                // A certificate for other.example, and a client told to verify "": refused.
                let result = handshake(
                    c,
                    Box::new(|s| {
                        s.set_ssl_configuration(client_config());
                        s.set_peer_verify_name("");
                    }),
                    s,
                    configure(server_config(&Pki::get().wrong_name)),
                );
                match result.client {
                    Err(Error::InvalidInput(_)) => Ok(()),
                    Ok(_) => Err("a certificate for other.example was accepted".into()),
                    Err(e) => Err(format!("expected InvalidInput, got {e}")),
                }
            },
        ),
    ];
    for (label, name, matches) in WILDCARD {
        cases.push(Case::pair(
            format!("names/wildcard/{label}"),
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            move |c, s| {
                let result = handshake(
                    c,
                    Box::new(move |s| {
                        s.set_ssl_configuration(client_config());
                        s.set_peer_verify_name(*name);
                    }),
                    s,
                    configure(server_config(&Pki::get().wildcard)),
                );
                match (&result.client, matches) {
                    (Ok(_), true) => Ok(()),
                    (Err(Error::Verification(found)), false) => check(
                        found.iter().map(|e| e.kind()).collect::<Vec<_>>()
                            == [SslErrorKind::HostNameMismatch],
                        || format!("{name}: {found:?}"),
                    ),
                    (other, _) => Err(format!(
                        "{name}: {:?}, expected a match: {matches}",
                        other.as_ref().err()
                    )),
                }
            },
        ));
    }
    for (label, name) in CANONICAL {
        cases.push(Case::pair(
            format!("names/{label}/verifies"),
            Needs::feature(polytls::SupportedFeature::CertificateVerification),
            Needs::socket(),
            move |c, s| {
                let result = handshake(
                    c,
                    Box::new(move |s| {
                        s.set_ssl_configuration(client_config());
                        s.set_peer_verify_name(*name);
                    }),
                    s,
                    configure(server_config(&Pki::get().server)),
                );
                let (client, _server) = result.both()?;
                check(client.ssl_handshake_errors().is_empty(), || {
                    format!("{name}: {:?}", client.ssl_handshake_errors())
                })
            },
        ));
        cases.push(Case::single(
            format!("names/{label}/verifies_outside_a_handshake"),
            Needs::default().and_feature(polytls::SupportedFeature::CertificateVerification),
            move |b| {
                let pki = Pki::get();
                let backend = polytls::Registry::global()
                    .backend(Some(b))
                    .map_err(|e| e.to_string())?;
                let host = polytls::PeerName::parse(name).map_err(|e| e.to_string())?;
                let anchors = [pki.root.clone()];
                let request =
                    polytls::ChainVerification::new(&pki.server.chain, Some(&host), Some(&anchors));
                let found = backend.verify_chain(&request).map_err(|e| e.to_string())?;
                check(found.is_empty(), || format!("{name}: {found:?}"))?;
                // And another certificate's name still does not match.
                let request = polytls::ChainVerification::new(
                    &pki.wrong_name.chain,
                    Some(&host),
                    Some(&anchors),
                );
                let found = backend.verify_chain(&request).map_err(|e| e.to_string())?;
                check(
                    found
                        .iter()
                        .any(|e| e.kind() == SslErrorKind::HostNameMismatch),
                    || format!("{name} matched other.example: {found:?}"),
                )
            },
        ));
    }
    cases
}
