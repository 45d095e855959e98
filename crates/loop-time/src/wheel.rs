//! A hierarchical timer wheel: 6 levels of 64 slots, 1 tick (1 ms) at the bottom.

/// Number of levels in the wheel.
pub const LEVELS: usize = 6;
/// Number of slots per level.
pub const SLOTS: usize = 64;
/// Ticks covered by the whole wheel (64^6 ms, a little over two years).
/// A deadline further away than this is parked in the top level and
/// re-inserted when its slot comes round.
pub const SPAN_TICKS: u64 = 1 << (6 * LEVELS);

use slab::Slab;

/// Marks "no entry" in the intrusive lists.
const NIL: u32 = u32::MAX;

/// Identifies one timer in a [`TimerWheel`].
///
/// Keys are never reused: a key whose timer has fired or been cancelled stays
/// dead, so cancelling it again is a harmless no-op returning `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey {
    /// Index of the entry in the wheel's storage.
    index: u32,
    /// Insertion sequence number; tells a live entry from a later one that
    /// reused its storage.
    seq: u64,
}

/// One stored timer, linked into the list of the slot it waits in.
#[derive(Debug)]
struct Entry<T> {
    /// The deadline tick as given to `insert` (used for firing order).
    when: u64,
    /// Insertion order: ties on `when` fire by ascending `seq`.
    seq: u64,
    /// What the timer carries.
    value: T,
    /// Previous entry in the slot's list (or `NIL`).
    prev: u32,
    /// Next entry in the slot's list (or `NIL`).
    next: u32,
    /// Level and slot whose list holds this entry.
    level: u8,
    slot: u8,
}

/// Head and tail of a slot's doubly linked list.
#[derive(Debug, Clone, Copy)]
struct Slot {
    head: u32,
    tail: u32,
}

const EMPTY_SLOT: Slot = Slot { head: NIL, tail: NIL };

/// Entries whose storage an empty wheel keeps (a few KiB); beyond it, the
/// last timer to go takes the storage with it.
const KEEP_WHEN_EMPTY: usize = 1024;

/// A hierarchical timer wheel with O(1) insert and cancel.
///
/// Time is counted in ticks (the event loop uses milliseconds since its
/// clock's origin). Level `l` has 64 slots of `64^l` ticks each; a timer goes
/// to the lowest level whose window still holds its deadline and moves down
/// ("cascades") as time approaches it. Entries live in one vector and are
/// linked into their slot's list, so cancelling a timer only unlinks it.
///
/// Timers fire in order of deadline; timers that share a deadline fire in the
/// order they were inserted.
///
/// ```
/// use r#loop::time::TimerWheel;
///
/// let mut wheel = TimerWheel::new();
/// wheel.insert(70_000, 'x'); // far away: starts in a high level
/// wheel.insert(2, 'y');
/// let mut fired = vec![];
/// wheel.advance_to(69_999, |_, v| fired.push(v));
/// assert_eq!(fired, ['y']);
/// wheel.advance_to(70_000, |_, v| fired.push(v));
/// assert_eq!(fired, ['y', 'x']);
/// assert!(wheel.is_empty());
/// ```
#[derive(Debug)]
pub struct TimerWheel<T> {
    /// The tick up to which the wheel has been advanced.
    elapsed: u64,
    /// Entry storage: the live entries, by index.
    entries: Slab<Entry<T>>,
    /// One list per slot, level by level.
    slots: Box<[[Slot; SLOTS]; LEVELS]>,
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Next insertion sequence number.
    next_seq: u64,
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerWheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        TimerWheel {
            elapsed: 0,
            entries: Slab::new(),
            slots: Box::new([[EMPTY_SLOT; SLOTS]; LEVELS]),
            occupied: [0; LEVELS],
            next_seq: 0,
        }
    }

    /// Number of live timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tick the wheel has been advanced to.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Adds a timer due at tick `when` and returns its key.
    ///
    /// A deadline at or before [`elapsed`](Self::elapsed) fires on the next
    /// call to [`advance_to`](Self::advance_to).
    pub fn insert(&mut self, when: u64, value: T) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { when, seq, value, prev: NIL, next: NIL, level: 0, slot: 0 };
        let index = u32::try_from(self.entries.insert(entry))
            .ok()
            .filter(|&i| i != NIL)
            .expect("TimerWheel: more than 4 billion live timers");
        self.place(index);
        TimerKey { index, seq }
    }

    /// Removes a live timer and returns its value; `None` if it already
    /// fired or was cancelled.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.entry_of(key)?;
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The value of a live timer, to update it in place.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.entry_of(key)?;
        Some(&mut self.entries[key.index as usize].value)
    }

    /// The deadline tick of a live timer.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.entry_of(key).map(|e| e.when)
    }

    /// The earliest tick at which [`advance_to`](Self::advance_to) has work
    /// to do, or `None` when the wheel is empty.
    ///
    /// It is never later than the earliest deadline. It is exact when that
    /// timer sits in the bottom level; otherwise it is the start of the slot
    /// holding it, where the timer moves down a level and a further call
    /// gives a closer answer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, start)| start)
    }

    /// Advances the wheel to tick `now`, calling `fire` for every timer due
    /// at or before it, earliest deadline first and in insertion order among
    /// equal deadlines. Moving backwards is a no-op.
    pub fn advance_to(&mut self, now: u64, mut fire: impl FnMut(TimerKey, T)) {
        let mut due: Vec<u32> = Vec::new();
        while let Some((level, slot, start)) = self.next_expiration().filter(|&(_, _, start)| start <= now) {
            self.elapsed = self.elapsed.max(start);
            let mut index = self.take_slot(level, slot);
            if level == 0 {
                due.clear();
                while index != NIL {
                    due.push(index);
                    index = self.entries[index as usize].next;
                }
                due.sort_unstable_by_key(|&i| {
                    let e = &self.entries[i as usize];
                    (e.when, e.seq)
                });
                for &i in &due {
                    let key = TimerKey { index: i, seq: self.entries[i as usize].seq };
                    let value = self.release(i);
                    fire(key, value);
                }
            } else {
                while index != NIL {
                    let next = self.entries[index as usize].next;
                    self.place(index);
                    index = next;
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The live entry for `key`, if any.
    fn entry_of(&self, key: TimerKey) -> Option<&Entry<T>> {
        self.entries.get(key.index as usize).filter(|e| e.seq == key.seq)
    }

    /// The slot index of the current time at `level`.
    fn pos(&self, level: usize) -> u64 {
        (self.elapsed >> (6 * level)) & (SLOTS as u64 - 1)
    }

    /// The lowest occupied (level, slot) and the tick at which it starts.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let pos = self.pos(level);
            let distance = u64::from(occupied.rotate_right(pos as u32).trailing_zeros());
            let slot = (pos + distance) % 64;
            // Lower levels only hold slots ahead of `pos` in the current
            // window; the top level is a ring, so count the distance round it.
            let shift = 6 * level;
            let start = ((self.elapsed >> shift) + distance) << shift;
            return Some((level, slot as usize, start));
        }
        None
    }

    /// Links entry `index` into the slot its deadline belongs to now.
    fn place(&mut self, index: u32) {
        let when = self.entries[index as usize].when.max(self.elapsed);
        let significant = 63 - ((self.elapsed ^ when) | 63).leading_zeros() as usize;
        let mut level = significant / 6;
        let slot = if level >= LEVELS {
            level = LEVELS - 1;
            let top = 6 * (LEVELS - 1);
            if (when >> top) - (self.elapsed >> top) < 64 {
                // Within one turn of the top ring: its own slot.
                ((when >> top) & 63) as usize
            } else {
                // Beyond the wheel's span: park in the furthest top slot; it
                // is placed again when that slot comes round.
                ((self.pos(level) + 63) % 64) as usize
            }
        } else {
            ((when >> (6 * level)) & 63) as usize
        };
        let tail = self.slots[level][slot].tail;
        {
            let e = &mut self.entries[index as usize];
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = tail;
            e.next = NIL;
        }
        if tail == NIL {
            self.slots[level][slot].head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.slots[level][slot].tail = index;
        self.occupied[level] |= 1 << slot;
    }

    /// Unlinks a live entry from its slot's list.
    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev == NIL {
            self.slots[level][slot].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.slots[level][slot].tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.slots[level][slot].head == NIL {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Detaches a whole slot's list and returns its head.
    fn take_slot(&mut self, level: usize, slot: usize) -> u32 {
        let list = std::mem::replace(&mut self.slots[level][slot], EMPTY_SLOT);
        self.occupied[level] &= !(1 << slot);
        list.head
    }

    /// Takes the value out of an (already unlinked) entry and frees it.
    fn release(&mut self, index: u32) -> T {
        let value = self.entries.remove(index as usize).value;
        if self.entries.is_empty() && self.entries.capacity() > KEEP_WHEN_EMPTY {
            // A burst of timers (a million created and cancelled) would
            // otherwise keep its storage for the loop's life.
            self.entries = Slab::new();
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// xorshift64*: a tiny deterministic generator for the model tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn fired(wheel: &mut TimerWheel<u64>, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        wheel.advance_to(now, |_, v| out.push(v));
        out
    }

    #[test]
    fn equal_deadlines_fire_in_insertion_order_across_levels() {
        let mut wheel = TimerWheel::new();
        wheel.insert(5_000, 1); // placed high, cascades down later
        assert!(fired(&mut wheel, 4_990).is_empty());
        wheel.insert(5_000, 2); // placed directly in level 0
        wheel.insert(4_999, 0);
        assert_eq!(fired(&mut wheel, 5_000), [0, 1, 2]);
    }

    #[test]
    fn past_deadlines_fire_on_next_advance_in_deadline_order() {
        let mut wheel = TimerWheel::new();
        wheel.advance_to(1_000, |_, _| {});
        wheel.insert(1_000, 3);
        wheel.insert(10, 1);
        wheel.insert(500, 2);
        assert_eq!(wheel.next_deadline(), Some(1_000));
        assert_eq!(fired(&mut wheel, 1_000), [1, 2, 3]);
    }

    #[test]
    fn an_emptied_wheel_gives_its_storage_back() {
        let mut wheel = TimerWheel::new();
        let keys: Vec<_> = (0..100_000u64).map(|i| wheel.insert(10 + i % 5_000, i)).collect();
        assert!(wheel.entries.capacity() >= 100_000);
        for key in keys {
            wheel.cancel(key);
        }
        assert!(wheel.is_empty());
        assert!(wheel.entries.capacity() <= KEEP_WHEN_EMPTY, "{} entries kept", wheel.entries.capacity());
        // Still works, and a small wheel keeps its storage.
        let a = wheel.insert(7, 1);
        assert_eq!(wheel.cancel(a), Some(1));
        let b = wheel.insert(7, 2);
        assert_eq!(fired(&mut wheel, 7), [2]);
        assert_eq!(wheel.cancel(b), None);
    }

    #[test]
    fn cancel_is_exact_and_keys_are_never_reused() {
        let mut wheel = TimerWheel::new();
        let a = wheel.insert(10, 1);
        assert_eq!(wheel.cancel(a), Some(1));
        assert_eq!(wheel.cancel(a), None);
        let b = wheel.insert(10, 2); // reuses a's storage
        assert_eq!(wheel.cancel(a), None, "a dead key must not cancel b");
        assert_eq!(wheel.get_mut(b).copied(), Some(2));
        assert_eq!(fired(&mut wheel, 10), [2]);
        assert_eq!(wheel.cancel(b), None);
        assert!(wheel.is_empty());
    }

    #[test]
    fn deadlines_beyond_the_span_are_parked_and_fire_on_time() {
        let mut wheel = TimerWheel::new();
        let far = SPAN_TICKS * 3 + 12_345;
        wheel.insert(far, 7);
        wheel.insert(SPAN_TICKS + 1, 6);
        let mut now = 0;
        let mut out = Vec::new();
        while let Some(next) = wheel.next_deadline() {
            assert!(next >= now, "time never goes back");
            now = next;
            wheel.advance_to(now, |_, v| out.push((now, v)));
        }
        assert_eq!(out, [(SPAN_TICKS + 1, 6), (far, 7)]);
    }

    #[test]
    fn next_deadline_converges_to_the_exact_deadline() {
        let mut wheel = TimerWheel::new();
        wheel.insert(3_600_000, ());
        let mut steps = 0;
        let mut at = None;
        while let Some(next) = wheel.next_deadline() {
            steps += 1;
            wheel.advance_to(next, |_, ()| at = Some(next));
        }
        assert_eq!(at, Some(3_600_000));
        assert!(steps <= LEVELS + 1, "took {steps} steps");
    }

    /// Random insert / cancel / advance, checked against a BTreeMap model:
    /// the same timers fire, in the same order, none lost, none early or late.
    #[test]
    fn model_random_operations() {
        for seed in 1..=40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut wheel = TimerWheel::new();
            let mut model: BTreeMap<(u64, u64), (TimerKey, u64)> = BTreeMap::new();
            let mut keys: Vec<(TimerKey, u64, u64)> = Vec::new();
            let mut now = 0u64;
            let mut seq = 0u64;
            for _ in 0..3_000 {
                match rng.below(10) {
                    0..=4 => {
                        let delta = match rng.below(6) {
                            0 => 0,
                            1 => rng.below(64),
                            2 => rng.below(4_096),
                            3 => rng.below(1 << 20),
                            4 => rng.below(SPAN_TICKS * 2),
                            _ => rng.below(200),
                        };
                        // Sometimes a deadline in the past.
                        let when = if rng.below(20) == 0 { now.saturating_sub(delta) } else { now + delta };
                        let value = seq;
                        let key = wheel.insert(when, value);
                        model.insert((when, seq), (key, value));
                        keys.push((key, when, seq));
                        seq += 1;
                    }
                    5 | 6 if !keys.is_empty() => {
                        let i = rng.below(keys.len() as u64) as usize;
                        let (key, when, s) = keys.swap_remove(i);
                        let expected = model.remove(&(when, s)).map(|(_, v)| v);
                        assert_eq!(wheel.cancel(key), expected, "seed {seed}");
                    }
                    _ => {
                        let step = match rng.below(4) {
                            0 => rng.below(3),
                            1 => rng.below(100),
                            2 => rng.below(10_000),
                            _ => wheel.next_deadline().unwrap_or(now).saturating_sub(now),
                        };
                        now += step;
                        let mut got = Vec::new();
                        wheel.advance_to(now, |key, v| got.push((key, v)));
                        let mut want = Vec::new();
                        while let Some((&(when, s), _)) = model.first_key_value() {
                            // Past deadlines count as due at the tick they were inserted.
                            if when > now {
                                break;
                            }
                            let (key, v) = model.remove(&(when, s)).unwrap();
                            want.push((key, v));
                        }
                        // Ordering: by deadline, then insertion (clamped past
                        // deadlines keep their own order too).
                        assert_eq!(got, want, "seed {seed} now {now}");
                        if let Some(next) = wheel.next_deadline() {
                            let earliest = model.keys().next().unwrap().0;
                            assert!(next <= earliest.max(now), "seed {seed}: next {next} > {earliest}");
                        } else {
                            assert!(model.is_empty());
                        }
                    }
                }
                assert_eq!(wheel.len(), model.len());
            }
        }
    }
}
