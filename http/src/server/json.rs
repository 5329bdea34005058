//! Writing JSON by hand: string quoting for handlers that build small JSON documents.

use std::fmt::Write;

/// Appends `s` to `out` as a JSON string literal (quoted, with `"`, `\` and control
/// characters escaped).
///
/// ```
/// let mut out = String::new();
/// slotnet_http::server::push_json_string(&mut out, "a\"b\n");
/// assert_eq!(out, r#""a\"b\n""#);
/// ```
pub fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string literal (see [`push_json_string`]).
pub fn json_string(s: &str) -> String {
    let mut out = String::new();
    push_json_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_keeps_unicode() {
        assert_eq!(json_string("\u{1}é\t"), "\"\\u0001é\\t\"");
        assert_eq!(json_string(""), "\"\"");
    }
}
