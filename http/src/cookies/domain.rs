//! Hosts, domains and paths as RFC 6265 (section 5.1) compares them, plus the public suffix
//! check that stops `example.com` from setting a cookie for all of `.com`.

use std::net::IpAddr;

use url::{Host, Url};

/// The canonical host of `url` as cookies see it: a lower-case ASCII (punycode) domain, or an
/// IP address without brackets. `None` for URLs without a host (`file:`, `data:`).
pub(crate) fn url_host(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(d) => Some(d.trim_end_matches('.').to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// Whether `host` is an IPv4 or IPv6 literal (without brackets).
pub(crate) fn is_ip_literal(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// Canonicalises a `Domain` attribute value without its leading dot: lower case, IDNA to
/// ASCII, IP addresses in their canonical text. `None` when it is not a valid host.
pub(crate) fn canonical_domain(raw: &str) -> Option<String> {
    let raw = raw.trim_matches(|c| c == '[' || c == ']');
    if raw.is_empty() {
        return None;
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    match Host::parse(raw).ok()? {
        Host::Domain(d) => Some(d.to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// Domain matching: a cookie domain with a leading dot (`.example.com`) matches that domain
/// and every subdomain of it; one without (a host-only cookie) matches exactly that host.
/// IP hosts only ever match exactly.
pub(crate) fn domain_matches(cookie_domain: &str, host: &str) -> bool {
    match cookie_domain.strip_prefix('.') {
        None => cookie_domain.eq_ignore_ascii_case(host),
        Some(base) => {
            if base.eq_ignore_ascii_case(host) {
                return true;
            }
            if is_ip_literal(host) || host.len() <= base.len() {
                return false;
            }
            // Bytes, not str: a non-ASCII domain set through the API must not make the
            // split land inside a character.
            let (head, tail) = host.as_bytes().split_at(host.len() - base.len());
            head.ends_with(b".") && tail.eq_ignore_ascii_case(base.as_bytes())
        }
    }
}

/// The request path as RFC 6265 uses it: the URL path, or `/` when it has none.
pub(crate) fn request_path(url: &Url) -> &str {
    let path = url.path();
    if path.starts_with('/') {
        path
    } else {
        "/"
    }
}

/// Path matching (RFC 6265 section 5.1.4): equal, or a prefix that ends at a `/`.
pub(crate) fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    if cookie_path == request_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/'))
}

/// Qt's default cookie path: the directory of the request path *with* its trailing slash
/// (`/a/b/c` gives `/a/b/`, `/` and `` give `/`). RFC 6265 drops the slash; Qt keeps it,
/// and so does slotnet.
pub(crate) fn default_path(url: &Url) -> String {
    let path = request_path(url);
    match path.rfind('/') {
        Some(i) => path[..=i].to_owned(),
        None => "/".to_owned(),
    }
}

/// Whether `domain` (no leading dot) is a public suffix such as `com`, `co.uk` or
/// `github.io`, according to the public suffix list compiled into the `psl` crate (the
/// `cookies-psl` feature; without it only top-level labels are). Unlisted top-level labels
/// (`localhost`, `internal`) count as public suffixes too, as the list's default `*` rule
/// says.
pub(crate) fn is_public_suffix(domain: &str) -> bool {
    if is_ip_literal(domain) {
        return false;
    }
    let domain = domain.trim_end_matches('.');
    match super::suffix::public_suffix(domain) {
        Some(suffix) => suffix.eq_ignore_ascii_case(domain),
        None => false,
    }
}

/// The registrable domain (`example.co.uk` for `a.b.example.co.uk`), used to group cookies
/// for the per-site limit. Falls back to the domain itself.
pub(crate) fn site_of(domain: &str) -> String {
    let domain = domain.trim_start_matches('.');
    super::suffix::registrable_domain(domain)
        .unwrap_or(domain)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_matching_table() {
        let table = [
            // (cookie domain, host, matches)
            (".example.com", "example.com", true),
            (".example.com", "www.example.com", true),
            (".example.com", "a.b.example.com", true),
            (".example.com", "wwwexample.com", false),
            (".example.com", "example.org", false),
            (".example.com", "com", false),
            (".EXAMPLE.com", "www.example.COM", true),
            ("example.com", "example.com", true),
            ("example.com", "www.example.com", false),
            ("www.example.com", "example.com", false),
            (".0.0.1", "127.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            (".example.com", "", false),
            (".xx", "\u{e9}xx", false),
            (".xx", "\u{e9}.xx", true),
        ];
        for (domain, host, expected) in table {
            assert_eq!(domain_matches(domain, host), expected, "{domain} vs {host}");
        }
    }

    #[test]
    fn path_matching_table() {
        let table = [
            // (cookie path, request path, matches)
            ("/", "/", true),
            ("/", "/anything/at/all", true),
            ("/a", "/a", true),
            ("/a", "/a/b", true),
            ("/a", "/ab", false),
            ("/a/", "/a/b", true),
            ("/a/", "/a", false),
            ("/a/b/", "/a/b/c", true),
            ("/a/b", "/a/bc", false),
            ("/a/b", "/a", false),
            ("/A", "/a", false),
        ];
        for (cookie, request, expected) in table {
            assert_eq!(
                path_matches(cookie, request),
                expected,
                "{cookie} vs {request}"
            );
        }
    }

    #[test]
    fn default_path_keeps_the_trailing_slash_like_qt() {
        let table = [
            ("http://h/a/b/c", "/a/b/"),
            ("http://h/a/b/", "/a/b/"),
            ("http://h/a", "/"),
            ("http://h/", "/"),
            ("http://h", "/"),
            ("http://h/a/b/c?x=/y/z", "/a/b/"),
        ];
        for (url, expected) in table {
            assert_eq!(default_path(&Url::parse(url).unwrap()), expected, "{url}");
        }
    }

    #[test]
    fn public_suffixes() {
        for suffix in ["com", "co.uk", "github.io", "localhost", "org"] {
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        for domain in [
            "example.com",
            "example.co.uk",
            "user.github.io",
            "127.0.0.1",
        ] {
            assert!(!is_public_suffix(domain), "{domain}");
        }
        assert_eq!(site_of(".a.b.example.co.uk"), "example.co.uk");
    }

    proptest::proptest! {
        #[test]
        fn matching_never_panics(domain in "\\PC{0,12}", host in "\\PC{0,12}", path in "[/a-z\u{e9}]{0,8}") {
            let _ = domain_matches(&domain, &host);
            let _ = domain_matches(&format!(".{domain}"), &host);
            let _ = path_matches(&path, &host);
            let _ = is_public_suffix(&domain);
            let _ = canonical_domain(&domain);
        }
    }

    #[test]
    fn canonical_domains() {
        assert_eq!(
            canonical_domain("ExAmple.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            canonical_domain("bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(canonical_domain("[::1]").as_deref(), Some("::1"));
        assert_eq!(canonical_domain("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(canonical_domain(""), None);
        assert_eq!(canonical_domain("exa mple.com"), None);
        let url = Url::parse("http://[::1]:8080/").unwrap();
        assert_eq!(url_host(&url).as_deref(), Some("::1"));
    }
}
