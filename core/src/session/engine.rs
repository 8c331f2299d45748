//! The engine as the driver holds it, with the one rule of the engine contract that matters
//! most carried by a type: the transport is read only once everything the engine produced has
//! been offered to it.
//!
//! A peer that waits for our reply while we wait for its next message is a deadlock no test
//! catches until a transport buffers differently. So the engine's reading calls
//! ([`read_tls`](Flushed::read_tls) and [`read_plaintext_from`](Flushed::read_plaintext_from))
//! exist only on [`Flushed`], which only [`Engine::send_queued`] (everything sent and the
//! transport flushed) and [`Engine::send_what_fits`] (sent until the transport would block:
//! a peer that is itself writing must still be read, or both sides wait on full buffers) hand
//! out. Every other call may leave output queued, and the next read has to offer it first.

use std::io::{self, Read, Write};

use crate::{Error, PlaintextRead, SessionInfo, TlsEngine};

/// One session's engine.
pub(crate) struct Engine {
    inner: Box<dyn TlsEngine>,
}

/// Proof that the engine has nothing queued and the transport was flushed: the only way to
/// read from the transport. It borrows the engine, so nothing can be queued while it lives,
/// and each read consumes it.
pub(crate) struct Flushed<'a> {
    engine: &'a mut dyn TlsEngine,
}

impl Engine {
    /// Wraps a freshly made engine.
    pub(crate) fn new(inner: Box<dyn TlsEngine>) -> Engine {
        Engine { inner }
    }

    /// Advances the handshake with nothing read (a client's first flight). May queue output.
    ///
    /// Fails as [`TlsEngine::process`] does.
    pub(crate) fn start(&mut self) -> Result<(), Error> {
        self.inner.process()
    }

    /// Processes what was read, writing the output straight to `wr` where the engine can and
    /// queuing the rest. Returns the bytes written to `wr` and the engine's verdict.
    pub(crate) fn process_to<W: Write>(&mut self, wr: &mut W) -> (usize, Result<(), Error>) {
        let mut counted = Counted::new(wr);
        let result = self.inner.process_to(&mut counted);
        (counted.written, result)
    }

    /// Encrypts `data`, writing records straight to `wr` where the engine can and queuing the
    /// rest. Returns the bytes written to `wr` and the plaintext taken.
    pub(crate) fn write_plaintext_to<W: Write>(
        &mut self,
        wr: &mut W,
        data: &[u8],
    ) -> (usize, Result<usize, Error>) {
        let mut counted = Counted::new(wr);
        let result = self.inner.write_plaintext_to(&mut counted, data);
        (counted.written, result)
    }

    /// Queues close_notify.
    pub(crate) fn send_close_notify(&mut self) {
        self.inner.send_close_notify();
    }

    /// Whether the handshake is still running.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.inner.is_handshaking()
    }

    /// The facts of the session.
    pub(crate) fn session(&self) -> SessionInfo {
        self.inner.session()
    }

    /// Writes everything queued to `wr`, calling `written` with each chunk's size, and flushes
    /// `wr` when anything was written now or `wrote` says the engine wrote to it directly.
    /// Returns the proof that the transport may now be read.
    ///
    /// Fails with the writer's error (`WouldBlock` included: what is left stays queued), and
    /// with `WriteZero` when the writer takes nothing.
    pub(crate) fn send_queued<W: Write>(
        &mut self,
        wr: &mut W,
        wrote: bool,
        written: &mut dyn FnMut(usize),
    ) -> Result<Flushed<'_>, Error> {
        self.send(wr, wrote, written)?;
        Ok(Flushed {
            engine: &mut *self.inner,
        })
    }

    /// Like [`send_queued`](Self::send_queued), but a transport that would block ends the
    /// sending without failing: what it did not take stays queued, and the proof is handed
    /// out all the same (the transport has the waker for when it can take more).
    ///
    /// Fails as [`send_queued`](Self::send_queued) does, `WouldBlock` excepted.
    pub(crate) fn send_what_fits<W: Write>(
        &mut self,
        wr: &mut W,
        written: &mut dyn FnMut(usize),
    ) -> Result<Flushed<'_>, Error> {
        match self.send(wr, false, written) {
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => other?,
        }
        Ok(Flushed {
            engine: &mut *self.inner,
        })
    }

    fn send<W: Write>(
        &mut self,
        wr: &mut W,
        mut wrote: bool,
        written: &mut dyn FnMut(usize),
    ) -> Result<(), Error> {
        while self.inner.wants_write() {
            match self.inner.write_tls(wr) {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    wrote = true;
                    written(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if wrote {
            wr.flush()?;
        }
        Ok(())
    }
}

impl Flushed<'_> {
    /// Reads ciphertext from `rd` (at most one read); `Ok(0)` is the end of the stream.
    ///
    /// Fails with the reader's error, unchanged.
    pub(crate) fn read_tls<R: Read>(self, rd: &mut R) -> io::Result<usize> {
        self.engine.read_tls(rd)
    }

    /// Reads plaintext, the engine reading ciphertext from `rd` itself where it can.
    ///
    /// Fails as [`TlsEngine::read_plaintext_from`] does.
    pub(crate) fn read_plaintext_from<R: Read>(
        self,
        rd: &mut R,
        buf: &mut [u8],
    ) -> Result<PlaintextRead, Error> {
        self.engine.read_plaintext_from(rd, buf)
    }
}

/// A writer that counts the bytes its inner writer accepted.
struct Counted<'a, W> {
    inner: &'a mut W,
    written: usize,
}

impl<'a, W> Counted<'a, W> {
    fn new(inner: &'a mut W) -> Counted<'a, W> {
        Counted { inner, written: 0 }
    }
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
