import CMultipool

/// A session's results as they complete: `for try await result in session.results`.
///
/// **Waiting** holds no thread. An iteration takes whatever results are ready from the library
/// (up to 256 per call, `multipool_session_poll` with a timeout of 0); when none are, it
/// suspends until the library's readiness descriptor (`multipool_session_ready_fd`) is readable,
/// which a `DispatchSource` read source watches. A hundred tasks waiting on one session are a
/// hundred suspended tasks, not a hundred blocked threads.
///
/// **The end.** The iteration ends (`next()` returns nil) once the session is finished or
/// cancelled and every result has been delivered; until then it waits for more.
///
/// **Task cancellation** ends the iteration as a cancelled `context` ends the Go binding's: the
/// waiting `next()` throws `CancellationError` at once (and a `next()` called in a cancelled task
/// throws before taking anything). It does not cancel the session: hashing goes on, and the
/// results not yet delivered wait for the next iteration — call `session.cancel()` to stop the
/// work itself.
///
/// **Nothing is lost.** Results taken from the library wait in the session, not in an
/// iterator, so leaving a loop early (`break`, an error, a cancelled task) loses none: a later
/// iteration delivers them. Several iterations may run at once, from any tasks; each result
/// goes to exactly one of them.
///
/// `next()` throws `CancellationError`, or a `MultipoolError` if the library failed (no
/// descriptor could be made for waiting: `.resourceExhausted`; a bug: `.internal`).
public struct Results: AsyncSequence, Sendable {
    public typealias Element = FileResult

    let session: Session

    public func makeAsyncIterator() -> Iterator {
        Iterator(session: session)
    }

    /// An iteration of a session's results. `Sendable`: it holds only the session, and all its
    /// state is the session's.
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let session: Session

        public mutating func next() async throws -> FileResult? {
            while true {
                try Task.checkCancellation()
                switch try session.take() {
                case .result(let result): return result
                case .done: return nil
                case .none: try await session.readinessSource().wait()
                }
            }
        }
    }
}

/// What `take` found.
enum Taken {
    case result(FileResult)
    case none  // nothing ready: wait for the descriptor
    case done  // finished, and everything delivered
}

/// The results a session took from the library and has not handed out yet, and the memory of
/// one poll. Used under the session's lock.
struct Delivery {
    static let batch = 256

    var pending = ContiguousArray<FileResult>()
    var head = 0
    let buffer = UnsafeMutablePointer<multipool_result>.allocate(capacity: Delivery.batch)
    var tags = [UInt64](repeating: 0, count: Delivery.batch)
    var paths = ContiguousArray<PathBytes>()

    func release() {
        buffer.deallocate()
    }
}

extension Session {
    /// The next result: one already taken from the library, else the first of a new batch.
    func take() throws(MultipoolError) -> Taken {
        try delivery.withLock { (d) throws(MultipoolError) -> Taken in
            if d.head < d.pending.count {
                d.head += 1
                return .result(d.pending[d.head - 1])
            }
            var count = 0
            let status = multipool_session_poll(
                handle, d.buffer, MemoryLayout<multipool_result>.stride, Delivery.batch, 0, &count)
            switch status {
            case UInt32(MULTIPOOL_OK):
                break
            case UInt32(MULTIPOOL_TIMEOUT):
                return .none
            case UInt32(MULTIPOOL_DONE):
                return .done
            default:
                throw MultipoolError(status: Status(rawValue: status))
            }
            let buffer = d.buffer
            var tags = d.tags
            d.tags = []
            var found = d.paths
            d.paths = []
            for i in 0..<count {
                tags[i] = buffer[i].tag
            }
            // The paths of the whole batch under one lock.
            found.removeAll(keepingCapacity: true)
            tags.withUnsafeBufferPointer { tags in
                paths.withLock { $0.take(UnsafeBufferPointer(rebasing: tags[0..<count]), into: &found) }
            }
            d.pending.removeAll(keepingCapacity: true)
            for i in 0..<count {
                d.pending.append(FileResult(path: found[i], buffer + i))
            }
            found.removeAll(keepingCapacity: true)
            d.tags = tags
            d.paths = found
            d.head = 1
            return .result(d.pending[0])
        }
    }
}
