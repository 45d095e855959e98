//! Seeing into the loop: slow polls reported with the task's name and
//! place, what each task waits on and where, `dump_tasks`.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use std::time::Duration;

#[test]
fn a_blocking_poll_is_reported_with_the_task_name_and_location() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().debug(true).slow_callback_duration(Duration::from_millis(20)).build().unwrap();
    let seen = Log::new();
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| {
        s.push(format!("{} | {:?} | {}", ctx.message, ctx.task_name, ctx.location.map(|l| l.file()).unwrap_or("")))
    });
    ev.run_until_complete(async {
        let t = aio::TaskBuilder::new().name("blocker").spawn(async {
            std::thread::sleep(Duration::from_millis(40)); // blocks the loop on purpose
            aio::sleep(Duration::from_millis(1)).await;
        });
        t.await.unwrap();
    });
    let entries = seen.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("slow poll"), "{entries:?}");
    // Where the slow poll ended up waiting: right after the blocking code.
    let then = format!("it then waited on sleep at {}:{}", file!(), line!() - 8);
    assert!(entries[0].contains(&then), "{entries:?}");
    assert!(entries[0].contains("Some(\"blocker\")"), "{entries:?}");
    assert!(entries[0].ends_with("seeing.rs"), "{entries:?}");
}

#[test]
fn tasks_show_what_they_wait_on_and_where() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let sem = std::rc::Rc::new(r#loop::sync::Semaphore::new(0));
        let s = sem.clone();
        let waiter = aio::TaskBuilder::new().name("fetch-3").spawn(async move {
            let (line, acquire) = (line!(), s.acquire());
            let _p = acquire.await;
            line
        });
        let sleeper = aio::spawn(aio::sleep(Duration::from_secs(60)));
        aio::sleep(Duration::from_millis(1300)).await;
        let tasks = aio::all_tasks();
        let w = tasks.iter().find(|t| t.id == waiter.id()).unwrap().waiting.unwrap();
        assert_eq!(w.kind, r#loop::sync::WaitKind::Semaphore);
        assert!(w.location.file().ends_with("seeing.rs"));
        assert_eq!(w.waited, Duration::from_millis(1300));
        let z = tasks.iter().find(|t| t.id == sleeper.id()).unwrap().waiting.unwrap();
        assert_eq!(z.kind, r#loop::sync::WaitKind::Sleep);
        let dump = aio::dump_tasks();
        assert!(dump.contains("`fetch-3` spawned at"), "{dump}");
        assert!(dump.contains("waiting on Semaphore::acquire at"), "{dump}");
        sem.release(1);
        let line = waiter.await.unwrap();
        assert_eq!(w.location.line(), line);
        sleeper.cancel();
    });
}

#[test]
fn dump_tasks_lists_what_is_alive() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let t = aio::TaskBuilder::new().name("fetch-3").spawn(aio::sleep(Duration::from_secs(60)));
        aio::yield_now().await;
        let dump = aio::dump_tasks();
        assert!(dump.starts_with("1 task(s) alive"), "{dump}");
        assert!(dump.contains("`fetch-3` spawned at"), "{dump}");
        assert!(dump.contains("seeing.rs"), "{dump}");
        t.cancel();
    });
}
