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
/// **Task cancellation** ends the iteration as a cancelled `context` ends the Go binding's: a
/// waiting `next()` throws `CancellationError` at once, and so does a `next()` that would go back
/// to the library; while results flow from a batch already taken, within 16 results (looking up
/// the current task costs more than handing a result over, so it is looked at every 16th). It
/// does not cancel the session: hashing goes on, and the results not yet delivered wait for the
/// next iteration — call `session.cancel()` to stop the work itself.
///
/// **Nothing is lost.** An iteration takes results from the library a batch at a time; when it
/// stops early (`break`, an error, a cancelled task) the results of its batch not yet handed
/// out go back to the session as its iterator is dropped, and a later iteration delivers them
/// first. Several iterations may run at once, each in its own task; each result goes to exactly
/// one of them.
///
/// `next()` throws `CancellationError`, or a `MultipoolError` if the library failed (no
/// descriptor could be made for waiting: `.resourceExhausted`; a bug: `.internal`).
public struct Results: AsyncSequence, Sendable {
    public typealias Element = FileResult

    let session: Session

    public func makeAsyncIterator() -> Iterator {
        Iterator(batch: Batch(session: session))
    }

    /// An iteration of a session's results. Not `Sendable`, as most iterators: it belongs to
    /// the task that iterates (each task iterates with an iterator of its own, which
    /// `for try await` makes), and holds the batch of results it took from the library.
    public struct Iterator: AsyncIteratorProtocol {
        @usableFromInline let batch: Batch

        init(batch: Batch) {
            self.batch = batch
        }

        // Inlinable, so that a result that is ready costs the caller no async call of its own
        // (a frame on the task's allocator); only refilling the batch and waiting are calls.
        @inlinable
        public mutating func next() async throws -> FileResult? {
            if let result = try batch.take() { return result }
            return try await batch.refillOrWait()
        }

        /// `next()` on the caller's actor (SE-0421; what `for try await` calls): a result that
        /// is ready is handed over without leaving it, where `next()` would hop to the global
        /// executor and back for each one. Only a wait leaves it.
        @available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> FileResult? {
            if let result = try batch.take() { return result }
            return try await batch.refillOrWait(isolation: actor)
        }
    }
}

/// One iteration's results taken from the library and not yet handed out. A class for its
/// deinit, which hands what is left back to the session. Its hot state is in memory of its own
/// (pointers held by `let`s), not in `var`s of the class, which would cost dynamic exclusivity
/// checks on every result.
@usableFromInline
final class Batch {
    static let capacity = ResultBlock.capacity

    let session: Session
    /// Results `cursor[0]..<cursor[1]` are initialized and not yet handed out.
    @usableFromInline let results = UnsafeMutablePointer<FileResult>.allocate(capacity: Batch.capacity)
    @usableFromInline let cursor = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    /// Where the next poll writes, kept across polls that find nothing.
    private var block: ResultBlock?

    init(session: Session) {
        self.session = session
        cursor.initialize(repeating: 0, count: 2)
    }

    deinit {
        let left = cursor[1] - cursor[0]
        if left > 0 {
            let start = results + cursor[0]
            session.leftovers.withLock { leftovers in
                leftovers.append(contentsOf: UnsafeBufferPointer(start: start, count: left))
            }
            start.deinitialize(count: left)
        }
        results.deallocate()
        cursor.deallocate()
    }

    /// `Task.checkCancellation()` without retaining and releasing the task (which that does,
    /// and which costs more than the rest of handing out a ready result).
    @inlinable
    static func checkCancellation() throws(CancellationError) {
        if withUnsafeCurrentTask(body: { $0?.isCancelled ?? false }) {
            throw CancellationError()
        }
    }

    /// The next result of the batch, if any is left. Every 16th result, whether the task was
    /// cancelled: the check costs about 50 ns on Linux (`withUnsafeCurrentTask` retains and
    /// releases the task), twice what the C API spends to hand out a result. Inlinable, so that
    /// handing out a ready result is no call at all.
    @inlinable @inline(__always)
    func take() throws(CancellationError) -> FileResult? {
        let at = cursor[0]
        guard at < cursor[1] else { return nil }
        if at & 15 == 15 {
            try Batch.checkCancellation()
        }
        cursor[0] = at + 1
        return (results + at).move()
    }

    /// A new batch's first result: the session's leftovers or the library's ready results,
    /// waiting for the readiness descriptor while there are none; nil at the end.
    @usableFromInline
    func refillOrWait(isolation actor: isolated (any Actor)? = #isolation) async throws -> FileResult? {
        while true {
            try Batch.checkCancellation()
            let block = self.block ?? ResultBlock(algorithm: session.algorithm)
            guard let count = try session.refill(results: results, block: block) else {
                return nil
            }
            self.block = count > 0 ? nil : block  // a block with results belongs to them
            if count > 0 {
                cursor[0] = 1
                cursor[1] = count
                return results.move()
            }
            try await session.readinessSource().wait()
        }
    }
}

extension Session {
    /// Initializes up to `ResultBlock.capacity` results at `results`: first those an iteration
    /// left, else the library's that are ready (one poll into `block`, with a timeout of 0),
    /// each with its path from the table. How many; nil once the session is done and every
    /// result delivered. Results of `block` only if it returns more than 0 from a poll.
    func refill(results: UnsafeMutablePointer<FileResult>, block: ResultBlock) throws(MultipoolError) -> Int? {
        let capacity = ResultBlock.capacity
        let left = leftovers.withLock { leftovers -> Int in
            let count = min(leftovers.count, capacity)
            if count > 0 {
                leftovers.withUnsafeBufferPointer { buffer in
                    _ = UnsafeMutableBufferPointer(start: results, count: count)
                        .initialize(from: buffer[(buffer.count - count)...])
                }
                leftovers.removeLast(count)
            }
            return count
        }
        if left > 0 { return left }
        var count = 0
        let status = multipool_session_poll(
            handle, block.records, MemoryLayout<multipool_result>.stride, capacity, 0, &count)
        switch status {
        case UInt32(MULTIPOOL_OK):
            break
        case UInt32(MULTIPOOL_TIMEOUT):
            return 0
        case UInt32(MULTIPOOL_DONE):
            return nil
        default:
            throw MultipoolError(status: Status(rawValue: status))
        }
        // The paths of the whole batch under one lock.
        paths.withLock { table in
            for i in 0..<count {
                table.take(block.records[i].tag, into: block, at: i)
            }
            table.compact()
        }
        for i in 0..<count {
            (results + i).initialize(to: FileResult(block: block, index: i))
        }
        return count
    }
}
