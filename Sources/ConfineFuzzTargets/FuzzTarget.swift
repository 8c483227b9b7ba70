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
    case compose        // … of compose files
    case oci            // … of OCI runtime config.json
    case junit          // JUnit XML (--junit)
    case runner         // `swift test` console output (XCTest and Swift Testing lines)
    case probe          // probe protocol datagrams, decoded and attributed
    case report         // report JSON (confine report / compare / merge)

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
        }
    }

    /// A datagram checked and, when it passes, credited to a ledger as confine does.
    static func probe(_ bytes: UnsafeRawBufferPointer) {
        guard let view = try? ProbeWire.scan(bytes) else { return }
        var ledger = AttributionLedger()
        ledger.addCalls(view, memoryBytes: 0)
        _ = ledger.functionRecords
    }
}
