//! The tokio front end's data path: what the handshake cases (which run on both front ends)
//! do not reach. Both ends are `TlsStream`s over tokio loopback connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use polytls::tokio::TlsStream;
use polytls::{SslConfiguration, SslMode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, Rng, IO_TIMEOUT};
use crate::pki::Pki;

/// Runs `f` on a two-worker runtime, within the suite's I/O limit.
fn run<F: Future<Output = Result<(), String>>>(f: F) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        tokio::time::timeout(IO_TIMEOUT, f)
            .await
            .unwrap_or_else(|_| Err(format!("no result within {IO_TIMEOUT:?}")))
    })
}

/// A connected loopback pair of unencrypted streams, `(client, server)`, with the test
/// configurations installed.
async fn pair(
    client: &str,
    server: &str,
) -> Result<(TlsStream<TcpStream>, TlsStream<TcpStream>), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (c, s) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (c, (s, _)) = (c.map_err(|e| e.to_string())?, s.map_err(|e| e.to_string())?);
    let mut c = TlsStream::with_backend(c, client).map_err(|e| e.to_string())?;
    c.set_ssl_configuration(client_config());
    c.set_peer_verify_name("localhost");
    let mut s = TlsStream::with_backend(s, server).map_err(|e| e.to_string())?;
    s.set_ssl_configuration(Arc::new(server_config(&Pki::get().server)) as Arc<SslConfiguration>);
    Ok((c, s))
}

/// `len` bytes that differ from block to block, so that a lost or repeated record shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed ^ (i >> 12) as u8)
        })
        .collect()
}

/// Writes `data` through the write half and shuts it down (close_notify), while the read half
/// reads to the end; returns what was read.
async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(
    stream: TlsStream<T>,
    data: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let (mut reader, mut writer) = stream.split();
    let write = async move {
        writer
            .write_all(&data)
            .await
            .map_err(|e| format!("write: {e}"))?;
        writer
            .shutdown()
            .await
            .map_err(|e| format!("shutdown: {e}"))
    };
    let read = async move {
        let mut got = Vec::new();
        reader
            .read_to_end(&mut got)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok::<_, String>(got)
    };
    let (wrote, got) = tokio::join!(write, read);
    wrote?;
    got
}

/// A transport that behaves as badly as a transport may: any poll may be `Pending` (the task is
/// woken at once, as a transport that became ready again would), and every read and write
/// moves a random, often tiny, number of bytes.
struct Chaos {
    inner: DuplexStream,
    rng: Rng,
}

impl Chaos {
    /// Whether this poll is refused, waking the task as a ready transport would.
    fn refuse(&mut self, cx: &mut Context<'_>) -> bool {
        if self.rng.below(3) == 0 {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl AsyncRead for Chaos {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.refuse(cx) {
            return Poll::Pending;
        }
        let most = 1 + self.rng.below(buf.remaining().clamp(1, 700));
        let mut small = ReadBuf::new(&mut buf.initialize_unfilled()[..most]);
        match Pin::new(&mut self.inner).poll_read(cx, &mut small) {
            Poll::Ready(Ok(())) => {
                let n = small.filled().len();
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Chaos {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.refuse(cx) {
            return Poll::Pending;
        }
        let most = 1 + self.rng.below(buf.len().clamp(1, 700));
        Pin::new(&mut self.inner).poll_write(cx, &buf[..most.min(buf.len())])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.refuse(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.refuse(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The cases of this module.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::pair(
            "tokio/split_halves_move_8mib_each_way_and_end_with_close_notify",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                run(async {
                    let (mut client, mut server) = pair(c, s).await?;
                    client
                        .start_client_encryption()
                        .map_err(|e| e.to_string())?;
                    server
                        .start_server_encryption()
                        .map_err(|e| e.to_string())?;
                    let (up, down) = (pattern(8 << 20, 1), pattern(8 << 20, 2));
                    let (got_up, got_down) =
                        tokio::join!(exchange(server, down.clone()), exchange(client, up.clone()));
                    let (got_up, got_down) = (got_up?, got_down?);
                    check(got_up == up, || {
                        format!("the server read {} bytes, not the 8 MiB sent", got_up.len())
                    })?;
                    check(got_down == down, || {
                        format!(
                            "the client read {} bytes, not the 8 MiB sent",
                            got_down.len()
                        )
                    })
                })
            },
        ),
        Case::pair(
            "tokio/end_without_close_notify_is_truncation",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                run(async {
                    let (mut client, mut server) = pair(c, s).await?;
                    client
                        .start_client_encryption()
                        .map_err(|e| e.to_string())?;
                    server
                        .start_server_encryption()
                        .map_err(|e| e.to_string())?;
                    let (a, b) = tokio::join!(client.handshake(), server.handshake());
                    a.map_err(|e| format!("client: {e}"))?;
                    b.map_err(|e| format!("server: {e}"))?;
                    server
                        .write_all(b"partial")
                        .await
                        .map_err(|e| e.to_string())?;
                    server.flush().await.map_err(|e| e.to_string())?;
                    // The transport closes without close_notify.
                    drop(server.into_inner());
                    let mut got = Vec::new();
                    let end = client.read_to_end(&mut got).await;
                    check(got == b"partial", || format!("read {got:?}"))?;
                    check(
                        end.as_ref()
                            .is_err_and(|e| e.kind() == std::io::ErrorKind::UnexpectedEof),
                        || format!("a truncated stream ended with {end:?}"),
                    )
                })
            },
        ),
        Case::pair(
            "tokio/a_chaotic_transport_loses_nothing",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                run(async {
                    let (a, b) = tokio::io::duplex(4096);
                    let chaos = |inner, seed| Chaos {
                        inner,
                        rng: Rng::new(seed),
                    };
                    let mut client =
                        TlsStream::with_backend(chaos(a, 7), c).map_err(|e| e.to_string())?;
                    client.set_ssl_configuration(client_config());
                    client.set_peer_verify_name("localhost");
                    let mut server =
                        TlsStream::with_backend(chaos(b, 8), s).map_err(|e| e.to_string())?;
                    server.set_ssl_configuration(server_config(&Pki::get().server));
                    client
                        .start_client_encryption()
                        .map_err(|e| e.to_string())?;
                    server
                        .start_server_encryption()
                        .map_err(|e| e.to_string())?;
                    let (up, down) = (pattern(1 << 20, 3), pattern(1 << 20, 4));
                    let (got_up, got_down) =
                        tokio::join!(exchange(server, down.clone()), exchange(client, up.clone()));
                    let (got_up, got_down) = (got_up?, got_down?);
                    check(got_up == up, || {
                        format!("the server read {} bytes, not the 1 MiB sent", got_up.len())
                    })?;
                    check(got_down == down, || {
                        format!(
                            "the client read {} bytes, not the 1 MiB sent",
                            got_down.len()
                        )
                    })
                })
            },
        ),
        Case::pair(
            "tokio/starttls",
            Needs::socket(),
            Needs::socket(),
            |c, s| {
                run(async {
                    let (mut client, mut server) = pair(c, s).await?;
                    let client_side = async move {
                        client
                            .write_all(b"STARTTLS\r\n")
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut go = [0u8; 4];
                        client
                            .read_exact(&mut go)
                            .await
                            .map_err(|e| e.to_string())?;
                        check(&go == b"GO\r\n", || format!("plaintext reply {go:?}"))?;
                        check(client.mode() == SslMode::UnencryptedMode, || {
                            "mode changed early".into()
                        })?;
                        client
                            .start_client_encryption()
                            .map_err(|e| e.to_string())?;
                        // Written before the handshake ends: queued, then sent.
                        client
                            .write_all(b"secret")
                            .await
                            .map_err(|e| e.to_string())?;
                        client.flush().await.map_err(|e| e.to_string())?;
                        let mut reply = [0u8; 6];
                        client
                            .read_exact(&mut reply)
                            .await
                            .map_err(|e| e.to_string())?;
                        check(&reply == b"terces", || format!("encrypted reply {reply:?}"))?;
                        check(client.is_encrypted(), || "not encrypted".into())
                    };
                    let server_side = async move {
                        let mut request = [0u8; 10];
                        server
                            .read_exact(&mut request)
                            .await
                            .map_err(|e| e.to_string())?;
                        check(&request == b"STARTTLS\r\n", || {
                            format!("request {request:?}")
                        })?;
                        server
                            .write_all(b"GO\r\n")
                            .await
                            .map_err(|e| e.to_string())?;
                        server
                            .start_server_encryption()
                            .map_err(|e| e.to_string())?;
                        let mut got = [0u8; 6];
                        server
                            .read_exact(&mut got)
                            .await
                            .map_err(|e| e.to_string())?;
                        got.reverse();
                        server.write_all(&got).await.map_err(|e| e.to_string())?;
                        server.shutdown().await.map_err(|e| e.to_string())
                    };
                    let (a, b) = tokio::join!(client_side, server_side);
                    a.map_err(|e| format!("client: {e}"))?;
                    b.map_err(|e| format!("server: {e}"))
                })
            },
        ),
    ]
}
