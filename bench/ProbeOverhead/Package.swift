// swift-tools-version: 6.0
// bench/probe-overhead's Swift half: a tight loop, bare and through Probe.measure.
import PackageDescription

let package = Package(
    name: "ProbeOverhead",
    dependencies: [.package(name: "confine", path: "../..")],
    targets: [
        .executableTarget(name: "probe-overhead", dependencies: [.product(name: "ConfineProbe", package: "confine")],
                          swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
    ]
)
