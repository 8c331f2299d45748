//! The attacker's side of verification: chains built so that every problem but one looks
//! ignorable (leaves signed by an impostor of a real CA, untrusted roots behind expired
//! certificates). Whatever a client leaves out of its ignore list, or whatever kind its
//! handler declines, refuses the handshake, and the error it refuses with is exactly what was
//! left out. Run for every client x server pair; the chains and their full error lists are
//! the `chain` module's scenarios, which also check them through chain verification.

use polytls::{Error, SslConfiguration, SslError, SslErrorKind, SupportedFeature};

use super::chain::{wanted, Scenario, SCENARIOS};
use super::verification::{describe, same_errors};
use crate::case::{Case, Needs};
use crate::harness::{check, configure, handshake, server_config, Handshake, Socket};
use crate::pki::{Identity, Pki};

/// The chain scenarios an attacker builds.
const ATTACKS: &[&str] = &[
    "forged_leaf_under_untrusted_root",
    "forged_leaf_under_intermediate",
    "forged_leaf_under_expired_intermediate",
    "expired_leaf_from_untrusted_ca",
    "expired_leaf_from_stale_untrusted_ca",
    "long_expired_chain_to_untrusted_root",
];

/// A handshake against the server of `scenario`, the client set up as the scenario says and
/// then by `extra`.
fn attempt(
    client: &str,
    server: &str,
    scenario: &'static Scenario,
    extra: impl FnOnce(&mut Socket) + Send + 'static,
) -> Handshake {
    let pki = Pki::get();
    let identity = Identity {
        chain: (scenario.chain)(pki),
        key: (scenario.identity)(pki).key.clone(),
    };
    let config = SslConfiguration {
        ca_certificates: Some((scenario.anchors)(pki)),
        peer_verify_depth: scenario.depth,
        ..SslConfiguration::default()
    };
    handshake(
        client,
        Box::new(move |s: &mut Socket| {
            s.set_ssl_configuration(config);
            extra(s);
        }),
        server,
        configure(server_config(&identity)),
    )
}

/// Checks that the handshake was refused with exactly `left`, on both sides.
fn refused_with(result: &Handshake, left: &[SslError]) -> Result<(), String> {
    match &result.client {
        Err(Error::Verification(found)) => check(same_errors(found, left), || {
            format!(
                "refused with {}, expected {}",
                describe(found),
                describe(left)
            )
        })?,
        Ok(_) => return Err(format!("accepted; {} was not ignored", describe(left))),
        Err(e) => return Err(format!("client: {e}")),
    }
    check(result.server.is_err(), || {
        "the attacker's server completed its handshake".into()
    })
}

fn needs() -> Needs {
    Needs::feature(SupportedFeature::CertificateVerification)
}

fn cases_for(scenario: &'static Scenario) -> Vec<Case> {
    let name = scenario.name;
    let mut cases = vec![
        Case::pair(
            format!("forgery/{name}/each_error_left_out_refuses"),
            needs(),
            Needs::socket(),
            move |c, s| {
                let all = wanted(scenario);
                check(all.len() > 1, || "the scenario has too few errors".into())?;
                for (i, left_out) in all.iter().enumerate() {
                    let mut list = all.clone();
                    list.remove(i);
                    let result = attempt(c, s, scenario, move |s| s.ignore_ssl_errors_list(&list));
                    refused_with(&result, std::slice::from_ref(left_out))?;
                }
                Ok(())
            },
        ),
        Case::pair(
            format!("forgery/{name}/all_named_accepted"),
            needs(),
            Needs::socket(),
            move |c, s| {
                // The list names every problem: the caller accepted exactly this chain.
                let all = wanted(scenario);
                let list = all.clone();
                let result = attempt(c, s, scenario, move |s| s.ignore_ssl_errors_list(&list));
                let (client, _server) = result.both()?;
                let found = client.ssl_handshake_errors();
                check(same_errors(&found, &all), || {
                    format!("reported {}, expected {}", describe(&found), describe(&all))
                })
            },
        ),
    ];
    let expires = wanted(scenario)
        .iter()
        .any(|e| e.kind() == SslErrorKind::CertificateExpired);
    if expires {
        cases.push(Case::pair(
            format!("forgery/{name}/expired_only_handler_refuses"),
            needs(),
            Needs::socket(),
            move |c, s| {
                // The handler of the SslSocket documentation: accept expired certificates.
                let result = attempt(c, s, scenario, |s| {
                    s.on_ssl_errors(|decision| {
                        let expired: Vec<SslError> = decision
                            .errors()
                            .iter()
                            .filter(|e| e.kind() == SslErrorKind::CertificateExpired)
                            .cloned()
                            .collect();
                        decision.ignore(&expired);
                    });
                });
                let left: Vec<SslError> = wanted(scenario)
                    .into_iter()
                    .filter(|e| e.kind() != SslErrorKind::CertificateExpired)
                    .collect();
                refused_with(&result, &left)
            },
        ));
    }
    cases
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    ATTACKS
        .iter()
        .map(|name| {
            SCENARIOS
                .iter()
                .find(|s| s.name == *name)
                .expect("every attack is a chain scenario")
        })
        .flat_map(cases_for)
        .collect()
}
