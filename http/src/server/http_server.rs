//! [`HttpServer`]: an [`AbstractHttpServer`] with a router.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;

use slotnet_core::{AsObject, Object};

use super::abstract_server::{AbstractHttpServer, RequestHandler};
use super::request::HttpServerRequest;
use super::responder::HttpServerResponder;
use super::router::{Methods, Pattern, RouteError, RouteHandler};

type RouteFn = dyn Fn(
    &[Cow<'_, str>],
    &HttpServerRequest,
    HttpServerResponder,
) -> Result<(), HttpServerResponder>;

type MissingFn = dyn Fn(&HttpServerRequest, HttpServerResponder);

struct Route {
    pattern: Pattern,
    methods: Methods,
    handler: Box<RouteFn>,
}

#[derive(Default)]
struct Router {
    routes: RefCell<Vec<Rc<Route>>>,
    missing: RefCell<Option<Rc<MissingFn>>>,
}

/// The router as the server's request handler.
struct RouterHandler(Rc<Router>);

impl RequestHandler for RouterHandler {
    fn handle_request(
        &self,
        request: &HttpServerRequest,
        mut responder: HttpServerResponder,
    ) -> Result<(), HttpServerResponder> {
        let path = request.path();
        let mut args = Vec::new();
        let mut i = 0;
        loop {
            // No borrow is held while a handler runs: it may add routes.
            let route = self.0.routes.borrow().get(i).cloned();
            let Some(route) = route else {
                return Err(responder);
            };
            i += 1;
            if !route.methods.contains(request.method()) || !route.pattern.matches(path, &mut args)
            {
                continue;
            }
            match (route.handler)(&args, request, responder) {
                Ok(()) => return Ok(()),
                Err(back) => responder = back,
            }
        }
    }

    fn missing_handler(&self, request: &HttpServerRequest, responder: HttpServerResponder) {
        let missing = self.0.missing.borrow().clone();
        match missing {
            Some(missing) => missing(request, responder),
            None => responder.write_status(http::StatusCode::NOT_FOUND),
        }
    }
}

/// An HTTP server with routes (Qt's `QHttpServer`).
///
/// Routes are tried in the order they were added; the first whose pattern and methods match
/// and whose path arguments parse answers. Patterns are paths where `<arg>` captures one
/// segment and a final `<path>` captures the rest (slashes included); captured text is
/// percent-decoded and parsed into the handler's argument types.
///
/// `HttpServer` dereferences to its [`AbstractHttpServer`] (Qt's base class) for `bind`,
/// configuration, hooks and shutdown.
///
/// ```no_run
/// use http::{Method, StatusCode};
/// use slotnet_core::EventLoop;
/// use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder};
/// use slotnet_net::TcpServer;
/// use std::net::Ipv4Addr;
///
/// let server = HttpServer::new();
/// server.route("/", Method::GET, |_req: &HttpServerRequest, resp: HttpServerResponder| {
///     resp.write_data(StatusCode::OK, "text/plain", "hello");
/// }).expect("valid route");
/// server.route("/user/<arg>", Method::GET, |id: u32, _req: &HttpServerRequest, resp: HttpServerResponder| {
///     resp.write_json(StatusCode::OK, format!("{{\"id\":{id}}}"));
/// }).expect("valid route");
/// server.after_request(|_req, _status, headers| {
///     headers.insert("x-powered-by", http::HeaderValue::from_static("slotnet"));
/// });
/// let tcp = TcpServer::new();
/// assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0));
/// assert!(server.bind(&tcp));
/// EventLoop::current().exec();
/// ```
#[derive(Clone)]
pub struct HttpServer {
    server: AbstractHttpServer,
    router: Rc<Router>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("server", &self.server)
            .field("routes", &self.router.routes.borrow().len())
            .finish()
    }
}

impl Default for HttpServer {
    fn default() -> Self {
        HttpServer::new()
    }
}

impl Deref for HttpServer {
    type Target = AbstractHttpServer;

    fn deref(&self) -> &AbstractHttpServer {
        &self.server
    }
}

impl From<HttpServer> for AbstractHttpServer {
    /// The server under the routes (the routes stay with it: they are its handler).
    fn from(server: HttpServer) -> AbstractHttpServer {
        server.server
    }
}

impl AsObject for HttpServer {
    fn as_object(&self) -> Object {
        self.server.as_object()
    }
}

impl HttpServer {
    /// A server with no routes (everything gets the missing handler's 404).
    pub fn new() -> HttpServer {
        let router = Rc::new(Router::default());
        let server = AbstractHttpServer::with_handler(Rc::new(RouterHandler(router.clone())), None);
        HttpServer { server, router }
    }

    /// The underlying [`AbstractHttpServer`] handle.
    pub fn as_abstract(&self) -> AbstractHttpServer {
        self.server
    }

    /// Adds a route (Qt's `route`): requests whose path matches `pattern` and whose method
    /// is in `methods` go to `handler`, which receives the captured arguments parsed into
    /// its parameter types, the request and the responder.
    ///
    /// A pattern starts with `/`; `<arg>` stands for one whole path segment and a final
    /// `<path>` for the rest of the path. A pattern that breaks these rules, or captures a
    /// different number of arguments than the handler takes, is refused with a
    /// [`RouteError`] saying what is wrong, and nothing is added (Qt's `route` returns
    /// `false`, or fails to compile for a count mismatch). A program that ignored it would
    /// answer 404 where it meant to serve, hence `#[must_use]`:
    ///
    /// ```
    /// use http::Method;
    /// use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder, RouteError};
    ///
    /// let server = HttpServer::new();
    /// server
    ///     .route("/user/<arg>", Method::GET, |id: u32, _: &HttpServerRequest, r: HttpServerResponder| {
    ///         r.write_json(http::StatusCode::OK, format!("{{\"id\":{id}}}"));
    ///     })
    ///     .expect("a valid route");
    /// let refused = server.route("/user/<arg>", Method::GET, |_: &HttpServerRequest, _: HttpServerResponder| {});
    /// assert!(matches!(refused, Err(RouteError::ArgumentCountMismatch { placeholders: 1, handler_arguments: 0, .. })));
    /// ```
    #[must_use = "a refused route is not added (requests get 404): check the error"]
    pub fn route<Args, H>(
        &self,
        pattern: &str,
        methods: impl Into<Methods>,
        handler: H,
    ) -> Result<(), RouteError>
    where
        H: RouteHandler<Args>,
    {
        let parsed = Pattern::parse(pattern)?;
        if parsed.arg_count() != handler.arg_count() {
            return Err(RouteError::ArgumentCountMismatch {
                pattern: pattern.to_owned(),
                placeholders: parsed.arg_count(),
                handler_arguments: handler.arg_count(),
            });
        }
        self.router.routes.borrow_mut().push(Rc::new(Route {
            pattern: parsed,
            methods: methods.into(),
            handler: Box::new(move |args, request, responder| {
                handler.call(args, request, responder)
            }),
        }));
        Ok(())
    }

    /// Replaces the handler for requests no route answers (Qt's `setMissingHandler`); the
    /// default answers `404 Not Found`.
    pub fn set_missing_handler<F>(&self, handler: F)
    where
        F: Fn(&HttpServerRequest, HttpServerResponder) + 'static,
    {
        *self.router.missing.borrow_mut() = Some(Rc::new(handler));
    }

    /// Restores the default missing handler (404).
    pub fn clear_missing_handler(&self) {
        *self.router.missing.borrow_mut() = None;
    }
}
