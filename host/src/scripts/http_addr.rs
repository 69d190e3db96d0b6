//! Where a bot's request may connect. A grant names a host, but the client
//! connects to whatever that name resolves to, and the bot's author may
//! control the name's DNS: a granted `https://x.example` could point at
//! the gateway's own machine (`127.0.0.1`), its cloud's metadata service
//! (`169.254.169.254`) or its LAN. So the name is resolved here, before
//! connecting, and an address that is not a public one is refused; the
//! client then connects to the addresses checked, never resolving again.
//!
//! A grant that names an IP literal or `localhost` is the operator's own
//! choice (`http://127.0.0.1:8080` means that server): any address goes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use wasmtime_wasi_http::Error;

/// What kind of not-public address an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Internal {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), `fc00::/7`, `fec0::/10`.
    Private,
    /// `169.254/16` (where clouds serve instance metadata), `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0/8`, `::` (Linux connects them to the machine itself).
    Unspecified,
    /// `100.64/10`, the carrier-grade NAT's shared space.
    Shared,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `240/4`, broadcast included.
    Reserved,
}

impl Internal {
    fn describe(self) -> &'static str {
        match self {
            Internal::Loopback => "a loopback address",
            Internal::Private => "a private address",
            Internal::LinkLocal => "a link-local address",
            Internal::Unspecified => "an unspecified address",
            Internal::Shared => "a shared (carrier-grade NAT) address",
            Internal::Multicast => "a multicast address",
            Internal::Reserved => "a reserved address",
        }
    }
}

/// What kind of not-public address `ip` is; `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<Internal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Internal> {
    let [a, b, ..] = ip.octets();
    Some(match (a, b) {
        (0, _) => Internal::Unspecified,
        (127, _) => Internal::Loopback,
        (10, _) | (192, 168) => Internal::Private,
        (172, b) if (16..32).contains(&b) => Internal::Private,
        (169, 254) => Internal::LinkLocal,
        (100, b) if (64..128).contains(&b) => Internal::Shared,
        // IETF protocol assignments and benchmarking (RFC 6890).
        (192, 0) if ip.octets()[2] == 0 => Internal::Reserved,
        (198, 18 | 19) => Internal::Reserved,
        (224..=239, _) => Internal::Multicast,
        (240..=255, _) => Internal::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Internal> {
    if ip.is_unspecified() {
        return Some(Internal::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Internal::Loopback);
    }
    // An IPv4 address inside an IPv6 one reaches that IPv4 address:
    // mapped (`::ffff:a.b.c.d`) by the kernel, NAT64's well-known prefix
    // (`64:ff9b::/96`) by the network's translator.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let low_v4 = || {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // NAT64 (well-known `64:ff9b::/96`) and IPv4-compatible (`::a.b.c.d`,
    // deprecated but routable where `sit` is up) carry the IPv4 address
    // last; the local-use NAT64 prefix (`64:ff9b:1::/48`) may map to any
    // private one, and 6to4 (`2002::/16`) embeds one after the prefix.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0, 0, 0, 0, 0, 0] {
        return classify_v4(low_v4());
    }
    if s[..3] == [0x64, 0xff9b, 1] {
        return Some(Internal::Reserved);
    }
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(match s[0] {
        x if x & 0xfe00 == 0xfc00 => Internal::Private,
        x if x & 0xffc0 == 0xfec0 => Internal::Private,
        x if x & 0xffc0 == 0xfe80 => Internal::LinkLocal,
        x if x & 0xff00 == 0xff00 => Internal::Multicast,
        _ => return None,
    })
}

/// A name that resolved to an address that is not a public one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub ip: IpAddr,
    pub kind: Internal,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resolves to {}, {}", self.ip, self.kind.describe())
    }
}

/// Why a request has nowhere to connect.
#[derive(Debug)]
pub enum Unreachable {
    /// The name resolves to an address outside the grant's reach.
    Refused(Refused),
    /// The lookup failed, or found nothing.
    Lookup(Error),
}

/// The IP a URI's host names literally (`127.0.0.1`, `[::1]`), if it does.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Whether a grant that names `host` means whatever address it is: an IP
/// literal, or `localhost`.
fn names_its_address(host: &str) -> bool {
    ip_literal(host).is_some() || host.trim_end_matches('.').eq_ignore_ascii_case("localhost")
}

/// The addresses of `host` to connect to on `port`: the literal one, or
/// what the name resolves to, every one of them public unless the host
/// names its address (`names_its_address`).
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Unreachable> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            tracing::debug!("a bot's HTTP request: no address for {host}: {e}");
            Unreachable::Lookup(Error::DnsError {
                rcode: Some("no address".to_string()),
                info_code: None,
            })
        })?
        .collect();
    if found.is_empty() {
        return Err(Unreachable::Lookup(Error::DestinationNotFound));
    }
    if !names_its_address(host) {
        check_public(&found).map_err(Unreachable::Refused)?;
    }
    Ok(found)
}

/// Every address public, or the first that is not. All of them, not only
/// the one connected to: the client tries them in turn.
fn check_public(addrs: &[SocketAddr]) -> Result<(), Refused> {
    for addr in addrs {
        if let Some(kind) = classify(addr.ip()) {
            return Err(Refused {
                ip: addr.ip(),
                kind,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<Internal> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn addresses_of_this_machine_and_its_networks_are_not_public() {
        use Internal::*;
        for (ip, expected) in [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("100.64.0.1", Shared),
            ("100.127.255.255", Shared),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Reserved),
            ("240.0.0.1", Reserved),
            // IPv4 inside IPv6 is classified as the IPv4 address it reaches.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("64:ff9b::10.1.2.3", Private),
            ("::7f00:1", Loopback),
            ("::a9fe:a9fe", LinkLocal),
            ("2002:a00:1::1", Private),
            ("2002:7f00:1::1", Loopback),
            ("64:ff9b:1::a00:1", Reserved),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "11.0.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "192.0.2.1",
            "198.20.0.1",
            "198.17.255.255",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn a_refusal_names_the_address_and_its_kind() {
        let addrs: Vec<SocketAddr> = vec![
            "93.184.216.34:443".parse().unwrap(),
            "127.0.0.1:443".parse().unwrap(),
        ];
        let refused = check_public(&addrs).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "resolves to 127.0.0.1, a loopback address"
        );
        assert!(check_public(&addrs[..1]).is_ok());
    }

    #[test]
    fn ip_literals_and_localhost_name_their_address() {
        assert_eq!(ip_literal("127.0.0.1"), Some([127, 0, 0, 1].into()));
        assert_eq!(ip_literal("[::1]"), Some(Ipv6Addr::LOCALHOST.into()));
        assert_eq!(ip_literal("::1"), Some(Ipv6Addr::LOCALHOST.into()));
        assert_eq!(ip_literal("[::1"), None);
        assert_eq!(ip_literal("example.com"), None);
        for host in ["127.0.0.1", "[::1]", "10.0.0.7", "localhost", "LocalHost"] {
            assert!(names_its_address(host), "{host}");
        }
        for host in ["example.com", "localhost.example.com", "127.0.0.1.nip.io"] {
            assert!(!names_its_address(host), "{host}");
        }
    }

    #[tokio::test]
    async fn a_literal_is_not_looked_up_and_localhost_may_be_loopback() {
        let addrs = resolve("[::1]", 8080).await.unwrap();
        assert_eq!(addrs, ["[::1]:8080".parse::<SocketAddr>().unwrap()]);
        let addrs = resolve("localhost", 8080).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port() == 8080), "{addrs:?}");
    }
}
