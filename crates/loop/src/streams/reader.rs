//! `StreamReader`: buffered reading (asyncio's `StreamReader`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncRead;
use loop_core::OwnedReadHalf;
use loop_exec::WaitSite;
use loop_sync::WaitKind;

use super::{IncompleteReadError, LimitOverrunError, StreamError, DEFAULT_LIMIT};

/// Buffered reading from a stream (asyncio's `StreamReader`).
///
/// Data is read from the socket only when a method needs it, so the buffer
/// never holds more than about twice the limit.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let ours = aio::net::TcpStream::connect(listener.local_addr()?).await?;
///     let (theirs, _) = listener.accept().await?;
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
        assert!(!separator.is_empty(), "readuntil: the separator must not be empty");
        WaitSite::new(Some(WaitKind::Readable), self.read_to_first(vec![separator]))
    }

    /// Reads up to and including the first of several separators (Python
    /// 3.13's `readuntil` with a tuple): the shortest chunk that ends with
    /// any of them; when two end at the same byte, the shorter separator.
    /// Limits and errors as [`readuntil`](StreamReader::readuntil)'s, the
    /// limit counting the bytes before the separator that matched.
    ///
    /// ```
    /// use r#loop as aio;
    /// # aio::run(async {
    /// let mut reader = aio::StreamReader::new(&b"key: value\r\nrest\n"[..]);
    /// let line = reader.readuntil_any(&[b"\n", b"\r\n"]).await.unwrap();
    /// assert_eq!(line, b"key: value\r\n");
    /// assert_eq!(reader.readuntil_any(&[b"\n", b"\r\n"]).await.unwrap(), b"rest\n");
    /// # });
    /// ```
    ///
    /// # Panics
    /// When `separators` is empty or one of them is (asyncio's `ValueError`).
    #[track_caller]
    pub fn readuntil_any<'a>(
        &'a mut self,
        separators: &'a [&'a [u8]],
    ) -> impl Future<Output = Result<Vec<u8>, StreamError>> + use<'a, R> {
        assert!(!separators.is_empty(), "readuntil_any: give at least one separator");
        assert!(separators.iter().all(|s| !s.is_empty()), "readuntil_any: every separator must be at least one byte");
        // Shortest first: of two matches ending at the same byte, the
        // shorter separator wins (asyncio sorts them so).
        let mut sorted = separators.to_vec();
        sorted.sort_by_key(|s| s.len());
        WaitSite::new(Some(WaitKind::Readable), self.read_to_first(sorted))
    }

    /// `readuntil`'s search: up to the match of `separators` (shortest
    /// first) that ends first.
    async fn read_to_first(&mut self, separators: Vec<&[u8]>) -> Result<Vec<u8>, StreamError> {
        let longest = separators.iter().map(|s| s.len()).max().unwrap_or(1);
        // Where the next search starts: no separator begins before.
        let mut searched = 0;
        loop {
            let data = self.data();
            let found = separators
                .iter()
                .filter_map(|sep| Some((searched + find(&data[searched..], sep)?, sep.len())))
                .min_by_key(|&(start, len)| start + len);
            if let Some((start, len)) = found {
                if start > self.limit {
                    return Err(LimitOverrunError {
                        message: "separator is found, but chunk is longer than limit".into(),
                        consumed: start,
                    }
                    .into());
                }
                return Ok(self.take(start + len));
            }
            searched = (data.len() + 1).saturating_sub(longest);
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
