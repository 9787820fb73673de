/// The paths of a session by tag, so that a result carries its path and callers never see a
/// tag. Tags are consecutive numbers; the table holds them in chunks of 4,096 slots, each freed
/// once all of its paths have come back (cheaper than a dictionary entry per path). Used under
/// the session's lock (`Locked<PathTable>`).
struct PathTable {
    private static let chunkBits: UInt64 = 12
    private static let chunkSlots = 1 << chunkBits

    private final class Chunk {
        var paths = ContiguousArray<PathBytes?>(repeating: nil, count: PathTable.chunkSlots)
        var left = 0  // paths added to the chunk and not yet taken back
    }

    private var chunks: [UInt64: Chunk] = [:]
    private var next: UInt64 = 0

    /// Gives `paths` consecutive tags; returns the first.
    mutating func add(_ paths: ContiguousArray<PathBytes>) -> UInt64 {
        let first = next
        var i = paths.startIndex
        while i < paths.endIndex {
            let key = next >> Self.chunkBits
            let chunk: Chunk
            if let existing = chunks[key] {
                chunk = existing
            } else {
                chunk = Chunk()
                chunks[key] = chunk
            }
            var slot = Int(next & UInt64(Self.chunkSlots - 1))
            let end = min(paths.endIndex, i + (Self.chunkSlots - slot))
            chunk.left += end - i
            next += UInt64(end - i)
            while i < end {
                chunk.paths[slot] = paths[i]
                slot += 1
                i += 1
            }
        }
        return first
    }

    /// The path of each of `tags`, forgotten as it is taken, into `out` (one slot per tag). A
    /// tag the table does not hold gives an empty path.
    mutating func take(_ tags: UnsafeBufferPointer<UInt64>, into out: inout ContiguousArray<PathBytes>) {
        var key = UInt64.max
        var chunk: Chunk?
        for tag in tags {
            if tag >> Self.chunkBits != key {
                key = tag >> Self.chunkBits
                chunk = chunks[key]
            }
            guard let current = chunk else {
                out.append(PathBytes([]))
                continue
            }
            let slot = Int(tag & UInt64(Self.chunkSlots - 1))
            out.append(current.paths[slot] ?? PathBytes([]))
            current.paths[slot] = nil
            current.left -= 1
            if current.left == 0 && key != next >> Self.chunkBits {
                chunks[key] = nil
                chunk = nil
                key = UInt64.max
            }
        }
    }

    /// Forgets `count` tags from `first`: their paths were refused.
    mutating func drop(first: UInt64, count: Int) {
        var scratch = ContiguousArray<PathBytes>()
        let tags = (0..<UInt64(count)).map { first + $0 }
        tags.withUnsafeBufferPointer { take($0, into: &scratch) }
    }

    /// Paths added and not yet taken back.
    var count: Int {
        chunks.values.reduce(0) { $0 + $1.left }
    }
}
