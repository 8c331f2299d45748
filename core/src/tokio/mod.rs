//! The tokio front end (feature `tokio`): [`TlsStream`] over any `AsyncRead + AsyncWrite`,
//! [`SslServer`], a listener whose handshakes run as tasks of their own, and [`AsyncDtls`],
//! one DTLS association over a tokio `UdpSocket`.
//!
//! Both run the same [`Session`](crate::Session) driver as the blocking front end, handing it
//! a non-blocking view of the transport for the length of each poll: the same verification
//! decision, events, queue and close_notify rules, on every backend.

mod dtls;
mod io;
mod server;
mod split;
mod stream;

pub use dtls::AsyncDtls;
pub use server::SslServer;
pub use split::{ReadHalf, WriteHalf};
pub use stream::TlsStream;
