//! RTP/RTCP port pairs for calls, from the configured range: an even port
//! for RTP and the odd one above it for RTCP (RFC 3550 §11), handed out
//! round-robin so a port just released is not reused at once (late packets
//! of the old call would land in the new one), and released on drop.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use std::net::UdpSocket;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("no free RTP port pair in {min}..={max}")]
    Exhausted { min: u16, max: u16 },
    #[error("cannot bind RTP socket: {0}")]
    Bind(#[from] std::io::Error),
}

#[derive(Debug)]
struct State {
    in_use: HashSet<u16>,
    next: u16,
}

#[derive(Debug, Clone)]
pub struct PortPool {
    ip: IpAddr,
    min: u16,
    max: u16,
    state: Arc<Mutex<State>>,
}

/// A call's media sockets, non-blocking (the media engine polls them); the
/// ports return to the pool when dropped.
#[derive(Debug)]
pub struct MediaSockets {
    pub rtp: UdpSocket,
    /// Bound only to reserve the port; RTCP is not processed yet.
    pub rtcp: Option<UdpSocket>,
    port: u16,
    pool: Option<PortPool>,
}

impl MediaSockets {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MediaSockets {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            if let Ok(mut s) = pool.state.lock() {
                s.in_use.remove(&self.port);
            }
        }
    }
}

impl PortPool {
    /// `min == max == 0` lets the system choose ports (tests run many
    /// servers at once).
    pub fn new(ip: IpAddr, min: u16, max: u16) -> Self {
        let first = min + (min % 2);
        Self {
            ip,
            min: first,
            max,
            state: Arc::new(Mutex::new(State {
                in_use: HashSet::new(),
                next: first,
            })),
        }
    }

    pub fn in_use(&self) -> usize {
        self.state.lock().map(|s| s.in_use.len()).unwrap_or(0)
    }

    pub fn allocate(&self) -> Result<MediaSockets, PortError> {
        if self.max == 0 {
            let rtp = UdpSocket::bind(SocketAddr::new(self.ip, 0))?;
            rtp.set_nonblocking(true)?;
            let port = rtp.local_addr()?.port();
            return Ok(MediaSockets {
                rtp,
                rtcp: None,
                port,
                pool: None,
            });
        }
        let pairs = ((self.max - self.min) / 2 + 1) as usize;
        for _ in 0..pairs {
            let Some(port) = self.reserve_next() else {
                break;
            };
            match self.bind_pair(port) {
                Ok((rtp, rtcp)) => {
                    return Ok(MediaSockets {
                        rtp,
                        rtcp: Some(rtcp),
                        port,
                        pool: Some(self.clone()),
                    });
                }
                // Taken by another program: leave it and try the next pair.
                Err(_) => self.release(port),
            }
        }
        Err(PortError::Exhausted {
            min: self.min,
            max: self.max,
        })
    }

    fn reserve_next(&self) -> Option<u16> {
        let mut s = self.state.lock().ok()?;
        let pairs = (self.max - self.min) / 2 + 1;
        for _ in 0..pairs {
            let port = s.next;
            s.next = if port.saturating_add(2) > self.max.saturating_sub(1) {
                self.min
            } else {
                port + 2
            };
            if port < self.max && s.in_use.insert(port) {
                return Some(port);
            }
        }
        None
    }

    fn release(&self, port: u16) {
        if let Ok(mut s) = self.state.lock() {
            s.in_use.remove(&port);
        }
    }

    fn bind_pair(&self, port: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
        let rtp = UdpSocket::bind(SocketAddr::new(self.ip, port))?;
        rtp.set_nonblocking(true)?;
        let rtcp = UdpSocket::bind(SocketAddr::new(self.ip, port + 1))?;
        Ok((rtp, rtcp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_unique_and_released() {
        // A high range unlikely to be in use on a test machine.
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 47001, 47006);
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        assert!(a.port() % 2 == 0 && b.port() % 2 == 0 && a.port() != b.port());
        assert_eq!(pool.in_use(), 2);
        let third = pool.allocate();
        assert!(
            matches!(third, Err(PortError::Exhausted { .. })),
            "range has two pairs only: {third:?}"
        );
        drop(a);
        assert_eq!(pool.in_use(), 1);
        let c = pool.allocate().unwrap();
        assert_eq!(pool.in_use(), 2);
        drop((b, c));
        assert_eq!(pool.in_use(), 0);
    }
}
