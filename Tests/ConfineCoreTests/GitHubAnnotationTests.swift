@testable import ConfineCore
import XCTest

/// `confine report --format github`: workflow commands GitHub turns into annotations.
final class GitHubAnnotationTests: XCTestCase {
    func testBudgetsOOMKillsAndThePodsFaultsBecomeAnnotations() throws {
        let budgets = BudgetSpec(rules: [
            BudgetRule(scope: .tests, pattern: "*big*", thresholds: [BudgetThreshold(metric: .rssGrowth, limit: 64 * 1_048_576)]),
            BudgetRule(scope: .functions, pattern: "calculate_discount", thresholds: [BudgetThreshold(metric: .p95, limit: 0.001, level: .warn)]),
        ])
        var report = Fixtures.report(tests: [Fixtures.test("tests/test_store.py::test_big[1,2]", duration: 0.3, peak: 200 << 20, growth: 100 << 20)],
                                     functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 2))], budgets: budgets)
        var kill = RunReport.OOMKill(pid: 812, command: "python3 -m pytest", atSeconds: 3.21, usageBytes: 512 << 20, limitBytes: 512 << 20,
                                     mainProcess: false, source: .kernelLog)
        kill.test = "tests/test_store.py::test_big[1,2]"
        report.oomKills = [kill]
        let lines = GitHubAnnotations.render(report).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "\(lines)")
        XCTAssertTrue(lines[0].hasPrefix("::error file=tests/test_store.py,title=confine budget rss_growth::tests/test_store.py%3A%3A") == false)
        XCTAssertTrue(lines[0].hasPrefix("::error file=tests/test_store.py,title=confine budget rss_growth::"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("::warning title=confine budget p95::calculate_discount p95"), lines[1])
        XCTAssertEqual(lines[2], "::error file=tests/test_store.py,title=confine%3A OOM kill::pid 812 (python3 -m pytest) was OOM-killed at 3.21 s "
                       + "under a 512.0 MiB limit (tests/test_store.py::test_big[1,2])")
        XCTAssertEqual(GitHubAnnotations.escapeData("50%\nnext"), "50%25%0Anext")
        XCTAssertEqual(GitHubAnnotations.escapeProperty("a:b,c"), "a%3Ab%2Cc")
        XCTAssertNil(GitHubAnnotations.file(of: "MemoryXCTests.testBig"), "a runner without files annotates the run")
        XCTAssertEqual(GitHubAnnotations.render(Fixtures.report()), "", "nothing to say, nothing said")
    }
}

/// A test name is the suite's text: no byte of it may end the annotation's line.
final class GitHubAnnotationEscapingTests: XCTestCase {
    func testLineBreaksAndControlsInDataNeverStartALine() {
        let escaped = GitHubAnnotations.escapeData("sec\r\n::warning::INJECTED\n\u{1b}[31m\u{07}100%")
        XCTAssertEqual(escaped, "sec%0D%0A::warning::INJECTED%0A␛[31m␇100%25")
        XCTAssertFalse(escaped.unicodeScalars.contains { $0.value < 0x20 })
        XCTAssertEqual(GitHubAnnotations.escapeProperty("a:b,c\r\n"), "a%3Ab%2Cc%0D%0A")
    }
}
