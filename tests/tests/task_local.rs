//! Task-local values (asyncio's `contextvars`): a spawned task gets a copy
//! of its spawner's context at `create_task` time; `TaskGroup` children and
//! `to_thread` jobs too; `run` starts empty; a child's scope never changes
//! its parent. From asyncio's documentation of `create_task(context=)` and
//! CPython's `test_context.py` / `test_tasks.py` context cases.

use r#loop as aio;
use r#loop::TaskGroup;
use std::time::Duration;

aio::task_local! {
    static REQUEST: u32;
    static USER: String;
}

#[test]
fn a_spawned_task_inherits_a_copy_of_its_spawners_context() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (outer, child, after) = REQUEST
            .scope(1, async {
                let child = aio::spawn(async {
                    // The child's own scope changes only the child.
                    let inner = REQUEST.scope(2, async { REQUEST.get() }).await;
                    (REQUEST.get(), inner)
                });
                let outer = REQUEST.get();
                let child = child.await.unwrap();
                (outer, child, REQUEST.get())
            })
            .await;
        assert_eq!(outer, Some(1));
        assert_eq!(child, (Some(1), Some(2)));
        assert_eq!(after, Some(1), "the child's scope did not leak into the parent");
        assert_eq!(REQUEST.get(), None, "outside the scope: unset");
    });
}

#[test]
fn the_copy_is_taken_at_spawn_time() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        // Spawned inside the scope, first polled after the scope ended.
        #[allow(clippy::async_yields_async)] // the task is the point: it is awaited below
        let late = REQUEST.scope(5, async { aio::spawn(async { REQUEST.get() }) }).await;
        assert_eq!(late.await.unwrap(), Some(5));
        // Spawned outside any scope, while a scoped task is running.
        let plain = aio::spawn(async {
            aio::sleep(Duration::from_millis(1)).await;
            REQUEST.get()
        });
        let scoped = aio::spawn(REQUEST.scope(9, async {
            aio::sleep(Duration::from_millis(1)).await;
            REQUEST.get()
        }));
        assert_eq!((plain.await.unwrap(), scoped.await.unwrap()), (None, Some(9)));
    });
}

#[test]
fn task_group_children_and_blocking_jobs_inherit_it() {
    let _watchdog = loop_tests::watchdog();
    aio::run(USER.scope("ada".to_string(), async {
        let group: TaskGroup<Option<String>, ()> = TaskGroup::new();
        group.spawn(async { Ok(USER.get()) }).unwrap();
        group.spawn(REQUEST.scope(3, async { Ok(USER.get().map(|u| format!("{u}/{:?}", REQUEST.get()))) })).unwrap();
        let got = group.join().await.unwrap();
        assert_eq!(got, [Some("ada".to_string()), Some("ada/Some(3)".to_string())]);
        let job = aio::to_thread(|| USER.get()).await.unwrap();
        assert_eq!(job.as_deref(), Some("ada"), "the blocking job ran in a copy of the context");
    }));
}

#[test]
fn run_starts_with_an_empty_context() {
    let _watchdog = loop_tests::watchdog();
    let inside_job = aio::run(REQUEST.scope(4, async {
        // A fresh loop run from a blocking job (whose thread has the
        // inherited context) starts empty: its tasks see nothing either.
        aio::to_thread(|| {
            let outer = REQUEST.get();
            let inner = aio::run(async { (REQUEST.get(), aio::spawn(async { REQUEST.get() }).await.unwrap()) });
            (outer, inner)
        })
        .await
        .unwrap()
    }));
    assert_eq!(inside_job, (Some(4), (None, None)));
}

#[test]
fn many_keys_and_nested_scopes_shadow_and_restore() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let r = REQUEST
            .scope(
                1,
                USER.scope("x".into(), async {
                    let a = (REQUEST.get(), USER.get());
                    let b = REQUEST.scope(2, async { (REQUEST.get(), USER.get()) }).await;
                    let c = (REQUEST.get(), USER.get());
                    (a, b, c)
                }),
            )
            .await;
        let x = Some("x".to_string());
        assert_eq!(r, ((Some(1), x.clone()), (Some(2), x.clone()), (Some(1), x)));
        assert!(USER.with(|u| u.is_none()));
    });
}
