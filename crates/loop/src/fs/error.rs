//! `PathError`: an I/O error that names the operation and the path, where
//! std's own errors name neither (`No such file or directory (os error 2)`
//! with no file).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What a `loop::fs` operation was doing, and on which path(s), when the
/// OS refused it. It travels inside the returned [`io::Error`] (whose
/// [`kind`](io::Error::kind) is the OS error's), so `?` keeps working and
/// the message reads, for example,
/// ``cannot open `/etc/app.toml`: No such file or directory (os error 2)``.
///
/// ```
/// use r#loop as aio;
///
/// let err = aio::run(aio::fs::read("/no/such/file")).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert!(err.to_string().starts_with("cannot read `/no/such/file`: "), "{err}");
/// let detail = err.get_ref().and_then(|e| e.downcast_ref::<aio::fs::PathError>()).unwrap();
/// assert_eq!(detail.path(), std::path::Path::new("/no/such/file"));
/// assert!(detail.os_error().raw_os_error().is_some()); // ENOENT; on Windows ERROR_PATH_NOT_FOUND
/// ```
#[derive(Debug)]
pub struct PathError {
    op: &'static str,
    path: PathBuf,
    to: Option<PathBuf>,
    source: io::Error,
}

impl PathError {
    /// The operation, as in the message: `"cannot open"`, `"cannot read"`...
    pub fn operation(&self) -> &'static str {
        self.op
    }

    /// The path the operation was on (for `copy`, `rename` and
    /// `hard_link`, the source).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The destination of `copy`, `rename` and `hard_link`.
    pub fn destination(&self) -> Option<&Path> {
        self.to.as_deref()
    }

    /// The OS's error as std returned it (with its
    /// [`raw_os_error`](io::Error::raw_os_error)).
    pub fn os_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.op, self.path.display())?;
        if let Some(to) = &self.to {
            write!(f, " to `{}`", to.display())?;
        }
        // The OS's message is part of this one (not a `source()`), so
        // that printing the error alone says everything, and error
        // reporters that walk sources do not print it twice.
        write!(f, ": {}", self.source)
    }
}

impl std::error::Error for PathError {}

/// `e`, with the operation and path in its message; its kind kept.
pub(crate) fn at(op: &'static str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), PathError { op, path: path.to_owned(), to: None, source: e })
}

/// `e`, with the operation, its source and destination in its message.
pub(crate) fn between(op: &'static str, from: &Path, to: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), PathError { op, path: from.to_owned(), to: Some(to.to_owned()), source: e })
}

/// `e`, with `path` when the file has one (a `File` made by `from_std`
/// has none).
pub(crate) fn at_maybe(op: &'static str, path: Option<&Path>, e: io::Error) -> io::Error {
    match path {
        Some(path) => at(op, path, e),
        None => e,
    }
}
