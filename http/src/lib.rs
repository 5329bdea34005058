//! slotnet-http: the network access API, HTTP/1.1 and HTTP/2, the HTTP server and legacy QHttp.
