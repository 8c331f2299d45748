//! What a chain verification asks beyond the chain: a purpose (or none, as Qt's
//! `QSslCertificate::verify`), a time, a depth that allows no intermediate, key usages the leaf
//! must allow, revocation lists, and key strength. Every backend that verifies chains must
//! give exactly the listed errors.

use std::time::{Duration, SystemTime};

use polytls::{
    Certificate, ChainVerification, Crl, KeyStrength, KeyUsage, PeerName, Purpose, SslError,
    SslErrorKind, SupportedFeature,
};

use super::verification::{describe, same_errors};
use crate::case::{Case, Needs};
use crate::harness::{check, TempDir};
use crate::pki::{Identity, Pki};

/// One verification request and the errors it must find, as (kind, certificate).
struct Request {
    name: &'static str,
    identity: fn(&Pki) -> &Identity,
    /// The trust anchors.
    anchors: fn(&Pki) -> Vec<Certificate>,
    purpose: Option<Purpose>,
    /// The name the leaf must be valid for.
    host: Option<&'static str>,
    /// Seconds from now (negative: the past).
    at: Option<i64>,
    depth: Option<u32>,
    key_usages: &'static [KeyUsage],
    crls: fn(&Pki) -> Vec<Crl>,
    errors: fn(&Pki) -> Vec<(SslErrorKind, Certificate)>,
}

const DAY: i64 = 86_400;

fn no_crls(_: &Pki) -> Vec<Crl> {
    Vec::new()
}

fn none(_: &Pki) -> Vec<(SslErrorKind, Certificate)> {
    Vec::new()
}

const SERVER: Request = Request {
    name: "",
    identity: |p| &p.server,
    anchors: |p| vec![p.root.clone()],
    purpose: Some(Purpose::ServerAuth),
    host: Some("localhost"),
    at: None,
    depth: None,
    key_usages: &[],
    crls: no_crls,
    errors: none,
};

const REQUESTS: &[Request] = &[
    // A client-authentication certificate: fine for no purpose and for client
    // authentication, the wrong purpose for a server.
    Request {
        name: "client_certificate_without_purpose",
        identity: |p| &p.client,
        purpose: None,
        host: None,
        ..SERVER
    },
    Request {
        name: "client_certificate_for_client_authentication",
        identity: |p| &p.client,
        purpose: Some(Purpose::ClientAuth),
        host: None,
        ..SERVER
    },
    Request {
        name: "client_certificate_for_server_authentication",
        identity: |p| &p.client,
        host: None,
        errors: |p| vec![(SslErrorKind::InvalidPurpose, p.client.leaf().clone())],
        ..SERVER
    },
    Request {
        name: "server_certificate_for_client_authentication",
        purpose: Some(Purpose::ClientAuth),
        errors: |p| vec![(SslErrorKind::InvalidPurpose, p.server.leaf().clone())],
        ..SERVER
    },
    // Time: an expired leaf was fine last week; a short-lived one will not be in two weeks.
    Request {
        name: "expired_leaf_in_its_validity",
        identity: |p| &p.expired,
        at: Some(-7 * DAY),
        // The root is not valid yet then: choose the leaf's issuer's validity instead.
        errors: |p| vec![(SslErrorKind::CertificateNotYetValid, p.root.clone())],
        ..SERVER
    },
    Request {
        name: "short_lived_leaf_in_two_weeks",
        identity: |p| &p.short_lived,
        at: Some(14 * DAY),
        errors: |p| {
            vec![(
                SslErrorKind::CertificateExpired,
                p.short_lived.leaf().clone(),
            )]
        },
        ..SERVER
    },
    Request {
        name: "short_lived_leaf_in_five_days",
        identity: |p| &p.short_lived,
        at: Some(5 * DAY),
        ..SERVER
    },
    // Depth 0: the anchor itself must have issued the leaf.
    Request {
        name: "depth_zero_without_intermediates",
        depth: Some(0),
        ..SERVER
    },
    Request {
        name: "depth_zero_with_intermediates",
        identity: |p| &p.deep,
        depth: Some(0),
        errors: |p| vec![(SslErrorKind::PathLengthExceeded, p.intermediates[1].clone())],
        ..SERVER
    },
    // Key usages: the test leaves allow digitalSignature only.
    Request {
        name: "key_usage_allowed",
        key_usages: &[KeyUsage::DigitalSignature],
        ..SERVER
    },
    Request {
        name: "key_usage_missing",
        key_usages: &[KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment],
        errors: |p| vec![(SslErrorKind::InvalidPurpose, p.server.leaf().clone())],
        ..SERVER
    },
    // A trusted CA certificate used as a server's: its extended key usage still counts.
    Request {
        name: "trusted_ca_for_clients_only_as_a_server",
        identity: |p| &p.ca_for_clients_only,
        anchors: |p| vec![p.ca_for_clients_only.leaf().clone()],
        errors: |p| {
            vec![(
                SslErrorKind::InvalidPurpose,
                p.ca_for_clients_only.leaf().clone(),
            )]
        },
        ..SERVER
    },
    // Revocation lists.
    Request {
        name: "crl_revokes_the_leaf",
        identity: |p| &p.revoked,
        crls: |p| vec![p.crl.clone()],
        errors: |p| vec![(SslErrorKind::CertificateRevoked, p.revoked.leaf().clone())],
        ..SERVER
    },
    Request {
        name: "crl_does_not_revoke_the_leaf",
        crls: |p| vec![p.crl.clone()],
        ..SERVER
    },
    Request {
        name: "crl_of_another_issuer_only",
        crls: |p| vec![p.other_crl.clone()],
        errors: |p| {
            vec![(
                SslErrorKind::CertificateStatusUnknown,
                p.server.leaf().clone(),
            )]
        },
        ..SERVER
    },
];

fn run(backend: &str, request: &'static Request) -> Result<(), String> {
    let pki = Pki::get();
    let backend = polytls::Registry::global()
        .backend(Some(backend))
        .map_err(|e| e.to_string())?;
    let chain = (request.identity)(pki).chain.clone();
    let anchors = (request.anchors)(pki);
    let crls = (request.crls)(pki);
    let host = request
        .host
        .map(PeerName::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut verification = ChainVerification::new(&chain, host.as_ref(), Some(&anchors))
        .with_purpose(request.purpose)
        .with_depth(request.depth)
        .with_key_usages(request.key_usages)
        .with_crls(&crls);
    if let Some(at) = request.at {
        let offset = Duration::from_secs(at.unsigned_abs());
        let now = SystemTime::now();
        verification = verification.with_time(if at < 0 { now - offset } else { now + offset });
    }
    let found = backend
        .verify_chain(&verification)
        .map_err(|e| e.to_string())?;
    let wanted: Vec<SslError> = (request.errors)(pki)
        .into_iter()
        .map(|(kind, cert)| SslError::with_certificate(kind, cert))
        .collect();
    check(same_errors(&found, &wanted), || {
        format!("expected {}, found {}", describe(&wanted), describe(&found))
    })
}

/// A leaf under the test root whose RSA key has `bits` bits, issued by the `openssl` tool.
fn rsa_leaf(bits: u32) -> Result<Certificate, String> {
    let pki = Pki::get();
    let dir = TempDir::new()?;
    let ca = dir.write_certs("ca.pem", std::slice::from_ref(&pki.root))?;
    let ca_key = dir.write("ca.key", pki.root_key.to_pem().as_bytes())?;
    let request = dir.path().join("leaf.csr");
    let leaf = dir.path().join("leaf.pem");
    let key = dir.path().join("leaf.key");
    let openssl = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        check(out.status.success(), || {
            format!("openssl: {}", String::from_utf8_lossy(&out.stderr))
        })
    };
    let bits = format!("rsa:{bits}");
    openssl(&[
        "req".as_ref(),
        "-new".as_ref(),
        "-newkey".as_ref(),
        bits.as_ref(),
        "-nodes".as_ref(),
        "-subj".as_ref(),
        "/CN=weak".as_ref(),
        "-keyout".as_ref(),
        key.as_os_str(),
        "-out".as_ref(),
        request.as_os_str(),
    ])?;
    let extensions = dir.write(
        "ext.cnf",
        b"subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    )?;
    openssl(&[
        "x509".as_ref(),
        "-req".as_ref(),
        "-in".as_ref(),
        request.as_os_str(),
        "-CA".as_ref(),
        ca.as_os_str(),
        "-CAkey".as_ref(),
        ca_key.as_os_str(),
        "-days".as_ref(),
        "10".as_ref(),
        "-extfile".as_ref(),
        extensions.as_os_str(),
        "-out".as_ref(),
        leaf.as_os_str(),
    ])?;
    let pem = std::fs::read(&leaf).map_err(|e| e.to_string())?;
    Certificate::from_pem(&pem).map_err(|e| e.to_string())
}

/// A 1024-bit RSA root, self-signed, and a 2048-bit leaf it issued, by the `openssl` tool.
fn weak_root_chain() -> Result<(Certificate, Certificate), String> {
    let dir = TempDir::new()?;
    let run = |args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        check(out.status.success(), || {
            format!("openssl: {}", String::from_utf8_lossy(&out.stderr))
        })
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-subj",
        "/CN=weak root",
        "-days",
        "10",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ])?;
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=leaf under a weak root",
    ])?;
    dir.write(
        "ext.cnf",
        b"subjectAltName=DNS:localhost\nauthorityKeyIdentifier=keyid\nextendedKeyUsage=serverAuth\n",
    )?;
    run(&[
        "x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-days", "5",
        "-extfile", "ext.cnf", "-out", "leaf.pem",
    ])?;
    let read = |name: &str| -> Result<Certificate, String> {
        let pem = std::fs::read(dir.path().join(name)).map_err(|e| e.to_string())?;
        Certificate::from_pem(&pem).map_err(|e| e.to_string())
    };
    Ok((read("leaf.pem")?, read("root.pem")?))
}

/// A 1024-bit RSA leaf: refused by default (as OpenSSL's security level 2 refuses it, with
/// Qt's UnspecifiedError), accepted at [`KeyStrength::Legacy`].
fn weak_key(backend: &str) -> Result<(), String> {
    let pki = Pki::get();
    let backend = polytls::Registry::global()
        .backend(Some(backend))
        .map_err(|e| e.to_string())?;
    let host = PeerName::parse("localhost").map_err(|e| e.to_string())?;
    let anchors = [pki.root.clone()];
    for (bits, strength, refused) in [
        (1024, KeyStrength::Standard, true),
        (1024, KeyStrength::Legacy, false),
        (2048, KeyStrength::Standard, false),
        (2048, KeyStrength::High, true),
    ] {
        let chain = [rsa_leaf(bits)?];
        let request =
            ChainVerification::new(&chain, Some(&host), Some(&anchors)).with_key_strength(strength);
        let found = backend.verify_chain(&request).map_err(|e| e.to_string())?;
        let wanted: Vec<SslError> = if refused {
            vec![SslError::with_certificate(
                SslErrorKind::UnspecifiedError,
                chain[0].clone(),
            )]
        } else {
            Vec::new()
        };
        check(same_errors(&found, &wanted), || {
            format!(
                "RSA-{bits} at {strength:?}: expected {}, found {}",
                describe(&wanted),
                describe(&found)
            )
        })?;
    }
    // The trust anchor's key counts too. (What else is reported differs: rustls' provider
    // cannot verify a signature by an RSA key under 2048 bits at all, so it also reports the
    // leaf's signature as failed; docs/VERIFICATION.md.)
    let (leaf, weak_root) = weak_root_chain()?;
    let (chain, anchors) = ([leaf], [weak_root.clone()]);
    let request = ChainVerification::new(&chain, Some(&host), Some(&anchors));
    let found = backend.verify_chain(&request).map_err(|e| e.to_string())?;
    let weak = SslError::with_certificate(SslErrorKind::UnspecifiedError, weak_root);
    check(found.contains(&weak), || {
        format!("a weak anchor passed: found {}", describe(&found))
    })
}

/// A root and a leaf it issued without an authority key identifier (RFC 5280 requires one):
/// the strict profile refuses the leaf, and accepts it once relaxed.
fn strict_profile(backend: &str) -> Result<(), String> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let backend = polytls::Registry::global()
        .backend(Some(backend))
        .map_err(|e| e.to_string())?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut root = CertificateParams::new(Vec::new()).map_err(|e| e.to_string())?;
    root.distinguished_name
        .push(rcgen::DnType::CommonName, "strict root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let root_cert = root.self_signed(&key).map_err(|e| e.to_string())?;
    let issuer = Issuer::new(root, key);
    let leaf_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut leaf = CertificateParams::new(vec!["localhost".into()]).map_err(|e| e.to_string())?;
    leaf.use_authority_key_identifier_extension = false;
    let leaf = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| e.to_string())?;
    let chain = [Certificate::from_der(leaf.der()).map_err(|e| e.to_string())?];
    let anchors = [Certificate::from_der(root_cert.der()).map_err(|e| e.to_string())?];
    let host = PeerName::parse("localhost").map_err(|e| e.to_string())?;
    for (strict, wanted) in [
        (
            true,
            vec![SslError::with_certificate(
                SslErrorKind::UnspecifiedError,
                chain[0].clone(),
            )],
        ),
        (false, Vec::new()),
    ] {
        let request =
            ChainVerification::new(&chain, Some(&host), Some(&anchors)).with_strict_profile(strict);
        let found = backend.verify_chain(&request).map_err(|e| e.to_string())?;
        check(same_errors(&found, &wanted), || {
            format!(
                "strict {strict}: expected {}, found {}",
                describe(&wanted),
                describe(&found)
            )
        })?;
    }
    Ok(())
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    let needs = || Needs::default().and_feature(SupportedFeature::CertificateVerification);
    let mut cases: Vec<Case> = REQUESTS
        .iter()
        .map(|request| {
            Case::single(format!("policy/{}", request.name), needs(), move |b| {
                run(b, request)
            })
        })
        .collect();
    cases.push(Case::single(
        "policy/certificate_verify_asks_no_purpose",
        needs(),
        |b| {
            // Qt's QSslCertificate::verify checks no purpose: a client-authentication
            // certificate is not InvalidPurpose there. (The default configuration trusts the
            // system's roots, which do not know the test root.)
            let pki = Pki::get();
            let found = Certificate::verify_with(&pki.client.chain, None, Some(b))
                .map_err(|e| e.to_string())?;
            let wanted = [SslError::with_certificate(
                SslErrorKind::UnableToGetLocalIssuerCertificate,
                pki.client.leaf().clone(),
            )];
            check(same_errors(&found, &wanted), || {
                format!("expected {}, found {}", describe(&wanted), describe(&found))
            })
        },
    ));
    cases.push(Case::single(
        "policy/strict_profile_and_relaxed",
        needs(),
        strict_profile,
    ));
    cases.push(Case::single(
        "policy/key_strength_of_an_rsa_leaf",
        needs().and_tool("openssl"),
        weak_key,
    ));
    cases
}
