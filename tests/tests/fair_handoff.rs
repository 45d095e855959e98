//! Fair hand-off (asyncio 3.13): a permit or lock handed to a waiter that
//! has not run yet counts as taken, and a task that releases and acquires
//! again in the same turn queues behind that waiter. Translated from
//! CPython's `test_locks.py` (`test_acquire_fifo_order_2/3/4`, the lock's
//! no-barging probe) and applied to Lock, Semaphore, BoundedSemaphore and
//! Condition.

use loop_tests::Log;
use r#loop as aio;
use r#loop::sync::{BoundedSemaphore, Condition, Lock, Semaphore};
use std::rc::Rc;

#[test]
fn semaphore_fifo_order_2_a_releaser_reacquiring_queues_behind_the_waiters() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(1));
        let log = Log::new();
        let (s1, l1) = (sem.clone(), log.clone());
        let t1 = aio::spawn(async move {
            s1.acquire().await.forget();
            l1.push("1");
        });
        let (s2, l2) = (sem.clone(), log.clone());
        let t2 = aio::spawn(async move {
            s2.acquire().await.forget();
            l2.push("2");
            s2.release(1);
            s2.acquire().await.forget();
            l2.push("4");
        });
        let (s3, l3) = (sem.clone(), log.clone());
        let t3 = aio::spawn(async move {
            s3.acquire().await.forget();
            l3.push("3");
        });
        aio::yield_now().await;
        sem.release(1);
        sem.release(1);
        let _ = aio::gather!(t1, t2, t3).await;
        assert_eq!(log.entries(), ["1", "2", "3", "4"]);
    });
}

#[test]
fn semaphore_fifo_order_3_a_cancelled_waiter_passes_its_place_on() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let log = Log::new();
        let tasks: Vec<_> = ["1", "2", "3"]
            .into_iter()
            .map(|tag| {
                let (s, l) = (sem.clone(), log.clone());
                aio::spawn(async move {
                    s.acquire().await.forget();
                    l.push(tag);
                })
            })
            .collect();
        aio::yield_now().await;
        tasks[0].cancel();
        aio::yield_now().await;
        sem.release(1);
        sem.release(1);
        for t in tasks {
            let _ = t.await;
        }
        assert_eq!(log.entries(), ["2", "3"]);
    });
}

#[test]
fn semaphore_fifo_order_4_permits_handed_to_waiters_that_have_not_run_count_as_taken() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let log = Log::new();
        let t4: Rc<std::cell::RefCell<Option<aio::Task<()>>>> = Rc::default();
        let (s1, l1, t4c) = (sem.clone(), log.clone(), t4.clone());
        let t1 = aio::spawn(async move {
            s1.acquire().await.forget();
            let l4 = l1.clone();
            *t4c.borrow_mut() = Some(aio::spawn(async move { l4.push("4") }));
            l1.push("1");
        });
        let (s2, l2) = (sem.clone(), log.clone());
        let t2 = aio::spawn(async move {
            s2.release(3);
            // c1 has been handed a permit but has not run: locked.
            assert!(s2.locked(), "permits handed to waiters that have not run are taken");
            s2.acquire().await.forget();
            l2.push("2");
        });
        let (s3, l3) = (sem.clone(), log.clone());
        let t3 = aio::spawn(async move {
            s3.acquire().await.forget();
            l3.push("3");
        });
        aio::yield_now().await;
        aio::yield_now().await;
        let _ = aio::gather!(t1, t2, t3).await;
        let t4 = t4.borrow_mut().take().expect("c1 spawned c4");
        t4.await.unwrap();
        assert_eq!(log.entries(), ["1", "2", "3", "4"]);
    });
}

/// The no-barging rule for each primitive: the waiter that was handed the
/// permit runs first, even if the releaser asks again at once.
#[test]
fn a_releaser_that_acquires_again_at_once_queues_behind_the_handed_waiter_for_every_primitive() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // Lock.
        let lock = Rc::new(Lock::new());
        let log = Log::new();
        let guard = lock.acquire().await;
        let (lk, l) = (lock.clone(), log.clone());
        let waiter = aio::spawn(async move {
            let _g = lk.acquire().await;
            l.push("waiter");
        });
        aio::yield_now().await;
        drop(guard);
        assert!(lock.locked(), "handed to the waiter, which has not run: still locked");
        assert!(lock.try_acquire().is_none(), "no barging");
        drop(lock.acquire().await);
        log.push("main");
        waiter.await.unwrap();
        assert_eq!(log.entries(), ["waiter", "main"]);

        // Semaphore and BoundedSemaphore.
        for bounded in [false, true] {
            let plain = Rc::new(Semaphore::new(1));
            let bsem = Rc::new(BoundedSemaphore::new(1));
            let log = Log::new();
            let held = if bounded { bsem.acquire().await } else { plain.acquire().await };
            let (p, b, l) = (plain.clone(), bsem.clone(), log.clone());
            let waiter = aio::spawn(async move {
                let _permit = if bounded { b.acquire().await } else { p.acquire().await };
                l.push("waiter");
            });
            aio::yield_now().await;
            drop(held);
            let locked = if bounded { bsem.locked() } else { plain.locked() };
            assert!(locked, "bounded={bounded}: handed permit counts as taken");
            drop(if bounded { bsem.acquire().await } else { plain.acquire().await });
            log.push("main");
            waiter.await.unwrap();
            assert_eq!(log.entries(), ["waiter", "main"], "bounded={bounded}");
        }

        // Condition: a notified waiter re-takes the lock before a releaser
        // that asks for it again at once.
        let lock = Rc::new(Lock::new());
        let cond = Rc::new(Condition::new());
        let log = Log::new();
        let (lk, cv, l) = (lock.clone(), cond.clone(), log.clone());
        let waiter = aio::spawn(async move {
            let g = lk.acquire().await;
            let _g = cv.wait(g).await;
            l.push("waiter");
        });
        aio::yield_now().await;
        let g = lock.acquire().await;
        cond.notify(1);
        drop(g);
        aio::yield_now().await;
        drop(lock.acquire().await);
        log.push("main");
        waiter.await.unwrap();
        assert_eq!(log.entries(), ["waiter", "main"]);
    });
}
