//! `multi_scope`: one rayon scope per thread pool, all open at once.

use rayon::{Scope, ThreadPool};

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
}
