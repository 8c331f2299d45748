//! The decision, compared across backends on chains nobody wrote by hand: a few hundred
//! chains generated from a fixed seed, each certificate with a random validity, CA flag, key
//! usage and extended key usage, some with a broken signature, a missing or reordered
//! intermediate, an intermediate or an unrelated root as the trust anchor, a depth limit or
//! another purpose. Two backends must report the same list of errors for every one; a
//! disagreement names the chain's recipe, so it can be rebuilt from the seed.

use polytls::{ChainVerification, PeerName, SslError, SslErrorKind, SupportedFeature, TlsBackend};

use super::verification::{describe, same_errors};
use crate::case::{Case, Needs};
use crate::chains::{generate, Generated};

/// How many chains each comparison generates.
const CHAINS: usize = 300;

/// The one deliberate difference between backends, removed before comparing: when no instant
/// exists at which all of a chain's certificates are valid, webpki (which checks validity
/// first) cannot look at the rest of the path, and the rustls backend adds an
/// `UnspecifiedError` naming no certificate, so that only ignoring every error accepts a path
/// whose other properties webpki could not check (docs/VERIFICATION.md). Every validity error
/// is still reported alike.
fn without_exception(errors: &[SslError]) -> Vec<SslError> {
    errors
        .iter()
        .filter(|e| !(e.kind() == SslErrorKind::UnspecifiedError && e.certificate().is_none()))
        .cloned()
        .collect()
}

fn verify(backend: &dyn TlsBackend, case: &Generated) -> Result<Vec<SslError>, String> {
    let host = PeerName::parse("localhost").map_err(|e| e.to_string())?;
    let request = ChainVerification::new(&case.chain, Some(&host), Some(&case.anchors))
        .with_depth(case.depth)
        .with_purpose(case.purpose);
    backend.verify_chain(&request).map_err(|e| e.to_string())
}

/// Generates the chains of `seed` and compares what `a` and `b` report for each.
fn compare(a: &str, b: &str, seed: u64) -> Result<(), String> {
    let registry = polytls::Registry::global();
    let a = registry.backend(Some(a)).map_err(|e| e.to_string())?;
    let b = registry.backend(Some(b)).map_err(|e| e.to_string())?;
    let mut disagreements = Vec::new();
    let mut refused = 0;
    for case in generate(seed, CHAINS) {
        let (found_a, found_b) = (verify(a.as_ref(), &case)?, verify(b.as_ref(), &case)?);
        refused += usize::from(!found_a.is_empty());
        if !same_errors(&without_exception(&found_a), &without_exception(&found_b)) {
            disagreements.push(format!(
                "{}\n    {}: {}\n    {}: {}",
                case.recipe,
                a.name(),
                describe(&found_a),
                b.name(),
                describe(&found_b)
            ));
        }
    }
    if !disagreements.is_empty() {
        let shown: Vec<&String> = disagreements.iter().take(6).collect();
        return Err(format!(
            "{} of {CHAINS} chains judged differently:\n{}",
            disagreements.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    // The generator must make both kinds of chain, or the comparison proves little.
    if refused == 0 || refused == CHAINS {
        return Err(format!(
            "{refused} of {CHAINS} chains refused: the generator is off"
        ));
    }
    Ok(())
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let needs = || Needs::default().and_feature(SupportedFeature::CertificateVerification);
    vec![Case::pair(
        "differential/generated_chains_judged_alike",
        needs(),
        needs(),
        |a, b| {
            for seed in [0xd1ff_0001, 0xd1ff_0002, 0xd1ff_0003] {
                compare(a, b, seed)?;
            }
            Ok(())
        },
    )
    .run_once()]
}
