//! Real servers for the library tests and recipes: PostgreSQL and Redis,
//! installed with apt when missing, each started on a free 127.0.0.1 port
//! under a temporary directory, and stopped (with the directory removed)
//! when [`Services`] is dropped.
//!
//! The tests find them through the environment:
//! - `LOOP_TEST_POSTGRES`: a tokio-postgres connection string;
//! - `LOOP_TEST_POSTGRES_RESTART`: a shell command that restarts the
//!   server (for the test of a restart mid-query);
//! - `LOOP_TEST_REDIS`: `127.0.0.1:<port>`.
//!
//! A server that cannot be had is a loud warning, and its tests skip,
//! saying so (as Miri's run does when Miri cannot be installed).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The servers started, and how to reach them.
pub struct Services {
    dir: PathBuf,
    postgres: Option<Postgres>,
    redis: Option<Child>,
    env: Vec<(String, String)>,
}

struct Postgres {
    /// `pg_ctl`, run as the `postgres` user when we are root.
    pg_ctl: PathBuf,
    data: PathBuf,
}

impl Services {
    /// Installs (when missing) and starts PostgreSQL and Redis.
    pub fn start() -> Services {
        let dir = std::env::temp_dir().join(format!("loop-services-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory for the servers");
        let mut services = Services { dir, postgres: None, redis: None, env: Vec::new() };
        match services.start_postgres() {
            Ok(()) => {}
            Err(e) => warn(&format!("PostgreSQL: {e}")),
        }
        match services.start_redis() {
            Ok(()) => {}
            Err(e) => warn(&format!("Redis: {e}")),
        }
        services
    }

    /// Whether the server behind the variable `var` runs.
    pub fn has(&self, var: &str) -> bool {
        self.env.iter().any(|(k, _)| k == var)
    }

    /// The environment the tests and recipes read.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn start_postgres(&mut self) -> Result<(), String> {
        let bin = match postgres_bin() {
            Some(bin) => bin,
            None => {
                apt_install("postgresql");
                postgres_bin().ok_or("not installed, and `apt-get install postgresql` did not install it")?
            }
        };
        let data = self.dir.join("postgres");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let as_root = is_root();
        if as_root {
            // PostgreSQL refuses to run as root: its files belong to the
            // `postgres` user the Debian package made.
            status(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.dir))?;
        }
        let port = free_port()?;
        let initdb = bin.join("initdb");
        let data_s = data.to_str().ok_or("non-UTF-8 temp path")?;
        status(as_postgres(as_root, &initdb).args([
            "-D",
            data_s,
            "-U",
            "loop",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        let options = format!("-p {port} -k {data_s} -c listen_addresses=127.0.0.1 -c fsync=off");
        let pg_ctl = bin.join("pg_ctl");
        let log = format!("{data_s}/server.log");
        status(
            as_postgres(as_root, &pg_ctl).args(["-D", data_s, "-l", &log, "-w", "-t", "60", "-o", &options, "start"]),
        )?;
        println!("xtask: PostgreSQL {} on 127.0.0.1:{port} (data in {data_s})", bin.display());
        self.env.push(("LOOP_TEST_POSTGRES".into(), format!("host=127.0.0.1 port={port} user=loop dbname=postgres")));
        let runner = if as_root { "runuser -u postgres -- " } else { "" };
        self.env.push((
            "LOOP_TEST_POSTGRES_RESTART".into(),
            format!("{runner}{} -D {data_s} -l {log} -w -t 60 -m fast restart >/dev/null", pg_ctl.display()),
        ));
        self.postgres = Some(Postgres { pg_ctl, data });
        Ok(())
    }

    fn start_redis(&mut self) -> Result<(), String> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            apt_install("redis-server");
        }
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("not installed, and `apt-get install redis-server` did not install it ({e})"))?;
        self.redis = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("redis-server did not listen on port {port} within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("xtask: redis-server on 127.0.0.1:{port}");
        self.env.push(("LOOP_TEST_REDIS".into(), format!("127.0.0.1:{port}")));
        Ok(())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some(pg) = self.postgres.take() {
            let data = pg.data.to_str().unwrap_or_default().to_owned();
            let _ = as_postgres(is_root(), &pg.pg_ctl)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .status();
        }
        if let Some(mut redis) = self.redis.take() {
            let _ = redis.kill();
            let _ = redis.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest PostgreSQL server's bin directory (Debian's layout).
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn apt_install(package: &str) {
    println!("\n==> apt-get install -y {package}");
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!(
                "timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
                 --no-install-recommends {package} >/dev/null"
            ),
        ])
        .status();
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program`, run as the `postgres` user when we are root.
fn as_postgres(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn status(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("could not start {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn warn(msg: &str) {
    let bar = "!".repeat(78);
    println!("\n{bar}\nxtask: WARNING: {msg}\nxtask: WARNING: ITS TESTS AND RECIPES SKIP: they were NOT run\n{bar}");
}
