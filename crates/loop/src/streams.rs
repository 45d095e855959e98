//! asyncio's high-level streams: `open_connection`, `start_server`,
//! `StreamReader`, `StreamWriter`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_io::{AsyncRead, AsyncWrite};
use loop_core::{OwnedReadHalf, OwnedWriteHalf, TcpStream, UnixListener, UnixReadHalf, UnixWriteHalf};
use loop_exec::{Task, WaitSite};
use loop_sync::{Event, WaitKind};

use crate::net::ToAddrs;

/// Default read limit of a [`StreamReader`] (asyncio's 64 KiB).
pub const DEFAULT_LIMIT: usize = 64 * 1024;
/// Default high-water mark of a [`StreamWriter`]'s buffer.
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;
/// Default low-water mark of a [`StreamWriter`]'s buffer.
pub const DEFAULT_LOW_WATER: usize = 16 * 1024;

/// EOF came before the expected bytes (asyncio's `IncompleteReadError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} bytes read on a total of {} expected bytes", partial.len(), expected.map_or("undefined".to_string(), |n| n.to_string()))]
pub struct IncompleteReadError {
    /// What was read before EOF.
    pub partial: Vec<u8>,
    /// How many bytes were expected (`None`: up to a separator).
    pub expected: Option<usize>,
}

/// The separator was not found within the limit (asyncio's
/// `LimitOverrunError`). The data stays in the reader's buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitOverrunError {
    /// What went wrong.
    pub message: String,
    /// How many bytes to consume to get past the limit.
    pub consumed: usize,
}

/// What the reading methods of a [`StreamReader`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The OS reported an error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// EOF before the expected data.
    #[error(transparent)]
    IncompleteRead(#[from] IncompleteReadError),
    /// No separator within the limit.
    #[error(transparent)]
    LimitOverrun(#[from] LimitOverrunError),
}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> io::Error {
        match e {
            StreamError::Io(e) => e,
            StreamError::IncompleteRead(e) => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            StreamError::LimitOverrun(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// Buffered reading from a stream (asyncio's `StreamReader`).
///
/// Data is read from the socket only when a method needs it, so the buffer
/// never holds more than about twice the limit.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let (ours, theirs) = aio::net::UnixStream::pair()?;
///     theirs.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await?;
///     let mut reader = aio::StreamReader::new(ours);
///     assert_eq!(reader.readline().await?, b"HTTP/1.1 200 OK\r\n");
///     assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"Content-Length: 5\r\n\r\n");
///     assert_eq!(reader.readexactly(5).await?, b"hello");
///     drop(theirs); // EOF
///     assert_eq!(reader.read(100).await?, b"");
///     Ok::<(), aio::StreamError>(())
/// })?;
/// # Ok::<(), aio::StreamError>(())
/// ```
pub struct StreamReader<R = OwnedReadHalf> {
    io: R,
    /// `buf[pos..end]` is the unread data; `buf[end..]` is initialized
    /// spare room that reads land in (kept, so a buffer is zero-filled only
    /// when it grows, not on every read).
    buf: Vec<u8>,
    /// Start of the unread data in `buf`.
    pos: usize,
    /// End of the unread data in `buf`.
    end: usize,
    /// How much one read asks for: starts at [`FIRST_READ`], doubles while
    /// reads fill what they are offered, halves while they come back
    /// nearly empty. A connection of small messages keeps a small buffer
    /// (10,000 idle connections do not hold 64 KiB each); a bulk transfer
    /// soon reads [`MAX_READ`] at a time.
    read_hint: usize,
    eof: bool,
    limit: usize,
}

/// The most one read from the stream asks for (asyncio's transports read
/// 256 KiB at a time too): a long `readexactly` reads in pieces of this
/// size, not all of its length at once.
const MAX_READ: usize = 256 * 1024;

/// The first read size of a [`StreamReader`] (see `read_hint`).
const FIRST_READ: usize = 8 * 1024;

impl<R: AsyncRead + Unpin> StreamReader<R> {
    /// A reader with the default limit (64 KiB).
    pub fn new(io: R) -> Self {
        Self::with_limit(io, DEFAULT_LIMIT)
    }

    /// A reader with `limit` as the most `readuntil`/`readline` will buffer
    /// looking for a separator.
    ///
    /// # Panics
    /// When `limit` is zero.
    pub fn with_limit(io: R, limit: usize) -> Self {
        assert!(limit > 0, "StreamReader limit must be positive");
        StreamReader { io, buf: Vec::new(), pos: 0, end: 0, read_hint: FIRST_READ, eof: false, limit }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether EOF was reached and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        self.eof && self.buffered() == 0
    }

    fn buffered(&self) -> usize {
        self.end - self.pos
    }

    /// The unread data.
    fn data(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Takes the first `n <= buffered()` bytes of the unread data.
    fn take(&mut self, n: usize) -> Vec<u8> {
        debug_assert!(n <= self.buffered());
        if self.pos == 0 && n == self.end && n > MAX_READ {
            // A long read that is the whole buffer: hand the buffer over
            // instead of copying it.
            let mut out = std::mem::take(&mut self.buf);
            out.truncate(n);
            self.end = 0;
            return out;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            // Emptied after a burst: give back what the reads no longer need.
            if self.buf.len() > 2 * self.read_hint {
                self.buf.truncate(self.read_hint);
                self.buf.shrink_to(self.read_hint);
            }
        }
        out
    }

    /// Reads once from the socket into the buffer; returns the byte count
    /// (0 at EOF).
    async fn fill(&mut self, want: usize) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_more(cx, want)).await
    }

    /// One read of up to `want` more bytes (between 4 KiB and
    /// [`MAX_READ`]), appended to the unread data after compacting it; sets
    /// `eof` on a read of 0. The one place that reads from the stream.
    fn poll_read_more(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        if self.eof {
            return Poll::Ready(Ok(0));
        }
        if self.pos > 0 && self.pos * 2 >= self.end {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let want = want.min(self.read_hint).clamp(4096, MAX_READ);
        // `end + want` cannot overflow: `end` is the length of a `Vec`.
        if self.buf.len() < self.end + want {
            self.buf.resize(self.end + want, 0);
        }
        let start = self.end;
        let result = Pin::new(&mut self.io).poll_read(cx, &mut self.buf[start..start + want]);
        match &result {
            Poll::Ready(Ok(0)) => self.eof = true,
            Poll::Ready(Ok(n)) => {
                self.end += n;
                if *n == want {
                    self.read_hint = (self.read_hint * 2).min(MAX_READ);
                } else if *n <= want / 8 {
                    self.read_hint = (self.read_hint / 2).max(FIRST_READ);
                }
            }
            _ => {}
        }
        result
    }

    /// Reads up to `n` bytes: whatever is available as soon as there is
    /// some; empty at EOF.
    #[track_caller]
    pub fn read<'a>(&'a mut self, n: usize) -> impl Future<Output = io::Result<Vec<u8>>> + use<'a, R> {
        WaitSite::new(Some(WaitKind::Readable), async move {
            if n == 0 {
                return Ok(Vec::new());
            }
            if self.buffered() == 0 {
                self.fill(n.min(self.limit)).await?;
            }
            let k = n.min(self.buffered());
            Ok(self.take(k))
        })
    }

    /// Reads until EOF.
    #[track_caller]
    pub fn read_to_end<'a>(&'a mut self) -> impl Future<Output = io::Result<Vec<u8>>> + use<'a, R> {
        WaitSite::new(Some(WaitKind::Readable), async move {
            while self.fill(self.limit).await? > 0 {}
            let n = self.buffered();
            Ok(self.take(n))
        })
    }

    /// Reads exactly `n` bytes; at EOF before that, an
    /// [`IncompleteReadError`] carrying what was read.
    #[track_caller]
    pub fn readexactly<'a>(&'a mut self, n: usize) -> impl Future<Output = Result<Vec<u8>, StreamError>> + use<'a, R> {
        WaitSite::new(Some(WaitKind::Readable), async move {
            // Read what is missing piece by piece (at most `MAX_READ` at a
            // time): the buffer grows with what has arrived, not with `n`.
            while self.buffered() < n {
                if self.fill(n - self.buffered()).await? == 0 {
                    let k = self.buffered();
                    return Err(IncompleteReadError { partial: self.take(k), expected: Some(n) }.into());
                }
            }
            Ok(self.take(n))
        })
    }

    /// Reads up to and including `separator`.
    ///
    /// The limit counts the bytes *before* the separator (asyncio's rule): a
    /// chunk of exactly `limit` bytes plus its separator is returned.
    ///
    /// Errors: [`LimitOverrunError`] when the separator starts past the
    /// limit, or no separator is found within it (the data stays buffered;
    /// `consumed` says how far it goes); [`IncompleteReadError`] at EOF
    /// (with all the data read).
    ///
    /// # Panics
    /// When `separator` is empty.
    #[track_caller]
    pub fn readuntil<'a>(
        &'a mut self,
        separator: &'a [u8],
    ) -> impl Future<Output = Result<Vec<u8>, StreamError>> + use<'a, R> {
        WaitSite::new(Some(WaitKind::Readable), async move {
            assert!(!separator.is_empty(), "readuntil: the separator must not be empty");
            // Where the next search starts: a separator cannot begin before.
            let mut searched = 0;
            loop {
                let data = self.data();
                if let Some(i) = find(&data[searched..], separator) {
                    let start = searched + i;
                    if start > self.limit {
                        return Err(LimitOverrunError {
                            message: "separator is found, but chunk is longer than limit".into(),
                            consumed: start,
                        }
                        .into());
                    }
                    return Ok(self.take(start + separator.len()));
                }
                searched = (data.len() + 1).saturating_sub(separator.len());
                if searched > self.limit {
                    return Err(LimitOverrunError {
                        message: "separator is not found, and chunk exceeds the limit".into(),
                        consumed: searched,
                    }
                    .into());
                }
                if self.fill(self.limit).await? == 0 {
                    let k = self.buffered();
                    return Err(IncompleteReadError { partial: self.take(k), expected: None }.into());
                }
            }
        })
    }

    /// Reads a line (up to and including `\n`); at EOF the partial line
    /// (empty when nothing is left).
    ///
    /// A line longer than the limit (counting the bytes before its `\n`) is
    /// a [`LimitOverrunError`], and, as asyncio does, the overlong data is
    /// discarded: through its `\n` when that was found, so that the next
    /// `readline` starts at the next line; otherwise the whole buffer (the
    /// rest of the overlong line then comes first). asyncio raises
    /// `ValueError` there; this is the same error `readuntil` gives.
    #[track_caller]
    pub fn readline<'a>(&'a mut self) -> impl Future<Output = Result<Vec<u8>, StreamError>> + use<'a, R> {
        WaitSite::new(Some(WaitKind::Readable), async move {
            match self.readuntil(b"\n").await {
                Err(StreamError::IncompleteRead(e)) => Ok(e.partial),
                Err(StreamError::LimitOverrun(e)) => {
                    let data = self.data();
                    let discard = if data.get(e.consumed) == Some(&b'\n') { e.consumed + 1 } else { data.len() };
                    self.take(discard);
                    Err(StreamError::LimitOverrun(e))
                }
                other => other,
            }
        })
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.io
    }
}

impl<R: AsyncRead + Unpin> StreamReader<R> {
    /// Makes sure something is buffered (or EOF seen), for the `AsyncBufRead`
    /// and `AsyncRead` impls.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.buffered() > 0 || self.eof {
            return Poll::Ready(Ok(()));
        }
        let want = self.limit.min(64 * 1024);
        self.poll_read_more(cx, want).map_ok(drop)
    }
}

/// Buffered reads for the ecosystem (`futures::AsyncBufReadExt::read_line`,
/// codecs): the same buffer the asyncio-style methods use.
impl<R: AsyncRead + Unpin> futures_io::AsyncBufRead for StreamReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(this.data())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = this.pos.saturating_add(amt).min(this.end);
        if this.pos == this.end {
            this.pos = 0;
            this.end = 0;
        }
    }
}

/// `AsyncRead` through the buffer.
impl<R: AsyncRead + Unpin> AsyncRead for StreamReader<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Ready(Ok(())) => {
                let n = out.len().min(this.buffered());
                out[..n].copy_from_slice(&this.buf[this.pos..this.pos + n]);
                this.pos += n;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R> fmt::Debug for StreamReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &(self.end - self.pos))
            .field("eof", &self.eof)
            .field("limit", &self.limit)
            .finish()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|&b| b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The writer's shared state (with its flusher task).
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
    /// The flusher has finished (closed, or failed).
    done: bool,
    drain_wakers: Vec<Waker>,
    flusher: Option<Waker>,
}

impl WriterState {
    fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn wake_drainers(&mut self) {
        for w in self.drain_wakers.drain(..) {
            w.wake();
        }
    }

    fn wake_flusher(&mut self) {
        if let Some(w) = self.flusher.take() {
            w.wake();
        }
    }

    fn error(&self) -> Option<io::Error> {
        self.error.as_ref().map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }
}

struct WriterShared<W> {
    io: RefCell<W>,
    state: RefCell<WriterState>,
}

/// Buffered writing to a stream (asyncio's `StreamWriter`).
///
/// `write` never blocks: it sends what the socket takes at once and buffers
/// the rest, which a background task flushes. `drain().await` is the
/// backpressure: it waits while the buffer is above the high-water mark
/// (64 KiB) until it falls to the low one (16 KiB), and reports a write
/// error (a reset peer is `ConnectionReset` or `BrokenPipe`).
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let (ours, theirs) = aio::net::UnixStream::pair()?;
///     let mut writer = aio::StreamWriter::new(ours);
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
    flusher: Option<Task<()>>,
    peer: Option<SocketAddr>,
}

impl<W: AsyncWrite + Unpin + 'static> StreamWriter<W> {
    /// A writer over `io`; starts its flusher task on the running loop.
    ///
    /// # Panics
    /// When no event loop is running on this thread.
    pub fn new(io: W) -> Self {
        Self::with_peer(io, None)
    }

    fn with_peer(io: W, peer: Option<SocketAddr>) -> Self {
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
                drain_wakers: Vec::new(),
                flusher: None,
            }),
        });
        // Named, so that `dump_tasks` says what this helper task is.
        let flusher =
            loop_exec::TaskBuilder::new().name("loop: StreamWriter flusher").spawn(flush_loop(shared.clone()));
        StreamWriter { shared, flusher: Some(flusher), peer }
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
        let mut st = self.shared.state.borrow_mut();
        if st.error.is_some() || data.is_empty() {
            return;
        }
        if st.closing || st.eof_requested {
            let after = if st.closing { "close()" } else { "write_eof()" };
            st.error = Some((
                io::ErrorKind::BrokenPipe,
                format!("StreamWriter::write after {after}: {} bytes were not sent (write after close)", data.len()),
            ));
            st.wake_drainers();
            return;
        }
        if st.pending() == 0 {
            // Nothing queued: hand the OS what it takes right now.
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut *self.shared.io.borrow_mut()).poll_write(&mut cx, data) {
                Poll::Ready(Ok(n)) => data = &data[n..],
                Poll::Ready(Err(e)) => {
                    st.error = Some((e.kind(), e.to_string()));
                    st.wake_drainers();
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
        st.wake_flusher();
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
                st.drain_wakers.push(cx.waker().clone());
                Poll::Pending
            })
            .await
        })
    }

    /// Sends EOF after the buffered data (half-close: the peer reads EOF,
    /// this side can still read).
    pub fn write_eof(&self) {
        let mut st = self.shared.state.borrow_mut();
        st.eof_requested = true;
        st.wake_flusher();
    }

    /// Whether `write_eof` is supported (always, for sockets).
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Closes the writer: the buffered data is still sent, then EOF.
    pub fn close(&self) {
        let mut st = self.shared.state.borrow_mut();
        st.closing = true;
        st.wake_flusher();
    }

    /// Whether `close` was called (or the writer failed).
    pub fn is_closing(&self) -> bool {
        let st = self.shared.state.borrow();
        st.closing || st.done
    }

    /// Waits until the writer is closed and its buffer flushed (or failed).
    #[track_caller]
    pub fn wait_closed<'a>(&'a mut self) -> impl Future<Output = io::Result<()>> + use<'a, W> {
        WaitSite::new(Some(WaitKind::Writable), async move {
            if let Some(mut task) = self.flusher.take() {
                // Shielded: a wait_closed that is dropped must not cancel
                // the flush (the data is still sent).
                let _ = loop_exec::shield(&mut task).await;
            }
            match self.shared.state.borrow().error() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    /// The peer's address, for TCP.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl<W: 'static> Drop for StreamWriter<W> {
    fn drop(&mut self) {
        // Flush what is buffered, then send EOF: dropping never loses data.
        let mut st = self.shared.state.borrow_mut();
        st.closing = true;
        if let Some(w) = st.flusher.take() {
            w.wake();
        }
        if let Some(task) = self.flusher.take() {
            task.detach();
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

/// The background task of a `StreamWriter`: flushes the buffer whenever it
/// has data, sends EOF when asked, records the first error.
async fn flush_loop<W: AsyncWrite + Unpin>(shared: Rc<WriterShared<W>>) {
    let here = std::panic::Location::caller();
    let result: io::Result<()> = async {
        loop {
            // Wait for something to do.
            poll_fn(|cx| {
                let mut st = shared.state.borrow_mut();
                if st.pending() > 0 || st.closing || st.eof_requested {
                    Poll::Ready(())
                } else {
                    st.flusher = Some(cx.waker().clone());
                    loop_sync::note_wait(WaitKind::Idle, here);
                    Poll::Pending
                }
            })
            .await;
            // Write everything queued.
            loop {
                let written = poll_fn(|cx| {
                    let st = shared.state.borrow();
                    if st.pending() == 0 {
                        return Poll::Ready(Ok(0));
                    }
                    let chunk = &st.buf[st.pos..];
                    Pin::new(&mut *shared.io.borrow_mut()).poll_write(cx, chunk)
                })
                .await?;
                let mut st = shared.state.borrow_mut();
                if written == 0 {
                    st.buf.clear();
                    st.pos = 0;
                    st.paused = false;
                    st.wake_drainers();
                    break;
                }
                st.pos += written;
                if st.pending() <= st.low && st.paused {
                    st.paused = false;
                    st.wake_drainers();
                }
                if st.pos > 64 * 1024 && st.pos * 2 > st.buf.len() {
                    let pos = st.pos;
                    st.buf.drain(..pos);
                    st.pos = 0;
                }
            }
            let (eof, closing) = {
                let st = shared.state.borrow();
                (st.eof_requested, st.closing)
            };
            if eof || closing {
                poll_fn(|cx| Pin::new(&mut *shared.io.borrow_mut()).poll_close(cx)).await?;
                return Ok(());
            }
        }
    }
    .await;
    let mut st = shared.state.borrow_mut();
    if let Err(e) = result {
        st.error = Some((e.kind(), e.to_string()));
        st.buf.clear();
        st.pos = 0;
    }
    st.done = true;
    st.paused = false;
    st.wake_drainers();
}

/// Opens a TCP connection (asyncio's `open_connection`); `addr` may be a
/// `SocketAddr` or a `"host:port"` (resolved off the loop).
///
/// ```no_run
/// # r#loop::run(async {
/// let (mut reader, writer) = r#loop::open_connection("127.0.0.1:8080").await?;
/// writer.write(b"GET / HTTP/1.0\r\n\r\n");
/// writer.drain().await?;
/// let status = reader.readline().await?;
/// # Ok::<(), r#loop::StreamError>(()) });
/// ```
#[track_caller]
pub fn open_connection(addr: impl ToAddrs) -> impl Future<Output = io::Result<(StreamReader, StreamWriter)>> {
    WaitSite::new(None, async move {
        let stream = crate::net::connect(addr).await?;
        Ok(tcp_streams(stream))
    })
}

/// Wraps a connected `TcpStream` as a reader/writer pair.
pub fn tcp_streams(stream: TcpStream) -> (StreamReader, StreamWriter) {
    let peer = stream.peer_addr().ok();
    let (r, w) = stream.into_split();
    (StreamReader::new(r), StreamWriter::with_peer(w, peer))
}

/// Opens a Unix-domain connection.
#[track_caller]
pub fn open_unix_connection(
    path: impl AsRef<std::path::Path>,
) -> impl Future<Output = io::Result<(StreamReader<UnixReadHalf>, StreamWriter<UnixWriteHalf>)>> {
    WaitSite::new(None, async move {
        let stream = loop_core::UnixStream::connect(path).await?;
        let (r, w) = stream.into_split();
        Ok((StreamReader::new(r), StreamWriter::new(w)))
    })
}

/// Handler tasks of a server, and how to wait for them.
struct Clients {
    tasks: RefCell<HashMap<u64, Task<()>>>,
    next: Cell<u64>,
    closed: Cell<bool>,
    /// Set once the server is closed and every handler finished.
    all_done: Event,
    /// Set when the server is closed.
    closed_event: Event,
}

impl Clients {
    fn check_done(&self) {
        if self.closed.get() && self.tasks.borrow().is_empty() {
            self.all_done.set();
        }
    }
}

/// Removes a handler from its server's set when it ends (or is cancelled).
struct ClientGuard {
    clients: Rc<Clients>,
    id: u64,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let task = self.clients.tasks.borrow_mut().remove(&self.id);
        if let Some(task) = task {
            task.detach();
        }
        self.clients.check_done();
    }
}

/// A running server (asyncio's `Server`), returned by [`start_server`].
pub struct Server {
    local_addr: Option<SocketAddr>,
    accept: RefCell<Option<Task<()>>>,
    clients: Rc<Clients>,
}

impl Server {
    /// The address it listens on (TCP).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Whether it still accepts connections.
    pub fn is_serving(&self) -> bool {
        !self.clients.closed.get()
    }

    /// Stops accepting (the listening socket is closed at once); running
    /// handlers go on.
    pub fn close(&self) {
        if let Some(task) = self.accept.borrow_mut().take() {
            task.cancel();
        }
        self.clients.closed.set(true);
        self.clients.closed_event.set();
        self.clients.check_done();
    }

    /// Cancels every running handler (asyncio's `abort_clients`).
    pub fn abort_clients(&self) {
        let tasks: Vec<_> = self.clients.tasks.borrow().keys().copied().collect();
        for id in tasks {
            if let Some(task) = self.clients.tasks.borrow().get(&id) {
                task.cancel();
            }
        }
    }

    /// Number of handlers running.
    pub fn active_clients(&self) -> usize {
        self.clients.tasks.borrow().len()
    }

    /// Waits until `close` was called and every handler finished.
    #[track_caller]
    pub fn wait_closed(&self) -> impl Future<Output = ()> + use<'_> {
        WaitSite::new(None, async move {
            self.clients.all_done.wait().await;
        })
    }

    /// Serves until `close` is called.
    #[track_caller]
    pub fn serve_forever(&self) -> impl Future<Output = ()> + use<'_> {
        WaitSite::new(None, async move {
            self.clients.closed_event.wait().await;
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.accept.borrow_mut().take() {
            task.cancel();
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("serving", &self.is_serving())
            .field("clients", &self.active_clients())
            .finish()
    }
}

fn spawn_client<Fut>(clients: &Rc<Clients>, fut: Fut)
where
    Fut: Future<Output = ()> + 'static,
{
    let id = clients.next.get();
    clients.next.set(id + 1);
    let guard = ClientGuard { clients: clients.clone(), id };
    let task = loop_exec::TaskBuilder::new().name(format!("loop: server client {id}")).spawn(async move {
        let _guard = guard;
        fut.await;
    });
    clients.tasks.borrow_mut().insert(id, task);
}

fn new_clients() -> Rc<Clients> {
    Rc::new(Clients {
        tasks: RefCell::new(HashMap::new()),
        next: Cell::new(0),
        closed: Cell::new(false),
        all_done: Event::new(),
        closed_event: Event::new(),
    })
}

/// Starts a TCP server (asyncio's `start_server`): every connection runs
/// `handler(reader, writer)` as its own task.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let server = aio::start_server(
///         |mut reader, writer| async move {
///             let line = reader.readline().await.unwrap();
///             writer.write(&line);
///         },
///         "127.0.0.1:0",
///     )
///     .await?;
///     let (mut reader, writer) = aio::open_connection(server.local_addr().unwrap()).await?;
///     writer.write(b"echo me\n");
///     assert_eq!(reader.readline().await.unwrap(), b"echo me\n");
///     server.close();
///     server.wait_closed().await;
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn start_server<H, Fut>(handler: H, addr: impl ToAddrs) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    WaitSite::new(None, async move {
        let listener = Rc::new(crate::net::bind(addr).await?);
        let local_addr = listener.local_addr().ok();
        Ok(serve(
            local_addr,
            move || {
                let listener = listener.clone();
                async move { listener.accept().await }
            },
            move |(stream, _)| {
                let (r, w) = tcp_streams(stream);
                handler(r, w)
            },
        ))
    })
}

/// Runs the accept loop of a server: every accepted connection becomes a
/// client task running `handle(connection)`.
fn serve<C, A, AF, H, Fut>(local_addr: Option<SocketAddr>, accept: A, handle: H) -> Server
where
    A: Fn() -> AF + 'static,
    AF: Future<Output = io::Result<C>>,
    H: Fn(C) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
    C: 'static,
{
    let clients = new_clients();
    let c = clients.clone();
    let accept = loop_exec::TaskBuilder::new().name("loop: server accept loop").spawn(async move {
        loop {
            match accept().await {
                Ok(conn) => spawn_client(&c, handle(conn)),
                Err(e) => accept_error_pause(e).await,
            }
        }
    });
    Server { local_addr, accept: RefCell::new(Some(accept)), clients }
}

/// Starts a Unix-domain server at `path`.
#[track_caller]
pub fn start_unix_server<H, Fut>(
    handler: H,
    path: impl AsRef<std::path::Path>,
) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(StreamReader<UnixReadHalf>, StreamWriter<UnixWriteHalf>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    WaitSite::new(None, async move {
        let listener = Rc::new(UnixListener::bind(path)?);
        Ok(serve(
            None,
            move || {
                let listener = listener.clone();
                async move { listener.accept().await }
            },
            move |(stream, _)| {
                let (r, w) = stream.into_split();
                handler(StreamReader::new(r), StreamWriter::new(w))
            },
        ))
    })
}

/// After a failed `accept` (e.g. out of file descriptors), wait a moment
/// rather than spin, as asyncio does.
async fn accept_error_pause(e: io::Error) {
    if e.kind() != io::ErrorKind::ConnectionAborted {
        eprintln!("loop: accept failed: {e}; retrying in 100 ms");
        loop_exec::sleep(std::time::Duration::from_millis(100)).await;
    }
}
