//! What each DER layout of a key holds, read without a backend.
//!
//! [`private`] and [`public`] recognise the layout (PKCS#8, PKCS#1, SEC 1 and OpenSSL's
//! traditional DSA layout for private keys; SubjectPublicKeyInfo and PKCS#1 `RSAPublicKey` for
//! public keys), check the structure the algorithm calls for, and read the algorithm, the curve
//! and the size in bits. Keys keep the layout they came in, except PKCS#1 `RSAPublicKey`, which
//! becomes SubjectPublicKeyInfo. [`to_pkcs8`] wraps PKCS#1, SEC 1 and traditional DSA keys in
//! PKCS#8 the way `openssl pkcs8 -topk8 -nocrypt` does, and [`canonical`] gives the encoding
//! keys are compared by.

use zeroize::Zeroizing;

use super::{EllipticCurve, KeyAlgorithm, KeyFormat};
use crate::der::{
    element, positive_integer_bits, single, tlv, Reader, Tlv, BIT_STRING, CONTEXT_0, CONTEXT_1,
    INTEGER, NULL, OCTET_STRING, OID, SEQUENCE,
};
use crate::Error;

/// The layout a key arrived in, before any conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey`.
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey`.
    Pkcs1,
    /// SEC 1 `ECPrivateKey`.
    Sec1,
    /// OpenSSL's `DSA PRIVATE KEY`: `SEQUENCE { version, p, q, g, y, x }`.
    DsaTraditional,
    /// X.509 `SubjectPublicKeyInfo`.
    Spki,
    /// PKCS#1 `RSAPublicKey`.
    RsaPublic,
}

/// A key taken apart: where it came from, what it is, and its DER in the layout kept.
pub(super) struct Decoded {
    pub(super) layout: Layout,
    pub(super) format: KeyFormat,
    pub(super) algorithm: KeyAlgorithm,
    pub(super) curve: Option<EllipticCurve>,
    pub(super) bits: Option<u32>,
    pub(super) der: Zeroizing<Vec<u8>>,
}

/// 1.2.840.113549.1.1.1 rsaEncryption
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.113549.1.1.10 RSASSA-PSS
const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
/// 1.2.840.10045.2.1 id-ecPublicKey
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10040.4.1 id-dsa
const ID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
/// 1.2.840.113549.1.3.1 dhKeyAgreement (PKCS#3)
const DH_KEY_AGREEMENT: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01];
/// 1.2.840.10046.2.1 dhpublicnumber (X9.42)
const DH_PUBLIC_NUMBER: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3e, 0x02, 0x01];
/// 1.3.101.112 id-Ed25519
const ID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// `INTEGER 0`: the version of a PKCS#8 `PrivateKeyInfo`.
const VERSION_0: &[u8] = &[INTEGER, 0x01, 0x00];
/// `NULL`: the parameters of rsaEncryption.
const NULL_PARAMS: &[u8] = &[NULL, 0x00];

/// Named curves: the OID's contents, the curve if [`EllipticCurve`] names it, its size in bits
/// (the size of the group order, as OpenSSL reports it).
const CURVES: &[(&[u8], Option<EllipticCurve>, u32)] = &[
    // 1.2.840.10045.3.1.7 prime256v1 / P-256
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        Some(EllipticCurve::P256),
        256,
    ),
    // 1.3.132.0.34 secp384r1 / P-384
    (
        &[0x2b, 0x81, 0x04, 0x00, 0x22],
        Some(EllipticCurve::P384),
        384,
    ),
    // 1.3.132.0.35 secp521r1 / P-521
    (
        &[0x2b, 0x81, 0x04, 0x00, 0x23],
        Some(EllipticCurve::P521),
        521,
    ),
    // 1.2.840.10045.3.1.1 prime192v1 / P-192
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01], None, 192),
    // 1.3.132.0.33 secp224r1 / P-224
    (&[0x2b, 0x81, 0x04, 0x00, 0x21], None, 224),
    // 1.3.132.0.10 secp256k1
    (&[0x2b, 0x81, 0x04, 0x00, 0x0a], None, 256),
    // 1.3.36.3.3.2.8.1.1.7 brainpoolP256r1
    (
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07],
        None,
        256,
    ),
    // 1.3.36.3.3.2.8.1.1.11 brainpoolP384r1
    (
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b],
        None,
        384,
    ),
    // 1.3.36.3.3.2.8.1.1.13 brainpoolP512r1
    (
        &[0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d],
        None,
        512,
    ),
];

fn algorithm_of_oid(oid: &[u8]) -> KeyAlgorithm {
    match oid {
        RSA_ENCRYPTION | RSASSA_PSS => KeyAlgorithm::Rsa,
        ID_EC_PUBLIC_KEY => KeyAlgorithm::Ec,
        ID_DSA => KeyAlgorithm::Dsa,
        DH_KEY_AGREEMENT | DH_PUBLIC_NUMBER => KeyAlgorithm::Dh,
        ID_ED25519 => KeyAlgorithm::Ed25519,
        _ => KeyAlgorithm::Opaque,
    }
}

/// The element `input` consists of, whatever its tag.
fn only(input: &[u8]) -> Option<Tlv<'_>> {
    let (element, rest) = tlv(input)?;
    rest.is_empty().then_some(element)
}

/// An `AlgorithmIdentifier`'s contents: the OID's contents and the parameters, if any.
fn algorithm_identifier(contents: &[u8]) -> Option<(&[u8], Option<Tlv<'_>>)> {
    let mut r = Reader::new(contents);
    let oid = r.expect(OID)?;
    let params = r.next();
    r.is_empty().then_some((oid.contents, params))
}

/// The curve and size named by SEC 1 `ECParameters`: a named curve, explicit parameters (size
/// of the order) or `implicitCA` (nothing said). `None` when malformed.
fn ec_parameters(params: Tlv<'_>) -> Option<(Option<EllipticCurve>, Option<u32>)> {
    match params.tag {
        OID => Some(
            CURVES
                .iter()
                .find(|(oid, _, _)| *oid == params.contents)
                .map_or((None, None), |&(_, curve, bits)| (curve, Some(bits))),
        ),
        SEQUENCE => {
            let mut r = Reader::new(params.contents);
            r.expect(INTEGER)?; // version
            r.expect(SEQUENCE)?; // fieldID
            r.expect(SEQUENCE)?; // curve
            r.expect(OCTET_STRING)?; // base
            let order = r.expect(INTEGER)?;
            Some((None, Some(positive_integer_bits(order.contents)?)))
        }
        NULL => Some((None, None)),
        _ => None,
    }
}

/// The size of `p`, the first of at least two INTEGERs in DSA's `Dss-Parms`, PKCS#3's
/// `DHParameter` or X9.42's `DomainParameters`.
fn p_bits(params: Tlv<'_>) -> Option<u32> {
    if params.tag != SEQUENCE {
        return None;
    }
    let mut r = Reader::new(params.contents);
    let p = r.expect(INTEGER)?;
    r.expect(INTEGER)?;
    positive_integer_bits(p.contents)
}

/// The modulus size of a DER `RSAPrivateKey`.
fn rsa_private_bits(der: &[u8]) -> Option<u32> {
    let key = single(der, SEQUENCE)?;
    let mut r = Reader::new(key.contents);
    r.expect(INTEGER)?; // version
    let modulus = r.expect(INTEGER)?;
    // publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient
    for _ in 0..7 {
        r.expect(INTEGER)?;
    }
    r.optional(SEQUENCE); // otherPrimeInfos
    if !r.is_empty() {
        return None;
    }
    positive_integer_bits(modulus.contents)
}

/// The modulus size of a DER `RSAPublicKey`.
fn rsa_public_bits(der: &[u8]) -> Option<u32> {
    let key = single(der, SEQUENCE)?;
    let mut r = Reader::new(key.contents);
    let modulus = r.expect(INTEGER)?;
    r.expect(INTEGER)?;
    if !r.is_empty() {
        return None;
    }
    positive_integer_bits(modulus.contents)
}

/// The parts of a SEC 1 `ECPrivateKey`, given the contents of its SEQUENCE.
struct Sec1<'a> {
    version: Tlv<'a>,
    private_key: Tlv<'a>,
    /// The `ECParameters` inside `[0]`.
    params: Option<Tlv<'a>>,
    /// The whole `[1]` element.
    public_key: Option<Tlv<'a>>,
}

fn sec1_parts(contents: &[u8]) -> Option<Sec1<'_>> {
    let mut r = Reader::new(contents);
    let version = r.expect(INTEGER)?;
    if version.contents != [1] {
        return None;
    }
    let private_key = r.expect(OCTET_STRING)?;
    let params = match r.optional(CONTEXT_0) {
        Some(wrapper) => Some(only(wrapper.contents)?),
        None => None,
    };
    let public_key = r.optional(CONTEXT_1);
    if let Some(public_key) = public_key {
        single(public_key.contents, BIT_STRING)?;
    }
    r.is_empty().then_some(Sec1 {
        version,
        private_key,
        params,
        public_key,
    })
}

/// Reads a private key in any layout this library knows.
///
/// Fails with [`Error::Key`] when the bytes are not one, or break the structure of their
/// algorithm.
pub(super) fn private(der: &[u8]) -> Result<Decoded, Error> {
    let outer =
        single(der, SEQUENCE).ok_or_else(|| Error::Key("malformed DER private key".into()))?;
    let mut r = Reader::new(outer.contents);
    let version = r
        .expect(INTEGER)
        .ok_or_else(|| Error::Key("malformed DER private key".into()))?;
    let (decoded, what) = match r.peek_tag() {
        Some(SEQUENCE) => (pkcs8(der, r), "PKCS#8 private key"),
        Some(INTEGER) => (pkcs1_or_dsa(der, r), "RSA or DSA private key"),
        Some(OCTET_STRING) if version.contents == [1] => {
            (sec1(der, outer.contents), "SEC 1 EC private key")
        }
        _ => (None, "DER private key"),
    };
    decoded.ok_or_else(|| Error::Key(format!("malformed {what}")))
}

fn pkcs8(der: &[u8], mut r: Reader<'_>) -> Option<Decoded> {
    let (oid, params) = algorithm_identifier(r.expect(SEQUENCE)?.contents)?;
    let private_key = r.expect(OCTET_STRING)?.contents;
    // Attributes ([0]) and, in PKCS#8 v2, the public key ([1]) may follow.
    let algorithm = algorithm_of_oid(oid);
    let (curve, bits) = match algorithm {
        KeyAlgorithm::Rsa => (None, Some(rsa_private_bits(private_key)?)),
        KeyAlgorithm::Ec => {
            let inner = sec1_parts(single(private_key, SEQUENCE)?.contents)?;
            match params.filter(|p| p.tag != NULL).or(inner.params) {
                Some(params) => ec_parameters(params)?,
                None => (None, None),
            }
        }
        KeyAlgorithm::Ed25519 => {
            let seed = single(private_key, OCTET_STRING)?;
            (seed.contents.len() == 32).then_some((None, Some(256)))?
        }
        KeyAlgorithm::Dsa | KeyAlgorithm::Dh => {
            single(private_key, INTEGER)?;
            (None, Some(p_bits(params?)?))
        }
        KeyAlgorithm::Opaque => (None, None),
    };
    Some(Decoded {
        layout: Layout::Pkcs8,
        format: KeyFormat::Pkcs8,
        algorithm,
        curve,
        bits,
        der: Zeroizing::new(der.to_vec()),
    })
}

/// The INTEGERs after the version of OpenSSL's traditional DSA layout: `p, q, g, y, x`.
/// `None` when `contents` (of the outer SEQUENCE, version included) is not one.
fn dsa_integers(contents: &[u8]) -> Option<[Tlv<'_>; 5]> {
    let mut r = Reader::new(contents);
    r.expect(INTEGER)?; // version
    let mut integers = Vec::with_capacity(5);
    while r.peek_tag() == Some(INTEGER) && integers.len() < 6 {
        integers.push(r.next()?);
    }
    if !r.is_empty() {
        return None;
    }
    integers.try_into().ok()
}

/// The PKCS#8 form of a traditional DSA key's parts.
fn dsa_to_pkcs8([p, q, g, _y, x]: &[Tlv<'_>; 5]) -> Zeroizing<Vec<u8>> {
    let oid = element(OID, &[ID_DSA]);
    let dss_parms = element(SEQUENCE, &[p.whole, q.whole, g.whole]);
    let algorithm_id = element(SEQUENCE, &[&oid, &dss_parms]);
    let private_key = element(OCTET_STRING, &[x.whole]);
    element(SEQUENCE, &[VERSION_0, &algorithm_id, &private_key])
}

/// PKCS#1 `RSAPrivateKey` (nine INTEGERs, maybe more primes) or OpenSSL's traditional DSA
/// layout (six INTEGERs), each kept as it is.
fn pkcs1_or_dsa(der: &[u8], r: Reader<'_>) -> Option<Decoded> {
    let mut count = 0;
    let mut probe = r;
    while probe.peek_tag() == Some(INTEGER) && count < 9 {
        probe.next()?;
        count += 1;
    }
    if count == 5 && probe.is_empty() {
        let outer = single(der, SEQUENCE)?;
        let [p, ..] = dsa_integers(outer.contents)?;
        return Some(Decoded {
            layout: Layout::DsaTraditional,
            format: KeyFormat::Dsa,
            algorithm: KeyAlgorithm::Dsa,
            curve: None,
            bits: Some(positive_integer_bits(p.contents)?),
            der: Zeroizing::new(der.to_vec()),
        });
    }
    Some(Decoded {
        layout: Layout::Pkcs1,
        format: KeyFormat::Pkcs1,
        algorithm: KeyAlgorithm::Rsa,
        curve: None,
        bits: Some(rsa_private_bits(der)?),
        der: Zeroizing::new(der.to_vec()),
    })
}

fn sec1(der: &[u8], contents: &[u8]) -> Option<Decoded> {
    let parts = sec1_parts(contents)?;
    let (curve, bits) = match parts.params {
        Some(params) => ec_parameters(params)?,
        None => (None, None),
    };
    Some(Decoded {
        layout: Layout::Sec1,
        format: KeyFormat::Sec1,
        algorithm: KeyAlgorithm::Ec,
        curve,
        bits,
        der: Zeroizing::new(der.to_vec()),
    })
}

/// Reads a public key: SubjectPublicKeyInfo, or PKCS#1 `RSAPublicKey` (converted to
/// SubjectPublicKeyInfo).
///
/// Fails with [`Error::Key`] when the bytes are not one, or break the structure of their
/// algorithm.
pub(super) fn public(der: &[u8]) -> Result<Decoded, Error> {
    let malformed = || Error::Key("malformed DER public key".into());
    let outer = single(der, SEQUENCE).ok_or_else(malformed)?;
    let decoded = match Reader::new(outer.contents).peek_tag() {
        Some(SEQUENCE) => spki(der, outer.contents),
        Some(INTEGER) => rsa_public(der),
        _ => None,
    };
    decoded.ok_or_else(malformed)
}

fn spki(der: &[u8], contents: &[u8]) -> Option<Decoded> {
    let mut r = Reader::new(contents);
    let (oid, params) = algorithm_identifier(r.expect(SEQUENCE)?.contents)?;
    let bit_string = r.expect(BIT_STRING)?.contents;
    if !r.is_empty() {
        return None;
    }
    let (&unused_bits, key) = bit_string.split_first()?;
    if unused_bits != 0 {
        return None;
    }
    let algorithm = algorithm_of_oid(oid);
    let (curve, bits) = match algorithm {
        KeyAlgorithm::Rsa => (None, Some(rsa_public_bits(key)?)),
        KeyAlgorithm::Ec => {
            // An uncompressed (04), compressed (02, 03) or hybrid (06, 07) point.
            if !matches!(key.first(), Some(0x02..=0x04 | 0x06 | 0x07)) {
                return None;
            }
            match params {
                Some(params) => ec_parameters(params)?,
                None => (None, None),
            }
        }
        KeyAlgorithm::Ed25519 => (key.len() == 32).then_some((None, Some(256)))?,
        KeyAlgorithm::Dsa => {
            single(key, INTEGER)?;
            // X.509 lets a DSA key inherit its parameters from the issuer.
            match params.filter(|p| p.tag != NULL) {
                Some(params) => (None, Some(p_bits(params)?)),
                None => (None, None),
            }
        }
        KeyAlgorithm::Dh => {
            single(key, INTEGER)?;
            (None, Some(p_bits(params?)?))
        }
        KeyAlgorithm::Opaque => (None, None),
    };
    Some(Decoded {
        layout: Layout::Spki,
        format: KeyFormat::Spki,
        algorithm,
        curve,
        bits,
        der: Zeroizing::new(der.to_vec()),
    })
}

fn rsa_public(der: &[u8]) -> Option<Decoded> {
    let bits = rsa_public_bits(der)?;
    let oid = element(OID, &[RSA_ENCRYPTION]);
    let algorithm_id = element(SEQUENCE, &[&oid, NULL_PARAMS]);
    let key = element(BIT_STRING, &[&[0], der]);
    Some(Decoded {
        layout: Layout::RsaPublic,
        format: KeyFormat::Spki,
        algorithm: KeyAlgorithm::Rsa,
        curve: None,
        bits: Some(bits),
        der: element(SEQUENCE, &[&algorithm_id, &key]),
    })
}

/// The PKCS#8 `PrivateKeyInfo` of a private key held in `format`, as `openssl pkcs8 -topk8
/// -nocrypt` writes it: PKCS#1 keys under rsaEncryption with NULL parameters, SEC 1 keys under
/// id-ecPublicKey with the curve moved out of the inner key into the algorithm's parameters.
///
/// Fails with [`Error::InvalidInput`] for a public key and [`Error::Key`] for a SEC 1 key that
/// names no curve.
pub(super) fn to_pkcs8(format: KeyFormat, der: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    match format {
        KeyFormat::Pkcs8 => Ok(Zeroizing::new(der.to_vec())),
        KeyFormat::Dsa => {
            let malformed = || Error::Key("malformed DSA private key".into());
            let outer = single(der, SEQUENCE).ok_or_else(malformed)?;
            Ok(dsa_to_pkcs8(
                &dsa_integers(outer.contents).ok_or_else(malformed)?,
            ))
        }
        KeyFormat::Pkcs1 => {
            let oid = element(OID, &[RSA_ENCRYPTION]);
            let algorithm_id = element(SEQUENCE, &[&oid, NULL_PARAMS]);
            let private_key = element(OCTET_STRING, &[der]);
            Ok(element(SEQUENCE, &[VERSION_0, &algorithm_id, &private_key]))
        }
        KeyFormat::Sec1 => {
            let malformed = || Error::Key("malformed SEC 1 EC private key".into());
            let outer = single(der, SEQUENCE).ok_or_else(malformed)?;
            let parts = sec1_parts(outer.contents).ok_or_else(malformed)?;
            let params = parts.params.ok_or_else(|| {
                Error::Key("the SEC 1 key names no curve, which PKCS#8 needs".into())
            })?;
            let mut inner_parts = vec![parts.version.whole, parts.private_key.whole];
            inner_parts.extend(parts.public_key.map(|p| p.whole));
            let inner = element(SEQUENCE, &inner_parts);
            let oid = element(OID, &[ID_EC_PUBLIC_KEY]);
            let algorithm_id = element(SEQUENCE, &[&oid, params.whole]);
            let private_key = element(OCTET_STRING, &[&inner]);
            Ok(element(SEQUENCE, &[VERSION_0, &algorithm_id, &private_key]))
        }
        KeyFormat::Spki => Err(Error::InvalidInput(
            "a public key has no PKCS#8 form and cannot be encrypted".into(),
        )),
    }
}

/// The encoding two keys are compared by, whatever layout they came in (Qt compares keys by
/// algorithm, type, size and a canonical encoding): a public key's SubjectPublicKeyInfo; a
/// private key's PKCS#8 form without attributes or public key, rsaEncryption's parameters
/// always NULL, and an EC key's curve in the algorithm's parameters, its inner key holding
/// only version and private value. A key whose PKCS#8 form cannot be made (a SEC 1 key
/// without a curve) is compared by its own bytes.
pub(super) fn canonical(format: KeyFormat, der: &[u8]) -> Zeroizing<Vec<u8>> {
    if format == KeyFormat::Spki {
        return Zeroizing::new(der.to_vec());
    }
    match to_pkcs8(format, der) {
        Ok(pkcs8) => canonical_pkcs8(&pkcs8).unwrap_or(pkcs8),
        Err(_) => Zeroizing::new(der.to_vec()),
    }
}

fn canonical_pkcs8(pkcs8: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let outer = single(pkcs8, SEQUENCE)?;
    let mut r = Reader::new(outer.contents);
    r.expect(INTEGER)?;
    let algorithm = r.expect(SEQUENCE)?;
    let private_key = r.expect(OCTET_STRING)?;
    let (oid, params) = algorithm_identifier(algorithm.contents)?;
    let oid_element = element(OID, &[oid]);
    let (algorithm_id, private_key) = match oid {
        RSA_ENCRYPTION => (
            element(SEQUENCE, &[&oid_element, NULL_PARAMS]),
            Zeroizing::new(private_key.whole.to_vec()),
        ),
        ID_EC_PUBLIC_KEY => {
            let inner = sec1_parts(single(private_key.contents, SEQUENCE)?.contents)?;
            let params = params.filter(|p| p.tag != NULL).or(inner.params)?;
            let inner = element(SEQUENCE, &[inner.version.whole, inner.private_key.whole]);
            (
                element(SEQUENCE, &[&oid_element, params.whole]),
                element(OCTET_STRING, &[&inner]),
            )
        }
        _ => (
            Zeroizing::new(algorithm.whole.to_vec()),
            Zeroizing::new(private_key.whole.to_vec()),
        ),
    };
    Some(element(SEQUENCE, &[VERSION_0, &algorithm_id, &private_key]))
}

/// The public value of a key, in a form that compares equal for a private key and its public
/// key whatever their layouts: RSA's modulus and exponent (leading zeros dropped), an EC
/// point, an Ed25519 or DSA public value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PublicValue {
    /// RSA `(n, e)`.
    Rsa(Vec<u8>, Vec<u8>),
    /// An EC point as encoded (`04 || x || y`, or compressed `02`/`03 || x`).
    EcPoint(Vec<u8>),
    /// Ed25519's 32 bytes, or DSA's `y`.
    Bytes(Vec<u8>),
}

impl PublicValue {
    /// Whether two values are the same key. EC points are compared by their x coordinate
    /// and, when one is compressed, the parity of y.
    pub(super) fn same_key(&self, other: &PublicValue) -> bool {
        match (self, other) {
            (PublicValue::EcPoint(a), PublicValue::EcPoint(b)) => ec_points_equal(a, b),
            (a, b) => a == b,
        }
    }
}

/// An EC point taken apart: x, the parity of y, and y when the point is uncompressed.
struct Point<'a> {
    x: &'a [u8],
    y_parity: Option<u8>,
    y: Option<&'a [u8]>,
}

fn point(encoded: &[u8]) -> Option<Point<'_>> {
    let (&form, rest) = encoded.split_first()?;
    match form {
        0x02 | 0x03 => Some(Point {
            x: rest,
            y_parity: Some(form & 1),
            y: None,
        }),
        0x04 if rest.len() % 2 == 0 => {
            let (x, y) = rest.split_at(rest.len() / 2);
            Some(Point {
                x,
                y_parity: y.last().map(|b| b & 1),
                y: Some(y),
            })
        }
        _ => None,
    }
}

fn ec_points_equal(a: &[u8], b: &[u8]) -> bool {
    match (point(a), point(b)) {
        (Some(a), Some(b)) => {
            a.x == b.x && a.y_parity == b.y_parity && (a.y.is_none() || b.y.is_none() || a.y == b.y)
        }
        _ => a == b,
    }
}

fn unsigned(integer: &[u8]) -> Vec<u8> {
    let start = integer
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(integer.len());
    integer[start..].to_vec()
}

fn rsa_public_value(rsa_public_key: &[u8]) -> Option<PublicValue> {
    let mut r = Reader::new(single(rsa_public_key, SEQUENCE)?.contents);
    let n = r.expect(INTEGER)?;
    let e = r.expect(INTEGER)?;
    Some(PublicValue::Rsa(unsigned(n.contents), unsigned(e.contents)))
}

/// The public value of a SubjectPublicKeyInfo, for the algorithms [`PublicValue`] covers.
pub(super) fn spki_public_value(der: &[u8]) -> Option<PublicValue> {
    let mut r = Reader::new(single(der, SEQUENCE)?.contents);
    let (oid, _) = algorithm_identifier(r.expect(SEQUENCE)?.contents)?;
    let (&0, key) = r.expect(BIT_STRING)?.contents.split_first()? else {
        return None;
    };
    match algorithm_of_oid(oid) {
        KeyAlgorithm::Rsa => rsa_public_value(key),
        KeyAlgorithm::Ec => Some(PublicValue::EcPoint(key.to_vec())),
        KeyAlgorithm::Ed25519 => Some(PublicValue::Bytes(key.to_vec())),
        KeyAlgorithm::Dsa => Some(PublicValue::Bytes(unsigned(single(key, INTEGER)?.contents))),
        _ => None,
    }
}

/// The public point a SEC 1 key carries in its optional `[1]` field.
fn sec1_public_value(sec1_key: &[u8]) -> Option<PublicValue> {
    let parts = sec1_parts(single(sec1_key, SEQUENCE)?.contents)?;
    let bits = single(parts.public_key?.contents, BIT_STRING)?;
    let (&0, point) = bits.contents.split_first()? else {
        return None;
    };
    Some(PublicValue::EcPoint(point.to_vec()))
}

/// The public value a private key in `format` holds, when it holds one: always for RSA and
/// traditional DSA, for EC when the SEC 1 key carries its public point (OpenSSL and most
/// tools write it), for Ed25519 when the PKCS#8 v2 key carries its public key. `None`
/// otherwise (deriving it would take the curve's or group's arithmetic).
pub(super) fn private_public_value(format: KeyFormat, der: &[u8]) -> Option<PublicValue> {
    match format {
        KeyFormat::Spki => spki_public_value(der),
        KeyFormat::Pkcs1 => {
            let mut r = Reader::new(single(der, SEQUENCE)?.contents);
            r.expect(INTEGER)?; // version
            let n = r.expect(INTEGER)?;
            let e = r.expect(INTEGER)?;
            Some(PublicValue::Rsa(unsigned(n.contents), unsigned(e.contents)))
        }
        KeyFormat::Sec1 => sec1_public_value(der),
        KeyFormat::Dsa => {
            let [_, _, _, y, _] = dsa_integers(single(der, SEQUENCE)?.contents)?;
            Some(PublicValue::Bytes(unsigned(y.contents)))
        }
        KeyFormat::Pkcs8 => {
            let mut r = Reader::new(single(der, SEQUENCE)?.contents);
            r.expect(INTEGER)?;
            let (oid, _) = algorithm_identifier(r.expect(SEQUENCE)?.contents)?;
            let private_key = r.expect(OCTET_STRING)?.contents;
            match algorithm_of_oid(oid) {
                KeyAlgorithm::Rsa => private_public_value(KeyFormat::Pkcs1, private_key),
                KeyAlgorithm::Ec => sec1_public_value(private_key),
                KeyAlgorithm::Ed25519 => {
                    // OneAsymmetricKey: [0] attributes, then [1] IMPLICIT BIT STRING.
                    r.optional(CONTEXT_0);
                    let public = r.optional(PKCS8_PUBLIC_KEY)?;
                    let (&0, key) = public.contents.split_first()? else {
                        return None;
                    };
                    Some(PublicValue::Bytes(key.to_vec()))
                }
                _ => None,
            }
        }
    }
}

/// `[1]`, primitive: the implicitly tagged BIT STRING of a PKCS#8 v2 key's public key.
const PKCS8_PUBLIC_KEY: u8 = 0x81;
