//! `read_dir`: a directory's entries as a `Stream`, read 64 at a time with
//! their metadata, the next batch read while you go through this one.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::future::poll_fn;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::error;
use crate::BlockingJob;

/// Entries read per pool hop.
const BATCH: usize = 64;

/// The entries of the directory at `path`, in the OS's order, without `.`
/// and `..` (tokio's `read_dir`). The directory is opened, and its first
/// 64 entries read, in one pool hop.
///
/// ```
/// use r#loop as aio;
///
/// let names = aio::run(async {
///     let mut entries = aio::fs::read_dir(env!("CARGO_MANIFEST_DIR")).await?;
///     let mut names = Vec::new();
///     while let Some(entry) = entries.next_entry().await? {
///         names.push(entry.file_name().into_string().unwrap());
///     }
///     Ok::<_, std::io::Error>(names)
/// })?;
/// assert!(names.contains(&"Cargo.toml".to_string()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path: Arc<Path> = path.as_ref().into();
    let at = path.clone();
    let (dir, batch) = crate::unblock(move || {
        let mut dir = std::fs::read_dir(&at).map_err(|e| error::at("cannot read directory", &at, e))?;
        let batch = read_batch(&mut dir, &at);
        Ok::<_, io::Error>((dir, batch))
    })
    .await?;
    let mut read_dir = ReadDir { path, entries: VecDeque::new(), state: State::Idle(None) };
    read_dir.take_batch(dir, batch);
    Ok(read_dir)
}

/// The next entries of `dir` (at most [`BATCH`]), each with its metadata;
/// `done` when the directory has no more.
fn read_batch(dir: &mut std::fs::ReadDir, path: &Path) -> Batch {
    let mut entries = Vec::with_capacity(BATCH);
    let mut done = true;
    for next in dir.by_ref() {
        let entry = next.map(|entry| {
            let metadata = entry.metadata().ok();
            let file_type = metadata.as_ref().map(|m| m.file_type()).or_else(|| entry.file_type().ok());
            DirEntry {
                path: entry.path(),
                name: entry.file_name(),
                file_type,
                metadata,
                #[cfg(unix)]
                ino: std::os::unix::fs::DirEntryExt::ino(&entry),
            }
        });
        let failed = entry.is_err();
        entries.push(entry.map_err(|e| error::at("cannot read directory", path, e)));
        if failed {
            break;
        }
        if entries.len() == BATCH {
            done = false;
            break;
        }
    }
    Batch { entries, done }
}

struct Batch {
    entries: Vec<io::Result<DirEntry>>,
    done: bool,
}

enum State {
    /// The directory, when more entries may come; `None` at its end.
    Idle(Option<std::fs::ReadDir>),
    /// Reading the next batch.
    Busy(BlockingJob<(std::fs::ReadDir, Batch)>),
}

/// A directory's entries (from [`read_dir`]): a
/// [`Stream`] of `io::Result<DirEntry>`, or [`next_entry`](ReadDir::next_entry).
/// Dropping it closes the directory (after the batch being read, if any).
pub struct ReadDir {
    path: Arc<Path>,
    entries: VecDeque<io::Result<DirEntry>>,
    state: State,
}

impl ReadDir {
    /// The next entry; `Ok(None)` at the end.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry; `Ok(None)` at the end.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(entry) = self.entries.pop_front() {
                return Poll::Ready(entry.map(Some));
            }
            match &mut self.state {
                State::Idle(None) => return Poll::Ready(Ok(None)),
                State::Idle(dir) => {
                    let dir = dir.take();
                    self.read_next(dir);
                }
                State::Busy(job) => {
                    let (dir, batch) = std::task::ready!(Pin::new(job).poll(cx));
                    self.take_batch(dir, batch);
                }
            }
        }
    }

    /// Queues `batch`'s entries, and starts reading the next batch unless
    /// the directory ended.
    fn take_batch(&mut self, dir: std::fs::ReadDir, batch: Batch) {
        self.entries.extend(batch.entries);
        if batch.done {
            self.state = State::Idle(None);
        } else {
            self.read_next(Some(dir));
        }
    }

    fn read_next(&mut self, dir: Option<std::fs::ReadDir>) {
        self.state = match dir {
            Some(mut dir) => {
                let path = self.path.clone();
                State::Busy(crate::unblock(move || {
                    let batch = read_batch(&mut dir, &path);
                    (dir, batch)
                }))
            }
            None => State::Idle(None),
        };
    }
}

use std::future::Future as _;

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir").field("path", &self.path).field("buffered", &self.entries.len()).finish()
    }
}

/// One entry of a directory, with the metadata read along with it.
#[derive(Debug)]
pub struct DirEntry {
    path: PathBuf,
    name: OsString,
    file_type: Option<FileType>,
    metadata: Option<std::fs::Metadata>,
    #[cfg(unix)]
    ino: u64,
}

use std::fs::FileType;

impl DirEntry {
    /// The entry's full path: the directory's path joined with its name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name, without the directory.
    pub fn file_name(&self) -> OsString {
        self.name.clone()
    }

    /// The entry's metadata, not following a symbolic link (std's
    /// `DirEntry::metadata`). It was read with the entry, so this takes no
    /// pool hop unless that read failed (then it is tried again, and its
    /// error returned).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        match &self.metadata {
            Some(metadata) => Ok(metadata.clone()),
            None => super::symlink_metadata(&self.path).await,
        }
    }

    /// The entry's type (file, directory, symbolic link...), not following
    /// a link; read with the entry.
    pub async fn file_type(&self) -> io::Result<FileType> {
        match self.file_type {
            Some(file_type) => Ok(file_type),
            None => self.metadata().await.map(|m| m.file_type()),
        }
    }

    /// The entry's inode number (Unix).
    #[cfg(unix)]
    #[cfg_attr(docsrs, doc(cfg(unix)))]
    pub fn ino(&self) -> u64 {
        self.ino
    }
}
