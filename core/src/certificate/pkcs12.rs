//! [`Pkcs12`]: what a PKCS#12 (`.p12`, `.pfx`) file holds,
//! [`Certificate::import_pkcs12`], which reads one through a backend (Qt's
//! `QSslCertificate::importPkcs12`), and [`pkcs12_iteration_check`], which backends call
//! before their library sees a file.

use crate::der::{self, Reader, Tlv, INTEGER, OCTET_STRING, OID, SEQUENCE};
use crate::key::encrypted::{scrypt_within_limits, MAX_PBKDF2_ITERATIONS, PBES2, PBKDF2, SCRYPT};
use crate::registry::Registry;
use crate::{Certificate, Error, Key};

/// The contents of a PKCS#12 file: a private key, its certificate, and the CA certificates
/// that came with them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs12 {
    /// The private key.
    pub key: Key,
    /// The certificate of that key.
    pub certificate: Certificate,
    /// The other certificates of the file (its CA chain), in file order.
    pub ca_certificates: Vec<Certificate>,
}

impl Pkcs12 {
    /// Bundles a key, its certificate and CA certificates (for backends building the result).
    pub fn new(key: Key, certificate: Certificate, ca_certificates: Vec<Certificate>) -> Pkcs12 {
        Pkcs12 {
            key,
            certificate,
            ca_certificates,
        }
    }
}

impl Certificate {
    /// Reads a PKCS#12 file protected by `passphrase` with `backend` (the active backend for
    /// `None`), which must implement the Certificate class and PKCS#12.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), polytls::Error> {
    /// use polytls::{Certificate, SslConfiguration};
    ///
    /// let bundle = Certificate::import_pkcs12(&std::fs::read("server.p12")?, b"secret", None)?;
    /// let mut config = SslConfiguration::default_configuration();
    /// config.local_certificate_chain = std::iter::once(bundle.certificate)
    ///     .chain(bundle.ca_certificates)
    ///     .collect();
    /// config.private_key = Some(bundle.key);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Fails with [`Error::WrongPassphrase`] when the passphrase does not open the file,
    /// [`Error::Certificate`] when the data is not a PKCS#12 file or holds no key and
    /// certificate, [`Error::Unsupported`] when the backend cannot read PKCS#12, and
    /// [`Error::UnknownBackend`] / [`Error::NoBackend`] when there is no such backend.
    pub fn import_pkcs12(
        data: &[u8],
        passphrase: &[u8],
        backend: Option<&str>,
    ) -> Result<Pkcs12, Error> {
        Registry::global()
            .backend(backend)?
            .import_pkcs12(data, passphrase)
    }
}

/// `[0]`, constructed: the explicit content of a `ContentInfo` or the value of a `SafeBag`.
const CONTEXT_0: u8 = 0xa0;
/// PKCS#7 `data` (1.2.840.113549.1.7.1).
const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// PKCS#7 `encryptedData` (1.2.840.113549.1.7.6).
const ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
/// `pkcs8ShroudedKeyBag` (1.2.840.113549.1.12.10.1.2).
const SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
/// `safeContentsBag` (1.2.840.113549.1.12.10.1.6).
const SAFE_CONTENTS_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x06,
];
/// The arc of PKCS#12's own PBE schemes (1.2.840.113549.1.12.1.x).
const PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
/// The arc of the PKCS#5 schemes (1.2.840.113549.1.5.x).
const PKCS5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05];
/// The PKCS#5 v1.5 (PBES1) schemes under [`PKCS5`], whose parameters are a salt and a count.
const PBES1_ARCS: [u8; 6] = [1, 3, 4, 6, 10, 11];
/// PBMAC1 (1.2.840.113549.1.5.14), the PBKDF2-based integrity MAC of RFC 9579.
const PBMAC1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e];
/// How deeply `safeContentsBag`s may nest.
const MAX_NESTING: usize = 8;

/// Refuses a PKCS#12 file whose key derivations would cost more than polytls spends on one:
/// the integrity MAC's iteration count (and PBMAC1's PBKDF2), and the parameters of every
/// encryption it can see before decrypting anything: PKCS#12 and PKCS#5 v1.5 PBE schemes
/// (their iteration count), PBES2 with PBKDF2 (its iteration count) or scrypt (its memory and
/// work). The limits are those [`Key`] applies to encrypted keys: at most 10,000,000
/// iterations, scrypt within 32 MiB. Backends call it before their library sees the file,
/// which would otherwise run any count the file names (2^31 iterations take minutes).
///
/// Bags inside an encrypted `encryptedData` cannot be seen before it is decrypted (with
/// parameters this check has bounded); other algorithms and content types are left to the
/// library.
///
/// Returns `Ok(())` when every count it found is within the limits. Fails with
/// [`Error::Certificate`] naming the count and the limit when one is not (or is zero or
/// negative), and with [`Error::Certificate`] when the data is not a DER-encoded PKCS#12
/// structure (a BER encoding, for example, cannot be checked and is refused). Never panics.
pub fn pkcs12_iteration_check(data: &[u8]) -> Result<(), Error> {
    let (pfx, _) = der::tlv(data)
        .filter(|(pfx, _)| pfx.tag == SEQUENCE)
        .ok_or_else(not_der)?;
    let mut r = Reader::new(pfx.contents);
    r.expect(INTEGER).ok_or_else(not_der)?;
    let auth_safe = r.expect(SEQUENCE).ok_or_else(not_der)?;
    if let Some(mac_data) = r.optional(SEQUENCE) {
        check_mac(mac_data)?;
    }
    let (content_type, content) = content_info(auth_safe)?;
    if content_type != DATA {
        // Public-key integrity (signedData): the library decides.
        return Ok(());
    }
    let safes = octets(content)?;
    let safes = der::single(safes, SEQUENCE).ok_or_else(not_der)?;
    let mut safes = Reader::new(safes.contents);
    while !safes.is_empty() {
        let info = safes.expect(SEQUENCE).ok_or_else(not_der)?;
        let (content_type, content) = content_info(info)?;
        if content_type == DATA {
            let bags = der::single(octets(content)?, SEQUENCE).ok_or_else(not_der)?;
            check_bags(bags, 0)?;
        } else if content_type == ENCRYPTED_DATA {
            check_encrypted_data(content)?;
        }
    }
    Ok(())
}

/// The error for data this check cannot read.
fn not_der() -> Error {
    Error::Certificate(
        "not a DER-encoded PKCS#12 file: its key derivation counts cannot be checked".into(),
    )
}

/// A `ContentInfo`'s type and its explicit content (`[0]`), if any.
fn content_info(info: Tlv<'_>) -> Result<(&[u8], Option<Tlv<'_>>), Error> {
    let mut r = Reader::new(info.contents);
    let content_type = r.expect(OID).ok_or_else(not_der)?;
    Ok((content_type.contents, r.optional(CONTEXT_0)))
}

/// The OCTET STRING inside a `data` content.
fn octets<'a>(content: Option<Tlv<'a>>) -> Result<&'a [u8], Error> {
    let content = content.ok_or_else(not_der)?;
    Ok(der::single(content.contents, OCTET_STRING)
        .ok_or_else(not_der)?
        .contents)
}

/// Checks each bag of a `SafeContents`.
fn check_bags(bags: Tlv<'_>, depth: usize) -> Result<(), Error> {
    if depth > MAX_NESTING {
        return Err(Error::Certificate(format!(
            "PKCS#12 bags nested more than {MAX_NESTING} deep"
        )));
    }
    let mut r = Reader::new(bags.contents);
    while !r.is_empty() {
        let bag = r.expect(SEQUENCE).ok_or_else(not_der)?;
        let mut fields = Reader::new(bag.contents);
        let bag_type = fields.expect(OID).ok_or_else(not_der)?.contents;
        let value = fields.expect(CONTEXT_0).ok_or_else(not_der)?;
        if bag_type == SHROUDED_KEY_BAG {
            // EncryptedPrivateKeyInfo: the encryption algorithm, then the ciphertext.
            let info = der::single(value.contents, SEQUENCE).ok_or_else(not_der)?;
            let algorithm = Reader::new(info.contents)
                .expect(SEQUENCE)
                .ok_or_else(not_der)?;
            check_encryption(algorithm, "key")?;
        } else if bag_type == SAFE_CONTENTS_BAG {
            let inner = der::single(value.contents, SEQUENCE).ok_or_else(not_der)?;
            check_bags(inner, depth + 1)?;
        }
    }
    Ok(())
}

/// Checks the encryption of an `encryptedData` content (`EncryptedData`: a version, then the
/// `EncryptedContentInfo`: content type, algorithm, ciphertext).
fn check_encrypted_data(content: Option<Tlv<'_>>) -> Result<(), Error> {
    let content = content.ok_or_else(not_der)?;
    let data = der::single(content.contents, SEQUENCE).ok_or_else(not_der)?;
    let mut r = Reader::new(data.contents);
    r.expect(INTEGER).ok_or_else(not_der)?;
    let info = r.expect(SEQUENCE).ok_or_else(not_der)?;
    let mut info = Reader::new(info.contents);
    info.expect(OID).ok_or_else(not_der)?;
    let algorithm = info.expect(SEQUENCE).ok_or_else(not_der)?;
    check_encryption(algorithm, "certificate bag")
}

/// Checks `MacData`: the `DigestInfo` (whose algorithm may be PBMAC1), the salt, and the
/// iteration count (1 when absent).
fn check_mac(mac_data: Tlv<'_>) -> Result<(), Error> {
    let mut r = Reader::new(mac_data.contents);
    let digest_info = r.expect(SEQUENCE).ok_or_else(not_der)?;
    r.expect(OCTET_STRING).ok_or_else(not_der)?;
    if let Some(count) = r.optional(INTEGER) {
        check_count(count, "MAC")?;
    }
    let algorithm = Reader::new(digest_info.contents)
        .expect(SEQUENCE)
        .ok_or_else(not_der)?;
    let (oid, params) = algorithm_parts(algorithm)?;
    if oid == PBMAC1 {
        // PBMAC1-params: the key derivation, then the MAC scheme.
        let params = params.filter(|p| p.tag == SEQUENCE).ok_or_else(not_der)?;
        let kdf = Reader::new(params.contents)
            .expect(SEQUENCE)
            .ok_or_else(not_der)?;
        check_kdf(kdf, "MAC")?;
    }
    Ok(())
}

/// An `AlgorithmIdentifier`'s OID (contents) and parameters.
fn algorithm_parts(algorithm: Tlv<'_>) -> Result<(&[u8], Option<Tlv<'_>>), Error> {
    let mut r = Reader::new(algorithm.contents);
    let oid = r.expect(OID).ok_or_else(not_der)?;
    Ok((oid.contents, r.next()))
}

/// Checks an encryption `AlgorithmIdentifier` of `what`.
fn check_encryption(algorithm: Tlv<'_>, what: &str) -> Result<(), Error> {
    let (oid, params) = algorithm_parts(algorithm)?;
    let pbe = oid
        .strip_prefix(PKCS12_PBE)
        .is_some_and(|arc| arc.len() == 1)
        || oid
            .strip_prefix(PKCS5)
            .is_some_and(|arc| matches!(arc, [n] if PBES1_ARCS.contains(n)));
    if pbe {
        // pkcs-12PbeParams and PBEParameter alike: a salt, then the iteration count.
        let params = params.filter(|p| p.tag == SEQUENCE).ok_or_else(not_der)?;
        let mut p = Reader::new(params.contents);
        p.expect(OCTET_STRING).ok_or_else(not_der)?;
        return check_count(p.expect(INTEGER).ok_or_else(not_der)?, what);
    }
    if oid == PBES2 {
        // PBES2-params: the key derivation, then the encryption scheme.
        let params = params.filter(|p| p.tag == SEQUENCE).ok_or_else(not_der)?;
        let kdf = Reader::new(params.contents)
            .expect(SEQUENCE)
            .ok_or_else(not_der)?;
        return check_kdf(kdf, what);
    }
    Ok(())
}

/// Checks a PBKDF2 or scrypt `AlgorithmIdentifier` of `what`.
fn check_kdf(kdf: Tlv<'_>, what: &str) -> Result<(), Error> {
    let (oid, params) = algorithm_parts(kdf)?;
    let params = || params.filter(|p| p.tag == SEQUENCE).ok_or_else(not_der);
    if oid == PBKDF2 {
        // PBKDF2-params: the salt (an OCTET STRING or an AlgorithmIdentifier), the count...
        let mut p = Reader::new(params()?.contents);
        p.next().ok_or_else(not_der)?;
        return check_count(p.expect(INTEGER).ok_or_else(not_der)?, what);
    }
    if oid == SCRYPT {
        // scrypt-params: salt, N, r, p, keyLength OPTIONAL.
        let mut p = Reader::new(params()?.contents);
        p.expect(OCTET_STRING).ok_or_else(not_der)?;
        let mut next = || {
            p.expect(INTEGER)
                .ok_or_else(not_der)
                .map(|i| unsigned(i.contents).unwrap_or(0))
        };
        let (n, r, parallel) = (next()?, next()?, next()?);
        if n == 0 || r == 0 || parallel == 0 || !scrypt_within_limits(n, r, parallel) {
            return Err(Error::Certificate(format!(
                "PKCS#12 {what} encryption asks for scrypt with N={n}, r={r}, p={parallel}: \
                 outside polytls' limit of 32 MiB"
            )));
        }
    }
    Ok(())
}

/// Checks an iteration count of `what` against [`MAX_PBKDF2_ITERATIONS`].
fn check_count(count: Tlv<'_>, what: &str) -> Result<(), Error> {
    match unsigned(count.contents) {
        Some(n) if (1..=u64::from(MAX_PBKDF2_ITERATIONS)).contains(&n) => Ok(()),
        found => Err(Error::Certificate(format!(
            "PKCS#12 {what} iteration count {} is outside polytls' limit of \
             1..={MAX_PBKDF2_ITERATIONS}",
            found.map_or_else(|| "(negative or empty)".to_owned(), |n| n.to_string())
        ))),
    }
}

/// The value of a non-negative INTEGER's contents, saturating at `u64::MAX`; `None` when it is
/// empty or negative.
fn unsigned(contents: &[u8]) -> Option<u64> {
    if contents.first()? & 0x80 != 0 {
        return None;
    }
    let significant: Vec<u8> = contents.iter().copied().skip_while(|&b| b == 0).collect();
    if significant.len() > 8 {
        return Some(u64::MAX);
    }
    Some(
        significant
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::element;

    const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// pbeWithSHAAnd3-KeyTripleDES-CBC.
    const PBE_3DES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03];
    const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];

    fn el(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        element(tag, parts).to_vec()
    }

    fn int(n: u64) -> Vec<u8> {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
        let mut contents = bytes[skip..].to_vec();
        if contents[0] & 0x80 != 0 {
            contents.insert(0, 0);
        }
        el(INTEGER, &[&contents])
    }

    fn oid(arcs: &[u8]) -> Vec<u8> {
        el(OID, &[arcs])
    }

    fn salt() -> Vec<u8> {
        el(OCTET_STRING, &[&[7u8; 8]])
    }

    fn pkcs12_pbe(count: u64) -> Vec<u8> {
        el(
            SEQUENCE,
            &[&oid(PBE_3DES), &el(SEQUENCE, &[&salt(), &int(count)])],
        )
    }

    fn pbes2(kdf: &[u8]) -> Vec<u8> {
        let cipher = el(
            SEQUENCE,
            &[&oid(AES256_CBC), &el(OCTET_STRING, &[&[0u8; 16]])],
        );
        el(SEQUENCE, &[&oid(PBES2), &el(SEQUENCE, &[kdf, &cipher])])
    }

    fn pbkdf2(count: u64) -> Vec<u8> {
        el(
            SEQUENCE,
            &[&oid(PBKDF2), &el(SEQUENCE, &[&salt(), &int(count)])],
        )
    }

    fn scrypt(n: u64, r: u64, p: u64) -> Vec<u8> {
        let params = el(SEQUENCE, &[&salt(), &int(n), &int(r), &int(p)]);
        el(SEQUENCE, &[&oid(SCRYPT), &params])
    }

    fn shrouded_bag(algorithm: &[u8]) -> Vec<u8> {
        let info = el(SEQUENCE, &[algorithm, &el(OCTET_STRING, &[&[0u8; 32]])]);
        el(
            SEQUENCE,
            &[&oid(SHROUDED_KEY_BAG), &el(CONTEXT_0, &[&info])],
        )
    }

    fn data(bags: &[&[u8]]) -> Vec<u8> {
        let contents = el(SEQUENCE, bags);
        let octets = el(OCTET_STRING, &[&contents]);
        el(SEQUENCE, &[&oid(DATA), &el(CONTEXT_0, &[&octets])])
    }

    fn encrypted_data(algorithm: &[u8]) -> Vec<u8> {
        let info = el(SEQUENCE, &[&oid(DATA), algorithm, &el(0x80, &[&[0u8; 32]])]);
        let data = el(SEQUENCE, &[&int(0), &info]);
        el(SEQUENCE, &[&oid(ENCRYPTED_DATA), &el(CONTEXT_0, &[&data])])
    }

    /// A PFX with `safes` as its authenticated safe and a MAC of `mac_count` iterations.
    fn pfx(safes: &[&[u8]], mac_count: Option<u64>) -> Vec<u8> {
        let auth_safe = el(SEQUENCE, safes);
        let octets = el(OCTET_STRING, &[&auth_safe]);
        let auth_safe = el(SEQUENCE, &[&oid(DATA), &el(CONTEXT_0, &[&octets])]);
        let digest = el(
            SEQUENCE,
            &[
                &el(SEQUENCE, &[&oid(SHA256)]),
                &el(OCTET_STRING, &[&[0u8; 32]]),
            ],
        );
        let mut mac = vec![digest, salt()];
        mac.extend(mac_count.map(int));
        let mac: Vec<&[u8]> = mac.iter().map(Vec::as_slice).collect();
        el(SEQUENCE, &[&int(3), &auth_safe, &el(SEQUENCE, &mac)])
    }

    fn refused(data: &[u8], needle: &str) {
        match pkcs12_iteration_check(data) {
            Err(Error::Certificate(message)) => {
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("expected a refusal naming {needle:?}, got {other:?}"),
        }
    }

    fn usual() -> Vec<u8> {
        let key = shrouded_bag(&pbes2(&pbkdf2(2048)));
        pfx(
            &[&encrypted_data(&pbes2(&pbkdf2(2048))), &data(&[&key])],
            Some(2048),
        )
    }

    #[test]
    fn usual_counts_pass() {
        assert!(pkcs12_iteration_check(&usual()).is_ok());
        let key = shrouded_bag(&pkcs12_pbe(10_000_000));
        let legacy = pfx(&[&encrypted_data(&pkcs12_pbe(2048)), &data(&[&key])], None);
        assert!(pkcs12_iteration_check(&legacy).is_ok());
        let key = shrouded_bag(&pbes2(&scrypt(1 << 14, 8, 1)));
        assert!(pkcs12_iteration_check(&pfx(&[&data(&[&key])], Some(1))).is_ok());
    }

    #[test]
    fn costly_macs_are_refused() {
        refused(
            &pfx(&[&data(&[])], Some(20_000_000)),
            "MAC iteration count 20000000",
        );
        refused(&pfx(&[&data(&[])], Some((1 << 31) - 1)), "1..=10000000");
        refused(&pfx(&[&data(&[])], Some(0)), "MAC iteration count 0");
        refused(&pfx(&[&data(&[])], Some(u64::MAX)), "MAC");
    }

    #[test]
    fn costly_encryptions_are_refused() {
        let key = shrouded_bag(&pkcs12_pbe(20_000_000));
        refused(
            &pfx(&[&data(&[&key])], Some(2048)),
            "key iteration count 20000000",
        );
        let key = shrouded_bag(&pbes2(&pbkdf2(1 << 31)));
        refused(
            &pfx(&[&data(&[&key])], Some(2048)),
            "key iteration count 2147483648",
        );
        let key = shrouded_bag(&pbes2(&scrypt(1 << 20, 8, 1)));
        refused(&pfx(&[&data(&[&key])], Some(2048)), "scrypt with N=1048576");
        let certs = encrypted_data(&pbes2(&pbkdf2(20_000_000)));
        refused(
            &pfx(&[&certs], Some(2048)),
            "certificate bag iteration count",
        );
        let nested = el(
            SEQUENCE,
            &[
                &oid(SAFE_CONTENTS_BAG),
                &el(CONTEXT_0, &[&el(SEQUENCE, &[&key])]),
            ],
        );
        refused(&pfx(&[&data(&[&nested])], Some(2048)), "scrypt");
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let good = usual();
        for len in 0..good.len() {
            let _ = pkcs12_iteration_check(&good[..len]);
        }
        for at in 0..good.len() {
            for bit in 0..8 {
                let mut damaged = good.clone();
                damaged[at] ^= 1 << bit;
                let _ = pkcs12_iteration_check(&damaged);
            }
        }
        refused(b"not pkcs12", "not a DER-encoded PKCS#12 file");
        // BER's indefinite length cannot be checked.
        refused(&[0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00], "DER");
    }
}
