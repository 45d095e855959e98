//! `File`: an open file whose reads and writes run on the blocking pool,
//! reading ahead and writing behind in large blocks.
//!
//! One job at most runs for a file at a time, so its operations reach the
//! OS in the order they were made. The OS's cursor can be ahead of the
//! user's position by the bytes read ahead (`Io::unread`); an operation
//! that depends on the position (a write, a seek, `set_len`...) first
//! moves the cursor back by that much, inside its own job (`rewind`).
//!
//! The parts: this file holds the File and its public operations;
//! `buffers.rs` the read-ahead and write-behind buffers and the polls that
//! move bytes through them; `job.rs` the one job on the blocking pool, its
//! operations, and what happens to bytes a dropped File left.

mod buffers;
mod job;

use std::future::poll_fn;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use self::buffers::Io;
use self::job::{Call, Out, Shared};
use super::error;
use super::OpenOptions;

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
        File { shared: Arc::new(Shared::new(file)), path, io: Io::new() }
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
