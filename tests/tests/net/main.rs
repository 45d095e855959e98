//! Networking on real sockets over 127.0.0.1, one file per concept.

mod servers;
mod streams;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

use std::net::SocketAddr;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}
