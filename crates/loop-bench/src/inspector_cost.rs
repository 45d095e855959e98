//! What the inspector endpoint costs a program nobody inspects: spawn and
//! yield in child processes with the endpoint ready (its thread started,
//! the loops publishing what they poll) against `LOOP_INSPECT=0`, in
//! alternating pairs. Two kinds of process: one that already has another
//! thread (a service with a blocking pool or a `LoopSet`), and a
//! single-threaded one, where the endpoint's thread also moves glibc's
//! `malloc` off its single-thread path (which is why a single-threaded
//! process only starts it after a second: see `loop_exec::inspect`).

use std::process::Command;

/// Child mode: runs `workload` (n ops) five times on our loop and prints
/// the best ns/op. `mode`: `threaded` (another thread exists first) or
/// `single`.
pub fn child(workload: &str, n: usize, mode: &str) {
    if mode == "threaded" {
        std::thread::spawn(|| loop {
            std::thread::park();
        });
    }
    // Bind the endpoint and, when on, start its thread now (as it is after
    // a second of running).
    drop(r#loop::EventLoop::new().expect("a loop"));
    r#loop::inspect::__start_thread_now();
    let w = crate::workloads::WORKLOADS.iter().find(|w| w.name == workload).expect("a workload");
    let best = (0..5).map(|_| (w.run)(crate::workloads::Runtime::Loop, n)).fold(f64::INFINITY, f64::min);
    println!("{best}");
}

fn run_child(workload: &str, n: usize, mode: &str, on: bool) -> f64 {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--inspector-child", workload, &n.to_string(), mode]);
    if !on {
        cmd.env("LOOP_INSPECT", "0");
    }
    let out = cmd.output().expect("run the benchmark binary");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN)
}

/// The table: per process kind and workload, medians and the pairs'
/// ratio (median, min-max of at least 9 pairs).
pub fn table(reps: usize) -> String {
    let mut s = String::from(
        "\nInspector endpoint: *with* = ready (thread started, nobody attached), *without* = `LOOP_INSPECT=0`. Child \
         processes in alternating pairs (each the best of 5 runs; cost: median of the pairs' ratios, with their \
         range):\n\n\
         | process | workload | with | without | cost | range |\n| --- | --- | ---: | ---: | ---: | --- |\n",
    );
    for (label, mode) in [("with other threads", "threaded"), ("single-threaded", "single")] {
        for (workload, n) in [("spawn", 100_000), ("yield", 200_000)] {
            let mut on = Vec::new();
            let mut off = Vec::new();
            let mut ratios = Vec::new();
            for k in 0..(2 * reps).max(15) {
                let (a, b) = if k % 2 == 0 {
                    let a = run_child(workload, n, mode, true);
                    (a, run_child(workload, n, mode, false))
                } else {
                    let b = run_child(workload, n, mode, false);
                    (run_child(workload, n, mode, true), b)
                };
                on.push(a);
                off.push(b);
                ratios.push(a / b);
            }
            ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let line = format!(
                "| {} | {workload} (ns/op) | {:.1} | {:.1} | {:+.1}% | {:+.1}% .. {:+.1}% |\n",
                label,
                crate::median(on),
                crate::median(off),
                (crate::median(ratios.clone()) - 1.0) * 100.0,
                (ratios[0] - 1.0) * 100.0,
                (ratios[ratios.len() - 1] - 1.0) * 100.0,
            );
            print!("inspector: {line}");
            s.push_str(&line);
        }
    }
    s
}
