//! Host name matching (RFC 6125) behind
//! [`Certificate::matches_host_name`](super::Certificate::matches_host_name).
//!
//! The rules are those every backend's handshake applies (RFC 6125, and the CA/Browser Forum's
//! baseline requirements): a host name is compared with the DNS subject alternative names, an
//! IP literal with the IP address entries, and the common name is never consulted. (Qt falls
//! back to the common name when there is no DNS name; polytls does not, so that this method
//! and a handshake never disagree.) Comparison ignores ASCII case and one trailing dot.
//! A wildcard is honoured only as the whole left-most label of a name with at least three
//! labels (`*.example.com`), matches exactly one label, and never matches an IP literal. A name
//! or host containing a NUL byte, or an empty label, never matches.

use std::net::IpAddr;

use super::AlternativeName;

/// Parses an IP literal, with or without the brackets of an IPv6 URL host.
fn ip_literal(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

/// Lower-cases ASCII, drops one trailing dot, and rejects names with a NUL byte, an empty
/// label or nothing at all.
fn normalize(name: &str) -> Option<String> {
    if name.contains('\0') {
        return None;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// Whether the certificate's DNS name `pattern` matches `host`, a host name that is not an IP
/// literal.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let (Some(pattern), Some(host)) = (normalize(pattern), normalize(host)) else {
        return false;
    };
    if !pattern.contains('*') {
        return pattern == host;
    }
    let Some(("*", pattern_rest)) = pattern.split_once('.') else {
        return false;
    };
    // The rest must hold no further wildcard and at least two labels, so `*.com` is refused.
    if pattern_rest.contains('*') || !pattern_rest.contains('.') {
        return false;
    }
    match host.split_once('.') {
        Some((label, host_rest)) => !label.is_empty() && host_rest == pattern_rest,
        None => false,
    }
}

/// The matching rules, over the subject alternative names of a certificate.
pub(crate) fn matches(host: &str, sans: &[AlternativeName]) -> bool {
    if host.contains('\0') || host.is_empty() {
        return false;
    }
    if let Some(ip) = ip_literal(host) {
        return sans
            .iter()
            .any(|n| matches!(n, AlternativeName::Ip(a) if *a == ip));
    }
    sans.iter().any(|n| match n {
        AlternativeName::Dns(pattern) => dns_matches(pattern, host),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(names: &[&str]) -> Vec<AlternativeName> {
        names
            .iter()
            .map(|n| AlternativeName::Dns((*n).to_owned()))
            .collect()
    }

    #[test]
    fn exact_and_case_insensitive() {
        let sans = dns(&["www.example.com"]);
        assert!(matches("www.example.com", &sans));
        assert!(matches("WWW.Example.COM", &sans));
        assert!(matches("www.example.com.", &sans));
        assert!(!matches("example.com", &sans));
        assert!(!matches("", &sans));
    }

    #[test]
    fn wildcards() {
        let sans = dns(&["*.example.com"]);
        assert!(matches("a.example.com", &sans));
        assert!(!matches("example.com", &sans));
        assert!(!matches("a.b.example.com", &sans));
        assert!(!matches(".example.com", &sans));
        for bad in [
            "*.com",
            "f*.example.com",
            "*a.example.com",
            "a.*.example.com",
            "*.*.example.com",
            "*",
        ] {
            assert!(!matches("foo.example.com", &dns(&[bad])), "{bad}");
            assert!(!matches("a.com", &dns(&[bad])), "{bad}");
        }
        // No wildcard for IP literals, even when the pattern could cover the text.
        assert!(!matches("10.0.0.1", &dns(&["*.0.0.1"])));
    }

    #[test]
    fn nul_bytes_never_match() {
        let sans = dns(&["www.example.com\0.evil.com"]);
        assert!(!matches("www.example.com", &sans));
        assert!(!matches("www.example.com\0.evil.com", &sans));
        assert!(!matches("a\0", &dns(&["a"])));
    }

    #[test]
    fn common_name_is_never_consulted() {
        // The certificate's common name is not an input: with no DNS name nothing matches.
        assert!(!matches("cn.example.com", &[]));
        assert!(!matches("cn.example.com", &dns(&["other.example.com"])));
        let email = vec![AlternativeName::Email("a@cn.example.com".into())];
        assert!(!matches("cn.example.com", &email));
    }

    #[test]
    fn ip_literals() {
        let sans = vec![
            AlternativeName::Ip("192.0.2.1".parse().unwrap()),
            AlternativeName::Ip("2001:db8::1".parse().unwrap()),
        ];
        assert!(matches("192.0.2.1", &sans));
        assert!(matches("2001:db8::1", &sans));
        assert!(matches("[2001:DB8::1]", &sans));
        assert!(!matches("192.0.2.2", &sans));
        // A DNS name spelled like the address does not match an IP literal.
        assert!(!matches("192.0.2.1", &dns(&["192.0.2.1"])));
        assert!(!matches("192.0.2.7", &[]));
    }
}
