//! Windows: a child's pipe end served on the blocking pool.
//!
//! Anonymous pipes cannot be polled for readiness on Windows, so each read
//! or write is a blocking job (as tokio and async-process do there). A read
//! fills a buffer of its own and hands it back piece by piece; a write
//! copies the caller's bytes, reports them written, and the next write,
//! flush or close returns that job's error if it failed.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Write};
use std::task::{ready, Context, Poll};

use loop_exec::{spawn_blocking, Task};

/// The most one job reads or writes.
const CHUNK: usize = 64 * 1024;

/// A pipe end and the job using it, if any.
pub(super) struct PoolPipe {
    state: State,
    /// Bytes a read job brought back and the caller has not taken yet
    /// (`buf[pos..]`); reused by the next read job.
    buf: Vec<u8>,
    pos: usize,
}

/// Where the pipe end is.
enum State {
    /// Here, no job running (`None` once closed).
    Idle(Option<File>),
    /// Lent to a read job.
    Reading(Task<(File, Vec<u8>, io::Result<usize>)>),
    /// Lent to a write job.
    Writing(Task<(File, Vec<u8>, io::Result<()>)>),
}

/// A job that panicked or was cancelled (the pool shut down).
fn lost(e: loop_exec::TaskError) -> io::Error {
    io::Error::other(format!("the blocking pool's job on a child pipe did not finish: {e}"))
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the child's stdin was closed (write after close)")
}

impl PoolPipe {
    pub(super) fn new(file: File) -> PoolPipe {
        PoolPipe { state: State::Idle(Some(file)), buf: Vec::new(), pos: 0 }
    }

    /// Waits for a running write job; `Ok` once the end is idle.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            State::Idle(_) => Poll::Ready(Ok(())),
            State::Reading(task) => {
                let (file, buf, result) = ready!(std::pin::Pin::new(task).poll(cx)).map_err(lost)?;
                self.state = State::Idle(Some(file));
                self.buf = buf;
                self.pos = 0;
                match result {
                    Ok(n) => self.buf.truncate(n),
                    Err(e) => {
                        self.buf.clear();
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Ok(()))
            }
            State::Writing(task) => {
                let (file, buf, result) = ready!(std::pin::Pin::new(task).poll(cx)).map_err(lost)?;
                self.state = State::Idle(Some(file));
                self.buf = buf;
                Poll::Ready(result)
            }
        }
    }

    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            let was_reading = matches!(self.state, State::Reading(_));
            ready!(self.poll_idle(cx))?;
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Poll::Ready(Ok(n));
            }
            if was_reading || out.is_empty() {
                // The job read nothing: end of file.
                return Poll::Ready(Ok(0));
            }
            let State::Idle(file) = &mut self.state else { unreachable!("idle after poll_idle") };
            let Some(mut file) = file.take() else { return Poll::Ready(Ok(0)) };
            let mut buf = std::mem::take(&mut self.buf);
            self.state = State::Reading(spawn_blocking(move || {
                buf.resize(CHUNK, 0);
                let result = file.read(&mut buf);
                (file, buf, result)
            }));
        }
    }

    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_idle(cx))?;
        let State::Idle(file) = &mut self.state else { unreachable!("idle after poll_idle") };
        let Some(mut file) = file.take() else { return Poll::Ready(Err(closed())) };
        let n = data.len().min(CHUNK);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&data[..n]);
        self.state = State::Writing(spawn_blocking(move || {
            let result = file.write_all(&buf);
            (file, buf, result)
        }));
        Poll::Ready(Ok(n))
    }

    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_idle(cx)
    }

    /// Finishes the write in flight, then closes the pipe end.
    pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = ready!(self.poll_idle(cx));
        self.state = State::Idle(None);
        Poll::Ready(result)
    }
}
