import CMultipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A digest: 32 bytes (SHA-256, BLAKE3) or 64 (SHA-512), held inline (no allocation).
public struct Digest: RandomAccessCollection, Hashable, Sendable, CustomStringConvertible {
    /// The C result's 64 bytes as they are (a tuple: byte-aligned, no padding); bytes past
    /// `count` are zero.
    @usableFromInline typealias Storage = (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    )

    @usableFromInline let storage: Storage
    @usableFromInline let length: UInt8

    @inlinable
    init(storage: Storage, count: Int) {
        self.storage = storage
        length = UInt8(count)
    }

    /// A digest of these bytes (at most 64).
    public init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count <= 64, "a digest has at most 64 bytes")
        var storage: Storage = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
        Swift.withUnsafeMutableBytes(of: &storage) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        self.init(storage: storage, count: bytes.count)
    }

    /// The number of bytes.
    @inlinable
    public var count: Int { Int(length) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(length) }

    @inlinable
    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < count, "digest index out of range")
        return Swift.withUnsafeBytes(of: storage) { $0[position] }
    }

    /// Calls `body` with the digest's bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// The digest in lowercase hex, as `sha256sum` prints it.
    public var hex: String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 2 * count) { out in
            digits.withUTF8Buffer { digits in
                withUnsafeBytes { bytes in
                    for (i, byte) in bytes.enumerated() {
                        out[2 * i] = digits[Int(byte >> 4)]
                        out[2 * i + 1] = digits[Int(byte & 15)]
                    }
                }
            }
            return 2 * count
        }
    }

    public var description: String { hex }

    public static func == (a: Digest, b: Digest) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// An added path's identity within its session (the library's tag for it): a file's chunk
/// events and its result carry the same one. Paths get consecutive IDs in the order they are
/// added.
public struct FileID: RawRepresentable, Hashable, Comparable, Sendable {
    public let rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public static func < (a: FileID, b: FileID) -> Bool { a.rawValue < b.rawValue }
}

/// One path's outcome: its path as added, and a digest or the reason there is none.
///
/// Two words: the results of one poll of the library share a block holding the library's
/// records as they came and where each one's path is, and a result is that block and an
/// index, its properties read from there. Handing one over costs a reference count, not a copy
/// of its hundred bytes. A result held keeps its block alive (up to 256 results' records, some
/// 30 KB) and the arrays of paths its block refers to (each `add`'s, as given).
public struct FileResult: Sendable, CustomStringConvertible {
    // Inlinable properties, so that reading one costs the caller neither a call nor a
    // reference count.
    @usableFromInline let block: ResultBlock
    @usableFromInline let index: Int

    init(block: ResultBlock, index: Int) {
        self.block = block
        self.index = index
    }

    @inlinable
    var record: UnsafeMutablePointer<multipool_result> { block.records + index }

    /// The path, the bytes given to `add`.
    @inlinable
    public var path: PathBytes { block.path(index) }
    /// `.ok` with a digest, `.unchanged` with the digest of the file's record (not read), or
    /// why there is none (`.notFound`, `.isDirectory`, `.cancelled`…).
    @inlinable
    public var status: Status { Status(rawValue: record.pointee.status) }
    /// The errno behind a failure, 0 when none.
    @inlinable
    public var osError: Int32 { record.pointee.os_error }
    /// Bytes hashed; for a failure, the file's size where known, else 0.
    @inlinable
    public var size: UInt64 { record.pointee.size }
    /// The index of the device that read the file (see `Session.devices`); nil if none did.
    @inlinable
    public var device: Int? {
        let device = record.pointee.device
        return device == UInt32(MULTIPOOL_DEVICE_NONE) ? nil : Int(device)
    }
    /// The digest; empty unless `status` is `.ok`, or `.unchanged` (then the record's).
    @inlinable @inline(__always)
    public var digest: Digest {
        Digest(storage: record.pointee.digest, count: Int(min(record.pointee.digest_len, 64)))
    }

    /// Which read of the file the result comes from: 1, or 2 for a file so fresh (written within
    /// the library's settle margin) that it was read again; 0 for a file never read. In a
    /// session with a chunker, only the chunk events of this attempt are the file's.
    @inlinable
    public var attempt: Int { Int(record.pointee.attempt) }
    /// In a session with a chunker: how many chunks the file was cut into (its chunk events of
    /// `attempt`, when `status` is `.ok`). 0 without one.
    @inlinable
    public var chunks: Int { Int(truncatingIfNeeded: record.pointee.chunks) }
    /// Which added path this is the result of: its chunk events carry the same `fileID`. Unique
    /// within the session, so that the same path added twice is two files.
    @inlinable
    public var fileID: FileID { FileID(rawValue: record.pointee.tag) }

    /// Whether the file was hashed (read now: not `.unchanged`).
    public var isOK: Bool { status == .ok }
    /// Whether the file was answered from its record without being opened (`.unchanged`): its
    /// digest is the record's.
    public var isUnchanged: Bool { status == .unchanged }
    /// The algorithm of `digest`: the session's.
    public var algorithm: Algorithm { block.algorithm }

    /// The file as it was hashed (for `.unchanged`, as its `stat` matched the record): what to
    /// keep as its record for next time (`Record(result:)`). nil for a file that failed before
    /// it was looked at.
    @inlinable
    public var identity: Identity? {
        let r = record
        guard r.pointee.has_identity != 0 else { return nil }
        return Identity(
            size: r.pointee.size, mtimeNs: r.pointee.mtime_ns, ctimeNs: r.pointee.ctime_ns,
            inode: r.pointee.inode, deviceID: r.pointee.device_id, mode: r.pointee.mode)
    }

    /// The errno as a `POSIXErrorCode`, if there was one.
    public var code: POSIXErrorCode? {
        osError == 0 ? nil : POSIXErrorCode(rawValue: osError)
    }

    /// Why there is no digest; nil when hashed or `.unchanged`.
    public var error: MultipoolError? {
        status == .ok || status == .unchanged ? nil : MultipoolError(status: status, code: code, path: path)
    }

    /// The digest (for `.unchanged`, the record's), or the error saying why there is none.
    public func get() throws(MultipoolError) -> Digest {
        if let error { throw error }
        return digest
    }

    /// `HEX  PATH`, or `PATH: reason`.
    public var description: String {
        error.map(\.description) ?? "\(digest.hex)  \(path)"
    }
}

/// The results of one poll of the library: its records as they came (`multipool_session_poll`
/// writes them here), and each one's path, an index into one of the arenas the block holds.
/// Filled by one iteration under the session's lock before any of its results is handed out,
/// then only read: `@unchecked Sendable` for memory behind `let` pointers that no one writes
/// once shared.
@usableFromInline
final class ResultBlock: @unchecked Sendable {
    @usableFromInline static let capacity = 256

    @usableFromInline let records: UnsafeMutablePointer<multipool_result>
    /// Result `i`'s path is path `pathIndices[i]` of `arenas[pathArenas[i]]`.
    @usableFromInline let pathArenas: UnsafeMutablePointer<Int32>
    @usableFromInline let pathIndices: UnsafeMutablePointer<Int>
    /// The arenas the paths are in, each once (results mostly come in the order of their adds,
    /// so a block's paths are in one arena or a few): `arenas[0..<arenaCount]`.
    @usableFromInline let arenas: UnsafeMutablePointer<PathArena>
    private var arenaCount = 0
    /// The session's algorithm, of every digest in the block.
    let algorithm: Algorithm

    /// Room for `capacity` results (a poll's, or the results among a poll's events).
    @usableFromInline init(capacity: Int = ResultBlock.capacity, algorithm: Algorithm) {
        self.algorithm = algorithm
        records = .allocate(capacity: capacity)
        pathArenas = .allocate(capacity: capacity)
        pathIndices = .allocate(capacity: capacity)
        arenas = .allocate(capacity: capacity)
    }

    deinit {
        arenas.deinitialize(count: arenaCount)
        records.deallocate()
        pathArenas.deallocate()
        pathIndices.deallocate()
        arenas.deallocate()
    }

    @inlinable
    func path(_ i: Int) -> PathBytes {
        PathBytes(arena: arenas[Int(pathArenas[i])], index: pathIndices[i])
    }

    /// Result `i`'s path is path `index` of `arena`.
    @inline(__always)
    func setPath(_ i: Int, arena: PathArena, index: Int) {
        if arenaCount == 0 || arenas[arenaCount - 1] !== arena {
            (arenas + arenaCount).initialize(to: arena)
            arenaCount += 1
        }
        pathArenas[i] = Int32(arenaCount - 1)
        pathIndices[i] = index
    }
}
