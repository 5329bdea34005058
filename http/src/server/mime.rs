//! Content types guessed from file name extensions, for static files: the `mime_guess` table
//! (Apache's and nginx's list), with the server's own answers for the text types it serves.

use std::path::Path;

/// Extensions (lower case) answered here rather than by `mime_guess`, the server's answers
/// before it used the crate: the text types a web server serves most get `charset=utf-8` (a
/// file server's pages and scripts are UTF-8; without the parameter a browser guesses the
/// encoding); `js` is `text/javascript` as RFC 9239 names it, and the fonts are RFC 8081's
/// `font/*`, where `mime_guess` answers the obsolete `application/javascript`,
/// `application/font-woff` and `application/font-sfnt`; `xml` stays `application/xml`, which
/// RFC 7303 prefers (`mime_guess`: `text/xml`).
const OVERRIDES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("woff", "font/woff"),
    ("otf", "font/otf"),
    ("xml", "application/xml"),
];

/// The content type for `path`'s extension, `application/octet-stream` when unknown (as Qt's
/// `QMimeDatabase` answers for unknown data).
///
/// ```
/// use slotnet_http::server::mime_type_for_path;
/// assert_eq!(mime_type_for_path("a/b/index.HTML".as_ref()), "text/html; charset=utf-8");
/// assert_eq!(mime_type_for_path("blob".as_ref()), "application/octet-stream");
/// ```
pub fn mime_type_for_path(path: &Path) -> &'static str {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return OCTET_STREAM;
    };
    OVERRIDES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map(|&(_, mime)| mime)
        .or_else(|| mime_guess::from_ext(ext).first_raw())
        .unwrap_or(OCTET_STREAM)
}

const OCTET_STREAM: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::mime_type_for_path;

    fn of(name: &str) -> &'static str {
        mime_type_for_path(name.as_ref())
    }

    #[test]
    fn the_common_web_types() {
        let expected = [
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTM", "text/html; charset=utf-8"),
            ("site.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("mod.mjs", "text/javascript; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("table.csv", "text/csv; charset=utf-8"),
            ("data.json", "application/json"),
            ("logo.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("a.webp", "image/webp"),
            ("favicon.ico", "image/x-icon"),
            ("font.woff", "font/woff"),
            ("font.woff2", "font/woff2"),
            ("paper.pdf", "application/pdf"),
            ("a.zip", "application/zip"),
            ("a.gz", "application/gzip"),
            ("a.tar", "application/x-tar"),
            ("module.wasm", "application/wasm"),
            ("song.mp3", "audio/mpeg"),
            ("clip.mp4", "video/mp4"),
            ("clip.webm", "video/webm"),
            ("a.xml", "application/xml"),
            ("a.avif", "image/avif"),
            ("a.bmp", "image/bmp"),
            ("a.ttf", "font/ttf"),
            ("a.otf", "font/otf"),
            ("a.ogg", "audio/ogg"),
            ("a.wav", "audio/wav"),
        ];
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(name, mime)| of(name) != *mime)
            .map(|(name, mime)| format!("{name}: {} (expected {mime})", of(name)))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn types_beyond_the_old_hand_written_table_come_from_mime_guess() {
        assert_eq!(of("photo.tiff"), "image/tiff");
        assert_eq!(of("book.epub"), "application/epub+zip");
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_stream() {
        assert_eq!(of("blob"), "application/octet-stream");
        assert_eq!(of("archive.nosuchext"), "application/octet-stream");
        assert_eq!(of("dir.d/file"), "application/octet-stream");
        assert_eq!(of(".hidden"), "application/octet-stream");
    }
}
