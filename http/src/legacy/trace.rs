//! [`trace_signals`]: every signal of an [`Http`] object as a line in the notation of Qt's
//! `QHttp` documentation, for logs, tests and `slotnet-qhttp --trace`.

use slotnet_net::ssl::SslError;

use super::http::Http;

/// Connects to every signal of `http` and hands `sink` one line per emission, written as
/// Qt's documentation writes them: `requestStarted(1)`, `requestFinished(1, false)`,
/// `stateChanged(Connecting)`, `dataSendProgress(77, 77)`, `responseHeaderReceived(200)`,
/// `dataReadProgress(5388, 0)`, `readyRead()`, `done(false)`, and
/// `authenticationRequired(host, port)`, `proxyAuthenticationRequired(host, port)`,
/// `sslErrors(SelfSignedCertificate, ...)`.
///
/// Connect it before your own slots to see each signal before what your slots do.
pub fn trace_signals<F: Fn(String) + 'static>(http: &Http, sink: F) {
    let sink = std::rc::Rc::new(sink);
    let s = sink.clone();
    http.request_started()
        .connect(move |id| s(format!("requestStarted({id})")));
    let s = sink.clone();
    http.request_finished()
        .connect(move |(id, error)| s(format!("requestFinished({id}, {error})")));
    let s = sink.clone();
    http.state_changed()
        .connect(move |state| s(format!("stateChanged({state})")));
    let s = sink.clone();
    http.data_send_progress()
        .connect(move |(done, total)| s(format!("dataSendProgress({done}, {total})")));
    let s = sink.clone();
    http.response_header_received()
        .connect(move |h| s(format!("responseHeaderReceived({})", h.status_code())));
    let s = sink.clone();
    http.data_read_progress()
        .connect(move |(done, total)| s(format!("dataReadProgress({done}, {total})")));
    let s = sink.clone();
    http.ready_read()
        .connect(move |_| s("readyRead()".to_owned()));
    let s = sink.clone();
    http.authentication_required()
        .connect(move |(host, port, _)| s(format!("authenticationRequired({host}, {port})")));
    let s = sink.clone();
    http.proxy_authentication_required()
        .connect(move |(host, port, _)| s(format!("proxyAuthenticationRequired({host}, {port})")));
    let s = sink.clone();
    http.ssl_errors().connect(move |errors: &Vec<SslError>| {
        s(format!("sslErrors({})", SslError::join_names(errors)))
    });
    let s = sink;
    http.done()
        .connect(move |error| s(format!("done({error})")));
}
