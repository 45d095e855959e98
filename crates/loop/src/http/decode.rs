//! Content decoding of response bodies: gzip (feature `gzip`) and brotli
//! (feature `brotli`), piece by piece as the body arrives.

use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue};

/// What the session asks for in `accept-encoding` (`None`: no decoding
/// compiled in).
pub(crate) fn accept_encoding() -> Option<HeaderValue> {
    let mut codings: Vec<&str> = Vec::new();
    if cfg!(feature = "gzip") {
        codings.push("gzip");
    }
    if cfg!(feature = "brotli") {
        codings.push("br");
    }
    (!codings.is_empty()).then(|| HeaderValue::from_str(&codings.join(", ")).expect("a valid header"))
}

/// A decoder fed the body's compressed pieces.
pub(crate) enum Decoder {
    #[cfg(feature = "gzip")]
    Gzip(Box<flate2::write::GzDecoder<Vec<u8>>>),
    #[cfg(feature = "brotli")]
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    /// No decoder is compiled in.
    #[cfg(not(any(feature = "gzip", feature = "brotli")))]
    pub(crate) fn for_response(_headers: &mut HeaderMap) -> Option<Decoder> {
        None
    }

    /// The decoder for the response's `content-encoding`, if one is
    /// compiled in; the headers then describe the decoded body (no
    /// `content-encoding`, no `content-length`).
    #[cfg(any(feature = "gzip", feature = "brotli"))]
    pub(crate) fn for_response(headers: &mut HeaderMap) -> Option<Decoder> {
        let coding = headers.get(hyper::header::CONTENT_ENCODING)?.to_str().ok()?.trim().to_ascii_lowercase();
        let decoder = match coding.as_str() {
            #[cfg(feature = "gzip")]
            "gzip" | "x-gzip" => Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(Vec::new()))),
            #[cfg(feature = "brotli")]
            "br" => Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(Vec::new(), 16 * 1024))),
            _ => return None,
        };
        headers.remove(hyper::header::CONTENT_ENCODING);
        headers.remove(hyper::header::CONTENT_LENGTH);
        Some(decoder)
    }

    /// Feeds `compressed`; the bytes decoded so far.
    pub(crate) fn feed(&mut self, compressed: &[u8]) -> std::io::Result<Bytes> {
        let _ = compressed;
        match *self {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => {
                std::io::Write::write_all(d, compressed)?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            #[cfg(feature = "brotli")]
            Decoder::Brotli(ref mut d) => {
                std::io::Write::write_all(d, compressed)?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
        }
    }

    /// The body ended: the last decoded bytes, or an error if the
    /// compressed stream was cut short.
    pub(crate) fn finish(&mut self) -> std::io::Result<Bytes> {
        match *self {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => {
                d.try_finish()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
            #[cfg(feature = "brotli")]
            Decoder::Brotli(ref mut d) => {
                d.close()?;
                Ok(Bytes::from(std::mem::take(d.get_mut())))
            }
        }
    }
}
