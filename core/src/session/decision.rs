//! The session's verification decision over its life: the state it shares with its engine
//! while the engine may ask for a decision or report an alert, then, once the handshake ended
//! and the engine let its share go (rustls verifies nothing after the handshake), only the
//! problems that handshake found. An idle connection then keeps no shared state.

use std::any::Any;

use crate::verification::Verification;
use crate::{AlertLevel, AlertType, SslError};

/// A session's verification decision (see the module documentation).
#[derive(Default)]
pub(super) struct Decision {
    /// `None` once settled.
    shared: Option<Verification>,
    /// What the handshake found, once settled.
    settled: Box<[SslError]>,
}

impl Decision {
    /// The state shared with the engine, for everything but the reports below; once settled,
    /// it is made again holding what the handshake found (a setter called after the
    /// handshake changes nothing that handshake decided).
    pub(super) fn shared(&mut self) -> &Verification {
        self.shared
            .get_or_insert_with(|| Verification::having_found(self.settled.to_vec()))
    }

    /// Lets the shared state go when nothing holds it but this session and nothing in it is
    /// left to report: keeps what the handshake found.
    pub(super) fn settle(&mut self) {
        if let Some(shared) = self.shared.as_ref().filter(|v| v.is_settled()) {
            self.settled = shared.found().into();
            self.shared = None;
        }
    }

    /// Whether the shared state was let go.
    #[cfg(test)]
    pub(super) fn is_settled(&self) -> bool {
        self.shared.is_none()
    }

    /// The problems found in the last handshake, ignored or not.
    pub(super) fn found(&self) -> Vec<SslError> {
        match &self.shared {
            Some(shared) => shared.found(),
            None => self.settled.to_vec(),
        }
    }

    /// The errors that made the last handshake fail (never for a settled one).
    pub(super) fn refused(&self) -> Option<Vec<SslError>> {
        self.shared.as_ref().and_then(Verification::refused)
    }

    /// Why the pre-shared key handler's answer could not be used (never for a settled one).
    pub(super) fn psk_problem(&self) -> Option<String> {
        self.shared.as_ref().and_then(Verification::psk_problem)
    }

    /// What a handler panicked with (never for a settled one).
    pub(super) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.shared.as_ref().and_then(Verification::take_panic)
    }

    /// The alerts the engine reported since the last call (none once settled: the engine
    /// holds no share to report them through).
    pub(super) fn take_alerts(&self) -> Vec<(bool, AlertLevel, AlertType)> {
        self.shared
            .as_ref()
            .map(Verification::take_alerts)
            .unwrap_or_default()
    }
}
