//! [`Engine`]: the session's handle on its state and its router thread.

use super::memory;
use super::path_store::Entry;
use super::results::{Delivery, Event, FileResult, PollOutcome};
use super::router;
use super::state::{State, Stop};
use crate::config::Config;
use crate::device::{Device, DeviceTable, Resolver};
use crate::stats::Stats;
use crate::{Error, Status};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running engine: the shared state, and the router thread that runs every other thread of
/// the session in its scope.
///
/// Dropping it closes the session and returns once the router, and with it every thread of the
/// session, has exited; [`abandon`](Engine::abandon) returns at once instead.
#[derive(Debug)]
pub(crate) struct Engine {
    state: Arc<State>,
    router: Option<JoinHandle<()>>,
}

impl Engine {
    /// Validates `config` and starts the router thread. Pools are created as devices are
    /// met. The memory check comes before anything is allocated, the `resolver` included.
    pub(crate) fn start(
        config: Config,
        resolver: impl FnOnce() -> Resolver,
    ) -> Result<Engine, Error> {
        config.validate()?;
        if !memory::fits(memory::SESSION_MINIMUM - memory::HEADROOM) {
            return Err(Status::ResourceExhausted.into());
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let table = DeviceTable::new(resolver(), config.threads.clone(), cpus);
        let state = Arc::new(State::new(config, cpus, table));
        state.reserve_results()?;
        let for_thread = Arc::clone(&state);
        let router = std::thread::Builder::new()
            .name("mp-router".into())
            .stack_size(memory::STACK_SIZE)
            .spawn(move || {
                let _hidden = crate::sys::hidden_from_thread_sanitizer();
                router::run(&for_thread)
            })
            .map_err(|_| Status::ResourceExhausted)?;
        Ok(Engine { state, router: Some(router) })
    }

    /// Queues paths as bytes with their tags, all or none.
    pub(crate) fn enqueue<'p>(
        &self,
        paths: impl IntoIterator<Item = (&'p [u8], u64)>,
    ) -> Result<(), Status> {
        let entry = |(path, tag)| Entry { path, tag, record: None, base: None };
        self.state.enqueue(paths.into_iter().map(entry))
    }

    /// Queues paths with what may come with them (prior records, a base directory), all or
    /// none.
    pub(crate) fn enqueue_entries<'p>(
        &self,
        entries: impl IntoIterator<Item = Entry<'p>>,
    ) -> Result<(), Status> {
        self.state.enqueue(entries)
    }

    /// No more paths will be enqueued.
    pub(crate) fn finish(&self) {
        self.state.finish();
    }

    /// Stops work; every path still gets a result.
    pub(crate) fn cancel(&self) {
        self.state.stop(Stop::Cancel);
    }

    /// Hands up to `max` results to `sink`, waiting up to `timeout` for the first.
    pub(crate) fn poll(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        delivery: Delivery,
        sink: impl FnMut(FileResult),
    ) -> Result<PollOutcome, Status> {
        self.state.poll(max, timeout, woken, delivery, sink)
    }

    /// Hands up to `max` events to `sink`, waiting up to `timeout` for the first.
    pub(crate) fn poll_events(
        &self,
        max: usize,
        timeout: Option<Duration>,
        woken: Option<u64>,
        delivery: Delivery,
        sink: impl FnMut(Event),
    ) -> Result<PollOutcome, Status> {
        self.state.poll_events(max, timeout, woken, delivery, sink)
    }

    /// Wakes every poller (see `State::wake`).
    pub(crate) fn wake(&self) {
        self.state.wake();
    }

    /// How many times `wake` was called.
    pub(crate) fn wake_generation(&self) -> u64 {
        self.state.wake_generation()
    }

    /// The readiness descriptor, created on first call.
    pub(crate) fn readiness(&self) -> Result<std::os::fd::BorrowedFd<'_>, Status> {
        self.state.readiness()
    }

    /// The session's progress.
    pub(crate) fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The devices met so far, in index order.
    pub(crate) fn devices(&self) -> Vec<Arc<Device>> {
        self.state.devices()
    }

    /// Device `index`, if it has been met.
    pub(crate) fn device(&self, index: usize) -> Option<Arc<Device>> {
        self.state.device(index)
    }

    /// Closes the session like drop, but returns at once: the session's threads exit, and free
    /// what they hold, on their own once every call they are in has returned. For a caller
    /// that must not block behind a read the kernel cannot interrupt (a hard-mounted NFS
    /// server that is down).
    pub(crate) fn abandon(mut self) {
        self.state.stop(Stop::Close);
        // Dropping the handle detaches the thread; the state lives on in its `Arc`.
        drop(self.router.take());
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.state.stop(Stop::Close);
        if let Some(router) = self.router.take() {
            // The router catches its own panics; a join error has nothing left to clean up.
            drop(router.join());
        }
    }
}
