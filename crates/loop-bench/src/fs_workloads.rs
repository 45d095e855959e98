//! Files: `loop::fs` against tokio::fs and async-fs (`smol::fs`), on the
//! same files in the same run. Each runtime runs on one thread with its
//! own blocking pool (tokio's current-thread runtime, smol's `block_on`).
//! The files live in memory, so the numbers are the runtimes' cost, not
//! the disk's: the small files, the tree and the files written in
//! `/dev/shm` (a tmpfs, where there is one; on this machine's disk,
//! creating 1,000 files waits on the journal, 100% iowait, and every
//! runtime measures the same), the large file in the temporary
//! directory's page cache (read once first: a hot file on a disk
//! filesystem, the common case; tmpfs's own read path is twice as slow
//! and would hide the runtimes' differences behind it).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use r#loop as aio;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::workloads::{Runtime, RUNTIMES};

/// The files the workloads read: made once per process.
struct Fixture {
    dir: PathBuf,
    /// `small/0..SMALL_FILES`, 4 KiB each.
    small: Vec<PathBuf>,
    /// One large file.
    large: PathBuf,
    /// `tree/`: directories of files, `tree_entries` entries in all.
    tree: PathBuf,
    tree_entries: usize,
}

const SMALL_FILE: usize = 4096;

fn fixture(scale: f64) -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let dir = base.join(format!("loop-bench-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("small")).unwrap();
        let files = ((1000.0 * scale) as usize).max(10);
        let small: Vec<PathBuf> = (0..files)
            .map(|i| {
                let p = dir.join("small").join(i.to_string());
                std::fs::write(&p, vec![i as u8; SMALL_FILE]).unwrap();
                p
            })
            .collect();
        let large = std::env::temp_dir().join(format!("loop-bench-fs-large-{}", std::process::id()));
        let mib = ((100.0 * scale) as usize).max(2);
        let block: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 7) as u8).collect();
        let mut f = std::fs::File::create(&large).unwrap();
        for _ in 0..mib {
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
        drop(f);
        // 100 directories of 99 files: 10,000 entries with the directories.
        let tree = dir.join("tree");
        let dirs = ((100.0 * scale.sqrt()) as usize).max(3);
        for d in 0..dirs {
            let sub = tree.join(format!("d{d}"));
            std::fs::create_dir_all(&sub).unwrap();
            for f in 0..dirs - 1 {
                std::fs::write(sub.join(format!("f{f}")), b"x").unwrap();
            }
        }
        let tree_entries = dirs * dirs;
        // Into the page cache.
        for p in &small {
            std::fs::read(p).unwrap();
        }
        std::fs::read(&large).unwrap();
        Fixture { dir, small, large, tree, tree_entries }
    })
}

/// One fs workload: returns ns per unit of work.
struct FsWorkload {
    title: &'static str,
    unit: &'static str,
    run: fn(Runtime, &Fixture) -> f64,
}

const FS_WORKLOADS: &[FsWorkload] = &[
    FsWorkload { title: "read 1,000 files of 4 KiB concurrently", unit: "µs/file", run: read_many },
    FsWorkload {
        title: "read a 100 MiB file, 8 KiB at a time",
        unit: "µs/MiB",
        run: |rt, f| read_large(rt, f, 8 << 10),
    },
    FsWorkload {
        title: "read a 100 MiB file, 1 MiB at a time",
        unit: "µs/MiB",
        run: |rt, f| read_large(rt, f, 1 << 20),
    },
    FsWorkload { title: "walk a 10,000-entry tree with metadata", unit: "µs/entry", run: walk },
    FsWorkload { title: "write 1,000 files of 4 KiB concurrently", unit: "µs/file", run: write_many },
];

fn micros_per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn on_loop(f: impl std::future::Future<Output = f64>) -> f64 {
    aio::run(f)
}

fn on_tokio(f: impl std::future::Future<Output = f64>) -> f64 {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn read_many(rt: Runtime, fx: &Fixture) -> f64 {
    let paths = fx.small.clone();
    let n = paths.len();
    match rt {
        Runtime::Loop => on_loop(async move {
            let start = Instant::now();
            let tasks: Vec<_> = paths.into_iter().map(|p| aio::spawn(aio::fs::read(p))).collect();
            for t in tasks {
                assert_eq!(t.await.unwrap().unwrap().len(), SMALL_FILE);
            }
            micros_per(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = paths.into_iter().map(|p| tokio::spawn(tokio::fs::read(p))).collect();
            for t in tasks {
                assert_eq!(t.await.unwrap().unwrap().len(), SMALL_FILE);
            }
            micros_per(start, n)
        }),
        Runtime::Smol => smol::block_on(async move {
            let ex = smol::LocalExecutor::new();
            ex.run(async {
                let start = Instant::now();
                let tasks: Vec<_> = paths.into_iter().map(|p| ex.spawn(smol::fs::read(p))).collect();
                for t in tasks {
                    assert_eq!(t.await.unwrap().len(), SMALL_FILE);
                }
                micros_per(start, n)
            })
            .await
        }),
    }
}

fn read_large(rt: Runtime, fx: &Fixture, chunk: usize) -> f64 {
    let path = fx.large.clone();
    let expect = std::fs::metadata(&path).unwrap().len() as usize;
    let mib = expect >> 20;
    let check = move |total: usize| assert_eq!(total, expect, "read the whole file");
    match rt {
        Runtime::Loop => on_loop(async move {
            let start = Instant::now();
            let mut file = aio::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0u8; chunk];
            let mut total = 0;
            loop {
                match file.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => total += n,
                }
            }
            check(total);
            micros_per(start, mib)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let mut file = tokio::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0u8; chunk];
            let mut total = 0;
            loop {
                match file.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => total += n,
                }
            }
            check(total);
            micros_per(start, mib)
        }),
        Runtime::Smol => smol::block_on(async move {
            let start = Instant::now();
            let mut file = smol::fs::File::open(&path).await.unwrap();
            let mut buf = vec![0u8; chunk];
            let mut total = 0;
            loop {
                match file.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => total += n,
                }
            }
            check(total);
            micros_per(start, mib)
        }),
    }
}

fn walk(rt: Runtime, fx: &Fixture) -> f64 {
    let root = fx.tree.clone();
    let expect = fx.tree_entries;
    match rt {
        Runtime::Loop => on_loop(async move {
            let start = Instant::now();
            let (mut stack, mut seen, mut bytes) = (vec![root], 0, 0u64);
            while let Some(dir) = stack.pop() {
                let mut entries = aio::fs::read_dir(&dir).await.unwrap();
                while let Some(entry) = entries.next_entry().await.unwrap() {
                    let metadata = entry.metadata().await.unwrap();
                    seen += 1;
                    bytes += metadata.len();
                    if metadata.is_dir() {
                        stack.push(entry.path());
                    }
                }
            }
            assert_eq!(seen, expect);
            std::hint::black_box(bytes);
            micros_per(start, seen)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let (mut stack, mut seen, mut bytes) = (vec![root], 0, 0u64);
            while let Some(dir) = stack.pop() {
                let mut entries = tokio::fs::read_dir(&dir).await.unwrap();
                while let Some(entry) = entries.next_entry().await.unwrap() {
                    let metadata = entry.metadata().await.unwrap();
                    seen += 1;
                    bytes += metadata.len();
                    if metadata.is_dir() {
                        stack.push(entry.path());
                    }
                }
            }
            assert_eq!(seen, expect);
            std::hint::black_box(bytes);
            micros_per(start, seen)
        }),
        Runtime::Smol => smol::block_on(async move {
            let start = Instant::now();
            let (mut stack, mut seen, mut bytes) = (vec![root], 0, 0u64);
            while let Some(dir) = stack.pop() {
                let mut entries = smol::fs::read_dir(&dir).await.unwrap();
                while let Some(entry) = entries.try_next().await.unwrap() {
                    let metadata = entry.metadata().await.unwrap();
                    seen += 1;
                    bytes += metadata.len();
                    if metadata.is_dir() {
                        stack.push(entry.path());
                    }
                }
            }
            assert_eq!(seen, expect);
            std::hint::black_box(bytes);
            micros_per(start, seen)
        }),
    }
}

/// Each runtime writes into a fresh directory of its own.
fn out_dir(fx: &Fixture, rt: Runtime) -> PathBuf {
    let dir = fx.dir.join(format!("out-{}", rt.name()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_many(rt: Runtime, fx: &Fixture) -> f64 {
    let n = fx.small.len();
    let dir = out_dir(fx, rt);
    let paths: Vec<PathBuf> = (0..n).map(|i| dir.join(i.to_string())).collect();
    let data = vec![7u8; SMALL_FILE];
    let us = match rt {
        Runtime::Loop => on_loop(async move {
            let start = Instant::now();
            let tasks: Vec<_> = paths
                .into_iter()
                .map(|p| {
                    let data = data.clone();
                    aio::spawn(async move {
                        let mut file = aio::fs::File::create(p).await?;
                        file.write_all(&data).await?;
                        file.flush().await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            micros_per(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = paths
                .into_iter()
                .map(|p| {
                    let data = data.clone();
                    tokio::spawn(async move {
                        let mut file = tokio::fs::File::create(p).await?;
                        file.write_all(&data).await?;
                        file.flush().await
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            micros_per(start, n)
        }),
        Runtime::Smol => smol::block_on(async move {
            let ex = smol::LocalExecutor::new();
            ex.run(async {
                let start = Instant::now();
                let tasks: Vec<_> = paths
                    .into_iter()
                    .map(|p| {
                        let data = data.clone();
                        ex.spawn(async move {
                            let mut file = smol::fs::File::create(p).await?;
                            file.write_all(&data).await?;
                            file.flush().await
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                micros_per(start, n)
            })
            .await
        }),
    };
    check_written(&dir, n);
    us
}

fn check_written(dir: &Path, n: usize) {
    let count = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().metadata().unwrap().len() == SMALL_FILE as u64)
        .count();
    assert_eq!(count, n, "every file written in full");
}

/// The table: per workload, each runtime's median, and our ratio to
/// tokio and to async-fs as the median of `reps` back-to-back rounds
/// (runtimes in rotating order), with the rounds' spread.
pub fn table(reps: usize, scale: f64) -> String {
    let fx = fixture(scale);
    let mut md = format!(
        "\nFiles (`loop::fs`, tokio::fs, async-fs; each on one thread with its blocking pool; files in memory: tmpfs, and the page cache for the large file; {reps} rounds, ratio = peer's time / ours, median [min-max] of the rounds):\n\n\
         | workload | unit | loop | tokio | async-fs | vs tokio | vs async-fs |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for w in FS_WORKLOADS {
        for rt in RUNTIMES {
            let _ = (w.run)(*rt, fx);
        }
        let mut times: Vec<[f64; 3]> = Vec::new();
        for rep in 0..reps {
            let mut round = [0.0; 3];
            for k in 0..RUNTIMES.len() {
                let i = (rep + k) % RUNTIMES.len();
                round[i] = (w.run)(RUNTIMES[i], fx);
            }
            times.push(round);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let col = |i: usize| median(times.iter().map(|t| t[i]).collect()).0;
        let (vt, vt_lo, vt_hi) = median(times.iter().map(|t| t[1] / t[0]).collect());
        let (vs, vs_lo, vs_hi) = median(times.iter().map(|t| t[2] / t[0]).collect());
        let row = format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {vt:.2}x [{vt_lo:.2}-{vt_hi:.2}] | {vs:.2}x [{vs_lo:.2}-{vs_hi:.2}] |\n",
            w.title,
            w.unit,
            col(0),
            col(1),
            col(2)
        );
        print!("{row}");
        md.push_str(&row);
    }
    let _ = std::fs::remove_dir_all(&fx.dir);
    let _ = std::fs::remove_file(&fx.large);
    md
}
