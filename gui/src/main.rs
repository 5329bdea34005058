//! slotnet-gui: a small GTK 4 download manager on slotnet (see docs/gui.md).
//!
//! ```text
//! slotnet-gui [--demo] [--quit-after SECS] [--pace SECS] [URL]
//! ```
//!
//! Starts a paced local server (`/bytes/<n>`, on its own slotnet thread), prefills the URL
//! field with one of its URLs (or `URL`), and runs GTK's main loop with slotnet attached.
//! `--demo` adds two downloads and cancels one; `--quit-after` closes the app after SECS
//! seconds; `--pace` sets how long the local server takes per download (default 4).

use std::process::ExitCode;
use std::time::Duration;

use gtk::glib;
use gtk::prelude::*;
use slotnet_gui::slow_server::SlowServer;
use slotnet_gui::window::DownloadWindow;

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    demo: bool,
    quit_after: Option<Duration>,
    pace: Option<Duration>,
    url: Option<String>,
}

const USAGE: &str = "usage: slotnet-gui [--demo] [--quit-after SECS] [--pace SECS] [URL]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let seconds = |value: Option<String>, flag: &str| -> Result<Duration, String> {
        value
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("{flag} needs a number of seconds"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--quit-after" => options.quit_after = Some(seconds(args.next(), "--quit-after")?),
            "--pace" => options.pace = Some(seconds(args.next(), "--pace")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            url => options.url = Some(url.to_owned()),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = gtk::init() {
        eprintln!("slotnet-gui: cannot start GTK ({error}); is DISPLAY or WAYLAND_DISPLAY set?");
        return ExitCode::FAILURE;
    }
    let server = match SlowServer::start(options.pace.unwrap_or(Duration::from_secs(4))) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("slotnet-gui: cannot start the local server: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "slotnet-gui: local server on http://127.0.0.1:{}/bytes/<n>",
        server.port()
    );

    // slotnet's loop runs inside GTK's: below GTK's redraw priority, so a download that
    // saturates the socket still lets the window repaint and handle input between passes.
    let _slotnet = slotnet_glib::LoopSource::attach_with_priority(
        &glib::MainContext::default(),
        glib::Priority::DEFAULT_IDLE,
    );
    let url = options
        .url
        .clone()
        .unwrap_or_else(|| server.bytes_url(8_000_000));
    let window = DownloadWindow::new(&url);

    let main_loop = glib::MainLoop::new(None, false);
    let quit = main_loop.clone();
    window.window().connect_close_request(move |_| {
        quit.quit();
        glib::Propagation::Proceed
    });
    window.window().present();

    if options.demo {
        slotnet_gui::demo::run(
            &window,
            [server.bytes_url(6_000_000), server.bytes_url(24_000_000)],
        );
    }
    if let Some(after) = options.quit_after {
        let quit = main_loop.clone();
        glib::timeout_add_local_once(after, move || quit.quit());
    }
    main_loop.run();
    window.window().destroy();
    server.stop();
    ExitCode::SUCCESS
}
