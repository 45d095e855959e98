//! `http::Error`: what went wrong, and with which URL.

use std::time::Duration;

/// A failed HTTP call (feature `http`). Every variant says the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed, or its scheme is not `http`/`https`.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection could be made (name lookup, refused, unreachable).
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The OS's error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, a wrong name).
    #[error("TLS handshake with {url} failed: {source}")]
    Tls {
        /// The URL.
        url: String,
        /// rustls's error.
        #[source]
        source: std::io::Error,
    },
    /// A timeout of the session passed.
    #[error("{url}: the {which} timeout of {after:?} passed")]
    Timeout {
        /// The URL.
        url: String,
        /// `"connect"`, `"read"` or `"total"`.
        which: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// [`Response::error_for_status`](super::Response::error_for_status):
    /// the server answered 4xx or 5xx.
    #[error("{url}: the server answered {status}")]
    Status {
        /// The URL (after redirects).
        url: String,
        /// The status.
        status: hyper::StatusCode,
    },
    /// Sending the request or reading the answer failed (a reset
    /// connection, a malformed response).
    #[error("{url}: {source}")]
    Request {
        /// The URL.
        url: String,
        /// hyper's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading the body failed midway (the connection was reset).
    #[error("{url}: reading the body failed: {source}")]
    Body {
        /// The URL.
        url: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The body is not what was asked for (not UTF-8, not that JSON).
    #[error("{url}: cannot decode the body: {source}")]
    Decode {
        /// The URL.
        url: String,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// More redirects than the session allows (or a redirect loop).
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects {
        /// The URL that redirected once too often.
        url: String,
        /// The session's limit.
        limit: usize,
    },
}

impl Error {
    /// The URL the failed call was for.
    pub fn url(&self) -> &str {
        match self {
            Error::InvalidUrl { url, .. }
            | Error::Connect { url, .. }
            | Error::Tls { url, .. }
            | Error::Timeout { url, .. }
            | Error::Status { url, .. }
            | Error::Request { url, .. }
            | Error::Body { url, .. }
            | Error::Decode { url, .. }
            | Error::TooManyRedirects { url, .. } => url,
        }
    }

    /// Whether a timeout passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}
