//! TLS on rustls (ring provider): configuration, certificates, Qt's `SslError` model.
