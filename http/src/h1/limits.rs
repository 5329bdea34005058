//! Size limits that keep a decoder's memory bounded whatever the peer sends.

/// Limits applied by [`ResponseDecoder`](super::ResponseDecoder) and
/// [`RequestDecoder`](super::RequestDecoder).
///
/// A decoder errors out as soon as buffered bytes exceed a limit; it never waits for more
/// input first. Build one with struct update syntax:
///
/// ```
/// use slotnet_http::h1::Limits;
/// let limits = Limits { max_body: Some(1 << 20), ..Limits::default() };
/// assert_eq!(limits.max_headers, 128);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line or status line, CRLF included (default 8 KiB).
    pub max_start_line: usize,
    /// Most header fields in a head, and most trailer fields (default 128).
    pub max_headers: usize,
    /// Largest head (start line plus header fields), and largest trailer section
    /// (default 64 KiB).
    pub max_head_bytes: usize,
    /// Longest chunk-size line, chunk extensions and CRLF included (default 4 KiB).
    pub max_chunk_line: usize,
    /// Largest body accepted (`None`: unlimited, the default). A server sets this to answer
    /// 413 instead of reading an oversized upload.
    pub max_body: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_start_line: 8 * 1024,
            max_headers: 128,
            max_head_bytes: 64 * 1024,
            max_chunk_line: 4 * 1024,
            max_body: None,
        }
    }
}
