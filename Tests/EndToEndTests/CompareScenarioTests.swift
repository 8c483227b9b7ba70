import ConfineCore
import Foundation
import XCTest

/// Comparisons that do not cry wolf (issue 18), on the real kernel: a generated suite of 300
/// tests of 2–20 ms (a sleep each; `SLOW` names tests made 60% slower), run under confine as a
/// single pair and as five interleaved rounds per side (`ci/rounds`).
final class CompareScenarioTests: DirectoryScenario {
    func writeSuite() throws -> String {
        let suite = directory + "/test_suite.py"
        try """
            import os
            import time

            import pytest

            SLOW = {int(n) for n in os.environ.get("SLOW", "").split(",") if n}


            @pytest.mark.parametrize("n", range(300))
            def test_t(n):
                length = 0.002 + 0.018 * ((n * 7919) % 300) / 300
                time.sleep(length * (1.6 if n in SLOW else 1))

            """.write(toFile: suite, atomically: true, encoding: .utf8)
        return suite
    }

    func pytest(_ suite: String, slow: String = "") -> String {
        "SLOW=\(slow) python3 -m pytest -q -p no:cacheprovider \(suite) >/dev/null"
    }

    func rounds(_ base: String, _ head: String, out: String) -> Harness.Result {
        let child = Harness.Child([Harness.packageRoot.appendingPathComponent("ci/rounds").path, "-n", "5", "-o", out,
                                   "--format", "json", "--base", base, "--head", head, "--", "--memory", "1Gi"],
                                  environment: ["CONFINE": Harness.confine])
        return child.wait()
    }

    func testTheSameCodeComparedAsAPairAndAsRoundsPassesAndThreeSlowerTestsAreFound() throws {
        let suite = try writeSuite()
        // A/A as a single pair: exit 0.
        let a = directory + "/a.json", b = directory + "/b.json"
        for path in [a, b] {
            let run = Harness.run([Harness.confine, "run", "--quiet", "--memory", "1Gi", "--report", path, "--", "sh", "-c", pytest(suite)])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let pair = Harness.run([Harness.confine, "compare", a, b, "--format", "markdown"])
        XCTAssertEqual(pair.status, 0, pair.stdout)
        XCTAssertTrue(pair.stdout.contains("one run per side"), pair.stdout)

        // A/A as five interleaved rounds per side: exit 0.
        let same = rounds(pytest(suite), pytest(suite), out: directory + "/aa")
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        let sameComparison = try JSONDecoder().decode(Comparison.self, from: Data(same.stdout.utf8))
        XCTAssertEqual(sameComparison.baseReports.count, 5)
        XCTAssertFalse(sameComparison.hasRegression)

        // Three tests 60% slower: found (exit 99, those three), at most two others flagged.
        let slowed: Set<String> = ["test_suite.py::test_t[17]", "test_suite.py::test_t[140]", "test_suite.py::test_t[251]"]
        let slower = rounds(pytest(suite), pytest(suite, slow: "17,140,251"), out: directory + "/ab")
        XCTAssertEqual(slower.status, 99, slower.stdout + slower.stderr)
        let comparison = try JSONDecoder().decode(Comparison.self, from: Data(slower.stdout.utf8))
        let flagged = Set(comparison.regressions.filter { $0.kind == "test" }.map(\.name))
        XCTAssertTrue(slowed.isSubset(of: flagged), "flagged \(flagged.sorted())")
        XCTAssertLessThanOrEqual(flagged.subtracting(slowed).count, 2, "others flagged: \(flagged.subtracting(slowed).sorted())")
        for row in comparison.regressions where slowed.contains(row.name) && row.metric == "duration" {
            XCTAssertEqual(row.change ?? 0, 0.6, accuracy: 0.3, row.name)
            XCTAssertEqual(row.baseRounds, 5)
        }
    }

    func testRoundsNeedBothSides() {
        let result = Harness.run([Harness.packageRoot.appendingPathComponent("ci/rounds").path, "--base", "true"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("needs --base"), result.stderr)
        let compare = Harness.run([Harness.confine, "compare", "--base", "a.json"])
        XCTAssertEqual(compare.status, 64, compare.stderr)
    }
}
