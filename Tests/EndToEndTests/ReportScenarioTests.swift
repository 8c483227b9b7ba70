import ConfineCore
import Foundation
import XCTest

/// Budgets, `report`, `compare` and `merge` as a CI stage uses them: real runs of the example
/// suites, then the built binary on the reports they wrote.
final class ReportScenarioTests: DirectoryScenario {
    static let pytestSuite = Harness.packageRoot.appendingPathComponent("examples/attribution-pytest").path

    func profile(_ yaml: String) throws -> String {
        let path = directory + "/api.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func pytest(_ options: [String], _ extra: [String] = []) -> (Harness.Result, RunReport?) {
        Harness.confineRun(options, ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"] + extra + [Self.pytestSuite])
    }

    func testABrokenFunctionBudgetExits99AndEveryFormatNamesTheFunction() throws {
        // sleep_2ms takes 2 ms; its p95 budget is 1 ms. The suite itself passes.
        let api = try profile("""
        extends: k8s-512mi
        budgets:
          functions:
            sleep_2ms: "p95<1ms"
            "db.*": { p99: "< 20ms", level: warn }
          tests:
            "*test_renamed*": { duration: 1s }
        """)
        let head = directory + "/head.json"
        let summary = directory + "/step-summary.md"
        FileManager.default.createFile(atPath: summary, contents: Data("# earlier steps\n".utf8))
        setenv("GITHUB_STEP_SUMMARY", summary, 1)
        defer { unsetenv("GITHUB_STEP_SUMMARY") }
        let run = Harness.run([Harness.confine, "run", "--profile", api, "--report", head, "--", "python3", "-m", "pytest", "-q",
                               "-p", "no:cacheprovider", Self.pytestSuite])
        XCTAssertEqual(run.status, 99, run.stderr)
        XCTAssertTrue(run.stdout.contains("5 passed"), "the suite itself passed: \(run.stdout)")
        XCTAssertTrue(run.stderr.contains("fail     sleep_2ms p95"), run.stderr)
        let report = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: head)))
        let failed = try XCTUnwrap(report.budgets?.first { $0.verdict == .fail })
        XCTAssertEqual(failed.target, "sleep_2ms")
        let p95 = DurationQuantity.formatMeasured(try XCTUnwrap(failed.measured))
        XCTAssertEqual(report.budgets?.first { $0.pattern == "*test_renamed*" }?.verdict, .missing)
        XCTAssertEqual(report.budgets?.first { $0.pattern == "db.*" }?.verdict, .missing)

        let stepSummary = try String(contentsOfFile: summary, encoding: .utf8)
        XCTAssertTrue(stepSummary.hasPrefix("# earlier steps\n### ❌ confine: budget_exceeded (exit 99)"), stepSummary)
        XCTAssertTrue(stepSummary.contains("| ❌ | `sleep_2ms` p95 | \(p95) | < 1.000ms |"), stepSummary)

        let markdown = Harness.run([Harness.confine, "report", head, "--format", "markdown"])
        XCTAssertEqual(markdown.status, 0, markdown.stderr)
        XCTAssertTrue(markdown.stdout.contains("`sleep_2ms` p95 | \(p95) | < 1.000ms"), markdown.stdout)
        let junitPath = directory + "/budgets.xml"
        XCTAssertEqual(Harness.run([Harness.confine, "report", head, "--format", "junit", "--output", junitPath]).status, 0)
        let junit = try String(contentsOfFile: junitPath, encoding: .utf8)
        // The message ends "(throttled in N% of the run's periods)" when the quota held the run back that much.
        XCTAssertTrue(failed.message.hasPrefix("sleep_2ms p95 \(p95) ≥ limit 1.000ms"), failed.message)
        XCTAssertTrue(junit.contains("<failure type=\"budget\" message=\"\(failed.message)\">measured \(p95), limit &lt; 1.000ms</failure>"), junit)
        // confine's own JUnit reader takes it: the CI's test UI will too.
        let cases = try JUnitReader.parse(junit, path: junitPath)
        XCTAssertEqual(cases.first { $0.outcome == .failed }?.name, "sleep_2ms p95 < 1.000ms")
        let json = Harness.run([Harness.confine, "report", head, "--format", "json"])
        XCTAssertEqual(try RunReport.decode(Data(json.stdout.utf8)).budgets, report.budgets)
        // Judged against other budgets, without running again.
        let relaxed = try profile("budgets:\n  functions:\n    sleep_2ms: \"p95<10ms\"\n")
        let rejudged = Harness.run([Harness.confine, "report", head, "--profile", relaxed, "--format", "json"])
        XCTAssertEqual(try RunReport.decode(Data(rejudged.stdout.utf8)).budgets?.map(\.verdict), [.pass])
    }

    func testHTMLRendersInHeadlessChromiumWithTheLimitLine() throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let browser = try XCTUnwrap(chromium, "chromium is not installed (ci/setup installs it)")
        let (result, report) = pytest(["--memory", "512Mi"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let head = directory + "/head.json"
        try XCTUnwrap(report).jsonData().write(to: URL(fileURLWithPath: head))
        let page = directory + "/report.html"
        XCTAssertEqual(Harness.run([Harness.confine, "report", head, "--format", "html", "--output", page]).status, 0)
        let chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(directory)/chromium"]
        let dom = Harness.run([browser] + chromiumFlags + ["--dump-dom", "file://\(page)"])
        XCTAssertTrue(dom.stdout.contains("<line id=\"limit-line\" class=\"limit\""), "the parsed page holds the limit line")
        XCTAssertTrue(dom.stdout.contains("<rect class=\"span\""), "and the test spans")
        let shot = directory + "/shot.png"
        let screenshot = Harness.run([browser] + chromiumFlags + ["--window-size=1200,1400", "--screenshot=\(shot)", "file://\(page)"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot), screenshot.stderr)
        let stats = Harness.run(["/usr/bin/env", "python3", Harness.packageRoot.appendingPathComponent("Tests/Helpers/pngstats.py").path, shot])
        let fields = stats.stdout.split(separator: " ")
        XCTAssertEqual(fields.count, 4, stats.stderr)
        XCTAssertGreaterThan(Int(fields[2]) ?? 0, 50, "a rendered page has many colours, a blank one one: \(stats.stdout)")
        XCTAssertGreaterThan(Double(fields[3].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 0.05, "not blank: \(stats.stdout)")
    }

    func testMergingThreeShardsGivesTheTestsAndCallsOfTheUnshardedRun() throws {
        let (whole, wholeReport) = pytest([])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        var shards: [String] = []
        var shardHistograms: [String: [UInt64: UInt64]] = [:]
        for (index, selection) in ["small", "big_allocation", "probed"].enumerated() {
            let (result, report) = pytest([], ["-k", selection])
            XCTAssertEqual(result.status, 0, result.stderr)
            for function in report?.functions ?? [] {
                for bucket in function.histogram ?? [] { shardHistograms[function.name, default: [:]][bucket[0], default: 0] += bucket[1] }
            }
            shards.append(try Harness.write(report, to: directory + "/shard-\(index).json"))
        }
        let output = directory + "/all.json"
        let (merge, merged) = try Harness.merge(shards, output: output)
        XCTAssertEqual(merge.status, 0, merge.stderr)
        let unsharded = try XCTUnwrap(wholeReport)
        XCTAssertEqual(Set(merged.tests.map(\.name)), Set(unsharded.tests.map(\.name)))
        XCTAssertEqual(merged.tests.count, unsharded.tests.count)
        XCTAssertEqual(Set(merged.functions.map(\.name)), Set(unsharded.functions.map(\.name)))
        XCTAssertEqual(merged.functions.map(\.calls), unsharded.functions.map(\.calls))
        XCTAssertEqual(merged.shards?.count, 3)
        // Each function's merged histogram is the shards' added bucket by bucket: every call once.
        XCTAssertFalse(merged.functions.isEmpty)
        for function in merged.functions {
            var buckets: [UInt64: UInt64] = [:]
            for bucket in function.histogram ?? [] { buckets[bucket[0], default: 0] += bucket[1] }
            XCTAssertEqual(buckets, shardHistograms[function.name], "\(function.name): the shards' histograms added")
            XCTAssertEqual(buckets.values.reduce(0, +), function.calls)
        }
    }

    func testCompareExitCodesAndBadInput() throws {
        let (_, maybeBase) = pytest([])
        let base = try XCTUnwrap(maybeBase)
        let basePath = directory + "/base.json", headPath = directory + "/head.json"
        try base.jsonData().write(to: URL(fileURLWithPath: basePath))
        // The same run against itself: nothing changed.
        var same = Harness.run([Harness.confine, "compare", basePath, basePath, "--format", "markdown"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.hasPrefix("### ✅ confine compare: no regression the gate stands behind"), same.stdout)
        // Every call 30% slower: a regression (99), named with its p-value.
        var slower = base
        slower.functions = base.functions.map { function in
            let distribution = function.distribution!
            let scaled = LatencyDistribution(values: distribution.values.map { $0 * 13 / 10 }, counts: distribution.counts,
                                             minimum: distribution.minimum * 13 / 10, maximum: distribution.maximum * 13 / 10,
                                             sumNanoseconds: distribution.sumNanoseconds * 13 / 10)
            return FunctionRecord(name: function.name, distribution: scaled, bytes: nil, memoryGrowthBytes: 0, processes: 1)
        }
        try slower.jsonData().write(to: URL(fileURLWithPath: headPath))
        let regression = Harness.run([Harness.confine, "compare", basePath, headPath, "--format", "json"])
        XCTAssertEqual(regression.status, 99, regression.stderr)
        let comparison = try JSONDecoder().decode(Comparison.self, from: Data(regression.stdout.utf8))
        let row = try XCTUnwrap(comparison.regressions.first { $0.name == "sleep_2ms" })
        XCTAssertLessThan(try XCTUnwrap(row.pValue), 0.01)
        XCTAssertEqual(row.headCalls, 500)
        // No baseline yet (first run on main): its own exit code.
        same = Harness.run([Harness.confine, "compare", directory + "/missing.json", headPath])
        XCTAssertEqual(same.status, 66)
        XCTAssertTrue(same.stderr.contains("missing.json: no such report"), same.stderr)
        // A truncated report, and one from another schema version: 64, naming the file.
        let truncated = directory + "/truncated.json"
        try Data(try base.jsonData().prefix(200)).write(to: URL(fileURLWithPath: truncated))
        same = Harness.run([Harness.confine, "compare", truncated, headPath])
        XCTAssertEqual(same.status, 64)
        XCTAssertTrue(same.stderr.contains("truncated.json: (root): not valid JSON"), same.stderr)
        let older = directory + "/older.json"
        let text = String(decoding: try base.jsonData(), as: UTF8.self).replacingOccurrences(of: "\"schemaVersion\" : 2", with: "\"schemaVersion\" : 1")
        try text.write(toFile: older, atomically: true, encoding: .utf8)
        same = Harness.run([Harness.confine, "report", older])
        XCTAssertEqual(same.status, 64)
        XCTAssertTrue(same.stderr.contains("older.json: schemaVersion: report schema version 1"), same.stderr)
    }

    func testABadBudgetInAProfileExits64WithItsLocation() throws {
        let api = try profile("budgets:\n  functions:\n    sleep_2ms: \"p95 < fast\"\n")
        let (result, _) = (Harness.run([Harness.confine, "run", "--profile", api, "--report", directory + "/r.json", "--", "true"]), ())
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("api.yaml:3:16: error: 'budgets.functions.sleep_2ms.p95': 'fast' is not a duration"), result.stderr)
    }

    func testBisectMemoryFindsALimitJustAboveThePeakInAtMostEightRuns() throws {
        let reports = directory + "/bisect"
        let result = Harness.run([Harness.confine, "bisect-memory", "--profile", "k8s-512mi", "--reports", reports, "--",
                                  Harness.stress, "alloc", "150"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let steps = try FileManager.default.contentsOfDirectory(atPath: reports).filter { $0.hasSuffix(".json") }
        XCTAssertLessThanOrEqual(steps.count, 8, "\(steps)")
        let unlimited = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: reports + "/step-1-unlimited.json")))
        XCTAssertEqual(unlimited.mainProcess?.exitStatus, 0)
        // "passes down to 151.0 MiB; ..."
        let line = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("confine bisect-memory: passes down to") })
        let found = try XCTUnwrap(line.split(separator: " ").dropFirst(5).first.flatMap { Double($0) })
        let peak = Double(unlimited.memory.peakBytes) / 1_048_576
        XCTAssertLessThanOrEqual(found, peak * 1.10, "\(line)")
        XCTAssertGreaterThanOrEqual(found, 150, "it allocates 150 MiB: it cannot pass below that: \(line)")
        XCTAssertTrue(line.contains("Production gives it 512.0 MiB:"), "\(line)")
        XCTAssertFalse(line.contains("not verified"), "\(line)")
    }

    func testDoctorReportsThisMachinesLayoutAndAFixForAnUnwritableRoot() throws {
        let (_, report) = Harness.confineRun([], ["true"])
        let layout = try XCTUnwrap(report?.host.cgroupLayout)
        let doctor = Harness.run([Harness.confine, "doctor"])
        XCTAssertEqual(doctor.status, 0, doctor.stdout + doctor.stderr)
        XCTAssertTrue(doctor.stdout.contains("cgroup layout       \(layout.rawValue) ("), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("ok    cgroup writable"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("ok    network namespaces"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.hasSuffix("confine can run here.\n"), doctor.stdout)
        // A parent confine may not write to: the failure, and how to fix it.
        let denied = Harness.run([Harness.confine, "doctor", "--cgroup-parent", "/proc/1"])
        XCTAssertEqual(denied.status, 125)
        XCTAssertTrue(denied.stdout.contains("FAIL  cgroup writable     cannot create a group in /proc/1"), denied.stdout)
        XCTAssertTrue(denied.stdout.contains("fix: run confine as root; or in a delegated cgroup: `systemd-run --user --scope -p Delegate=yes"), denied.stdout)
        XCTAssertTrue(denied.stdout.contains("`docker run --privileged --cgroupns=private"), denied.stdout)
    }

    func testTheDemoExitsAsItsExampleIntendsAndPrintsTheReport() throws {
        let report = directory + "/demo.json"
        setenv("CONFINE_DEMO_REPORT", report, 1)
        // The binary under test; ci/demo would otherwise build, and wait on this `swift test`'s lock.
        setenv("CONFINE", Harness.confine, 1)
        defer { unsetenv("CONFINE_DEMO_REPORT"); unsetenv("CONFINE") }
        let demo = Harness.run([Harness.packageRoot.appendingPathComponent("ci/demo").path])
        XCTAssertEqual(demo.status, 99, "the production-scale test breaks its memory budget on purpose: \(demo.stderr)")
        XCTAssertTrue(demo.stdout.contains("== confine report"), demo.stdout)
        XCTAssertTrue(demo.stdout.contains("test_monthly_report_at_production_scale  peak_rss"), demo.stdout)
        let run = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: report)))
        XCTAssertEqual(run.outcome, .budgetExceeded)
        XCTAssertEqual(run.budgets?.filter { $0.verdict == .fail }.map(\.metric), [.peakRss])
    }
}
