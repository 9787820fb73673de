import CMultipool

/// A hash algorithm. Digests are identical to `sha256sum`'s, `sha512sum`'s and `b3sum`'s.
public struct Algorithm: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// SHA-256, as `sha256sum` computes it (32-byte digest). The default.
    public static let sha256 = Algorithm(rawValue: UInt32(MULTIPOOL_ALGORITHM_SHA256))
    /// SHA-512, as `sha512sum` computes it (64-byte digest).
    public static let sha512 = Algorithm(rawValue: UInt32(MULTIPOOL_ALGORITHM_SHA512))
    /// BLAKE3, as `b3sum` computes it (32-byte digest).
    public static let blake3 = Algorithm(rawValue: UInt32(MULTIPOOL_ALGORITHM_BLAKE3))

    /// "sha256", "sha512", "blake3" (as `swifthash -a` takes them).
    public var description: String {
        switch self {
        case .sha256: "sha256"
        case .sha512: "sha512"
        case .blake3: "blake3"
        default: "algorithm \(rawValue)"
        }
    }
}

/// How a chunking session cuts each file into chunks (`Options.chunker`); every chunk reaches
/// the caller as an event (`Session.events`) before the file's result. Each case maps to the C
/// options field for field (`multipool_options.chunker`, `chunk_min`, `chunk_avg`,
/// `chunk_max`, `chunk_level`, `chunk_polynomial`); the limits are the library's, checked when
/// the session is made (`.invalidChunker`).
public enum Chunker: Hashable, Sendable {
    /// FastCDC 2020, cut for cut as the `fastcdc` crate's `v2020` module cuts: the smallest
    /// chunk (64 B to 1 MiB, even), the size the cuts aim at (256 B to 4 MiB, even), the
    /// largest (1 KiB to 16 MiB, even), and the normalization level, 0 to 3 (the crate's
    /// `Level0`–`Level3`). With `Options.chunkKey`, cut with the keyed Gear table.
    case fastCDC(min: Int = 512 << 10, avg: Int = 1 << 20, max: Int = 8 << 20, level: Int = 1)
    /// restic's Rabin64 chunker with the repository's polynomial (its config's
    /// `chunker_polynomial`, irreducible of degree 53) and restic's sizes (512 KiB to 8 MiB,
    /// about 1 MiB), cut for cut as `github.com/restic/chunker`.
    case restic(polynomial: UInt64 = Chunker.resticTestPolynomial)
    /// Chunks of exactly `size` bytes (1 B to 16 MiB), the last one shorter.
    case fixed(size: Int)

    /// restic's test polynomial, what the library takes when given none.
    public static let resticTestPolynomial: UInt64 = 0x3DA3_358B_4DC1_73

    /// Writes the chunker's fields into `o`; throws `.invalidChunker` for a number the C
    /// fields cannot hold (a negative size, a level outside 0–3).
    func write(into o: inout multipool_options) throws(MultipoolError) {
        let invalid = MultipoolError(status: .invalidChunker)
        func size(_ value: Int) throws(MultipoolError) -> UInt64 {
            guard let size = UInt64(exactly: value) else { throw invalid }
            return size
        }
        switch self {
        case .fastCDC(let min, let avg, let max, let level):
            // Stored plus one: the field's 0 means the default level, 1 (so a level below 0
            // would silently be the default; refused here instead).
            guard (0...3).contains(level) else { throw invalid }
            o.chunker = UInt32(MULTIPOOL_CHUNKER_FASTCDC)
            o.chunk_min = try size(min)
            o.chunk_avg = try size(avg)
            o.chunk_max = try size(max)
            o.chunk_level = UInt32(level + 1)
        case .restic(let polynomial):
            o.chunker = UInt32(MULTIPOOL_CHUNKER_RESTIC)
            o.chunk_polynomial = polynomial
        case .fixed(let chunkSize):
            o.chunker = UInt32(MULTIPOOL_CHUNKER_FIXED)
            o.chunk_avg = try size(chunkSize)
        }
    }
}

/// A chunk's digest (`multipool_options.chunk_digest`). Without one asked for
/// (`Options.chunkDigest` nil): BLAKE3 keyed with `Options.chunkKey` when there is a key, else
/// BLAKE3 when the algorithm is BLAKE3, else SHA-256. Every chunk digest has 32 bytes.
public struct ChunkDigest: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// SHA-256 (restic's chunk IDs).
    public static let sha256 = ChunkDigest(rawValue: UInt32(MULTIPOOL_CHUNK_DIGEST_SHA256))
    /// BLAKE3.
    public static let blake3 = ChunkDigest(rawValue: UInt32(MULTIPOOL_CHUNK_DIGEST_BLAKE3))
    /// BLAKE3 keyed with `Options.chunkKey` (which it needs).
    public static let blake3Keyed = ChunkDigest(rawValue: UInt32(MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED))

    public var description: String {
        switch self {
        case .sha256: "sha256"
        case .blake3: "blake3"
        case .blake3Keyed: "blake3-keyed"
        default: "chunk digest \(rawValue)"
        }
    }
}

/// How a session hashes. Every field's default is the library's; `Options()` is all defaults.
public struct Options: Hashable, Sendable {
    /// The algorithm; SHA-256 by default.
    public var algorithm: Algorithm
    /// The threads spec: comma-separated `SELECTOR:VALUE` rules overriding threads per device
    /// kind, device or path, e.g. `"ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4"` (README, "Devices,
    /// kinds and the threads spec"). Empty: none.
    public var threads: String
    /// Hash what a symbolic link points to (default); false reports a path that is a link as
    /// `.isSymlink`. Links in the middle of a path are always followed.
    public var followSymlinks: Bool
    /// Drop each file's pages from the page cache once hashed (`POSIX_FADV_DONTNEED`).
    public var dropCache: Bool
    /// Read a hard disk's files in on-disk order (default); false: as they come.
    public var diskOrder: Bool
    /// Read large uncached files with `O_DIRECT` (default); false: always through the cache.
    public var directIO: Bool
    /// Read buffer per worker thread in bytes, up to 2^30; 0: 1 MiB.
    public var bufferSize: Int
    /// Tasks handed to a pool at once per pool thread; 0: 2.
    public var inFlightPerThread: Int
    /// Results kept for the caller before hashing pauses; 0: 65,536.
    public var maxReadyResults: Int
    /// Cut each file into chunks, delivered by `Session.events` (whose results then come
    /// only from there: `Session.results` throws `.needsEventPoll`); nil: no chunks.
    public var chunker: Chunker?
    /// The chunks' digest; nil: the default (see `ChunkDigest`). Only with a chunker.
    public var chunkDigest: ChunkDigest?
    /// A 32-byte key (`MULTIPOOL_FLAG_CHUNK_KEY`, `chunk_key`): chunk digests default to
    /// BLAKE3 keyed with it, and FastCDC cuts with the Gear table derived from it. Another
    /// length is refused (`.invalidChunker`).
    public var chunkKey: [UInt8]?
    /// Compute each file's whole digest (default); false (`MULTIPOOL_FLAG_NO_FILE_DIGEST`, only
    /// with a chunker): chunks alone, results with an empty digest.
    public var fileDigest: Bool
    /// Chunk events kept for the caller before the files that make them pause; 0: 65,536.
    public var maxReadyChunks: Int
    /// The fields of a path's record (`Session.add(_:records:)`) that must equal the file's
    /// `stat` for it to be answered `.unchanged`, unopened; restic's by default (see
    /// `RecordPolicy`).
    public var recordPolicy: RecordPolicy

    public init(
        algorithm: Algorithm = .sha256, threads: String = "", followSymlinks: Bool = true,
        dropCache: Bool = false, diskOrder: Bool = true, directIO: Bool = true, bufferSize: Int = 0,
        inFlightPerThread: Int = 0, maxReadyResults: Int = 0, chunker: Chunker? = nil,
        chunkDigest: ChunkDigest? = nil, chunkKey: [UInt8]? = nil, fileDigest: Bool = true,
        maxReadyChunks: Int = 0, recordPolicy: RecordPolicy = .restic
    ) {
        self.algorithm = algorithm
        self.threads = threads
        self.followSymlinks = followSymlinks
        self.dropCache = dropCache
        self.diskOrder = diskOrder
        self.directIO = directIO
        self.bufferSize = bufferSize
        self.inFlightPerThread = inFlightPerThread
        self.maxReadyResults = maxReadyResults
        self.chunker = chunker
        self.chunkDigest = chunkDigest
        self.chunkKey = chunkKey
        self.fileDigest = fileDigest
        self.maxReadyChunks = maxReadyChunks
        self.recordPolicy = recordPolicy
    }

    /// The C options, the threads spec left to the caller. Throws `.invalidArgument` for a
    /// number that does not fit its field, `.invalidChunker` for a chunker's (see `Chunker`) or
    /// a key that is not 32 bytes; the library checks the rest.
    func c() throws(MultipoolError) -> multipool_options {
        guard bufferSize >= 0, let inFlight = UInt32(exactly: inFlightPerThread),
            let maxReady = UInt32(exactly: maxReadyResults), let maxChunks = UInt32(exactly: maxReadyChunks)
        else { throw MultipoolError(status: .invalidArgument) }
        var o = multipool_options()
        o.struct_size = MemoryLayout<multipool_options>.size
        o.algorithm = algorithm.rawValue
        var flags: UInt32 = 0
        if !followSymlinks { flags |= UInt32(MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS) }
        if dropCache { flags |= UInt32(MULTIPOOL_FLAG_DROP_CACHE) }
        if !diskOrder { flags |= UInt32(MULTIPOOL_FLAG_NO_DISK_ORDER) }
        if !directIO { flags |= UInt32(MULTIPOOL_FLAG_NO_DIRECT_IO) }
        if !fileDigest { flags |= UInt32(MULTIPOOL_FLAG_NO_FILE_DIGEST) }
        if let chunkKey {
            guard chunkKey.count == 32 else { throw MultipoolError(status: .invalidChunker) }
            flags |= UInt32(MULTIPOOL_FLAG_CHUNK_KEY)
            withUnsafeMutableBytes(of: &o.chunk_key) { $0.copyBytes(from: chunkKey) }
        }
        o.flags = flags
        o.buffer_size = bufferSize
        o.in_flight_per_thread = inFlight
        o.max_ready_results = maxReady
        try chunker?.write(into: &o)
        o.chunk_digest = chunkDigest?.rawValue ?? 0
        o.max_ready_chunks = maxChunks
        // The C field's 0 means restic's: an empty policy (which would vouch for any file whose
        // record has the right algorithm) is refused rather than silently restic's.
        guard !recordPolicy.isEmpty else { throw MultipoolError(status: .invalidArgument) }
        o.record_policy = recordPolicy.rawValue
        return o
    }
}
