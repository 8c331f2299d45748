//! The tokio front end's data path: what the handshake cases (which run on both front ends)
//! do not reach. Both ends are `TlsStream`s over tokio loopback connections.

use std::future::Future;
use std::sync::Arc;

use polytls::tokio::TlsStream;
use polytls::{SslConfiguration, SslMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::case::{Case, Needs};
use crate::harness::{check, client_config, server_config, IO_TIMEOUT};
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
async fn exchange(stream: TlsStream<TcpStream>, data: Vec<u8>) -> Result<Vec<u8>, String> {
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
