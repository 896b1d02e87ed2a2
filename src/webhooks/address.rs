//! Where a webhook may be sent. An endpoint must be https on a public
//! address: a panel that would post to 127.0.0.1, 10.0.0.5 or the cloud
//! metadata address (169.254.169.254) on an owner's say-so is a door into
//! the provider's own network. The check runs when the endpoint is added
//! and again, in the resolver, at every delivery (a name can be pointed
//! elsewhere later). `WEBHOOKS_ALLOW_PRIVATE_ADDRESSES` lifts it, for tests
//! and closed networks only.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    Url,
};

/// True for an address on the open internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking, 198.18.0.0/15; IETF protocol assignments,
        // 192.0.0.0/24; reserved, 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address (and reach it through a
    // translator or tunnel) are only as public as that address: NAT64
    // 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, IPv4-compatible ::/96.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // Also SIIT's IPv4-translated ::ffff:0:0:0/96.
    let translated = s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0;
    if (s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1)) || s[..6] == [0; 6] || translated {
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, old site-local
        // fec0::/10, documentation 2001:db8::/32, Teredo 2001::/32.
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0)))
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("That is not a web address. Enter the full address, starting with https://.")]
    NotUrl,
    #[error("Webhook endpoints must use https://.")]
    NotHttps,
    #[error("Leave the user name and password out of the address; the signature proves deliveries are ours.")]
    Credentials,
    #[error("{0} is a private, loopback or link-local address: webhooks go only to addresses on the internet.")]
    Private(String),
    /// A name: whether it was not found or points inside is not said, so
    /// the form cannot be used to map names on the provider's network.
    #[error("{0} was not found on the internet, or points to a private, loopback or link-local address: webhooks go only to public addresses.")]
    NotPublic(String),
    /// Other ports would let the form probe the provider's neighbours'
    /// services (a connection error says whether a port is open).
    #[error("Webhook endpoints may use port {0} only. Leave the port out to use https's usual port.")]
    Port(String),
}

/// Checks an endpoint address as typed; returns it normalised. `ports`:
/// the ports endpoints may use (`WEBHOOK_PORTS`, 443 by default).
pub async fn check(raw: &str, allow_private: bool, ports: &[u16]) -> Result<Url, AddressError> {
    let url = Url::parse(raw.trim()).map_err(|_| AddressError::NotUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(AddressError::NotHttps),
        _ => return Err(AddressError::NotUrl),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressError::Credentials);
    }
    let host = url.host_str().ok_or(AddressError::NotUrl)?.to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    if allow_private {
        return Ok(url);
    }
    // An address literal (its brackets off) is checked as it is; a name by
    // what it resolves to now.
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
    match bare.parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => return Err(AddressError::Private(host)),
        Ok(_) => {}
        Err(_) => {
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((bare.as_str(), port)).await {
                Ok(found) => found.collect(),
                Err(_) => return Err(AddressError::NotPublic(host)),
            };
            if addrs.is_empty() || addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(AddressError::NotPublic(host));
            }
        }
    }
    if !ports.contains(&port) {
        let allowed: Vec<String> = ports.iter().map(u16::to_string).collect();
        return Err(AddressError::Port(allowed.join(" or ")));
    }
    Ok(url)
}

/// The delivery client's resolver: a name that resolves to any private
/// address is refused at connection time, so changing a name's records
/// after the endpoint was added does not get around `check`.
pub struct PublicOnly {
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !allow_private && found.iter().any(|a| !is_public(a.ip())) {
                return Err(format!("{} resolves to a private address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// The client deliveries go through: no redirects (a 3xx is a failed
/// delivery, never a second request somewhere else), short timeouts, and
/// the resolver above.
pub fn client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("panel-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        // A proxy from the environment would resolve the name itself, past
        // the resolver's check: deliveries always connect directly.
        .no_proxy()
        .build()
}

#[cfg(test)]
mod tests {
    async fn check_default(raw: &str, allow_private: bool) -> Result<Url, AddressError> {
        check(raw, allow_private, &[443]).await
    }

    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "::",
            "192.0.0.8",
            "64:ff9b::a00:5",
            "64:ff9b:1::a00:5",
            "2002:a00:5::1",
            "::10.0.0.5",
            "2001::1",
            "fec0::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} counted as public");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::101:101", "2002:101:101::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} counted as private");
        }
    }

    #[tokio::test]
    async fn endpoint_addresses_must_be_https_and_public() {
        assert_eq!(check_default("http://example.com/hook", false).await, Err(AddressError::NotHttps));
        assert_eq!(check_default("ftp://example.com/", false).await, Err(AddressError::NotUrl));
        assert_eq!(check_default("not a url", false).await, Err(AddressError::NotUrl));
        assert_eq!(check_default("https://u:p@example.com/", false).await, Err(AddressError::Credentials));
        assert_eq!(
            check_default("https://127.0.0.1/hook", false).await,
            Err(AddressError::Private("127.0.0.1".into()))
        );
        assert_eq!(check_default("https://[::1]:8443/", false).await, Err(AddressError::Private("[::1]".into())));
        assert_eq!(
            check_default("https://localhost/hook", false).await,
            Err(AddressError::NotPublic("localhost".into()))
        );
        assert_eq!(
            check_default("https://169.254.169.254/", false).await,
            Err(AddressError::Private("169.254.169.254".into()))
        );
        assert!(check_default("https://93.184.216.34/hook", false).await.is_ok());
        assert_eq!(
            check_default("https://no-such-host.invalid/hook", false).await,
            Err(AddressError::NotPublic("no-such-host.invalid".into())),
            "a missing name and a private one read the same"
        );
        assert!(check_default("http://127.0.0.1:9/hook", true).await.is_ok());
    }
}
