//! Public suffixes from the public suffix list compiled into the `psl` crate (the
//! `cookies-psl` feature): `com`, `co.uk`, `github.io`; unlisted top-level labels
//! (`localhost`, `internal`) count too, as the list's default `*` rule says.

/// The public suffix that ends `domain` (no leading or trailing dot).
pub(super) fn public_suffix(domain: &str) -> Option<&str> {
    let suffix = psl::suffix(domain.as_bytes())?;
    Some(&domain[domain.len() - suffix.as_bytes().len()..])
}

/// The registrable domain: the public suffix and one label before it.
pub(super) fn registrable_domain(domain: &str) -> Option<&str> {
    let registrable = psl::domain(domain.as_bytes())?;
    Some(&domain[domain.len() - registrable.as_bytes().len()..])
}
