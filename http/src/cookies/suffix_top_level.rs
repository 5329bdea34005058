//! Public suffixes without the public suffix list (the `cookies-psl` feature off): only the
//! last label counts, the list's default `*` rule. `Domain=com` is still refused, but
//! `Domain=co.uk` is accepted for `a.co.uk`, and the per-site cookie limit groups
//! `a.co.uk` with `b.co.uk`: enable `cookies-psl` for browser-grade separation.

/// The last label of `domain` (no leading or trailing dot).
pub(super) fn public_suffix(domain: &str) -> Option<&str> {
    Some(domain.rsplit('.').next().unwrap_or(domain)).filter(|s| !s.is_empty())
}

/// The last two labels of `domain`, `None` for a single label.
pub(super) fn registrable_domain(domain: &str) -> Option<&str> {
    let suffix = public_suffix(domain)?;
    let rest = domain[..domain.len() - suffix.len()].strip_suffix('.')?;
    let label = rest.rsplit('.').next().unwrap_or(rest);
    (!label.is_empty()).then(|| &domain[domain.len() - suffix.len() - label.len() - 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_label_is_the_suffix() {
        assert_eq!(public_suffix("www.example.com"), Some("com"));
        assert_eq!(public_suffix("localhost"), Some("localhost"));
        assert_eq!(registrable_domain("a.b.example.co.uk"), Some("co.uk"));
        assert_eq!(registrable_domain("example.com"), Some("example.com"));
        assert_eq!(registrable_domain("com"), None);
    }
}
