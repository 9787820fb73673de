//! A rayon pool whose threads are joined when it is dropped.

use super::memory::STACK_SIZE;
use rayon::ThreadPool;
use std::thread::JoinHandle;

/// One device's thread pool.
///
/// Dropping a plain `ThreadPool` only *asks* its threads to stop; they may still be running after
/// the caller has unloaded the library or reported leaks. This wrapper spawns the threads itself
/// and joins them on drop, so that freeing a session leaves no thread behind.
#[derive(Debug)]
pub(crate) struct DevicePool {
    pool: Option<ThreadPool>,
    threads: Vec<JoinHandle<()>>,
}

impl DevicePool {
    /// A pool of `threads` threads named `{name}.{i}` (keep `name` under 12 bytes: Linux
    /// truncates thread names to 15).
    pub(crate) fn new(name: String, threads: usize) -> std::io::Result<DevicePool> {
        let mut handles = Vec::with_capacity(threads);
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("{name}.{i}"))
            .spawn_handler(|thread| {
                let mut builder = std::thread::Builder::new().stack_size(STACK_SIZE);
                if let Some(name) = thread.name() {
                    builder = builder.name(name.to_owned());
                }
                handles.push(builder.spawn(|| {
                    let _hidden = crate::sys::hidden_from_thread_sanitizer();
                    thread.run()
                })?);
                Ok(())
            })
            .build();
        match built {
            Ok(pool) => Ok(DevicePool { pool: Some(pool), threads: handles }),
            Err(err) => {
                // rayon stops the threads it did start when the build fails; wait for them.
                handles.into_iter().for_each(|h| drop(h.join()));
                Err(std::io::Error::other(err))
            }
        }
    }

    /// How many threads the pool has.
    pub(crate) fn threads(&self) -> usize {
        self.threads.len()
    }

    pub(crate) fn pool(&self) -> &ThreadPool {
        self.pool.as_ref().expect("present until drop")
    }
}

/// What a pool joining the session's `MultiScope` lends: the pool, owned by the thread of its
/// scope and dropped (its threads joined) once the scope has ended.
impl std::borrow::Borrow<ThreadPool> for DevicePool {
    fn borrow(&self) -> &ThreadPool {
        self.pool()
    }
}

impl Drop for DevicePool {
    fn drop(&mut self) {
        // Dropping the pool tells its threads to exit once idle; then wait until they have.
        drop(self.pool.take());
        for handle in self.threads.drain(..) {
            // A worker that panicked has already reported it; nothing more to do here.
            drop(handle.join());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_named_and_joined_on_drop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static EXITED: AtomicUsize = AtomicUsize::new(0);
        struct CountsExit;
        impl Drop for CountsExit {
            fn drop(&mut self) {
                EXITED.fetch_add(1, Ordering::SeqCst);
            }
        }
        thread_local!(static MARK: CountsExit = const { CountsExit });

        let pool = DevicePool::new("mp3".into(), 2).unwrap();
        let name = pool.pool().install(|| std::thread::current().name().map(str::to_owned));
        assert!(name.unwrap().starts_with("mp3."));
        pool.pool().broadcast(|_| MARK.with(|_| ()));
        assert_eq!(EXITED.load(Ordering::SeqCst), 0);
        drop(pool);
        // Thread-local destructors run as a thread exits: both have, before drop returned.
        assert_eq!(EXITED.load(Ordering::SeqCst), 2);
    }
}
