// The output lines, exactly as examples-c/mphash.c formats them (and so as sha256sum, sha512sum
// and b3sum print them): "HEX  NAME"; a name holding a backslash or a newline — and, for the
// coreutils tools, a carriage return — is escaped (\\, \n, \r) and its line starts with a
// backslash. With BLAKE3 a name that is not UTF-8 is printed as b3sum prints it, each invalid
// sequence as one U+FFFD (Rust's String::from_utf8_lossy).

/// How lines are written for one algorithm.
struct LineFormat {
    /// coreutils escapes \r in names; b3sum does not.
    var escapeCR: Bool
    /// b3sum prints a name that is not UTF-8 with U+FFFD for each bad sequence.
    var lossy: Bool

    /// The line of a digest for `name`, newline included, appended to `line`.
    func append(hex: some Collection<UInt8>, name: [UInt8], to line: inout [UInt8]) {
        let printed = lossy ? Self.lossyUTF8(name) : name
        let escape = printed.contains { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") || ($0 == UInt8(ascii: "\r") && escapeCR) }
        if escape { line.append(UInt8(ascii: "\\")) }
        line.append(contentsOf: hex)
        line.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: " ")])
        if !escape {
            line.append(contentsOf: printed)
        } else {
            for byte in printed {
                switch byte {
                case UInt8(ascii: "\\"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r") where escapeCR: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: line.append(byte)
                }
            }
        }
        line.append(UInt8(ascii: "\n"))
    }

    /// `name` made valid UTF-8 as b3sum does: each invalid sequence becomes one U+FFFD.
    static func lossyUTF8(_ name: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(name.count)
        var i = 0
        while i < name.count {
            let (length, bad) = utf8Sequence(name, at: i)
            if length != 0 {
                out.append(contentsOf: name[i..<i + length])
                i += length
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD
                i += bad
            }
        }
        return out
    }

    /// The length of the valid UTF-8 sequence at `i`, or 0 if there is none; then `bad` is the
    /// length of the longest start of a valid sequence found there (at least 1), which
    /// from_utf8_lossy replaces with one U+FFFD. mphash.c's utf8_sequence, byte for byte.
    static func utf8Sequence(_ s: [UInt8], at i: Int) -> (length: Int, bad: Int) {
        let c = s[i]
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        let need: Int
        if c < 0x80 {
            return (1, 1)
        } else if c >= 0xC2 && c <= 0xDF {
            need = 1
        } else if c >= 0xE0 && c <= 0xEF {
            need = 2
            lo = c == 0xE0 ? 0xA0 : 0x80  // no overlong forms
            hi = c == 0xED ? 0x9F : 0xBF  // no surrogates
        } else if c >= 0xF0 && c <= 0xF4 {
            need = 3
            lo = c == 0xF0 ? 0x90 : 0x80
            hi = c == 0xF4 ? 0x8F : 0xBF  // nothing past U+10FFFF
        } else {
            return (0, 1)
        }
        for k in 1...need {
            let min: UInt8 = k == 1 ? lo : 0x80
            let max: UInt8 = k == 1 ? hi : 0xBF
            if i + k >= s.count || s[i + k] < min || s[i + k] > max {
                return (0, k)
            }
        }
        return (need + 1, 1)
    }
}
