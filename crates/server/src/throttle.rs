//! Failed web sign-ins per client address. After [`LIMIT`] failures within [`WINDOW_SECONDS`]
//! the sign-in form refuses the address (429, `Retry-After`) until its window ends, whatever it
//! sends, so that a right secret among wrong ones is not told apart.
//!
//! Only the form is throttled, where a person types or pastes a secret. API requests are not:
//! their secrets are 256-bit random, which no rate of guessing dents, while agents behind one
//! NAT address share a window, so one agent with stale credentials would lock out the others'
//! backups.
//!
//! IPv6 addresses count per /64, the block one host usually holds.
//!
//! Behind a reverse proxy every client would share the proxy's address. With `trusted_proxies`
//! configured, a request from one of them counts for the address it forwarded
//! ([`client_address`]); the header is ignored from anyone else, who could write any address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Failures an address may have within one window.
const LIMIT: u32 = 20;
/// The window's length, from the address's first failure in it.
const WINDOW_SECONDS: i64 = 60;
/// Addresses tracked at most; beyond it, new addresses go untracked until windows expire.
const MAX_TRACKED: usize = 100_000;

/// The failure windows of the addresses that failed lately.
#[derive(Debug, Default)]
pub(crate) struct SignInThrottle {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: i64,
    failures: u32,
}

impl Window {
    fn ends(self) -> i64 {
        self.started + WINDOW_SECONDS
    }
}

impl SignInThrottle {
    /// The windows; a panic elsewhere while holding them leaves nothing half-updated.
    fn windows(&self) -> MutexGuard<'_, HashMap<IpAddr, Window>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses `peer`, with the seconds until it may try again, if it has used up its failures
    /// and the window has not ended.
    pub fn check(&self, peer: Option<IpAddr>, now: i64) -> Result<(), u64> {
        let Some(peer) = peer else { return Ok(()) };
        let windows = self.windows();
        match windows.get(&key(peer)) {
            Some(window) if window.failures >= LIMIT && now < window.ends() => {
                Err(u64::try_from(window.ends() - now).unwrap_or(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in of `peer`.
    pub fn failed(&self, peer: Option<IpAddr>, now: i64) {
        let Some(peer) = peer else { return };
        let mut windows = self.windows();
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, window| now < window.ends());
        }
        let fresh = Window {
            started: now,
            failures: 0,
        };
        let key = key(peer);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&key) {
            return;
        }
        let window = windows.entry(key).or_insert(fresh);
        if now >= window.ends() {
            *window = fresh;
        }
        window.failures += 1;
        if window.failures == LIMIT {
            tracing::warn!(%peer, "{LIMIT} failed web sign-ins within {WINDOW_SECONDS} s; refusing the address");
        }
    }
}

/// The address a window counts for: IPv4 as is, IPv6 by its /64.
fn key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The address a request counts for: `peer`, unless `peer` is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` (all its headers, in order) that is not itself a
/// trusted proxy, or the left-most if all are. An entry that is not an address ends the walk at
/// the hop before it: what lies left of it cannot be told apart from what a client wrote.
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: IpAddr| {
        let address = address.to_canonical();
        trusted.iter().any(|net| net.contains(&address))
    };
    let mut client = peer;
    if !is_trusted(peer) {
        return client;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or_default().split(','))
        .collect();
    for entry in forwarded.into_iter().rev() {
        let entry = entry.trim();
        let Some(address) = entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const HOST: Option<IpAddr> = Some(HOST_ADDRESS);

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let throttle = SignInThrottle::default();
        for second in 0..i64::from(LIMIT) {
            throttle.check(HOST, second).expect("under the limit");
            throttle.failed(HOST, second);
        }
        assert_eq!(throttle.check(HOST, 30), Err(30), "limit reached");
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 8)));
        throttle
            .check(other, 30)
            .expect("another address is not affected");
        throttle
            .check(HOST, WINDOW_SECONDS)
            .expect("the window has ended");
        throttle.failed(HOST, WINDOW_SECONDS);
        throttle
            .check(HOST, WINDOW_SECONDS + 1)
            .expect("a new window counts from one");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let host = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        assert_eq!(key(host(1)), key(host(2)));
        assert_ne!(
            key(host(1)),
            key(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1)))
        );
        let mapped = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0207));
        assert_eq!(key(mapped), HOST_ADDRESS);
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("header value"));
        }
        headers
    }

    fn address(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().expect("net"),
            "::1/128".parse().expect("net"),
        ];
        let headers = forwarded(&["198.51.100.1, 192.0.2.9"]);
        // an untrusted peer's header is ignored
        assert_eq!(
            client_address(address("192.0.2.50"), &headers, &proxies),
            address("192.0.2.50")
        );
        assert_eq!(
            client_address(address("10.1.2.3"), &headers, &[]),
            address("10.1.2.3")
        );
        // the right-most address that is not a proxy; what the client wrote left of it is not
        assert_eq!(
            client_address(address("10.1.2.3"), &headers, &proxies),
            address("192.0.2.9")
        );
        let chained = forwarded(&["198.51.100.1", "192.0.2.9, 10.9.9.9"]);
        assert_eq!(
            client_address(address("10.1.2.3"), &chained, &proxies),
            address("192.0.2.9")
        );
        // an IPv4-mapped peer is the IPv4 proxy; ports are dropped
        let mapped = address("::ffff:10.1.2.3");
        let with_port = forwarded(&["192.0.2.9:4711"]);
        assert_eq!(client_address(mapped, &with_port, &proxies), address("192.0.2.9"));
        assert_eq!(
            client_address(address("::1"), &forwarded(&["[2001:db8::1]:80"]), &proxies),
            address("2001:db8::1")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_counts_as_itself_or_its_last_hop() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let peer = address("10.1.2.3");
        assert_eq!(client_address(peer, &HeaderMap::new(), &proxies), peer);
        assert_eq!(client_address(peer, &forwarded(&["unknown"]), &proxies), peer);
        assert_eq!(
            client_address(peer, &forwarded(&["192.0.2.9, garbage, 10.7.7.7"]), &proxies),
            address("10.7.7.7")
        );
        assert_eq!(
            client_address(peer, &forwarded(&["10.5.5.5, 10.7.7.7"]), &proxies),
            address("10.5.5.5"),
            "all proxies: the left-most"
        );
    }

    #[test]
    fn unknown_peers_are_not_throttled() {
        let throttle = SignInThrottle::default();
        for _ in 0..=LIMIT {
            throttle.failed(None, 0);
        }
        throttle.check(None, 0).expect("no address, no window");
    }
}
