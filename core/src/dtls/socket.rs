//! [`DatagramSocket`]: what the [`Dtls`](super::Dtls) front end and the
//! [`DtlsClientVerifier`](super::DtlsClientVerifier) send through. std's `UdpSocket`
//! implements it, and so does tokio's with the `tokio` feature (its sends never wait: a full
//! send buffer is `WouldBlock`, and what was not sent stays queued for
//! [`Dtls::send_pending`](super::Dtls::send_pending)).

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// A datagram socket polytls sends DTLS datagrams through; the application receives on it
/// itself.
pub trait DatagramSocket {
    /// Sends `datagram` to `peer`. Returns the bytes sent, or the socket's error.
    fn send_datagram_to(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize>;

    /// Sends `datagram` to the address the socket is connected to. Returns the bytes sent,
    /// or the socket's error.
    fn send_datagram(&self, datagram: &[u8]) -> io::Result<usize>;

    /// The address the socket is connected to, or the socket's error when it is connected to
    /// none.
    fn connected_peer(&self) -> io::Result<SocketAddr>;

    /// What tells this open socket from another (its descriptor or handle), or `None` where
    /// the platform gives nothing.
    fn identity(&self) -> Option<u64>;
}

impl DatagramSocket for UdpSocket {
    fn send_datagram_to(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        self.send_to(datagram, peer)
    }

    fn send_datagram(&self, datagram: &[u8]) -> io::Result<usize> {
        self.send(datagram)
    }

    fn connected_peer(&self) -> io::Result<SocketAddr> {
        self.peer_addr()
    }

    fn identity(&self) -> Option<u64> {
        descriptor(self)
    }
}

/// tokio's socket: sends are `try_send_to` and `try_send`, which never wait.
#[cfg(feature = "tokio")]
impl DatagramSocket for tokio::net::UdpSocket {
    fn send_datagram_to(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        self.try_send_to(datagram, peer)
    }

    fn send_datagram(&self, datagram: &[u8]) -> io::Result<usize> {
        self.try_send(datagram)
    }

    fn connected_peer(&self) -> io::Result<SocketAddr> {
        self.peer_addr()
    }

    fn identity(&self) -> Option<u64> {
        descriptor(self)
    }
}

/// The socket's descriptor.
#[cfg(unix)]
fn descriptor(socket: &impl std::os::fd::AsRawFd) -> Option<u64> {
    u64::try_from(socket.as_raw_fd()).ok()
}

/// The socket's handle.
#[cfg(windows)]
fn descriptor(socket: &impl std::os::windows::io::AsRawSocket) -> Option<u64> {
    Some(socket.as_raw_socket())
}

/// No descriptor to tell sockets apart on this platform.
#[cfg(not(any(unix, windows)))]
fn descriptor<S>(_: &S) -> Option<u64> {
    None
}
