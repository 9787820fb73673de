import CMultipool

#if canImport(System)
import System
#endif

extension Session {
    /// Queues paths relative to the open directory `directory` (a file descriptor), all of them
    /// or none, in one call into the library (`multipool_session_enqueue_at`): each path is
    /// resolved from the directory as `openat(2)` resolves it (an absolute one ignores it), so a
    /// caller walking a tree by directory descriptors reaches files whose whole path is longer
    /// than `PATH_MAX`, and a directory renamed or moved while its files wait loses none of
    /// them. Each result's `path` is the path as given here, relative to the directory.
    ///
    /// The library duplicates the descriptor and holds its duplicate until these paths' results
    /// are produced: the caller may close its own as soon as this returns (but not from another
    /// thread during the call). On Linux 5.8 and later one duplicate serves every call naming the
    /// same directory while its paths wait, so a call per file holds one descriptor per
    /// directory. With `records` (as long as `paths`, `records[i]` for
    /// `paths[i]`), a file whose `stat` matches its record is answered `.unchanged`, unopened,
    /// as by `add(_:records:)`.
    ///
    /// Throws `.invalidArgument` when `directory` is negative (`AT_FDCWD` too), not open or not
    /// a directory, or `records` is not as long as `paths`; otherwise as `add(_:)`.
    public func add(
        _ paths: [PathBytes], relativeTo directory: Int32, records: [Record?]? = nil
    ) throws(MultipoolError) {
        try enqueue(PathArena(paths), records: records, relativeTo: directory)
    }

    /// `add(_:relativeTo:records:)` for paths given as strings (their UTF-8 bytes).
    public func add(
        _ paths: [String], relativeTo directory: Int32, records: [Record?]? = nil
    ) throws(MultipoolError) {
        try enqueue(PathArena(strings: paths), records: records, relativeTo: directory)
    }

    #if canImport(System)
    /// `add(_:relativeTo:records:)` with the directory as a `FileDescriptor`.
    @available(macOS 11, iOS 14, tvOS 14, watchOS 7, *)
    public func add(
        _ paths: [PathBytes], relativeTo directory: FileDescriptor, records: [Record?]? = nil
    ) throws(MultipoolError) {
        try enqueue(PathArena(paths), records: records, relativeTo: directory.rawValue)
    }

    /// `add(_:relativeTo:records:)` for strings, with the directory as a `FileDescriptor`.
    @available(macOS 11, iOS 14, tvOS 14, watchOS 7, *)
    public func add(
        _ paths: [String], relativeTo directory: FileDescriptor, records: [Record?]? = nil
    ) throws(MultipoolError) {
        try enqueue(PathArena(strings: paths), records: records, relativeTo: directory.rawValue)
    }
    #endif
}
