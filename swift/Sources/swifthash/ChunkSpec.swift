// `--chunker SPEC` as mphash takes it (issue 27: sizes with K and M, restic's polynomial in hex).
import Multipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A size of `--chunker`: bytes, or with K or M, KiB or MiB (mphash's contract).
func chunkSize(_ text: Substring) -> Int? {
    var digits = text
    var unit = 1
    if digits.hasSuffix("K") {
        unit = 1 << 10
    } else if digits.hasSuffix("M") {
        unit = 1 << 20
    }
    if unit != 1 { digits = digits.dropLast() }
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = Int(digits), n >= 0 else { return nil }
    return n.multipliedReportingOverflow(by: unit).overflow ? nil : n * unit
}

/// `--chunker SPEC`: `fastcdc:MIN:AVG:MAX[:LEVEL]`, `restic[:POLY]` (hex, with or without 0x,
/// either case) or `fixed:SIZE`; nil if it does not parse.
func parseChunker(_ spec: String) -> Chunker? {
    let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
    switch parts.first {
    case "fastcdc" where parts.count == 4 || parts.count == 5:
        guard let min = chunkSize(parts[1]), let avg = chunkSize(parts[2]), let max = chunkSize(parts[3])
        else { return nil }
        var level = 1
        if parts.count == 5 {
            guard let l = Int(parts[4]), (0...3).contains(l) else { return nil }
            level = l
        }
        return .fastCDC(min: min, avg: avg, max: max, level: level)
    case "restic" where parts.count <= 2:
        guard parts.count == 2 else { return .restic() }
        var hex = parts[1]
        if hex.hasPrefix("0x") || hex.hasPrefix("0X") { hex = hex.dropFirst(2) }
        guard !hex.isEmpty, hex.allSatisfy(\.isHexDigit), let poly = UInt64(hex, radix: 16) else { return nil }
        return .restic(polynomial: poly)
    case "fixed" where parts.count == 2:
        return chunkSize(parts[1]).map { .fixed(size: $0) }
    default:
        return nil
    }
}

/// The 32 bytes of `--chunk-key FILE`; nil if it cannot be read or holds another number.
func readKey(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var key = [UInt8](repeating: 0, count: 33)
    var got = 0
    while got < key.count {
        let n = key.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        got += n
    }
    return got == 32 ? Array(key[..<32]) : nil
}
