// swift-tools-version: 6.0
// libFuzzer targets for every parser confine feeds with outside input. Built by bench/fuzz and
// ci/fuzz-smoke with `-sanitize=fuzzer,address`; one binary, the parser chosen by
// CONFINE_FUZZ_TARGET. Seed corpora: Tests/Fuzz/Corpus/<target>/.
import PackageDescription

let package = Package(
    name: "confine-fuzz",
    dependencies: [.package(name: "confine", path: "../..")],
    targets: [
        .executableTarget(
            name: "confine-fuzz",
            dependencies: [.product(name: "ConfineFuzzTargets", package: "confine")]
        ),
    ]
)
