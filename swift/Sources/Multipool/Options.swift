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

    public init(
        algorithm: Algorithm = .sha256, threads: String = "", followSymlinks: Bool = true,
        dropCache: Bool = false, diskOrder: Bool = true, directIO: Bool = true, bufferSize: Int = 0,
        inFlightPerThread: Int = 0, maxReadyResults: Int = 0
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
    }

    /// The C options, the threads spec left to the caller; nil if a number does not fit.
    var c: multipool_options? {
        guard bufferSize >= 0, let inFlight = UInt32(exactly: inFlightPerThread),
            let maxReady = UInt32(exactly: maxReadyResults)
        else { return nil }
        var o = multipool_options()
        o.struct_size = MemoryLayout<multipool_options>.size
        o.algorithm = algorithm.rawValue
        var flags: UInt32 = 0
        if !followSymlinks { flags |= UInt32(MULTIPOOL_FLAG_NO_FOLLOW_SYMLINKS) }
        if dropCache { flags |= UInt32(MULTIPOOL_FLAG_DROP_CACHE) }
        if !diskOrder { flags |= UInt32(MULTIPOOL_FLAG_NO_DISK_ORDER) }
        if !directIO { flags |= UInt32(MULTIPOOL_FLAG_NO_DIRECT_IO) }
        o.flags = flags
        o.buffer_size = bufferSize
        o.in_flight_per_thread = inFlight
        o.max_ready_results = maxReady
        return o
    }
}
