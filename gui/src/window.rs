//! The download manager's window: a URL field, an Add button and one row per download.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gtk::prelude::*;
use slotnet_http::NetworkAccessManager;

use crate::download::{Download, Outcome};

/// The main window and the [`NetworkAccessManager`] its downloads share.
#[derive(Debug)]
pub struct DownloadWindow {
    window: gtk::Window,
    entry: gtk::Entry,
    add: gtk::Button,
    grid: gtk::Grid,
    rows: Cell<i32>,
    downloads: RefCell<Vec<Download>>,
    manager: NetworkAccessManager,
}

impl DownloadWindow {
    /// Builds the window (not yet shown) with `url` in the URL field. Finished downloads are
    /// logged on stdout, one line each.
    pub fn new(url: &str) -> Rc<DownloadWindow> {
        let entry = gtk::Entry::builder().text(url).hexpand(true).build();
        let add = gtk::Button::with_label("Add");
        let top = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        top.append(&entry);
        top.append(&add);

        let grid = gtk::Grid::builder()
            .row_spacing(6)
            .column_spacing(12)
            .build();
        let scroller = gtk::ScrolledWindow::builder()
            .child(&grid)
            .vexpand(true)
            .hscrollbar_policy(gtk::PolicyType::Never)
            .build();

        let content = gtk::Box::new(gtk::Orientation::Vertical, 12);
        for side in [
            gtk::Widget::set_margin_top,
            gtk::Widget::set_margin_bottom,
            gtk::Widget::set_margin_start,
            gtk::Widget::set_margin_end,
        ] {
            side(content.upcast_ref(), 12);
        }
        content.append(&top);
        content.append(&scroller);

        // An explicit header bar: the window keeps a title and close button even where no
        // window manager decorates it (Xvfb).
        let window = gtk::Window::builder()
            .title("slotnet downloads")
            .titlebar(&gtk::HeaderBar::new())
            .default_width(820)
            .default_height(280)
            .child(&content)
            .build();

        let this = Rc::new(DownloadWindow {
            window,
            entry,
            add,
            grid,
            rows: Cell::new(0),
            downloads: RefCell::new(Vec::new()),
            manager: NetworkAccessManager::new(),
        });
        // Weak: the widgets' handlers must not keep the window's state alive forever.
        let weak = Rc::downgrade(&this);
        this.add.connect_clicked(move |_| {
            if let Some(this) = weak.upgrade() {
                this.add_from_entry();
            }
        });
        let weak = Rc::downgrade(&this);
        this.entry.connect_activate(move |_| {
            if let Some(this) = weak.upgrade() {
                this.add_from_entry();
            }
        });
        this
    }

    /// The top-level window.
    pub fn window(&self) -> &gtk::Window {
        &self.window
    }

    /// The URL field.
    pub fn entry(&self) -> &gtk::Entry {
        &self.entry
    }

    /// The Add button (starts a download of the URL field's text).
    pub fn add_button(&self) -> &gtk::Button {
        &self.add
    }

    /// The downloads started so far, oldest first.
    pub fn downloads(&self) -> Vec<Download> {
        self.downloads.borrow().clone()
    }

    fn add_from_entry(&self) {
        let url = self.entry.text();
        let url = url.trim();
        if url.is_empty() {
            return;
        }
        self.start(url);
    }

    /// Starts downloading `url` in a new row.
    pub fn start(&self, url: &str) -> Download {
        let row = self.rows.get();
        self.rows.set(row + 1);
        let download = Download::start(&self.manager, url, &self.grid, row, log_outcome);
        self.downloads.borrow_mut().push(download.clone());
        download
    }
}

fn log_outcome(outcome: &Outcome) {
    let status = match outcome.error {
        slotnet_http::NetworkError::NoError => "done",
        error => error.name(),
    };
    println!("{}: {status} ({} bytes)", outcome.url, outcome.received);
}
