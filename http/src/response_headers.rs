//! [`ResponseHeaders`]: the header fields of a response as a reply keeps them, in two
//! allocations whatever their number.
//!
//! Every response passes its fields through the job (cookies, HSTS, challenges, cache,
//! content coding) to the reply. A `Vec<(String, String)>` costs two allocations per field,
//! which for a small response is a large share of the client's work; here all names and
//! values live in one string, and a list of offsets says where each is.

use std::fmt;

use crate::h1::RawFields;

/// Where one field's name and value lie in [`ResponseHeaders::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// A response's header fields in received order, names in the case they were received in.
/// Values that are not UTF-8 (obsolete text) are converted lossily, as Qt's `QString`
/// conversions would.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ResponseHeaders {
    text: String,
    fields: Vec<Field>,
}

impl ResponseHeaders {
    /// The fields of an HTTP/1 head, as received.
    pub(crate) fn from_raw(raw: &RawFields) -> Self {
        let text = raw.iter().map(|(n, v)| n.len() + v.len()).sum();
        let mut headers = ResponseHeaders::with_capacity(raw.len(), text);
        for (name, value) in raw.iter() {
            headers.push(name, &String::from_utf8_lossy(value));
        }
        headers
    }

    /// Fields from (name, value) pairs.
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut headers = ResponseHeaders::default();
        for (name, value) in pairs {
            headers.push(name, value);
        }
        headers
    }

    /// Room for `fields` fields whose names and values take `text` bytes in all, so that
    /// filling it allocates twice at most.
    pub(crate) fn with_capacity(fields: usize, text: usize) -> Self {
        ResponseHeaders {
            text: String::with_capacity(text),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Appends a field. A head bigger than 4 GiB cannot reach here (the decoders' limits are
    /// far below), so the offsets fit in `u32`.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        let mut span = |s: &str| {
            let start = self.text.len() as u32;
            self.text.push_str(s);
            (start, self.text.len() as u32)
        };
        let name = span(name);
        let value = span(value);
        self.fields.push(Field { name, value });
    }

    fn part(&self, (start, end): (u32, u32)) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// How many fields (a repeated name counts each time).
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// The fields in received order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields
            .iter()
            .map(|f| (self.part(f.name), self.part(f.value)))
    }

    /// The value of the first field called `name` (compared case-insensitively).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of every field called `name` (compared case-insensitively), in order.
    pub(crate) fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of `name` joined as Qt's `rawHeader` joins repeated fields: by newlines for
    /// `Set-Cookie`, by `", "` for the rest. `None` when absent.
    pub(crate) fn joined(&self, name: &str) -> Option<String> {
        let separator = if name.eq_ignore_ascii_case("set-cookie") {
            "\n"
        } else {
            ", "
        };
        let mut values = self.get_all(name);
        let first = values.next()?;
        let mut out = first.to_owned();
        for value in values {
            out.push_str(separator);
            out.push_str(value);
        }
        Some(out)
    }

    /// Qt's view of the fields (`rawHeaderPairs`): a name that occurs more than once is kept
    /// once, at its last position and with its last spelling, its values joined as by
    /// [`joined`](Self::joined). Computed when asked, not for every response.
    pub(crate) fn merged_pairs(&self) -> Vec<(String, String)> {
        let mut merged: Vec<(String, String)> = Vec::with_capacity(self.len());
        for (i, (name, _)) in self.iter().enumerate() {
            let repeated_later = self
                .iter()
                .skip(i + 1)
                .any(|(later, _)| later.eq_ignore_ascii_case(name));
            if !repeated_later {
                let value = self.joined(name).unwrap_or_default();
                merged.push((name.to_owned(), value));
            }
        }
        merged
    }
}

impl fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResponseHeaders {
        ResponseHeaders::from_pairs([
            ("Set-Cookie", "a=1"),
            ("Vary", "A"),
            ("X-One", "1"),
            ("set-cookie", "b=2"),
            ("vary", "B"),
        ])
    }

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let h = sample();
        assert_eq!(h.len(), 5);
        assert_eq!(h.get("x-ONE"), Some("1"));
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.get_all("VARY").collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(h.joined("set-cookie").as_deref(), Some("a=1\nb=2"));
        assert_eq!(h.joined("vary").as_deref(), Some("A, B"));
        let names: Vec<&str> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Set-Cookie", "Vary", "X-One", "set-cookie", "vary"]);
    }

    #[test]
    fn merged_pairs_follow_qt() {
        assert_eq!(
            sample().merged_pairs(),
            [
                ("X-One".to_owned(), "1".to_owned()),
                ("set-cookie".to_owned(), "a=1\nb=2".to_owned()),
                ("vary".to_owned(), "A, B".to_owned()),
            ]
        );
    }

    #[test]
    fn empty_values_and_names_round_trip() {
        let h = ResponseHeaders::from_pairs([("X-Empty", ""), ("X-Next", "v")]);
        assert_eq!(h.get("x-empty"), Some(""));
        assert_eq!(h.get("x-next"), Some("v"));
    }
}
