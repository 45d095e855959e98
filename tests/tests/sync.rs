//! asyncio's synchronisation primitives, on our loop: FIFO order and
//! cancel-safety.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use r#loop::sync::{
    Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, LifoQueue, Lock, Mutex, PriorityQueue, Queue,
    Semaphore, SemaphoreOverflow, TaskDoneError, TryGetError, TryPutError,
};
use std::rc::Rc;
use std::time::Duration;

#[test]
fn semaphore_waiters_are_served_fifo_c1_c2_c3_c1_c2_c3() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let sem = Rc::new(Semaphore::new(1));
        let tasks: Vec<_> = (1..=3)
            .map(|i| {
                let (sem, l) = (sem.clone(), l.clone());
                aio::spawn(async move {
                    for _ in 0..2 {
                        let _permit = sem.acquire().await;
                        l.push(format!("c{i}"));
                        aio::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 1);
    });
    assert_eq!(log.entries(), ["c1", "c2", "c3", "c1", "c2", "c3"]);
}

#[test]
fn lock_is_fifo_and_a_newcomer_never_barges() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let lock = Rc::new(Lock::new());
        let guard = lock.acquire().await;
        let tasks: Vec<_> = (1..=3)
            .map(|i| {
                let (lock, l) = (lock.clone(), l.clone());
                aio::spawn(async move {
                    let _g = lock.acquire().await;
                    l.push(format!("t{i}"));
                })
            })
            .collect();
        aio::yield_now().await; // all three queue up
        drop(guard); // hands the lock to t1...
        assert!(lock.try_acquire().is_none(), "...so a newcomer cannot take it");
        assert!(lock.locked());
        for t in tasks {
            t.await.unwrap();
        }
        assert!(!lock.locked());
    });
    assert_eq!(log.entries(), ["t1", "t2", "t3"]);
}

#[test]
fn acquire_many_keeps_its_place_while_collecting_permits() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let s = sem.clone();
        let big = aio::spawn(async move { s.acquire_many(3).await.count() });
        aio::yield_now().await;
        let s = sem.clone();
        let small = aio::spawn(async move { s.acquire().await.count() });
        aio::yield_now().await;
        sem.release(2);
        aio::yield_now().await;
        assert!(!big.is_done() && !small.is_done(), "the 2 permits wait with the head waiter");
        sem.release(1);
        assert_eq!(big.await, Ok(3));
        assert_eq!(small.await, Ok(1));
    });
}

#[test]
fn a_cancelled_waiter_passes_on_the_permit_it_was_handed() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(1));
        let held = sem.acquire().await;
        let s = sem.clone();
        let first = aio::spawn(async move {
            let _p = s.acquire().await;
            "first"
        });
        let s = sem.clone();
        let second = aio::spawn(async move {
            let _p = s.acquire().await;
            "second"
        });
        aio::yield_now().await; // both queued
        drop(held); // the permit is handed to `first`...
        first.cancel(); // ...which is dropped before it ever sees it
        assert_eq!(first.await, Err(aio::TaskError::Cancelled));
        assert_eq!(second.await, Ok("second"));
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn a_cancelled_partial_acquire_returns_what_it_collected() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(1));
        let s = sem.clone();
        let big = aio::spawn(async move { s.acquire_many(2).await.count() });
        aio::yield_now().await;
        assert_eq!(sem.available_permits(), 0, "the head waiter holds the free permit");
        big.cancel();
        assert!(big.await.is_err());
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn bounded_semaphore_refuses_extra_releases() {
    let _watchdog = loop_tests::watchdog();
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.release(), Err(SemaphoreOverflow { bound: 2 }));
    let p = sem.try_acquire().unwrap();
    p.forget();
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release(), Err(SemaphoreOverflow { bound: 2 }));
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn event_set_releases_every_waiter_even_if_cleared_before_they_run() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let ev = Rc::new(Event::new());
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let ev = ev.clone();
                aio::spawn(async move {
                    ev.wait().await;
                    i
                })
            })
            .collect();
        aio::yield_now().await;
        assert_eq!(ev.waiters(), 5);
        ev.set();
        ev.clear(); // before any waiter runs again
        let mut done = Vec::new();
        for w in waiters {
            done.push(w.await.unwrap());
        }
        let late = aio::wait_for(ev.wait(), Duration::from_millis(10)).await;
        (done, late.is_err())
    });
    assert_eq!(out, (vec![0, 1, 2, 3, 4], true));
}

#[test]
fn condition_notify_wakes_fifo_and_a_dropped_notified_waiter_passes_it_on() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let shared = Rc::new((Mutex::new(0u32), Condition::new()));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (s, l) = (shared.clone(), l.clone());
            tasks.push(aio::spawn(async move {
                let (m, c) = &*s;
                let g = c.wait(m.lock().await).await;
                l.push(format!("w{i} saw {}", *g));
            }));
        }
        aio::yield_now().await;
        let (m, c) = &*shared;
        assert_eq!(c.waiters(), 3);
        *m.lock().await = 7;
        c.notify(1); // w1 is notified...
        tasks[0].cancel(); // ...and dropped before it returns: w2 gets it
        aio::yield_now().await;
        aio::yield_now().await;
        assert_eq!(c.waiters(), 1);
        c.notify_all();
        for t in tasks.drain(1..) {
            t.await.unwrap();
        }
    });
    assert_eq!(log.entries(), ["w2 saw 7", "w3 saw 7"]);
}

#[test]
fn condition_wait_for_a_predicate() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let shared = Rc::new((Mutex::new(Vec::<u32>::new()), Condition::new()));
        let s = shared.clone();
        let producer = aio::spawn(async move {
            for i in 0..5 {
                s.0.lock().await.push(i);
                s.1.notify_all();
                aio::yield_now().await;
            }
        });
        let (m, c) = &*shared;
        let g = c.wait_for(m.lock().await, |v| v.len() >= 3).await;
        let seen = g.len();
        drop(g);
        producer.await.unwrap();
        seen
    });
    assert_eq!(out, 3);
}

#[test]
fn barrier_releases_all_parties_with_unique_indices_and_one_leader() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let b = Rc::new(Barrier::new(3));
        let mut rounds = Vec::new();
        for _ in 0..2 {
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    aio::spawn(async move { b.wait().await.unwrap() })
                })
                .collect();
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            let mut idx: Vec<_> = results.iter().map(|r| r.index()).collect();
            idx.sort();
            rounds.push((idx, results.iter().filter(|r| r.is_leader()).count()));
        }
        rounds
    });
    assert_eq!(out, vec![(vec![0, 1, 2], 1), (vec![0, 1, 2], 1)]);
}

#[test]
fn barrier_reset_abort_and_dropped_waiters() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let b = Rc::new(Barrier::new(3));
        // A waiter that gives up no longer counts.
        assert!(aio::wait_for(b.wait(), Duration::from_secs(1)).await.is_err());
        assert_eq!(b.n_waiting(), 0);
        let b2 = b.clone();
        let waiting = aio::spawn(async move { b2.wait().await });
        aio::yield_now().await;
        assert_eq!(b.n_waiting(), 1);
        b.reset();
        assert_eq!(waiting.await.unwrap(), Err(BrokenBarrierError));
        assert!(!b.broken());
        b.abort();
        assert!(b.broken());
        assert_eq!(b.wait().await, Err(BrokenBarrierError));
    });
}

/// CPython 3.13 (`Barrier.reset()` after `abort()`, checked with its
/// interpreter: `broken` is False again and the next round completes,
/// with indices 0..parties): a reset repairs an aborted barrier.
#[test]
fn barrier_reset_after_abort_makes_it_usable_again() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let b = Rc::new(Barrier::new(2));
        b.abort();
        assert!(b.broken());
        b.reset();
        assert!(!b.broken(), "reset repairs the barrier");
        let b2 = b.clone();
        let other = aio::spawn(async move { b2.wait().await.map(|r| r.index()) });
        let mine = b.wait().await.map(|r| r.index());
        let mut indices = [mine.unwrap(), other.await.unwrap().unwrap()];
        indices.sort();
        assert_eq!(indices, [0, 1]);
    });
}

#[test]
fn queue_orders_fifo_lifo_priority() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let fifo = Queue::new(0);
        let lifo = LifoQueue::new(0);
        let prio = PriorityQueue::new(0);
        for x in [3, 1, 2] {
            fifo.put(x).await.unwrap();
            lifo.put(x).await.unwrap();
            prio.put(x).await.unwrap();
        }
        let mut out = Vec::new();
        for q in 0..3 {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(match q {
                    0 => fifo.get().await.unwrap(),
                    1 => lifo.get().await.unwrap(),
                    _ => prio.get().await.unwrap(),
                });
            }
            out.push(v);
        }
        assert_eq!(out, [[3, 1, 2], [2, 1, 3], [1, 2, 3]]);
    });
}

#[test]
fn queue_maxsize_is_backpressure() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let q = Queue::new(1);
        q.put(1).await.unwrap();
        assert_eq!(q.put_nowait(2), Err(TryPutError::Full(2)));
        assert!(aio::wait_for(q.put(2), Duration::from_secs(1)).await.is_err(), "put waits while full");
        let q2 = q.clone();
        let producer = aio::spawn(async move { q2.put(3).await });
        aio::yield_now().await;
        assert!(!producer.is_done());
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(producer.await.unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok(3), "the cancelled put(2) never inserted its item");
        assert_eq!(q.get_nowait(), Err(TryGetError::Empty));
    });
}

#[test]
fn a_cancelled_get_puts_its_item_back_at_the_front() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let q: Queue<&str> = Queue::new(0);
        let q2 = q.clone();
        let getter = aio::spawn(async move { q2.get().await });
        aio::yield_now().await;
        q.put_nowait("a").unwrap(); // handed straight to the waiting getter
        q.put_nowait("b").unwrap();
        getter.cancel(); // dropped before it returns "a"
        assert!(getter.await.is_err());
        assert_eq!(q.get_nowait(), Ok("a"), "the handed item came back first");
        assert_eq!(q.get_nowait(), Ok("b"));
    });
}

#[test]
fn a_cancelled_granted_put_passes_its_slot_on() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let q = Queue::new(1);
        q.put(0).await.unwrap();
        let (q1, q2) = (q.clone(), q.clone());
        let p1 = aio::spawn(async move { q1.put(1).await });
        let p2 = aio::spawn(async move { q2.put(2).await });
        aio::yield_now().await;
        assert_eq!(q.get_nowait(), Ok(0)); // frees a slot, granted to p1...
        p1.cancel(); // ...which is dropped: p2 gets the slot
        assert!(p1.await.is_err());
        assert_eq!(p2.await.unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok(2));
        assert!(q.empty());
    });
}

#[test]
fn queue_task_done_and_join() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let q = Queue::new(0);
        for i in 0..3 {
            q.put(i).await.unwrap();
        }
        let (q2, l2) = (q.clone(), l.clone());
        let worker = aio::spawn(async move {
            while let Ok(i) = q2.get().await {
                aio::yield_now().await;
                l2.push(format!("done {i}"));
                q2.task_done().unwrap();
            }
        });
        q.join().await;
        l.push("joined");
        assert_eq!(q.task_done(), Err(TaskDoneError));
        q.shutdown(false);
        worker.await.unwrap();
    });
    assert_eq!(log.entries(), ["done 0", "done 1", "done 2", "joined"]);
}

#[test]
fn queue_shutdown_follows_python_3_13() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // Not immediate: items still come out, then ShutDown.
        let q = Queue::new(0);
        q.put(1).await.unwrap();
        q.shutdown(false);
        assert_eq!(q.put(2).await, Err(r#loop::sync::QueueShutDown(2)));
        assert_eq!(q.put_nowait(3), Err(TryPutError::ShutDown(3)));
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get().await, Err(r#loop::sync::QueueShutDown(())));
        assert_eq!(q.get_nowait(), Err(TryGetError::ShutDown));

        // Immediate: items dropped, join released, blocked callers fail.
        let q = Queue::new(1);
        q.put(1).await.unwrap();
        let q2 = q.clone();
        let blocked_put = aio::spawn(async move { q2.put(2).await });
        let q3 = q.clone();
        let joiner = aio::spawn(async move { q3.join().await });
        aio::yield_now().await;
        q.shutdown(true);
        assert_eq!(blocked_put.await.unwrap(), Err(r#loop::sync::QueueShutDown(2)));
        joiner.await.unwrap();
        assert!(q.empty());
        let empty: Queue<u8> = Queue::new(0);
        let e2 = empty.clone();
        let blocked_get = aio::spawn(async move { e2.get().await });
        aio::yield_now().await;
        empty.shutdown(false);
        assert!(blocked_get.await.unwrap().is_err());
    });
}

#[test]
fn mutex_guards_data_across_tasks() {
    let _watchdog = loop_tests::watchdog();
    let total = aio::run(async {
        let m = Rc::new(Mutex::new(0u64));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let m = m.clone();
                aio::spawn(async move {
                    for _ in 0..100 {
                        let mut g = m.lock().await;
                        let v = *g;
                        aio::yield_now().await; // hold the lock across an await
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let v = *m.lock().await;
        v
    });
    assert_eq!(total, 1000);
}

/// Random cancellation with tiny timeouts: at the end every permit is back,
/// every item put was received exactly once or is still queued, and no
/// waiter is stuck.
#[test]
fn stress_random_cancellation_keeps_every_invariant() {
    let _watchdog = loop_tests::watchdog();
    // Under 20 scheduling seeds: no interleaving loses a permit or an item.
    aio::check_seeds(0..20, |_seed| async {
        let sem = Rc::new(Semaphore::new(3));
        let q: Queue<u64> = Queue::new(4);
        let got = Rc::new(std::cell::RefCell::new(Vec::new()));
        let put_ok = Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut tasks = Vec::new();
        for t in 0..60u64 {
            let (sem, q, got, put_ok) = (sem.clone(), q.clone(), got.clone(), put_ok.clone());
            let seeds: Vec<u64> = (0..40).map(|_| next()).collect();
            tasks.push(aio::spawn(async move {
                for (i, r) in seeds.into_iter().enumerate() {
                    let timeout = Duration::from_micros(r % 3_000);
                    match r % 3 {
                        0 => {
                            if let Ok(_p) = aio::wait_for(sem.acquire_many(1 + (r as usize % 2)), timeout).await {
                                aio::sleep(Duration::from_micros(r % 500)).await;
                            }
                        }
                        1 => {
                            let item = t * 1000 + i as u64;
                            if let Ok(Ok(())) = aio::wait_for(q.put(item), timeout).await {
                                put_ok.borrow_mut().push(item);
                            }
                        }
                        _ => {
                            if let Ok(Ok(item)) = aio::wait_for(q.get(), timeout).await {
                                got.borrow_mut().push(item);
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 3, "every permit came back");
        assert_eq!(sem.waiters(), 0);
        while let Ok(item) = q.get_nowait() {
            got.borrow_mut().push(item);
        }
        let mut got = got.borrow().clone();
        let mut put = put_ok.borrow().clone();
        got.sort();
        put.sort();
        assert_eq!(got, put, "every item put was delivered exactly once");
        assert!(!put.is_empty());
    });
}
