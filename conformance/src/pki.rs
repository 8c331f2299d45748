//! The test PKI, generated once per process at run time: a trusted root, an untrusted root,
//! and leaves for every verification situation the suite provokes.
//!
//! Every leaf names `localhost`, `127.0.0.1` and `::1` unless its point is a wrong name.

use std::sync::OnceLock;

use polytls::{Certificate, Crl, Key, KeyType};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber, SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

/// A certificate chain (leaf first, as a peer sends it) and the leaf's private key.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<Certificate>,
    /// The leaf's key.
    pub key: Key,
}

impl Identity {
    /// The leaf certificate.
    pub fn leaf(&self) -> &Certificate {
        &self.chain[0]
    }
}

/// Every certificate and key the suite uses.
#[derive(Debug)]
pub struct Pki {
    /// The root every "trusted" configuration trusts.
    pub root: Certificate,
    /// The private key of `root`, for certificates an external tool issues under it.
    pub root_key: Key,
    /// A root nobody trusts.
    pub untrusted_root: Certificate,
    /// A valid server leaf from `root`.
    pub server: Identity,
    /// A valid client leaf from `root` (client-auth usage).
    pub client: Identity,
    /// A self-signed client certificate nobody trusts.
    pub client_self_signed: Identity,
    /// A server leaf that expired yesterday.
    pub expired: Identity,
    /// A server leaf valid from tomorrow.
    pub not_yet_valid: Identity,
    /// A server leaf for `other.example` only.
    pub wrong_name: Identity,
    /// A server leaf that expired and names `other.example` only.
    pub expired_wrong_name: Identity,
    /// A self-signed server leaf nobody trusts.
    pub self_signed: Identity,
    /// A server leaf from `untrusted_root`, sent alone.
    pub unknown_issuer: Identity,
    /// The same leaf from `untrusted_root`, sent with that root.
    pub untrusted_chain: Identity,
    /// A server leaf two intermediates below `root`: the chain is leaf, `intermediates[1]`
    /// (the leaf's issuer), `intermediates[0]` (issued by `root`).
    pub deep: Identity,
    /// A client leaf below the same two intermediates: the chain is leaf, `intermediates[1]`,
    /// `intermediates[0]`.
    pub deep_client: Identity,
    /// The intermediates of `deep`, from the one `root` issued downwards.
    pub intermediates: [Certificate; 2],
    /// A self-signed CA certificate for `localhost` whose extended key usage allows client
    /// authentication only: trusted as an anchor, it is still no server's certificate.
    pub ca_for_clients_only: Identity,
    /// A server leaf from `root` for `*.example.test` and the internationalised
    /// `bücher.example` (in its ASCII form, `xn--bcher-kva.example`).
    pub wildcard: Identity,
    /// A server leaf issued by an intermediate from `root` whose basicConstraints say it is
    /// no CA; the chain is leaf, intermediate.
    pub under_non_ca: Identity,
    /// A server leaf from `root` valid for 10 days only (its root stays valid for 30).
    pub short_lived: Identity,
    /// A server leaf from `root` that `crl` revokes.
    pub revoked: Identity,
    /// `root`'s revocation list: it revokes `revoked`, and nothing else.
    pub crl: Crl,
    /// `untrusted_root`'s (empty) revocation list: it says nothing of `root`'s leaves.
    pub other_crl: Crl,
    /// A server leaf from `root` whose common name is `localhost` and that has no subject
    /// alternative name.
    pub cn_only: Identity,
    /// A root whose common name is on Qt's blacklist ("DigiNotar Root CA").
    pub blacklisted_root: Certificate,
    /// A valid server leaf from `blacklisted_root` with a blacklisted serial number
    /// (DigiNotar's root's): its issuer name and serial put it on the blacklist.
    pub blacklisted: Identity,
    /// An attacker's material: chains whose every problem but one is ignorable by name, and
    /// the certificates they impersonate (see [`Forgeries`]).
    pub forged: Forgeries,
    /// A store as large as a system's, with trusted certificates that share a name with a
    /// leaf's issuer but did not issue it (see [`Namesakes`]).
    pub namesakes: Namesakes,
}

/// Leaves whose issuer's name a trusted certificate shares, and the store that holds those
/// namesakes among as many unrelated roots as a system store has. No namesake issued
/// anything: each differs from the real issuer in one way OpenSSL looks at before it checks
/// a signature, so that verification must find no issuer among the anchors rather than a
/// signature that does not verify.
#[derive(Debug)]
pub struct Namesakes {
    /// The trust anchors: unrelated roots with the namesakes among them.
    pub store: Vec<Certificate>,
    /// A self-signed CA certificate for `localhost` as `openssl req -x509` makes one (cA
    /// critical, a subject key identifier and an authority key identifier naming it, no key
    /// usage, no extended key usage); the store holds a self-signed certificate of the same
    /// name with another key of the same kind and its own key identifier, as Debian's
    /// `ssl-cert-snakeoil.pem` in a system store.
    pub self_signed_ca: Identity,
    /// A self-signed certificate of that name without key identifiers or basicConstraints
    /// (as rcgen makes one by default): only its being self-signed tells the store's
    /// namesake, whose key is of the same kind, from its issuer.
    pub self_signed_without_key_ids: Identity,
    /// A leaf from an untrusted CA that is not sent, with an authority key identifier; the
    /// store holds a CA of that name with another key (of the same kind) and identifier.
    pub other_key_id: Identity,
    /// A leaf without an authority key identifier from an untrusted Ed25519 CA that is not
    /// sent; the store holds a CA of that name with a P-256 key.
    pub other_key_kind: Identity,
}

impl Namesakes {
    /// How many unrelated roots the store holds besides the namesakes (a system store's
    /// count).
    const CROWD: usize = 144;

    fn generate() -> Namesakes {
        let mut store: Vec<Certificate> = (0..Self::CROWD)
            .map(|i| Ca::new(&format!("polytls crowd root {i}")).cert)
            .collect();
        // The snakeoil certificate of a system store: not a CA, its own key identifier.
        let mut snakeoil = params("localhost", &NAMES);
        snakeoil.is_ca = IsCa::ExplicitNoCa;
        snakeoil.use_authority_key_identifier_extension = false;
        let mut ca_leaf = params("localhost", &NAMES);
        ca_leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut plain = params("localhost", &NAMES);
        plain.use_authority_key_identifier_extension = false;
        let x = Ca::new("polytls namesake issuer x");
        let y = Ca::with_params_for(ca_params("polytls namesake issuer y"), &rcgen::PKCS_ED25519);
        let mut without_aki = leaf_params("namesake y leaf", &NAMES, false);
        without_aki.use_authority_key_identifier_extension = false;
        let namesakes = [
            self_signed(snakeoil).chain.remove(0),
            Ca::new("polytls namesake issuer x").cert,
            Ca::new("polytls namesake issuer y").cert,
        ];
        for (i, namesake) in namesakes.into_iter().enumerate() {
            store.insert(Self::CROWD / 4 * (i + 1), namesake);
        }
        Namesakes {
            store,
            self_signed_ca: self_signed(ca_leaf),
            self_signed_without_key_ids: self_signed(plain),
            other_key_id: x.issue(leaf_params("namesake x leaf", &NAMES, false), false),
            other_key_kind: y.issue(without_aki, false),
        }
    }
}

/// Chains an attacker builds: leaves that name a real CA as their issuer but are signed with
/// the attacker's own key (no authority key identifier, so only the signature gives them
/// away), and chains that hide an untrusted root behind expired certificates.
#[derive(Debug)]
pub struct Forgeries {
    /// A leaf claiming `untrusted_root` as issuer, sent with that (genuine) root.
    pub under_untrusted_root: Identity,
    /// A leaf claiming a genuine intermediate two levels below `root` as issuer, sent with
    /// that intermediate but without the intermediate's own issuer.
    pub under_intermediate: Identity,
    /// An intermediate from `root` that expired yesterday.
    pub expired_intermediate: Certificate,
    /// A leaf claiming `expired_intermediate` as issuer, sent with it.
    pub under_expired_intermediate: Identity,
    /// An expired leaf issued by an untrusted "evil" CA, sent with that CA.
    pub expired_from_evil_ca: Identity,
    /// The same, but the CA expired before the leaf was issued: no instant exists at which
    /// both are valid.
    pub expired_from_stale_evil_ca: Identity,
    /// Eight expired certificates, leaf first, up to an untrusted expired root.
    pub expired_chain: Identity,
}

const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn params(cn: &str, names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("static names are valid SANs");
    params.distinguished_name.push(DnType::CommonName, cn);
    // RFC 5280's profile, which verification applies strictly by default.
    params.use_authority_key_identifier_extension = true;
    params
        .distinguished_name
        .push(DnType::OrganizationName, "polytls conformance");
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(30);
    params
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = params(cn, &[]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn leaf_params(cn: &str, names: &[&str], client: bool) -> CertificateParams {
    let mut params = params(cn, names);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    params
}

fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("rcgen makes well-formed certificates")
}

fn key(pair: &KeyPair) -> Key {
    Key::from_der(&pair.serialize_der(), KeyType::PrivateKey).expect("rcgen makes PKCS#8 keys")
}

struct Ca {
    cert: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed CA `cn` with a key of its own. Two CAs made with one name have the same
    /// subject: an impostor's certificates claim the genuine CA as their issuer.
    fn new(cn: &str) -> Ca {
        Ca::with_params(ca_params(cn))
    }

    /// A self-signed CA with `params`.
    fn with_params(params: CertificateParams) -> Ca {
        Ca::with_params_for(params, &rcgen::PKCS_ECDSA_P256_SHA256)
    }

    /// A self-signed CA with `params` and a key for `algorithm`.
    fn with_params_for(params: CertificateParams, algorithm: &'static SignatureAlgorithm) -> Ca {
        let key = KeyPair::generate_for(algorithm).expect("key generation works");
        let cert = cert(params.self_signed(&key).expect("self-signing works").der());
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    /// A CA certificate `cn` issued by this CA.
    fn intermediate(&self, cn: &str) -> Ca {
        self.intermediate_with(ca_params(cn))
    }

    /// A CA certificate with `params` issued by this CA.
    fn intermediate_with(&self, params: CertificateParams) -> Ca {
        let key = KeyPair::generate().expect("key generation works");
        let cert = cert(
            params
                .signed_by(&key, &self.issuer)
                .expect("signing works")
                .der(),
        );
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn issue(&self, params: CertificateParams, with_root: bool) -> Identity {
        let pair = KeyPair::generate().expect("key generation works");
        let leaf = cert(
            params
                .signed_by(&pair, &self.issuer)
                .expect("signing works")
                .der(),
        );
        let mut chain = vec![leaf];
        if with_root {
            chain.push(self.cert.clone());
        }
        Identity {
            chain,
            key: key(&pair),
        }
    }
}

/// `params` valid from 30 days ago until yesterday.
fn expired(mut params: CertificateParams) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(30);
    params.not_after = now - Duration::days(1);
    params
}

impl Forgeries {
    fn generate(root: &Ca) -> Forgeries {
        // A leaf signed by an impostor of the CA named `cn`, sent with the genuine CA: the
        // impostor has the genuine CA's name and claims its key identifier, so that only the
        // signature tells them apart.
        let forge = |cn: &str, genuine: &Ca| {
            let mut params = ca_params(cn);
            params.key_identifier_method =
                KeyIdMethod::PreSpecified(ca_params(cn).key_identifier(genuine.issuer.key()));
            let impostor = Ca::with_params(params);
            let mut identity = impostor.issue(leaf_params("forged", &NAMES, false), false);
            identity.chain.push(genuine.cert.clone());
            identity
        };
        let untrusted_root = Ca::new("polytls untrusted root");
        let upper = root.intermediate("polytls forged-under upper");
        let lower = upper.intermediate("polytls forged-under intermediate");
        let expired_name = "polytls expired intermediate";
        let expired_intermediate = root.intermediate_with(expired(ca_params(expired_name)));
        let evil = Ca::new("Evil CA");
        let mut stale = ca_params("Stale Evil CA");
        let now = OffsetDateTime::now_utc();
        stale.not_before = now - Duration::days(60);
        stale.not_after = now - Duration::days(40);
        let stale_evil = Ca::with_params(stale);
        let expired_leaf = || expired(leaf_params("expired", &NAMES, false));
        let mut cas = vec![Ca::with_params(expired(ca_params("polytls expired root")))];
        for i in 1..7 {
            let ca = cas[i - 1]
                .intermediate_with(expired(ca_params(&format!("polytls expired ca {i}"))));
            cas.push(ca);
        }
        let mut expired_chain = cas[6].issue(expired_leaf(), false);
        expired_chain
            .chain
            .extend(cas.iter().rev().map(|ca| ca.cert.clone()));
        Forgeries {
            under_untrusted_root: forge("polytls untrusted root", &untrusted_root),
            under_intermediate: forge("polytls forged-under intermediate", &lower),
            under_expired_intermediate: forge(expired_name, &expired_intermediate),
            expired_intermediate: expired_intermediate.cert,
            expired_from_evil_ca: evil.issue(expired_leaf(), true),
            expired_from_stale_evil_ca: stale_evil.issue(expired_leaf(), true),
            expired_chain,
        }
    }
}

impl Ca {
    /// This CA's revocation list, revoking the certificates with `serials`.
    fn crl(&self, serials: &[u64]) -> Crl {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::days(1),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: now - Duration::hours(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).expect("signing a CRL works");
        Crl::from_der(crl.der()).expect("rcgen makes well-formed CRLs")
    }
}

fn self_signed(params: CertificateParams) -> Identity {
    let pair = KeyPair::generate().expect("key generation works");
    let leaf = cert(params.self_signed(&pair).expect("self-signing works").der());
    Identity {
        chain: vec![leaf],
        key: key(&pair),
    }
}

impl Pki {
    /// The process's test PKI, generated on first use.
    pub fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Pki::generate)
    }

    fn generate() -> Pki {
        let root = Ca::new("polytls test root");
        let other = Ca::new("polytls untrusted root");
        let now = OffsetDateTime::now_utc();
        let mut expired = leaf_params("expired", &NAMES, false);
        expired.not_before = now - Duration::days(30);
        expired.not_after = now - Duration::days(1);
        let mut expired_wrong_name = leaf_params("expired other", &["other.example"], false);
        expired_wrong_name.not_before = expired.not_before;
        expired_wrong_name.not_after = expired.not_after;
        let mut not_yet_valid = leaf_params("not yet valid", &NAMES, false);
        not_yet_valid.not_before = now + Duration::days(1);
        not_yet_valid.not_after = now + Duration::days(30);
        let untrusted_leaf = other.issue(leaf_params("unknown issuer", &NAMES, false), true);
        let mut short_lived = leaf_params("short-lived", &NAMES, false);
        short_lived.not_after = now + Duration::days(10);
        const REVOKED_SERIAL: u64 = 0x5eed_0001;
        let mut revoked = leaf_params("revoked", &NAMES, false);
        revoked.serial_number = Some(SerialNumber::from(REVOKED_SERIAL));
        let upper = root.intermediate("polytls test intermediate 1");
        let lower = upper.intermediate("polytls test intermediate 2");
        let mut deep = lower.issue(leaf_params("deep", &NAMES, false), false);
        deep.chain.extend([lower.cert.clone(), upper.cert.clone()]);
        let mut deep_client = lower.issue(leaf_params("deep client", &[], true), false);
        deep_client
            .chain
            .extend([lower.cert.clone(), upper.cert.clone()]);
        let diginotar = Ca::new("DigiNotar Root CA");
        let mut blacklisted = leaf_params("localhost", &NAMES, false);
        blacklisted.serial_number = Some(rcgen::SerialNumber::from_slice(&[
            0x0c, 0x76, 0xda, 0x9c, 0x91, 0x0c, 0x4e, 0x2c, 0x9e, 0xfe, 0x15, 0xd0, 0x58, 0x93,
            0x3c, 0x4c,
        ]));
        Pki {
            cn_only: root.issue(leaf_params("localhost", &[], false), false),
            blacklisted: diginotar.issue(blacklisted, false),
            blacklisted_root: diginotar.cert,
            server: root.issue(leaf_params("localhost", &NAMES, false), false),
            client: root.issue(leaf_params("conformance client", &[], true), false),
            client_self_signed: self_signed(leaf_params("self-signed client", &[], true)),
            expired: root.issue(expired, false),
            not_yet_valid: root.issue(not_yet_valid, false),
            wrong_name: root.issue(
                leaf_params("other.example", &["other.example"], false),
                false,
            ),
            expired_wrong_name: root.issue(expired_wrong_name, false),
            self_signed: self_signed(leaf_params("self-signed", &NAMES, false)),
            unknown_issuer: Identity {
                chain: vec![untrusted_leaf.chain[0].clone()],
                key: untrusted_leaf.key.clone(),
            },
            untrusted_chain: untrusted_leaf,
            deep,
            deep_client,
            forged: Forgeries::generate(&root),
            namesakes: Namesakes::generate(),
            short_lived: root.issue(short_lived, false),
            under_non_ca: {
                let mut params = ca_params("polytls intermediate that is no CA");
                params.is_ca = IsCa::ExplicitNoCa;
                let not_ca = root.intermediate_with(params);
                not_ca.issue(leaf_params("under a non-CA", &NAMES, false), true)
            },
            wildcard: root.issue(
                leaf_params(
                    "wildcard",
                    &["*.example.test", "xn--bcher-kva.example"],
                    false,
                ),
                false,
            ),
            ca_for_clients_only: {
                let mut params = ca_params("polytls CA for clients only");
                params.subject_alt_names = leaf_params("-", &NAMES, false).subject_alt_names;
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                self_signed(params)
            },
            root_key: key(root.issuer.key()),
            revoked: root.issue(revoked, false),
            crl: root.crl(&[REVOKED_SERIAL]),
            other_crl: other.crl(&[]),
            intermediates: [upper.cert, lower.cert],
            root: root.cert,
            untrusted_root: other.cert,
        }
    }
}
