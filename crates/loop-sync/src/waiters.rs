//! A FIFO list of waiting futures, with O(1) removal of any one of them.
//!
//! Every primitive in this crate keeps one (or two) of these under its lock.
//! A waiting future owns one node for as long as it waits: it inserts the
//! node, and frees it itself — when it completes or when it is dropped.
//! Whoever hands a waiter what it waits for (a permit, an item, a
//! notification) only *unlinks* the node from the FIFO and records what it
//! handed over in the node's payload; the owner then sees it on its next
//! poll, or passes it on if it is dropped first. So no hand-off is lost and a
//! node's index is never reused while its owner still holds it.

use slab::Slab;
use std::task::Waker;

/// Marks "no node" in the links.
const NIL: usize = usize::MAX;

/// One waiter.
#[derive(Debug)]
struct Node<P> {
    /// Whom to wake.
    waker: Option<Waker>,
    /// What the waiter waits for, and what it was handed.
    payload: P,
    prev: usize,
    next: usize,
    /// Still in the FIFO (not yet handed what it waits for).
    linked: bool,
}

/// A FIFO of waiters with stable indices.
#[derive(Debug)]
pub(crate) struct WaiterList<P> {
    nodes: Slab<Node<P>>,
    head: usize,
    tail: usize,
    /// Number of linked (still waiting) nodes.
    linked: usize,
}

impl<P> Default for WaiterList<P> {
    fn default() -> Self {
        WaiterList { nodes: Slab::new(), head: NIL, tail: NIL, linked: 0 }
    }
}

impl<P> WaiterList<P> {
    /// Appends a waiter; returns its key.
    pub(crate) fn push_back(&mut self, payload: P, waker: Waker) -> usize {
        let node = Node { waker: Some(waker), payload, prev: self.tail, next: NIL, linked: true };
        let key = self.nodes.insert(node);
        if self.tail == NIL {
            self.head = key;
        } else {
            self.node_mut(self.tail).next = key;
        }
        self.tail = key;
        self.linked += 1;
        key
    }

    fn node(&self, key: usize) -> &Node<P> {
        self.nodes.get(key).expect("waiter key of a freed node")
    }

    fn node_mut(&mut self, key: usize) -> &mut Node<P> {
        self.nodes.get_mut(key).expect("waiter key of a freed node")
    }

    /// Number of waiters still in the FIFO.
    pub(crate) fn len(&self) -> usize {
        self.linked
    }

    /// Whether no waiter is in the FIFO.
    pub(crate) fn is_empty(&self) -> bool {
        self.linked == 0
    }

    /// The first waiter still in the FIFO.
    pub(crate) fn front(&self) -> Option<usize> {
        (self.head != NIL).then_some(self.head)
    }

    /// Whether the node is still in the FIFO.
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.node(key).linked
    }

    /// The node's payload, to update it.
    pub(crate) fn payload_mut(&mut self, key: usize) -> &mut P {
        &mut self.node_mut(key).payload
    }

    /// Stores the waker to use for this node (if it would not wake the same
    /// task already).
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        let node = self.node_mut(key);
        match &node.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => node.waker = Some(waker.clone()),
        }
    }

    /// Takes the node out of the FIFO (it stays allocated for its owner)
    /// and returns its waker, to be woken once the lock is released.
    pub(crate) fn unlink(&mut self, key: usize) -> Option<Waker> {
        let (prev, next, linked) = {
            let n = self.node(key);
            (n.prev, n.next, n.linked)
        };
        if !linked {
            return None;
        }
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        self.linked -= 1;
        let node = self.node_mut(key);
        node.linked = false;
        node.prev = NIL;
        node.next = NIL;
        node.waker.take()
    }

    /// Frees the node (unlinking it first if needed) and returns its payload.
    pub(crate) fn remove(&mut self, key: usize) -> P {
        drop(self.unlink(key));
        self.nodes.try_remove(key).expect("waiter removed twice").payload
    }

    /// Keys of the waiters in the FIFO, front first.
    pub(crate) fn keys(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.linked);
        let mut key = self.head;
        while key != NIL {
            out.push(key);
            key = self.node(key).next;
        }
        out
    }
}

/// Wakers collected under a lock, woken after it is released (waking under
/// the lock could run a waiter inline that then needs the same lock).
#[derive(Default)]
pub(crate) struct WakeList {
    wakers: Vec<Waker>,
}

impl WakeList {
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(w) = waker {
            self.wakers.push(w);
        }
    }

    pub(crate) fn wake_all(self) {
        for w in self.wakers {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_unlink_and_remove() {
        let mut list = WaiterList::default();
        let w = Waker::noop();
        let a = list.push_back('a', w.clone());
        let b = list.push_back('b', w.clone());
        let c = list.push_back('c', w.clone());
        assert_eq!(list.keys(), [a, b, c]);
        assert!(list.unlink(b).is_some());
        assert!(!list.is_linked(b));
        assert_eq!(list.keys(), [a, c]);
        assert_eq!(list.remove(a), 'a');
        assert_eq!(list.front(), Some(c));
        assert_eq!(list.len(), 1);
        // b's index is not reused while b's owner holds it.
        let d = list.push_back('d', w.clone());
        assert_ne!(d, b);
        assert_eq!(list.remove(b), 'b');
        assert_eq!(list.keys(), [c, d]);
    }
}
