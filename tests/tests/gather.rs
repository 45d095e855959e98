//! gather!, gather(iter), try_gather.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use std::time::Duration;

#[test]
fn gather_macro_runs_concurrently_and_keeps_argument_order() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let t0 = ev.time();
    let out = ev.run_until_complete(async {
        aio::gather!(
            async {
                aio::sleep(Duration::from_secs(3)).await;
                'a'
            },
            async {
                aio::sleep(Duration::from_secs(1)).await;
                2u8
            },
            async { "now" },
        )
        .await
    });
    assert_eq!(out, ('a', 2, "now"));
    assert_eq!(ev.time() - t0, Duration::from_secs(3), "concurrent: the longest, not the sum");
}

#[test]
fn gather_iter_returns_in_input_order_not_completion_order() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let out = ev.run_until_complete(aio::gather([3u64, 1, 2].map(|s| async move {
        aio::sleep(Duration::from_secs(s)).await;
        s
    })));
    assert_eq!(out, [3, 1, 2]);
}

#[test]
fn gather_of_results_is_return_exceptions_true() {
    let _watchdog = loop_tests::watchdog();
    let out: Vec<Result<i32, String>> = aio::run(aio::gather((0..4).map(|i| async move {
        if i % 2 == 0 {
            Ok(i)
        } else {
            Err(format!("e{i}"))
        }
    })));
    assert_eq!(out, [Ok(0), Err("e1".into()), Ok(2), Err("e3".into())]);
}

#[test]
fn gather_of_tasks() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let tasks: Vec<_> = (0..100).map(|i| aio::spawn(async move { i })).collect();
        aio::gather(tasks).await
    });
    assert_eq!(out.into_iter().map(Result::unwrap).sum::<i32>(), 4950);
}

#[test]
fn try_gather_fails_fast_and_drops_the_rest() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let log = Log::new();
    let l = log.clone();
    let t0 = ev.time();
    let out = ev.run_until_complete(async move {
        let futs = (0..3u64).map(|i| {
            let l = l.clone();
            async move {
                struct Note(Log, u64);
                impl Drop for Note {
                    fn drop(&mut self) {
                        self.0.push(format!("dropped {}", self.1));
                    }
                }
                let _n = Note(l, i);
                aio::sleep(Duration::from_secs(10 * (i + 1))).await;
                if i == 0 {
                    Err(format!("failed {i}"))
                } else {
                    Ok(i)
                }
            }
        });
        aio::try_gather(futs).await
    });
    assert_eq!(out, Err("failed 0".to_string()));
    assert_eq!(ev.time() - t0, Duration::from_secs(10), "did not wait for the others");
    let mut entries = log.entries();
    entries.sort();
    assert_eq!(entries, ["dropped 0", "dropped 1", "dropped 2"]);
    assert_eq!(ev.stats().timers_pending, 0);
}

#[test]
fn try_gather_all_ok() {
    let _watchdog = loop_tests::watchdog();
    let out: Result<Vec<u8>, ()> = aio::run(aio::try_gather((1..=3).map(|i| async move { Ok(i) })));
    assert_eq!(out, Ok(vec![1, 2, 3]));
}

#[test]
fn gather_polls_only_the_futures_that_were_woken() {
    let _watchdog = loop_tests::watchdog();
    // Ten thousand futures finishing one by one: each is polled about twice
    // (once to start, once when its timer fires), not once per wake-up of
    // any of them (which would be fifty million polls).
    let n = 10_000u64;
    let polls = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let ev = paused();
    let p = polls.clone();
    let out = ev.run_until_complete(aio::gather((0..n).map(move |i| {
        let p = p.clone();
        let mut sleep = Box::pin(aio::sleep(Duration::from_millis(i)));
        std::future::poll_fn(move |cx| {
            p.set(p.get() + 1);
            std::future::Future::poll(sleep.as_mut(), cx).map(|()| i)
        })
    })));
    assert_eq!(out, (0..n).collect::<Vec<_>>());
    assert!(polls.get() <= 2 * n + 10, "{} polls for {n} futures", polls.get());
}

#[test]
fn try_gather_polls_only_the_futures_that_were_woken() {
    let _watchdog = loop_tests::watchdog();
    let n = 2_000u64;
    let polls = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let ev = paused();
    let p = polls.clone();
    let out: Result<Vec<u64>, ()> = ev.run_until_complete(aio::try_gather((0..n).map(move |i| {
        let p = p.clone();
        let mut sleep = Box::pin(aio::sleep(Duration::from_millis(i)));
        std::future::poll_fn(move |cx| {
            p.set(p.get() + 1);
            std::future::Future::poll(sleep.as_mut(), cx).map(|()| Ok(i))
        })
    })));
    assert_eq!(out, Ok((0..n).collect()));
    assert!(polls.get() <= 2 * n + 10, "{} polls for {n} futures", polls.get());
}

#[test]
fn gather_sees_every_wake_from_other_threads() {
    let _watchdog = loop_tests::watchdog();
    // 200 futures completed from 4 OS threads in a scrambled order: each
    // wake arrives through its own waker from another thread; none is lost.
    let cells: Vec<aio::sync::ResultCell<usize>> = (0..200).map(|_| aio::sync::ResultCell::new()).collect();
    let out = aio::run(async {
        let waits: Vec<_> = cells.iter().map(|c| c.wait()).collect();
        let setters: Vec<_> = (0..4)
            .map(|t| {
                let mine: Vec<_> =
                    cells.iter().enumerate().filter(|(i, _)| (i * 7) % 4 == t).map(|(i, c)| (i, c.clone())).collect();
                std::thread::spawn(move || {
                    for (i, c) in mine.into_iter().rev() {
                        c.set_result(i).unwrap();
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        let results = aio::gather(waits).await;
        for s in setters {
            s.join().unwrap();
        }
        results
    });
    assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
}
