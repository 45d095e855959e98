//! `Response`: the status and headers, then the body: whole, as text or
//! JSON, or chunk by chunk for a large download.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::{StatusCode, Version};

use super::decode::Decoder;
use super::request::within;
use super::Error;

/// A response whose head has arrived; its body is read by
/// [`bytes`](Response::bytes), [`text`](Response::text),
/// [`json`](Response::json) or, piece by piece, [`chunk`](Response::chunk)
/// and [`bytes_stream`](Response::bytes_stream). The session's read
/// timeout applies to each piece, its total timeout to the whole.
/// Dropping a response with its body unread closes its connection
/// (a fully read one goes back to the pool).
pub struct Response {
    head: hyper::http::response::Parts,
    body: Incoming,
    url: String,
    read: Option<Duration>,
    deadline: Option<Instant>,
    total: Option<Duration>,
    /// Decodes a compressed body (features `gzip`, `brotli`).
    decoder: Option<Decoder>,
    /// The body has ended (and the decoder was finished).
    ended: bool,
    /// Where the request was made: body reads are reported there.
    at: &'static std::panic::Location<'static>,
}

impl Response {
    pub(crate) fn new(
        response: hyper::Response<Incoming>,
        url: String,
        read: Option<Duration>,
        deadline: Option<Instant>,
        total: Option<Duration>,
        at: &'static std::panic::Location<'static>,
    ) -> Response {
        let (mut head, body) = response.into_parts();
        let decoder = Decoder::for_response(&mut head.headers);
        Response { head, body, url, read, deadline, total, decoder, ended: false, at }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `content-length` the server announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.headers().get(hyper::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
    }

    /// `Err(Error::Status)` for a 4xx or 5xx answer, else the response.
    #[allow(clippy::result_large_err)] // the response back, to read on
    pub fn error_for_status(self) -> Result<Response, Error> {
        let status = self.status();
        if status.is_client_error() || status.is_server_error() {
            return Err(Error::Status { url: self.url, status });
        }
        Ok(self)
    }

    /// The next piece of the body (decoded, if it came compressed and
    /// decoding is compiled in), `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let decode_error = |url: &str, e: std::io::Error| Error::Decode { url: url.to_string(), source: Box::new(e) };
        loop {
            if self.ended {
                return Ok(None);
            }
            let next = crate::WaitSite::at(Some(loop_sync::WaitKind::Readable), self.at, self.body.frame());
            let frame = within(next, self.read, self.deadline, self.total, &self.url).await?;
            match frame {
                None => {
                    self.ended = true;
                    if let Some(decoder) = &mut self.decoder {
                        let rest = decoder.finish().map_err(|e| decode_error(&self.url, e))?;
                        if !rest.is_empty() {
                            return Ok(Some(rest));
                        }
                    }
                    return Ok(None);
                }
                Some(Err(source)) => return Err(Error::Body { url: self.url.clone(), source }),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let data = match &mut self.decoder {
                            Some(decoder) => decoder.feed(&data).map_err(|e| decode_error(&self.url, e))?,
                            None => data,
                        };
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                    // Trailers, an empty piece, or compressed bytes that
                    // decoded to nothing yet: read on.
                }
            }
        }
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut all = Vec::with_capacity(self.content_length().unwrap_or(0).min(1 << 24) as usize);
        let mut only: Option<Bytes> = None;
        while let Some(chunk) = self.chunk().await? {
            // One piece: no copy.
            match only.take() {
                None if all.is_empty() => only = Some(chunk),
                Some(first) => {
                    all.extend_from_slice(&first);
                    all.extend_from_slice(&chunk);
                }
                None => all.extend_from_slice(&chunk),
            }
        }
        Ok(only.unwrap_or_else(|| Bytes::from(all)))
    }

    /// The whole body as text; it must be UTF-8 ([`Error::Decode`] if
    /// not).
    pub async fn text(self) -> Result<String, Error> {
        let url = self.url.clone();
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| Error::Decode { url, source: Box::new(e) })
    }

    /// The whole body, parsed as JSON into `T` (feature `json`).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url.clone();
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode { url, source: Box::new(e) })
    }

    /// The body as a `Stream` of pieces, for a download too large to hold
    /// (memory stays at about one piece).
    pub fn bytes_stream(self) -> BodyStream {
        BodyStream { state: StreamState::Idle(Some(Box::new(self))) }
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url)
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("headers", &self.head.headers)
            .finish_non_exhaustive()
    }
}

type Next = Pin<Box<dyn Future<Output = (Response, Result<Option<Bytes>, Error>)>>>;

enum StreamState {
    Idle(Option<Box<Response>>),
    Reading(Next),
}

/// A response's body as a [`Stream`](futures_core::Stream) of
/// `Result<Bytes, Error>` (from [`Response::bytes_stream`]).
pub struct BodyStream {
    state: StreamState,
}

impl futures_core::Stream for BodyStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match &mut self.state {
                StreamState::Idle(response) => match response.take() {
                    None => return Poll::Ready(None),
                    Some(response) => {
                        let mut response = *response;
                        self.state = StreamState::Reading(Box::pin(async move {
                            let next = response.chunk().await;
                            (response, next)
                        }));
                    }
                },
                StreamState::Reading(next) => {
                    let (response, result) = std::task::ready!(next.as_mut().poll(cx));
                    return Poll::Ready(match result {
                        Ok(Some(bytes)) => {
                            self.state = StreamState::Idle(Some(Box::new(response)));
                            Some(Ok(bytes))
                        }
                        Ok(None) => {
                            self.state = StreamState::Idle(None);
                            None
                        }
                        Err(e) => {
                            self.state = StreamState::Idle(None);
                            Some(Err(e))
                        }
                    });
                }
            }
        }
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream").finish_non_exhaustive()
    }
}
