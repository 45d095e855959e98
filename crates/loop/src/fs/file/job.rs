//! A File's one job on the blocking pool: what it runs (a read, a write,
//! another operation), and the bytes a dropped File leaves, which a job
//! writes after its own work.

use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use loop_sync::__locks::BlockingMutex;

use super::{error, File};
use crate::BlockingJob;

/// What a File's jobs share with it.
pub(super) struct Shared {
    pub(super) file: std::fs::File,
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

/// What a File's job does.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Op {
    Read,
    Write,
    Call(Call),
}

/// The File's other operations, run as its job so that they are ordered
/// with its reads and writes.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Call {
    Seek(SeekFrom),
    SyncAll,
    SyncData,
    SetLen(u64),
    SetPermissions(std::fs::Permissions),
    TryClone,
    Rewind,
}

/// What a job gives back.
pub(super) enum Done {
    Read { data: Vec<u8>, eof: bool, regular: bool, result: io::Result<()> },
    Write { buf: Vec<u8>, result: io::Result<()> },
    Call(io::Result<Out>),
}

/// The result of a [`Call`].
pub(super) enum Out {
    Unit,
    Position(u64),
    File(std::fs::File),
}

/// Moves `file`'s cursor back by `rewind` bytes.
pub(super) fn seek_back(mut file: &std::fs::File, rewind: u64) -> io::Result<()> {
    if rewind > 0 {
        let back = i64::try_from(rewind).map_err(|_| io::Error::other("read-ahead larger than i64::MAX"))?;
        file.seek(SeekFrom::Current(-back))?;
    }
    Ok(())
}

impl Shared {
    pub(super) fn new(file: std::fs::File) -> Shared {
        Shared { file, orphan: BlockingMutex::new(Orphan::default()) }
    }

    /// Runs `work` on the pool, marking a job of this file as running
    /// until it ends; an orphaned tail left meanwhile is written after it.
    pub(super) fn submit<F>(self: &Arc<Shared>, path: Option<Arc<Path>>, work: F) -> BlockingJob<Done>
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
