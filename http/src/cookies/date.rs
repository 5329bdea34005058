//! Cookie dates: the lenient parser of RFC 6265 section 5.1.1 and the `sane-cookie-date`
//! (RFC 1123) formatter used by [`NetworkCookie::to_raw_form`](super::NetworkCookie::to_raw_form).
//!
//! Servers send every date format ever invented (`Sun, 06 Nov 1994 08:49:37 GMT`,
//! `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`, `Fri, 03-Dec-2021 ...`), so
//! the RFC's token-based algorithm is used instead of a strict grammar: it accepts all of them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// RFC 6265 `delimiter`: everything that separates date tokens.
fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// Reads 1 to `max` leading digits; `None` unless at least `min` digits are present and the
/// digits are not followed by another digit.
fn leading_digits(token: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = token.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let value = token[..n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, &token[n..]))
}

/// `hms-time`: `1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT` optionally followed by a non-digit.
fn parse_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, rest) = leading_digits(token, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (m, rest) = leading_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (s, _) = leading_digits(rest, 1, 2)?;
    Some((h, m, s))
}

fn parse_month(token: &[u8]) -> Option<u32> {
    let prefix = token.get(..3)?;
    MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(m.as_bytes()))
        .map(|i| i as u32 + 1)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Converts seconds relative to the Unix epoch (negative: before it) to a `SystemTime`.
pub(crate) fn system_time_from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    } else {
        // Before 1970: only ever compared against "now", so clamping cannot change a result.
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// Parses a cookie date with the algorithm of RFC 6265 section 5.1.1. Returns `None` for a
/// date the algorithm rejects (missing fields, day 32, hour 24, year before 1601, ...).
pub(crate) fn parse_cookie_date(input: &str) -> Option<SystemTime> {
    let mut time = None;
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for token in input
        .as_bytes()
        .split(|b| is_delimiter(*b))
        .filter(|t| !t.is_empty())
    {
        if time.is_none() {
            if let Some(t) = parse_time(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some((d, _)) = leading_digits(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some((y, _)) = leading_digits(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let (hour, minute, second) = time?;
    let (day, month, year) = (day?, month?, year?);
    let year = i64::from(match year {
        70..=99 => year + 1900,
        0..=69 => year + 2000,
        _ => year,
    });
    if year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(system_time_from_unix(secs))
}

/// Formats `time` as an RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 6265
/// asks servers to send. Times before 1970 are written as the epoch: such a cookie is expired
/// either way.
pub(crate) fn format_cookie_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7) as usize;
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAY_NAMES[weekday],
        day,
        MONTH_NAMES[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(secs: i64) -> SystemTime {
        system_time_from_unix(secs)
    }

    #[test]
    fn parses_the_common_formats() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
        for input in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06-Nov-1994 08:49:37 GMT",
            "06 nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "sUN, 6 NOVEMBER 1994 8:49:37 gmt",
        ] {
            assert_eq!(parse_cookie_date(input), Some(unix(784_111_777)), "{input}");
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        for input in [
            "",
            "garbage",
            "Sun, 06 Nov 1994",         // no time
            "Sun, 06 Nov 08:49:37 GMT", // no year
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Tue, 29 Feb 2022 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1600 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_cookie_date(input), None, "{input}");
        }
    }

    #[test]
    fn two_digit_years_follow_the_rfc_pivot() {
        let y2069 = parse_cookie_date("01 Jan 69 00:00:00").unwrap();
        let y1970 = parse_cookie_date("01 Jan 70 00:00:00").unwrap();
        assert_eq!(y1970, UNIX_EPOCH);
        assert_eq!(
            y2069,
            unix(days_from_civil(2069, 1, 1) * 86_400),
            "69 means 2069"
        );
        assert!(
            parse_cookie_date("29 Feb 2024 00:00:00").is_some(),
            "leap year"
        );
    }

    #[test]
    fn format_roundtrips_through_parse() {
        for secs in [0, 784_111_777, 951_782_400, 1_638_525_600, 4_102_444_799] {
            let text = format_cookie_date(unix(secs));
            assert_eq!(parse_cookie_date(&text), Some(unix(secs)), "{text}");
        }
        assert_eq!(
            format_cookie_date(unix(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_cookie_date(unix(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn civil_conversions_agree() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
