//! Files and directories without blocking the loop: tokio::fs's surface,
//! under the same names.
//!
//! Every operation runs on the loop's blocking pool (the OS has no
//! readiness for files), awaited in the calling task without a task of
//! its own ([`unblock`](crate::unblock)). What makes it cheaper than one
//! pool hop per call:
//! - a [`File`] reads ahead and writes behind in blocks of up to 256 KiB,
//!   so reading 100 MiB through an 8 KiB buffer is about 400 hops, not
//!   12,800, and the next block is read while you consume this one;
//! - a pool thread that finished a job stays awake a moment for the next,
//!   and the loop watches for the result a moment before sleeping, so a
//!   hop costs about 2 µs where a sleeping thread's wake-up costs 35;
//! - [`read_dir`] reads entries 64 at a time, each with its metadata, so
//!   [`DirEntry::metadata`] and [`DirEntry::file_type`] need no hop;
//! - a regular file's end is found in the same hop as its last bytes.
//!
//! Errors are [`io::Error`]s of the OS's kind whose message names the
//! operation and the path (a [`PathError`] inside), where std's name
//! neither.
//!
//! ```
//! use r#loop as aio;
//!
//! # let dir = std::env::temp_dir().join(format!("loop-fs-doc-{}", std::process::id()));
//! aio::run(async {
//!     aio::fs::create_dir_all(&dir).await?;
//!     aio::fs::write(dir.join("hello.txt"), "hello, files").await?;
//!     assert_eq!(aio::fs::read_to_string(dir.join("hello.txt")).await?, "hello, files");
//!     let mut entries = aio::fs::read_dir(&dir).await?;
//!     while let Some(entry) = entries.next_entry().await? {
//!         assert_eq!(entry.file_name(), "hello.txt");
//!         assert_eq!(entry.metadata().await?.len(), 12);
//!     }
//!     aio::fs::remove_dir_all(&dir).await
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod error;
mod file;
mod open_options;
mod read_dir;

pub use error::PathError;
pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{read_dir, DirEntry, ReadDir};
pub use std::fs::{FileType, Metadata, Permissions};

use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on the pool with an owned copy of `path`; its error names
/// `op` and the path.
async fn on_path<T, F>(op: &'static str, path: &Path, f: F) -> io::Result<T>
where
    F: FnOnce(&Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.to_owned();
    crate::unblock(move || f(&path).map_err(|e| error::at(op, &path, e))).await
}

/// The same for an operation from one path to another.
async fn between_paths<T, F>(op: &'static str, from: &Path, to: &Path, f: F) -> io::Result<T>
where
    F: FnOnce(&Path, &Path) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (from, to) = (from.to_owned(), to.to_owned());
    crate::unblock(move || f(&from, &to).map_err(|e| error::between(op, &from, &to, e))).await
}

/// The whole file at `path` (std's [`fs::read`](std::fs::read)), in one
/// pool hop.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    on_path("cannot read", path.as_ref(), |p| std::fs::read(p)).await
}

/// The whole file at `path` as UTF-8 text; `InvalidData` if it is not.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    on_path("cannot read", path.as_ref(), |p| std::fs::read_to_string(p)).await
}

/// Creates or truncates the file at `path` and writes `contents` to it
/// (std's [`fs::write`](std::fs::write)); `contents` is copied first.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_owned();
    on_path("cannot write", path.as_ref(), move |p| std::fs::write(p, contents)).await
}

/// Copies the file `from` to `to` with its permissions, and returns the
/// bytes copied (std's [`fs::copy`](std::fs::copy), which uses the OS's
/// in-kernel copy where it has one).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    between_paths("cannot copy", from.as_ref(), to.as_ref(), |f, t| std::fs::copy(f, t)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    between_paths("cannot rename", from.as_ref(), to.as_ref(), |f, t| std::fs::rename(f, t)).await
}

/// Makes `link` a hard link to the file `original`.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    between_paths("cannot hard-link", original.as_ref(), link.as_ref(), |o, l| std::fs::hard_link(o, l)).await
}

/// Makes `link` a symbolic link to `original` (Unix).
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    between_paths("cannot symlink", original.as_ref(), link.as_ref(), |o, l| std::os::unix::fs::symlink(o, l)).await
}

/// Removes the file (or symbolic link) at `path`.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_path("cannot remove file", path.as_ref(), |p| std::fs::remove_file(p)).await
}

/// Removes the empty directory at `path`.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path("cannot remove directory", path.as_ref(), |p| std::fs::remove_dir(p)).await
}

/// Removes the directory at `path` and everything in it, in one pool
/// hop.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path("cannot remove directory", path.as_ref(), |p| std::fs::remove_dir_all(p)).await
}

/// Creates the directory `path`; its parent must exist.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    on_path("cannot create directory", path.as_ref(), |p| std::fs::create_dir(p)).await
}

/// Creates the directory `path` and any missing parents; no error if it
/// exists.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_path("cannot create directory", path.as_ref(), |p| std::fs::create_dir_all(p)).await
}

/// The metadata of `path`, following symbolic links.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path("cannot stat", path.as_ref(), |p| std::fs::metadata(p)).await
}

/// The metadata of `path` itself, not following a symbolic link.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    on_path("cannot stat", path.as_ref(), |p| std::fs::symlink_metadata(p)).await
}

/// The absolute path of `path`, with links and `..` resolved.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path("cannot canonicalize", path.as_ref(), |p| std::fs::canonicalize(p)).await
}

/// Where the symbolic link at `path` points.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    on_path("cannot read link", path.as_ref(), |p| std::fs::read_link(p)).await
}

/// Sets the permissions of `path`.
pub async fn set_permissions(path: impl AsRef<Path>, permissions: Permissions) -> io::Result<()> {
    on_path("cannot set permissions of", path.as_ref(), move |p| std::fs::set_permissions(p, permissions)).await
}

/// Whether `path` exists: `Ok(false)` when it does not, an error when
/// that cannot be known (a directory on the way is unreadable, say),
/// unlike [`Path::exists`], which says `false` then.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    on_path("cannot check", path.as_ref(), |p| p.try_exists()).await
}
