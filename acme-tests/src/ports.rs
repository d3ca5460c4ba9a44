//! Free loopback ports. Each test process asks the kernel for an ephemeral port (bind to
//! port 0) and releases it for the child to bind. The kernel hands out ephemeral ports
//! round-robin, so two parallel test processes rarely get the same one; within one process
//! we also never hand out a port twice. Start-up code retries on "address in use" to cover
//! the remaining race.

use anyhow::{Context, Result};
use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::Mutex;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Remember `port` as used; false when this process already handed it out.
fn claim(port: u16) -> bool {
    let mut guard = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.get_or_insert_with(HashSet::new).insert(port)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> Result<u16> {
    for _ in 0..64 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding 127.0.0.1:0 to find a free TCP port")?;
        let port = listener.local_addr().context("local_addr")?.port();
        if claim(port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no unused TCP port after 64 attempts")
}

/// A port free for both TCP and UDP on 127.0.0.1 (DNS servers need both).
pub fn free_tcp_udp_port() -> Result<u16> {
    for _ in 0..64 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding 127.0.0.1:0 to find a free TCP port")?;
        let port = listener.local_addr().context("local_addr")?.port();
        // Hold the TCP socket while probing UDP so the pair is checked together.
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() && claim(port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no port free for both TCP and UDP after 64 attempts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let a = free_tcp_port().expect("first port");
        let b = free_tcp_port().expect("second port");
        assert_ne!(a, b);
        TcpListener::bind((Ipv4Addr::LOCALHOST, a)).expect("port a is bindable");
        let c = free_tcp_udp_port().expect("tcp+udp port");
        UdpSocket::bind((Ipv4Addr::LOCALHOST, c)).expect("udp port is bindable");
    }
}
