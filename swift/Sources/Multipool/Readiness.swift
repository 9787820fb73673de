import Dispatch

/// Waiting for the library's readiness descriptor without a thread: a `DispatchSource` read
/// source on it, resumed while some task waits and suspended as soon as it fires (the
/// descriptor stays readable while results wait, so a source left running would fire again and
/// again for results nobody is taking yet).
///
/// The descriptor is level-triggered: readable while results wait or the session is done, reset
/// by the library when a poll takes the last result. A waiter that polled, found nothing, and
/// then registers misses nothing: a result that came in between left the descriptor readable,
/// and the source fires once resumed.
///
/// `@unchecked Sendable`: the source is only resumed, suspended and cancelled under `state`'s
/// lock (or by the session's deinit, when no task can be waiting), and the rest is immutable.
final class Readiness: @unchecked Sendable {
    private struct State {
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter: UInt64 = 0
        var activated = false  // the source starts inactive
        var running = false  // activated or resumed, and not suspended since
    }

    private static let queue = DispatchQueue(label: "multipool.readiness")
    private let source: any DispatchSourceRead
    private let state = Locked(State())

    init(fd: Int32) {
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: Self.queue)
        source.setEventHandler { [unowned self] in self.fired() }
    }

    /// Returns once the descriptor is readable; throws `CancellationError` as soon as the task
    /// is cancelled.
    func wait() async throws {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                // A cancellation that came first found no waiter to resume; it set the flag
                // before it ran its handler, so the check under the lock sees it.
                let cancelled = state.withLock { state in
                    if Task.isCancelled { return true }
                    state.waiters[id] = waiter
                    if !state.running {
                        state.running = true
                        if state.activated {
                            source.resume()
                        } else {
                            state.activated = true
                            source.activate()
                        }
                    }
                    return false
                }
                if cancelled { waiter.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { state in state.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The event handler: wakes every waiter and stops the source until the next wait.
    private func fired() {
        let waiters = state.withLock { state in
            let waiters = state.waiters
            state.waiters.removeAll()
            if state.running {
                state.running = false
                source.suspend()
            }
            return waiters
        }
        for waiter in waiters.values {
            waiter.resume()
        }
    }

    /// Stops watching the descriptor, before the session closes it: returns once dispatch has
    /// let go of it. Only when no task waits (the session's deinit).
    func close() {
        let done = DispatchSemaphore(value: 0)
        source.setCancelHandler { done.signal() }
        source.cancel()
        state.withLock { state in
            // Dispatch requires a source to be neither inactive nor suspended when released.
            if !state.activated {
                source.activate()
            } else if !state.running {
                source.resume()
            }
            state.activated = true
            state.running = true
        }
        done.wait()
    }
}
