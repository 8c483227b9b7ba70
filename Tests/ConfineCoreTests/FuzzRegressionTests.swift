@testable import ConfineCore
import ConfineFuzzTargets
import Foundation
import XCTest

/// Every seed and every input libFuzzer ever crashed a parser with (Tests/Fuzz/Corpus and
/// Tests/Fuzz/Regressions), replayed through the same code the fuzzer runs (FuzzTarget). A parser
/// that traps on one of them fails the whole test process, so these run in every `swift test`.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Fuzz")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Package.swift").path) { return candidate }
        }
        fatalError("Tests/Fuzz not found above \(#filePath)")
    }()

    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().map { directory.appendingPathComponent($0) }
    }

    func testEverySeedAndEveryPastCrashIsHandled() throws {
        var replayed = 0
        for target in FuzzTarget.allCases {
            let seeds = Self.inputs("Corpus", target)
            XCTAssertFalse(seeds.isEmpty, "Tests/Fuzz/Corpus/\(target.rawValue) holds the seeds bench/fuzz starts from")
            for input in seeds + Self.inputs("Regressions", target) {
                let data = try Data(contentsOf: input)
                data.withUnsafeBytes { target.run($0) }
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, FuzzTarget.allCases.count)
    }

    /// Yams ends a line at a lone \r; the duplicate-key message split on \n only and indexed past
    /// the last line (found by bench/fuzz in the profile parser).
    func testDuplicateKeyAfterCarriageReturnLineBreaksIsAnErrorWithItsLine() throws {
        for input in Self.inputs("Regressions", .profile) {
            let text = String(decoding: try Data(contentsOf: input), as: UTF8.self)
            XCTAssertThrowsError(try ProfileSpec.parse(yaml: text, file: input.lastPathComponent), input.lastPathComponent)
        }
        do {
            _ = try ProfileSpec.parse(yaml: "limits:\r  memory: 1Gi\r  memory: 2Gi\r", file: "cr.yaml")
            XCTFail("a duplicate key must be an error")
        } catch {
            XCTAssertEqual(error.description, "cr.yaml:3:3: error: duplicate key 'memory' in 'limits' (first given at line 2)")
        }
    }
}

/// Crashes bench/fuzz found in the probe channel's readers, kept in Tests/Fuzz/Regressions/probe.
final class ProbeFuzzRegressionTests: XCTestCase {
    /// A running slot read as a test start put a memory reading past Int64.max into the ledger;
    /// the test's end growth (end minus start, signed) trapped converting it. It saturates now.
    func testAMemoryReadingPastInt64SaturatesTheGrowthInsteadOfTrapping() throws {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "t", name: "t", source: .pytest, pid: 7, at: 1, memoryBytes: UInt64.max, cpuNanos: 0, attribution: .window)
        ledger.finish(at: 2, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(ledger.tests.first?.endGrowthBytes, -Int64.max)
        XCTAssertEqual(ledger.tests.first?.outcome, .crashed)

        var rising = AttributionLedger()
        rising.testStarted(key: "u", name: "u", source: .pytest, pid: 7, at: 1, memoryBytes: 0, cpuNanos: 0)
        rising.finish(at: 2, memoryBytes: UInt64.max - 1, cpuNanos: 0)
        XCTAssertEqual(rising.tests.first?.endGrowthBytes, Int64.max)
        XCTAssertEqual(signedGrowth(from: 10, to: 4), -6)
        XCTAssertEqual(signedGrowth(from: 4, to: 10), 6)

        let inputs = FuzzRegressionTests.inputs("Regressions", .probe)
        XCTAssertFalse(inputs.isEmpty)
        for input in inputs { try Data(contentsOf: input).withUnsafeBytes { FuzzTarget.probe.run($0) } }
    }
}

/// Crashes bench/fuzz found in the importers, each kept as an input in Tests/Fuzz/Regressions.
final class ImportFuzzRegressionTests: XCTestCase {
    /// Yams' `load` force-unwraps a mapping key as a string: a list or mapping as a key trapped.
    func testANonScalarMappingKeyIsAnErrorWithItsPosition() {
        XCTAssertThrowsError(try ProfileImporter.compose(path: "c.yaml", text: "services:\n  web:\n    ? [a, b]\n    : 1\n", service: nil)) { error in
            XCTAssertEqual("\(error)", "c.yaml:3:7: a mapping key must be a plain string, not a list")
        }
        XCTAssertThrowsError(try ProfileImporter.kubernetes(path: "k.yaml", text: "kind: Pod\nspec:\n  {a: 1}: x\n", container: nil)) { error in
            XCTAssertEqual("\(error)", "k.yaml:3:3: a mapping key must be a plain string, not a mapping")
        }
        for target in ["kubernetes", "compose"] {
            for input in FuzzRegressionTests.inputs("Regressions", FuzzTarget(rawValue: target)!) {
                let text = String(decoding: (try? Data(contentsOf: input)) ?? Data(), as: UTF8.self)
                XCTAssertThrowsError(try ProfileImporter.importProfile(path: target == "compose" ? "compose.yaml" : "pod.yaml",
                                                                       text: text, select: nil), input.lastPathComponent)
            }
        }
    }

    /// Yams computes YAML 1.1 base-60 integers (`1:30` is 90) without overflow checks: a long
    /// one trapped. Refused with its position; base-60 numbers that fit still read as numbers.
    func testABase60IntegerPastInt64IsAnErrorWithItsPosition() throws {
        XCTAssertThrowsError(try ProfileImporter.kubernetes(path: "k.yaml", text: "kind: Pod\nspec:\n  x: 1:21:1:4:22:4:21:1:4:22:4:24:2\n", container: nil)) { error in
            XCTAssertEqual("\(error)", "k.yaml:3:6: '1:21:1:4:22:4:21:1:4:22:4:24:2' reads as a YAML 1.1 base-60 integer too large for 64 bits; quote it if it is a string")
        }
        XCTAssertThrowsError(try ProfileImporter.compose(path: "c.yaml", text: "166666666666663120:1:1\n", service: nil)) { error in
            XCTAssertTrue("\(error)".hasPrefix("c.yaml:1:1: '166666666666663120:1:1' reads as a YAML 1.1 base-60 integer"), "\(error)")
        }
        XCTAssertTrue(ProfileImporter.sexagesimalFitsInt("1:30"))
        XCTAssertTrue(ProfileImporter.sexagesimalFitsInt("-1:2:3:4:5:6:7:8:9:10")) // 60^10 fits
        XCTAssertFalse(ProfileImporter.sexagesimalFitsInt("1:2:3:4:5:6:7:8:9:10:11")) // Yams' base reaches 60^11
        XCTAssertEqual(try ProfileImporter.loadYAMLDocuments("a: 1:30\n", path: "x") .first as? [String: Int], ["a": 90])
    }

    /// JSONSerialization.data traps on a top-level scalar: `"seccomp": 1024` in a config.json did.
    func testASeccompSectionThatIsNotAnObjectIsAnError() {
        XCTAssertThrowsError(try ProfileImporter.oci(path: "b/config.json", text: #"{ "linux": {"seccomp": 1024}}"#)) { error in
            XCTAssertEqual("\(error)", "b/config.json: linux.seccomp: expected an object (a seccomp profile), found the scalar 1024")
        }
        XCTAssertThrowsError(try ProfileImporter.oci(path: "b/config.json", text: #"{ "linux": {"seccomp": "x"}}"#)) { error in
            XCTAssertEqual("\(error)", "b/config.json: linux.seccomp: expected an object (a seccomp profile), found a string")
        }
        for input in FuzzRegressionTests.inputs("Regressions", .oci) {
            let text = String(decoding: (try? Data(contentsOf: input)) ?? Data(), as: UTF8.self)
            _ = try? ProfileImporter.oci(path: "config.json", text: text) // must return or throw, not trap
        }
    }

    /// A CPU period past Int64 (or zero) made the quota/period ratio overflow formatFixed's Int.
    func testAnAbsurdCPUPeriodFallsBackToTheDefault() throws {
        let config = #"{"linux": {"resources": {"cpu": {"quota": 50000, "period": 1000000000000000000000000}}}}"#
        let imported = try ProfileImporter.oci(path: "config.json", text: config)
        XCTAssertTrue(imported.yaml().contains("cpus: 0.5"), imported.yaml())
        XCTAssertEqual(formatFixed(1e300, digits: 3), "1e+300")
        XCTAssertEqual(formatFixed(.infinity, digits: 2), "inf")
        XCTAssertEqual(formatFixed(2.5, digits: 3), "2.500")
    }
}
