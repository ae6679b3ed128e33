//! The sockets a process listens on, read from /proc: its descriptors name socket inodes,
//! and its network namespace's tables (`/proc/PID/net/{unix,tcp,tcp6}`) say which of those
//! listen, where.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What a process listens on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listeners {
    /// Unix stream sockets, by path as bound (in the process's mount namespace); abstract
    /// ones start with `@`.
    pub unix: Vec<String>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
}

/// The listening sockets of process `pid`.
pub fn of_process(pid: i32) -> io::Result<Listeners> {
    let inodes = socket_inodes(pid)?;
    let table = |name: &str| fs::read_to_string(format!("/proc/{pid}/net/{name}"));
    let mut tcp = parse_tcp(&table("tcp")?, &inodes);
    // A kernel without IPv6 has no tcp6 table.
    if let Ok(text) = table("tcp6") {
        tcp.extend(parse_tcp(&text, &inodes));
    }
    Ok(Listeners {
        unix: parse_unix(&table("unix")?, &inodes),
        tcp,
    })
}

/// The inodes of the sockets among the descriptors of `pid` (`socket:[INODE]` links).
fn socket_inodes(pid: i32) -> io::Result<HashSet<u64>> {
    let mut inodes = HashSet::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = fs::read_link(entry?.path()) else {
            continue; // closed meanwhile
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|inode| inode.parse().ok())
        {
            inodes.insert(inode);
        }
    }
    Ok(inodes)
}

/// `__SO_ACCEPTCON`: the socket listens.
const ACCEPTING: u32 = 0x0001_0000;
/// `SOCK_STREAM`.
const STREAM: u32 = 1;

/// Listening stream sockets of `/proc/net/unix` whose inode is in `inodes`.
fn parse_unix(text: &str, inodes: &HashSet<u64>) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // Num RefCount Protocol Flags Type St Inode [Path]
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let kind = u32::from_str_radix(fields.get(4)?, 16).ok()?;
            let inode: u64 = fields.get(6)?.parse().ok()?;
            let path = fields.get(7)?;
            (flags & ACCEPTING != 0 && kind == STREAM && inodes.contains(&inode))
                .then(|| (*path).to_owned())
        })
        .collect()
}

/// `TCP_LISTEN` in the `st` column.
const LISTEN: &str = "0A";

/// Listening sockets of `/proc/net/tcp` or `tcp6` whose inode is in `inodes`.
fn parse_tcp(text: &str, inodes: &HashSet<u64>) -> Vec<SocketAddr> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = fields.get(9)?.parse().ok()?;
            if *fields.get(3)? != LISTEN || !inodes.contains(&inode) {
                return None;
            }
            parse_address(fields.get(1)?)
        })
        .collect()
}

/// `0100007F:0944` (IPv4) or 32 hex digits and a port (IPv6): the address as the kernel
/// prints it, in 32-bit words of host byte order.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..address.len() / 8)
        .map(|i| u32::from_str_radix(address.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_ne_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_stream_sockets_of_the_process_are_found_by_inode() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 100 /run/docker.sock\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 101 /run/other.sock\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 102 /run/docker.sock\n\
            0000000000000000: 00000002 00000000 00010000 0002 01 103 /run/dgram.sock\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 104 @abstract\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 105\n";
        let inodes = HashSet::from([100, 102, 103, 104, 105]);
        assert_eq!(parse_unix(text, &inodes), ["/run/docker.sock", "@abstract"]);
    }

    #[test]
    fn listening_tcp_sockets_of_the_process_are_found_by_inode() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 200 1 0 100 0 0 10 0\n\
            1: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 201 1 0 100 0 0 10 0\n\
            2: 0100007F:0948 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 202 1 0 100 0 0 10 0\n";
        let inodes = HashSet::from([200, 202]);
        assert_eq!(
            parse_tcp(text, &inodes),
            ["127.0.0.1:2376".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn ipv6_addresses_are_read_word_by_word() {
        assert_eq!(
            parse_address("00000000000000000000000001000000:0948"),
            Some("[::1]:2376".parse().unwrap())
        );
        assert_eq!(
            parse_address("00000000000000000000000000000000:0CEA"),
            Some("[::]:3306".parse().unwrap())
        );
    }

    #[test]
    fn this_process_s_own_listeners_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.sock");
        let _unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let found = of_process(std::process::id() as i32).unwrap();
        assert!(
            found.unix.contains(&path.display().to_string()),
            "{found:?}"
        );
        assert!(found.tcp.contains(&tcp.local_addr().unwrap()), "{found:?}");
    }
}
