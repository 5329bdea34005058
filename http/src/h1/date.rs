//! The `Date` header: an IMF-fixdate (RFC 9110 section 5.6.7, formatted by `httpdate`) with a
//! per-thread, per-second cache, so a busy server formats the date once a second instead of per response.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// The latest time an HTTP-date can show (9999-12-31 23:59:59): `httpdate` panics after it.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// Formats `time` as an HTTP-date, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. Times before 1970
/// are formatted as the epoch, times after the year 9999 as its last second.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(slotnet_http::h1::fmt_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn fmt_http_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    fmt_unix_secs(secs)
}

fn fmt_unix_secs(secs: u64) -> String {
    let secs = secs.min(LAST_HTTP_DATE);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

thread_local! {
    static CACHE: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
}

/// The current time as a `Date` header value, formatted at most once per second per thread
/// (cloning the cached value only bumps a reference count).
pub fn date_header_value() -> HeaderValue {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let format = |now| {
        HeaderValue::from_maybe_shared(bytes::Bytes::from(fmt_unix_secs(now)))
            .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
    };
    // `try_with`: a responder dropped while its thread is being torn down (a loop's pending
    // timer holding it) still gets a date, without the cache that is already gone.
    CACHE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            match &*cache {
                Some((secs, value)) if *secs == now => value.clone(),
                _ => {
                    let value = format(now);
                    *cache = Some((now, value.clone()));
                    value
                }
            }
        })
        .unwrap_or_else(|_| format(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(fmt_unix_secs(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(fmt_unix_secs(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fmt_unix_secs(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            fmt_unix_secs(1_709_251_199),
            "Thu, 29 Feb 2024 23:59:59 GMT"
        );
        assert_eq!(
            fmt_unix_secs(4_102_444_800),
            "Fri, 01 Jan 2100 00:00:00 GMT"
        );
        // Beyond what an HTTP-date can say: its last second, no panic.
        assert_eq!(fmt_unix_secs(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn cached_value_is_a_valid_date() {
        let value = date_header_value();
        let text = value.to_str().unwrap();
        assert_eq!(text.len(), 29);
        assert!(text.ends_with(" GMT"));
        assert_eq!(&text[3..5], ", ");
    }
}
