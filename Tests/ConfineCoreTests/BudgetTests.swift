@testable import ConfineCore
import Foundation
import XCTest

/// Budgets, comparisons, merging and the renderers, on reports built here (no kernel needed).
enum Fixtures {
    /// A run of `pytest` under a 64Mi profile that exited 0 and saw nothing: tests add to it.
    static func emptyReport() throws -> RunReport {
        let profile = ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: "limits: {memory: 64Mi}\n").parse(), chain: ["p.yaml"])
        var record = RunRecord(command: ["pytest"], profile: profile, confineVersion: "test",
                               host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2),
                               startedAt: "2026-11-30T20:00:00Z")
        record.mainPid = 42
        record.termination = .exited(0)
        return RunReport(record: record)
    }

    /// A deterministic generator (SplitMix64), so samples are "random" but the same every run.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
        /// Log-normal latencies around `median` nanoseconds (a realistic right tail).
        mutating func latency(median: Double, sigma: Double = 0.15) -> UInt64 {
            let normal = (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * Double.pi * uniform())
            return UInt64(median * exp(sigma * normal))
        }
    }

    static func samples(seed: UInt64, count: Int = 500, median: Double = 2_000_000, scale: Double = 1) -> [UInt64] {
        var random = Random(state: seed)
        return (0..<count).map { _ in UInt64(Double(random.latency(median: median)) * scale) }
    }

    static func function(_ name: String, _ samples: [UInt64]) -> FunctionRecord {
        FunctionRecord(name: name, distribution: LatencyDistribution(samples: samples), bytes: nil, memoryGrowthBytes: 0, processes: 1)
    }

    static func test(_ name: String, duration: Double, peak: UInt64, growth: UInt64) -> TestRecord {
        var test = TestRecord(name: name, source: .pytest, startSeconds: 0.5)
        test.outcome = .passed
        test.durationSeconds = duration
        test.endSeconds = 0.5 + duration
        test.peakBytes = peak
        test.startBytes = peak - growth
        test.peakGrowthBytes = growth
        return test
    }

    static func report(tests: [TestRecord] = [], functions: [FunctionRecord] = [], budgets: BudgetSpec? = nil,
                       peak: UInt64 = 300 << 20, duration: Double = 4.2) -> RunReport {
        var spec = ProfileSpec()
        spec.name = "api"
        spec.limits.memory = 512 << 20
        spec.limits.cpus = 1
        spec.budgets = budgets
        var report = RunReport(
            confineVersion: "test", outcome: .passed, exitCode: 0, reason: "the command succeeded within its limits",
            command: ["python3", "-m", "pytest"], profile: ResolvedProfile(spec: spec, chain: ["api"]),
            host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2),
            startedAt: "2026-11-22T10:00:00Z", durationSeconds: duration, mainProcess: .init(pid: 42, exitStatus: 0), setupError: nil,
            memory: .init(limitBytes: 512 << 20, swapLimitBytes: 0, peakBytes: peak, peakSource: .maxUsageInBytes, last: nil,
                          timeline: (0...40).map { index in
                              TimelinePoint(t: Double(index) * 0.1, memoryBytes: UInt64(40 << 20) + UInt64(index % 10) * (20 << 20),
                                            breakdown: MemoryBreakdown(), cpuSeconds: Double(index) * 0.05, throttledPeriods: 0, pids: 3)
                          },
                          timelineResolutionSeconds: 0.1),
            cpu: .init(limitCpus: 1, usageSeconds: 2.5, periods: 40, throttledPeriods: 4, throttledSeconds: 0.2),
            pids: .init(limit: 256, peak: 3, peakSource: .pidsPeak, forkFailures: 0),
            oomKills: [], processes: [], warnings: [])
        report.tests = tests
        report.functions = functions
        return BudgetJudge.judge(report)
    }
}

final class BudgetParsingTests: XCTestCase {
    func parse(_ yaml: String) throws(ProfileError) -> ProfileSpec {
        try ProfileParser(file: "api.yaml", text: yaml).parse()
    }

    func testFullAndCompactForms() throws {
        let spec = try parse("""
        budgets:
          suite:
            peak_rss: 400Mi
            cpu_time: 120s
            throttled: "< 20%"
            oom_kills: 1
          tests:
            "ReportTests/*":  { duration: 2s, peak_rss: 256Mi }
          functions:
            calculate_discount: { p95: 2ms, p99: 5ms, max: 50ms }
            "db.*":           { p99: "< 20ms", level: warn }
            parse: "p95<2ms, max <= 9ms"
            render: ["p50<1ms", "calls<10"]
        regression:
          latency: "+10%"
          peak_rss: { relative: "+5%", absolute: "+2Mi" }
          alpha: 0.05
        """)
        let rules = try XCTUnwrap(spec.budgets?.rules)
        XCTAssertEqual(rules.map(\.pattern), ["", "ReportTests/*", "calculate_discount", "db.*", "parse", "render"])
        XCTAssertEqual(rules[0].thresholds, [
            BudgetThreshold(metric: .peakRss, limit: 400 * 1_048_576), BudgetThreshold(metric: .cpuTime, limit: 120),
            BudgetThreshold(metric: .throttled, comparison: .lessThan, limit: 20), BudgetThreshold(metric: .oomKills, limit: 1),
        ])
        XCTAssertEqual(spec.budgets?.allowedOOMKills, 1)
        XCTAssertEqual(rules[3].thresholds, [BudgetThreshold(metric: .p99, comparison: .lessThan, limit: 0.02, level: .warn)])
        XCTAssertEqual(rules[4].thresholds.map(\.description), ["p95 < 2.000ms", "max <= 9.000ms"])
        XCTAssertEqual(rules[5].thresholds.map(\.metric), [.p50, .calls])
        XCTAssertEqual(spec.regression?.latency, RegressionThreshold(relative: 0.10))
        XCTAssertEqual(spec.regression?.peakRss, RegressionThreshold(relative: 0.05, absolute: 2 * 1_048_576))
        XCTAssertEqual(spec.regression?.alpha, 0.05)
    }

    func testBadBudgetsNameTheLineColumnAndWhatWasExpected() {
        let table: [(String, String)] = [
            ("budgets:\n  functions:\n    f: { p96: 2ms }\n",
             "api.yaml:3:10: error: unknown key 'p96' in 'budgets.functions.f'; did you mean 'p90'? (expected one of: p50, p90, p95, p99, max, mean, calls, level)"),
            ("budgets:\n  functions:\n    f: \"p95 < fast\"\n",
             "api.yaml:3:8: error: 'budgets.functions.f.p95': 'fast' is not a duration; expected a duration such as 10ms, 30s, 5m or 1h30m"),
            ("budgets:\n  functions:\n    f: \"latency<2ms\"\n",
             "api.yaml:3:8: error: 'budgets.functions.f': unknown metric 'latency' for functions (expected one of: p50, p90, p95, p99, max, mean, calls)"),
            ("budgets:\n  tests:\n    t: { p95: 2ms }\n",
             "api.yaml:3:10: error: unknown key 'p95' in 'budgets.tests.t' (expected one of: duration, cpu_time, peak_rss, peak_usage, rss_growth, oom_kills, level)"),
            ("budgets:\n  suite:\n    throttled: 20\n",
             "api.yaml:3:16: error: 'budgets.suite.throttled': '20' is not a percentage; expected one from 0% to 100%, such as 20%"),
            ("budgets:\n  suite:\n    peak_rss: \"> 1Gi\"\n",
             "api.yaml:3:15: error: 'budgets.suite.peak_rss': '> 1Gi': budgets are upper limits; write '< value' or a bare value (at most)"),
            ("budgets:\n  functions:\n    f: { p95: 2ms, level: never }\n",
             "api.yaml:3:27: error: 'budgets.functions.f.level': 'never' is not a level; expected fail or warn"),
            ("budgets:\n  function:\n    f: \"p95<2ms\"\n",
             "api.yaml:2:3: error: unknown key 'function' in 'budgets'; did you mean 'functions'? (expected one of: suite, tests, functions, load)"),
            ("budgets:\n  functions:\n    f: \"fast please\"\n",
             "api.yaml:3:8: error: 'budgets.functions.f': 'fast please' is not a budget; expected METRIC < LIMIT such as \"p95<2ms\""),
            ("regression:\n  latency: 10%\n",
             "api.yaml:2:12: error: 'regression.latency': '10%' must start with '+' (how much worse is a regression), such as +10%"),
            ("regression:\n  alpha: 5\n",
             "api.yaml:2:10: error: 'regression.alpha': '5' is not a significance level; expected a number such as 0.01"),
        ]
        for (yaml, expected) in table {
            XCTAssertThrowsError(try parse(yaml), yaml) { XCTAssertEqual("\($0)", expected, yaml) }
        }
    }

    func testChildBudgetsReplaceTheParentsForTheSamePattern() {
        let parent = BudgetSpec(rules: [BudgetRule(scope: .functions, pattern: "f", thresholds: [BudgetThreshold(metric: .p95, limit: 1)]),
                                        BudgetRule(scope: .suite, pattern: "", thresholds: [BudgetThreshold(metric: .oomKills, limit: 0)])])
        let child = BudgetSpec(rules: [BudgetRule(scope: .functions, pattern: "f", thresholds: [BudgetThreshold(metric: .p99, limit: 2)])])
        XCTAssertEqual(parent.overridden(by: child).rules.map(\.thresholds.first!.metric), [.oomKills, .p99])
    }

    func testGlobs() {
        XCTAssertTrue(Glob.matches("ReportTests/*", "ReportTests.testMonthly"))
        XCTAssertTrue(Glob.matches("tests/test_reports.py::*", "tests/test_reports.py::test_x"))
        XCTAssertTrue(Glob.matches("db.*", "db.query"))
        XCTAssertTrue(Glob.matches("*big*", "examples/x.py::test_big_allocation"))
        XCTAssertTrue(Glob.matches("f?o", "foo"))
        XCTAssertFalse(Glob.matches("db.*", "cache.get"))
        XCTAssertFalse(Glob.matches("ReportTests/*", "OtherTests.testX"))
    }
}

final class BudgetEvaluationTests: XCTestCase {
    func testABrokenP95FailsTheRunWithExit99AndEveryFormatNamesIt() throws {
        let budgets = BudgetSpec(rules: [
            BudgetRule(scope: .functions, pattern: "calculate_discount", thresholds: [BudgetThreshold(metric: .p95, comparison: .lessThan, limit: 0.002)]),
            BudgetRule(scope: .suite, pattern: "", thresholds: [BudgetThreshold(metric: .peakRss, limit: 400 * 1_048_576)]),
        ])
        let report = Fixtures.report(functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 1, scale: 1.3))], budgets: budgets)
        XCTAssertEqual(report.exitCode, 99)
        XCTAssertEqual(report.outcome, .budgetExceeded)
        let failed = try XCTUnwrap(report.budgets?.first { $0.verdict == .fail })
        XCTAssertEqual(failed.target, "calculate_discount")
        let p95 = DurationQuantity.formatMeasured(report.functions[0].p95Seconds)
        XCTAssertTrue(report.reason.contains("calculate_discount p95 \(p95) ≥ limit 2.000ms"), report.reason)
        let json = String(decoding: try report.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"target\" : \"calculate_discount\""), json)
        XCTAssertTrue(json.contains("\"verdict\" : \"fail\""))
        let markdown = MarkdownRenderer.render(report)
        XCTAssertTrue(markdown.contains("| ❌ | `calculate_discount` p95 | \(p95) | < 2.000ms |"), markdown)
        let junit = JUnitRenderer.render(report)
        XCTAssertTrue(junit.contains("<failure type=\"budget\" message=\"calculate_discount p95 \(p95) ≥ limit 2.000ms\">measured \(p95), limit &lt; 2.000ms</failure>"), junit)
        XCTAssertTrue(junit.contains("failures=\"1\""))
    }

    func testWarnBudgetsNeverChangeTheExitCodeAndMissingTargetsAreReported() throws {
        let budgets = BudgetSpec(rules: [
            BudgetRule(scope: .functions, pattern: "calculate_discount", thresholds: [BudgetThreshold(metric: .p95, limit: 0.001, level: .warn)]),
            BudgetRule(scope: .tests, pattern: "*renamed_test*", thresholds: [BudgetThreshold(metric: .duration, limit: 1)]),
            BudgetRule(scope: .tests, pattern: "*big*", thresholds: [BudgetThreshold(metric: .peakRss, limit: 256 * 1_048_576),
                                                                     BudgetThreshold(metric: .rssGrowth, limit: 64 * 1_048_576)]),
        ])
        let report = Fixtures.report(tests: [Fixtures.test("t.py::test_big", duration: 0.3, peak: 200 << 20, growth: 100 << 20)],
                                     functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 2))], budgets: budgets)
        let verdicts = try XCTUnwrap(report.budgets).map { "\($0.target ?? $0.pattern) \($0.metric.rawValue) \($0.verdict.rawValue)" }
        XCTAssertEqual(verdicts, ["calculate_discount p95 warn", "*renamed_test* duration missing",
                                  "t.py::test_big peak_rss pass", "t.py::test_big rss_growth fail"])
        XCTAssertEqual(report.exitCode, 99, "the rss_growth budget fails")

        let onlyWarn = Fixtures.report(functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 2))],
                                       budgets: BudgetSpec(rules: [budgets.rules[0], budgets.rules[1]]))
        XCTAssertEqual(onlyWarn.exitCode, 0, "warn and missing never change the exit code")
        XCTAssertTrue(MarkdownRenderer.render(onlyWarn).contains("| ❔ | `*renamed_test*` duration | not in this run | <= 1.000s |"))
        XCTAssertTrue(JUnitRenderer.render(onlyWarn).contains("<skipped message=\"*renamed_test*: no test matches '*renamed_test*'\"/>"))
    }

    func testAnAllowedOOMKillDoesNotFailTheRun() throws {
        var report = Fixtures.report()
        report.oomKills = [RunReport.OOMKill(pid: 7, command: "worker", atSeconds: 1, usageBytes: nil, limitBytes: nil,
                                             mainProcess: false, source: .counter)]
        XCTAssertEqual(BudgetJudge.judge(report).exitCode, 99)
        report.profile.budgets = try ProfileParser(file: "p.yaml", text: "budgets:\n  suite:\n    oom_kills: 1\n").parse().budgets
        XCTAssertEqual(BudgetJudge.judge(report).exitCode, 0)
    }
}

final class ComparisonTests: XCTestCase {
    func compare(base: [UInt64], head: [UInt64], spec: RegressionSpec = RegressionSpec()) throws -> Comparison.Row {
        let comparison = try Comparator.compare(base: Fixtures.report(functions: [Fixtures.function("f", base)]),
                                                head: Fixtures.report(functions: [Fixtures.function("f", head)]),
                                                basePath: "base.json", headPath: "head.json", spec: spec)
        return try XCTUnwrap(comparison.rows.first { $0.kind == "function" })
    }

    func testTheSameDistributionSampledTwiceIsNoRegression() throws {
        for seed in 1...20 as ClosedRange<UInt64> {
            let row = try compare(base: Fixtures.samples(seed: seed), head: Fixtures.samples(seed: seed + 1000))
            XCTAssertEqual(row.verdict, .unchanged, "seed \(seed): \(row)")
        }
    }

    func testAThirtyPercentShiftIsARegressionWithASmallPValue() throws {
        let row = try compare(base: Fixtures.samples(seed: 7), head: Fixtures.samples(seed: 8, scale: 1.3))
        XCTAssertEqual(row.verdict, .regression)
        XCTAssertLessThan(try XCTUnwrap(row.pValue), 0.01)
        XCTAssertEqual(row.baseCalls, 500)
        XCTAssertEqual(row.headCalls, 500)
        XCTAssertGreaterThan(try XCTUnwrap(row.change), 0.2)
        // And the other way round is an improvement.
        XCTAssertEqual(try compare(base: Fixtures.samples(seed: 8, scale: 1.3), head: Fixtures.samples(seed: 7)).verdict, .improvement)
    }

    func testAThreePercentShiftUnderATenPercentThresholdIsNoRegression() throws {
        // Significant with this many calls, but smaller than the threshold.
        let row = try compare(base: Fixtures.samples(seed: 3, count: 20000), head: Fixtures.samples(seed: 4, count: 20000, scale: 1.03))
        XCTAssertEqual(row.verdict, .unchanged, "\(row)")
        XCTAssertLessThan(try XCTUnwrap(row.pValue), 0.01, "the shift is real, only small")
    }

    func testMannWhitneyAgainstAHandComputedCase() throws {
        // base {1,2,3}, head {4,5,6}: U = 9 (every head call slower), the largest possible.
        let test = try XCTUnwrap(MannWhitney.test(base: LatencyDistribution(samples: [1, 2, 3]), head: LatencyDistribution(samples: [4, 5, 6])))
        XCTAssertEqual(test.u, 9)
        // Ties count half: base {1,2}, head {2,3}: head 2 beats 1 and ties 2 → 1.5; head 3 beats both → 2; U = 3.5.
        XCTAssertEqual(MannWhitney.test(base: LatencyDistribution(samples: [1, 2]), head: LatencyDistribution(samples: [2, 3]))?.u, 3.5)
    }

    func testTestsAndFunctionsAddedAndRemovedAreListed() throws {
        let base = Fixtures.report(tests: [Fixtures.test("old", duration: 1, peak: 10 << 20, growth: 0)],
                                   functions: [Fixtures.function("gone", [1000])])
        let head = Fixtures.report(tests: [Fixtures.test("new", duration: 1, peak: 10 << 20, growth: 0)],
                                   functions: [Fixtures.function("fresh", [1000])])
        let rows = try Comparator.compare(base: base, head: head, basePath: "b", headPath: "h").rows
            .filter { $0.verdict == .added || $0.verdict == .removed }.map { "\($0.verdict.rawValue) \($0.kind) \($0.name)" }
        XCTAssertEqual(Set(rows), ["added test new", "removed test old", "added function fresh", "removed function gone"])
    }

    func testReportsOfDifferentSchemaVersionsAreRefused() {
        var old = Fixtures.report()
        old.schemaVersion = 1
        XCTAssertThrowsError(try Comparator.compare(base: old, head: Fixtures.report(), basePath: "base.json", headPath: "head.json")) {
            XCTAssertTrue("\($0)".hasPrefix("base.json has report schema version 1, head.json has 2"), "\($0)")
        }
    }

    func testCorruptAndTruncatedReportsNameTheFileAndPath() throws {
        let json = String(decoding: try Fixtures.report().jsonData(), as: UTF8.self)
        let cases: [(String, String)] = [
            (String(json.prefix(300)), "r.json: (root): not valid JSON (300 bytes; truncated or not JSON)"),
            (json.replacingOccurrences(of: "\"peakBytes\" : 314572800", with: "\"peakBytes\" : \"big\""), "r.json: memory.peakBytes: expected a number"),
            (json.replacingOccurrences(of: "\"schemaVersion\" : 2", with: "\"schemaVersion\" : 1"),
             "r.json: schemaVersion: report schema version 1; this confine reads version 2"),
            ("{\"schemaVersion\": 2}", "r.json: confineVersion: missing; is this a confine run report?"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ReportFiles.decode(Data(text.utf8), path: "r.json")) { XCTAssertEqual("\($0)", expected) }
        }
    }
}

final class MergeTests: XCTestCase {
    func testShardsMergeIntoWhatOneRunWouldReport() throws {
        let all = (1...3).map { Fixtures.samples(seed: UInt64($0), count: 300) }
        var shards: [(path: String, report: RunReport)] = []
        for index in 0..<3 {
            let test = Fixtures.test("t\(index)", duration: 1, peak: UInt64(100 + index) << 20, growth: 0)
            let functions = [Fixtures.function("shared", all[index]), Fixtures.function("only\(index)", [UInt64(index + 1) * 1000])]
            let peak: UInt64 = UInt64(200 + index) << 20
            shards.append((path: "shard-\(index).json", report: Fixtures.report(tests: [test], functions: functions, peak: peak)))
        }
        let merged: RunReport = BudgetJudge.judge(try ReportMerger.merge(shards))
        let whole = Fixtures.function("shared", all.flatMap { $0 })
        XCTAssertEqual(merged.tests.map(\.name), ["t0", "t1", "t2"])
        XCTAssertEqual(Set(merged.functions.map(\.name)), ["shared", "only0", "only1", "only2"])
        let shared = try XCTUnwrap(merged.functions.first { $0.name == "shared" })
        XCTAssertEqual(shared.calls, 900)
        XCTAssertEqual(shared.p50Seconds, whole.p50Seconds)
        XCTAssertEqual(shared.p99Seconds, whole.p99Seconds)
        XCTAssertEqual(shared.maxSeconds, whole.maxSeconds)
        XCTAssertEqual(merged.memory.peakBytes, 202 << 20)
        XCTAssertEqual(merged.cpu.usageSeconds, 7.5, accuracy: 1e-9)
        XCTAssertEqual(merged.shards?.map(\.path), ["shard-0.json", "shard-1.json", "shard-2.json"])
        XCTAssertEqual(merged.exitCode, 0)
    }
}

final class RendererTests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Compares with the golden file; `CONFINE_UPDATE_GOLDEN=1 swift test` rewrites it.
    func assertGolden(_ text: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["CONFINE_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, expected, "differs from Golden/\(name); run with CONFINE_UPDATE_GOLDEN=1 to accept", file: file, line: line)
    }

    static var head: RunReport {
        let budgets = BudgetSpec(rules: [
            BudgetRule(scope: .suite, pattern: "", thresholds: [BudgetThreshold(metric: .peakRss, limit: 400 * 1_048_576),
                                                                BudgetThreshold(metric: .throttled, comparison: .lessThan, limit: 20)]),
            BudgetRule(scope: .tests, pattern: "ReportTests/*", thresholds: [BudgetThreshold(metric: .duration, limit: 2)]),
            BudgetRule(scope: .functions, pattern: "calculate_discount", thresholds: [BudgetThreshold(metric: .p95, limit: 0.002)]),
            BudgetRule(scope: .functions, pattern: "db.*", thresholds: [BudgetThreshold(metric: .p99, comparison: .lessThan, limit: 0.02, level: .warn)]),
        ])
        return Fixtures.report(
            tests: [Fixtures.test("ReportTests.testMonthlyReport", duration: 1.25, peak: 410 << 20, growth: 300 << 20),
                    Fixtures.test("ReportTests.testEmpty", duration: 0.01, peak: 110 << 20, growth: 0),
                    Fixtures.test("PricingTests.testDiscount", duration: 0.2, peak: 112 << 20, growth: 2 << 20)],
            functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 11, scale: 1.3)),
                        Fixtures.function("db.query", Fixtures.samples(seed: 12, median: 8_000_000))],
            budgets: budgets, peak: 410 << 20)
    }

    static var base: RunReport {
        Fixtures.report(
            tests: [Fixtures.test("ReportTests.testMonthlyReport", duration: 1.2, peak: 390 << 20, growth: 290 << 20),
                    Fixtures.test("ReportTests.testEmpty", duration: 0.01, peak: 110 << 20, growth: 0),
                    Fixtures.test("ReportTests.testRemoved", duration: 0.05, peak: 100 << 20, growth: 0)],
            functions: [Fixtures.function("calculate_discount", Fixtures.samples(seed: 21)),
                        Fixtures.function("db.query", Fixtures.samples(seed: 22, median: 8_000_000))],
            peak: 390 << 20)
    }

    func testMarkdownReportMatchesTheGoldenFile() throws {
        try assertGolden(MarkdownRenderer.render(Self.head), "report.md")
    }

    func testMarkdownComparisonMatchesTheGoldenFile() throws {
        let comparison = try Comparator.compare(base: Self.base, head: Self.head, basePath: "base.json", headPath: "head.json")
        try assertGolden(MarkdownRenderer.render(comparison), "compare.md")
        XCTAssertTrue(comparison.hasRegression)
    }

    func testTerminalFitsOneHundredColumnsAndHonoursColour() throws {
        let plain = TerminalRenderer.render(Self.head, color: false)
        XCTAssertFalse(plain.contains("\u{1B}["))
        XCTAssertTrue(plain.split(separator: "\n").allSatisfy { $0.count <= 100 }, plain)
        XCTAssertTrue(TerminalRenderer.render(Self.head, color: true).contains("\u{1B}[31m"))
        let comparison = try Comparator.compare(base: Self.base, head: Self.head, basePath: "base.json", headPath: "head.json")
        XCTAssertTrue(TerminalRenderer.render(comparison, color: false).split(separator: "\n").allSatisfy { $0.count <= 100 })
    }

    func testHTMLIsSelfContainedWithTheLimitLineOOMMarksAndSpans() throws {
        var report = Self.head
        report.oomKills = [.init(pid: 9, command: "python3 worker.py", atSeconds: 2.5, usageBytes: 512 << 20, limitBytes: 512 << 20,
                                 mainProcess: false, source: .kernelLog)]
        let html = HTMLRenderer.render(report)
        XCTAssertTrue(html.contains("<line id=\"limit-line\" class=\"limit\""))
        XCTAssertTrue(html.contains("<circle class=\"oom\""))
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"span\"").count - 1, 3)
        XCTAssertTrue(html.contains("<line class=\"budget\""), "the p95 budget is drawn on its function")
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") && html.contains("src=\"http"), "nothing fetched")
    }
}
