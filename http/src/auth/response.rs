//! Building `Authorization` / `Proxy-Authorization` values: Basic (RFC 7617) and Digest
//! (RFC 7616, with RFC 2617/2069 compatibility).

use base64::Engine;

use super::authenticator::Authenticator;
use super::challenge::{qop_offers_auth, AuthChallenge, AuthMethod, DigestAlgorithm};
use super::error::AuthError;
use super::hash::{hex_digest, new_cnonce};

/// The Basic credentials `Basic base64(user ":" password)`, UTF-8 encoded as RFC 7617's
/// `charset="UTF-8"` asks. A user name containing `:` cannot be represented.
///
/// ```
/// use slotnet_http::auth::basic_authorization;
/// assert_eq!(basic_authorization("Aladdin", "open sesame").unwrap(),
///            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
/// ```
pub fn basic_authorization(user: &str, password: &str) -> Result<String, AuthError> {
    if user.contains(':') {
        return Err(AuthError::InvalidUserName);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok(format!("Basic {encoded}"))
}

/// The credentials answering `challenge` for a request `method uri` (`uri` being the
/// request-target exactly as on the request line), with a fresh random client nonce.
///
/// `nonce_count` is how many requests (this one included, so starting at 1) have used the
/// challenge's nonce; [`AuthSession`](super::AuthSession) keeps that count. Basic ignores it.
pub fn authorization_header(
    method: &str,
    uri: &str,
    challenge: &AuthChallenge,
    authenticator: &Authenticator,
    nonce_count: u32,
) -> Result<String, AuthError> {
    let cnonce = match challenge.method() {
        Some(AuthMethod::Digest(_)) => new_cnonce()?,
        _ => String::new(),
    };
    authorization_header_with_cnonce(method, uri, challenge, authenticator, nonce_count, &cnonce)
}

/// [`authorization_header`] with a given client nonce (for reproducible output, or to keep
/// one client nonce per server nonce as `-sess` algorithms need).
pub fn authorization_header_with_cnonce(
    method: &str,
    uri: &str,
    challenge: &AuthChallenge,
    authenticator: &Authenticator,
    nonce_count: u32,
    cnonce: &str,
) -> Result<String, AuthError> {
    if challenge.scheme() == "digest" && challenge.param("nonce").is_none() {
        return Err(AuthError::MissingParameter("nonce"));
    }
    match challenge.method() {
        Some(AuthMethod::Basic) => {
            basic_authorization(authenticator.user(), authenticator.password())
        }
        Some(AuthMethod::Digest(algorithm)) => Ok(digest_authorization(&DigestInput {
            method,
            uri,
            challenge,
            user: authenticator.user(),
            password: authenticator.password(),
            algorithm,
            nonce_count: nonce_count.max(1),
            cnonce,
        })),
        None => Err(AuthError::NoSupportedChallenge),
    }
}

struct DigestInput<'a> {
    method: &'a str,
    uri: &'a str,
    challenge: &'a AuthChallenge,
    user: &'a str,
    password: &'a str,
    algorithm: DigestAlgorithm,
    nonce_count: u32,
    cnonce: &'a str,
}

/// `"value"` with `"` and `\` escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 8187 `ext-value` for `username*`: `UTF-8''` then the percent-encoded name.
fn ext_value(value: &str) -> String {
    let mut out = String::from("UTF-8''");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn digest_authorization(input: &DigestInput<'_>) -> String {
    let challenge = input.challenge;
    let algorithm = input.algorithm;
    let h = |data: String| hex_digest(algorithm, data.as_bytes());
    let realm = challenge.realm().unwrap_or("");
    let nonce = challenge.param("nonce").unwrap_or("");
    let qop = challenge.param("qop").is_some_and(qop_offers_auth);
    let nc = format!("{:08x}", input.nonce_count);

    let mut ha1 = h(format!("{}:{realm}:{}", input.user, input.password));
    if algorithm.is_session() {
        ha1 = h(format!("{ha1}:{nonce}:{}", input.cnonce));
    }
    let ha2 = h(format!("{}:{}", input.method, input.uri));
    let response = if qop {
        h(format!("{ha1}:{nonce}:{nc}:{}:auth:{ha2}", input.cnonce))
    } else {
        // RFC 2069 compatibility: no qop, no nc.
        h(format!("{ha1}:{nonce}:{ha2}"))
    };

    // Field order follows the examples of RFC 7616 section 3.9.1.
    let mut fields = Vec::with_capacity(10);
    if input.user.is_ascii() {
        fields.push(format!("username={}", quote(input.user)));
    } else {
        fields.push(format!("username*={}", ext_value(input.user)));
    }
    fields.push(format!("realm={}", quote(realm)));
    fields.push(format!("uri={}", quote(input.uri)));
    // Echo the algorithm only when the server named one: RFC 2617 servers may not know it.
    if challenge.param("algorithm").is_some() {
        fields.push(format!("algorithm={}", algorithm.as_str()));
    }
    fields.push(format!("nonce={}", quote(nonce)));
    if qop {
        fields.push(format!("nc={nc}"));
    }
    if qop || algorithm.is_session() {
        fields.push(format!("cnonce={}", quote(input.cnonce)));
    }
    if qop {
        fields.push("qop=auth".to_owned());
    }
    fields.push(format!("response={}", quote(&response)));
    if let Some(opaque) = challenge.param("opaque") {
        fields.push(format!("opaque={}", quote(opaque)));
    }
    format!("Digest {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mufasa() -> Authenticator {
        Authenticator::with_credentials("Mufasa", "Circle of Life")
    }

    /// The challenge of RFC 7616 section 3.9.1 with `algorithm` set.
    fn rfc7616_challenge(algorithm: &str) -> AuthChallenge {
        let header = format!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        );
        AuthChallenge::parse(&header).unwrap().remove(0)
    }

    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    /// The `Authorization` value of RFC 7616 section 3.9.1 for this algorithm and response.
    fn rfc7616_expected(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
             uri=\"/dir/index.html\", algorithm={algorithm}, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"{RFC7616_CNONCE}\", qop=auth, response=\"{response}\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
    }

    #[test]
    fn rfc7616_sha256_example() {
        let header = authorization_header_with_cnonce(
            "GET",
            "/dir/index.html",
            &rfc7616_challenge("SHA-256"),
            &mufasa(),
            1,
            RFC7616_CNONCE,
        )
        .unwrap();
        assert_eq!(
            header,
            rfc7616_expected(
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
            )
        );
    }

    #[test]
    fn rfc7616_md5_example() {
        let header = authorization_header_with_cnonce(
            "GET",
            "/dir/index.html",
            &rfc7616_challenge("MD5"),
            &mufasa(),
            1,
            RFC7616_CNONCE,
        )
        .unwrap();
        assert_eq!(
            header,
            rfc7616_expected("MD5", "8ca523f5e9506fed4657c9700eebdbec")
        );
    }

    #[test]
    fn rfc2617_example() {
        let challenge = AuthChallenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap()
        .remove(0);
        let auth = Authenticator::with_credentials("Mufasa", "Circle Of Life");
        let header = authorization_header_with_cnonce(
            "GET",
            "/dir/index.html",
            &challenge,
            &auth,
            1,
            "0a4f113b",
        )
        .unwrap();
        assert_eq!(
            header,
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             uri=\"/dir/index.html\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             nc=00000001, cnonce=\"0a4f113b\", qop=auth, \
             response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        );
    }

    #[test]
    fn rfc2069_style_without_qop() {
        let challenge = AuthChallenge::new(
            "Digest",
            &[
                ("realm", "testrealm@host.com"),
                ("nonce", "dcd98b7102dd2f0e8b11d0f600bfb0c093"),
            ],
        );
        let auth = Authenticator::with_credentials("Mufasa", "CircleOfLife");
        let header = authorization_header("GET", "/dir/index.html", &challenge, &auth, 1).unwrap();
        // H(H(A1):nonce:H(A2)), computed independently.
        let ha1 = hex_digest(
            DigestAlgorithm::Md5,
            b"Mufasa:testrealm@host.com:CircleOfLife",
        );
        let ha2 = hex_digest(DigestAlgorithm::Md5, b"GET:/dir/index.html");
        let expected = hex_digest(
            DigestAlgorithm::Md5,
            format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{ha2}").as_bytes(),
        );
        assert!(
            header.contains(&format!("response=\"{expected}\"")),
            "{header}"
        );
        for absent in ["nc=", "cnonce=", "qop=", "algorithm=", "opaque="] {
            assert!(!header.contains(absent), "{absent} in {header}");
        }
    }

    #[test]
    fn sess_algorithms_mix_in_both_nonces_and_count() {
        let challenge = AuthChallenge::new(
            "Digest",
            &[
                ("realm", "r"),
                ("nonce", "N"),
                ("qop", "auth"),
                ("algorithm", "SHA-256-sess"),
            ],
        );
        let auth = Authenticator::with_credentials("u", "p");
        let header =
            authorization_header_with_cnonce("POST", "/x?y", &challenge, &auth, 0x2a, "C").unwrap();
        let h = |s: String| hex_digest(DigestAlgorithm::Sha256, s.as_bytes());
        let ha1 = h(format!("{}:N:C", h("u:r:p".to_owned())));
        let ha2 = h("POST:/x?y".to_owned());
        let expected = h(format!("{ha1}:N:0000002a:C:auth:{ha2}"));
        assert!(header.contains("algorithm=SHA-256-sess"), "{header}");
        assert!(header.contains("nc=0000002a"), "{header}");
        assert!(
            header.contains(&format!("response=\"{expected}\"")),
            "{header}"
        );
    }

    #[test]
    fn quoting_and_non_ascii_user_names() {
        let challenge = AuthChallenge::new("Digest", &[("realm", "a\"b"), ("nonce", "n")]);
        let auth = Authenticator::with_credentials("Jäsøn Doe", "pw");
        let header = authorization_header("GET", "/", &challenge, &auth, 1).unwrap();
        assert!(
            header.starts_with("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, "),
            "{header}"
        );
        assert!(header.contains(r#"realm="a\"b""#), "{header}");
    }

    #[test]
    fn basic_encoding() {
        let table = [
            (
                "Aladdin",
                "open sesame",
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            ),
            // RFC 7617 section 2.1: "test" / "123£" in UTF-8.
            ("test", "123\u{A3}", "Basic dGVzdDoxMjPCow=="),
            ("", "", "Basic Og=="),
            ("user", "pa:ss", "Basic dXNlcjpwYTpzcw=="),
        ];
        for (user, password, expected) in table {
            assert_eq!(basic_authorization(user, password).unwrap(), expected);
        }
        assert_eq!(
            basic_authorization("a:b", "c"),
            Err(AuthError::InvalidUserName)
        );
        let challenge = AuthChallenge::new("Basic", &[("realm", "x")]);
        assert_eq!(
            authorization_header(
                "GET",
                "/",
                &challenge,
                &Authenticator::with_credentials("Aladdin", "open sesame"),
                7
            )
            .unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn unanswerable_challenges_are_errors() {
        let auth = Authenticator::with_credentials("u", "p");
        let no_nonce = AuthChallenge::new("Digest", &[("realm", "r")]);
        assert_eq!(
            authorization_header("GET", "/", &no_nonce, &auth, 1),
            Err(AuthError::MissingParameter("nonce"))
        );
        let unknown = AuthChallenge::new("Negotiate", &[]);
        assert_eq!(
            authorization_header("GET", "/", &unknown, &auth, 1),
            Err(AuthError::NoSupportedChallenge)
        );
    }
}
