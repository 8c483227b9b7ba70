// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "confine",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "confine", targets: ["confine"]),
        // What a target links to report per-function timings to confine (no dependencies).
        .library(name: "ConfineProbe", targets: ["ConfineProbe"]),
        // Every parser fed by outside input behind one entry point, for the fuzzers in Tests/Fuzz.
        .library(name: "ConfineFuzzTargets", targets: ["ConfineFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The command line: @main and one file per subcommand.
        .executableTarget(
            name: "confine",
            dependencies: [
                "ConfineCore",
                "ConfineLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Pure Swift: units, profiles, outcomes, reports. No syscalls.
        .target(
            name: "ConfineCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The parsers confine fuzzes (Tests/Fuzz) and replays crashes through (ConfineCoreTests).
        .target(name: "ConfineFuzzTargets", dependencies: ["ConfineCore"]),
        // The probe library targets link: batches per-function timings into confine's socket.
        .target(name: "ConfineProbe"),
        // Everything that talks to the kernel: cgroup drivers, spawner, sampler, OOM watch.
        .target(
            name: "ConfineLinux",
            dependencies: ["ConfineCore", "CConfineSpawn", "CLinuxKernel", "CSeccomp"]
        ),
        // The only code that runs between fork and exec (async-signal-safe C).
        .target(name: "CConfineSpawn"),
        // Kernel headers Glibc's module lacks (signalfd, netlink, process connector).
        .target(name: "CLinuxKernel"),
        // libseccomp, to compile seccomp profiles to BPF in the parent.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .testTarget(name: "ConfineCoreTests", dependencies: ["ConfineCore", "ConfineFuzzTargets", .product(name: "Yams", package: "Yams")],
                    exclude: ["Golden"]),
        .testTarget(
            name: "ConfineLinuxTests",
            dependencies: ["ConfineLinux", "ConfineCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["ConfineCore", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "ConfineProbeTests", dependencies: ["ConfineProbe", "ConfineCore"]),
    ]
)
