//! The `Strict-Transport-Security` header parser (RFC 6797 section 6.1).

/// The directives of a valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StsDirectives {
    /// `max-age`, in seconds.
    pub max_age: u64,
    /// Whether `includeSubDomains` was present.
    pub include_subdomains: bool,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A directive value: a token or a quoted-string (unquoted here). `None` when malformed.
fn directive_value(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return is_token(raw).then(|| raw.to_owned());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    // Nothing may follow the closing quote.
    chars.as_str().is_empty().then_some(out)
}

/// Splits at `;` outside quoted strings.
fn split_directives(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in value.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Parses a `Strict-Transport-Security` value. `None` when RFC 6797 says to ignore the
/// header: no `max-age`, a malformed one, a directive repeated, or a malformed directive.
/// Unknown directives are ignored.
pub(crate) fn parse_sts(value: &str) -> Option<StsDirectives> {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut seen: Vec<String> = Vec::new();
    for part in split_directives(value) {
        let part = part.trim_matches(|c| c == ' ' || c == '\t');
        if part.is_empty() {
            continue;
        }
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (
                n.trim_end_matches([' ', '\t']),
                Some(v.trim_start_matches([' ', '\t'])),
            ),
            None => (part, None),
        };
        if !is_token(name) {
            return None;
        }
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        let value = match value {
            Some(raw) => Some(directive_value(raw)?),
            None => None,
        };
        match name.as_str() {
            "max-age" => {
                let digits = value?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Longer than u64: still a valid, absurdly long policy; the cache caps it.
                max_age = Some(digits.parse::<u64>().unwrap_or(u64::MAX));
            }
            "includesubdomains" => {
                if value.is_some() {
                    return None;
                }
                include_subdomains = true;
            }
            _ => {}
        }
        seen.push(name);
    }
    Some(StsDirectives {
        max_age: max_age?,
        include_subdomains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(max_age: u64, include_subdomains: bool) -> Option<StsDirectives> {
        Some(StsDirectives {
            max_age,
            include_subdomains,
        })
    }

    #[test]
    fn valid_headers() {
        let table = [
            ("max-age=31536000", sts(31_536_000, false)),
            ("max-age=31536000; includeSubDomains", sts(31_536_000, true)),
            ("  INCLUDESUBDOMAINS ;MAX-AGE = 10 ", sts(10, true)),
            (
                "max-age=\"15768000\" ; includeSubDomains",
                sts(15_768_000, true),
            ),
            ("max-age=0", sts(0, false)),
            ("max-age=60; preload", sts(60, false)),
            ("max-age=60; foo=\"a;b\"; ;", sts(60, false)),
            ("max-age=99999999999999999999999", sts(u64::MAX, false)),
        ];
        for (value, expected) in table {
            assert_eq!(parse_sts(value), expected, "{value:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_values_never_panic(value in "[ -~\u{80}-\u{3ff}\t]{0,60}") {
            let _ = parse_sts(&value);
        }
    }

    #[test]
    fn invalid_headers_are_ignored() {
        for value in [
            "",
            "includeSubDomains",
            "max-age",
            "max-age=",
            "max-age=-1",
            "max-age=1.5",
            "max-age=abc",
            "max-age=1; max-age=2",
            "max-age=1; includeSubDomains; includesubdomains",
            "max-age=1; includeSubDomains=yes",
            "max-age=\"1",
            "max-age=\"1\"x",
            "max age=1",
        ] {
            assert_eq!(parse_sts(value), None, "{value:?}");
        }
    }
}
