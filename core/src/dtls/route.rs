//! How the [`Dtls`](super::Dtls) front end sends a datagram to its peer: to the peer's
//! address with `send_to` (the default, which works on any socket), or with `send` on a
//! socket the caller declared connected to the peer, which spares the kernel a route lookup
//! per datagram.
//!
//! A declared socket is checked against the peer (`getpeername`), and one connected
//! elsewhere, or nowhere, is refused rather than used, except for the socket a handshake
//! starts on: it is taken on trust while the handshake runs, since one connected elsewhere
//! cannot complete it (the kernel drops the peer's answers), and the check runs when the
//! handshake falters instead (a retransmission, a failed send: see
//! [`Route::check_provisional`]); a handshake that completes through it has shown that it
//! reaches the peer. A check is a system call, and one per association on the handshake's
//! path was a measurable part of a DTLS handshake's time.

use std::io;
use std::net::SocketAddr;

use super::DatagramSocket;
use crate::Error;

/// How datagrams reach the peer (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct Route {
    connected: bool,
    /// The socket last seen connected to the peer, by its descriptor: checked with the
    /// kernel, or the one a handshake completed through.
    checked: Option<u64>,
    /// The socket the running handshake started on, used unchecked until it completes.
    provisional: Option<u64>,
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
        self.provisional = None;
    }

    /// Whether the sockets are declared connected to the peer.
    pub(super) fn connected(&self) -> bool {
        self.connected
    }

    /// Forgets which socket was checked (the peer changed).
    pub(super) fn peer_changed(&mut self) {
        self.checked = None;
        self.provisional = None;
    }

    /// How to send to `peer` through `socket`; `handshaking`: a handshake runs, and the
    /// first declared socket it sends on is taken on trust until it completes (see the
    /// module documentation).
    ///
    /// Fails with [`Error::InvalidInput`] when the socket is declared connected but is
    /// connected to another address or to none (the message names the peer, and the other
    /// address if there is one).
    pub(super) fn to(
        &mut self,
        socket: &dyn DatagramSocket,
        peer: SocketAddr,
        handshaking: bool,
    ) -> Result<Via, Error> {
        if !self.connected {
            return Ok(Via::To(peer));
        }
        let Some(id) = socket.identity() else {
            // No way to recognise the socket again on this platform: the address it is.
            return Ok(Via::To(peer));
        };
        if self.checked == Some(id) || self.provisional == Some(id) {
            return Ok(Via::Connected);
        }
        if handshaking && self.provisional.is_none() {
            self.provisional = Some(id);
            return Ok(Via::Connected);
        }
        check(socket, peer)?;
        self.checked = Some(id);
        Ok(Via::Connected)
    }

    /// The handshake completed: the socket it ran on reaches the peer.
    pub(super) fn handshake_completed(&mut self) {
        if let Some(id) = self.provisional.take() {
            self.checked = Some(id);
        }
    }

    /// Checks the socket the running handshake took on trust, now that the handshake
    /// falters (it retransmits, or a send failed). `Ok` when there is none or it is
    /// connected to `peer` (it is then checked for good).
    ///
    /// Fails as [`to`](Self::to) does for a socket connected elsewhere or to none; the
    /// socket is then forgotten.
    pub(super) fn check_provisional(
        &mut self,
        socket: &dyn DatagramSocket,
        peer: SocketAddr,
    ) -> Result<(), Error> {
        let Some(id) = self.provisional.take() else {
            return Ok(());
        };
        if socket.identity() != Some(id) {
            // Another socket now: `to` checks that one when it is used.
            return Ok(());
        }
        check(socket, peer)?;
        self.checked = Some(id);
        Ok(())
    }
}

/// Whether `socket` is connected to `peer`, by the kernel's word.
///
/// Fails with [`Error::InvalidInput`] naming the peer, and the address the socket is
/// connected to if it is connected to one.
fn check(socket: &dyn DatagramSocket, peer: SocketAddr) -> Result<(), Error> {
    match socket.connected_peer() {
        Ok(remote) if remote == peer => Ok(()),
        Ok(remote) => Err(Error::InvalidInput(format!(
            "the socket was declared connected to the peer {peer}, but it is connected to {remote}"
        ))),
        Err(e) => Err(Error::InvalidInput(format!(
            "the socket was declared connected to the peer {peer}, but it is not connected: {e}"
        ))),
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
        assert!(matches!(route.to(&socket, peer, false), Ok(Via::To(p)) if p == peer));
    }

    #[test]
    fn a_declared_socket_is_checked_and_then_trusted() {
        let (socket, peer_socket) = (bound(), bound());
        let peer = peer_socket.local_addr().unwrap();
        let mut route = Route::default();
        route.set_connected(true);
        let e = route.to(&socket, peer, false).unwrap_err();
        assert!(e.to_string().contains("is not connected"), "{e}");
        socket.connect(peer).unwrap();
        assert!(matches!(route.to(&socket, peer, false), Ok(Via::Connected)));
        let sent = route
            .to(&socket, peer, false)
            .unwrap()
            .send(&socket, b"x")
            .unwrap();
        assert_eq!(sent, 1);
        let mut buf = [0; 4];
        assert_eq!(peer_socket.recv(&mut buf).unwrap(), 1);
    }

    /// A socket connected elsewhere than the peer, the peer, that address, and a route
    /// whose sockets are declared connected.
    fn connected_elsewhere() -> (UdpSocket, SocketAddr, SocketAddr, Route) {
        let (socket, peer, elsewhere) = (
            bound(),
            bound().local_addr().unwrap(),
            bound().local_addr().unwrap(),
        );
        socket.connect(elsewhere).unwrap();
        let mut route = Route::default();
        route.set_connected(true);
        (socket, peer, elsewhere, route)
    }

    #[test]
    fn a_socket_connected_elsewhere_is_refused() {
        let (socket, peer, elsewhere, mut route) = connected_elsewhere();
        let e = route.to(&socket, peer, false).unwrap_err().to_string();
        assert!(
            e.contains(&peer.to_string()) && e.contains(&elsewhere.to_string()),
            "{e}"
        );
        // Another socket given later is checked again, not trusted for the first one's sake.
        let good = bound();
        good.connect(peer).unwrap();
        assert!(matches!(route.to(&good, peer, false), Ok(Via::Connected)));
        assert!(route.to(&socket, peer, false).is_err());
    }

    #[test]
    fn the_handshake_socket_is_trusted_until_the_handshake_falters_or_completes() {
        let (socket, peer, elsewhere, mut route) = connected_elsewhere();
        // Taken on trust for the handshake: no check yet.
        assert!(matches!(route.to(&socket, peer, true), Ok(Via::Connected)));
        assert!(matches!(route.to(&socket, peer, true), Ok(Via::Connected)));
        // A second socket during the handshake is checked.
        assert!(route.to(&bound(), peer, true).is_err());
        // The handshake falters: the trusted socket is checked, and refused.
        let e = route
            .check_provisional(&socket, peer)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&elsewhere.to_string()), "{e}");
        assert!(route.to(&socket, peer, false).is_err());

        // A handshake that completes through its socket leaves it checked.
        let good = bound();
        good.connect(peer).unwrap();
        let mut route = Route::default();
        route.set_connected(true);
        assert!(matches!(route.to(&good, peer, true), Ok(Via::Connected)));
        route.handshake_completed();
        assert!(route.check_provisional(&good, peer).is_ok());
        assert!(matches!(route.to(&good, peer, false), Ok(Via::Connected)));
    }
}
