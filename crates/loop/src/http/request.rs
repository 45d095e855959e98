//! `RequestBuilder`: a request's headers, query and body, then `.await`:
//! redirects followed, timeouts applied, errors typed.

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri};

use loop_sync::WaitKind;

use super::{ClientSession, Error, Response};

/// A request being made (from [`ClientSession::get`] and friends, or the
/// free functions): add to it, then `.await` it for the [`Response`].
/// A mistake in a header or the URL is returned by the `.await`.
#[must_use = "a request does nothing until awaited"]
pub struct RequestBuilder {
    session: ClientSession,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    timeout: Option<Duration>,
    error: Option<Error>,
    /// Where the request was made: its task's waits are reported there.
    at: &'static Location<'static>,
}

impl RequestBuilder {
    pub(crate) fn new(
        session: ClientSession,
        method: Method,
        url: &str,
        at: &'static Location<'static>,
    ) -> RequestBuilder {
        RequestBuilder {
            at,
            session,
            method,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            error: None,
        }
    }

    fn fail(&mut self, reason: String) {
        if self.error.is_none() {
            self.error = Some(Error::InvalidUrl { url: self.url.clone(), reason });
        }
    }

    /// Adds a header (after the session's; a name given twice is sent
    /// twice).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(e), _) => self.fail(format!("invalid header name {name:?}: {e}")),
            (_, Err(e)) => self.fail(format!("invalid value of header {name}: {e}")),
        }
        self
    }

    /// Adds `pairs` to the URL's query string, form-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let encoded = form_encode(pairs);
        if !encoded.is_empty() {
            let (base, fragment) = match self.url.split_once('#') {
                Some((base, fragment)) => (base.to_string(), Some(fragment.to_string())),
                None => (self.url.clone(), None),
            };
            let sep = if base.contains('?') { '&' } else { '?' };
            self.url = format!("{base}{sep}{encoded}");
            if let Some(fragment) = fragment {
                self.url = format!("{}#{fragment}", self.url);
            }
        }
        self
    }

    /// The body, as bytes (no content type is set).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The body, as UTF-8 text (`content-type: text/plain; charset=utf-8`).
    pub fn text(self, text: impl Into<String>) -> Self {
        self.content_type("text/plain; charset=utf-8").body(text.into())
    }

    /// The body, as an HTML form (`application/x-www-form-urlencoded`).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let encoded = form_encode(pairs);
        self.content_type("application/x-www-form-urlencoded").body(encoded)
    }

    /// The body, as JSON (`application/json`; feature `json`). A value
    /// serde_json cannot write (a map with non-string keys) is returned
    /// by the `.await`, as [`Error::Decode`].
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.content_type("application/json").body(bytes),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(Error::Decode { url: self.url.clone(), source: Box::new(e) });
                }
                self
            }
        }
    }

    fn content_type(mut self, value: &'static str) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        self
    }

    /// This request's total timeout, in place of the session's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request, following redirects; the response once its
    /// head has arrived (read its body with [`Response::bytes`] and
    /// friends). Same as `.await`ing the builder.
    pub async fn send(self) -> Result<Response, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let inner = self.session.inner.clone();
        let timeouts = inner.timeouts;
        let now = crate::get_running_loop().time();
        let total = self.timeout.or(timeouts.total);
        let deadline = total.map(|t| loop_time::deadline_after(now, t));
        let (mut method, mut url, mut body, mut headers) = (self.method, self.url, self.body, self.headers);
        let mut redirects = 0;
        loop {
            let uri = parse_url(&url)?;
            let mut request = hyper::Request::builder().method(method.clone()).uri(uri.clone());
            let map = request.headers_mut().expect("a fresh request builder");
            for (name, value) in &inner.headers {
                if !headers.contains_key(name) {
                    map.append(name, value.clone());
                }
            }
            for (name, value) in &headers {
                map.append(name, value.clone());
            }
            #[cfg(feature = "cookies")]
            if let (Some(jar), false) = (&inner.cookies, map.contains_key(header::COOKIE)) {
                if let Ok(at) = url::Url::parse(&url) {
                    let jar = jar.borrow();
                    let pairs: Vec<String> = jar.get_request_values(&at).map(|(k, v)| format!("{k}={v}")).collect();
                    if let (false, Ok(value)) = (pairs.is_empty(), HeaderValue::try_from(pairs.join("; "))) {
                        map.insert(header::COOKIE, value);
                    }
                }
            }
            let request = request
                .body(Full::new(body.clone()))
                .map_err(|e| Error::InvalidUrl { url: url.clone(), reason: e.to_string() })?;
            // Reported as a read at the caller's line (the pool's own
            // channel reports nothing).
            let sent = crate::WaitSite::at(Some(WaitKind::Readable), self.at, inner.pool.request(request));
            let head = within(sent, timeouts.read, deadline, total, &url).await?;
            let head = head.map_err(|e| request_error(&url, e))?;
            #[cfg(feature = "cookies")]
            if let (Some(jar), Ok(at)) = (&inner.cookies, url::Url::parse(&url)) {
                let mut jar = jar.borrow_mut();
                for set in head.headers().get_all(header::SET_COOKIE) {
                    if let Ok(set) = set.to_str() {
                        // A cookie the store refuses (bad domain...) is
                        // not kept, as a browser would not.
                        let _ = jar.parse(set, &at);
                    }
                }
            }
            let status = head.status();
            let location = head.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_string);
            match (status, location) {
                (s, Some(location))
                    if s.is_redirection() && s != StatusCode::NOT_MODIFIED && inner.max_redirects > 0 =>
                {
                    if redirects == inner.max_redirects {
                        return Err(Error::TooManyRedirects { url, limit: inner.max_redirects });
                    }
                    redirects += 1;
                    url = resolve(&uri, &location);
                    // 303, and 301/302 after a POST (as browsers do): the
                    // next request is a GET without the body.
                    let to_get = s == StatusCode::SEE_OTHER
                        || ((s == StatusCode::MOVED_PERMANENTLY || s == StatusCode::FOUND) && method == Method::POST);
                    if to_get && method != Method::HEAD {
                        method = Method::GET;
                        body = Bytes::new();
                        headers.remove(header::CONTENT_TYPE);
                        headers.remove(header::CONTENT_LENGTH);
                    }
                    // The body of the redirect itself is dropped (its
                    // connection goes back to the pool once read).
                    drop(head);
                }
                _ => return Ok(Response::new(head, url, timeouts.read, deadline, total, self.at)),
            }
        }
    }
}

impl IntoFuture for RequestBuilder {
    type Output = Result<Response, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Response, Error>>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Awaits `future` within the read timeout and the total deadline,
/// whichever is sooner.
pub(crate) async fn within<F: Future>(
    future: F,
    read: Option<Duration>,
    deadline: Option<Instant>,
    total: Option<Duration>,
    url: &str,
) -> Result<F::Output, Error> {
    let now = crate::get_running_loop().time();
    let read_at = read.map(|r| (loop_time::deadline_after(now, r), "read", r));
    let total_at = deadline.zip(total).map(|(d, t)| (d, "total", t));
    let limit = match (read_at, total_at) {
        (Some(r), Some(t)) => Some(if r.0 < t.0 { r } else { t }),
        (r, t) => r.or(t),
    };
    match limit {
        None => Ok(future.await),
        Some((when, which, after)) => {
            crate::timeout_at(future, when).await.map_err(|_| Error::Timeout { url: url.to_string(), which, after })
        }
    }
}

/// `url`, checked: `http` or `https`, with a host.
fn parse_url(url: &str) -> Result<Uri, Error> {
    let invalid = |reason: String| Error::InvalidUrl { url: url.to_string(), reason };
    if !url.contains("://") {
        return Err(invalid("no scheme: write http:// or https://".to_string()));
    }
    let without_fragment = url.split('#').next().unwrap_or(url);
    let uri: Uri = without_fragment.parse().map_err(|e: hyper::http::uri::InvalidUri| invalid(e.to_string()))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => return Err(invalid(format!("the scheme `{other}` is not http or https"))),
        None => return Err(invalid("no scheme: write http:// or https://".to_string())),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_string()));
    }
    Ok(uri)
}

/// Where a `Location` header leads from `base`.
fn resolve(base: &Uri, location: &str) -> String {
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if location.contains("://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// hyper-util's error, typed: connect, TLS, connect timeout, or the rest.
fn request_error(url: &str, e: hyper_util::client::legacy::Error) -> Error {
    let url = url.to_string();
    if e.is_connect() {
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if let Some(timed_out) = io.get_ref().and_then(|i| i.downcast_ref::<super::connect::ConnectTimedOut>())
                {
                    return Error::Timeout { url, which: "connect", after: timed_out.0 };
                }
                #[cfg(feature = "tls")]
                if io.get_ref().is_some_and(|i| i.is::<crate::hyper::TlsHandshakeFailed>()) {
                    return Error::Tls { url, source: std::io::Error::new(io.kind(), io.to_string()) };
                }
                return Error::Connect { url, source: std::io::Error::new(io.kind(), io.to_string()) };
            }
            source = err.source();
        }
        return Error::Connect { url, source: std::io::Error::other(e.to_string()) };
    }
    Error::Request { url, source: Box::new(e) }
}

/// `application/x-www-form-urlencoded`: letters, digits and `*-._` as
/// they are, space as `+`, every other byte as `%XX`.
pub(crate) fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, k.as_ref());
        out.push('=');
        encode_into(&mut out, v.as_ref());
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_as_browsers_do() {
        assert_eq!(form_encode(&[("q", "a b&c=d"), ("é", "*-._~")]), "q=a+b%26c%3Dd&%C3%A9=*-._%7E");
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base: Uri = "https://h:8443/a/b?x=1".parse().unwrap();
        assert_eq!(resolve(&base, "/c"), "https://h:8443/c");
        assert_eq!(resolve(&base, "c?y"), "https://h:8443/a/c?y");
        assert_eq!(resolve(&base, "//other/d"), "https://other/d");
        assert_eq!(resolve(&base, "http://e/f"), "http://e/f");
    }

    #[test]
    fn urls_without_scheme_or_host_are_refused_with_a_reason() {
        assert!(
            matches!(parse_url("example.com/x"), Err(Error::InvalidUrl { reason, .. }) if reason.contains("scheme"))
        );
        assert!(matches!(parse_url("ftp://h/x"), Err(Error::InvalidUrl { reason, .. }) if reason.contains("ftp")));
        assert!(parse_url("http://h:1/x#frag").is_ok());
    }
}
