//! Chains nobody wrote by hand, for differential checks of the verification decision: each
//! certificate with a random validity, CA flag, key usage, extended key usage, key type and
//! authority key identifier, some chains with a broken signature, a missing or reordered
//! intermediate, an intermediate, an unrelated root or the leaf itself as the trust anchor, a
//! depth limit or another purpose. The same seed gives the same chains on every machine, and
//! each chain carries a recipe that names how it was made.
//!
//! ```
//! let chains = polytls_conformance::chains::generate(0x5eed, 3);
//! assert_eq!(chains.len(), 3);
//! assert!(chains.iter().all(|c| !c.chain.is_empty() && !c.anchors.is_empty()));
//! ```

use polytls::{Certificate, Purpose};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

use crate::harness::Rng;

/// What one generated certificate is like.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// 0: valid, 1: expired, 2: not yet valid.
    validity: usize,
    /// For CAs: 0: CA, 1: basicConstraints cA false, 2: no basicConstraints. Leaves: 0 only,
    /// except 3: a CA certificate used as a leaf.
    ca: usize,
    /// 0: the usual key usage, 1: none, 2: the wrong one (digitalSignature for a CA,
    /// keyCertSign for a leaf).
    key_usage: usize,
    /// 0: none, 1: serverAuth, 2: clientAuth, 3: both.
    eku: usize,
    /// 0: P-256, 1: P-384, 2: Ed25519.
    key: usize,
    /// 0: an authority key identifier, 1: none (which the strict profile refuses below the
    /// top of a chain).
    authority_key_id: usize,
}

impl Shape {
    fn random(rng: &mut Rng, leaf: bool) -> Shape {
        let pick = |rng: &mut Rng, weights: &[usize]| {
            let total: usize = weights.iter().sum();
            let mut x = rng.below(total);
            weights
                .iter()
                .position(|w| {
                    if x < *w {
                        true
                    } else {
                        x -= w;
                        false
                    }
                })
                .unwrap_or(0)
        };
        Shape {
            validity: pick(rng, &[8, 1, 1]),
            ca: if leaf {
                pick(rng, &[9, 0, 0, 1])
            } else {
                pick(rng, &[8, 1, 1])
            },
            key_usage: pick(rng, &[8, 1, 1]),
            eku: if leaf {
                pick(rng, &[2, 6, 1, 1])
            } else {
                pick(rng, &[7, 1, 1, 1])
            },
            key: pick(rng, &[6, 2, 2]),
            authority_key_id: pick(rng, &[7, 1]),
        }
    }

    fn params(&self, cn: &str, leaf: bool) -> CertificateParams {
        let names = if leaf {
            vec!["localhost".to_owned()]
        } else {
            Vec::new()
        };
        let mut params = CertificateParams::new(names).expect("static names are valid");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.use_authority_key_identifier_extension = self.authority_key_id == 0;
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match self.validity {
            1 => (now - Duration::days(30), now - Duration::days(2)),
            2 => (now + Duration::days(2), now + Duration::days(30)),
            _ => (now - Duration::days(2), now + Duration::days(30)),
        };
        let acts_as_ca = !leaf || self.ca == 3;
        params.is_ca = match (acts_as_ca, self.ca) {
            (false, _) => IsCa::ExplicitNoCa,
            (true, 1) => IsCa::ExplicitNoCa,
            (true, 2) => IsCa::NoCa,
            (true, _) => IsCa::Ca(BasicConstraints::Unconstrained),
        };
        params.key_usages = match (acts_as_ca, self.key_usage) {
            (_, 1) => Vec::new(),
            (true, 0) => vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
            (true, _) => vec![KeyUsagePurpose::DigitalSignature],
            (false, 0) => vec![KeyUsagePurpose::DigitalSignature],
            (false, _) => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
            ],
        };
        params.extended_key_usages = match self.eku {
            1 => vec![ExtendedKeyUsagePurpose::ServerAuth],
            2 => vec![ExtendedKeyUsagePurpose::ClientAuth],
            3 => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            _ => Vec::new(),
        };
        params
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self.key {
            1 => &rcgen::PKCS_ECDSA_P384_SHA384,
            2 => &rcgen::PKCS_ED25519,
            _ => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

/// One generated verification: the request's parts and a recipe to name it by.
#[derive(Clone, Debug)]
pub struct Generated {
    /// How the chain was made, for a report.
    pub recipe: String,
    /// The chain as a peer would send it, leaf first.
    pub chain: Vec<Certificate>,
    /// The trust anchors.
    pub anchors: Vec<Certificate>,
    /// The depth limit (`None`: none).
    pub depth: Option<u32>,
    /// The purpose (`None`: any).
    pub purpose: Option<Purpose>,
}

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("rcgen makes well-formed certificates")
}

/// `count` chains from `seed`, the same on every run. The leaves are for `localhost`.
pub fn generate(seed: u64, count: usize) -> Vec<Generated> {
    let mut rng = Rng::new(seed);
    (0..count).map(|index| one(&mut rng, index)).collect()
}

/// The `index`-th chain of the generator's sequence.
fn one(rng: &mut Rng, index: usize) -> Generated {
    let root_shape = Shape {
        ca: 0,
        ..Shape::random(rng, false)
    };
    let root_key = KeyPair::generate_for(root_shape.algorithm()).expect("key generation");
    let root_params = root_shape.params(&format!("diff root {index}"), false);
    let root = cert(root_params.self_signed(&root_key).expect("signing").der());
    let mut issuer = Issuer::new(root_params, root_key);
    let intermediates = rng.below(3);
    let mut shapes = vec![format!("root {root_shape:?}")];
    let mut issued = Vec::new();
    for level in 0..intermediates {
        let shape = Shape::random(rng, false);
        let key = KeyPair::generate_for(shape.algorithm()).expect("key generation");
        let params = shape.params(&format!("diff ca {index}.{level}"), false);
        issued.push(cert(
            params.signed_by(&key, &issuer).expect("signing").der(),
        ));
        issuer = Issuer::new(params, key);
        shapes.push(format!("ca {shape:?}"));
    }
    let leaf_shape = Shape::random(rng, true);
    let leaf_key = KeyPair::generate_for(leaf_shape.algorithm()).expect("key generation");
    let leaf_params = leaf_shape.params(&format!("diff leaf {index}"), true);
    let leaf = cert(
        leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("signing")
            .der(),
    );
    shapes.push(format!("leaf {leaf_shape:?}"));

    // The chain as sent: leaf first, intermediates from the leaf's issuer up.
    let mut chain = vec![leaf];
    chain.extend(issued.iter().rev().cloned());
    let mut mutations = Vec::new();
    if rng.below(10) == 0 {
        // A broken signature: the last byte of a certificate is its signature's.
        let which = rng.below(chain.len());
        let mut der = chain[which].to_der().to_vec();
        if let Some(last) = der.last_mut() {
            *last ^= 0x01;
        }
        if let Ok(broken) = Certificate::from_der(&der) {
            chain[which] = broken;
            mutations.push(format!("signature of #{which} broken"));
        }
    }
    if chain.len() > 1 && rng.below(10) == 0 {
        let which = 1 + rng.below(chain.len() - 1);
        chain.remove(which);
        mutations.push(format!("#{which} not sent"));
    }
    if chain.len() > 2 && rng.below(10) == 0 {
        chain[1..].reverse();
        mutations.push("intermediates reversed".into());
    }
    let anchors = match rng.below(14) {
        0 if !issued.is_empty() => {
            mutations.push("the top intermediate is the anchor".into());
            vec![issued[0].clone()]
        }
        1 => {
            mutations.push("an unrelated root is the anchor".into());
            let key = KeyPair::generate().expect("key generation");
            let params = Shape {
                validity: 0,
                ca: 0,
                key_usage: 0,
                eku: 0,
                key: 0,
                authority_key_id: 0,
            }
            .params("diff unrelated root", false);
            vec![cert(params.self_signed(&key).expect("signing").der())]
        }
        2 => {
            mutations.push("the root is sent too".into());
            chain.push(root.clone());
            vec![root]
        }
        3 => {
            mutations.push("the leaf itself is the anchor".into());
            vec![chain[0].clone()]
        }
        4 => {
            // A self-signed leaf, trusted as itself (a pinned certificate).
            mutations.push("a self-signed leaf is sent and trusted".into());
            let key = KeyPair::generate_for(leaf_shape.algorithm()).expect("key generation");
            let params = leaf_shape.params(&format!("diff pinned {index}"), true);
            chain = vec![cert(params.self_signed(&key).expect("signing").der())];
            vec![chain[0].clone()]
        }
        _ => vec![root],
    };
    let depth = (rng.below(6) == 0).then(|| u32::try_from(rng.below(3)).unwrap_or(0));
    let purpose = match rng.below(10) {
        0 => None,
        1 => Some(Purpose::ClientAuth),
        _ => Some(Purpose::ServerAuth),
    };
    Generated {
        recipe: format!(
            "chain {index}: {}; {}; depth {depth:?}; purpose {purpose:?}",
            shapes.join(", "),
            if mutations.is_empty() {
                "as issued".to_owned()
            } else {
                mutations.join(", ")
            }
        ),
        chain,
        anchors,
        depth,
        purpose,
    }
}
