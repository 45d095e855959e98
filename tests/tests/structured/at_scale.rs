//! The combinators at scale: thousands of tasks in completion order, many
//! finishing in one turn, and randomized mixes of gather, wait, groups and
//! timeouts that must always finish.

use loop_tests::paused;
use r#loop as aio;
use r#loop::{ReturnWhen, TaskGroup};
use std::time::Duration;

#[test]
fn many_tasks_come_back_in_completion_order_from_as_completed_wait_and_groups() {
    let _watchdog = loop_tests::watchdog();
    // Thousands of tasks finishing one by one: every result arrives, in
    // order, and the combinators look only at the tasks that woke them.
    let n = 3_000u64;
    let ev = paused();
    ev.run_until_complete(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                aio::spawn(async move {
                    aio::sleep(Duration::from_millis((i * 7919) % n)).await;
                    (i * 7919) % n
                })
            })
            .collect();
        let mut order = Vec::new();
        let mut results = aio::as_completed(tasks);
        while let Some(r) = results.next().await {
            order.push(r.unwrap());
        }
        assert_eq!(order, (0..n).collect::<Vec<_>>());

        let tasks: Vec<_> = (0..n).map(|i| aio::spawn(aio::sleep(Duration::from_millis(1 + (i * 7919) % n)))).collect();
        let (done, pending) = aio::wait(tasks, ReturnWhen::FirstCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, n as usize - 1));
        let (done, pending) = aio::wait(pending, ReturnWhen::AllCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (n as usize - 1, 0));

        let group: TaskGroup<u64, ()> = TaskGroup::new();
        for i in 0..n {
            group
                .spawn(async move {
                    aio::sleep(Duration::from_millis((i * 7919) % n)).await;
                    Ok(i)
                })
                .unwrap();
        }
        assert_eq!(group.join().await, Ok((0..n).collect()));
    });
}

#[test]
fn tasks_finishing_in_one_turn_all_come_out_of_as_completed() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let gate = std::rc::Rc::new(aio::sync::Event::new());
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let g = gate.clone();
                aio::spawn(async move {
                    g.wait().await;
                    i
                })
            })
            .collect();
        let mut results = aio::as_completed(tasks);
        aio::yield_now().await;
        gate.set();
        let mut got = Vec::new();
        while let Some(r) = results.next().await {
            got.push(r.unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    });
}

/// A tiny deterministic generator for the randomized test below.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn randomized_mixes_of_gather_wait_groups_and_timeouts_always_finish() {
    let _watchdog = loop_tests::watchdog();
    // Nested combinators over sleeping tasks, with timeouts and
    // cancellations at random, under the paused clock: every run must
    // finish (no lost wake-up), with the right count, and leave no task.
    // Each seed also permutes the order ready tasks run in (seeded
    // scheduling), which no result may depend on.
    aio::check_seeds(0..200, |seed| async move {
        {
            let mut rng = Lcg(seed);
            let n = 5 + rng.below(40) as usize;
            let delays: Vec<u64> = (0..n).map(|_| rng.below(50)).collect();
            let deadline = rng.below(60);
            // At equal deadlines the inner future is polled first and wins.
            let expected = delays.iter().filter(|&&d| d <= deadline).count();
            // gather of wait_for'ed sleeps: those past the deadline time out.
            let gathered = aio::gather(
                delays
                    .iter()
                    .map(|&d| aio::wait_for(aio::sleep(Duration::from_millis(d)), Duration::from_millis(deadline))),
            )
            .await;
            let on_time = gathered.iter().filter(|r| r.is_ok()).count();
            assert_eq!(on_time, expected, "seed {seed}");
            // as_completed over tasks, some cancelled before they finish.
            let tasks: Vec<_> = delays.iter().map(|&d| aio::spawn(aio::sleep(Duration::from_millis(d)))).collect();
            let cancel = rng.below(n as u64) as usize;
            for t in tasks.iter().take(cancel) {
                t.cancel();
            }
            let mut done = 0;
            let mut results = aio::as_completed(tasks);
            while let Some(r) = results.next().await {
                done += usize::from(r.is_ok());
            }
            assert!(done >= n - cancel, "seed {seed}: {done} of {n} with {cancel} cancelled");
            // a group whose children sleep, one failing at a random time.
            let group: TaskGroup<(), u64> = TaskGroup::new();
            let failing = rng.below(n as u64);
            for (i, &d) in delays.iter().enumerate() {
                group
                    .spawn(async move {
                        aio::sleep(Duration::from_millis(d)).await;
                        if i as u64 == failing {
                            Err(d)
                        } else {
                            Ok(())
                        }
                    })
                    .unwrap();
            }
            let errors = group.join().await.unwrap_err().errors;
            assert!(!errors.is_empty(), "seed {seed}");
            assert_eq!(aio::all_tasks().len(), 0, "seed {seed}: tasks left behind");
        }
    });
}
