import CMultipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A status code of the C API (`multipool_status`): why a call was refused, or why one file has
/// no digest. Codes are stable and never reused; a newer library may return one this package
/// does not name, and `description` still describes it.
public struct Status: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The library's English description of the code (`multipool_status_str`).
    public var description: String {
        String(cString: multipool_status_str(rawValue))
    }

    /// Success: the call did what was asked, or the file was hashed.
    public static let ok = Status(rawValue: UInt32(MULTIPOOL_OK))
    /// A file's result, never a call's: its `stat` matched the record it was added with
    /// (`Session.add(_:records:)`) under `Options.recordPolicy`, so it was not opened, and its
    /// digest is the record's. Not a failure: such a result has no `error` and `get()` returns
    /// the digest, so that one loop takes hashed and unchanged files alike.
    public static let unchanged = Status(rawValue: UInt32(MULTIPOOL_UNCHANGED))

    // Refused calls (100–199).
    /// A required pointer was NULL (a bug of this package if ever seen).
    public static let nullPointer = Status(rawValue: UInt32(MULTIPOOL_ERR_NULL_POINTER))
    /// An argument is out of its documented range (an option, say).
    public static let invalidArgument = Status(rawValue: UInt32(MULTIPOOL_ERR_INVALID_ARGUMENT))
    /// A struct's size was refused (a library older than the header this package was built with).
    public static let structSize = Status(rawValue: UInt32(MULTIPOOL_ERR_STRUCT_SIZE))
    /// The threads spec could not be parsed.
    public static let invalidThreadsSpec = Status(rawValue: UInt32(MULTIPOOL_ERR_INVALID_THREADS_SPEC))
    /// `add` after `finish()`.
    public static let sessionFinished = Status(rawValue: UInt32(MULTIPOOL_ERR_SESSION_FINISHED))
    /// `add` after `cancel()`.
    public static let sessionCancelled = Status(rawValue: UInt32(MULTIPOOL_ERR_SESSION_CANCELLED))
    /// No memory, thread or descriptor left for what was asked.
    public static let resourceExhausted = Status(rawValue: UInt32(MULTIPOOL_ERR_RESOURCE_EXHAUSTED))
    /// A bug inside the library.
    public static let `internal` = Status(rawValue: UInt32(MULTIPOOL_ERR_INTERNAL))
    /// The chunking options are invalid: sizes out of their ranges or out of order, a level
    /// above 3, a restic polynomial that is not irreducible of degree 53, a chunk digest or a
    /// key that does not go with the chunker.
    public static let invalidChunker = Status(rawValue: UInt32(MULTIPOOL_ERR_INVALID_CHUNKER))
    /// `Session.results` of a session that cuts chunks: its results come with its chunks from
    /// `Session.events`.
    public static let needsEventPoll = Status(rawValue: UInt32(MULTIPOOL_ERR_NEEDS_EVENT_POLL))

    // One file's failure (200–299).
    /// The path does not exist (ENOENT, ENOTDIR, or an empty path).
    public static let notFound = Status(rawValue: UInt32(MULTIPOOL_ERR_NOT_FOUND))
    /// The file may not be read (EACCES, EPERM).
    public static let permissionDenied = Status(rawValue: UInt32(MULTIPOOL_ERR_PERMISSION_DENIED))
    /// The path is a directory.
    public static let isDirectory = Status(rawValue: UInt32(MULTIPOOL_ERR_IS_DIRECTORY))
    /// The path is a FIFO; it is never opened in a way that blocks.
    public static let isFIFO = Status(rawValue: UInt32(MULTIPOOL_ERR_IS_FIFO))
    /// The path is a Unix domain socket.
    public static let isSocket = Status(rawValue: UInt32(MULTIPOOL_ERR_IS_SOCKET))
    /// The path is a character or block device.
    public static let isDevice = Status(rawValue: UInt32(MULTIPOOL_ERR_IS_DEVICE))
    /// The path is a symbolic link and the session does not follow links.
    public static let isSymlink = Status(rawValue: UInt32(MULTIPOOL_ERR_IS_SYMLINK))
    /// Too many levels of symbolic links (ELOOP).
    public static let symlinkLoop = Status(rawValue: UInt32(MULTIPOOL_ERR_SYMLINK_LOOP))
    /// The path or one of its components is too long.
    public static let nameTooLong = Status(rawValue: UInt32(MULTIPOOL_ERR_NAME_TOO_LONG))
    /// The path holds a NUL byte, which no file name can.
    public static let invalidPath = Status(rawValue: UInt32(MULTIPOOL_ERR_INVALID_PATH))
    /// The file changed while it was hashed; no digest is reported.
    public static let changed = Status(rawValue: UInt32(MULTIPOOL_ERR_CHANGED))
    /// Reading failed (EIO and the like).
    public static let io = Status(rawValue: UInt32(MULTIPOOL_ERR_IO))
    /// The session was cancelled before this file was hashed.
    public static let cancelled = Status(rawValue: UInt32(MULTIPOOL_ERR_CANCELLED))
    /// Another operating-system error.
    public static let os = Status(rawValue: UInt32(MULTIPOOL_ERR_OS))
}

/// Why a call failed or a file has no digest: the library's status, the operating system's
/// errno where there is one, and for a file, its path. `catch` tells the cases apart by either:
///
/// ```swift
/// do {
///     let digest = try result.get()          // throws(MultipoolError)
/// } catch Status.notFound {
///     ...
/// } catch let error where error.code == .EACCES {
///     ...
/// }
/// ```
///
/// Where the error is an `any Error`: `catch let error as MultipoolError where error.code ==
/// .EACCES`; `catch Status.notFound` works there too.
public struct MultipoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The library's status.
    public let status: Status
    /// The errno behind the failure, if the system gave one (`ENOENT`, `EACCES`, `ELOOP`…).
    public let code: POSIXErrorCode?
    /// The file's path, for a file's failure; nil for a refused call.
    public let path: PathBytes?

    public init(status: Status, code: POSIXErrorCode? = nil, path: PathBytes? = nil) {
        self.status = status
        self.code = code
        self.path = path
    }

    /// "PATH: reason" for a file, the reason alone for a call: the system's message for the
    /// errno when there is one (as `strerror`), else the library's for the status.
    public var description: String {
        let reason = code.map { String(cString: strerror($0.rawValue)) } ?? status.description
        return path.map { "\($0): \(reason)" } ?? reason
    }
}

/// `catch Status.notFound`: matches a `MultipoolError` of that status. (There is no such
/// pattern for a `POSIXErrorCode`: an enum's case in a `catch` is read as an enum-case pattern,
/// which only an error of that type matches.)
public func ~= (pattern: Status, error: any Error) -> Bool {
    (error as? MultipoolError)?.status == pattern
}
