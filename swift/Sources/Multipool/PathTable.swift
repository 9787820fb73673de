/// One `add`'s paths, kept as they were given: the caller's array of strings (one reference
/// for the lot: no copy, and no reference count per path), or of `PathBytes`. Results point into
/// it (`PathBytes` of an arena and an index) rather than each carrying a path of its own. The
/// bytes for `multipool_session_enqueue_buffer` are copied into memory that lives for the call
/// alone (so that adding touches no new memory per path, as a C caller reusing its buffer).
/// Immutable: `Sendable` by its `let`s.
@usableFromInline
final class PathArena: Sendable {
    /// The paths, in one of the two (the other empty).
    @usableFromInline let strings: [String]
    @usableFromInline let others: [PathBytes]
    /// `others`' lengths (`PathBytes.count` calls `length`, which is then all loads, so that
    /// a caller's `result.path.count` costs no reference count).
    @usableFromInline let otherLengths: [Int]

    init(strings: [String]) {
        self.strings = strings
        others = []
        otherLengths = []
    }

    init(_ paths: [PathBytes]) {
        strings = []
        others = paths
        otherLengths = paths.map(\.count)
    }

    /// The number of paths.
    var count: Int { strings.isEmpty ? others.count : strings.count }

    /// One empty path, for a tag the table does not hold.
    static let empty = PathArena(strings: [""])

    /// Path `index`, as given.
    @inlinable
    func path(_ index: Int) -> PathBytes {
        strings.isEmpty ? others[index] : PathBytes(strings[index])
    }

    /// Path `index`'s length.
    @inlinable @inline(__always)
    func length(_ index: Int) -> Int {
        strings.isEmpty ? otherLengths[index] : strings[index].utf8.count
    }

    /// Calls `enqueue` with the paths' bytes end to end (`bytes`, `byteCount`) and their
    /// lengths: two passes, one to size the buffer, one to copy.
    func withBytes<R>(_ enqueue: (UnsafePointer<UInt8>, Int, UnsafePointer<Int>) -> R) -> R {
        strings.isEmpty ? Self.withBytes(of: others, enqueue) : Self.withBytes(of: strings, enqueue)
    }

    private static func withBytes<C: Collection, R>(
        of paths: C, _ enqueue: (UnsafePointer<UInt8>, Int, UnsafePointer<Int>) -> R
    ) -> R where C.Element: PathConvertible {
        var total = 0
        for path in paths {
            total &+= path.pathByteCount
        }
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: max(paths.count, 1))
        defer {
            bytes.deallocate()
            lengths.deallocate()
        }
        var at = 0
        var i = 0
        for path in paths {
            let n = path.copyPathBytes(to: bytes + at, capacity: total - at)
            lengths[i] = n
            at += n
            i += 1
        }
        return enqueue(bytes, at, lengths)
    }
}

/// The paths of a session by tag, so that a result carries its path and callers never see a
/// tag. Tags are consecutive numbers, each `add` taking a run of them for its arena; the table
/// holds the arenas by first tag, each let go once all of its paths have come back, so that a
/// path whose result is slow to come (a file on a stalled server) keeps one arena, not every
/// path added after it. Results mostly come back in the order they were added, so a lookup
/// tries the arena of the last one first, and searches (by halves) only when that misses.
///
/// Used under the session's lock (`Locked<PathTable>`).
struct PathTable {
    private struct Entry {
        let arena: PathArena
        var left: Int  // paths of the arena not yet taken back
    }

    /// `entries[i]`'s arena holds tags `firsts[i]..<firsts[i + 1]` (`next` for the last); nil
    /// once every one of its paths was taken.
    private var entries = ContiguousArray<Entry?>()
    private var firsts = ContiguousArray<UInt64>()
    private var next: UInt64 = 0
    private var hint = 0

    /// Keeps `arena`'s paths under the next `arena.count` tags; returns the first.
    mutating func add(_ arena: PathArena) -> UInt64 {
        let first = next
        entries.append(Entry(arena: arena, left: arena.count))
        firsts.append(first)
        next += UInt64(arena.count)
        return first
    }

    /// The index of the entry whose tags include `tag`, if any.
    @inline(__always)
    private func find(_ tag: UInt64) -> Int? {
        if hint < firsts.count && tag >= firsts[hint] && tag < (hint + 1 < firsts.count ? firsts[hint + 1] : next) {
            return hint
        }
        guard let first = firsts.first, tag >= first, tag < next else { return nil }
        var low = 0
        var high = firsts.count  // the entry is in low..<high
        while high - low > 1 {
            let mid = (low + high) / 2
            if firsts[mid] <= tag { low = mid } else { high = mid }
        }
        return low
    }

    /// Gives result `i` of `block` the path of `tag`, forgotten as it is taken; an empty path
    /// if the table does not hold it. `compact()` after a batch of takes lets go of the entries
    /// they emptied.
    @inline(__always)
    mutating func take(_ tag: UInt64, into block: ResultBlock, at i: Int) {
        guard let index = find(tag), let arena = entries[index]?.arena else {
            block.setPath(i, arena: PathArena.empty, index: 0)
            return
        }
        hint = index
        block.setPath(i, arena: arena, index: Int(tag - firsts[index]))
        entries[index]!.left -= 1
        if entries[index]!.left == 0 {
            entries[index] = nil
        }
    }

    /// The path of `tag`, which stays in the table (a chunk event's: its result, which comes
    /// after it, takes it); an empty path if the table does not hold it.
    @inline(__always)
    mutating func peek(_ tag: UInt64) -> PathBytes {
        guard let index = find(tag), let arena = entries[index]?.arena else {
            return PathBytes(arena: PathArena.empty, index: 0)
        }
        hint = index
        return PathBytes(arena: arena, index: Int(tag - firsts[index]))
    }

    /// Lets go of the emptied entries at the front.
    mutating func compact() {
        var freed = 0
        while freed < entries.count && entries[freed] == nil {
            freed += 1
        }
        if freed > 0 {
            entries.removeFirst(freed)
            firsts.removeFirst(freed)
            hint = 0
        }
    }

    /// Forgets the arena whose first tag is `first`: its paths were refused.
    mutating func drop(first: UInt64) {
        if let index = find(first) {
            entries[index] = nil
        }
        compact()
    }

    /// Lets go of every arena.
    mutating func removeAll() {
        entries.removeAll()
        firsts.removeAll()
    }

    /// Paths added and not yet taken back.
    var count: Int {
        entries.reduce(0) { $0 + ($1?.left ?? 0) }
    }
}
