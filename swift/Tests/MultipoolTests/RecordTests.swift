import Foundation
import Testing

@testable import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits out the library's settle margin (1 s): only a file stamped before it can be answered
/// from its record.
func settle() async throws {
    try await Task.sleep(nanoseconds: 1_100_000_000)
}

/// The file's `stat`.
func statOf(_ path: String) throws -> stat {
    var st = stat()
    guard stat(path, &st) == 0 else { throw POSIXError(.init(rawValue: errno)!) }
    return st
}

func nanoseconds(_ t: timespec) -> Int64 {
    Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// One session over `paths`, with `records` if given: its results by path, and its counters.
func run(
    _ options: Options = Options(), _ paths: [String], records: [Record?]? = nil
) async throws -> ([PathBytes: FileResult], Stats) {
    let session = try Session(options)
    if let records {
        try session.add(paths, records: records)
    } else {
        try session.add(paths)
    }
    session.finish()
    let results = try await collect(session)
    #expect(results.count == Set(paths).count)
    return (results, session.stats)
}

/// The records a plain session makes of `paths`, in order.
func recordsOf(_ paths: [String], _ options: Options = Options()) async throws -> [Record] {
    let (results, _) = try await run(options, paths)
    return try paths.map { path in
        let result = try #require(results[PathBytes(path)])
        #expect(result.isOK, "\(result)")
        return try #require(Record(result: result))
    }
}

/// A digest no file here has: a record that vouches for a file returns it as it is.
let fakeDigest = Digest((0..<32).map { UInt8($0 * 7 & 0xff) })

extension Record {
    func with(_ change: (inout Record) -> Void) -> Record {
        var record = self
        change(&record)
        return record
    }
}

extension MultipoolTests {
    @Suite struct Records {
        @Test func everyResultCarriesTheIdentityItWasHashedWith() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let paths = try (0..<3).map { try dir.file("f\($0)", "file \($0)\n") }
            let missing = dir.join("missing")
            let (results, _) = try await run(Options(algorithm: .blake3), paths + [missing])
            for path in paths {
                let result = try #require(results[PathBytes(path)])
                let st = try statOf(path)
                let identity = try #require(result.identity)
                #expect(
                    identity
                        == Identity(
                            size: UInt64(st.st_size), mtimeNs: nanoseconds(st.st_mtim),
                            ctimeNs: nanoseconds(st.st_ctim), inode: UInt64(st.st_ino),
                            deviceID: UInt64(st.st_dev), mode: UInt32(st.st_mode)))
                #expect(!result.isUnchanged && result.algorithm == .blake3)
                let record = try #require(Record(result: result))
                #expect(record.digest == result.digest && record.algorithm == .blake3)
                #expect(record.inode == identity.inode && record.deviceID == identity.deviceID)
                #expect(abs(identity.modificationDate.timeIntervalSince1970 - Double(st.st_mtim.tv_sec)) < 1)
            }
            let failed = try #require(results[PathBytes(missing)])
            #expect(failed.identity == nil && Record(result: failed) == nil)
        }

        @Test func matchingRecordsAnswerUnchangedWithTheirDigestUnread() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let paths = try (0..<20).map { try dir.file("f\($0)", "file \($0)\n") }
            // A file no one may read (root without its capabilities, as tests/swift.rs runs
            // this suite once), its record made from its stat: answered all the same.
            let locked = try dir.file("locked", "locked\n")
            #expect(chmod(locked, 0) == 0)
            try await settle()
            let records = try await recordsOf(paths).map { $0.with { $0.digest = fakeDigest } }
            let st = try statOf(locked)
            let lockedRecord = Record(
                size: UInt64(st.st_size), mtimeNs: nanoseconds(st.st_mtim), ctimeNs: nanoseconds(st.st_ctim),
                inode: UInt64(st.st_ino), algorithm: .sha256, digest: fakeDigest)
            let (results, stats) = try await run(Options(), paths + [locked], records: records + [lockedRecord])
            for (path, record) in zip(paths + [locked], records + [lockedRecord]) {
                let result = try #require(results[PathBytes(path)])
                // One loop: no error, the record's digest, and the status says it was not read.
                #expect(result.status == .unchanged && result.isUnchanged && !result.isOK, "\(result)")
                #expect(result.error == nil && (try? result.get()) == fakeDigest && result.attempt == 0)
                #expect(result.identity?.inode == record.inode && result.size == record.size)
                #expect(result.description.hasPrefix(fakeDigest.hex))
            }
            #expect(stats.filesUnchanged == 21 && stats.filesDone == 0 && stats.bytesDone == 0)
            #expect(stats.filesFinished == 21)

            // With a chunker: the result alone, no chunk events.
            let session = try Session(Options(chunker: .fixed(size: 2)))
            try session.add([paths[0]], records: [records[0]])
            session.finish()
            var events: [Event] = []
            for try await event in session.events { events.append(event) }
            #expect(events.count == 1)
            guard case .result(let result) = events.first else {
                Issue.record("\(events)")
                return
            }
            #expect(result.isUnchanged && result.digest == fakeDigest && result.chunks == 0)
        }

        @Test func recordsThatLieAreHashed() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = try dir.file("f", "contents\n")
            try await settle()
            let record = try await recordsOf([path])[0]
            let truth = record.digest
            let fake = record.with { $0.digest = fakeDigest }
            let lies: [(String, Record?)] = [
                ("no record", nil),
                ("another size", fake.with { $0.size += 1 }),
                ("another mtime", fake.with { $0.mtimeNs -= 1 }),
                ("a future mtime", fake.with { $0.mtimeNs += 3_600_000_000_000 }),
                ("another ctime", fake.with { $0.ctimeNs += 1 }),
                ("another inode", fake.with { $0.inode += 1 }),
                ("another algorithm", fake.with { $0.algorithm = .blake3 }),
                ("a digest of the wrong length", fake.with { $0.digest = Digest(Array(fakeDigest.prefix(16))) }),
                ("another device", fake.with { $0.deviceID = $0.deviceID.map { $0 + 1 } }),
            ]
            let session = try Session(Options(recordPolicy: RecordPolicy.restic.union(.device)))
            try session.add(Array(repeating: path, count: lies.count), records: lies.map(\.1))
            session.finish()
            var seen = 0
            for try await result in session.results {
                seen += 1
                let what = lies[Int(result.fileID.rawValue)].0
                #expect(result.isOK && result.digest == truth && result.attempt > 0, "\(what): \(result)")
            }
            #expect(seen == lies.count)
            // The device counts only under a policy that names it.
            let (results, _) = try await run(Options(), [path], records: [lies.last!.1])
            #expect(results[PathBytes(path)]?.isUnchanged == true)
            // Records and paths one for one; an empty policy is refused, not taken for restic's.
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try Session().add([path], records: [])
            }
            #expect(throws: MultipoolError(status: .invalidArgument)) { try Session(Options(recordPolicy: [])) }
        }

        @Test func chmodMovesCtimeAndThePoliciesDecide() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = try dir.file("f", "one\n")
            try await settle()
            let record = try await recordsOf([path])[0].with { $0.digest = fakeDigest }
            #expect(chmod(path, 0o600) == 0)
            try await settle()
            let cases: [(String, RecordPolicy, Bool)] = [
                ("restic", .restic, false),
                ("borg", .borg, false),
                ("mtime and size", .mtimeSize, true),
                ("restic --ignore-ctime", RecordPolicy.restic.subtracting(.ctime), true),
            ]
            for (name, policy, unchanged) in cases {
                let (results, stats) = try await run(Options(recordPolicy: policy), [path], records: [record])
                let result = try #require(results[PathBytes(path)])
                #expect(result.isUnchanged == unchanged && result.error == nil, "\(name): \(result)")
                #expect((result.digest == fakeDigest) == unchanged, "\(name)")
                #expect(stats.filesUnchanged == (unchanged ? 1 : 0), "\(name)")
            }
        }

        @Test func aFileWrittenJustNowIsHashedWhateverItsRecordSays() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = try dir.file("fresh", "abc")
            let st = try statOf(path)
            let record = Record(
                size: UInt64(st.st_size), mtimeNs: nanoseconds(st.st_mtim), ctimeNs: nanoseconds(st.st_ctim),
                inode: UInt64(st.st_ino), algorithm: .sha256, digest: fakeDigest)
            let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            var (results, _) = try await run(Options(), [path], records: [record])
            #expect(results[PathBytes(path)].map { $0.isOK && $0.digest.hex == abc } == true)
            try await settle()
            (results, _) = try await run(Options(), [path], records: [record])
            #expect(results[PathBytes(path)].map { $0.isUnchanged && $0.digest == fakeDigest } == true)
        }

        @Test func tenThousandRecordsInOneSession() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let n = 10_000
            let paths = try (0..<n).map { try dir.file("f\($0)", "file \($0)\n") }
            try await settle()
            var records = try await recordsOf(paths, Options(algorithm: .sha512))
            // Every hundredth record lies about the size: those files are hashed.
            for i in stride(from: 0, to: n, by: 100) { records[i].size += 1 }
            let (results, stats) = try await run(Options(algorithm: .sha512), paths, records: records)
            for (i, path) in paths.enumerated() {
                let result = try #require(results[PathBytes(path)])
                #expect(result.isUnchanged == (i % 100 != 0) && result.digest == records[i].digest, "\(result)")
            }
            #expect(stats.filesUnchanged == UInt64(n - n / 100) && stats.filesDone == UInt64(n / 100))
        }
    }
}
