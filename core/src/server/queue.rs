//! [`Queue`]: what a server holds between its listener and `accept`, for both servers.

use std::collections::VecDeque;

use super::ServerSettings;
use crate::Error;

/// The connections a server holds: how many handshakes run, the established connections
/// waiting for `accept`, and the listener's own failures for `accept` to report.
pub(crate) struct Queue<C> {
    handshaking: usize,
    ready: VecDeque<C>,
    errors: VecDeque<Error>,
}

impl<C> Default for Queue<C> {
    fn default() -> Queue<C> {
        Queue {
            handshaking: 0,
            ready: VecDeque::new(),
            errors: VecDeque::new(),
        }
    }
}

impl<C> Queue<C> {
    /// Whether the listener may accept another client under `settings`' limits.
    pub(crate) fn has_room(&self, settings: &ServerSettings) -> bool {
        self.handshaking < settings.max_pending_handshakes
            && self.ready.len() < settings.max_pending_connections
    }

    /// A handshake starts.
    pub(crate) fn started(&mut self) {
        self.handshaking += 1;
    }

    /// A handshake ended: with the established connection, or without one.
    pub(crate) fn ended(&mut self, connection: Option<C>) {
        self.handshaking = self.handshaking.saturating_sub(1);
        self.ready.extend(connection);
    }

    /// Records a failure of the listener itself.
    pub(crate) fn failed(&mut self, error: Error) {
        self.errors.push_back(error);
    }

    /// What `accept` returns next: a listener failure first, then the oldest connection.
    pub(crate) fn next(&mut self) -> Option<Result<C, Error>> {
        match self.errors.pop_front() {
            Some(error) => Some(Err(error)),
            None => self.ready.pop_front().map(Ok),
        }
    }

    /// The number of handshakes running.
    pub(crate) fn handshaking(&self) -> usize {
        self.handshaking
    }

    /// The number of established connections waiting for `accept`.
    pub(crate) fn waiting(&self) -> usize {
        self.ready.len()
    }
}
