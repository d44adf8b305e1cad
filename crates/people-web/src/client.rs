//! Who the client is: its address and whether it came over HTTPS, believing forwarding headers only from
//! trusted proxies (docs/operations.md, "Behind a proxy").
//!
//! A header such as `X-Forwarded-For` is whatever the sender wrote. It is read only when the socket peer is a
//! trusted proxy, and then from the right: each trusted proxy appends the address it received the request from,
//! so the right-most entry that is not itself a trusted proxy is the first address no trusted party vouches
//! beyond, the client. Entries left of it were written by the client and are ignored.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use actix_web::http::header::{self, HeaderMap};
use actix_web::HttpRequest;
use ipnet::IpNet;

/// The addresses and ranges whose forwarding headers are believed (`PEOPLE_TRUSTED_PROXIES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// The default: this machine only (`127.0.0.0/8,::1`), so a proxy on the same host works out of the box and
/// nothing else is believed.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1";

impl TrustedProxies {
    /// No proxy is trusted: every client is its socket address.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl Default for TrustedProxies {
    fn default() -> Self {
        DEFAULT_TRUSTED_PROXIES
            .parse()
            .unwrap_or_else(|_| TrustedProxies::none())
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses (`10.0.0.5`, `::1`) and CIDR ranges (`10.0.0.0/8`); blank means none.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => part
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("not an address or CIDR range: {part:?}"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// One entry of a forwarding header as an address: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`.
fn entry_ip(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            e.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// Every entry of every `name` header, in order (several header lines count as one list).
fn entries<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect()
}

/// The client's address given the socket peer, the forwarding header `header` and the trusted proxies: the
/// peer itself unless it is trusted; else the right-most entry of the header that is not a trusted proxy (the
/// left-most when every entry is one). An entry that is not an address ends the walk at the last address
/// that was vouched for.
pub fn client_addr(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    header: &str,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let mut client = peer.map(|p| p.to_canonical())?;
    if !trusted.contains(client) {
        return Some(client);
    }
    for entry in entries(headers, header).into_iter().rev() {
        let Some(ip) = entry_ip(entry) else {
            break;
        };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    Some(client)
}

/// What the HTTP layer knows about where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client's address (see [`client_addr`]); `None` when the socket peer is unknown (in-process tests).
    pub ip: Option<IpAddr>,
    /// The request reached people, or its trusted proxy, over HTTPS.
    pub https: bool,
    /// The public host the request was sent to (`Host`, or `X-Forwarded-Host` from a trusted proxy).
    pub host: Option<String>,
}

impl Origin {
    /// Reads the request with the given forwarding header and trusted proxies.
    pub fn of(req: &HttpRequest, header_name: &str, trusted: &TrustedProxies) -> Origin {
        let peer = req.peer_addr().map(|a| a.ip().to_canonical());
        let from_proxy = peer.is_some_and(|p| trusted.contains(p));
        let headers = req.headers();
        let forwarded = |name: &str| {
            from_proxy
                .then(|| entries(headers, name).first().map(|s| s.to_string()))
                .flatten()
        };
        let https = match forwarded("X-Forwarded-Proto") {
            Some(proto) => proto.eq_ignore_ascii_case("https"),
            None => req.app_config().secure(),
        };
        let host = forwarded("X-Forwarded-Host").or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
        });
        Origin {
            ip: client_addr(peer, headers, header_name, trusted),
            https,
            host,
        }
    }

    /// The client address as login history and throttling record it (`unknown` without a peer).
    pub fn ip_text(&self) -> String {
        self.ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(peer: &str, xff: &[&str], trusted: &str) -> String {
        client_addr(
            Some(ip(peer)),
            &headers(xff),
            "X-Forwarded-For",
            &trusted.parse().unwrap(),
        )
        .unwrap()
        .to_string()
    }

    #[test]
    fn parses_addresses_and_ranges() {
        let t: TrustedProxies = "10.0.0.0/8, 192.168.1.7,::1, 2001:db8::/32"
            .parse()
            .unwrap();
        assert!(t.contains(ip("10.200.3.4")) && t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")) && !t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("::1")) && t.contains(ip("2001:db8::5")));
        assert!(
            t.contains(ip("::ffff:10.1.1.1")),
            "IPv4-mapped peers count as IPv4"
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::none()
        );
        assert!(TrustedProxies::default().contains(ip("127.0.0.2")));
        assert!(!TrustedProxies::default().contains(ip("10.0.0.1")));
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        assert_eq!(
            client("203.0.113.9", &["1.2.3.4"], "127.0.0.1"),
            "203.0.113.9"
        );
        assert_eq!(client("127.0.0.2", &["1.2.3.4"], "127.0.0.1"), "127.0.0.2");
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = "127.0.0.0/8,10.0.0.0/8";
        // A client that prepends a forged address gets recorded as itself.
        assert_eq!(
            client("127.0.0.1", &["1.2.3.4, 198.51.100.7"], trusted),
            "198.51.100.7"
        );
        // Two trusted hops.
        assert_eq!(
            client("127.0.0.1", &["198.51.100.7, 10.1.1.1"], trusted),
            "198.51.100.7"
        );
        // Several header lines form one list.
        assert_eq!(
            client("127.0.0.1", &["6.6.6.6", "198.51.100.7"], trusted),
            "198.51.100.7"
        );
        // All trusted: the left-most.
        assert_eq!(
            client("127.0.0.1", &["10.9.9.9, 10.1.1.1"], trusted),
            "10.9.9.9"
        );
        // No header: the proxy itself.
        assert_eq!(client("127.0.0.1", &[], trusted), "127.0.0.1");
        // Ports and brackets.
        assert_eq!(
            client("127.0.0.1", &["[2001:db8::1]:443"], trusted),
            "2001:db8::1"
        );
        assert_eq!(
            client("127.0.0.1", &["198.51.100.7:5000"], trusted),
            "198.51.100.7"
        );
        // Garbage stops the walk at the last vouched-for address.
        assert_eq!(
            client("127.0.0.1", &["1.2.3.4, unknown, 10.1.1.1"], trusted),
            "10.1.1.1"
        );
    }
}
