/// One `add`'s paths as the library was given them: their bytes end to end in one buffer, and
/// each one's length and start. Results point into it (`PathBytes` of an arena and an index)
/// rather than each carrying a `String` or an array of its own: adding copies each path's bytes
/// once, into the buffer passed to `multipool_session_enqueue_buffer`, and neither adding nor
/// delivering touches a reference count per path (a result retains its arena, which the results
/// of a batch share). Written once, before any result can point into it, and then only read:
/// `@unchecked Sendable` for immutable memory behind `let` pointers.
@usableFromInline
final class PathArena: @unchecked Sendable {
    /// The number of paths.
    let count: Int
    /// The paths' bytes, end to end.
    let bytes: UnsafeMutablePointer<UInt8>
    let byteCount: Int
    /// `count` lengths (what the C call takes), then `count` starts.
    @usableFromInline let lengths: UnsafeMutablePointer<Int>

    /// The paths' bytes laid end to end: two passes, one to size the buffer, one to copy.
    init<C: Collection>(_ paths: C) where C.Element: PathConvertible {
        var total = 0
        for path in paths {
            total &+= path.pathByteCount
        }
        let count = paths.count
        self.count = count
        byteCount = total
        bytes = .allocate(capacity: max(total, 1))
        lengths = .allocate(capacity: 2 * max(count, 1))
        let starts = lengths + count
        var at = 0
        var i = 0
        for path in paths {
            let n = path.copyPathBytes(to: bytes + at, capacity: total - at)
            lengths[i] = n
            starts[i] = at
            at += n
            i += 1
        }
    }

    /// One empty path, for a tag the table does not hold.
    static let empty = PathArena([""])

    deinit {
        bytes.deallocate()
        lengths.deallocate()
    }

    /// Path `index`'s bytes.
    @inline(__always)
    func path(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + lengths[count + index], count: lengths[index])
    }

    /// Path `index`'s length.
    @inlinable
    func length(_ index: Int) -> Int {
        lengths[index]
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
