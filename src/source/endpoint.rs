//! A console endpoint address: TCP (`http://host:port`) or a Unix socket (`file:///path`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::AttachError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl Endpoint {
    /// Parse `http://host:port`, `host:port`, `file:///path` or `file://localhost/path`.
    pub fn parse(s: &str) -> Result<Endpoint, AttachError> {
        let bad = |detail: &str| AttachError::BadAddress {
            addr: s.to_string(),
            detail: detail.to_string(),
        };
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("file://") {
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(bad("a file URL needs an absolute path"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if s.starts_with("https://") {
            return Err(bad("console endpoints speak plain HTTP/2, not TLS"));
        }
        let hostport = s.strip_prefix("http://").unwrap_or(s);
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if hostport.contains('/') || hostport.contains("://") {
            return Err(bad("unexpected path or scheme"));
        }
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| bad("missing :PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        let host = if let Some(inner) = host.strip_prefix('[') {
            // An IPv6 address in brackets, and nothing else.
            let v6 = inner
                .strip_suffix(']')
                .ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
            v6.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address inside [ ]"))?;
            v6
        } else {
            if host.contains(':') {
                return Err(bad("an IPv6 address goes in brackets: http://[ADDR]:PORT"));
            }
            if host.contains(']') {
                return Err(bad("a ] without its ["));
            }
            host
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
        {
            return Err(bad(&format!("{c:?} cannot be part of a host name")));
        }
        Ok(Endpoint::Tcp {
            host: host.to_string(),
            port,
        })
    }

    /// The endpoint a listening socket is reached at: an unspecified address means loopback.
    pub fn from_listen(addr: SocketAddr) -> Endpoint {
        let ip = match addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Endpoint::Tcp {
            host: ip.to_string(),
            port: addr.port(),
        }
    }

    /// The URI tonic is given (for a Unix socket a placeholder: the connector ignores it).
    pub fn uri(&self) -> String {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => format!("http://[{host}]:{port}"),
            Endpoint::Tcp { host, port } => format!("http://{host}:{port}"),
            Endpoint::Unix(_) => "http://localhost:6669".to_string(),
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Tcp { port, .. } => Some(*port),
            Endpoint::Unix(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { .. } => f.write_str(&self.uri()),
            Endpoint::Unix(path) => write!(f, "file://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_type() {
        let tcp = |h: &str, p| Endpoint::Tcp {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:6669").unwrap(),
            tcp("127.0.0.1", 6669)
        );
        assert_eq!(
            Endpoint::parse("localhost:7000").unwrap(),
            tcp("localhost", 7000)
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:6669/").unwrap(),
            tcp("::1", 6669)
        );
        assert_eq!(
            Endpoint::parse("file:///tmp/console.sock").unwrap(),
            Endpoint::Unix("/tmp/console.sock".into())
        );
        assert_eq!(
            Endpoint::parse("file://localhost/tmp/c.sock").unwrap(),
            Endpoint::Unix("/tmp/c.sock".into())
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:6669").unwrap().uri(),
            "http://[::1]:6669"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "http://",
            "host",
            "host:0",
            "host:99999",
            "https://h:1",
            "file://rel/x",
            "h:1/path",
            ":80",
            "http://[::1",
            "http://[::1:6669",
            "http://::1:6669",
            "http://[nonsense]:6669",
            "http://]:6669",
            "http://a b:6669",
            "http://[::1]]:6669",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn unspecified_listen_address_means_loopback() {
        assert_eq!(
            Endpoint::from_listen("0.0.0.0:6669".parse().unwrap()).uri(),
            "http://127.0.0.1:6669"
        );
        assert_eq!(
            Endpoint::from_listen("[::]:6669".parse().unwrap()).uri(),
            "http://[::1]:6669"
        );
    }
}
