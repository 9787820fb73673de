//! `multi_scope`: one rayon scope per thread pool, all open at once; and
//! [`multi_scope_open`], the form pools join while it is open, which the engine stands on.
//!
//! The fixed-set form nests [`ThreadPool::in_place_scope`] on the calling thread, so every pool
//! must be known before it opens. A device met mid-session has a pool that did not exist then;
//! leaving and re-entering the nest to add it would wait for every other pool's tasks (one
//! stalled device would hold back all). So the open form gives each joined pool a thread of its
//! own, inside one [`std::thread::scope`]: that thread enters the pool's `in_place_scope` and
//! runs the caller's closure there, and the pool's scope stays open as long as that closure and
//! its tasks run, independently of every other pool's. Every task may borrow what outlives the
//! whole call; the call returns once `op` and every joined scope have ended. The fixed-set form
//! cannot be a thin case of the open one: it hands `op` all the scopes at once on the calling
//! thread, where the open form's scopes live on threads of their own.

use rayon::{Scope, ThreadPool};
use std::borrow::Borrow;
use std::thread::ScopedJoinHandle;

/// Opens one [`Scope`] in each of `pools` and runs `op` with all of them, on the calling thread.
///
/// Tasks spawned into `scopes[i]` run on `pools[i]` and may borrow anything that outlives the
/// call, exactly as with a single [`rayon::scope`]. `multi_scope` returns once `op` has returned
/// and every task spawned into any of the scopes has finished.
///
/// The scopes are nested with [`ThreadPool::in_place_scope`], so `op` runs on the *calling*
/// thread, never on a pool's worker. `op` may therefore block (wait on a channel, a condition
/// variable) while its tasks run, even if every pool has a single thread. Nesting
/// [`ThreadPool::scope`] instead would run `op` on a worker of the last pool, and a blocking `op`
/// would deadlock a one-thread pool — the hard-disk case this crate exists for.
///
/// If a task panics, the panic is propagated once all tasks have finished, as rayon does.
///
/// # Example
/// ```
/// use multipool::multi_scope;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let hdd = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// let ssd = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
/// let hashed = AtomicUsize::new(0); // borrowed by the tasks: no Arc, no 'static
/// multi_scope(&[&hdd, &ssd], |scopes| {
///     for file in 0..10 {
///         scopes[file % 2].spawn(|_| {
///             hashed.fetch_add(1, Ordering::Relaxed);
///         });
///     }
/// });
/// assert_eq!(hashed.load(Ordering::Relaxed), 10);
/// ```
///
/// A task cannot outlive what it borrows:
/// ```compile_fail
/// use multipool::multi_scope;
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// multi_scope(&[&pool], |scopes| {
///     let local = vec![1, 2, 3];
///     scopes[0].spawn(|_| drop(local.len())); // `local` dies before the task may run
/// });
/// ```
pub fn multi_scope<'scope, OP, R>(pools: &[&ThreadPool], op: OP) -> R
where
    OP: FnOnce(&[&Scope<'scope>]) -> R,
{
    nest(pools, Vec::with_capacity(pools.len()), op)
}

/// Runs `op` with a [`MultiScope`] that thread pools may join while it is open, from any
/// thread of it, at any time until `op` returns; returns once `op` has returned and every joined
/// pool's scope has ended (its closure returned and all the tasks spawned into it finished).
///
/// `op` runs on the calling thread and may block there (wait for results, sleep) while the pools
/// work, even if every pool has a single thread: a joined pool's closure runs on a thread of its
/// own, never on a pool worker, and never waits for another pool's tasks. Tasks may borrow
/// anything that outlives the call, as with [`rayon::scope`]. A panic in a task is propagated
/// to its pool's closure once all that scope's tasks have finished, and then, unless the
/// [`ScopedJoinHandle`] was joined, out of `multi_scope_open` once every thread has ended.
///
/// # Example
/// ```
/// use multipool::multi_scope_open;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let hdd = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// let ssd = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
/// let hashed = AtomicUsize::new(0); // borrowed by the tasks: no Arc, no 'static
/// multi_scope_open(|m| {
///     m.join(&hdd, |scope| {
///         for _ in 0..3 {
///             scope.spawn(|_| {
///                 hashed.fetch_add(1, Ordering::Relaxed);
///             });
///         }
///     });
///     // A pool met later joins while the first one works.
///     m.join(&ssd, |scope| {
///         scope.spawn(|_| {
///             hashed.fetch_add(1, Ordering::Relaxed);
///         })
///     });
/// });
/// assert_eq!(hashed.load(Ordering::Relaxed), 4);
/// ```
///
/// A task cannot outlive what it borrows:
/// ```compile_fail
/// use multipool::multi_scope_open;
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// multi_scope_open(|m| {
///     let local = vec![1, 2, 3];
///     m.join(&pool, |scope| scope.spawn(|_| drop(local.len()))); // `local` dies first
/// });
/// ```
pub fn multi_scope_open<'env, OP, R>(op: OP) -> R
where
    OP: for<'scope> FnOnce(MultiScope<'scope, 'env>) -> R,
{
    std::thread::scope(|threads| op(MultiScope { threads }))
}

/// A [`multi_scope_open`] under way: what pools join. `Copy`, and may be sent to any thread
/// of the call (threads started with [`threads`](MultiScope::threads) or by a joined pool's
/// closure), which may join pools too.
#[derive(Clone, Copy, Debug)]
pub struct MultiScope<'scope, 'env: 'scope> {
    threads: &'scope std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> MultiScope<'scope, 'env> {
    /// Joins `pool` (borrowed, or owned and dropped once its scope has ended): runs `f` on a new
    /// thread, inside the pool's [`ThreadPool::in_place_scope`], and returns at once. Tasks
    /// spawned into the scope run on the pool and may borrow what outlives the
    /// [`multi_scope_open`] call.
    ///
    /// # Panics
    /// If the system refuses a thread; [`join_on`](MultiScope::join_on) returns that error.
    pub fn join<P, F>(self, pool: P, f: F) -> ScopedJoinHandle<'scope, ()>
    where
        P: Borrow<ThreadPool> + Send + 'scope,
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        self.join_on(std::thread::Builder::new(), pool, f).expect("failed to spawn a thread")
    }

    /// [`join`](MultiScope::join) on a thread made by `builder` (a name, a stack size); an
    /// error if the system refuses the thread, in which case `f` never runs.
    pub fn join_on<P, F>(
        self,
        builder: std::thread::Builder,
        pool: P,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, ()>>
    where
        P: Borrow<ThreadPool> + Send + 'scope,
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        builder.spawn_scoped(self.threads, move || {
            pool.borrow().in_place_scope(f);
            drop(pool); // after its scope: an owned pool goes once its tasks have
        })
    }

    /// [`join_on`](MultiScope::join_on) for a closure whose tasks borrow `data`, which the
    /// pool's thread owns for the length of the scope (a value made for this pool alone: its
    /// queue, say), and then drops. Tasks may borrow what `data` borrows too: `data` outlives
    /// every `'a` that `f` is called with, and so does everything `data` holds.
    pub fn join_with<P, D, F>(
        self,
        builder: std::thread::Builder,
        pool: P,
        data: D,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, ()>>
    where
        P: Borrow<ThreadPool> + Send + 'scope,
        D: Send + 'scope,
        F: for<'a> FnOnce(&'a D, &Scope<'a>) + Send + 'scope,
    {
        builder.spawn_scoped(self.threads, move || {
            pool.borrow().in_place_scope(|scope| f(&data, scope));
            drop(data);
            drop(pool);
        })
    }

    /// The thread scope beneath: threads started in it (which are no pool's) may use this
    /// `MultiScope` too, and [`multi_scope_open`] waits for them as well.
    pub fn threads(self) -> &'scope std::thread::Scope<'scope, 'env> {
        self.threads
    }
}

/// Opens the scope of `pools[0]`, then recurses with it appended to `opened`.
fn nest<'scope, OP, R>(pools: &[&ThreadPool], opened: Vec<&Scope<'scope>>, op: OP) -> R
where
    OP: FnOnce(&[&Scope<'scope>]) -> R,
{
    match pools.split_first() {
        None => op(&opened),
        Some((first, rest)) => first.in_place_scope(|scope| {
            // Rebinding shortens the borrows in the vector to this scope's, so it can hold it.
            let mut opened: Vec<&Scope<'scope>> = opened;
            opened.push(scope);
            nest(rest, opened, op)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_return;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    fn pool(threads: usize) -> ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    #[test]
    fn blocking_op_does_not_deadlock_one_thread_pools() {
        must_return("multi_scope with a blocking op", || {
            let hdd_a = pool(1);
            let hdd_b = pool(1);
            multi_scope(&[&hdd_a, &hdd_b], |scopes| {
                let (tx, rx) = mpsc::channel();
                for (i, scope) in scopes.iter().enumerate() {
                    let tx = tx.clone();
                    scope.spawn(move |_| tx.send(i).unwrap());
                }
                // `op` blocks until both one-thread pools have run a task. With nested
                // `ThreadPool::scope` this waits on hdd_b's only worker and never returns.
                let mut seen = [rx.recv().unwrap(), rx.recv().unwrap()];
                seen.sort();
                assert_eq!(seen, [0, 1]);
            });
        });
    }

    #[test]
    fn op_runs_on_the_calling_thread() {
        let one = pool(1);
        let caller = std::thread::current().id();
        multi_scope(&[&one], |_| assert_eq!(std::thread::current().id(), caller));
    }

    #[test]
    fn tasks_run_on_their_own_pool() {
        let pools: Vec<ThreadPool> = (0..3).map(|_| pool(1)).collect();
        let refs: Vec<&ThreadPool> = pools.iter().collect();
        let ran_on = std::sync::Mutex::new(Vec::new());
        multi_scope(&refs, |scopes| {
            assert_eq!(scopes.len(), 3);
            for (i, scope) in scopes.iter().enumerate() {
                let (ran_on, pools) = (&ran_on, &pools);
                scope.spawn(move |_| {
                    let index = pools[i].current_thread_index();
                    ran_on.lock().unwrap().push((i, index.is_some()));
                });
            }
        });
        let mut ran_on = ran_on.into_inner().unwrap();
        ran_on.sort();
        assert_eq!(ran_on, vec![(0, true), (1, true), (2, true)]);
    }

    #[test]
    fn returns_after_all_tasks_finished() {
        let pools = [pool(1), pool(2)];
        let done = AtomicUsize::new(0);
        let value = multi_scope(&[&pools[0], &pools[1]], |scopes| {
            for i in 0..100 {
                scopes[i % 2].spawn(|_| {
                    std::thread::sleep(Duration::from_micros(100));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            "result"
        });
        assert_eq!(value, "result");
        assert_eq!(done.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn no_pools_still_runs_op() {
        assert_eq!(multi_scope(&[], |scopes| scopes.len()), 0);
    }

    #[test]
    fn open_form_a_blocking_op_does_not_deadlock_one_thread_pools() {
        must_return("multi_scope_open with a blocking op", || {
            let (hdd_a, hdd_b) = (pool(1), pool(1));
            let (tx, rx) = mpsc::channel();
            multi_scope_open(|m| {
                for (i, pool) in [&hdd_a, &hdd_b].into_iter().enumerate() {
                    let tx = tx.clone();
                    m.join(pool, move |scope| scope.spawn(move |_| tx.send(i).unwrap()));
                }
                let mut seen = [rx.recv().unwrap(), rx.recv().unwrap()];
                seen.sort();
                assert_eq!(seen, [0, 1]);
            });
        });
    }

    #[test]
    fn open_form_a_pool_joins_late_while_another_is_busy() {
        must_return("a late join", || {
            // The first pool's only task waits for a task of a pool that joins after it started:
            // the join must not wait for the first pool's tasks.
            let (busy, late) = (pool(1), pool(1));
            let (tx, rx) = mpsc::channel::<()>();
            let finished = AtomicUsize::new(0);
            multi_scope_open(|m| {
                let finished = &finished;
                m.join(&busy, move |scope| {
                    scope.spawn(move |_| {
                        rx.recv().unwrap();
                        finished.fetch_add(1, Ordering::SeqCst);
                    })
                });
                std::thread::sleep(Duration::from_millis(10));
                m.join(&late, move |scope| scope.spawn(move |_| tx.send(()).unwrap()));
            });
            assert_eq!(finished.load(Ordering::SeqCst), 1, "returned after every task ended");
        });
    }

    fn spawn_25<'scope>(scope: &Scope<'scope>, count: &'scope AtomicUsize) {
        for _ in 0..25 {
            scope.spawn(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
    }

    #[test]
    fn open_form_joins_come_from_several_threads_and_own_or_borrow_their_pools() {
        let shared = pool(2);
        let count = AtomicUsize::new(0);
        multi_scope_open(|m| {
            let (count, shared) = (&count, &shared);
            for t in 0..4 {
                m.threads().spawn(move || {
                    // Borrowed by half of them; the others own a pool, dropped after its scope.
                    if t % 2 == 0 {
                        m.join(shared, move |scope| spawn_25(scope, count));
                    } else {
                        m.join(pool(1), move |scope| spawn_25(scope, count));
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn open_form_a_task_panic_comes_out_after_every_task_ended() {
        let (a, b) = (pool(1), pool(2));
        let finished = AtomicUsize::new(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            multi_scope_open(|m| {
                let finished = &finished;
                m.join(&a, |scope| scope.spawn(|_| panic!("a task's panic")));
                m.join(&b, move |scope| {
                    for _ in 0..10 {
                        scope.spawn(move |_| {
                            std::thread::sleep(Duration::from_millis(5));
                            finished.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            })
        }));
        assert!(caught.is_err(), "the panic was propagated");
        assert_eq!(finished.load(Ordering::SeqCst), 10, "after the other pool's tasks ended");
    }

    #[test]
    fn open_form_tasks_borrow_the_data_their_pools_thread_owns() {
        let outer = AtomicUsize::new(0);
        multi_scope_open(|m| {
            let outer = &outer;
            let builder = std::thread::Builder::new();
            let data = (outer, vec![1usize, 2, 3]);
            m.join_with(builder, pool(2), data, |data, scope| {
                for i in 0..3 {
                    scope.spawn(move |_| {
                        data.0.fetch_add(data.1[i], Ordering::SeqCst);
                    });
                }
            })
            .unwrap();
        });
        assert_eq!(outer.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn open_form_op_runs_on_the_calling_thread_and_the_pools_closures_do_not() {
        let one = pool(1);
        let caller = std::thread::current().id();
        multi_scope_open(|m| {
            assert_eq!(std::thread::current().id(), caller);
            let handle = m.join(&one, move |_| assert_ne!(std::thread::current().id(), caller));
            handle.join().unwrap();
        });
    }
}
