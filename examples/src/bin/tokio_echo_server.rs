//! The echo server on tokio: every client is a task, so thousands can be served at once; each
//! line received goes back in upper case, then the connection is closed with close_notify.
//!
//! ```text
//! tokio_echo_server CERT.pem KEY.pem PORT [--backend NAME] [--once]
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` when ready (PORT 0 picks a free port). A client that
//! says nothing for 10 seconds is dropped.

use std::time::Duration;

use polytls::tokio::{SslServer, TlsStream};
use polytls::EncodingFormat;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: tokio_echo_server CERT.pem KEY.pem PORT [--backend NAME] [--once]";
    let cert = args.next().ok_or(usage)?;
    let key = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let (mut backend, mut once) = (None, false);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--backend" => backend = Some(args.next().ok_or("--backend needs a name")?),
            "--once" => once = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let address = ("127.0.0.1", port);
    let mut server = match &backend {
        Some(name) => SslServer::bind_with_backend(address, name).await?,
        None => SslServer::bind(address).await?,
    };
    let mut config = server.ssl_configuration().clone();
    config.set_local_certificate_chain_from_file(&cert, EncodingFormat::Pem)?;
    config.set_private_key_from_file(&key, EncodingFormat::Pem, b"")?;
    // Refuse a key that is not the certificate's now, not at every connection.
    config.validate(true, false)?;
    server.set_ssl_configuration(config);
    server.on_error_occurred(|peer, e| eprintln!("tokio_echo_server: {peer}: {e}"));
    println!("listening on {}", server.local_addr());
    loop {
        let stream = server.accept().await?;
        let task = tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("tokio_echo_server: connection failed: {e}");
            }
        });
        if once {
            let _ = task.await;
            return Ok(());
        }
    }
}

async fn serve(stream: TlsStream<TcpStream>) -> Result<(), BoxError> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line)).await??;
    let mut stream = stream.into_inner();
    stream.write_all(line.to_uppercase().as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("tokio_echo_server: {e}");
        std::process::exit(1);
    }
}
