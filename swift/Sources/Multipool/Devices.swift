import CMultipool

/// Progress counters of a session or of one device (`multipool_stats`). Each is exact on its
/// own, but they are not read at one instant; once the session is done they all are exact.
public struct Stats: Hashable, Sendable {
    /// Paths accepted (session) or assigned to this device (device).
    public var filesQueued: UInt64
    /// Sizes of the queued files, as known when each was assigned to a device.
    public var bytesQueued: UInt64
    /// Files hashed.
    public var filesDone: UInt64
    /// Bytes read and hashed so far, files still being read included.
    public var bytesDone: UInt64
    /// Files whose result is an error other than `.cancelled`.
    public var filesFailed: UInt64
    /// Files whose result is `.cancelled`.
    public var filesCancelled: UInt64
    /// Files of a hard disk found in the page cache, and read by the page-cache pool.
    public var filesFromCache: UInt64
    /// Files answered `.unchanged` from their record, not read (not in `filesDone`).
    public var filesUnchanged: UInt64

    init(_ s: multipool_stats) {
        filesQueued = s.files_queued
        bytesQueued = s.bytes_queued
        filesDone = s.files_done
        bytesDone = s.bytes_done
        filesFailed = s.files_failed
        filesCancelled = s.files_cancelled
        filesFromCache = s.files_from_cache
        filesUnchanged = s.files_unchanged
    }

    /// Results produced so far: done, failed, cancelled and unchanged.
    public var filesFinished: UInt64 { filesDone + filesFailed + filesCancelled + filesUnchanged }
}

/// What kind of device a device is, which sizes its pool.
public struct DeviceKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let unknown = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_UNKNOWN))
    public static let ssd = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_SSD))
    public static let hdd = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_HDD))
    public static let ram = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_RAM))
    public static let network = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_NETWORK))
    public static let removable = DeviceKind(rawValue: UInt32(MULTIPOOL_KIND_REMOVABLE))
    /// "ssd", "hdd", "ram", "network", "removable" or "unknown".
    public var description: String { String(cString: multipool_kind_str(rawValue)) }
}

/// How a device's kind was decided.
public struct KindSource: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let unknown = KindSource(rawValue: UInt32(MULTIPOOL_KIND_SOURCE_UNKNOWN))
    public static let sysfs = KindSource(rawValue: UInt32(MULTIPOOL_KIND_SOURCE_SYSFS))
    public static let mountinfo = KindSource(rawValue: UInt32(MULTIPOOL_KIND_SOURCE_MOUNTINFO))
    public static let override = KindSource(rawValue: UInt32(MULTIPOOL_KIND_SOURCE_OVERRIDE))
    public static let virtual = KindSource(rawValue: UInt32(MULTIPOOL_KIND_SOURCE_VIRTUAL))
    /// "sysfs", "mountinfo", "override", "virtual" or "unknown".
    public var description: String { String(cString: multipool_kind_source_str(rawValue)) }
}

/// Why a device has the limit on reads in flight it has.
public struct LimitReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Pinned by a thread count in the threads spec.
    public static let pinned = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_PINNED))
    /// Fixed by the device's kind.
    public static let kind = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_KIND))
    /// Starting up: doubling while that pays.
    public static let startup = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_STARTUP))
    /// Settled where more reads stopped paying.
    public static let settled = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_SETTLED))
    /// Trying another limit for one measurement window.
    public static let probing = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_PROBING))
    /// Throughput fell as reads were added: read as a hard disk.
    public static let seekPenalty = LimitReason(rawValue: UInt32(MULTIPOOL_LIMIT_SEEK_PENALTY))
    /// "pinned", "kind", "startup", "settled", "probing", "seek-penalty" or "unknown".
    public var description: String { String(cString: multipool_limit_reason_str(rawValue)) }
}

/// A storage device the session has met, with its pool and its counters.
public struct Device: Hashable, Sendable {
    /// Its index, as in `FileResult.device`.
    public let index: Int
    /// A disk (`vda`, `nvme0n1`), `ram`, a network source, or `dm-0 (sda+sdb)`.
    public let name: String
    /// The kind that sized its pool.
    public let kind: DeviceKind
    /// How the kind was decided.
    public let kindSource: KindSource
    /// Threads in its pool.
    public let threads: Int
    /// Reads it may have in flight now (while probing, the probe's count).
    public let readsLimit: Int
    /// The limit on reads in flight it settled on (`readsLimit` but while probing).
    public let readsChosen: Int
    /// Why it has that limit.
    public let limitReason: LimitReason
    /// Whether its waiting files are read in on-disk order (a hard disk, declared or found).
    public let diskOrder: Bool
    /// Its counters.
    public let stats: Stats

    init(_ d: multipool_device, stats: Stats) {
        index = Int(d.index)
        name = withUnsafeBytes(of: d.name) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        kind = DeviceKind(rawValue: d.kind)
        kindSource = KindSource(rawValue: d.kind_source)
        threads = Int(d.threads)
        readsLimit = Int(d.reads_limit)
        readsChosen = Int(d.reads_chosen)
        limitReason = LimitReason(rawValue: d.limit_reason)
        diskOrder = d.disk_order != 0
        self.stats = stats
    }
}
