import Foundation
import Testing

@testable import Multipool

#if canImport(Glibc)
import Glibc
#endif

extension MultipoolTests {
    @Suite struct BadInput {
        /// What cannot be hashed gets its result with its status and errno, never a hang: a
        /// missing file, a directory, a FIFO (opened without blocking), a NUL inside a path, an
        /// empty path, a symbolic link loop, an unreadable file.
        @Test(.timeLimit(.minutes(1)))
        func eachBadPathGetsItsStatusAndErrno() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let good = try dir.file("good", "abc")
            let missing = dir.join("missing")
            let fifo = dir.join("fifo")
            try makeFIFO(fifo)
            let loop = dir.join("loop")
            #expect(symlink(loop, loop) == 0)
            let secret = try dir.file("secret", "no")
            #expect(chmod(secret, 0) == 0)
            let nul = Array("\(good)".utf8) + [0] + Array("x".utf8)
            let session = try Session()
            try session.add([Array(good.utf8), Array(missing.utf8), Array(dir.path.utf8), Array(fifo.utf8), nul, [],
                             Array(loop.utf8), Array(secret.utf8)])
            session.finish()
            let results = try await collect(session)
            #expect(results.count == 8)
            #expect(results[PathBytes(good)]?.isOK == true)

            let notFound = try #require(results[PathBytes(missing)])
            #expect(notFound.status == .notFound && notFound.code == .ENOENT && notFound.osError == ENOENT)
            #expect(notFound.error?.description == "\(missing): No such file or directory")
            do {
                _ = try notFound.get()
                Issue.record("a missing file has a digest")
            } catch let error where error.code == .EACCES {
                Issue.record("missing taken for permission denied")
            } catch let error where error.code == .ENOENT {
                #expect(error.path == PathBytes(missing))
            } catch {
                Issue.record("\(error)")
            }
            do {
                try { () throws -> Void in _ = try notFound.get() }()  // an `any Error` now
            } catch let error as MultipoolError where error.code == .ENOENT {
            } catch {
                Issue.record("\(error)")
            }
            do {
                _ = try notFound.get()
            } catch Status.permissionDenied {
                Issue.record("missing taken for permission denied")
            } catch Status.notFound {
            } catch {
                Issue.record("\(error)")
            }

            #expect(results[PathBytes(dir.path)]?.status == .isDirectory)
            #expect(results[PathBytes(fifo)]?.status == .isFIFO)
            #expect(results[PathBytes(nul)]?.status == .invalidPath)
            #expect(results[PathBytes([])]?.status == .notFound)
            let looped = try #require(results[PathBytes(loop)])
            #expect(looped.status == .symlinkLoop && looped.code == .ELOOP)

            // Root reads anything; tests/swift.rs runs this suite without the capabilities
            // that allow it (and says so with MULTIPOOL_EXPECT_EACCES).
            let denied = try #require(results[PathBytes(secret)])
            if access(secret, R_OK) != 0 || ProcessInfo.processInfo.environment["MULTIPOOL_EXPECT_EACCES"] != nil {
                #expect(denied.status == .permissionDenied && denied.code == .EACCES, "\(denied)")
                do {
                    _ = try denied.get()
                } catch Status.notFound {
                    Issue.record("permission denied taken for missing")
                } catch let error where error.code == .EACCES {
                } catch {
                    Issue.record("\(error)")
                }
            } else {
                #expect(denied.isOK)
            }
        }

        /// An empty batch is no call at all: no error, no result.
        @Test(.timeLimit(.minutes(1)))
        func anEmptyBatchAddsNothing() async throws {
            let session = try Session()
            try session.add([String]())
            try session.add([[UInt8]]())
            try session.add()
            session.finish()
            #expect(try await collect(session).isEmpty)
            #expect(session.stats.filesQueued == 0)
        }

        /// After finish, add is refused with `.sessionFinished`, and refused paths leave nothing
        /// behind.
        @Test func addAfterFinishIsRefused() throws {
            let session = try Session()
            session.finish()
            session.finish()
            #expect(throws: MultipoolError(status: .sessionFinished)) { try session.add(["/etc/hostname"]) }
            #expect(session.pathsOutstanding == 0)
        }
    }

    @Suite struct Lifetime {
        /// A session released without finish, work queued and an iteration left in the middle:
        /// its deinit cancels the work and joins every thread of the session.
        @Test(.timeLimit(.minutes(1)))
        func aSessionReleasedWithoutFinishStopsAndJoinsItsThreads() async throws {
            #expect(await sessionThreadsSettled() == 0, "a session of another test is still alive")
            let dir = try TempDir()
            defer { dir.remove() }
            try dir.file(Array("big".utf8), [UInt8](repeating: 1, count: 16 << 20))
            let files = try (0..<50).map { try dir.file("f\($0)", "\($0)") } + [dir.join("big")]
            weak var released: Session?
            do {
                let session = try Session(Options(threads: "ssd:2,hdd:1,ram:2"))
                released = session
                try session.add((0..<100).flatMap { _ in files })
                var iterator = session.results.makeAsyncIterator()
                _ = try await iterator.next()
                #expect(sessionThreads() > 0)
            }
            #expect(released == nil)
            #expect(await sessionThreadsSettled() == 0)
        }

        /// A session that never got a path, released: nothing to wait for.
        @Test func anUnusedSessionIsReleased() async throws {
            weak var released: Session?
            do {
                let session = try Session()
                released = session
                _ = session.stats
            }
            #expect(released == nil)
            #expect(await sessionThreadsSettled() == 0)
        }
    }
}
