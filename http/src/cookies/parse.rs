//! The `Set-Cookie` parser (RFC 6265 section 5.2, with the RFC 6265bis refinements that
//! browsers ship: nameless cookies, control characters and oversized cookies rejected).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cookie::{NetworkCookie, SameSite};
use super::date::parse_cookie_date;
use super::domain::canonical_domain;

/// The largest `name=value` a cookie may have (RFC 6265bis section 5.6 step 4).
pub(crate) const MAX_NAME_VALUE_LEN: usize = 4096;

/// The largest `Max-Age` honoured: far beyond any real cookie, small enough never to
/// overflow `SystemTime`.
const MAX_AGE_CAP: u64 = 100 * 365 * 86_400;

fn trim_wsp(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// RFC 6265bis: a name or value holding a control character (other than tab) makes the
/// whole cookie invalid.
fn has_control_chars(s: &str) -> bool {
    s.bytes()
        .any(|b| matches!(b, 0x00..=0x08 | 0x0A..=0x1F | 0x7F))
}

/// `now` without its sub-second part, so a `Max-Age` expiry survives a save/load roundtrip
/// through the one-second resolution of cookie dates.
fn whole_seconds(now: SystemTime) -> SystemTime {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `Max-Age` (RFC 6265 section 5.2.2): an optional `-` then digits, else ignored. Zero or
/// negative means "already expired".
fn parse_max_age(value: &str, now: SystemTime) -> Option<SystemTime> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A digit string too long for u64 is still a valid (huge) number: saturate.
    let seconds = digits.parse::<u64>().unwrap_or(u64::MAX);
    if negative || seconds == 0 {
        return Some(UNIX_EPOCH);
    }
    Some(whole_seconds(now) + Duration::from_secs(seconds.min(MAX_AGE_CAP)))
}

/// Parses one `Set-Cookie` string; `None` when RFC 6265 says to ignore it.
pub(crate) fn parse_set_cookie(line: &str, now: SystemTime) -> Option<NetworkCookie> {
    let mut parts = line.split(';');
    let name_value = parts.next().unwrap_or("");
    let (name, value) = match name_value.split_once('=') {
        Some((n, v)) => (trim_wsp(n), trim_wsp(v)),
        // RFC 6265bis: no '=' means a nameless cookie whose value is the whole string.
        None => ("", trim_wsp(name_value)),
    };
    if (name.is_empty() && value.is_empty())
        || has_control_chars(name)
        || has_control_chars(value)
        || name.len() + value.len() > MAX_NAME_VALUE_LEN
    {
        return None;
    }
    let mut cookie = NetworkCookie::new(name, value);
    let mut expires = None;
    let mut max_age = None;
    for attribute in parts {
        let (attr_name, attr_value) = match attribute.split_once('=') {
            Some((n, v)) => (trim_wsp(n), trim_wsp(v)),
            None => (trim_wsp(attribute), ""),
        };
        // Later attributes override earlier ones of the same name (RFC 6265 5.3 step 3).
        match attr_name.to_ascii_lowercase().as_str() {
            "expires" => {
                if let Some(t) = parse_cookie_date(attr_value) {
                    expires = Some(t);
                }
            }
            "max-age" => {
                if let Some(t) = parse_max_age(attr_value, now) {
                    max_age = Some(t);
                }
            }
            // An empty Domain is ignored (RFC 6265 5.2.3); an invalid one rejects the
            // cookie, as Qt does, rather than silently widening or narrowing its scope.
            "domain" if !attr_value.is_empty() => {
                let dotted = attr_value.starts_with('.');
                let domain = canonical_domain(attr_value.trim_start_matches('.'))?;
                cookie.set_domain(if dotted { format!(".{domain}") } else { domain });
            }
            "path" => {
                // A path not starting with '/' means "use the default path".
                let path = if attr_value.starts_with('/') {
                    attr_value
                } else {
                    ""
                };
                cookie.set_path(path);
            }
            "secure" => cookie.set_secure(true),
            "httponly" => cookie.set_http_only(true),
            "samesite" => {
                cookie.set_same_site_policy(match attr_value.to_ascii_lowercase().as_str() {
                    "none" => SameSite::None,
                    "lax" => SameSite::Lax,
                    "strict" => SameSite::Strict,
                    _ => SameSite::Default,
                })
            }
            _ => {}
        }
    }
    // Max-Age wins over Expires whatever their order (RFC 6265 5.3 step 3).
    cookie.set_expiration_date(max_age.or(expires));
    Some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::date::system_time_from_unix;

    fn now() -> SystemTime {
        system_time_from_unix(1_700_000_000)
    }

    fn parse(line: &str) -> Option<NetworkCookie> {
        parse_set_cookie(line, now())
    }

    #[test]
    fn name_value_and_flags() {
        let c = parse("  SID = 31d4d96e407aad42 ; Path=/; Secure; HttpOnly; SameSite=lax").unwrap();
        assert_eq!(c.name(), "SID");
        assert_eq!(c.value(), "31d4d96e407aad42");
        assert_eq!(c.path(), "/");
        assert!(c.is_secure());
        assert!(c.is_http_only());
        assert_eq!(c.same_site_policy(), SameSite::Lax);
        assert!(c.is_session_cookie());
        assert_eq!(c.domain(), "");
    }

    #[test]
    fn values_keep_quotes_and_equals_signs() {
        let c = parse("a=\"b=c\"; path=/").unwrap();
        assert_eq!(c.value(), "\"b=c\"");
        let c = parse("token=abc==").unwrap();
        assert_eq!(c.value(), "abc==");
    }

    #[test]
    fn rejected_cookies() {
        for line in [
            "",
            "   ",
            "=",
            "; path=/",
            "a=b\u{1}c",
            "a=b; domain=exa mple.com",
        ] {
            assert!(parse(line).is_none(), "{line:?}");
        }
        let long = format!("a={}", "x".repeat(MAX_NAME_VALUE_LEN));
        assert!(parse(&long).is_none());
    }

    #[test]
    fn nameless_cookie() {
        let c = parse("justavalue; path=/").unwrap();
        assert_eq!(c.name(), "");
        assert_eq!(c.value(), "justavalue");
    }

    #[test]
    fn expires_and_max_age() {
        let c = parse("a=b; expires=Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            c.expiration_date(),
            Some(system_time_from_unix(784_111_777))
        );

        // Max-Age wins over Expires in either order.
        for line in [
            "a=b; Max-Age=60; expires=Sun, 06 Nov 1994 08:49:37 GMT",
            "a=b; expires=Sun, 06 Nov 1994 08:49:37 GMT; max-age=60",
        ] {
            let c = parse(line).unwrap();
            assert_eq!(
                c.expiration_date(),
                Some(now() + Duration::from_secs(60)),
                "{line}"
            );
        }

        for line in ["a=b; max-age=0", "a=b; max-age=-5"] {
            let c = parse(line).unwrap();
            assert!(c.is_expired_at(now()), "{line}");
        }

        // Invalid Max-Age or Expires values are ignored, not fatal.
        for line in ["a=b; max-age=1x", "a=b; max-age=", "a=b; expires=never"] {
            let c = parse(line).unwrap();
            assert!(c.is_session_cookie(), "{line}");
        }

        let c = parse("a=b; max-age=99999999999999999999999999").unwrap();
        assert!(c.expiration_date().unwrap() > now() + Duration::from_secs(86_400 * 365 * 50));
    }

    #[test]
    fn domain_and_path_attributes() {
        let c = parse("a=b; Domain=.Example.COM; path=/x").unwrap();
        assert_eq!(c.domain(), ".example.com");
        assert_eq!(c.path(), "/x");
        let c = parse("a=b; domain=example.com").unwrap();
        assert_eq!(
            c.domain(),
            "example.com",
            "the dot is added by normalize, not here"
        );
        let c = parse("a=b; domain=; path=relative").unwrap();
        assert_eq!(c.domain(), "");
        assert_eq!(c.path(), "", "a relative path means the default path");
        let c = parse("a=b; path=/first; path=/second").unwrap();
        assert_eq!(c.path(), "/second", "the last attribute wins");
        let c = parse("a=b; samesite=bogus; SameSite=Strict").unwrap();
        assert_eq!(c.same_site_policy(), SameSite::Strict);
        let c = parse("a=b; samesite=bogus").unwrap();
        assert_eq!(c.same_site_policy(), SameSite::Default);
        // A nameless cookie whose value holds '=' (found by the property test below) keeps
        // its value through a save and load.
        let c = parse("==\t").unwrap();
        assert_eq!((c.name(), c.value()), ("", "="));
        let raw = c.to_raw_form(crate::cookies::RawForm::Full);
        let again = parse(&raw).unwrap();
        assert_eq!((again.name(), again.value()), ("", "="));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(line in "[ -~\u{80}-\u{10ff}\t\r\n]{0,80}") {
            for cookie in NetworkCookie::parse_cookies_at(line.as_bytes(), now()) {
                // Whatever is accepted serialises and parses back to the same cookie.
                let raw = cookie.to_raw_form(crate::cookies::RawForm::Full);
                let again = NetworkCookie::parse_cookies_at(raw.as_bytes(), now());
                proptest::prop_assert_eq!(again.len(), 1, "{}", raw);
            }
        }

        #[test]
        fn arbitrary_dates_never_panic(date in "[ -~]{0,40}") {
            let _ = parse_cookie_date(&date);
        }
    }

    #[test]
    fn several_cookies_separated_by_newlines() {
        let cookies =
            NetworkCookie::parse_cookies_at(b"a=1; path=/\r\nb=2\n\nbad\x01=x\nc=3", now());
        let names: Vec<_> = cookies.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // Non-UTF-8 lines are skipped, the rest still parsed.
        let cookies = NetworkCookie::parse_cookies_at(b"a=\xff\xfe\nb=2", now());
        assert_eq!(cookies.len(), 1);
        assert_eq!(cookies[0].name(), "b");
    }
}
