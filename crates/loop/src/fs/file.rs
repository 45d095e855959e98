//! `File`: an open file whose reads and writes run on the blocking pool,
//! reading ahead and writing behind in large blocks.
//!
//! One job at most runs for a file at a time, so its operations reach the
//! OS in the order they were made. The OS's cursor can be ahead of the
//! user's position by the bytes read ahead (`Io::unread`); an operation
//! that depends on the position (a write, a seek, `set_len`...) first
//! moves the cursor back by that much, inside its own job (`rewind`).

use std::future::poll_fn;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};
use loop_sync::__locks::BlockingMutex;

use super::error;
use super::OpenOptions;
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

/// An open file (tokio's `fs::File`): futures-io's [`AsyncRead`],
/// [`AsyncWrite`] and [`AsyncSeek`], and the same operations as async
/// methods.
///
/// **Fewer pool hops.** Reads are served from a read-ahead buffer filled
/// 64 KiB at first, then in doubling blocks up to 256 KiB, the next block
/// read while the current one is consumed; writes are buffered and handed
/// to the OS one block at a time, the next block filling while the last
/// is written.
///
/// **Writes and errors.** A write returns once its bytes are in the
/// File's buffer. They reach the OS in order, before any later read, seek
/// or `set_len`, and before [`flush`](File::flush) (or `close`, which is
/// `flush`) returns. An error of a write made behind your back is returned
/// by the next operation. A File dropped with bytes still buffered writes
/// them on the pool anyway; an error then can only be printed to stderr,
/// so call `flush` (or [`sync_all`](File::sync_all) for durability) to see
/// it.
///
/// **Cancellation.** Dropping a read future loses nothing: the block being
/// read lands in the buffer and the next read returns it. A write future
/// dropped before it returned accepted nothing. A seek or `set_len`
/// dropped mid-way may still happen (a thread cannot be interrupted); the
/// next operation runs after it. The position is never silently wrong.
///
/// ```
/// use r#loop as aio;
/// use aio::fs::File;
///
/// # let path = std::env::temp_dir().join(format!("loop-fs-file-doc-{}", std::process::id()));
/// aio::run(async {
///     let mut file = File::create(&path).await?;
///     for line in 0..1000 {
///         file.write_all(format!("line {line}\n").as_bytes()).await?; // buffered
///     }
///     file.flush().await?; // written, and any error seen
///
///     let mut file = File::open(&path).await?;
///     let mut text = String::new();
///     file.read_to_string(&mut text).await?;
///     assert_eq!(text.lines().count(), 1000);
///     # aio::fs::remove_file(&path).await?;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    shared: Arc<Shared>,
    path: Option<Arc<Path>>,
    io: Io,
}

/// What a File's jobs share with it.
struct Shared {
    file: std::fs::File,
    /// Bytes a dropped File left unwritten while one of its jobs ran; that
    /// job writes them when it ends (so they follow it).
    orphan: BlockingMutex<Orphan>,
}

#[derive(Default)]
struct Orphan {
    /// A job of this file was submitted and has not ended.
    job_running: bool,
    /// What the dropped File left: the rewind owed, the bytes.
    tail: Option<(u64, Vec<u8>)>,
    /// The File is gone: a job's write error has no one to return it to.
    dropped: bool,
}

/// The buffers and the one job of a File.
struct Io {
    /// Bytes read ahead of the caller's position, not yet returned.
    ahead: Chunk,
    /// A second block read ahead while `ahead` was being consumed.
    queued: Option<Chunk>,
    /// Bytes written by the caller, not yet handed to a job.
    behind: Vec<u8>,
    /// The job running, and what it does.
    job: Option<(Op, BlockingJob<Done>)>,
    /// Buffers returned by finished jobs, for the next ones.
    spare: Vec<Vec<u8>>,
    /// Bytes the OS's cursor is ahead of the caller's position, for read
    /// ahead that was dropped; the next positioned job seeks back first.
    rewind: u64,
    /// The size of the next read.
    block: usize,
    /// Reads in a row since the last seek or write.
    streak: u32,
    /// The last read reached the end: the next read returns 0 without a
    /// hop (once: a file can grow).
    eof: bool,
    /// Whether the file is a regular one (reads fill their block and find
    /// the end; read-ahead can be undone by seeking); `None` until known.
    regular: Option<bool>,
    /// A write-behind job's error, for the next operation.
    error: Option<io::Error>,
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

/// What a File's job does.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    Read,
    Write,
    Call(Call),
}

/// The File's other operations, run as its job so that they are ordered
/// with its reads and writes.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Seek(SeekFrom),
    SyncAll,
    SyncData,
    SetLen(u64),
    SetPermissions(std::fs::Permissions),
    TryClone,
    Rewind,
}

/// What a job gives back.
enum Done {
    Read { data: Vec<u8>, eof: bool, regular: bool, result: io::Result<()> },
    Write { buf: Vec<u8>, result: io::Result<()> },
    Call(io::Result<Out>),
}

/// The result of a [`Call`].
enum Out {
    Unit,
    Position(u64),
    File(std::fs::File),
}

/// Moves `file`'s cursor back by `rewind` bytes.
fn seek_back(mut file: &std::fs::File, rewind: u64) -> io::Result<()> {
    if rewind > 0 {
        let back = i64::try_from(rewind).map_err(|_| io::Error::other("read-ahead larger than i64::MAX"))?;
        file.seek(SeekFrom::Current(-back))?;
    }
    Ok(())
}

impl Shared {
    /// Runs `work` on the pool, marking a job of this file as running
    /// until it ends; an orphaned tail left meanwhile is written after it.
    fn submit<F>(self: &Arc<Shared>, path: Option<Arc<Path>>, work: F) -> BlockingJob<Done>
    where
        F: FnOnce(&std::fs::File) -> Done + Send + 'static,
    {
        self.orphan.lock().job_running = true;
        let job = Job { shared: self.clone(), path, work: Some(work) };
        crate::unblock(move || job.run())
    }
}

/// A File's job on the pool. If the pool drops it unrun (it shuts down
/// with the loop), it runs where it is dropped: a write the caller was
/// told was taken is never lost.
struct Job<F: FnOnce(&std::fs::File) -> Done> {
    shared: Arc<Shared>,
    path: Option<Arc<Path>>,
    work: Option<F>,
}

impl<F: FnOnce(&std::fs::File) -> Done> Job<F> {
    fn run(mut self) -> Done {
        let work = self.work.take().expect("a job runs once");
        let done = work(&self.shared.file);
        self.finish(&done, false);
        done
    }

    /// After the work: the job is no longer running, a dropped File's
    /// tail is written, and a write error with no File to return it to is
    /// printed.
    fn finish(&self, done: &Done, unawaited: bool) {
        let (tail, dropped) = {
            let mut orphan = self.shared.orphan.lock();
            orphan.job_running = false;
            (orphan.tail.take(), orphan.dropped)
        };
        if let (true, Done::Write { result: Err(e), .. }) = (dropped || unawaited, done) {
            eprintln!(
                "loop::fs::File: a write made before the File was dropped failed: {e} \
                 (flush the File before dropping it to get this error)"
            );
        }
        if let Some((rewind, bytes)) = tail {
            write_orphan(&self.shared.file, self.path.as_deref(), rewind, &bytes);
        }
    }
}

impl<F: FnOnce(&std::fs::File) -> Done> Drop for Job<F> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            let done = work(&self.shared.file);
            self.finish(&done, true);
        }
    }
}

/// Writes what a dropped File left; the error has nowhere to go but
/// stderr.
fn write_orphan(mut file: &std::fs::File, path: Option<&Path>, rewind: u64, bytes: &[u8]) {
    if let Err(e) = seek_back(file, rewind).and_then(|()| file.write_all(bytes)) {
        let what = path.map_or_else(|| "a file".to_string(), |p| format!("`{}`", p.display()));
        eprintln!(
            "loop::fs::File: writing the last {} bytes of {what}, buffered when the File was dropped, failed: {e} \
             (flush the File before dropping it to get this error)",
            bytes.len()
        );
    }
}

impl File {
    /// Opens the file at `path` for reading.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(path.as_ref().to_owned(), |p| std::fs::File::open(p)).await
    }

    /// Creates the file at `path` for writing, truncating it if it exists.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(path.as_ref().to_owned(), |p| std::fs::File::create(p)).await
    }

    /// Creates a new file at `path` for reading and writing; fails with
    /// `AlreadyExists` if it exists.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(path.as_ref().to_owned(), |p| std::fs::File::create_new(p)).await
    }

    /// Options to open a file with ([`OpenOptions::new`]).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Opens with `open` on the pool, and finds out in the same hop
    /// whether the file is a regular one.
    pub(super) async fn open_with<F>(path: PathBuf, open: F) -> io::Result<File>
    where
        F: FnOnce(&Path) -> io::Result<std::fs::File> + Send + 'static,
    {
        let path: Arc<Path> = path.into();
        let at = path.clone();
        let (file, regular) = crate::unblock(move || {
            let file = open(&at).map_err(|e| error::at("cannot open", &at, e))?;
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            Ok::<_, io::Error>((file, regular))
        })
        .await?;
        let mut file = File::new(file, Some(path));
        file.io.regular = Some(regular);
        Ok(file)
    }

    fn new(file: std::fs::File, path: Option<Arc<Path>>) -> File {
        File {
            shared: Arc::new(Shared { file, orphan: BlockingMutex::new(Orphan::default()) }),
            path,
            io: Io {
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
            },
        }
    }

    /// A File for an open std file, at its current position. Error
    /// messages then name no path.
    pub fn from_std(file: std::fs::File) -> File {
        File::new(file, None)
    }

    /// The std file, once every buffered write is written (and its error,
    /// if any, returned) and the cursor is back at this File's position.
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        self.call(Call::Rewind).await?;
        self.try_into_std().map_err(|file| {
            io::Error::other(format!(
                "loop::fs::File::into_std: {} bytes read ahead from a pipe would be lost; read them first",
                file.io.unread()
            ))
        })
    }

    /// The std file, if nothing is buffered or running (else the File
    /// back): no write pending, no read-ahead.
    #[allow(clippy::result_large_err)] // the File back, as std's `into_inner`-style APIs do
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        let idle = self.io.job.is_none()
            && self.io.behind.is_empty()
            && self.io.unread() == 0
            && self.io.rewind == 0
            && self.io.error.is_none()
            && Arc::strong_count(&self.shared) == 1;
        if !idle {
            return Err(self);
        }
        let shared = self.shared.clone();
        // With nothing buffered, dropping the File does nothing but let go
        // of its `Arc`, leaving ours the only one (no job holds one).
        drop(self);
        match Arc::try_unwrap(shared) {
            Ok(shared) => Ok(shared.file),
            Err(_) => unreachable!("an idle File's jobs hold no reference to it"),
        }
    }

    /// The path this File was opened with (`None` for
    /// [`from_std`](File::from_std)).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Writes what is buffered, then has the OS write the file's data and
    /// metadata to the device (`fsync`).
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.call(Call::SyncAll).await.map(drop)
    }

    /// Like [`sync_all`](File::sync_all), without metadata the data does
    /// not need (`fdatasync`).
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.call(Call::SyncData).await.map(drop)
    }

    /// Truncates or extends the file to `size` bytes (the position does
    /// not move).
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.call(Call::SetLen(size)).await.map(drop)
    }

    /// The file's metadata, once buffered writes are written.
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        // `&self` (tokio's signature): the buffered bytes cannot be
        // written from here, so the size may not count them yet.
        let shared = self.shared.clone();
        let path = self.path.clone();
        crate::unblock(move || shared.file.metadata().map_err(|e| error::at_maybe("cannot stat", path.as_deref(), e)))
            .await
    }

    /// Sets the file's permissions.
    pub async fn set_permissions(&mut self, permissions: std::fs::Permissions) -> io::Result<()> {
        self.call(Call::SetPermissions(permissions)).await.map(drop)
    }

    /// A second File for the same open file (the OS shares the cursor):
    /// buffered writes are written first.
    pub async fn try_clone(&mut self) -> io::Result<File> {
        match self.call(Call::TryClone).await? {
            Out::File(file) => {
                let mut clone = File::new(file, self.path.clone());
                clone.io.regular = self.io.regular;
                Ok(clone)
            }
            _ => unreachable!("TryClone gives a file"),
        }
    }

    /// Reads into `buf`; the bytes read, 0 at the end of the file.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_buf(cx, buf)).await
    }

    /// Fills `buf` exactly; `UnexpectedEof` if the file ends first (the
    /// bytes read are consumed).
    pub async fn read_exact(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Appends the rest of the file to `buf`; the bytes read.
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let start = buf.len();
        loop {
            // Take whole read-ahead blocks at once.
            let n = poll_fn(|cx| self.poll_append(cx, buf)).await?;
            if n == 0 {
                return Ok(buf.len() - start);
            }
        }
    }

    /// Appends the rest of the file to `buf` as UTF-8; `InvalidData` (and
    /// `buf` unchanged) if it is not.
    pub async fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        self.read_to_end(&mut bytes).await?;
        let text = String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        buf.push_str(&text);
        Ok(text.len())
    }

    /// Buffers `buf` (or as much of it as fits); the bytes taken.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_buf(cx, buf)).await
    }

    /// Buffers all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Writes everything buffered, and returns the error of any write
    /// made behind your back.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush_io(cx)).await
    }

    /// Moves the position (buffered writes are written first, read-ahead
    /// dropped); the new position from the start.
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        poll_fn(|cx| self.poll_seek_to(cx, pos)).await
    }

    /// The position from the start of the file.
    pub async fn stream_position(&mut self) -> io::Result<u64> {
        self.seek(SeekFrom::Current(0)).await
    }

    /// Runs `call` as this File's job, after its buffered writes.
    async fn call(&mut self, call: Call) -> io::Result<Out> {
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

    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if self.io.ahead.remaining() > 0 {
                return Poll::Ready(Ok(self.take_ahead(buf)));
            }
            if let Some(e) = self.io.error.take() {
                return Poll::Ready(Err(e));
            }
            if self.io.eof && self.io.job.is_none() {
                self.io.eof = false;
                return Poll::Ready(Ok(0));
            }
            if self.io.job.is_some() {
                let done = ready!(self.poll_job(cx));
                self.apply(done);
            } else if !self.io.behind.is_empty() {
                self.start_write();
            } else {
                self.start_read(buf.len());
            }
        }
    }

    /// `read_to_end`'s step: appends whole read-ahead blocks.
    fn poll_append(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<io::Result<usize>> {
        loop {
            let n = self.io.ahead.remaining();
            if n > 0 {
                self.read_ahead();
                out.extend_from_slice(&self.io.ahead.data[self.io.ahead.pos..]);
                self.io.ahead.pos += n;
                self.after_take();
                return Poll::Ready(Ok(n));
            }
            if let Some(e) = self.io.error.take() {
                return Poll::Ready(Err(e));
            }
            if self.io.eof && self.io.job.is_none() {
                self.io.eof = false;
                return Poll::Ready(Ok(0));
            }
            if self.io.job.is_some() {
                let done = ready!(self.poll_job(cx));
                self.apply(done);
            } else if !self.io.behind.is_empty() {
                self.start_write();
            } else {
                // Reading to the end: read ahead from the start.
                self.io.streak = self.io.streak.max(READ_AHEAD_AFTER);
                self.start_read(0);
            }
        }
    }

    fn poll_write_buf(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
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

    fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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

    fn poll_seek_to(&mut self, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
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
    /// Bytes read ahead and not yet returned.
    fn unread(&self) -> usize {
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

use std::future::Future as _;

impl Drop for File {
    fn drop(&mut self) {
        if let Some(e) = self.io.error.take() {
            eprintln!("loop::fs::File: a write made before the File was dropped failed: {e} (flush the File before dropping it to get this error)");
        }
        let bytes = std::mem::take(&mut self.io.behind);
        let rewind = self.io.rewind;
        {
            let mut orphan = self.shared.orphan.lock();
            orphan.dropped = true;
            if orphan.job_running {
                // That job writes them when it ends, after its own work.
                if !bytes.is_empty() {
                    orphan.tail = Some((rewind, bytes));
                }
                return;
            }
        }
        if bytes.is_empty() {
            return;
        }
        if crate::try_get_running_loop().is_some() {
            let path = self.path.clone();
            let write = move |file: &std::fs::File| {
                let result = seek_back(file, rewind)
                    .and_then(|()| {
                        let mut file = file;
                        file.write_all(&bytes)
                    })
                    .map_err(|e| error::at_maybe("cannot write", path.as_deref(), e));
                Done::Write { buf: Vec::new(), result }
            };
            drop(self.shared.submit(self.path.clone(), write));
        } else {
            let (shared, path) = (&self.shared, &self.path);
            // No loop on this thread to keep from blocking.
            write_orphan(&shared.file, path.as_deref(), rewind, &bytes);
        }
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("file", &self.shared.file)
            .field("read_ahead", &self.io.unread())
            .field("write_behind", &self.io.behind.len())
            .field("busy", &self.io.job.as_ref().map(|(op, _)| op))
            .finish()
    }
}

impl AsyncRead for File {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_buf(cx, buf)
    }
}

impl AsyncWrite for File {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_buf(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_io(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_io(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(self: Pin<&mut Self>, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        self.get_mut().poll_seek_to(cx, pos)
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}
