//! The text of `ps`, `ps --resources` and `pstree`.

use std::fmt::Write;

use crate::analysis::{self, duration_ms, duration_ns, Edge, Lint};
use crate::model::{Loop, Process, Task};
use crate::procfs;

/// How `ps` orders each loop's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By id (spawn order).
    Id,
    /// Busiest first.
    Busy,
    /// Most polled first.
    Polls,
    /// Longest waiting first.
    Waited,
    /// Oldest first.
    Age,
    /// By name.
    Name,
}

impl SortKey {
    /// Parses a `--sort` value.
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "id" => SortKey::Id,
            "busy" => SortKey::Busy,
            "polls" => SortKey::Polls,
            "waited" | "wait" => SortKey::Waited,
            "age" => SortKey::Age,
            "name" => SortKey::Name,
            _ => return None,
        })
    }

    /// Sorts `tasks` by this key.
    pub fn sort(self, tasks: &mut [&Task]) {
        match self {
            SortKey::Id => tasks.sort_by_key(|t| t.id),
            SortKey::Busy => tasks.sort_by_key(|t| (std::cmp::Reverse(t.busy_ns), t.id)),
            SortKey::Polls => tasks.sort_by_key(|t| (std::cmp::Reverse(t.polls), t.id)),
            SortKey::Waited => {
                tasks.sort_by_key(|t| (std::cmp::Reverse(t.wait.as_ref().map_or(0, |w| w.for_ms)), t.id))
            }
            SortKey::Age => tasks.sort_by_key(|t| (std::cmp::Reverse(t.age_ms), t.id)),
            SortKey::Name => tasks.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
        }
    }
}

/// The header line of a loop.
pub fn loop_line(l: &Loop) -> String {
    match l.state.as_str() {
        "answered" => {
            let s = l.stats.as_ref();
            let timers = s.map_or(0, |s| s.timers);
            let next =
                s.and_then(|s| s.next_timer_ms).map_or_else(String::new, |v| format!(" (next in {})", duration_ms(v)));
            format!(
                "{}: {} tasks, {timers} timers{next}, {} polls, {} turns{}",
                l.title(),
                l.tasks.len(),
                s.map_or(0, |s| s.polls),
                s.map_or(0, |s| s.turns),
                if l.clock.as_deref() == Some("paused") { ", paused clock" } else { "" }
            )
        }
        "stuck" => {
            let st = l.stuck.as_ref();
            let what = match st.and_then(|s| Some((s.task?, s.spawned_at.clone()?))) {
                Some((id, at)) => format!("polling task {id}, spawned at {at}"),
                None if st.is_some_and(|s| s.in_callback) => "running a callback".into(),
                None => "in the loop's own code".into(),
            };
            let long = st
                .and_then(|s| s.for_ms)
                .map_or_else(String::new, |v| format!(", this poll has lasted {}", duration_ms(v)));
            format!("{}: STUCK: it did not answer; {what}{long}", l.title())
        }
        _ => format!("{}: not running (its thread is outside run / run_until_complete)", l.title()),
    }
}

/// "what at line" of a task's wait, or "-".
pub fn wait_summary(t: &Task) -> String {
    t.wait.as_ref().map_or_else(|| "-".into(), |w| format!("{} at {}", w.what, w.at))
}

fn wait_text(t: &Task) -> (String, String, String) {
    match &t.wait {
        Some(w) => (w.what.clone(), w.at.clone(), duration_ms(w.for_ms)),
        None => ("-".into(), "-".into(), "-".into()),
    }
}

/// `ps`: one table per loop, then the lints.
pub fn ps(process: &Process, sort: SortKey, lints: &[Lint]) -> String {
    let mut out = String::new();
    let tasks: usize = process.loops.iter().map(|l| l.tasks.len()).sum();
    let _ = writeln!(
        out,
        "process {} ({}): {} loop{}, {tasks} task{}",
        process.pid,
        procfs::command(process.pid),
        process.loops.len(),
        if process.loops.len() == 1 { "" } else { "s" },
        if tasks == 1 { "" } else { "s" },
    );
    for l in &process.loops {
        let _ = writeln!(out, "\n{}", loop_line(l));
        if l.tasks.is_empty() {
            continue;
        }
        let mut rows: Vec<[String; 11]> =
            vec![["ID", "NAME", "STATE", "SPAWNED AT", "WAITS ON", "AT", "FOR", "POLLS", "BUSY", "AGE", "LINT"]
                .map(String::from)];
        let mut sorted: Vec<&Task> = l.tasks.iter().collect();
        sort.sort(&mut sorted);
        for t in sorted {
            let (what, at, long) = wait_text(t);
            let flags: Vec<&str> =
                lints.iter().filter(|x| x.task == Some(t.id) && x.loop_serial == l.serial).map(|x| x.kind).collect();
            rows.push([
                t.id.to_string(),
                t.name.clone().unwrap_or_else(|| "-".into()),
                t.state.clone(),
                t.spawned_at.clone(),
                what,
                at,
                long,
                t.polls.to_string(),
                duration_ns(t.busy_ns),
                duration_ms(t.age_ms),
                if flags.is_empty() { String::new() } else { flags.join(",") },
            ]);
        }
        table(&mut out, &rows);
    }
    lint_lines(&mut out, lints);
    out
}

/// Appends the lints.
pub fn lint_lines(out: &mut String, lints: &[Lint]) {
    if lints.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nlints:");
    for lint in lints {
        let _ = writeln!(out, "  {}: {}", lint.kind, lint.message);
    }
}

/// Left-aligned columns, two spaces apart (the last column unpadded).
fn table(out: &mut String, rows: &[[String; 11]]) {
    let mut widths = [0usize; 11];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// `ps --resources`: what the tasks wait on, grouped.
pub fn resources(process: &Process) -> String {
    let mut out = String::from("\nresources (what tasks wait on):\n");
    let by_id = analysis::tasks_by_id(process);
    let label = |id: u64| by_id.get(&id).map_or_else(|| format!("task {id}"), |(_, t)| t.label());
    let res = analysis::resources(process);
    let holders = analysis::tasks_by_addr(process);
    for kind in ["Lock", "Mutex", "Semaphore", "Queue", "Event", "Condition", "Barrier", "Socket", "ChildExit"] {
        for r in res.iter().filter(|r| r.kind == kind) {
            let waiters = r
                .waiters
                .iter()
                .map(|(_, id, k, at, _)| {
                    let dir = match k.as_str() {
                        "QueueGet" => "get ",
                        "QueuePut" => "put ",
                        "QueueJoin" => "join ",
                        "Readable" => "read ",
                        "Writable" => "write ",
                        _ => "",
                    };
                    format!("{} ({dir}at {at})", label(*id))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let detail = r.waiters.first().map_or(0, |w| w.4);
            let line = match kind {
                "Lock" | "Mutex" => {
                    let holder = match holders.get(&detail) {
                        Some(&id) => format!("held by {}", label(id)),
                        None => "holder unknown (not a live task of this process)".to_owned(),
                    };
                    format!("{kind} {:#x}: {holder}; waiters: {waiters}", r.id)
                }
                "Semaphore" => format!("Semaphore {:#x}: {detail} permits free; waiters: {waiters}", r.id),
                "Queue" => {
                    let getters = r.waiters.iter().filter(|w| w.2 == "QueueGet").count();
                    let putters = r.waiters.iter().filter(|w| w.2 == "QueuePut").count();
                    format!("Queue {:#x}: size {detail}, {getters} getters, {putters} putters: {waiters}", r.id)
                }
                "Socket" => {
                    let what = procfs::describe_fd(process.pid, r.id).unwrap_or_else(|| "?".into());
                    format!("fd {} ({what}): {waiters}", r.id)
                }
                "ChildExit" => format!("child process {}: awaited by {waiters}", r.id),
                _ => format!("{kind} {:#x}: waiters: {waiters}", r.id),
            };
            let _ = writeln!(out, "  {line}");
        }
    }
    for l in &process.loops {
        if let Some(s) = &l.stats {
            let next = s.next_timer_ms.map_or_else(String::new, |v| format!(", next due in {}", duration_ms(v)));
            let _ = writeln!(out, "  timers of loop {}: {}{next}", l.serial, s.timers);
        }
    }
    out
}

/// `pstree`: each task nobody waits for, then what it waits for, nested;
/// then the cycles (whose tasks are all waited for, so they are listed
/// there).
pub fn pstree(process: &Process, edges: &[Edge], cycles: &[Vec<u64>]) -> String {
    let by_id = analysis::tasks_by_id(process);
    let mut out = String::new();
    let _ = writeln!(out, "process {} ({})", process.pid, procfs::command(process.pid));
    let waited: std::collections::HashSet<u64> = edges.iter().map(|e| e.to).collect();
    let describe = |t: &Task| {
        let wait = t.wait.as_ref().map_or_else(
            || t.state.clone(),
            |w| format!("{}, waiting on {} at {} for {}", t.state, w.what, w.at, duration_ms(w.for_ms)),
        );
        format!("{} (spawned at {}): {wait}", t.label(), t.spawned_at)
    };
    fn walk(
        out: &mut String,
        id: u64,
        prefix: &str,
        edges: &[Edge],
        seen: &mut Vec<u64>,
        describe: &dyn Fn(u64) -> String,
    ) {
        let children: Vec<&Edge> = edges.iter().filter(|e| e.from == id).collect();
        for (i, e) in children.iter().enumerate() {
            let last = i + 1 == children.len();
            let branch = if last { "└─ " } else { "├─ " };
            if seen.contains(&e.to) {
                let _ = writeln!(out, "{prefix}{branch}{} task {} (cycle: already above)", e.why, e.to);
                continue;
            }
            let _ = writeln!(out, "{prefix}{branch}{} {}", e.why, describe(e.to));
            seen.push(e.to);
            let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
            walk(out, e.to, &deeper, edges, seen, describe);
            seen.pop();
        }
    }
    let describe_id = |id: u64| by_id.get(&id).map_or_else(|| format!("task {id}"), |(_, t)| describe(t));
    for l in &process.loops {
        let _ = writeln!(out, "\n{}", loop_line(l));
        let mut roots: Vec<&Task> = l.tasks.iter().filter(|t| !waited.contains(&t.id)).collect();
        roots.sort_by_key(|t| t.id);
        for t in roots {
            let _ = writeln!(out, "{}", describe(t));
            let mut seen = vec![t.id];
            walk(&mut out, t.id, "", edges, &mut seen, &describe_id);
        }
    }
    for cycle in cycles {
        let _ = writeln!(out, "\nDEADLOCK: {} tasks wait for each other in a cycle; none can proceed:", cycle.len());
        for (i, id) in cycle.iter().enumerate() {
            let next = cycle[(i + 1) % cycle.len()];
            let Some((loop_serial, t)) = by_id.get(id) else { continue };
            let why = edges
                .iter()
                .find(|e| e.from == *id && e.to == next)
                .map_or_else(|| "waits for".to_owned(), |e| e.why.clone());
            let _ =
                writeln!(out, "  {} (loop {loop_serial}, spawned at {}) {why} task {next}", t.label(), t.spawned_at);
        }
    }
    out
}
