//! The Key class: a backend that reads and writes keys with its own code must read every layout
//! and algorithm as polytls does (same key bytes, algorithm and length), must read what polytls
//! encrypts and write what polytls decrypts, must report a missing or wrong passphrase as such,
//! and must survive damaged keys.

use polytls::{EncodingFormat, Error, ImplementedClass, Key, KeyAlgorithm, KeyType, TlsBackend};
use std::sync::Arc;

use crate::case::{Case, Needs};
use crate::harness::{check, mutate, Rng, TempDir};

fn needs() -> Needs {
    Needs {
        classes: vec![ImplementedClass::Key],
        ..Needs::default()
    }
}

fn backend(name: &str) -> Result<Arc<dyn TlsBackend>, String> {
    polytls::Registry::global()
        .backend(Some(name))
        .map_err(|e| e.to_string())
}

/// Generated private keys (PKCS#8), with their algorithm and length.
fn generated() -> Vec<(&'static str, Key, KeyAlgorithm, u32)> {
    let algorithms: [(&str, &'static rcgen::SignatureAlgorithm, KeyAlgorithm, u32); 4] = [
        (
            "p256",
            &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::Ec,
            256,
        ),
        (
            "p384",
            &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlgorithm::Ec,
            384,
        ),
        ("ed25519", &rcgen::PKCS_ED25519, KeyAlgorithm::Ed25519, 256),
        ("rsa2048", &rcgen::PKCS_RSA_SHA256, KeyAlgorithm::Rsa, 2048),
    ];
    algorithms
        .into_iter()
        .map(|(name, alg, algorithm, bits)| {
            let pair = rcgen::KeyPair::generate_for(alg).expect("rcgen generates this key");
            let der = match algorithm {
                KeyAlgorithm::Ed25519 => ed25519_v1(&pair.serialize_der()),
                _ => pair.serialize_der(),
            };
            let key = Key::from_der(&der, KeyType::PrivateKey).expect("rcgen writes PKCS#8");
            (name, key, algorithm, bits)
        })
        .collect()
}

/// The PKCS#8 version 1 form (RFC 8410: no public key) of an Ed25519 key that rcgen writes as
/// version 2 (RFC 5958, with the public key): the layout every library reads.
fn ed25519_v1(v2: &[u8]) -> Vec<u8> {
    const SEED: [u8; 4] = [0x04, 0x22, 0x04, 0x20];
    let start = v2
        .windows(SEED.len())
        .position(|w| w == SEED)
        .map(|i| i + SEED.len())
        .expect("an Ed25519 PKCS#8 key holds its seed");
    let mut v1 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v1.extend_from_slice(&v2[start..start + 32]);
    v1
}

fn ed25519_version_2() -> Case {
    Case::single("key/ed25519_pkcs8_version_2", needs(), |b| {
        // RFC 5958's version 2 adds the public key. polytls reads it; OpenSSL 3.0 does not
        // (it refuses the trailing field), newer releases may: the backend must read it as
        // polytls does or refuse it with Error::Key, never read something else.
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
        let v2 = pair.serialize_der();
        let ours = Key::from_der(&v2, KeyType::PrivateKey).map_err(|e| e.to_string())?;
        check(ours.algorithm() == KeyAlgorithm::Ed25519, || {
            format!("polytls reads {:?}", ours.algorithm())
        })?;
        match backend(b)?.read_key(&v2, EncodingFormat::Der, KeyType::PrivateKey, None) {
            Ok(found) => check(
                found.to_pkcs8_der().ok() == ours.to_pkcs8_der().ok()
                    || found.to_der() == ed25519_v1(&v2).as_slice(),
                || "the backend reads another key".into(),
            ),
            Err(Error::Key(_)) => Ok(()),
            Err(other) => Err(format!("expected the key or Error::Key, got {other}")),
        }
    })
}

/// Compares a key the backend produced with the one polytls holds.
fn same(what: &str, found: &Key, wanted: &Key) -> Result<(), String> {
    check(found == wanted, || {
        format!(
            "{what}: backend gives {:?} ({:?} bits), polytls {:?} ({:?} bits){}",
            found,
            found.bits(),
            wanted,
            wanted.bits(),
            if found.to_der() == wanted.to_der() {
                ""
            } else {
                ", bytes differ"
            }
        )
    })
}

fn round_trips() -> Case {
    Case::single("key/generated_round_trips", needs(), |b| {
        let backend = backend(b)?;
        for (name, key, algorithm, bits) in generated() {
            check(
                key.algorithm() == algorithm && key.bits() == Some(bits),
                || {
                    format!(
                        "{name}: polytls reads {:?} {:?} bits",
                        key.algorithm(),
                        key.bits()
                    )
                },
            )?;
            let read = |data: &[u8], format| {
                backend
                    .read_key(data, format, KeyType::PrivateKey, None)
                    .map_err(|e| format!("{name}: {e}"))
            };
            same(
                name,
                &read(key.to_pem().as_bytes(), EncodingFormat::Pem)?,
                &key,
            )?;
            same(name, &read(key.to_der(), EncodingFormat::Der)?, &key)?;
            for format in [EncodingFormat::Pem, EncodingFormat::Der] {
                let written = backend
                    .write_key(&key, format, None)
                    .map_err(|e| format!("{name}: {e}"))?;
                let back = Key::from_data(&written, format, KeyType::PrivateKey).map_err(|e| {
                    format!("{name}: polytls cannot read the backend's {format:?}: {e}")
                })?;
                same(name, &back, &key)?;
            }
        }
        Ok(())
    })
}

fn public_keys() -> Case {
    Case::single("key/public_keys", needs(), |b| {
        let backend = backend(b)?;
        let pki = crate::pki::Pki::get();
        for cert in [pki.root.clone(), pki.server.leaf().clone()] {
            let public = cert.public_key().map_err(|e| e.to_string())?;
            let found = backend
                .read_key(
                    public.to_der(),
                    EncodingFormat::Der,
                    KeyType::PublicKey,
                    None,
                )
                .map_err(|e| e.to_string())?;
            same("public key", &found, &public)?;
            let pem = backend
                .write_key(&public, EncodingFormat::Pem, None)
                .map_err(|e| e.to_string())?;
            let back = Key::from_pem(&pem, KeyType::PublicKey).map_err(|e| e.to_string())?;
            same("public key written", &back, &public)?;
            match backend.write_key(&public, EncodingFormat::Pem, Some(b"pw")) {
                Err(Error::InvalidInput(_)) => {}
                other => return Err(format!("encrypting a public key: {other:?}")),
            }
        }
        Ok(())
    })
}

fn encryption_both_ways() -> Case {
    Case::single("key/encrypted_both_ways", needs(), |b| {
        let backend = backend(b)?;
        let pass = b"s3cret passphrase";
        for (name, key, _, _) in generated() {
            for format in [EncodingFormat::Pem, EncodingFormat::Der] {
                // The backend encrypts, polytls decrypts.
                let encrypted = backend
                    .write_key(&key, format, Some(pass))
                    .map_err(|e| format!("{name}: {e}"))?;
                let decrypted =
                    Key::from_data_with_passphrase(&encrypted, format, KeyType::PrivateKey, pass)
                        .map_err(|e| format!("{name}: polytls cannot decrypt: {e}"))?;
                same(name, &decrypted, &key)?;
                // polytls encrypts, the backend decrypts.
                let ours = match format {
                    EncodingFormat::Pem => {
                        key.to_pem_encrypted(pass).map(|p| p.as_bytes().to_vec())
                    }
                    EncodingFormat::Der => key.to_der_encrypted(pass).map(|d| d.to_vec()),
                }
                .map_err(|e| format!("{name}: {e}"))?;
                let found = backend
                    .read_key(&ours, format, KeyType::PrivateKey, Some(pass))
                    .map_err(|e| format!("{name}: backend cannot decrypt polytls' key: {e}"))?;
                same(name, &found, &key)?;
                // A missing or wrong passphrase is reported as such by both.
                for (given, what) in [(None, "missing"), (Some(&b"wrong"[..]), "wrong")] {
                    let result = backend.read_key(&ours, format, KeyType::PrivateKey, given);
                    let ok = matches!(
                        (given, &result),
                        (None, Err(Error::PassphraseRequired))
                            | (Some(_), Err(Error::WrongPassphrase))
                    );
                    check(ok, || {
                        format!("{name} {format:?}, {what} passphrase: backend gives {result:?}")
                    })?;
                }
            }
        }
        Ok(())
    })
}

/// Runs `openssl` with `args` in `dir`, failing with its error output.
fn openssl(dir: &TempDir, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    check(out.status.success(), || {
        format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Keys in every layout the `openssl` program writes: (file, algorithm, bits, passphrase).
const LAYOUTS: &[(&str, KeyAlgorithm, u32, Option<&str>)] = &[
    ("rsa_pkcs1.pem", KeyAlgorithm::Rsa, 2048, None),
    ("rsa_pkcs8.der", KeyAlgorithm::Rsa, 2048, None),
    (
        "rsa_legacy_aes.pem",
        KeyAlgorithm::Rsa,
        2048,
        Some("pw-legacy"),
    ),
    (
        "rsa_legacy_3des.pem",
        KeyAlgorithm::Rsa,
        2048,
        Some("pw-3des"),
    ),
    ("ec_sec1.pem", KeyAlgorithm::Ec, 521, None),
    ("ec_pkcs8_aes.pem", KeyAlgorithm::Ec, 521, Some("pw-aes")),
    ("dsa.pem", KeyAlgorithm::Dsa, 2048, None),
    ("dsa_traditional.pem", KeyAlgorithm::Dsa, 2048, None),
    ("dh.pem", KeyAlgorithm::Dh, 2048, None),
];

/// Files of [`LAYOUTS`] that hold the same key in two layouts: equal keys, as in Qt.
const SAME_KEY: &[(&str, &str)] = &[
    ("rsa_pkcs1.pem", "rsa_pkcs8.der"),
    ("rsa_pkcs1.pem", "rsa_legacy_aes.pem"),
    ("ec_sec1.pem", "ec_pkcs8_aes.pem"),
    ("dsa.pem", "dsa_traditional.pem"),
];

fn openssl_layouts() -> Case {
    Case::single("key/openssl_layouts", needs().and_tool("openssl"), |b| {
        let backend = backend(b)?;
        let dir = TempDir::new()?;
        let steps: &[&[&str]] = &[
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "rsa.pem",
            ],
            &[
                "rsa",
                "-in",
                "rsa.pem",
                "-traditional",
                "-out",
                "rsa_pkcs1.pem",
            ],
            &[
                "pkey",
                "-in",
                "rsa.pem",
                "-outform",
                "DER",
                "-out",
                "rsa_pkcs8.der",
            ],
            &[
                "rsa",
                "-in",
                "rsa.pem",
                "-traditional",
                "-aes256",
                "-passout",
                "pass:pw-legacy",
                "-out",
                "rsa_legacy_aes.pem",
            ],
            &[
                "rsa",
                "-in",
                "rsa.pem",
                "-traditional",
                "-des3",
                "-passout",
                "pass:pw-3des",
                "-out",
                "rsa_legacy_3des.pem",
            ],
            &[
                "ecparam",
                "-name",
                "secp521r1",
                "-genkey",
                "-noout",
                "-out",
                "ec_sec1.pem",
            ],
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "ec_sec1.pem",
                "-v2",
                "aes-128-cbc",
                "-passout",
                "pass:pw-aes",
                "-out",
                "ec_pkcs8_aes.pem",
            ],
            &[
                "genpkey",
                "-genparam",
                "-algorithm",
                "DSA",
                "-pkeyopt",
                "dsa_paramgen_bits:2048",
                "-out",
                "dsa_params.pem",
            ],
            &["genpkey", "-paramfile", "dsa_params.pem", "-out", "dsa.pem"],
            &[
                "pkey",
                "-in",
                "dsa.pem",
                "-traditional",
                "-out",
                "dsa_traditional.pem",
            ],
            &[
                "genpkey",
                "-algorithm",
                "DH",
                "-pkeyopt",
                "group:ffdhe2048",
                "-out",
                "dh.pem",
            ],
        ];
        for step in steps {
            openssl(&dir, step)?;
        }
        let mut read = Vec::new();
        for (file, algorithm, bits, pass) in LAYOUTS {
            let data = std::fs::read(dir.path().join(file)).map_err(|e| e.to_string())?;
            let format = if file.ends_with(".der") {
                EncodingFormat::Der
            } else {
                EncodingFormat::Pem
            };
            let pass = pass.map(str::as_bytes);
            let ours = match pass {
                Some(p) => Key::from_data_with_passphrase(&data, format, KeyType::PrivateKey, p),
                None => Key::from_data(&data, format, KeyType::PrivateKey),
            }
            .map_err(|e| format!("{file}: polytls: {e}"))?;
            check(
                ours.algorithm() == *algorithm && ours.bits() == Some(*bits),
                || {
                    format!(
                        "{file}: polytls reads {:?} {:?} bits",
                        ours.algorithm(),
                        ours.bits()
                    )
                },
            )?;
            let found = backend
                .read_key(&data, format, KeyType::PrivateKey, pass)
                .map_err(|e| format!("{file}: backend: {e}"))?;
            same(file, &found, &ours)?;
            // Both keep the layout the file has.
            check(found.format() == ours.format(), || {
                format!(
                    "{file}: backend keeps {:?}, polytls {:?}",
                    found.format(),
                    ours.format()
                )
            })?;
            if pass.is_none() && format == EncodingFormat::Pem {
                check(ours.to_pem().as_bytes() == data.as_slice(), || {
                    format!("{file}: to_pem does not give the file back")
                })?;
            }
            read.push((*file, ours));
        }
        for (a, b) in SAME_KEY {
            let key = |name: &str| read.iter().find(|(f, _)| *f == name).map(|(_, k)| k);
            check(key(a).is_some() && key(a) == key(b), || {
                format!("{a} and {b} hold the same key but compare unequal")
            })?;
        }
        Ok(())
    })
}

/// The PBES1 and PKCS#12 schemes `openssl pkcs8 -v1` writes, and whether the cipher is in
/// OpenSSL's legacy provider.
const V1_SCHEMES: &[(&str, bool)] = &[
    ("PBE-SHA1-3DES", false),
    ("PBE-SHA1-2DES", false),
    ("PBE-SHA1-RC2-128", true),
    ("PBE-SHA1-RC2-40", true),
    ("PBE-SHA1-RC4-128", true),
    ("PBE-SHA1-RC4-40", true),
    ("PBE-MD5-DES", true),
    ("PBE-SHA1-DES", true),
    ("PBE-MD5-RC2-64", true),
    ("PBE-SHA1-RC2-64", true),
];

fn v1_schemes() -> Case {
    Case::single(
        "key/pbes1_and_pkcs12_schemes",
        needs().and_tool("openssl"),
        |b| {
            // polytls decrypts every scheme (Qt does, through OpenSSL); the backend gives the
            // same key, or says that the cipher is unavailable to it: never that a right
            // passphrase is wrong.
            let backend = backend(b)?;
            let dir = TempDir::new()?;
            openssl(
                &dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "plain.pem",
                ],
            )?;
            let plain = std::fs::read(dir.path().join("plain.pem")).map_err(|e| e.to_string())?;
            let plain = Key::from_pem(&plain, KeyType::PrivateKey).map_err(|e| e.to_string())?;
            let mut unwritable = Vec::new();
            for &(scheme, legacy) in V1_SCHEMES {
                let file = format!("{scheme}.pem");
                let mut args = vec![
                    "pkcs8",
                    "-topk8",
                    "-in",
                    "plain.pem",
                    "-v1",
                    scheme,
                    "-passout",
                    "pass:pw",
                    "-out",
                    &file,
                ];
                if legacy {
                    args.extend(["-provider", "legacy", "-provider", "default"]);
                }
                if let Err(e) = openssl(&dir, &args) {
                    if legacy {
                        unwritable.push(scheme);
                        continue;
                    }
                    return Err(e);
                }
                let data = std::fs::read(dir.path().join(&file)).map_err(|e| e.to_string())?;
                let ours = Key::from_data_with_passphrase(
                    &data,
                    EncodingFormat::Pem,
                    KeyType::PrivateKey,
                    b"pw",
                )
                .map_err(|e| format!("{scheme}: polytls: {e}"))?;
                same(scheme, &ours, &plain)?;
                match backend.read_key(&data, EncodingFormat::Pem, KeyType::PrivateKey, Some(b"pw"))
                {
                    Ok(found) => same(scheme, &found, &plain)?,
                    Err(Error::UnavailableCipher { .. }) if legacy => {}
                    Err(e) => return Err(format!("{scheme}: backend: {e:?}")),
                }
                match backend.read_key(
                    &data,
                    EncodingFormat::Pem,
                    KeyType::PrivateKey,
                    Some(b"nope"),
                ) {
                    Err(Error::WrongPassphrase | Error::UnavailableCipher { .. }) => {}
                    other => return Err(format!("{scheme}, wrong passphrase: backend: {other:?}")),
                }
            }
            if !unwritable.is_empty() {
                eprintln!("SKIPPED: openssl cannot write {unwritable:?} here (no legacy provider)");
            }
            Ok(())
        },
    )
}

/// A key's bytes, their encoding, and the passphrase that opens them.
type Damageable<'a> = (Vec<u8>, EncodingFormat, Option<&'a [u8]>);

fn damaged_keys() -> Case {
    Case::single("key/damaged_keys", needs(), |b| {
        // Damaged plain and encrypted keys, as DER and PEM: errors, never a panic or a hang.
        // Nearly every damaged encrypted key is an error. (Not all: CBC has no integrity, so
        // damage confined to a private scalar's bytes decrypts to another valid key.)
        let backend = backend(b)?;
        let mut rng = Rng::new(0x6b65_7973);
        let pass: &[u8] = b"pw";
        let mut inputs: Vec<Damageable<'_>> = Vec::new();
        for (_, key, _, _) in generated() {
            inputs.push((key.to_der().to_vec(), EncodingFormat::Der, None));
            inputs.push((key.to_pem().as_bytes().to_vec(), EncodingFormat::Pem, None));
            let encrypted = key.to_pem_encrypted(pass).map_err(|e| e.to_string())?;
            let pem = encrypted.as_bytes().to_vec();
            inputs.push((pem, EncodingFormat::Pem, Some(pass)));
            let encrypted = key.to_der_encrypted(pass).map_err(|e| e.to_string())?;
            inputs.push((encrypted.to_vec(), EncodingFormat::Der, Some(pass)));
        }
        let (mut damaged_encrypted, mut refused) = (0usize, 0usize);
        for _ in 0..150 {
            for (input, format, pass) in &inputs {
                let damaged = mutate(input, &mut rng);
                let read = backend.read_key(&damaged, *format, KeyType::PrivateKey, *pass);
                let _ = backend.read_key(&damaged, *format, KeyType::PublicKey, None);
                if pass.is_some() && damaged != *input {
                    damaged_encrypted += 1;
                    refused += usize::from(read.is_err());
                }
            }
        }
        check(refused * 10 > damaged_encrypted * 9, || {
            format!("only {refused} of {damaged_encrypted} damaged encrypted keys refused")
        })
    })
}

fn damaged_keys_in_a_configuration() -> Case {
    Case::single("key/damaged_keys_reach_the_engine", Needs::socket(), |b| {
        // Every backend parses the local key when it builds a session (for rustls, aws-lc's
        // parser): damaged keys that polytls still accepts must give an error or a working
        // engine, never a panic.
        let pki = crate::pki::Pki::get();
        let mut rng = Rng::new(0x006b_6579_656e);
        let mut reached = 0usize;
        for (_, key, _, _) in generated() {
            for _ in 0..250 {
                let damaged = mutate(key.to_der(), &mut rng);
                let Ok(damaged) = Key::from_der(&damaged, KeyType::PrivateKey) else {
                    continue;
                };
                reached += 1;
                let (stream, _peer) = crate::harness::memory_pair(64 * 1024);
                let mut socket =
                    polytls::SslSocket::with_backend(stream, b).map_err(|e| e.to_string())?;
                let mut config = crate::harness::server_config(&pki.server);
                config.private_key = Some(damaged);
                socket.set_ssl_configuration(config);
                let _ = socket.start_server_encryption();
            }
        }
        check(reached > 50, || {
            format!("only {reached} damaged keys got past polytls' parser")
        })
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        round_trips(),
        public_keys(),
        encryption_both_ways(),
        openssl_layouts(),
        v1_schemes(),
        ed25519_version_2(),
        damaged_keys(),
        damaged_keys_in_a_configuration(),
    ]
}
