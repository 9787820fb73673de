// swift-api-cost: the Swift side of benches/swift_api.sh, the twin of benches/swift_api_cost.c.
// What the Swift API adds per file: the time inside `add` (batches of 256 String paths), and
// the time to deliver results that are ready through `for try await` over `session.results`,
// each result's path and digest touched. Polling starts once every file is hashed, so waiting
// is not counted, nor is the hashing.
//
//   swift-api-cost DIR N [next]    N empty files in DIR (made if missing); prints one table row
//
// Results are delivered by `for try await` (which calls the iterator's `next(isolation:)`), or
// with `next` by a `while let` loop calling `next()`: from a nonisolated function the latter
// saves the two executor checks that entering and leaving an isolated parameter costs.
//
// With SWIFT_API_COST_TIMES set it also prints when each phase ran (CLOCK_MONOTONIC), for
// `perf record -k CLOCK_MONOTONIC` and `perf report --time FROM,TO` of one phase.
import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count == 3 || (arguments.count == 4 && arguments[3] == "next"), let n = Int(arguments[2]) else {
    print("usage: swift-api-cost DIR N [next]")
    exit(2)
}
let byNext = arguments.count == 4
let dir = arguments[1]
mkdir(dir, 0o755)
let names = (0..<n).map { i -> String in
    let digits = String(i)
    return "\(dir)/e\(String(repeating: "0", count: max(0, 7 - digits.count)))\(digits)"
}
for name in names where access(name, F_OK) != 0 {
    let fd = open(name, O_WRONLY | O_CREAT, 0o644)
    if fd >= 0 { close(fd) }
}
// The batches as a caller has them at hand (Go's benchmark passes slices of one array).
let batches = stride(from: 0, to: n, by: 256).map { Array(names[$0..<min($0 + 256, n)]) }

let session = try Session(Options(maxReadyResults: n))  // every result may wait
var start = now()
for batch in batches {
    try session.add(batch)
}
let added = now() - start
if getenv("SWIFT_API_COST_TIMES") != nil {
    print("adding from \(start) to \(start + added) (CLOCK_MONOTONIC)")
}
session.finish()
while session.stats.filesFinished < UInt64(n) {
    usleep(1000)
}
guard session.stats.filesFailed == 0 else {
    print("\(session.stats.filesFailed) files failed")
    exit(1)
}

/// The results, off the main actor (where a program's tasks mostly iterate).
nonisolated func deliver(_ session: Session) async throws -> (got: Int, sink: Int) {
    var got = 0
    var sink = 0
    if byNext {
        var iterator = session.results.makeAsyncIterator()
        while let result = try await iterator.next() {
            sink &+= result.path.count &+ Int(result.digest[0]) &+ Int(result.status.rawValue)
            got += 1
        }
        return (got, sink)
    }
    for try await result in session.results {
        // What a caller does with a result: its path, its digest.
        sink &+= result.path.count &+ Int(result.digest[0]) &+ Int(result.status.rawValue)
        got += 1
    }
    return (got, sink)
}

start = now()
let (got, sink) = try await deliver(session)
let delivered = now() - start
if getenv("SWIFT_API_COST_TIMES") != nil {
    print("delivery from \(start) to \(start + delivered) (CLOCK_MONOTONIC)")
}
guard got == n else {
    print("\(got) results for \(n) paths")
    exit(1)
}
let perPath = added / Double(n) * 1e9
let perResult = delivered / Double(n) * 1e9
let name = byNext ? "Swift add + results, next()" : "Swift add + results, for try await"
print("| \(name) | \(Int(perPath.rounded())) | \(Int(perResult.rounded())) | \(sink & 1) |")
