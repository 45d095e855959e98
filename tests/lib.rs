//! Helpers shared by the behaviour tests of the `loop` public API.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod proxy;

use std::cell::RefCell;
use std::rc::Rc;

/// A log that tasks append to, to check the order things ran in.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// Appends an entry.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Number of open file descriptors of this process (Linux `/proc`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Number of threads of this process (Linux `/proc`).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// The stream type of [`stream_pair`]: a Unix socket on Unix, a loopback
/// TCP socket on Windows.
#[cfg(unix)]
pub type PairStream = r#loop::net::UnixStream;
/// The stream type of [`stream_pair`]: a Unix socket on Unix, a loopback
/// TCP socket on Windows.
#[cfg(not(unix))]
pub type PairStream = r#loop::net::TcpStream;

/// A connected pair of the loop's streams (a Unix socket pair on Unix; a
/// TCP connection over 127.0.0.1 on Windows), registered with the running
/// loop.
pub fn stream_pair() -> (PairStream, PairStream) {
    let (a, b) = std_stream_pair();
    (PairStream::from_std(a).expect("register a"), PairStream::from_std(b).expect("register b"))
}

/// A connected pair of blocking std sockets: a Unix socket pair.
#[cfg(unix)]
pub fn std_stream_pair() -> (std::os::unix::net::UnixStream, std::os::unix::net::UnixStream) {
    std::os::unix::net::UnixStream::pair().expect("socketpair")
}

/// A connected pair of blocking std sockets: a TCP connection over
/// 127.0.0.1.
#[cfg(not(unix))]
pub fn std_stream_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (b, _) = listener.accept().expect("accept");
    (a, b)
}

/// Sets a flag when dropped: proves a future's destructors ran.
pub struct DropFlag(pub Rc<std::cell::Cell<bool>>);

/// A fresh flag and the `DropFlag` that sets it: move the guard into a
/// future, and the flag says whether that future was dropped.
pub fn drop_flag() -> (Rc<std::cell::Cell<bool>>, DropFlag) {
    let f = Rc::new(std::cell::Cell::new(false));
    (f.clone(), DropFlag(f))
}

/// A loop with a paused clock: timeouts and sleeps take no time and land
/// exactly.
pub fn paused() -> r#loop::EventLoop {
    r#loop::EventLoop::builder().paused_clock().build().expect("build a paused-clock loop")
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Runs `n` concurrent `sh -c "exit i"` children on a fresh loop and
/// returns their exit codes, in spawn order.
pub fn concurrent_exit_codes(n: i32) -> Vec<Option<i32>> {
    r#loop::run(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                r#loop::spawn(async move {
                    r#loop::process::Command::new("sh").args(["-c", &format!("exit {i}")]).status().await
                })
            })
            .collect();
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.expect("the child's task").expect("the child ran").code());
        }
        codes
    })
}

/// The default bound of a [`watchdog`]: no test here needs more than a few
/// seconds; a minute means it hangs. `LOOP_TEST_TIMEOUT` (seconds) changes it.
pub const WATCHDOG_BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// Turns a hang into a failure: while the returned guard lives, a thread
/// watches the clock, and if the test (named after its thread, as the test
/// harness names it) is still running after [`WATCHDOG_BOUND`], it prints
/// which test hung and exits the test process with a failure. Every test
/// starts with `let _watchdog = loop_tests::watchdog();` (the `meta` test
/// checks that).
pub fn watchdog() -> Watchdog {
    let bound = std::env::var("LOOP_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(WATCHDOG_BOUND);
    watchdog_for(bound)
}

/// A [`watchdog`] with its own bound.
pub fn watchdog_for(bound: std::time::Duration) -> Watchdog {
    let name = std::thread::current().name().unwrap_or("<unnamed test>").to_string();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("watchdog of {name}"))
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(bound) {
                eprintln!(
                    "\nwatchdog: test `{name}` was still running after {bound:?}: it hangs \
                     (a lost wakeup, a deadlock, or a wait without a bound); failing the test run"
                );
                std::process::exit(101);
            }
        })
        .expect("spawn the watchdog thread");
    Watchdog { done: Some(tx), thread: Some(thread) }
}

/// Disarms its watchdog when dropped (the test finished, or panicked).
pub struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An echo server on the streams API (`start_server`), on a fresh port of
/// 127.0.0.1: every byte read is written back; EOF closes the connection.
pub async fn echo_server() -> r#loop::Server {
    r#loop::start_server(
        |mut reader, writer| async move {
            loop {
                let data = match reader.read(64 * 1024).await {
                    Ok(d) if !d.is_empty() => d,
                    _ => break,
                };
                writer.write(&data);
                if writer.drain().await.is_err() {
                    break;
                }
            }
            writer.close();
        },
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("start the echo server")
}

/// A line-echo connection handler for the streams API (`start_server`,
/// `tls::start_server`, `start_unix_server`): every line read is written
/// back and drained, until EOF or an error.
pub async fn echo_lines<R, W>(mut reader: r#loop::StreamReader<R>, writer: r#loop::StreamWriter<W>)
where
    R: futures_io::AsyncRead + Unpin,
    W: futures_io::AsyncWrite + Unpin + 'static,
{
    while let Ok(line) = reader.readline().await {
        if line.is_empty() {
            break;
        }
        writer.write(&line);
        if writer.drain().await.is_err() {
            break;
        }
    }
}

/// `n` bytes of a pattern that differs per `seed`, so that a byte out of
/// place is caught.
pub fn pattern(seed: u32, n: usize) -> Vec<u8> {
    (0..n)
        .map(|j| (j as u32).wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503)) as u8 ^ (j >> 8) as u8)
        .collect()
}

/// The value of `var`, set by `cargo xtask ci` (or `cargo xtask
/// with-services`) for a server it started; `None`, after saying the test
/// skips, when the variable is absent (a plain `cargo test`).
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set; `cargo xtask ci` (or `cargo xtask with-services cargo test ...`) starts \
                 the server this test needs"
            );
            None
        }
    }
}
