//! `--demo`: drives the window the way a user would, for screenshots and smoke runs.
//!
//! Types two URLs into the field and clicks Add for each, then clicks the second row's
//! Cancel button after a moment; the first download runs to the end.

use std::rc::Rc;
use std::time::Duration;

use gtk::glib;
use gtk::prelude::*;

use crate::window::DownloadWindow;

/// When the demo clicks Cancel on its second download.
pub const CANCEL_AFTER: Duration = Duration::from_millis(1500);

/// Starts the scripted session on `window`: downloads `urls[0]` and `urls[1]` through the URL
/// field and the Add button, then cancels the second after [`CANCEL_AFTER`].
pub fn run(window: &Rc<DownloadWindow>, urls: [String; 2]) {
    for url in &urls {
        window.entry().set_text(url);
        window.add_button().emit_clicked();
    }
    let weak = Rc::downgrade(window);
    glib::timeout_add_local_once(CANCEL_AFTER, move || {
        if let Some(second) = weak.upgrade().and_then(|w| w.downloads().get(1).cloned()) {
            second.cancel_button().emit_clicked();
        }
    });
}
