//! Certificates known to be fraudulent (Qt's blacklist): certificates issued in the Comodo
//! (2011), DigiNotar (2011), Turktrust (2013), ANSSI (2013) and NIC India (2014) incidents, the
//! intermediates cross-signed to them, and the MD5-collision rogue CA (2008).
//!
//! A certificate is blacklisted when its serial number is one of the list's and its subject's
//! or its issuer's common name is the one listed with it, as Qt decides it. Core reports each
//! blacklisted certificate of a peer's chain as [`SslErrorKind::CertificateBlacklisted`], in
//! handshakes (the verification hook) and in [`Certificate::verify`], identically for every
//! backend. Qt checks the whole chain in a handshake but only the leaf in
//! `QSslCertificate::verify`; polytls checks the whole chain in both, so that verifying a
//! chain and presenting it in a handshake give the same list.

use super::{quick_serial_number, Certificate, SubjectInfo};
use crate::{SslError, SslErrorKind};

/// Serial number (as [`Certificate::serial_number`] prints it) and common name.
const BLACKLIST: &[(&str, &str)] = &[
    // Comodo, 2011.
    (
        "04:7e:cb:e9:fc:a5:5f:7b:d0:9e:ae:36:e1:0c:ae:1e",
        "mail.google.com",
    ),
    (
        "f5:c8:6a:f3:61:62:f1:3a:64:f5:4f:6d:c9:58:7c:06",
        "www.google.com",
    ),
    (
        "d7:55:8f:da:f5:f1:10:5b:b2:13:28:2b:70:77:29:a3",
        "login.yahoo.com",
    ),
    (
        "39:2a:43:4f:0e:07:df:1f:8a:a3:05:de:34:e0:c2:29",
        "login.yahoo.com",
    ),
    (
        "3e:75:ce:d4:6b:69:30:21:21:88:30:ae:86:a8:2a:71",
        "login.yahoo.com",
    ),
    (
        "e9:02:8b:95:78:e4:15:dc:1a:71:0a:2b:88:15:44:47",
        "login.skype.com",
    ),
    (
        "92:39:d5:34:8f:40:d1:69:5a:74:54:70:e1:f2:3f:43",
        "addons.mozilla.org",
    ),
    (
        "b0:b7:13:3e:d0:96:f9:b5:6f:ae:91:c8:74:bd:3a:c0",
        "login.live.com",
    ),
    (
        "d8:f3:5f:4e:b7:87:2b:2d:ab:06:92:e3:15:38:2f:b0",
        "global trustee",
    ),
    // DigiNotar, 2011: a leaf, the roots and their intermediates.
    (
        "05:e2:e6:a4:cd:09:ea:54:d6:65:b0:75:fe:22:a2:56",
        "*.google.com",
    ),
    (
        "0c:76:da:9c:91:0c:4e:2c:9e:fe:15:d0:58:93:3c:4c",
        "DigiNotar Root CA",
    ),
    (
        "f1:4a:13:f4:87:2b:56:dc:39:df:84:ca:7a:a1:06:49",
        "DigiNotar Services CA",
    ),
    (
        "36:16:71:55:43:42:1b:9d:e6:cb:a3:64:41:df:24:38",
        "DigiNotar Services 1024 CA",
    ),
    (
        "0a:82:bd:1e:14:4e:88:14:d7:5b:1a:55:27:be:bf:3e",
        "DigiNotar Root CA G2",
    ),
    (
        "a4:b6:ce:e3:2e:d3:35:46:26:3c:b3:55:3a:a8:92:21",
        "CertiID Enterprise Certificate Authority",
    ),
    (
        "5b:d5:60:9c:64:17:68:cf:21:0e:35:fd:fb:05:ad:41",
        "DigiNotar Qualified CA",
    ),
    // DigiNotar intermediates cross-signed by Entrust, CyberTrust and the Dutch government.
    ("46:9c:2c:b0", "DigiNotar Services 1024 CA"),
    ("07:27:10:0d", "DigiNotar Cyber CA"),
    ("07:27:0f:f9", "DigiNotar Cyber CA"),
    ("07:27:10:03", "DigiNotar Cyber CA"),
    (
        "01:31:69:b0",
        "DigiNotar PKIoverheid CA Overheid en Bedrijven",
    ),
    ("01:31:34:bf", "DigiNotar PKIoverheid CA Organisatie - G2"),
    (
        "d6:d0:29:77:f1:49:fd:1a:83:f2:b9:ea:94:8c:5c:b4",
        "DigiNotar Extended Validation CA",
    ),
    (
        "1e:7d:7a:53:3d:45:30:41:96:40:0f:71:48:1f:45:04",
        "DigiNotar Public CA 2025",
    ),
    ("46:9c:2c:af", "DigiNotar Root CA"),
    ("46:9c:3c:c9", "DigiNotar Root CA"),
    // Digicert Sdn. Bhd. (Malaysia), cross-signed by Verizon CyberTrust and Entrust.
    ("07:27:14:a9", "Digisign Server ID (Enrich)"),
    ("4c:0e:63:6a", "Digisign Server ID - (Enrich)"),
    // Comodo's test certificate.
    (
        "72:03:21:05:c5:0c:08:57:3d:8e:a5:30:4e:fe:e8:b0",
        "UTN-USERFirst-Hardware",
    ),
    // The rogue CA made with an MD5 collision.
    ("41", "MD5 Collisions Inc. (http://www.phreedom.org/md5)"),
    // Turktrust's mis-issued intermediates.
    ("08:27", "*.EGO.GOV.TR"),
    ("08:64", "e-islem.kktcmerkezbankasi.org"),
    // The ANSSI intermediate, and NIC India's CAs.
    ("03:1d:a7", "AC DG Tr\u{e9}sor SSL"),
    ("27:83", "NIC Certifying Authority"),
    ("27:92", "NIC CA 2011"),
    ("27:b1", "NIC CA 2014"),
];

impl Certificate {
    /// Whether the certificate is on Qt's list of certificates known to be fraudulent (Qt's
    /// `QSslCertificate::isBlacklisted`): its serial number is listed and its subject's or
    /// issuer's common name is the one listed with it. A handshake or
    /// [`verify`](Self::verify) that meets such a certificate in the peer's chain reports
    /// [`SslErrorKind::CertificateBlacklisted`] for it. Never fails; `false` for a
    /// certificate that cannot be parsed.
    pub fn is_blacklisted(&self) -> bool {
        // Almost every certificate's serial is not listed: read it without parsing the whole
        // certificate first. A listed one (or a serial the quick reader cannot find) is
        // decided by the full parse, as before.
        if quick_serial_number(&self.der)
            .is_some_and(|serial| BLACKLIST.iter().all(|(s, _)| *s != serial))
        {
            return false;
        }
        let serial = self.serial_number();
        let listed: Vec<&str> = BLACKLIST
            .iter()
            .filter(|(s, _)| *s == serial)
            .map(|(_, cn)| *cn)
            .collect();
        if listed.is_empty() {
            return false;
        }
        self.subject_info(SubjectInfo::CommonName)
            .into_iter()
            .chain(self.issuer_info(SubjectInfo::CommonName))
            .any(|cn| listed.contains(&cn.as_str()))
    }
}

/// `errors` with a [`SslErrorKind::CertificateBlacklisted`] error in front for every
/// blacklisted certificate of `chain` that `errors` does not already name as blacklisted.
pub(crate) fn with_blacklist_errors(chain: &[Certificate], errors: Vec<SslError>) -> Vec<SslError> {
    let mut found: Vec<SslError> = chain
        .iter()
        .filter(|c| c.is_blacklisted())
        .map(|c| SslError::with_certificate(SslErrorKind::CertificateBlacklisted, c.clone()))
        .filter(|e| !errors.contains(e))
        .collect();
    found.dedup();
    if found.is_empty() {
        return errors;
    }
    found.extend(errors);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SerialNumber};

    fn make(serial: &[u8], subject_cn: &str, issuer_cn: Option<&str>) -> Certificate {
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.serial_number = Some(SerialNumber::from_slice(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, subject_cn);
        let key = KeyPair::generate().unwrap();
        let cert = match issuer_cn {
            None => params.self_signed(&key).unwrap(),
            Some(issuer_cn) => {
                let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
                ca.distinguished_name.push(DnType::CommonName, issuer_cn);
                let ca_key = KeyPair::generate().unwrap();
                let issuer = rcgen::Issuer::new(ca, ca_key);
                params.signed_by(&key, &issuer).unwrap()
            }
        };
        Certificate::from_der(cert.der()).unwrap()
    }

    #[test]
    fn serial_and_common_name_together() {
        let diginotar = [
            0x0c, 0x76, 0xda, 0x9c, 0x91, 0x0c, 0x4e, 0x2c, 0x9e, 0xfe, 0x15, 0xd0, 0x58, 0x93,
            0x3c, 0x4c,
        ];
        // By subject, and by issuer.
        assert!(make(&diginotar, "DigiNotar Root CA", None).is_blacklisted());
        assert!(make(&diginotar, "localhost", Some("DigiNotar Root CA")).is_blacklisted());
        // The serial alone, or the name alone, is not enough.
        assert!(!make(&diginotar, "localhost", Some("Another CA")).is_blacklisted());
        assert!(!make(&[0x0c, 0x76], "DigiNotar Root CA", None).is_blacklisted());
        // A one-byte serial, and a name outside ASCII.
        assert!(make(
            &[0x41],
            "MD5 Collisions Inc. (http://www.phreedom.org/md5)",
            None
        )
        .is_blacklisted());
        assert!(make(&[0x03, 0x1d, 0xa7], "AC DG Trésor SSL", None).is_blacklisted());
        // Every entry, by subject.
        for (serial, cn) in BLACKLIST {
            let bytes: Vec<u8> = serial
                .split(':')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            assert!(make(&bytes, cn, None).is_blacklisted(), "{serial} {cn}");
        }
    }

    #[test]
    fn errors_are_added_once_in_front() {
        let bad = make(&[0x27, 0x92], "NIC CA 2011", None);
        let good = make(&[0x27, 0x92], "localhost", None);
        let other = SslError::new(SslErrorKind::HostNameMismatch);
        let errors = with_blacklist_errors(&[good.clone(), bad.clone()], vec![other.clone()]);
        let blacklisted =
            SslError::with_certificate(SslErrorKind::CertificateBlacklisted, bad.clone());
        assert_eq!(errors, [blacklisted.clone(), other.clone()]);
        assert_eq!(with_blacklist_errors(&[bad], errors.clone()), errors);
        assert_eq!(with_blacklist_errors(&[good], vec![other.clone()]), [other]);
    }
}
