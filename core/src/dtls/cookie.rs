//! [`DtlsClientVerifier`]: the stateless cookie exchange of RFC 6347 section 4.2.1, after Qt's
//! `QDtlsClientVerifier`, implemented once here for every engine.
//!
//! A server that answers a ClientHello with its whole first flight can be made to flood a
//! forged source address, and one that keeps state per ClientHello can be made to run out of
//! memory. The cookie exchange stops both: the first ClientHello from an address gets only a
//! HelloVerifyRequest carrying a cookie, and only a ClientHello that echoes a valid cookie
//! reaches an engine. The cookie is an HMAC-SHA256, under a server secret, of the client's
//! address, port and the ClientHello parameters RFC 6347 requires a client to repeat
//! (version, random, session id, cipher suites, compression methods), so checking it needs no
//! memory of the first exchange: nothing is kept per unverified client. A HelloVerifyRequest
//! (60 bytes) is always smaller than the shortest valid ClientHello (67 bytes), so the exchange
//! amplifies nothing.
//!
//! Rotating the secret ([`DtlsClientVerifier::set_cookie_generator_parameters`]) keeps the
//! previous one valid for a grace period, so that clients halfway through the exchange are
//! not turned away.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{check_peer_address, DatagramSocket, DtlsError};
use crate::Error;

type HmacSha256 = Hmac<Sha256>;

/// DTLS record content type of handshake messages.
const HANDSHAKE: u8 = 22;
/// Handshake message types.
const CLIENT_HELLO: u8 = 1;
const HELLO_VERIFY_REQUEST: u8 = 3;
/// Record header: type, version, epoch, sequence number, length.
const RECORD_HEADER: usize = 13;
/// Handshake header: type, length, message sequence, fragment offset, fragment length.
const HANDSHAKE_HEADER: usize = 12;
/// The cookie's length: one HMAC-SHA256 output.
pub const COOKIE_LEN: usize = 32;
/// How long a rotated-out secret stays valid, by default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(60);

/// The hash of the cookie HMAC (Qt's `QCryptographicHash::Algorithm`, limited to what
/// polytls implements).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CookieHash {
    /// HMAC-SHA256 (Qt's default).
    #[default]
    Sha256,
}

/// Qt's `QDtlsClientVerifier::GeneratorParameters`: the hash and the secret cookies are made
/// with. The default secret is 32 random bytes drawn once per process, shared by every
/// verifier and every [`Dtls`](super::Dtls) server that is not given one, so that a cookie one
/// of them issued verifies in the others.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratorParameters {
    /// The HMAC's hash.
    pub hash: CookieHash,
    /// The HMAC's key; it must not be empty.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for GeneratorParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratorParameters")
            .field("hash", &self.hash)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

impl Default for GeneratorParameters {
    fn default() -> GeneratorParameters {
        static SECRET: OnceLock<Vec<u8>> = OnceLock::new();
        let secret = SECRET.get_or_init(|| {
            let mut secret = vec![0u8; 32];
            if getrandom::getrandom(&mut secret).is_err() {
                // No system randomness: a secret from the clock and the address space is
                // weak, but a cookie only proves a client can receive at its address; it
                // protects no data.
                use sha2::Digest;
                let seed = format!("{:?}{:p}", Instant::now(), &secret);
                secret = Sha256::digest(seed.as_bytes()).to_vec();
            }
            secret
        });
        GeneratorParameters {
            hash: CookieHash::Sha256,
            secret: secret.clone(),
        }
    }
}

/// The parts of a DTLS ClientHello the cookie exchange needs, borrowed from the datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientHello<'a> {
    /// The record's epoch and sequence number (8 bytes), echoed in the HelloVerifyRequest.
    pub(crate) record_sequence: &'a [u8],
    /// `client_version`.
    pub(crate) version: &'a [u8],
    /// `random`.
    pub(crate) random: &'a [u8],
    /// `session_id`, with its length byte.
    pub(crate) session_id: &'a [u8],
    /// `cookie`, without its length byte.
    pub(crate) cookie: &'a [u8],
    /// `cipher_suites`, with its length.
    pub(crate) cipher_suites: &'a [u8],
    /// `compression_methods`, with its length byte.
    pub(crate) compression_methods: &'a [u8],
}

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn uint(&mut self, n: usize) -> Option<usize> {
        Some(
            self.take(n)?
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    }

    /// A vector with a `len_bytes`-byte length, returned with its length prefix.
    fn vector(&mut self, len_bytes: usize, min: usize, max: usize) -> Option<&'a [u8]> {
        let start = self.0;
        let len = self.uint(len_bytes)?;
        if len < min || len > max {
            return None;
        }
        self.take(len)?;
        start.get(..len_bytes + len)
    }
}

impl<'a> ClientHello<'a> {
    /// Reads the ClientHello that starts `datagram`: an epoch-0 handshake record holding one
    /// whole (unfragmented) ClientHello. Returns `None` for anything else.
    pub(crate) fn parse(datagram: &'a [u8]) -> Option<ClientHello<'a>> {
        let mut record = Reader(datagram);
        let header = record.take(RECORD_HEADER)?;
        if header[0] != HANDSHAKE || header[1] != 0xfe || header[3..5] != [0, 0] {
            return None;
        }
        let record_len = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let mut body = Reader(record.take(record_len)?);
        let hs = body.take(HANDSHAKE_HEADER)?;
        let len = |b: &[u8]| b.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
        let length = len(&hs[1..4]);
        if hs[0] != CLIENT_HELLO || len(&hs[6..9]) != 0 || len(&hs[9..12]) != length {
            return None;
        }
        let mut hello = Reader(body.take(length)?);
        let version = hello.take(2)?;
        if version[0] != 0xfe {
            return None;
        }
        let random = hello.take(32)?;
        let session_id = hello.vector(1, 0, 32)?;
        let cookie = hello.vector(1, 0, 255)?;
        let cipher_suites = hello.vector(2, 2, 0xfffe)?;
        if cipher_suites.len() % 2 != 0 {
            return None;
        }
        let compression_methods = hello.vector(1, 1, 255)?;
        Some(ClientHello {
            record_sequence: &header[3..11],
            version,
            random,
            session_id,
            cookie: &cookie[1..],
            cipher_suites,
            compression_methods,
        })
    }
}

/// One secret, keyed once (the HMAC's key schedule is reused for every cookie).
#[derive(Clone)]
struct Keyed {
    params: GeneratorParameters,
    mac: HmacSha256,
}

impl Keyed {
    /// Fails with [`Error::InvalidInput`] for an empty secret.
    fn new(params: GeneratorParameters) -> Result<Keyed, Error> {
        if params.secret.is_empty() {
            return Err(Error::InvalidInput(
                "the cookie secret must not be empty".into(),
            ));
        }
        Ok(Keyed::with(params))
    }

    /// Keys the HMAC with `params.secret` (HMAC takes a key of any length).
    fn with(params: GeneratorParameters) -> Keyed {
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(&params.secret)
            .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
        Keyed { params, mac }
    }

    /// The HMAC over the client's address and the hello's parameters, ready to finalize.
    fn mac_for(&self, client: SocketAddr, hello: &ClientHello<'_>) -> HmacSha256 {
        let mut mac = self.mac.clone();
        match client.ip() {
            IpAddr::V4(ip) => {
                mac.update(&[4]);
                mac.update(&ip.octets());
            }
            IpAddr::V6(ip) => {
                mac.update(&[6]);
                mac.update(&ip.octets());
            }
        }
        mac.update(&client.port().to_be_bytes());
        for part in [
            hello.version,
            hello.random,
            hello.session_id,
            hello.cipher_suites,
            hello.compression_methods,
        ] {
            mac.update(part);
        }
        mac
    }

    fn cookie(&self, client: SocketAddr, hello: &ClientHello<'_>) -> [u8; COOKIE_LEN] {
        let mut out = [0u8; COOKIE_LEN];
        out.copy_from_slice(&self.mac_for(client, hello).finalize().into_bytes());
        out
    }

    /// Whether `hello` carries the cookie for `client` (compared in constant time).
    fn verifies(&self, client: SocketAddr, hello: &ClientHello<'_>) -> bool {
        hello.cookie.len() == COOKIE_LEN
            && self
                .mac_for(client, hello)
                .verify_slice(hello.cookie)
                .is_ok()
    }
}

/// The HelloVerifyRequest answering `hello` with `cookie`: a single record, echoing the
/// ClientHello's record sequence number as RFC 6347 requires, version DTLS 1.0 as it
/// recommends. Always 60 bytes.
fn hello_verify_request(hello: &ClientHello<'_>, cookie: &[u8; COOKIE_LEN]) -> [u8; 60] {
    let mut out = [0u8; 60];
    out[0] = HANDSHAKE;
    out[1..3].copy_from_slice(&[0xfe, 0xff]);
    out[3..11].copy_from_slice(hello.record_sequence);
    let body_len = HANDSHAKE_HEADER + 3 + COOKIE_LEN;
    out[11..13].copy_from_slice(&(body_len as u16).to_be_bytes());
    let hs = &mut out[RECORD_HEADER..];
    hs[0] = HELLO_VERIFY_REQUEST;
    let msg_len = (3 + COOKIE_LEN) as u8;
    hs[3] = msg_len;
    // Message sequence 0, fragment offset 0, fragment length = the message length.
    hs[11] = msg_len;
    hs[12..14].copy_from_slice(&[0xfe, 0xff]);
    hs[14] = COOKIE_LEN as u8;
    hs[15..15 + COOKIE_LEN].copy_from_slice(cookie);
    out
}

/// The outcome of [`DtlsClientVerifier::check`], without sending anything.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check<'a> {
    /// The datagram is a ClientHello with a valid cookie for this client.
    Verified(ClientHello<'a>),
    /// A ClientHello without a valid cookie: this HelloVerifyRequest answers it.
    Challenge([u8; 60]),
    /// Not a ClientHello: ignore it.
    Garbage,
}

/// Qt's `QDtlsClientVerifier`: decides, without keeping state per client, whether a
/// datagram is a ClientHello with a valid cookie, and answers the others with a
/// HelloVerifyRequest (see the module documentation).
#[derive(Clone)]
pub struct DtlsClientVerifier {
    current: Keyed,
    /// The secret before the last rotation, and until when it stays valid.
    previous: Option<(Keyed, Instant)>,
    grace: Duration,
    verified_hello: Vec<u8>,
    error: DtlsError,
    error_string: String,
}

impl Default for DtlsClientVerifier {
    fn default() -> DtlsClientVerifier {
        DtlsClientVerifier::new()
    }
}

impl std::fmt::Debug for DtlsClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsClientVerifier")
            .field("params", &self.current.params)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl DtlsClientVerifier {
    /// A verifier with the default [`GeneratorParameters`] and a grace period of
    /// [`DEFAULT_GRACE_PERIOD`] for rotated secrets.
    pub fn new() -> DtlsClientVerifier {
        DtlsClientVerifier {
            current: Keyed::with(GeneratorParameters::default()),
            previous: None,
            grace: DEFAULT_GRACE_PERIOD,
            verified_hello: Vec::new(),
            error: DtlsError::NoError,
            error_string: String::new(),
        }
    }

    fn fail(&mut self, kind: DtlsError, error: Error) -> Error {
        self.error = kind;
        self.error_string = error.to_string();
        error
    }

    fn clear_error(&mut self) {
        self.error = DtlsError::NoError;
        self.error_string.clear();
    }

    /// Replaces the hash and secret cookies are made with. The secret in use until now stays
    /// valid for the grace period (see [`set_grace_period`](Self::set_grace_period)), so
    /// clients that got a cookie just before are still verified.
    ///
    /// Fails with [`Error::InvalidInput`] (and [`DtlsError::InvalidInputParameters`]) for an
    /// empty secret; the parameters in use stay.
    pub fn set_cookie_generator_parameters(
        &mut self,
        params: GeneratorParameters,
    ) -> Result<(), Error> {
        let keyed = match Keyed::new(params) {
            Ok(keyed) => keyed,
            Err(e) => return Err(self.fail(DtlsError::InvalidInputParameters, e)),
        };
        if keyed.params != self.current.params {
            let old = std::mem::replace(&mut self.current, keyed);
            self.previous = Some((old, Instant::now() + self.grace));
        }
        self.clear_error();
        Ok(())
    }

    /// The hash and secret cookies are made with now.
    pub fn cookie_generator_parameters(&self) -> GeneratorParameters {
        self.current.params.clone()
    }

    /// How long a secret replaced by
    /// [`set_cookie_generator_parameters`](Self::set_cookie_generator_parameters) stays valid
    /// (from the next rotation on). Zero makes a rotation invalidate old cookies at once.
    pub fn set_grace_period(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Checks one datagram from `client` and says what to do, sending nothing.
    pub(crate) fn check<'a>(&self, datagram: &'a [u8], client: SocketAddr) -> Check<'a> {
        let Some(hello) = ClientHello::parse(datagram) else {
            return Check::Garbage;
        };
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(keyed, _)| keyed);
        if self.current.verifies(client, &hello)
            || previous.is_some_and(|keyed| keyed.verifies(client, &hello))
        {
            return Check::Verified(hello);
        }
        Check::Challenge(hello_verify_request(
            &hello,
            &self.current.cookie(client, &hello),
        ))
    }

    /// Qt's `verifyClient`: returns `Ok(true)` when `datagram`, received on `socket` from
    /// `address` and `port`, is a ClientHello with a valid cookie (it is then
    /// [`verified_hello`](Self::verified_hello), ready for a server [`Dtls`](super::Dtls)).
    /// A ClientHello without a valid cookie is answered with a HelloVerifyRequest sent to the
    /// client through `socket`, and anything else is ignored; both return `Ok(false)` without
    /// an error, as UDP brings stray datagrams.
    ///
    /// Fails with [`Error::InvalidInput`] ([`DtlsError::InvalidInputParameters`]) for an
    /// empty datagram or an unspecified, broadcast or multicast address, and with
    /// [`Error::Io`] ([`DtlsError::UnderlyingSocketError`]) when the HelloVerifyRequest cannot
    /// be sent.
    pub fn verify_client(
        &mut self,
        socket: &dyn DatagramSocket,
        datagram: &[u8],
        address: IpAddr,
        port: u16,
    ) -> Result<bool, Error> {
        self.verified_hello.clear();
        if datagram.is_empty() {
            let e = Error::InvalidInput(
                "a non-empty datagram and a valid address were expected".into(),
            );
            return Err(self.fail(DtlsError::InvalidInputParameters, e));
        }
        if let Err(e) = check_peer_address(address) {
            return Err(self.fail(DtlsError::InvalidInputParameters, e));
        }
        self.clear_error();
        let client = SocketAddr::new(address, port);
        match self.check(datagram, client) {
            Check::Verified(_) => {
                self.verified_hello.extend_from_slice(datagram);
                Ok(true)
            }
            Check::Challenge(request) => match socket.send_datagram_to(&request, client) {
                Ok(_) => Ok(false),
                Err(e) => Err(self.fail(DtlsError::UnderlyingSocketError, Error::Io(e))),
            },
            Check::Garbage => Ok(false),
        }
    }

    /// The last datagram [`verify_client`](Self::verify_client) verified, or an empty slice
    /// when the last call did not verify one.
    pub fn verified_hello(&self) -> &[u8] {
        &self.verified_hello
    }

    /// The kind of the last error, or [`DtlsError::NoError`].
    pub fn dtls_error(&self) -> DtlsError {
        self.error
    }

    /// The last error as text, or an empty string.
    pub fn dtls_error_string(&self) -> &str {
        &self.error_string
    }
}

#[cfg(test)]
mod tests;
