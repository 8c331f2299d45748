//! The driver: the calls a front end makes with its transport in hand.
//!
//! Each call takes the transport as `io` and does all its I/O there; a front end's loop is
//! only "call, and wait for the transport when it says `WouldBlock`". The one path a byte
//! takes: `write` queues it (during the handshake) or hands it to the engine, which writes the
//! record to `io` or queues it; `flush` and every read send what is queued first (the engine's
//! [`Flushed`](super::engine::Flushed) proof), then read ciphertext, which the engine turns into
//! handshake progress or plaintext for `read`.

use std::io::{self, Read, Write};

use super::engine::{Engine, Flushed};
use super::{Negotiated, Session, State};
use crate::{
    EngineParams, Error, PeerName, PeerVerifyMode, PlaintextRead, SslError, SslErrorKind, SslMode,
};

impl Session {
    /// Makes the engine and lets it produce its first flight (queued, not sent): the
    /// connection is handshaking afterwards.
    ///
    /// Fails with [`Error::InvalidState`] when encryption already started, with
    /// [`Error::InvalidInput`] when the configuration is unusable (for example `VerifyPeer`
    /// with no peer verify name, or a name that is not a [`PeerName`]), with
    /// [`Error::Unsupported`] when the backend cannot do what the configuration asks, and as
    /// the engine fails.
    pub(crate) fn begin(&mut self, mode: SslMode) -> Result<(), Error> {
        if self.state != State::Unencrypted {
            return Err(Error::InvalidState("encryption has already started".into()));
        }
        let server = mode == SslMode::SslServerMode;
        let psk = self.verification.shared().has_pre_shared_key_handler();
        // A server with a pre-shared key handler may have no certificate (PSK suites only).
        self.config.validate(server && !psk, false)?;
        let verify_mode = self.config.peer_verify_mode.resolve(mode);
        let peer_name = match &self.peer_verify_name {
            Some(name) if !server => Some(PeerName::parse(name)?),
            _ => None,
        };
        if !server && verify_mode == PeerVerifyMode::VerifyPeer && peer_name.is_none() {
            return Err(Error::InvalidInput(
                "a client that verifies its peer needs a peer verify name: call set_peer_verify_name"
                    .into(),
            ));
        }
        self.verification
            .shared()
            .reset(self.config.handshake_must_interrupt_on_error);
        self.chain_in_engine = false;
        self.peer_chain = std::sync::OnceLock::new();
        let mut params = EngineParams::new(
            mode,
            &self.config,
            peer_name.as_ref(),
            self.verification.shared().hook(),
        );
        if server && verify_mode == PeerVerifyMode::VerifyPeer {
            // Refused inside the handshake, with an alert, when nothing could accept it.
            let missing = SslError::new(SslErrorKind::NoPeerCertificate);
            params.require_peer_certificate |= !self.verification.shared().may_accept(&missing);
        }
        params.pre_shared_key_handler = psk;
        params.alert_handler = self.events.hears_alerts();
        let mut engine = Engine::new(self.backend.new_tls_engine(params)?);
        // Let the engine produce its first flight (a client's ClientHello).
        engine.start()?;
        self.engine = Some(engine);
        self.state = State::Handshaking;
        self.mode = mode;
        self.events.mode_changed(mode);
        Ok(())
    }

    /// Whether the handshake is running.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.state == State::Handshaking
    }

    /// Sends everything the engine has queued, without the handshake or the write queue:
    /// what a front end does right after [`begin`](Self::begin).
    ///
    /// Fails as the transport does; `WouldBlock` leaves the rest queued and fails nothing.
    pub(crate) fn send_queued<T: Write>(&mut self, io: &mut T) -> Result<(), Error> {
        self.flushed(io, false).map(drop).map_err(|e| self.fail(e))
    }

    /// Drives the handshake to its end. `before_read` runs before each read of the transport
    /// (the blocking socket sets its read timeout there, and may stop with an error). Returns
    /// at once when the handshake is over.
    ///
    /// Fails with [`Error::Verification`] when the peer failed verification and nobody
    /// ignored the errors, [`Error::Handshake`] or [`Error::Protocol`] when the handshake
    /// failed otherwise, [`Error::InvalidState`] when no handshake was started or the
    /// connection failed before, and with the transport's error (`WouldBlock` fails nothing:
    /// call again when the transport is ready).
    pub(crate) fn handshake<T: Read + Write>(
        &mut self,
        io: &mut T,
        before_read: &mut dyn FnMut(&mut T) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match &self.state {
            State::Handshaking => {}
            State::Encrypted | State::Closed => return Ok(()),
            State::Unencrypted => {
                return Err(Error::InvalidState("no handshake was started".into()))
            }
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
        }
        loop {
            if let Err(e) = self.flushed(io, false) {
                if is_broken(&e) && !self.engine_mut()?.is_handshaking() {
                    // The handshake is complete, and the peer closed before taking our last
                    // messages (TLS 1.3 session tickets): they are dropped, and what the peer
                    // sent before it closed is still there to read.
                    self.discard_queued();
                    return self.finish_handshake(io);
                }
                let e = self.peer_reason(io, e);
                return Err(self.fail(e));
            }
            if !self.engine_mut()?.is_handshaking() {
                return self.finish_handshake(io);
            }
            if self.transport_eof {
                let e = Error::Handshake {
                    message: "the peer closed the connection during the handshake".into(),
                    alert: None,
                };
                return Err(self.fail(e));
            }
            before_read(io)?;
            let read = match self.flushed(io, false) {
                Ok(flushed) => flushed.read_tls(io),
                Err(e) => return Err(self.fail(e)),
            };
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(e.into())),
            };
            self.transport_eof = n == 0;
            if let Err(e) = self.process(io) {
                // Deliver the engine's alert if we can; the handshake error is what matters.
                let _ = self.flushed(io, false);
                return Err(self.fail(e));
            }
        }
    }

    /// When the transport broke under a handshake write (the peer refused us and closed),
    /// the peer's alert may still be waiting to be read: the engine reads it and its error,
    /// which names the peer's reason, replaces `broken`. What the engine had queued is
    /// dropped, as the transport refused it. Any other error is returned as it is.
    fn peer_reason<T: Read + Write>(&mut self, io: &mut T, broken: Error) -> Error {
        let Some(engine) = self.engine.as_mut().filter(|_| is_broken(&broken)) else {
            return broken;
        };
        // A few records at most: the alert, perhaps behind the rest of the peer's flight.
        for _ in 0..4 {
            let Ok(flushed) = engine.send_queued(&mut io::sink(), false, &mut |_| {}) else {
                return broken;
            };
            match flushed.read_tls(io) {
                Ok(n) if n > 0 => {}
                _ => return broken,
            }
            if let (_, Err(reason)) = engine.process_to(&mut io::sink()) {
                return reason;
            }
        }
        broken
    }

    /// Drops what the engine queued: the transport refused it for good.
    fn discard_queued(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            let _ = engine.send_queued(&mut io::sink(), false, &mut |_| {});
        }
    }

    /// Records that the handshake ran out of `limit`: the connection fails with
    /// [`Error::Timeout`] naming the handshake, the side and the limit, which is returned.
    pub(crate) fn time_out(&mut self, limit: std::time::Duration) -> Error {
        let side = match self.mode {
            SslMode::SslServerMode => "as a server",
            _ => "as a client",
        };
        let name = match (&self.peer_verify_name, self.mode) {
            (Some(name), SslMode::SslClientMode) => format!(" with {name}"),
            _ => String::new(),
        };
        self.fail(Error::timed_out(
            format_args!("the TLS handshake {side}{name}"),
            limit,
        ))
    }

    /// Reads plaintext, driving the handshake first if it is still running (without a
    /// deadline); returns 0 once the peer sent close_notify.
    ///
    /// Fails with [`Error::Truncated`] when the transport ended without close_notify, as
    /// [`handshake`](Self::handshake) does, and with the transport's error (the session stays
    /// intact: `WouldBlock` and `TimedOut` may be retried).
    pub(crate) fn read<T: Read + Write>(
        &mut self,
        io: &mut T,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        match &self.state {
            State::Unencrypted => return Ok(io.read(buf)?),
            State::Handshaking => self.handshake(io, &mut |_| Ok(()))?,
            State::Encrypted | State::Closed => {}
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // What the engine answered while reading (a no_renegotiation alert, a key update)
            // goes out before the transport is read: the peer may be waiting for it. A
            // transport that takes no more does not stop the read: the peer may be writing
            // too, and waits for us to read.
            let flushed = match self.sent_what_fits(io) {
                Ok(flushed) => flushed,
                Err(e) => return Err(self.fail(e)),
            };
            let read = flushed.read_plaintext_from(io, buf);
            self.report_alerts();
            match read {
                Ok(PlaintextRead::Data(n)) => {
                    // Answers to post-handshake messages go out now if they can. The data read
                    // is returned whatever happens; a failure is reported by the next call.
                    if let Err(e) = self.flushed(io, false) {
                        self.fail(e);
                    }
                    return Ok(n);
                }
                Ok(PlaintextRead::Closed) => return Ok(0),
                Ok(PlaintextRead::NeedMore) if self.transport_eof => {
                    return Err(self.fail(Error::Truncated))
                }
                Ok(PlaintextRead::NeedMore) => {}
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The transport's own error: the session is intact and the caller may retry.
                Err(Error::Io(e)) => return Err(Error::Io(e)),
                Err(e) => {
                    // The engine's alert (bad_record_mac...) goes out before the connection
                    // gives up.
                    let _ = self.flushed(io, false);
                    return Err(self.fail(e));
                }
            }
            let read = match self.sent_what_fits(io) {
                Ok(flushed) => flushed.read_tls(io),
                Err(e) => return Err(self.fail(e)),
            };
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock and TimedOut leave the session intact: the caller may retry.
                Err(e) => return Err(e.into()),
            };
            self.transport_eof = n == 0;
            if let Err(e) = self.process(io) {
                let _ = self.flushed(io, false);
                return Err(self.fail(e));
            }
        }
    }

    /// Writes plaintext: straight through when unencrypted, into the queue during the
    /// handshake (a full queue drives the handshake first), through the engine once
    /// encrypted. Returns the bytes accepted; every one is delivered or the connection fails.
    ///
    /// Fails with [`Error::InvalidState`] after close or failure, as
    /// [`handshake`](Self::handshake) does, and with the transport's error.
    pub(crate) fn write<T: Read + Write>(
        &mut self,
        io: &mut T,
        buf: &[u8],
    ) -> Result<usize, Error> {
        match &self.state {
            State::Unencrypted => Ok(io.write(buf)?),
            State::Handshaking => {
                let room = self.pending.limit.saturating_sub(self.pending.queued());
                if room == 0 && !buf.is_empty() {
                    // The queue is full: the data waits for the handshake.
                    self.handshake(io, &mut |_| Ok(()))?;
                    return self.write(io, buf);
                }
                let n = room.min(buf.len());
                self.pending.data.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            State::Encrypted => {
                // What was queued during the handshake goes first.
                self.drain_pending(io)?;
                self.write_encrypted(io, buf)
            }
            State::Closed => Err(Error::InvalidState(
                "the connection was closed for writing".into(),
            )),
            State::Failed(why) => Err(Error::InvalidState(why.clone())),
        }
    }

    /// Sends everything queued: finishes the handshake if it is running, then writes the
    /// queued data and flushes the transport.
    ///
    /// Fails as [`handshake`](Self::handshake) does, with the transport's error, and with
    /// [`Error::InvalidState`] once the session failed (what was queued is not delivered).
    pub(crate) fn flush<T: Read + Write>(&mut self, io: &mut T) -> Result<(), Error> {
        match &self.state {
            State::Handshaking => self.handshake(io, &mut |_| Ok(()))?,
            State::Failed(why) => return Err(Error::InvalidState(why.clone())),
            _ => {}
        }
        if self.state == State::Encrypted {
            self.drain_pending(io)?;
        }
        if self.engine.is_some() {
            if let Err(e) = self.flushed(io, false) {
                return Err(self.fail(e));
            }
        }
        Ok(io.flush()?)
    }

    /// Ends the session cleanly: finishes a running handshake, sends queued data, then
    /// close_notify. Closing an unencrypted connection does nothing; closing a closed one
    /// sends what is still queued (so a close that failed with `WouldBlock` is finished by
    /// calling it again).
    ///
    /// Fails as [`flush`](Self::flush) does.
    pub(crate) fn close<T: Read + Write>(&mut self, io: &mut T) -> Result<(), Error> {
        match self.state {
            State::Handshaking | State::Encrypted => {
                self.flush(io)?;
                if let Some(engine) = self.engine.as_mut() {
                    engine.send_close_notify();
                }
                self.report_alerts();
                self.state = State::Closed;
                self.flush(io)
            }
            State::Closed | State::Failed(_) => self.flush(io),
            State::Unencrypted => Ok(()),
        }
    }

    // ---- the steps ---------------------------------------------------------------------------

    fn engine_mut(&mut self) -> Result<&mut Engine, Error> {
        self.engine
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no engine".into()))
    }

    /// Sends what the engine queued (reporting it to the event handler) and returns the proof
    /// that the transport may be read. `wrote`: the engine already wrote to `io` directly, so
    /// `io` needs a flush even if nothing is queued.
    fn flushed<'a, T: Write>(&'a mut self, io: &mut T, wrote: bool) -> Result<Flushed<'a>, Error> {
        let events = &mut self.events;
        let engine = self
            .engine
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no engine".into()))?;
        engine.send_queued(io, wrote, &mut |n| events.written(n))
    }

    /// Sends what the engine queued as far as the transport takes it, and returns the proof
    /// that the transport may be read (see [`Engine::send_what_fits`]).
    fn sent_what_fits<'a, T: Write>(&'a mut self, io: &mut T) -> Result<Flushed<'a>, Error> {
        let events = &mut self.events;
        let engine = self
            .engine
            .as_mut()
            .ok_or_else(|| Error::InvalidState("no engine".into()))?;
        engine.send_what_fits(io, &mut |n| events.written(n))
    }

    /// Lets the engine process what was read, writing what it produces straight to `io` when
    /// it can; what `io` did not take stays queued.
    ///
    /// Fails with the engine's error, or the transport's when flushing it fails.
    fn process<T: Write>(&mut self, io: &mut T) -> Result<(), Error> {
        let (written, result) = self.engine_mut()?.process_to(io);
        self.events.written(written);
        self.report_alerts();
        result?;
        if written > 0 {
            io.flush()?;
        }
        Ok(())
    }

    fn finish_handshake<T: Read + Write>(&mut self, io: &mut T) -> Result<(), Error> {
        let info = self.engine_mut()?.session();
        self.negotiated = Negotiated::of(&info);
        let sent_no_chain = info.peer_chain.is_empty();
        // Kept for a refusal below (what the refused peer sent), dropped once accepted.
        let _ = self.peer_chain.set(info.peer_chain);
        let server = self.mode == SslMode::SslServerMode;
        let verify_mode = self.config.peer_verify_mode.resolve(self.mode);
        let verifies = verify_mode == PeerVerifyMode::VerifyPeer;
        let psk_only = self.negotiated.psk_identity().is_some() && sent_no_chain;
        if verifies && psk_only && !self.verification.shared().was_asked() {
            // A pre-shared key authenticated the peer, which sent no certificate: Qt's
            // NoPeerCertificate, for the handlers to ignore or refuse.
            let missing = vec![SslError::new(SslErrorKind::NoPeerCertificate)];
            if (server && self.config.missing_certificate_is_fatal)
                || !self.verification.shared().judge(missing.clone())
            {
                return Err(self.refuse_established(io, Error::Verification(missing)));
            }
        } else if server && verifies && sent_no_chain {
            let missing = vec![SslError::new(SslErrorKind::NoPeerCertificate)];
            let fatal = self.config.missing_certificate_is_fatal;
            if fatal || !self.verification.shared().judge(missing.clone()) {
                return Err(self.refuse_established(io, Error::Verification(missing)));
            }
        } else if verifies && !self.verification.shared().was_asked() {
            // The peer was never judged: a resumed session, a suite without certificates, or
            // a backend's bug. A session that verifies its peer is never accepted unjudged.
            let e = Error::Handshake {
                message: format!(
                    "the {} backend completed the handshake without verifying the peer",
                    self.backend.name()
                ),
                alert: None,
            };
            return Err(self.refuse_established(io, e));
        }
        self.state = State::Encrypted;
        // The chain stays in the engine until asked for (see `Session::peer_chain`).
        self.peer_chain = std::sync::OnceLock::new();
        self.chain_in_engine = true;
        self.verification.settle();
        self.events.encrypted();
        self.drain_pending(io)
    }

    /// Ends a session whose handshake completed but whose peer the front end refuses: the
    /// engine sends close_notify (nothing was sent or received in it) and the connection fails
    /// with `error`.
    fn refuse_established<T: Write>(&mut self, io: &mut T, error: Error) -> Error {
        if let Some(engine) = self.engine.as_mut() {
            engine.send_close_notify();
        }
        self.report_alerts();
        let _ = self.flushed(io, false);
        self.fail(error)
    }

    /// Hands the alerts the engine reported to the application's handlers, in order.
    fn report_alerts(&mut self) {
        if !self.events.hears_alerts() {
            return;
        }
        for (sent, level, kind) in self.verification.take_alerts() {
            self.events.alert(sent, level, kind);
        }
    }

    /// Hands the plaintext queued during the handshake to the engine, in order. What the
    /// engine does not take yet stays queued.
    ///
    /// Fails as writing does; `WouldBlock` keeps the rest queued.
    fn drain_pending<T: Write>(&mut self, io: &mut T) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending.data);
        let mut result = Ok(());
        while self.pending.sent < pending.len() {
            match self.write_encrypted(io, &pending[self.pending.sent..]) {
                Ok(n) => self.pending.sent += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if self.pending.sent == pending.len() {
            self.pending.sent = 0;
            // Keep the allocation for the next handshake only if it is small.
            if pending.capacity() <= 4096 {
                self.pending.data = pending;
                self.pending.data.clear();
            }
        } else {
            self.pending.data = pending;
        }
        result
    }

    fn write_encrypted<T: Write>(&mut self, io: &mut T, data: &[u8]) -> Result<usize, Error> {
        loop {
            // The engine may write the ciphertext straight to the transport; it queues what
            // the transport does not take, and the flush below sends that.
            let (direct, result) = self.engine_mut()?.write_plaintext_to(io, data);
            self.events.written(direct);
            let n = result.map_err(|e| self.fail(e))?;
            match self.flushed(io, direct > 0) {
                // The engine holds the data now; it goes out with the next flush.
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => {
                    return Ok(n)
                }
                Err(e) => return Err(self.fail(e)),
                Ok(_) => {}
            }
            if n > 0 || data.is_empty() {
                return Ok(n);
            }
        }
    }

    /// Records a failure: the connection is unusable from now on. Returns the error to
    /// report, replacing an engine's error with the verification errors when the front end
    /// refused the peer, and its message with the reason when the pre-shared key handler's
    /// answer could not be used.
    ///
    /// A transport that would block is no failure: the error is returned and the call may be
    /// repeated once the transport is ready.
    fn fail(&mut self, error: Error) -> Error {
        if matches!(&error, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock) {
            return error;
        }
        let error = match (self.verification.refused(), error) {
            (Some(errors), _) if self.state == State::Handshaking => Error::Verification(errors),
            (None, Error::Handshake { message, alert }) if self.state == State::Handshaking => {
                // When the pre-shared key handler's answer could not be used, that is why the
                // engine failed: say so.
                Error::Handshake {
                    message: self.verification.psk_problem().unwrap_or(message),
                    alert,
                }
            }
            (None, Error::Verification(errors)) if self.state == State::Handshaking => {
                // The engine refused on its own (a required certificate was missing).
                self.verification.shared().record_refusal(&errors);
                Error::Verification(errors)
            }
            (_, error) => error,
        };
        self.state = State::Failed(error.to_string());
        if let Some(panic) = self.verification.take_panic() {
            // A verification handler panicked inside the engine; the engine refused the peer
            // and its alert went out (or could not): the panic goes on from here.
            self.state = State::Failed("a verification handler panicked".into());
            std::panic::resume_unwind(panic);
        }
        error
    }
}

/// Whether `error` says the transport broke under a write: the peer closed or reset.
fn is_broken(error: &Error) -> bool {
    matches!(error, Error::Io(e) if matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    ))
}
