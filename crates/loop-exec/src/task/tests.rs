//! Unit tests of the task cell and waker code paths, small enough to run
//! under Miri (`cargo xtask miri`): every path that touches `unsafe` in
//! `raw.rs`, `handle.rs`, `join_waker.rs`, `refs.rs` and `threadsafe.rs`
//! is driven here, through the public API on a real loop.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};

use crate::{spawn, yield_now, EventLoop, TaskError};

/// A future that hands its waker out through a channel, then waits to be
/// woken `times` times.
struct WakeMe {
    tx: mpsc::Sender<Waker>,
    times: usize,
}

impl Future for WakeMe {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.times == 0 {
            return Poll::Ready(());
        }
        self.times -= 1;
        self.tx.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }
}

#[test]
fn spawn_await_and_detach() {
    let ev = EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        let a = spawn(async { String::from("a") });
        let detached = spawn(async { vec![1u8; 16] });
        drop(detached);
        yield_now().await;
        a.await
    });
    assert_eq!(out.as_deref(), Ok("a"));
}

#[test]
fn wakers_cloned_dropped_and_woken_from_another_thread() {
    let ev = EventLoop::new().unwrap();
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker_thread = std::thread::spawn(move || {
        for _ in 0..3 {
            let w = rx.recv().unwrap();
            let extra = w.clone();
            drop(extra);
            w.wake_by_ref();
            w.wake(); // the second wake of the same turn is a no-op
        }
    });
    let out = ev.run_until_complete(async move {
        let task = spawn(WakeMe { tx, times: 3 });
        task.await
    });
    waker_thread.join().unwrap();
    assert_eq!(out, Ok(()));
}

#[test]
fn a_waker_outliving_its_task_and_loop_is_harmless() {
    let (tx, rx) = mpsc::channel::<Waker>();
    {
        let ev = EventLoop::new().unwrap();
        let task = ev.spawn(WakeMe { tx, times: 1 });
        ev.run_until_complete(yield_now());
        assert!(!task.is_done());
        drop(task);
        ev.close();
    }
    let w = rx.recv().unwrap();
    w.wake_by_ref();
    let w2 = w.clone();
    drop(w);
    w2.wake();
}

#[test]
fn cancel_paths_free_everything() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    struct D(Rc<Cell<i32>>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let d = drops.clone();
    let out = ev.run_until_complete(async move {
        let guard = D(d.clone());
        let before_poll = spawn(async move {
            let _g = guard;
        });
        assert!(before_poll.cancel());
        let guard = D(d.clone());
        let pending = spawn(async move {
            let _g = guard;
            std::future::pending::<()>().await
        });
        yield_now().await;
        assert!(pending.cancel());
        let finished = spawn(async { 1 });
        yield_now().await;
        assert!(!finished.cancel());
        (before_poll.await, pending.await, finished.await)
    });
    assert_eq!(out, (Err(TaskError::Cancelled), Err(TaskError::Cancelled), Ok(1)));
    assert_eq!(drops.get(), 2);
}

#[test]
fn panics_are_contained_and_outputs_dropped_once() {
    let ev = EventLoop::new().unwrap();
    ev.set_exception_handler(|_| {});
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Out(Arc<AtomicUsize>);
    impl Drop for Out {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let d = dropped.clone();
    ev.run_until_complete(async move {
        let p = spawn(async { panic!("inside") });
        assert!(p.await.unwrap_err().is_panic());
        spawn(async { panic!("detached") }).detach();
        let kept = spawn(async move { Out(d) });
        yield_now().await;
        assert!(kept.is_done());
        drop(kept); // output dropped by the handle, unread
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn close_drops_pending_tasks_and_threadsafe_handles_resolve() {
    let ev = EventLoop::new().unwrap();
    let handle = ev.handle();
    let t = ev.spawn(std::future::pending::<u8>());
    let remote = handle.spawn_threadsafe(std::future::pending::<u8>()).unwrap();
    ev.run_until_complete(yield_now());
    ev.close();
    assert!(t.is_done());
    assert_eq!(remote.wait(), Err(TaskError::Cancelled));
}

#[test]
fn thread_crossing_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<crate::LoopHandle>();
    send_sync::<crate::ThreadsafeTask<String>>();
    send_sync::<crate::ResultCell<String>>();
    send::<crate::Sleep>();
    send::<crate::Timeout<crate::Sleep>>();
    send::<crate::YieldNow>();
    send_sync::<TaskError>();
}

#[test]
fn cancelling_a_self_referential_future_drops_it_in_place() {
    let ev = EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        /// Reads through its borrow when dropped: if the future were moved
        /// before being dropped, this would read freed or stale memory.
        struct ReadOnDrop<'a>(&'a Vec<u8>);
        impl Drop for ReadOnDrop<'_> {
            fn drop(&mut self) {
                assert_eq!(self.0.iter().sum::<u8>(), 6);
            }
        }
        let task = spawn(async {
            let local = vec![1u8, 2, 3];
            let guard = ReadOnDrop(&local); // a borrow held across an await
            std::future::pending::<()>().await;
            drop(guard);
            local.len()
        });
        yield_now().await; // it starts and suspends holding the borrow
        assert!(task.cancel());
        task.await
    });
    assert_eq!(out, Err(TaskError::Cancelled));
}

#[test]
fn a_task_group_catches_a_child_panic_and_cancels_the_rest() {
    let ev = EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        let group: crate::TaskGroup<u8, ()> = crate::TaskGroup::new();
        group.spawn(async { std::future::pending::<Result<u8, ()>>().await }).unwrap();
        group.spawn(async { panic!("child") }).unwrap();
        group.join().await
    });
    assert_eq!(out.unwrap_err().errors, [crate::ChildError::Panicked("child".into())]);
}

#[test]
fn a_destructor_panicking_during_cancellation_leaves_a_panicked_result() {
    struct Boom(#[allow(dead_code)] Vec<u8>);
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("boom");
        }
    }
    let ev = EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        // The future owns heap memory beside the panicking guard: the unwind
        // must still free it (Miri reports a leak otherwise).
        let task = spawn(async {
            let _guard = (vec![1u8; 8], Boom(vec![2u8; 8]));
            std::future::pending::<()>().await
        });
        yield_now().await;
        task.cancel();
        task.await
    });
    assert_eq!(out, Err(TaskError::Panicked("boom".into())));
}

/// `JoinWaker`'s two encodings (a task pointer for a task awaiting a task,
/// a boxed waker otherwise), replaced by one another, woken at completion
/// and freed: the unsafe paths of `task/join_waker.rs`.
#[test]
#[allow(clippy::async_yields_async)] // the task hands the (unfinished) handle back
fn join_wakers_of_tasks_and_foreign_wakers_are_stored_replaced_and_freed() {
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let ev = EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        // A task awaiting a task: the pointer encoding.
        let inner = spawn(async {
            yield_now().await;
            5
        });
        let outer = spawn(async move { inner.await.unwrap() + 1 });
        // The main future awaiting a task: the boxed encoding.
        let six = outer.await.unwrap();

        let count = Arc::new(Count(AtomicUsize::new(0)));
        let foreign = Waker::from(count.clone());
        let mut pending = spawn(std::future::pending::<u8>());
        // Boxed, then another boxed (the first freed), then a task's waker
        // (the box freed, a task reference kept).
        assert!(Pin::new(&mut pending).poll(&mut Context::from_waker(&foreign)).is_pending());
        assert!(Pin::new(&mut pending).poll(&mut Context::from_waker(Waker::noop())).is_pending());
        let mut pending = spawn(async move {
            std::future::poll_fn(|cx| {
                assert!(Pin::new(&mut pending).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            pending
        })
        .await
        .unwrap();
        // Back to boxed (the task reference released), then completion
        // wakes the stored waker.
        assert!(Pin::new(&mut pending).poll(&mut Context::from_waker(&foreign)).is_pending());
        assert!(pending.cancel());
        while !pending.is_done() {
            yield_now().await;
        }
        let woken = count.0.load(Ordering::SeqCst);
        assert_eq!(pending.await, Err(TaskError::Cancelled));
        (six, woken)
    });
    assert_eq!(out, (6, 1), "the last stored waker is woken once, at completion");
    ev.close();
}

/// The cross-thread join (`ThreadsafeTask`): every path of its protocol on
/// real threads, with heap outputs so that a double drop or a leak shows.
#[test]
fn threadsafe_tasks_join_from_threads_and_loops_and_drop_cleanly() {
    let ev = EventLoop::new().unwrap();
    let handle = ev.handle();
    // Waited on a plain thread while the loop runs it: the thread parks,
    // the completion wakes it.
    let (waker_tx, waker_rx) = mpsc::channel();
    let slow = handle.spawn_threadsafe(async move {
        WakeMe { tx: waker_tx, times: 1 }.await;
        String::from("slow")
    });
    let waiter = std::thread::spawn(move || slow.unwrap().wait());
    // Dropped before it completes (detached: it still runs), and after it
    // completed with its output never taken.
    let detached = handle.spawn_threadsafe(async { vec![7u8; 32] }).unwrap();
    let unread = handle.spawn_threadsafe(async { vec![8u8; 32] }).unwrap();
    drop(detached);
    // Cancelled from another thread.
    let cancelled = handle.spawn_threadsafe(std::future::pending::<String>()).unwrap();
    // A !Send future built on the loop.
    let built = handle
        .spawn_fn(|| async {
            let local = Rc::new(String::from("built"));
            yield_now().await;
            (*local).clone()
        })
        .unwrap();
    let out = ev.run_until_complete(async move {
        let waker: Waker = crate::to_thread(move || waker_rx.recv().unwrap()).await.unwrap();
        waker.wake();
        let waited = crate::to_thread(move || waiter.join().unwrap()).await.unwrap();
        let canceller = std::thread::spawn(move || {
            assert!(cancelled.cancel());
            cancelled
        });
        let cancelled = crate::to_thread(move || canceller.join().unwrap()).await.unwrap();
        (waited, cancelled.await, built.await)
    });
    assert_eq!(out.0, Ok(String::from("slow")));
    assert_eq!(out.1, Err(TaskError::Cancelled));
    assert_eq!(out.2, Ok(String::from("built")));
    assert!(unread.is_done());
    drop(unread);
    // Awaited from a task of another loop (its waker is a task waker of
    // that loop): the completion wakes it across loops.
    let (gate_tx, gate_rx) = mpsc::channel();
    let task = handle
        .spawn_threadsafe(async move {
            WakeMe { tx: gate_tx, times: 1 }.await;
            5u64
        })
        .unwrap();
    let joined = std::thread::spawn(move || {
        let other = EventLoop::new().unwrap();
        let other_out = other.run_until_complete(async move { spawn(task).await.unwrap() });
        other.close();
        other_out
    });
    ev.run_until_complete(async move {
        let waker: Waker = crate::to_thread(move || gate_rx.recv().unwrap()).await.unwrap();
        waker.wake();
        let got = crate::to_thread(move || joined.join().unwrap()).await.unwrap();
        assert_eq!(got, Ok(5));
    });
    // A spawn that arrives after the loop closed resolves cancelled, its
    // future dropped by the closing side.
    ev.close();
    assert!(handle.spawn_threadsafe(async {}).is_err(), "a closed loop refuses new work");
}

#[test]
fn the_task_registry_grows_and_shrinks_by_chunks_and_keeps_every_slot_right() {
    use crate::task::registry::CHUNK;
    let registry = || {
        crate::event_loop::current::with_current(|inner| (inner.registry().len(), inner.registry().chunks())).unwrap()
    };
    let ev = EventLoop::new().unwrap();
    ev.run_until_complete(async move {
        let (base, _) = registry();
        let check = |live: usize| {
            let (len, chunks) = registry();
            assert_eq!(len, base + live, "registered tasks");
            let needed = len.div_ceil(CHUNK).max(1);
            assert!(chunks >= needed && chunks <= needed + 1, "{chunks} chunks for {len} tasks (one spare at most)");
        };
        for round in 0..2 {
            // Enough tasks for three full chunks and one more; each waits once.
            let n = 3 * CHUNK + 1;
            let (tasks, wakers): (Vec<_>, Vec<_>) = (0..n)
                .map(|_| {
                    let (tx, rx) = mpsc::channel();
                    (spawn(WakeMe { tx, times: 1 }), rx)
                })
                .unzip();
            let mut got: Vec<Option<Waker>> = (0..n).map(|_| None).collect();
            for _ in 0..n {
                for (slot, rx) in got.iter_mut().zip(&wakers) {
                    if slot.is_none() {
                        *slot = rx.try_recv().ok();
                    }
                }
                if got.iter().all(Option::is_some) {
                    break;
                }
                yield_now().await;
            }
            let wakers: Vec<Waker> = got.into_iter().map(|w| w.expect("every task polled once")).collect();
            check(n);
            // Finish them in a scattered order, so that removals take slots
            // from the middle of chunks and move the last task into them.
            let ours: std::collections::HashSet<_> = tasks.iter().map(|t| t.id()).collect();
            let mut live: Vec<bool> = vec![true; n];
            for step in 0..n {
                let i = (step * 7919) % n;
                wakers[i].wake_by_ref();
                for _ in 0..10 {
                    if tasks[i].is_done() {
                        break;
                    }
                    yield_now().await;
                }
                live[i] = false;
                check(n - step - 1);
                assert!(tasks[i].is_done(), "task {i} finished");
                if step % (CHUNK / 2).max(1) == 0 {
                    let mut listed: Vec<_> = crate::all_tasks().into_iter().map(|t| t.id).collect();
                    let mut expected: Vec<_> = (0..n).filter(|&j| live[j]).map(|j| tasks[j].id()).collect();
                    // Only this round's tasks: a finished one still listed shows.
                    listed.retain(|id| ours.contains(id));
                    listed.sort();
                    expected.sort();
                    assert_eq!(listed, expected, "round {round}, step {step}: all_tasks lists exactly the live tasks");
                }
            }
        }
    });
    ev.close();
}

/// The header's size, as accounted byte by byte on `Header` (raw.rs):
/// growing it costs every task, so it should be a decision, made here.
#[cfg(target_pointer_width = "64")]
#[test]
fn task_header_is_72_bytes() {
    assert_eq!(std::mem::size_of::<crate::task::raw::Header>(), 72);
    assert_eq!(std::mem::size_of::<crate::task::meta::TaskMeta>(), 48);
}
