//! `StreamWriter`: buffered writing (asyncio's `StreamWriter`).
//!
//! No helper task, as in asyncio's transports: `write` hands the OS what it
//! takes at once and buffers the rest. Only while bytes are buffered (or a
//! close is pending) is the writer *armed*: its state sits in this thread's
//! table of armed writers and a flush waker is registered for writability
//! (`flusher.rs`). When the socket becomes writable the waker queues a
//! callback on the loop, which writes more, and re-arms or disarms. An idle
//! writer costs no task and no registration.

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_io::AsyncWrite;
use loop_core::OwnedWriteHalf;
use loop_exec::WaitSite;
use loop_sync::WaitKind;

use super::flusher::{self, Pump};
use super::{DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER};

/// What a writer holds besides its I/O object.
struct WriterState {
    buf: Vec<u8>,
    /// Start of the unwritten data in `buf`.
    pos: usize,
    /// Set when the buffer went above the high-water mark; cleared at the
    /// low-water mark. `drain` waits while it is set.
    paused: bool,
    high: usize,
    low: usize,
    eof_requested: bool,
    closing: bool,
    /// The first write error; every later `drain` reports it.
    error: Option<(io::ErrorKind, String)>,
    /// Every byte is sent and the stream closed (or shut for writing after
    /// `write_eof`), or the writer failed: nothing more will be written.
    done: bool,
    /// `drain` and `wait_closed` callers to wake when the buffer empties or
    /// the writer is done.
    waiters: Vec<Waker>,
}

impl WriterState {
    fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn wake_waiters(&mut self) {
        for w in self.waiters.drain(..) {
            w.wake();
        }
    }

    fn error(&self) -> Option<io::Error> {
        self.error.as_ref().map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    /// Records the first error; the buffered data is dropped.
    fn fail(&mut self, e: io::Error) {
        if self.error.is_none() {
            self.error = Some((e.kind(), e.to_string()));
        }
        self.buf = Vec::new();
        self.pos = 0;
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        self.paused = false;
        self.wake_waiters();
    }

    /// Whether the pump has anything to do.
    fn has_work(&self) -> bool {
        !self.done && (self.pending() > 0 || self.closing || self.eof_requested)
    }
}

/// A writer's state, shared by its handle and (while armed) this thread's
/// table of armed writers.
struct WriterShared<W> {
    io: RefCell<W>,
    state: RefCell<WriterState>,
    /// The writer's entry in `ARMED` (and its loop) while it waits for
    /// writability.
    armed: RefCell<Option<(usize, loop_exec::LoopHandle)>>,
    /// `WriterShared::<W>::write_out`, recorded where `W: AsyncWrite` is
    /// known, for the writer's `Drop` (which cannot name that bound).
    write_out: fn(&Rc<WriterShared<W>>),
}

impl<W: AsyncWrite + Unpin + 'static> Pump for WriterShared<W> {
    fn pump(self: Rc<Self>) {
        self.armed.take();
        self.write_out();
    }
}

impl<W: AsyncWrite + Unpin + 'static> WriterShared<W> {
    /// Writes the buffer out until the OS takes no more, then closes if
    /// asked; arms the writer when the OS is full (or the close pending).
    fn write_out(self: &Rc<Self>) {
        if self.armed.borrow().is_some() {
            // Already waiting for writability: its pump will get here.
            return;
        }
        // A no-op waker for the attempts: if one is refused, the writer
        // arms and tries again with its `FlushWaker`, which is then the one
        // registered.
        let mut idle = Context::from_waker(Waker::noop());
        loop {
            match self.step(&mut idle) {
                Poll::Ready(true) => continue,
                Poll::Ready(false) => return,
                Poll::Pending => {}
            }
            let Some(waker) = self.arm() else {
                let mut st = self.state.borrow_mut();
                st.fail(io::Error::other(
                    "StreamWriter: the socket is full and no event loop runs on this thread to send the rest \
                     (write from a task, or the future given to loop::run)",
                ));
                return;
            };
            match self.step(&mut Context::from_waker(&waker)) {
                // Progress after all (it became writable in between): go
                // on without the registration (a late wake is harmless).
                Poll::Ready(true) => {
                    self.disarm();
                    continue;
                }
                Poll::Ready(false) => {
                    self.disarm();
                    return;
                }
                Poll::Pending => return,
            }
        }
    }

    /// One write (or the close): `Ready(true)` when there is more to do,
    /// `Ready(false)` when there is nothing left (or it failed), `Pending`
    /// when the OS is full.
    fn step(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut st = self.state.borrow_mut();
        if !st.has_work() {
            return Poll::Ready(false);
        }
        let mut io = self.io.borrow_mut();
        if st.pending() > 0 {
            let written = match Pin::new(&mut *io).poll_write(cx, &st.buf[st.pos..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    st.fail(e);
                    return Poll::Ready(false);
                }
                Poll::Ready(Ok(0)) => {
                    st.fail(io::ErrorKind::WriteZero.into());
                    return Poll::Ready(false);
                }
                Poll::Ready(Ok(n)) => n,
            };
            st.pos += written;
            if st.pending() == 0 {
                // Drained: give the buffer back (an idle connection holds
                // none; the next burst that does not fit allocates again).
                st.buf = Vec::new();
                st.pos = 0;
                st.paused = false;
                st.wake_waiters();
            } else {
                if st.pending() <= st.low && st.paused {
                    st.paused = false;
                    st.wake_waiters();
                }
                if st.pos > 64 * 1024 && st.pos * 2 > st.buf.len() {
                    let pos = st.pos;
                    st.buf.drain(..pos);
                    st.pos = 0;
                }
            }
            return Poll::Ready(true);
        }
        // Everything is sent and a close (or EOF) was asked for.
        match Pin::new(&mut *io).poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                st.fail(e);
                Poll::Ready(false)
            }
            Poll::Ready(Ok(())) => {
                st.finish();
                Poll::Ready(false)
            }
        }
    }

    /// `Ready` once the writer is done (closed after its last byte, or
    /// failed), with its first error if any.
    fn poll_done(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.state.borrow_mut();
        if !st.done {
            st.waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(match st.error() {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }

    /// Puts the writer in `ARMED` and returns the waker that pumps it;
    /// `None` when no loop runs on this thread to do that.
    fn arm(self: &Rc<Self>) -> Option<Waker> {
        let handle = loop_exec::try_get_running_loop()?.handle();
        let (key, waker) = flusher::arm(&handle, self.clone());
        *self.armed.borrow_mut() = Some((key, handle));
        Some(waker)
    }

    /// Takes the writer out of `ARMED` again.
    fn disarm(&self) {
        if let Some((key, handle)) = self.armed.take() {
            drop(flusher::disarm(&handle, key));
        }
    }
}

/// Buffered writing to a stream (asyncio's `StreamWriter`).
///
/// `write` never blocks: it sends what the socket takes at once and buffers
/// the rest, which is sent as the socket accepts it (no helper task: the
/// writer watches for writability only while data is pending).
/// `drain().await` is the backpressure: it waits while the buffer is above
/// the high-water mark (64 KiB) until it falls to the low one (16 KiB), and
/// reports a write error (a reset peer is `ConnectionReset` or
/// `BrokenPipe`).
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let ours = aio::net::TcpStream::connect(listener.local_addr()?).await?;
///     let (theirs, _) = listener.accept().await?;
///     let writer = aio::StreamWriter::new(ours);
///     writer.write(b"line one\n");
///     writer.writelines([&b"line two\n"[..], b"line three\n"]);
///     writer.drain().await?; // backpressure point; reports write errors
///     writer.close(); // the buffer is still sent, then EOF
///     writer.wait_closed().await?;
///     let text = aio::StreamReader::new(theirs).read_to_end().await?;
///     assert_eq!(text, b"line one\nline two\nline three\n");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamWriter<W: 'static = OwnedWriteHalf> {
    shared: Rc<WriterShared<W>>,
    peer: Option<SocketAddr>,
}

impl<W: AsyncWrite + Unpin + 'static> StreamWriter<W> {
    /// A writer over `io`.
    ///
    /// Writing needs the loop running on this thread when the socket is
    /// full (the rest is sent as it drains).
    pub fn new(io: W) -> Self {
        Self::with_peer(io, None)
    }

    pub(super) fn with_peer(io: W, peer: Option<SocketAddr>) -> Self {
        let shared = Rc::new(WriterShared {
            io: RefCell::new(io),
            state: RefCell::new(WriterState {
                buf: Vec::new(),
                pos: 0,
                paused: false,
                high: DEFAULT_HIGH_WATER,
                low: DEFAULT_LOW_WATER,
                eof_requested: false,
                closing: false,
                error: None,
                done: false,
                waiters: Vec::new(),
            }),
            armed: RefCell::new(None),
            write_out: WriterShared::<W>::write_out,
        });
        StreamWriter { shared, peer }
    }

    /// Sets the buffer limits: `drain` blocks above `high` until the buffer
    /// is down to `low`.
    ///
    /// # Panics
    /// When `low > high`.
    pub fn set_write_buffer_limits(&self, high: usize, low: usize) {
        assert!(low <= high, "set_write_buffer_limits: low ({low}) must not exceed high ({high})");
        let mut st = self.shared.state.borrow_mut();
        st.high = high;
        st.low = low;
    }

    /// Bytes buffered and not yet handed to the OS.
    pub fn get_write_buffer_size(&self) -> usize {
        self.shared.state.borrow().pending()
    }

    /// Queues `data`. Never blocks.
    ///
    /// After a write error the data is dropped and `drain` reports that
    /// error. A write after [`close`](Self::close) or
    /// [`write_eof`](Self::write_eof) is misuse: the data is not sent, and
    /// `drain` and `wait_closed` report it (`BrokenPipe`, "write after
    /// close") — asyncio raises there too.
    pub fn write(&self, mut data: &[u8]) {
        {
            let mut st = self.shared.state.borrow_mut();
            if st.error.is_some() || data.is_empty() {
                return;
            }
            if st.closing || st.eof_requested {
                let after = if st.closing { "close()" } else { "write_eof()" };
                st.error = Some((
                    io::ErrorKind::BrokenPipe,
                    format!(
                        "StreamWriter::write after {after}: {} bytes were not sent (write after close)",
                        data.len()
                    ),
                ));
                st.wake_waiters();
                return;
            }
            if st.pending() == 0 && self.shared.armed.borrow().is_none() {
                // Nothing queued: hand the OS what it takes right now,
                // without copying it into the buffer.
                let mut cx = Context::from_waker(Waker::noop());
                match Pin::new(&mut *self.shared.io.borrow_mut()).poll_write(&mut cx, data) {
                    Poll::Ready(Ok(n)) => data = &data[n..],
                    Poll::Ready(Err(e)) => {
                        st.fail(e);
                        return;
                    }
                    Poll::Pending => {}
                }
                if data.is_empty() {
                    return;
                }
            }
            st.buf.extend_from_slice(data);
            if st.pending() > st.high {
                st.paused = true;
            }
        }
        self.shared.write_out();
        let mut st = self.shared.state.borrow_mut();
        if st.pending() > st.high {
            st.paused = true;
        }
    }

    /// Queues several buffers.
    pub fn writelines<'a>(&self, lines: impl IntoIterator<Item = &'a [u8]>) {
        for line in lines {
            self.write(line);
        }
    }

    /// Waits until the buffer is below the low-water mark if it went above
    /// the high one; reports the first write error.
    #[track_caller]
    pub fn drain<'a>(&'a self) -> impl Future<Output = io::Result<()>> + use<'a, W> {
        WaitSite::new(Some(WaitKind::Writable), async move {
            poll_fn(|cx| {
                let mut st = self.shared.state.borrow_mut();
                if let Some(e) = st.error() {
                    return Poll::Ready(Err(e));
                }
                if !st.paused || st.done {
                    return Poll::Ready(Ok(()));
                }
                st.waiters.push(cx.waker().clone());
                Poll::Pending
            })
            .await
        })
    }

    /// Sends EOF after the buffered data (half-close: the peer reads EOF,
    /// this side can still read).
    pub fn write_eof(&self) {
        self.shared.state.borrow_mut().eof_requested = true;
        self.shared.write_out();
    }

    /// Whether `write_eof` is supported (always, for sockets).
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Closes the writer: the buffered data is still sent, then EOF.
    pub fn close(&self) {
        self.shared.state.borrow_mut().closing = true;
        self.shared.write_out();
    }

    /// Whether `close` was called (or the writer failed).
    pub fn is_closing(&self) -> bool {
        let st = self.shared.state.borrow();
        st.closing || st.done
    }

    /// Waits until the writer is closed and its buffer flushed (or failed):
    /// after [`close`](Self::close) or [`write_eof`](Self::write_eof).
    #[track_caller]
    pub fn wait_closed<'a>(&'a self) -> impl Future<Output = io::Result<()>> + use<'a, W> {
        WaitSite::new(Some(WaitKind::Writable), async move { poll_fn(|cx| self.shared.poll_done(cx)).await })
    }

    /// The peer's address, for TCP.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// The writer as a futures-io sink, for code written against `AsyncWrite`
/// (`futures::io::copy`, codecs, hyper's adapters): `poll_write` takes the
/// bytes into the buffer (waiting while it is above the high-water mark, as
/// `drain` does), `poll_flush` waits until every byte is handed to the OS,
/// `poll_close` closes and waits until that is done. Errors are the writer's
/// first write error, as `drain` reports it.
impl<W: AsyncWrite + Unpin + 'static> AsyncWrite for StreamWriter<W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        {
            let mut st = self.shared.state.borrow_mut();
            if let Some(e) = st.error() {
                return Poll::Ready(Err(e));
            }
            if st.closing || st.eof_requested {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "StreamWriter: write after close")));
            }
            if st.paused {
                st.waiters.push(cx.waker().clone());
                return Poll::Pending;
            }
        }
        self.write(buf);
        match self.shared.state.borrow().error() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.state.borrow_mut();
        if let Some(e) = st.error() {
            return Poll::Ready(Err(e));
        }
        if st.pending() == 0 || st.done {
            return Poll::Ready(Ok(()));
        }
        st.waiters.push(cx.waker().clone());
        Poll::Pending
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.shared.state.borrow().closing {
            self.close();
        }
        self.shared.poll_done(cx)
    }
}

impl<W: 'static> Drop for StreamWriter<W> {
    fn drop(&mut self) {
        // Flush what is buffered, then send EOF: dropping never loses data.
        // An armed writer lives on in `ARMED` until its pump closes it.
        let mut st = self.shared.state.borrow_mut();
        st.closing = true;
        let idle = self.shared.armed.borrow().is_none() && st.has_work();
        drop(st);
        if idle {
            // Not waiting for writability yet: start the close now.
            (self.shared.write_out)(&self.shared);
        }
    }
}

impl<W: 'static> fmt::Debug for StreamWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.borrow();
        f.debug_struct("StreamWriter")
            .field("buffered", &st.pending())
            .field("closing", &st.closing)
            .field("peer", &self.peer)
            .finish()
    }
}
