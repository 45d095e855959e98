//! `loop-inspect`: see into a running `loop` program from outside, by PID.
//!
//! ```text
//! loop-inspect list                     the PIDs of your processes that run a loop
//! loop-inspect ps PID [--sort KEY] [--resources] [--json] [--slow-poll MS]
//! loop-inspect pstree PID [--json]      who waits for whom; deadlocks (exit status 2)
//! loop-inspect top PID [--batch [--iterations N]]
//! ```
//!
//! It attaches to the endpoint every `loop` process opens (see
//! `loop_exec::inspect`): no rebuild, no restart, no ptrace.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(unix)]
mod analysis;
#[cfg(unix)]
mod attach;
#[cfg(unix)]
mod model;
#[cfg(unix)]
mod procfs;
#[cfg(unix)]
mod render;
#[cfg(unix)]
mod top;

use std::process::ExitCode;

#[cfg(unix)]
use analysis::Thresholds;
#[cfg(unix)]
use render::SortKey;

/// The endpoint is Unix-only for now.
#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("loop-inspect: this platform has no loop inspector endpoint yet (Linux, macOS and FreeBSD do)");
    ExitCode::from(1)
}

#[cfg(unix)]
const USAGE: &str = "\
loop-inspect: see into a running `loop` program, by PID

usage:
  loop-inspect list                      PIDs of your processes that run a loop
  loop-inspect ps PID [options]          every task: state, spawn line, what it waits on and where
      --sort id|busy|polls|waited|age|name   order of each loop's tasks (default id)
      --resources                        also the locks, semaphores, queues, sockets, timers, children waited on
      --json                             the snapshot as JSON, with the lints
      --slow-poll MS                     the slow-poll lint's threshold (default 100)
  loop-inspect pstree PID [--json]       who waits for whom; exits with 2 when tasks deadlock
  loop-inspect top PID [--batch [--iterations N]]
                                         live view, refreshed every second (q quits, s sorts,
                                         arrows and enter open a task); --batch prints text frames

exit status: 0 fine, 1 could not inspect, 2 deadlock found (pstree), 64 bad usage";

#[cfg(unix)]
/// A command line that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("{0}\n\n{USAGE}")]
struct Usage(String);

#[cfg(unix)]
enum Command {
    List,
    Ps { pid: u32, sort: SortKey, resources: bool, json: bool, thresholds: Thresholds },
    Pstree { pid: u32, json: bool },
    Top { pid: u32, batch: bool, iterations: u32 },
    Help,
}

#[cfg(unix)]
fn parse(args: &[String]) -> Result<Command, Usage> {
    let Some(sub) = args.first() else { return Err(Usage("missing a command".into())) };
    if matches!(sub.as_str(), "-h" | "--help" | "help") {
        return Ok(Command::Help);
    }
    if sub == "list" {
        return Ok(Command::List);
    }
    let pid_arg = args.get(1).ok_or_else(|| Usage(format!("`{sub}` needs a PID")))?;
    let pid: u32 = pid_arg.parse().map_err(|_| Usage(format!("`{pid_arg}` is not a PID (a positive number)")))?;
    let mut rest = args[2..].iter();
    let mut sort = SortKey::Id;
    let (mut resources, mut json, mut batch) = (false, false, false);
    let mut iterations = 5;
    let mut thresholds = Thresholds::default();
    while let Some(flag) = rest.next() {
        let mut value = |name: &str| rest.next().cloned().ok_or_else(|| Usage(format!("{name} needs a value")));
        match (sub.as_str(), flag.as_str()) {
            ("ps", "--sort") => {
                let v = value("--sort")?;
                sort = SortKey::parse(&v).ok_or_else(|| Usage(format!("unknown sort key `{v}`")))?;
            }
            ("ps", "--resources") => resources = true,
            ("ps" | "pstree", "--json") => json = true,
            ("ps", "--slow-poll") => {
                let v = value("--slow-poll")?;
                thresholds.slow_poll_ms = v.parse().map_err(|_| Usage(format!("`{v}` is not a number of ms")))?;
            }
            ("top", "--batch") => batch = true,
            ("top", "--iterations") => {
                let v = value("--iterations")?;
                iterations = v.parse().map_err(|_| Usage(format!("`{v}` is not a count")))?;
            }
            _ => return Err(Usage(format!("`{sub}` does not take `{flag}`"))),
        }
    }
    match sub.as_str() {
        "ps" => Ok(Command::Ps { pid, sort, resources, json, thresholds }),
        "pstree" => Ok(Command::Pstree { pid, json }),
        "top" => Ok(Command::Top { pid, batch, iterations }),
        other => Err(Usage(format!("unknown command `{other}`"))),
    }
}

#[cfg(unix)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loop-inspect: {e}");
            return ExitCode::from(64);
        }
    };
    match run(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loop-inspect: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(unix)]
fn run(command: Command) -> Result<ExitCode, attach::AttachError> {
    match command {
        Command::Help => println!("{USAGE}"),
        Command::List => {
            let pids = procfs::loop_pids();
            if pids.is_empty() {
                println!("no process of yours runs a loop with the inspector on");
            }
            for pid in pids {
                println!("{pid:>8}  {}", procfs::command(pid));
            }
        }
        Command::Ps { pid, sort, resources, json, thresholds } => {
            let (process, raw) = attach::snapshot(pid)?;
            let lints = analysis::lints(&process, &thresholds);
            if json {
                let mut value: serde_json::Value = serde_json::from_str(&raw).expect("parsed once already");
                value["lints"] = serde_json::to_value(&lints).expect("lints serialize");
                println!("{value}");
            } else {
                print!("{}", render::ps(&process, sort, &lints));
                if resources {
                    print!("{}", render::resources(&process));
                }
            }
        }
        Command::Pstree { pid, json } => {
            let (process, raw) = attach::snapshot(pid)?;
            let edges = analysis::edges(&process);
            let cycles = analysis::cycles(&process, &edges);
            if json {
                let mut value: serde_json::Value = serde_json::from_str(&raw).expect("parsed once already");
                value["edges"] =
                    edges.iter().map(|e| serde_json::json!({"from": e.from, "to": e.to, "why": e.why})).collect();
                value["deadlocks"] = serde_json::to_value(&cycles).expect("cycles serialize");
                println!("{value}");
            } else {
                print!("{}", render::pstree(&process, &edges, &cycles));
            }
            if !cycles.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Top { pid, batch, iterations } => {
            if batch {
                top::batch(pid, iterations)?;
            } else {
                top::interactive(pid)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
