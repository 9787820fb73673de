#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(System)
import System
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A path as the bytes that name it. A Linux file name is any bytes but `/` and NUL, not
/// necessarily UTF-8; a `String` cannot hold one that is not (Foundation's `String` paths
/// replace such bytes, and then name another file or none). `PathBytes` keeps what it was given:
/// a `String` as its UTF-8, bytes as they are. Results carry their path as a `PathBytes` equal to
/// the one added.
///
/// Equality, hashing and order are those of the bytes (order: byte by byte, unsigned, as
/// `strcmp` and `sort` in the C locale), whatever it was made from.
public struct PathBytes: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringInterpolation
{
    @usableFromInline
    enum Storage: Sendable {
        case string(String)
        case bytes([UInt8])
        /// Path `index` of an `add`'s arena: how results carry their paths.
        case arena(PathArena, Int)
    }

    @usableFromInline let storage: Storage

    /// The path spelled by `string` (its UTF-8).
    public init(_ string: String) {
        storage = .string(string)
    }

    public init(stringLiteral string: String) {
        storage = .string(string)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        storage = .string(String(stringInterpolation: stringInterpolation))
    }

    @inlinable
    init(arena: PathArena, index: Int) {
        storage = .arena(arena, index)
    }

    /// The path of exactly these bytes.
    public init(_ bytes: [UInt8]) {
        storage = .bytes(bytes)
    }

    /// The path of exactly these bytes.
    public init<Bytes: Sequence<UInt8>>(bytes: Bytes) {
        storage = .bytes(Array(bytes))
    }

    /// A file URL's path, as the file system spells it (`withUnsafeFileSystemRepresentation`).
    public init(_ url: URL) {
        storage = .bytes(
            url.withUnsafeFileSystemRepresentation { name in
                guard let name else { return [] }
                return Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            })
    }

    #if canImport(System)
    /// A `FilePath`'s bytes (System, on Apple platforms).
    @available(macOS 11, iOS 14, tvOS 14, watchOS 7, *)
    public init(_ path: FilePath) {
        storage = .bytes(
            path.withCString { name in
                Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            })
    }

    /// The path as a `FilePath`.
    @available(macOS 11, iOS 14, tvOS 14, watchOS 7, *)
    public var filePath: FilePath {
        var bytes = bytes.map { CChar(bitPattern: $0) }
        bytes.append(0)
        return FilePath(platformString: bytes)
    }
    #endif

    /// The path's bytes.
    public var bytes: [UInt8] {
        switch storage {
        case .string(let string): Array(string.utf8)
        case .bytes(let bytes): bytes
        case .arena(let arena, let index): arena.path(index).bytes
        }
    }

    /// The path as a `String`, if its bytes are UTF-8; nil if they are not.
    public var string: String? {
        switch storage {
        case .string(let string):
            return string
        case .bytes(let bytes):
            let string = String(decoding: bytes, as: UTF8.self)
            return string.utf8.elementsEqual(bytes) ? string : nil
        case .arena(let arena, let index):
            return arena.path(index).string
        }
    }

    /// The path as a file URL.
    public var url: URL {
        withUnsafeBytes { raw in
            var name = Array(raw.bindMemory(to: CChar.self))
            name.append(0)
            return name.withUnsafeBufferPointer {
                URL(fileURLWithFileSystemRepresentation: $0.baseAddress!, isDirectory: false, relativeTo: nil)
            }
        }
    }

    /// The path for people: its bytes as UTF-8, each invalid sequence shown as U+FFFD. Two
    /// different paths may read the same; compare `PathBytes`, not descriptions.
    public var description: String {
        switch storage {
        case .string(let string): string
        case .bytes(let bytes): String(decoding: bytes, as: UTF8.self)
        case .arena(let arena, let index): arena.path(index).description
        }
    }

    /// The number of bytes.
    @inlinable @inline(__always)
    public var count: Int {
        switch storage {
        case .string(let string): string.utf8.count
        case .bytes(let bytes): bytes.count
        case .arena(let arena, let index): arena.length(index)
        }
    }

    /// Calls `body` with the path's bytes, without copying where they are contiguous already.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes(body)
        case .string(let string):
            if let result = try string.utf8.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
                return result
            }
            return try Array(string.utf8).withUnsafeBytes(body)
        case .arena(let arena, let index):
            return try arena.path(index).withUnsafeBytes(body)
        }
    }

    public static func == (a: PathBytes, b: PathBytes) -> Bool {
        switch (a.storage, b.storage) {
        case (.string(let x), .string(let y)): x.utf8.elementsEqual(y.utf8)
        case (.bytes(let x), .bytes(let y)): x == y
        default: a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
        }
    }

    public static func < (a: PathBytes, b: PathBytes) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.lexicographicallyPrecedes(y) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(count)
    }
}
