// swift-tools-version:6.0
// The Swift side of benches/swift_api.sh: what the Swift API costs per file, against C's
// enqueue_buffer + poll (benches/swift_api_cost.c). A package of its own, so that the root
// package, which users depend on, carries no benchmark; it takes the root package by path.
import Foundation
import PackageDescription

// A package taken by path is known by its directory's name: the clone's, whatever it is.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let package = Package(
    name: "multipool-benches",
    dependencies: [.package(path: root.path)],
    targets: [
        .executableTarget(
            name: "swift-api-cost",
            dependencies: [.product(name: "Multipool", package: root.lastPathComponent.lowercased())],
            path: "Sources/swift-api-cost")
    ],
    swiftLanguageModes: [.v6]
)
