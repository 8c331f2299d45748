//! [`OpenSslEngine`]: one TLS session as a sans-IO [`TlsEngine`].
//!
//! OpenSSL runs over [`Pipe`], a transport of the engine's own. During the handshake (and for
//! the calls of the contract that are handed no transport) it is an in-memory transport:
//! ciphertext read from the caller's transport with `read_tls` waits in its incoming buffer
//! until OpenSSL asks for it, and everything OpenSSL writes collects in its outgoing buffer
//! until the caller drains it with `write_tls`. The pipe never blocks a write and answers an
//! empty read with `WouldBlock` (or end of stream, once the transport reported it), so
//! OpenSSL's "want read" means "feed me more ciphertext". Both buffers are reused, and freed
//! once the handshake is over.
//!
//! Application data skips those buffers: `read_plaintext_from` and `write_plaintext_to` lend
//! the pipe the caller's reader or writer for the duration of the call (see [`Lent`]), so
//! OpenSSL reads each record straight into its record buffer and writes each encrypted record
//! straight to the transport, as it does on a socket BIO, with no extra copy; `process_to`
//! lends the writer too, so handshake flights go out as OpenSSL flushes them. The pipe still
//! never fails OpenSSL's I/O: ciphertext the writer does not take is queued (and the front end
//! sends it with `write_tls`), and any error of the reader is kept aside while OpenSSL is told
//! "retry", so that the session stays as it was and the call returns the reader's error
//! unchanged. Once OpenSSL has answered a record during a read (a refused renegotiation's
//! alert, a key update), the pipe stops reading from the lent reader and the call returns
//! `NeedMore`, so the front end sends the answer before it waits for the peer.
//!
//! After the handshake, [`process`](TlsEngine::process) peeks one byte of plaintext, which makes
//! OpenSSL handle every record already received (alerts, close_notify, tickets, key updates)
//! without consuming application data.
//!
//! An idle session holds none of OpenSSL's record buffers (a read and a write buffer of about
//! 17 KiB each, which OpenSSL keeps for the session's life otherwise): they are freed with
//! `SSL_free_buffers` when the handshake ends, and again when a read finds the transport empty
//! after the session had been quiet (see [`OpenSslEngine::waiting`]); OpenSSL allocates them
//! again for the next record. Not on every empty read: a busy session finds its transport
//! empty between most bursts of records, and freeing then cost 2-8% of bulk throughput.
//! `SSL_MODE_RELEASE_BUFFERS`, which frees them after every record, cost 2-4%.

use std::cmp::min;
use std::ffi::c_int;
use std::io;
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ssl::{self, ErrorCode, NameType, Ssl, SslRef, SslStream, SslVersion};
use openssl::version;
use openssl_sys as ffi;
use polytls_core::failure::Wording;
use polytls_core::{
    AlertType, EngineParams, Error, PeerName, PlaintextRead, SessionInfo, SslCipher, SslError,
    SslErrorKind, SslMode, SslOption, SslProtocol, TlsEngine,
};

use crate::config::openssl_failure;
use crate::context_cache::context_for;
use crate::verify::{self, VerifyState};

/// Free space guaranteed in the incoming buffer before each transport read. The buffer holds
/// handshake flights (application data is read by OpenSSL itself, see `Lent`), so it starts
/// small: growing it zero-fills the new space, which cost a handshake more than 64 KiB of
/// `memset` at 32 KiB.
const READ_SPACE: usize = 4 * 1024;
/// The most plaintext one `write_plaintext` call encrypts.
const WRITE_CHUNK: usize = 64 * 1024;
/// Pending ciphertext beyond which `write_plaintext` takes nothing until the caller drains it.
const OUTGOING_LIMIT: usize = 256 * 1024;
/// Drained outgoing bytes beyond which the outgoing buffer is compacted.
const OUTGOING_COMPACT: usize = 64 * 1024;

/// `ERR_LIB_SSL`: errors raised by libssl.
const ERR_LIB_SSL: i32 = 20;
/// `SSL_R_UNEXPECTED_EOF_WHILE_READING` (OpenSSL 3): the transport ended without close_notify.
const SSL_R_UNEXPECTED_EOF_WHILE_READING: i32 = 294;
/// `SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE`: a server that requires a client certificate got
/// none.
const SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: i32 = 199;
/// `SSL_AD_REASON_OFFSET`: libssl reports a received alert as this plus the alert's code.
const SSL_AD_REASON_OFFSET: i32 = 1000;
/// OpenSSL's reasons for a handshake without a protocol version in common (`sslerr.h`):
/// `SSL_R_NO_PROTOCOLS_AVAILABLE`, `SSL_R_UNSUPPORTED_PROTOCOL`,
/// `SSL_R_UNSUPPORTED_SSL_VERSION`, `SSL_R_VERSION_TOO_HIGH`, `SSL_R_VERSION_TOO_LOW`.
const NO_COMMON_PROTOCOL_REASONS: [i32; 5] = [191, 258, 259, 166, 396];
/// `SSL_R_NO_SHARED_CIPHER`: no cipher suite in common.
const SSL_R_NO_SHARED_CIPHER: i32 = 193;

/// A read that finds the transport empty this long or more after the previous one (or first
/// after the handshake) frees the record buffers: the session was quiet, and is likely to stay
/// so. A busy session frees them at most once per this time, a cost no transfer can measure
/// (one free and one allocation of 17 KiB per buffer).
const IDLE_GAP_MS: u64 = 10;

/// Milliseconds on a monotonic clock that is cheap to read, for [`IDLE_GAP_MS`]: on Linux
/// `CLOCK_MONOTONIC_COARSE` (the time of the last timer tick, read without a system call,
/// a few times cheaper than `Instant::now`; a busy session reads it once per burst of
/// records); elsewhere `Instant`. Its resolution (a tick, 1 to 10 ms) is enough to tell a
/// quiet session from a busy one.
#[cfg(target_os = "linux")]
fn coarse_millis() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec`, the only thing `clock_gettime` writes.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) } != 0 {
        return 0;
    }
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs * 1000 + nanos / 1_000_000
}

/// Milliseconds on a monotonic clock, for [`IDLE_GAP_MS`] (since the first call).
#[cfg(not(target_os = "linux"))]
fn coarse_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

extern "C" {
    // OpenSSL 1.1.0 and later; not declared by `openssl-sys`.
    fn SSL_free_buffers(ssl: *mut ffi::SSL) -> c_int;
}

/// Whether the OpenSSL `number` (`OpenSSL_version_num`) has an `SSL_free_buffers` that frees
/// nothing still in use. Before the fix of CVE-2024-4741 (1.1.1y, 3.0.14, 3.1.6, 3.2.2,
/// 3.3.1), it freed the read buffer under a record whose body had not all arrived, or whose
/// plaintext had not all been read; with those versions the buffers are kept.
fn free_buffers_is_safe(number: i64) -> bool {
    match number {
        0x1010_1000..=0x1010_1fff => number >= 0x1010_119f,
        0x3000_0000..=0x300f_ffff => number >= 0x3000_00e0,
        0x3010_0000..=0x301f_ffff => number >= 0x3010_0060,
        0x3020_0000..=0x302f_ffff => number >= 0x3020_0020,
        0x3030_0000..=0x303f_ffff => number >= 0x3030_0010,
        _ => number >= 0x3040_0000,
    }
}

/// The transport OpenSSL reads ciphertext from and writes ciphertext to: buffers of its own,
/// and the caller's reader or writer while one is lent (see the module documentation).
#[derive(Default)]
struct Pipe {
    /// Received ciphertext: `incoming[in_start..in_end]` is not yet consumed by OpenSSL.
    incoming: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// The transport reported end of stream.
    eof: bool,
    /// Ciphertext to send: `outgoing[out_start..]` is not yet written to the transport.
    outgoing: Vec<u8>,
    out_start: usize,
    /// Set when the handshake ends: each buffer is freed once, the next time it is empty, so an
    /// idle session holds no transport buffers (they come back with the first record).
    release_incoming: bool,
    release_outgoing: bool,
    /// The caller's reader, lent for one engine call by [`Lent::reader`]; `None` otherwise.
    reader: Option<NonNull<dyn io::Read>>,
    /// The caller's writer, lent for one engine call by [`Lent::writer`]; `None` otherwise.
    writer: Option<NonNull<dyn io::Write>>,
    /// The error the lent reader returned in this call (OpenSSL was told to retry instead).
    read_error: Option<io::Error>,
    /// What was pending when the reader was lent: more means OpenSSL answered something in
    /// this call, and the reader is not asked for more until the answer is sent.
    pending_at_loan: usize,
}

// SAFETY: `Pipe` is `Send` but for the lent `reader` and `writer` pointers. They are set only
// by `Lent`, which holds the engine's `&mut` borrow for one call and clears them when it is
// dropped, before that call returns: between calls both are `None`, so moving the engine (or
// the pipe) to another thread never carries a pointer with it, and during a call the engine
// cannot move, being borrowed.
unsafe impl Send for Pipe {}

impl Pipe {
    /// Reads once from `rd` into the incoming buffer, making room first.
    fn fill(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        if self.incoming.capacity() == 0 {
            // A released (idle) buffer is allocated again only when data actually arrives, so
            // polling an idle session allocates nothing.
            let mut first = [0u8; 2048];
            let n = rd.read(&mut first)?;
            if n == 0 {
                self.eof = true;
            } else {
                let n = min(n, first.len());
                self.incoming = first[..n].to_vec();
                self.in_start = 0;
                self.in_end = n;
            }
            return Ok(n);
        }
        if self.in_start == self.in_end {
            self.in_start = 0;
            self.in_end = 0;
        }
        if self.incoming.len() - self.in_end < READ_SPACE {
            if self.in_start > 0 {
                self.incoming.copy_within(self.in_start..self.in_end, 0);
                self.in_end -= self.in_start;
                self.in_start = 0;
            }
            if self.incoming.len() - self.in_end < READ_SPACE {
                self.incoming.resize(self.in_end + READ_SPACE, 0);
            }
        }
        let n = rd.read(&mut self.incoming[self.in_end..])?;
        if n == 0 {
            self.eof = true;
        } else {
            self.in_end += min(n, self.incoming.len() - self.in_end);
        }
        Ok(n)
    }

    /// Frees each buffer now if it is empty, or else as soon as it empties (once).
    fn release_when_empty(&mut self) {
        if self.in_start == self.in_end {
            self.incoming = Vec::new();
            self.in_start = 0;
            self.in_end = 0;
        } else {
            self.release_incoming = true;
        }
        if self.pending() == 0 {
            self.outgoing = Vec::new();
            self.out_start = 0;
        } else {
            self.release_outgoing = true;
        }
    }

    /// Ciphertext waiting to be written to the transport.
    fn pending(&self) -> usize {
        self.outgoing.len() - self.out_start
    }

    /// Writes pending ciphertext to `wr` with one call.
    fn drain(&mut self, wr: &mut dyn io::Write) -> io::Result<usize> {
        let pending = &self.outgoing[self.out_start..];
        if pending.is_empty() {
            return Ok(0);
        }
        let n = min(wr.write(pending)?, pending.len());
        self.out_start += n;
        if self.out_start == self.outgoing.len() {
            if std::mem::take(&mut self.release_outgoing) {
                self.outgoing = Vec::new();
            }
            self.outgoing.clear();
            self.out_start = 0;
        } else if self.out_start >= OUTGOING_COMPACT {
            self.outgoing.drain(..self.out_start);
            self.out_start = 0;
        }
        Ok(n)
    }

    /// Writes `data` to the lent writer while nothing is queued, as far as it takes it;
    /// returns what is left to queue.
    fn write_through<'d>(&mut self, mut data: &'d [u8]) -> &'d [u8] {
        if self.pending() > 0 {
            return data;
        }
        let Some(mut writer) = self.writer else {
            return data;
        };
        // SAFETY: `writer` was lent by `Lent::writer` for the engine call running now: it
        // points to the caller's `&mut dyn Write`, borrowed exclusively for that call and not
        // used by anyone else until the call returns (the `Lent` guard clears the pointer
        // before). This `&mut` lives only within this function.
        let wr = unsafe { writer.as_mut() };
        while !data.is_empty() {
            match wr.write(data) {
                Ok(0) => break,
                Ok(n) => data = &data[min(n, data.len())..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // `WouldBlock` or a real failure: queue the rest. The front end meets the
                // error again when it sends the queue.
                Err(_) => break,
            }
        }
        data
    }
}

impl io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let available = self.in_end - self.in_start;
        if available == 0 {
            if self.eof {
                return Ok(0);
            }
            let Some(mut reader) = self.reader else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            if self.read_error.is_some() {
                // The reader failed earlier in this call; do not ask it again.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.pending() > self.pending_at_loan {
                // OpenSSL answered a record it read in this call (an alert, a key update):
                // the answer goes out before anyone waits for the peer, who may be waiting for
                // it. OpenSSL is told to retry and the front end sends the queue. (Output
                // queued before the call, which a non-blocking transport did not take, does
                // not stop reading.)
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // SAFETY: `reader` was lent by `Lent::reader` for the engine call running now: it
            // points to the caller's `&mut dyn Read`, borrowed exclusively for that call and
            // not used by anyone else until the call returns (the `Lent` guard clears the
            // pointer before). This `&mut` lives only within this statement.
            let result = unsafe { reader.as_mut() }.read(buf);
            return match result {
                Ok(0) => {
                    self.eof = true;
                    Ok(0)
                }
                Ok(n) => Ok(min(n, buf.len())),
                Err(e) => {
                    // OpenSSL treats `WouldBlock` as "retry later" and keeps its state and any
                    // partial record; the engine returns the reader's own error.
                    self.read_error = Some(e);
                    Err(io::ErrorKind::WouldBlock.into())
                }
            };
        }
        let n = min(available, buf.len());
        buf[..n].copy_from_slice(&self.incoming[self.in_start..self.in_start + n]);
        self.in_start += n;
        if self.in_start == self.in_end && std::mem::take(&mut self.release_incoming) {
            self.incoming = Vec::new();
            self.in_start = 0;
            self.in_end = 0;
        }
        Ok(n)
    }
}

impl io::Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let rest = self.write_through(data);
        self.outgoing.extend_from_slice(rest);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The engine with the caller's reader or writer lent to its pipe, for one call. Dropping it
/// (also when unwinding) takes the loan back, so the pipe never keeps a pointer beyond the
/// call that lent it.
struct Lent<'e> {
    engine: &'e mut OpenSslEngine,
}

impl<'e> Lent<'e> {
    /// Lends `rd` to the engine's pipe until the returned guard is dropped.
    fn reader(engine: &'e mut OpenSslEngine, rd: &'e mut dyn io::Read) -> Lent<'e> {
        let short: NonNull<dyn io::Read + 'e> = NonNull::from(rd);
        // SAFETY: only the trait object's lifetime bound changes (same type and layout). The
        // pointer is dereferenced only by the pipe during this guard's life, which is shorter
        // than the borrow of `rd` ('e), and `Drop` removes it from the pipe.
        let reader = unsafe {
            std::mem::transmute::<NonNull<dyn io::Read + 'e>, NonNull<dyn io::Read>>(short)
        };
        // `read_error` is `None`: every loan ends by clearing it.
        let pipe = engine.stream.get_mut();
        pipe.pending_at_loan = pipe.pending();
        pipe.reader = Some(reader);
        Lent { engine }
    }

    /// Lends `wr` to the engine's pipe until the returned guard is dropped.
    fn writer(engine: &'e mut OpenSslEngine, wr: &'e mut dyn io::Write) -> Lent<'e> {
        let short: NonNull<dyn io::Write + 'e> = NonNull::from(wr);
        // SAFETY: as in `reader`: the lifetime bound is erased only while the guard lives,
        // which the borrow of `wr` outlasts, and `Drop` removes the pointer from the pipe.
        let writer = unsafe {
            std::mem::transmute::<NonNull<dyn io::Write + 'e>, NonNull<dyn io::Write>>(short)
        };
        engine.stream.get_mut().writer = Some(writer);
        Lent { engine }
    }

    /// Takes the loan back, as dropping does, and returns the reader's error of this call, if
    /// it failed.
    fn finish(self) -> Option<io::Error> {
        let mut this = std::mem::ManuallyDrop::new(self);
        let pipe = this.engine.stream.get_mut();
        pipe.reader = None;
        pipe.writer = None;
        pipe.read_error.take()
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let pipe = self.engine.stream.get_mut();
        pipe.reader = None;
        pipe.writer = None;
        pipe.read_error = None;
    }
}

impl std::ops::Deref for Lent<'_> {
    type Target = OpenSslEngine;

    fn deref(&self) -> &OpenSslEngine {
        self.engine
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut OpenSslEngine {
        self.engine
    }
}

/// What OpenSSL's reason codes say a failure was, for the failures every backend words
/// alike (see [`polytls_core::failure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// Nothing worded in common.
    Other,
    /// No protocol version in common with the peer.
    NoCommonProtocol,
    /// No cipher suite in common with the peer.
    NoCommonCipher,
}

/// Why a session cannot go on, kept so that every later call reports the same error.
#[derive(Clone, Debug)]
struct Failure {
    during_handshake: bool,
    message: String,
    alert: Option<AlertType>,
    /// OpenSSL refused a client that sent no certificate (the session required one).
    no_peer_certificate: bool,
    /// What the reason codes say, for [`OpenSslEngine::worded`].
    reason: Reason,
    /// Reported as a protocol error even during the handshake (a peer that does not speak
    /// TLS).
    protocol_error: bool,
}

impl Failure {
    /// A failure that reports `error`, as core words it (a handshake or protocol error).
    fn from_error(error: Error) -> Failure {
        let (message, alert, protocol_error) = match error {
            Error::Handshake { message, alert } => (message, alert, false),
            Error::Protocol(message) => (message, None, true),
            other => (other.to_string(), None, false),
        };
        Failure {
            during_handshake: true,
            message,
            alert,
            no_peer_certificate: false,
            reason: Reason::Other,
            protocol_error,
        }
    }

    /// The error to report: a handshake failure, or any failure caused by an alert from the
    /// peer (a TLS 1.3 client learns of its certificate's rejection only after its handshake);
    /// otherwise a protocol error.
    fn to_error(&self) -> Error {
        if self.no_peer_certificate {
            return Error::Verification(vec![SslError::new(SslErrorKind::NoPeerCertificate)]);
        }
        if self.protocol_error {
            return Error::Protocol(self.message.clone());
        }
        if self.during_handshake || self.alert.is_some() {
            Error::Handshake {
                message: self.message.clone(),
                alert: self.alert,
            }
        } else {
            Error::Protocol(self.message.clone())
        }
    }

    /// The failure an OpenSSL error stack describes.
    fn from_stack(stack: Option<&ErrorStack>, during_handshake: bool) -> Failure {
        let errors = stack.map(ErrorStack::errors).unwrap_or_default();
        let alert = received_alert(Some(errors));
        let message = if errors.is_empty() {
            "OpenSSL failed without giving a reason".to_owned()
        } else {
            errors
                .iter()
                .map(|e| {
                    let reason = e.reason().unwrap_or("unknown error");
                    match e.data() {
                        Some(data) if !data.is_empty() => format!("{reason} ({data})"),
                        _ => reason.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let ssl_reason = |wanted: &dyn Fn(i32) -> bool| {
            errors
                .iter()
                .any(|e| e.library_code() == ERR_LIB_SSL && wanted(e.reason_code()))
        };
        let no_peer_certificate = ssl_reason(&|r| r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);
        let reason = if ssl_reason(&|r| NO_COMMON_PROTOCOL_REASONS.contains(&r)) {
            Reason::NoCommonProtocol
        } else if ssl_reason(&|r| r == SSL_R_NO_SHARED_CIPHER) {
            Reason::NoCommonCipher
        } else {
            Reason::Other
        };
        Failure {
            during_handshake,
            message,
            alert,
            no_peer_certificate,
            reason,
            protocol_error: false,
        }
    }
}

/// The alert from the peer that one of `errors` reports, if any (libssl reports a received
/// alert as an error of its own).
fn received_alert(errors: Option<&[openssl::error::Error]>) -> Option<AlertType> {
    errors.unwrap_or_default().iter().find_map(|e| {
        let reason = e.reason_code() - SSL_AD_REASON_OFFSET;
        (e.library_code() == ERR_LIB_SSL)
            .then(|| u8::try_from(reason).ok())
            .flatten()
            .map(AlertType::from_code)
    })
}

/// What an OpenSSL call that did not succeed means.
enum Outcome {
    /// It needs more ciphertext.
    Blocked,
    /// The peer sent close_notify.
    Closed,
    /// The transport ended without close_notify.
    Eof,
    /// The session cannot go on.
    Failed(Failure),
}

/// How the peer's direction of the stream ended, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadEnd {
    Open,
    Closed,
    Truncated,
}

/// Drops errors other code left in this thread's OpenSSL error queue, so that they are not
/// taken for the outcome of the next call (the TLS and the DTLS engine call it before each
/// OpenSSL call whose failure they read). An empty queue, the usual case, is only looked at.
pub(crate) fn clear_errors() {
    // SAFETY: both functions only touch this thread's error queue and take no arguments.
    unsafe {
        if ffi::ERR_peek_last_error() != 0 {
            ffi::ERR_clear_error();
        }
    }
}

/// How OpenSSL classifies a failed `SSL_read` or `SSL_write` on `ssl` (TLS or DTLS), when the
/// thread's error queue was not emptied before the call.
///
/// Clearing the queue before every record cost more than the rest of polytls' work per
/// record, so the data paths do not: errors other code left in the queue only make OpenSSL
/// report `SSL_ERROR_SSL` (or `SYSCALL`) where it would have said "want read", "want write"
/// or "closed". The failed call's error (`e`) took the whole queue with it, so asking OpenSSL
/// again now gives the session's own state: when that is one of those three, it is the
/// outcome; otherwise the failure is real, and `e`'s own code is returned.
pub(crate) fn data_error_code(ssl: &SslRef, e: &ssl::Error) -> ErrorCode {
    match e.code() {
        code @ (ErrorCode::SSL | ErrorCode::SYSCALL)
            if e.ssl_error().is_some_and(|s| !s.errors().is_empty()) =>
        {
            // SAFETY: `ssl` is a valid session (a reference to it); `SSL_get_error` only reads
            // its state and the (now empty) error queue. 0 is what the failed `SSL_read_ex` /
            // `SSL_write_ex` returned.
            let again = unsafe { ffi::SSL_get_error(ssl.as_ptr(), 0) };
            match ErrorCode::from_raw(again) {
                again @ (ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => again,
                // A fatal alert from the peer also marks the session as shut down by it,
                // which `SSL_get_error` then reports as a close_notify: the alert's own error
                // in the stack says otherwise.
                ErrorCode::ZERO_RETURN
                    if received_alert(e.ssl_error().map(ErrorStack::errors)).is_none() =>
                {
                    ErrorCode::ZERO_RETURN
                }
                _ => code,
            }
        }
        code => code,
    }
}

/// One TLS session over OpenSSL (see the module documentation).
pub(crate) struct OpenSslEngine {
    stream: SslStream<Pipe>,
    /// The session's verification state (also reachable from the `Ssl`'s extra data).
    verify: Arc<VerifyState>,
    server: bool,
    handshaking: bool,
    failure: Option<Failure>,
    read_end: ReadEnd,
    close_sent: bool,
    /// The peer's first bytes and the configuration, to word failures as every backend does.
    wording: Wording,
    /// When a read after the handshake last found the transport empty, in
    /// [`coarse_millis`] (see [`waiting`](Self::waiting)); `None` until the first.
    waited: Option<u64>,
}

impl OpenSslEngine {
    /// A session ready to start its handshake (a client's first flight is produced by the
    /// first [`process`](TlsEngine::process)).
    ///
    /// Fails as `config::build_context` does, and with [`Error::InvalidInput`] when the peer name
    /// cannot be sent or verified.
    pub(crate) fn new(params: &EngineParams<'_>) -> Result<OpenSslEngine, Error> {
        let context = context_for(params)?;
        let mut ssl = Ssl::new(&context).map_err(|e| openssl_failure("OpenSSL session", &e))?;
        let verify = verify::install(&mut ssl, params)?;
        // Always: a handler may be set once the session has started.
        crate::alert::install(&mut ssl);
        let server = params.mode == SslMode::SslServerMode;
        if params.pre_shared_key_handler {
            let hint = params.config.pre_shared_key_identity_hint.as_deref();
            crate::psk::install(&mut ssl, server, hint)?;
        }
        if server {
            ssl.set_accept_state();
        } else {
            let sni = params.peer_name.and_then(PeerName::dns_name).filter(|_| {
                !params
                    .config
                    .test_ssl_option(SslOption::DisableServerNameIndication)
            });
            if let Some(name) = sni {
                ssl.set_hostname(name).map_err(|e| {
                    Error::InvalidInput(format!("'{name}' cannot be sent as a server name: {e}"))
                })?;
            }
            ssl.set_connect_state();
        }
        let stream = SslStream::new(ssl, Pipe::default())
            .map_err(|e| openssl_failure("OpenSSL session", &e))?;
        Ok(OpenSslEngine {
            stream,
            verify,
            server,
            handshaking: true,
            failure: None,
            read_end: ReadEnd::Open,
            close_sent: false,
            wording: Wording::new(params.config),
            waited: None,
        })
    }

    /// Frees OpenSSL's record buffers if neither holds data (`SSL_free_buffers` refuses
    /// otherwise); OpenSSL allocates them again when the next record is read or written.
    /// Nothing is freed with an OpenSSL whose `SSL_free_buffers` is not safe (see
    /// [`free_buffers_is_safe`]).
    fn free_record_buffers(&mut self) {
        static SAFE: OnceLock<bool> = OnceLock::new();
        if !*SAFE.get_or_init(|| free_buffers_is_safe(version::number())) {
            return;
        }
        // SAFETY: the `Ssl` is valid for the engine's life and no OpenSSL call on it is
        // running (the engine is borrowed mutably). With the versions admitted above,
        // `SSL_free_buffers` frees only buffers holding nothing (no partial record, no unread
        // plaintext, no pending write) and returns 0, freeing nothing, otherwise.
        unsafe { SSL_free_buffers(self.stream.ssl().as_ptr()) };
    }

    /// A read after the handshake found the transport empty: the session waits for its peer.
    /// If it had been quiet before (no such wait within [`IDLE_GAP_MS`], or none yet since
    /// the handshake), the record buffers are freed; a busy session, which finds its
    /// transport empty between bursts of records, keeps them.
    fn waiting(&mut self) {
        let now = coarse_millis();
        let quiet = self
            .waited
            .map_or(true, |then| now.saturating_sub(then) >= IDLE_GAP_MS);
        self.waited = Some(now);
        if quiet {
            self.free_record_buffers();
        }
    }

    /// What a failed OpenSSL call, made with an empty error queue (see [`clear_errors`]),
    /// means.
    fn outcome(&self, e: &ssl::Error) -> Outcome {
        self.outcome_of(e.code(), e)
    }

    /// What a failed `SSL_read` or `SSL_write` means, when the thread's error queue was not
    /// emptied before the call (see [`data_error_code`]).
    fn data_outcome(&self, e: &ssl::Error) -> Outcome {
        self.outcome_of(data_error_code(self.stream.ssl(), e), e)
    }

    /// What a failed OpenSSL call means, OpenSSL having classified it as `code`.
    fn outcome_of(&self, code: ErrorCode, e: &ssl::Error) -> Outcome {
        match code {
            ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Outcome::Blocked,
            ErrorCode::ZERO_RETURN => Outcome::Closed,
            ErrorCode::SYSCALL
                if self.stream.get_ref().eof
                    && e.ssl_error().map_or(true, |s| s.errors().is_empty()) =>
            {
                Outcome::Eof
            }
            _ => {
                let stack = e.ssl_error();
                let unexpected_eof = stack.is_some_and(|s| {
                    s.errors().iter().any(|e| {
                        e.library_code() == ERR_LIB_SSL
                            && e.reason_code() == SSL_R_UNEXPECTED_EOF_WHILE_READING
                    })
                });
                if unexpected_eof {
                    Outcome::Eof
                } else {
                    Outcome::Failed(Failure::from_stack(stack, self.handshaking))
                }
            }
        }
    }

    /// `failure` worded as every backend words it (see [`polytls_core::failure`]), when it is one
    /// of those: a peer whose first bytes are not TLS, an alert from the peer, no protocol
    /// version or cipher suite in common.
    fn worded(&self, failure: Failure) -> Failure {
        if failure.no_peer_certificate {
            return failure;
        }
        let error = if let Some(not_tls) = self.wording.not_tls() {
            not_tls
        } else if let Some(alert) = failure.alert {
            polytls_core::failure::alert_received(alert)
        } else {
            match failure.reason {
                Reason::NoCommonProtocol => self.wording.no_common_protocol(),
                Reason::NoCommonCipher => self.wording.no_common_cipher(),
                Reason::Other => return failure,
            }
        };
        Failure {
            during_handshake: failure.during_handshake,
            ..Failure::from_error(error)
        }
    }

    /// Records `failure` (worded as every backend words it) and returns its error.
    fn fail(&mut self, failure: Failure) -> Error {
        let failure = self.worded(failure);
        let error = failure.to_error();
        self.failure = Some(failure);
        error
    }

    /// Handles the records already received without taking application data.
    fn pump(&mut self) -> Result<(), Error> {
        if self.read_end != ReadEnd::Open {
            return Ok(());
        }
        clear_errors();
        let mut probe = [0u8; 1];
        let Err(e) = self.stream.ssl_peek(&mut probe) else {
            return Ok(());
        };
        match self.outcome(&e) {
            Outcome::Blocked => Ok(()),
            Outcome::Closed => {
                self.read_end = ReadEnd::Closed;
                Ok(())
            }
            Outcome::Eof => {
                self.read_end = ReadEnd::Truncated;
                Ok(())
            }
            Outcome::Failed(failure) => Err(self.fail(failure)),
        }
    }

    /// Decrypts application data into `buf` from what the pipe offers (see
    /// [`TlsEngine::read_plaintext`]).
    fn read_decrypted(&mut self, buf: &mut [u8]) -> Result<PlaintextRead, Error> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        match self.read_end {
            ReadEnd::Closed => return Ok(PlaintextRead::Closed),
            ReadEnd::Truncated => return Err(Error::Truncated),
            ReadEnd::Open => {}
        }
        if self.handshaking || buf.is_empty() {
            return Ok(PlaintextRead::NeedMore);
        }
        // No `clear_errors` here: see `data_outcome`.
        match self.stream.ssl_read(buf) {
            Ok(0) => Ok(PlaintextRead::NeedMore),
            Ok(n) => Ok(PlaintextRead::Data(n)),
            Err(e) => match self.data_outcome(&e) {
                Outcome::Blocked => Ok(PlaintextRead::NeedMore),
                Outcome::Closed => {
                    self.read_end = ReadEnd::Closed;
                    Ok(PlaintextRead::Closed)
                }
                Outcome::Eof => {
                    self.read_end = ReadEnd::Truncated;
                    Err(Error::Truncated)
                }
                Outcome::Failed(failure) => Err(self.fail(failure)),
            },
        }
    }

    /// Encrypts application data from `buf` into the pipe (see
    /// [`TlsEngine::write_plaintext`]).
    fn write_encrypted(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if self.handshaking {
            return Err(Error::InvalidState("the handshake is not complete".into()));
        }
        if self.close_sent {
            return Err(Error::InvalidState(
                "close_notify was sent: nothing more can be written".into(),
            ));
        }
        if buf.is_empty() || self.stream.get_ref().pending() >= OUTGOING_LIMIT {
            return Ok(0);
        }
        // No `clear_errors` here: see `data_outcome`.
        match self.stream.ssl_write(&buf[..min(buf.len(), WRITE_CHUNK)]) {
            Ok(n) => Ok(n),
            Err(e) => match self.data_outcome(&e) {
                Outcome::Blocked => Ok(0),
                Outcome::Closed | Outcome::Eof => {
                    Err(Error::InvalidState("the connection is closed".into()))
                }
                Outcome::Failed(failure) => Err(self.fail(failure)),
            },
        }
    }
}

impl TlsEngine for OpenSslEngine {
    fn read_tls(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        let pipe = self.stream.get_mut();
        let result = self.wording.read_tls(rd, |rd| pipe.fill(rd));
        if !self.handshaking && matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.waiting();
        }
        result
    }

    fn process(&mut self) -> Result<(), Error> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if self.handshaking {
            clear_errors();
            if let Err(e) = self.stream.do_handshake() {
                return match self.outcome(&e) {
                    Outcome::Blocked => Ok(()),
                    Outcome::Closed | Outcome::Eof => Err(self.fail(Failure {
                        during_handshake: true,
                        message: "the connection closed during the handshake".into(),
                        alert: None,
                        no_peer_certificate: false,
                        reason: Reason::Other,
                        protocol_error: false,
                    })),
                    Outcome::Failed(failure) => Err(self.fail(failure)),
                };
            }
            self.handshaking = false;
            self.stream.get_mut().release_when_empty();
            // What the handshake left (tickets, early data) is handled first; then the
            // record buffers go, until the first record of application data.
            self.pump()?;
            self.free_record_buffers();
            return Ok(());
        }
        self.pump()
    }

    fn wants_write(&self) -> bool {
        self.stream.get_ref().pending() > 0
    }

    fn write_tls(&mut self, wr: &mut dyn io::Write) -> io::Result<usize> {
        self.stream.get_mut().drain(wr)
    }

    fn is_handshaking(&self) -> bool {
        self.handshaking && self.failure.is_none()
    }

    fn read_plaintext(&mut self, buf: &mut [u8]) -> Result<PlaintextRead, Error> {
        self.read_decrypted(buf)
    }

    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.write_encrypted(buf)
    }

    /// OpenSSL reads the records from `rd` itself (header, then body, into its record buffer)
    /// after whatever ciphertext [`read_tls`](TlsEngine::read_tls) left in the pipe.
    fn read_plaintext_from(
        &mut self,
        rd: &mut dyn io::Read,
        buf: &mut [u8],
    ) -> Result<PlaintextRead, Error> {
        let mut lent = Lent::reader(self, rd);
        let result = lent.read_decrypted(buf);
        match (lent.finish(), result) {
            // OpenSSL was told to retry: the reader's error is the answer.
            (Some(e), Ok(PlaintextRead::NeedMore)) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    self.waiting();
                }
                Err(Error::Io(e))
            }
            (_, result) => result,
        }
    }

    /// OpenSSL writes each flight (or part of one, where it flushes) straight to `wr` while
    /// nothing is queued, so that the peer can start on it while OpenSSL goes on (a TLS 1.3
    /// server's session tickets, for example).
    fn process_to(&mut self, wr: &mut dyn io::Write) -> Result<(), Error> {
        TlsEngine::process(&mut *Lent::writer(self, wr))
    }

    /// OpenSSL writes each record straight to `wr` while nothing is queued.
    fn write_plaintext_to(&mut self, wr: &mut dyn io::Write, buf: &[u8]) -> Result<usize, Error> {
        Lent::writer(self, wr).write_encrypted(buf)
    }

    fn send_close_notify(&mut self) {
        if self.close_sent || self.failure.is_some() {
            return;
        }
        self.close_sent = true;
        // OpenSSL cannot send close_notify during a handshake; the session then just ends.
        if !self.handshaking {
            clear_errors();
            let _ = self.stream.shutdown();
        }
    }

    fn session(&self) -> SessionInfo {
        if self.handshaking {
            return SessionInfo::new();
        }
        let ssl = self.stream.ssl();
        let mut info = session_facts(ssl, self.server, &self.verify);
        if self.server {
            info.server_name = ssl.servername(NameType::HOST_NAME).map(str::to_owned);
        }
        info
    }
}

/// The facts of an established TLS or DTLS session that both engines report: the version,
/// the cipher, the ALPN protocol, the PSK identity, and the peer's chain as the verification converted it (`verify`). On a server,
/// OpenSSL keeps the client's leaf apart from the rest of its chain.
pub(crate) fn session_facts(ssl: &SslRef, server: bool, verify: &VerifyState) -> SessionInfo {
    let mut info = SessionInfo::new();
    info.protocol = match ssl.version2() {
        Some(SslVersion::TLS1_3) => SslProtocol::TlsV1_3,
        Some(SslVersion::TLS1_2) => SslProtocol::TlsV1_2,
        Some(SslVersion::TLS1_1) => SslProtocol::TlsV1_1,
        Some(SslVersion::TLS1) => SslProtocol::TlsV1_0,
        Some(SslVersion::DTLS1_2) => SslProtocol::DtlsV1_2,
        Some(SslVersion::DTLS1) => SslProtocol::DtlsV1_0,
        _ => SslProtocol::UnknownProtocol,
    };
    info.cipher = ssl
        .current_cipher()
        .map(|c| SslCipher::from_id(u16::from_be_bytes(c.protocol_id()), info.protocol));
    if server {
        info.peer_chain.extend(
            ssl.peer_certificate()
                .and_then(|leaf| verify.certificate(&leaf)),
        );
    }
    if let Some(chain) = ssl.peer_cert_chain() {
        info.peer_chain
            .extend(chain.iter().filter_map(|cert| verify.certificate(cert)));
    }
    info.alpn_protocol = ssl.selected_alpn_protocol().map(<[u8]>::to_vec);
    // OpenSSL keeps the identity in the session on both sides once a PSK key exchange ran.
    info.psk_identity = ssl.psk_identity().map(<[u8]>::to_vec);
    info
}

#[cfg(test)]
mod free_buffers_tests {
    use super::free_buffers_is_safe;

    #[test]
    fn only_versions_with_the_cve_2024_4741_fix_free_buffers() {
        for (number, safe) in [
            (0x1010_117f, false), // 1.1.1w
            (0x1010_119f, true),  // 1.1.1y
            (0x1010_0000, false), // 1.1.0
            (0x3000_00d0, false), // 3.0.13
            (0x3000_00e0, true),  // 3.0.14
            (0x3000_0130, true),  // 3.0.19
            (0x3010_0050, false), // 3.1.5
            (0x3010_0060, true),  // 3.1.6
            (0x3020_0010, false), // 3.2.1
            (0x3020_0020, true),  // 3.2.2
            (0x3030_0000, false), // 3.3.0
            (0x3030_0010, true),  // 3.3.1
            (0x3040_0000, true),  // 3.4.0
            (0x3050_0000, true),  // 3.5.0
        ] {
            assert_eq!(free_buffers_is_safe(number), safe, "{number:#x}");
        }
    }
}
