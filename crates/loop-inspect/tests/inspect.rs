//! `loop-inspect` against real processes: each test starts a small loop
//! program (a fixture: this test binary run again with
//! `LOOP_INSPECT_FIXTURE` set), waits for it to print `READY`, runs the
//! built `loop-inspect` binary on its PID and checks what it prints.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOOL: &str = env!("CARGO_BIN_EXE_loop-inspect");

/// A fixture process, killed when dropped.
struct Fixture {
    child: Child,
    /// Lines the fixture printed after `READY` (its report of line numbers).
    info: Vec<String>,
}

impl Fixture {
    /// Starts fixture `name` and waits (up to 20 s) for its `READY` line.
    fn start(name: &str) -> Fixture {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["fixture", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("LOOP_INSPECT_FIXTURE", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the fixture");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut info = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line == "READY" => break,
                Ok(line) if line.starts_with("INFO ") => info.push(line[5..].to_owned()),
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("fixture {name} did not print READY within 20 s");
                }
            }
        }
        Fixture { child, info }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The value the fixture reported as `INFO key=value`.
    fn info(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.info
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("the fixture reported no {key}"))
            .to_owned()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the tool gave.
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `loop-inspect args`, failing the test if it takes over 10 s.
fn inspect(args: &[&str]) -> Out {
    let started = Instant::now();
    let child =
        Command::new(TOOL).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run loop-inspect");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(out) => out.expect("wait for loop-inspect"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("loop-inspect {args:?} hung for 10 s");
        }
    };
    Out {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

// ---------------------------------------------------------------- fixtures

mod fixtures;

/// The fixture programs; run only as children of the tests below.
#[test]
#[ignore = "a fixture program: the other tests run it as a child process"]
fn fixture() {
    let Ok(name) = std::env::var("LOOP_INSPECT_FIXTURE") else { return };
    // The harness has printed "test fixture ... " without a line end.
    println!();
    fixtures::run(&name);
}

// ------------------------------------------------------------------- tests

#[test]
fn pstree_shows_a_deadlock_over_two_locks_with_both_lines_and_fails() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("deadlock");
    let out = inspect(&["pstree", &fx.pid().to_string()]);
    assert_eq!(out.status, 2, "a deadlock exits with 2:\n{}{}", out.stdout, out.stderr);
    let dead = out.stdout.split("DEADLOCK").nth(1).unwrap_or_else(|| panic!("no DEADLOCK section:\n{}", out.stdout));
    assert!(dead.contains("2 tasks wait for each other"), "{}", out.stdout);
    for key in ["left", "right"] {
        assert!(dead.contains(&fx.info(key)), "the cycle names the line {} of {key}:\n{}", fx.info(key), out.stdout);
        assert!(dead.contains(&format!("\"{key}\"")), "the cycle names task {key}:\n{}", out.stdout);
    }
    // The JSON says the same, for scripts.
    let json = inspect(&["pstree", &fx.pid().to_string(), "--json"]);
    assert_eq!(json.status, 2);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let cycle: Vec<u64> =
        doc["deadlocks"][0].as_array().expect("one cycle").iter().map(|v| v.as_u64().unwrap()).collect();
    let mut expected = vec![fx.info("left_id").parse::<u64>().unwrap(), fx.info("right_id").parse().unwrap()];
    expected.sort_unstable();
    let mut got = cycle.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    // ps --resources shows each lock with its holder and waiter.
    let res = inspect(&["ps", &fx.pid().to_string(), "--resources"]);
    assert_eq!(res.status, 0, "{}", res.stderr);
    let locks: Vec<&str> = res.stdout.lines().filter(|l| l.trim_start().starts_with("Lock 0x")).collect();
    assert_eq!(locks.len(), 2, "two locks:\n{}", res.stdout);
    assert!(locks.iter().all(|l| l.contains("held by task") && l.contains("waiters: task")), "{locks:?}");
}

#[test]
fn a_stuck_loop_of_a_set_is_named_with_its_task_and_the_other_loop_is_listed() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("stuck_set");
    let ready_at = Instant::now();
    let pid = fx.pid().to_string();
    let first = inspect(&["ps", &pid]);
    let first_done = ready_at.elapsed().as_secs_f64();
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert!(first.took < Duration::from_secs(1), "ps answered in {:?}", first.took);
    let stuck = first
        .stdout
        .lines()
        .find(|l| l.contains("STUCK"))
        .unwrap_or_else(|| panic!("no stuck loop:\n{}", first.stdout));
    assert!(stuck.contains("LoopSet index 0"), "{stuck}");
    assert!(stuck.contains(&format!("polling task {}", fx.info("id"))), "{stuck}");
    assert!(stuck.contains(&format!("spawned at {}", fx.info("spawn"))), "{stuck}");
    assert!(stuck.contains("this poll has lasted"), "{stuck}");
    let other = first.stdout.split("LoopSet index 1").nth(1).expect("loop 1 is listed");
    assert!(
        other.contains(": 3 tasks") || other.contains(": 4 tasks"),
        "the other loop lists its tasks:\n{}",
        first.stdout
    );
    assert_eq!(other.matches("sleep").count(), 3, "its three sleepers:\n{}", first.stdout);
    // The poll's duration grows from one look to the next.
    let lasted = |text: &str| -> f64 {
        let s = text.split("this poll has lasted ").nth(1).expect("a duration");
        let (n, unit) = s.split_once(' ').expect("value and unit");
        let n: f64 = n.parse().expect("a number");
        if unit.starts_with("ms") {
            n / 1000.0
        } else {
            n
        }
    };
    // The request waited 300 ms for the loop, which was stuck before it came;
    // and the poll began before READY reached us.
    let lasted_first = lasted(&first.stdout);
    assert!(
        lasted_first >= 0.29 && lasted_first <= first_done + 0.2,
        "{lasted_first} s, {first_done} s:\n{}",
        first.stdout
    );
    // A second look, while the first request still waits in the loop's
    // queue, answers at once and sees the poll go on.
    let second = inspect(&["ps", &pid]);
    assert!(second.took < Duration::from_secs(1));
    assert!(lasted(&second.stdout) >= lasted_first, "{}\n{}", first.stdout, second.stdout);
    assert!(first.stdout.contains("lints:") && first.stdout.contains("stuck-loop"), "{}", first.stdout);
}

#[test]
fn ps_of_ten_thousand_idle_tasks_is_quick_and_leaves_the_memory_as_it_was() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("idle_10k");
    let pid = fx.pid();
    let rss = || loop_tests_rss(pid);
    let before = rss();
    let out = inspect(&["ps", &pid.to_string(), "--sort", "id"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.took < Duration::from_secs(1), "ps of 10,000 tasks took {:?}", out.took);
    let rows = out.stdout.lines().filter(|l| l.contains("Event::wait")).count();
    assert_eq!(rows, 10_000, "every task is listed");
    let after = rss();
    assert!(after <= before + 256, "the target's memory grew from {before} KiB to {after} KiB");
    // And again: no growth from one request to the next.
    let _ = inspect(&["ps", &pid.to_string()]);
    let again = rss();
    assert!(again <= before + 256, "memory grew: {before} KiB, then {after} KiB, then {again} KiB");
}

fn loop_tests_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_future_that_drops_its_waker_is_a_lost_waker() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("lost_waker");
    let out = inspect(&["ps", &fx.pid().to_string(), "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let lost: Vec<u64> = doc["lints"]
        .as_array()
        .expect("lints")
        .iter()
        .filter(|l| l["kind"] == "lost-waker")
        .map(|l| l["task"].as_u64().expect("a task"))
        .collect();
    assert_eq!(lost, vec![fx.info("lost").parse::<u64>().unwrap()], "only the task whose waker was dropped: {lost:?}");
    let text = inspect(&["ps", &fx.pid().to_string()]);
    assert!(text.stdout.contains("lost-waker: task"), "{}", text.stdout);
}

#[test]
fn a_process_that_exits_while_inspected_gives_a_clear_message() {
    let _watchdog = loop_tests::watchdog();
    let mut fx = Fixture::start("exits");
    let out = inspect(&["ps", &fx.pid().to_string()]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains(&format!("process {} exited while being inspected", fx.pid())), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let _ = fx.child.wait();
}

#[test]
fn a_process_without_a_loop_or_of_another_user_is_a_clear_error() {
    let _watchdog = loop_tests::watchdog();
    let mut plain = Command::new("sleep").arg("60").spawn().expect("sleep");
    let out = inspect(&["ps", &plain.id().to_string()]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("has no loop inspector endpoint"), "{}", out.stderr);
    let _ = plain.kill();
    let _ = plain.wait();
    let gone = inspect(&["ps", "4194303"]);
    assert_eq!(gone.status, 1);
    assert!(gone.stderr.contains("no process with pid 4194303"), "{}", gone.stderr);
    let bad = inspect(&["ps", "twelve"]);
    assert_eq!(bad.status, 64);
    assert!(bad.stderr.contains("not a PID"), "{}", bad.stderr);
    // Another user's process: as root, a child running as `nobody`; else
    // init, which belongs to root.
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    let (other, _guard) = if me == 0 {
        let mut cmd = Command::new("sleep");
        std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
        let child = cmd.arg("60").spawn().expect("sleep as nobody");
        (child.id(), Some(KillOnDrop(child)))
    } else {
        (1, None)
    };
    let out = inspect(&["ps", &other.to_string()]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("belongs to uid") && out.stderr.contains("only attaches to your own"),
        "{}",
        out.stderr
    );
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pstree_draws_joins_and_gather_members_and_ps_lists_the_process() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("tree");
    let pid = fx.pid().to_string();
    let out = inspect(&["pstree", &pid, "--json"]);
    assert_eq!(out.status, 0, "no deadlock here:\n{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let edges: Vec<(u64, u64)> = doc["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| (e["from"].as_u64().unwrap(), e["to"].as_u64().unwrap()))
        .collect();
    let id = |k: &str| fx.info(k).parse::<u64>().unwrap();
    for edge in [(id("gather"), id("a")), (id("gather"), id("b")), (id("a"), id("leaf"))] {
        assert!(edges.contains(&edge), "edge {edge:?} in {edges:?}");
    }
    // A TaskGroup's join waits for each child.
    let named = |name: &str| {
        doc["loops"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("a task named {name}"))["id"]
            .as_u64()
            .unwrap()
    };
    for child in ["child-a", "child-b"] {
        let edge = (id("grouped"), named(child));
        assert!(edges.contains(&edge), "the group's join waits for {child}: {edge:?} in {edges:?}");
    }
    let text = inspect(&["pstree", &pid]);
    assert!(text.stdout.contains("task") && text.stdout.contains("\"leaf\""), "{}", text.stdout);
    let res = inspect(&["ps", &pid, "--resources"]);
    assert!(res.stdout.contains("Queue 0x") && res.stdout.contains("size 0, 1 getters"), "{}", res.stdout);
    let list = inspect(&["list"]);
    assert!(list.stdout.lines().any(|l| l.trim_start().starts_with(&format!("{pid} "))), "{}", list.stdout);
    let top = inspect(&["top", &pid, "--batch", "--iterations", "2"]);
    assert_eq!(top.status, 0, "{}", top.stderr);
    assert_eq!(top.stdout.matches("--- loop-inspect top").count(), 2, "{}", top.stdout);
}

#[test]
fn the_endpoint_can_be_turned_off() {
    let _watchdog = loop_tests::watchdog();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["fixture", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("LOOP_INSPECT_FIXTURE", "lost_waker")
        .env("LOOP_INSPECT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.map(|l| l == "READY").unwrap_or(false)), "the fixture runs");
    let out = inspect(&["ps", &child.id().to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("LOOP_INSPECT=0"), "{}", out.stderr);
}

#[test]
fn ps_resources_names_sockets_with_their_peer_children_and_semaphores() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("resources");
    let out = inspect(&["ps", &fx.pid().to_string(), "--resources"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let line = |start: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting with {start}:\n{}", out.stdout))
            .to_owned()
    };
    let socket = line("fd ");
    assert!(
        socket.contains(&format!("tcp {} -> {}", fx.info("server"), fx.info("client"))),
        "the socket and its peer: {socket}"
    );
    assert!(socket.contains(&format!("task {} (read at", fx.info("reader"))), "{socket}");
    let child = line("child process");
    assert!(child.contains(&fx.info("child")) && child.contains(&format!("task {}", fx.info("waiter"))), "{child}");
    let sem = line("Semaphore 0x");
    assert!(sem.contains("0 permits free") && sem.contains(&format!("task {}", fx.info("permit"))), "{sem}");
    assert!(out.stdout.contains("timers of loop"), "{}", out.stdout);
}

#[test]
fn top_times_every_poll_while_it_watches_and_flags_slow_polls_and_self_wakes() {
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("busy");
    let out = inspect(&["top", &fx.pid().to_string(), "--batch", "--iterations", "3"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    // After the first frame every poll is timed: the 120 ms polls show (in
    // a later frame; one whose request met the loop inside such a poll may
    // list it as busy instead).
    let later: String = out.stdout.split("--- loop-inspect top").skip(2).collect();
    assert!(
        later.contains(&format!("lint slow-poll: task {} \"slow\"", fx.info("slow"))),
        "the slow task is flagged:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("lint self-wakes: task {} \"spinner\"", fx.info("spinner"))),
        "the spinner is flagged:\n{}",
        out.stdout
    );
}

/// The output of a terminal program, its escape sequences and spaces
/// taken out (ratatui moves the cursor instead of printing spaces).
fn screen_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[test]
fn top_in_a_terminal_sorts_opens_a_task_and_quits_cleanly() {
    use std::io::{Read, Write};
    let _watchdog = loop_tests::watchdog();
    let fx = Fixture::start("lost_waker");
    // A pseudo-terminal from util-linux's `script`; keys go to its stdin,
    // each once the screen shows what the previous one did.
    let mut term = Command::new("script")
        .args(["-q", "-c", &format!("stty cols 160 rows 40; {TOOL} top {}", fx.pid()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs top in a pseudo-terminal");
    let mut stdout = term.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut raw = Vec::new();
    let wait_for = |marker: &str, raw: &mut Vec<u8>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !screen_text(raw).contains(marker) {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(chunk) => raw.extend(chunk),
                Err(_) => panic!("top never showed {marker:?}; the screen had:\n{}", screen_text(raw)),
            }
        }
    };
    let mut stdin = term.stdin.take().unwrap();
    wait_for("tasks,bybusy/s", &mut raw);
    // Sort by polls/s (ratatui redraws only the cells that change, so the
    // title's new word is looked for on its own), then open the first task.
    let seen = raw.len();
    stdin.write_all(b"s").unwrap();
    let mut tail = Vec::new();
    while !screen_text(&tail).contains("polls/s") {
        let chunk = rx.recv_timeout(Duration::from_secs(10)).expect("top redraws after s");
        raw.extend(&chunk);
        tail = raw[seen..].to_vec();
    }
    stdin.write_all(b"\r").unwrap();
    wait_for("onloop1", &mut raw);
    stdin.write_all(b"q").unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(term.wait());
    });
    let status = done_rx.recv_timeout(Duration::from_secs(10)).expect("top quits on q").expect("wait");
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(500)) {
        raw.extend(chunk);
    }
    assert!(status.success(), "top exits 0 on q");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\u{1b}[?1049h") && text.contains("\u{1b}[?1049l"), "the alternate screen is left");
    assert!(text.rfind("\u{1b}[?1049l") > text.rfind("\u{1b}[?1049h"), "and not entered again");
}
