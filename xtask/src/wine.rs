//! `cargo xtask wine`: the workspace's tests, doctests and examples built
//! for `x86_64-pc-windows-gnu` and run under Wine.
//!
//! Installs what it needs (Debian's `wine` and mingw-w64 gcc, the target's
//! std), makes a Wine prefix under `target/`, puts a stand-in
//! `bcryptprimitives.dll` in it (Wine 8.0 lacks the `ProcessPrng` that
//! Rust's std calls; see `xtask/wine/bcryptprimitives.c`), runs `cargo test`
//! with Wine as the target's runner, and prints how many tests ran, passed
//! and failed, and which were left out on Windows and why.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{on_ci, root};

const TARGET: &str = "x86_64-pc-windows-gnu";

/// Where the Windows build and the Wine prefix live (apart from the Linux
/// build, so neither invalidates the other).
fn target_dir() -> PathBuf {
    root().join("target").join("win")
}

fn prefix() -> PathBuf {
    target_dir().join("wine-prefix")
}

/// What every Wine command gets: the prefix, quiet Wine, no Mono/Gecko
/// install prompts, and Wine as the target's test runner.
fn wine_env() -> Vec<(String, String)> {
    vec![
        ("WINEPREFIX".into(), prefix().display().to_string()),
        ("WINEDEBUG".into(), "-all".into()),
        ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER".into(), "wine".into()),
        ("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER".into(), "x86_64-w64-mingw32-gcc".into()),
    ]
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Installs Wine, the mingw-w64 gcc and the target's std where missing.
/// `Err` says what could not be had.
fn install() -> Result<(), String> {
    if !(have("wine", "--version") && have("x86_64-w64-mingw32-gcc", "--version")) {
        println!("\n==> apt-get install -y wine wine64 gcc-mingw-w64-x86-64");
        let _ = Command::new("sh")
            .args([
                "-c",
                "timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
                 --no-install-recommends wine wine64 gcc-mingw-w64-x86-64 >/dev/null",
            ])
            .status();
        if !have("wine", "--version") {
            return Err("Wine is not installed and `apt-get install wine wine64` failed".into());
        }
        if !have("x86_64-w64-mingw32-gcc", "--version") {
            return Err("the mingw-w64 gcc is not installed and `apt-get install gcc-mingw-w64-x86-64` failed".into());
        }
    }
    super::install_targets(&[TARGET])
}

/// Makes the Wine prefix (once) and puts the `ProcessPrng` shim in it.
fn prepare_prefix() -> Result<(), String> {
    let system32 = prefix().join("drive_c/windows/system32");
    if !system32.join("kernel32.dll").exists() {
        println!("\n==> wineboot --init (a new Wine prefix in {})", prefix().display());
        std::fs::create_dir_all(prefix()).map_err(|e| format!("{}: {e}", prefix().display()))?;
        let status = Command::new("wine")
            .args(["wineboot", "--init"])
            .envs(wine_env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("could not start wine: {e}"))?;
        // `wineboot` may exit non-zero for the 32-bit half it cannot start;
        // the 64-bit prefix is what counts.
        let _ = Command::new("wineserver").arg("-w").envs(wine_env()).status();
        if !system32.join("kernel32.dll").exists() {
            return Err(format!("wineboot --init did not make a prefix ({status})"));
        }
    }
    let shim = system32.join("bcryptprimitives.dll");
    let source = root().join("xtask/wine/bcryptprimitives.c");
    let stale = |built: &Path| {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        modified(built).is_none() || modified(built) < modified(&source)
    };
    if stale(&shim) {
        println!("\n==> x86_64-w64-mingw32-gcc -shared xtask/wine/bcryptprimitives.c -> the prefix's system32");
        let status = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(&shim)
            .arg(&source)
            .arg("-ladvapi32")
            .status()
            .map_err(|e| format!("could not start x86_64-w64-mingw32-gcc: {e}"))?;
        if !status.success() {
            return Err("building the ProcessPrng shim failed".into());
        }
    }
    Ok(())
}

/// Totals of libtest's `test result:` lines.
#[derive(Default, Debug)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: u64,
}

impl Totals {
    fn add(&mut self, line: &str) {
        // `test result: ok. 5 passed; 0 failed; 1 ignored; ...`
        let count = |what: &str| {
            line.split(';')
                .find_map(|part| {
                    let mut words = part.split_whitespace().rev();
                    (words.next() == Some(what)).then(|| words.next()?.parse::<u64>().ok()).flatten()
                })
                .unwrap_or(0)
        };
        self.passed += count("passed");
        self.failed += count("failed");
        self.ignored += count("ignored");
        self.binaries += 1;
    }
}

/// Runs `cargo test` for Windows under Wine, echoing its output, and adds
/// up its results; the lines of tests ignored on Windows are kept.
fn run_tests() -> Result<(Totals, Vec<String>, bool), String> {
    let args = [
        "test",
        "--locked",
        "--target",
        TARGET,
        "--workspace",
        // The benchmarks measure Linux (perf counters, CPU clocks); xtask
        // is this very tool; the recipes need the servers `ci` starts on
        // Linux, and their C (SQLite) and codegen dependencies would cost
        // this build minutes.
        "--exclude",
        "loop-bench",
        "--exclude",
        "xtask",
        "--exclude",
        "loop-recipes",
        "--no-fail-fast",
        "--target-dir",
    ];
    println!("\n==> cargo {} {} (under Wine)", args.join(" "), target_dir().display());
    let mut child = Command::new("cargo")
        .args(args)
        .arg(target_dir())
        .envs(super::ci_env())
        .envs(wine_env())
        // A hang under Wine is a failure with a message, as on Linux.
        .env("LOOP_TEST_TIMEOUT", "120")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    let mut totals = Totals::default();
    let mut ignored = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if line.starts_with("test result:") {
            totals.add(&line);
        } else if line.starts_with("test ") && line.contains(" ... ignored") {
            ignored.push(line.trim_start_matches("test ").to_owned());
        }
    }
    let ok = child.wait().map_err(|e| e.to_string())?.success();
    Ok((totals, ignored, ok))
}

/// The tests compiled out on Windows, by file, with the reason: a test
/// counts when a `cfg` that leaves Windows out stands in its attributes, or
/// at the top of its file.
fn left_out() -> BTreeMap<String, (usize, &'static str)> {
    const REASONS: &[(&str, &str)] = &[
        ("signal", "Unix signals (`Signals`, `SIGTERM`, ...): Windows has none; `ctrl_c` is tested there"),
        ("process.rs", "runs `sh`, Unix exit signals and /proc zombies; `process_any.rs` runs the portable cases"),
        ("process_sigchld", "SIGCHLD reaping: Unix only"),
        ("stream_writer", "every case runs over a Unix socket pair"),
        ("loop_set", "SO_REUSEPORT (Unix only; Windows gets the Unsupported error) and /proc thread counts"),
        ("reactor.rs", "a Unix socket pair read as a file (the Miri case)"),
    ];
    const DEFAULT: &str = "Unix-domain sockets, pipes or fds, or signals";
    let mut out = BTreeMap::new();
    let files = super::rust_sources_under(&["tests/tests", "crates"], |_| true).unwrap_or_default();
    let not_windows = |l: &str| {
        let l = l.trim();
        l == "#[cfg(unix)]" || l == "#![cfg(unix)]" || l.starts_with("#[cfg(target_os = \"linux\")]")
    };
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let whole = lines.iter().take_while(|l| l.starts_with("//!") || l.starts_with("#!")).any(|l| not_windows(l));
        let mut n = 0;
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim();
            if !(t == "#[test]" || t.starts_with("#[aio::test") || t.starts_with("#[r#loop::test")) {
                continue;
            }
            let attribute_or_comment = |p: &&&str| p.trim().starts_with("#[") || p.trim().starts_with("//");
            let gated = whole || lines[..i].iter().rev().take_while(attribute_or_comment).any(|p| not_windows(p));
            n += usize::from(gated);
        }
        if n > 0 {
            let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
            let reason = REASONS.iter().find(|(k, _)| name.contains(k)).map_or(DEFAULT, |(_, r)| r);
            out.insert(name, (n, reason));
        }
    }
    out
}

/// Builds the examples for Windows and runs those that make sense there
/// under Wine: the scraper, the tour, hyper's server and clients, axum,
/// and the echo server with its client.
fn run_examples() -> Result<(), String> {
    let build =
        ["build", "--locked", "--target", TARGET, "-p", "loop", "-p", "loop-peers", "--examples", "--target-dir"];
    println!("\n==> cargo {} {}", build.join(" "), target_dir().display());
    let status = Command::new("cargo")
        .args(build)
        .arg(target_dir())
        .envs(super::ci_env())
        .envs(wine_env())
        .current_dir(root())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building the examples for Windows failed".into());
    }
    let exe = |name: &str| target_dir().join(TARGET).join("debug/examples").join(format!("{name}.exe"));
    for name in ["scraper", "tour", "hyper_server", "hyper_client", "axum_app", "pooled_client"] {
        println!("\n==> wine {name}.exe");
        let started = Instant::now();
        let status = Command::new("timeout")
            .arg("120")
            .arg("wine")
            .arg(exe(name))
            .envs(wine_env())
            .current_dir(root())
            .status()
            .map_err(|e| e.to_string())?;
        println!("<== {name} ({:.1?})", started.elapsed());
        if !status.success() {
            return Err(format!("the {name} example failed under Wine ({status})"));
        }
    }
    // The echo pair: the server on a free port until we stop it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
    let addr = port.to_string();
    println!("\n==> wine echo_server.exe {addr}, then wine echo_client.exe {addr}");
    let mut server = Command::new("wine")
        .arg(exe("echo_server"))
        .arg(&addr)
        .envs(wine_env())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Wait for its "echo server on ..." line: it listens from then on.
    let mut first = String::new();
    let mut out = BufReader::new(server.stdout.take().expect("piped"));
    let _ = out.read_line(&mut first);
    print!("{first}");
    let client = Command::new("timeout")
        .arg("60")
        .arg("wine")
        .arg(exe("echo_client"))
        .arg(&addr)
        .envs(wine_env())
        .output()
        .map_err(|e| e.to_string())?;
    let _ = server.kill();
    let _ = Command::new("wineserver").arg("-k").envs(wine_env()).status();
    let _ = server.wait();
    let replies = String::from_utf8_lossy(&client.stdout);
    print!("{replies}");
    if !client.status.success() || !replies.contains("echo: bye") {
        return Err(format!("the echo client under Wine did not get its replies ({})", client.status));
    }
    println!("<== echo: 3 lines echoed");
    Ok(())
}

/// `cargo xtask wine`. `required`: fail when Wine or the toolchain cannot
/// be installed (the `wine` command); within `ci` that is a loud warning.
pub fn wine(required: bool) -> Result<(), String> {
    let started = Instant::now();
    if let Err(why) = install().and_then(|()| prepare_prefix()) {
        if required {
            return Err(why);
        }
        let bar = "!".repeat(78);
        println!(
            "\n{bar}\nxtask: WARNING: {why};\nxtask: WARNING: SKIPPING THE WINDOWS RUN: nothing was tested on \
             Windows\n{bar}"
        );
        return Ok(());
    }
    let (totals, ignored, tests_ok) = run_tests()?;
    let examples = run_examples();
    let _ = Command::new("wineserver").arg("-k").envs(wine_env()).status();

    println!("\n==> Windows (x86_64-pc-windows-gnu) under Wine, {:.0?}", started.elapsed());
    println!(
        "wine: {} tests ran in {} test binaries: {} passed, {} failed; {} ignored",
        totals.passed + totals.failed,
        totals.binaries,
        totals.passed,
        totals.failed,
        totals.ignored
    );
    for line in &ignored {
        println!("  ignored on Windows: {line}");
    }
    let out = left_out();
    println!(
        "left out on Windows (compiled out, Unix-only): {} tests in {} files",
        out.values().map(|(n, _)| n).sum::<usize>(),
        out.len()
    );
    for (file, (n, reason)) in &out {
        println!("  {n:>3}  {file}: {reason}");
    }
    if on_ci() {
        println!("(CI: the Windows build uses target/win; it is removed with the other builds when disk runs low)");
    }
    if !tests_ok || totals.failed > 0 {
        return Err(format!("{} tests failed under Wine", totals.failed.max(1)));
    }
    examples
}
