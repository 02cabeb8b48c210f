//! Which network addresses a connector may reach. A granted host name must not lead into the user's
//! own machine or network: loopback, private, link-local (cloud metadata), CGNAT, multicast,
//! unspecified and other reserved addresses are refused, for IPv4, IPv6 and IPv4 inside IPv6. The one
//! exception is the host of the base URL the user configured (a self-hosted server, a local fake).
//!
//! Names are checked where they are resolved, in the HTTP client's resolver, and the client connects
//! to exactly the addresses that passed: there is no gap between the check and the connection.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Why an address was refused; found again in the client's error chain to report a denial.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses a connector may not reach ({addresses})")]
pub struct Blocked {
    host: String,
    addresses: String,
}

/// Whether `ip` is on the public internet (what a connector may reach without the user saying so).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address too.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || segments[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)) // documentation
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// The HTTP client's resolver: system DNS (or a fixed table), keeping public addresses only, except
/// for the hosts the user allowed.
#[derive(Debug, Clone, Default)]
pub struct CheckedResolver {
    /// Host names (lowercase) that may resolve anywhere.
    allowed: HashSet<String>,
    /// Names answered from this table instead of DNS (like a hosts file).
    fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl CheckedResolver {
    /// Allows `allowed` hosts everywhere; answers names in `fixed` from it.
    pub fn new(allowed: impl IntoIterator<Item = String>, fixed: HashMap<String, Vec<IpAddr>>) -> Self {
        CheckedResolver {
            allowed: allowed.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            fixed: Arc::new(fixed.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()),
        }
    }

    /// The same, answering `fixed` names from the table.
    pub fn with_fixed(mut self, fixed: HashMap<String, Vec<IpAddr>>) -> Self {
        self.fixed = Arc::new(fixed.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect());
        self
    }

    /// Whether `host` (a name or an IP literal) may be reached at `ip`.
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        self.allowed.contains(&host.to_ascii_lowercase()) || is_public(ip)
    }

    /// Refuses an IP-literal URL host the user didn't allow (a literal never goes through DNS).
    pub fn check_literal(&self, host: &str, ip: IpAddr) -> Result<(), Blocked> {
        if self.permits(host, ip) { Ok(()) } else { Err(Blocked { host: host.to_string(), addresses: ip.to_string() }) }
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<IpAddr> = match this.fixed.get(&host.to_ascii_lowercase()) {
                Some(fixed) => fixed.clone(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect(),
            };
            let kept: Vec<SocketAddr> =
                found.iter().filter(|ip| this.permits(&host, **ip)).map(|ip| SocketAddr::new(*ip, 0)).collect();
            if kept.is_empty() {
                let addresses = found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                return Err(Box::new(Blocked { host, addresses }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for blocked in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!is_public(blocked.parse().unwrap()), "{blocked} must be refused");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public} must pass");
        }
    }

    #[test]
    fn the_users_own_host_may_be_anywhere() {
        let resolver = CheckedResolver::new(["LocalHost".to_string()], HashMap::new());
        assert!(resolver.permits("localhost", "127.0.0.1".parse().unwrap()));
        assert!(resolver.check_literal("127.0.0.1", "127.0.0.1".parse().unwrap()).is_err());
    }
}
