// swift-tools-version:6.0
// The Swift package of multipool: `Multipool` over the C library (the system-library target
// `CMultipool`, found by pkg-config), and `swifthash`, mphash in Swift. It lives at the root of
// the repository so that SwiftPM can take it by the repository's URL; its sources are under
// swift/. The library itself is built and installed by the Makefile (see README, "Swift").
import PackageDescription

let package = Package(
    name: "multipool",
    products: [
        .library(name: "Multipool", targets: ["Multipool"]),
        .executable(name: "swifthash", targets: ["swifthash"]),
    ],
    targets: [
        .systemLibrary(name: "CMultipool", path: "swift/Sources/CMultipool", pkgConfig: "multipool"),
        .target(name: "Multipool", dependencies: ["CMultipool"], path: "swift/Sources/Multipool"),
        .executableTarget(name: "swifthash", dependencies: ["Multipool"], path: "swift/Sources/swifthash"),
        .testTarget(name: "MultipoolTests", dependencies: ["Multipool"], path: "swift/Tests/MultipoolTests"),
    ],
    swiftLanguageModes: [.v6]
)
