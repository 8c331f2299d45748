//! Every problem of a peer's chain, named soundly when webpki rejects it.
//!
//! webpki either proves a path to a trust anchor or rejects the chain with its first problem.
//! A proven path needs no report beyond the depth limit. For a rejected chain this module
//! names every problem as OpenSSL does, so that both backends give one list, and so that a
//! list the caller ignores can only let through what it names:
//!
//! 1. The path is built here, from the leaf up, as OpenSSL builds it: an anchor that may
//!    have issued the current certificate ends it (any trusted certificate is an anchor,
//!    self-signed or not); otherwise a self-issued certificate ends it (untrusted); otherwise
//!    the issuer is looked for among the certificates the peer sent. Whether a certificate
//!    may have issued another is decided as OpenSSL decides it before any signature is
//!    checked, for anchors and the peer's certificates alike: by name, by authority and
//!    subject key identifiers when both are present, and by the kind of the issuer's key,
//!    which must fit the signature algorithm; a self-issued certificate has no issuer among
//!    the anchors but itself (OpenSSL drops any other as a "self-signed mimic"). A trusted
//!    certificate that merely shares the issuer's name (a store's own self-signed
//!    `localhost` certificate, for a peer's self-signed `localhost` certificate) is so
//!    never taken for the issuer, and proves no signature bad. A path that ends untrusted
//!    is still trusted when its leaf is itself one of the trusted certificates (OpenSSL's
//!    last resort with partial chains), and every certificate on it is still checked.
//! 2. Every link of that path is proven with the provider's signature algorithms, as webpki
//!    would check it; a link that does not verify is a `CertificateSignatureFailed` naming
//!    the certificate whose signature failed, so no list that leaves it out can accept the
//!    chain.
//! 3. The untrusted end of the path (`SelfSignedCertificate`, `SelfSignedCertificateInChain`,
//!    `UnableToGetLocalIssuerCertificate`, or `PathLengthExceeded` past the depth limit), the
//!    validity of every certificate, issuers that are no CA and purposes that exclude the
//!    role are reported for each certificate of the path.
//! 4. Then webpki runs again on exactly that path, with its untrusted end as a temporary
//!    anchor and at a time at which every certificate it checks is valid, so that what this
//!    module does not model (name constraints, unknown critical extensions, path length
//!    constraints, encodings) is still found and reported. When the path has a bad
//!    signature, that error already refuses it; when its certificates were never valid at
//!    one time, an `UnspecifiedError` naming no certificate does.
//!
//! If webpki rejected the chain and nothing here explains it, its own error is reported
//! (fail closed), with one deliberate exception: a CA certificate used as a leaf, which
//! OpenSSL (and Qt) accept and webpki does not. Its path is still proven by step 2.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::sync::Mutex;

use polytls_core::{Certificate, KeyStrength, Purpose, SslError, SslErrorKind};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, ExtendedKeyUsageValidator,
    KeyPurposeIdIter, KeyUsage, RevocationCheckDepth, RevocationOptions, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

/// What the peer's certificate is used for, and so which extended key usage it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A server's certificate (`id-kp-serverAuth`).
    Server,
    /// A client's certificate (`id-kp-clientAuth`).
    Client,
    /// Any use: no extended key usage is required (verification without a purpose).
    Any,
}

impl Role {
    /// The role for a verification purpose.
    pub(crate) fn of(purpose: Option<Purpose>) -> Role {
        match purpose {
            Some(Purpose::ServerAuth) => Role::Server,
            Some(Purpose::ClientAuth) => Role::Client,
            None => Role::Any,
        }
    }
}

impl ExtendedKeyUsageValidator for Role {
    /// webpki's check for the role's extended key usage; for [`Role::Any`], only that the
    /// extension is well formed.
    fn validate(&self, mut iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        match self {
            Role::Server => KeyUsage::server_auth().validate(iter),
            Role::Client => KeyUsage::client_auth().validate(iter),
            Role::Any => iter.try_for_each(|purpose| purpose.map(drop)),
        }
    }
}

/// One certificate the peer sent, as polytls and the checks need it.
pub(crate) struct PeerCert<'a> {
    /// The certificate for error reports and the hook; `None` when it is not even framed as
    /// a certificate.
    pub(crate) certificate: Option<Certificate>,
    der: &'a CertificateDer<'a>,
    /// What the checks read from it, parsed the first time a problem needs them (a chain
    /// webpki proves never does); `None` when it cannot be parsed.
    facts: OnceCell<Option<Facts>>,
}

/// The key usage bits the checks need.
#[derive(Clone, Copy, Debug)]
struct KeyUsageBits {
    digital_signature: bool,
    key_encipherment: bool,
    key_agreement: bool,
    cert_sign: bool,
}

/// What the strict RFC 5280 profile (OpenSSL's `X509_V_FLAG_X509_STRICT`) reads from a
/// certificate.
#[derive(Clone, Copy, Debug, Default)]
struct StrictFacts {
    /// basicConstraints has a path length.
    path_len: bool,
    /// The key usage has cRLSign.
    crl_sign: bool,
    subject_empty: bool,
    issuer_empty: bool,
    /// How many names the subject alternative name extension holds, when it is present.
    alt_names: Option<usize>,
    /// The signature algorithm outside the signed part equals the one inside.
    signature_algorithms_agree: bool,
    has_authority_key_id: bool,
    has_subject_key_id: bool,
    /// Version 3 (or later).
    v3: bool,
    has_extensions: bool,
}

/// What the checks read from a certificate.
#[derive(Debug)]
struct Facts {
    /// The DER subject and issuer names (full TLVs), for path building.
    subject: Vec<u8>,
    issuer: Vec<u8>,
    /// The contents (without the outer header) of the public key, as webpki's trust anchors
    /// hold it.
    spki_contents: Vec<u8>,
    /// The validity period in seconds since the Unix epoch.
    not_before: u64,
    not_after: u64,
    /// The signed part (TLV), the signature algorithm (AlgorithmIdentifier contents) and the
    /// signature bits.
    tbs: Vec<u8>,
    signature_algorithm: Vec<u8>,
    signature: Vec<u8>,
    /// basicConstraints' cA flag, when the extension is present.
    basic_constraints: Option<bool>,
    /// The key usage bits, when the extension is present.
    key_usage: Option<KeyUsageBits>,
    /// An X.509 version 1 certificate.
    v1: bool,
    /// What the strict RFC 5280 profile looks at.
    strict: StrictFacts,
    /// The extended key usage, when present: (serverAuth, clientAuth).
    eku: Option<(bool, bool)>,
    /// The authority key identifier's key id and the subject key identifier.
    aki: Option<Vec<u8>>,
    ski: Option<Vec<u8>>,
}

impl Facts {
    fn parse(der: &[u8]) -> Option<Facts> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let (tbs, signature_algorithm, signature) = signed_parts(der)?;
        let validity = cert.validity();
        let mut facts = Facts {
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            spki_contents: der_contents(cert.public_key().raw)?.to_vec(),
            not_before: u64::try_from(validity.not_before.timestamp()).unwrap_or(0),
            not_after: u64::try_from(validity.not_after.timestamp()).unwrap_or(0),
            tbs: tbs.to_vec(),
            signature_algorithm: signature_algorithm.to_vec(),
            signature: signature.to_vec(),
            basic_constraints: None,
            key_usage: None,
            v1: cert.version().0 == 0,
            strict: StrictFacts {
                subject_empty: cert.subject().iter_attributes().next().is_none(),
                issuer_empty: cert.issuer().iter_attributes().next().is_none(),
                signature_algorithms_agree: inner_signature_algorithm(tbs)
                    == Some(signature_algorithm),
                v3: cert.version().0 >= 2,
                has_extensions: !cert.extensions().is_empty(),
                ..StrictFacts::default()
            },
            eku: None,
            aki: None,
            ski: None,
        };
        for extension in cert.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    facts.basic_constraints = Some(bc.ca);
                    facts.strict.path_len = bc.path_len_constraint.is_some();
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    facts.strict.alt_names = Some(san.general_names.len());
                }
                ParsedExtension::KeyUsage(ku) => {
                    facts.strict.crl_sign = ku.crl_sign();
                    facts.key_usage = Some(KeyUsageBits {
                        digital_signature: ku.digital_signature(),
                        key_encipherment: ku.key_encipherment(),
                        key_agreement: ku.key_agreement(),
                        cert_sign: ku.key_cert_sign(),
                    });
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    facts.eku = Some((eku.server_auth, eku.client_auth));
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    facts.strict.has_authority_key_id = true;
                    facts.aki = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    facts.strict.has_subject_key_id = true;
                    facts.ski = Some(ski.0.to_vec());
                }
                // A subject alternative name extension that cannot be read holds no name.
                _ if extension.oid.to_id_string() == "2.5.29.17" => {
                    facts.strict.alt_names = Some(0)
                }
                _ => {}
            }
        }
        Some(facts)
    }

    /// Whether `self` may have issued `child`, as OpenSSL decides it before it checks a
    /// signature (`ossl_x509_likely_issued`, which its issuer lookups in the trust store and
    /// among the peer's certificates use alike): by name, by key identifiers when both are
    /// present, and by the kind of `self`'s key, which must be one `child`'s signature
    /// algorithm is made with.
    fn may_have_issued(&self, child: &Facts) -> bool {
        self.subject == child.issuer
            && match (&child.aki, &self.ski) {
                (Some(aki), Some(ski)) => aki == ski,
                _ => true,
            }
            && key_fits(child.inner_signature_algorithm(), &self.spki_contents)
    }

    /// The signature algorithm (AlgorithmIdentifier contents) inside the signed part, which
    /// OpenSSL matches to the issuer's key; the outer one when it cannot be read.
    fn inner_signature_algorithm(&self) -> &[u8] {
        inner_signature_algorithm(&self.tbs).unwrap_or(&self.signature_algorithm)
    }

    /// Whether the certificate names itself as its issuer.
    fn is_self_issued(&self) -> bool {
        self.may_have_issued(self)
    }

    /// How the certificate may issue certificates, as OpenSSL's `X509_check_ca` classifies
    /// it: `None` when it may not (a key usage without keyCertSign, or basicConstraints
    /// without cA); `Some(true)` for a CA by basicConstraints; `Some(false)` for one OpenSSL
    /// only tolerates (no basicConstraints, but a version 1 self-issued certificate or a key
    /// usage with keyCertSign).
    fn issues(&self) -> Option<bool> {
        if self.key_usage.is_some_and(|ku| !ku.cert_sign) {
            return None;
        }
        match self.basic_constraints {
            Some(true) => Some(true),
            Some(false) => None,
            None => {
                ((self.v1 && self.is_self_issued()) || self.key_usage.is_some()).then_some(false)
            }
        }
    }

    /// The problems of this certificate as an issuer for `role`, as OpenSSL reports them;
    /// `top` when it ends the chain (the trust anchor, or the last certificate of an untrusted
    /// path), where OpenSSL tolerates a CA without basicConstraints. A certificate that may
    /// not issue is an invalid CA and fails the purpose too (when there is one); a tolerated
    /// CA below the top is an invalid CA; a key usage without keyCertSign is also reported on
    /// its own (`X509_V_ERR_KEYUSAGE_NO_CERTSIGN`, which Qt names `UnspecifiedError`);
    /// otherwise the extended key usage must allow the role.
    fn issuer_problems(&self, role: Role, top: bool, strict: bool) -> Vec<SslErrorKind> {
        let mut kinds = Vec::new();
        match self.issues() {
            None => {
                kinds.push(SslErrorKind::InvalidCaCertificate);
                if role != Role::Any {
                    kinds.push(SslErrorKind::InvalidPurpose);
                }
            }
            Some(tolerated) => {
                // The strict profile tolerates nothing, not even at the top.
                if !tolerated && (!top || strict) {
                    kinds.push(SslErrorKind::InvalidCaCertificate);
                }
                if !self.allows(role) {
                    kinds.push(SslErrorKind::InvalidPurpose);
                }
            }
        }
        if self.key_usage.is_some_and(|ku| !ku.cert_sign) {
            kinds.push(SslErrorKind::UnspecifiedError);
        }
        kinds
    }

    /// Whether the certificate may be a leaf for `role`, as OpenSSL's purpose checks decide:
    /// its extended key usage allows the role, and its key usage (when present) allows a TLS
    /// server's key exchange (digitalSignature, keyEncipherment or keyAgreement) or a client's
    /// (digitalSignature or keyAgreement).
    fn may_be_leaf(&self, role: Role) -> bool {
        let key_usage = match (self.key_usage, role) {
            (None, _) | (_, Role::Any) => true,
            (Some(ku), Role::Server) => {
                ku.digital_signature || ku.key_encipherment || ku.key_agreement
            }
            (Some(ku), Role::Client) => ku.digital_signature || ku.key_agreement,
        };
        key_usage && self.allows(role)
    }

    /// The problems of this certificate as the leaf for `role`, as OpenSSL reports them: a
    /// purpose its key usage or extended key usage does not allow; with the strict profile, a
    /// certificate OpenSSL only tolerates as a CA (no basicConstraints).
    fn leaf_problems(&self, role: Role, strict: bool) -> Vec<SslErrorKind> {
        let mut kinds = Vec::new();
        if strict && self.issues() == Some(false) {
            kinds.push(SslErrorKind::InvalidCaCertificate);
        }
        if !self.may_be_leaf(role) {
            kinds.push(SslErrorKind::InvalidPurpose);
        }
        kinds
    }

    /// Whether the certificate breaks RFC 5280's profile as OpenSSL's
    /// `X509_V_FLAG_X509_STRICT` checks it, at `index` of a chain of `length` certificates
    /// (leaf at 0; a chain of one certificate is not checked).
    fn breaks_strict_profile(&self, index: usize, length: usize) -> bool {
        if length < 2 {
            return false;
        }
        let s = &self.strict;
        let ca = self.basic_constraints == Some(true);
        let cert_sign = self.key_usage.is_some_and(|ku| ku.cert_sign);
        let self_signed = self.is_self_issued() && self.key_usage.map_or(true, |ku| ku.cert_sign);
        let faults = [
            // basicConstraints (RFC 5280 4.2.1.9): a path length only on a CA that signs.
            s.path_len && !ca,
            s.path_len && !cert_sign,
            // Key usage (4.2.1.3): present on a CA, keyCertSign only on a CA.
            ca && self.key_usage.is_none(),
            !ca && cert_sign,
            // Names (4.1.2.4, 4.1.2.6, 4.2.1.6).
            s.issuer_empty,
            s.subject_empty && (ca || s.crl_sign || s.alt_names.is_none()),
            s.alt_names == Some(0),
            // The signature algorithm, inside and outside (4.1.1.2).
            !s.signature_algorithms_agree,
            // Key identifiers (4.2.1.1, 4.2.1.2), and extensions only in version 3.
            s.v3 && index + 1 < length && !self_signed && !s.has_authority_key_id,
            s.v3 && ca && !s.has_subject_key_id,
            !s.v3 && s.has_extensions,
        ];
        faults.into_iter().any(|fault| fault)
    }

    /// Whether the certificate's extended key usage, if any, allows `role`.
    fn allows(&self, role: Role) -> bool {
        match (self.eku, role) {
            (None, _) | (_, Role::Any) => true,
            (Some((server, _)), Role::Server) => server,
            (Some((_, client)), Role::Client) => client,
        }
    }
}

impl<'a> PeerCert<'a> {
    /// Wraps `der` for polytls without parsing it: rustls' own parser has read it.
    pub(crate) fn new(der: &'a CertificateDer<'a>) -> PeerCert<'a> {
        PeerCert {
            certificate: Certificate::from_peer_der(der).ok(),
            der,
            facts: OnceCell::new(),
        }
    }

    fn facts(&self) -> Option<&Facts> {
        self.facts.get_or_init(|| Facts::parse(self.der)).as_ref()
    }

    /// An error of `kind` about this certificate.
    pub(crate) fn error(&self, kind: SslErrorKind) -> SslError {
        match &self.certificate {
            Some(cert) => SslError::with_certificate(kind, cert.clone()),
            None => SslError::new(kind),
        }
    }
}

/// Trust anchors as webpki takes them, each with its certificate and validity period: webpki
/// does not check an anchor's validity, OpenSSL does, and both backends report an expired (or
/// not yet valid) anchor alike.
#[derive(Debug, Default)]
pub(crate) struct Anchors {
    /// For webpki, in the order of `certificates`.
    pub(crate) webpki: Vec<TrustAnchor<'static>>,
    /// Each anchor's certificate and what the checks read from it (`None` when it cannot be
    /// parsed: then nothing is reported about it).
    certificates: Vec<(Certificate, Option<Facts>)>,
    /// The key strengths each anchor's key meets (OpenSSL checks the anchor's key too).
    strong_enough: Vec<Vec<KeyStrength>>,
}

impl Anchors {
    /// The certificates of `ders` that webpki accepts as trust anchors (others are skipped).
    pub(crate) fn from_ders<'d>(ders: impl IntoIterator<Item = &'d [u8]>) -> Anchors {
        let mut anchors = Anchors::default();
        for der in ders {
            let cert = CertificateDer::from(der);
            let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) else {
                continue;
            };
            let Ok(certificate) = Certificate::from_peer_der(der) else {
                continue;
            };
            anchors.webpki.push(anchor.to_owned());
            anchors.strong_enough.push(
                [
                    KeyStrength::Legacy,
                    KeyStrength::Standard,
                    KeyStrength::High,
                ]
                .into_iter()
                .filter(|strength| strength.allows(&certificate))
                .collect(),
            );
            anchors.certificates.push((certificate, Facts::parse(der)));
        }
        anchors
    }

    /// The anchors that may have issued `child` (DER `der`), as OpenSSL looks them up in its
    /// store: by name, key identifiers and key kind ([`Facts::may_have_issued`]); an anchor
    /// whose certificate cannot be read here, by name alone. For a self-issued `child`, only
    /// an anchor that is `child` itself: OpenSSL drops any other match as a "self-signed
    /// mimic", and the path ends at `child`, untrusted.
    fn issuers_of(&self, child: &Facts, der: &[u8]) -> Vec<&TrustAnchor<'static>> {
        let issuer = der_contents(&child.issuer).unwrap_or_default();
        let self_issued = child.is_self_issued();
        self.webpki
            .iter()
            .zip(&self.certificates)
            .filter(|(anchor, (certificate, facts))| {
                let may_have_issued = match facts {
                    Some(facts) => facts.may_have_issued(child),
                    None => anchor.subject.as_ref() == issuer,
                };
                may_have_issued && (!self_issued || certificate.to_der() == der)
            })
            .map(|(anchor, _)| anchor)
            .collect()
    }

    /// Whether `der` is one of the anchors' certificates, byte for byte (a trusted certificate
    /// presented as itself, as OpenSSL's partial chains look it up).
    fn contain(&self, der: &[u8]) -> bool {
        self.certificates
            .iter()
            .any(|(certificate, _)| certificate.to_der() == der)
    }

    /// The problems of `anchor` (one of `self.webpki`) at `now` for `role`, naming its
    /// certificate, as OpenSSL reports them: its validity, and its fitness as an issuer.
    fn problems(
        &self,
        anchor: &TrustAnchor<'_>,
        now: u64,
        role: Role,
        strict: Option<(usize, usize)>,
        key_strength: KeyStrength,
    ) -> Vec<SslError> {
        let Some(index) = self.webpki.iter().position(|a| std::ptr::eq(a, anchor)) else {
            return Vec::new();
        };
        let weak = self
            .strong_enough
            .get(index)
            .is_some_and(|strengths| !strengths.contains(&key_strength));
        let Some((certificate, Some(facts))) = self.certificates.get(index) else {
            return Vec::new();
        };
        let mut kinds = Vec::new();
        if now > facts.not_after {
            kinds.push(SslErrorKind::CertificateExpired);
        } else if now < facts.not_before {
            kinds.push(SslErrorKind::CertificateNotYetValid);
        }
        kinds.extend(facts.issuer_problems(role, true, strict.is_some()));
        if strict.is_some_and(|(index, length)| facts.breaks_strict_profile(index, length)) {
            kinds.push(SslErrorKind::UnspecifiedError);
        }
        if weak {
            kinds.push(SslErrorKind::UnspecifiedError);
        }
        kinds
            .into_iter()
            .map(|kind| SslError::with_certificate(kind, certificate.clone()))
            .collect()
    }
}

/// What a proven path's checks depend on besides its certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProvenKey {
    role: Role,
    depth: Option<u32>,
    strict: bool,
    key_strength: KeyStrength,
}

/// One remembered path: its certificates (leaf first), what they were checked for, and the
/// problems found.
struct ProvenEntry {
    key: ProvenKey,
    certificates: Vec<Vec<u8>>,
    found: Vec<SslError>,
}

/// The problems of the paths webpki proved most recently (at most [`ProvenCache::SIZE`]),
/// beyond what webpki checks: a server presents the same chain handshake after handshake,
/// and parsing it costs more than the rest of polytls' verification. Only engine processing
/// on one configuration's verifier touches it; the lock is held for a comparison of a few
/// certificates.
#[derive(Default)]
pub(crate) struct ProvenCache(Mutex<VecDeque<ProvenEntry>>);

impl ProvenCache {
    const SIZE: usize = 16;

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<ProvenEntry>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What was found for this path, if it was seen recently.
    fn lookup(
        &self,
        key: &ProvenKey,
        leaf: &[u8],
        used: &[CertificateDer<'_>],
    ) -> Option<Vec<SslError>> {
        let entries = self.entries();
        entries
            .iter()
            .find(|entry| {
                entry.key == *key
                    && entry.certificates.len() == 1 + used.len()
                    && entry.certificates[0] == leaf
                    && entry.certificates[1..]
                        .iter()
                        .zip(used)
                        .all(|(known, der)| known.as_slice() == der.as_ref())
            })
            .map(|entry| entry.found.clone())
    }

    /// Remembers what was found for this path, forgetting the oldest beyond the size.
    fn insert(&self, key: ProvenKey, leaf: &[u8], used: &[CertificateDer<'_>], found: &[SslError]) {
        let certificates = std::iter::once(leaf.to_vec())
            .chain(used.iter().map(|der| der.to_vec()))
            .collect();
        let mut entries = self.entries();
        entries.push_front(ProvenEntry {
            key,
            certificates,
            found: found.to_vec(),
        });
        entries.truncate(Self::SIZE);
    }
}

/// One DER TLV at the start of `input`: its tag, its contents and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The contents of the DER TLV `input`.
fn der_contents(input: &[u8]) -> Option<&[u8]> {
    tlv(input).map(|(_, contents, _)| contents)
}

/// A certificate's signed part (the whole tbsCertificate TLV), its signature algorithm (the
/// AlgorithmIdentifier's contents) and its signature (the BIT STRING's bits).
fn signed_parts(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (0x30, body, []) = tlv(der)? else {
        return None;
    };
    let (0x30, _, after_tbs) = tlv(body)? else {
        return None;
    };
    let tbs = &body[..body.len() - after_tbs.len()];
    let (0x30, algorithm, after_algorithm) = tlv(after_tbs)? else {
        return None;
    };
    let (0x03, [0, signature @ ..], []) = tlv(after_algorithm)? else {
        return None;
    };
    Some((tbs, algorithm, signature))
}

/// The signature algorithm (AlgorithmIdentifier contents) inside a tbsCertificate TLV: after
/// the optional version and the serial number.
fn inner_signature_algorithm(tbs: &[u8]) -> Option<&[u8]> {
    let (_, mut fields, _) = tlv(tbs)?;
    let (tag, _, rest) = tlv(fields)?;
    if tag == 0xa0 {
        fields = rest;
        let (_, _, rest) = tlv(fields)?;
        fields = rest;
    } else {
        fields = rest;
    }
    let (0x30, algorithm, _) = tlv(fields)? else {
        return None;
    };
    Some(algorithm)
}

/// A SubjectPublicKeyInfo's contents split into the algorithm (AlgorithmIdentifier contents)
/// and the key bits.
fn split_spki(contents: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, algorithm, rest) = tlv(contents)? else {
        return None;
    };
    let (0x03, [0, key @ ..], []) = tlv(rest)? else {
        return None;
    };
    Some((algorithm, key))
}

/// The kinds of public key OpenSSL tells apart when it matches a certificate's signature
/// algorithm to an issuer's key (`check_sig_alg_match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    RsaPss,
    Ec,
    Dsa,
    Ed25519,
    Ed448,
}

/// The OID contents at the start of an AlgorithmIdentifier's contents.
fn algorithm_oid(algorithm: &[u8]) -> Option<&[u8]> {
    match tlv(algorithm)? {
        (0x06, oid, _) => Some(oid),
        _ => None,
    }
}

/// The kind of a public key by its algorithm OID (contents).
fn key_kind(oid: &[u8]) -> Option<KeyKind> {
    match oid {
        // rsaEncryption, id-RSASSA-PSS
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => Some(KeyKind::Rsa),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a] => Some(KeyKind::RsaPss),
        // id-ecPublicKey
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => Some(KeyKind::Ec),
        // id-dsa
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01] => Some(KeyKind::Dsa),
        [0x2b, 0x65, 0x70] => Some(KeyKind::Ed25519),
        [0x2b, 0x65, 0x71] => Some(KeyKind::Ed448),
        _ => None,
    }
}

/// The kinds of key a signature algorithm (by its OID contents) is made with, as OpenSSL
/// accepts them: RSASSA-PSS by an RSA or RSA-PSS key, every other by one kind.
fn signing_key_kinds(oid: &[u8]) -> Option<&'static [KeyKind]> {
    const RSA: &[KeyKind] = &[KeyKind::Rsa];
    const PSS: &[KeyKind] = &[KeyKind::Rsa, KeyKind::RsaPss];
    const EC: &[KeyKind] = &[KeyKind::Ec];
    const DSA: &[KeyKind] = &[KeyKind::Dsa];
    match oid {
        // PKCS #1: md2, md4, md5, sha1 and sha2 with RSA; RSASSA-PSS.
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a] => Some(PSS),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 2..=5 | 11..=16] => Some(RSA),
        // OIW sha1WithRSASignature.
        [0x2b, 0x0e, 0x03, 0x02, 0x1d] => Some(RSA),
        // ecdsa-with-SHA1, ecdsa-with-SHA2.
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01] => Some(EC),
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 1..=4] => Some(EC),
        // dsa-with-sha1.
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03] => Some(DSA),
        // NIST: DSA with SHA-2 and SHA-3, ECDSA with SHA-3, RSA with SHA-3.
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, n] => match n {
            1..=8 => Some(DSA),
            9..=12 => Some(EC),
            13..=16 => Some(RSA),
            _ => None,
        },
        [0x2b, 0x65, 0x70] => Some(&[KeyKind::Ed25519]),
        [0x2b, 0x65, 0x71] => Some(&[KeyKind::Ed448]),
        _ => None,
    }
}

/// Whether a key (SubjectPublicKeyInfo contents) is of a kind that makes signatures of
/// `signature_algorithm` (AlgorithmIdentifier contents). An algorithm or key kind not known
/// here is taken as fitting: its signature is then proven, or reported as failed.
fn key_fits(signature_algorithm: &[u8], spki: &[u8]) -> bool {
    let needed = algorithm_oid(signature_algorithm).and_then(signing_key_kinds);
    let kind = split_spki(spki)
        .and_then(|(algorithm, _)| algorithm_oid(algorithm))
        .and_then(key_kind);
    match (needed, kind) {
        (Some(needed), Some(kind)) => needed.contains(&kind),
        _ => true,
    }
}

/// How a path built by [`ChainCheck::walk`] ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// It ends untrusted, but its leaf is itself a trusted certificate: OpenSSL's last resort
    /// with partial chains, which still checks every certificate of the path.
    LeafTrusted,
    /// A trust anchor issued its last certificate (the link is in `broken` when its
    /// signature does not verify).
    IssuedByAnchor,
    /// Its last certificate is self-issued and no trust anchor.
    SelfIssued,
    /// No issuer of its last certificate was found.
    NoIssuer,
    /// It was cut at the first certificate beyond the depth limit.
    TooDeep,
}

/// A path built from the leaf up.
struct Walk<'a> {
    /// The anchor that issued the last certificate ([`End::IssuedByAnchor`]).
    anchor: Option<&'a TrustAnchor<'static>>,
    /// Indexes into the peer's certificates, leaf first.
    path: Vec<usize>,
    end: End,
    /// Positions in `path` whose certificate's signature does not verify with the key of the
    /// next certificate (or of the anchor, for the last one).
    broken: Vec<usize>,
}

/// One chain check: the peer's certificates against the trust anchors.
pub(crate) struct ChainCheck<'a> {
    /// The certificates the peer sent; never empty (it starts with the leaf), so indexing 0
    /// cannot fail.
    pub(crate) peer: &'a [PeerCert<'a>],
    pub(crate) leaf: &'a EndEntityCert<'a>,
    pub(crate) intermediates: &'a [CertificateDer<'a>],
    pub(crate) anchors: &'a Anchors,
    /// The most CA certificates allowed between the leaf and its anchor; `None` for no limit.
    pub(crate) depth: Option<u32>,
    pub(crate) algorithms: &'a WebPkiSupportedAlgorithms,
    pub(crate) role: Role,
    /// The time the chain must be valid at.
    pub(crate) now: UnixTime,
    /// How strong every key of the chain, the anchor's included, must be.
    pub(crate) key_strength: KeyStrength,
    /// The revocation lists to check the leaf against, if any were given.
    pub(crate) crls: &'a [&'a CertRevocationList<'a>],
    /// Whether the strict RFC 5280 profile applies.
    pub(crate) strict: bool,
    /// What was found on the paths proven recently with the same verifier.
    pub(crate) cache: &'a ProvenCache,
}

impl<'a> ChainCheck<'a> {
    /// Appends every chain problem found to `errors` (see the module documentation).
    pub(crate) fn errors(&self, errors: &mut Vec<SslError>) {
        let verified = self.leaf.verify_for_usage(
            self.algorithms.all,
            &self.anchors.webpki,
            self.intermediates,
            self.now,
            self.role,
            self.revocation(),
            None,
        );
        match verified {
            Ok(path) => {
                let used: Vec<CertificateDer<'_>> =
                    path.intermediate_certificates().map(|c| c.der()).collect();
                self.proven(&used, path.anchor(), errors);
            }
            Err(rejection) => {
                let before = errors.len();
                self.explain(errors);
                // A CA certificate as the leaf (OpenSSL and Qt accept one), or a leaf that is
                // itself trusted (webpki looks for its issuer): nothing else to report.
                let accepted = matches!(rejection, webpki::Error::CaUsedAsEndEntity)
                    || self.anchors.contain(self.peer[0].der);
                if errors.len() == before && !accepted {
                    errors.push(self.peer[0].error(polytls_webpki::kind_of(&rejection)));
                }
            }
        }
    }

    /// Names the problems of a chain webpki rejected.
    fn explain(&self, errors: &mut Vec<SslError>) {
        let mut walk = self.walk();
        if let Some(beyond) = self.too_deep(walk.path.len() - 1) {
            walk.path.truncate(beyond + 1);
            walk.broken.retain(|&position| position < beyond);
            walk.end = End::TooDeep;
            // As OpenSSL, nothing beyond the cut is looked at: not even the anchor.
            walk.anchor = None;
        }
        let cert = |position: usize| &self.peer[walk.path[position]];
        let last = walk.path.len() - 1;
        let trust = match walk.end {
            End::LeafTrusted | End::IssuedByAnchor => None,
            End::TooDeep => Some(SslErrorKind::PathLengthExceeded),
            End::SelfIssued if last == 0 => Some(SslErrorKind::SelfSignedCertificate),
            End::SelfIssued => Some(SslErrorKind::SelfSignedCertificateInChain),
            End::NoIssuer => Some(SslErrorKind::UnableToGetLocalIssuerCertificate),
        };
        errors.extend(trust.map(|kind| cert(last).error(kind)));
        let now = self.now.as_secs();
        // The anchor is looked at as an issuer unless it is the (self-signed) leaf itself;
        // OpenSSL's chain is the path and that anchor.
        let leaf_trusted = last == 0 && self.anchors.contain(self.peer[0].der);
        let anchor = walk.anchor.filter(|_| !leaf_trusted);
        let length = walk.path.len() + usize::from(anchor.is_some());
        for (position, &index) in walk.path.iter().enumerate() {
            let peer = &self.peer[index];
            let Some(facts) = peer.facts() else {
                continue;
            };
            if now > facts.not_after {
                errors.push(peer.error(SslErrorKind::CertificateExpired));
            } else if now < facts.not_before {
                errors.push(peer.error(SslErrorKind::CertificateNotYetValid));
            }
            if walk.broken.contains(&position) {
                errors.push(peer.error(SslErrorKind::CertificateSignatureFailed));
            }
            if position == 0 {
                errors.extend(
                    facts
                        .leaf_problems(self.role, self.strict)
                        .into_iter()
                        .map(|kind| peer.error(kind)),
                );
            } else {
                let top = position == last && anchor.is_none();
                for kind in facts.issuer_problems(self.role, top, self.strict) {
                    errors.push(peer.error(kind));
                }
            }
            if self.strict && facts.breaks_strict_profile(position, length) {
                errors.push(peer.error(SslErrorKind::UnspecifiedError));
            }
            let weak = peer
                .certificate
                .as_ref()
                .is_some_and(|cert| !self.key_strength.allows(cert));
            if weak {
                errors.push(peer.error(SslErrorKind::UnspecifiedError));
            }
        }
        if let Some(anchor) = anchor {
            let strict = self.strict.then_some((length - 1, length));
            errors.extend(
                self.anchors
                    .problems(anchor, now, self.role, strict, self.key_strength),
            );
        }
        if walk.broken.is_empty() {
            self.recheck(&walk, errors);
        }
    }

    /// Step 4 of the module documentation: webpki on exactly the walked path, its untrusted
    /// end taken as an anchor, at a time at which every certificate it checks is valid.
    fn recheck(&self, walk: &Walk<'_>, errors: &mut Vec<SslError>) {
        let ders: Vec<&CertificateDer<'_>> = walk.path.iter().map(|&i| self.peer[i].der).collect();
        let last = ders.len() - 1;
        // The certificates webpki checks below the anchor, and the anchors.
        let (checked, temporary) = match walk.end {
            End::IssuedByAnchor => (ders.len(), None),
            End::NoIssuer | End::LeafTrusted if last == 0 => return,
            End::SelfIssued | End::NoIssuer | End::TooDeep | End::LeafTrusted => {
                match webpki::anchor_from_trusted_cert(ders[last]) {
                    // A self-issued leaf is checked as its own issuer.
                    Ok(anchor) => (last.max(1), Some(anchor.to_owned())),
                    Err(_) => return,
                }
            }
        };
        let mut anchors = self.anchors.webpki.clone();
        anchors.extend(temporary);
        let intermediates: Vec<CertificateDer<'_>> =
            ders[1..checked].iter().map(|der| (*der).clone()).collect();
        let facts: Vec<&Facts> = walk.path[..checked]
            .iter()
            .filter_map(|&i| self.peer[i].facts())
            .collect();
        let from = facts.iter().map(|f| f.not_before).max().unwrap_or(0);
        let until = facts.iter().map(|f| f.not_after).min().unwrap_or(u64::MAX);
        if from > until {
            errors.push(SslError::new(SslErrorKind::UnspecifiedError));
            return;
        }
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            self.now.as_secs().clamp(from, until),
        ));
        let result = self.leaf.verify_for_usage(
            self.algorithms.all,
            &anchors,
            &intermediates,
            time,
            self.role,
            self.revocation(),
            None,
        );
        match result {
            Ok(_) | Err(webpki::Error::CaUsedAsEndEntity) => {}
            Err(other) => {
                let kind = polytls_webpki::kind_of(&other);
                if !errors.iter().any(|e| e.kind() == kind) {
                    errors.push(self.peer[0].error(kind));
                }
            }
        }
    }

    /// Builds the path from the leaf up (step 1 of the module documentation), checking each
    /// link's signature. A path that ends untrusted while its leaf is itself a trusted
    /// certificate ends [`End::LeafTrusted`].
    fn walk(&self) -> Walk<'a> {
        let mut walk = self.build();
        if matches!(walk.end, End::SelfIssued | End::NoIssuer)
            && self.anchors.contain(self.peer[0].der)
        {
            walk.end = End::LeafTrusted;
        }
        walk
    }

    /// [`walk`](Self::walk) before the last resort.
    fn build(&self) -> Walk<'a> {
        let mut walk = Walk {
            anchor: None,
            path: vec![0],
            end: End::NoIssuer,
            broken: Vec::new(),
        };
        let mut used = vec![false; self.peer.len()];
        used[0] = true;
        loop {
            let position = walk.path.len() - 1;
            let Some(facts) = self.peer[walk.path[position]].facts() else {
                walk.end = End::NoIssuer;
                return walk;
            };
            let named = self
                .anchors
                .issuers_of(facts, self.peer[walk.path[position]].der);
            if let Some(first) = named.first() {
                let signer = named
                    .iter()
                    .find(|a| self.signed_by(facts, &a.subject_public_key_info));
                if signer.is_none() {
                    walk.broken.push(position);
                }
                walk.anchor = Some(signer.unwrap_or(first));
                walk.end = End::IssuedByAnchor;
                return walk;
            }
            if facts.is_self_issued() {
                walk.end = End::SelfIssued;
                return walk;
            }
            let candidates: Vec<(usize, &Facts)> = (0..self.peer.len())
                .filter(|&i| !used[i])
                .filter_map(|i| Some((i, self.peer[i].facts()?)))
                .filter(|(_, candidate)| candidate.may_have_issued(facts))
                .collect();
            let verified = candidates
                .iter()
                .find(|(_, candidate)| self.signed_by(facts, &candidate.spki_contents));
            let Some(&(next, _)) = verified.or(candidates.first()) else {
                walk.end = End::NoIssuer;
                return walk;
            };
            if verified.is_none() {
                walk.broken.push(position);
            }
            used[next] = true;
            walk.path.push(next);
        }
    }

    /// Whether `child`'s signature verifies with the public key `spki` (contents of a
    /// SubjectPublicKeyInfo) by one of the provider's algorithms, as webpki checks it.
    fn signed_by(&self, child: &Facts, spki: &[u8]) -> bool {
        let Some((key_algorithm, key)) = split_spki(spki) else {
            return false;
        };
        self.algorithms.all.iter().any(|algorithm| {
            algorithm.public_key_alg_id().as_ref() == key_algorithm
                && algorithm.signature_alg_id().as_ref() == child.signature_algorithm.as_slice()
                && algorithm
                    .verify_signature(key, &child.tbs, &child.signature)
                    .is_ok()
        })
    }

    /// The index (in the path, leaf at 0) of the first certificate beyond the depth limit, for
    /// a path with `intermediates` CA certificates below its anchor; `None` within the limit.
    fn too_deep(&self, intermediates: usize) -> Option<usize> {
        let depth = usize::try_from(self.depth?).unwrap_or(usize::MAX);
        (intermediates > depth).then_some(depth + 1)
    }

    /// webpki's revocation options for the lists given: the leaf's status, which must be
    /// known (a list from its issuer), with expired lists refused, as OpenSSL checks with
    /// `X509_V_FLAG_CRL_CHECK`.
    fn revocation(&self) -> Option<RevocationOptions<'_>> {
        if self.crls.is_empty() {
            return None;
        }
        RevocationOptionsBuilder::new(self.crls)
            .ok()
            .map(|builder| {
                builder
                    .with_depth(RevocationCheckDepth::EndEntity)
                    .with_status_policy(UnknownStatusPolicy::Deny)
                    .with_expiration_policy(ExpirationPolicy::Enforce)
                    .build()
            })
    }

    /// Names what OpenSSL finds on a path webpki proved (its `used` intermediates, leaf's
    /// issuer first, up to `anchor`) and webpki does not look at: a path longer than the depth
    /// limit (reported at its first certificate beyond the limit, and nothing beyond that is
    /// looked at), the leaf's and intermediates' key usage and RFC 5280 profile, key
    /// strength, and the anchor's validity, fitness as an issuer and key strength. All but
    /// the anchor's checks depends on the certificates alone, and is remembered for the paths
    /// seen most recently ([`ProvenCache`]).
    fn proven(
        &self,
        used: &[CertificateDer<'_>],
        anchor: &TrustAnchor<'_>,
        errors: &mut Vec<SslError>,
    ) {
        let cut = self.too_deep(used.len());
        // The anchor is looked at as an issuer unless it is the leaf itself; OpenSSL's chain
        // is the leaf, the kept intermediates and that anchor.
        let leaf_trusted = used.is_empty() && self.anchors.contain(self.peer[0].der);
        let with_anchor = cut.is_none() && !leaf_trusted;
        let key = ProvenKey {
            role: self.role,
            depth: self.depth,
            strict: self.strict,
            key_strength: self.key_strength,
        };
        let known = self.cache.lookup(&key, self.peer[0].der, used);
        let found = match known {
            Some(found) => found,
            None => {
                let found = self.proven_by_certificates(used, cut, with_anchor);
                self.cache.insert(key, self.peer[0].der, used, &found);
                found
            }
        };
        errors.extend(found);
        if with_anchor {
            let kept = used.len();
            let length = 2 + kept;
            let strict = self.strict.then_some((length - 1, length));
            errors.extend(self.anchors.problems(
                anchor,
                self.now.as_secs(),
                self.role,
                strict,
                self.key_strength,
            ));
        }
    }

    /// The part of [`proven`](Self::proven) that depends on the certificates alone.
    fn proven_by_certificates(
        &self,
        used: &[CertificateDer<'_>],
        cut: Option<usize>,
        with_anchor: bool,
    ) -> Vec<SslError> {
        let mut errors = Vec::new();
        let kept = cut.map_or(used.len(), |beyond| beyond.min(used.len()));
        let certificates: Vec<Option<Certificate>> = used[..kept]
            .iter()
            .map(|der| Certificate::from_peer_der(der).ok())
            .collect();
        let error = |kind, cert: &Option<Certificate>| match cert {
            Some(cert) => SslError::with_certificate(kind, cert.clone()),
            None => SslError::new(kind),
        };
        if let (Some(_), Some(beyond)) = (cut, certificates.last()) {
            errors.push(error(SslErrorKind::PathLengthExceeded, beyond));
        }
        let length = 1 + kept + usize::from(with_anchor);
        // webpki checked the leaf's extended key usage, not its key usage for the TLS role or
        // RFC 5280's profile.
        if let Some(facts) = self.peer[0].facts() {
            for kind in facts.leaf_problems(self.role, self.strict) {
                errors.push(self.peer[0].error(kind));
            }
            if self.strict && facts.breaks_strict_profile(0, length) {
                errors.push(self.peer[0].error(SslErrorKind::UnspecifiedError));
            }
        }
        // webpki checked the intermediates' basic constraints and extended key usage, not
        // their key usage or the strict profile; OpenSSL does.
        for (i, (der, cert)) in used[..kept].iter().zip(&certificates).enumerate() {
            let Some(facts) = Facts::parse(der) else {
                continue;
            };
            let top = cut.is_some() && i + 1 == kept;
            for kind in facts.issuer_problems(self.role, top, self.strict) {
                errors.push(error(kind, cert));
            }
            if self.strict && facts.breaks_strict_profile(i + 1, length) {
                errors.push(error(SslErrorKind::UnspecifiedError, cert));
            }
        }
        let keys = std::iter::once(&self.peer[0].certificate).chain(&certificates);
        for cert in keys.flatten() {
            if !self.key_strength.allows(cert) {
                errors.push(SslError::with_certificate(
                    SslErrorKind::UnspecifiedError,
                    cert.clone(),
                ));
            }
        }
        errors
    }
}
