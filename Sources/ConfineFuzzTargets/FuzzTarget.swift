import ConfineCore
import Foundation

/// The parsers confine feeds with outside input, each a fuzz target (Tests/Fuzz builds them into one
/// libFuzzer binary; ConfineCoreTests replays the corpora and every crash found through the same code).
///
/// One parser fed with the fuzzer's bytes. Every parser must either return or throw its own
/// error type: a trap, an overflow or an ASan report is a bug (found by libFuzzer, kept as a
/// regression input in Tests/Fuzz/Regressions/<target>/, replayed by ConfineCoreTests).
public enum FuzzTarget: String, CaseIterable, Sendable {
    case profile        // profile YAML (limits, budgets, regression, network)
    case seccomp        // OCI / Docker seccomp JSON, then resolved as for a container
    case kubernetes     // `confine profile import` of Kubernetes manifests
    case compose        // … of compose files; the same bytes as an env file (Docker's and dotenv's)
    case oci            // … of OCI runtime config.json
    case junit          // JUnit XML (--junit)
    case runner         // `swift test` console output (XCTest and Swift Testing lines)
    case probe          // probe protocol datagrams, decoded and attributed; the `running` file
    case report         // report JSON (confine report / compare / merge)
    case driver         // load drivers' output (confine load): hey, wrk, plain, locust stats and history, k6

    public func run(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .profile:
            _ = try? ProfileSpec.parse(yaml: text, file: "fuzz.yaml")
        case .seccomp:
            if let profile = try? SeccompProfileLoader.load(file: "fuzz.json", data: Data(bytes)) {
                _ = SeccompProfileLoader.resolve(profile, kernelRelease: "6.1.0")
            }
        case .kubernetes:
            _ = try? ProfileImporter.kubernetes(path: "fuzz.yaml", text: text, container: nil).yaml()
        case .compose:
            _ = try? ProfileImporter.compose(path: "compose.yaml", text: text, service: nil).yaml()
            _ = try? EnvFile.parse(text, file: "fuzz.env", quotes: false, inherited: ["A": "1"])
            _ = try? EnvFile.parse(text, file: "fuzz.env", quotes: true)
        case .oci:
            _ = try? ProfileImporter.oci(path: "config.json", text: text).yaml()
        case .junit:
            _ = try? JUnitReader.parse(text, path: "fuzz.xml")
        case .runner:
            var parser = SwiftTestOutputParser()
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) { _ = parser.feed(line) }
        case .probe:
            Self.probe(bytes)
        case .report:
            if let report = try? ReportFiles.decode(Data(bytes), path: "fuzz.json") {
                _ = try? report.jsonData()
            }
        case .driver:
            Self.driver(text)
        }
    }

    /// The bytes as every driver's output; then, split at the first NUL, as locust's stats and
    /// history together (the seeds hold both so), and as a driver command's words.
    static func driver(_ text: String) {
        for format in DriverResult.Format.allCases {
            _ = try? DriverOutput.parse(text, format: format, path: "fuzz")
        }
        let parts = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
        _ = try? DriverOutput.parseLocust(stats: String(parts[0]), history: parts.count > 1 ? String(parts[1]) : String(parts[0]),
                                          path: "fuzz_stats.csv")
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        if let format = DriverOutput.detect(words) { _ = DriverOutput.outputFiles(of: words, format: format) }
    }

    /// A datagram checked and, when it passes, credited to a ledger as confine does; the same
    /// bytes read as the plugin's `running` file, its tests opened and placed by readings.
    static func probe(_ bytes: UnsafeRawBufferPointer) {
        var ledger = AttributionLedger()
        var readings = GroupReadings(capacity: 16)
        for running in RunningSlots.scan(bytes) {
            let start = Double(running.startNanoseconds) / 1e9
            readings.append(.init(time: start, memoryBytes: running.startNanoseconds, cpuNanos: UInt64(running.pid), peakBytes: 0))
            let span = readings.span(from: start - 1, to: start + 1)
            ledger.testStarted(key: running.name, name: running.name, source: .pytest, pid: running.pid, at: start,
                               memoryBytes: span?.startBytes ?? 0, cpuNanos: span?.startCPUNanos ?? 0, attribution: .window)
        }
        ledger.finish(at: 1e10, memoryBytes: 0, cpuNanos: 0)
        guard let view = try? ProbeWire.scan(bytes) else { return }
        ledger.addCalls(view, memoryBytes: 0)
        _ = ledger.functionRecords
    }
}
