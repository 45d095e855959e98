//! `StreamReader`'s limit rules, translated from CPython's
//! `test_asyncio/test_streams.py` (`test_readline_limit`,
//! `test_readuntil_limit_found_sep`, `test_readuntil_multi_chunks_1`).
//! The reader pulls from a scripted stream: each read returns the next
//! chunk (asyncio's tests `feed_data` before reading; one chunk here is one
//! `feed_data` that arrived before the read).

use futures_io::AsyncRead;
use r#loop as aio;
use r#loop::{StreamError, StreamReader};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Returns its chunks one per read, then EOF.
struct Script(VecDeque<Vec<u8>>);

fn script(chunks: &[&[u8]]) -> Script {
    Script(chunks.iter().map(|c| c.to_vec()).collect())
}

impl AsyncRead for Script {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let Some(mut chunk) = self.0.pop_front() else { return Poll::Ready(Ok(0)) };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            self.0.push_front(chunk.split_off(n));
        }
        Poll::Ready(Ok(n))
    }
}

fn overrun(r: Result<Vec<u8>, StreamError>) -> r#loop::LimitOverrunError {
    match r {
        Err(StreamError::LimitOverrun(e)) => e,
        other => panic!("expected a LimitOverrunError, got {other:?}"),
    }
}

#[test]
fn an_overlong_line_is_discarded_through_its_newline_and_the_next_line_follows() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // test_readline_limit, first case: one overlong line, then EOF.
        let mut r = StreamReader::with_limit(script(&[b"chunk1chunk2chunk3\n"]), 7);
        overrun(r.readline().await);
        assert_eq!(r.readline().await.unwrap(), b"", "the whole line went, nothing is left");
        // Second case: the next line survives.
        let mut r = StreamReader::with_limit(script(&[b"chunk1chunk2\nchunk3\n"]), 7);
        let e = overrun(r.readline().await);
        assert_eq!(e.consumed, 12);
        assert_eq!(r.readline().await.unwrap(), b"chunk3\n");
    });
}

#[test]
fn the_limit_counts_the_bytes_before_the_separator() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // test_readline_limit, "strictness of the limit".
        let mut r = StreamReader::with_limit(script(&[b"1234567\n", b"12345678\n", b"ok\n"]), 7);
        assert_eq!(r.readline().await.unwrap(), b"1234567\n", "exactly the limit plus its newline");
        overrun(r.readline().await);
        assert_eq!(r.readline().await.unwrap(), b"ok\n", "the overlong line and its newline are gone");
        // The same rule for readuntil with a longer separator.
        let mut r = StreamReader::with_limit(script(&[b"1234567AAA12345678AAA"]), 7);
        assert_eq!(r.readuntil(b"AAA").await.unwrap(), b"1234567AAA");
        let e = overrun(r.readuntil(b"AAA").await);
        assert!(e.message.contains("is found"), "{}", e.message);
        assert_eq!(e.consumed, 8);
    });
}

#[test]
fn readuntil_over_the_limit_keeps_the_data() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // test_readuntil_limit_found_sep.
        let mut r = StreamReader::with_limit(script(&[b"some dataAA"]), 3);
        let e = overrun(r.readuntil(b"AAA").await);
        assert!(e.message.contains("not found"), "{}", e.message);
        let mut r = StreamReader::with_limit(script(&[b"some dataAAA"]), 3);
        let e = overrun(r.readuntil(b"AAA").await);
        assert!(e.message.contains("is found"), "{}", e.message);
        assert_eq!(e.consumed, 9);
        assert_eq!(r.readexactly(12).await.unwrap(), b"some dataAAA", "nothing was consumed");
    });
}

#[test]
fn a_separator_split_across_reads_is_found() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // test_readuntil_multi_chunks_1.
        let mut r = StreamReader::new(script(&[b"QWEaa", b"XYaa", b"a", b"QWEaa", b"XYa", b"aa", b"Xaaa"]));
        assert_eq!(r.readuntil(b"aaa").await.unwrap(), b"QWEaaXYaaa");
        assert_eq!(r.readuntil(b"aaa").await.unwrap(), b"QWEaaXYaaa");
        assert_eq!(r.readuntil(b"aaa").await.unwrap(), b"Xaaa");
        match r.readuntil(b"aaa").await {
            Err(StreamError::IncompleteRead(e)) => assert!(e.partial.is_empty()),
            other => panic!("expected IncompleteRead at EOF, got {other:?}"),
        }
    });
}

#[test]
fn an_overlong_line_arriving_in_pieces_is_cut_where_the_limit_was_passed() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // The buffer passes the limit before the newline has arrived: asyncio
        // clears the buffer, and the rest of the line comes next.
        let mut r = StreamReader::with_limit(script(&[b"chunk1", b"chunk2", b"chunk3\n", b"next\n"]), 7);
        let e = overrun(r.readline().await);
        assert!(e.message.contains("not found"), "{}", e.message);
        assert_eq!(r.readline().await.unwrap(), b"chunk3\n");
        assert_eq!(r.readline().await.unwrap(), b"next\n");
    });
}
