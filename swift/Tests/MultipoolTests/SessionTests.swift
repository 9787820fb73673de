import Foundation
import Testing

@testable import Multipool

#if canImport(Glibc)
import Glibc
#endif

extension MultipoolTests {
    @Suite struct Digests {
        /// tests/vectors/digests.txt, the known answers every face of the library checks:
        /// "ALGORITHM INPUT HEX", INPUT `empty:`, `text:T` or `repeat:N:T`.
        @Test func sharedTestVectorsForEveryAlgorithm() async throws {
            let text = try String(contentsOfFile: "\(repositoryRoot)/tests/vectors/digests.txt", encoding: .utf8)
            let dir = try TempDir()
            defer { dir.remove() }
            var wanted: [Algorithm: [PathBytes: String]] = [:]
            for (number, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: false)
                try #require(fields.count == 3, "line \(number + 1): \(line)")
                let algorithm: Algorithm =
                    switch fields[0] {
                    case "sha256": .sha256
                    case "sha512": .sha512
                    case "blake3": .blake3
                    default: Algorithm(rawValue: 0)
                    }
                try #require(algorithm != Algorithm(rawValue: 0), "line \(number + 1): \(line)")
                let input = fields[1]
                var contents: [UInt8]
                if input == "empty:" {
                    contents = []
                } else if input.hasPrefix("text:") {
                    contents = Array(input.dropFirst(5).utf8)
                } else {
                    let parts = input.split(separator: ":", maxSplits: 2)
                    try #require(parts.count == 3 && parts[0] == "repeat", "line \(number + 1): \(line)")
                    let unit = Array(parts[2].utf8)
                    contents = []
                    for _ in 0..<Int(parts[1])! { contents += unit }
                }
                let path = try dir.file(Array("v\(number)".utf8), contents)
                wanted[algorithm, default: [:]][PathBytes(path)] = String(fields[2])
            }
            #expect(wanted.values.map(\.count).reduce(0, +) >= 21)
            for (algorithm, files) in wanted {
                let session = try Session(Options(algorithm: algorithm))
                try session.add(Array(files.keys))
                session.finish()
                let results = try await collect(session)
                #expect(results.count == files.count)
                for (path, hex) in files {
                    let result = try #require(results[path])
                    #expect(try result.get().hex == hex, "\(algorithm) \(path)")
                    #expect(result.digest.count == (algorithm == .sha512 ? 64 : 32))
                }
            }
        }

        /// A path comes back as the bytes given, whatever it was given as: a name that is not
        /// UTF-8 unchanged, and String, bytes, URL and PathBytes alike.
        @Test func pathsComeBackAsTheBytesGiven() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let odd = try dir.file([0x6f, 0x64, 0x64, 0x20, 0xff, 0xfe, 0x0a, 0x6e], Array("abc".utf8))
            let plain = try dir.file("plain", "abc")
            let spaced = try dir.file("with space", "abc")
            let viaURL = try dir.file("url", "abc")
            let session = try Session()
            try session.add([odd])
            try session.add([plain])
            try session.add([URL(fileURLWithPath: viaURL)])
            try session.add(PathBytes(spaced), "\(dir.path)/literal-missing")
            session.finish()
            let results = try await collect(session)
            #expect(results.count == 5)
            let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            let oddResult = try #require(results[PathBytes(odd)])
            #expect(oddResult.path.bytes == odd)
            #expect(oddResult.path.string == nil)
            #expect(oddResult.path.description.contains("\u{FFFD}"))
            #expect(oddResult.digest.hex == abc)
            for path in [plain, viaURL, spaced] {
                let result = try #require(results[PathBytes(path)])
                #expect(result.digest.hex == abc && result.size == 3 && result.device != nil)
                #expect(result.path.string == path && result.path.bytes == Array(path.utf8))
                #expect(result.path.url.path == path)
            }
            let missing = try #require(results["\(dir.path)/literal-missing"])
            #expect(missing.status == .notFound && missing.device == nil && missing.digest.isEmpty)
        }

        @Test func statsAndDevicesWithTheirReadsInFlight() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let files = try (0..<20).map { try dir.file("f\($0)", "file \($0)\n") }
            let session = try Session(Options(threads: "ssd:3,hdd:1"))
            try session.add(files + [dir.join("missing")])
            session.finish()
            let results = try await collect(session)
            #expect(results.count == 21)
            let stats = session.stats
            #expect(stats.filesQueued == 21 && stats.filesDone == 20 && stats.filesFailed == 1)
            #expect(stats.bytesDone == results.values.filter(\.isOK).map(\.size).reduce(0, +))
            let devices = session.devices
            let device = try #require(devices.first)
            #expect(device.index == 0 && device.threads >= 1 && !device.name.isEmpty)
            #expect(device.readsLimit >= 1 && device.readsChosen >= 1)
            #expect(device.limitReason.description != "unknown" && device.kind.description != "")
            #expect(devices.map(\.stats.filesDone).reduce(0, +) == 20)
            #expect(results.values.filter(\.isOK).allSatisfy { $0.device.map { $0 < devices.count } ?? false })
        }

        @Test func badOptionsAreRefused() throws {
            #expect(throws: MultipoolError(status: .invalidThreadsSpec)) { try Session(Options(threads: "ssd:0")) }
            #expect(throws: MultipoolError(status: .invalidArgument)) {
                try Session(Options(algorithm: Algorithm(rawValue: 77)))
            }
            #expect(throws: MultipoolError(status: .invalidArgument)) { try Session(Options(bufferSize: -1)) }
            #expect(throws: MultipoolError(status: .invalidArgument)) { try Session(Options(maxReadyResults: 1 << 40)) }
            #expect(!Status.notFound.description.isEmpty && Status.notFound != Status.permissionDenied)
            #expect(Status(rawValue: 9999).description.contains("unknown"))
        }
    }
}
