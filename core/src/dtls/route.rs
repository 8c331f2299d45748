//! How the [`Dtls`](super::Dtls) front end sends a datagram to its peer: to the peer's
//! address with `send_to` (the default, which works on any socket), or with `send` on a
//! socket the caller declared connected to the peer, which spares the kernel a route lookup
//! per datagram. A declared socket is checked (`getpeername`) the first time it is used, and
//! again whenever a different socket is given; one connected elsewhere, or nowhere, is
//! refused rather than used.

use std::io;
use std::net::SocketAddr;

use super::DatagramSocket;
use crate::Error;

/// How datagrams reach the peer (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct Route {
    connected: bool,
    /// The socket last seen connected to the peer, by its descriptor.
    checked: Option<u64>,
}

/// How one batch of datagrams is sent, as [`Route::to`] decided.
#[derive(Clone, Copy, Debug)]
pub(super) enum Via {
    /// With `send_to` to this address.
    To(SocketAddr),
    /// With `send`: the socket is connected to the peer.
    Connected,
}

impl Via {
    /// Sends `datagram` through `socket`. Returns the bytes sent, or the socket's error.
    pub(super) fn send(self, socket: &dyn DatagramSocket, datagram: &[u8]) -> io::Result<usize> {
        match self {
            Via::To(peer) => socket.send_datagram_to(datagram, peer),
            Via::Connected => socket.send_datagram(datagram),
        }
    }
}

impl Route {
    /// Declares whether the sockets given from now on are connected to the peer.
    pub(super) fn set_connected(&mut self, connected: bool) {
        self.connected = connected;
        self.checked = None;
    }

    /// Whether the sockets are declared connected to the peer.
    pub(super) fn connected(&self) -> bool {
        self.connected
    }

    /// Forgets which socket was checked (the peer changed).
    pub(super) fn peer_changed(&mut self) {
        self.checked = None;
    }

    /// How to send to `peer` through `socket`.
    ///
    /// Fails with [`Error::InvalidInput`] when the socket is declared connected but is
    /// connected to another address or to none (the message names the peer, and the other
    /// address if there is one).
    pub(super) fn to(
        &mut self,
        socket: &dyn DatagramSocket,
        peer: SocketAddr,
    ) -> Result<Via, Error> {
        if !self.connected {
            return Ok(Via::To(peer));
        }
        let Some(id) = socket.identity() else {
            // No way to recognise the socket again on this platform: the address it is.
            return Ok(Via::To(peer));
        };
        if self.checked == Some(id) {
            return Ok(Via::Connected);
        }
        match socket.connected_peer() {
            Ok(remote) if remote == peer => {
                self.checked = Some(id);
                Ok(Via::Connected)
            }
            Ok(remote) => Err(Error::InvalidInput(format!(
                "the socket was declared connected to the peer {peer}, but it is connected to {remote}"
            ))),
            Err(e) => Err(Error::InvalidInput(format!(
                "the socket was declared connected to the peer {peer}, but it is not connected: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;

    use super::*;

    fn bound() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    #[test]
    fn undeclared_sockets_send_to_the_peer() {
        let (socket, peer) = (bound(), bound().local_addr().unwrap());
        let mut route = Route::default();
        assert!(matches!(route.to(&socket, peer), Ok(Via::To(p)) if p == peer));
    }

    #[test]
    fn a_declared_socket_is_checked_and_then_trusted() {
        let (socket, peer_socket) = (bound(), bound());
        let peer = peer_socket.local_addr().unwrap();
        let mut route = Route::default();
        route.set_connected(true);
        let e = route.to(&socket, peer).unwrap_err();
        assert!(e.to_string().contains("is not connected"), "{e}");
        socket.connect(peer).unwrap();
        assert!(matches!(route.to(&socket, peer), Ok(Via::Connected)));
        let sent = route
            .to(&socket, peer)
            .unwrap()
            .send(&socket, b"x")
            .unwrap();
        assert_eq!(sent, 1);
        let mut buf = [0; 4];
        assert_eq!(peer_socket.recv(&mut buf).unwrap(), 1);
    }

    #[test]
    fn a_socket_connected_elsewhere_is_refused() {
        let (socket, peer, elsewhere) = (
            bound(),
            bound().local_addr().unwrap(),
            bound().local_addr().unwrap(),
        );
        socket.connect(elsewhere).unwrap();
        let mut route = Route::default();
        route.set_connected(true);
        let e = route.to(&socket, peer).unwrap_err().to_string();
        assert!(
            e.contains(&peer.to_string()) && e.contains(&elsewhere.to_string()),
            "{e}"
        );
        // Another socket given later is checked again, not trusted for the first one's sake.
        let good = bound();
        good.connect(peer).unwrap();
        assert!(matches!(route.to(&good, peer), Ok(Via::Connected)));
        assert!(route.to(&socket, peer).is_err());
    }
}
