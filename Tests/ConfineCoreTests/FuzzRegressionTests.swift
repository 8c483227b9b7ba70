import ConfineCore
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
