//! A child process for the subprocess tests that behaves the same on every
//! OS (no `sh`, `cat` or `sleep` needed): `child MODE [ARG]`.
//!
//! - `exit N`: exits with status N;
//! - `cat`: copies stdin to stdout until EOF;
//! - `tee`: copies stdin to stdout and to stderr until EOF;
//! - `sleep SECS`: sleeps, then exits 0;
//! - `echo WORDS...`: prints the words, space-separated, and a newline;
//! - `tokio-without-compat`: `loop::install_tokio_panic_hint()` (what
//!   `#[loop::main]` does), then a tokio timer made outside any tokio
//!   runtime: tokio's panic, and loop's hint after it.

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "exit" => std::process::exit(arg(1).parse().expect("child exit N: N is a number")),
        "cat" | "tee" => {
            let tee = arg(0) == "tee";
            let (mut stdin, mut stdout, mut stderr) = (std::io::stdin().lock(), std::io::stdout(), std::io::stderr());
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdin.read(&mut buf).expect("child: read stdin");
                if n == 0 {
                    break;
                }
                stdout.write_all(&buf[..n]).expect("child: write stdout");
                if tee {
                    stderr.write_all(&buf[..n]).expect("child: write stderr");
                }
            }
            stdout.flush().expect("child: flush stdout");
        }
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(arg(1).parse().expect("child sleep SECS"))),
        "echo" => println!("{}", args[1..].join(" ")),
        "tokio-without-compat" => {
            r#loop::install_tokio_panic_hint();
            drop(tokio::time::sleep(std::time::Duration::from_millis(1)));
        }
        other => {
            eprintln!("child: unknown mode {other:?} (exit, cat, tee, sleep, echo, tokio-without-compat)");
            std::process::exit(2);
        }
    }
}
