//! OpenSSL's info callback, reporting each alert a session sends or receives to the front
//! end's hook ([`VerificationHook::alert`](polytls_core::VerificationHook::alert)), on every
//! TLS session (a handler may be set once a session has started; the front end drops the
//! alerts nobody listens to).

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use foreign_types::ForeignTypeRef;
use openssl::ssl::SslRef;
use openssl_sys as ffi;
use polytls_core::{AlertLevel, AlertType};

use crate::verify;

extern "C" {
    // Every OpenSSL version; not declared by `openssl-sys`.
    fn SSL_set_info_callback(
        ssl: *mut ffi::SSL,
        callback: Option<unsafe extern "C" fn(*const ffi::SSL, c_int, c_int)>,
    );
}

/// `SSL_CB_READ`, `SSL_CB_WRITE` and `SSL_CB_ALERT` from `ssl.h`.
const SSL_CB_READ: c_int = 0x04;
const SSL_CB_WRITE: c_int = 0x08;
const SSL_CB_ALERT: c_int = 0x4000;

/// Reports the session's alerts to the hook of its verification state (which
/// [`verify::install`] set up before).
pub(crate) fn install(ssl: &mut SslRef) {
    // SAFETY: the `Ssl` is valid; the callback is a plain function with the signature OpenSSL
    // expects, and it reads only what the `Ssl` holds.
    unsafe { SSL_set_info_callback(ssl.as_ptr(), Some(info_callback)) }
}

/// For an alert, `ret` holds its level in the high byte and its description in the low byte;
/// `where_` says whether it was read or written.
unsafe extern "C" fn info_callback(ssl: *const ffi::SSL, where_: c_int, ret: c_int) {
    if where_ & SSL_CB_ALERT == 0 || where_ & (SSL_CB_READ | SSL_CB_WRITE) == 0 {
        return;
    }
    // A panic must not cross into OpenSSL; the hook only queues the alert.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: OpenSSL passes the session the callback was installed on, alive for the
        // length of the call; it is only read here.
        let ssl = unsafe { SslRef::from_ptr(ssl.cast_mut()) };
        if let Some(state) = verify::state_of_ssl(ssl) {
            let level = AlertLevel::from_code(((ret >> 8) & 0xff) as u8);
            let kind = AlertType::from_code((ret & 0xff) as u8);
            state.alert(where_ & SSL_CB_WRITE != 0, level, kind);
        }
    }));
}
