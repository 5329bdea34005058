//! Route patterns with typed path arguments, and the handler shapes routes accept.

use std::borrow::Cow;
use std::str::FromStr;

use http::Method;

use super::request::HttpServerRequest;
use super::responder::HttpServerResponder;

/// The methods a route answers.
///
/// Built from one [`Method`], an array or slice of them, or [`Methods::ANY`]. A route for
/// GET also answers HEAD (without a body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Methods(Option<Vec<Method>>);

impl Methods {
    /// Every method.
    pub const ANY: Methods = Methods(None);

    /// Whether a request with `method` matches.
    pub fn contains(&self, method: &Method) -> bool {
        match &self.0 {
            None => true,
            Some(list) => {
                list.contains(method) || (*method == Method::HEAD && list.contains(&Method::GET))
            }
        }
    }
}

impl From<Method> for Methods {
    fn from(method: Method) -> Self {
        Methods(Some(vec![method]))
    }
}

impl From<&[Method]> for Methods {
    fn from(methods: &[Method]) -> Self {
        Methods(Some(methods.to_vec()))
    }
}

impl<const N: usize> From<[Method; N]> for Methods {
    fn from(methods: [Method; N]) -> Self {
        Methods(Some(methods.to_vec()))
    }
}

impl From<Vec<Method>> for Methods {
    fn from(methods: Vec<Method>) -> Self {
        Methods(Some(methods))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `<arg>`: one non-empty path segment.
    Arg,
    /// `<path>` (last only): the rest of the path, slashes included, non-empty.
    Rest,
}

/// Why [`HttpServer::route`](super::HttpServer::route) refused a route (nothing was added).
///
/// Its `Display` text names the pattern and what is wrong with it, e.g.
/// `route "/user<arg>": the placeholder <arg> must be a whole path segment, found "user<arg>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The pattern does not start with `/`.
    MissingLeadingSlash {
        /// The pattern as given.
        pattern: String,
    },
    /// A placeholder shares its path segment with other text (`/user<arg>`,
    /// `/v<arg>.json`): a placeholder stands for a whole segment.
    PlaceholderInsideSegment {
        /// The pattern as given.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
    /// A segment in angle brackets other than `<arg>` and `<path>` (such as `<id>`).
    UnknownPlaceholder {
        /// The pattern as given.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
    /// `<path>` (the rest of the path) is not the last segment.
    PathNotLast {
        /// The pattern as given.
        pattern: String,
    },
    /// The pattern captures a different number of arguments than the handler takes.
    ArgumentCountMismatch {
        /// The pattern as given.
        pattern: String,
        /// Placeholders in the pattern.
        placeholders: usize,
        /// Path arguments the handler takes (its parameters before the request).
        handler_arguments: usize,
    },
}

impl RouteError {
    /// The pattern the error is about.
    pub fn pattern(&self) -> &str {
        match self {
            RouteError::MissingLeadingSlash { pattern }
            | RouteError::PlaceholderInsideSegment { pattern, .. }
            | RouteError::UnknownPlaceholder { pattern, .. }
            | RouteError::PathNotLast { pattern }
            | RouteError::ArgumentCountMismatch { pattern, .. } => pattern,
        }
    }
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "route {:?}: ", self.pattern())?;
        match self {
            RouteError::MissingLeadingSlash { .. } => f.write_str("a pattern must start with '/'"),
            RouteError::PlaceholderInsideSegment { segment, .. } => write!(
                f,
                "a placeholder (<arg>, <path>) must be a whole path segment, found {segment:?}"
            ),
            RouteError::UnknownPlaceholder { segment, .. } => write!(
                f,
                "unknown placeholder {segment}: the placeholders are <arg> (one segment) and \
                 <path> (the rest of the path)"
            ),
            RouteError::PathNotLast { .. } => {
                f.write_str("<path> takes the rest of the path, so it must be the last segment")
            }
            RouteError::ArgumentCountMismatch {
                placeholders,
                handler_arguments,
                ..
            } => write!(
                f,
                "the pattern has {placeholders} placeholder{} but the handler takes \
                 {handler_arguments} path argument{}",
                if *placeholders == 1 { "" } else { "s" },
                if *handler_arguments == 1 { "" } else { "s" },
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// A parsed route pattern such as `/user/<arg>/posts` or `/files/<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    segments: Vec<Segment>,
    args: usize,
}

impl Pattern {
    /// Parses a pattern: it starts with `/`, placeholders (`<arg>`, a final `<path>`) are
    /// whole segments.
    pub(crate) fn parse(pattern: &str) -> Result<Pattern, RouteError> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(RouteError::MissingLeadingSlash {
                pattern: pattern.to_owned(),
            });
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            segments.push(match *part {
                "<arg>" => Segment::Arg,
                "<path>" if i + 1 == parts.len() => Segment::Rest,
                "<path>" => {
                    return Err(RouteError::PathNotLast {
                        pattern: pattern.to_owned(),
                    })
                }
                part if part.starts_with('<') && part.ends_with('>') => {
                    return Err(RouteError::UnknownPlaceholder {
                        pattern: pattern.to_owned(),
                        segment: (*part).to_owned(),
                    })
                }
                part if part.contains("<arg>") || part.contains("<path>") => {
                    return Err(RouteError::PlaceholderInsideSegment {
                        pattern: pattern.to_owned(),
                        segment: (*part).to_owned(),
                    })
                }
                literal => Segment::Literal(literal.to_owned()),
            });
        }
        let args = segments
            .iter()
            .filter(|s| !matches!(s, Segment::Literal(_)))
            .count();
        Ok(Pattern { segments, args })
    }

    /// Number of arguments the pattern captures.
    pub(crate) fn arg_count(&self) -> usize {
        self.args
    }

    /// Matches a percent-encoded request path; pushes the decoded arguments into `args`.
    pub(crate) fn matches<'p>(&self, path: &'p str, args: &mut Vec<Cow<'p, str>>) -> bool {
        args.clear();
        let Some(mut rest) = path.strip_prefix('/') else {
            return false;
        };
        let count = self.segments.len();
        for (i, segment) in self.segments.iter().enumerate() {
            if *segment == Segment::Rest {
                if rest.is_empty() {
                    return false;
                }
                return match percent_decode(rest) {
                    Some(value) => {
                        args.push(value);
                        true
                    }
                    None => false,
                };
            }
            let (part, tail) = match rest.split_once('/') {
                Some((part, tail)) => (part, Some(tail)),
                None => (rest, None),
            };
            let last = i + 1 == count;
            if last != tail.is_none() {
                return false;
            }
            let Some(decoded) = percent_decode(part) else {
                return false;
            };
            match segment {
                Segment::Literal(literal) => {
                    if decoded != literal.as_str() {
                        return false;
                    }
                }
                _ => {
                    if decoded.is_empty() {
                        return false;
                    }
                    args.push(decoded);
                }
            }
            rest = tail.unwrap_or_default();
        }
        true
    }
}

/// Decodes `%XX` escapes; `None` if the result is not UTF-8 or an escape is malformed.
// Hand-written rather than percent-encoding's decoder, which keeps a malformed escape as it
// is: here one makes the route not match, and the borrowed fast path skips any copy.
fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// A route handler: a closure taking the route's path arguments (parsed with `FromStr`),
/// the request and the responder.
///
/// Implemented for `Fn(&HttpServerRequest, HttpServerResponder)` and for closures with one
/// to five leading typed arguments, e.g. `|id: u32, req: &HttpServerRequest, resp:
/// HttpServerResponder|`. Annotate the closure's parameter types: the argument types are
/// what the route parses the path segments into. A segment that does not parse makes the
/// route not match (the request goes on to the next route, then the missing handler).
pub trait RouteHandler<Args>: 'static {
    /// How many path arguments the handler takes.
    fn arg_count(&self) -> usize;

    /// Parses `args` and calls the handler; gives the responder back if an argument does
    /// not parse.
    fn call(
        &self,
        args: &[Cow<'_, str>],
        request: &HttpServerRequest,
        responder: HttpServerResponder,
    ) -> Result<(), HttpServerResponder>;
}

macro_rules! impl_route_handler {
    ($count:expr $(, $arg:ident)*) => {
        impl<F $(, $arg)*> RouteHandler<($($arg,)*)> for F
        where
            F: Fn($($arg,)* &HttpServerRequest, HttpServerResponder) + 'static,
            $($arg: FromStr,)*
        {
            fn arg_count(&self) -> usize {
                $count
            }

            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn call(
                &self,
                args: &[Cow<'_, str>],
                request: &HttpServerRequest,
                responder: HttpServerResponder,
            ) -> Result<(), HttpServerResponder> {
                let mut it = args.iter();
                $(
                    let Some(Ok($arg)) = it.next().map(|s| s.parse::<$arg>()) else {
                        return Err(responder);
                    };
                )*
                self($($arg,)* request, responder);
                Ok(())
            }
        }
    };
}

impl_route_handler!(0);
impl_route_handler!(1, A);
impl_route_handler!(2, A, B);
impl_route_handler!(3, A, B, C);
impl_route_handler!(4, A, B, C, D);
impl_route_handler!(5, A, B, C, D, E);

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(pattern: &str, path: &str) -> Option<Vec<String>> {
        let pattern = Pattern::parse(pattern).unwrap();
        let mut args = Vec::new();
        pattern
            .matches(path, &mut args)
            .then(|| args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn literals_args_and_rest() {
        assert_eq!(matched("/", "/"), Some(vec![]));
        assert_eq!(matched("/", "/x"), None);
        assert_eq!(matched("/a/b", "/a/b"), Some(vec![]));
        assert_eq!(matched("/a/b", "/a/b/"), None);
        assert_eq!(matched("/a/b", "/a"), None);
        assert_eq!(
            matched("/bytes/<arg>", "/bytes/10"),
            Some(vec!["10".into()])
        );
        assert_eq!(matched("/bytes/<arg>", "/bytes/"), None);
        assert_eq!(
            matched("/u/<arg>/p/<arg>", "/u/a%20b/p/7"),
            Some(vec!["a b".into(), "7".into()])
        );
        assert_eq!(
            matched("/files/<path>", "/files/a/b.txt"),
            Some(vec!["a/b.txt".into()])
        );
        assert_eq!(matched("/files/<path>", "/files/"), None);
        assert_eq!(matched("/x/<arg>", "/x/%zz"), None);
        assert_eq!(matched("/x/<arg>", "/x/%ff"), None);
        assert!(Pattern::parse("/<path>/x").is_err());
        assert!(Pattern::parse("x").is_err());
        assert_eq!(Pattern::parse("/a/<arg>/<path>").unwrap().arg_count(), 2);
    }

    fn refused(pattern: &str) -> String {
        Pattern::parse(pattern).unwrap_err().to_string()
    }

    #[test]
    fn each_pattern_error_says_what_is_wrong() {
        assert_eq!(
            Pattern::parse("user/<arg>"),
            Err(RouteError::MissingLeadingSlash {
                pattern: "user/<arg>".into()
            })
        );
        assert_eq!(
            refused("user/<arg>"),
            r#"route "user/<arg>": a pattern must start with '/'"#
        );
        assert_eq!(
            Pattern::parse("/user<arg>"),
            Err(RouteError::PlaceholderInsideSegment {
                pattern: "/user<arg>".into(),
                segment: "user<arg>".into()
            })
        );
        assert_eq!(
            refused("/v1/item-<arg>.json"),
            r#"route "/v1/item-<arg>.json": a placeholder (<arg>, <path>) must be a whole path segment, found "item-<arg>.json""#
        );
        assert!(matches!(
            Pattern::parse("/files/x<path>"),
            Err(RouteError::PlaceholderInsideSegment { .. })
        ));
        assert_eq!(
            refused("/user/<id>"),
            r#"route "/user/<id>": unknown placeholder <id>: the placeholders are <arg> (one segment) and <path> (the rest of the path)"#
        );
        assert_eq!(
            refused("/<path>/x"),
            r#"route "/<path>/x": <path> takes the rest of the path, so it must be the last segment"#
        );
        // Literal text with angle brackets elsewhere stays a literal.
        assert!(Pattern::parse("/a<b").is_ok());
    }

    #[test]
    fn the_count_mismatch_names_both_counts() {
        let error = RouteError::ArgumentCountMismatch {
            pattern: "/u/<arg>".into(),
            placeholders: 1,
            handler_arguments: 2,
        };
        assert_eq!(
            error.to_string(),
            r#"route "/u/<arg>": the pattern has 1 placeholder but the handler takes 2 path arguments"#
        );
        assert_eq!(error.pattern(), "/u/<arg>");
    }

    #[test]
    fn get_routes_answer_head() {
        let get = Methods::from(Method::GET);
        assert!(get.contains(&Method::HEAD));
        assert!(!get.contains(&Method::POST));
        assert!(Methods::ANY.contains(&Method::DELETE));
        assert!(Methods::from([Method::PUT, Method::POST]).contains(&Method::POST));
    }
}
