//! The futures of a queue's waits: `Put`, `Get`, `Join`.

use super::*;

/// The future returned by [`QueueOf::put`].
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, S: QueueStorage<T>, T> {
    pub(super) queue: &'a QueueOf<S, T>,
    pub(super) item: Option<T>,
    pub(super) key: Option<usize>,
    pub(super) location: &'static Location<'static>,
}

impl<S: QueueStorage<T>, T> Unpin for Put<'_, S, T> {}

impl<S: QueueStorage<T>, T> Future for Put<'_, S, T> {
    type Output = Result<(), QueueShutDown<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop_coop::budgeted(cx, |cx| {
            let this = &mut *self;
            let mut wakes = WakeList::default();
            let result = {
                let mut state = this.queue.shared.state.lock();
                match this.key {
                    None => {
                        let item = this.item.take().expect("Put polled after completion");
                        if state.shutdown {
                            Poll::Ready(Err(QueueShutDown(item)))
                        } else if state.has_room() && state.putters.is_empty() {
                            state.unfinished += 1;
                            state.deliver(item, &mut wakes);
                            Poll::Ready(Ok(()))
                        } else {
                            hit(Path::QueuePutWaited);
                            this.item = Some(item);
                            this.key = Some(state.putters.push_back(PutSlot::Waiting, cx.waker().clone()));
                            Poll::Pending
                        }
                    }
                    Some(key) => {
                        if state.putters.is_linked(key) {
                            state.putters.set_waker(key, cx.waker());
                            Poll::Pending
                        } else {
                            this.key = None;
                            let item = this.item.take().expect("Put polled after completion");
                            match state.putters.remove(key) {
                                PutSlot::Granted => {
                                    state.reserved -= 1;
                                    state.unfinished += 1;
                                    if !state.getters.is_empty() {
                                        hit(Path::QueueGrantedPutterHandedToGetter);
                                    }
                                    state.deliver(item, &mut wakes);
                                    // Handed straight to a getter, the item took no
                                    // slot: the one we were granted is free again.
                                    state.grant_putters(&mut wakes);
                                    Poll::Ready(Ok(()))
                                }
                                PutSlot::ShutDown | PutSlot::Waiting => Poll::Ready(Err(QueueShutDown(item))),
                            }
                        }
                    }
                }
            };
            wakes.wake_all();
            if result.is_pending() {
                note_wait_on(WaitKind::QueuePut, this.location, this.queue.wait_target());
            }
            result
        })
    }
}

impl<S: QueueStorage<T>, T> Drop for Put<'_, S, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::default();
        {
            let mut state = self.queue.shared.state.lock();
            if state.putters.remove(key) == PutSlot::Granted {
                // Our reserved slot goes to the next putter; our item is
                // dropped with us, never inserted.
                hit(Path::QueueCancelledPutterPassedSlot);
                state.reserved -= 1;
                state.grant_putters(&mut wakes);
            }
        }
        wakes.wake_all();
    }
}

/// The future returned by [`QueueOf::get`].
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, S: QueueStorage<T>, T> {
    pub(super) queue: &'a QueueOf<S, T>,
    pub(super) key: Option<usize>,
    pub(super) location: &'static Location<'static>,
}

impl<S: QueueStorage<T>, T> Future for Get<'_, S, T> {
    type Output = Result<T, QueueShutDown>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop_coop::budgeted(cx, |cx| {
            let mut wakes = WakeList::default();
            let result = {
                let mut state = self.queue.shared.state.lock();
                match self.key {
                    None => match state.take(&mut wakes) {
                        Some(item) => Poll::Ready(Ok(item)),
                        None if state.shutdown => Poll::Ready(Err(QueueShutDown(()))),
                        None => {
                            hit(Path::QueueGetWaited);
                            self.key = Some(state.getters.push_back(GetSlot::Waiting, cx.waker().clone()));
                            Poll::Pending
                        }
                    },
                    Some(key) => {
                        if state.getters.is_linked(key) {
                            state.getters.set_waker(key, cx.waker());
                            Poll::Pending
                        } else {
                            self.key = None;
                            match state.getters.remove(key) {
                                GetSlot::Handed(item) => Poll::Ready(Ok(item)),
                                GetSlot::ShutDown | GetSlot::Waiting => Poll::Ready(Err(QueueShutDown(()))),
                            }
                        }
                    }
                }
            };
            wakes.wake_all();
            if result.is_pending() {
                note_wait_on(WaitKind::QueueGet, self.location, self.queue.wait_target());
            }
            result
        })
    }
}

impl<S: QueueStorage<T>, T> Drop for Get<'_, S, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::default();
        {
            let mut state = self.queue.shared.state.lock();
            if let GetSlot::Handed(item) = state.getters.remove(key) {
                // Handed an item we will never return: it goes to the next
                // waiting getter, or back to where it is taken next.
                if state.getters.is_empty() {
                    hit(Path::QueueCancelledGetterPutBack);
                    state.items.put_back(item);
                } else {
                    hit(Path::QueueCancelledGetterHandedOn);
                    state.deliver(item, &mut wakes);
                }
            }
        }
        wakes.wake_all();
    }
}

/// The future returned by [`QueueOf::join`].
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, S: QueueStorage<T>, T> {
    pub(super) queue: &'a QueueOf<S, T>,
    pub(super) key: Option<usize>,
    pub(super) location: &'static Location<'static>,
}

impl<S: QueueStorage<T>, T> Future for Join<'_, S, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop_coop::budgeted(cx, |cx| {
            let mut state = self.queue.shared.state.lock();
            match self.key {
                None if state.unfinished == 0 => Poll::Ready(()),
                None => {
                    self.key = Some(state.joiners.push_back((), cx.waker().clone()));
                    note_wait_on(
                        WaitKind::QueueJoin,
                        self.location,
                        WaitTarget::at(&*self.queue.shared, state.unfinished as u64),
                    );
                    Poll::Pending
                }
                Some(key) if state.joiners.is_linked(key) => {
                    state.joiners.set_waker(key, cx.waker());
                    note_wait_on(
                        WaitKind::QueueJoin,
                        self.location,
                        WaitTarget::at(&*self.queue.shared, state.unfinished as u64),
                    );
                    Poll::Pending
                }
                Some(key) => {
                    state.joiners.remove(key);
                    self.key = None;
                    Poll::Ready(())
                }
            }
        })
    }
}

impl<S: QueueStorage<T>, T> Drop for Join<'_, S, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.shared.state.lock().joiners.remove(key);
        }
    }
}
