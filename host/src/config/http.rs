//! `[http]`: who may use the API besides programs on this machine (the
//! cross-site guard, `api::guard`, enforces it; README, "Threat model").
//! Checked when the file is read, so a typo refuses to start, naming its key.

use std::net::IpAddr;

use anyhow::{Context, bail};
use serde::Deserialize;

/// `[http]`: who may use the API besides programs on this machine. See
/// README, "Threat model".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Web origins (`https://dash.example`) whose pages may call the API
    /// from a browser, reads included; `"*"` for any (the original).
    pub allowed_origins: Vec<String>,
    /// Host names the API answers to besides `localhost` and its
    /// addresses (refusing others stops DNS rebinding); `"*"` for any.
    pub allowed_hosts: Vec<String>,
    /// Networks (CIDR, `192.168.1.0/24`) whose clients may connect,
    /// besides loopback; empty: every client that can reach the listener.
    pub allow_from: Vec<String>,
}

/// `[http]` checked and normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRules {
    /// `*` was listed: any origin, as the original.
    pub any_origin: bool,
    /// Listed origins, lower case, as browsers write them
    /// (`https://dash.example:8443`).
    pub origins: Vec<String>,
    pub any_host: bool,
    /// Listed host names, lower case, without a port.
    pub hosts: Vec<String>,
    /// Empty: every peer (the default).
    pub allow_from: Vec<Cidr>,
}

impl HttpSection {
    /// The rules: origins are `scheme://host[:port]` or `*`, hosts are
    /// names, networks are CIDR.
    ///
    /// # Errors
    /// The first bad entry, named with its key.
    pub fn rules(&self) -> anyhow::Result<HttpRules> {
        let mut rules = HttpRules::default();
        for o in &self.allowed_origins {
            let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
            if o == "*" {
                rules.any_origin = true;
                continue;
            }
            let ok = o == "null"
                || o.split_once("://").is_some_and(|(scheme, rest)| {
                    !scheme.is_empty()
                        && !rest.is_empty()
                        && !rest.contains(['/', '?', '#', '@', ' '])
                });
            if !ok {
                bail!(
                    "[http] allowed_origins: {o:?} is not an origin (scheme://host[:port], e.g. \"https://dash.example\", or \"*\")"
                );
            }
            rules.origins.push(o);
        }
        for h in &self.allowed_hosts {
            let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
            if h == "*" {
                rules.any_host = true;
                continue;
            }
            if h.is_empty() || h.contains(['/', ':', ' ', '@']) {
                bail!(
                    "[http] allowed_hosts: {h:?} is not a host name (a name without port, e.g. \"qq.lan\", or \"*\")"
                );
            }
            rules.hosts.push(h);
        }
        for c in &self.allow_from {
            rules
                .allow_from
                .push(c.parse().context("[http] allow_from")?);
        }
        Ok(rules)
    }
}

/// An address and a prefix length, e.g. `192.168.1.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = anyhow::Error;

    /// `ADDR/LEN` or a single `ADDR`; the bits past the prefix are ignored.
    fn from_str(s: &str) -> anyhow::Result<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .with_context(|| format!("{s:?} is not an address or a network (CIDR)"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => bail!("{s:?}: the prefix length must be 0 to {max}"),
            },
        };
        // An IPv4-mapped network (`::ffff:10.0.0.0/104`) is the IPv4 one
        // (`10.0.0.0/8`): peers are compared as IPv4, so is the network.
        let canonical = net.to_canonical();
        let prefix = if canonical.is_ipv4() && net.is_ipv6() {
            match prefix.checked_sub(96) {
                Some(p) => p,
                None => bail!("{s:?}: an IPv4-mapped network needs a prefix of at least 96"),
            }
        } else {
            prefix
        };
        Ok(Cidr {
            net: canonical,
            prefix,
        })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            let keep = u32::from(prefix);
            let drop = u32::from(width) - keep;
            if keep == 0 { 0 } else { bits >> drop }
        }
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), self.prefix, 32)
                    == masked(u32::from(a).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.prefix, 128) == masked(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().expect("a network")
    }

    #[test]
    fn ipv4_mapped_networks_are_their_ipv4_networks() {
        let one = cidr("::ffff:192.168.1.5");
        assert!(one.contains("192.168.1.5".parse().unwrap()));
        assert!(!one.contains("192.168.1.6".parse().unwrap()));
        assert!(!one.contains("10.0.0.1".parse().unwrap()));
        let net = cidr("::ffff:10.0.0.0/104");
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!("::ffff:10.0.0.0/64".parse::<Cidr>().is_err());
        assert!(cidr("10.0.0.0/8").contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("1.2.3.4".parse().unwrap()));
    }
}
