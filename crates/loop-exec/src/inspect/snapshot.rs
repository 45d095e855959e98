//! What the inspector sends: one JSON document describing every loop of
//! the process. Each loop writes its own part on its own thread (its tasks
//! are only touched there); the endpoint's thread puts the parts together
//! and, for a loop that does not answer in time, writes what its
//! [`Beacon`](super::beacon::Beacon) says instead.
//!
//! The document (protocol 1), read by `loop-inspect`:
//!
//! ```text
//! { "protocol": 1, "pid": 4242, "program": "/usr/bin/app",
//!   "loops": [
//!     { "loop": 1, "index": 0, "thread": "main", "state": "answered", "clock": "real",
//!       "stats": { "polls", "turns", "parks", "callbacks", "remote_wakes",
//!                  "tasks", "timers", "next_timer_ms" },
//!       "tasks": [ { "id", "addr", "name", "state", "spawned_at", "polls", "busy_ns",
//!                    "max_poll_ns", "age_ms", "self_wakes", "lost_waker", "joins" (if any),
//!                    "wait": { "kind", "what", "at", "for_ms", "resource", "detail" } } ] },
//!     { "loop": 2, "index": 1, "thread": "loop-1", "state": "stuck",
//!       "stuck": { "task": 7, "spawned_at": "src/main.rs:9", "in_callback": false, "for_ms": 5012 } },
//!     { "loop": 3, "index": null, "thread": "worker", "state": "not_running" } ] }
//! ```

use std::fmt::Write;
use std::panic::Location;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::beacon::{BeaconReading, IN_CALLBACK};
use super::directory::{self, LoopLabel};
use super::json;
use super::pieces::Pieces;
use crate::event_loop::core::LoopCore;
use crate::event_loop::shared::Remote;
use crate::task::TaskState;

/// How long a request waits for the loops' answers before it calls the
/// silent ones stuck. A loop answers at its next turn; one busy in a long
/// poll does not, and the request still returns well within a second.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_millis(300);

/// The version of the document; the tool refuses others.
pub(crate) const PROTOCOL: u32 = super::PROTOCOL;

fn site(out: &mut String, at: &'static Location<'static>) {
    json::string(out, &format!("{}:{}", at.file(), at.line()));
}

/// Appends `"loop": .., "index": .., "thread": ..,`.
fn label(out: &mut String, label: &LoopLabel) {
    let _ = write!(out, "\"loop\":{},\"index\":", label.serial);
    match label.index {
        Some(i) => {
            let _ = write!(out, "{i}");
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"thread\":");
    json::string(out, &label.thread);
}

/// A loop's part, written on its own thread. Each task is written into one
/// small reused buffer, then copied into `pieces` (outside the heap: see
/// `pieces.rs`).
pub(crate) fn write_loop(pieces: &mut Pieces, name: &LoopLabel, core: &LoopCore) {
    let mut line = String::with_capacity(1024);
    let out = &mut line;
    out.push('{');
    label(out, name);
    let paused = core.timers().is_paused();
    let _ = write!(out, ",\"state\":\"answered\",\"clock\":\"{}\"", if paused { "paused" } else { "real" });
    let stats = core.stats();
    let _ = write!(
        out,
        ",\"stats\":{{\"polls\":{},\"turns\":{},\"parks\":{},\"callbacks\":{},\"remote_wakes\":{},\"tasks\":{},\"timers\":{},\"next_timer_ms\":",
        stats.polls, stats.turns, stats.parks, stats.callbacks, stats.remote_wakes, stats.tasks_alive, stats.timers_pending
    );
    match core.timers().next_timer_in_ms() {
        Some(ms) => {
            let _ = write!(out, "{ms}}}");
        }
        None => out.push_str("null}"),
    }
    out.push_str(",\"tasks\":[");
    let introspection = core.introspection();
    let now_tick = core.timers().tick_of(core.timers().now());
    let current = introspection.current();
    let mut first = true;
    core.registry().for_each(|task| {
        pieces.push_str(out);
        out.clear();
        let header = task.header();
        let info = introspection.info(header, current == Some(task.as_ptr()), now_tick);
        let meta = &header.meta;
        if !first {
            out.push(',');
        }
        first = false;
        let state = match info.state {
            TaskState::Running => "running",
            TaskState::Scheduled => "scheduled",
            TaskState::Idle => "idle",
            TaskState::Cancelling => "cancelling",
        };
        // The address: a `Lock` names its holder by it (the token of
        // `loop_sync::current_task_token`).
        let _ = write!(out, "{{\"id\":{},\"addr\":{},\"name\":", info.id.as_u64(), task.as_ptr().addr());
        json::opt_string(out, info.name.as_deref());
        let _ = write!(out, ",\"state\":\"{state}\",\"spawned_at\":");
        site(out, info.location);
        let word = header.state.load();
        // Nothing but the registry and the handle holds the task: no
        // waker of it exists, so nothing can wake it.
        let lost_waker = info.state == TaskState::Idle && word.refs() <= 1 + usize::from(word.has_handle());
        let _ = write!(
            out,
            ",\"polls\":{},\"busy_ns\":{},\"max_poll_ns\":{},\"age_ms\":{},\"self_wakes\":{},\"lost_waker\":{lost_waker}",
            info.polls,
            info.busy.as_nanos(),
            meta.max_poll_ns(),
            info.age.as_millis(),
            meta.self_wakes(),
        );
        let joins = meta.joins();
        if !joins.is_empty() {
            out.push_str(",\"joins\":[");
            for (i, id) in joins.iter().enumerate() {
                let _ = write!(out, "{}{id}", if i > 0 { "," } else { "" });
            }
            out.push(']');
        }
        out.push_str(",\"wait\":");
        match info.waiting {
            Some(wait) => {
                let target = meta.waiting_target();
                let _ = write!(out, "{{\"kind\":\"{:?}\",\"what\":", wait.kind);
                json::string(out, wait.kind.describe());
                out.push_str(",\"at\":");
                site(out, wait.location);
                let _ = write!(
                    out,
                    ",\"for_ms\":{},\"resource\":{},\"detail\":{}}}",
                    wait.waited.as_millis(),
                    target.resource,
                    target.detail
                );
            }
            None => out.push_str("null"),
        }
        out.push('}');
    });
    out.push_str("]}");
    pieces.push_str(out);
}

/// The part of a loop that did not answer: what its beacon says.
pub(crate) fn write_silent_loop(out: &mut String, name: &LoopLabel, reading: &BeaconReading) {
    out.push('{');
    label(out, name);
    if !reading.running {
        out.push_str(",\"state\":\"not_running\"}");
        return;
    }
    out.push_str(",\"state\":\"stuck\",\"stuck\":{\"task\":");
    match reading.polling {
        Some(id) if id != IN_CALLBACK => {
            let _ = write!(out, "{id}");
        }
        _ => out.push_str("null"),
    }
    out.push_str(",\"spawned_at\":");
    match reading.site {
        Some(at) => site(out, at),
        None => out.push_str("null"),
    }
    let _ = write!(out, ",\"in_callback\":{},\"for_ms\":", reading.polling == Some(IN_CALLBACK));
    match reading.since_turn_ms {
        Some(ms) => {
            let _ = write!(out, "{ms}");
        }
        None => out.push_str("null"),
    }
    out.push_str("}}");
}

/// The document's head, up to the opening of `"loops"`.
pub(crate) fn write_head(out: &mut String) {
    let _ = write!(out, "{{\"protocol\":{PROTOCOL},\"pid\":{},\"program\":", std::process::id());
    let program = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    json::string(out, &program);
    out.push_str(",\"loops\":[");
}

/// Asks every running loop for its part, waits up to `ANSWER_WITHIN`, and
/// writes the document.
pub(crate) fn snapshot_document() -> Pieces {
    let loops = directory::live();
    let (tx, rx) = mpsc::channel::<(usize, Pieces)>();
    let mut parts: Vec<Option<Pieces>> = std::iter::repeat_with(|| None).take(loops.len()).collect();
    let mut asked = 0;
    for (i, (label, shared)) in loops.iter().enumerate() {
        if !shared.beacon.read().running || !shared.beacon.begin_request() {
            continue;
        }
        let tx = tx.clone();
        let label = label.clone();
        let beacon_owner = shared.clone();
        shared.push_remote(Remote::Call(Box::new(move || {
            beacon_owner.beacon.end_request();
            let mut pieces = Pieces::default();
            crate::event_loop::current::with_current(|core| write_loop(&mut pieces, &label, core));
            let _ = tx.send((i, pieces));
        })));
        asked += 1;
    }
    drop(tx);
    let deadline = Instant::now() + ANSWER_WITHIN;
    while asked > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, part)) if part.chunks().next().is_some() => {
                parts[i] = Some(part);
                asked -= 1;
            }
            Ok(_) => asked -= 1,
            Err(_) => break,
        }
    }
    let mut out = String::new();
    write_head(&mut out);
    let mut pieces = Pieces::default();
    for (i, (label, shared)) in loops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match parts[i].take() {
            Some(part) => {
                pieces.push_str(&out);
                out.clear();
                pieces.append(part);
            }
            None => write_silent_loop(&mut out, label, &shared.beacon.read()),
        }
    }
    out.push_str("]}");
    pieces.push_str(&out);
    pieces
}
