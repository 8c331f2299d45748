//! Tests of [`Key`]: every algorithm's facts in every layout, PKCS#8 conversion, passphrases,
//! and malformed input.
//!
//! Keys are made at test time: with rcgen where it can (RSA, EC, Ed25519), with the `openssl`
//! command for the rest and for the encrypted forms. Tests that need the command say so on
//! stderr and pass when it is not installed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::*;
use crate::der;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Whether the `openssl` command runs.
fn have_openssl() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The bytes of a hex string (even length, no separators).
pub(super) fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Returns from the test, loudly, when the `openssl` command is not installed.
macro_rules! require_openssl {
    () => {
        if !have_openssl() {
            eprintln!("SKIPPED: the openssl command is not installed");
            return;
        }
    };
}

/// Runs `openssl` with `args`, feeding it `input`; its stdout. Panics when it fails.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    try_openssl(args, input).unwrap_or_else(|e| panic!("openssl {}: {e}", args.join(" ")))
}

/// Runs `openssl` with `args`, feeding it `input`; its stdout, or its stderr when it fails.
fn try_openssl(args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A directory of its own for one test, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("polytls-key-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("scratch file");
        path.to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A result with the error as its debug text, to compare with `assert_eq!`.
trait Outcome {
    fn outcome(self) -> Result<Key, String>;
}

impl Outcome for Result<Key, Error> {
    fn outcome(self) -> Result<Key, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

fn private_pem(pem: &[u8]) -> Key {
    Key::from_pem(pem, KeyType::PrivateKey).expect("a private key")
}

fn public_pem(pem: &[u8]) -> Key {
    Key::from_pem(pem, KeyType::PublicKey).expect("a public key")
}

/// The size `openssl pkey -text` reports: the number before " bit" on its first line.
fn openssl_bits(pem: &[u8], public: bool) -> Option<u32> {
    let args: &[&str] = if public {
        &["pkey", "-pubin", "-text", "-noout"]
    } else {
        &["pkey", "-text", "-noout"]
    };
    let text = String::from_utf8(openssl(args, pem)).expect("text");
    let first = text.lines().next()?;
    let open = first.find('(')?;
    let digits: String = first[open + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A key made by the `openssl` command, as PKCS#8 PEM, with what it should read as.
struct Sample {
    name: &'static str,
    pem: Vec<u8>,
    algorithm: KeyAlgorithm,
    bits: Option<u32>,
    curve: Option<EllipticCurve>,
}

impl Sample {
    fn key(&self) -> Key {
        private_pem(&self.pem)
    }

    fn public_pem(&self) -> Vec<u8> {
        openssl(&["pkey", "-pubout"], &self.pem)
    }
}

/// One key of every kind, made once per test run (the caller checks for the command).
fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let genpkey = |args: &[&str]| {
            let mut all = vec!["genpkey"];
            all.extend_from_slice(args);
            openssl(&all, b"")
        };
        let scratch = Scratch::new("samples");
        let dsa_params = scratch.file(
            "dsa.param",
            &genpkey(&[
                "-genparam",
                "-algorithm",
                "DSA",
                "-pkeyopt",
                "dsa_paramgen_bits:1024",
            ]),
        );
        let dhx_params = scratch.file(
            "dhx.param",
            &genpkey(&["-genparam", "-algorithm", "DHX", "-pkeyopt", "dh_rfc5114:2"]),
        );
        let ec = |name, curve: &str, c| Sample {
            name,
            pem: genpkey(&[
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
            ]),
            algorithm: KeyAlgorithm::Ec,
            bits: Some(EllipticCurve::bits(c)),
            curve: Some(c),
        };
        let plain = |name, args: &[&str], algorithm, bits| Sample {
            name,
            pem: genpkey(args),
            algorithm,
            bits,
            curve: None,
        };
        vec![
            plain(
                "RSA",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                KeyAlgorithm::Rsa,
                Some(2048),
            ),
            plain(
                "RSA-PSS",
                &["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:1024"],
                KeyAlgorithm::Rsa,
                Some(1024),
            ),
            ec("EC P-256", "P-256", EllipticCurve::P256),
            ec("EC P-384", "P-384", EllipticCurve::P384),
            ec("EC P-521", "P-521", EllipticCurve::P521),
            plain(
                "Ed25519",
                &["-algorithm", "ED25519"],
                KeyAlgorithm::Ed25519,
                Some(256),
            ),
            plain(
                "DSA",
                &["-paramfile", &dsa_params],
                KeyAlgorithm::Dsa,
                Some(1024),
            ),
            plain(
                "DH (PKCS#3)",
                &["-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"],
                KeyAlgorithm::Dh,
                Some(2048),
            ),
            plain(
                "DH (X9.42)",
                &["-paramfile", &dhx_params],
                KeyAlgorithm::Dh,
                Some(2048),
            ),
            plain(
                "X25519",
                &["-algorithm", "X25519"],
                KeyAlgorithm::Opaque,
                None,
            ),
        ]
    })
}

fn sample(name: &str) -> &'static Sample {
    samples()
        .iter()
        .find(|s| s.name == name)
        .expect("a sample of that name")
}

/// The same key as OpenSSL's traditional PEM (`RSA PRIVATE KEY`, `EC PRIVATE KEY`,
/// `DSA PRIVATE KEY`).
fn traditional(sample: &Sample) -> Vec<u8> {
    openssl(&["pkey", "-traditional"], &sample.pem)
}

fn rcgen_pair(alg: &'static rcgen::SignatureAlgorithm) -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(alg).expect("rcgen generates the key")
}

/// OpenSSL's encrypted PEM, written here: EVP_BytesToKey, CBC, the two headers.
fn legacy_encrypt(label: &str, der: &[u8], passphrase: &[u8], cipher: &str) -> Vec<u8> {
    let cbc = block_cipher::CbcCipher::from_pem_name(cipher).expect("known cipher");
    let iv: Vec<u8> = (0..cbc.iv_len())
        .map(|i| u8::try_from(i * 37 % 251).expect("byte"))
        .collect();
    let key = legacy_pem::bytes_to_key(passphrase, &iv[..8], cbc.key_len());
    let mut buf = der.to_vec();
    buf.resize(der.len() + cbc.iv_len(), 0);
    let len = cbc
        .encrypt(&key, &iv, &mut buf, der.len())
        .expect("encrypts");
    buf.truncate(len);
    let body = ::pem::encode(&::pem::Pem::new(label, buf));
    let iv_hex: String = iv.iter().map(|b| format!("{b:02X}")).collect();
    let (begin, rest) = body.split_once('\n').expect("PEM lines");
    format!("{begin}\nProc-Type: 4,ENCRYPTED\nDEK-Info: {cipher},{iv_hex}\n\n{rest}").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// PEM text and passphrases of plain keys (tst_QSslKey::toPemOrDer, noPassphraseChecks)

/// RFC 8410's example Ed25519 private key (its section 10.3): 48 bytes of DER, so its base64
/// fills one line exactly.
const ED25519_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";

/// Its public key, as `openssl pkey -pubout` writes it.
const ED25519_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
";

/// A P-256 test key made once by `openssl genpkey` (PKCS#8): a body of three lines, the last
/// one short.
const EC_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjM4osV9bG+DM0Zqo
Cc3cltflX5/PgbcrpsjawFN0QqOhRANCAASzxBx0GhEttOrPKv0uIzWzLcfyC36a
LvlD06M7ZApNpdmJmUvEk6AvQ1+3TMIRTJ2v9AkaNcvWq1xfC/6c6NPS
-----END PRIVATE KEY-----
";

/// The same key as `openssl pkey -traditional` writes it (SEC 1).
const EC_SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIzOKLFfWxvgzNGaqAnN3JbX5V+fz4G3K6bI2sBTdEKjoAoGCCqGSM49
AwEHoUQDQgAEs8QcdBoRLbTqzyr9LiM1sy3H8gt+mi75Q9OjO2QKTaXZiZlLxJOg
L0Nft0zCEUydr/QJGjXL1qtcXwv+nOjT0g==
-----END EC PRIVATE KEY-----
";

/// Its public key, as `openssl pkey -pubout` writes it.
const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEs8QcdBoRLbTqzyr9LiM1sy3H8gt+
mi75Q9OjO2QKTaXZiZlLxJOgL0Nft0zCEUydr/QJGjXL1qtcXwv+nOjT0g==
-----END PUBLIC KEY-----
";

/// The fixed keys: text, type and the layout it reads as.
const FIXED_KEYS: [(&str, KeyType, KeyFormat); 5] = [
    (ED25519_PRIVATE_PEM, KeyType::PrivateKey, KeyFormat::Pkcs8),
    (ED25519_PUBLIC_PEM, KeyType::PublicKey, KeyFormat::Spki),
    (EC_PKCS8_PEM, KeyType::PrivateKey, KeyFormat::Pkcs8),
    (EC_SEC1_PEM, KeyType::PrivateKey, KeyFormat::Sec1),
    (EC_PUBLIC_PEM, KeyType::PublicKey, KeyFormat::Spki),
];

/// tst_QSslKey::toPemOrDer: `to_pem` writes back the text a key was read from, byte for byte
/// (as Qt compares it, with CRs removed): the label of its layout, 64-column lines, a final
/// newline; `to_der` gives back the DER. Checked on fixed keys, and on every key the `openssl`
/// command makes when it is installed.
#[test]
fn to_pem_gives_back_the_text_read() {
    for (text, key_type, format) in FIXED_KEYS {
        let key = Key::from_pem(text.as_bytes(), key_type).expect("a fixed key");
        assert_eq!(key.format(), format, "{text}");
        assert_eq!(&*key.to_pem(), text);
        let crlf = text.replace('\n', "\r\n");
        let again = Key::from_pem(crlf.as_bytes(), key_type).expect("CRLF text");
        assert_eq!(&*again.to_pem(), text);
        let der = key.to_der().to_vec();
        let from_der = Key::from_der(&der, key_type).expect("its DER");
        assert_eq!(from_der.to_der(), &der[..]);
        assert_eq!(&*from_der.to_pem(), text);
    }
    // The two layouts of the EC key are one key, each written in its own layout.
    assert_eq!(
        private_pem(EC_PKCS8_PEM.as_bytes()),
        private_pem(EC_SEC1_PEM.as_bytes())
    );
    require_openssl!();
    for sample in samples() {
        let name = sample.name;
        assert_eq!(sample.key().to_pem().as_bytes(), &sample.pem[..], "{name}");
        let public = sample.public_pem();
        assert_eq!(
            public_pem(&public).to_pem().as_bytes(),
            &public[..],
            "{name} public"
        );
        if matches!(
            sample.algorithm,
            KeyAlgorithm::Rsa | KeyAlgorithm::Ec | KeyAlgorithm::Dsa
        ) && name != "RSA-PSS"
        {
            let text = traditional(sample);
            assert_eq!(
                private_pem(&text).to_pem().as_bytes(),
                &text[..],
                "{name} traditional"
            );
        }
    }
}

/// tst_QSslKey::noPassphraseChecks: a key that is not encrypted reads the same with no
/// passphrase, an empty one and one given needlessly, as PEM and as DER, private and public.
#[test]
fn plain_keys_ignore_the_passphrase() {
    for (text, key_type, _) in FIXED_KEYS {
        let plain = Key::from_pem(text.as_bytes(), key_type).expect("a fixed key");
        let der = plain.to_der().to_vec();
        for passphrase in [&b""[..], b"xxx", b"WRONG!"] {
            let read = |data: &[u8], format| {
                Key::from_data_with_passphrase(data, format, key_type, passphrase)
            };
            assert_eq!(
                read(text.as_bytes(), EncodingFormat::Pem).outcome(),
                Ok(plain.clone())
            );
            assert_eq!(read(&der, EncodingFormat::Der).outcome(), Ok(plain.clone()));
            assert_eq!(
                Key::from_pem_with_passphrase(text.as_bytes(), key_type, passphrase).outcome(),
                Ok(plain.clone())
            );
            assert_eq!(
                Key::from_der_with_passphrase(&der, key_type, passphrase).outcome(),
                Ok(plain.clone())
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Algorithms, layouts, sizes

#[test]
fn garbage_is_an_error_not_a_panic() {
    for input in [
        &b""[..],
        b"\x30",
        b"\x30\x84\xff\xff\xff\xff",
        b"\x30\x03\x02\x01\x00",
    ] {
        assert!(Key::from_der(input, KeyType::PrivateKey).is_err());
        assert!(Key::from_der(input, KeyType::PublicKey).is_err());
    }
    assert!(Key::from_pem(
        b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n",
        KeyType::PrivateKey
    )
    .is_err());
}

#[test]
fn rcgen_keys_have_their_algorithm_curve_and_size() {
    let rsa = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("RSA key");
    let cases: [(
        rcgen::KeyPair,
        KeyAlgorithm,
        Option<u32>,
        Option<EllipticCurve>,
    ); 6] = [
        (rsa, KeyAlgorithm::Rsa, Some(2048), None),
        (
            rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyAlgorithm::Ec,
            Some(256),
            Some(EllipticCurve::P256),
        ),
        (
            rcgen_pair(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyAlgorithm::Ec,
            Some(384),
            Some(EllipticCurve::P384),
        ),
        (
            rcgen_pair(&rcgen::PKCS_ECDSA_P521_SHA512),
            KeyAlgorithm::Ec,
            Some(521),
            Some(EllipticCurve::P521),
        ),
        (
            rcgen_pair(&rcgen::PKCS_ED25519),
            KeyAlgorithm::Ed25519,
            Some(256),
            None,
        ),
        (
            rcgen_pair(&rcgen::PKCS_ML_DSA_44),
            KeyAlgorithm::Opaque,
            None,
            None,
        ),
    ];
    for (pair, algorithm, bits, curve) in cases {
        use rcgen::PublicKeyData;
        let private = Key::from_der(&pair.serialize_der(), KeyType::PrivateKey).expect("private");
        let public =
            Key::from_der(&pair.subject_public_key_info(), KeyType::PublicKey).expect("public");
        for (key, key_type, format) in [
            (&private, KeyType::PrivateKey, KeyFormat::Pkcs8),
            (&public, KeyType::PublicKey, KeyFormat::Spki),
        ] {
            let what = format!("{algorithm:?} {key_type:?}");
            assert_eq!(key.algorithm(), algorithm, "{what}");
            assert_eq!(key.key_type(), key_type, "{what}");
            assert_eq!(key.format(), format, "{what}");
            assert_eq!(key.bits(), bits, "{what}");
            assert_eq!(key.curve(), curve, "{what}");
            assert_eq!(
                Key::from_pem(key.to_pem().as_bytes(), key_type).outcome(),
                Ok(key.clone()),
                "{what}: PEM round trip"
            );
        }
    }
}

#[test]
fn every_algorithm_in_pem_and_der_private_and_public() {
    require_openssl!();
    for sample in samples() {
        let name = sample.name;
        let public_text = sample.public_pem();
        let private_der = openssl(
            &["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"],
            &sample.pem,
        );
        let public_der = openssl(&["pkey", "-pubout", "-outform", "DER"], &sample.pem);
        let private = sample.key();
        let public = public_pem(&public_text);
        assert_eq!(
            Key::from_der(&private_der, KeyType::PrivateKey).outcome(),
            Ok(private.clone()),
            "{name}: DER and PEM read alike"
        );
        assert_eq!(
            Key::from_der(&public_der, KeyType::PublicKey).outcome(),
            Ok(public.clone()),
            "{name}: public DER and PEM read alike"
        );
        for (key, key_type, format) in [
            (&private, KeyType::PrivateKey, KeyFormat::Pkcs8),
            (&public, KeyType::PublicKey, KeyFormat::Spki),
        ] {
            assert_eq!(key.algorithm(), sample.algorithm, "{name} {key_type:?}");
            assert_eq!(key.key_type(), key_type, "{name}");
            assert_eq!(key.format(), format, "{name} {key_type:?}");
            assert_eq!(key.bits(), sample.bits, "{name} {key_type:?}");
            assert_eq!(key.curve(), sample.curve, "{name} {key_type:?}");
        }
        assert!(private.to_der() == &private_der[..], "{name}: DER differs");
        assert!(
            public.to_der() == &public_der[..],
            "{name}: public DER differs"
        );
        // Where OpenSSL prints a size, it is ours.
        if matches!(
            sample.algorithm,
            KeyAlgorithm::Rsa | KeyAlgorithm::Ec | KeyAlgorithm::Dsa | KeyAlgorithm::Dh
        ) {
            assert_eq!(openssl_bits(&sample.pem, false), sample.bits, "{name}");
            assert_eq!(openssl_bits(&public_text, true), sample.bits, "{name}");
        }
        // A key of the other type is not found.
        assert!(matches!(
            Key::from_pem(&sample.pem, KeyType::PublicKey),
            Err(Error::Key(_))
        ));
        assert!(Key::from_der(&public_der, KeyType::PrivateKey).is_err());
    }
}

#[test]
fn traditional_layouts() {
    require_openssl!();
    // RSA: PKCS#1, private and public.
    let rsa = sample("RSA");
    let pkcs1 = private_pem(&traditional(rsa));
    assert!(String::from_utf8_lossy(&traditional(rsa)).contains("BEGIN RSA PRIVATE KEY"));
    assert_eq!(
        (pkcs1.format(), pkcs1.algorithm(), pkcs1.bits()),
        (KeyFormat::Pkcs1, KeyAlgorithm::Rsa, Some(2048))
    );
    let rsa_public = openssl(&["rsa", "-RSAPublicKey_out"], &rsa.pem);
    assert!(String::from_utf8_lossy(&rsa_public).contains("BEGIN RSA PUBLIC KEY"));
    assert_eq!(public_pem(&rsa_public), public_pem(&rsa.public_pem()));
    let rsa_public_der = openssl(&["rsa", "-RSAPublicKey_out", "-outform", "DER"], &rsa.pem);
    assert_eq!(
        Key::from_der(&rsa_public_der, KeyType::PublicKey).expect("RSAPublicKey DER"),
        public_pem(&rsa.public_pem())
    );
    // EC: SEC 1 with the curve.
    for name in ["EC P-256", "EC P-384", "EC P-521"] {
        let ec = sample(name);
        let sec1 = private_pem(&traditional(ec));
        assert_eq!(sec1.format(), KeyFormat::Sec1, "{name}");
        assert_eq!(sec1.algorithm(), KeyAlgorithm::Ec, "{name}");
        assert_eq!((sec1.curve(), sec1.bits()), (ec.curve, ec.bits), "{name}");
        let der = openssl(&["pkey", "-traditional", "-outform", "DER"], &ec.pem);
        assert_eq!(
            Key::from_der(&der, KeyType::PrivateKey).outcome(),
            Ok(sec1.clone()),
            "{name}"
        );
    }
    // DSA: OpenSSL's own layout, kept as it came, equal to the PKCS#8 form of the same key.
    let dsa = sample("DSA");
    let dsa_traditional = traditional(dsa);
    assert!(String::from_utf8_lossy(&dsa_traditional).contains("BEGIN DSA PRIVATE KEY"));
    let key = private_pem(&dsa_traditional);
    assert_eq!(key, dsa.key());
    assert_eq!((key.format(), key.bits()), (KeyFormat::Dsa, Some(1024)));
    assert!(key.to_pkcs8_der().expect("PKCS#8")[..] == *dsa.key().to_der());
    let der = openssl(&["pkey", "-traditional", "-outform", "DER"], &dsa.pem);
    assert_eq!(Key::from_der(&der, KeyType::PrivateKey).outcome(), Ok(key));
    // A label that promises another layout is refused.
    let mislabelled = String::from_utf8(traditional(rsa))
        .expect("PEM")
        .replace("RSA PRIVATE KEY", "EC PRIVATE KEY");
    assert!(matches!(
        Key::from_pem(mislabelled.as_bytes(), KeyType::PrivateKey),
        Err(Error::Key(_))
    ));
}

#[test]
fn to_pkcs8_der_matches_openssl_topk8() {
    require_openssl!();
    for name in ["RSA", "EC P-256", "EC P-384", "EC P-521"] {
        let sample = sample(name);
        let traditional = traditional(sample);
        let key = private_pem(&traditional);
        assert_ne!(key.format(), KeyFormat::Pkcs8, "{name}");
        let expected = openssl(
            &["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"],
            &traditional,
        );
        let pkcs8 = key.to_pkcs8_der().expect("converts");
        assert!(
            pkcs8[..] == expected[..],
            "{name}: not what openssl pkcs8 -topk8 writes"
        );
        let converted = Key::from_der(&pkcs8, KeyType::PrivateKey).expect("reads back");
        assert_eq!(converted.format(), KeyFormat::Pkcs8);
        assert_eq!(
            (converted.algorithm(), converted.bits(), converted.curve()),
            (key.algorithm(), key.bits(), key.curve())
        );
        // A PKCS#8 key stays as it is.
        assert!(sample.key().to_pkcs8_der().expect("PKCS#8")[..] == *sample.key().to_der());
    }
}

#[test]
fn to_pkcs8_der_refuses_public_keys_and_curveless_sec1() {
    let pair = rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let public = {
        use rcgen::PublicKeyData;
        Key::from_der(&pair.subject_public_key_info(), KeyType::PublicKey).expect("public")
    };
    assert!(matches!(public.to_pkcs8_der(), Err(Error::InvalidInput(_))));
    assert!(matches!(
        public.to_pem_encrypted(b"secret"),
        Err(Error::InvalidInput(_))
    ));
    // SEQUENCE { INTEGER 1, OCTET STRING (32 bytes) }: SEC 1 without parameters.
    let mut sec1 = vec![0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20];
    sec1.extend_from_slice(&[0x5a; 32]);
    let key = Key::from_der(&sec1, KeyType::PrivateKey).expect("SEC 1");
    assert_eq!(key.format(), KeyFormat::Sec1);
    assert_eq!((key.curve(), key.bits()), (None, None));
    assert!(matches!(key.to_pkcs8_der(), Err(Error::Key(_))));
}

#[test]
fn equality_is_algorithm_type_layout_and_bytes() {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    let hash = |key: &Key| {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    };
    let der = rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256).serialize_der();
    let a = Key::from_der(&der, KeyType::PrivateKey).expect("key");
    let b = Key::from_pem(a.to_pem().as_bytes(), KeyType::PrivateKey).expect("key");
    assert_eq!(a, b);
    assert_eq!(hash(&a), hash(&b));
    let other = Key::from_der(
        &rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256).serialize_der(),
        KeyType::PrivateKey,
    )
    .expect("key");
    assert_ne!(a, other);
    // The debug form shows facts, never bytes.
    let debug = format!("{a:?}");
    assert!(debug.contains("Ec") && debug.contains("256"), "{debug}");
    let hex: String = der[der.len() - 8..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!debug.to_lowercase().contains(&hex));
}

/// Keys compare by what they are, as Qt's do (algorithm, type, size, canonical encoding):
/// the same key read from its traditional file and from PKCS#8 is one key, and hashes alike.
#[test]
fn equality_sees_through_the_layout() {
    require_openssl!();
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    let hash = |key: &Key| {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    };
    for name in ["RSA", "EC P-256", "EC P-384", "EC P-521", "DSA"] {
        let sample = sample(name);
        let file = traditional(sample);
        let old = private_pem(&file);
        let pkcs8 = sample.key();
        assert_ne!(old.format(), KeyFormat::Pkcs8, "{name}");
        assert_eq!(old, pkcs8, "{name}: same key, two layouts");
        assert_eq!(hash(&old), hash(&pkcs8), "{name}");
        // The layout is kept for output: the file comes back as it was.
        assert_eq!(old.to_pem().as_bytes(), &file[..], "{name}");
        let der = openssl(&["pkey", "-traditional", "-outform", "DER"], &sample.pem);
        assert!(old.to_der() == &der[..], "{name}: DER layout kept");
        // Another key of the same kind is another key.
        let other = private_pem(&openssl(&["pkey", "-traditional"], &sample_again(name)));
        assert_ne!(old, other, "{name}");
        // A private key is not its public key.
        let public = public_pem(&sample.public_pem());
        assert_ne!(old.key_type(), public.key_type());
        assert_ne!(old, public, "{name}");
    }
    // An EC key written without its public point, or with the curve only inside, is still the
    // same key.
    let ec = sample("EC P-256");
    let no_public = openssl(&["ec", "-no_public", "-outform", "DER"], &ec.pem);
    assert_eq!(
        Key::from_der(&no_public, KeyType::PrivateKey).outcome(),
        Ok(ec.key())
    );
}

/// A fresh key of the kind `name` names (not the cached sample).
fn sample_again(name: &str) -> Vec<u8> {
    let args: &[&str] = match name {
        "RSA" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "EC P-256" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "EC P-384" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "EC P-521" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        _ => {
            // DSA: new parameters, a new key.
            let scratch = Scratch::new("dsa-again");
            let params = openssl(
                &[
                    "genpkey",
                    "-genparam",
                    "-algorithm",
                    "DSA",
                    "-pkeyopt",
                    "dsa_paramgen_bits:1024",
                ],
                b"",
            );
            let params = scratch.file("params.pem", &params);
            return openssl(&["genpkey", "-paramfile", &params], b"");
        }
    };
    let mut all = vec!["genpkey"];
    all.extend_from_slice(args);
    openssl(&all, b"")
}

/// A traditional RSA or EC key written encrypted (always PKCS#8) reads back as the same key.
#[test]
fn encrypted_round_trip_of_traditional_keys() {
    require_openssl!();
    for name in ["RSA", "EC P-256", "EC P-384", "EC P-521", "DSA"] {
        let key = private_pem(&traditional(sample(name)));
        let pem = key.to_pem_encrypted(PASS).expect("encrypts");
        let back = Key::from_pem_with_passphrase(pem.as_bytes(), KeyType::PrivateKey, PASS)
            .expect("decrypts");
        assert_eq!(back.format(), KeyFormat::Pkcs8, "{name}");
        assert_eq!(back, key, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Passphrases

const PASS: &[u8] = b"correct horse";

#[test]
fn encrypted_pkcs8_from_openssl_decrypts_to_the_plain_key() {
    require_openssl!();
    let pass = format!("pass:{}", std::str::from_utf8(PASS).expect("ASCII"));
    let schemes: &[&[&str]] = &[
        &["-v2", "aes-256-cbc"],
        &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
        &["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512"],
        &[
            "-v2",
            "aes-256-cbc",
            "-v2prf",
            "hmacWithSHA384",
            "-iter",
            "1000",
        ],
        &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA224"],
        &["-v2", "des3"],
        &["-v2", "aes-256-cbc", "-scrypt", "-scrypt_N", "1024"],
    ];
    for name in ["RSA", "EC P-384", "Ed25519", "DSA", "DH (X9.42)"] {
        let plain = sample(name).key();
        for scheme in schemes {
            let what = format!("{name} {}", scheme.join(" "));
            for (outform, encoding) in [("PEM", EncodingFormat::Pem), ("DER", EncodingFormat::Der)]
            {
                let mut args = vec!["pkcs8", "-topk8", "-passout", &pass, "-outform", outform];
                args.extend_from_slice(scheme);
                let encrypted = openssl(&args, &sample(name).pem);
                let key =
                    Key::from_data_with_passphrase(&encrypted, encoding, KeyType::PrivateKey, PASS);
                assert_eq!(key.outcome(), Ok(plain.clone()), "{what} {outform}");
                assert_eq!(
                    Key::from_data_with_passphrase(
                        &encrypted,
                        encoding,
                        KeyType::PrivateKey,
                        b"wrong horse"
                    )
                    .outcome()
                    .err(),
                    Some("WrongPassphrase".to_owned()),
                    "{what} {outform}"
                );
                for missing in [
                    Key::from_data(&encrypted, encoding, KeyType::PrivateKey),
                    Key::from_data_with_passphrase(&encrypted, encoding, KeyType::PrivateKey, b""),
                ] {
                    assert_eq!(
                        missing.outcome().err(),
                        Some("PassphraseRequired".to_owned()),
                        "{what}"
                    );
                }
            }
        }
    }
}

#[test]
fn encrypted_pkcs8_with_des_cbc_when_openssl_has_the_legacy_provider() {
    require_openssl!();
    let plain = sample("EC P-256").key();
    let encrypted = try_openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "des-cbc",
            "-passout",
            "pass:secret",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &sample("EC P-256").pem,
    );
    match encrypted {
        Ok(pem) => assert_eq!(
            Key::from_pem_with_passphrase(&pem, KeyType::PrivateKey, b"secret").outcome(),
            Ok(plain)
        ),
        Err(e) => eprintln!("SKIPPED: openssl cannot write DES-CBC keys here: {e}"),
    }
}

#[test]
fn legacy_encrypted_pem_from_openssl_decrypts_to_the_plain_key() {
    require_openssl!();
    let pass = format!("pass:{}", std::str::from_utf8(PASS).expect("ASCII"));
    for name in ["RSA", "EC P-256", "EC P-521", "DSA"] {
        let sample = sample(name);
        let plain = private_pem(&traditional(sample));
        for cipher in ["-aes128", "-aes192", "-aes256", "-des3"] {
            let what = format!("{name} {cipher}");
            let encrypted = openssl(
                &["pkey", "-traditional", cipher, "-passout", &pass],
                &sample.pem,
            );
            let text = String::from_utf8_lossy(&encrypted);
            assert!(text.contains("Proc-Type: 4,ENCRYPTED"), "{what}: {text}");
            assert_eq!(
                Key::from_pem_with_passphrase(&encrypted, KeyType::PrivateKey, PASS).outcome(),
                Ok(plain.clone()),
                "{what}"
            );
            assert_eq!(
                Key::from_pem_with_passphrase(&encrypted, KeyType::PrivateKey, b"wrong")
                    .outcome()
                    .err(),
                Some("WrongPassphrase".to_owned()),
                "{what}"
            );
            assert_eq!(
                Key::from_pem(&encrypted, KeyType::PrivateKey)
                    .outcome()
                    .err(),
                Some("PassphraseRequired".to_owned()),
                "{what}"
            );
        }
    }
    // `openssl rsa -aes128` writes the same kind of block.
    let encrypted = openssl(
        &["rsa", "-traditional", "-aes128", "-passout", &pass],
        &sample("RSA").pem,
    );
    assert_eq!(
        Key::from_pem_with_passphrase(&encrypted, KeyType::PrivateKey, PASS).outcome(),
        Ok(private_pem(&traditional(sample("RSA"))))
    );
}

#[test]
fn legacy_encrypted_pem_written_here_decrypts() {
    let der = rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256).serialize_der();
    let plain = Key::from_der(&der, KeyType::PrivateKey).expect("key");
    for cipher in [
        "AES-128-CBC",
        "AES-192-CBC",
        "AES-256-CBC",
        "DES-EDE3-CBC",
        "DES-CBC",
    ] {
        let pem = legacy_encrypt("PRIVATE KEY", &der, PASS, cipher);
        assert_eq!(
            Key::from_pem_with_passphrase(&pem, KeyType::PrivateKey, PASS).outcome(),
            Ok(plain.clone()),
            "{cipher}"
        );
        assert_eq!(
            Key::from_pem_with_passphrase(&pem, KeyType::PrivateKey, b"nope")
                .outcome()
                .err(),
            Some("WrongPassphrase".to_owned()),
            "{cipher}"
        );
    }
    let unsupported = String::from_utf8(legacy_encrypt("PRIVATE KEY", &der, PASS, "AES-128-CBC"))
        .expect("PEM")
        .replace("AES-128-CBC", "BF-CBC");
    match Key::from_pem_with_passphrase(unsupported.as_bytes(), KeyType::PrivateKey, PASS) {
        Err(Error::Key(message)) => assert!(message.contains("BF-CBC"), "{message}"),
        other => panic!("expected an unsupported-cipher error, got {other:?}"),
    }
}

#[test]
fn encrypted_round_trip() {
    let scratch = Scratch::new("round-trip");
    let rsa = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("RSA key");
    for pair in [
        rsa,
        rcgen_pair(&rcgen::PKCS_ECDSA_P384_SHA384),
        rcgen_pair(&rcgen::PKCS_ED25519),
    ] {
        let key = Key::from_der(&pair.serialize_der(), KeyType::PrivateKey).expect("key");
        let pem = key.to_pem_encrypted(PASS).expect("encrypts");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END ENCRYPTED PRIVATE KEY-----\n"));
        assert!(!pem.contains('\r') && !key.to_pem().contains('\r'));
        assert_eq!(
            Key::from_pem_with_passphrase(pem.as_bytes(), KeyType::PrivateKey, PASS).outcome(),
            Ok(key.clone())
        );
        assert_eq!(
            Key::from_pem_with_passphrase(pem.as_bytes(), KeyType::PrivateKey, b"other")
                .outcome()
                .err(),
            Some("WrongPassphrase".to_owned())
        );
        assert_eq!(
            Key::from_pem(pem.as_bytes(), KeyType::PrivateKey)
                .outcome()
                .err(),
            Some("PassphraseRequired".to_owned())
        );
        let der = key.to_der_encrypted(PASS).expect("encrypts");
        assert_eq!(
            Key::from_der_with_passphrase(&der, KeyType::PrivateKey, PASS).outcome(),
            Ok(key.clone())
        );
        assert_eq!(
            Key::from_der(&der, KeyType::PrivateKey).outcome().err(),
            Some("PassphraseRequired".to_owned())
        );
        // Fresh salt and IV every time.
        assert_ne!(der, key.to_der_encrypted(PASS).expect("encrypts"));
        // From a file, both encodings.
        let pem_file = scratch.file("key.pem", pem.as_bytes());
        let der_file = scratch.file("key.der", &der);
        for (file, encoding) in [
            (pem_file, EncodingFormat::Pem),
            (der_file, EncodingFormat::Der),
        ] {
            assert_eq!(
                Key::from_file_with_passphrase(&file, encoding, KeyType::PrivateKey, PASS)
                    .outcome(),
                Ok(key.clone())
            );
            assert_eq!(
                Key::from_file(&file, encoding, KeyType::PrivateKey)
                    .outcome()
                    .err(),
                Some("PassphraseRequired".to_owned())
            );
        }
        assert!(matches!(
            key.to_der_encrypted(b""),
            Err(Error::InvalidInput(_))
        ));
    }
    assert!(matches!(
        Key::from_file_with_passphrase(
            scratch.0.join("missing"),
            EncodingFormat::Pem,
            KeyType::PrivateKey,
            PASS
        ),
        Err(Error::Io(_))
    ));
}

#[test]
fn openssl_reads_our_encrypted_keys() {
    require_openssl!();
    for (name, traditional_form) in [
        ("RSA", true),
        ("EC P-256", true),
        ("EC P-521", true),
        ("Ed25519", false),
        ("DSA", false),
        ("DH (PKCS#3)", false),
    ] {
        let key = if traditional_form {
            private_pem(&traditional(sample(name)))
        } else {
            sample(name).key()
        };
        let expected = key.to_pkcs8_der().expect("PKCS#8");
        let pem = key.to_pem_encrypted(PASS).expect("encrypts");
        let pass = "pass:correct horse";
        for (input, inform) in [
            (pem.as_bytes().to_vec(), "PEM"),
            (
                key.to_der_encrypted(PASS).expect("encrypts").to_vec(),
                "DER",
            ),
        ] {
            let decrypted = openssl(&["pkey", "-inform", inform, "-passin", pass], &input);
            assert!(
                String::from_utf8_lossy(&decrypted).starts_with("-----BEGIN PRIVATE KEY-----"),
                "{name} {inform}"
            );
            assert!(
                private_pem(&decrypted).to_der() == &expected[..],
                "{name} {inform}: OpenSSL decrypts another key"
            );
        }
        // OpenSSL's defaults: PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC.
        let dump = String::from_utf8(openssl(&["asn1parse"], pem.as_bytes())).expect("text");
        for part in [
            ":PBES2",
            ":PBKDF2",
            ":hmacWithSHA256",
            ":aes-256-cbc",
            ":0800",
        ] {
            assert!(dump.contains(part), "{name}: no {part} in\n{dump}");
        }
        assert!(try_openssl(&["pkey", "-passin", "pass:wrong"], pem.as_bytes()).is_err());
    }
}

/// The PBES1 and PKCS#12 schemes `openssl pkcs8 -v1` writes, and whether the cipher needs
/// OpenSSL's legacy provider (DES, RC2, RC4 do; two- and three-key triple DES do not).
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

/// Keys encrypted with PBES1 (PKCS#5 v1.5) and the PKCS#12 schemes load with the right
/// passphrase, as in Qt, and only with it.
#[test]
fn pbes1_and_pkcs12_schemes_decrypt() {
    require_openssl!();
    let mut skipped = Vec::new();
    for sample in [sample("EC P-256"), sample("RSA")] {
        let plain = sample.key();
        for &(scheme, legacy) in V1_SCHEMES {
            let mut args = vec!["pkcs8", "-topk8", "-v1", scheme, "-passout", "pass:s3cret"];
            if legacy {
                args.extend(["-provider", "legacy", "-provider", "default"]);
            }
            let pem = match try_openssl(&args, &sample.pem) {
                Ok(pem) => pem,
                Err(e) if legacy => {
                    skipped.push(format!("{scheme}: {}", e.lines().next().unwrap_or("")));
                    continue;
                }
                Err(e) => panic!("openssl {scheme}: {e}"),
            };
            let what = format!("{} {scheme}", sample.name);
            assert_eq!(
                Key::from_pem_with_passphrase(&pem, KeyType::PrivateKey, b"s3cret").outcome(),
                Ok(plain.clone()),
                "{what}"
            );
            let der = ::pem::parse(&pem).expect("PEM").into_contents();
            assert_eq!(
                Key::from_der_with_passphrase(&der, KeyType::PrivateKey, b"s3cret").outcome(),
                Ok(plain.clone()),
                "{what} (DER)"
            );
            assert_eq!(
                Key::from_pem_with_passphrase(&pem, KeyType::PrivateKey, b"wrong")
                    .outcome()
                    .err(),
                Some("WrongPassphrase".to_owned()),
                "{what}"
            );
            assert_eq!(
                Key::from_pem(&pem, KeyType::PrivateKey).outcome().err(),
                Some("PassphraseRequired".to_owned()),
                "{what}"
            );
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "SKIPPED: openssl cannot write these schemes here (no legacy provider): {skipped:?}"
        );
    }
}

/// The schemes this library cannot decrypt are named, with the reason, as their own error:
/// the PBES1 schemes over MD2, which OpenSSL 3 cannot read either.
#[test]
fn md2_schemes_are_named_as_unavailable() {
    // EncryptedPrivateKeyInfo { pbeWithMD2AndDES-CBC { salt, 2048 }, OCTET STRING (16) }.
    let params = der::element(
        der::SEQUENCE,
        &[
            &der::element(der::OCTET_STRING, &[&[0x11; 8]]),
            &[der::INTEGER, 0x02, 0x08, 0x00],
        ],
    );
    let oid = der::element(
        der::OID,
        &[&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x01]],
    );
    let scheme = der::element(der::SEQUENCE, &[&oid, &params]);
    let data = der::element(
        der::SEQUENCE,
        &[&scheme, &der::element(der::OCTET_STRING, &[&[0x22; 16]])],
    );
    match Key::from_der_with_passphrase(&data, KeyType::PrivateKey, b"secret") {
        Err(Error::UnavailableCipher { cipher, reason }) => {
            assert!(cipher.contains("pbeWithMD2AndDES-CBC"), "{cipher}");
            assert!(reason.contains("MD2"), "{reason}");
        }
        other => panic!("expected UnavailableCipher, got {other:?}"),
    }
}

/// Rebuilds `encrypted` with `from` replaced by `to` in its DER (same length).
fn patched(encrypted: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = encrypted
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = encrypted.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn unsupported_ciphers_and_functions_are_named() {
    let key = Key::from_der(
        &rcgen_pair(&rcgen::PKCS_ECDSA_P256_SHA256).serialize_der(),
        KeyType::PrivateKey,
    )
    .expect("key");
    let der = key.to_der_encrypted(PASS).expect("encrypts");
    let aes256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
    let aes256_gcm = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e];
    let sha256 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
    let sha512_224 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0c];
    let pbkdf2 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
    let other_kdf = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e];
    let pbes2 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
    let pbes1 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0a];
    for (from, to, named) in [
        (&aes256[..], &aes256_gcm[..], "2.16.840.1.101.3.4.1.46"),
        (&sha256[..], &sha512_224[..], "1.2.840.113549.2.12"),
        (&pbkdf2[..], &other_kdf[..], "1.2.840.113549.1.5.14"),
        (&pbes2[..], &pbes1[..], "pbeWithSHA1AndDES-CBC"),
    ] {
        let input = patched(&der, from, to);
        for passphrase in [PASS, b""] {
            match Key::from_der_with_passphrase(&input, KeyType::PrivateKey, passphrase) {
                Err(Error::Key(message)) => assert!(message.contains(named), "{message}"),
                other => panic!("expected {named} to be named, got {other:?}"),
            }
        }
    }
}

#[test]
fn costly_parameters_are_refused() {
    use pkcs5::der::Encode;
    let salt = [7u8; 16];
    let iv = [9u8; 16];
    let encode = |params: pkcs5::pbes2::Parameters<'_>| {
        let mut buf = [0u8; 256];
        let scheme = pkcs5::EncryptionScheme::Pbes2(params)
            .encode_to_slice(&mut buf)
            .expect("encodes")
            .to_vec();
        der::element(
            der::SEQUENCE,
            &[&scheme, &der::element(der::OCTET_STRING, &[&[0u8; 32]])],
        )
    };
    let many_rounds = encode(
        pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(50_000_000, &salt, &iv).expect("params"),
    );
    let much_memory = encode(
        pkcs5::pbes2::Parameters::scrypt_aes256cbc(
            scrypt::Params::new(20, 8, 1, 32).expect("scrypt params"),
            &salt,
            &iv,
        )
        .expect("params"),
    );
    for input in [many_rounds, much_memory] {
        let started = std::time::Instant::now();
        let result = Key::from_der_with_passphrase(&input, KeyType::PrivateKey, PASS);
        assert!(matches!(result, Err(Error::Key(_))), "{result:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}

// ---------------------------------------------------------------------------------------------
// Mutated input

/// xorshift64*: a small, fixed-seed generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).expect("fits")).expect("fits")
    }
}

/// A bit flip, a truncation, an insertion, a deletion or an overwritten byte, one to three
/// times.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        if out.is_empty() {
            out.push(0x30);
        }
        let at = rng.below(out.len());
        match rng.below(6) {
            0 | 1 => out[at] ^= 1 << rng.below(8),
            2 => out.truncate(at),
            3 => {
                let byte = [0x00, 0x30, 0x80, 0x81, 0x82, 0xff][rng.below(6)];
                out.insert(at, byte);
            }
            4 => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at..end);
            }
            _ => out[at] = [0x00, 0x01, 0x7f, 0x80, 0x84, 0xff][rng.below(6)],
        }
    }
    out
}

/// Everything a key offers, with the invariants that must hold for any key read.
fn exercise(key: &Key) {
    let _ = (key.algorithm(), key.bits(), key.curve(), format!("{key:?}"));
    let reread = Key::from_der(key.to_der(), key.key_type()).expect("own DER reads back");
    assert_eq!(&reread, key);
    let pem = key.to_pem();
    assert_eq!(
        Key::from_pem(pem.as_bytes(), key.key_type()).outcome(),
        Ok(key.clone())
    );
    if key.key_type() == KeyType::PrivateKey {
        if let Ok(pkcs8) = key.to_pkcs8_der() {
            let converted = Key::from_der(&pkcs8, KeyType::PrivateKey).expect("PKCS#8 reads");
            assert_eq!(
                (converted.algorithm(), converted.bits(), converted.curve()),
                (key.algorithm(), key.bits(), key.curve())
            );
            let encrypted = key.encrypt(PASS, 1).expect("encrypts");
            assert_eq!(
                Key::from_der_with_passphrase(&encrypted, KeyType::PrivateKey, PASS).outcome(),
                Ok(converted)
            );
        }
    }
}

/// Every constructor on `input`, as DER and as PEM text, with and without the passphrase.
fn every_constructor(input: &[u8]) -> usize {
    let mut read = 0;
    for key_type in [KeyType::PrivateKey, KeyType::PublicKey] {
        for passphrase in [PASS, b"wrong", b""] {
            for encoding in [EncodingFormat::Der, EncodingFormat::Pem] {
                if let Ok(key) =
                    Key::from_data_with_passphrase(input, encoding, key_type, passphrase)
                {
                    exercise(&key);
                    read += 1;
                }
            }
        }
        let _ = Key::from_der(input, key_type).map(|k| exercise(&k));
        let _ = Key::from_pem(input, key_type).map(|k| exercise(&k));
    }
    read
}

/// Encrypted PKCS#8 with cheap scrypt parameters (N = 16), to reach that code cheaply.
fn scrypt_encrypted(pkcs8: &[u8]) -> Vec<u8> {
    use pkcs5::der::Encode;
    let salt = [1u8; 8];
    let iv = [2u8; 16];
    let params = pkcs5::pbes2::Parameters::scrypt_aes128cbc(
        scrypt::Params::new(4, 1, 1, 32).expect("scrypt params"),
        &salt,
        &iv,
    )
    .expect("params");
    let mut key = [0u8; 16];
    scrypt::scrypt(
        PASS,
        &salt,
        &scrypt::Params::new(4, 1, 1, 32).expect("params"),
        &mut key,
    )
    .expect("derives");
    let mut buf = pkcs8.to_vec();
    buf.resize(pkcs8.len() + 16, 0);
    let len = block_cipher::CbcCipher::Aes128
        .encrypt(&key, &iv, &mut buf, pkcs8.len())
        .expect("encrypts");
    let mut scheme = [0u8; 256];
    let scheme = pkcs5::EncryptionScheme::Pbes2(params)
        .encode_to_slice(&mut scheme)
        .expect("encodes");
    der::element(
        der::SEQUENCE,
        &[scheme, &der::element(der::OCTET_STRING, &[&buf[..len]])],
    )
    .to_vec()
}

#[test]
fn mutated_keys_never_panic() {
    use rcgen::PublicKeyData;
    let rsa = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("RSA key");
    let ec = rcgen_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
    let ed = rcgen_pair(&rcgen::PKCS_ED25519);
    let mut der_inputs: Vec<Vec<u8>> = Vec::new();
    for pair in [&rsa, &ec, &ed] {
        der_inputs.push(pair.serialize_der());
        der_inputs.push(pair.subject_public_key_info());
    }
    // PKCS#1 and SEC 1: the insides of the PKCS#8 keys.
    for pair in [&rsa, &ec] {
        let pkcs8 = pair.serialize_der();
        let outer = der::single(&pkcs8, der::SEQUENCE).expect("PKCS#8");
        let mut r = der::Reader::new(outer.contents);
        r.next();
        r.next();
        der_inputs.push(r.expect(der::OCTET_STRING).expect("key").contents.to_vec());
    }
    if have_openssl() {
        for name in ["DSA", "DH (PKCS#3)", "DH (X9.42)", "EC P-256", "RSA-PSS"] {
            let sample = sample(name);
            der_inputs.push(sample.key().to_der().to_vec());
            der_inputs.push(public_pem(&sample.public_pem()).to_der().to_vec());
        }
        let dsa = private_pem(&traditional(sample("DSA")));
        der_inputs.push(openssl(
            &["pkey", "-traditional", "-outform", "DER"],
            &sample("DSA").pem,
        ));
        der_inputs.push(dsa.to_der().to_vec());
        // PBES1 and PKCS#12 encryption, one iteration so that tries stay cheap.
        for scheme in ["PBE-SHA1-3DES", "PBE-SHA1-2DES"] {
            der_inputs.push(openssl(
                &[
                    "pkcs8",
                    "-topk8",
                    "-v1",
                    scheme,
                    "-iter",
                    "1",
                    "-passout",
                    "pass:correct horse",
                    "-outform",
                    "DER",
                ],
                &sample("EC P-256").pem,
            ));
        }
    } else {
        eprintln!("openssl is not installed: no DSA or DH keys among the mutated inputs");
    }
    // Encrypted forms, cheap to try: one PBKDF2 round, scrypt with N = 16.
    let ec_key = Key::from_der(&ec.serialize_der(), KeyType::PrivateKey).expect("EC key");
    der_inputs.push(ec_key.encrypt(PASS, 1).expect("encrypts").to_vec());
    der_inputs.push(scrypt_encrypted(&ec.serialize_der()));
    let mut pem_inputs: Vec<Vec<u8>> = vec![
        legacy_encrypt("EC PRIVATE KEY", &der_inputs[7], PASS, "AES-128-CBC"),
        legacy_encrypt("RSA PRIVATE KEY", &der_inputs[6], PASS, "DES-EDE3-CBC"),
    ];
    let labels = [
        "PRIVATE KEY",
        "PUBLIC KEY",
        "ENCRYPTED PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "RSA PUBLIC KEY",
    ];
    for (i, der) in der_inputs.iter().enumerate() {
        pem_inputs.push(
            ::pem::encode(&::pem::Pem::new(labels[i % labels.len()], der.clone())).into_bytes(),
        );
    }
    // The unmutated inputs read.
    let read: usize = der_inputs.iter().map(|d| every_constructor(d)).sum();
    assert!(read >= der_inputs.len(), "only {read} of the inputs read");

    let started = std::time::Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut read = 0;
    let rounds = 6000;
    for round in 0..rounds {
        let der_pick = rng.below(der_inputs.len());
        let pem_pick = rng.below(pem_inputs.len());
        let input = match round % 3 {
            // Mutated DER.
            0 => mutate(&mut rng, &der_inputs[der_pick]),
            // Mutated DER in a PEM block, under any label, sometimes with legacy headers.
            1 => {
                let der = mutate(&mut rng, &der_inputs[der_pick]);
                let label = labels[rng.below(labels.len())];
                if rng.below(4) == 0 {
                    legacy_encrypt(
                        label,
                        &der,
                        PASS,
                        ["AES-256-CBC", "DES-EDE3-CBC"][rng.below(2)],
                    )
                } else {
                    ::pem::encode(&::pem::Pem::new(label, der)).into_bytes()
                }
            }
            // Mutated PEM text.
            _ => mutate(&mut rng, &pem_inputs[pem_pick]),
        };
        read += every_constructor(&input);
    }
    eprintln!(
        "{rounds} mutated inputs in {:?}, {read} read as keys",
        started.elapsed()
    );
}
