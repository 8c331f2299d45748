//! Peer verification: OpenSSL's chain and host name checks turned into polytls'
//! [`SslError`]s, and the front end's [`VerificationHook`] asked once per handshake.
//!
//! Each session's `Ssl` carries a [`VerifyState`] in its extra data. Its verify callback records
//! every problem OpenSSL reports (error code and the certificate at the depth it concerns) and
//! lets verification go on. The context's certificate-verify callback, which OpenSSL calls in
//! place of its own chain verification, runs that verification, maps the recorded codes to
//! [`SslErrorKind`]s, hands them with the peer's chain to the hook and returns its verdict: a
//! refusal makes OpenSSL abort the handshake with a fatal alert matching the first problem (or
//! `bad_certificate`).
//!
//! The module also builds the trust stores: the caller's CA certificates, or the system's as
//! OpenSSL finds them (`SSL_CERT_FILE` / `SSL_CERT_DIR` or the compiled-in defaults).

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContextBuilder, SslRef, SslVerifyMode};
use openssl::stack::Stack;
use openssl::stack::StackRef;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::verify::{X509CheckFlags, X509VerifyParamRef};
use openssl::x509::{
    X509Crl, X509Ref, X509StoreContext, X509StoreContextRef, X509VerifyResult, X509,
};
use openssl_sys as ffi;
use polytls_core::{
    Certificate, ChainVerification, EngineParams, Error, PeerName, PeerVerifyMode, Purpose,
    SslError, SslErrorKind, SslMode, VerificationHook,
};

use crate::config::openssl_failure;

extern "C" {
    // These exist in every OpenSSL since 1.1.0 but are not declared by `openssl-sys`.
    fn SSL_CTX_set_cert_verify_callback(
        ctx: *mut ffi::SSL_CTX,
        cb: Option<unsafe extern "C" fn(*mut ffi::X509_STORE_CTX, *mut c_void) -> c_int>,
        arg: *mut c_void,
    );
    fn X509_STORE_CTX_get0_untrusted(ctx: *mut ffi::X509_STORE_CTX) -> *mut ffi::stack_st_X509;
    fn X509_STORE_up_ref(store: *mut ffi::X509_STORE) -> c_int;
    fn X509_STORE_CTX_get0_param(ctx: *mut ffi::X509_STORE_CTX) -> *mut ffi::X509_VERIFY_PARAM;
    fn X509_STORE_CTX_set_default(ctx: *mut ffi::X509_STORE_CTX, name: *const c_char) -> c_int;
    fn X509_STORE_CTX_set_verify_cb(
        ctx: *mut ffi::X509_STORE_CTX,
        cb: Option<unsafe extern "C" fn(c_int, *mut ffi::X509_STORE_CTX) -> c_int>,
    );
    fn X509_STORE_CTX_set0_crls(ctx: *mut ffi::X509_STORE_CTX, crls: *mut ffi::stack_st_X509_CRL);
}

/// The verification flags of every chain check, in handshakes and outside them: a trusted
/// certificate is a trust anchor whether or not it is self-signed (partial chains); with
/// `strict`, RFC 5280's profile (`X509_V_FLAG_X509_STRICT`).
fn profile_flags(strict: bool) -> X509VerifyFlags {
    if strict {
        X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::X509_STRICT
    } else {
        X509VerifyFlags::PARTIAL_CHAIN
    }
}

/// One problem OpenSSL reported while verifying a chain.
struct Found {
    code: c_int,
    certificate: Option<X509>,
}

/// The verification side of one session, shared by its two callbacks and its engine.
pub(crate) struct VerifyState {
    /// Whether this session verifies its peer (`VerifyPeer`); otherwise every chain is accepted
    /// without looking at it and the hook is never called.
    verify_peer: bool,
    hook: Arc<dyn VerificationHook>,
    found: Mutex<Vec<Found>>,
    /// The peer's certificates as the last verification converted them for the hook, each with
    /// the OpenSSL certificate it came from (held, so that its address identifies it), so that
    /// the engine's session report does not encode and parse them again.
    converted: Mutex<Vec<(X509, Certificate)>>,
    /// The name a client checks the server's certificate against, for its errors.
    peer_name: Option<String>,
}

impl VerifyState {
    /// The front end's hook for this session.
    pub(crate) fn hook(&self) -> &dyn VerificationHook {
        &*self.hook
    }

    fn found(&self) -> MutexGuard<'_, Vec<Found>> {
        self.found
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn converted(&self) -> MutexGuard<'_, Vec<(X509, Certificate)>> {
        self.converted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `cert` as polytls' [`Certificate`], as [`to_peer_certificate`] gives it; taken from the last
    /// verification when it converted this very certificate object.
    pub(crate) fn certificate(&self, cert: &X509Ref) -> Option<Certificate> {
        let known = self
            .converted()
            .iter()
            .find(|(x509, _)| x509.as_ptr() == cert.as_ptr())
            .map(|(_, converted)| converted.clone());
        known.or_else(|| to_peer_certificate(cert))
    }

    /// Records the problem the store context reports now.
    fn record(&self, ctx: &X509StoreContextRef) {
        self.found().push(Found {
            code: ctx.error().as_raw(),
            certificate: ctx.current_cert().map(ToOwned::to_owned),
        });
    }
}

/// The extra-data slot of an `Ssl` that `slot` holds, made on first use.
///
/// Fails when OpenSSL cannot make a slot.
pub(crate) fn ssl_ex_index<T: Send + Sync + 'static>(
    slot: &OnceLock<Index<Ssl, T>>,
) -> Result<Index<Ssl, T>, ErrorStack> {
    if let Some(index) = slot.get() {
        return Ok(*index);
    }
    let index = Ssl::new_ex_index()?;
    // Two threads racing here waste one slot; both get the stored one.
    Ok(*slot.get_or_init(|| index))
}

/// The extra-data slot of an `Ssl` holding its [`VerifyState`].
fn state_index() -> Result<Index<Ssl, Arc<VerifyState>>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, Arc<VerifyState>>> = OnceLock::new();
    ssl_ex_index(&INDEX)
}

/// Installs the certificate-verify callback on a context under construction.
pub(crate) fn install_context(builder: &mut SslContextBuilder) {
    // SAFETY: the context pointer is valid for the builder's lifetime; the callback is a plain
    // function with the signature OpenSSL expects, and the argument is unused (null).
    unsafe {
        SSL_CTX_set_cert_verify_callback(
            builder.as_ptr(),
            Some(cert_verify_callback),
            std::ptr::null_mut(),
        );
    }
}

/// Sets up verification on one session: its state, whether a certificate is requested or
/// checked, and (client, `VerifyPeer`) the name the server's certificate must match.
///
/// Fails with [`Error::InvalidInput`] when the peer name cannot be used as a host name, and
/// with [`Error::Io`] when OpenSSL cannot allocate the session's state.
pub(crate) fn install(
    ssl: &mut SslRef,
    params: &EngineParams<'_>,
) -> Result<Arc<VerifyState>, Error> {
    let server = params.mode == SslMode::SslServerMode;
    let verify_peer = params.verify_mode == PeerVerifyMode::VerifyPeer;
    let state = Arc::new(VerifyState {
        verify_peer,
        hook: params.verifier.clone(),
        found: Mutex::new(Vec::new()),
        converted: Mutex::new(Vec::new()),
        peer_name: params
            .peer_name
            .filter(|_| !server && verify_peer)
            .map(ToString::to_string),
    });
    let callback_state = Arc::clone(&state);
    let index = state_index().map_err(|e| openssl_failure("OpenSSL extra data", &e))?;
    ssl.set_ex_data(index, state.clone());
    // A server asks for a certificate unless told not to, and insists (refusing a client
    // without one inside the handshake, with the protocol's alert) only when the front end
    // says a missing certificate cannot be accepted; otherwise core reports a missing one. A client makes OpenSSL act on our verdict only when it verifies.
    let mode = match (server, params.verify_mode) {
        (true, PeerVerifyMode::VerifyNone) => SslVerifyMode::NONE,
        (true, PeerVerifyMode::VerifyPeer) if params.require_peer_certificate => {
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
        }
        (true, _) => SslVerifyMode::PEER,
        (false, _) if verify_peer => SslVerifyMode::PEER,
        (false, _) => SslVerifyMode::NONE,
    };
    ssl.set_verify_callback(mode, move |ok, ctx| {
        if !ok {
            callback_state.record(ctx);
        }
        true
    });
    let depth = params.config.peer_verify_depth;
    if depth > 0 {
        ssl.param_mut()
            .set_depth(c_int::try_from(depth).unwrap_or(c_int::MAX));
    }
    let param = ssl.param_mut();
    param
        .set_flags(profile_flags(params.config.strict_certificate_profile))
        .map_err(|e| openssl_failure("OpenSSL verification flags", &e))?;
    param.set_auth_level(params.config.key_strength.openssl_level());
    if let (false, true, Some(name)) = (server, verify_peer, params.peer_name) {
        expect_host(ssl.param_mut(), name)?;
    }
    Ok(state)
}

/// Makes verification with `param` check that the leaf is valid for `name`, by its subject
/// alternative names only.
///
/// Fails with [`Error::InvalidInput`] when OpenSSL refuses the name.
pub(crate) fn expect_host(param: &mut X509VerifyParamRef, name: &PeerName) -> Result<(), Error> {
    param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS | X509CheckFlags::NEVER_CHECK_SUBJECT);
    let set = match name {
        PeerName::Ip(ip) => param.set_ip(*ip),
        PeerName::Dns(host) => param.set_host(host),
    };
    set.map_err(|e| Error::InvalidInput(format!("'{name}' cannot be verified as a host name: {e}")))
}

/// OpenSSL's certificate-verify callback: verifies the chain in `ctx` as [`verify_chain`]
/// describes and returns 1 to go on with the handshake, 0 to abort it.
unsafe extern "C" fn cert_verify_callback(
    ctx: *mut ffi::X509_STORE_CTX,
    _arg: *mut c_void,
) -> c_int {
    if ctx.is_null() {
        return 0;
    }
    // SAFETY: OpenSSL passes the store context it is verifying with; it is valid and used by
    // nothing else for the duration of this call.
    let ctx = unsafe { X509StoreContextRef::from_ptr_mut(ctx) };
    // A panic must not cross into C; a hook that panics refuses the peer.
    let accepted = catch_unwind(AssertUnwindSafe(|| verify_chain(ctx))).unwrap_or(false);
    c_int::from(accepted)
}

impl VerifyState {
    /// Passes an alert the session sent (`sent`) or received to the front end's hook.
    pub(crate) fn alert(
        &self,
        sent: bool,
        level: polytls_core::AlertLevel,
        kind: polytls_core::AlertType,
    ) {
        self.hook.alert(sent, level, kind);
    }
}

/// The verification state of a session, if [`install`] set it up.
pub(crate) fn state_of_ssl(ssl: &SslRef) -> Option<Arc<VerifyState>> {
    ssl.ex_data(state_index().ok()?).cloned()
}

/// The session state of the `Ssl` a store context verifies for.
fn state_of(ctx: &X509StoreContextRef) -> Option<Arc<VerifyState>> {
    state_of_ssl(ctx.ex_data(X509StoreContext::ssl_idx().ok()?)?)
}

/// Verifies the peer's chain, collecting every problem, and asks the hook. Returns whether the
/// handshake goes on.
fn verify_chain(ctx: &mut X509StoreContextRef) -> bool {
    let Some(state) = state_of(ctx) else {
        return false;
    };
    if !state.verify_peer {
        return true;
    }
    state.found().clear();
    let completed = matches!(ctx.verify_cert(), Ok(true));
    let mut found = std::mem::take(&mut *state.found());
    add_unreported(ctx, completed, &mut found);
    let converted = peer_chain(ctx);
    let chain: Vec<Certificate> = converted.iter().map(|(_, cert)| cert.clone()).collect();
    *state.converted() = converted;
    let mut errors = ssl_errors(&found);
    if let Some(name) = &state.peer_name {
        polytls_core::ssl_error::name_mismatches(&mut errors, name);
    }
    let accepted = state.hook.decide(&chain, errors);
    if accepted {
        ctx.set_error(X509VerifyResult::OK);
    } else if ctx.error() == X509VerifyResult::OK {
        // SAFETY: `from_raw` only wraps the code; any code is a valid verify result.
        ctx.set_error(unsafe { X509VerifyResult::from_raw(ffi::X509_V_ERR_CERT_REJECTED) });
    }
    accepted
}

/// Adds the failure that ended verification when OpenSSL did not report it through the verify
/// callback.
fn add_unreported(ctx: &X509StoreContextRef, completed: bool, found: &mut Vec<Found>) {
    let last = ctx.error().as_raw();
    if !completed && last != ffi::X509_V_OK && !found.iter().any(|f| f.code == last) {
        found.push(Found {
            code: last,
            certificate: ctx.current_cert().map(ToOwned::to_owned),
        });
    }
}

thread_local! {
    /// The problems found by the chain verification running on this thread outside a
    /// handshake ([`verify_standalone`]).
    static STANDALONE: RefCell<Vec<Found>> = const { RefCell::new(Vec::new()) };
}

/// The verify callback of [`verify_standalone`]: records each problem and goes on.
unsafe extern "C" fn record_standalone(ok: c_int, ctx: *mut ffi::X509_STORE_CTX) -> c_int {
    if ok == 0 && !ctx.is_null() {
        // SAFETY: OpenSSL passes the store context it is verifying with, valid for this call.
        let ctx = unsafe { X509StoreContextRef::from_ptr(ctx) };
        let found = Found {
            code: ctx.error().as_raw(),
            certificate: ctx.current_cert().map(ToOwned::to_owned),
        };
        // Fails only while the thread is being torn down; nothing is verifying then.
        let _ = STANDALONE.try_with(|list| list.borrow_mut().push(found));
    }
    1
}

/// Verifies a chain outside a handshake with `X509_verify_cert` and the request's settings
/// (see [`configure_standalone`]; host name by subject alternative names; with CRLs, the
/// leaf's status through `X509_V_FLAG_CRL_CHECK`), collecting every problem.
///
/// Fails with [`Error::InvalidInput`] for an empty chain or a host name OpenSSL cannot check,
/// [`Error::Certificate`] when OpenSSL cannot read a certificate or a CRL, and [`Error::Io`]
/// when it cannot allocate.
pub(crate) fn verify_standalone(request: &ChainVerification<'_>) -> Result<Vec<SslError>, Error> {
    let Some((leaf, rest)) = request.chain.split_first() else {
        return Err(Error::InvalidInput(
            "an empty chain cannot be verified".into(),
        ));
    };
    let store = match request.ca_certificates {
        Some(anchors) => store_of(anchors)?,
        None => system_store()?,
    };
    let leaf = to_x509(leaf)?;
    let failure = |e: ErrorStack| openssl_failure("OpenSSL chain verification", &e);
    let mut untrusted = Stack::new().map_err(failure)?;
    for cert in rest {
        untrusted.push(to_x509(cert)?).map_err(failure)?;
    }
    let crls = request
        .crls
        .iter()
        .map(|crl| X509Crl::from_der(crl.to_der()))
        .collect::<Result<Vec<X509Crl>, ErrorStack>>()
        .map_err(|e| Error::Certificate(format!("OpenSSL cannot read a CRL: {e}")))?;
    let crls = CrlStack::new(&crls).map_err(failure)?;
    let mut ctx = X509StoreContext::new().map_err(failure)?;
    let mut setup = Ok(());
    let found = ctx
        .init(&store, &leaf, &untrusted, |ctx| {
            setup = configure_standalone(ctx, request);
            if setup.is_err() {
                return Ok(Vec::new());
            }
            if !request.crls.is_empty() {
                // SAFETY: `ctx` is initialised; the stack outlives the verification below (it
                // is dropped after `init` returns), and OpenSSL only reads it.
                unsafe { X509_STORE_CTX_set0_crls(ctx.as_ptr(), crls.0) };
            }
            STANDALONE.with(|list| list.borrow_mut().clear());
            let completed = matches!(ctx.verify_cert(), Ok(true));
            let mut found = STANDALONE.with(|list| std::mem::take(&mut *list.borrow_mut()));
            add_unreported(ctx, completed, &mut found);
            Ok(found)
        })
        .map_err(failure)?;
    setup?;
    let mut errors = ssl_errors(&found);
    if let Some(name) = request.host_name {
        polytls_core::ssl_error::name_mismatches(&mut errors, &name.to_string());
    }
    for problem in request.policy_problems() {
        if !errors.contains(&problem) {
            errors.push(problem);
        }
    }
    Ok(errors)
}

/// Gives a freshly initialised store context the request's settings: OpenSSL's parameters
/// for the purpose (`ssl_server` as a client's handshake uses, `ssl_client`, or `default` for
/// none), the profile's flags and key strength, the time, depth, host name and CRL check.
fn configure_standalone(
    ctx: &mut X509StoreContextRef,
    request: &ChainVerification<'_>,
) -> Result<(), Error> {
    let purpose = match request.purpose {
        Some(Purpose::ServerAuth) => c"ssl_server",
        Some(Purpose::ClientAuth) => c"ssl_client",
        None => c"default",
    };
    // SAFETY: `ctx` is a valid, initialised store context owned by the caller for this call;
    // the name is a NUL-terminated static string; the callback has the signature OpenSSL
    // expects and touches only the context it is handed and a thread-local list.
    let param = unsafe {
        if X509_STORE_CTX_set_default(ctx.as_ptr(), purpose.as_ptr()) != 1 {
            return Err(openssl_failure(
                "OpenSSL chain verification",
                &ErrorStack::get(),
            ));
        }
        X509_STORE_CTX_set_verify_cb(ctx.as_ptr(), Some(record_standalone));
        X509_STORE_CTX_get0_param(ctx.as_ptr())
    };
    if param.is_null() {
        return Err(openssl_failure(
            "OpenSSL chain verification",
            &ErrorStack::get(),
        ));
    }
    // SAFETY: a non-null parameter block owned by `ctx`, which the caller borrows mutably for
    // as long as this reference lives.
    let param = unsafe { X509VerifyParamRef::from_ptr_mut(param) };
    if let Some(depth) = request.depth {
        param.set_depth(c_int::try_from(depth).unwrap_or(c_int::MAX));
    }
    let mut flags = profile_flags(request.strict);
    if !request.crls.is_empty() {
        flags |= X509VerifyFlags::CRL_CHECK;
    }
    param
        .set_flags(flags)
        .map_err(|e| openssl_failure("OpenSSL verification flags", &e))?;
    param.set_auth_level(request.key_strength.openssl_level());
    if let Some(time) = request.time {
        param.set_time(unix_time(time));
    }
    if let Some(name) = request.host_name {
        expect_host(param, name)?;
    }
    Ok(())
}

/// A `STACK_OF(X509_CRL)` that borrows its CRLs (the `openssl` crate has no stack of CRLs).
struct CrlStack<'a>(
    *mut ffi::stack_st_X509_CRL,
    std::marker::PhantomData<&'a [X509Crl]>,
);

impl<'a> CrlStack<'a> {
    /// A stack holding (not owning) `crls`.
    fn new(crls: &'a [X509Crl]) -> Result<CrlStack<'a>, ErrorStack> {
        // SAFETY: creating an empty stack has no precondition; null means allocation failed.
        let stack = unsafe { ffi::OPENSSL_sk_new_null() };
        if stack.is_null() {
            return Err(ErrorStack::get());
        }
        let owned = CrlStack(stack.cast(), std::marker::PhantomData);
        for crl in crls {
            // SAFETY: `stack` is a valid stack; each pointer is a CRL that `crls` keeps alive for
            // `'a`, the stack's whole life, and the stack never frees its elements.
            if unsafe { ffi::OPENSSL_sk_push(stack, crl.as_ptr().cast()) } <= 0 {
                return Err(ErrorStack::get());
            }
        }
        Ok(owned)
    }
}

impl Drop for CrlStack<'_> {
    fn drop(&mut self) {
        // SAFETY: the stack was made by `OPENSSL_sk_new_null` and is freed once; its elements
        // belong to the caller and are not freed here.
        unsafe { ffi::OPENSSL_sk_free(self.0.cast()) };
    }
}

/// `time` as a `time_t`, clamped to its range.
fn unix_time(time: SystemTime) -> libc::time_t {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    libc::time_t::try_from(seconds).unwrap_or(if seconds < 0 {
        libc::time_t::MIN
    } else {
        libc::time_t::MAX
    })
}

/// The chain the peer sent, leaf first, as OpenSSL handed it to the verification: each
/// certificate polytls can parse, with the OpenSSL object it came from.
fn peer_chain(ctx: &mut X509StoreContextRef) -> Vec<(X509, Certificate)> {
    // SAFETY: `ctx` is a valid store context; the returned stack (or null) is owned by it and
    // stays valid while `ctx` is borrowed.
    let stack = unsafe { X509_STORE_CTX_get0_untrusted(ctx.as_ptr()) };
    if stack.is_null() {
        return Vec::new();
    }
    // SAFETY: `stack` is a non-null STACK_OF(X509) owned by `ctx`, see above.
    let stack: &StackRef<X509> = unsafe { StackRef::from_ptr(stack) };
    stack
        .iter()
        .filter_map(|x509| Some((x509.to_owned(), to_peer_certificate(x509)?)))
        .collect()
}

/// A certificate OpenSSL holds as polytls' [`Certificate`], or `None` when it cannot be encoded
/// or parsed.
pub(crate) fn to_certificate(cert: &openssl::x509::X509Ref) -> Option<Certificate> {
    cert.to_der()
        .ok()
        .and_then(|der| Certificate::from_der(&der).ok())
}

/// A certificate OpenSSL has parsed for a verification (a peer's, or an anchor it reached) as
/// polytls' [`Certificate`], without parsing it again ([`Certificate::from_peer_der`]); `None`
/// when it cannot be encoded.
fn to_peer_certificate(cert: &openssl::x509::X509Ref) -> Option<Certificate> {
    cert.to_der()
        .ok()
        .and_then(|der| Certificate::from_peer_der(&der).ok())
}

/// The polytls kind of an `X509_V_ERR_*` code.
fn kind_of(code: c_int) -> SslErrorKind {
    use SslErrorKind::*;
    match code {
        ffi::X509_V_OK => NoError,
        ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT => UnableToGetIssuerCertificate,
        ffi::X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE => UnableToDecryptCertificateSignature,
        ffi::X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY => UnableToDecodeIssuerPublicKey,
        ffi::X509_V_ERR_CERT_SIGNATURE_FAILURE => CertificateSignatureFailed,
        ffi::X509_V_ERR_CERT_NOT_YET_VALID => CertificateNotYetValid,
        ffi::X509_V_ERR_CERT_HAS_EXPIRED => CertificateExpired,
        ffi::X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD => InvalidNotBeforeField,
        ffi::X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD => InvalidNotAfterField,
        ffi::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT => SelfSignedCertificate,
        ffi::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN => SelfSignedCertificateInChain,
        ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY => UnableToGetLocalIssuerCertificate,
        ffi::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE => UnableToVerifyFirstCertificate,
        ffi::X509_V_ERR_CERT_REVOKED => CertificateRevoked,
        ffi::X509_V_ERR_INVALID_CA => InvalidCaCertificate,
        // A chain longer than the peer verify depth is reported like a path length
        // constraint: the chain is longer than allowed.
        ffi::X509_V_ERR_PATH_LENGTH_EXCEEDED | ffi::X509_V_ERR_CERT_CHAIN_TOO_LONG => {
            PathLengthExceeded
        }
        ffi::X509_V_ERR_INVALID_PURPOSE => InvalidPurpose,
        ffi::X509_V_ERR_CERT_UNTRUSTED => CertificateUntrusted,
        ffi::X509_V_ERR_CERT_REJECTED => CertificateRejected,
        ffi::X509_V_ERR_SUBJECT_ISSUER_MISMATCH => SubjectIssuerMismatch,
        ffi::X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH => AuthorityIssuerSerialNumberMismatch,
        ffi::X509_V_ERR_HOSTNAME_MISMATCH | ffi::X509_V_ERR_IP_ADDRESS_MISMATCH => HostNameMismatch,
        // A revocation list was asked for and none covers the certificate.
        ffi::X509_V_ERR_UNABLE_TO_GET_CRL => CertificateStatusUnknown,
        _ => UnspecifiedError,
    }
}

/// The problems as polytls errors, in the order OpenSSL found them, each (kind, certificate)
/// once. `UNABLE_TO_VERIFY_LEAF_SIGNATURE` is dropped for a certificate that already has
/// `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`: both say its issuer is unknown. An unknown issuer is
/// dropped for the certificate that went beyond the depth limit (`CERT_CHAIN_TOO_LONG`):
/// OpenSSL stops looking for issuers there, so whether one exists was never asked.
fn ssl_errors(found: &[Found]) -> Vec<SslError> {
    let with_der: Vec<(c_int, Option<Vec<u8>>)> = found
        .iter()
        .map(|f| (f.code, f.certificate.as_ref().and_then(|c| c.to_der().ok())))
        .collect();
    let mut errors: Vec<SslError> = Vec::with_capacity(found.len());
    for (code, der) in &with_der {
        let also = |wanted: c_int| {
            with_der
                .iter()
                .any(|(other, other_der)| *other == wanted && other_der == der)
        };
        let redundant = (*code == ffi::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
            && also(ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY))
            || (matches!(
                *code,
                ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
                    | ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
            ) && also(ffi::X509_V_ERR_CERT_CHAIN_TOO_LONG));
        if redundant || *code == ffi::X509_V_OK {
            continue;
        }
        let kind = kind_of(*code);
        let error = match der
            .as_deref()
            .and_then(|d| Certificate::from_peer_der(d).ok())
        {
            Some(cert) => SslError::with_certificate(kind, cert),
            None => SslError::new(kind),
        };
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
    errors
}

/// A trust store holding exactly `certificates`.
///
/// Fails with [`Error::Certificate`] when OpenSSL rejects one of them.
pub(crate) fn store_of(certificates: &[Certificate]) -> Result<X509Store, Error> {
    let mut builder =
        X509StoreBuilder::new().map_err(|e| openssl_failure("OpenSSL trust store", &e))?;
    for cert in certificates {
        builder.add_cert(to_x509(cert)?).map_err(|e| {
            Error::Certificate(format!("OpenSSL cannot trust a CA certificate: {e}"))
        })?;
    }
    Ok(builder.build())
}

/// A polytls certificate as OpenSSL's.
///
/// Fails with [`Error::Certificate`] when OpenSSL cannot parse it.
pub(crate) fn to_x509(cert: &Certificate) -> Result<X509, Error> {
    X509::from_der(cert.to_der())
        .map_err(|e| Error::Certificate(format!("OpenSSL cannot parse a certificate: {e}")))
}

/// Where OpenSSL looks for system trust anchors: (CA file, CA directories), honouring
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` as OpenSSL does.
pub(crate) fn default_locations() -> (Option<PathBuf>, Vec<PathBuf>) {
    fn text(ptr: *const std::ffi::c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: OpenSSL returns pointers to static NUL-terminated strings.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }
    // SAFETY: these functions take no arguments and return static strings (or null).
    let (file_env, file, dir_env, dir) = unsafe {
        (
            text(ffi::X509_get_default_cert_file_env()),
            text(ffi::X509_get_default_cert_file()),
            text(ffi::X509_get_default_cert_dir_env()),
            text(ffi::X509_get_default_cert_dir()),
        )
    };
    let from_env = |name: Option<String>| name.and_then(std::env::var_os);
    let file = from_env(file_env)
        .map(PathBuf::from)
        .or_else(|| file.map(PathBuf::from));
    let dirs = from_env(dir_env)
        .map(|d| std::env::split_paths(&d).collect())
        .or_else(|| dir.map(|d| std::env::split_paths(&d).collect()))
        .unwrap_or_default();
    (file, dirs)
}

/// The system trust store as OpenSSL loads it (`SSL_CTX_set_default_verify_paths`), built once
/// per pair of locations and shared by every context.
///
/// Fails with [`Error::Io`] when OpenSSL cannot build the store.
pub(crate) fn system_store() -> Result<X509Store, Error> {
    type Cached = Option<((Option<PathBuf>, Vec<PathBuf>), X509Store)>;
    static CACHE: Mutex<Cached> = Mutex::new(None);
    let locations = default_locations();
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let store = match cache.as_ref() {
        Some((cached, store)) if *cached == locations => store,
        _ => {
            let mut builder =
                X509StoreBuilder::new().map_err(|e| openssl_failure("OpenSSL trust store", &e))?;
            builder
                .set_default_paths()
                .map_err(|e| openssl_failure("OpenSSL system trust store", &e))?;
            &cache.insert((locations, builder.build())).1
        }
    };
    // SAFETY: `store` is a valid X509_STORE; taking a reference with X509_STORE_up_ref and
    // wrapping it gives an owned handle that frees exactly that reference.
    unsafe {
        if X509_STORE_up_ref(store.as_ptr()) != 1 {
            return Err(openssl_failure(
                "OpenSSL system trust store",
                &ErrorStack::get(),
            ));
        }
        Ok(X509Store::from_ptr(store.as_ptr()))
    }
}

/// Whether `name` is an OpenSSL hashed-directory certificate name (`1a2b3c4d.0`).
fn is_hashed_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Every certificate of the system trust store as OpenSSL sees it: those of the CA file, and
/// those of the hashed CA directories (which OpenSSL loads on demand), each once.
///
/// Fails with [`Error::Io`] when the store cannot be built; unreadable directory entries and
/// certificates polytls cannot parse are skipped.
pub(crate) fn system_ca_certificates() -> Result<Vec<Certificate>, Error> {
    let store = system_store()?;
    let mut ders: Vec<Vec<u8>> = store
        .all_certificates()
        .iter()
        .filter_map(|c| c.to_der().ok())
        .collect();
    let (_, dirs) = default_locations();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(is_hashed_name))
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Ok(certs) = X509::stack_from_pem(&bytes) {
                ders.extend(certs.iter().filter_map(|c| c.to_der().ok()));
            }
        }
    }
    let mut seen = HashSet::new();
    Ok(ders
        .into_iter()
        .filter(|der| seen.insert(der.clone()))
        .filter_map(|der| Certificate::from_der(&der).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed_name("1a2b3c4d.0"));
        assert!(is_hashed_name("ABCDEF01.12"));
        assert!(!is_hashed_name("1a2b3c4d.r0"));
        assert!(!is_hashed_name("ca-certificates.crt"));
        assert!(!is_hashed_name("1a2b3c4.0"));
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of(18), SslErrorKind::SelfSignedCertificate);
        assert_eq!(kind_of(62), SslErrorKind::HostNameMismatch);
        assert_eq!(kind_of(64), SslErrorKind::HostNameMismatch);
        assert_eq!(kind_of(1), SslErrorKind::UnspecifiedError);
    }
}
