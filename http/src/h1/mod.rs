//! A sans-IO HTTP/1.1 codec: bytes in, events out, no sockets.
