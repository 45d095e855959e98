//! The document a `loop` process sends (protocol 1; written by
//! `loop_exec::inspect`'s snapshot), as the tool reads it.

use serde::Deserialize;

/// One snapshot of a process (the document has more fields than these:
/// `protocol`, and per loop `parks`, `callbacks`, `remote_wakes`, `tasks`).
#[derive(Debug, Clone, Deserialize)]
pub struct Process {
    /// The process.
    pub pid: u32,
    /// Its executable.
    pub program: String,
    /// Its loops, in creation order.
    pub loops: Vec<Loop>,
}

/// One loop: its tasks when it answered, what it is stuck in when not.
#[derive(Debug, Clone, Deserialize)]
pub struct Loop {
    /// Process-wide number, from 1.
    #[serde(rename = "loop")]
    pub serial: u64,
    /// Index in its `LoopSet`.
    pub index: Option<usize>,
    /// The thread it was made on.
    pub thread: String,
    /// `answered`, `stuck` or `not_running`.
    pub state: String,
    /// `real` or `paused`.
    #[serde(default)]
    pub clock: Option<String>,
    /// Counters (when it answered).
    #[serde(default)]
    pub stats: Option<Stats>,
    /// Tasks (when it answered).
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// What it is stuck in (when `stuck`).
    #[serde(default)]
    pub stuck: Option<Stuck>,
}

impl Loop {
    /// "loop 2 (LoopSet index 1, thread loop-1)".
    pub fn title(&self) -> String {
        match self.index {
            Some(i) => format!("loop {} (LoopSet index {i}, thread {})", self.serial, self.thread),
            None => format!("loop {} (thread {})", self.serial, self.thread),
        }
    }
}

/// A loop's counters.
#[derive(Debug, Clone, Deserialize)]
pub struct Stats {
    /// Task polls since the loop was made.
    pub polls: u64,
    /// Turns of the loop.
    pub turns: u64,
    /// Pending timers.
    pub timers: u64,
    /// Milliseconds until the next timer.
    pub next_timer_ms: Option<u64>,
}

/// A loop that did not answer in time.
#[derive(Debug, Clone, Deserialize)]
pub struct Stuck {
    /// The task being polled (`None`: a callback, or the loop's own code).
    pub task: Option<u64>,
    /// Its spawn site.
    pub spawned_at: Option<String>,
    /// In a `call_soon` callback rather than a task.
    pub in_callback: bool,
    /// How long the current poll has lasted, at most (`None`: paused
    /// clock).
    pub for_ms: Option<u64>,
}

/// One task.
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    /// Its id (process-wide).
    pub id: u64,
    /// Its address: the token a lock holds its holder by.
    #[serde(default)]
    pub addr: u64,
    /// Its name.
    pub name: Option<String>,
    /// `running`, `scheduled`, `idle` or `cancelling`.
    pub state: String,
    /// `file:line` of its `spawn`.
    pub spawned_at: String,
    /// Polls so far.
    pub polls: u64,
    /// Time inside its polls (sampled estimate), ns.
    pub busy_ns: u64,
    /// Its longest timed poll, ns.
    pub max_poll_ns: u64,
    /// Since its spawn, ms.
    pub age_ms: u64,
    /// Wakes by itself during its own poll.
    pub self_wakes: u64,
    /// Idle with no waker held anywhere.
    pub lost_waker: bool,
    /// Tasks it waits for.
    #[serde(default)]
    pub joins: Vec<u64>,
    /// What it waits on.
    pub wait: Option<Wait>,
}

impl Task {
    /// `#7 "name"` or `#7`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("task {} \"{name}\"", self.id),
            None => format!("task {}", self.id),
        }
    }
}

/// What a task waits on.
#[derive(Debug, Clone, Deserialize)]
pub struct Wait {
    /// The `WaitKind` (`Lock`, `TaskJoin`, ...).
    pub kind: String,
    /// Its description ("Lock::acquire").
    pub what: String,
    /// `file:line` of the `.await`.
    pub at: String,
    /// Since when, ms.
    pub for_ms: u64,
    /// What exactly (see `loop_sync::WaitTarget`).
    pub resource: u64,
    /// One fact about it (for a lock: its holder's address; see
    /// `analysis::holder`).
    pub detail: u64,
}
