//! Pre-shared keys: OpenSSL's PSK callbacks turned into one
//! [`VerificationHook::pre_shared_key`] call per handshake.
//!
//! The callbacks are set on the session (never on the shared context), and only when the front
//! end has a PSK handler: OpenSSL offers and accepts PSK cipher suites only on a session with a
//! callback, so a session without a handler negotiates exactly as before. Each callback finds the
//! hook through the session's [`VerifyState`](crate::verify::VerifyState).
//!
//! PSK is used in TLS 1.2 and DTLS 1.2, as in Qt: OpenSSL would also call the callbacks for a
//! TLS 1.3 external PSK (a client while building its first ClientHello, before it has heard from
//! the server; a server for a client that offers one), and both callbacks decline there, so
//! TLS 1.3 handshakes authenticate with certificates.

use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use foreign_types::ForeignTypeRef;
use openssl::ssl::SslRef;
use openssl_sys as ffi;
use polytls_core::{Error, PreSharedKeyAuthenticator};

use crate::config::openssl_failure;
use crate::verify;

/// OpenSSL's `SSL_psk_client_cb_func`.
type ClientCallback = unsafe extern "C" fn(
    *mut ffi::SSL,
    *const c_char,
    *mut c_char,
    c_uint,
    *mut u8,
    c_uint,
) -> c_uint;

/// OpenSSL's `SSL_psk_server_cb_func`.
type ServerCallback = unsafe extern "C" fn(*mut ffi::SSL, *const c_char, *mut u8, c_uint) -> c_uint;

extern "C" {
    // These exist in every OpenSSL since 1.0.0 but are not declared by `openssl-sys` (which
    // declares only the context-wide setters).
    fn SSL_set_psk_client_callback(ssl: *mut ffi::SSL, cb: Option<ClientCallback>);
    fn SSL_set_psk_server_callback(ssl: *mut ffi::SSL, cb: Option<ServerCallback>);
    fn SSL_use_psk_identity_hint(ssl: *mut ffi::SSL, hint: *const c_char) -> c_int;
}

/// OpenSSL's `TLS1_3_VERSION`.
const TLS1_3_VERSION: c_int = 0x0304;

/// OpenSSL's longest identity hint (`PSK_MAX_IDENTITY_LEN`).
const MAX_HINT_LEN: usize = 256;

/// Makes `ssl` offer (client) or accept (server) PSK cipher suites, asking the session's hook for
/// the key; a server sends `hint` (when given) as its identity hint.
///
/// Fails with [`Error::InvalidInput`] for a hint with a NUL byte or longer than 256 bytes, and
/// with [`Error::Io`] when OpenSSL refuses the hint.
pub(crate) fn install(ssl: &mut SslRef, server: bool, hint: Option<&[u8]>) -> Result<(), Error> {
    // SAFETY: `ssl` is a valid session owned by the caller; the callbacks are plain functions
    // with the signatures OpenSSL expects, and they reach no state but the session's own.
    unsafe {
        if server {
            SSL_set_psk_server_callback(ssl.as_ptr(), Some(server_callback));
        } else {
            SSL_set_psk_client_callback(ssl.as_ptr(), Some(client_callback));
        }
    }
    let Some(hint) = hint.filter(|_| server) else {
        return Ok(());
    };
    let shown = String::from_utf8_lossy(hint);
    if hint.len() > MAX_HINT_LEN {
        return Err(Error::InvalidInput(format!(
            "the pre-shared key identity hint \"{shown}\" is {} bytes, more than {MAX_HINT_LEN}",
            hint.len()
        )));
    }
    let hint = CString::new(hint).map_err(|_| {
        Error::InvalidInput(format!(
            "the pre-shared key identity hint \"{shown}\" holds a NUL byte"
        ))
    })?;
    // SAFETY: `ssl` is valid and `hint` is a NUL-terminated string OpenSSL copies.
    if unsafe { SSL_use_psk_identity_hint(ssl.as_ptr(), hint.as_ptr()) } != 1 {
        let stack = openssl::error::ErrorStack::get();
        return Err(openssl_failure("OpenSSL PSK identity hint", &stack));
    }
    Ok(())
}

/// Whether the session is negotiating TLS 1.3 (where both callbacks decline, see the module
/// documentation).
fn is_tls13(ssl: *mut ffi::SSL) -> bool {
    // SAFETY: OpenSSL passes the session whose handshake calls the callback.
    unsafe { ffi::SSL_version(ssl) == TLS1_3_VERSION }
}

/// Asks the hook of `ssl` to fill in `auth`; false when the session has no hook or the hook
/// refuses (a panic refuses too: it must not cross into C).
fn ask(ssl: *mut ffi::SSL, auth: &mut PreSharedKeyAuthenticator) -> bool {
    // SAFETY: OpenSSL passes the session whose handshake calls the callback; it stays valid for
    // the call.
    let ssl = unsafe { SslRef::from_ptr(ssl) };
    let Some(state) = verify::state_of_ssl(ssl) else {
        return false;
    };
    catch_unwind(AssertUnwindSafe(|| state.hook().pre_shared_key(auth))).unwrap_or(false)
}

/// Copies the key of `auth` to OpenSSL's buffer of `max` bytes at `out`, returning its length.
///
/// # Safety
///
/// `out` must be valid for writes of `max` bytes.
unsafe fn give_key(auth: &PreSharedKeyAuthenticator, out: *mut u8, max: c_uint) -> c_uint {
    let key = auth.pre_shared_key();
    let Ok(len) = c_uint::try_from(key.len()) else {
        return 0;
    };
    if len == 0 || len > max {
        return 0;
    }
    // SAFETY: `out` holds `max >= len` bytes (the caller's promise); `key` is another buffer.
    unsafe { std::ptr::copy_nonoverlapping(key.as_ptr(), out, key.len()) };
    len
}

/// The bytes of a C string OpenSSL passed, or an empty slice for NULL.
///
/// # Safety
///
/// `text` must be NULL or a NUL-terminated string that outlives the returned slice.
unsafe fn bytes<'a>(text: *const c_char) -> &'a [u8] {
    if text.is_null() {
        &[]
    } else {
        // SAFETY: the caller's promise.
        unsafe { CStr::from_ptr(text) }.to_bytes()
    }
}

/// OpenSSL's client PSK callback: the hook gets the server's hint and gives the identity (written
/// NUL-terminated to `identity`, `max_identity` bytes) and the key (to `psk`, `max_psk` bytes).
/// Returns the key's length, or 0 to fail the handshake.
unsafe extern "C" fn client_callback(
    ssl: *mut ffi::SSL,
    hint: *const c_char,
    identity: *mut c_char,
    max_identity: c_uint,
    psk: *mut u8,
    max_psk: c_uint,
) -> c_uint {
    if ssl.is_null() || identity.is_null() || psk.is_null() || max_identity == 0 || is_tls13(ssl) {
        return 0;
    }
    // SAFETY: OpenSSL passes NULL or the hint it received, valid for the call.
    let hint = unsafe { bytes(hint) };
    // One byte of `identity` is the terminating NUL.
    let mut auth =
        PreSharedKeyAuthenticator::for_client(hint, max_identity as usize - 1, max_psk as usize);
    if !ask(ssl, &mut auth) {
        return 0;
    }
    let id = auth.identity();
    if id.len() >= max_identity as usize || id.contains(&0) {
        return 0;
    }
    // SAFETY: `identity` holds `max_identity > id.len()` bytes and `psk` holds `max_psk` bytes
    // (OpenSSL's buffers for this call).
    unsafe {
        std::ptr::copy_nonoverlapping(id.as_ptr(), identity.cast::<u8>(), id.len());
        *identity.add(id.len()) = 0;
        give_key(&auth, psk, max_psk)
    }
}

/// OpenSSL's server PSK callback: the hook gets the client's identity and gives the key (to
/// `psk`, `max_psk` bytes). Returns the key's length, or 0 to fail the handshake (OpenSSL then
/// sends `unknown_psk_identity`).
unsafe extern "C" fn server_callback(
    ssl: *mut ffi::SSL,
    identity: *const c_char,
    psk: *mut u8,
    max_psk: c_uint,
) -> c_uint {
    if ssl.is_null() || psk.is_null() || is_tls13(ssl) {
        return 0;
    }
    // SAFETY: OpenSSL passes NULL or the identity it received, valid for the call.
    let identity = unsafe { bytes(identity) };
    let mut auth = PreSharedKeyAuthenticator::for_server(identity, max_psk as usize);
    if !ask(ssl, &mut auth) {
        return 0;
    }
    // SAFETY: `psk` holds `max_psk` bytes (OpenSSL's buffer for this call).
    unsafe { give_key(&auth, psk, max_psk) }
}
