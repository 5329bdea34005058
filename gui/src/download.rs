//! One download: a [`NetworkReply`] and the row of widgets that shows it.
//!
//! The reply's signals update the row (slotnet slots run inside the loop source's passes, on the
//! GTK thread, so they touch widgets directly); the row's Cancel button calls
//! [`NetworkReply::abort`]. The body is read as it arrives and only counted: this example
//! shows the transfer, it does not store files.

use std::cell::Cell;
use std::rc::Rc;

use gtk::pango::EllipsizeMode;
use gtk::prelude::*;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};

/// What a finished download reports: "done" or the error's Qt name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The URL as typed.
    pub url: String,
    /// `NoError` for a download that completed.
    pub error: NetworkError,
    /// Body bytes received.
    pub received: u64,
}

/// The widgets of one download row, and its reply.
#[derive(Clone, Debug)]
pub struct Download {
    reply: NetworkReply,
    progress: gtk::ProgressBar,
    status: gtk::Label,
    cancel: gtk::Button,
}

impl Download {
    /// Starts `GET url` on `manager` and adds its row to `grid` at `row`. `on_finished` is
    /// called once with the outcome (after the row shows it).
    pub fn start(
        manager: &NetworkAccessManager,
        url: &str,
        grid: &gtk::Grid,
        row: i32,
        on_finished: impl Fn(&Outcome) + 'static,
    ) -> Download {
        let name = gtk::Label::builder()
            .label(url)
            .tooltip_text(url)
            .xalign(0.0)
            .ellipsize(EllipsizeMode::Middle)
            .width_chars(28)
            .max_width_chars(28)
            .build();
        let progress = gtk::ProgressBar::builder()
            .show_text(true)
            .text("waiting")
            .hexpand(true)
            .valign(gtk::Align::Center)
            .build();
        let status = gtk::Label::builder()
            .label("connecting")
            .xalign(0.0)
            .width_chars(24)
            .build();
        let cancel = gtk::Button::with_label("Cancel");
        grid.attach(&name, 0, row, 1, 1);
        grid.attach(&progress, 1, row, 1, 1);
        grid.attach(&status, 2, row, 1, 1);
        grid.attach(&cancel, 3, row, 1, 1);

        let reply = manager.get(NetworkRequest::from_url_str(url));
        let download = Download {
            reply,
            progress,
            status,
            cancel,
        };
        download.wire(url.to_owned(), on_finished);
        download
    }

    /// The reply behind the row (a dangling handle once the download finished and was
    /// deleted).
    pub fn reply(&self) -> NetworkReply {
        self.reply
    }

    /// The row's Cancel button.
    pub fn cancel_button(&self) -> &gtk::Button {
        &self.cancel
    }

    fn wire(&self, url: String, on_finished: impl Fn(&Outcome) + 'static) {
        let reply = self.reply;
        let received = Rc::new(Cell::new(0u64));

        let (progress, status) = (self.progress.clone(), self.status.clone());
        reply.download_progress().connect(move |&(got, total)| {
            show_progress(&progress, got, total);
            // abort() emits a last progress after the error: keep the error's name.
            if reply.error() == NetworkError::NoError {
                status.set_label("downloading");
            }
        });

        let count = received.clone();
        reply.ready_read().connect(move |_| {
            // Drained as it arrives so the reply's buffer stays small.
            while let Some(chunk) = reply.read_chunk() {
                count.set(count.get() + chunk.len() as u64);
            }
        });

        let status = self.status.clone();
        reply.error_occurred().connect(move |error| {
            status.set_label(error.name());
        });

        let (progress, status, cancel) = (
            self.progress.clone(),
            self.status.clone(),
            self.cancel.clone(),
        );
        reply.finished().connect(move |_| {
            let error = reply.error();
            if error == NetworkError::NoError {
                progress.set_fraction(1.0);
                status.set_label("done");
            } else {
                status.set_label(error.name());
            }
            cancel.set_sensitive(false);
            on_finished(&Outcome {
                url: url.clone(),
                error,
                received: received.get(),
            });
            reply.delete_later();
        });

        self.cancel.connect_clicked(move |_| reply.abort());
    }
}

/// Shows `got` of `total` bytes (`total` is -1 while the length is unknown).
fn show_progress(bar: &gtk::ProgressBar, got: i64, total: i64) {
    if total > 0 {
        bar.set_fraction((got as f64 / total as f64).clamp(0.0, 1.0));
        bar.set_text(Some(&format!("{} / {}", human(got), human(total))));
    } else {
        bar.pulse();
        bar.set_text(Some(&human(got)));
    }
}

/// `1536` -> `"1.5 KiB"`.
pub fn human(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human(-1), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(4_000_000), "3.8 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
