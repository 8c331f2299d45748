//! The Certificate class: a backend that reads certificates with its own parser must find what
//! polytls finds (every field of the corpus) and what the certificate really holds (the
//! corpus' expectations); it must survive thousands of damaged certificates; and it imports
//! PKCS#12 files that work in a handshake.

use polytls::certificate::CertificateInfo;
use polytls::{
    Certificate, Error, ImplementedClass, SslConfiguration, SslError, SslErrorKind,
    SupportedFeature,
};

use crate::case::{Case, Needs};
use crate::corpus::{corpus, Entry};
use crate::harness::{
    check, configure, handshake, mutate, server_config, verification_kinds, Rng, Setup, Socket,
    TempDir,
};
use crate::pki::{Identity, Pki};

fn needs() -> Needs {
    Needs {
        classes: vec![ImplementedClass::Certificate],
        ..Needs::default()
    }
}

fn info(backend: &str, der: &[u8]) -> Result<CertificateInfo, Error> {
    polytls::certificate_info(der, Some(backend))
}

/// The first field in which two readings differ, as a message.
fn difference(backend: &CertificateInfo, reference: &CertificateInfo) -> Option<String> {
    macro_rules! compare {
        ($($field:ident),*) => {
            $(
                if backend.$field != reference.$field {
                    return Some(format!(
                        "{}: backend {:?}, polytls {:?}",
                        stringify!($field),
                        backend.$field,
                        reference.$field
                    ));
                }
            )*
        };
    }
    compare!(
        version,
        serial_number,
        subject,
        issuer,
        subject_alternative_names,
        effective_date_unix,
        expiry_date_unix,
        is_self_signed,
        is_ca,
        public_key,
        public_key_bits,
        signature_algorithm_oid,
        extensions,
        sha256
    );
    None
}

/// What `entry` says a correct parser finds, checked against `found`.
fn expectations(entry: &Entry, found: &CertificateInfo) -> Result<(), String> {
    if let Some(subject) = &entry.subject {
        let wanted: Vec<(String, Option<String>)> = subject
            .iter()
            .map(|(oid, value)| ((*oid).to_owned(), Some(value.clone())))
            .collect();
        check(found.subject == wanted, || {
            format!("subject {:?}, expected {wanted:?}", found.subject)
        })?;
    }
    if let Some(names) = &entry.alternative_names {
        check(&found.subject_alternative_names == names, || {
            format!(
                "alternative names {:?}, expected {names:?}",
                found.subject_alternative_names
            )
        })?;
    }
    if let Some(serial) = &entry.serial {
        check(&found.serial_number == serial, || {
            format!(
                "serial {:02x?}, expected {serial:02x?}",
                found.serial_number
            )
        })?;
    }
    if let Some((not_before, not_after)) = entry.validity {
        check(
            (found.effective_date_unix, found.expiry_date_unix) == (not_before, not_after),
            || {
                format!(
                    "validity {}..{}, expected {not_before}..{not_after}",
                    found.effective_date_unix, found.expiry_date_unix
                )
            },
        )?;
    }
    if let Some(bits) = entry.bits {
        check(found.public_key_bits == Some(bits), || {
            format!("{:?} bits, expected {bits}", found.public_key_bits)
        })?;
    }
    if let Some(self_signed) = entry.self_signed {
        check(found.is_self_signed == self_signed, || {
            format!(
                "self-signed {}, expected {self_signed}",
                found.is_self_signed
            )
        })?;
    }
    if let Some(extensions) = &entry.extensions {
        let oids: Vec<(&str, bool)> = found
            .extensions
            .iter()
            .map(|(oid, critical, _)| (oid.as_str(), *critical))
            .collect();
        check(&oids == extensions, || {
            format!("extensions {oids:?}, expected {extensions:?}")
        })?;
    }
    Ok(())
}

fn corpus_case() -> Case {
    Case::single("certificate/corpus", needs(), |b| {
        for entry in corpus() {
            let der = entry.certificate.to_der();
            let found = info(b, der).map_err(|e| format!("{}: {e}", entry.name))?;
            if let Some(diff) = difference(&found, &entry.certificate.info()) {
                return Err(format!("{}: {diff}", entry.name));
            }
            expectations(entry, &found).map_err(|e| format!("{}: {e}", entry.name))?;
        }
        Ok(())
    })
}

fn malformed_case() -> Case {
    Case::single("certificate/malformed_input_is_an_error", needs(), |b| {
        let der = Pki::get().server.leaf().to_der();
        let mut trailing = der.to_vec();
        trailing.push(0);
        let inputs: [(&str, &[u8]); 4] = [
            ("empty", &[]),
            ("truncated", &der[..der.len() / 2]),
            ("trailing data", &trailing),
            ("not a certificate", b"\x30\x03\x02\x01\x00"),
        ];
        for (what, input) in inputs {
            match info(b, input) {
                Err(Error::Certificate(_)) => {}
                other => {
                    return Err(format!(
                        "{what}: expected Error::Certificate, got {other:?}"
                    ))
                }
            }
        }
        Ok(())
    })
}

/// Compares the backend's reading of a damaged certificate with polytls' when both accept
/// it. Judgements that rest on each library's rules for malformed extensions (whether a
/// damaged key usage still counts) may differ; every field read from the encoding must not.
fn agree_on_damaged(backend: &str, damaged: &[u8]) -> Result<bool, String> {
    let (Ok(found), Ok(cert)) = (info(backend, damaged), Certificate::from_der(damaged)) else {
        return Ok(false);
    };
    let mut reference = cert.info();
    reference.is_self_signed = found.is_self_signed;
    reference.is_ca = found.is_ca;
    match difference(&found, &reference) {
        None => Ok(true),
        Some(diff) => {
            let hex: String = damaged.iter().map(|b| format!("{b:02x}")).collect();
            Err(format!("read differently: {diff}\nDER: {hex}"))
        }
    }
}

fn fuzz_case() -> Case {
    Case::single("certificate/damaged_certificates", needs(), |b| {
        // Damaged copies of the corpus, as DER and as PEM: the backend must never panic or
        // hang. The committed certificate's damaged copies are the same on every run, so the
        // two parsers must agree on each of them that both accept; the generated
        // certificates (new keys each run) are only checked for robustness, which keeps the
        // case deterministic.
        let mut rng = Rng::new(0x5eed_ce27);
        let mut both_accepted = 0usize;
        let committed = corpus()
            .iter()
            .find(|e| e.name == crate::corpus::COMMITTED)
            .ok_or("the committed certificate is missing from the corpus")?;
        for round in 0..2000 {
            let damaged = mutate(committed.certificate.to_der(), &mut rng);
            if agree_on_damaged(b, &damaged).map_err(|e| format!("round {round}: {e}"))? {
                both_accepted += 1;
            }
        }
        let mut rng = Rng::new(0x0bad_5eed);
        for round in 0..200 {
            for entry in corpus() {
                let _ = info(b, &mutate(entry.certificate.to_der(), &mut rng));
                if round % 10 == 0 {
                    let pem = mutate(entry.certificate.to_pem().as_bytes(), &mut rng);
                    if let Ok(cert) = Certificate::from_pem(&pem) {
                        let _ = info(b, cert.to_der());
                    }
                }
            }
        }
        check(both_accepted > 0, || {
            "no damaged certificate was accepted by both parsers".into()
        })
    })
}

/// Writes `identity` as a PKCS#12 file protected by `passphrase` with the `openssl` program,
/// using the given extra arguments (cipher choices).
fn pkcs12_file(identity: &Identity, passphrase: &str, extra: &[&str]) -> Result<Vec<u8>, String> {
    let dir = TempDir::new()?;
    let cert = dir.write_certs("chain.pem", &identity.chain)?;
    let key = dir.write("key.pem", identity.key.to_pem().as_bytes())?;
    let out = dir.path().join("bundle.p12");
    let status = std::process::Command::new("openssl")
        .arg("pkcs12")
        .arg("-export")
        .arg("-in")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-out")
        .arg(&out)
        .arg("-passout")
        .arg(format!("pass:{passphrase}"))
        .args(extra)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    check(status.status.success(), || {
        format!(
            "openssl pkcs12 failed: {}",
            String::from_utf8_lossy(&status.stderr)
        )
    })?;
    std::fs::read(&out).map_err(|e| e.to_string())
}

fn pkcs12_needs() -> Needs {
    needs().and_tool("openssl")
}

fn pkcs12_case(name: &'static str, extra: &'static [&'static str]) -> Case {
    Case::single(
        format!("certificate/pkcs12/{name}"),
        pkcs12_needs(),
        move |b| {
            let pki = Pki::get();
            let data = pkcs12_file(&pki.deep, "correct horse", extra)?;
            let bundle = Certificate::import_pkcs12(&data, b"correct horse", Some(b))
                .map_err(|e| e.to_string())?;
            check(&bundle.certificate == pki.deep.leaf(), || {
                "the certificate is not the leaf".into()
            })?;
            check(bundle.ca_certificates.len() == 2, || {
                format!(
                    "{} CA certificates, expected 2",
                    bundle.ca_certificates.len()
                )
            })?;
            check(
                pki.intermediates
                    .iter()
                    .all(|c| bundle.ca_certificates.contains(c)),
                || "the CA certificates are not the intermediates".into(),
            )?;
            // The imported key and chain must work: serve with them to a client of the same
            // backend (when it has sockets) that trusts the root.
            if !polytls::is_class_implemented(ImplementedClass::Socket, Some(b)) {
                return Ok(());
            }
            let server = SslConfiguration {
                local_certificate_chain: std::iter::once(bundle.certificate)
                    .chain(bundle.ca_certificates)
                    .collect(),
                private_key: Some(bundle.key),
                ..SslConfiguration::default()
            };
            let client = crate::harness::client_config();
            let result = handshake(b, configure(client), b, configure(server));
            result.both().map(|_| ())
        },
    )
}

fn pkcs12_errors_case() -> Case {
    Case::single("certificate/pkcs12/errors", pkcs12_needs(), |b| {
        let data = pkcs12_file(&Pki::get().server, "right", &[])?;
        match Certificate::import_pkcs12(&data, b"wrong", Some(b)) {
            Err(Error::WrongPassphrase) => {}
            other => return Err(format!("wrong passphrase: got {other:?}")),
        }
        match Certificate::import_pkcs12(b"\x30\x03\x02\x01\x03", b"right", Some(b)) {
            Err(Error::Certificate(_)) => {}
            other => return Err(format!("garbage: got {other:?}")),
        }
        let mut rng = Rng::new(0x0012_3456);
        for _ in 0..200 {
            // Damaged files: an error, never a panic (a damaged MAC reads as a wrong
            // passphrase, which is all the file can tell).
            let damaged = mutate(&data, &mut rng);
            let _ = Certificate::import_pkcs12(&damaged, b"right", Some(b));
        }
        Ok(())
    })
}

/// A peer whose chain holds a blacklisted certificate (a valid chain, trusted root): the
/// handshake reports `CertificateBlacklisted` for it, decided in core and so on every
/// backend, and fails unless exactly that error is ignored; `Certificate::verify` reports it
/// too.
fn blacklisted_case() -> Case {
    Case::single(
        "certificate/blacklisted_peer",
        Needs::feature(SupportedFeature::CertificateVerification),
        |b| {
            let pki = Pki::get();
            let leaf = pki.blacklisted.leaf().clone();
            check(leaf.is_blacklisted(), || {
                "the leaf is not blacklisted".into()
            })?;
            let blacklisted =
                SslError::with_certificate(SslErrorKind::CertificateBlacklisted, leaf.clone());
            let client = |ignore: Vec<SslError>| -> Setup {
                let config = SslConfiguration {
                    ca_certificates: Some(vec![pki.blacklisted_root.clone()]),
                    ..SslConfiguration::default()
                };
                Box::new(move |s: &mut Socket| {
                    s.set_ssl_configuration(config);
                    s.ignore_ssl_errors_list(&ignore);
                })
            };
            let server = || configure(server_config(&pki.blacklisted));
            // Nothing ignored: refused for that error alone.
            let result = handshake(b, client(Vec::new()), b, server());
            let kinds = verification_kinds(&result.client)?;
            check(kinds == [SslErrorKind::CertificateBlacklisted], || {
                format!("errors {kinds:?}, expected CertificateBlacklisted only")
            })?;
            // Another error ignored: still refused.
            let other = SslError::with_certificate(SslErrorKind::HostNameMismatch, leaf.clone());
            let result = handshake(b, client(vec![other]), b, server());
            verification_kinds(&result.client)?;
            // That error ignored: accepted.
            handshake(b, client(vec![blacklisted.clone()]), b, server()).both()?;
            // Outside a handshake.
            let errors =
                Certificate::verify_with(&pki.blacklisted.chain, Some("localhost"), Some(b))
                    .map_err(|e| e.to_string())?;
            check(errors.contains(&blacklisted), || {
                format!("verify gives {errors:?}, without CertificateBlacklisted")
            })
        },
    )
}

/// `Certificate::matches_host_name` decides as a handshake does: a leaf whose only name is
/// its common name matches nothing, and a handshake to that name fails with
/// `HostNameMismatch`; a leaf with the name as a DNS SAN matches, and the handshake succeeds.
fn host_name_rule_case() -> Case {
    Case::single(
        "certificate/host_name_rule_is_the_handshakes",
        Needs::feature(SupportedFeature::CertificateVerification),
        |b| {
            let pki = Pki::get();
            let client = || configure(crate::harness::client_config());
            for (identity, what) in [(&pki.cn_only, "CN only"), (&pki.server, "DNS SAN")] {
                let method = identity.leaf().matches_host_name("localhost");
                let result = handshake(b, client(), b, configure(server_config(identity)));
                let handshake_accepts = match &result.client {
                    Ok(_) => true,
                    Err(Error::Verification(errors)) => {
                        let kinds: Vec<SslErrorKind> = errors.iter().map(|e| e.kind()).collect();
                        check(kinds == [SslErrorKind::HostNameMismatch], || {
                            format!("{what}: errors {kinds:?}, expected HostNameMismatch")
                        })?;
                        false
                    }
                    Err(other) => return Err(format!("{what}: {other}")),
                };
                check(method == handshake_accepts, || {
                    format!(
                        "{what}: matches_host_name says {method}, the handshake {}",
                        if handshake_accepts {
                            "accepts"
                        } else {
                            "refuses"
                        }
                    )
                })?;
                check(method == (what == "DNS SAN"), || {
                    format!("{what}: matches_host_name says {method}")
                })?;
            }
            Ok(())
        },
    )
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        corpus_case(),
        malformed_case(),
        fuzz_case(),
        pkcs12_case("default_ciphers", &[]),
        pkcs12_case(
            "legacy_3des",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
        pkcs12_errors_case(),
        blacklisted_case(),
        host_name_rule_case(),
    ]
}
