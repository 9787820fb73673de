//! The submission queue between callers and the router, and the router's wake-up signal.

use super::dirs::Dir;
use super::path_bytes::PathBytes;
use super::path_store::Entry;
use super::path_store::PathStore;
use super::sync;
use crate::identity::Record;
use crate::Status;
use std::sync::Arc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long [`Inbox::take`] may wait for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Not at all.
    No,
    /// At most this long.
    For(Duration),
    /// Until there is something to take or a wake-up.
    Forever,
    /// At most this long, and new paths end it only once a run of them waits: after a turn that
    /// found paths, more are likely on their way.
    Linger(Duration),
}

/// A path waiting to be assigned to a device.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) path: PathBytes,
    pub(crate) tag: u64,
    /// What the caller knew of the file, if it said (boxed: most paths have none, and a
    /// submission is moved from queue to queue).
    pub(crate) record: Option<Box<Record>>,
    /// The caller's directory the path is relative to, if it was enqueued so.
    pub(crate) base: Option<Arc<Dir>>,
}

/// The session's lifecycle as the router sees it after a `take`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    /// `finish` was called: nothing more will be enqueued.
    pub(crate) finished: bool,
    /// `cancel` was called: pending work becomes `Cancelled` results.
    pub(crate) cancelled: bool,
    /// The session is being freed: drop everything, nobody will poll.
    pub(crate) closing: bool,
    /// Submissions were left in the queue (the batch was full).
    pub(crate) more: bool,
}

#[derive(Debug, Default)]
struct State {
    queue: PathStore,
    lifecycle: Lifecycle,
    /// Set by anything but new paths that the router should react to; cleared when it wakes.
    wake: bool,
    /// How the router waits in `take`, if it does. Only a waiting router is worth a wake-up
    /// system call: std's `Condvar::notify_one` enters the kernel whether or not anyone waits,
    /// and an enqueue per file would otherwise pay for one.
    sleeping: Sleep,
}

/// How the router waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Sleep {
    /// It does not.
    #[default]
    Awake,
    /// Until there is something to do.
    Forever,
    /// It lingers after a turn that found paths: new paths wake it once [`LINGER_WAKE`] wait.
    Linger,
}

/// Paths that end a router's linger: a run worth a turn of its own.
const LINGER_WAKE: usize = 256;

/// Submissions plus the flags that end a session; one lock, so that "accepted" and "finished"
/// can never be observed in the wrong order.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    state: Mutex<State>,
    signal: Condvar,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        sync::lock(&self.state)
    }

    /// Appends paths with their tags, all or none. `on_accept` runs under the lock with the
    /// count, so that the session's accepted-count is updated before `finish` can be observed.
    pub(crate) fn push<'p>(
        &self,
        items: impl IntoIterator<Item = Entry<'p>>,
        on_accept: impl FnOnce(u64),
    ) -> Result<(), Status> {
        let mut state = self.lock();
        if state.lifecycle.cancelled || state.lifecycle.closing {
            return Err(Status::SessionCancelled);
        }
        if state.lifecycle.finished {
            return Err(Status::SessionFinished);
        }
        let (before, count) = (state.queue.mark(), state.queue.len());
        for entry in items {
            if state.queue.push(entry).is_err() {
                // All or none: what this call added goes, and the caller may try again later.
                state.queue.rollback(before);
                return Err(Status::ResourceExhausted);
            }
        }
        on_accept((state.queue.len() - count) as u64);
        // A router asleep with nothing to do wakes for the first path; one that lingers after a
        // busy turn wakes for a run of paths, so that paths enqueued one call at a time reach
        // the lookups and the pools in runs instead of a wake-up of every thread per few paths.
        let notify = match state.sleeping {
            Sleep::Awake => false,
            Sleep::Forever => true,
            Sleep::Linger => state.queue.len() >= LINGER_WAKE,
        };
        if notify {
            // Woken once: the pushes until it runs need not make a system call each.
            state.sleeping = Sleep::Awake;
        }
        drop(state);
        if notify {
            self.signal.notify_one();
        }
        Ok(())
    }

    /// Sets the wake flag and, if the router sleeps, wakes it (after unlocking, so that it
    /// does not wake only to block on the lock).
    fn raise(&self, mut state: MutexGuard<'_, State>) {
        state.wake = true;
        let sleeping = state.sleeping != Sleep::Awake;
        state.sleeping = Sleep::Awake; // woken once is enough
        drop(state);
        if sleeping {
            self.signal.notify_one();
        }
    }

    /// Changes the lifecycle (finish, cancel, close) and wakes the router.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Lifecycle)) -> Lifecycle {
        let mut state = self.lock();
        change(&mut state.lifecycle);
        let lifecycle = state.lifecycle;
        self.raise(state);
        lifecycle
    }

    /// The current lifecycle flags.
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        self.lock().lifecycle
    }

    /// Tells the router that something changed (a task finished, results were polled).
    pub(crate) fn wake(&self) {
        let state = self.lock();
        if !state.wake {
            self.raise(state);
        }
    }

    /// Moves up to `max` submissions into `out`. Unless `wait` is [`Wait::No`], first waits
    /// (for at most its time) until there is a submission it may take or a wake-up; a wake-up
    /// that came since the last call returns at once, so no event is lost between a `take` and
    /// the next. With `max` 0 it only waits for a wake-up: the caller has no room for more paths
    /// now.
    pub(crate) fn take(&self, out: &mut Vec<Submission>, max: usize, wait: Wait) -> Lifecycle {
        let mut state = self.lock();
        let (limit, sleep, enough) = match wait {
            Wait::No => (None, Sleep::Awake, 1),
            Wait::For(time) => (Some(Some(time)), Sleep::Forever, 1),
            Wait::Forever => (Some(None), Sleep::Forever, 1),
            Wait::Linger(time) => (Some(Some(time)), Sleep::Linger, LINGER_WAKE),
        };
        if let Some(timeout) = limit {
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            while !state.wake && (state.queue.len() < enough || max == 0) {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left.is_some_and(|left| left.is_zero()) {
                    break;
                }
                state.sleeping = sleep;
                state = sync::wait(&self.signal, state, left);
                state.sleeping = Sleep::Awake;
            }
        }
        state.wake = false;
        for _ in 0..state.queue.len().min(max) {
            let taken = state.queue.pop(|entry| Submission {
                path: PathBytes::from(entry.path),
                tag: entry.tag,
                record: entry.record.map(|r| Box::new(*r)),
                base: entry.base.cloned(),
            });
            out.extend(taken);
        }
        let mut lifecycle = state.lifecycle;
        lifecycle.more = !state.queue.is_empty();
        lifecycle
    }

    /// Drops every queued path (the session is closing: nobody will poll for them).
    pub(crate) fn discard(&self) {
        self.lock().queue = PathStore::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_return;
    use std::sync::Arc;

    fn sub(tag: u64) -> Entry<'static> {
        Entry { path: b"p", tag, record: None, base: None }
    }

    #[test]
    fn push_counts_under_the_lock_and_refuses_after_finish_or_cancel() {
        let inbox = Inbox::default();
        let mut accepted = 0;
        inbox.push([sub(1), sub(2)], |n| accepted += n).unwrap();
        assert_eq!(accepted, 2);
        inbox.update(|l| l.finished = true);
        assert_eq!(inbox.push([sub(3)], |_| panic!("not accepted")), Err(Status::SessionFinished));
        inbox.update(|l| l.cancelled = true);
        assert_eq!(inbox.push([sub(3)], |_| {}), Err(Status::SessionCancelled));
    }

    #[test]
    fn take_respects_the_batch_size_and_reports_more() {
        let inbox = Inbox::default();
        inbox.push((0..5).map(sub), |_| {}).unwrap();
        let mut out = Vec::new();
        assert!(inbox.take(&mut out, 3, Wait::Forever).more);
        assert!(!inbox.take(&mut out, 3, Wait::No).more);
        assert_eq!(out.iter().map(|s| s.tag).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_wake_before_take_is_not_lost() {
        must_return("take after a wake", || {
            let inbox = Inbox::default();
            inbox.wake();
            // Returns at once although the queue is empty.
            inbox.take(&mut Vec::new(), 1, Wait::Forever);
        });
    }

    #[test]
    fn blocked_take_wakes_on_push_from_another_thread() {
        let tag = must_return("take while another thread pushes", || {
            let inbox = Arc::new(Inbox::default());
            let pusher = Arc::clone(&inbox);
            let handle = std::thread::spawn(move || pusher.push([sub(9)], |_| {}).unwrap());
            let mut out = Vec::new();
            while out.is_empty() {
                inbox.take(&mut out, 10, Wait::Forever);
            }
            handle.join().unwrap();
            out[0].tag
        });
        assert_eq!(tag, 9);
    }
}
