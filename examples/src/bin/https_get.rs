//! An HTTPS GET with hyper over polytls' tokio stream: prints the status line and the body.
//!
//! ```text
//! https_get https://HOST[:PORT]/PATH [--backend NAME] [--ca FILE.pem]
//! ```
//!
//! Without `--ca` the system's trust store is used. The server is verified against HOST.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use polytls::tokio::TlsStream;
use polytls::{EncodingFormat, PatternSyntax, SslConfiguration};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let url: hyper::Uri = args
        .next()
        .ok_or("usage: https_get https://HOST[:PORT]/PATH [--backend NAME] [--ca FILE]")?
        .parse()?;
    let (mut backend, mut ca) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--backend" => backend = Some(value),
            "--ca" => ca = Some(value),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if url.scheme_str() != Some("https") {
        return Err(format!("{url}: only https URLs are fetched").into());
    }
    let host = url.host().ok_or("the URL has no host")?.to_owned();
    let port = url.port_u16().unwrap_or(443);

    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    let mut stream = match &backend {
        Some(name) => TlsStream::with_backend(tcp, name)?,
        None => TlsStream::new(tcp)?,
    };
    let mut config = SslConfiguration::default_configuration();
    if let Some(ca) = &ca {
        config.add_ca_certificates_from_path(
            ca,
            EncodingFormat::Pem,
            PatternSyntax::FixedString,
        )?;
    }
    config.allowed_next_protocols = vec![b"http/1.1".to_vec()];
    stream.set_ssl_configuration(config);
    stream.set_peer_verify_name(&host);
    stream.start_client_encryption()?;
    stream.handshake_within(polytls::DEFAULT_IO_TIMEOUT).await?;

    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(url.path())
        .header(hyper::header::HOST, host.as_str())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    println!("{:?} {}", response.version(), response.status());
    let body = response.into_body().collect().await?.to_bytes();
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("https_get: {e}");
        std::process::exit(1);
    }
}
