//! Completed results waiting for `poll`.

use super::memory;
use super::sync;
use crate::digest::DigestBytes;
use crate::identity::Identity;
use crate::read::Outcome;
use crate::sys::Signal;
use crate::Status;
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How a poll hands its results to its sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The sink is the caller's code (a Rust closure, which may call the session again): it
    /// runs without the queue's lock.
    CallerCode,
    /// The sink only copies each result out (the C API's, into the caller's array): it runs
    /// under the lock, straight from the queue, which saves a copy of every result.
    CopyOnly,
}

/// Results a poll takes out of the queue under one lock, to hand to its sink without it, when
/// it takes only some of those waiting.
const POLL_CHUNK: usize = 64;
/// The most capacity the spare queue keeps (about 450 KiB): a larger one is shrunk, so that the
/// spare never doubles the memory of a full results bound.
const SPARE_MOST: usize = 4096;

/// The result for one enqueued path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileResult {
    /// The caller's tag, given to `enqueue`.
    pub tag: u64,
    /// [`Status::Ok`] or why the file has no digest.
    pub status: Status,
    /// The errno behind a failure, 0 when there is none.
    pub os_error: i32,
    /// Bytes hashed; for [`Status::Unchanged`], the size its `stat` saw; for a failure, the
    /// file size where known, else 0.
    pub size: u64,
    /// Index of the device that read the file (see `Session::devices`); `None` if the path never
    /// reached a device (it did not exist, say).
    pub device: Option<usize>,
    /// The digest; empty unless `status` is `Ok` (and then empty only when the session
    /// computes no file digest, see `Config::file_digest`) or `Unchanged` (the record's).
    pub digest: DigestBytes,
    /// How many chunks the file was cut into, in a session with a chunker: its chunk events of
    /// attempt [`attempt`](FileResult::attempt) are its chunks when `status` is `Ok`. 0 in a
    /// session without one.
    pub chunks: u64,
    /// Which read of the file the result comes from: 1, or 2 for a file so fresh that it was
    /// read again after the settle margin; 0 for a file never read. Chunk events of any other
    /// attempt are not the file's.
    pub attempt: u32,
    /// The file as it was hashed (for [`Status::Unchanged`], as its `stat` matched the prior
    /// record): what a backup tool keeps as its record for next time. `None` when the file
    /// has no digest for another reason.
    pub identity: Option<Identity>,
}

/// One chunk of a file, cut while the file was read, in a session with a chunker
/// (`Config::chunker`). A file's chunk events come in offset order before its result, and are
/// its chunks only if that result is `Ok` and names their attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkEvent {
    /// The file's tag, given to `enqueue`.
    pub tag: u64,
    /// Which read of the file cut it (see [`FileResult::attempt`]).
    pub attempt: u32,
    /// Its place among the file's chunks, from 0.
    pub index: u64,
    /// Its first byte's offset in the file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Its digest (`Config::chunk_digest`).
    pub digest: DigestBytes,
}

/// What a poll of events delivers: a chunk of a file, or a file's result, which comes after
/// all of that file's chunk events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A chunk of a file.
    Chunk(ChunkEvent),
    /// A file's result: the last event of its tag.
    Result(FileResult),
}

impl Event {
    /// The result, if this is one.
    pub fn into_result(self) -> Option<FileResult> {
        match self {
            Event::Result(result) => Some(result),
            Event::Chunk(_) => None,
        }
    }
}

impl FileResult {
    /// The record this result makes for next time (device number included), if it has an
    /// identity and a digest: `algorithm` is the session's that produced it. See
    /// `Session::enqueue_with_record`.
    pub fn record(&self, algorithm: crate::Algorithm) -> Option<crate::Record> {
        let id = self.identity?;
        if self.digest.as_bytes().is_empty() {
            return None;
        }
        let record =
            crate::Record::new(id.size, id.mtime_ns, id.ctime_ns, id.inode, algorithm, self.digest);
        Some(record.with_device(id.device))
    }

    /// The result of the path enqueued with `tag`, read (or not) by device `device`.
    pub(crate) fn new(tag: u64, outcome: Outcome, device: Option<usize>) -> FileResult {
        FileResult {
            tag,
            status: outcome.status,
            os_error: outcome.os_error,
            size: outcome.size,
            device,
            digest: outcome.digest,
            chunks: outcome.chunks,
            attempt: outcome.attempt,
            identity: outcome.identity.as_ref().map(Identity::of),
        }
    }
}

/// What a poll saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollOutcome {
    /// This many results were delivered (at least one).
    Ready(usize),
    /// Nothing arrived before the timeout.
    TimedOut,
    /// The session is finished and every result has been delivered.
    Done,
    /// Nothing arrived, and [`Session::wake`](crate::Session::wake) moved the wake generation
    /// away from the one the poll was given.
    Woken,
}

/// The queue of a session that makes chunk events: results and chunk events in one line, in the
/// order they were pushed (a file's chunks before its result).
#[derive(Debug)]
struct Events {
    queue: VecDeque<Event>,
    /// Results and chunk events in `queue`.
    results: usize,
    chunks: usize,
    /// The most chunk events `queue` may hold (`Config::max_ready_chunks`).
    bound: usize,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<FileResult>,
    /// In a session that makes chunk events, where results go instead of `ready`.
    events: Option<Events>,
    /// An empty queue with capacity, swapped in for `ready` when a poll takes every result
    /// waiting: the poll hands the old one to its sink without the lock and without a copy,
    /// then gives it back here (at most [`SPARE_MOST`] results' worth of it). Swapped in only
    /// while it holds the `reserved` room, which results must always find in `ready` (when
    /// memory runs out, producers hand over results only into room already allocated).
    spare: VecDeque<FileResult>,
    /// The room taken for results when the session was created.
    reserved: usize,
    /// Results ever pushed.
    produced: u64,
    delivered: u64,
    /// Pollers blocked on `arrived`. Pushes notify only when there are some: std's condition
    /// variable makes a syscall per notify even with nobody waiting.
    sleepers: usize,
    /// Producers blocked on `taken`, waiting for room the queue could not allocate.
    starved: usize,
    /// Nobody will poll again (the session is being freed): results are dropped, not queued.
    discard: bool,
    /// How many times `wake` was called: a poller given an older number returns at once.
    wakes: u64,
    /// Whether the readiness signal is raised (it exists only once asked for).
    raised: bool,
}

/// A queue of completed results with a condition variable for pollers.
#[derive(Debug, Default)]
pub(crate) struct ResultQueue {
    state: Mutex<State>,
    arrived: Condvar,
    /// Signalled when a poll takes results while a producer waits for room.
    taken: Condvar,
    /// The readiness descriptor, created on first request: readable while results wait or the
    /// session is done. Until then its cost is one atomic load per batch of results.
    readiness: OnceLock<Signal>,
}

/// How long a producer that found no memory for its results waits before asking the allocator
/// again, in case memory was freed elsewhere while no poller came.
const RETRY: Duration = Duration::from_millis(10);

impl State {
    /// Nothing waits to be polled.
    fn is_empty(&self) -> bool {
        match &self.events {
            Some(events) => events.queue.is_empty(),
            None => self.ready.is_empty(),
        }
    }
}

impl ResultQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        sync::lock(&self.state)
    }

    /// A queue for a session that cuts chunks: results and up to `chunk_bound` chunk events go
    /// through one line, polled with [`poll_events`](Self::poll_events).
    pub(crate) fn with_events(chunk_bound: usize) -> ResultQueue {
        let queue = ResultQueue::default();
        queue.lock().events =
            Some(Events { queue: VecDeque::new(), results: 0, chunks: 0, bound: chunk_bound });
        queue
    }

    pub(crate) fn push(&self, result: FileResult) {
        self.add(std::iter::once(result));
    }

    /// Pushes several results under one lock acquisition (a task's batch of small files).
    pub(crate) fn push_many(&self, results: &mut Vec<FileResult>) {
        if !results.is_empty() {
            self.add(results.drain(..));
        }
    }

    /// Room for the first `results` results, taken when the session is created, so that a queue
    /// that later cannot grow still has room to hand results over through.
    pub(crate) fn reserve(&self, results: usize) -> Result<(), Status> {
        let mut state = self.lock();
        if let Some(events) = &mut state.events {
            // Room for the results, and for as many chunk events.
            let room = results + events.bound.min(results);
            events.queue.try_reserve(room).map_err(|_| Status::ResourceExhausted)?;
            state.reserved = results;
            return Ok(());
        }
        state.ready.try_reserve(results).map_err(|_| Status::ResourceExhausted)?;
        state.reserved = results;
        // The spare is swapped in for `ready` by a poll that takes every result: it must carry
        // the same room, or that poll would give the reserve away (see `poll`). Without it the
        // swap is skipped, at a copy per result.
        let _ = state.spare.try_reserve(results);
        Ok(())
    }

    /// Appends `results` and wakes as many sleeping pollers as they can serve.
    ///
    /// The queue grows fallibly: when the allocator has no memory for the results, those that
    /// fit in the room already allocated go in, and the producer waits for pollers to take some
    /// (or for memory), as it would at the ready-results bound. Nothing is dropped, except after
    /// [`discard`](Self::discard).
    fn add(&self, mut results: impl ExactSizeIterator<Item = FileResult>) {
        let mut state = self.lock();
        let mut added = 0;
        loop {
            let count = results.len();
            if state.discard {
                state.produced += count as u64;
                return;
            }
            let n = if let Some(events) = &mut state.events {
                let n = grow(&mut events.queue, count).min(count);
                events.queue.extend(results.by_ref().take(n).map(Event::Result));
                events.results += n;
                n
            } else {
                let n = grow(&mut state.ready, count).min(count);
                state.ready.extend(results.by_ref().take(n));
                n
            };
            state.produced += n as u64;
            added += n;
            if results.len() == 0 {
                break;
            }
            if state.sleepers > 0 {
                self.arrived.notify_all(); // the pollers make the room this producer waits for
            }
            state.starved += 1;
            state = sync::wait(&self.taken, state, Some(RETRY));
            state.starved -= 1;
        }
        if added > 0 {
            self.raise(&mut state);
        }
        let sleepers = state.sleepers;
        drop(state);
        match (sleepers, added) {
            (0, _) | (_, 0) => {}
            (_, 1) => self.arrived.notify_one(),
            _ => self.arrived.notify_all(),
        }
    }

    /// Appends `chunks` (one file's, in order) behind the events pushed before, waiting while
    /// the queue holds its bound of chunk events. Before its first wait it calls `pause`, which
    /// gives the device's read permit back (only this file waits; results and other files'
    /// chunks go on). Returns `false`, with the chunks dropped, if the session was cancelled
    /// while it waited or is being freed: the file's result must then not be `Ok`. Leaves
    /// `chunks` empty.
    pub(crate) fn push_chunks(
        &self,
        chunks: &mut Vec<ChunkEvent>,
        pause: &mut dyn FnMut(),
        cancelled: &AtomicBool,
    ) -> bool {
        let mut state = self.lock();
        let (mut from, mut paused, mut pushed) = (0, false, 0);
        let delivered = loop {
            if state.discard {
                break false;
            }
            let events = state.events.as_mut().expect("chunks only in a session with events");
            let want = (chunks.len() - from).min(events.bound.saturating_sub(events.chunks));
            let n = grow(&mut events.queue, want).min(want);
            events.queue.extend(chunks[from..from + n].iter().copied().map(Event::Chunk));
            events.chunks += n;
            (from, pushed) = (from + n, pushed + n);
            if from == chunks.len() {
                break true;
            }
            if pushed > 0 {
                self.raise(&mut state);
                if state.sleepers > 0 {
                    self.arrived.notify_all(); // pollers make the room this file waits for
                }
            }
            if cancelled.load(Ordering::Relaxed) {
                break false;
            }
            if !paused {
                // Not under the queue's lock: the gate has locks of its own.
                drop(state);
                pause();
                paused = true;
                state = self.lock();
                continue;
            }
            state.starved += 1;
            state = sync::wait(&self.taken, state, Some(RETRY));
            state.starved -= 1;
        };
        chunks.clear();
        if pushed > 0 {
            self.raise(&mut state);
            let sleepers = state.sleepers;
            drop(state);
            if sleepers > 0 {
                self.arrived.notify_all();
            }
        }
        delivered
    }

    /// Raises the readiness signal, if there is one and it is not raised.
    fn raise(&self, state: &mut State) {
        if let Some(signal) = self.readiness.get() {
            if !state.raised {
                signal.raise();
                state.raised = true;
            }
        }
    }

    /// Raises the readiness signal if `is_done(delivered)`: the session became done without a
    /// result to raise it (finished with everything delivered).
    pub(crate) fn raise_if_done(&self, is_done: impl Fn(u64) -> bool) {
        let mut state = self.lock();
        if is_done(state.delivered) {
            self.raise(&mut state);
        }
    }

    /// The readiness descriptor, created on the first call: readable while results wait or
    /// `is_done(delivered)`, reset by `poll` when it takes the last waiting result of a session
    /// that is not done. Lives as long as the queue.
    pub(crate) fn readiness(
        &self,
        is_done: impl Fn(u64) -> bool,
    ) -> Result<BorrowedFd<'_>, Status> {
        if self.readiness.get().is_none() {
            let signal = Signal::new().map_err(|_| Status::ResourceExhausted)?;
            // Another caller may have set it first; then this one is closed unused.
            drop(self.readiness.set(signal));
        }
        let mut state = self.lock();
        if !state.is_empty() || is_done(state.delivered) {
            self.raise(&mut state);
        }
        drop(state);
        Ok(self.readiness.get().expect("set above").fd())
    }

    /// Moves the wake generation on and wakes every poller, so that those polling with the
    /// generation they last read return [`PollOutcome::Woken`].
    pub(crate) fn wake(&self) {
        self.lock().wakes += 1;
        self.arrived.notify_all();
    }

    /// The wake generation: how many times `wake` was called.
    pub(crate) fn wake_generation(&self) -> u64 {
        self.lock().wakes
    }

    /// From now on results are dropped: the session is being freed and nobody will poll. Wakes
    /// the producers waiting for room.
    pub(crate) fn discard(&self) {
        let mut state = self.lock();
        state.discard = true;
        state.ready = VecDeque::new();
        if let Some(events) = &mut state.events {
            (events.queue, events.results, events.chunks) = (VecDeque::new(), 0, 0);
        }
        drop(state);
        self.taken.notify_all();
    }

    /// Wakes every poller so that it re-checks whether the session is done or broken.
    pub(crate) fn notify_all(&self) {
        drop(self.lock());
        self.arrived.notify_all();
    }

    /// Results pushed so far, polled or not.
    pub(crate) fn produced(&self) -> u64 {
        self.lock().produced
    }

    /// Results ready but not yet polled.
    pub(crate) fn ready_len(&self) -> usize {
        let state = self.lock();
        state.events.as_ref().map_or(state.ready.len(), |events| events.results)
    }

    /// Counts `n` results as taken out of `ready` by a poll, and tells whom that concerns:
    /// producers waiting for room, the readiness descriptor, pollers of a session now done.
    fn handed_over(&self, state: &mut State, n: usize, is_done: impl Fn(u64) -> bool) {
        state.delivered += n as u64;
        if state.starved > 0 {
            self.taken.notify_all();
        }
        if state.is_empty() && state.raised && !is_done(state.delivered) {
            // Level-triggered: readable while results wait. A result pushed after this raises
            // it again (both under this lock).
            self.readiness.get().expect("raised only once created").reset();
            state.raised = false;
        }
        if is_done(state.delivered) {
            // Other pollers may be waiting for results that will never come.
            self.arrived.notify_all();
        }
    }

    /// Hands up to `max` results to `sink`, waiting up to `timeout` (`None`: no limit) for the
    /// first. `is_done(delivered)` says whether every result that will ever exist has been
    /// delivered; `failed()` says whether results can no longer arrive. Returns the outcome and
    /// how many results were waiting before the call took some.
    #[expect(
        clippy::too_many_arguments,
        reason = "the session's view (done, failed) and the caller's (how many, how long, woken, \
                  how delivered) meet here; a struct for one call site would only rename them"
    )]
    pub(crate) fn poll(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        is_done: impl Fn(u64) -> bool,
        failed: impl Fn() -> bool,
        delivery: Delivery,
        mut sink: impl FnMut(FileResult),
    ) -> Result<(PollOutcome, usize), Status> {
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let (mut given, mut waiting_at_first) = (0, 0);
        let mut state = self.lock();
        if state.events.is_some() {
            return Err(Status::NeedsEventPoll);
        }
        loop {
            let waiting = state.ready.len();
            if waiting > 0 && given < max {
                if delivery == Delivery::CopyOnly {
                    // Straight from the queue, under the lock: no copy in between.
                    let n = waiting.min(max);
                    state.ready.drain(..n).for_each(&mut sink);
                    self.handed_over(&mut state, n, &is_done);
                    return Ok((PollOutcome::Ready(n), waiting));
                }
                // The caller's code runs without the lock, so that it may call the session
                // again and other pollers and producers need not wait for it: every result
                // waiting, by swapping the queue out whole (if the spare keeps the reserved room
                // in `ready`), or else a chunk at a time. Each result still goes to exactly one
                // poller.
                if given == 0 {
                    waiting_at_first = waiting;
                }
                let all = waiting <= max - given && state.spare.capacity() >= state.reserved;
                let n = if all { waiting } else { waiting.min(max - given).min(POLL_CHUNK) };
                let mut chunk = [None::<FileResult>; POLL_CHUNK];
                let mut taken = None;
                if all {
                    let spare = std::mem::take(&mut state.spare);
                    taken = Some(std::mem::replace(&mut state.ready, spare));
                } else {
                    for (slot, result) in chunk.iter_mut().zip(state.ready.drain(..n)) {
                        *slot = Some(result);
                    }
                }
                self.handed_over(&mut state, n, &is_done);
                drop(state);
                match &mut taken {
                    Some(queue) => queue.drain(..).for_each(&mut sink),
                    None => chunk[..n].iter_mut().filter_map(Option::take).for_each(&mut sink),
                }
                given += n;
                state = self.lock();
                if let Some(mut queue) = taken {
                    if queue.capacity() > SPARE_MOST.max(state.reserved) {
                        queue.shrink_to(SPARE_MOST.max(state.reserved));
                    }
                    if queue.capacity() > state.spare.capacity() {
                        state.spare = queue;
                    }
                }
                continue;
            }
            if given > 0 {
                return Ok((PollOutcome::Ready(given), waiting_at_first));
            }
            state = match self.idle(state, deadline, woken, &is_done, &failed)? {
                Ok(state) => state,
                Err(outcome) => return Ok((outcome, 0)),
            };
        }
    }

    /// A poll found nothing to take: returns why it ends (`Err` of the outcome: done, woken,
    /// timed out), or waits for a push and gives the lock back (`Ok`).
    #[allow(clippy::type_complexity, reason = "a lock or an outcome, or the poll's failure")]
    fn idle<'q>(
        &'q self,
        mut state: MutexGuard<'q, State>,
        deadline: Option<Option<Instant>>,
        woken: Option<u64>,
        is_done: impl Fn(u64) -> bool,
        failed: impl Fn() -> bool,
    ) -> Result<Result<MutexGuard<'q, State>, PollOutcome>, Status> {
        if is_done(state.delivered) {
            return Ok(Err(PollOutcome::Done));
        }
        if failed() {
            return Err(Status::Internal);
        }
        if woken.is_some_and(|generation| generation != state.wakes) {
            return Ok(Err(PollOutcome::Woken));
        }
        let left = match deadline {
            // No limit, or a limit too far away to represent.
            None | Some(None) => None,
            Some(Some(deadline)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Err(PollOutcome::TimedOut));
                }
                Some(left)
            }
        };
        state.sleepers += 1;
        state = sync::wait(&self.arrived, state, left);
        state.sleepers -= 1;
        Ok(Ok(state))
    }

    /// [`poll`](Self::poll) for events: in a session with chunk events, hands up to `max`
    /// events to `sink` in the order they were pushed; in one without, its results as
    /// [`Event::Result`]. Returns the outcome and how many results were waiting before the
    /// call took some.
    #[expect(clippy::too_many_arguments, reason = "as `poll`")]
    pub(crate) fn poll_events(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        is_done: impl Fn(u64) -> bool,
        failed: impl Fn() -> bool,
        delivery: Delivery,
        mut sink: impl FnMut(Event),
    ) -> Result<(PollOutcome, usize), Status> {
        if self.lock().events.is_none() {
            let sink = |result| sink(Event::Result(result));
            return self.poll(max, timeout, woken, is_done, failed, delivery, sink);
        }
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let (mut given, mut waiting_at_first) = (0, 0);
        let mut state = self.lock();
        loop {
            let events = state.events.as_mut().expect("checked above, set at creation");
            let waiting = events.queue.len();
            if waiting > 0 && given < max {
                if given == 0 {
                    waiting_at_first = events.results;
                }
                let most = if delivery == Delivery::CopyOnly { usize::MAX } else { POLL_CHUNK };
                let n = waiting.min(max - given).min(most);
                let mut taken = [None::<Event>; POLL_CHUNK];
                let mut results = 0;
                for (i, event) in events.queue.drain(..n).enumerate() {
                    results += usize::from(matches!(event, Event::Result(_)));
                    if delivery == Delivery::CopyOnly {
                        sink(event); // straight from the queue, under the lock
                    } else {
                        taken[i] = Some(event);
                    }
                }
                events.results -= results;
                events.chunks -= n - results;
                self.handed_over(&mut state, results, &is_done);
                given += n;
                if delivery == Delivery::CopyOnly {
                    return Ok((PollOutcome::Ready(given), waiting_at_first));
                }
                // The caller's code runs without the lock (see `poll`).
                drop(state);
                taken[..n].iter_mut().filter_map(Option::take).for_each(&mut sink);
                state = self.lock();
                continue;
            }
            if given > 0 {
                return Ok((PollOutcome::Ready(given), waiting_at_first));
            }
            state = match self.idle(state, deadline, woken, &is_done, &failed)? {
                Ok(state) => state,
                Err(outcome) => return Ok((outcome, 0)),
            };
        }
    }
}

/// Makes room in `queue` for `count` more items if the memory rules allow and the allocator
/// agrees; returns the room there is (which may be less than `count`).
fn grow<T>(queue: &mut VecDeque<T>, count: usize) -> usize {
    if memory::may_grow::<T>(queue.len(), queue.capacity(), count)
        && queue.try_reserve(count).is_ok()
    {
        count
    } else {
        queue.capacity() - queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_return;

    fn result(tag: u64) -> FileResult {
        FileResult {
            tag,
            status: Status::Ok,
            os_error: 0,
            size: 0,
            device: None,
            digest: DigestBytes::EMPTY,
            chunks: 0,
            attempt: 1,
            identity: None,
        }
    }

    #[test]
    fn delivers_in_order_up_to_max() {
        let q = ResultQueue::default();
        (0..5).for_each(|t| q.push(result(t)));
        let mut got = Vec::new();
        let (outcome, waiting) = q
            .poll(3, None, None, |_| false, || false, Delivery::CallerCode, |r| got.push(r.tag))
            .unwrap();
        assert_eq!((outcome, waiting), (PollOutcome::Ready(3), 5));
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(q.ready_len(), 2);
    }

    #[test]
    fn times_out_done_and_failed() {
        let q = ResultQueue::default();
        let zero = Some(Duration::ZERO);
        assert_eq!(
            q.poll(1, zero, None, |_| false, || false, Delivery::CallerCode, |_| {}).unwrap().0,
            PollOutcome::TimedOut
        );
        assert_eq!(
            q.poll(1, zero, None, |d| d == 0, || false, Delivery::CallerCode, |_| {}).unwrap().0,
            PollOutcome::Done
        );
        assert_eq!(
            q.poll(1, None, None, |_| false, || true, Delivery::CopyOnly, |_| {}),
            Err(Status::Internal)
        );
    }

    #[test]
    fn the_sink_runs_without_the_queue_lock_and_may_call_back_into_it() {
        must_return("a sink that polls again", || {
            let q = ResultQueue::default();
            let total = POLL_CHUNK as u64 * 2 + 5;
            for tag in 0..total {
                q.push(result(tag));
            }
            let seen = std::cell::RefCell::new(Vec::new());
            let poll = |max: usize, nested: bool| {
                let mut first = true;
                let outcome = q.poll(
                    max,
                    Some(Duration::ZERO),
                    None,
                    |_| false,
                    || false,
                    Delivery::CallerCode,
                    |r| {
                        seen.borrow_mut().push(r.tag);
                        // Re-entering the queue from the sink: a lock held here would deadlock.
                        let _ = q.ready_len();
                        if nested && std::mem::take(&mut first) {
                            let again = q.poll(
                                3,
                                Some(Duration::ZERO),
                                None,
                                |_| false,
                                || false,
                                Delivery::CallerCode,
                                |r| seen.borrow_mut().push(r.tag),
                            );
                            assert_eq!(again.unwrap().0, PollOutcome::Ready(3));
                        }
                    },
                );
                outcome.unwrap().0
            };
            // Some of those waiting (taken a chunk at a time), with a poll from inside the sink;
            // then all the rest (the queue swapped out whole).
            assert_eq!(poll(100, true), PollOutcome::Ready(100));
            assert_eq!(poll(usize::MAX, false), PollOutcome::Ready(total as usize - 103));
            let mut tags = seen.into_inner();
            tags.sort_unstable();
            assert_eq!(tags, (0..total).collect::<Vec<_>>(), "every result exactly once");
            assert_eq!(q.ready_len(), 0);
        });
    }

    #[test]
    fn a_poll_that_takes_everything_leaves_the_reserved_room_in_the_queue() {
        // The reserve is what producers hand results into when memory runs out: swapping the
        // queue out must not take it away.
        let q = ResultQueue::default();
        q.reserve(64).unwrap();
        for round in 0..3 {
            for tag in 0..10 {
                q.push(result(tag));
            }
            let outcome =
                q.poll(usize::MAX, None, None, |_| false, || false, Delivery::CallerCode, |_| {});
            assert_eq!(outcome.unwrap().0, PollOutcome::Ready(10));
            assert!(
                q.lock().ready.capacity() >= 64,
                "round {round}: the reserve went with the swap"
            );
        }
    }

    #[test]
    fn pollers_blocked_without_a_timeout_are_woken_by_every_kind_of_push() {
        // Pushes skip the notify when nobody sleeps; a lost wake-up would hang this test, which
        // the watchdog turns into a failure.
        must_return("pollers waiting for pushes", || {
            let q = std::sync::Arc::new(ResultQueue::default());
            let total = 2_000u64;
            let pollers: Vec<_> = (0..2)
                .map(|_| {
                    let q = std::sync::Arc::clone(&q);
                    std::thread::spawn(move || {
                        let mut got = 0u64;
                        loop {
                            match q
                                .poll(
                                    7,
                                    None,
                                    None,
                                    |d| d == total,
                                    || false,
                                    Delivery::CopyOnly,
                                    |_| got += 1,
                                )
                                .unwrap()
                                .0
                            {
                                PollOutcome::Done => return got,
                                _ => continue,
                            }
                        }
                    })
                })
                .collect();
            let mut batch = Vec::new();
            for tag in 0..total {
                if tag % 3 == 0 {
                    q.push(result(tag));
                } else {
                    batch.push(result(tag));
                    if batch.len() == 5 {
                        q.push_many(&mut batch);
                    }
                }
                if tag % 97 == 0 {
                    std::thread::yield_now();
                }
            }
            q.push_many(&mut batch);
            let got: u64 = pollers.into_iter().map(|p| p.join().unwrap()).sum();
            assert_eq!(got, total);
        });
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let q = ResultQueue::default();
        q.push(result(1));
        let outcome = q
            .poll(1, Some(Duration::MAX), None, |_| false, || false, Delivery::CallerCode, |_| {})
            .unwrap()
            .0;
        assert_eq!(outcome, PollOutcome::Ready(1));
    }

    #[test]
    fn a_wake_ends_a_poll_given_an_older_generation_and_no_other() {
        let q = ResultQueue::default();
        let zero = Some(Duration::ZERO);
        let generation = q.wake_generation();
        let poll = |g| {
            q.poll(1, zero, Some(g), |_| false, || false, Delivery::CallerCode, |_| {}).unwrap().0
        };
        assert_eq!(poll(generation), PollOutcome::TimedOut);
        q.wake();
        assert_eq!(poll(generation), PollOutcome::Woken);
        assert_eq!(poll(q.wake_generation()), PollOutcome::TimedOut);
        // Results come before the wake: a poller with results to take takes them.
        q.push(result(1));
        assert_eq!(poll(generation), PollOutcome::Ready(1));
        // A poller blocked without limit is woken by a wake on another thread.
        let generation = q.wake_generation();
        let q = std::sync::Arc::new(q);
        must_return("blocked poller woken", move || {
            let waker = std::sync::Arc::clone(&q);
            let handle = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                waker.wake();
            });
            let outcome = q.poll(
                1,
                None,
                Some(generation),
                |_| false,
                || false,
                Delivery::CallerCode,
                |_| {},
            );
            assert_eq!(outcome.unwrap().0, PollOutcome::Woken);
            handle.join().unwrap();
        });
    }

    #[test]
    fn the_readiness_descriptor_is_readable_exactly_while_results_wait_or_done() {
        let readable = |fd: BorrowedFd<'_>| {
            use std::os::fd::AsRawFd;
            let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one live pollfd, no wait.
            unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
        };
        let q = ResultQueue::default();
        let zero = Some(Duration::ZERO);
        q.push(result(1)); // before the descriptor exists
        let fd = q.readiness(|_| false).unwrap();
        assert!(readable(fd), "created with a result waiting");
        q.poll(5, zero, None, |_| false, || false, Delivery::CallerCode, |_| {}).unwrap();
        assert!(!readable(fd), "reset when the last result is taken");
        q.push(result(2));
        q.push(result(3));
        assert!(readable(fd));
        q.poll(1, zero, None, |_| false, || false, Delivery::CallerCode, |_| {}).unwrap();
        assert!(readable(fd), "one result still waits");
        q.poll(1, zero, None, |d| d == 3, || false, Delivery::CallerCode, |_| {}).unwrap();
        assert!(readable(fd), "done: stays readable so that the loop sees it");
        let q = ResultQueue::default();
        let fd = q.readiness(|_| false).unwrap();
        assert!(!readable(fd));
        q.raise_if_done(|delivered| delivered == 0);
        assert!(readable(fd), "finished with nothing to deliver");
    }
}
