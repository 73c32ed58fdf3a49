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
