//! [`OpenSslEngine`]: one TLS session as a sans-IO [`TlsEngine`].
//!
//! OpenSSL runs over an in-memory transport, [`Pipe`]: ciphertext read from the caller's
//! transport waits in its incoming buffer until OpenSSL asks for it, and everything OpenSSL
//! writes collects in its outgoing buffer until the caller drains it. The pipe never blocks a
//! write and answers an empty read with `WouldBlock` (or end of stream, once the transport
//! reported it), so OpenSSL's "want read" means "feed me more ciphertext". Both buffers are
//! reused; steady-state traffic allocates nothing per record.
//!
//! After the handshake, [`process`](TlsEngine::process) peeks one byte of plaintext, which makes
//! OpenSSL handle every record already received (alerts, close_notify, tickets, key updates)
//! without consuming application data.

use std::cmp::min;
use std::io;

use openssl::error::ErrorStack;
use openssl::ssl::{self, ErrorCode, NameType, Ssl, SslStream, SslVersion};
use polytls::{
    AlertType, EngineParams, Error, PlaintextRead, SessionInfo, SslCipher, SslMode, SslOption,
    SslProtocol, TlsEngine,
};

use crate::config::openssl_failure;
use crate::context_cache::context_for;
use crate::verify;

/// Free space guaranteed in the incoming buffer before each transport read.
const READ_SPACE: usize = 32 * 1024;
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
/// `SSL_AD_REASON_OFFSET`: libssl reports a received alert as this plus the alert's code.
const SSL_AD_REASON_OFFSET: i32 = 1000;

/// The in-memory transport OpenSSL reads ciphertext from and writes ciphertext to.
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
}

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
}

impl io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.in_end - self.in_start;
        if available == 0 {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
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
        self.outgoing.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a session cannot go on, kept so that every later call reports the same error.
#[derive(Clone, Debug)]
struct Failure {
    during_handshake: bool,
    message: String,
    alert: Option<AlertType>,
}

impl Failure {
    /// The error to report: a handshake failure, or any failure caused by an alert from the
    /// peer (a TLS 1.3 client learns of its certificate's rejection only after its handshake);
    /// otherwise a protocol error.
    fn to_error(&self) -> Error {
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
        let alert = errors.iter().find_map(|e| {
            let reason = e.reason_code() - SSL_AD_REASON_OFFSET;
            (e.library_code() == ERR_LIB_SSL)
                .then(|| u8::try_from(reason).ok())
                .flatten()
                .map(AlertType::from_code)
        });
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
        Failure {
            during_handshake,
            message,
            alert,
        }
    }
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
/// taken for the outcome of the next call.
fn clear_errors() {
    let _ = ErrorStack::get();
}

/// One TLS session over OpenSSL (see the module documentation).
pub(crate) struct OpenSslEngine {
    stream: SslStream<Pipe>,
    server: bool,
    handshaking: bool,
    failure: Option<Failure>,
    read_end: ReadEnd,
    close_sent: bool,
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
        verify::install(&mut ssl, params)?;
        let server = params.mode == SslMode::SslServerMode;
        if server {
            ssl.set_accept_state();
        } else {
            let sni = params
                .peer_name
                .filter(|name| verify::ip_literal(name).is_none())
                .filter(|_| {
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
            server,
            handshaking: true,
            failure: None,
            read_end: ReadEnd::Open,
            close_sent: false,
        })
    }

    /// What a failed OpenSSL call means.
    fn outcome(&self, e: &ssl::Error) -> Outcome {
        let eof = self.stream.get_ref().eof;
        match e.code() {
            ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Outcome::Blocked,
            ErrorCode::ZERO_RETURN => Outcome::Closed,
            ErrorCode::SYSCALL if eof && e.ssl_error().map_or(true, |s| s.errors().is_empty()) => {
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

    /// Records `failure` and returns its error.
    fn fail(&mut self, failure: Failure) -> Error {
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
}

impl TlsEngine for OpenSslEngine {
    fn read_tls(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        self.stream.get_mut().fill(rd)
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
                    })),
                    Outcome::Failed(failure) => Err(self.fail(failure)),
                };
            }
            self.handshaking = false;
            self.stream.get_mut().release_when_empty();
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
        clear_errors();
        match self.stream.ssl_read(buf) {
            Ok(0) => Ok(PlaintextRead::NeedMore),
            Ok(n) => Ok(PlaintextRead::Data(n)),
            Err(e) => match self.outcome(&e) {
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

    fn write_plaintext(&mut self, buf: &[u8]) -> Result<usize, Error> {
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
        clear_errors();
        match self.stream.ssl_write(&buf[..min(buf.len(), WRITE_CHUNK)]) {
            Ok(n) => Ok(n),
            Err(e) => match self.outcome(&e) {
                Outcome::Blocked => Ok(0),
                Outcome::Closed | Outcome::Eof => {
                    Err(Error::InvalidState("the connection is closed".into()))
                }
                Outcome::Failed(failure) => Err(self.fail(failure)),
            },
        }
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
        let mut info = SessionInfo::new();
        if self.handshaking {
            return info;
        }
        let ssl = self.stream.ssl();
        info.protocol = match ssl.version2() {
            Some(SslVersion::TLS1_3) => SslProtocol::TlsV1_3,
            Some(SslVersion::TLS1_2) => SslProtocol::TlsV1_2,
            Some(SslVersion::TLS1_1) => SslProtocol::TlsV1_1,
            Some(SslVersion::TLS1) => SslProtocol::TlsV1_0,
            _ => SslProtocol::UnknownProtocol,
        };
        info.cipher = ssl
            .current_cipher()
            .map(|c| SslCipher::from_id(u16::from_be_bytes(c.protocol_id()), info.protocol));
        if self.server {
            // On a server, OpenSSL keeps the client's leaf apart from the rest of its chain.
            info.peer_chain.extend(
                ssl.peer_certificate()
                    .and_then(|leaf| verify::to_certificate(&leaf)),
            );
        }
        if let Some(chain) = ssl.peer_cert_chain() {
            info.peer_chain
                .extend(chain.iter().filter_map(verify::to_certificate));
        }
        info.alpn_protocol = ssl.selected_alpn_protocol().map(<[u8]>::to_vec);
        if self.server {
            info.server_name = ssl.servername(NameType::HOST_NAME).map(str::to_owned);
        }
        info
    }
}
