//! `SeededOrder`: the order a seeded loop (`Builder::seed`) runs each
//! turn's tasks in.

use std::cell::Cell;

/// A seeded loop's order of each turn: a splitmix64 generator permuting the
/// tasks of the batch the turn runs.
pub(crate) struct SeededOrder {
    rng: Cell<u64>,
}

impl SeededOrder {
    pub(crate) fn new(seed: u64) -> SeededOrder {
        SeededOrder { rng: Cell::new(seed) }
    }

    /// Permutes the entries of `batch` (what this turn runs) for which
    /// `movable` holds; the others keep their places. The run queue moves
    /// only tasks: callbacks stay FIFO as asyncio promises, and only the
    /// interleaving of tasks changes, which any correct program must
    /// tolerate.
    pub(crate) fn shuffle<T>(&self, batch: &mut [T], movable: impl Fn(&T) -> bool) {
        let tasks: Vec<usize> = (0..batch.len()).filter(|&i| movable(&batch[i])).collect();
        for k in (1..tasks.len()).rev() {
            let j = (self.next() % (k as u64 + 1)) as usize;
            batch.swap(tasks[k], tasks[j]);
        }
    }

    /// splitmix64.
    fn next(&self) -> u64 {
        let mut z = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
