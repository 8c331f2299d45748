//! Chains beyond the single leaf: intermediates the peer sends in order, out of order or with
//! unrelated extra certificates; intermediates that must not be taken as trust anchors; the
//! peer verify depth. Each scenario runs twice: as a handshake (client x server pairs) and
//! through the backend's chain verification outside a handshake (`Certificate::verify`), which
//! must find exactly what the handshake finds. The verification-situation cases of the
//! `verification` module are run through chain verification here too.

use polytls::{
    Certificate, ChainVerification, Error, PeerName, PeerVerifyMode, SslConfiguration, SslError,
    SslErrorKind, SupportedFeature,
};

use super::verification::{describe, expected, same_errors, SITUATIONS};
use crate::case::{Case, Needs};
use crate::harness::{
    check, client_config, configure, handshake, mutate, with_identity, Rng, Socket,
};
use crate::pki::{Identity, Pki};

/// A chain a server sends, what the client trusts, and what it must find.
pub(super) struct Scenario {
    pub(super) name: &'static str,
    /// Whose leaf (and key) the server presents.
    pub(super) identity: fn(&Pki) -> &Identity,
    /// The chain as sent, leaf first.
    pub(super) chain: fn(&Pki) -> Vec<Certificate>,
    /// The client's trust anchors.
    pub(super) anchors: fn(&Pki) -> Vec<Certificate>,
    /// The client's peer verify depth.
    pub(super) depth: u32,
    /// The errors, as (kind, certificate).
    pub(super) errors: fn(&Pki) -> Vec<(SslErrorKind, Certificate)>,
}

fn root(p: &Pki) -> Vec<Certificate> {
    vec![p.root.clone()]
}

fn none(_: &Pki) -> Vec<(SslErrorKind, Certificate)> {
    Vec::new()
}

/// The scenario `name`: the server presents the `field` identity of [`Pki::namesakes`], the
/// client trusts the namesakes' store, and the only problem is `kind`, naming the leaf.
macro_rules! namesake {
    ($name:literal, $field:ident, $kind:ident) => {
        Scenario {
            name: $name,
            identity: |p| &p.namesakes.$field,
            chain: |p| p.namesakes.$field.chain.clone(),
            anchors: |p| p.namesakes.store.clone(),
            depth: 0,
            errors: |p| vec![(SslErrorKind::$kind, p.namesakes.$field.leaf().clone())],
        }
    };
}

pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "intermediates_in_order",
        identity: |p| &p.deep,
        chain: |p| p.deep.chain.clone(),
        anchors: root,
        depth: 0,
        errors: none,
    },
    Scenario {
        name: "intermediates_out_of_order",
        identity: |p| &p.deep,
        chain: |p| {
            let [upper, lower] = p.intermediates.clone();
            vec![p.deep.leaf().clone(), upper, lower]
        },
        anchors: root,
        depth: 0,
        errors: none,
    },
    Scenario {
        name: "extra_certificates",
        identity: |p| &p.deep,
        chain: |p| {
            let [upper, lower] = p.intermediates.clone();
            vec![
                p.deep.leaf().clone(),
                p.untrusted_root.clone(),
                lower,
                p.server.leaf().clone(),
                upper,
            ]
        },
        anchors: root,
        depth: 0,
        errors: none,
    },
    Scenario {
        name: "intermediates_are_not_anchors",
        identity: |p| &p.deep,
        chain: |p| p.deep.chain.clone(),
        anchors: |p| vec![p.untrusted_root.clone()],
        depth: 0,
        errors: |p| {
            vec![(
                SslErrorKind::UnableToGetLocalIssuerCertificate,
                p.intermediates[0].clone(),
            )]
        },
    },
    Scenario {
        name: "depth_exceeded",
        identity: |p| &p.deep,
        chain: |p| p.deep.chain.clone(),
        anchors: root,
        depth: 1,
        errors: |p| vec![(SslErrorKind::PathLengthExceeded, p.intermediates[0].clone())],
    },
    Scenario {
        name: "depth_exceeded_before_an_unknown_root",
        identity: |p| &p.deep,
        chain: |p| p.deep.chain.clone(),
        anchors: |p| vec![p.untrusted_root.clone()],
        depth: 1,
        errors: |p| vec![(SslErrorKind::PathLengthExceeded, p.intermediates[0].clone())],
    },
    Scenario {
        name: "depth_reached",
        identity: |p| &p.deep,
        chain: |p| p.deep.chain.clone(),
        anchors: root,
        depth: 2,
        errors: none,
    },
    // tst_QSslSocket: an intermediate that is no CA.
    Scenario {
        name: "intermediate_that_is_no_ca",
        identity: |p| &p.under_non_ca,
        chain: |p| p.under_non_ca.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            // Invalid as a CA, so for the purpose too; and, by the strict profile,
            // keyCertSign on a certificate that is no CA.
            let intermediate = &p.under_non_ca.chain[1];
            vec![
                (SslErrorKind::InvalidCaCertificate, intermediate.clone()),
                (SslErrorKind::InvalidPurpose, intermediate.clone()),
                (SslErrorKind::UnspecifiedError, intermediate.clone()),
            ]
        },
    },
    // An attacker's chains: every problem but a bad signature (or an untrusted root) is one
    // a client might ignore; the list must name that one too.
    Scenario {
        name: "forged_leaf_under_untrusted_root",
        identity: |p| &p.forged.under_untrusted_root,
        chain: |p| p.forged.under_untrusted_root.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.under_untrusted_root.chain;
            vec![
                (SslErrorKind::SelfSignedCertificateInChain, chain[1].clone()),
                (SslErrorKind::CertificateSignatureFailed, chain[0].clone()),
            ]
        },
    },
    Scenario {
        name: "forged_leaf_under_intermediate",
        identity: |p| &p.forged.under_intermediate,
        chain: |p| p.forged.under_intermediate.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.under_intermediate.chain;
            vec![
                (
                    SslErrorKind::UnableToGetLocalIssuerCertificate,
                    chain[1].clone(),
                ),
                (SslErrorKind::CertificateSignatureFailed, chain[0].clone()),
            ]
        },
    },
    Scenario {
        name: "forged_leaf_under_expired_intermediate",
        identity: |p| &p.forged.under_expired_intermediate,
        chain: |p| p.forged.under_expired_intermediate.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.under_expired_intermediate.chain;
            vec![
                (SslErrorKind::CertificateExpired, chain[1].clone()),
                (SslErrorKind::CertificateSignatureFailed, chain[0].clone()),
            ]
        },
    },
    Scenario {
        name: "expired_leaf_from_untrusted_ca",
        identity: |p| &p.forged.expired_from_evil_ca,
        chain: |p| p.forged.expired_from_evil_ca.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.expired_from_evil_ca.chain;
            vec![
                (SslErrorKind::CertificateExpired, chain[0].clone()),
                (SslErrorKind::SelfSignedCertificateInChain, chain[1].clone()),
            ]
        },
    },
    Scenario {
        name: "expired_leaf_from_stale_untrusted_ca",
        identity: |p| &p.forged.expired_from_stale_evil_ca,
        chain: |p| p.forged.expired_from_stale_evil_ca.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.expired_from_stale_evil_ca.chain;
            vec![
                (SslErrorKind::CertificateExpired, chain[0].clone()),
                (SslErrorKind::CertificateExpired, chain[1].clone()),
                (SslErrorKind::SelfSignedCertificateInChain, chain[1].clone()),
            ]
        },
    },
    Scenario {
        name: "long_expired_chain_to_untrusted_root",
        identity: |p| &p.forged.expired_chain,
        chain: |p| p.forged.expired_chain.chain.clone(),
        anchors: root,
        depth: 0,
        errors: |p| {
            let chain = &p.forged.expired_chain.chain;
            let mut errors: Vec<_> = chain
                .iter()
                .map(|c| (SslErrorKind::CertificateExpired, c.clone()))
                .collect();
            errors.push((SslErrorKind::SelfSignedCertificateInChain, chain[7].clone()));
            errors
        },
    },
    // A trusted certificate that shares its name with the leaf's issuer, in a store as large
    // as a system's, is not the issuer when OpenSSL's lookup tells them apart before any
    // signature is checked: no issuer is found, and no signature is reported as failed.
    namesake!(
        "self_signed_ca_leaf_with_a_namesake_in_the_store",
        self_signed_ca,
        SelfSignedCertificate
    ),
    namesake!(
        "self_signed_leaf_without_key_ids_with_a_namesake_in_the_store",
        self_signed_without_key_ids,
        SelfSignedCertificate
    ),
    namesake!(
        "issuer_namesake_with_another_key_id",
        other_key_id,
        UnableToGetLocalIssuerCertificate
    ),
    namesake!(
        "issuer_namesake_with_another_key_kind",
        other_key_kind,
        UnableToGetLocalIssuerCertificate
    ),
    Scenario {
        name: "depth_without_intermediates",
        identity: |p| &p.server,
        chain: |p| p.server.chain.clone(),
        anchors: root,
        depth: 1,
        errors: none,
    },
];

pub(super) fn wanted(scenario: &Scenario) -> Vec<SslError> {
    (scenario.errors)(Pki::get())
        .into_iter()
        .map(|(kind, cert)| SslError::with_certificate(kind, cert))
        .collect()
}

/// A test's fixed peer name.
fn peer_name(text: &str) -> PeerName {
    PeerName::parse(text).expect("test names are valid peer names")
}

fn verification_needs() -> Needs {
    Needs::feature(SupportedFeature::CertificateVerification)
}

/// Chain verification alone: no socket needed.
fn chain_needs() -> Needs {
    Needs::default().and_feature(SupportedFeature::CertificateVerification)
}

fn handshake_case(scenario: &'static Scenario) -> Case {
    Case::pair(
        format!("chain/{}/handshake", scenario.name),
        verification_needs(),
        // The server sends a chain longer than its leaf in most scenarios.
        Needs::socket().and_feature(SupportedFeature::LocalCertificateChain),
        move |c, s| {
            let pki = Pki::get();
            let server = Identity {
                chain: (scenario.chain)(pki),
                key: (scenario.identity)(pki).key.clone(),
            };
            let client = SslConfiguration {
                ca_certificates: Some((scenario.anchors)(pki)),
                peer_verify_depth: scenario.depth,
                ..SslConfiguration::default()
            };
            let server_config = crate::harness::server_config(&server);
            let result = handshake(
                c,
                Box::new(move |sock: &mut Socket| sock.set_ssl_configuration(client)),
                s,
                crate::harness::configure(server_config),
            );
            let wanted = wanted(scenario);
            match (&result.client, wanted.is_empty()) {
                (Ok(socket), true) => check(socket.ssl_handshake_errors().is_empty(), || {
                    format!("reported {}", describe(&socket.ssl_handshake_errors()))
                }),
                (Err(Error::Verification(found)), false) => {
                    check(same_errors(found, &wanted), || {
                        format!("expected {}, found {}", describe(&wanted), describe(found))
                    })
                }
                (Ok(_), false) => Err(format!(
                    "the handshake succeeded; expected {}",
                    describe(&wanted)
                )),
                (Err(e), _) => Err(format!("client: {e}")),
            }
        },
    )
}

/// Verifies `chain` with `backend`'s chain verification and compares with `wanted`.
fn verify_and_compare(
    backend: &str,
    request: &ChainVerification<'_>,
    wanted: &[SslError],
) -> Result<(), String> {
    let backend = polytls::Registry::global()
        .backend(Some(backend))
        .map_err(|e| e.to_string())?;
    let found = backend.verify_chain(request).map_err(|e| e.to_string())?;
    check(same_errors(&found, wanted), || {
        format!("expected {}, found {}", describe(wanted), describe(&found))
    })
}

fn verify_case(scenario: &'static Scenario) -> Case {
    Case::single(
        format!("chain/{}/verify", scenario.name),
        chain_needs(),
        move |b| {
            let pki = Pki::get();
            let chain = (scenario.chain)(pki);
            let anchors = (scenario.anchors)(pki);
            let host = peer_name("localhost");
            let request = ChainVerification::new(&chain, Some(&host), Some(&anchors))
                .with_depth((scenario.depth > 0).then_some(scenario.depth));
            verify_and_compare(b, &request, &wanted(scenario))
        },
    )
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = SCENARIOS
        .iter()
        .flat_map(|s| [handshake_case(s), verify_case(s)])
        .collect();
    for situation in SITUATIONS {
        cases.push(Case::single(
            format!("chain/verify/{}", situation.name),
            chain_needs(),
            move |b| {
                let pki = Pki::get();
                let chain = (situation.identity)(pki).chain.clone();
                let anchors = [pki.root.clone()];
                let host = peer_name(situation.verify_name);
                let request = ChainVerification::new(&chain, Some(&host), Some(&anchors));
                verify_and_compare(b, &request, &expected(situation))
            },
        ));
    }
    // The client's side of LocalCertificateChain: a client two intermediates below the
    // root sends them, and a server that trusts only the root accepts it with no errors and
    // sees the whole chain.
    cases.push(Case::pair(
        "chain/client_sends_its_intermediates",
        Needs::socket().and_feature(SupportedFeature::LocalCertificateChain),
        verification_needs(),
        |c, s| {
            let pki = Pki::get();
            let client = with_identity(client_config(), &pki.deep_client);
            let server = SslConfiguration {
                peer_verify_mode: PeerVerifyMode::VerifyPeer,
                ..crate::harness::server_config(&pki.server)
            };
            let (_, server) = handshake(c, configure(client), s, configure(server)).both()?;
            check(server.ssl_handshake_errors().is_empty(), || {
                format!(
                    "the server reported {}",
                    describe(&server.ssl_handshake_errors())
                )
            })?;
            check(
                server.peer_certificate_chain() == pki.deep_client.chain,
                || {
                    format!(
                        "the server saw {} certificates of the client's {}",
                        server.peer_certificate_chain().len(),
                        pki.deep_client.chain.len()
                    )
                },
            )
        },
    ));
    cases.push(Case::single(
        "chain/verify/without_host_name",
        chain_needs(),
        |b| {
            // No name given: no host check, so a leaf for another name is fine.
            let pki = Pki::get();
            let anchors = [pki.root.clone()];
            let request = ChainVerification::new(&pki.wrong_name.chain, None, Some(&anchors));
            verify_and_compare(b, &request, &[])
        },
    ));
    cases.push(Case::single(
        "chain/verify/system_roots_through_certificate_verify",
        chain_needs(),
        |b| {
            // Certificate::verify uses the default configuration: the system's roots, which do
            // not know the test root.
            let pki = Pki::get();
            let found = Certificate::verify_with(&pki.server.chain, Some("localhost"), Some(b))
                .map_err(|e| e.to_string())?;
            let wanted = [SslError::with_certificate(
                SslErrorKind::UnableToGetLocalIssuerCertificate,
                pki.server.leaf().clone(),
            )];
            check(same_errors(&found, &wanted), || {
                format!("expected {}, found {}", describe(&wanted), describe(&found))
            })
        },
    ));
    cases.push(Case::single(
        "chain/verify/damaged_certificates",
        chain_needs(),
        |b| {
            // Damaged copies of a chain's certificates reach the backend's own certificate
            // parser through chain verification (for rustls, webpki's): errors or a non-empty
            // list of findings, never an empty list, a panic or a hang.
            let pki = Pki::get();
            let backend = polytls::Registry::global()
                .backend(Some(b))
                .map_err(|e| e.to_string())?;
            let anchors = [pki.root.clone()];
            let mut rng = Rng::new(0xc4a1_0001);
            let mut checked = 0usize;
            for round in 0..3000 {
                let mut chain = pki.deep.chain.clone();
                let which = round % chain.len();
                let damaged = mutate(chain[which].to_der(), &mut rng);
                let Ok(cert) = Certificate::from_der(&damaged) else {
                    continue;
                };
                if cert == chain[which] {
                    // The mutations cancelled out.
                    continue;
                }
                chain[which] = cert;
                let host = peer_name("localhost");
                let request = ChainVerification::new(&chain, Some(&host), Some(&anchors));
                // A damaged certificate no longer matches its signature: it is never accepted.
                match backend.verify_chain(&request) {
                    Ok(found) if found.is_empty() => {
                        return Err(format!("round {round}: a damaged chain was accepted"))
                    }
                    Ok(_) | Err(Error::Certificate(_)) => checked += 1,
                    Err(other) => return Err(format!("round {round}: unexpected {other}")),
                }
            }
            check(checked > 100, || {
                format!("only {checked} damaged chains reached the backend")
            })
        },
    ));
    cases.push(Case::single(
        "chain/verify/empty_chain_is_invalid_input",
        chain_needs(),
        |b| match Certificate::verify_with(&[], None, Some(b)) {
            Err(Error::InvalidInput(_)) => Ok(()),
            other => Err(format!("expected InvalidInput, got {other:?}")),
        },
    ));
    cases
}
