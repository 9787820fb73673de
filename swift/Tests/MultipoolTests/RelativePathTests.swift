import Foundation
import Testing

@testable import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory `name` relative to the descriptor `dirfd`, opened as a walker opens it.
func openDirectory(_ dirfd: Int32, _ name: String) throws -> Int32 {
    let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
    return fd
}

/// Writes `contents` to `name` relative to `dirfd`.
func writeFile(_ dirfd: Int32, _ name: String, _ contents: String) throws {
    let fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
    defer { close(fd) }
    let bytes = Array(contents.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw POSIXError(.init(rawValue: errno)!)
    }
}

/// The digests a plain session gives `paths`, by path.
func digestsOf(_ paths: [String]) async throws -> [String: Digest] {
    let (results, _) = try await run(Options(), paths)
    var out: [String: Digest] = [:]
    for path in paths {
        let result = try #require(results[PathBytes(path)])
        #expect(result.isOK, "\(result)")
        out[path] = result.digest
    }
    return out
}

extension MultipoolTests {
    @Suite struct RelativePaths {
        @Test func filesDeeperThanPathMaxAreHashedRelativeToTheirDirectory() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            // 24 levels of 200-byte names: about 4,800 bytes, more than PATH_MAX (4,096).
            let depth = 24
            func name(_ level: Int) -> String {
                String(format: "%03d", level) + String(repeating: "d", count: 197)
            }
            func file(_ level: Int) -> String { String(format: "f%02d", level) }
            func contents(_ level: Int) -> String { "level \(level)\n" }
            var fds = [try openDirectory(AT_FDCWD, dir.path)]
            var whole = dir.path
            for level in 0..<depth {
                guard mkdirat(fds[level], name(level), 0o755) == 0 else {
                    throw POSIXError(.init(rawValue: errno)!)
                }
                fds.append(try openDirectory(fds[level], name(level)))
                whole += "/" + name(level)
                try writeFile(fds[level + 1], file(level + 1), contents(level + 1))
            }
            defer {
                // Removed by descriptors: by its whole path, the tree is out of reach.
                for level in stride(from: depth, to: 0, by: -1) {
                    unlinkat(fds[level], file(level), 0)
                    unlinkat(fds[level - 1], name(level - 1), AT_REMOVEDIR)
                }
                fds.forEach { close($0) }
            }
            #expect(open(whole + "/" + file(depth), O_RDONLY) == -1 && errno == ENAMETOOLONG)
            // The same contents at short paths give the digests to expect.
            let shallow = try (1...depth).map { try dir.file("copy\($0)", contents($0)) }
            let want = try await digestsOf(shallow)

            let session = try Session()
            var expected: [String: Int] = [:]
            for level in 0...depth {
                // From each directory, its own file and the one a level down.
                var paths: [String] = []
                if level > 0 { paths.append(file(level)) }
                if level < depth { paths.append(name(level) + "/" + file(level + 1)) }
                for path in paths { expected[path] = Int(path.suffix(2))! }
                // The library holds its own duplicate: the caller's may close at once.
                let mine = dup(fds[level])
                try session.add(paths, relativeTo: mine)
                close(mine)
            }
            session.finish()
            let results = try await collect(session)
            #expect(results.count == expected.count)
            for (path, level) in expected {
                let result = try #require(results[PathBytes(path)])
                #expect(result.isOK && result.identity != nil, "\(path): \(result)")
                #expect(result.digest == want[shallow[level - 1]], "\(path)")
            }
        }

        @Test func filesOfADirectoryRenamedAfterTheyWereAddedAreFound() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let names = (0..<300).map { String(format: "f%04d", $0) }
            for (i, name) in names.enumerated() {
                try dir.file("a/sub/\(name)", "file \(i)\n")
            }
            let fd = try openDirectory(AT_FDCWD, dir.join("a/sub"))
            let session = try Session()
            try session.add(names, relativeTo: fd)
            close(fd)
            // The directory and its parent move: no path by name leads to the files any more.
            #expect(rename(dir.join("a/sub"), dir.join("a/moved")) == 0)
            #expect(rename(dir.join("a"), dir.join("b")) == 0)
            session.finish()
            let results = try await collect(session)
            #expect(results.count == names.count)
            let want = try await digestsOf(names.map { dir.join("b/moved/\($0)") })
            for name in names {
                let result = try #require(results[PathBytes(name)])
                #expect(result.isOK && result.digest == want[dir.join("b/moved/\(name)")], "\(name): \(result)")
            }
        }

        @Test func whatIsNotADirectoryIsRefusedAndTheSessionGoesOn() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = try dir.file("f", "contents\n")
            let session = try Session()
            let file = open(path, O_RDONLY | O_CLOEXEC)
            #expect(file >= 0)
            defer { close(file) }
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try session.add(["f"], relativeTo: file)
            }
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try session.add(["f"], relativeTo: -1)
            }
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try session.add(["f"], relativeTo: AT_FDCWD)
            }
            // A descriptor that is not open.
            let closed = try openDirectory(AT_FDCWD, dir.path)
            close(closed)
            #expect(fcntl(closed, F_GETFD) == -1)
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try session.add(["f"], relativeTo: closed)
            }
            let fd = try openDirectory(AT_FDCWD, dir.path)
            defer { close(fd) }
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try session.add(["f"], relativeTo: fd, records: [])
            }
            // Nothing refused was queued: one result, for the one path added.
            try session.add([PathBytes("f")], relativeTo: fd)
            session.finish()
            let results = try await collect(session)
            #expect(results.count == 1)
            let want = try await digestsOf([path])
            #expect(results[PathBytes("f")]?.digest == want[path])
        }

        @Test func recordsOfRelativePathsAnswerUnchanged() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let names = (0..<4).map { "f\($0)" }
            for (i, name) in names.enumerated() {
                try dir.file(name, "file \(i)\n")
            }
            let fd = try openDirectory(AT_FDCWD, dir.path)
            defer { close(fd) }
            try await settle()
            func pass(_ records: [Record?]?) async throws -> [PathBytes: FileResult] {
                let session = try Session()
                try session.add(names, relativeTo: fd, records: records)
                session.finish()
                let results = try await collect(session)
                #expect(results.count == names.count)
                return results
            }
            // Records made from the results of relative paths, as a walker by descriptors makes them.
            let first = try await pass(nil)
            let records = try names.map { name in
                let result = try #require(first[PathBytes(name)])
                return try #require(Record(result: result))
            }
            // A digest no file has (it comes back only from a record), the third record for
            // another inode, the last none.
            var stored: [Record?] = records.map { $0.with { $0.digest = fakeDigest } }
            stored[2] = stored[2]!.with { $0.inode += 1 }
            stored[3] = nil
            let second = try await pass(stored)
            for (i, name) in names.enumerated() {
                let result = try #require(second[PathBytes(name)])
                if i < 2 {
                    #expect(result.isUnchanged && result.digest == fakeDigest, "\(name): \(result)")
                    #expect(result.identity?.inode == records[i].inode)
                } else {
                    #expect(result.isOK && result.digest == records[i].digest, "\(name): \(result)")
                }
            }
        }
    }
}
