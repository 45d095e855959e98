//! TCP echo over loopback: our loop, tokio, smol, and a hand-written
//! `polling` loop (the floor: what the kernel costs with no runtime).
//! Server and clients share one thread in every variant.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Instant;

use r#loop as aio;

use crate::workloads::{on_smol, on_tokio, per_op, Runtime, Workload};

pub const NET_WORKLOADS: &[Workload] = &[
    Workload {
        name: "echo50",
        title: "TCP echo, 50 connections x 64 B",
        unit: "ns/round trip",
        about: "50 client connections each send 64 bytes and read the echo back, in a loop; server and \
                clients on one thread over 127.0.0.1. `floor` is a hand-written `polling` loop doing the same.",
        n: 100_000,
        run: echo_small,
    },
    Workload {
        name: "echo64k",
        title: "TCP echo, 1 connection x 64 KiB",
        unit: "ns/round trip",
        about: "one connection sends 64 KiB messages and reads each echo back.",
        n: 2_000,
        run: echo_large,
    },
];

/// The floor for each net workload, measured by [`raw_echo`].
pub fn floor(name: &str, n: usize) -> Option<f64> {
    match name {
        "echo50" => Some(raw_echo(50, 64, n / 50)),
        "echo64k" => Some(raw_echo(1, 64 * 1024, n)),
        _ => None,
    }
}

fn echo_small(rt: Runtime, n: usize) -> f64 {
    echo(rt, 50, 64, (n / 50).max(1))
}

fn echo_large(rt: Runtime, n: usize) -> f64 {
    echo(rt, 1, 64 * 1024, n.max(1))
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn echo(rt: Runtime, conns: usize, size: usize, rounds: usize) -> f64 {
    let total = conns * rounds;
    match rt {
        Runtime::Loop => aio::run(async move {
            let listener = Rc::new(aio::net::TcpListener::bind_addr(local()).unwrap());
            let addr = listener.local_addr().unwrap();
            let l = listener.clone();
            let server = aio::spawn(async move {
                for _ in 0..conns {
                    let (s, _) = l.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    aio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = s.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    })
                    .detach();
                }
            });
            let start = Instant::now();
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    aio::spawn(async move {
                        let s = aio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = vec![1u8; size];
                        let mut buf = vec![0u8; size];
                        for _ in 0..rounds {
                            s.write_all(&msg).await.unwrap();
                            let mut got = 0;
                            while got < size {
                                got += s.read(&mut buf[got..]).await.unwrap();
                            }
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            let t = per_op(start, total);
            server.await.unwrap();
            t
        }),
        Runtime::Tokio => on_tokio(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind(local()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::task::spawn_local(async move {
                for _ in 0..conns {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    tokio::task::spawn_local(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = s.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            let start = Instant::now();
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::task::spawn_local(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = vec![1u8; size];
                        let mut buf = vec![0u8; size];
                        for _ in 0..rounds {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            let t = per_op(start, total);
            server.await.unwrap();
            t
        }),
        Runtime::Smol => on_smol(|ex| async move {
            use futures_lite::{AsyncReadExt, AsyncWriteExt};
            let listener = smol::net::TcpListener::bind(local()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let ex2 = ex.clone();
            let server = ex.spawn(async move {
                for _ in 0..conns {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    ex2.spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = s.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    })
                    .detach();
                }
            });
            let start = Instant::now();
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    ex.spawn(async move {
                        let mut s = smol::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = vec![1u8; size];
                        let mut buf = vec![0u8; size];
                        for _ in 0..rounds {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await;
            }
            let t = per_op(start, total);
            server.await;
            t
        }),
    }
}

/// One end of a connection in the raw loop: bytes still to send.
struct End {
    sock: TcpStream,
    out: Vec<u8>,
    sent: usize,
    want_write: bool,
}

impl End {
    /// Writes what it can; true when all is sent.
    fn flush(&mut self) -> io::Result<bool> {
        while self.sent < self.out.len() {
            match self.sock.write(&self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.sent = 0;
        Ok(true)
    }
}

/// The hand-written floor: `polling` (level-triggered), non-blocking std
/// sockets, one state machine per connection.
pub fn raw_echo(conns: usize, size: usize, rounds: usize) -> f64 {
    use polling::{Event, Events, PollMode, Poller};
    let listener = TcpListener::bind(local()).unwrap();
    let addr = listener.local_addr().unwrap();
    let start = Instant::now();
    let mut ends = Vec::new(); // even: client, odd: server
    for _ in 0..conns {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        for sock in [c, s] {
            sock.set_nodelay(true).unwrap();
            sock.set_nonblocking(true).unwrap();
            ends.push(End { sock, out: Vec::new(), sent: 0, want_write: false });
        }
    }
    let poller = Poller::new().unwrap();
    for (key, end) in ends.iter().enumerate() {
        // SAFETY: every socket is deleted from the poller below, before
        // `ends` (and so the sockets) is dropped.
        unsafe { poller.add_with_mode(&end.sock, Event::readable(key), PollMode::Level).unwrap() };
    }
    let msg = vec![1u8; size];
    let mut received = vec![0usize; conns];
    let mut rounds_left = vec![rounds; conns];
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0;
    for c in 0..conns {
        let end = &mut ends[2 * c];
        end.out.extend_from_slice(&msg);
        if !end.flush().unwrap() {
            end.want_write = true;
            poller.modify_with_mode(&end.sock, Event::all(2 * c), PollMode::Level).unwrap();
        }
    }
    let mut events = Events::new();
    while done < conns {
        events.clear();
        poller.wait(&mut events, None).unwrap();
        for ev in events.iter() {
            let key = ev.key;
            let conn = key / 2;
            if ev.writable {
                let end = &mut ends[key];
                if end.flush().unwrap() && end.want_write {
                    end.want_write = false;
                    poller.modify_with_mode(&end.sock, Event::readable(key), PollMode::Level).unwrap();
                }
            }
            if !ev.readable {
                continue;
            }
            let n = match ends[key].sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            };
            if key % 2 == 1 {
                // Server: echo back.
                let end = &mut ends[key];
                end.out.extend_from_slice(&buf[..n]);
                if !end.flush().unwrap() && !end.want_write {
                    end.want_write = true;
                    poller.modify_with_mode(&end.sock, Event::all(key), PollMode::Level).unwrap();
                }
            } else {
                received[conn] += n;
                if received[conn] == size {
                    received[conn] = 0;
                    rounds_left[conn] -= 1;
                    if rounds_left[conn] == 0 {
                        done += 1;
                        continue;
                    }
                    let end = &mut ends[key];
                    end.out.extend_from_slice(&msg);
                    if !end.flush().unwrap() && !end.want_write {
                        end.want_write = true;
                        poller.modify_with_mode(&end.sock, Event::all(key), PollMode::Level).unwrap();
                    }
                }
            }
        }
    }
    let t = per_op(start, conns * rounds);
    for end in &ends {
        poller.delete(&end.sock).unwrap();
    }
    t
}
