//! How often one client may use the public pages: a sliding window per key
//! (an address, a contact), and the client's address behind a trusted
//! reverse proxy. Sans-IO: told the time.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// Keys remembered at most: past this, the oldest-seen keys are forgotten
/// first, so a flood of new addresses cannot take the server's memory.
const MAX_KEYS: usize = 100_000;

/// At most `limit` uses per key in any `window`.
#[derive(Debug)]
pub struct RateLimit<K> {
    limit: usize,
    window: Duration,
    uses: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> RateLimit<K> {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimit {
            limit: limit as usize,
            window,
            uses: HashMap::new(),
        }
    }

    /// `Some(wait)` when `key` has used its `limit` in the window: how long
    /// until it may again.
    pub fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let window = self.window;
        let uses = self.uses.get_mut(key)?;
        while uses
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            uses.pop_front();
        }
        if uses.is_empty() {
            self.uses.remove(key);
            return None;
        }
        (uses.len() >= self.limit).then(|| {
            let first = uses[uses.len() - self.limit];
            (first + window).saturating_duration_since(now)
        })
    }

    /// A use by `key` if its window has room, counted at once (so two
    /// requests at the same moment cannot both pass on the last place);
    /// else how long until it has room. What is taken can be given back
    /// ([`RateLimit::give_back`]) when the use did not happen after all.
    pub fn take(&mut self, key: &K, now: Instant) -> Result<Taken, Duration> {
        if let Some(wait) = self.wait(key, now) {
            return Err(wait);
        }
        self.hit(key.clone(), now);
        Ok(Taken(now))
    }

    /// Undoes a [`RateLimit::take`]: the place is free again.
    pub fn give_back(&mut self, key: &K, taken: Taken) {
        if let Some(uses) = self.uses.get_mut(key) {
            if let Some(i) = uses.iter().rposition(|t| *t == taken.0) {
                uses.remove(i);
            }
            if uses.is_empty() {
                self.uses.remove(key);
            }
        }
    }

    /// One use by `key`.
    pub fn hit(&mut self, key: K, now: Instant) {
        if self.uses.len() >= MAX_KEYS && !self.uses.contains_key(&key) {
            self.forget(now);
        }
        let uses = self.uses.entry(key).or_default();
        uses.push_back(now);
        // Only the last `limit` matter.
        while uses.len() > self.limit.max(1) {
            uses.pop_front();
        }
    }

    /// Drops what the window has passed; if that is not enough, the keys
    /// whose last use is oldest.
    fn forget(&mut self, now: Instant) {
        let window = self.window;
        self.uses
            .retain(|_, u| u.back().is_some_and(|t| now.duration_since(*t) < window));
        if self.uses.len() >= MAX_KEYS {
            let mut last: Vec<Instant> = self
                .uses
                .values()
                .filter_map(|u| u.back().copied())
                .collect();
            last.sort_unstable();
            let cut = last[last.len() / 2];
            self.uses.retain(|_, u| u.back().is_some_and(|t| *t > cut));
        }
    }
}

/// A place taken in a [`RateLimit`], to give back if unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a place taken is given back when the use did not happen"]
pub struct Taken(Instant);

/// The key a client's address is counted by: an IPv4 address itself, an
/// IPv6 address by its /64 (one household or phone has a whole /64 and
/// can take a new address from it at will).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// The client's address: the connection's, or, when the connection comes
/// from one of `trusted` (the reverse proxy in front), the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy. Anything a client
/// could write itself (the left of the header) is never believed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    // From the right: past the trusted proxies, the first entry is the
    // address the last of them saw. What lies left of it the client may
    // have written: never read.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.into_iter().rev() {
        match entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Not an address where the client's should be: the proxy's.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_waits_once_its_uses_fill_the_window() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(2, Duration::from_secs(60));
        assert_eq!(limit.wait(&"a", t0), None);
        limit.hit("a", t0);
        limit.hit("a", t0 + Duration::from_secs(10));
        assert_eq!(
            limit.wait(&"a", t0 + Duration::from_secs(20)),
            Some(Duration::from_secs(40)),
            "until the first use leaves the window"
        );
        assert_eq!(limit.wait(&"b", t0), None, "another key is apart");
        assert_eq!(limit.wait(&"a", t0 + Duration::from_secs(60)), None);
        limit.hit("a", t0 + Duration::from_secs(61));
        assert_eq!(
            limit.wait(&"a", t0 + Duration::from_secs(62)),
            Some(Duration::from_secs(8))
        );
    }

    #[test]
    fn a_place_is_taken_at_once_and_can_be_given_back() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(1, Duration::from_secs(60));
        let taken = limit.take(&"a", t0).expect("room");
        assert_eq!(
            limit.take(&"a", t0),
            Err(Duration::from_secs(60)),
            "a second request at the same moment finds no room"
        );
        limit.give_back(&"a", taken);
        assert!(limit.uses.is_empty(), "nothing left of the given back");
        let _ = limit.take(&"a", t0).expect("room again");
        assert!(limit.take(&"a", t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        assert_eq!(address_key("::ffff:203.0.113.7".parse().unwrap()), v4);
    }

    #[test]
    fn a_flood_of_keys_is_forgotten_oldest_first() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(1, Duration::from_secs(3600));
        for n in 0..MAX_KEYS as u32 {
            limit.hit(n, t0 + Duration::from_millis(u64::from(n)));
        }
        limit.hit(u32::MAX, t0 + Duration::from_secs(200));
        assert!(limit.uses.len() <= MAX_KEYS / 2 + 1, "{}", limit.uses.len());
        assert!(
            limit
                .wait(&u32::MAX, t0 + Duration::from_secs(201))
                .is_some()
        );
        assert!(
            limit
                .wait(&(MAX_KEYS as u32 - 1), t0 + Duration::from_secs(201))
                .is_some()
        );
        assert_eq!(limit.wait(&0, t0 + Duration::from_secs(201)), None);
    }

    #[test]
    fn the_client_is_believed_behind_a_trusted_proxy_only() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let citizen: IpAddr = "203.0.113.7".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.7".parse().unwrap(),
        );
        // Straight from the client: its header is its own word.
        assert_eq!(client_ip(citizen, &headers, &[proxy]), citizen);
        // Through the proxy: the address the proxy saw (the rightmost),
        // not what the client wrote to the left of it.
        assert_eq!(client_ip(proxy, &headers, &[proxy]), citizen);
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.2".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            citizen,
            "chained proxies"
        );
        // Junk the client wrote left of the proxy's entry changes nothing.
        headers.insert("x-forwarded-for", "junk, 203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[proxy]), citizen);
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[proxy]), proxy);
        // An IPv4 proxy seen on a dual-stack socket.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        headers.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(mapped, &headers, &[proxy]), citizen);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
