//! Saving a [`NetworkCookieJar`] to a file and loading it back.
//!
//! The format is one cookie per line in its `Set-Cookie` form
//! ([`RawForm::Full`]), after a `#` comment line naming the format. Session cookies are not
//! saved by `save` (they end with the program, as in browsers) but are by
//! `save_with_session_cookies` (as `curl -c`); expired ones never are. Files are
//! written atomically (temporary file, then rename), so a crash never leaves half a jar.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::cookie::{NetworkCookie, RawForm};
use super::jar::{NetworkCookieJar, MAX_COOKIES};

const HEADER: &str = "# slotnet cookie jar 1";

/// Files larger than this are not cookie jars this code wrote: refuse them instead of
/// reading them into memory. (3000 cookies of 4 KiB plus attributes fit easily.)
const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

/// Writes `contents` to `path` atomically: a temporary file in the same directory is
/// written, flushed to disk and renamed over `path`.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a whole file of at most `limit` bytes as UTF-8.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<String> {
    let file = File::open(path)?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
    }
    Ok(text)
}

/// Whether the cookie survives a trip through one line of the file: a name or value
/// holding `;` or a line break (possible through the setters) would not parse back.
fn is_line_safe(cookie: &NetworkCookie) -> bool {
    let bad = |s: &str| s.contains([';', '\n', '\r']);
    !bad(cookie.name())
        && !bad(cookie.value())
        && !bad(cookie.domain())
        && !bad(cookie.path())
        && !cookie.name().contains('=')
}

impl NetworkCookieJar {
    /// Saves the persistent (non-session, unexpired) cookies to `path`, atomically. Cookies
    /// whose name or value cannot be written on one line are skipped.
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.save_cookies(path.as_ref(), false)
    }

    /// Saves the unexpired cookies to `path`, session cookies included, as `curl -c` does:
    /// for a program whose "session" spans several runs (a login cookie set by one run is
    /// sent by the next). [`load`](Self::load) reads them back as session cookies.
    pub fn save_with_session_cookies(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.save_cookies(path.as_ref(), true)
    }

    fn save_cookies(&self, path: &Path, with_session: bool) -> io::Result<()> {
        let now = SystemTime::now();
        let mut text = String::from(HEADER);
        text.push('\n');
        for cookie in self.all_cookies() {
            if (cookie.is_session_cookie() && !with_session)
                || cookie.is_expired_at(now)
                || !is_line_safe(&cookie)
            {
                continue;
            }
            text.push_str(&cookie.to_raw_form(RawForm::Full));
            text.push('\n');
        }
        write_atomically(path, text.as_bytes())
    }

    /// Adds the cookies saved in `path` by [`save`](Self::save), replacing cookies with the
    /// same identifier; expired and unreadable lines are skipped. Returns how many cookies
    /// were added.
    pub fn load(&mut self, path: impl AsRef<Path>) -> io::Result<usize> {
        let text = read_bounded(path.as_ref(), MAX_FILE_LEN)?;
        let now = SystemTime::now();
        let mut added = 0;
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .take(MAX_COOKIES)
        {
            for cookie in NetworkCookie::parse_cookies_at(line.as_bytes(), now) {
                // The file stores normalized cookies: one without a domain or path was not
                // written by `save` and cannot be matched against any request.
                if cookie.domain().is_empty() || cookie.path().is_empty() {
                    continue;
                }
                if self.insert_cookie_at(cookie, now) {
                    added += 1;
                }
            }
        }
        Ok(added)
    }
}
