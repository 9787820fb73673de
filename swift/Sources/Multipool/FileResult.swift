import CMultipool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A digest: 32 bytes (SHA-256, BLAKE3) or 64 (SHA-512), held inline (no allocation).
public struct Digest: RandomAccessCollection, Hashable, Sendable, CustomStringConvertible {
    /// The C result's 64 bytes as they are (a tuple: byte-aligned, no padding); bytes past
    /// `count` are zero.
    typealias Storage = (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    )

    private let storage: Storage
    private let length: UInt8

    init(storage: Storage, count: Int) {
        self.storage = storage
        length = UInt8(count)
    }

    /// A digest of these bytes (at most 64).
    public init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count <= 64, "a digest has at most 64 bytes")
        var storage: Storage = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
        Swift.withUnsafeMutableBytes(of: &storage) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        self.init(storage: storage, count: bytes.count)
    }

    /// The number of bytes.
    public var count: Int { Int(length) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(length) }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < count, "digest index out of range")
        return Swift.withUnsafeBytes(of: storage) { $0[position] }
    }

    /// Calls `body` with the digest's bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { try body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// The digest in lowercase hex, as `sha256sum` prints it.
    public var hex: String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 2 * count) { out in
            digits.withUTF8Buffer { digits in
                withUnsafeBytes { bytes in
                    for (i, byte) in bytes.enumerated() {
                        out[2 * i] = digits[Int(byte >> 4)]
                        out[2 * i + 1] = digits[Int(byte & 15)]
                    }
                }
            }
            return 2 * count
        }
    }

    public var description: String { hex }

    public static func == (a: Digest, b: Digest) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// One path's outcome: its path as added, and a digest or the reason there is none.
public struct FileResult: Sendable, CustomStringConvertible {
    /// The path, the bytes given to `add`.
    public let path: PathBytes
    /// `.ok` with a digest, or why there is none (`.notFound`, `.isDirectory`, `.cancelled`…).
    public let status: Status
    /// The errno behind a failure, 0 when none.
    public let osError: Int32
    /// Bytes hashed; for a failure, the file's size where known, else 0.
    public let size: UInt64
    /// The index of the device that read the file (see `Session.devices`); nil if none did.
    public var device: Int? {
        deviceIndex == UInt32(MULTIPOOL_DEVICE_NONE) ? nil : Int(deviceIndex)
    }
    private let deviceIndex: UInt32
    /// The digest; empty unless `status` is `.ok`.
    public let digest: Digest

    init(path: PathBytes, _ r: UnsafePointer<multipool_result>) {
        self.path = path
        status = Status(rawValue: r.pointee.status)
        osError = r.pointee.os_error
        size = r.pointee.size
        deviceIndex = r.pointee.device
        digest = Digest(storage: r.pointee.digest, count: Int(min(r.pointee.digest_len, 64)))
    }

    /// Whether the file was hashed.
    public var isOK: Bool { status == .ok }

    /// The errno as a `POSIXErrorCode`, if there was one.
    public var code: POSIXErrorCode? {
        osError == 0 ? nil : POSIXErrorCode(rawValue: osError)
    }

    /// Why there is no digest; nil when hashed.
    public var error: MultipoolError? {
        status == .ok ? nil : MultipoolError(status: status, code: code, path: path)
    }

    /// The digest, or the error saying why there is none.
    public func get() throws(MultipoolError) -> Digest {
        if let error { throw error }
        return digest
    }

    /// `HEX  PATH`, or `PATH: reason`.
    public var description: String {
        error.map(\.description) ?? "\(digest.hex)  \(path)"
    }
}
