import CMultipool

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(System)
import System
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A hashing session: paths in (`add`, in batches), one result per path out (`results`, an
/// `AsyncSequence`), each storage device read by its own pool of threads inside the library.
/// With a chunker (`Options.chunker`), each file's content-defined chunks come too, as events
/// before its result (`events`).
///
/// ```swift
/// let session = try Session(Options(algorithm: .blake3))
/// try session.add(paths)            // one call into the library per batch
/// session.finish()                  // no more paths: the results end after the last one
/// for try await result in session.results {
///     switch result.status {
///     case .ok: print(result.digest.hex, result.path)
///     default: print(result.error!)  // "PATH: No such file or directory"…
///     }
/// }
/// ```
///
/// Every result carries the file's `identity` as it was hashed; `Record(result:)` keeps it for
/// next time, and `add(_:records:)` gives it back: a file whose `stat` still matches its record
/// (`Options.recordPolicy`) is answered `.unchanged` with the record's digest, unopened.
/// `add(_:relativeTo:records:)` takes paths relative to an open directory, as `openat` resolves
/// them: past `PATH_MAX`, and safe against the directory's renaming.
///
/// **Sendable.** A session may be shared by any number of tasks and threads: every method may
/// be called from any of them at once, several may add while several iterate, and each result
/// goes to exactly one iteration. The C session is thread-safe (README, "API conventions"), and
/// the Swift side's own state — the table of paths by tag and the results taken from the
/// library but not yet handed out — sits behind a lock. The class holds no other mutable
/// state, so it is `Sendable` without being an actor: no call needs an `await` except waiting
/// for results.
///
/// **Lifetime.** The session lives while it is referenced, by the caller or by an iteration of
/// `results` (which holds it). When the last reference goes, `deinit` releases the C session
/// (`multipool_session_free`): work still queued or running is cancelled, and the release waits
/// for the session's threads, a file being read stopping at its next buffer. There is nothing
/// else to close; `finish()` is only needed to end the results.
public final class Session: Sendable {
    /// The C session; `nonisolated(unsafe)` because `OpaquePointer` is not `Sendable`, while
    /// every function of the C API except `multipool_session_free` (called by deinit alone) is
    /// thread-safe.
    nonisolated(unsafe) let handle: OpaquePointer
    /// The algorithm of every digest.
    public let algorithm: Algorithm
    let paths = Locked(PathTable())
    /// Results taken from the library by iterations that stopped before handing them out.
    let leftovers = Locked(ContiguousArray<FileResult>())
    /// Events taken from the library by iterations of `events` that stopped before handing
    /// them out, in the order they came.
    let eventLeftovers = Locked(ContiguousArray<Event>())
    private let readiness = Locked<Readiness?>(nil)

    /// Starts a session: a router thread, and pools as devices are met. Throws
    /// `.invalidThreadsSpec` for a spec that does not parse, `.invalidArgument` for an option out
    /// of range, `.invalidChunker` for chunking options out of theirs (see `Chunker`),
    /// `.resourceExhausted` when no thread could be started.
    public init(_ options: Options = Options()) throws(MultipoolError) {
        var c = try options.c()
        var spec = Array(options.threads.utf8)
        var session: OpaquePointer?
        let status = spec.withUnsafeMutableBufferPointer { spec in
            c.threads_spec = UnsafePointer(spec.baseAddress)
            c.threads_spec_len = spec.count
            return multipool_session_new(&c, &session)
        }
        guard status == UInt32(MULTIPOOL_OK), let session else {
            throw MultipoolError(status: Status(rawValue: status))
        }
        handle = session
        algorithm = options.algorithm
    }

    deinit {
        // No iteration can be waiting: each holds the session.
        readiness.withLock { $0?.close() }
        multipool_session_free(handle)
        paths.withLock { $0.removeAll() }
    }

    // MARK: Adding paths

    /// Queues paths for hashing, all of them or none, in one call into the library
    /// (`multipool_session_enqueue_buffer`: one buffer of their bytes, one array of lengths,
    /// one of tags). What is wrong with a path (missing, a directory, a FIFO, a NUL inside)
    /// comes back as its result, not from here. Throws `.sessionFinished` after `finish()`,
    /// `.sessionCancelled` after `cancel()`, `.resourceExhausted` when the library has no
    /// memory left for them (none is queued then).
    public func add(_ paths: [PathBytes]) throws(MultipoolError) {
        try enqueue(PathArena(paths))
    }

    /// Queues paths given as strings (their UTF-8 bytes); see `add(_:)` for `[PathBytes]`.
    public func add(_ paths: [String]) throws(MultipoolError) {
        try enqueue(PathArena(strings: paths))
    }

    /// Queues paths given as their bytes, any bytes (a name that is not UTF-8 goes through as
    /// it is); see `add(_:)` for `[PathBytes]`.
    public func add(_ paths: [[UInt8]]) throws(MultipoolError) {
        try enqueue(PathArena(paths.map(PathBytes.init)))
    }

    /// Queues file URLs, by their file-system representation; see `add(_:)` for `[PathBytes]`.
    public func add(_ paths: [URL]) throws(MultipoolError) {
        try enqueue(PathArena(paths.map(PathBytes.init)))
    }

    #if canImport(System)
    /// Queues `FilePath`s, by their bytes; see `add(_:)` for `[PathBytes]`.
    @available(macOS 11, iOS 14, tvOS 14, watchOS 7, *)
    public func add(_ paths: [FilePath]) throws(MultipoolError) {
        try enqueue(PathArena(paths.map(PathBytes.init)))
    }
    #endif

    /// Queues the paths given as arguments: `try session.add("a", "b")`.
    public func add(_ paths: PathBytes...) throws(MultipoolError) {
        try enqueue(PathArena(paths))
    }

    /// Queues the paths of `arena`, with `records[i]` for path `i` when there are records,
    /// relative to the directory `dirfd` when there is one.
    func enqueue(_ arena: PathArena, records: [Record?]? = nil, relativeTo dirfd: Int32? = nil)
        throws(MultipoolError)
    {
        let count = arena.count
        if let records, records.count != count { throw MultipoolError(status: .invalidArgument) }
        guard count > 0 else { return }
        // Into the table first (a result may come back before the call below returns), which
        // gives the paths their consecutive tags.
        let first = paths.withLock { $0.add(arena) }
        let tags = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        defer { tags.deallocate() }
        for i in 0..<count {
            tags[i] = first &+ UInt64(i)
        }
        let status = arena.withBytes { bytes, byteCount, lengths in
            guard let records else {
                if let dirfd {
                    return multipool_session_enqueue_at(
                        handle, dirfd, bytes, byteCount, lengths, tags, nil,
                        MemoryLayout<multipool_record>.stride, count)
                }
                return multipool_session_enqueue_buffer(handle, bytes, byteCount, lengths, tags, count)
            }
            // Integers only, at this header's stride.
            let c = UnsafeMutablePointer<multipool_record>.allocate(capacity: count)
            defer { c.deallocate() }
            for i in 0..<count {
                (c + i).initialize(to: records[i]?.c ?? multipool_record())
            }
            if let dirfd {
                return multipool_session_enqueue_at(
                    handle, dirfd, bytes, byteCount, lengths, tags, c, MemoryLayout<multipool_record>.stride,
                    count)
            }
            return multipool_session_enqueue_records(
                handle, bytes, byteCount, lengths, tags, c, MemoryLayout<multipool_record>.stride, count)
        }
        if status != UInt32(MULTIPOOL_OK) {
            paths.withLock { $0.drop(first: first) }
            throw MultipoolError(status: Status(rawValue: status))
        }
    }

    // MARK: Ending

    /// Declares that no more paths will be added: `results` ends once every path's result has
    /// been delivered. Calling it twice is harmless.
    public func finish() {
        _ = multipool_session_finish(handle)
    }

    /// Stops the work: files being read stop at their next buffer, queued files are not opened,
    /// and every path still gets its result (`.cancelled` for those not hashed). Implies
    /// `finish()`; returns without waiting.
    public func cancel() {
        _ = multipool_session_cancel(handle)
    }

    // MARK: Results

    /// Every path's result, in the order they complete, until all are delivered after
    /// `finish()` or `cancel()`. See `Results` for waiting, cancellation and several
    /// iterations at once.
    public var results: Results {
        Results(session: self)
    }

    /// Every file's events until all are delivered after `finish()` or `cancel()`: in a
    /// session with a chunker (`Options.chunker`), each file's chunks in order and then its
    /// result; in one without, its results alone. See `Events` for the order a caller can
    /// rely on and for waiting, cancellation and several iterations at once.
    public var events: Events {
        Events(session: self)
    }

    /// The library's readiness descriptor, under a dispatch source; made on the first wait.
    func readinessSource() throws(MultipoolError) -> Readiness {
        try readiness.withLock { (readiness) throws(MultipoolError) -> Readiness in
            if let readiness { return readiness }
            var fd: Int32 = -1
            let status = multipool_session_ready_fd(handle, &fd)
            guard status == UInt32(MULTIPOOL_OK) else { throw MultipoolError(status: Status(rawValue: status)) }
            let made = Readiness(fd: fd)
            readiness = made
            return made
        }
    }

    // MARK: Progress

    /// The session's counters; cheap enough for a progress bar.
    public var stats: Stats {
        stats(device: UInt32(MULTIPOOL_DEVICE_NONE))
    }

    func stats(device: UInt32) -> Stats {
        var s = multipool_stats()
        s.struct_size = MemoryLayout<multipool_stats>.size
        _ = multipool_session_stats(handle, device, &s)
        return Stats(s)
    }

    /// The devices met so far, in index order, each with its counters and reads in flight.
    public var devices: [Device] {
        var count = 0
        guard multipool_session_device_count(handle, &count) == UInt32(MULTIPOOL_OK) else { return [] }
        return (0..<UInt32(count)).compactMap { index in
            var d = multipool_device()
            d.struct_size = MemoryLayout<multipool_device>.size
            guard multipool_session_device(handle, index, &d) == UInt32(MULTIPOOL_OK) else { return nil }
            return Device(d, stats: stats(device: index))
        }
    }

    /// The library's version, such as "0.1.0" (`multipool_version`).
    public static var libraryVersion: String {
        String(cString: multipool_version())
    }

    /// Paths added whose results have not yet been taken from the library.
    var pathsOutstanding: Int {
        paths.withLock { $0.count }
    }
}

/// What a path can be given as: its length in bytes, and a copy of them.
protocol PathConvertible {
    var pathByteCount: Int { get }
    /// Copies the path's bytes (`pathByteCount` of them, at most `capacity`) to `out`; how many.
    func copyPathBytes(to out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int
}

extension UnsafeRawBufferPointer {
    /// Copies the bytes to `out`, at most `capacity`; how many.
    @inline(__always)
    func copyPathBytes(to out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        let n = Swift.min(count, capacity)
        if n > 0 {
            UnsafeMutableRawPointer(out).copyMemory(from: baseAddress!, byteCount: n)
        }
        return n
    }
}

extension PathBytes: PathConvertible {
    var pathByteCount: Int { count }

    func copyPathBytes(to out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        withUnsafeBytes { $0.copyPathBytes(to: out, capacity: capacity) }
    }
}

extension String: PathConvertible {
    var pathByteCount: Int { utf8.count }

    /// A native string's bytes in one copy; another's byte by byte.
    @inline(__always)
    func copyPathBytes(to out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        if let n = utf8.withContiguousStorageIfAvailable({ UnsafeRawBufferPointer($0).copyPathBytes(to: out, capacity: capacity) }) {
            return n
        }
        var n = 0
        for byte in utf8 where n < capacity {
            out[n] = byte
            n += 1
        }
        return n
    }
}
