//! polytls-bench: what polytls costs on top of the TLS library it runs on.
//!
//! Every scenario runs through polytls (`SslSocket` over a backend) and through the backend's
//! own crate used directly with the same settings (`openssl`'s `SslStream`, rustls' buffered
//! connections), back to back in each round, and reports the per-round ratio with a
//! confidence interval and whether its floor is met, missed or undecided. The
//! `polytls-bench` binary prints the table (or JSON); see `docs/PERFORMANCE.md` for the method
//! and what the numbers mean.
//!
//! Modules: [`setup`] builds certificates and matching settings for every side; [`inmem`]
//! drives client/server pairs in one thread over an in-memory transport; [`measure`] times
//! them; [`tcp`] does the same over loopback TCP with blocking sockets; [`async_tls`] sets
//! polytls' tokio stream against `tokio-openssl` and `tokio-rustls`; [`server`] loads
//! polytls' servers with many clients at once, and with silent ones; [`dtls`] sets polytls'
//! `Dtls` against OpenSSL and dimpl used directly over loopback UDP, and times the cookie
//! verifier; [`alloc`] counts live heap bytes; [`speed`] reads the machine's raw cipher
//! speed; [`stats`] turns paired rounds into an interval and a verdict; [`cost`] counts
//! instructions under callgrind; [`run`] holds the plan and the report.

// Linking the backends registers them with polytls.

pub mod alloc;
pub mod async_tls;
pub mod cost;
pub mod dtls;
pub mod inmem;
pub mod measure;
pub mod run;
pub mod server;
pub mod setup;
pub mod speed;
pub mod stats;
pub mod tcp;
