//! Every conformance case, grouped by what it proves.

mod alerts;
mod attack;
mod certificate;
mod chain;
mod data;
mod differential;
mod dtls;
mod dtls_external;
mod dtls_noise;
mod dtls_psk;
mod dtls_tokio;
mod dtls_verification;
mod external;
mod failure;
mod forgery;
mod handshake;
mod interrupt;
mod key;
mod lifecycle;
mod names;
mod on_tokio;
mod policy;
mod psk;
mod qt;
mod refusal;
mod registry;
mod robustness;
mod server;

mod verification;

use crate::case::Case;

/// All cases, in a stable order.
pub(crate) fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(handshake::cases());
    cases.extend(verification::cases());
    cases.extend(chain::cases());
    cases.extend(names::cases());
    cases.extend(policy::cases());
    cases.extend(forgery::cases());
    cases.extend(differential::cases());
    cases.extend(interrupt::cases());
    cases.extend(psk::cases());
    cases.extend(certificate::cases());
    cases.extend(key::cases());
    cases.extend(data::cases());
    cases.extend(lifecycle::cases());
    cases.extend(robustness::cases());
    cases.extend(failure::cases());
    cases.extend(server::cases());
    cases.extend(on_tokio::cases());
    cases.extend(refusal::cases());
    cases.extend(qt::cases());
    cases.extend(external::cases());
    cases.extend(dtls::cases());
    cases.extend(dtls_external::cases());
    cases.extend(dtls_noise::cases());
    cases.extend(dtls_psk::cases());
    cases.extend(dtls_verification::cases());
    cases.extend(dtls_tokio::cases());
    cases.extend(attack::cases());
    cases.extend(alerts::cases());
    cases.extend(registry::cases());
    cases
}
