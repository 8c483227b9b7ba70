@testable import ConfineCore
import Foundation
import XCTest

/// What filled the pids limit and the CPU quota (issue 17, part 3): pure, from records and reports.
final class ContentionTests: XCTestCase {
    func record(_ yaml: String) throws -> RunRecord {
        let profile = ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: yaml).parse(), chain: ["p.yaml"])
        var record = RunRecord(command: ["pytest"], profile: profile, confineVersion: "test",
                               host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2),
                               startedAt: "2026-11-30T20:00:00Z")
        record.mainPid = 42
        record.termination = .exited(0)
        return record
    }

    func point(_ t: Double, periods: UInt64?, throttled: UInt64, seconds: Double?) -> TimelinePoint {
        TimelinePoint(t: t, memoryBytes: 0, breakdown: MemoryBreakdown(), cpuSeconds: 0, throttledPeriods: throttled, pids: 1,
                      periods: periods, throttledSeconds: seconds)
    }

    // MARK: - per-test throttling

    func testEachTestCarriesTheGroupsThrottlingInterpolatedOverItsSpan() throws {
        // Readings every 100 ms (points between them did not read the CPU counters): throttled in
        // every period from 0.2 s on, 50 ms each.
        let timeline = [point(0.1, periods: 1, throttled: 0, seconds: 0),
                        point(0.15, periods: nil, throttled: 0, seconds: nil),
                        point(0.2, periods: 2, throttled: 0, seconds: 0),
                        point(0.3, periods: 3, throttled: 1, seconds: 0.05),
                        point(0.4, periods: 4, throttled: 2, seconds: 0.1),
                        point(0.5, periods: 5, throttled: 3, seconds: 0.15),
                        point(0.6, periods: 6, throttled: 4, seconds: 0.2)]
        var tests = [TestRecord(name: "busy", source: .pytest, startSeconds: 0.2), TestRecord(name: "idle", source: .pytest, startSeconds: 0.05),
                     TestRecord(name: "late", source: .pytest, startSeconds: 0.65), TestRecord(name: "open", source: .pytest, startSeconds: 0.3)]
        tests[0].endSeconds = 0.6
        tests[1].endSeconds = 0.15
        tests[2].endSeconds = 0.9
        CPUContention.fillThrottling(&tests, timeline: timeline, end: (1.0, 10, 8, 400_000_000))
        XCTAssertEqual(tests[0].throttledPeriods, 4)
        XCTAssertEqual(tests[0].throttledSeconds, 0.2)
        XCTAssertEqual(tests[1].throttledPeriods, 0, "before the throttling began")
        XCTAssertEqual(tests[1].throttledSeconds, 0)
        // Between the last point (0.6 s: 4, 0.2 s) and the final reading (1.0 s: 8, 0.4 s): 4.5 → 7 and 0.225 → 0.35.
        XCTAssertEqual(tests[2].throttledPeriods, 3, "2.5 periods, rounded")
        XCTAssertEqual(tests[2].throttledSeconds ?? 0, 0.125, accuracy: 0.0005)
        XCTAssertNil(tests[3].throttledPeriods, "a test that never ended has no span")
    }

    func testTheReportFillsTestThrottlingOnlyUnderAQuota() throws {
        for (yaml, expected) in [("limits: {cpus: 500m}\n", UInt64?(4)), ("limits: {memory: 64Mi}\n", nil)] {
            var record = try record(yaml)
            record.ledger.testStarted(key: "t", name: "t", source: .pytest, pid: 42, at: 0.2, memoryBytes: 0, cpuNanos: 0)
            record.ledger.testEnded(key: "t", at: 0.6, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
            record.timeline = [point(0.2, periods: 2, throttled: 0, seconds: 0), point(0.6, periods: 6, throttled: 4, seconds: 0.2)]
            record.durationSeconds = 0.7
            XCTAssertEqual(RunReport(record: record).tests.first?.throttledPeriods, expected, yaml)
        }
    }

    // MARK: - what the target sees

    func cpu(quota: Double?, visible: Int?, periods: UInt64, throttled: UInt64, runnable: Int? = nil) -> RunReport.CPU {
        var cpu = RunReport.CPU(limitCpus: quota, usageSeconds: 1.5, periods: periods, throttledPeriods: throttled, throttledSeconds: 2.9)
        cpu.visibleCpus = visible
        cpu.peakRunnableProcesses = runnable
        return cpu
    }

    func testAQuotaBelowTheVisibleCPUsThrottledMostOfTheTimeIsAWarning() {
        XCTAssertEqual(CPUContention.warning(cpu(quota: 0.5, visible: 2, periods: 50, throttled: 49, runnable: 2)),
                       "cpu: the target sees 2 CPUs but its quota is 0.5 CPU; throttled in 98% of periods — tools that size thread "
                       + "or worker pools from the CPU count (pytest -n auto, make -j$(nproc), GOMAXPROCS, os.cpu_count()) start more "
                       + "than the quota runs; up to 2 processes were runnable at once")
        XCTAssertNotNil(CPUContention.warning(cpu(quota: 0.5, visible: 2, periods: 50, throttled: 25)), "half the periods is most")
        let single = CPUContention.warning(cpu(quota: 0.5, visible: 2, periods: 50, throttled: 49, runnable: 1))
        XCTAssertEqual(single, "cpu: the target sees 2 CPUs but its quota is 0.5 CPU; throttled in 98% of periods with one process "
                       + "runnable at a time at most: the work needs more CPU than the quota gives (not a pool sized from the CPU count)")
        XCTAssertNil(CPUContention.warning(cpu(quota: 0.5, visible: 2, periods: 50, throttled: 24)), "throttled less than half the time")
        XCTAssertNil(CPUContention.warning(cpu(quota: 2, visible: 2, periods: 50, throttled: 50)), "the quota covers every CPU it sees")
        XCTAssertNil(CPUContention.warning(cpu(quota: nil, visible: 2, periods: 0, throttled: 0)), "no quota")
        XCTAssertNil(CPUContention.warning(cpu(quota: 0.5, visible: nil, periods: 50, throttled: 50)), "not known what it sees")
        XCTAssertFalse(CPUContention.warning(cpu(quota: 1.5, visible: 4, periods: 10, throttled: 9))!.contains("runnable"),
                       "runnable processes not measured: not claimed")
    }

    func testTheReportStatesWhatTheTargetSeesAndWarns() throws {
        var record = try record("limits: {cpus: 500m}\n")
        record.visibleCpus = 2
        record.peakRunnableProcesses = 2
        record.finalSample.periods = 30
        record.finalSample.throttledPeriods = 29
        record.durationSeconds = 3
        let report = RunReport(record: record)
        XCTAssertEqual(report.cpu.visibleCpus, 2)
        XCTAssertEqual(report.cpu.peakRunnableProcesses, 2)
        XCTAssertEqual(report.warnings.filter { $0.hasPrefix("cpu: the target sees 2 CPUs but its quota is 0.5 CPU; throttled in 97%") }.count, 1)
        let summary = Summary.render(report, reportPath: nil)
        XCTAssertTrue(summary.contains("of 500m allowed); the target sees 2 CPUs; throttled in 29 of 30 periods"), summary)
        XCTAssertTrue(summary.contains("  warning  cpu: the target sees 2 CPUs"), summary)
    }

    // MARK: - who filled the pids limit

    func testThePidsLimitNamesTheProcessItsThreadsAndTheTest() throws {
        var record = try record("limits: {pids: 32}\n")
        record.ledger.testStarted(key: "t", name: "test_threads", source: .pytest, pid: 42, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        record.ledger.testEnded(key: "t", at: 0.9, outcome: .failed, memoryBytes: 0, cpuNanos: 0)
        record.forkFailures = 1
        record.pidsPeak = 32
        record.pidsAtLimit = .init(atSeconds: 0.41, tasks: 32, processes: 1, threads: 32,
                                   topProcess: .init(pid: 42, command: "/usr/bin/python3 -m pytest", threads: 32, children: 0))
        let report = RunReport(record: record)
        XCTAssertEqual(report.pids.atLimit?.test, "test_threads")
        let summary = Summary.render(report, reportPath: nil)
        XCTAssertTrue(summary.contains("  pids     peak 32 of 32\n"), "the refusals are on the line that names who: \(summary)")
        XCTAssertTrue(summary.contains("  pids     limit 32 reached at 0.41 s in test_threads: 1 process with 32 threads "
                                       + "(python3 -m pytest, pid 42) — threads count against the limit; 1 fork/clone refused\n"), summary)
    }

    func testManyChildrenOfOneProcessAreNamed() {
        var pids = RunReport.Pids(limit: 20, peak: 20, peakSource: .pidsPeak, forkFailures: 3)
        pids.atLimit = .init(atSeconds: 1.5, tasks: 19, processes: 19, threads: 19,
                             topProcess: .init(pid: 7, command: "python3 fork.py", threads: 1, children: 18))
        XCTAssertEqual(Summary.pidsAtLimitLine(pids),
                       "  pids     limit 20 neared (19 tasks) at 1.50 s: 19 processes, 19 threads in all; pid 7 (python3 fork.py) "
                       + "has 18 child processes; 3 forks/clones refused")
        pids.atLimit?.threads = 30
        pids.atLimit?.topProcess?.threads = 12
        XCTAssertTrue(Summary.pidsAtLimitLine(pids)!.contains("has 12 threads and 18 child processes — threads count against the limit"))
        pids.atLimit = nil
        XCTAssertNil(Summary.pidsAtLimitLine(pids))
    }

    // MARK: - budgets under throttling

    func testAFailingDurationOrLatencyBudgetSaysItRanThrottled() throws {
        var throttled = Fixtures.test("test_slow", duration: 1.0, peak: 1 << 20, growth: 0)
        throttled.throttledPeriods = 6
        throttled.throttledSeconds = 0.3
        var mild = Fixtures.test("test_mild", duration: 1.0, peak: 1 << 20, growth: 0)
        mild.throttledPeriods = 2
        let budgets = try ProfileParser(file: "b.yaml", text: """
            budgets:
              suite: { duration: 1s }
              tests:
                "test_*": { duration: 500ms }
              functions:
                handler: { p99: 1ms }
            """).parse().budgets
        var report = Fixtures.report(tests: [throttled, mild], functions: [Fixtures.function("handler", Fixtures.samples(seed: 1))])
        report.cpu.periods = 40
        report.cpu.throttledPeriods = 20
        let messages = BudgetJudge.judge(report, against: budgets).budgets?.map(\.message) ?? []
        XCTAssertTrue(messages.contains("test_slow duration 1.000s > limit 500.0ms (throttled in 60% of its periods)"), "\(messages)")
        XCTAssertTrue(messages.contains("test_mild duration 1.000s > limit 500.0ms"), "20% is under the mark: \(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("suite duration") && $0.hasSuffix(" (throttled in 50% of the run's periods)") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("handler p99") && $0.hasSuffix(" (throttled in 50% of the run's periods)") }, "\(messages)")
    }

    // MARK: - the report file

    func testTheNewFiguresRoundTripAndOldReportsStillDecode() throws {
        var test = Fixtures.test("test_a", duration: 0.4, peak: 1 << 20, growth: 0)
        test.throttledPeriods = 3
        test.throttledSeconds = 0.12
        var report = Fixtures.report(tests: [test])
        report.cpu.visibleCpus = 2
        report.cpu.peakRunnableProcesses = 3
        report.pids.atLimit = .init(atSeconds: 0.5, tasks: 32, processes: 2, threads: 32,
                                    topProcess: .init(pid: 9, command: "python3", threads: 31, children: 0))
        report.pids.atLimit?.test = "test_a"
        report.memory.timeline[1].periods = 4
        report.memory.timeline[1].throttledSeconds = 0.1
        let decoded = try RunReport.decode(try report.jsonData())
        XCTAssertEqual(decoded, report)

        var old = String(decoding: try Fixtures.report(tests: [Fixtures.test("test_a", duration: 0.4, peak: 1 << 20, growth: 0)]).jsonData(),
                         as: UTF8.self)
        XCTAssertFalse(old.contains("visibleCpus") || old.contains("atLimit") || old.contains("throttledSeconds\" : 0.1,"))
        old = old.replacingOccurrences(of: "\"throttledPeriods\" : 0,\n", with: "")
        XCTAssertNotNil(try? RunReport.decode(Data(old.utf8)), "a report without the new fields decodes")
    }
}
