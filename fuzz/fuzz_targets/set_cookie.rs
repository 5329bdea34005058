//! Set-Cookie parsing, the jar's acceptance rules, and the raw form of what was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotnet_http::cookies::{NetworkCookie, NetworkCookieJar, RawForm};

fuzz_target!(|input: &[u8]| {
    let cookies = NetworkCookie::parse_cookies(input);
    for cookie in &cookies {
        // What we print, we can read back.
        let full = cookie.to_raw_form(RawForm::Full);
        let _ = NetworkCookie::parse_cookies(full.as_bytes());
        let _ = cookie.to_raw_form(RawForm::NameAndValueOnly);
    }
    let url = url::Url::parse("https://www.example.com/a/b").unwrap();
    let mut jar = NetworkCookieJar::new();
    jar.set_cookies_from_url(cookies, &url);
    let _ = jar.cookie_header_for_url(&url);
});
