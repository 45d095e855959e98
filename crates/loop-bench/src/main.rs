//! Runs the same workloads on `loop`, tokio (`current_thread` + `LocalSet`)
//! and smol (`LocalExecutor`) in one process and prints ns per operation and
//! the ratios. `cargo xtask bench` runs it and writes `BENCHMARKS.md`.
//!
//! Flags: `--quick` (fewer repetitions), `--smoke` (tiny sizes, for CI: only
//! checks that every workload runs), `--write PATH` (write the Markdown
//! report), `--only NAME` (one workload).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod alloc_count;
mod sync_workloads;
mod workloads;

use workloads::{Workload, RUNTIMES, WORKLOADS};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// Benchmark options from the command line.
struct Options {
    reps: usize,
    scale: f64,
    write: Option<String>,
    only: Option<String>,
}

fn parse() -> Options {
    let mut o = Options { reps: 7, scale: 1.0, write: None, only: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.reps = 3,
            "--smoke" => {
                o.reps = 1;
                o.scale = 0.01;
            }
            "--write" => o.write = args.next(),
            "--only" => o.only = args.next(),
            other => {
                eprintln!("loop-bench: unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    o
}

/// One row of results: ns/op (or bytes/task) per runtime.
struct Row {
    workload: &'static Workload,
    values: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let opts = parse();
    let mut rows = Vec::new();
    for w in WORKLOADS.iter().chain(sync_workloads::SYNC_WORKLOADS) {
        if opts.only.as_deref().is_some_and(|o| o != w.name) {
            continue;
        }
        let n = ((w.n as f64) * opts.scale).max(10.0) as usize;
        let mut values = Vec::new();
        for rt in RUNTIMES {
            // Warm up once, then take the median of the repetitions; the
            // runtimes take turns so drift on the machine hits all alike.
            let _ = (w.run)(*rt, n.min(1000));
            let samples: Vec<f64> = (0..opts.reps).map(|_| (w.run)(*rt, n)).collect();
            values.push(median(samples));
        }
        let row = Row { workload: w, values };
        print_row(&row);
        rows.push(row);
    }
    if let Some(path) = &opts.write {
        let md = markdown(&rows, &opts);
        std::fs::write(path, md).expect("write the report");
        println!("wrote {path}");
    }
}

fn print_row(row: &Row) {
    let w = row.workload;
    let cells: Vec<String> =
        RUNTIMES.iter().zip(&row.values).map(|(rt, v)| format!("{}={:.0}", rt.name(), v)).collect();
    println!("{:<44} {:<8} {}  {}", w.title, w.unit, cells.join("  "), ratio_text(row));
}

/// Best peer divided by ours: above 1 means we are faster (or smaller).
fn ratio(row: &Row) -> f64 {
    let ours = row.values[0];
    let best_peer = row.values[1..].iter().copied().fold(f64::INFINITY, f64::min);
    best_peer / ours
}

fn ratio_text(row: &Row) -> String {
    let vs_tokio = row.values[1] / row.values[0];
    format!("loop is {:.2}x the best peer, {:.2}x tokio", ratio(row), vs_tokio)
}

fn markdown(rows: &[Row], opts: &Options) -> String {
    let date = std::process::Command::new("date").arg("-u").arg("+%Y-%m-%d").output().ok();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let rustc = std::process::Command::new("rustc").arg("--version").output().ok();
    let rustc = rustc.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let mut s = String::new();
    s.push_str("# Benchmarks\n\n");
    s.push_str("Written by `cargo xtask bench` (crate `loop-bench`). Every workload runs on our loop, tokio\n");
    s.push_str("(`current_thread` runtime + `LocalSet`) and smol (`LocalExecutor` under `smol::block_on`) in the\n");
    s.push_str("same process, one after the other; each number is the median of the repetitions. Lower is\n");
    s.push_str("better. *vs best* is the best peer's number divided by ours: above 1.00 we are faster.\n\n");
    s.push_str(&format!("Date: {date}. Machine: {cpu}, {cores} cores. {rustc}. Repetitions: {}.\n\n", opts.reps));
    s.push_str("| workload | unit | loop | tokio | smol | vs best peer | vs tokio |\n");
    s.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for row in rows {
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.2}x |\n",
            row.workload.title,
            row.workload.unit,
            row.values[0],
            row.values[1],
            row.values[2],
            ratio(row),
            row.values[1] / row.values[0]
        ));
    }
    s.push_str("\nWorkloads:\n\n");
    for row in rows {
        s.push_str(&format!("- **{}**: {}\n", row.workload.title, row.workload.about));
    }
    s
}
