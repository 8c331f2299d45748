//! [`PeerName`]: the name a client verifies its server's certificate against, decided once in
//! core so that every backend checks the same thing.
//!
//! ```
//! use polytls::PeerName;
//!
//! assert_eq!(PeerName::parse("Example.COM.")?, PeerName::parse("example.com")?);
//! assert!(matches!(PeerName::parse("[::1]")?, PeerName::Ip(_)));
//! assert!(PeerName::parse("").is_err());
//! assert!(PeerName::parse("*.example.com").is_err());
//! # Ok::<(), polytls::Error>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// A DNS name or an IP address a server's certificate must be valid for.
///
/// A DNS name is kept in its canonical form: ASCII lowercase, without the trailing dot of a
/// fully qualified name (`Example.COM.` and `example.com` are one name). Engines receive this
/// type, never the caller's text, so an empty, blank or malformed name can never switch a
/// backend's host check off.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerName {
    /// A DNS name: labels of ASCII letters, digits, `-` and `_`, lowercase, no trailing dot.
    /// Sent as SNI.
    Dns(String),
    /// An IP address, matched against the certificate's IP address SANs. Never sent as SNI.
    Ip(IpAddr),
}

/// The longest DNS name, without its trailing dot (RFC 1035).
const MAX_NAME: usize = 253;
/// The longest label.
const MAX_LABEL: usize = 63;

impl PeerName {
    /// Reads a host name or an IP address literal (IPv6 with or without brackets:
    /// `[::1]` or `::1`).
    ///
    /// Fails with [`Error::InvalidInput`], naming `name` and what is wrong with it, for an
    /// empty or blank name, a wildcard or other pattern, a name with characters a DNS name
    /// cannot hold (spaces, non-ASCII: give an internationalised name in its ASCII `xn--`
    /// form), an empty label, or a label or name that is too long.
    pub fn parse(name: &str) -> Result<PeerName, Error> {
        let bracketed = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
        if let Ok(ip) = bracketed.unwrap_or(name).parse::<IpAddr>() {
            if bracketed.is_none() || ip.is_ipv6() {
                return Ok(PeerName::Ip(ip));
            }
        }
        let invalid = |why: &str| {
            Error::InvalidInput(format!("'{name}' cannot be used as a peer name: {why}"))
        };
        if name.trim().is_empty() {
            return Err(invalid("it is empty"));
        }
        let dns = name.strip_suffix('.').unwrap_or(name);
        if dns.len() > MAX_NAME {
            return Err(invalid("it is longer than 253 characters"));
        }
        for label in dns.split('.') {
            if label.is_empty() {
                return Err(invalid("it has an empty label"));
            }
            if label.len() > MAX_LABEL {
                return Err(invalid("a label is longer than 63 characters"));
            }
            if label.contains('*') {
                return Err(invalid("a peer name is a host name, not a pattern"));
            }
            if let Some(c) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(invalid(&if c.is_ascii() {
                    format!("{c:?} is not allowed in a host name")
                } else {
                    "a host name is ASCII: give an internationalised name in its xn-- form"
                        .to_owned()
                }));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a label starts or ends with '-'"));
            }
        }
        Ok(PeerName::Dns(dns.to_ascii_lowercase()))
    }

    /// The DNS name, if this is one (what a client sends as SNI).
    pub fn dns_name(&self) -> Option<&str> {
        match self {
            PeerName::Dns(name) => Some(name),
            PeerName::Ip(_) => None,
        }
    }
}

impl fmt::Display for PeerName {
    /// The name as a host name or an IP literal (IPv6 without brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerName::Dns(name) => f.write_str(name),
            PeerName::Ip(ip) => ip.fmt(f),
        }
    }
}

impl std::str::FromStr for PeerName {
    type Err = Error;

    /// As [`PeerName::parse`].
    fn from_str(name: &str) -> Result<PeerName, Error> {
        PeerName::parse(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(name: &str) -> PeerName {
        PeerName::Dns(name.to_owned())
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("localhost", dns("localhost")),
            ("localhost.", dns("localhost")),
            ("WWW.Example.COM", dns("www.example.com")),
            ("xn--bcher-kva.example", dns("xn--bcher-kva.example")),
            ("_srv.example", dns("_srv.example")),
            ("127.0.0.1", PeerName::Ip([127, 0, 0, 1].into())),
            ("::1", PeerName::Ip("::1".parse().unwrap())),
            ("[::1]", PeerName::Ip("::1".parse().unwrap())),
            (
                "[2001:DB8::1]",
                PeerName::Ip("2001:db8::1".parse().unwrap()),
            ),
        ];
        for (text, wanted) in cases {
            assert_eq!(PeerName::parse(text).unwrap(), wanted, "{text}");
        }
        assert_eq!(dns("example.com").dns_name(), Some("example.com"));
        assert_eq!(PeerName::parse("[::1]").unwrap().dns_name(), None);
        assert_eq!(PeerName::parse("[::1]").unwrap().to_string(), "::1");
    }

    #[test]
    fn unusable_names_are_invalid_input() {
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        for text in [
            "",
            " ",
            "\t",
            ".",
            "..",
            "a..b",
            ".example.com",
            "localhost..",
            " localhost",
            "local host",
            "*.example.com",
            "a*.example.com",
            "bücher.example",
            "-a.example",
            "a-.example",
            "exa$mple.com",
            "[127.0.0.1]",
            "[::1",
            "::1%eth0",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            match PeerName::parse(text) {
                Err(Error::InvalidInput(message)) => {
                    assert!(message.contains(&format!("'{text}'")), "{message}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
