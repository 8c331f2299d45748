//! [`ReadTimeout`]: the streams whose blocking reads can be given a time limit.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

/// A stream whose blocking reads can be given a time limit, so that
/// [`SslSocket::wait_for_encrypted`](crate::SslSocket::wait_for_encrypted) can honour its timeout.
pub trait ReadTimeout {
    /// Sets the limit for each blocking read; `None` blocks indefinitely.
    ///
    /// Fails with the stream's error when the limit cannot be set.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// The current limit.
    ///
    /// Fails with the stream's error when the limit cannot be read.
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::read_timeout(self)
    }
}

#[cfg(unix)]
impl ReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::read_timeout(self)
    }
}
