//! [`ReadHalf`] and [`WriteHalf`]: a [`TlsStream`] used from two tasks at once.
//!
//! One TLS session has one transport, and either direction may need the other: a read sends
//! what the engine queued (a key update's answer, the rest of a handshake), a write during the
//! handshake reads the peer's flight. So a half's poll may wait on the transport in the other
//! direction, and a tokio transport keeps one waker per direction: the last task to wait there.
//! Each half therefore polls the stream with a waker that wakes both halves' tasks, so no task
//! is left waiting on a wake-up that went to the other (a spurious wake costs one poll).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::TlsStream;

/// What the halves share.
struct Shared<T> {
    stream: Mutex<TlsStream<T>>,
    wakers: Arc<Wakers>,
}

/// The tasks of the two halves, as they last polled: `[read, write]`.
#[derive(Default)]
struct Wakers(Mutex<[Option<Waker>; 2]>);

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Shared<T> {
    /// Polls the stream for the half in `slot`, with a waker that wakes both halves.
    fn poll<R>(
        &self,
        slot: usize,
        cx: &mut Context<'_>,
        f: impl FnOnce(Pin<&mut TlsStream<T>>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R>
    where
        T: Unpin,
    {
        {
            let mut wakers = lock(&self.wakers.0);
            if !wakers[slot]
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                wakers[slot] = Some(cx.waker().clone());
            }
        }
        let both = Waker::from(Arc::clone(&self.wakers));
        let mut both = Context::from_waker(&both);
        let mut stream = lock(&self.stream);
        f(Pin::new(&mut *stream), &mut both)
    }
}

/// The reading half of a [`TlsStream`] (from [`TlsStream::split`]).
pub struct ReadHalf<T> {
    shared: Arc<Shared<T>>,
}

/// The writing half of a [`TlsStream`] (from [`TlsStream::split`]); shutting it down sends
/// close_notify.
pub struct WriteHalf<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// Splits `stream` into its halves.
pub(crate) fn split<T>(stream: TlsStream<T>) -> (ReadHalf<T>, WriteHalf<T>) {
    let shared = Arc::new(Shared {
        stream: Mutex::new(stream),
        wakers: Arc::default(),
    });
    (
        ReadHalf {
            shared: Arc::clone(&shared),
        },
        WriteHalf { shared },
    )
}

impl<T> ReadHalf<T> {
    /// Joins the halves again.
    ///
    /// Fails with both halves back when they come from different streams.
    pub fn unsplit(self, write: WriteHalf<T>) -> Result<TlsStream<T>, (ReadHalf<T>, WriteHalf<T>)> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err((self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(shared
                .stream
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
            Err(_) => unreachable!("both halves of the pair were given and one was dropped"),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for ReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared
            .poll(0, cx, |stream, cx| stream.poll_read(cx, buf))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared
            .poll(1, cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll(1, cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .poll(1, cx, |stream, cx| stream.poll_shutdown(cx))
    }
}
