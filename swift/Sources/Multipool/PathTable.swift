/// The paths of a session by tag, so that a result carries its path and callers never see a
/// tag. Tags are consecutive numbers; the table holds them in chunks of 4,096 slots, each freed
/// once all of its paths have come back (cheaper than a dictionary entry per path), so that a
/// path whose result is slow to come (a file on a stalled server) keeps one chunk, not every
/// path added after it. A path is kept as it was given (a `String` is retained, not copied) and
/// moved out into its result.
///
/// A chunk's slots are memory of its own behind a pointer, and the table a plain struct: a path
/// is stored and taken without a reference count on any container (an array of arrays cost two
/// retains and releases per path) and without the dynamic exclusivity checks of a class's
/// stored properties. Used under the session's lock (`Locked<PathTable>`); `removeAll()` frees
/// what is left when the session goes.
struct PathTable {
    private static let chunkBits: UInt64 = 12
    private static let chunkSlots = 1 << chunkBits

    private struct Chunk {
        let paths: UnsafeMutablePointer<PathBytes?>
        var left = 0  // paths added to the chunk and not yet taken back

        init() {
            paths = .allocate(capacity: PathTable.chunkSlots)
            paths.initialize(repeating: nil, count: PathTable.chunkSlots)
        }

        func free() {
            paths.deinitialize(count: PathTable.chunkSlots)
            paths.deallocate()
        }
    }

    /// Chunk `firstChunk + i` at `chunks[i]`; nil once freed.
    private var chunks = ContiguousArray<Chunk?>()
    private var firstChunk: UInt64 = 0
    private var next: UInt64 = 0

    /// Keeps `path` under the next tag; returns the tag.
    @inline(__always)
    mutating func add(_ path: PathBytes) -> UInt64 {
        let tag = next
        let index = Int((tag >> Self.chunkBits) - firstChunk)
        if index == chunks.count {
            chunks.append(Chunk())
        }
        chunks[index]!.paths[Int(tag & UInt64(Self.chunkSlots - 1))] = path
        chunks[index]!.left += 1
        next += 1
        return tag
    }

    /// The path of `tag`, forgotten as it is taken; an empty path if the table does not hold
    /// it. `compact()` after a batch of takes lets go of the chunks they emptied.
    @inline(__always)
    mutating func take(_ tag: UInt64) -> PathBytes {
        let key = tag >> Self.chunkBits
        guard key >= firstChunk, key - firstChunk < UInt64(chunks.count), chunks[Int(key - firstChunk)] != nil else {
            return PathBytes([])
        }
        let index = Int(key - firstChunk)
        guard let path = chunks[index]!.paths[Int(tag & UInt64(Self.chunkSlots - 1))].take() else {
            return PathBytes([])
        }
        chunks[index]!.left -= 1
        if chunks[index]!.left == 0 && key != next >> Self.chunkBits {
            chunks[index]!.free()
            chunks[index] = nil
        }
        return path
    }

    /// Lets go of the freed chunks at the front.
    mutating func compact() {
        var freed = 0
        while freed < chunks.count && chunks[freed] == nil {
            freed += 1
        }
        if freed > 0 {
            chunks.removeFirst(freed)
            firstChunk += UInt64(freed)
        }
    }

    /// Forgets `count` tags from `first`: their paths were refused.
    mutating func drop(first: UInt64, count: Int) {
        for tag in first..<first + UInt64(count) {
            _ = take(tag)
        }
        compact()
    }

    /// Frees every chunk, the paths still in them included.
    mutating func removeAll() {
        for chunk in chunks {
            chunk?.free()
        }
        chunks.removeAll()
    }

    /// Paths added and not yet taken back.
    var count: Int {
        chunks.reduce(0) { $0 + ($1?.left ?? 0) }
    }
}
