import CMultipool

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A file as one `stat` saw it when it was hashed (`FileResult.identity`): what decides next
/// time, through a `Record`, whether the file changed.
public struct Identity: Hashable, Sendable {
    /// Size in bytes.
    public var size: UInt64
    /// Modification time, nanoseconds since the epoch.
    public var mtimeNs: Int64
    /// Status-change time, nanoseconds since the epoch.
    public var ctimeNs: Int64
    /// Inode number.
    public var inode: UInt64
    /// `st_dev` (not `FileResult.device`, the index of the device that read the file):
    /// unstable across reboots on removable disks and some file systems (ZFS, btrfs
    /// subvolumes), which is why no preset policy compares it.
    public var deviceID: UInt64
    /// `st_mode`: the file type and permission bits.
    public var mode: UInt32

    public init(size: UInt64, mtimeNs: Int64, ctimeNs: Int64, inode: UInt64, deviceID: UInt64, mode: UInt32) {
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.inode = inode
        self.deviceID = deviceID
        self.mode = mode
    }

    /// `mtimeNs` as a date.
    public var modificationDate: Date { Date(timeIntervalSince1970: Double(mtimeNs) / 1e9) }
}

/// What a caller knew of a file from its last backup: its identity then, and the digest it
/// stored. Added with the file's path (`Session.add(_:records:)`), it lets the session answer
/// the file `.unchanged`, with `digest`, without opening it, when the file's `stat` still
/// matches under `Options.recordPolicy`. Make one from a result (`Record(result:)`) or from
/// stored fields.
public struct Record: Hashable, Sendable {
    public var size: UInt64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var inode: UInt64
    /// `st_dev`, compared only under a policy with `.device`; nil: none kept.
    public var deviceID: UInt64?
    /// The algorithm of `digest`: a record of another algorithm than the session's never
    /// matches (a cache of digests is keyed by algorithm too).
    public var algorithm: Algorithm
    /// The digest the caller stored, returned in the result when the record matches; of
    /// another length than the algorithm's, the record never matches.
    public var digest: Digest

    public init(
        size: UInt64, mtimeNs: Int64, ctimeNs: Int64, inode: UInt64, deviceID: UInt64? = nil,
        algorithm: Algorithm, digest: Digest
    ) {
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.inode = inode
        self.deviceID = deviceID
        self.algorithm = algorithm
        self.digest = digest
    }

    /// The record to keep of `result` for next time: its identity (device number included),
    /// algorithm and digest; nil for a result without a digest or an identity (a failure, or a
    /// session without file digests).
    public init?(result: FileResult) {
        guard let id = result.identity, result.error == nil, !result.digest.isEmpty else { return nil }
        self.init(
            size: id.size, mtimeNs: id.mtimeNs, ctimeNs: id.ctimeNs, inode: id.inode, deviceID: id.deviceID,
            algorithm: result.algorithm, digest: result.digest)
    }

    /// The record as the C API reads it: integers only.
    var c: multipool_record {
        var c = multipool_record()
        c.flags = UInt32(MULTIPOOL_RECORD_PRESENT)
        if let deviceID {
            c.flags |= UInt32(MULTIPOOL_RECORD_HAS_DEVICE)
            c.device_id = deviceID
        }
        c.algorithm = algorithm.rawValue
        c.size = size
        c.mtime_ns = mtimeNs
        c.ctime_ns = ctimeNs
        c.inode = inode
        c.digest_len = UInt32(digest.count)
        c.digest = digest.storage
        return c
    }
}

/// The fields of a record that must equal the file's `stat` for it to be answered `.unchanged`
/// (`Options.recordPolicy`). The algorithm and the digest's length always count, and a file
/// whose mtime or ctime is within the settle margin (1 s) of now is always read.
///
/// Pitfalls: `.ctime` sees `chmod`, `chown`, new hard links and xattr writes (so `chmod -R`
/// forces a full rescan: `.mtimeSize`, or `.restic.subtracting(.ctime)`, restic's
/// `--ignore-ctime`, survives it); `.inode` sees a file replaced by rename and every file of a
/// restored or copied file system; the device number is unstable on removable disks, ZFS and
/// btrfs subvolumes, so no preset has `.device`.
public struct RecordPolicy: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public static let mtime = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_MATCH_MTIME))
    public static let ctime = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_MATCH_CTIME))
    public static let size = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_MATCH_SIZE))
    public static let inode = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_MATCH_INODE))
    /// The device number, where the record has one.
    public static let device = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_MATCH_DEVICE))

    /// restic's: mtime, ctime, size and inode. The default.
    public static let restic = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_POLICY_RESTIC))
    /// borg's files cache: ctime, size and inode.
    public static let borg = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_POLICY_BORG))
    /// mtime and size alone: survives `chmod -R` and new inodes.
    public static let mtimeSize = RecordPolicy(rawValue: UInt32(MULTIPOOL_RECORD_POLICY_MTIME_SIZE))
}

extension Session {
    /// Queues paths as `add(_:)` does (all or none, in one call into the library:
    /// `multipool_session_enqueue_records`), `records[i]` being what the caller knew of
    /// `paths[i]`: a file whose `stat` matches its record under `Options.recordPolicy`, with a
    /// digest of the session's algorithm and length, and stamped before the settle margin, is
    /// answered `.unchanged` with the record's digest, unopened (with a chunker, without chunk
    /// events). Every other path, and one whose record is nil, is hashed. Throws
    /// `.invalidArgument` when `records` is not as long as `paths`, and as `add(_:)`.
    public func add(_ paths: [PathBytes], records: [Record?]) throws(MultipoolError) {
        try enqueue(PathArena(paths), records: records)
    }

    /// `add(_:records:)` for paths given as strings (their UTF-8 bytes).
    public func add(_ paths: [String], records: [Record?]) throws(MultipoolError) {
        try enqueue(PathArena(strings: paths), records: records)
    }
}
