//! The session's thread pools: one per device, indexed like the device table, and the
//! page-cache pool; each joins its threads when dropped. [`Pools::scoped`] opens a scope in every
//! pool at once (through [`multi_scope`]) and hands them out by name, not by position.

use super::multi_scope::multi_scope;
use crate::device::Device;
use rayon::{Scope, ThreadPool};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Every pool of a session. `devices[i]` is device `i`'s pool, `None` if it could not be built.
#[derive(Debug, Default)]
pub(super) struct Pools {
    devices: Vec<Option<DevicePool>>,
    cache: Option<DevicePool>,
}

/// The scopes of one epoch, named: `by_device[i]` is device `i`'s, `cache` the page-cache pool's.
pub(super) struct Scopes<'a, 's> {
    by_device: Vec<Option<&'a Scope<'s>>>,
    cache: Option<&'a Scope<'s>>,
}

impl<'s> Scopes<'_, 's> {
    /// Device `index`'s scope, if its pool is open in this epoch.
    pub(super) fn device(&self, index: usize) -> Option<&Scope<'s>> {
        self.by_device.get(index).copied().flatten()
    }

    /// The page-cache pool's scope, if it is open.
    pub(super) fn cache(&self) -> Option<&Scope<'s>> {
        self.cache
    }

    /// How many devices this epoch's scopes cover (open or failed): those known when it began.
    pub(super) fn devices(&self) -> usize {
        self.by_device.len()
    }
}

impl Pools {
    /// Builds the pool of every device in `devices` that has none yet, and returns the indexes
    /// of those whose pool could not be built (out of threads).
    pub(super) fn build(&mut self, devices: &[Arc<Device>]) -> Vec<usize> {
        let mut failed = Vec::new();
        for device in devices.get(self.devices.len()..).unwrap_or_default() {
            let pool = DevicePool::new(format!("mp{}", device.index), device.threads).ok();
            if pool.is_none() {
                failed.push(device.index);
            }
            self.devices.push(pool);
        }
        failed
    }

    /// Builds the page-cache pool if there is none; returns whether there is one.
    pub(super) fn build_cache(&mut self, threads: usize) -> bool {
        if self.cache.is_none() {
            self.cache = DevicePool::new("mpcache".into(), threads).ok();
        }
        self.cache.is_some()
    }

    /// Runs `op` with a scope open in every pool (see [`multi_scope`]): tasks spawned into them
    /// may borrow anything that outlives this call, and all have finished when it returns.
    pub(super) fn scoped<'s, R>(&self, op: impl FnOnce(&Scopes<'_, 's>) -> R) -> R {
        let open: Vec<(usize, &ThreadPool)> = self
            .devices
            .iter()
            .enumerate()
            .filter_map(|(index, pool)| pool.as_ref().map(|pool| (index, pool.pool())))
            .collect();
        let mut pools: Vec<&ThreadPool> = open.iter().map(|(_, pool)| *pool).collect();
        pools.extend(self.cache.as_ref().map(DevicePool::pool));
        multi_scope(&pools, |scopes| {
            let mut by_device = vec![None; self.devices.len()];
            for ((index, _), scope) in open.iter().zip(scopes) {
                by_device[*index] = Some(*scope);
            }
            // The cache's scope is the one after the devices', if there is a cache pool.
            let cache = scopes.get(open.len()).copied();
            op(&Scopes { by_device, cache })
        })
    }
}

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
                let mut builder = std::thread::Builder::new();
                if let Some(name) = thread.name() {
                    builder = builder.name(name.to_owned());
                }
                handles.push(builder.spawn(|| thread.run())?);
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

    pub(crate) fn pool(&self) -> &ThreadPool {
        self.pool.as_ref().expect("present until drop")
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
