//! [`split`]: one duplex stream as a read half and a write half, for a
//! stream that has no split of its own (a TLS stream: reading may need to
//! write and writing may need to read, so its halves share the stream).

use std::cell::RefCell;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_io::{AsyncRead, AsyncWrite};

/// Splits `stream` into halves that can be used by two tasks of the same
/// loop (they share the stream: each call borrows it for the length of
/// one poll). For sockets prefer their own `into_split`, whose halves own a
/// direction each.
///
/// The stream is polled with a waker that wakes *both* halves' tasks: a
/// socket keeps one waker per direction, and a TLS read may wait to write
/// (or a write to read) while the other half waits the same way; one
/// waker standing for both means neither wake-up is lost (the other half
/// at worst polls once for nothing).
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let ours = aio::net::TcpStream::connect(listener.local_addr()?).await?;
///     let (theirs, _) = listener.accept().await?;
///     let (r, w) = aio::split(ours);
///     let writer = aio::StreamWriter::new(w);
///     writer.write(b"ping\n");
///     let mut peer = aio::StreamReader::new(theirs);
///     assert_eq!(peer.readline().await.unwrap(), b"ping\n");
///     drop((r, writer));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn split<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> (ReadHalf<S>, WriteHalf<S>) {
    let wakers = Arc::new(BothHalves::default());
    let shared = Rc::new(Shared { stream: RefCell::new(stream), waker: Waker::from(wakers.clone()), wakers });
    (ReadHalf { shared: shared.clone() }, WriteHalf { shared })
}

/// What the two halves share.
struct Shared<S> {
    stream: RefCell<S>,
    /// The last waker of each half's task: [read, write].
    wakers: Arc<BothHalves>,
    /// `wakers` as the waker the stream is polled with.
    waker: Waker,
}

/// Wakes both halves' tasks.
#[derive(Default)]
struct BothHalves([Mutex<Option<Waker>>; 2]);

impl Wake for BothHalves {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in &self.0 {
            let waker = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<S> Shared<S> {
    /// Records `cx`'s waker as half `which`'s and runs `f` on the stream
    /// with the waker of both halves.
    fn poll<R>(&self, which: usize, cx: &Context<'_>, f: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> R) -> R
    where
        S: Unpin,
    {
        {
            let mut slot = self.wakers.0[which].lock().unwrap_or_else(|e| e.into_inner());
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let mut both = Context::from_waker(&self.waker);
        f(Pin::new(&mut *self.stream.borrow_mut()), &mut both)
    }
}

/// The reading half of a [`split`] stream.
pub struct ReadHalf<S> {
    shared: Rc<Shared<S>>,
}

/// The writing half of a [`split`] stream. Closing it closes the stream's
/// write side (for TLS: sends `close_notify`, then EOF).
pub struct WriteHalf<S> {
    shared: Rc<Shared<S>>,
}

const READ: usize = 0;
const WRITE: usize = 1;

impl<S> ReadHalf<S> {
    /// Whether `other` is the other half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }

    /// Puts the halves back together; `Err` gives them back when they are
    /// not a pair.
    pub fn unsplit(self, other: WriteHalf<S>) -> Result<S, (ReadHalf<S>, WriteHalf<S>)> {
        if !self.is_pair_of(&other) {
            return Err((self, other));
        }
        drop(other);
        match Rc::try_unwrap(self.shared) {
            Ok(shared) => Ok(shared.stream.into_inner()),
            Err(_) => unreachable!("a stream has exactly two halves"),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadHalf<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.shared.poll(READ, cx, |s, cx| s.poll_read(cx, buf))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteHalf<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.shared.poll(WRITE, cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.shared.poll(WRITE, cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll(WRITE, cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll(WRITE, cx, |s, cx| s.poll_close(cx))
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadHalf")
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteHalf")
    }
}
