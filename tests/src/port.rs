//! Free loopback ports for the daemons the tests start (frostzone nodes, NSD, Unbound, the
//! coordinator's transfer server).

use std::net::{TcpListener, UdpSocket};

/// A port free on 127.0.0.1 for both UDP and TCP (chosen by the kernel, then released).
///
/// Both, because DNS servers listen on the two and a port free only for TCP makes NSD or
/// Unbound fail to start. Racy, as any port chosen and then released is: another process may
/// take it before the daemon binds it.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// A base port `b` with `b + o + i` free on 127.0.0.1 for every offset `o` in `offsets` and
/// every `i` below `n`: a loopback cluster's service ports and their metrics ports
/// (`frostzone quickstart --base-port b` binds `b..b+n` and `b+100..b+100+n`).
///
/// Taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where the kernel
/// never hands out ports on its own: the client side of every connection the other tests open
/// takes an ephemeral port, and one of those once landed in a block chosen from that range
/// between this check and the cluster's bind.
pub fn free_port_block(n: u16, offsets: &[u16]) -> u16 {
    let span = offsets.iter().copied().max().unwrap_or(0).saturating_add(n);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.saturating_sub(span));
    assert!(high > low, "no room for a block of {span} ports below the ephemeral range ({ephemeral_low})");
    // Spread the starting point by process and time so that parallel test binaries do not try
    // the same blocks in the same order.
    let seed = u64::from(std::process::id()) ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let width = u64::from(high - low);
    for attempt in 0..500u64 {
        let base = low + ((seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(attempt * 7_919)) % width) as u16;
        let all_free = offsets.iter().all(|&o| (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + o + i)).is_ok()));
        if all_free {
            return base;
        }
    }
    panic!("no block of {n} ports (offsets {offsets:?}) free on 127.0.0.1 below {ephemeral_low}");
}
