import Foundation
import Testing

@testable import Multipool

/// What `sha256sum` says of the files: an oracle apart from the library.
func sha256sum(_ paths: [String]) throws -> [String: String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = paths
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    var sums: [String: String] = [:]
    for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        sums[String(parts[1].dropFirst())] = String(parts[0])
    }
    return sums
}

extension MultipoolTests {
    @Suite struct Concurrency {
        /// Eight tasks add batches at once while one task consumes: every path added comes back
        /// once, with sha256sum's digest.
        @Test(.timeLimit(.minutes(1)))
        func eightTasksAddWhileOneConsumes() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let files = try (0..<50).map { try dir.file("f\($0)", String(repeating: "file \($0)\n", count: $0 + 1)) }
            let sums = try sha256sum(files)
            let session = try Session()
            let adders = 8
            let perAdder = 200
            let delivered = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    var count = 0
                    for try await result in session.results {
                        #expect(result.isOK && result.digest.hex == sums[result.path.string ?? ""], "\(result)")
                        count += 1
                    }
                    return count
                }
                group.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for adder in 0..<adders {
                            group.addTask {
                                for start in stride(from: 0, to: perAdder, by: 20) {
                                    let batch = (start..<start + 20).map { files[(adder * perAdder + $0) % files.count] }
                                    try session.add(batch)
                                    await Task.yield()
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    session.finish()
                    return 0
                }
                return try await group.reduce(0, +)
            }
            #expect(delivered == adders * perAdder)
            #expect(session.pathsOutstanding == 0)
        }

        /// Results that were ready before the iteration began are taken without a wait, and a
        /// waiting iteration wakes for each new result, round after round (the dispatch source
        /// suspended and resumed each time).
        @Test(.timeLimit(.minutes(1)))
        func readyResultsAndWakeUpsRoundAfterRound() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let files = try (0..<30).map { try dir.file("f\($0)", "\($0)") }
            let session = try Session()
            try session.add(Array(files[..<10]))
            while session.stats.filesFinished < 10 {
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            var iterator = session.results.makeAsyncIterator()
            for _ in 0..<10 {
                #expect(try await iterator.next()?.isOK == true)
            }
            for file in files[10...] {
                let waiting = Task {
                    var iterator = session.results.makeAsyncIterator()
                    return try await iterator.next()
                }
                try await Task.sleep(nanoseconds: 1_000_000)
                try session.add([file])
                let result = try #require(try await waiting.value)
                #expect(result.path == PathBytes(file) && result.isOK)
            }
            session.finish()
            #expect(try await iterator.next() == nil)
            #expect(try await iterator.next() == nil)
        }

        /// Fifty iterations waiting on one session are suspended tasks: on a machine of two
        /// cores the cooperative pool has two threads, and blocked waits would leave none to add
        /// the path that ends them.
        @Test(.timeLimit(.minutes(1)))
        func fiftyWaitingIterationsHoldNoThread() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let file = try dir.file("one", "1")
            let session = try Session()
            let delivered = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        var count = 0
                        for try await _ in session.results { count += 1 }
                        return count
                    }
                }
                try await Task.sleep(nanoseconds: 200_000_000)
                try session.add([file])
                session.finish()
                return try await group.reduce(0, +)
            }
            #expect(delivered == 1)
        }

        /// Cancelling the session mid-stream: every path still gets exactly one result, those not
        /// hashed `.cancelled`, and the session takes no more paths.
        @Test(.timeLimit(.minutes(1)))
        func cancelMidStreamGivesEveryPathOneResult() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            var files = try (0..<19).map { try dir.file("f\($0)", "\($0)") }
            try dir.file(Array("big".utf8), [UInt8](repeating: 7, count: 8 << 20))
            files.append(dir.join("big"))
            let session = try Session(Options(threads: "ssd:1,hdd:1,ram:1"))
            let paths = (0..<200).flatMap { _ in files }
            try session.add(paths)
            var count = 0
            var cancelled = 0
            for try await result in session.results {
                count += 1
                if count == 10 { session.cancel() }
                if result.status == .cancelled {
                    cancelled += 1
                    #expect(result.error?.status == .cancelled && result.digest.isEmpty)
                } else {
                    #expect(result.isOK, "\(result)")
                }
            }
            #expect(count == paths.count)
            #expect(cancelled > 0)
            #expect(session.stats.filesCancelled == UInt64(cancelled))
            do {
                try session.add(["late"])
                Issue.record("add after cancel was accepted")
            } catch Status.sessionCancelled {
            } catch {
                Issue.record("add after cancel: \(error)")
            }
        }

        /// Task cancellation ends a waiting iteration at once with CancellationError, as a
        /// cancelled context ends the Go binding's; the session goes on, and a later iteration
        /// delivers every result. Leaving a loop early (break) loses none either.
        @Test(.timeLimit(.minutes(1)))
        func taskCancellationEndsTheIterationNotTheSession() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let files = try (0..<100).map { try dir.file("f\($0)", "\($0)") }
            let session = try Session()
            let waiting = Task { () -> (any Error)? in
                do {
                    for try await _ in session.results {}
                    return nil
                } catch {
                    return error
                }
            }
            try await Task.sleep(nanoseconds: 50_000_000)  // it waits: nothing added yet
            waiting.cancel()
            #expect(await waiting.value is CancellationError)

            // Cancelled before it starts: no result taken.
            try session.add(Array(files[..<50]))
            let early = Task { () -> Int in
                withUnsafeCurrentTask { $0?.cancel() }
                var count = 0
                do {
                    for try await _ in session.results { count += 1 }
                } catch {
                    #expect(error is CancellationError)
                }
                return count
            }
            #expect(await early.value == 0)

            try session.add(Array(files[50...]))
            session.finish()
            var got = 0
            for try await _ in session.results {
                got += 1
                if got == 3 { break }
            }
            // A task cancelled while results are ready: it takes none once cancelled.
            let partial = Task { () -> Int in
                var count = 0
                do {
                    for try await _ in session.results {
                        count += 1
                        if count == 5 { withUnsafeCurrentTask { $0?.cancel() } }
                    }
                } catch {
                    #expect(error is CancellationError)
                }
                return count
            }
            got += await partial.value
            for try await _ in session.results { got += 1 }
            #expect(got == files.count)
        }
    }
}
