//! Strict-Transport-Security values (RFC 6797) learnt for a host, then looked up.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use slotnet_http::hsts::HstsCache;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let (host, value) = text.split_once('\n').unwrap_or(("example.com", text));
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut cache = HstsCache::new();
    let learnt = cache.update_from_header(host, value, now);
    let _ = cache.is_known_host_at(host, now);
    let _ = cache.is_known_host_at(&format!("sub.{host}"), now);
    if learnt {
        let _ = cache.policies();
    }
});
