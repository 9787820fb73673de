import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to a file descriptor, through a buffer of 64 KiB.
struct Output {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Writes out what is buffered; false if the system refused it.
    @discardableResult
    mutating func flush() -> Bool {
        defer { buffer.removeAll(keepingCapacity: true) }
        var done = 0
        while done < buffer.count {
            let n = buffer[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }
}

/// A line on standard error, unbuffered: "swifthash: " and the parts.
func complain(_ parts: [UInt8]...) {
    var out = Output(fd: 2)
    out.append(Array("swifthash: ".utf8))
    for part in parts { out.append(part) }
    out.append([UInt8(ascii: "\n")])
    out.flush()
}

/// The system's message for an errno.
func systemMessage(_ code: Int32) -> [UInt8] {
    Array(String(cString: strerror(code)).utf8)
}

/// Calls `body` with `path` as a C string.
func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var name = path.map { CChar(bitPattern: $0) }
    name.append(0)
    return body(name)
}

/// Hands paths to the session in batches of 256 (one library call each), walking directories as
/// mphash does.
struct Walker {
    let session: Session
    private var batch: [[UInt8]] = []
    /// Whether anything failed here: a directory that could not be read, a refused batch.
    private(set) var failed = false

    init(session: Session) {
        self.session = session
        batch.reserveCapacity(256)
    }

    /// A path named on the command line: a directory is walked, anything else is hashed as it
    /// is (the library reports what is wrong with it).
    mutating func addArgument(_ path: [UInt8]) {
        var st = stat()
        if withCPath(path, { stat($0, &st) }) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            walk(path)
        } else {
            add(path)
        }
    }

    mutating func add(_ path: [UInt8]) {
        batch.append(path)
        if batch.count == 256 { flush() }
    }

    mutating func flush() {
        guard !batch.isEmpty else { return }
        do {
            try session.add(batch)
        } catch {
            complain(Array("add: \(error)".utf8))
            failed = true
        }
        batch.removeAll(keepingCapacity: true)
    }

    /// `dir` + "/" + `name`, the slash left out after a slash or an empty `dir` (mphash's join):
    /// from "." the paths read "./name", as find and the checksum tools print them.
    static func join(_ dir: [UInt8], _ name: [UInt8]) -> [UInt8] {
        var path = dir
        if let last = dir.last, last != UInt8(ascii: "/") { path.append(UInt8(ascii: "/")) }
        path.append(contentsOf: name)
        return path
    }

    /// Walks a directory tree without recursion (one open directory at a time), adding regular
    /// files; symbolic links and special files inside it are skipped without a line, and an
    /// entry or directory that cannot be examined is an error line.
    mutating func walk(_ root: [UInt8]) {
        var stack = [Self.join(root, [])]
        while let dir = stack.popLast() {
            guard let handle = withCPath(dir, { opendir($0) }) else {
                complain(dir, Array(": ".utf8), systemMessage(errno))
                failed = true
                continue
            }
            defer { closedir(handle) }
            while true {
                errno = 0  // readdir returns nil both at the end and on an error
                guard let entry = readdir(handle) else {
                    if errno != 0 {
                        complain(dir, Array(": ".utf8), systemMessage(errno))
                        failed = true
                    }
                    break
                }
                let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                let path = Self.join(dir, name)
                var type = entry.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {
                    // The file system does not say what the entry is: ask, and report an entry
                    // that cannot be examined rather than pass over it in silence.
                    var st = stat()
                    if withCPath(path, { lstat($0, &st) }) != 0 {
                        complain(path, Array(": ".utf8), systemMessage(errno))
                        failed = true
                        continue
                    }
                    let format = st.st_mode & S_IFMT
                    type = UInt8(format == S_IFDIR ? DT_DIR : format == S_IFREG ? DT_REG : DT_LNK)
                }
                if type == UInt8(DT_DIR) {
                    stack.append(path)
                } else if type == UInt8(DT_REG) {
                    add(path)
                }
            }
        }
    }
}
