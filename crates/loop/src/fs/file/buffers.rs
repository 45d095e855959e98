//! A File's buffers: bytes read ahead of the caller and bytes written
//! behind it, and the polls that move them through the File's one job.

use std::future::{poll_fn, Future as _};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::job::{seek_back, Call, Done, Op, Out};
use super::{error, File};
use crate::BlockingJob;

/// The first read of a file asks the OS for this much (or the caller's
/// buffer, if larger)...
const MIN_BLOCK: usize = 64 * 1024;
/// ...and each further sequential read twice as much, up to this. Writes
/// are handed to the OS in blocks of up to this size too. Larger blocks
/// mean fewer hops, but a block the caller copies out of should stay in
/// the CPU's cache: on the benchmark machine, reading 100 MiB through an
/// 8 KiB buffer took 146-188 µs/MiB with 256 KiB blocks and 219-228 with
/// 1 MiB ones (a hop costs about 2 µs once the pool thread is awake).
const MAX_BLOCK: usize = 256 * 1024;
/// Sequential reads in a row after which the next block is read ahead
/// while the caller consumes this one.
const READ_AHEAD_AFTER: u32 = 2;

/// The buffers and the one job of a File.
pub(super) struct Io {
    /// Bytes read ahead of the caller's position, not yet returned.
    ahead: Chunk,
    /// A second block read ahead while `ahead` was being consumed.
    queued: Option<Chunk>,
    /// Bytes written by the caller, not yet handed to a job.
    pub(super) behind: Vec<u8>,
    /// The job running, and what it does.
    pub(super) job: Option<(Op, BlockingJob<Done>)>,
    /// Buffers returned by finished jobs, for the next ones.
    spare: Vec<Vec<u8>>,
    /// Bytes the OS's cursor is ahead of the caller's position, for read
    /// ahead that was dropped; the next positioned job seeks back first.
    pub(super) rewind: u64,
    /// The size of the next read.
    block: usize,
    /// Reads in a row since the last seek or write.
    streak: u32,
    /// The last read reached the end: the next read returns 0 without a
    /// hop (once: a file can grow).
    eof: bool,
    /// Whether the file is a regular one (reads fill their block and find
    /// the end; read-ahead can be undone by seeking); `None` until known.
    pub(super) regular: Option<bool>,
    /// A write-behind job's error, for the next operation.
    pub(super) error: Option<io::Error>,
}

/// Bytes and how many of them were consumed.
#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    pos: usize,
}

impl Chunk {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

impl File {
    /// Runs `call` as this File's job, after its buffered writes.
    pub(super) async fn call(&mut self, call: Call) -> io::Result<Out> {
        poll_fn(|cx| self.poll_call(cx, &call)).await
    }

    fn poll_call(&mut self, cx: &mut Context<'_>, call: &Call) -> Poll<io::Result<Out>> {
        loop {
            if let Some((op, _)) = &self.io.job {
                let mine = *op == Op::Call(call.clone());
                match ready!(self.poll_job(cx)) {
                    Done::Call(result) if mine => return Poll::Ready(result),
                    done => self.apply(done),
                }
                continue;
            }
            if let Some(e) = self.io.error.take() {
                return Poll::Ready(Err(e));
            }
            if !self.io.behind.is_empty() {
                self.start_write();
                continue;
            }
            self.drop_read_ahead();
            let rewind = std::mem::take(&mut self.io.rewind);
            let path = self.path.clone();
            let op = call.clone();
            let verb = call_op(&op);
            let job = self.shared.submit(self.path.clone(), move |file| {
                let run = || -> io::Result<Out> {
                    seek_back(file, rewind)?;
                    Ok(match op {
                        Call::Seek(pos) => Out::Position((&mut &*file).seek(pos)?),
                        Call::SyncAll => file.sync_all().map(|()| Out::Unit)?,
                        Call::SyncData => file.sync_data().map(|()| Out::Unit)?,
                        Call::SetLen(size) => file.set_len(size).map(|()| Out::Unit)?,
                        Call::SetPermissions(permissions) => file.set_permissions(permissions).map(|()| Out::Unit)?,
                        Call::TryClone => Out::File(file.try_clone()?),
                        Call::Rewind => Out::Unit,
                    })
                };
                Done::Call(run().map_err(|e| error::at_maybe(verb, path.as_deref(), e)))
            });
            self.io.job = Some((Op::Call(call.clone()), job));
        }
    }

    /// Polls the running job; on completion it is taken.
    fn poll_job(&mut self, cx: &mut Context<'_>) -> Poll<Done> {
        let (_, job) = self.io.job.as_mut().expect("poll_job with a job running");
        let done = ready!(Pin::new(job).poll(cx));
        self.io.job = None;
        Poll::Ready(done)
    }

    /// Takes a finished job's result into the buffers.
    fn apply(&mut self, done: Done) {
        match done {
            Done::Read { data, eof, regular, result } => {
                self.io.regular = Some(regular);
                self.io.eof = eof;
                if let Err(e) = result {
                    if data.is_empty() {
                        self.io.error = Some(e);
                    }
                    // With bytes read, the error is left for the OS to
                    // report again on the next read.
                }
                let chunk = Chunk { data, pos: 0 };
                if self.io.ahead.remaining() == 0 {
                    let old = std::mem::replace(&mut self.io.ahead, chunk);
                    self.io.recycle(old.data);
                } else {
                    self.io.queued = Some(chunk);
                }
                // The read paths start the next block (`read_ahead`), not
                // this: a write, seek or flush waiting for this read would
                // otherwise wait for the next, and the next, to the end.
            }
            Done::Write { buf, result } => {
                self.io.recycle(buf);
                if let Err(e) = result {
                    self.io.error.get_or_insert(e);
                }
            }
            // A seek or call whose caller went away: it happened, and its
            // error is the next operation's.
            Done::Call(result) => {
                if let Err(e) = result {
                    self.io.error.get_or_insert(e);
                }
            }
        }
    }

    /// Drops the bytes read ahead, owing the OS a seek back over them
    /// (regular files; a pipe's cannot be undone, so they stay to be read).
    fn drop_read_ahead(&mut self) {
        if self.io.regular != Some(true) {
            return;
        }
        let unread = self.io.unread();
        self.io.rewind += unread as u64;
        let ahead = std::mem::take(&mut self.io.ahead);
        self.io.recycle(ahead.data);
        if let Some(queued) = self.io.queued.take() {
            self.io.recycle(queued.data);
        }
        self.io.eof = false;
        self.io.streak = 0;
        self.io.block = MIN_BLOCK;
    }

    /// Starts a job writing the buffered bytes, after seeking back over
    /// dropped read-ahead.
    fn start_write(&mut self) {
        let mut spare = self.io.spare.pop().unwrap_or_default();
        spare.clear();
        let buf = std::mem::replace(&mut self.io.behind, spare);
        let rewind = std::mem::take(&mut self.io.rewind);
        let path = self.path.clone();
        let job = self.shared.submit(self.path.clone(), move |mut file| {
            let result = seek_back(file, rewind)
                .and_then(|()| file.write_all(&buf))
                .map_err(|e| error::at_maybe("cannot write", path.as_deref(), e));
            let mut buf = buf;
            buf.clear();
            Done::Write { buf, result }
        });
        self.io.job = Some((Op::Write, job));
    }

    /// Starts a job reading the next block (after any rewind owed).
    fn start_read(&mut self, want: usize) {
        let want = want.clamp(self.io.block, MAX_BLOCK);
        let mut data = self.io.spare.pop().unwrap_or_default();
        let rewind = std::mem::take(&mut self.io.rewind);
        let known = self.io.regular;
        let path = self.path.clone();
        let job = self.shared.submit(self.path.clone(), move |mut file| {
            let regular = known.unwrap_or_else(|| file.metadata().is_ok_and(|m| m.is_file()));
            if data.len() < want {
                data.resize(want, 0);
            } else {
                data.truncate(want);
            }
            let (mut filled, mut eof) = (0, false);
            let mut result = seek_back(file, rewind);
            while result.is_ok() {
                match file.read(&mut data[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        // A regular file's short read means its end, which
                        // the next read (in this hop) confirms; a pipe's
                        // means that is all there is for now.
                        if filled == want || !regular {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => result = Err(e),
                }
            }
            data.truncate(filled);
            let result = result.map_err(|e| error::at_maybe("cannot read", path.as_deref(), e));
            Done::Read { data, eof, regular, result }
        });
        self.io.job = Some((Op::Read, job));
        self.io.streak = self.io.streak.saturating_add(1);
        self.io.block = (self.io.block * 2).min(MAX_BLOCK);
    }

    /// Copies read-ahead bytes into `buf`, starting the next block's read
    /// when reading looks sequential.
    fn take_ahead(&mut self, buf: &mut [u8]) -> usize {
        // The next block is read while this one is copied out.
        self.read_ahead();
        let n = self.io.ahead.remaining().min(buf.len());
        let at = self.io.ahead.pos;
        buf[..n].copy_from_slice(&self.io.ahead.data[at..at + n]);
        self.io.ahead.pos += n;
        self.after_take();
        n
    }

    /// After bytes were taken: the queued block moves up, and the next is
    /// read ahead if the reads look sequential.
    fn after_take(&mut self) {
        if self.io.ahead.remaining() == 0 {
            if let Some(queued) = self.io.queued.take() {
                let old = std::mem::replace(&mut self.io.ahead, queued);
                self.io.recycle(old.data);
            }
        }
        self.read_ahead();
    }

    /// Starts reading the next block while the caller consumes this one,
    /// when the reads look sequential and nothing else is pending: one
    /// block in the caller's hands, one on its way.
    fn read_ahead(&mut self) {
        let read_ahead = self.io.job.is_none()
            && self.io.queued.is_none()
            && !self.io.eof
            && self.io.error.is_none()
            && self.io.behind.is_empty()
            && self.io.streak >= READ_AHEAD_AFTER;
        if read_ahead {
            self.start_read(0);
        }
    }

    pub(super) fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if self.io.ahead.remaining() > 0 {
                return Poll::Ready(Ok(self.take_ahead(buf)));
            }
            if let Some(end) = ready!(self.poll_refill(cx, buf.len(), false)) {
                return Poll::Ready(end);
            }
        }
    }

    /// A read's wait when nothing is read ahead: the error or end of file
    /// to report (`Some`), else one step towards more bytes (`None`: look
    /// again): the running job's end, the pending writes, or a read of
    /// `want` bytes (`to_end`: a read-ahead block, reading to the end).
    fn poll_refill(&mut self, cx: &mut Context<'_>, want: usize, to_end: bool) -> Poll<Option<io::Result<usize>>> {
        if let Some(e) = self.io.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        if self.io.eof && self.io.job.is_none() {
            self.io.eof = false;
            return Poll::Ready(Some(Ok(0)));
        }
        if self.io.job.is_some() {
            let done = ready!(self.poll_job(cx));
            self.apply(done);
        } else if !self.io.behind.is_empty() {
            self.start_write();
        } else if to_end {
            // Reading to the end: read ahead from the start.
            self.io.streak = self.io.streak.max(READ_AHEAD_AFTER);
            self.start_read(0);
        } else {
            self.start_read(want);
        }
        Poll::Ready(None)
    }

    /// `read_to_end`'s step: appends whole read-ahead blocks.
    pub(super) fn poll_append(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<io::Result<usize>> {
        loop {
            let n = self.io.ahead.remaining();
            if n > 0 {
                self.read_ahead();
                out.extend_from_slice(&self.io.ahead.data[self.io.ahead.pos..]);
                self.io.ahead.pos += n;
                self.after_take();
                return Poll::Ready(Ok(n));
            }
            if let Some(end) = ready!(self.poll_refill(cx, 0, true)) {
                return Poll::Ready(end);
            }
        }
    }

    pub(super) fn poll_write_buf(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(e) = self.io.error.take() {
                return Poll::Ready(Err(e));
            }
            let reading = matches!(self.io.job, Some((Op::Read, _)));
            if reading || (self.io.job.is_some() && self.io.behind.len() >= MAX_BLOCK) {
                // Read-ahead must land before it can be undone; a full
                // buffer waits for the block being written.
                let done = ready!(self.poll_job(cx));
                self.apply(done);
                continue;
            }
            if self.io.unread() > 0 {
                self.drop_read_ahead();
            }
            if self.io.behind.len() >= MAX_BLOCK {
                self.start_write();
                continue;
            }
            let n = buf.len().min(MAX_BLOCK - self.io.behind.len());
            self.io.behind.extend_from_slice(&buf[..n]);
            self.io.streak = 0;
            if self.io.job.is_none() {
                // Write behind at once: the bytes reach the OS while the
                // caller goes on, and what it writes meanwhile joins the
                // next block.
                self.start_write();
            }
            return Poll::Ready(Ok(n));
        }
    }

    pub(super) fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.io.job.is_some() {
                let done = ready!(self.poll_job(cx));
                self.apply(done);
            } else if !self.io.behind.is_empty() {
                self.start_write();
            } else {
                return Poll::Ready(self.io.error.take().map_or(Ok(()), Err));
            }
        }
    }

    pub(super) fn poll_seek_to(&mut self, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        self.poll_call(cx, &Call::Seek(pos)).map_ok(|out| match out {
            Out::Position(position) => position,
            _ => unreachable!("a seek gives a position"),
        })
    }
}

/// The message's verb for a [`Call`].
fn call_op(call: &Call) -> &'static str {
    match call {
        Call::SyncAll | Call::SyncData => "cannot sync",
        Call::SetLen(_) => "cannot set the length of",
        Call::SetPermissions(_) => "cannot set permissions of",
        Call::TryClone => "cannot clone the handle of",
        Call::Rewind | Call::Seek(_) => "cannot seek in",
    }
}

impl Io {
    /// Empty buffers, the first read at the smallest block.
    pub(super) fn new() -> Io {
        Io {
            ahead: Chunk::default(),
            queued: None,
            behind: Vec::new(),
            job: None,
            spare: Vec::new(),
            rewind: 0,
            block: MIN_BLOCK,
            streak: 0,
            eof: false,
            regular: None,
            error: None,
        }
    }

    /// Bytes read ahead and not yet returned.
    pub(super) fn unread(&self) -> usize {
        self.ahead.remaining() + self.queued.as_ref().map_or(0, Chunk::remaining)
    }

    /// Keeps a buffer for the next job (two at most), its length kept:
    /// a read job then zeroes only what it has not zeroed before.
    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.capacity() > 0 && self.spare.len() < 2 {
            self.spare.push(buf);
        }
    }
}
