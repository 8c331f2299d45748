//! An [`SslConfiguration`] (with the engine parameters) turned into an OpenSSL `SslContext`:
//! protocol range and security level, cipher lists, options, local certificate and key, trust
//! store, ALPN. Nothing here depends on one session (peer name, hook, SNI are set on the `Ssl`),
//! so sessions with equal parameters share the context (see `context_cache`).
//!
//! Settings OpenSSL cannot honour in this backend are refused with [`Error::Unsupported`].

use std::ffi::{c_int, c_uchar, c_void};
use std::sync::OnceLock;

use openssl::ec::EcKey;
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{
    AlpnError, SslContext, SslContextBuilder, SslMethod, SslMode as OpenSslMode, SslOptions,
    SslSessionCacheMode, SslVersion,
};
use openssl::stack::Stack;
use openssl::x509::X509Name;
use openssl_sys as ffi;
use polytls_core::{
    EngineParams, Error, Key, KeyFormat, PeerVerifyMode, ProtocolVersion, SslCipher,
    SslConfiguration, SslMode, SslOption,
};

use crate::backend::{NAME, VERSIONS};
use crate::verify;

extern "C" {
    // OpenSSL 1.1.1 and later; not declared by `openssl-sys`.
    fn SSL_CTX_set_session_ticket_cb(
        ctx: *mut ffi::SSL_CTX,
        gen_cb: Option<unsafe extern "C" fn(*mut ffi::SSL, *mut c_void) -> c_int>,
        dec_cb: Option<
            unsafe extern "C" fn(
                *mut ffi::SSL,
                *mut ffi::SSL_SESSION,
                *const c_uchar,
                usize,
                c_int,
                *mut c_void,
            ) -> c_int,
        >,
        arg: *mut c_void,
    ) -> c_int;
}

/// `SSL_TICKET_RETURN_IGNORE_RENEW`: do not use the ticket; issue a new one.
const SSL_TICKET_RETURN_IGNORE_RENEW: c_int = 2;

/// A server's ticket-decryption callback: every ticket is ignored (a full handshake follows, as
/// for a ticket that does not decrypt). The ticket keys belong to the context, which sessions
/// with equal parameters share, and polytls does not resume sessions: without this, a client
/// could resume a session of one server on another and skip that one's verification hook.
unsafe extern "C" fn ignore_ticket(
    _ssl: *mut ffi::SSL,
    _session: *mut ffi::SSL_SESSION,
    _key_name: *const c_uchar,
    _key_name_len: usize,
    _status: c_int,
    _arg: *mut c_void,
) -> c_int {
    SSL_TICKET_RETURN_IGNORE_RENEW
}

/// An OpenSSL failure outside a session (allocation, library state) as an [`Error::Io`],
/// naming what was being done.
pub(crate) fn openssl_failure(what: &str, e: &ErrorStack) -> Error {
    Error::Io(std::io::Error::other(format!("{what}: {e}")))
}

/// OpenSSL's constant for a protocol version.
fn openssl_version(version: ProtocolVersion) -> Option<SslVersion> {
    match version {
        ProtocolVersion::Tls1_0 => Some(SslVersion::TLS1),
        ProtocolVersion::Tls1_1 => Some(SslVersion::TLS1_1),
        ProtocolVersion::Tls1_2 => Some(SslVersion::TLS1_2),
        ProtocolVersion::Tls1_3 => Some(SslVersion::TLS1_3),
        ProtocolVersion::Dtls1_0 | ProtocolVersion::Dtls1_2 | ProtocolVersion::Dtls1_3 => None,
    }
}

/// The name OpenSSL gives a suite in its cipher strings: the IANA name for TLS 1.3 suites,
/// OpenSSL's own (`ECDHE-RSA-AES128-GCM-SHA256`) for the others. `None` for suites polytls or
/// OpenSSL do not know by name.
fn openssl_cipher_name(cipher: &SslCipher) -> Option<String> {
    let iana = cipher.name();
    if iana.starts_with("0x") {
        return None;
    }
    if cipher.is_tls13() {
        return Some(iana);
    }
    let name = openssl::ssl::cipher_name(&iana);
    (name != "(NONE)").then(|| name.to_owned())
}

/// The suites this OpenSSL can negotiate: every suite polytls knows by name that OpenSSL
/// accepts in a cipher list (at security level 0, which the configuration uses for TLS 1.0
/// and 1.1). Computed once.
pub(crate) fn supported_ciphers() -> &'static [SslCipher] {
    static SUPPORTED: OnceLock<Vec<SslCipher>> = OnceLock::new();
    SUPPORTED.get_or_init(|| {
        SslCipher::known()
            .filter(|cipher| {
                let Some(name) = openssl_cipher_name(cipher) else {
                    return false;
                };
                let Ok(mut probe) = SslContextBuilder::new(SslMethod::tls()) else {
                    return false;
                };
                probe.set_security_level(0);
                if cipher.is_tls13() {
                    probe.set_ciphersuites(&name).is_ok()
                } else {
                    probe.set_cipher_list(&name).is_ok()
                }
            })
            .collect()
    })
}

/// Sets the version range; below TLS 1.2 the security level drops to 0, without which
/// OpenSSL 3 refuses TLS 1.0 and 1.1 (their handshake signatures use SHA-1).
///
/// Fails with [`Error::Unsupported`] for a selector naming no TLS version (DTLS).
fn set_versions(builder: &mut SslContextBuilder, config: &SslConfiguration) -> Result<(), Error> {
    let versions = config.protocol.tls_versions(&VERSIONS);
    let (Some(&min), Some(&max)) = (versions.first(), versions.last()) else {
        return Err(Error::unsupported(
            NAME,
            format!("protocol {}", config.protocol),
        ));
    };
    // OpenSSL refuses to start a handshake when no suite is enabled for its highest version:
    // a cipher list without TLS 1.3 suites caps the range at TLS 1.2.
    let has_tls13_suite = config
        .ciphers
        .as_ref()
        .map_or(true, |list| list.iter().any(SslCipher::is_tls13));
    let max = if !has_tls13_suite && min < ProtocolVersion::Tls1_3 {
        min.max(ProtocolVersion::Tls1_2).min(max)
    } else {
        max
    };
    let failed = |e: ErrorStack| openssl_failure("OpenSSL protocol versions", &e);
    builder
        .set_min_proto_version(openssl_version(min))
        .map_err(failed)?;
    builder
        .set_max_proto_version(openssl_version(max))
        .map_err(failed)?;
    if min < ProtocolVersion::Tls1_2 {
        builder.set_security_level(0);
    }
    Ok(())
}

/// Restricts the suites to `config.ciphers`, in its order (TLS and DTLS).
///
/// Fails with [`Error::Unsupported`] naming a suite this OpenSSL cannot negotiate, and with
/// [`Error::Io`] when OpenSSL refuses the list.
pub(crate) fn set_ciphers(
    builder: &mut SslContextBuilder,
    config: &SslConfiguration,
) -> Result<(), Error> {
    let Some(ciphers) = &config.ciphers else {
        return Ok(());
    };
    let supported = supported_ciphers();
    let mut tls13 = Vec::new();
    let mut tls12 = Vec::new();
    for cipher in ciphers {
        let name = supported
            .iter()
            .any(|s| s.id() == cipher.id())
            .then(|| openssl_cipher_name(cipher))
            .flatten()
            .ok_or_else(|| Error::unsupported(NAME, format!("cipher suite {}", cipher.name())))?;
        if cipher.is_tls13() {
            tls13.push(name);
        } else {
            tls12.push(name);
        }
    }
    let failed = |e: ErrorStack| openssl_failure("OpenSSL cipher list", &e);
    builder.set_ciphersuites(&tls13.join(":")).map_err(failed)?;
    if tls12.is_empty() {
        // OpenSSL installs the (TLS 1.3 only) list but reports that it holds no TLS 1.2
        // suite, which is the point here.
        let _ = builder.set_cipher_list("!ALL");
    } else {
        builder.set_cipher_list(&tls12.join(":")).map_err(failed)?;
    }
    Ok(())
}

/// Sets the options the configuration asks for and those every session uses.
fn set_options(builder: &mut SslContextBuilder, config: &SslConfiguration, server: bool) {
    // Renegotiation is refused both ways (a client answers a HelloRequest with a
    // no_renegotiation warning, a server a ClientHello): a second handshake inside `read` would
    // run the verification hook again and leave the session facts stale.
    let mut options = SslOptions::NO_COMPRESSION | SslOptions::NO_RENEGOTIATION;
    if config.test_ssl_option(SslOption::DisableEmptyFragments) {
        options |= SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
    }
    if config.test_ssl_option(SslOption::DisableSessionTickets) {
        options |= SslOptions::NO_TICKET;
        // TLS 1.3 servers would otherwise still send (stateful) tickets.
        let _ = builder.set_num_tickets(0);
    }
    if server && !config.test_ssl_option(SslOption::DisableServerCipherPreference) {
        options |= SslOptions::CIPHER_SERVER_PREFERENCE;
    }
    builder.set_options(options);
    // The engine's transport never blocks, so whole writes always complete; the configured
    // chain is sent as given, never completed from a store. `RELEASE_BUFFERS` is left off: with
    // OpenSSL reading and writing records on the caller's transport it cut memory per idle pair
    // from 118 to 69 KiB (0.60 of direct use) but in-memory bulk throughput by 2 to 4 %
    // (polytls-bench, 2026-11-22), below the 0.97 floor, as OpenSSL frees and reallocates its
    // record buffers for every record. Freeing them with `SSL_free_buffers` whenever the
    // transport would block instead (53 KiB per pair) cost 2 to 8 %.
    builder.set_mode(
        OpenSslMode::ENABLE_PARTIAL_WRITE
            | OpenSslMode::ACCEPT_MOVING_WRITE_BUFFER
            | OpenSslMode::NO_AUTO_CHAIN,
    );
    // polytls does not resume sessions yet; no cache to fill.
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);
}

/// A polytls private key as OpenSSL's.
///
/// Fails with [`Error::Key`] when OpenSSL cannot read it.
fn private_key(key: &Key) -> Result<PKey<Private>, Error> {
    let der = key.to_der();
    let parsed = match key.format() {
        KeyFormat::Pkcs8 => PKey::private_key_from_pkcs8(der),
        KeyFormat::Pkcs1 => Rsa::private_key_from_der(der).and_then(PKey::from_rsa),
        KeyFormat::Sec1 => EcKey::private_key_from_der(der).and_then(PKey::from_ec_key),
        // d2i_AutoPrivateKey reads the traditional DSA layout.
        KeyFormat::Dsa => PKey::private_key_from_der(der),
        KeyFormat::Spki => return Err(Error::Key("a public key cannot be used to sign".into())),
    };
    parsed
        .or_else(|_| PKey::private_key_from_der(der))
        .map_err(|e| Error::Key(format!("OpenSSL cannot use the private key: {e}")))
}

/// Installs the local certificate chain and private key.
pub(crate) fn set_identity(
    builder: &mut SslContextBuilder,
    config: &SslConfiguration,
) -> Result<(), Error> {
    let mut chain = config.local_certificate_chain.iter();
    if let Some(leaf) = chain.next() {
        let leaf = verify::to_x509(leaf)?;
        builder
            .set_certificate(&leaf)
            .map_err(|e| Error::Certificate(format!("OpenSSL rejects the certificate: {e}")))?;
        for cert in chain {
            builder
                .add_extra_chain_cert(verify::to_x509(cert)?)
                .map_err(|e| {
                    Error::Certificate(format!("OpenSSL rejects a chain certificate: {e}"))
                })?;
        }
    }
    if let Some(key) = &config.private_key {
        let key = private_key(key)?;
        builder
            .set_private_key(&key)
            .map_err(|e| Error::Key(format!("OpenSSL rejects the private key: {e}")))?;
        builder.check_private_key().map_err(|_| {
            Error::Key("the private key does not belong to the local certificate".into())
        })?;
    }
    Ok(())
}

/// The trust store when verifying, and a server's list of acceptable client CAs.
pub(crate) fn set_trust(
    builder: &mut SslContextBuilder,
    params: &EngineParams<'_>,
) -> Result<(), Error> {
    let config = params.config;
    if params.verify_mode == PeerVerifyMode::VerifyPeer {
        let store = match &config.ca_certificates {
            Some(list) => verify::store_of(list)?,
            None => verify::system_store()?,
        };
        builder
            .set_verify_cert_store(store)
            .map_err(|e| openssl_failure("OpenSSL trust store", &e))?;
    }
    let requests =
        params.mode == SslMode::SslServerMode && params.verify_mode != PeerVerifyMode::VerifyNone;
    if let (true, Some(list)) = (requests, &config.ca_certificates) {
        let mut names =
            Stack::<X509Name>::new().map_err(|e| openssl_failure("OpenSSL CA names", &e))?;
        for cert in list {
            let name = verify::to_x509(cert)?.subject_name().to_owned();
            let name = name.map_err(|e| openssl_failure("OpenSSL CA names", &e))?;
            names
                .push(name)
                .map_err(|e| openssl_failure("OpenSSL CA names", &e))?;
        }
        builder.set_client_ca_list(names);
    }
    verify::install_context(builder);
    Ok(())
}

/// The ALPN wire format: each name prefixed by its length. Names are 1 to 255 bytes (the
/// front end validated them).
fn alpn_wire(protocols: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for p in protocols {
        if let Ok(len) = u8::try_from(p.len()) {
            wire.push(len);
            wire.extend_from_slice(p);
        }
    }
    wire
}

/// The first of the server's `ours` that the client offered in `offered` (wire format), as a
/// slice of `offered`.
fn select_alpn<'a>(ours: &[Vec<u8>], offered: &'a [u8]) -> Option<&'a [u8]> {
    let mut names = Vec::new();
    let mut rest = offered;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if len == 0 || tail.len() < len {
            break;
        }
        names.push(&tail[..len]);
        rest = &tail[len..];
    }
    ours.iter()
        .find_map(|p| names.iter().find(|n| **n == p.as_slice()).copied())
}

/// Offers (client) or selects (server) ALPN protocols, for TLS and DTLS. A server with no
/// protocol in common with the client aborts with a `no_application_protocol` alert.
///
/// Fails with [`Error::InvalidInput`] when OpenSSL rejects a client's list.
pub(crate) fn set_alpn(
    builder: &mut SslContextBuilder,
    params: &EngineParams<'_>,
) -> Result<(), Error> {
    let protocols = &params.config.allowed_next_protocols;
    if protocols.is_empty() {
        return Ok(());
    }
    if params.mode == SslMode::SslServerMode {
        let ours = protocols.clone();
        builder.set_alpn_select_callback(move |_, offered| {
            select_alpn(&ours, offered).ok_or(AlpnError::ALERT_FATAL)
        });
        Ok(())
    } else {
        builder
            .set_alpn_protos(&alpn_wire(protocols))
            .map_err(|e| Error::InvalidInput(format!("OpenSSL rejects the ALPN list: {e}")))
    }
}

/// The OpenSSL context for sessions with these parameters (shared through `context_cache`:
/// nothing set here may depend on one session).
///
/// Fails with [`Error::Unsupported`] for settings this backend cannot honour (a protocol
/// outside TLS 1.0 to 1.3, an unknown cipher suite, elliptic curve choice, PSK, OCSP, session
/// tickets, interrupting handshakes), with [`Error::Certificate`] or [`Error::Key`] when OpenSSL
/// rejects the local identity or a CA certificate, with [`Error::InvalidInput`] for an
/// unencrypted mode, and with [`Error::Io`] when OpenSSL fails internally.
pub(crate) fn build_context(params: &EngineParams<'_>) -> Result<SslContext, Error> {
    let config = params.config;
    let server = match params.mode {
        SslMode::SslServerMode => true,
        SslMode::SslClientMode => false,
        SslMode::UnencryptedMode => {
            return Err(Error::InvalidInput(
                "a TLS engine needs client or server mode".into(),
            ))
        }
    };
    let mut builder = SslContextBuilder::new(SslMethod::tls())
        .map_err(|e| openssl_failure("OpenSSL context", &e))?;
    set_versions(&mut builder, config)?;
    set_ciphers(&mut builder, config)?;
    set_options(&mut builder, config, server);
    set_identity(&mut builder, config)?;
    set_trust(&mut builder, params)?;
    set_alpn(&mut builder, params)?;
    if server {
        builder
            .set_session_id_context(b"polytls")
            .map_err(|e| openssl_failure("OpenSSL session context", &e))?;
        // SAFETY: the context pointer is valid for the builder's lifetime; the call only sets
        // a flag (use built-in DH groups sized to the certificate for DHE suites).
        unsafe {
            ffi::SSL_CTX_set_dh_auto(builder.as_ptr(), 1);
        }
        // SAFETY: as above; the callback is a plain function with the signature OpenSSL
        // expects, no ticket-generation callback is set and the argument is unused (null).
        let set = unsafe {
            SSL_CTX_set_session_ticket_cb(
                builder.as_ptr(),
                None,
                Some(ignore_ticket),
                std::ptr::null_mut(),
            )
        };
        if set != 1 {
            return Err(openssl_failure(
                "OpenSSL session tickets",
                &ErrorStack::get(),
            ));
        }
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_prefers_the_servers_order() {
        let ours = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let offered = alpn_wire(&[b"http/1.1".to_vec(), b"h2".to_vec()]);
        assert_eq!(select_alpn(&ours, &offered), Some(&b"h2"[..]));
        assert_eq!(select_alpn(&ours, &alpn_wire(&[b"x".to_vec()])), None);
        assert_eq!(select_alpn(&ours, b"\x05h2"), None);
    }

    #[test]
    fn known_suites_have_openssl_names() {
        let names: Vec<String> = supported_ciphers()
            .iter()
            .filter_map(openssl_cipher_name)
            .collect();
        assert!(names.contains(&"TLS_AES_128_GCM_SHA256".to_owned()));
        assert!(names.contains(&"ECDHE-RSA-AES128-GCM-SHA256".to_owned()));
        assert_eq!(names.len(), supported_ciphers().len());
    }
}
