//! Runs the same workloads on `loop`, tokio (`current_thread` + `LocalSet`)
//! and smol (`LocalExecutor`) in one process and prints ns per operation and
//! the ratios. `cargo xtask bench` runs it and writes `BENCHMARKS.md`.
//!
//! Flags: `--quick` (fewer repetitions), `--smoke` (tiny sizes, for CI: only
//! checks that every workload runs), `--write PATH` (write the Markdown
//! report), `--only NAME` (one workload; `--only cost` for the bookkeeping
//! cost table alone; `--only inspector` for the inspector endpoint's;
//! `--only fs` for the files table, `--only http-client` for the HTTP
//! client's). For profiling under `wrk`: `--serve RT` (the HTTP table's
//! one-thread server) and `--serve-scaling loop|tokio THREADS` (the
//! scaling table's). The report keeps its hand-written notes: everything
//! from the `NOTES_MARKER` line on.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod alloc_count;
mod chart;
mod coop;
mod fs_workloads;
mod http;
mod http_client;
mod inspector_cost;
mod multi_workloads;
mod net_workloads;
mod pg;
mod scaling;
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
    /// Run only these workloads (names, comma-separated).
    only: Option<String>,
    /// Run one runtime (`loop`, `tokio`, `smol`, `floor`) once with `n`
    /// operations and print only its number: what `--syscalls` runs under
    /// strace and the cold-process table runs in fresh processes.
    single: Option<(String, usize)>,
    /// Count syscalls per operation of the I/O workloads with `strace -c -f`.
    syscalls: bool,
    /// Run the HTTP table (hyper on each runtime, driven by `wrk`).
    http: bool,
    /// Run the scaling table (1 and 2 threads, echo and HTTP).
    scaling: bool,
}

fn parse() -> Options {
    let mut o = Options {
        reps: 7,
        scale: 1.0,
        write: None,
        only: None,
        single: None,
        syscalls: false,
        http: false,
        scaling: false,
    };
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
            "--single" => {
                let rt = args.next().unwrap_or_default();
                let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
                o.single = Some((rt, n));
            }
            "--syscalls" => o.syscalls = true,
            "--http" => o.http = true,
            "--scaling" => o.scaling = true,
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
    /// The hand-written `polling` loop's number, for I/O workloads.
    floor: Option<f64>,
}

/// The middle value (the upper one of an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    alloc_count::pin_malloc_thresholds();
    // `--serve RT`: only run RT's HTTP server (for strace / perf while
    // wrk drives it); prints the address, serves until killed.
    if let Some(rt) = std::env::args().skip_while(|a| a != "--serve").nth(1) {
        println!("{}", http::start(&rt));
        loop {
            std::thread::park();
        }
    }
    if let Some(i) = std::env::args().position(|a| a == "--serve-scaling") {
        let args: Vec<String> = std::env::args().skip(i + 1).collect();
        let threads = args.get(1).and_then(|n| n.parse().ok()).expect("--serve-scaling loop|tokio THREADS");
        scaling::serve_only(&args[0], threads);
    }
    if let Some(i) = std::env::args().position(|a| a == "--inspector-child") {
        let args: Vec<String> = std::env::args().skip(i + 1).collect();
        inspector_cost::child(&args[0], args[1].parse().expect("n"), &args[2]);
        return;
    }
    // `--chart-from FILE.md`: the chart of the main table recorded in FILE
    // (FILE.svg beside it), without running anything.
    if let Some(md) = std::env::args().skip_while(|a| a != "--chart-from").nth(1) {
        let text = std::fs::read_to_string(&md).expect("read the report");
        let ratios = chart::ratios_of_table(&text);
        assert!(!ratios.is_empty(), "{md} has no `| workload | unit | loop | tokio | smol |` table");
        let svg_path = std::path::Path::new(&md).with_extension("svg");
        std::fs::write(&svg_path, chart::svg(&ratios, "loop against its peers (same run)")).expect("write the chart");
        println!("wrote {} ({} workloads)", svg_path.display(), ratios.len());
        return;
    }
    let opts = parse();
    if let Some((rt, n)) = &opts.single {
        run_single(opts.only.as_deref().unwrap_or(""), rt, *n);
        return;
    }
    // First, on a fresh heap: its numbers compare with the spawn and yield
    // rows below (after the I/O workloads the same runs measure slower).
    let cost = if matches!(opts.only.as_deref(), None | Some("cost")) && opts.single.is_none() {
        let [(sw, so, sr), (yw, yo, yr)] = workloads::introspection_cost(opts.reps);
        let text = format!(
            "\nPer-task bookkeeping (`Builder::introspection`), loop runs with and without it alternating (cost: median of the back-to-back pairs' ratios):\n\n\
             | workload | with | without | cost |\n| --- | ---: | ---: | ---: |\n\
             | spawn 100k, ns/task | {sw:.0} | {so:.0} | {:+.1}% |\n| yield 200x1,000, ns/yield | {yw:.1} | {yo:.1} | {:+.1}% |\n",
            (sr - 1.0) * 100.0,
            (yr - 1.0) * 100.0
        );
        print!("{text}");
        text
    } else {
        String::new()
    };
    let inspector = if matches!(opts.only.as_deref(), None | Some("inspector")) && opts.scale >= 1.0 {
        inspector_cost::table(opts.reps)
    } else {
        String::new()
    };
    let fs = if matches!(opts.only.as_deref(), None | Some("fs")) {
        fs_workloads::table(opts.reps, opts.scale)
    } else {
        String::new()
    };
    let coop = if matches!(opts.only.as_deref(), None | Some("coop")) { coop::table(opts.reps) } else { String::new() };
    let pg = if matches!(opts.only.as_deref(), None | Some("pg")) && opts.scale >= 1.0 {
        pg::table(opts.reps)
    } else {
        String::new()
    };
    let http_client = if matches!(opts.only.as_deref(), None | Some("http-client")) {
        http_client::table(opts.reps, opts.scale)
    } else {
        String::new()
    };
    let mut rows = Vec::new();
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .chain(sync_workloads::SYNC_WORKLOADS)
        .chain(net_workloads::NET_WORKLOADS)
        .chain(multi_workloads::MULTI_WORKLOADS)
        .filter(|w| opts.only.as_deref().is_none_or(|o| o.split(',').any(|name| name == w.name)))
        .collect();
    for (index, w) in selected.iter().copied().enumerate() {
        // Where the run is, on stderr (the table goes to stdout).
        let progress = |rep: usize| {
            eprintln!("[{}/{}] {}: repetition {rep}/{}", index + 1, selected.len(), w.name, opts.reps);
        };
        let n = ((w.n as f64) * opts.scale).max(10.0) as usize;
        // Warm every runtime up once at full size (so no runtime pays for
        // faulting in fresh heap pages that the next one then reuses: the
        // first runtime of a row was measured on a cold heap before). Then
        // the repetitions take turns, in a rotating order: this shared
        // machine has slow and fast phases minutes long, and all of one
        // runtime's repetitions in a row could fall into one phase and
        // the next runtime's into the other.
        for rt in RUNTIMES {
            let _ = (w.run)(*rt, n);
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); RUNTIMES.len()];
        for rep in 0..opts.reps {
            progress(rep + 1);
            for k in 0..RUNTIMES.len() {
                let i = (rep + k) % RUNTIMES.len();
                samples[i].push((w.run)(RUNTIMES[i], n));
            }
        }
        let values: Vec<f64> = samples.into_iter().map(median).collect();
        let floor = net_workloads::floor(w.name, n).map(|_| {
            let _ = net_workloads::floor(w.name, n.min(1000));
            median((0..opts.reps).map(|_| net_workloads::floor(w.name, n).unwrap()).collect())
        });
        let row = Row { workload: w, values, floor };
        print_row(&row);
        rows.push(row);
    }
    let cold = if opts.only.is_none() && opts.scale >= 1.0 { cold_table() } else { String::new() };
    let syscalls = if opts.syscalls { syscall_table(&rows) } else { String::new() };
    let http =
        if opts.http { http::http_table(opts.reps, if opts.scale < 1.0 { 1 } else { 3 }) } else { String::new() };
    let scaling = if opts.scaling || opts.scale < 1.0 {
        // The smoke run (CI) takes a short look, without wrk.
        let (reps, seconds) = if opts.scale < 1.0 { (1, 0.2) } else { (opts.reps, 2.0) };
        scaling::scaling_table(reps, seconds, opts.http)
    } else {
        String::new()
    };
    if let Some(path) = &opts.write {
        let mut md = markdown(&rows, &opts);
        md.push_str(&cost);
        md.push_str(&inspector);
        md.push_str(&fs);
        md.push_str(&http_client);
        md.push_str(&coop);
        md.push_str(&pg);
        md.push_str(&cold);
        md.push_str(&syscalls);
        md.push_str(&http);
        md.push_str(&scaling);
        md.push_str(&kept_notes(path));
        std::fs::write(path, md).expect("write the report");
        println!("wrote {path}");
        if !rows.is_empty() {
            let ratios: Vec<chart::Ratios> = rows
                .iter()
                .map(|r| (r.workload.title.to_string(), r.values[1] / r.values[0], r.values[2] / r.values[0]))
                .collect();
            let svg_path = std::path::Path::new(path).with_extension("svg");
            std::fs::write(&svg_path, chart::svg(&ratios, "loop against its peers (same run)"))
                .expect("write the chart");
            println!("wrote {}", svg_path.display());
        }
    }
}

/// The line of the report from which on the text is written by hand (the
/// A/Bs and findings of each change): a new run keeps it and everything
/// after it.
const NOTES_MARKER: &str = "<!-- Notes written by hand from here on: `cargo xtask bench` keeps them. -->";

/// The hand-written notes of the report at `path` (from [`NOTES_MARKER`]
/// on), or just the marker when there are none yet.
fn kept_notes(path: &str) -> String {
    notes_of(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The notes part of a report's text: a blank line, then the marker and
/// everything after it (or the marker alone).
fn notes_of(old: &str) -> String {
    match old.find(NOTES_MARKER) {
        Some(at) => format!("\n{}", &old[at..]),
        None => format!("\n{NOTES_MARKER}\n"),
    }
}

fn print_row(row: &Row) {
    let w = row.workload;
    let cells: Vec<String> =
        RUNTIMES.iter().zip(&row.values).map(|(rt, v)| format!("{}={:.0}", rt.name(), v)).collect();
    let floor =
        row.floor.map(|f| format!("  floor={f:.0} (loop at {:.0}% of the floor's time)", row.values[0] / f * 100.0));
    println!("{:<44} {:<8} {}  {}{}", w.title, w.unit, cells.join("  "), ratio_text(row), floor.unwrap_or_default());
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
    s.push_str("same process: each is warmed up once, then their repetitions take turns (in rotating order);\n");
    s.push_str("each number is the median of the repetitions. Lower is better. *vs best* is the best peer's\n");
    s.push_str("number divided by ours: above 1.00 we are faster. This shared 2-core machine (a VM) has slow\n");
    s.push_str("and fast phases minutes long, in which whole runs move by 5-40% and the multi-thread rows most:\n");
    s.push_str("compare the ratios within one run rather than numbers across runs.\n\n");
    s.push_str("The process pins glibc's trim and mmap thresholds (`mallopt`) before anything runs, for all\n");
    s.push_str("three runtimes alike: with glibc's moving defaults, whether freed pages went back to the OS\n");
    s.push_str("after a run depended on allocation order, so repeated runs of one runtime re-faulted ~14 MB\n");
    s.push_str("(half of its spawn time) while another's kept theirs. The table below therefore measures a\n");
    s.push_str("warm heap; the first-run table further down measures each runtime cold, in fresh processes.\n\n");
    s.push_str(&format!("Date: {date}. Machine: {cpu}, {cores} cores. {rustc}. Repetitions: {}.\n\n", opts.reps));
    s.push_str("![loop's ratio to tokio and to smol per workload](BENCHMARKS.svg)\n\n");
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
    let io_rows: Vec<_> = rows.iter().filter(|r| r.floor.is_some()).collect();
    if !io_rows.is_empty() {
        s.push_str("\nI/O against the floor (a hand-written `polling` loop on the same sockets, one thread):\n\n");
        s.push_str("| workload | floor ns/rt | loop ns/rt | loop round trips/s | loop vs floor | tokio vs floor | smol vs floor |\n");
        s.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for row in io_rows {
            let f = row.floor.unwrap();
            s.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.0} | {:+.1}% | {:+.1}% | {:+.1}% |\n",
                row.workload.title,
                f,
                row.values[0],
                1e9 / row.values[0],
                (row.values[0] / f - 1.0) * 100.0,
                (row.values[1] / f - 1.0) * 100.0,
                (row.values[2] / f - 1.0) * 100.0
            ));
        }
    }
    s.push_str("\nWorkloads:\n\n");
    for row in rows {
        s.push_str(&format!("- **{}**: {}\n", row.workload.title, row.workload.about));
    }
    s
}

/// Runs one workload on one runtime (or the floor) once, for strace.
fn run_single(name: &str, rt: &str, n: usize) {
    let w = WORKLOADS
        .iter()
        .chain(sync_workloads::SYNC_WORKLOADS)
        .chain(net_workloads::NET_WORKLOADS)
        .chain(multi_workloads::MULTI_WORKLOADS)
        .find(|w| w.name == name)
        .expect("--single needs --only WORKLOAD");
    match rt {
        "floor" => drop(net_workloads::floor(name, n)),
        _ => {
            let rt = RUNTIMES.iter().find(|r| r.name() == rt).expect("runtime: loop, tokio, smol or floor");
            println!("{}", (w.run)(*rt, n));
        }
    }
}

/// Workloads whose first run in a fresh process is worth a number of its own:
/// they allocate a lot, so a cold heap (page faults) weighs on them.
const COLD_WORKLOADS: [&str; 3] = ["spawn", "chain", "sleep-fire"];

/// First-run numbers: each runtime runs the workload once in a fresh
/// process (median of five processes), so nobody profits from pages
/// another run faulted in.
fn cold_table() -> String {
    let exe = std::env::current_exe().expect("own path");
    let mut s = String::from(
        "\nFirst run in a fresh process (cold heap: page faults included), median of 5 processes:\n\n\
         | workload | unit | loop | tokio | smol | vs best peer |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
    );
    for name in COLD_WORKLOADS {
        let w = WORKLOADS.iter().find(|w| w.name == name).expect("a cold workload");
        let values: Vec<f64> = RUNTIMES
            .iter()
            .map(|rt| {
                let runs = (0..5).map(|_| {
                    let out = std::process::Command::new(&exe)
                        .args(["--only", name, "--single", rt.name(), &w.n.to_string()])
                        .output()
                        .expect("run the benchmark binary");
                    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap_or(f64::NAN)
                });
                median(runs.collect())
            })
            .collect();
        let best_peer = values[1].min(values[2]);
        let line = format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2}x |\n",
            w.title,
            w.unit,
            values[0],
            values[1],
            values[2],
            best_peer / values[0]
        );
        print!("cold: {line}");
        s.push_str(&line);
    }
    s
}

/// Total syscalls of `self --only name --single rt n`, counted by strace.
fn count_syscalls(name: &str, rt: &str, n: usize) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("loop-bench-strace-{}-{name}-{rt}-{n}", std::process::id()));
    let status = std::process::Command::new("strace")
        .arg("-f")
        .arg("-c")
        .arg("-o")
        .arg(&out)
        .arg(&exe)
        .args(["--only", name, "--single", rt, &n.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    // The summary's last line: "100.00 ... total" with the call count in
    // the fourth column.
    let total = text.lines().rev().find(|l| l.trim_end().ends_with("total"))?;
    total.split_whitespace().nth(3)?.parse().ok()
}

/// Syscalls per round trip of each I/O workload, for every runtime and the
/// floor: (calls(n) - calls(n/10)) / (n - n/10), so start-up cancels out.
fn syscall_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "\nSyscalls per round trip (`strace -c -f`, start-up subtracted by differencing two run lengths):\n\n\
         | workload | loop | tokio | smol | floor |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows.iter().filter(|r| r.floor.is_some()) {
        let name = row.workload.name;
        let n = if name == "echo50" { 20_000 } else { 2_000 };
        let per = |rt: &str| -> String {
            match (count_syscalls(name, rt, n), count_syscalls(name, rt, n / 10)) {
                (Some(a), Some(b)) if a > b => format!("{:.2}", (a - b) as f64 / (n - n / 10) as f64),
                _ => "n/a".into(),
            }
        };
        let line = format!(
            "| {} | {} | {} | {} | {} |\n",
            row.workload.title,
            per("loop"),
            per("tokio"),
            per("smol"),
            per("floor")
        );
        print!("syscalls: {line}");
        s.push_str(&line);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{notes_of, NOTES_MARKER};

    #[test]
    fn a_rewritten_report_keeps_its_notes_once_and_drops_the_old_tables() {
        let notes = "## A finding\n\nMeasured by hand.\n";
        let old = format!("# Benchmarks\n\n| old table |\n\n{NOTES_MARKER}\n{notes}");
        let new = format!("# Benchmarks\n\n| new table |\n{}", notes_of(&old));
        assert_eq!(new, format!("# Benchmarks\n\n| new table |\n\n{NOTES_MARKER}\n{notes}"));
        // A second run keeps them again, once.
        assert_eq!(notes_of(&new), notes_of(&old));
        assert_eq!(new.matches(NOTES_MARKER).count(), 1);
    }

    #[test]
    fn a_report_without_notes_gets_the_marker() {
        assert_eq!(notes_of("# Benchmarks\n| table |\n"), format!("\n{NOTES_MARKER}\n"));
        assert_eq!(notes_of(""), format!("\n{NOTES_MARKER}\n"));
    }
}
