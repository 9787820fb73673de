import CMultipool
import Foundation
import Testing

@testable import Multipool

/// `count` bytes of xorshift noise from `seed`: content with cuts of every kind.
func noise(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed | 1
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            buffer[i] = UInt8(truncatingIfNeeded: x)
        }
        initialized = count
    }
}

extension TempDir {
    /// Writes `contents` at `path/name`; returns the path.
    func bytesFile(_ name: String, _ contents: [UInt8]) throws -> String {
        try file(Array(name.utf8), contents)
        return join(name)
    }
}

/// Every event of `session` until the end, in the order one iteration got them.
func allEvents(_ session: Session) async throws -> [Event] {
    var events: [Event] = []
    for try await event in session.events {
        events.append(event)
    }
    return events
}

/// One file's events as one iteration got them.
struct FileEvents {
    var chunks: [ChunkEvent] = []
    var result: FileResult?

    /// The chunks that count: those of the result's attempt.
    var counted: [ChunkEvent] {
        chunks.filter { $0.attempt == result?.attempt }
    }
}

/// The events of each file, checking on the way the order one iteration may rely on: a file's
/// chunks of one attempt in index order (with no gap if the iteration was the only one:
/// `all`), nothing after its result, one result.
func byFile(_ events: [Event], all: Bool = true) -> [FileID: FileEvents] {
    var files: [FileID: FileEvents] = [:]
    for event in events {
        switch event {
        case .chunk(let chunk):
            var file = files[chunk.fileID, default: FileEvents()]
            #expect(file.result == nil, "\(chunk.path): a chunk after its result")
            let before = file.chunks.last(where: { $0.attempt == chunk.attempt })
            if all {
                #expect(chunk.index == (before.map { $0.index + 1 } ?? 0), "\(chunk.path): chunk \(chunk.index)")
            } else {
                #expect(chunk.index > (before?.index ?? -1), "\(chunk.path): chunk \(chunk.index)")
            }
            #expect(chunk.attempt >= (file.chunks.last?.attempt ?? 1), "\(chunk.path): attempts go back")
            file.chunks.append(chunk)
            files[chunk.fileID] = file
        case .result(let result):
            #expect(files[result.fileID]?.result == nil, "\(result.path): two results")
            files[result.fileID, default: FileEvents()].result = result
        }
    }
    return files
}

/// Checks one file's chunks: those of its result's attempt are its chunks in order, end to end,
/// with the result's count, and put together they are the file. Writes each chunk's bytes to
/// `chunkDir` as `FILEID-INDEX` for the digest oracle; returns those paths with the chunks'
/// digests.
func checkRebuild(
    _ file: FileEvents, data: [UInt8], chunkDir: TempDir
) throws -> [(path: String, digest: Digest)] {
    let result = try #require(file.result)
    #expect(result.isOK, "\(result)")
    #expect((1...2).contains(result.attempt), "\(result.path): attempt \(result.attempt)")
    let counted = file.counted
    #expect(result.chunks == counted.count, "\(result.path)")
    var rebuilt: [UInt8] = []
    var written: [(String, Digest)] = []
    for (i, chunk) in counted.enumerated() {
        #expect(chunk.index == i && chunk.offset == UInt64(rebuilt.count) && chunk.path == result.path)
        #expect(chunk.length > 0 && chunk.digest.count == 32)
        let end = Int(chunk.offset) + chunk.length
        try #require(end <= data.count, "\(result.path): a chunk past the end")
        let bytes = Array(data[Int(chunk.offset)..<end])
        rebuilt += bytes
        let name = "\(result.fileID.rawValue)-\(chunk.index)"
        try chunkDir.file(Array(name.utf8), bytes)
        written.append((chunkDir.join(name), chunk.digest))
    }
    #expect(rebuilt == data, "\(result.path): the chunks rebuild the file")
    return written
}

extension MultipoolTests {
    @Suite struct Chunks {
        /// Fixed-size chunks and FastCDC chunks (buffers smaller than the largest chunk, and
        /// larger), restic's: each file's chunk events rebuild it, in order, its result last
        /// with their count, and each chunk's digest is `sha256sum`'s of its bytes.
        @Test(.timeLimit(.minutes(2)))
        func chunkEventsRebuildTheFileAndTheirDigestsAreSHA256OfTheirBytes() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let sizes = [0, 1, 63, 2048, 4096, 4097, 65_537, 300_001]
            var data: [String: [UInt8]] = [:]
            for (i, size) in sizes.enumerated() {
                let bytes = noise(size, seed: UInt64(i) + 1)
                data[try dir.bytesFile("f\(i)", bytes)] = bytes
            }
            let big = noise(1_200_000, seed: 99)
            data[try dir.bytesFile("big", big)] = big
            let fileSums = try sha256sum(Array(data.keys))
            let setups: [(String, Options, (min: Int, max: Int))] = [
                ("fixed 4096", Options(chunker: .fixed(size: 4096), chunkDigest: .sha256), (4096, 4096)),
                ("fixed 1000, BLAKE3 files", Options(algorithm: .blake3, chunker: .fixed(size: 1000), chunkDigest: .sha256), (1000, 1000)),
                ("fastcdc, 16 KiB buffers", Options(bufferSize: 16 << 10, chunker: .fastCDC(min: 2048, avg: 8192, max: 65536)), (2048, 65536)),
                ("fastcdc level 3, 4 MiB buffers", Options(bufferSize: 4 << 20, chunker: .fastCDC(min: 1024, avg: 4096, max: 16384, level: 3)), (1024, 16384)),
                ("fastcdc level 0", Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 16384, level: 0)), (1024, 16384)),
                ("restic", Options(chunker: .restic()), (512 << 10, 8 << 20)),
            ]
            for (name, options, bounds) in setups {
                let session = try Session(options)
                try session.add(Array(data.keys))
                session.finish()
                let files = byFile(try await allEvents(session))
                #expect(files.count == data.count, "\(name)")
                let chunkDir = try TempDir()
                defer { chunkDir.remove() }
                var written: [(path: String, digest: Digest)] = []
                for file in files.values {
                    let result = try #require(file.result, "\(name): a file without a result")
                    let path = try #require(result.path.string)
                    let bytes = try #require(data[path])
                    if options.algorithm == .sha256 {
                        #expect(result.digest.hex == fileSums[path], "\(name) \(path)")
                    } else {
                        #expect(result.digest.count == 32)
                    }
                    let chunks = try checkRebuild(file, data: bytes, chunkDir: chunkDir)
                    for (i, chunk) in file.counted.enumerated() where i + 1 < file.counted.count {
                        #expect(chunk.length >= bounds.min && chunk.length <= bounds.max, "\(name) \(path): \(chunk)")
                    }
                    #expect(file.counted.last.map { $0.length <= bounds.max } ?? true)
                    #expect(bytes.isEmpty == file.counted.isEmpty, "\(name): \(path)")
                    written += chunks
                }
                let sums = try sha256sum(written.map(\.path))
                #expect(sums.count == written.count)
                for chunk in written {
                    #expect(chunk.digest.hex == sums[chunk.path], "\(name): \(chunk.path)")
                }
            }
        }

        /// Without a file digest, chunks still come and results carry an empty digest; BLAKE3
        /// chunk digests are the library's own BLAKE3 of each chunk's bytes written as a file.
        /// With a key, digests and FastCDC's cuts are keyed: the same file gives other ones.
        @Test(.timeLimit(.minutes(1)))
        func noFileDigestBlake3AndKeyedChunks() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let bytes = noise(200_000, seed: 7)
            let path = try dir.bytesFile("f", bytes)
            var options = Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 16384), chunkDigest: .blake3, fileDigest: false)
            let plain = try Session(options)
            try plain.add([path])
            plain.finish()
            let file = try #require(byFile(try await allEvents(plain)).values.first)
            let result = try #require(file.result)
            #expect(result.isOK && result.digest.isEmpty && result.chunks > 10)
            let chunkDir = try TempDir()
            defer { chunkDir.remove() }
            let written = try checkRebuild(file, data: bytes, chunkDir: chunkDir)
            let oracle = try Session(Options(algorithm: .blake3))
            try oracle.add(written.map(\.path))
            oracle.finish()
            let wanted = try await collect(oracle)
            for chunk in written {
                #expect(wanted[PathBytes(chunk.path)]?.digest == chunk.digest, "\(chunk.path)")
            }

            options.chunkKey = Array(0..<32)
            options.chunkDigest = nil  // keyed BLAKE3, the default with a key
            let keyed = try Session(options)
            try keyed.add([path])
            keyed.finish()
            let keyedFile = try #require(byFile(try await allEvents(keyed)).values.first)
            #expect(keyedFile.result?.isOK == true)
            _ = try checkRebuild(keyedFile, data: bytes, chunkDir: chunkDir)
            let cuts = { (f: FileEvents) in f.counted.map { [$0.offset, UInt64($0.length)] } }
            #expect(cuts(keyedFile) != cuts(file), "keyed cuts")
            #expect(Set(keyedFile.counted.map(\.digest)).isDisjoint(with: file.counted.map(\.digest)))
        }

        /// Eight iterations at once over one session whose chunk bound is small (files wait for
        /// them often): each event goes to exactly one of them, each sees a file's chunks in
        /// order with nothing after its result, and all together they are the cuts a single
        /// iteration gets.
        @Test(.timeLimit(.minutes(2)))
        func eightConcurrentIterationsShareTheEvents() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            var data: [String: [UInt8]] = [:]
            for i in 0..<24 {
                let bytes = noise(20_000 + i * 9_000, seed: UInt64(i) + 100)
                data[try dir.bytesFile("f\(i)", bytes)] = bytes
            }
            let paths = Array(data.keys).sorted()
            let options = Options(chunker: .fastCDC(min: 256, avg: 1024, max: 4096), maxReadyChunks: 64)

            let single = try Session(options)
            try single.add(paths)
            single.finish()
            var expected: [PathBytes: [String]] = [:]
            for file in byFile(try await allEvents(single)).values {
                let result = try #require(file.result)
                expected[result.path] = file.counted.map(\.description)
            }

            let session = try Session(options)
            let perIteration = try await withThrowingTaskGroup(of: [Event].self) { group in
                for _ in 0..<8 {
                    group.addTask { try await allEvents(session) }
                }
                group.addTask {
                    for path in paths {
                        try session.add([path])
                        await Task.yield()
                    }
                    session.finish()
                    return []
                }
                return try await group.reduce(into: [[Event]]()) { $0.append($1) }
            }
            var merged: [FileID: FileEvents] = [:]
            var seen = Set<String>()
            for events in perIteration {
                for (id, file) in byFile(events, all: false) {  // the order each iteration may rely on
                    merged[id, default: FileEvents()].chunks += file.chunks
                    if let result = file.result {
                        #expect(merged[id]?.result == nil, "two results")
                        merged[id]?.result = result
                    }
                }
                for case .chunk(let chunk) in events {
                    #expect(seen.insert("\(chunk.fileID.rawValue) \(chunk.attempt) \(chunk.index)").inserted, "twice")
                }
            }
            #expect(merged.count == paths.count)
            for file in merged.values {
                let result = try #require(file.result)
                #expect(result.isOK)
                let chunks = file.counted.sorted { $0.index < $1.index }
                #expect(chunks.map(\.description) == expected[result.path], "\(result.path)")
                #expect(chunks.map(\.index) == Array(0..<result.chunks))
                #expect(chunks.map { UInt64($0.length) }.reduce(0, +) == result.size)
            }
            #expect(session.pathsOutstanding == 0)
        }

        /// An iteration that stops early gives back what it took, and a later one delivers it
        /// first, in order: the file's chunks go on from where the first stopped.
        @Test(.timeLimit(.minutes(1)))
        func anIterationStoppedEarlyLosesNoEventAndKeepsTheOrder() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let bytes = noise(300_000, seed: 5)
            let path = try dir.bytesFile("f", bytes)
            let session = try Session(Options(chunker: .fixed(size: 1000)))
            try session.add([path])
            session.finish()
            var events: [Event] = []
            for try await event in session.events {
                events.append(event)
                if events.count == 10 { break }
            }
            events += try await allEvents(session)
            let file = try #require(byFile(events).values.first)
            #expect(file.result?.chunks == 300 && file.counted.count == 300)
            let chunkDir = try TempDir()
            defer { chunkDir.remove() }
            _ = try checkRebuild(file, data: bytes, chunkDir: chunkDir)
        }

        /// Chunking options out of range are refused when the session is made, with
        /// `.invalidChunker` (those the library checks and those the C fields cannot hold).
        @Test func invalidChunkersAreRefused() throws {
            let invalid = MultipoolError(status: .invalidChunker)
            let refused: [Options] = [
                Options(chunker: .fastCDC(min: 8192, avg: 4096, max: 65536)),
                Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 1 << 30)),
                Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 16384, level: 4)),
                Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 16384, level: -1)),
                Options(chunker: .fastCDC(min: -2, avg: 4096, max: 16384)),
                Options(chunker: .fixed(size: 0)),
                Options(chunker: .fixed(size: -1)),
                Options(chunker: .restic(polynomial: 0x3)),
                Options(chunker: .fixed(size: 10), chunkKey: [UInt8](repeating: 1, count: 31)),
                Options(chunker: .fixed(size: 10), chunkDigest: .blake3Keyed),
                Options(chunker: .fixed(size: 10), chunkDigest: ChunkDigest(rawValue: 99)),
                Options(chunkDigest: .sha256),
                Options(fileDigest: false),
            ]
            for options in refused {
                #expect(throws: invalid, "\(options)") { try Session(options) }
            }
            #expect(throws: MultipoolError(status: .invalidArgument)) { try Session(Options(maxReadyChunks: -1)) }
            #expect(Status.invalidChunker.rawValue == 108 && Status.needsEventPoll.rawValue == 109)
            #expect(!Status.invalidChunker.description.contains("unknown"))
            #expect(!Status.needsEventPoll.description.contains("unknown"))
        }

        /// The options map to the C fields exactly: the level stored plus one, the polynomial,
        /// the sizes, the key and its flag, the digest, the bound, no file digest.
        @Test func optionsMapToTheCFields() throws {
            var c = try Options(chunker: .fastCDC(min: 1024, avg: 4096, max: 16384, level: 0)).c()
            #expect(c.chunker == UInt32(MULTIPOOL_CHUNKER_FASTCDC) && c.chunk_level == 1)
            #expect(c.chunk_min == 1024 && c.chunk_avg == 4096 && c.chunk_max == 16384 && c.chunk_polynomial == 0)
            c = try Options(chunker: .fastCDC()).c()
            #expect(c.chunk_level == 2 && c.chunk_min == 512 << 10 && c.chunk_avg == 1 << 20 && c.chunk_max == 8 << 20)
            c = try Options(chunker: .restic(polynomial: 0x3DA3358B4DC173)).c()
            #expect(c.chunker == UInt32(MULTIPOOL_CHUNKER_RESTIC) && c.chunk_polynomial == 0x3DA3358B4DC173)
            #expect(c.chunk_level == 0 && c.chunk_min == 0 && c.chunk_avg == 0 && c.chunk_max == 0)
            #expect(try Options(chunker: .restic()).c().chunk_polynomial == Chunker.resticTestPolynomial)
            let key = [UInt8](1...32)
            c = try Options(
                chunker: .fixed(size: 4096), chunkDigest: .blake3Keyed, chunkKey: key, fileDigest: false,
                maxReadyChunks: 77
            ).c()
            #expect(c.chunker == UInt32(MULTIPOOL_CHUNKER_FIXED) && c.chunk_avg == 4096 && c.chunk_level == 0)
            #expect(c.chunk_digest == UInt32(MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED) && c.max_ready_chunks == 77)
            #expect(c.flags & UInt32(MULTIPOOL_FLAG_CHUNK_KEY) != 0 && c.flags & UInt32(MULTIPOOL_FLAG_NO_FILE_DIGEST) != 0)
            #expect(withUnsafeBytes(of: c.chunk_key) { Array($0) } == key)
            c = try Options().c()
            #expect(c.chunker == 0 && c.flags == 0 && c.chunk_digest == 0 && c.max_ready_chunks == 0)
            #expect(c.struct_size == MemoryLayout<multipool_options>.size)
        }

        /// A session with a chunker gives its results only with its events: `results` throws
        /// `.needsEventPoll`, and `events` still delivers everything. A session without one
        /// gives its results as events too.
        @Test(.timeLimit(.minutes(1)))
        func resultsOfAChunkingSessionNeedTheEvents() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let path = try dir.file("f", String(repeating: "abc", count: 1000))
            let session = try Session(Options(chunker: .fixed(size: 1000)))
            try session.add([path, path])
            session.finish()
            do {
                for try await result in session.results {
                    Issue.record("a result from results: \(result)")
                }
                Issue.record("results ended without an error")
            } catch Status.needsEventPoll {
            } catch {
                Issue.record("\(error)")
            }
            let files = byFile(try await allEvents(session))
            #expect(files.count == 2)  // the same path added twice is two files
            for file in files.values {
                #expect(file.result?.isOK == true && file.result?.chunks == 3 && file.counted.count == 3)
            }

            let plain = try Session()
            try plain.add([path, dir.join("missing")])
            plain.finish()
            let events = try await allEvents(plain)
            #expect(events.count == 2)
            for case .result(let result) in events {
                #expect(result.chunks == 0 && (result.isOK ? result.attempt >= 1 : result.status == .notFound))
            }
            #expect(events.allSatisfy { if case .result = $0 { true } else { false } })
        }

        /// The README's chunk example ("Swift", chunks), its body as written with `paths` for
        /// the command line and `lines` for standard output.
        @Test(.timeLimit(.minutes(1)))
        func theReadmeChunkExample() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let paths = [try dir.bytesFile("f", noise(3 << 20, seed: 11)), dir.join("missing")]
            var lines: [String] = []
            func print(_ line: Any) { lines.append("\(line)") }

            let session = try Session(Options(chunker: .fastCDC(min: 256 << 10, avg: 1 << 20, max: 4 << 20)))
            try session.add(paths)
            session.finish()
            var chunks: [FileID: [ChunkEvent]] = [:]
            for try await event in session.events {
                switch event {
                case .chunk(let chunk):  // a file's chunks come in order, before its result
                    chunks[chunk.fileID, default: []].append(chunk)
                case .result(let result):  // a file's last event
                    let got = chunks.removeValue(forKey: result.fileID) ?? []
                    guard result.isOK else {  // its chunks, if any came, are not the file's
                        print(result)
                        continue
                    }
                    print("\(result.digest.hex)  \(result.path)")
                    for chunk in got where chunk.attempt == result.attempt {
                        print("\(chunk.offset) \(chunk.length) \(chunk.digest.hex)")
                    }
                }
            }

            // The files in either order; the file's line, then its chunks'.
            let missing = "\(paths[1]): No such file or directory"
            #expect(lines.filter { $0 == missing }.count == 1)
            lines.removeAll { $0 == missing }
            let sums = try sha256sum([paths[0]])
            #expect(lines.first == "\(sums[paths[0]]!)  \(paths[0])")
            let cuts = lines.dropFirst().map { $0.split(separator: " ") }
            #expect(cuts.count >= 2 && cuts.allSatisfy { $0.count == 3 && $0[2].count == 64 })
            #expect(cuts.map { Int($0[1])! }.reduce(0, +) == 3 << 20)
        }
    }
}
