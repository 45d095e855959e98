//! `top PID`: a live view, refreshed every second. Busiest tasks first,
//! each loop's load, polls per second; keys to sort and to open a task.
//! `--batch` prints the same frames as text (for scripts and tests).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Wrap};

use crate::analysis::{self, duration_ms, duration_ns, Thresholds};
use crate::attach::{self, AttachError};
use crate::model::{Process, Task};
use crate::render::{loop_line, wait_summary};

/// How the task rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Busy,
    Polls,
    Waited,
    Id,
}

impl Order {
    fn next(self) -> Order {
        match self {
            Order::Busy => Order::Polls,
            Order::Polls => Order::Waited,
            Order::Waited => Order::Id,
            Order::Id => Order::Busy,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Order::Busy => "busy/s",
            Order::Polls => "polls/s",
            Order::Waited => "waited",
            Order::Id => "id",
        }
    }
}

/// One refresh: the snapshot, and rates since the previous one.
struct Frame {
    process: Process,
    /// Per task: (polls/s, busy ns/s).
    rates: HashMap<u64, (f64, f64)>,
    /// Per loop: polls/s.
    loop_rates: HashMap<u64, f64>,
    lints: Vec<analysis::Lint>,
}

struct Sampler {
    pid: u32,
    last: Option<(Instant, Process)>,
}

impl Sampler {
    fn sample(&mut self) -> Result<Frame, AttachError> {
        let (process, _) = attach::snapshot(self.pid)?;
        let now = Instant::now();
        let mut rates = HashMap::new();
        let mut loop_rates = HashMap::new();
        if let Some((then, before)) = &self.last {
            let secs = now.duration_since(*then).as_secs_f64().max(1e-3);
            let old: HashMap<u64, &Task> = before.loops.iter().flat_map(|l| &l.tasks).map(|t| (t.id, t)).collect();
            for l in &process.loops {
                for t in &l.tasks {
                    let (p0, b0) = old.get(&t.id).map_or((0, 0), |o| (o.polls, o.busy_ns));
                    rates.insert(
                        t.id,
                        (t.polls.saturating_sub(p0) as f64 / secs, t.busy_ns.saturating_sub(b0) as f64 / secs),
                    );
                }
                let prev = before.loops.iter().find(|b| b.serial == l.serial).and_then(|b| b.stats.as_ref());
                if let (Some(now_s), Some(prev)) = (&l.stats, prev) {
                    loop_rates.insert(l.serial, now_s.polls.saturating_sub(prev.polls) as f64 / secs);
                }
            }
        }
        let lints = analysis::lints(&process, &Thresholds::default());
        self.last = Some((now, process.clone()));
        Ok(Frame { process, rates, loop_rates, lints })
    }
}

fn ordered(frame: &Frame, order: Order) -> Vec<(u64, &Task)> {
    let mut tasks: Vec<(u64, &Task)> =
        frame.process.loops.iter().flat_map(|l| l.tasks.iter().map(move |t| (l.serial, t))).collect();
    let rate = |t: &Task| frame.rates.get(&t.id).copied().unwrap_or((0.0, 0.0));
    match order {
        Order::Busy => tasks.sort_by(|a, b| rate(b.1).1.total_cmp(&rate(a.1).1).then(a.1.id.cmp(&b.1.id))),
        Order::Polls => tasks.sort_by(|a, b| rate(b.1).0.total_cmp(&rate(a.1).0).then(a.1.id.cmp(&b.1.id))),
        Order::Waited => tasks.sort_by_key(|(_, t)| (std::cmp::Reverse(t.wait.as_ref().map_or(0, |w| w.for_ms)), t.id)),
        Order::Id => tasks.sort_by_key(|(_, t)| t.id),
    }
    tasks
}

fn loop_lines(frame: &Frame) -> Vec<String> {
    frame
        .process
        .loops
        .iter()
        .map(|l| match frame.loop_rates.get(&l.serial) {
            Some(r) => format!("{} — {r:.0} polls/s", loop_line(l)),
            None => loop_line(l),
        })
        .collect()
}

/// Prints `iterations` frames as text, one second apart.
pub fn batch(pid: u32, iterations: u32) -> Result<(), AttachError> {
    let mut sampler = Sampler { pid, last: None };
    for i in 0..iterations.max(1) {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let frame = sampler.sample()?;
        println!("--- loop-inspect top {pid} (frame {})", i + 1);
        for line in loop_lines(&frame) {
            println!("{line}");
        }
        println!("      ID   LOOP    POLLS/S     BUSY/S STATE       SPAWNED AT                   WAITS ON");
        for (serial, t) in ordered(&frame, Order::Busy).into_iter().take(20) {
            let (pr, br) = frame.rates.get(&t.id).copied().unwrap_or((0.0, 0.0));
            let wait = wait_summary(t);
            println!(
                "{:>8} {:>6} {:>10.0} {:>10} {:<11} {:<28} {wait}",
                t.id,
                serial,
                pr,
                duration_ns(br as u64),
                t.state,
                t.spawned_at
            );
        }
        for lint in &frame.lints {
            println!("lint {}: {}", lint.kind, lint.message);
        }
    }
    Ok(())
}

/// The interactive view; returns when the user quits (q, Esc or Ctrl-C).
pub fn interactive(pid: u32) -> Result<(), AttachError> {
    let mut sampler = Sampler { pid, last: None };
    let mut frame = sampler.sample()?;
    let mut terminal = ratatui::init();
    let result = run(&mut terminal, &mut sampler, &mut frame);
    ratatui::restore();
    result
}

fn run(terminal: &mut ratatui::DefaultTerminal, sampler: &mut Sampler, frame: &mut Frame) -> Result<(), AttachError> {
    let mut order = Order::Busy;
    let mut table = TableState::default().with_selected(Some(0));
    let mut detail: Option<u64> = None;
    let mut next_sample = Instant::now() + Duration::from_secs(1);
    let pid = sampler.pid;
    let io = |source| AttachError::Io { pid, source };
    loop {
        let rows = ordered(frame, order);
        terminal
            .draw(|f| {
                let areas = Layout::vertical([
                    Constraint::Length(frame.process.loops.len() as u16 + 2),
                    Constraint::Min(5),
                    Constraint::Length(if detail.is_some() { 10 } else { 0 }),
                    Constraint::Length(frame.lints.len().min(5) as u16 + 2),
                    Constraint::Length(1),
                ])
                .split(f.area());
                let loops: Vec<Line> = loop_lines(frame).into_iter().map(Line::from).collect();
                f.render_widget(
                    Paragraph::new(loops).block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title(format!(" loop-inspect top {} — {} ", frame.process.pid, frame.process.program)),
                    ),
                    areas[0],
                );
                let body: Vec<Row> = rows
                    .iter()
                    .map(|(serial, t)| {
                        let (pr, br) = frame.rates.get(&t.id).copied().unwrap_or((0.0, 0.0));
                        let wait = wait_summary(t);
                        Row::new(vec![
                            t.id.to_string(),
                            serial.to_string(),
                            t.name.clone().unwrap_or_default(),
                            format!("{pr:.0}"),
                            duration_ns(br as u64),
                            t.state.clone(),
                            t.spawned_at.clone(),
                            wait,
                        ])
                    })
                    .collect();
                let widths = [
                    Constraint::Length(7),
                    Constraint::Length(4),
                    Constraint::Length(14),
                    Constraint::Length(9),
                    Constraint::Length(9),
                    Constraint::Length(10),
                    Constraint::Length(28),
                    Constraint::Min(20),
                ];
                let header = Row::new(["ID", "LOOP", "NAME", "POLLS/S", "BUSY/S", "STATE", "SPAWNED AT", "WAITS ON"])
                    .style(Style::default().add_modifier(Modifier::BOLD));
                f.render_stateful_widget(
                    Table::new(body, widths)
                        .header(header)
                        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
                        .block(Block::default().borders(Borders::ALL).title(format!(" tasks, by {} ", order.name()))),
                    areas[1],
                    &mut table,
                );
                if let Some(id) = detail {
                    let text = match rows.iter().find(|(_, t)| t.id == id) {
                        Some((serial, t)) => task_detail(*serial, t),
                        None => vec![format!("task {id} has finished")],
                    };
                    f.render_widget(
                        Paragraph::new(text.into_iter().map(Line::from).collect::<Vec<_>>())
                            .wrap(Wrap { trim: false })
                            .block(Block::default().borders(Borders::ALL).title(" task ")),
                        areas[2],
                    );
                }
                let lints: Vec<Line> =
                    frame.lints.iter().take(5).map(|l| Line::from(format!("{}: {}", l.kind, l.message))).collect();
                f.render_widget(
                    Paragraph::new(lints).block(Block::default().borders(Borders::ALL).title(" lints ")),
                    areas[3],
                );
                f.render_widget(
                    Paragraph::new("q quit · s sort · ↑↓ select · enter open/close task · refreshed every second"),
                    areas[4],
                );
            })
            .map_err(io)?;
        let wait = next_sample.saturating_duration_since(Instant::now());
        if event::poll(wait).map_err(io)? {
            if let Event::Key(key) = event::read().map_err(io)? {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let ctrl_c = key.code == KeyCode::Char('c')
                    && key.modifiers.contains(ratatui::crossterm::event::KeyModifiers::CONTROL);
                match key.code {
                    KeyCode::Char('q') => return Ok(()),
                    _ if ctrl_c => return Ok(()),
                    KeyCode::Esc if detail.is_some() => detail = None,
                    KeyCode::Esc => return Ok(()),
                    KeyCode::Char('s') => order = order.next(),
                    KeyCode::Down => table.select_next(),
                    KeyCode::Up => table.select_previous(),
                    KeyCode::Enter => {
                        let picked = table.selected().and_then(|i| rows.get(i)).map(|(_, t)| t.id);
                        detail = if detail.is_some() && detail == picked { None } else { picked };
                    }
                    _ => {}
                }
            }
        } else {
            *frame = sampler.sample()?;
            next_sample = Instant::now() + Duration::from_secs(1);
        }
    }
}

fn task_detail(serial: u64, t: &Task) -> Vec<String> {
    let mut lines = vec![
        format!("{} on loop {serial}: {}", t.label(), t.state),
        format!("spawned at {}, {} ago", t.spawned_at, duration_ms(t.age_ms)),
        format!(
            "{} polls, busy {} (longest timed poll {}), {} self-wakes",
            t.polls,
            duration_ns(t.busy_ns),
            duration_ns(t.max_poll_ns),
            t.self_wakes
        ),
    ];
    if let Some(w) = &t.wait {
        lines.push(format!("waits on {} at {} for {}", w.what, w.at, duration_ms(w.for_ms)));
    }
    if !t.joins.is_empty() {
        lines.push(format!("awaits tasks {:?}", t.joins));
    }
    if t.lost_waker {
        lines.push("LOST WAKER: nothing holds a waker for this task".into());
    }
    lines
}
