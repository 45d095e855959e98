//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: everything CI checks: format, clippy (`-D warnings`), every test
//!   and doctest, the examples built, and a Miri run of the unsafe code
//!   when Miri can be installed.
//! - `bench [--quick]`: our loop against tokio and smol on the same
//!   workloads, in one run; prints the table and writes `BENCHMARKS.md`.
//! - `soak [--clients N] [--server loop|loop-raw|tokio]`: one loop serving N (default 10,000) echo clients
//!   from a second process, half through the fault-injecting proxy, every
//!   byte checked; then the randomized cancellation stress at 1,000,000
//!   operations.
//! - `miri`: the unsafe code (task cells, wakers, `Mutex`, the reactor's
//!   system calls, the signal handler's bookkeeping) under Miri.
//! - `wine`: the tests, doctests and examples built for Windows
//!   (`x86_64-pc-windows-gnu`) and run under Wine (see `wine.rs`).
//! - `loom`: loom models of loop-sync's waiter hand-offs and loop-exec's
//!   cross-thread wake and park paths.
//! - `with-services COMMAND...`: runs COMMAND with PostgreSQL and Redis
//!   started as `ci` starts them for the library tests (`services.rs`), e.g.
//!   `cargo xtask with-services cargo test -p loop-tests --test postgres`.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::path::{Path, PathBuf};
use std::process::{exit, Command};
use std::time::Instant;

mod services;
mod wine;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("soak") => soak(&args[1..]),
        Some("miri") => miri(true),
        Some("loom") => loom(3),
        Some("wine") => wine::wine(true),
        Some("cross") => cross_check(),
        Some("doc-paths") => doc_paths(),
        Some("deps") => no_c_toolchain_deps(),
        Some("readme") => readme_names(),
        Some("with-services") => with_services(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | bench [--quick] | soak [--clients N] | miri | loom | wine | cross | doc-paths | deps | readme | with-services COMMAND...>"
            );
            exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: FAILED: {e}");
        exit(1);
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, echoing it; an error if it fails.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    run_env(program, args, &[])
}

fn run_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    println!("\n==> {program} {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(ci_env())
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("could not start `{program}`: {e}"))?;
    println!("<== {program} {} ({:.1?})", args.first().copied().unwrap_or(""), started.elapsed());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` exited with {status}", args.join(" ")))
    }
}

/// Extra environment for every command when `CI` is set: incremental
/// compilation off. A CI run builds once on a clean clone, so incremental
/// caches only cost disk (about 1 GiB for the test build alone); a full run
/// once failed with "No space left on device".
fn ci_env() -> impl Iterator<Item = (&'static str, &'static str)> {
    on_ci().then_some(("CARGO_INCREMENTAL", "0")).into_iter()
}

/// Whether `CI` is set to something other than empty, `0` or `false`.
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Prints the free space where `target/` lives and how much `target/` holds,
/// so a run that runs out of disk says how close it was.
fn disk_report(when: &str) {
    let free =
        free_bytes().map_or_else(|| "unknown".to_owned(), |b| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64));
    let used = Command::new("du")
        .arg("-sh")
        .arg(root().join("target"))
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "none".to_owned());
    println!("\n==> disk {when}: {free} free, target/ holds {used}");
}

fn ci() -> Result<(), String> {
    let started = Instant::now();
    disk_report("at start");
    let result = ci_steps();
    disk_report("at the end");
    result?;
    println!("\nxtask ci: all checks passed in {:.1?}", started.elapsed());
    Ok(())
}

fn ci_steps() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--check"])?;
    doc_paths()?;
    readme_names()?;
    no_c_toolchain_deps()?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    // PostgreSQL and Redis for the library tests and recipes, stopped when
    // `services` drops (at the end of this function, or on a failure).
    let services = services::Services::start();
    run_env("cargo", &["test", "--workspace", "--locked", "--no-fail-fast"], &services.env())?;
    run("cargo", &["build", "--workspace", "--examples", "--locked"])?;
    // The main demo, as the README's first command runs it (offline: its
    // HTTPS server and certificate are made at start).
    run("cargo", &["run", "--locked", "-p", "loop", "--example", "scraper"])?;
    // hyper on loop: a server answering HTTP/1.1 and HTTP/2, a keep-alive
    // client, an axum Router, hyper-util's pooled Client.
    for example in ["hyper_server", "hyper_client", "axum_app", "pooled_client"] {
        let package = if example == "axum_app" { "loop-peers" } else { "loop" };
        run("cargo", &["run", "--locked", "-p", package, "--features", "loop/hyper", "--example", example])?;
    }
    // The recipes of docs/ecosystem.md against the real servers (skipped,
    // with the warning `Services::start` printed, when one is missing).
    let recipes = [
        ("postgres", Some("LOOP_TEST_POSTGRES")),
        ("redis", Some("LOOP_TEST_REDIS")),
        ("sqlx", Some("LOOP_TEST_POSTGRES")),
        ("sqlite", None),
        ("websocket", None),
        ("grpc", None),
    ];
    for (example, needs) in recipes {
        if needs.is_none_or(|var| services.has(var)) {
            run_env("cargo", &["run", "--locked", "-p", "loop-recipes", "--example", example], &services.env())?;
        }
    }
    // Documentation builds without warnings (broken or ambiguous links).
    run_env("cargo", &["doc", "--workspace", "--no-deps", "--locked"], &[("RUSTDOCFLAGS", "-D warnings")])?;
    // The benchmark harness is built by clippy above; run its quickest mode
    // once so a broken workload is caught (numbers are not judged here).
    run("cargo", &["run", "--release", "--locked", "-p", "loop-bench", "--", "--smoke"])?;
    // A short soak: 1,000 echo clients against one loop, half through the
    // proxy (the full run is `cargo xtask soak`).
    run("cargo", &["run", "--release", "--locked", "-p", "loop-tests", "--bin", "soak", "--", "--clients", "1000"])?;
    cross_check()?;
    // Windows: the tests and examples under Wine (a loud skip when Wine
    // cannot be installed).
    wine::wine(false)?;
    free_disk_for_the_last_steps();
    miri(false)?;
    loom(2)
}

/// Free bytes on the file system holding the workspace and its `target/`
/// (`df -Pk`), if `df` says.
fn free_bytes() -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(root()).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// On CI, when less than 4 GiB is free before Miri and loom (which build in
/// their own target directories), removes the debug, release and Windows
/// builds that no later step uses. Locally nothing is removed: those are the caches a
/// developer's next `cargo test` wants.
fn free_disk_for_the_last_steps() {
    const WANTED: u64 = 4 << 30;
    if !on_ci() {
        return;
    }
    match free_bytes() {
        Some(free) if free < WANTED => {
            println!(
                "\n==> {} MiB free, under 4 GiB: removing target/debug, target/release and target/win",
                free >> 20
            );
            for dir in ["debug", "release", "win"] {
                let _ = std::fs::remove_dir_all(root().join("target").join(dir));
            }
            disk_report("after removing them");
        }
        _ => {}
    }
}

/// Every API name the README's tables show exists: each identifier in the
/// backticked spans of a table's right-hand column is declared somewhere in
/// the crates (`fn`, `struct`, `enum`, `trait`, `type`, `mod`, `const`, a
/// macro, an enum variant or a re-export). Words that are arguments, std
/// names or commands, not our API, are listed here.
fn readme_names() -> Result<(), String> {
    const NOT_API: &[&str] = &[
        // Keywords, arguments, other crates' names (hyper's `timer`,
        // reqwest) and xtask commands.
        "await",
        "deps",
        "doc",
        "listener",
        "readme",
        "reqwest",
        "service",
        "timer",
        "url",
        "AsyncWrite",
        "AsyncRead",
        "NoTls",
        "Router",
        "connect_raw",
        "KEY",
        "LOOP_DEBUG",
        "N",
        "Result",
        "Stream",
        "T",
        "Vec",
        "_nowait",
        "a",
        "addr",
        "aio",
        "b",
        "bench",
        "bool",
        "brotli",
        "c",
        "cargo",
        "check",
        "ci",
        "clients",
        "cross",
        "d",
        "examples",
        "fut",
        "gzip",
        "host",
        "loom",
        "miri",
        "mod",
        "mut",
        "port",
        "proxy",
        "quick",
        "ring",
        "rs",
        "server_name",
        "soak",
        "tasks",
        "true",
        "value",
        "wine",
        "xtask",
    ];
    println!("\n==> the README's API names exist");
    let readme = std::fs::read_to_string(root().join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let mut names = std::collections::BTreeSet::new();
    for row in readme.lines().filter(|l| l.starts_with('|') && !l.contains("---")) {
        let right = row.trim_matches('|').split('|').skip(1).collect::<Vec<_>>().join("|");
        for span in right.split('`').skip(1).step_by(2) {
            let mut ident = String::new();
            for ch in span.chars().chain([' ']) {
                if ch.is_ascii_alphanumeric() || ch == '_' {
                    ident.push(ch);
                } else if !ident.is_empty() {
                    if !ident.starts_with(|c: char| c.is_ascii_digit()) {
                        names.insert(std::mem::take(&mut ident));
                    }
                    ident.clear();
                }
            }
        }
    }
    let mut sources = String::new();
    for path in rust_sources(|_| true)? {
        sources.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        sources.push('\n');
    }
    let declared = |name: &str| {
        let words: Vec<&str> = sources.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '!')).collect();
        words.windows(2).any(|w| {
            w[1] == name
                && matches!(
                    w[0],
                    "fn" | "struct" | "enum" | "trait" | "type" | "mod" | "const" | "static" | "macro_rules!"
                )
        }) || sources.lines().any(|l| {
            let t = l.trim_start();
            (t.starts_with(name) && t[name.len()..].starts_with([',', '(', '{', ' ']) && l.starts_with("    "))
                || (t.starts_with("pub use")
                    && t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == name))
        })
    };
    let missing: Vec<&String> = names.iter().filter(|n| !NOT_API.contains(&n.as_str()) && !declared(n)).collect();
    if missing.is_empty() {
        println!("<== {} names, all declared", names.len());
        Ok(())
    } else {
        Err(format!("the README names APIs that do not exist: {missing:?}"))
    }
}

/// TLS builds on `ring` alone: no `aws-lc-sys` (which needs cmake), no
/// OpenSSL, no `cmake` build dependency anywhere in the tree.
fn no_c_toolchain_deps() -> Result<(), String> {
    println!("\n==> no aws-lc-sys, openssl-sys or cmake in the dependency tree");
    let out = Command::new("cargo")
        .args(["tree", "--workspace", "--locked", "--prefix", "none", "--format", "{p}", "-e", "normal,build,dev"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| ["aws-lc-sys", "aws-lc-rs", "openssl-sys", "cmake"].contains(name))
        .collect();
    if found.is_empty() {
        println!("<== none");
        Ok(())
    } else {
        Err(format!("the dependency tree has {found:?}: TLS must build on ring alone (no cmake, no OpenSSL)"))
    }
}

/// The `.rs` files under `crates/` that `keep` accepts, sorted.
fn rust_sources(keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, String> {
    rust_sources_under(&["crates"], keep)
}

/// The `.rs` files under the given folders of the workspace that `keep`
/// accepts, sorted.
fn rust_sources_under(folders: &[&str], keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = folders.iter().map(|f| root().join(f)).collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") && keep(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Every example in an item's docs uses the facade's paths (`use r#loop as
/// aio;`): the facade re-exports those items, so their examples are what a
/// user reads and pastes into a crate that depends on `loop` alone. Fails
/// on a code block in a `///` comment naming an internal crate.
fn doc_paths() -> Result<(), String> {
    const INTERNAL: [&str; 5] = ["loop_exec", "loop_sync", "loop_core", "loop_time", "loop_macros"];
    println!("\n==> doc examples use facade paths");
    let mut bad = Vec::new();
    let files = rust_sources(|p| {
        !p.components().any(|c| c.as_os_str() == "loop-bench") && p.components().any(|c| c.as_os_str() == "src")
    })?;
    let mut blocks = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut in_code = false;
        for (n, line) in text.lines().enumerate() {
            let Some(doc) = line.trim_start().strip_prefix("///") else {
                in_code = false;
                continue;
            };
            if doc.trim_start().starts_with("```") {
                in_code = !in_code;
                blocks += usize::from(in_code);
                continue;
            }
            if in_code && INTERNAL.iter().any(|c| doc.contains(&format!("{c}::")) || doc.contains(&format!("use {c}")))
            {
                bad.push(format!(
                    "  {}:{}: {}",
                    file.strip_prefix(root()).unwrap_or(file).display(),
                    n + 1,
                    doc.trim()
                ));
            }
        }
    }
    if bad.is_empty() {
        println!("<== {blocks} doc examples, none names an internal crate");
        Ok(())
    } else {
        Err(format!(
            "doc examples name internal crates (users of the facade cannot paste them; write `use r#loop as aio;` and \
             `aio::...`):\n{}",
            bad.join("\n")
        ))
    }
}

/// The other backends of loop-core's `Driver` (the `polling` driver on
/// kqueue and IOCP) and every other `cfg(not(target_os = "linux"))` path
/// must keep compiling: `cargo check` of the runtime's libraries for macOS,
/// FreeBSD and Windows with MSVC (the GNU target is built and run by
/// `wine`), warnings denied (no linker needed). Installs the targets' std
/// with rustup when missing.
fn cross_check() -> Result<(), String> {
    const TARGETS: [&str; 3] = ["x86_64-apple-darwin", "x86_64-unknown-freebsd", "x86_64-pc-windows-msvc"];
    if let Err(why) = install_targets(&TARGETS) {
        // As for Miri: a machine that cannot reach rustup's servers skips
        // the check loudly rather than failing every run.
        let bar = "!".repeat(78);
        println!(
            "\n{bar}\nxtask: WARNING: {why};\n\
             xtask: WARNING: SKIPPING THE macOS/FreeBSD/MSVC CHECK: the other backends were NOT compiled\n{bar}"
        );
        return Ok(());
    }
    // The runtime crates' libraries, TLS left out: `ring`'s build script
    // compiles C for the target, and there is no macOS, FreeBSD or MSVC C
    // toolchain here (the TLS module is the same Rust on every target).
    for target in TARGETS {
        run_env(
            "cargo",
            &[
                "check",
                "--locked",
                "--lib",
                "--no-default-features",
                "-p",
                "loop-time",
                "-p",
                "loop-core",
                "-p",
                "loop-exec",
                "-p",
                "loop-sync",
                "-p",
                "loop",
                "--target",
                target,
                "--target-dir",
                "target/cross",
            ],
            &[("RUSTFLAGS", "-D warnings")],
        )?;
    }
    Ok(())
}

/// Installs the std of those of `targets` that rustup does not have yet;
/// `Err` says which could not be installed.
fn install_targets(targets: &[&str]) -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = targets.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("\n==> rustup target add {}", missing.join(" "));
    let mut args = vec!["300", "rustup", "target", "add"];
    args.extend(&missing);
    if Command::new("timeout").args(&args).status().is_ok_and(|s| s.success()) {
        Ok(())
    } else {
        Err(format!("could not install the std of {} (rustup target add failed)", missing.join(", ")))
    }
}

/// Whether `cargo +nightly miri` is available, installing it if possible.
fn miri_available() -> bool {
    let has = |_: ()| {
        Command::new("cargo")
            .args(["+nightly", "miri", "--version"])
            .current_dir(root())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if has(()) {
        return true;
    }
    println!("\n==> rustup component add --toolchain nightly miri rust-src");
    let _ = Command::new("timeout")
        .args(["300", "rustup", "component", "add", "--toolchain", "nightly", "miri", "rust-src"])
        .status();
    has(())
}

/// Runs the unsafe code's tests under Miri. `required`: fail when Miri
/// cannot be installed (the `miri` command); in `ci` that is a warning.
fn miri(required: bool) -> Result<(), String> {
    if !miri_available() {
        let msg = "Miri is not installed and could not be installed (no nightly toolchain download here)";
        if required {
            return Err(msg.into());
        }
        let bar = "!".repeat(78);
        println!("\n{bar}\nxtask: WARNING: {msg};\nxtask: WARNING: SKIPPING THE MIRI RUN: the unsafe code was NOT checked\n{bar}");
        return Ok(());
    }
    run_env(
        "cargo",
        // Every crate with unsafe code: loop-exec (task cells, wakers),
        // loop-sync (Mutex), loop-core (the epoll backend's syscalls, on
        // Miri's epoll/eventfd/socketpair shims) and the facade (the signal
        // handler, called directly: Miri has no `sigaction`, so nothing that
        // installs a handler is in these unit tests). loop-time has none
        // (`forbid(unsafe_code)`).
        &["+nightly", "miri", "test", "-p", "loop-exec", "-p", "loop-sync", "-p", "loop-core", "-p", "loop", "--lib"],
        // Strict provenance: parking_lot (integer-to-pointer casts) is
        // swapped for std's locks under Miri (loop_sync's `locks` module).
        &[("MIRIFLAGS", "-Zmiri-disable-isolation -Zmiri-strict-provenance")],
    )
}

/// Model-checks with loom, exploring schedules with up to `preemptions`
/// preemptions (CI runs a small bound): loop-sync's hand-offs, loop-exec's
/// wake-vs-poll race, loop-core's park/notify handshake.
fn loom(preemptions: u32) -> Result<(), String> {
    let bound = preemptions.to_string();
    run_env(
        "cargo",
        &[
            "test",
            "--release",
            "--locked",
            "-p",
            "loop-sync",
            "-p",
            "loop-exec",
            "-p",
            "loop-core",
            "--test",
            "loom",
            "--target-dir",
            "target/loom",
        ],
        &[("RUSTFLAGS", "--cfg loop_loom"), ("LOOM_MAX_PREEMPTIONS", &bound)],
    )
}

/// The long reliability run: the soak (10,000 connections by default) and
/// the cancellation stress test at a million operations, both in release.
fn soak(args: &[String]) -> Result<(), String> {
    let mut soak_args = vec!["run", "--release", "--locked", "-p", "loop-tests", "--bin", "soak", "--"];
    soak_args.extend(args.iter().map(String::as_str));
    run("cargo", &soak_args)?;
    run_env(
        "cargo",
        &["test", "--release", "--locked", "-p", "loop-tests", "--test", "stress", "--", "--nocapture"],
        &[("LOOP_STRESS_OPS", "1000000")],
    )
}

/// Runs `args` (a command and its arguments) with the test servers up.
fn with_services(args: &[String]) -> Result<(), String> {
    let (program, rest) = args.split_first().ok_or("with-services needs a command to run")?;
    let services = services::Services::start();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    run_env(program, &rest, &services.env())
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut cargo_args = vec!["run", "--release", "-p", "loop-bench", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    let out_path = root().join("BENCHMARKS.md");
    let out = out_path.to_str().ok_or("non-UTF-8 path")?.to_string();
    cargo_args.push("--write");
    cargo_args.push(&out);
    // Echo and HTTP on 1 and 2 threads (LoopSet vs tokio multi-thread).
    cargo_args.push("--scaling");
    // Syscalls per echo round trip, when strace is installed.
    let has_strace = Command::new("strace").arg("-V").output().map(|o| o.status.success()).unwrap_or(false);
    if has_strace {
        cargo_args.push("--syscalls");
    } else {
        println!("xtask: strace not found (apt-get install strace): skipping the syscall counts");
    }
    // The HTTP table needs wrk: install it (Debian) when missing.
    let has_wrk = |_: ()| Command::new("wrk").arg("--version").output().is_ok();
    if !has_wrk(()) {
        println!("\n==> apt-get install -y wrk");
        let _ = Command::new("sh")
            .args(["-c", "timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq wrk"])
            .status();
    }
    if has_wrk(()) {
        cargo_args.push("--http");
    } else {
        println!("xtask: wrk could not be installed: skipping the HTTP table");
    }
    // PostgreSQL for the request/response table (native, compat, tokio).
    let services = services::Services::start();
    run_env("cargo", &cargo_args, &services.env())
}
