//! The handlers of a connection's events (other than verification's), kept apart from the
//! session until one is set: most connections set none, and an idle one then keeps a pointer.

use crate::{AlertLevel, AlertType, SslMode};

/// An alert handler: the alert's level and description.
type AlertHandler = Box<dyn FnMut(AlertLevel, AlertType) + Send>;

/// The event handlers a connection's user set (none at first).
#[derive(Default)]
pub(super) struct Events(Option<Box<Handlers>>);

/// Each event's handler, if set.
#[derive(Default)]
pub(super) struct Handlers {
    pub(super) encrypted: Option<Box<dyn FnMut() + Send>>,
    pub(super) mode_changed: Option<Box<dyn FnMut(SslMode) + Send>>,
    pub(super) encrypted_bytes_written: Option<Box<dyn FnMut(usize) + Send>>,
    pub(super) alert_sent: Option<AlertHandler>,
    pub(super) alert_received: Option<AlertHandler>,
}

impl Events {
    /// The handlers, for setting one.
    pub(super) fn set(&mut self) -> &mut Handlers {
        self.0.get_or_insert_with(Box::default)
    }

    /// Reports `n` ciphertext bytes written to the transport (nothing for 0).
    pub(super) fn written(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if let Some(handler) = self
            .handlers()
            .and_then(|h| h.encrypted_bytes_written.as_mut())
        {
            handler(n);
        }
    }

    /// Reports the completed handshake.
    pub(super) fn encrypted(&mut self) {
        if let Some(handler) = self.handlers().and_then(|h| h.encrypted.as_mut()) {
            handler();
        }
    }

    /// Reports the connection's new mode.
    pub(super) fn mode_changed(&mut self, mode: SslMode) {
        if let Some(handler) = self.handlers().and_then(|h| h.mode_changed.as_mut()) {
            handler(mode);
        }
    }

    /// Whether an alert handler is set (sent or received).
    pub(super) fn hears_alerts(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|h| h.alert_sent.is_some() || h.alert_received.is_some())
    }

    /// Reports an alert this side sent (`sent`) or received.
    pub(super) fn alert(&mut self, sent: bool, level: AlertLevel, kind: AlertType) {
        let handler = self.handlers().and_then(|h| match sent {
            true => h.alert_sent.as_mut(),
            false => h.alert_received.as_mut(),
        });
        if let Some(handler) = handler {
            handler(level, kind);
        }
    }

    fn handlers(&mut self) -> Option<&mut Handlers> {
        self.0.as_deref_mut()
    }
}
