// swift-tools-version: 6.0
// A small Swift service instrumented with ConfineProbe: a quote endpoint's pricing and
// caching, with a profile and budgets (confine.yaml). See README.md.
import PackageDescription

let package = Package(
    name: "swift-service",
    dependencies: [.package(name: "confine", path: "../..")],
    targets: [
        .target(name: "QuoteService", dependencies: [.product(name: "ConfineProbe", package: "confine")]),
        .testTarget(name: "QuoteServiceTests", dependencies: ["QuoteService"]),
    ]
)
