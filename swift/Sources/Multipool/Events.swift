import CMultipool

/// One event of a session (`Session.events`): a chunk of a file, or a file's result, which comes
/// after every chunk of that file.
public enum Event: Sendable, CustomStringConvertible {
    /// A chunk of a file (only in a session with a chunker).
    case chunk(ChunkEvent)
    /// A file's result: its last event.
    case result(FileResult)

    /// The file the event is of.
    @inlinable
    public var fileID: FileID {
        switch self {
        case .chunk(let chunk): chunk.fileID
        case .result(let result): result.fileID
        }
    }

    /// The file's path, the bytes given to `add`.
    @inlinable
    public var path: PathBytes {
        switch self {
        case .chunk(let chunk): chunk.path
        case .result(let result): result.path
        }
    }

    public var description: String {
        switch self {
        case .chunk(let chunk): chunk.description
        case .result(let result): result.description
        }
    }
}

/// A chunk of a file, as the library cut it while it read the file: where it is in the file,
/// and its digest. It is the file's only if the file's result is `.ok` and has its `attempt`
/// (a file read twice, or one that failed after some of its chunks were delivered, makes chunk
/// events that are not its chunks: drop them).
///
/// Two words, as `FileResult`: the events of one poll of the library share a block, and a
/// chunk event is that block and an index. A chunk event held keeps its block alive (up to 256
/// events, some 60 KB).
public struct ChunkEvent: Sendable, CustomStringConvertible {
    @usableFromInline let block: EventBlock
    @usableFromInline let slot: Int

    init(block: EventBlock, slot: Int) {
        self.block = block
        self.slot = slot
    }

    @inlinable
    var event: UnsafeMutablePointer<multipool_event> { block.events + slot }

    /// The file's path, the bytes given to `add`.
    @inlinable
    public var path: PathBytes { block.paths[slot] }
    /// The file it is a chunk of: its result has the same `fileID`.
    @inlinable
    public var fileID: FileID { FileID(rawValue: event.pointee.tag) }
    /// The read of the file that cut it (as `FileResult.attempt`).
    @inlinable
    public var attempt: Int { Int(event.pointee.attempt) }
    /// Its place among the file's chunks, from 0.
    @inlinable
    public var index: Int { Int(truncatingIfNeeded: event.pointee.index) }
    /// Its first byte's offset in the file.
    @inlinable
    public var offset: UInt64 { event.pointee.offset }
    /// Its length in bytes.
    @inlinable
    public var length: Int { Int(truncatingIfNeeded: event.pointee.length) }
    /// Its digest (`Options.chunkDigest`): 32 bytes.
    @inlinable
    public var digest: Digest {
        Digest(storage: event.pointee.digest, count: Int(min(event.pointee.digest_len, 64)))
    }

    /// `OFFSET LENGTH DIGEST`, as `mphash --chunks` prints a chunk.
    public var description: String {
        "\(offset) \(length) \(digest.hex)"
    }
}

/// A session's events as they come: `for try await event in session.events`.
///
/// **What comes.** In a session with a chunker (`Options.chunker`), each file's chunk events
/// in offset order (`index` 0, 1, 2…), then its result, last; in a session without one, the
/// results alone, as `Session.results` gives them. A file's chunk events are its chunks only if
/// its result is `.ok` and has their `attempt`; a file that fails or changes after some of its
/// chunks were delivered ends with a result that says so, and the caller drops what it got for
/// it.
///
/// **Order.** One iteration sees each file's events in that order. Events of different files
/// come interleaved, in no promised order. Several iterations may run at once, each in its own
/// task: each event goes to exactly one of them, so one file's chunks may be split among them
/// (each still in order), and its result may reach one iteration before another has handed out
/// that file's earlier chunks: route by `fileID`, and use the result's `chunks` to know when a
/// file's chunks are all in.
///
/// **Batching.** An iteration takes up to 256 events per call into the library
/// (`multipool_session_poll_events`, with a timeout of 0), and hands them out one by one;
/// waiting, the end, task cancellation and what an iteration stopped early leaves (its taken
/// events go back to the session, and a later iteration delivers them first, in order) are as
/// for `Results`.
///
/// **Bounds.** Chunk events wait for the caller up to `Options.maxReadyChunks`; then the files
/// that make them pause their reading (each giving its device's turn back) until the caller
/// takes some, while other files' results keep coming.
///
/// `next()` throws `CancellationError`, or a `MultipoolError` if the library failed.
public struct Events: AsyncSequence, Sendable {
    public typealias Element = Event

    let session: Session

    public func makeAsyncIterator() -> Iterator {
        Iterator(batch: EventBatch(session: session))
    }

    /// An iteration of a session's events. Not `Sendable`: it belongs to the task that
    /// iterates, and holds the batch of events it took from the library.
    public struct Iterator: AsyncIteratorProtocol {
        @usableFromInline let batch: EventBatch

        init(batch: EventBatch) {
            self.batch = batch
        }

        @inlinable
        public mutating func next() async throws -> Event? {
            if let event = try batch.take() { return event }
            return try await batch.refillOrWait()
        }

        /// `next()` on the caller's actor (SE-0421; what `for try await` calls): an event that
        /// is ready is handed over without leaving it. Only a wait leaves it.
        @available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, visionOS 2.0, *)
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Event? {
            if let event = try batch.take() { return event }
            return try await batch.refillOrWait(isolation: actor)
        }
    }
}

/// The events of one poll of the library as it wrote them, and each one's path. Filled under
/// the session's lock before any of its events is handed out, then only read:
/// `@unchecked Sendable` as `ResultBlock`. A result's record is copied into a `ResultBlock` of
/// its own (a `FileResult` is the same whichever way it came).
@usableFromInline
final class EventBlock: @unchecked Sendable {
    static let capacity = 256

    @usableFromInline let events = UnsafeMutablePointer<multipool_event>.allocate(capacity: EventBlock.capacity)
    /// Event `i`'s path; `paths[0..<pathCount]` are initialized.
    @usableFromInline let paths = UnsafeMutablePointer<PathBytes>.allocate(capacity: EventBlock.capacity)
    var pathCount = 0

    init() {}

    deinit {
        paths.deinitialize(count: pathCount)
        paths.deallocate()
        events.deallocate()
    }
}

/// One iteration's events taken from the library and not yet handed out; as `Batch` is for
/// results.
@usableFromInline
final class EventBatch {
    let session: Session
    /// Events `cursor[0]..<cursor[1]` are initialized and not yet handed out.
    @usableFromInline let events = UnsafeMutablePointer<Event>.allocate(capacity: EventBlock.capacity)
    @usableFromInline let cursor = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    /// Where the next poll writes, kept across polls that find nothing (or only results).
    private var block: EventBlock?

    init(session: Session) {
        self.session = session
        cursor.initialize(repeating: 0, count: 2)
    }

    deinit {
        let left = cursor[1] - cursor[0]
        if left > 0 {
            let start = events + cursor[0]
            session.eventLeftovers.withLock { leftovers in
                leftovers.append(contentsOf: UnsafeBufferPointer(start: start, count: left))
            }
            start.deinitialize(count: left)
        }
        events.deallocate()
        cursor.deallocate()
    }

    /// The next event of the batch, if any is left; whether the task was cancelled every 16th
    /// (see `Batch.take`).
    @inlinable @inline(__always)
    func take() throws(CancellationError) -> Event? {
        let at = cursor[0]
        guard at < cursor[1] else { return nil }
        if at & 15 == 15 {
            try Batch.checkCancellation()
        }
        cursor[0] = at + 1
        return (events + at).move()
    }

    /// A new batch's first event: the session's leftovers or the library's ready events,
    /// waiting for the readiness descriptor while there are none; nil at the end.
    @usableFromInline
    func refillOrWait(isolation actor: isolated (any Actor)? = #isolation) async throws -> Event? {
        while true {
            try Batch.checkCancellation()
            let block = self.block ?? EventBlock()
            guard let (count, keep) = try session.refill(events: events, block: block).map({ $0 }) else {
                return nil
            }
            self.block = keep ? block : nil
            if count > 0 {
                cursor[0] = 1
                cursor[1] = count
                return events.move()
            }
            try await session.readinessSource().wait()
        }
    }
}

extension Session {
    /// Initializes up to `EventBlock.capacity` events at `events`: first those an iteration
    /// left, in order, else the library's that are ready (one poll into `block`, with a timeout
    /// of 0), each with its path from the table. How many, and whether `block` is free for the
    /// next poll (no chunk event refers to it); nil once the session is done and every event
    /// delivered.
    func refill(events: UnsafeMutablePointer<Event>, block: EventBlock) throws(MultipoolError) -> (Int, Bool)? {
        let capacity = EventBlock.capacity
        let left = eventLeftovers.withLock { leftovers -> Int in
            let count = min(leftovers.count, capacity)
            if count > 0 {
                leftovers.withUnsafeBufferPointer { buffer in
                    _ = UnsafeMutableBufferPointer(start: events, count: count).initialize(from: buffer[..<count])
                }
                leftovers.removeFirst(count)
            }
            return count
        }
        if left > 0 { return (left, true) }
        while true {
            // The poll and the paths under the table's lock: a chunk event's path is looked up
            // before its file's result (polled with it or after it) takes the path away.
            let (status, polled, delivered, chunks) = paths.withLock { table -> (UInt32, Int, Int, Int) in
                var count = 0
                let status = multipool_session_poll_events(
                    handle, block.events, MemoryLayout<multipool_event>.stride, capacity, 0, &count)
                guard status == UInt32(MULTIPOOL_OK), count > 0 else { return (status, 0, 0, 0) }
                var resultCount = 0
                for i in 0..<count where block.events[i].kind == UInt32(MULTIPOOL_EVENT_RESULT) {
                    resultCount += 1
                }
                let results = resultCount > 0 ? ResultBlock(capacity: resultCount, algorithm: algorithm) : nil
                var (delivered, chunks, r) = (0, 0, 0)
                for i in 0..<count {
                    let event = block.events + i
                    switch event.pointee.kind {
                    case UInt32(MULTIPOOL_EVENT_CHUNK):
                        (block.paths + chunks).initialize(to: table.peek(event.pointee.tag))
                        if chunks != i {
                            // Events before it were results or unknown: keep chunk i at slot
                            // `chunks` (the block's event and path arrays side by side).
                            block.events[chunks] = event.pointee
                        }
                        (events + delivered).initialize(to: .chunk(ChunkEvent(block: block, slot: chunks)))
                        chunks += 1
                        delivered += 1
                    case UInt32(MULTIPOOL_EVENT_RESULT):
                        let results = results!
                        results.records[r] = event.pointee.result
                        table.take(event.pointee.result.tag, into: results, at: r)
                        (events + delivered).initialize(to: .result(FileResult(block: results, index: r)))
                        r += 1
                        delivered += 1
                    default:
                        break  // a kind of a newer library, which this package does not know
                    }
                }
                block.pathCount = chunks
                table.compact()
                return (status, count, delivered, chunks)
            }
            switch status {
            case UInt32(MULTIPOOL_OK):
                break
            case UInt32(MULTIPOOL_TIMEOUT):
                return (0, true)
            case UInt32(MULTIPOOL_DONE):
                return nil
            default:
                throw MultipoolError(status: Status(rawValue: status))
            }
            if polled == 0 || delivered > 0 {
                return (delivered, chunks == 0)
            }
            // Only kinds this package does not know: poll again rather than wait.
        }
    }
}
