//! Where webhooks may go. A URL whose host is, or resolves to, a loopback, private, link-local
//! or otherwise non-public address is refused (it would let a partner make Haven call into its
//! own network), unless `HAVEN_WEBHOOK_ALLOW_PRIVATE=true`. The check runs when a subscription
//! is made and again at each delivery, through the HTTP client's resolver, so a name that later
//! resolves somewhere private is caught too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address is on the public internet.
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
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT, 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24; benchmarking, 198.18.0.0/15.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7; link-local, fe80::/10; documentation, 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Checks a webhook URL: http(s), a host, no credentials, and (unless private addresses are
/// allowed) a host that is or resolves only to public addresses. The error says why, for the
/// `url` field.
pub async fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "must be an absolute URL".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials; the signature authenticates Haven".into());
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| "must name a host".to_string())?
        .trim_matches(['[', ']'])
        .to_string();
    if allow_private {
        return Ok(parsed);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| "names a host that does not resolve".to_string())?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() || !addrs.iter().all(|ip| is_public(*ip)) {
        return Err(
            "resolves to a loopback or private address, which webhooks may not call".into(),
        );
    }
    Ok(parsed)
}

/// At delivery, for a URL checked when it was subscribed: a host name goes through
/// [`PublicOnly`], but an IP-literal host is never resolved, so it is checked here.
pub fn literal_allowed(url: &reqwest::Url, allow_private: bool) -> bool {
    let literal = url
        .host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
    allow_private || literal.is_none_or(is_public)
}

/// The delivery client's resolver: answers only public addresses (unless allowed).
pub struct PublicOnly {
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the webhook host resolves to no public address".into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[actix_web::test]
    async fn urls_are_checked_before_anything_is_sent() {
        for (url, allow) in [
            ("http://127.0.0.1:9/hook", false),
            ("http://localhost:9/hook", false),
            ("http://[::1]/hook", false),
            ("http://169.254.169.254/latest/meta-data", false),
            ("ftp://example.com/x", true),
            ("http://user:pw@example.com/x", true),
            ("not a url", true),
        ] {
            assert!(check_url(url, allow).await.is_err(), "{url}");
        }
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
        let literal = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(!literal_allowed(&literal("http://10.0.0.1/x"), false));
        assert!(!literal_allowed(&literal("http://[::1]/x"), false));
        assert!(literal_allowed(&literal("http://10.0.0.1/x"), true));
        assert!(literal_allowed(&literal("https://example.org/x"), false));
        assert!(check_url("https://93.184.216.34/hook", false).await.is_ok());
    }
}
