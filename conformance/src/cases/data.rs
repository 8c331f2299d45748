//! Application data: STARTTLS after a plaintext exchange, 64 MiB each way compared byte for
//! byte, data written before the handshake ends, close_notify in both directions, and a
//! truncated stream reported as truncation.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::OnceLock;

use polytls::{Error, SslMode, SupportedFeature};

use crate::case::{Case, Needs};
use crate::harness::{
    check, client_config, memory_pair, receive, run_both, send, server_config, sockets,
    start_client, start_server, would_block, MemoryStream, Socket,
};
use crate::pki::Pki;

const BULK: usize = 64 << 20;
const CHUNK: usize = 16 << 10;
/// The bulk pattern repeats with a period that is not a multiple of any record size.
const PERIOD: usize = (1 << 20) + 7;

/// `PERIOD` pseudo-random bytes followed by their first `CHUNK` again, so that
/// `pattern()[i % PERIOD..]` goes on as the stream does for a chunk that starts anywhere.
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut bytes: Vec<u8> = (0..PERIOD)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        bytes.extend_from_within(..CHUNK);
        bytes
    })
}

fn send_bulk(socket: &mut Socket) -> Result<(), String> {
    let mut sent = 0;
    while sent < BULK {
        let start = sent % PERIOD;
        let len = CHUNK.min(BULK - sent);
        socket
            .write_all(&pattern()[start..start + len])
            .map_err(|e| format!("write at {sent}: {e}"))?;
        sent += len;
    }
    socket.flush().map_err(|e| format!("flush: {e}"))
}

fn receive_bulk(socket: &mut Socket) -> Result<(), String> {
    let mut buf = vec![0; CHUNK];
    let mut got = 0;
    while got < BULK {
        let want = CHUNK.min(BULK - got);
        let n = socket
            .read(&mut buf[..want])
            .map_err(|e| format!("read at {got}: {e}"))?;
        if n == 0 {
            return Err(format!("stream ended after {got} of {BULK} bytes"));
        }
        let start = got % PERIOD;
        if buf[..n] != pattern()[start..start + n] {
            return Err(format!("data differs in the {n} bytes at offset {got}"));
        }
        got += n;
    }
    Ok(())
}

fn expect_clean_end(socket: &mut Socket) -> Result<(), String> {
    let mut byte = [0u8; 1];
    match socket.read(&mut byte) {
        Ok(0) => Ok(()),
        Ok(_) => Err("more data after the expected end".into()),
        Err(e) => Err(format!("expected a clean close_notify end, got: {e}")),
    }
}

/// Runs both handshakes (the server's on its own thread) and returns the server's socket.
fn handshake_both(client: &mut Socket, server: Socket) -> Result<Socket, String> {
    let handle = crate::frontend::spawn(move || {
        let mut server = server;
        server
            .start_server_encryption()
            .map_err(|e| format!("server: {e}"))?;
        server.handshake().map_err(|e| format!("server: {e}"))?;
        Ok(server)
    });
    let client_result = client
        .start_client_encryption()
        .and_then(|()| client.handshake());
    if client_result.is_err() {
        // Let the server see the failure at once rather than at its read timeout.
        let _ = client.get_mut().shutdown(Shutdown::Both);
    }
    let server = handle
        .join()
        .unwrap_or_else(|_| Err("the server thread panicked".into()));
    client_result.map_err(|e| format!("client: {e}"))?;
    server
}

fn alpn_case(
    name: &'static str,
    client_offers: &'static [&'static [u8]],
    server_offers: &'static [&'static [u8]],
    expected: Option<&'static [u8]>,
) -> Case {
    let client_needs = if client_offers.is_empty() {
        Needs::socket()
    } else {
        Needs::feature(SupportedFeature::ClientSideAlpn)
    };
    let server_needs = if server_offers.is_empty() {
        Needs::socket()
    } else {
        Needs::feature(SupportedFeature::ServerSideAlpn)
    };
    Case::pair(
        format!("alpn/{name}"),
        client_needs,
        server_needs,
        move |c, s| {
            let (mut client, mut server) = sockets(c, s)?;
            let mut cc = client.ssl_configuration().clone();
            cc.allowed_next_protocols = client_offers.iter().map(|p| p.to_vec()).collect();
            client.set_ssl_configuration(cc);
            let mut sc = server.ssl_configuration().clone();
            sc.allowed_next_protocols = server_offers.iter().map(|p| p.to_vec()).collect();
            server.set_ssl_configuration(sc);
            let server = handshake_both(&mut client, server)?;
            check(client.is_encrypted(), || "client not encrypted".into())?;
            check(client.negotiated_application_protocol() == expected, || {
                format!(
                    "client negotiated {:?}",
                    client
                        .negotiated_application_protocol()
                        .map(String::from_utf8_lossy)
                )
            })?;
            check(server.negotiated_application_protocol() == expected, || {
                format!(
                    "server negotiated {:?}",
                    server
                        .negotiated_application_protocol()
                        .map(String::from_utf8_lossy)
                )
            })
        },
    )
}

/// When the client writes, in [`non_blocking_in_one_thread`].
#[derive(Clone, Copy)]
enum Writes {
    /// Once the handshake is over.
    AfterHandshake,
    /// Right after `start_client_encryption`, with this pending write limit: the data waits
    /// in the queue (and a write to a full queue says `WouldBlock`) until the handshake ends.
    DuringHandshake(usize),
}

/// Client and server in one thread over a small non-blocking in-memory transport of
/// `capacity` bytes each way: every call may say `WouldBlock`, and nothing written may be lost
/// or duplicated.
fn non_blocking_in_one_thread(
    c: &str,
    s: &str,
    capacity: usize,
    writes: Writes,
) -> Result<(), String> {
    type Mem = polytls::SslSocket<MemoryStream>;
    let (a, b) = memory_pair(capacity);
    let mut client: Mem = polytls::SslSocket::with_backend(a, c).map_err(|e| e.to_string())?;
    client.set_ssl_configuration(client_config());
    client.set_peer_verify_name("localhost");
    let mut server: Mem = polytls::SslSocket::with_backend(b, s).map_err(|e| e.to_string())?;
    server.set_ssl_configuration(server_config(&Pki::get().server));
    let step = |r: Result<(), Error>| -> Result<bool, String> {
        match r {
            Ok(()) => Ok(true),
            Err(Error::Io(e)) if would_block(&e) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    };
    start_client(&mut client)?;
    start_server(&mut server)?;
    match writes {
        Writes::AfterHandshake => {
            let mut rounds = 0;
            while !(step(client.handshake())? & step(server.handshake())?) {
                rounds += 1;
                check(rounds < 100, || "the handshake does not progress".into())?;
            }
        }
        // The loop below drives both handshakes: the client's flushes, the server's reads.
        Writes::DuringHandshake(limit) => client.set_pending_write_limit(limit),
    }
    // 1 MiB from client to server through the small window, in odd-sized writes.
    let total = 1 << 20;
    let (mut sent, mut got, mut buf) = (0, 0, vec![0u8; 7000]);
    let mut stalls = 0;
    while got < total {
        let mut progress = false;
        if sent < total {
            let end = (sent + 5000).min(total);
            match client.write(&pattern()[sent % PERIOD..sent % PERIOD + (end - sent)]) {
                Ok(n) => {
                    sent += n;
                    progress |= n > 0;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        } else {
            match client.flush() {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("flush: {e}")),
            }
        }
        match server.read(&mut buf) {
            Ok(0) => return Err(format!("stream ended after {got} bytes")),
            Ok(n) => {
                let start = got % PERIOD;
                check(buf[..n] == pattern()[start..start + n], || {
                    format!("data differs at {got}")
                })?;
                got += n;
                progress = true;
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
        stalls = if progress { 0 } else { stalls + 1 };
        check(stalls < 100, || {
            format!("stalled after {sent} sent, {got} received")
        })?;
    }
    check(sent == total && got == total, || {
        format!("sent {sent}, received {got}")
    })
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair("data/starttls", Needs::socket(), Needs::socket(), |c, s| {
            let (mut client, mut server) = sockets(c, s)?;
            run_both(
                move || {
                    send(&mut client, b"STARTTLS\r\n")?;
                    check(receive(&mut client, 4)? == b"GO\r\n", || {
                        "bad plaintext reply".into()
                    })?;
                    check(client.mode() == SslMode::UnencryptedMode, || {
                        "mode changed early".into()
                    })?;
                    start_client(&mut client)?;
                    send(&mut client, b"secret")?;
                    check(receive(&mut client, 6)? == b"terces", || {
                        "bad encrypted reply".into()
                    })?;
                    check(client.is_encrypted(), || "not encrypted".into())
                },
                move || {
                    check(receive(&mut server, 10)? == b"STARTTLS\r\n", || {
                        "bad plaintext request".into()
                    })?;
                    send(&mut server, b"GO\r\n")?;
                    start_server(&mut server)?;
                    let mut got = receive(&mut server, 6)?;
                    got.reverse();
                    send(&mut server, &got)
                },
            )
        }),
        Case::pair(
            "data/bulk_64mib_each_way",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        send_bulk(&mut client)?;
                        receive_bulk(&mut client)?;
                        expect_clean_end(&mut client)
                    },
                    move || {
                        start_server(&mut server)?;
                        receive_bulk(&mut server)?;
                        send_bulk(&mut server)?;
                        server.close().map_err(|e| e.to_string())
                    },
                )
            },
        ),
        Case::pair(
            "data/written_before_encrypted",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        client
                            .write_all(b"early client data")
                            .map_err(|e| e.to_string())?;
                        check(!client.is_encrypted(), || {
                            "handshake finished without being driven".into()
                        })?;
                        check(receive(&mut client, 17)? == b"early server data", || {
                            "bad data".into()
                        })
                    },
                    move || {
                        start_server(&mut server)?;
                        server
                            .write_all(b"early server data")
                            .map_err(|e| e.to_string())?;
                        check(receive(&mut server, 17)? == b"early client data", || {
                            "bad data".into()
                        })?;
                        server.flush().map_err(|e| e.to_string())
                    },
                )
            },
        ),
        Case::pair(
            "data/close_notify_from_client",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        send(&mut client, b"bye")?;
                        client.close().map_err(|e| e.to_string())?;
                        check(client.write(b"x").is_err(), || {
                            "write after close succeeded".into()
                        })?;
                        expect_clean_end(&mut client)
                    },
                    move || {
                        start_server(&mut server)?;
                        check(receive(&mut server, 3)? == b"bye", || "bad data".into())?;
                        expect_clean_end(&mut server)?;
                        server.close().map_err(|e| e.to_string())
                    },
                )
            },
        ),
        Case::pair(
            "data/close_notify_from_server",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        check(receive(&mut client, 3)? == b"bye", || "bad data".into())?;
                        expect_clean_end(&mut client)?;
                        client.close().map_err(|e| e.to_string())
                    },
                    move || {
                        start_server(&mut server)?;
                        send(&mut server, b"bye")?;
                        server.close().map_err(|e| e.to_string())?;
                        expect_clean_end(&mut server)
                    },
                )
            },
        ),
        Case::pair(
            "data/truncation_detected",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                let (mut client, mut server) = sockets(c, s)?;
                run_both(
                    move || {
                        start_client(&mut client)?;
                        check(receive(&mut client, 7)? == b"partial", || "bad data".into())?;
                        let mut buf = [0u8; 16];
                        match client.read(&mut buf) {
                            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                                let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
                                check(matches!(inner, Some(Error::Truncated)), || {
                                    format!("wrong error: {e}")
                                })
                            }
                            Ok(0) => Err("a cut connection was reported as a clean end".into()),
                            other => Err(format!("expected truncation, got {other:?}")),
                        }
                    },
                    move || {
                        start_server(&mut server)?;
                        send(&mut server, b"partial")?;
                        // Cut the connection without close_notify.
                        server
                            .get_mut()
                            .shutdown(Shutdown::Both)
                            .map_err(|e| e.to_string())
                    },
                )
            },
        ),
        Case::pair(
            "data/non_blocking_in_one_thread",
            Needs::socket(),
            Needs::socket(),
            |c, s| non_blocking_in_one_thread(c, s, 4096, Writes::AfterHandshake),
        )
        .run_once(),
        Case::pair(
            "data/written_during_handshake_is_delivered",
            Needs::socket(),
            Needs::socket(),
            // 1 MiB written before the handshake ends, all of it queued (the default limit).
            |c, s| non_blocking_in_one_thread(c, s, 16 * 1024, Writes::DuringHandshake(1 << 20)),
        )
        .run_once(),
        Case::pair(
            "data/written_during_handshake_beyond_the_limit_waits",
            Needs::socket(),
            Needs::socket(),
            |c, s| non_blocking_in_one_thread(c, s, 16 * 1024, Writes::DuringHandshake(10_000)),
        )
        .run_once(),
        alpn_case(
            "agreed",
            &[b"h2", b"http/1.1"],
            &[b"http/1.1", b"h2"],
            Some(b"http/1.1"),
        ),
        alpn_case("client_only", &[b"h2"], &[], None),
        alpn_case("none", &[], &[], None),
    ]
}
