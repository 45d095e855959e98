//! `loop::fs`: every function against std's result, errors that name the
//! path, a File's read-ahead and write-behind (counted in pool hops),
//! cancellation, a dropped File's buffered bytes, and a randomized mix of
//! reads, writes and seeks checked against a model.

use r#loop as aio;
use std::future::Future;
use std::io::{ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Waker};

/// A fresh directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("loop-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic bytes: byte `i` of a "file" made by `pattern(n)`.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8).collect()
}

fn blocking_jobs() -> u64 {
    aio::get_running_loop().stats().blocking_jobs
}

/// The message of `e`, and a check that it names `path`.
fn names(e: &std::io::Error, path: &Path) -> String {
    let message = e.to_string();
    assert!(message.contains(&format!("`{}`", path.display())), "the error names the path: {message}");
    message
}

#[test]
fn every_function_does_what_std_does_and_errors_name_the_path() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("functions");
    aio::run(async {
        let a = dir.join("a.txt");
        aio::fs::write(&a, "alpha").await.unwrap();
        assert_eq!(aio::fs::read(&a).await.unwrap(), b"alpha");
        assert_eq!(aio::fs::read_to_string(&a).await.unwrap(), "alpha");
        assert_eq!(aio::fs::metadata(&a).await.unwrap().len(), 5);
        assert!(aio::fs::symlink_metadata(&a).await.unwrap().is_file());
        assert!(aio::fs::try_exists(&a).await.unwrap());
        assert!(!aio::fs::try_exists(dir.join("none")).await.unwrap());

        let b = dir.join("b.txt");
        let copied = aio::fs::copy(&a, &b).await.unwrap();
        // std counts the bytes through CopyFileEx's progress callback on
        // Windows, which Wine does not call: 0 there.
        assert!(copied == 5 || (cfg!(windows) && copied == 0), "copied {copied}");
        assert_eq!(std::fs::read(&b).unwrap(), b"alpha");
        let c = dir.join("c.txt");
        aio::fs::rename(&b, &c).await.unwrap();
        assert!(!b.exists() && c.exists());
        let d = dir.join("d.txt");
        aio::fs::hard_link(&c, &d).await.unwrap();
        assert_eq!(std::fs::read(&d).unwrap(), b"alpha");

        let nested = dir.join("x/y/z");
        aio::fs::create_dir_all(&nested).await.unwrap();
        aio::fs::create_dir(dir.join("x/w")).await.unwrap();
        aio::fs::remove_dir(dir.join("x/w")).await.unwrap();
        assert_eq!(aio::fs::canonicalize(&nested).await.unwrap(), std::fs::canonicalize(&nested).unwrap());

        let original = aio::fs::metadata(&a).await.unwrap().permissions();
        let mut permissions = original.clone();
        permissions.set_readonly(true);
        aio::fs::set_permissions(&a, permissions.clone()).await.unwrap();
        assert!(std::fs::metadata(&a).unwrap().permissions().readonly());
        aio::fs::set_permissions(&a, original).await.unwrap();

        #[cfg(unix)]
        {
            let link = dir.join("link");
            aio::fs::symlink(&a, &link).await.unwrap();
            assert_eq!(aio::fs::read_link(&link).await.unwrap(), a);
            assert!(aio::fs::symlink_metadata(&link).await.unwrap().file_type().is_symlink());
            assert!(aio::fs::metadata(&link).await.unwrap().is_file());
        }

        aio::fs::remove_file(&d).await.unwrap();
        aio::fs::remove_dir_all(dir.join("x")).await.unwrap();
        assert!(!dir.join("x").exists());

        // Errors: the OS's kind, a message naming the operation and path.
        let missing = dir.join("missing");
        let e = aio::fs::read(&missing).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(names(&e, &missing).starts_with("cannot read "));
        let detail = e.get_ref().and_then(|e| e.downcast_ref::<aio::fs::PathError>()).expect("a PathError inside");
        assert_eq!(detail.path(), missing);
        assert_eq!(detail.os_error().kind(), ErrorKind::NotFound);
        for e in [
            aio::fs::metadata(&missing).await.unwrap_err(),
            aio::fs::remove_file(&missing).await.unwrap_err(),
            aio::fs::remove_dir(&missing).await.unwrap_err(),
            aio::fs::read_link(&missing).await.unwrap_err(),
            aio::fs::canonicalize(&missing).await.unwrap_err(),
            aio::fs::File::open(&missing).await.unwrap_err(),
            aio::fs::read_dir(&missing).await.unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            names(&e, &missing);
        }
        let e = aio::fs::rename(&missing, &c).await.unwrap_err();
        let detail = e.get_ref().and_then(|e| e.downcast_ref::<aio::fs::PathError>()).unwrap();
        assert_eq!(detail.destination(), Some(c.as_path()));
        assert!(e.to_string().contains(&format!("to `{}`", c.display())), "{e}");
        let e = aio::fs::create_dir(&c).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(aio::fs::read_to_string(&c).await.unwrap(), "alpha");
        std::fs::write(&c, [0xff, 0xfe]).unwrap();
        assert_eq!(aio::fs::read_to_string(&c).await.unwrap_err().kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn a_sequential_read_through_a_small_buffer_takes_few_pool_hops() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("read-ahead");
    let path = dir.join("big");
    let content = pattern(8 << 20);
    std::fs::write(&path, &content).unwrap();
    aio::run(async {
        let mut file = aio::fs::File::open(&path).await.unwrap();
        let before = blocking_jobs();
        let mut got = Vec::with_capacity(content.len());
        let mut buf = [0u8; 8192];
        loop {
            let n = file.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let hops = blocking_jobs() - before;
        assert!(got == content, "the bytes read are the file's");
        // 1,024 reads of 8 KiB; blocks of 64 KiB doubling to 256 KiB: 34.
        assert!(hops <= 40, "8 MiB through an 8 KiB buffer took {hops} pool hops");
        // The end was found in the last block's hop: another read is 0.
        assert_eq!(file.read(&mut buf).await.unwrap(), 0);

        // Reading ahead stops when something else is asked: a flush or
        // a seek after sequential reads waits for one block, not the rest
        // of the file.
        let mut file = aio::fs::File::open(&path).await.unwrap();
        for _ in 0..40 {
            file.read_exact(&mut buf).await.unwrap();
        }
        let before = blocking_jobs();
        file.flush().await.unwrap();
        assert_eq!(file.stream_position().await.unwrap(), 40 * 8192);
        let hops = blocking_jobs() - before;
        assert!(hops <= 2, "a flush and a seek after reading took {hops} hops");

        // read_to_end and fs::read agree.
        let mut file = aio::fs::File::open(&path).await.unwrap();
        let mut all = Vec::new();
        assert_eq!(file.read_to_end(&mut all).await.unwrap(), content.len());
        assert!(all == content);

        // A small file: one hop gives its bytes and its end.
        std::fs::write(dir.join("small"), b"four").unwrap();
        let mut file = aio::fs::File::open(dir.join("small")).await.unwrap();
        let before = blocking_jobs();
        let mut text = String::new();
        file.read_to_string(&mut text).await.unwrap();
        assert_eq!((text.as_str(), blocking_jobs() - before), ("four", 1));
    });
}

#[test]
fn writes_are_buffered_behind_and_flushed_in_order() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("write-behind");
    let path = dir.join("out");
    let content = pattern(3 << 20);
    aio::run(async {
        let mut file = aio::fs::File::create(&path).await.unwrap();
        let before = blocking_jobs();
        for piece in content.chunks(8192) {
            file.write_all(piece).await.unwrap();
        }
        file.flush().await.unwrap();
        let hops = blocking_jobs() - before;
        // 384 writes of 8 KiB; blocks of at most 256 KiB: 12 or more.
        assert!(hops <= 24, "3 MiB in 8 KiB writes took {hops} pool hops");
        assert!(std::fs::read(&path).unwrap() == content);
        file.sync_all().await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), content.len() as u64);

        // set_len after buffered writes: they land first.
        file.write_all(b"tail").await.unwrap();
        file.set_len(10).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content[..10]);
    });
}

#[test]
fn a_write_error_comes_back_from_the_next_call_with_the_path() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("write-error");
    let path = dir.join("ro");
    std::fs::write(&path, b"x").unwrap();
    aio::run(async {
        // Opened for reading only: the OS refuses the write, behind our
        // back; the write itself returned.
        let mut file = aio::fs::File::open(&path).await.unwrap();
        assert_eq!(file.write(b"nope").await.unwrap(), 4);
        let e = file.flush().await.unwrap_err();
        assert!(names(&e, &path).starts_with("cannot write "), "{e}");
        // Reported once.
        file.flush().await.unwrap();
    });
}

#[test]
fn seeks_reads_and_writes_mixed_at_random_agree_with_a_model() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("model");
    let path = dir.join("mixed");
    let initial = pattern(300_000);
    std::fs::write(&path, &initial).unwrap();
    // What the mix exercised: each must have happened.
    let mut seen = std::collections::BTreeMap::<&str, u32>::new();
    aio::run(async {
        let mut file = aio::fs::OpenOptions::new().read(true).write(true).open(&path).await.unwrap();
        let mut model = initial.clone();
        let mut pos = 0usize;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut last = "start";
        for _ in 0..400 {
            let op = match next(10) {
                0..=4 => "read",
                5..=7 => "write",
                8 => "seek",
                _ => "seek_end",
            };
            match op {
                "read" => {
                    let mut buf = vec![0u8; 1 + next(100_000) as usize];
                    let n = file.read(&mut buf).await.unwrap();
                    let expect = model.len().saturating_sub(pos).min(buf.len());
                    if n == 0 {
                        *seen.entry("read at the end").or_default() += 1;
                    }
                    assert!(n <= expect && (n > 0) == (expect > 0), "read {n} of {expect} left");
                    assert!(buf[..n] == model[pos..pos + n], "read {n} at {pos}");
                    pos += n;
                }
                "write" => {
                    let bytes: Vec<u8> = (0..1 + next(50_000)).map(|_| next(256) as u8).collect();
                    file.write_all(&bytes).await.unwrap();
                    if model.len() < pos + bytes.len() {
                        model.resize(pos + bytes.len(), 0);
                    }
                    model[pos..pos + bytes.len()].copy_from_slice(&bytes);
                    pos += bytes.len();
                }
                "seek" => {
                    let to = next(model.len() as u64 + 1) as usize;
                    assert_eq!(file.seek(SeekFrom::Start(to as u64)).await.unwrap(), to as u64);
                    pos = to;
                }
                _ => {
                    let back = next(1000) as usize;
                    let at = file.seek(SeekFrom::End(-(back.min(model.len()) as i64))).await.unwrap();
                    pos = model.len() - back.min(model.len());
                    assert_eq!(at, pos as u64);
                }
            }
            *seen.entry(op).or_default() += 1;
            if last == "read" && op == "write" {
                *seen.entry("write after read (read-ahead undone)").or_default() += 1;
            }
            if last == "write" && op == "read" {
                *seen.entry("read after write (write-behind first)").or_default() += 1;
            }
            last = op;
        }
        assert_eq!(file.stream_position().await.unwrap(), pos as u64);
        file.flush().await.unwrap();
        assert!(std::fs::read(&path).unwrap() == model, "the file is the model");
    });
    for path in [
        "read",
        "write",
        "seek",
        "seek_end",
        "read at the end",
        "write after read (read-ahead undone)",
        "read after write (write-behind first)",
    ] {
        assert!(seen.get(path).copied().unwrap_or(0) > 0, "the mix never took `{path}`: {seen:?}");
    }
}

#[test]
fn a_cancelled_read_loses_nothing_and_into_std_keeps_the_position() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("cancel");
    let path = dir.join("data");
    let content = pattern(200_000);
    std::fs::write(&path, &content).unwrap();
    // One pool thread, held busy while the read is made: the read's job
    // waits behind it, so the read is surely in flight when dropped.
    let ev = aio::EventLoop::builder().blocking_threads(1).build().unwrap();
    ev.run_until_complete(async {
        let mut file = aio::fs::File::open(&path).await.unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = aio::spawn_blocking(move || held.recv().unwrap());
        let mut buf = [0u8; 100];
        {
            // Polled once (the block's read is queued), then dropped.
            let read = pin!(file.read(&mut buf));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(read.poll(&mut cx).is_pending(), "the read waits for the pool");
        }
        release.send(()).unwrap();
        blocker.await.unwrap();
        let mut got = [0u8; 100];
        file.read_exact(&mut got).await.unwrap();
        assert_eq!(got, content[..100], "the next read starts where the cancelled one would have");

        // 100 bytes returned, a block read ahead: the std file's cursor is
        // put back at 100.
        let mut std_file = file.into_std().await.unwrap();
        use std::io::{Read, Seek};
        assert_eq!(std_file.stream_position().unwrap(), 100);
        let mut next = [0u8; 10];
        std_file.read_exact(&mut next).unwrap();
        assert_eq!(next, content[100..110]);

        // And back: from_std reads on from the std cursor.
        let mut file = aio::fs::File::from_std(std_file);
        assert_eq!(file.path(), None);
        file.read_exact(&mut next).await.unwrap();
        assert_eq!(next, content[110..120]);
        let file = file.try_into_std().expect_err("read-ahead is buffered: not idle");
        drop(file);
    });
    ev.close();
}

#[test]
fn a_dropped_file_still_writes_what_it_buffered() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("drop");
    let small = dir.join("small");
    let large = dir.join("large");
    let content = pattern(3 << 20);
    aio::run(async {
        // Nothing running: the drop hands the bytes to the pool.
        let mut file = aio::fs::File::create(&small).await.unwrap();
        file.write_all(b"first ").await.unwrap();
        file.flush().await.unwrap();
        file.write_all(b"second").await.unwrap();
        drop(file);
        // A block being written at the drop: the rest follows it.
        let mut file = aio::fs::File::create(&large).await.unwrap();
        for piece in content.chunks(100_000) {
            file.write_all(piece).await.unwrap();
        }
        drop(file);
    });
    // `run` joined the pool: the writes are done.
    assert_eq!(std::fs::read(&small).unwrap(), b"first second");
    assert!(std::fs::read(&large).unwrap() == content, "every block, in order");
}

#[test]
fn read_dir_lists_every_entry_with_its_metadata_without_more_hops() {
    let _watchdog = loop_tests::watchdog();
    let dir = TempDir::new("read-dir");
    for i in 0..200 {
        std::fs::write(dir.join(&format!("f{i:03}")), vec![b'x'; i]).unwrap();
    }
    std::fs::create_dir(dir.join("sub")).unwrap();
    aio::run(async {
        let before = blocking_jobs();
        let mut entries = aio::fs::read_dir(&dir.0).await.unwrap();
        let mut seen = Vec::new();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let name = entry.file_name().into_string().unwrap();
            let file_type = entry.file_type().await.unwrap();
            let metadata = entry.metadata().await.unwrap();
            assert_eq!(entry.path(), dir.join(&name));
            if name == "sub" {
                assert!(file_type.is_dir());
            } else {
                assert!(file_type.is_file());
                assert_eq!(metadata.len(), name[1..].parse::<u64>().unwrap(), "{name}");
            }
            seen.push(name);
        }
        let hops = blocking_jobs() - before;
        seen.sort();
        assert_eq!(seen.len(), 201);
        assert_eq!(seen[0], "f000");
        // 201 entries, 64 per hop, metadata included: 4 hops.
        assert!(hops <= 5, "201 entries with metadata took {hops} hops");

        // The same through `Stream`.
        let mut entries = aio::fs::read_dir(&dir.0).await.unwrap();
        let mut count = 0;
        let mut stream = std::pin::Pin::new(&mut entries);
        while let Some(entry) = std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await {
            entry.unwrap();
            count += 1;
        }
        assert_eq!(count, 201);
    });
}

#[cfg(unix)]
#[test]
fn a_pipe_read_returns_what_is_there_without_waiting_for_a_full_block() {
    let _watchdog = loop_tests::watchdog();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let reader = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
    aio::run(async {
        use std::io::Write;
        let mut file = aio::fs::File::from_std(reader);
        writer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 100];
        assert_eq!(file.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        writer.write_all(b"de").unwrap();
        drop(writer);
        assert_eq!(file.read(&mut buf).await.unwrap(), 2);
        assert_eq!(file.read(&mut buf).await.unwrap(), 0);
    });
}
