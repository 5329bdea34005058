//! [`AuthChallenge`]: the challenges of `WWW-Authenticate` / `Proxy-Authenticate` headers
//! (RFC 7235 section 4.1), and the choice of the strongest one slotnet can answer.

use super::error::AuthError;

/// A Digest hash algorithm (RFC 7616 section 3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5`, also the default when a challenge names no algorithm (RFC 2617).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// The algorithm's name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Whether this is a `-sess` variant (the session key mixes in the nonces).
    pub fn is_session(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }
}

/// An authentication method slotnet can answer a challenge with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Basic (RFC 7617): user and password, base64-encoded.
    Basic,
    /// Digest (RFC 7616) with this algorithm, `qop=auth` or no qop.
    Digest(DigestAlgorithm),
}

impl AuthMethod {
    /// Relative strength used to pick among several challenges.
    fn strength(self) -> u8 {
        match self {
            AuthMethod::Basic => 1,
            AuthMethod::Digest(DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess) => 2,
            AuthMethod::Digest(DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess) => 3,
        }
    }
}

/// One challenge: an auth scheme with either parameters or a token68.
///
/// ```
/// use slotnet_http::auth::{AuthChallenge, AuthMethod, DigestAlgorithm};
/// let header = r#"Basic realm="simple", Digest realm="x", nonce="n", algorithm=SHA-256"#;
/// let challenges = AuthChallenge::parse(header).unwrap();
/// assert_eq!(challenges.len(), 2);
/// let best = AuthChallenge::select(&challenges).unwrap();
/// assert_eq!(best.method(), Some(AuthMethod::Digest(DigestAlgorithm::Sha256)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthChallenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl AuthChallenge {
    /// Parses every challenge of one header value, known schemes or not. Several challenges
    /// are separated by commas, like the parameters inside them; quoted strings may hold
    /// commas. An empty value has no challenge.
    pub fn parse(header_value: &str) -> Result<Vec<AuthChallenge>, AuthError> {
        Parser::new(header_value).challenges()
    }

    /// Parses several header values (a response may repeat `WWW-Authenticate`), in order.
    /// A malformed value is skipped so that a well-formed one can still be answered.
    pub fn parse_headers<I, S>(header_values: I) -> Vec<AuthChallenge>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        header_values
            .into_iter()
            .filter_map(|v| Self::parse(v.as_ref()).ok())
            .flatten()
            .collect()
    }

    /// The strongest challenge slotnet supports: Digest SHA-256 over Digest MD5 over Basic;
    /// between equals, the server's first. Unknown schemes are ignored.
    pub fn select(challenges: &[AuthChallenge]) -> Option<&AuthChallenge> {
        let mut best: Option<(&AuthChallenge, u8)> = None;
        for challenge in challenges {
            if let Some(method) = challenge.method() {
                if best.is_none_or(|(_, s)| method.strength() > s) {
                    best = Some((challenge, method.strength()));
                }
            }
        }
        best.map(|(c, _)| c)
    }

    /// A challenge with this scheme and parameters (mostly for tests and servers).
    pub fn new(scheme: &str, params: &[(&str, &str)]) -> Self {
        AuthChallenge {
            scheme: scheme.to_ascii_lowercase(),
            token68: None,
            params: params
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The auth scheme, lower-cased (`basic`, `digest`, `negotiate`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The token68 form of the credentials-less challenge (`Negotiate abc==`), if used.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// The parameters in order, names lower-cased, quoted values unescaped.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The value of parameter `name` (case-insensitive); the first if repeated.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// Whether a Digest challenge says `stale=true`: the previous credentials were right but
    /// the nonce expired, so the request should be retried with the new nonce without
    /// asking the user again.
    pub fn is_stale(&self) -> bool {
        self.param("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// How slotnet would answer this challenge, or `None` if it cannot: an unknown scheme, a
    /// Digest algorithm other than MD5/SHA-256 (and their `-sess`), a Digest `qop` list
    /// without `auth`, or a Digest challenge without a nonce.
    pub fn method(&self) -> Option<AuthMethod> {
        match self.scheme.as_str() {
            "basic" => Some(AuthMethod::Basic),
            "digest" => {
                self.param("nonce")?;
                if let Some(qop) = self.param("qop") {
                    if !qop_offers_auth(qop) {
                        return None;
                    }
                }
                let algorithm = match self.param("algorithm") {
                    None => DigestAlgorithm::Md5,
                    Some(name) => DigestAlgorithm::from_name(name)?,
                };
                Some(AuthMethod::Digest(algorithm))
            }
            _ => None,
        }
    }
}

/// Whether a `qop` options list (`"auth,auth-int"`) contains `auth`.
pub(crate) fn qop_offers_auth(qop: &str) -> bool {
    qop.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("auth"))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// A cursor over the header value. Every loop consumes input or returns, so parsing is
/// linear in the input and cannot hang.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn error(&self, reason: &'static str) -> AuthError {
        AuthError::MalformedChallenge {
            position: self.pos,
            reason,
        }
    }

    /// Skips spaces and tabs; returns how many.
    fn skip_ows(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips whitespace and the commas of empty list elements.
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn token(&mut self) -> Option<&'a str> {
        Some(self.take_while(is_tchar)).filter(|t| !t.is_empty())
    }

    /// A quoted-string, the cursor on its opening quote; returns it unescaped.
    fn quoted_string(&mut self) -> Result<String, AuthError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.s[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c if c.is_control() && c != '\t' => {
                    self.pos += i;
                    return Err(self.error("control character in quoted string"));
                }
                c => out.push(c),
            }
        }
        self.pos = start;
        Err(self.error("unterminated quoted string"))
    }

    /// A token68 that is the whole rest of the challenge (followed by end or comma).
    fn try_token68(&mut self) -> Option<String> {
        let start = self.pos;
        let body = self.take_while(is_token68_char);
        if !body.is_empty() {
            self.take_while(|b| b == b'=');
            let end = self.pos;
            self.skip_ows();
            if matches!(self.peek(), None | Some(b',')) {
                return Some(self.s[start..end].to_owned());
            }
        }
        self.pos = start;
        None
    }

    fn challenges(mut self) -> Result<Vec<AuthChallenge>, AuthError> {
        let mut out = Vec::new();
        loop {
            self.skip_separators();
            if self.peek().is_none() {
                return Ok(out);
            }
            let scheme = self
                .token()
                .ok_or_else(|| self.error("expected an auth scheme"))?;
            let mut challenge = AuthChallenge {
                scheme: scheme.to_ascii_lowercase(),
                token68: None,
                params: Vec::new(),
            };
            let spaced = self.skip_ows() > 0;
            if !matches!(self.peek(), None | Some(b',')) {
                if !spaced {
                    return Err(self.error("expected a space after the auth scheme"));
                }
                challenge.token68 = self.try_token68();
                if challenge.token68.is_none() {
                    self.params(&mut challenge)?;
                }
            }
            out.push(challenge);
        }
    }

    /// `#auth-param`, stopping before the token that starts the next challenge.
    fn params(&mut self, challenge: &mut AuthChallenge) -> Result<(), AuthError> {
        loop {
            let start = self.pos;
            let name = self
                .token()
                .ok_or_else(|| self.error("expected a parameter name"))?;
            self.skip_ows();
            if self.peek() != Some(b'=') {
                if challenge.params.is_empty() {
                    return Err(self.error("expected '=' after the parameter name"));
                }
                // `name` is the scheme of the next challenge.
                self.pos = start;
                return Ok(());
            }
            self.pos += 1;
            self.skip_ows();
            let value = match self.peek() {
                Some(b'"') => self.quoted_string()?,
                _ => self
                    .token()
                    .ok_or_else(|| self.error("expected a token or quoted string"))?
                    .to_owned(),
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
            self.skip_ows();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.skip_separators();
                    if self.peek().is_none() {
                        return Ok(());
                    }
                }
                Some(_) => return Err(self.error("expected ',' between parameters")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Vec<AuthChallenge> {
        AuthChallenge::parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"))
    }

    #[test]
    fn rfc7235_example_with_escapes_and_two_schemes() {
        let value =
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#;
        let challenges = parse(value);
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].scheme(), "newauth");
        assert_eq!(challenges[0].realm(), Some("apps"));
        assert_eq!(challenges[0].param("TYPE"), Some("1"));
        assert_eq!(challenges[0].param("title"), Some(r#"Login to "apps""#));
        assert_eq!(challenges[1].scheme(), "basic");
        assert_eq!(challenges[1].realm(), Some("simple"));
        // Newauth is unknown: Basic is chosen.
        assert_eq!(AuthChallenge::select(&challenges), Some(&challenges[1]));
    }

    #[test]
    fn quoted_commas_do_not_split() {
        let challenges = parse(r#"Digest realm="a, b", nonce="x,y", qop="auth,auth-int""#);
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].realm(), Some("a, b"));
        assert_eq!(challenges[0].param("nonce"), Some("x,y"));
        assert_eq!(
            challenges[0].method(),
            Some(AuthMethod::Digest(DigestAlgorithm::Md5))
        );
    }

    #[test]
    fn token68_bare_schemes_and_empty_elements() {
        let challenges = parse(" , Negotiate abc+/def==,NTLM, Basic realm = x ,, Bearer");
        let schemes: Vec<_> = challenges.iter().map(AuthChallenge::scheme).collect();
        assert_eq!(schemes, ["negotiate", "ntlm", "basic", "bearer"]);
        assert_eq!(challenges[0].token68(), Some("abc+/def=="));
        assert_eq!(challenges[1].params(), []);
        assert_eq!(challenges[2].realm(), Some("x"));
        assert_eq!(parse(""), []);
        // The grammar makes `realm=` a token68, not an empty parameter.
        assert_eq!(parse("Basic realm=")[0].token68(), Some("realm="));
    }

    #[test]
    fn malformed_values_are_errors() {
        for value in [
            r#"Basic realm="unterminated"#,
            r#"Basic realm="trailing backslash\"#,
            "Basic a=1, b=",
            "Basic realm=a b",
            "Basic foo bar",
            "Basic realm=\"a\" extra",
            "=oops",
            "Basic\"realm\"",
            "Digest realm=\"bad\u{0}\"",
            "Basic realm=\"x\", ,=",
        ] {
            assert!(
                matches!(
                    AuthChallenge::parse(value),
                    Err(AuthError::MalformedChallenge { .. })
                ),
                "{value:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_values_never_panic(value in "[ -~\u{80}-\u{3ff}\t\u{0}]{0,60}") {
            if let Ok(challenges) = AuthChallenge::parse(&value) {
                let _ = AuthChallenge::select(&challenges);
            }
        }

        #[test]
        fn structured_values_parse(
            realm in "[ -~]{0,12}",
            nonce in "[A-Za-z0-9+/=]{1,12}",
        ) {
            let escaped = realm.replace('\\', "\\\\").replace('"', "\\\"");
            let value = format!(r#"Basic realm="{escaped}", Digest realm="{escaped}", nonce="{nonce}""#);
            let challenges = AuthChallenge::parse(&value).unwrap();
            proptest::prop_assert_eq!(challenges.len(), 2);
            proptest::prop_assert_eq!(challenges[1].realm(), Some(realm.as_str()));
            proptest::prop_assert_eq!(challenges[1].param("nonce"), Some(nonce.as_str()));
        }
    }

    #[test]
    fn several_headers_skip_the_malformed_ones() {
        let challenges =
            AuthChallenge::parse_headers(["Basic realm=\"", "Basic realm=\"ok\"", "NTLM"]);
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].realm(), Some("ok"));
    }

    #[test]
    fn strongest_supported_challenge_wins() {
        let header = r#"Basic realm="b", Digest realm="d", nonce="1", Digest realm="d", nonce="2", algorithm=SHA-256, Digest realm="d", nonce="3", algorithm=SHA-512-256"#;
        let challenges = parse(header);
        assert_eq!(challenges.len(), 4);
        let best = AuthChallenge::select(&challenges).unwrap();
        assert_eq!(best.param("nonce"), Some("2"));
        assert_eq!(challenges[3].method(), None, "SHA-512-256 is not supported");

        let md5_first = parse(r#"Digest nonce="a", Digest nonce="b", algorithm=md5-SESS"#);
        let best = AuthChallenge::select(&md5_first).unwrap();
        assert_eq!(
            best.param("nonce"),
            Some("a"),
            "equal strength: the server's first"
        );
        assert_eq!(
            md5_first[1].method(),
            Some(AuthMethod::Digest(DigestAlgorithm::Md5Sess))
        );
        assert_eq!(AuthChallenge::select(&parse("Negotiate, NTLM")), None);
    }

    #[test]
    fn unanswerable_digest_challenges() {
        let table = [
            r#"Digest realm="r""#,                            // no nonce
            r#"Digest realm="r", nonce="n", qop="auth-int""#, // only auth-int
            r#"Digest realm="r", nonce="n", algorithm=SHA-1"#,
        ];
        for value in table {
            assert_eq!(parse(value)[0].method(), None, "{value}");
        }
        let stale = parse(r#"Digest realm="r", nonce="n", stale=TRUE"#);
        assert!(stale[0].is_stale());
        assert!(!parse(r#"Digest realm="r", nonce="n", stale=false"#)[0].is_stale());
    }
}
