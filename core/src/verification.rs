//! The verification decision, owned by the front end (Qt's rules, exactly).
//!
//! An engine finds the problems; this module decides. Each problem fires the per-error
//! handler, then the list goes to the errors handler, which may ignore some or all of them.
//! The handshake goes on only if every problem was ignored, either by a list given
//! beforehand or by the handler. Ignoring one error (kind and certificate) ignores only that
//! one.
//!
//! The handlers run inside the engine, from the middle of a handshake (Qt's direct
//! connection). A handler that panics refuses the peer: the panic is caught here, before it
//! can unwind through a TLS library, the engine aborts the handshake with its alert as for
//! any refusal, and the socket resumes the panic once the alert is sent.
//!
//! The pre-shared key handler lives here too: the engine asks for a key from the same point
//! of the handshake, under the same rule for panics, and a key that cannot be used is
//! recorded with its reason, which the front end reports in place of the engine's error.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    AlertLevel, AlertType, Certificate, PreSharedKeyAuthenticator, SslError, VerificationHook,
};

/// Handed to an [`on_ssl_errors`](crate::Session::on_ssl_errors) handler: the errors found and
/// the means to ignore them (Qt's `ignoreSslErrors()` called from the `sslErrors` slot).
pub struct SslErrorsDecision<'a> {
    errors: &'a [SslError],
    ignore_all: bool,
    ignored: Vec<SslError>,
}

impl SslErrorsDecision<'_> {
    /// The errors found in this handshake.
    pub fn errors(&self) -> &[SslError] {
        self.errors
    }

    /// Ignores every error: the handshake continues.
    pub fn ignore_all(&mut self) {
        self.ignore_all = true;
    }

    /// Ignores the errors equal (kind and certificate) to one of `errors`; the handshake
    /// continues only if that covers every error found.
    pub fn ignore(&mut self, errors: &[SslError]) {
        self.ignored.extend_from_slice(errors);
    }
}

/// Handed to an [`on_handshake_interrupted_on_error`](crate::Session::on_handshake_interrupted_on_error)
/// handler while the handshake is stopped on one error (Qt's `handshakeInterruptedOnError`
/// signal): the error, and the means to go on (Qt's `continueInterruptedHandshake()`, called
/// from the slot).
pub struct HandshakeInterruption<'a> {
    error: &'a SslError,
    continued: bool,
}

impl HandshakeInterruption<'_> {
    /// The error the handshake stopped on.
    pub fn error(&self) -> &SslError {
        self.error
    }

    /// Accepts this error: the handshake goes on (and stops again on the next error, if any).
    /// Without this call the handshake ends with a fatal alert.
    pub fn continue_handshake(&mut self) {
        self.continued = true;
    }
}

type PeerVerifyErrorHandler = Box<dyn FnMut(&SslError) + Send>;
type InterruptionHandler = Box<dyn FnMut(&mut HandshakeInterruption<'_>) + Send>;
type SslErrorsHandler = Box<dyn FnMut(&mut SslErrorsDecision<'_>) + Send>;
type PskHandler = Box<dyn FnMut(&mut PreSharedKeyAuthenticator) + Send>;

#[derive(Default)]
struct State {
    ignore_all: bool,
    ignore_list: Vec<SslError>,
    on_peer_verify_error: Option<PeerVerifyErrorHandler>,
    on_ssl_errors: Option<SslErrorsHandler>,
    on_interrupted: Option<InterruptionHandler>,
    on_pre_shared_key: Option<PskHandler>,
    /// Why the pre-shared key handler's answer could not be used in this handshake.
    psk_problem: Option<String>,
    found: Vec<SslError>,
    refused: Option<Vec<SslError>>,
    /// The configuration's `handshake_must_interrupt_on_error`, for this handshake.
    interrupt: bool,
    /// Whether the engine asked for a decision in this handshake.
    asked: bool,
    /// What a handler panicked with in this handshake, to resume once the alert is sent.
    panic: Option<Box<dyn Any + Send>>,
    /// Alerts the engine reported (sent or not, level, description), for the front end to
    /// hand to the application's handlers once the engine call returns; kept only once an
    /// alert handler is set (`hears_alerts`).
    alerts: Vec<(bool, AlertLevel, AlertType)>,
    hears_alerts: bool,
}

/// The verification state of one socket, shared with its engine.
#[derive(Clone, Default)]
pub(crate) struct Verification(Arc<Mutex<State>>);

impl Verification {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A state holding `found` as the errors of the last handshake, and nothing else set.
    pub(crate) fn having_found(found: Vec<SslError>) -> Verification {
        let verification = Verification::default();
        verification.lock().found = found;
        verification
    }

    /// Whether nothing holds this state but its owner (no engine's hook) and nothing in it
    /// is left to hand over (no alert, no panic): what the errors found then say is all.
    pub(crate) fn is_settled(&self) -> bool {
        if Arc::strong_count(&self.0) > 1 {
            return false;
        }
        let state = self.lock();
        state.alerts.is_empty() && state.panic.is_none()
    }

    pub(crate) fn hook(&self) -> Arc<dyn VerificationHook> {
        Arc::new(self.clone())
    }

    pub(crate) fn ignore_all(&self) {
        self.lock().ignore_all = true;
    }

    pub(crate) fn ignore_list(&self, errors: &[SslError]) {
        self.lock().ignore_list.extend_from_slice(errors);
    }

    pub(crate) fn set_peer_verify_error_handler(&self, handler: PeerVerifyErrorHandler) {
        self.lock().on_peer_verify_error = Some(handler);
    }

    pub(crate) fn set_ssl_errors_handler(&self, handler: SslErrorsHandler) {
        self.lock().on_ssl_errors = Some(handler);
    }

    pub(crate) fn set_interruption_handler(&self, handler: InterruptionHandler) {
        self.lock().on_interrupted = Some(handler);
    }

    pub(crate) fn set_pre_shared_key_handler(&self, handler: PskHandler) {
        self.lock().on_pre_shared_key = Some(handler);
    }

    /// Whether a pre-shared key handler is set (the engine offers PSK suites only then).
    pub(crate) fn has_pre_shared_key_handler(&self) -> bool {
        self.lock().on_pre_shared_key.is_some()
    }

    /// Why the pre-shared key handler's answer could not be used in this handshake, if it
    /// could not: the handshake failed for that reason.
    pub(crate) fn psk_problem(&self) -> Option<String> {
        self.lock().psk_problem.clone()
    }

    /// The errors found in the last handshake, ignored or not.
    pub(crate) fn found(&self) -> Vec<SslError> {
        self.lock().found.clone()
    }

    /// The errors that made the last handshake fail, if it failed on verification.
    pub(crate) fn refused(&self) -> Option<Vec<SslError>> {
        self.lock().refused.clone()
    }

    /// Whether `error` could be accepted in the coming handshake: it is ignored beforehand, or
    /// a handler could ignore (or continue past) it.
    pub(crate) fn may_accept(&self, error: &SslError) -> bool {
        let state = self.lock();
        state.ignore_all
            || state.ignore_list.contains(error)
            || if state.interrupt {
                state.on_interrupted.is_some()
            } else {
                state.on_ssl_errors.is_some()
            }
    }

    /// Records errors an engine refused the peer for on its own (a missing certificate the
    /// session required), so that they are reported as found.
    pub(crate) fn record_refusal(&self, errors: &[SslError]) {
        let mut state = self.lock();
        state.found.extend_from_slice(errors);
        state.refused = Some(errors.to_vec());
    }

    /// Whether the engine asked for a decision since the handshake started.
    pub(crate) fn was_asked(&self) -> bool {
        self.lock().asked
    }

    /// What a handler panicked with in this handshake, if one did (taken: it is resumed once).
    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.lock().panic.take()
    }

    /// The alerts the engine reported since the last call (sent or not, level,
    /// description), oldest first.
    pub(crate) fn take_alerts(&self) -> Vec<(bool, AlertLevel, AlertType)> {
        std::mem::take(&mut self.lock().alerts)
    }

    /// Starts a new handshake: forgets what the last one found. With `interrupt`, each error
    /// not ignored beforehand stops the handshake until the interruption handler continues it.
    /// Keeps the alerts the engine reports from now on, for the application's handlers.
    pub(crate) fn hear_alerts(&self) {
        self.lock().hears_alerts = true;
    }

    pub(crate) fn reset(&self, interrupt: bool) {
        let mut state = self.lock();
        state.found.clear();
        state.refused = None;
        state.interrupt = interrupt;
        state.asked = false;
        state.psk_problem = None;
        state.panic = None;
    }

    /// Whether a handler panicked in this handshake (the panic is kept for `take_panic`).
    pub(crate) fn has_panic(&self) -> bool {
        self.lock().panic.is_some()
    }

    /// Those of `errors` that the ignore list (or ignoring everything) does not cover now:
    /// what DTLS checks again when a stopped handshake is resumed.
    pub(crate) fn not_ignored(&self, errors: &[SslError]) -> Vec<SslError> {
        let state = self.lock();
        if state.ignore_all {
            return Vec::new();
        }
        errors
            .iter()
            .filter(|e| !state.ignore_list.contains(e))
            .cloned()
            .collect()
    }

    /// Records `errors` and decides, as [`VerificationHook::decide`] documents. A handler
    /// that panics refuses (see the module documentation).
    pub(crate) fn judge(&self, errors: Vec<SslError>) -> bool {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.asked = true;
        if state.panic.is_some() {
            return false;
        }
        let refused = errors.clone();
        match catch_unwind(AssertUnwindSafe(|| state.decide(errors))) {
            Ok(verdict) => verdict,
            Err(payload) => {
                state.refused = Some(refused);
                state.panic = Some(payload);
                false
            }
        }
    }
}

impl State {
    /// [`VerificationHook::pre_shared_key`]: runs the handler (a panic is kept, as in
    /// [`Verification::judge`]) and checks what it gave.
    fn pre_shared_key(&mut self, auth: &mut PreSharedKeyAuthenticator) -> bool {
        if self.panic.is_some() {
            return false;
        }
        let given = auth.identity().to_vec();
        let Some(handler) = self.on_pre_shared_key.as_mut() else {
            self.psk_problem = Some("no pre-shared key handler is set".into());
            return false;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(auth))) {
            self.psk_problem = Some("the pre-shared key handler panicked".into());
            self.panic = Some(payload);
            return false;
        }
        self.psk_problem = auth.problem(&given);
        self.psk_problem.is_none()
    }

    /// [`Verification::judge`] once the decision is known to be asked for.
    fn decide(&mut self, errors: Vec<SslError>) -> bool {
        self.found.extend(errors.iter().cloned());
        if errors.is_empty() {
            return true;
        }
        if let Some(handler) = self.on_peer_verify_error.as_mut() {
            for error in &errors {
                handler(error);
            }
        }
        if self.interrupt {
            return self.interrupted(errors);
        }
        let mut decision = SslErrorsDecision {
            errors: &errors,
            ignore_all: false,
            ignored: Vec::new(),
        };
        if let Some(handler) = self.on_ssl_errors.as_mut() {
            handler(&mut decision);
        }
        if decision.ignore_all {
            self.ignore_all = true;
        }
        self.ignore_list.append(&mut decision.ignored);
        let remaining: Vec<SslError> = if self.ignore_all {
            Vec::new()
        } else {
            errors
                .into_iter()
                .filter(|e| !self.ignore_list.contains(e))
                .collect()
        };
        if remaining.is_empty() {
            true
        } else {
            self.refused = Some(remaining);
            false
        }
    }

    /// Qt's early error reporting: the handshake stops on each error in turn (those ignored
    /// beforehand excepted) and goes on only if the interruption handler continues it; at the
    /// first error it does not continue, the handshake is refused with the errors left. The
    /// `on_ssl_errors` handler is not asked.
    fn interrupted(&mut self, errors: Vec<SslError>) -> bool {
        let pending: Vec<SslError> = if self.ignore_all {
            Vec::new()
        } else {
            errors
                .into_iter()
                .filter(|e| !self.ignore_list.contains(e))
                .collect()
        };
        for (i, error) in pending.iter().enumerate() {
            let mut interruption = HandshakeInterruption {
                error,
                continued: false,
            };
            if let Some(handler) = self.on_interrupted.as_mut() {
                handler(&mut interruption);
            }
            if !interruption.continued {
                self.refused = Some(pending[i..].to_vec());
                return false;
            }
        }
        true
    }
}

impl VerificationHook for Verification {
    fn decide(&self, peer_chain: &[Certificate], errors: Vec<SslError>) -> bool {
        self.judge(crate::certificate::with_blacklist_errors(
            peer_chain, errors,
        ))
    }

    fn pre_shared_key(&self, authenticator: &mut PreSharedKeyAuthenticator) -> bool {
        self.lock().pre_shared_key(authenticator)
    }

    /// Queued: the application's handlers run outside the engine (see
    /// [`Session`](crate::Session)).
    fn alert(&self, sent: bool, level: AlertLevel, kind: AlertType) {
        let mut state = self.lock();
        if state.hears_alerts {
            state.alerts.push((sent, level, kind));
        }
    }
}
