// swifthash: mphash in Swift. It prints SHA-256, SHA-512 or BLAKE3 sums of files and directory
// trees as sha256sum, sha512sum or b3sum print them (the same escaping of odd names as
// examples-c/mphash.c), hashing them with Multipool: paths go to the library in batches of 256
// while the tree is walked, and a task of its own prints the results as they come.
//
//   swifthash [-a sha256|sha512|blake3] [-t SPEC] [-v] [--sort] [--chunker SPEC [--chunks]
//             [--chunk-digest sha256|blake3] [--chunk-key FILE]] [--] PATH...
//
// Names are bytes from end to end (argv, readdir, the library, the output), so a name that is
// not UTF-8 is hashed and printed as it is. Errors go to standard error as "swifthash: PATH:
// reason"; the exit status is 1 if any path failed, 2 for a usage error.
import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let help = """
    usage: swifthash [OPTION]... [--] PATH...
    Print SHA-256 (or SHA-512, BLAKE3) sums of files and directory trees, as sha256sum
    (sha512sum, b3sum) prints them, reading every storage device at once.

      -a, --algorithm ALGO   sha256 (default, like sha256sum), sha512 (sha512sum) or blake3
                             (b3sum)
      -t, --threads SPEC     threads per device: comma-separated SELECTOR:VALUE rules, SELECTOR
                             a kind (ssd, hdd, ram, network, removable, unknown), dev:NAME or
                             path:PATH, VALUE a count from 1 to 1024 or a kind to treat the
                             device as; e.g. ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4
          --sort             print the lines sorted by name (byte order) once all are done
          --chunker SPEC     also cut each file into chunks: fastcdc:MIN:AVG:MAX[:LEVEL]
                             (FastCDC 2020, LEVEL 0-3, default 1), restic[:POLY] (restic's
                             chunker; POLY in hex, default restic's test polynomial
                             0x3DA3358B4DC173) or fixed:SIZE; sizes in bytes, K and M meaning
                             KiB and MiB
          --chunks           after each file's line, one line per chunk: OFFSET LENGTH DIGEST
                             (decimal, decimal, lowercase hex)
          --chunk-digest D   sha256 or blake3 (default: blake3 with -a blake3, else sha256)
          --chunk-key FILE   a 32-byte key: keyed BLAKE3 chunk digests, FastCDC's keyed cuts
      -v, --verbose          print the devices used, with kind, threads and reads in flight,
                             on standard error
          --help             print this help and exit
          --version          print the version and exit

    A directory is walked recursively; inside it only regular files are hashed: symbolic
    links are not followed, and links, FIFOs, sockets and devices are skipped without a line.
    A PATH named on the command line is hashed whatever it is, and gets an error line if it is
    no regular file. Lines come in the order files are done, unless --sort.
    Exit status: 0 if every file was hashed, 1 if any failed, 2 for a usage error.

    """

/// A usage error: what was wrong, then where to look; exit status 2, as the coreutils tools.
func usageError(_ what: String, _ arg: String) -> Never {
    complain(Array("\(what) '\(arg)'\nTry 'swifthash --help' for more information.".utf8))
    exit(2)
}

// The arguments as bytes: CommandLine.arguments would have replaced what is not UTF-8.
let argv: [[UInt8]] = (0..<Int(CommandLine.argc)).map { i in
    guard let arg = CommandLine.unsafeArgv[i] else { return [] }
    return Array(UnsafeRawBufferPointer(start: arg, count: strlen(arg)))
}

var algorithm = Algorithm.sha256
var threads = ""
var verbose = false
var sort = false
var chunkerSpec: String?
var chunker: Chunker?
var printChunks = false
var chunkDigest: ChunkDigest?
var chunkKey: [UInt8]?
var firstPath = argv.count
var i = 1
while i < argv.count {
    let arg = String(decoding: argv[i], as: UTF8.self)
    // "-a X", "--algorithm X" and "--algorithm=X".
    let (name, inline): (String, String?) =
        if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
            (String(arg[..<eq]), String(arg[arg.index(after: eq)...]))
        } else {
            (arg, nil)
        }
    func value() -> String {
        if let inline { return inline }
        i += 1
        if i < argv.count { return String(decoding: argv[i], as: UTF8.self) }
        usageError("option needs a value:", arg)
    }
    if arg == "--" {
        firstPath = i + 1
        break
    } else if inline != nil && !["--algorithm", "--threads", "--chunker", "--chunk-digest", "--chunk-key"].contains(name) {
        usageError("unrecognized option", arg)
    } else if name == "-a" || name == "--algorithm" {
        switch value() {
        case "sha256": algorithm = .sha256
        case "sha512": algorithm = .sha512
        case "blake3": algorithm = .blake3
        case let other:
            complain(Array("unknown algorithm '\(other)' (sha256, sha512 or blake3)".utf8))
            exit(2)
        }
    } else if name == "-t" || name == "--threads" {
        threads = value()
    } else if name == "-v" || name == "--verbose" {
        verbose = true
    } else if name == "--sort" {
        sort = true
    } else if name == "--chunker" {
        let spec = value()
        guard let parsed = parseChunker(spec) else { usageError("invalid chunker spec", spec) }
        (chunkerSpec, chunker) = (spec, parsed)
    } else if name == "--chunks" {
        printChunks = true
    } else if name == "--chunk-digest" {
        switch value() {
        case "sha256": chunkDigest = .sha256
        case "blake3": chunkDigest = .blake3
        case let other:
            complain(Array("unknown chunk digest '\(other)' (sha256 or blake3)".utf8))
            exit(2)
        }
    } else if name == "--chunk-key" {
        let file = value()
        guard let key = readKey(file) else {
            complain(Array("--chunk-key '\(file)': not a readable file of exactly 32 bytes".utf8))
            exit(2)
        }
        chunkKey = key
    } else if name == "--help" {
        var out = Output(fd: 1)
        out.append(Array(help.utf8))
        exit(out.flush() ? 0 : 2)
    } else if name == "--version" {
        var out = Output(fd: 1)
        out.append(Array("swifthash (multipool) \(Session.libraryVersion)\n".utf8))
        exit(out.flush() ? 0 : 2)
    } else if arg.hasPrefix("-") && arg != "-" {
        usageError(arg.hasPrefix("--") ? "unrecognized option" : "invalid option", arg)
    } else {
        firstPath = i
        break
    }
    i += 1
}
if chunker == nil && (printChunks || chunkDigest != nil || chunkKey != nil) {
    complain(Array("--chunks, --chunk-digest and --chunk-key need --chunker\nTry 'swifthash --help' for more information.".utf8))
    exit(2)
}
if firstPath >= argv.count {
    complain(Array("no PATH given\nTry 'swifthash --help' for more information.".utf8))
    exit(2)
}

let session: Session
do {
    session = try Session(
        Options(algorithm: algorithm, threads: threads, chunker: chunker, chunkDigest: chunkDigest, chunkKey: chunkKey))
} catch Status.invalidChunker {
    complain(
        Array(
            ("invalid chunker '\(chunkerSpec ?? "")': sizes out of their ranges or order, a level above 3, "
                + "or a polynomial not irreducible of degree 53").utf8))
    exit(2)
} catch Status.invalidThreadsSpec {
    complain(
        Array(
            ("invalid threads spec '\(threads)': comma-separated SELECTOR:VALUE rules, SELECTOR a kind "
                + "(ssd, hdd, ram, network, removable, unknown), dev:NAME or path:PATH, VALUE a thread "
                + "count from 1 to 1024 or a kind").utf8))
    exit(2)
} catch {
    complain(Array("session: \(error)".utf8))
    exit(2)
}

/// What the printing task leaves: whether a file failed, and with --sort, the lines by name.
struct Printed: Sendable {
    var failed = false
    var kept: [(name: [UInt8], line: [UInt8])] = []
}

let format = LineFormat(escapeCR: algorithm != .blake3, lossy: algorithm == .blake3)
let sorting = sort
let chunking = chunker != nil
let printingChunks = printChunks
// Detached: the walk below runs on the main actor and does not yield, while results must be
// printed as they come (the library pauses hashing while its ready results wait).
let printer = Task.detached { () -> Printed in
    var printed = Printed()
    var out = Output(fd: 1)
    var line: [UInt8] = []
    /// A file's line (and with --chunks, its chunks' after it), or its error.
    func emit(_ result: FileResult, chunks: [ChunkEvent]) {
        let name = result.path.bytes
        guard result.isOK else {
            printed.failed = true
            let reason = result.osError != 0 ? systemMessage(result.osError) : Array(result.status.description.utf8)
            complain(name, Array(": ".utf8), reason)
            return
        }
        line.removeAll(keepingCapacity: true)
        format.append(hex: result.digest.hex.utf8, name: name, to: &line)
        // Only the chunks of the read that counts (a fresh file is read twice).
        for chunk in chunks where chunk.attempt == result.attempt {
            line.append(contentsOf: "\(chunk.offset) \(chunk.length) \(chunk.digest.hex)\n".utf8)
        }
        if sorting {
            printed.kept.append((name, line))
        } else {
            out.append(line)
        }
    }
    do {
        if chunking {
            // A file's chunks come before its result, in order.
            var pending: [FileID: [ChunkEvent]] = [:]
            for try await event in session.events {
                switch event {
                case .chunk(let chunk):
                    if printingChunks { pending[chunk.fileID, default: []].append(chunk) }
                case .result(let result):
                    emit(result, chunks: pending.removeValue(forKey: result.fileID) ?? [])
                }
            }
        } else {
            for try await result in session.results {
                emit(result, chunks: [])
            }
        }
    } catch {
        complain(Array("results: \(error)".utf8))
        printed.failed = true
    }
    if !out.flush() {
        complain(Array("stdout: ".utf8), systemMessage(errno))
        exit(2)
    }
    return printed
}

var walker = Walker(session: session)
for path in argv[firstPath...] {
    walker.addArgument(path)
}
walker.flush()
session.finish()
var printed = await printer.value

if sort {
    // By the names' bytes, unsigned: strcmp's order, whatever the locale.
    printed.kept.sort { $0.name.lexicographicallyPrecedes($1.name) }
    var out = Output(fd: 1)
    for kept in printed.kept { out.append(kept.line) }
    if !out.flush() {
        complain(Array("stdout: ".utf8), systemMessage(errno))
        exit(2)
    }
}
if verbose {
    for d in session.devices {
        let line =
            "device: \(d.index) \(d.name) kind=\(d.kind) threads=\(d.threads) source=\(d.kindSource) "
            + "reads=\(d.readsLimit) chosen=\(d.readsChosen) limit=\(d.limitReason)\(d.diskOrder ? " disk-order" : "") "
            + "files=\(d.stats.filesDone) bytes=\(d.stats.bytesDone) from_cache=\(d.stats.filesFromCache)\n"
        var err = Output(fd: 2)
        err.append(Array(line.utf8))
        err.flush()
    }
}
exit(printed.failed || walker.failed ? 1 : 0)
