//! What the tool learns about a process from the OS rather than from its
//! endpoint: who owns it, which processes run a loop, what an fd is.

/// The caller's effective uid.
#[cfg(unix)]
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The uid that owns process `pid` (`None`: no such process).
#[cfg(target_os = "linux")]
pub fn owner(pid: u32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    if pid == 0 {
        return None;
    }
    // A zombie (exited, not yet reaped by its parent) is gone for us.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return None;
    }
    std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid())
}

/// The uid that owns process `pid`: without `/proc`, assumed to be the
/// caller's when a socket file for it exists (the endpoint checks anyway).
#[cfg(all(unix, not(target_os = "linux")))]
pub fn owner(pid: u32) -> Option<u32> {
    let dir = loop_exec::inspect::endpoint_dir(my_uid());
    dir.join(format!("{pid}.sock")).exists().then(my_uid)
}

/// Pids of the caller's processes that run a loop endpoint.
#[cfg(target_os = "linux")]
pub fn loop_pids() -> Vec<u32> {
    let me = my_uid();
    let prefix = format!("@loop-inspect.{me}.");
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut pids: Vec<u32> = table
        .lines()
        .filter_map(|line| line.split_whitespace().nth(7))
        .filter_map(|path| path.strip_prefix(&prefix)?.parse().ok())
        .filter(|&pid| owner(pid) == Some(me))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Pids of the caller's processes that run a loop endpoint.
#[cfg(all(unix, not(target_os = "linux")))]
pub fn loop_pids() -> Vec<u32> {
    let dir = loop_exec::inspect::endpoint_dir(my_uid());
    let mut pids: Vec<u32> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".sock")?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// The command line of process `pid`, shortened.
pub fn command(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> =
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let line = args.join(" ");
    if line.chars().count() > 80 {
        format!("{}…", line.chars().take(79).collect::<String>())
    } else {
        line
    }
}

/// What fd `fd` of process `pid` is: "tcp 127.0.0.1:80 -> 10.0.0.2:5123",
/// "unix", "pipe", a path, or `None` if unknown.
#[cfg(target_os = "linux")]
pub fn describe_fd(pid: u32, fd: u64) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let link = link.to_string_lossy().into_owned();
    let Some(inode) = link.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) else {
        return Some(if link.starts_with("pipe:") { "pipe".into() } else { link });
    };
    for (file, proto) in [("tcp", "tcp"), ("tcp6", "tcp6"), ("udp", "udp"), ("udp6", "udp6")] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).unwrap_or_default();
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(9) == Some(&inode) {
                let local = hex_addr(cols[1]).unwrap_or_else(|| cols[1].into());
                let remote = hex_addr(cols[2]).unwrap_or_else(|| cols[2].into());
                let state = if proto.starts_with("tcp") && cols[3] == "0A" { " (listening)" } else { "" };
                return Some(if remote.ends_with(":0") && !state.is_empty() || remote == "0.0.0.0:0" {
                    format!("{proto} {local}{state}")
                } else {
                    format!("{proto} {local} -> {remote}")
                });
            }
        }
    }
    Some("unix socket".into())
}

#[cfg(not(target_os = "linux"))]
pub fn describe_fd(_pid: u32, _fd: u64) -> Option<String> {
    None
}

/// `0100007F:1F90` → `127.0.0.1:8080` (and the IPv6 form).
#[cfg(target_os = "linux")]
fn hex_addr(s: &str) -> Option<String> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if ip.len() == 8 {
        let n = u32::from_str_radix(ip, 16).ok()?;
        let ip = std::net::Ipv4Addr::from(n.to_le_bytes());
        Some(format!("{ip}:{port}"))
    } else if ip.len() == 32 {
        let mut bytes = [0u8; 16];
        for (i, chunk) in bytes.chunks_mut(4).enumerate() {
            let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(bytes)))
    } else {
        None
    }
}
