// The status codes: the one source of their numbers, C names, documentation and descriptions.
//
// Each entry is `Variant = code, C_NAME, "description";` under its doc comment. The crate includes
// this file three times (the `Status` enum in `status`, the C constants in `ffi::codes`) and
// build.rs once more, for the `#define`s of include/multipool.h. Codes are part of the ABI: add
// entries, never renumber or reuse one. 0-99 are success-like, 100-199 refuse a call, 200-299
// describe one file.
statuses! {
    /// Success: the call did what was asked, or the file was hashed. A file's digest is reported
    /// only if the file stood still for it: its mtime and ctime older than the read by the settle
    /// margin (1 s), and the same size, mtime, ctime, inode and device before the first read and
    /// after the last (see README, "How it works").
    Ok = 0, MULTIPOOL_OK, "ok";
    /// `poll`: the session is finished and every result has been delivered.
    Done = 1, MULTIPOOL_DONE, "session finished and all results delivered";
    /// `poll`: no result arrived before the timeout.
    Timeout = 2, MULTIPOOL_TIMEOUT, "timed out waiting for results";
    /// `multipool_session_poll_wakeable`: no result yet, and the wake generation moved from the
    /// one the caller gave (`multipool_session_wake` was called).
    Woken = 3, MULTIPOOL_WOKEN, "woken by multipool_session_wake";
    /// A file's result: its `stat` matched the prior record enqueued with it (under the
    /// session's record policy, with the record's digest of the session's algorithm, and its
    /// stamps older than the settle margin), so it was not opened; the result carries the
    /// record's digest and the file's identity as the `stat` saw it. Never reported as OK.
    Unchanged = 4, MULTIPOOL_UNCHANGED, "unchanged since its prior record: not read, the record's digest returned";

    /// A required pointer argument was NULL.
    NullPointer = 100, MULTIPOOL_ERR_NULL_POINTER, "a required pointer argument is NULL";
    /// An argument is out of its documented range.
    InvalidArgument = 101, MULTIPOOL_ERR_INVALID_ARGUMENT, "invalid argument";
    /// A struct's size (the `struct_size` field of `multipool_options`, `multipool_stats` or
    /// `multipool_device`, or the `result_size` given to `multipool_session_poll`) is smaller than
    /// the first version of that struct or larger than `MULTIPOOL_MAX_STRUCT_SIZE`, or an options
    /// struct larger than this library knows has non-zero bytes in the fields it does not know.
    StructSize = 102, MULTIPOOL_ERR_STRUCT_SIZE, "struct size out of range, or unknown non-zero fields";
    /// The threads spec could not be parsed.
    InvalidThreadsSpec = 103, MULTIPOOL_ERR_INVALID_THREADS_SPEC, "invalid threads spec";
    /// The session no longer accepts paths: `finish` was called.
    SessionFinished = 104, MULTIPOOL_ERR_SESSION_FINISHED, "session is finished and accepts no more paths";
    /// The session no longer accepts paths: `cancel` was called.
    SessionCancelled = 105, MULTIPOOL_ERR_SESSION_CANCELLED, "session is cancelled and accepts no more paths";
    /// The operating system refused memory, a thread or another resource the session needs.
    ResourceExhausted = 106, MULTIPOOL_ERR_RESOURCE_EXHAUSTED, "out of memory, threads or another resource";
    /// A bug inside the library (a caught panic). Please report it.
    Internal = 107, MULTIPOOL_ERR_INTERNAL, "internal error in multipool (please report)";
    /// The chunking options are invalid: sizes out of their documented ranges or out of order,
    /// a normalization level above 3, a restic polynomial that is not irreducible of degree 53,
    /// a chunk digest or a key that does not go with the chunker (see `multipool_options`).
    InvalidChunker = 108, MULTIPOOL_ERR_INVALID_CHUNKER, "invalid chunking options";
    /// `multipool_session_poll`: the session cuts chunks, and its chunk events come only through
    /// `multipool_session_poll_events`, which delivers its results as well.
    NeedsEventPoll = 109, MULTIPOOL_ERR_NEEDS_EVENT_POLL, "the session makes chunk events: poll it with multipool_session_poll_events";

    /// The path does not exist (ENOENT, ENOTDIR, or an empty path).
    NotFound = 200, MULTIPOOL_ERR_NOT_FOUND, "no such file or directory";
    /// The caller may not read the file (EACCES, EPERM).
    PermissionDenied = 201, MULTIPOOL_ERR_PERMISSION_DENIED, "permission denied";
    /// The path is a directory.
    IsDirectory = 202, MULTIPOOL_ERR_IS_DIRECTORY, "is a directory";
    /// The path is a FIFO (named pipe); it is never opened for reading in a blocking way.
    IsFifo = 203, MULTIPOOL_ERR_IS_FIFO, "is a FIFO (named pipe), not a regular file";
    /// The path is a Unix domain socket.
    IsSocket = 204, MULTIPOOL_ERR_IS_SOCKET, "is a socket, not a regular file";
    /// The path is a character or block device.
    IsDevice = 205, MULTIPOOL_ERR_IS_DEVICE, "is a device, not a regular file";
    /// The path is a symbolic link and the session does not follow links.
    IsSymlink = 206, MULTIPOOL_ERR_IS_SYMLINK, "is a symbolic link and links are not followed";
    /// Too many levels of symbolic links (ELOOP), e.g. a link that points to itself.
    SymlinkLoop = 207, MULTIPOOL_ERR_SYMLINK_LOOP, "too many levels of symbolic links";
    /// The path or one of its components is too long (ENAMETOOLONG).
    NameTooLong = 208, MULTIPOOL_ERR_NAME_TOO_LONG, "file name too long";
    /// The path contains a NUL byte, which no file name can.
    InvalidPath = 209, MULTIPOOL_ERR_INVALID_PATH, "path contains a NUL byte";
    /// The file changed while it was hashed (its size, mtime, ctime, inode or device moved
    /// between the look before the first read and the one after the last), or was still
    /// changing when read again after the settle margin; the digest is not reported.
    Changed = 210, MULTIPOOL_ERR_CHANGED, "file changed while it was being hashed";
    /// Reading failed (EIO and similar); `os_error` has the errno.
    IoError = 211, MULTIPOOL_ERR_IO, "read error";
    /// The session was cancelled before this file was hashed.
    Cancelled = 212, MULTIPOOL_ERR_CANCELLED, "cancelled";
    /// Another operating-system error; `os_error` has the errno.
    OsError = 213, MULTIPOOL_ERR_OS, "operating system error";
}
