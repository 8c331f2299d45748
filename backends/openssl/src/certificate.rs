//! The Certificate class: certificates and PKCS#12 files read with OpenSSL's own parser and
//! translated into polytls' [`CertificateInfo`] and [`Pkcs12`].
//!
//! The conformance suite compares what this module reports with polytls' own parser, so that
//! a certificate means the same thing to the engine as to the program using it.

use std::ffi::{c_char, c_int, c_void, CStr};

use foreign_types::ForeignTypeRef;
use openssl::asn1::{Asn1ObjectRef, Asn1StringRef, Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12 as OpenSslPkcs12;
use openssl::x509::{X509NameRef, X509Ref, X509VerifyResult, X509};
use openssl_sys as ffi;
use polytls_core::certificate::{pkcs12_iteration_check, NameEntry, RawExtension};
use polytls_core::{AlternativeName, Certificate, CertificateInfo, Error, Key, KeyType, Pkcs12};

use crate::verify::to_certificate;

extern "C" {
    // In every OpenSSL since 1.1.0; not declared by `openssl-sys`.
    fn X509_get_X509_PUBKEY(x: *const ffi::X509) -> *mut c_void;
    fn i2d_X509_PUBKEY(key: *mut c_void, out: *mut *mut u8) -> c_int;
}

/// `PKCS12_R_MAC_VERIFY_FAILURE`: the passphrase does not match the file's integrity MAC.
const PKCS12_R_MAC_VERIFY_FAILURE: c_int = 113;
/// `ERR_LIB_PKCS12`.
const ERR_LIB_PKCS12: c_int = 35;

/// Reads `der` with OpenSSL and reports what it found.
///
/// Fails with [`Error::Certificate`] when OpenSSL rejects the input or finds bytes after the
/// certificate.
pub(crate) fn info(der: &[u8]) -> Result<CertificateInfo, Error> {
    let cert = X509::from_der(der)
        .map_err(|e| Error::Certificate(format!("OpenSSL cannot parse the certificate: {e}")))?;
    let reencoded = cert
        .to_der()
        .map_err(|e| Error::Certificate(format!("OpenSSL cannot encode the certificate: {e}")))?;
    if reencoded.len() != der.len() {
        return Err(Error::Certificate(
            "trailing data after the certificate, or not DER".into(),
        ));
    }
    let failure = |what: &str, e: ErrorStack| Error::Certificate(format!("OpenSSL {what}: {e}"));
    let public_key = cert.public_key().map_err(|e| failure("public key", e))?;
    let mut info = CertificateInfo::default();
    info.version = u32::try_from(cert.version()).unwrap_or(0).saturating_add(1);
    info.serial_number = serial(&cert).map_err(|e| failure("serial number", e))?;
    info.subject = entries(cert.subject_name());
    info.issuer = entries(cert.issuer_name());
    info.subject_alternative_names = alternative_names(&cert);
    info.effective_date_unix = unix(cert.not_before()).map_err(|e| failure("notBefore", e))?;
    info.expiry_date_unix = unix(cert.not_after()).map_err(|e| failure("notAfter", e))?;
    info.is_self_signed = cert.issued(&cert) == X509VerifyResult::OK;
    // SAFETY: `cert` is a valid X509; the call only computes and reads its cached flags.
    info.is_ca = unsafe { ffi::X509_get_extension_flags(cert.as_ptr()) } & ffi::EXFLAG_CA != 0;
    info.public_key = subject_public_key_info(&cert)
        .ok_or_else(|| Error::Certificate("OpenSSL cannot encode the public key".into()))?;
    info.public_key_bits = usize::try_from(public_key.bits()).ok().filter(|b| *b > 0);
    info.signature_algorithm_oid = oid(cert.signature_algorithm().object());
    info.extensions = extensions(&cert);
    info.sha256 = cert
        .digest(MessageDigest::sha256())
        .map_err(|e| failure("digest", e))?
        .to_vec();
    Ok(info)
}

/// The SubjectPublicKeyInfo as the certificate holds it (not re-encoded from the key).
fn subject_public_key_info(cert: &X509Ref) -> Option<Vec<u8>> {
    // SAFETY: `cert` is valid; the X509_PUBKEY it returns is owned by it. i2d with a null
    // output only measures; the second call writes exactly that many bytes into `buf`, whose
    // pointer i2d advances (we keep our own copy of the start).
    unsafe {
        let key = X509_get_X509_PUBKEY(cert.as_ptr());
        if key.is_null() {
            return None;
        }
        let len = usize::try_from(i2d_X509_PUBKEY(key, std::ptr::null_mut())).ok()?;
        let mut buf = vec![0u8; len];
        let mut out = buf.as_mut_ptr();
        let written = usize::try_from(i2d_X509_PUBKEY(key, &mut out)).ok()?;
        (written == len).then_some(buf)
    }
}

/// The serial number's magnitude, big-endian (`00` for zero).
fn serial(cert: &X509Ref) -> Result<Vec<u8>, ErrorStack> {
    let bytes = cert.serial_number().to_bn()?.to_vec();
    Ok(if bytes.is_empty() { vec![0] } else { bytes })
}

/// The dotted form of an OID.
fn oid(object: &Asn1ObjectRef) -> String {
    let mut buf = [0 as c_char; 128];
    let len = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
    // SAFETY: `buf` is writable for `len` bytes and OBJ_obj2txt NUL-terminates within it;
    // `object` is a valid ASN1_OBJECT. With no_name = 1 the output is always numeric.
    let written = unsafe { ffi::OBJ_obj2txt(buf.as_mut_ptr(), len, object.as_ptr(), 1) };
    if written <= 0 {
        return String::new();
    }
    // SAFETY: OBJ_obj2txt wrote a NUL-terminated string into `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// A string value as UTF-8 (OpenSSL converts every string type), or `None` when it is not a
/// string.
fn text(value: &Asn1StringRef) -> Option<String> {
    Asn1StringRef::to_string(value).ok()
}

fn entries(name: &X509NameRef) -> Vec<NameEntry> {
    name.entries()
        .map(|entry| (oid(entry.object()), text(entry.data())))
        .collect()
}

fn alternative_names(cert: &X509Ref) -> Vec<AlternativeName> {
    let Some(names) = cert.subject_alt_names() else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| {
            if let Some(dns) = name.dnsname() {
                Some(AlternativeName::Dns(dns.to_owned()))
            } else if let Some(email) = name.email() {
                Some(AlternativeName::Email(email.to_owned()))
            } else {
                match name.ipaddress()? {
                    ip if ip.len() == 4 => <[u8; 4]>::try_from(ip).ok().map(|a| a.into()),
                    ip => <[u8; 16]>::try_from(ip).ok().map(|a| a.into()),
                }
                .map(AlternativeName::Ip)
            }
        })
        .collect()
}

/// Seconds between the Unix epoch and `time`.
fn unix(time: &Asn1TimeRef) -> Result<i64, ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn extensions(cert: &X509Ref) -> Vec<RawExtension> {
    // SAFETY: `cert` is a valid X509 for the whole function; every pointer read below is owned
    // by it and checked for null before use.
    unsafe {
        let count = ffi::X509_get_ext_count(cert.as_ptr());
        (0..count)
            .filter_map(|i| {
                let ext = ffi::X509_get_ext(cert.as_ptr(), i);
                if ext.is_null() {
                    return None;
                }
                let object = ffi::X509_EXTENSION_get_object(ext);
                let data = ffi::X509_EXTENSION_get_data(ext);
                if object.is_null() || data.is_null() {
                    return None;
                }
                let critical = ffi::X509_EXTENSION_get_critical(ext) > 0;
                let value = Asn1StringRef::from_ptr(data.cast()).as_slice().to_vec();
                Some((oid(Asn1ObjectRef::from_ptr(object)), critical, value))
            })
            .collect()
    }
}

/// Reads a PKCS#12 file: its key (as PKCS#8), its certificate, and its other certificates.
///
/// Fails with [`Error::InvalidInput`] for a passphrase OpenSSL cannot take (not UTF-8, or
/// with a NUL byte), [`Error::WrongPassphrase`] when it does not open the file, and
/// [`Error::Certificate`] when the data is not a (DER) PKCS#12 file with a key and a
/// certificate, or names key derivations beyond polytls' limits (checked before OpenSSL,
/// which has none, sees the file).
pub(crate) fn import_pkcs12(data: &[u8], passphrase: &[u8]) -> Result<Pkcs12, Error> {
    pkcs12_iteration_check(data)?;
    let passphrase = std::str::from_utf8(passphrase)
        .ok()
        .filter(|p| !p.contains('\0'))
        .ok_or_else(|| {
            Error::InvalidInput("OpenSSL takes PKCS#12 passphrases as UTF-8 without NUL".into())
        })?;
    let file = OpenSslPkcs12::from_der(data)
        .map_err(|e| Error::Certificate(format!("not a PKCS#12 file: {e}")))?;
    let parsed = file.parse2(passphrase).map_err(|e| {
        let wrong = e.errors().iter().any(|err| {
            let code = err.code();
            ffi::ERR_GET_LIB(code) == ERR_LIB_PKCS12
                && ffi::ERR_GET_REASON(code) == PKCS12_R_MAC_VERIFY_FAILURE
        });
        if wrong {
            Error::WrongPassphrase
        } else {
            Error::Certificate(format!("OpenSSL cannot read the PKCS#12 file: {e}"))
        }
    })?;
    let key = parsed
        .pkey
        .ok_or_else(|| Error::Certificate("the PKCS#12 file holds no private key".into()))?;
    let key = key
        .private_key_to_pkcs8()
        .map_err(|e| Error::Key(format!("OpenSSL cannot encode the key: {e}")))?;
    let key = Key::from_der(&key, KeyType::PrivateKey)?;
    let certificate = parsed
        .cert
        .as_deref()
        .and_then(to_certificate)
        .ok_or_else(|| Error::Certificate("the PKCS#12 file holds no certificate".into()))?;
    let ca_certificates: Vec<Certificate> = parsed
        .ca
        .map(|stack| stack.iter().filter_map(to_certificate).collect())
        .unwrap_or_default();
    Ok(Pkcs12::new(key, certificate, ca_certificates))
}
