//! Subprocesses (asyncio's `create_subprocess_exec` / `Process`).
//!
//! [`Command`] mirrors `std::process::Command`; [`Child`] has async
//! [`wait`](Child::wait), [`output`](Command::output) and
//! [`communicate`](Child::communicate), and its pipes are async streams.
//! Children are reaped without blocking the loop: on Linux through a pidfd
//! registered with the reactor; on other Unix systems each `SIGCHLD` makes
//! every waiting `wait` look again (one `signal::Signals` listener per
//! thread, shared by all waiting children, installed while someone waits),
//! with a poll once a second as a backstop. A dropped `Child` is still
//! reaped (no zombies), and killed first with [`Command::kill_on_drop`].
//!
//! **Windows.** The same API. A child's exit is awaited through its process
//! handle (a wait registered with the system's wait thread, which wakes the
//! task: nothing polls). The pipes are served on the blocking pool, since
//! anonymous pipes cannot be polled for readiness there: each read or
//! write is a job, and a write reports its bytes once copied (its error, if
//! any, comes with the next write, flush or close). `kill` is
//! `TerminateProcess`; `send_signal` exists only on Unix.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io;
#[cfg(unix)]
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::pin::Pin;
use std::process::{self as stdp, ExitStatus, Output};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
#[cfg(unix)]
use loop_core::Async;
use loop_exec::WaitSite;
use loop_sync::WaitKind;

#[cfg(windows)]
mod exit_handle;
#[cfg(windows)]
mod pool_pipe;
#[cfg(unix)]
mod reap;

#[cfg(windows)]
use exit_handle::ExitWatch;
#[cfg(windows)]
use pool_pipe::PoolPipe;
#[cfg(unix)]
use reap::ExitWatch;
#[cfg(unix)]
pub use reap::{__force_sigchld_reaping, __set_sigchld_backstop};

/// A pipe end to the child: registered with the reactor on Unix, served on
/// the blocking pool on Windows.
#[cfg(unix)]
type PipeIo = Async<File>;
#[cfg(windows)]
type PipeIo = PoolPipe;

/// A pipe end of the child's as our async pipe type.
fn pipe_io(end: impl PipeEnd) -> io::Result<PipeIo> {
    #[cfg(unix)]
    return Async::new(File::from(end.into_owned()));
    #[cfg(windows)]
    return Ok(PoolPipe::new(File::from(end.into_owned())));
}

/// `std`'s child pipe ends, as owned OS handles.
trait PipeEnd {
    #[cfg(unix)]
    fn into_owned(self) -> OwnedFd;
    #[cfg(windows)]
    fn into_owned(self) -> std::os::windows::io::OwnedHandle;
}

macro_rules! pipe_end {
    ($($ty:ty),*) => {$(
        impl PipeEnd for $ty {
            #[cfg(unix)]
            fn into_owned(self) -> OwnedFd {
                self.into()
            }
            #[cfg(windows)]
            fn into_owned(self) -> std::os::windows::io::OwnedHandle {
                self.into()
            }
        }
    )*};
}
pipe_end!(stdp::ChildStdin, stdp::ChildStdout, stdp::ChildStderr);
pub use std::process::Stdio;

/// Builds a child process: program, arguments, environment, working
/// directory and stdio, as `std::process::Command` does.
///
/// ```
/// # #[cfg(unix)] {
/// use r#loop::process::Command;
///
/// let out = r#loop::run(async { Command::new("sh").args(["-c", "echo hi; exit 3"]).output().await })?;
/// assert_eq!(out.stdout, b"hi\n");
/// assert_eq!(out.status.code(), Some(3));
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    inner: stdp::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command running `program` (looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { inner: stdp::Command::new(program), kill_on_drop: false }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Sets stdin (`Stdio::piped()`, `null()`, `inherit()`).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self
    }

    /// Sets stdout.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self
    }

    /// Sets stderr.
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self
    }

    /// Kill the child (`SIGKILL`; `TerminateProcess` on Windows) if its
    /// `Child` is dropped before it exits.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
        self.kill_on_drop = on;
        self
    }

    /// Starts the child. A program that cannot be started is the OS error
    /// (`NotFound`, `PermissionDenied`). With piped stdio and no event loop
    /// running on this thread, the child is killed and reaped and the error
    /// says a loop is needed.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let mut child = self.inner.spawn()?;
        let pipes = (|| {
            let stdin = child.stdin.take().map(|s| pipe_io(s).map(|io| ChildStdin { io: Some(io) })).transpose()?;
            let stdout = child.stdout.take().map(|s| pipe_io(s).map(|io| ChildStdout { io })).transpose()?;
            let stderr = child.stderr.take().map(|s| pipe_io(s).map(|io| ChildStderr { io })).transpose()?;
            #[cfg(unix)]
            let exit = ExitWatch::new(child.id());
            #[cfg(windows)]
            let exit = ExitWatch::new(&child)?;
            Ok::<_, io::Error>((stdin, stdout, stderr, exit))
        })();
        let (stdin, stdout, stderr, exit) = match pipes {
            Ok(pipes) => pipes,
            Err(e) => {
                // The pipes could not join the loop (no loop running?): do not
                // leave a child nobody can talk to, nor a zombie.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Child { child: Some(child), stdin, stdout, stderr, exit, status: None, kill_on_drop: self.kill_on_drop })
    }

    /// Runs the child to completion, collecting stdout and stderr (piped
    /// unless set otherwise; stdin is null).
    #[track_caller]
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + use<'_> {
        WaitSite::new(None, async move {
            self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = self.spawn()?;
            let (stdout, stderr) = child.communicate(None).await?;
            let status = child.wait().await?;
            Ok(Output { status, stdout, stderr })
        })
    }

    /// Runs the child to completion and returns its exit status.
    #[track_caller]
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + use<'_> {
        WaitSite::new(Some(WaitKind::ChildExit), async move { self.spawn()?.wait().await })
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// A running (or finished) child process.
///
/// ```
/// # #[cfg(unix)] {
/// use r#loop::process::{Command, Stdio};
///
/// r#loop::run(async {
///     let mut child = Command::new("sh")
///         .args(["-c", "read name; echo hello $name; exit 3"])
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()?;
///     let (out, _err) = child.communicate(Some(b"world\n")).await?;
///     assert_eq!(out, b"hello world\n");
///     assert_eq!(child.wait().await?.code(), Some(3));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    child: Option<stdp::Child>,
    /// The child's stdin, when piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, when piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, when piped.
    pub stderr: Option<ChildStderr>,
    exit: ExitWatch,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

impl Child {
    fn std(&mut self) -> &mut stdp::Child {
        self.child.as_mut().expect("the child is always present until drop")
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(stdp::Child::id).unwrap_or(0)
    }

    /// The exit status if the child has exited (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self.std().try_wait()?;
        self.status = status;
        Ok(status)
    }

    /// Waits for the child to exit and reaps it. Closes our end of its
    /// stdin first, as `std` does, so a child reading stdin can finish.
    #[track_caller]
    pub fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + use<'_> {
        let pid = u64::from(self.id());
        let target = crate::sync::WaitTarget { resource: pid, detail: 0 };
        WaitSite::with_target(Some(WaitKind::ChildExit), target, async move {
            drop(self.stdin.take());
            if let Some(status) = self.status {
                return Ok(status);
            }
            let child = self.child.as_mut().expect("the child is always present until drop");
            let status = self.exit.wait(child).await?;
            self.status = Some(status);
            Ok(status)
        })
    }

    /// Sends `SIGKILL` (`TerminateProcess` on Windows). A child that already
    /// exited is not an error.
    pub fn kill(&mut self) -> io::Result<()> {
        #[cfg(unix)]
        return self.send_signal(libc::SIGKILL);
        #[cfg(windows)]
        {
            if self.try_wait()?.is_some() {
                return Ok(());
            }
            self.std().kill()
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the child. Unix only.
    #[cfg(unix)]
    #[cfg_attr(docsrs, doc(cfg(unix)))]
    pub fn send_signal(&mut self, signal: i32) -> io::Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let sig = rustix::process::Signal::from_named_raw(signal)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{signal} is not a signal number")))?;
        let pid = rustix::process::Pid::from_raw(self.id() as i32)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the child has no pid"))?;
        // The pid is our unreaped child, so it cannot have been recycled.
        Ok(rustix::process::kill_process(pid, sig)?)
    }

    /// Writes `input` to stdin (then closes it) while reading stdout and
    /// stderr to the end, all concurrently — no deadlock however large
    /// either side is (asyncio's `communicate`). Returns (stdout, stderr);
    /// a stream that is not piped gives an empty vector.
    #[track_caller]
    pub fn communicate<'a>(
        &'a mut self,
        input: Option<&'a [u8]>,
    ) -> impl Future<Output = io::Result<(Vec<u8>, Vec<u8>)>> + use<'a> {
        WaitSite::new(None, async move {
            let stdin = self.stdin.take();
            let stdout = self.stdout.take();
            let stderr = self.stderr.take();
            let write = async move {
                if let (Some(mut stdin), Some(input)) = (stdin, input) {
                    let mut rest = input;
                    let written = async {
                        while !rest.is_empty() {
                            let n = std::future::poll_fn(|cx| Pin::new(&mut stdin).poll_write(cx, rest)).await?;
                            rest = &rest[n..];
                        }
                        std::future::poll_fn(|cx| Pin::new(&mut stdin).poll_close(cx)).await
                    };
                    match written.await {
                        // The child stopped reading (exited): not our error.
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                        other => other?,
                    }
                }
                Ok::<(), io::Error>(())
            };
            let (w, out, err) = loop_exec::gather!(write, read_all(stdout), read_all(stderr)).await;
            w?;
            Ok((out?, err?))
        })
    }

    /// Waits for exit while collecting stdout and stderr.
    #[track_caller]
    pub fn wait_with_output(mut self) -> impl Future<Output = io::Result<Output>> {
        WaitSite::new(None, async move {
            let (stdout, stderr) = self.communicate(None).await?;
            let status = self.wait().await?;
            Ok(Output { status, stdout, stderr })
        })
    }
}

/// Reads a pipe to its end (nothing for a pipe that is not there).
async fn read_all(io: Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let Some(mut io) = io else { return Ok(out) };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = child.kill();
        }
        // Unix: unless it has exited, a thread reaps it, so it never lingers
        // as a zombie. Windows has no zombies: closing the handle is all.
        #[cfg(unix)]
        if !matches!(child.try_wait(), Ok(Some(_))) {
            reap::reap_later(child);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("id", &self.id()).field("status", &self.status).finish()
    }
}

macro_rules! pipe_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            io: PipeIo,
        }

        #[cfg(unix)]
        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.as_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }

        impl AsyncRead for $name {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                #[cfg(unix)]
                return Pin::new(&mut self.get_mut().io).poll_read(cx, buf);
                #[cfg(windows)]
                return self.get_mut().io.poll_read(cx, buf);
            }
        }
    };
}

pipe_type!(ChildStdout, "The child's stdout: `AsyncRead` (wrap it in a `StreamReader` for `readline`).");
pipe_type!(ChildStderr, "The child's stderr: `AsyncRead`.");

/// The child's stdin: `AsyncWrite`. Closing it (`poll_close`, hence
/// `StreamWriter::close`) or dropping it closes the pipe, and the child
/// reads EOF.
pub struct ChildStdin {
    /// The pipe; `None` once closed.
    io: Option<PipeIo>,
}

fn stdin_closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the child's stdin was closed (write after close)")
}

#[cfg(unix)]
impl AsFd for ChildStdin {
    /// # Panics
    /// After the pipe was closed: there is no descriptor left.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_ref().expect("ChildStdin::as_fd after the pipe was closed").as_fd()
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin").field("closed", &self.io.is_none()).finish()
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().io.as_mut() {
            #[cfg(unix)]
            Some(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(windows)]
            Some(io) => io.poll_write(cx, buf),
            None => Poll::Ready(Err(stdin_closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(windows)]
        if let Some(io) = self.get_mut().io.as_mut() {
            return io.poll_flush(cx);
        }
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe (deregisters and closes the descriptor, once a write
    /// in flight on Windows has finished): the child sees EOF. Closing twice
    /// is fine.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        #[cfg(windows)]
        if let Some(io) = this.io.as_mut() {
            let result = std::task::ready!(io.poll_close(cx));
            this.io = None;
            return Poll::Ready(result);
        }
        let _ = cx;
        drop(this.io.take());
        Poll::Ready(Ok(()))
    }
}
