import Foundation
import Testing

@testable import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every test of the package, one at a time: some count the library's threads in this process,
/// which another test's session running beside them would change.
@Suite(.serialized) enum MultipoolTests {}

/// A new directory under the temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/multipool-swift-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno)!) }
        path = String(cString: made)
    }

    /// `path/name` as bytes: the name need not be UTF-8.
    func join(_ name: [UInt8]) -> [UInt8] {
        Array(path.utf8) + [UInt8(ascii: "/")] + name
    }

    func join(_ name: String) -> String {
        "\(path)/\(name)"
    }

    /// Writes `contents` at `path/name`, creating the directories on the way; returns the
    /// path's bytes.
    @discardableResult
    func file(_ name: [UInt8], _ contents: [UInt8]) throws -> [UInt8] {
        let full = join(name)
        if let slash = full.lastIndex(of: UInt8(ascii: "/")), slash > path.utf8.count {
            try mkdirs(Array(full[..<slash]))
        }
        let fd = withCString(full) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        if fd < 0 { throw POSIXError(.init(rawValue: errno)!) }
        defer { close(fd) }
        var written = 0
        while written < contents.count {
            let n = contents[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw POSIXError(.init(rawValue: errno)!) }
            written += n
        }
        return full
    }

    @discardableResult
    func file(_ name: String, _ contents: String) throws -> String {
        try file(Array(name.utf8), Array(contents.utf8))
        return join(name)
    }

    func remove() {
        // Give back the permission a test took away, so that the removal can go in.
        _ = chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }

    private func mkdirs(_ dir: [UInt8]) throws {
        if let slash = dir.lastIndex(of: UInt8(ascii: "/")), slash > path.utf8.count {
            try mkdirs(Array(dir[..<slash]))
        }
        let status = withCString(dir) { mkdir($0, 0o755) }
        if status != 0 && errno != EEXIST { throw POSIXError(.init(rawValue: errno)!) }
    }
}

/// Calls `body` with `path` as a C string.
func withCString<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var name = path.map { CChar(bitPattern: $0) }
    name.append(0)
    return body(name)
}

/// A FIFO at `path`.
func makeFIFO(_ path: String) throws {
    guard mkfifo(path, 0o644) == 0 else { throw POSIXError(.init(rawValue: errno)!) }
}

/// Bytes in lowercase hex.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The library's threads alive in this process (named `mp-router`, `mp-lookup`, `mpN.feed`,
/// `mpN.M`), as tests/common/threads.rs counts them: a thread already joined but not yet reaped
/// (no address space left) does not count.
func sessionThreads() -> Int {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
    return tasks.filter { tid in
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), let open = stat.firstIndex(of: "(")
        else { return false }
        let comm = stat[stat.index(after: open)..<close]
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let vsize = fields.count > 20 ? UInt64(fields[20]) ?? 0 : 0
        return comm.hasPrefix("mp") && vsize > 0
    }.count
}

/// Waits up to `seconds` for the library's threads to be gone; how many were left.
func sessionThreadsSettled(within seconds: Double = 5) async -> Int {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        let left = sessionThreads()
        if left == 0 || Date() >= deadline { return left }
        try? await Task.sleep(nanoseconds: 2_000_000)
    }
}

/// Every result of `session` until the end, by path.
func collect(_ session: Session) async throws -> [PathBytes: FileResult] {
    var seen: [PathBytes: FileResult] = [:]
    for try await result in session.results {
        #expect(seen[result.path] == nil, "\(result.path) twice")
        seen[result.path] = result
    }
    return seen
}

/// Where the repository is: the tests read its shared test vectors.
let repositoryRoot: String = {
    if let root = ProcessInfo.processInfo.environment["MULTIPOOL_ROOT"] { return root }
    // swift/Tests/MultipoolTests/Support.swift
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()
