//! A single-threaded `loop` program gets its inspector thread after a
//! second of running (see `loop_exec::inspect`'s `THREAD_AFTER`), even while
//! its loop is idle: `loop-inspect` can then attach. No test harness: the
//! harness would add threads. Run as the test, this binary starts itself as
//! the program (`LOOP_INSPECT_SINGLE=1`), and a watchdog thread bounds it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use r#loop as aio;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

fn main() {
    if !cfg!(target_os = "linux") {
        return;
    }
    if std::env::var_os("LOOP_INSPECT_SINGLE").is_some() {
        // The program: one thread, one idle loop.
        println!("threads_before={}", threads());
        aio::run(async {
            println!("threads_at_start={}", threads());
            println!("READY");
            aio::sleep(Duration::from_secs(3600)).await;
        });
        return;
    }
    // The test. A hang fails it: the watchdog exits the process.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("watchdog: single_threaded still running after 60 s: it hangs");
        std::process::exit(101);
    });
    let mut program = Command::new(std::env::current_exe().unwrap())
        .env("LOOP_INSPECT_SINGLE", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the program");
    let mut lines = BufReader::new(program.stdout.take().unwrap()).lines().map_while(Result::ok);
    let before = lines.next().expect("threads_before");
    let at_start = lines.next().expect("threads_at_start");
    assert_eq!(lines.next().as_deref(), Some("READY"));
    let result = std::panic::catch_unwind(|| {
        assert_eq!(before, "threads_before=1");
        assert_eq!(at_start, "threads_at_start=1", "no inspector thread when a single-threaded program starts");
        // The idle loop wakes up to start the thread; a request made now
        // waits in the socket's backlog until then.
        let out = Command::new(env!("CARGO_BIN_EXE_loop-inspect"))
            .args(["ps", &program.id().to_string()])
            .output()
            .expect("run loop-inspect");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 loop, 0 tasks"), "{stdout}");
        let count = std::fs::read_dir(format!("/proc/{}/task", program.id())).unwrap().count();
        assert_eq!(count, 2, "the loop's thread and the inspector's");
    });
    let _ = program.kill();
    let _ = program.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    println!("test a_single_threaded_program_gets_its_endpoint_thread_after_a_second ... ok");
}
