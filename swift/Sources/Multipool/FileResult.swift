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
    // Bytes past `count` are zero.
    private let storage: SIMD64<UInt8>
    /// The number of bytes.
    public let count: Int

    init(storage: SIMD64<UInt8>, count: Int) {
        self.storage = storage
        self.count = count
    }

    /// A digest of these bytes (at most 64).
    public init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count <= 64, "a digest has at most 64 bytes")
        var storage = SIMD64<UInt8>()
        for (i, byte) in bytes.enumerated() {
            storage[i] = byte
        }
        self.init(storage: storage, count: bytes.count)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < count, "digest index out of range")
        return storage[position]
    }

    /// The digest in lowercase hex, as `sha256sum` prints it.
    public var hex: String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 2 * count) { out in
            digits.withUTF8Buffer { digits in
                for i in 0..<count {
                    out[2 * i] = digits[Int(storage[i] >> 4)]
                    out[2 * i + 1] = digits[Int(storage[i] & 15)]
                }
            }
            return 2 * count
        }
    }

    public var description: String { hex }
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
    public let device: Int?
    /// The digest; empty unless `status` is `.ok`.
    public let digest: Digest

    init(path: PathBytes, _ r: UnsafePointer<multipool_result>) {
        self.path = path
        status = Status(rawValue: r.pointee.status)
        osError = r.pointee.os_error
        size = r.pointee.size
        device = r.pointee.device == UInt32(MULTIPOOL_DEVICE_NONE) ? nil : Int(r.pointee.device)
        let count = Int(min(r.pointee.digest_len, 64))
        digest = Digest(
            storage: UnsafeRawPointer(r).loadUnaligned(
                fromByteOffset: MemoryLayout<multipool_result>.offset(of: \.digest)!, as: SIMD64<UInt8>.self),
            count: count)
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
