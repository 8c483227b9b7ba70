// swift-tools-version: 6.0
// A target suite for confine's attribution tests and demo: XCTest and Swift Testing, one test
// that allocates 100 MiB, small ones around it, and a function probed with ConfineProbe.
import PackageDescription

let package = Package(
    name: "swift-suite",
    dependencies: [.package(name: "confine", path: "../..")],
    targets: [
        .target(name: "Pricing", dependencies: [.product(name: "ConfineProbe", package: "confine")]),
        .testTarget(name: "PricingTests", dependencies: ["Pricing"]),
    ]
)
