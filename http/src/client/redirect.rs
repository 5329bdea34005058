//! Redirect decisions as Qt makes them: pure, no I/O.

use url::Url;

use crate::error::NetworkError;
use crate::request::RedirectPolicy;

/// What to do with a response head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// Not a redirect (or redirects are manual): deliver the response.
    No,
    /// Follow to `url` with `method`; `keep_body` for 307/308.
    Follow {
        url: Url,
        method: String,
        keep_body: bool,
    },
    /// UserVerifiedRedirectPolicy: announce `url` and wait for the application.
    Ask {
        url: Url,
        method: String,
        keep_body: bool,
    },
    /// Refuse with this error; `url` is the refused target (the reply reports it).
    Refuse {
        error: NetworkError,
        message: String,
        url: Option<Url>,
    },
}

/// The statuses Qt follows.
pub(crate) fn is_redirect_status(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 305 | 307 | 308)
}

/// Decides what a response with `status` and `location` means for a request of `method` to
/// `current`, after `followed` redirects, with at most `max` allowed.
pub(crate) fn decide(
    status: u16,
    location: Option<&str>,
    current: &Url,
    method: &str,
    policy: RedirectPolicy,
    followed: u32,
    max: u32,
) -> Redirect {
    if !is_redirect_status(status) || policy == RedirectPolicy::ManualRedirectPolicy {
        return Redirect::No;
    }
    let Some(location) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        // A 3xx without Location is an ordinary response.
        return Redirect::No;
    };
    if followed >= max {
        return Redirect::Refuse {
            error: NetworkError::TooManyRedirectsError,
            message: "Too many redirects".into(),
            url: None,
        };
    }
    let target = match current.join(location) {
        Ok(u) => u,
        Err(_) => {
            return Redirect::Refuse {
                error: NetworkError::ProtocolUnknownError,
                message: format!("The Location header of the redirect is invalid: {location}"),
                url: None,
            }
        }
    };
    if !matches!(target.scheme(), "http" | "https") {
        return Redirect::Refuse {
            error: NetworkError::ProtocolUnknownError,
            message: format!("Unsupported redirect scheme: {}", target.scheme()),
            url: Some(target),
        };
    }
    let insecure = current.scheme() == "https" && target.scheme() == "http";
    let same_origin = current.scheme() == target.scheme()
        && current.host_str() == target.host_str()
        && current.port_or_known_default() == target.port_or_known_default();
    let refused = match policy {
        RedirectPolicy::NoLessSafeRedirectPolicy => insecure,
        RedirectPolicy::SameOriginRedirectPolicy => !same_origin,
        _ => false,
    };
    if refused {
        return Redirect::Refuse {
            error: NetworkError::InsecureRedirectError,
            message: "Insecure redirect".into(),
            url: Some(target),
        };
    }
    let keep_body = matches!(status, 307 | 308);
    let method = if keep_body || method == "HEAD" {
        method.to_owned()
    } else {
        "GET".to_owned()
    };
    if policy == RedirectPolicy::UserVerifiedRedirectPolicy {
        Redirect::Ask {
            url: target,
            method,
            keep_body,
        }
    } else {
        Redirect::Follow {
            url: target,
            method,
            keep_body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectPolicy::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn follow(url: &str, method: &str, keep_body: bool) -> Redirect {
        Redirect::Follow {
            url: super::Url::parse(url).unwrap(),
            method: method.into(),
            keep_body,
        }
    }

    #[test]
    fn methods_change_as_in_qt() {
        let cur = url("http://h/a/b");
        for (status, method, expect, body) in [
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (303, "PUT", "GET", false),
            (307, "POST", "POST", true),
            (308, "PUT", "PUT", true),
            (302, "HEAD", "HEAD", false),
            (305, "GET", "GET", false),
        ] {
            assert_eq!(
                decide(
                    status,
                    Some("c"),
                    &cur,
                    method,
                    NoLessSafeRedirectPolicy,
                    0,
                    50
                ),
                follow("http://h/a/c", expect, body),
                "{status} {method}"
            );
        }
    }

    #[test]
    fn policies_and_limits() {
        let https = url("https://h/");
        let refused = decide(
            302,
            Some("http://h/x"),
            &https,
            "GET",
            NoLessSafeRedirectPolicy,
            0,
            50,
        );
        assert!(matches!(
            refused,
            Redirect::Refuse { error: NetworkError::InsecureRedirectError, url: Some(ref u), .. } if u.as_str() == "http://h/x"
        ));
        assert_eq!(
            decide(
                302,
                Some("http://h/x"),
                &https,
                "GET",
                ManualRedirectPolicy,
                0,
                50
            ),
            Redirect::No
        );
        let cross = decide(
            302,
            Some("http://other/"),
            &url("http://h/"),
            "GET",
            SameOriginRedirectPolicy,
            0,
            50,
        );
        assert!(matches!(
            cross,
            Redirect::Refuse {
                error: NetworkError::InsecureRedirectError,
                ..
            }
        ));
        let same = decide(
            302,
            Some("/x"),
            &url("http://h/"),
            "GET",
            SameOriginRedirectPolicy,
            0,
            50,
        );
        assert_eq!(same, follow("http://h/x", "GET", false));
        let too_many = decide(
            302,
            Some("/x"),
            &url("http://h/"),
            "GET",
            NoLessSafeRedirectPolicy,
            3,
            3,
        );
        assert!(matches!(
            too_many,
            Redirect::Refuse {
                error: NetworkError::TooManyRedirectsError,
                ..
            }
        ));
        assert!(matches!(
            decide(
                302,
                Some("/x"),
                &url("http://h/"),
                "GET",
                UserVerifiedRedirectPolicy,
                0,
                50
            ),
            Redirect::Ask { .. }
        ));
    }

    #[test]
    fn bad_locations() {
        let cur = url("http://h/");
        assert_eq!(
            decide(302, None, &cur, "GET", NoLessSafeRedirectPolicy, 0, 50),
            Redirect::No
        );
        assert_eq!(
            decide(
                200,
                Some("/x"),
                &cur,
                "GET",
                NoLessSafeRedirectPolicy,
                0,
                50
            ),
            Redirect::No
        );
        assert!(matches!(
            decide(
                302,
                Some("http://[::1"),
                &cur,
                "GET",
                NoLessSafeRedirectPolicy,
                0,
                50
            ),
            Redirect::Refuse {
                error: NetworkError::ProtocolUnknownError,
                ..
            }
        ));
        assert!(matches!(
            decide(
                302,
                Some("ftp://h/x"),
                &cur,
                "GET",
                NoLessSafeRedirectPolicy,
                0,
                50
            ),
            Redirect::Refuse {
                error: NetworkError::ProtocolUnknownError,
                ..
            }
        ));
    }
}
