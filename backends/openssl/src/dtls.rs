//! [`OpenSslDtlsEngine`]: one DTLS association over OpenSSL as a sans-IO
//! [`DtlsEngine`].
//!
//! OpenSSL runs over [`Datagrams`], a transport of the engine's own whose every read is one
//! whole datagram from the peer (or "would block") and whose every write is one datagram to
//! send, queued until the front end sends it. OpenSSL's DTLS state machine does the rest:
//! fragmentation of handshake messages at the MTU it is given (`SSL_set_mtu`, with MTU
//! queries off since the transport is not a socket), retransmission on its timer (1 s
//! doubling to 60 s, read with `DTLSv1_get_timeout` and fired with
//! `DTLSv1_handle_timeout`), replay detection and the silent discarding of records that do
//! not authenticate. DTLS 1.0 is negotiated only when the selector names it, at security level
//! 0 (OpenSSL 3 refuses its SHA-1 handshake signatures above), as TLS 1.0 is.
//!
//! The context is built from the configuration with the TLS engine's identity, trust and
//! verification code (`config`, `verify`), so both report the same errors, and associations
//! with equal parameters share it through a cache of its own, kept as the TLS contexts' is
//! (`context_cache::dtls_context_for`). A server fed a ClientHello verified by core's cookie
//! verifier continues the exchange with `DTLSv1_listen`, whose cookie callback (on the shared
//! context) accepts exactly the cookie core verified for this association, which it finds in
//! the `Ssl`'s extra data: OpenSSL then numbers its messages as after a HelloVerifyRequest of
//! its own.

use std::collections::VecDeque;
use std::ffi::{c_int, c_long, c_void};
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode,
    SslStream, SslVersion,
};
use openssl_sys as ffi;
use polytls_core::{
    DtlsEngine, DtlsEngineParams, DtlsRead, EngineParams, Error, PeerName, SessionInfo, SslMode,
    SslOption, SslProtocol,
};

use crate::backend::NAME;
use crate::config::{openssl_failure, set_identity, set_trust};
use crate::context_cache::dtls_context_for;
use crate::engine::{clear_errors, data_error_code};
use crate::verify::{self, VerifyState};

extern "C" {
    // OpenSSL 1.1.0 and later; not declared by `openssl-sys`.
    fn DTLSv1_listen(s: *mut ffi::SSL, client: *mut c_void) -> c_int;
    fn BIO_ADDR_new() -> *mut c_void;
    fn BIO_ADDR_free(addr: *mut c_void);
    // OpenSSL 1.1.1 and later.
    fn DTLS_get_data_mtu(s: *const ffi::SSL) -> usize;
    // OpenSSL 1.1.0 and later.
    fn SSL_has_pending(s: *const ffi::SSL) -> c_int;
}

/// `DTLS_CTRL_GET_TIMEOUT` and `DTLS_CTRL_HANDLE_TIMEOUT`, the controls behind OpenSSL's
/// `DTLSv1_get_timeout` and `DTLSv1_handle_timeout` macros.
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;

/// `struct timeval` as OpenSSL fills it: two `long`s on every platform polytls builds for
/// (LP64 Unix, where `time_t` and `suseconds_t` are `long`, and Windows, whose `timeval` is
/// declared with `long`s).
#[repr(C)]
struct Timeval {
    tv_sec: c_long,
    tv_usec: c_long,
}

/// The engine's datagram transport (see the module documentation). Its buffers are kept
/// from call to call, so that no datagram costs an allocation; a received one is copied
/// twice (into the transport, then into OpenSSL's buffer), a sent one once (out of
/// OpenSSL's buffer, until the front end sends it).
#[derive(Default)]
struct Datagrams {
    /// The datagram from the peer OpenSSL reads next: each engine call hands in at most one
    /// and drops it if OpenSSL did not take it.
    incoming: Vec<u8>,
    /// Whether `incoming` holds a datagram OpenSSL has not read.
    unread: bool,
    /// The datagrams OpenSSL wrote, end to end, in the order they are sent.
    outgoing: Vec<u8>,
    /// Where each datagram of `outgoing` ends, from the first not sent yet.
    ends: VecDeque<usize>,
    /// Where the first datagram not sent yet starts in `outgoing`.
    sent: usize,
}

impl Datagrams {
    fn push_incoming(&mut self, datagram: &[u8]) {
        self.incoming.clear();
        self.incoming.extend_from_slice(datagram);
        self.unread = true;
    }

    /// Drops the datagram from the peer if OpenSSL did not read it.
    fn drop_incoming(&mut self) {
        self.unread = false;
    }

    /// Drops every datagram not sent yet.
    fn drop_outgoing(&mut self) {
        self.outgoing.clear();
        self.ends.clear();
        self.sent = 0;
    }
}

impl io::Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.unread {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.unread = false;
        // OpenSSL reads with a buffer larger than any datagram; a longer one is cut, and
        // then fails authentication like any damaged datagram.
        let n = self.incoming.len().min(buf.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        Ok(n)
    }
}

impl io::Write for Datagrams {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(data);
        self.ends.push_back(self.outgoing.len());
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether `datagram` is exactly one DTLS 1.0 or 1.2 record (the length in its header covers
/// the rest): once OpenSSL has read that record, it holds nothing more of the datagram.
fn single_record(datagram: &[u8]) -> bool {
    match datagram {
        [_, 0xfe, 0xfd | 0xff, _, _, _, _, _, _, _, _, high, low, rest @ ..] => {
            usize::from(u16::from_be_bytes([*high, *low])) == rest.len()
        }
        _ => false,
    }
}

/// The version range a DTLS selector allows, or `None` for selectors this engine refuses.
fn version_range(protocol: SslProtocol) -> Option<(SslVersion, Option<SslVersion>)> {
    match protocol {
        SslProtocol::DtlsV1_0 => Some((SslVersion::DTLS1, Some(SslVersion::DTLS1))),
        SslProtocol::DtlsV1_0OrLater => Some((SslVersion::DTLS1, None)),
        SslProtocol::DtlsV1_2 => Some((SslVersion::DTLS1_2, Some(SslVersion::DTLS1_2))),
        SslProtocol::DtlsV1_2OrLater | SslProtocol::SecureProtocols => {
            Some((SslVersion::DTLS1_2, None))
        }
        _ => None,
    }
}

/// The cookie a server association accepts: the one core's verifier checked (empty: none).
type ExpectedCookie = Arc<Mutex<Vec<u8>>>;

/// The extra-data slot of an `Ssl` holding its [`ExpectedCookie`].
fn cookie_index() -> Result<Index<Ssl, ExpectedCookie>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, ExpectedCookie>> = OnceLock::new();
    verify::ssl_ex_index(&INDEX)
}

/// A DTLS context for `params` (uncached: see `context_cache::dtls_context_for`).
///
/// Fails with [`Error::Unsupported`] for a selector other than the DTLS ones this engine
/// claims, with [`Error::Certificate`] or [`Error::Key`] when OpenSSL rejects the local
/// identity, and with [`Error::Io`] when OpenSSL fails internally.
pub(crate) fn build_context(params: &EngineParams<'_>) -> Result<SslContext, Error> {
    let config = params.config;
    // The front end refused every setting this engine does not carry
    // (polytls_core::backend::refuse_unclaimed_dtls); the selector is one of ours.
    let Some((min, max)) = version_range(config.protocol) else {
        return Err(Error::unsupported(
            NAME,
            format!("protocol {} for DTLS", config.protocol),
        ));
    };
    let failed = |e: ErrorStack| openssl_failure("OpenSSL DTLS context", &e);
    let mut builder = SslContextBuilder::new(SslMethod::dtls()).map_err(failed)?;
    builder.set_min_proto_version(Some(min)).map_err(failed)?;
    builder.set_max_proto_version(max).map_err(failed)?;
    if min == SslVersion::DTLS1 {
        // As for TLS 1.0 and 1.1: OpenSSL 3 refuses DTLS 1.0 above security level 0 (its
        // handshake signatures use SHA-1).
        builder.set_security_level(0);
    }
    // No tickets: polytls does not resume sessions, and OpenSSL packs a server's ticket
    // with its last flight into a datagram beyond the MTU.
    let mut options = SslOptions::NO_COMPRESSION
        | SslOptions::NO_RENEGOTIATION
        | SslOptions::NO_QUERY_MTU
        | SslOptions::NO_TICKET;
    if params.mode == SslMode::SslServerMode
        && !config.test_ssl_option(SslOption::DisableServerCipherPreference)
    {
        // The server's order of suites wins, as over TLS (Qt's default).
        options |= SslOptions::CIPHER_SERVER_PREFERENCE;
    }
    builder.set_options(options);
    if let Some(tls13) = config.ciphers.iter().flatten().find(|c| c.is_tls13()) {
        return Err(Error::unsupported(
            NAME,
            format!("cipher suite {} over DTLS 1.2", tls13.name()),
        ));
    }
    crate::config::set_ciphers(&mut builder, config)?;
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);
    set_identity(&mut builder, config)?;
    set_trust(&mut builder, params)?;
    crate::config::set_alpn(&mut builder, params)?;
    if params.mode == SslMode::SslServerMode {
        builder
            .set_session_id_context(b"polytls-dtls")
            .map_err(failed)?;
        // Cookies are made by core's verifier; OpenSSL never issues one.
        builder.set_cookie_generate_cb(|_, _| Err(ErrorStack::get()));
        let index = cookie_index().map_err(failed)?;
        builder.set_cookie_verify_cb(move |ssl, cookie| {
            let Some(expected) = ssl.ex_data(index) else {
                return false;
            };
            let expected = expected.lock().unwrap_or_else(|p| p.into_inner());
            !expected.is_empty() && expected.as_slice() == cookie
        });
    }
    Ok(builder.build())
}

/// One DTLS association over OpenSSL (see the module documentation).
pub(crate) struct OpenSslDtlsEngine {
    stream: SslStream<Datagrams>,
    verify: Arc<VerifyState>,
    server: bool,
    handshaking: bool,
    /// The largest plaintext one record takes, read from OpenSSL when the handshake
    /// completed (the MTU and the suite are fixed from then on).
    max_plaintext: usize,
    /// The cookie core verified, which the cookie callback accepts (server only; the `Ssl`'s
    /// extra data holds the same).
    expected_cookie: ExpectedCookie,
    closed: bool,
}

impl OpenSslDtlsEngine {
    /// An association ready to start its handshake.
    ///
    /// Fails with [`Error::Unsupported`] for a protocol other than DTLS 1.0 or 1.2 or for settings
    /// this engine does not implement (a TLS 1.3 cipher suite, OCSP, tickets, curves), with
    /// [`Error::Certificate`] or [`Error::Key`] when OpenSSL rejects the local identity, with
    /// [`Error::InvalidInput`] for an MTU OpenSSL refuses or a peer name it cannot verify,
    /// and with [`Error::Io`] when OpenSSL fails internally.
    pub(crate) fn new(params: &DtlsEngineParams<'_>) -> Result<OpenSslDtlsEngine, Error> {
        let config = params.config;
        let server = match params.mode {
            SslMode::SslServerMode => true,
            SslMode::SslClientMode => false,
            SslMode::UnencryptedMode => {
                return Err(Error::InvalidInput(
                    "a DTLS engine needs client or server mode".into(),
                ))
            }
        };
        let tls_params = EngineParams::new(
            params.mode,
            config,
            params.peer_name,
            params.verifier.clone(),
        );
        let failed = |e: ErrorStack| openssl_failure("OpenSSL DTLS session", &e);
        let context = dtls_context_for(&tls_params)?;
        let expected_cookie = ExpectedCookie::default();
        let mut ssl = Ssl::new(&context).map_err(failed)?;
        let verify = verify::install(&mut ssl, &tls_params)?;
        if params.pre_shared_key_handler {
            let hint = config.pre_shared_key_identity_hint.as_deref();
            crate::psk::install(&mut ssl, server, hint)?;
        }
        if server {
            let index = cookie_index().map_err(failed)?;
            ssl.set_ex_data(index, Arc::clone(&expected_cookie));
        }
        ssl.set_mtu(u32::from(params.mtu)).map_err(|e| {
            Error::InvalidInput(format!("OpenSSL refuses an MTU of {}: {e}", params.mtu))
        })?;
        if server {
            ssl.set_accept_state();
        } else {
            let sni = params
                .peer_name
                .and_then(PeerName::dns_name)
                .filter(|_| !config.test_ssl_option(SslOption::DisableServerNameIndication));
            if let Some(name) = sni {
                ssl.set_hostname(name).map_err(|e| {
                    Error::InvalidInput(format!("'{name}' cannot be sent as a server name: {e}"))
                })?;
            }
            ssl.set_connect_state();
        }
        let stream = SslStream::new(ssl, Datagrams::default()).map_err(failed)?;
        Ok(OpenSslDtlsEngine {
            stream,
            verify,
            server,
            handshaking: true,
            max_plaintext: 0,
            expected_cookie,
            closed: false,
        })
    }

    fn ssl_ptr(&self) -> *mut ffi::SSL {
        self.stream.ssl().as_ptr()
    }

    /// Decrypts every record of `datagram`, just pushed, into `out` (appended) and returns
    /// how the datagram ended. OpenSSL takes the whole datagram at its first read and
    /// returns one record per `SSL_read`; the loop goes on while it holds more of the
    /// datagram (`SSL_has_pending`: further records a sender packed into it, or the rest of
    /// a record; not asked when the datagram is one record), so that nothing is left for the
    /// next datagram to push aside. OpenSSL decrypts straight into `out`'s spare room,
    /// reserved for the datagram's length (a record's plaintext is shorter than the datagram
    /// carrying it). A close_notify after some records ends the datagram as `Closed` with
    /// their data kept.
    ///
    /// The thread's error queue is not emptied first (see [`data_error_code`]).
    fn read_records(&mut self, datagram: &[u8], out: &mut Vec<u8>) -> Result<DtlsRead, Error> {
        let start = out.len();
        let datagram_len = datagram.len();
        let one_record = single_record(datagram);
        loop {
            out.reserve(datagram_len.max(1));
            let spare = out.spare_capacity_mut();
            match self.stream.ssl_read_uninit(spare) {
                Ok(n) => {
                    let n = n.min(spare.len());
                    // SAFETY: OpenSSL wrote the first `n` bytes of the spare room (it never
                    // reports more than the buffer it was given; `n` is capped at it anyway),
                    // so the first `len + n` bytes of `out` are initialised and within its
                    // capacity.
                    unsafe { out.set_len(out.len() + n) };
                }
                Err(e) => match data_error_code(self.stream.ssl(), &e) {
                    ErrorCode::ZERO_RETURN => {
                        self.closed = true;
                        return Ok(DtlsRead::Closed);
                    }
                    // After some records, the rest of the datagram was dropped (a record
                    // that did not authenticate: WANT_READ) or ended the association (a fatal
                    // alert, which OpenSSL reports again at the next read): the records read
                    // so far are returned.
                    _ if out.len() > start => break,
                    ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => return Ok(DtlsRead::Nothing),
                    _ => return Err(Error::Protocol(format!("OpenSSL DTLS read: {e}"))),
                },
            }
            if one_record {
                break;
            }
            // SAFETY: the `Ssl` is valid; the call only reads its record layer's state.
            if unsafe { SSL_has_pending(self.ssl_ptr()) } == 0 {
                break;
            }
        }
        Ok(DtlsRead::Data(out.len() - start))
    }

    /// Runs OpenSSL's handshake as far as the datagrams received allow.
    fn step(&mut self) -> Result<bool, Error> {
        if !self.handshaking {
            return Ok(true);
        }
        clear_errors();
        match self.stream.do_handshake() {
            Ok(()) => {
                self.handshaking = false;
                // SAFETY: the `Ssl` is valid; the call only reads its state.
                self.max_plaintext = unsafe { DTLS_get_data_mtu(self.ssl_ptr()) };
                Ok(true)
            }
            Err(e) if matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE) => Ok(false),
            Err(e) => Err(Error::Handshake {
                message: format!("OpenSSL DTLS handshake: {e}"),
                alert: None,
            }),
        }
    }
}

impl DtlsEngine for OpenSslDtlsEngine {
    fn handshake(&mut self, datagram: Option<&[u8]>) -> Result<bool, Error> {
        if let Some(datagram) = datagram {
            self.stream.get_mut().push_incoming(datagram);
        }
        let done = self.step();
        // A datagram OpenSSL did not take (none is left unless it failed) is not kept for
        // later: the peer retransmits.
        self.stream.get_mut().drop_incoming();
        done
    }

    fn accept_verified_hello(&mut self, hello: &[u8], cookie: &[u8]) -> Result<bool, Error> {
        if !self.server || !self.handshaking {
            return Err(Error::InvalidState(
                "only a server that has not started accepts a verified ClientHello".into(),
            ));
        }
        *self
            .expected_cookie
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = cookie.to_vec();
        self.stream.get_mut().push_incoming(hello);
        clear_errors();
        // SAFETY: `BIO_ADDR_new` returns a fresh address or null; it is freed below and not
        // used after. The `Ssl` is valid for the engine's life and has not started a
        // handshake; `DTLSv1_listen` reads the ClientHello from the engine's transport (the
        // `SslStream`'s BIO, alive as long as the stream) and writes only to it.
        let listened = unsafe {
            let addr = BIO_ADDR_new();
            if addr.is_null() {
                return Err(openssl_failure("OpenSSL BIO_ADDR", &ErrorStack::get()));
            }
            let r = DTLSv1_listen(self.ssl_ptr(), addr);
            BIO_ADDR_free(addr);
            r
        };
        self.stream.get_mut().drop_incoming();
        self.stream.get_mut().drop_outgoing();
        if listened <= 0 {
            return Err(Error::Handshake {
                message: format!(
                    "OpenSSL refused the verified ClientHello: {}",
                    ErrorStack::get()
                ),
                alert: None,
            });
        }
        self.step()
    }

    fn timeout(&self) -> Option<Duration> {
        let mut tv = Timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: the `Ssl` is valid; `DTLS_CTRL_GET_TIMEOUT` writes one `struct timeval`
        // (laid out as `Timeval`, see there) through the pointer, which lives on this stack.
        let running = unsafe {
            ffi::SSL_ctrl(
                self.ssl_ptr(),
                DTLS_CTRL_GET_TIMEOUT,
                0,
                (&mut tv as *mut Timeval).cast(),
            )
        };
        if running != 1 {
            return None;
        }
        let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
        let micros = u32::try_from(tv.tv_usec.clamp(0, 999_999)).unwrap_or(0);
        Some(Duration::new(secs, micros * 1000))
    }

    fn handle_timeout(&mut self) -> Result<bool, Error> {
        clear_errors();
        // SAFETY: the `Ssl` is valid; the control takes no argument and writes only to the
        // engine's transport.
        let r = unsafe {
            ffi::SSL_ctrl(
                self.ssl_ptr(),
                DTLS_CTRL_HANDLE_TIMEOUT,
                0,
                std::ptr::null_mut(),
            )
        };
        match r {
            r if r > 0 => Ok(true),
            0 => Ok(false),
            _ => Err(Error::Timeout {
                what: "the DTLS handshake: OpenSSL gave up retransmitting (its limit)".into(),
            }),
        }
    }

    fn encrypt(&mut self, plaintext: &[u8]) -> Result<(), Error> {
        if self.handshaking || self.closed {
            return Err(Error::InvalidState(
                "DTLS data can only be sent once the handshake completed".into(),
            ));
        }
        let max = self.max_plaintext();
        if plaintext.len() > max {
            return Err(Error::InvalidInput(format!(
                "a datagram of {} bytes does not fit in one DTLS record at this MTU (at most {max})",
                plaintext.len()
            )));
        }
        if plaintext.is_empty() {
            return Ok(());
        }
        // The error queue is not emptied first (see `data_error_code`): a memory transport
        // never blocks, so a failure here is the association's own.
        match self.stream.ssl_write(plaintext) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Protocol(format!("OpenSSL DTLS write: {e}"))),
        }
    }

    fn decrypt(&mut self, datagram: &[u8], out: &mut Vec<u8>) -> Result<DtlsRead, Error> {
        if self.closed {
            return Ok(DtlsRead::Closed);
        }
        self.stream.get_mut().push_incoming(datagram);
        let read = self.read_records(datagram, out);
        self.stream.get_mut().drop_incoming();
        read
    }

    fn max_plaintext(&self) -> usize {
        self.max_plaintext
    }

    fn send_close_notify(&mut self) {
        if !self.closed {
            clear_errors();
            let _ = self.stream.shutdown();
            self.closed = true;
        }
    }

    fn send_queued(&mut self, send: &mut dyn FnMut(&[u8]) -> io::Result<usize>) -> io::Result<()> {
        let pipe = self.stream.get_mut();
        while let Some(&end) = pipe.ends.front() {
            send(&pipe.outgoing[pipe.sent..end])?;
            pipe.ends.pop_front();
            pipe.sent = end;
        }
        pipe.drop_outgoing();
        Ok(())
    }

    fn has_queued(&self) -> bool {
        !self.stream.get_ref().ends.is_empty()
    }

    fn session(&self) -> SessionInfo {
        if self.handshaking {
            return SessionInfo::new();
        }
        crate::engine::session_facts(self.stream.ssl(), self.server, &self.verify)
    }
}
