//! An HTTPS server: hyper over polytls' tokio server, every connection a task of its own.
//!
//! ```text
//! https_server CERT.pem KEY.pem PORT [--backend NAME] [--once]
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` when ready, then answers every request with
//! `hello from polytls over BACKEND, PROTOCOL` and the path asked for.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use polytls::tokio::SslServer;
use polytls::EncodingFormat;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: https_server CERT.pem KEY.pem PORT [--backend NAME] [--once]";
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
    config.allowed_next_protocols = vec![b"http/1.1".to_vec()];
    server.set_ssl_configuration(config);
    server.on_error_occurred(|peer, e| eprintln!("https_server: {peer}: {e}"));
    println!("listening on {}", server.local_addr());
    loop {
        let stream = server.accept().await?;
        let about = format!("{} {:?}", stream.backend_name(), stream.session_protocol());
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let body = format!(
                "hello from polytls over {about}, you asked for {}\n",
                request.uri().path()
            );
            async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("https_server: connection failed: {e}");
            }
        });
        if once {
            let _ = task.await;
            return Ok(());
        }
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("https_server: {e}");
        std::process::exit(1);
    }
}
