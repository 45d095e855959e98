//! What the tool concludes from a snapshot: the lints, who waits for whom
//! (the await graph), its deadlock cycles, and the resources tasks wait on.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Process, Task};

/// Thresholds of the lints.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// A poll at least this long is slow (ms).
    pub slow_poll_ms: u64,
    /// A task whose self-wakes are at least half its polls, and at least
    /// this many, keeps waking itself.
    pub self_wakes: u64,
    /// A wait is far longer than the others when it is this many times the
    /// median wait, and at least `long_wait_min_ms`.
    pub long_wait_factor: u64,
    /// See `long_wait_factor`.
    pub long_wait_min_ms: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { slow_poll_ms: 100, self_wakes: 10, long_wait_factor: 10, long_wait_min_ms: 10_000 }
    }
}

/// One finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lint {
    /// `lost-waker`, `slow-poll`, `stuck-loop`, `self-wakes`, `long-wait`.
    pub kind: &'static str,
    /// The loop.
    pub loop_serial: u64,
    /// The task, if one.
    pub task: Option<u64>,
    /// What was found, in words.
    pub message: String,
}

/// The live tasks by address: a lock's waits name its holder by that token
/// (`loop_sync::current_task_token`); look it up here, once per snapshot.
pub fn tasks_by_addr(process: &Process) -> HashMap<u64, u64> {
    process.loops.iter().flat_map(|l| &l.tasks).filter(|t| t.addr != 0).map(|t| (t.addr, t.id)).collect()
}

/// Every task, by id, with its loop's number.
pub fn tasks_by_id(process: &Process) -> HashMap<u64, (u64, &Task)> {
    process.loops.iter().flat_map(|l| l.tasks.iter().map(move |t| (t.id, (l.serial, t)))).collect()
}

/// A duration of `ns` for people: "12 s", "1.5 s", "300 ms", "2.5 ms",
/// "40 µs", "80 ns".
pub fn duration_ns(ns: u64) -> String {
    let f = ns as f64;
    match ns {
        10_000_000_000.. => format!("{:.0} s", f / 1e9),
        1_000_000_000.. => format!("{:.1} s", f / 1e9),
        10_000_000.. => format!("{:.0} ms", f / 1e6),
        1_000_000.. => format!("{:.1} ms", f / 1e6),
        1_000.. => format!("{:.0} µs", f / 1e3),
        _ => format!("{ns} ns"),
    }
}

/// A duration of `ms` for people (see `duration_ns`).
pub fn duration_ms(ms: u64) -> String {
    duration_ns(ms.saturating_mul(1_000_000))
}

/// The lints of a snapshot.
pub fn lints(process: &Process, th: &Thresholds) -> Vec<Lint> {
    let mut out = Vec::new();
    let mut waits: Vec<u64> =
        process.loops.iter().flat_map(|l| &l.tasks).filter_map(|t| Some(t.wait.as_ref()?.for_ms)).collect();
    waits.sort_unstable();
    let median = waits.get(waits.len() / 2).copied().unwrap_or(0);
    for l in &process.loops {
        if let Some(stuck) = &l.stuck {
            let what = match (stuck.task, &stuck.spawned_at) {
                (Some(id), Some(at)) => format!("polling task {id} (spawned at {at})"),
                _ if stuck.in_callback => "running a callback".to_owned(),
                _ => "in the loop's own code".to_owned(),
            };
            let how_long = stuck.for_ms.map_or_else(String::new, |v| format!(" for {}", duration_ms(v)));
            out.push(Lint {
                kind: "stuck-loop",
                loop_serial: l.serial,
                task: stuck.task,
                message: format!(
                    "{} did not answer: it has been {what}{how_long}; a poll that blocks its thread stalls every task of the loop",
                    l.title()
                ),
            });
        }
        for t in &l.tasks {
            if t.lost_waker {
                let at = t.wait.as_ref().map_or_else(String::new, |w| format!(" (last wait at {})", w.at));
                out.push(Lint {
                    kind: "lost-waker",
                    loop_serial: l.serial,
                    task: Some(t.id),
                    message: format!(
                        "{} (spawned at {}) is pending but nothing holds a waker for it{at}: it can never run again; \
                         a future returned Pending without keeping cx.waker()",
                        t.label(),
                        t.spawned_at
                    ),
                });
            }
            if t.max_poll_ns >= th.slow_poll_ms * 1_000_000 {
                out.push(Lint {
                    kind: "slow-poll",
                    loop_serial: l.serial,
                    task: Some(t.id),
                    message: format!(
                        "{} (spawned at {}) had a poll of {}, blocking its loop meanwhile{}",
                        t.label(),
                        t.spawned_at,
                        duration_ns(t.max_poll_ns),
                        t.wait.as_ref().map_or_else(String::new, |w| format!("; it then waited at {}", w.at))
                    ),
                });
            }
            if t.self_wakes >= th.self_wakes && t.self_wakes * 2 >= t.polls {
                out.push(Lint {
                    kind: "self-wakes",
                    loop_serial: l.serial,
                    task: Some(t.id),
                    message: format!(
                        "{} (spawned at {}) woke itself in {} of its {} polls: a busy wait (wake_by_ref then Pending) that \
                         keeps its loop spinning",
                        t.label(),
                        t.spawned_at,
                        t.self_wakes,
                        t.polls
                    ),
                });
            }
            if let Some(w) = &t.wait {
                if waits.len() >= 3
                    && w.for_ms >= th.long_wait_min_ms
                    && w.for_ms >= median.saturating_mul(th.long_wait_factor)
                {
                    out.push(Lint {
                        kind: "long-wait",
                        loop_serial: l.serial,
                        task: Some(t.id),
                        message: format!(
                            "{} has waited on {} at {} for {}, far longer than the others (median {})",
                            t.label(),
                            w.what,
                            w.at,
                            duration_ms(w.for_ms),
                            duration_ms(median)
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Why one task waits for another.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The waiting task.
    pub from: u64,
    /// The task it waits for.
    pub to: u64,
    /// "awaits its result" or "waits for Lock 0x.. it holds".
    pub why: String,
}

/// Who waits for whom: joins, and locks to their holders.
pub fn edges(process: &Process) -> Vec<Edge> {
    let alive = tasks_by_id(process);
    let holders = tasks_by_addr(process);
    let mut out = Vec::new();
    for l in &process.loops {
        for t in &l.tasks {
            let mut seen = HashSet::new();
            let mut joins = t.joins.clone();
            if let Some(w) = &t.wait {
                if w.kind == "TaskJoin" && w.resource != 0 && !joins.contains(&w.resource) {
                    joins.push(w.resource);
                }
                let is_lock = matches!(w.kind.as_str(), "Lock" | "Mutex");
                let holder = if is_lock { holders.get(&w.detail).copied() } else { None };
                if let Some(holder) = holder.filter(|&h| h != t.id && seen.insert(h)) {
                    out.push(Edge {
                        from: t.id,
                        to: holder,
                        why: format!("waits on {} at {} for the lock {:#x}, held by", w.what, w.at, w.resource),
                    });
                }
            }
            for j in joins {
                if j != t.id && alive.contains_key(&j) && seen.insert(j) {
                    let at = t.wait.as_ref().map_or_else(String::new, |w| format!(" at {}", w.at));
                    out.push(Edge { from: t.id, to: j, why: format!("awaits{at} the result of") });
                }
            }
        }
    }
    out
}

/// The deadlock cycles: sets of tasks that wait for each other in a ring,
/// none of them scheduled or running (strongly connected parts of the
/// graph). Each cycle is listed in wait order.
pub fn cycles(process: &Process, edges: &[Edge]) -> Vec<Vec<u64>> {
    let tasks = tasks_by_id(process);
    let blocked = |id: &u64| tasks.get(id).is_some_and(|(_, t)| t.state == "idle");
    let mut next: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for e in edges {
        if blocked(&e.from) && blocked(&e.to) {
            next.entry(e.from).or_default().push(e.to);
        }
    }
    // Tarjan's strongly connected components, iteratively.
    let mut index = HashMap::new();
    let mut low = HashMap::new();
    let mut on_stack = HashSet::new();
    let mut stack = Vec::new();
    let mut counter = 0u64;
    let mut out = Vec::new();
    let nodes: Vec<u64> = next.keys().copied().collect();
    for &root in &nodes {
        if index.contains_key(&root) {
            continue;
        }
        let mut work: Vec<(u64, usize)> = vec![(root, 0)];
        while let Some((v, i)) = work.pop() {
            if i == 0 {
                index.insert(v, counter);
                low.insert(v, counter);
                counter += 1;
                stack.push(v);
                on_stack.insert(v);
            }
            let succ = next.get(&v).map_or(&[][..], |s| s.as_slice());
            if let Some(&w) = succ.get(i) {
                work.push((v, i + 1));
                if !index.contains_key(&w) {
                    work.push((w, 0));
                } else if on_stack.contains(&w) {
                    let lw = index[&w].min(low[&v]);
                    low.insert(v, lw);
                }
                continue;
            }
            if let Some(&(parent, _)) = work.last() {
                let lv = low[&v].min(low[&parent]);
                low.insert(parent, lv);
            }
            if low[&v] == index[&v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack.remove(&w);
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                let self_loop = next.get(&v).is_some_and(|s| s.contains(&v));
                if comp.len() > 1 || self_loop {
                    out.push(order_cycle(comp, &next));
                }
            }
        }
    }
    out
}

/// Orders a strongly connected set along its edges, from its smallest id.
fn order_cycle(mut comp: Vec<u64>, next: &BTreeMap<u64, Vec<u64>>) -> Vec<u64> {
    comp.sort_unstable();
    let members: HashSet<u64> = comp.iter().copied().collect();
    let mut ordered = vec![comp[0]];
    let mut seen: HashSet<u64> = ordered.iter().copied().collect();
    while ordered.len() < comp.len() {
        let last = *ordered.last().expect("not empty");
        let step = next.get(&last).and_then(|s| s.iter().find(|n| members.contains(n) && !seen.contains(n)));
        match step {
            Some(&n) => {
                ordered.push(n);
                seen.insert(n);
            }
            None => {
                // Not a single ring: list the rest by id.
                ordered.extend(comp.iter().filter(|n| !seen.contains(n)));
                break;
            }
        }
    }
    ordered
}

/// The resources tasks wait on, grouped: kind, resource, and its waiters.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The `WaitKind` family: `Lock`, `Semaphore`, `Queue`, `Event`, ...
    pub kind: String,
    /// The resource's id (address, fd, pid).
    pub id: u64,
    /// The waiters: (loop, task id, wait kind, line, detail).
    pub waiters: Vec<(u64, u64, String, String, u64)>,
}

/// Groups the waits by what they are on.
pub fn resources(process: &Process) -> Vec<Resource> {
    let mut by: BTreeMap<(String, u64), Resource> = BTreeMap::new();
    for l in &process.loops {
        for t in &l.tasks {
            let Some(w) = &t.wait else { continue };
            if w.resource == 0 || w.kind == "TaskJoin" {
                continue;
            }
            let family = match w.kind.as_str() {
                "QueueGet" | "QueuePut" | "QueueJoin" => "Queue",
                "Readable" | "Writable" => "Socket",
                other => other,
            }
            .to_owned();
            by.entry((family.clone(), w.resource))
                .or_insert_with(|| Resource { kind: family, id: w.resource, waiters: Vec::new() })
                .waiters
                .push((l.serial, t.id, w.kind.clone(), w.at.clone(), w.detail));
        }
    }
    by.into_values().collect()
}
