@testable import ConfineCore
import XCTest

/// The memory a run owns against the page cache the kernel can drop: the figure, its
/// attribution to tests, the budgets that judge it and how the summary says it.
final class UnreclaimableTests: XCTestCase {
    func testUnreclaimableIsAnonShmemAndKernelButItsReclaimableSlab() {
        var sample = CgroupSample()
        sample.memoryBytes = 300 << 20
        sample.anonBytes = 10 << 20
        sample.fileBytes = 280 << 20     // page cache, shmem included
        sample.shmemBytes = 4 << 20
        sample.kernelBytes = 6 << 20
        sample.reclaimableKernelBytes = 5 << 20
        XCTAssertEqual(sample.unreclaimableBytes, 15 << 20)
        sample.reclaimableKernelBytes = 9 << 20   // read at another moment than the kernel total
        XCTAssertEqual(sample.unreclaimableBytes, 14 << 20, "never below anon + shmem")
    }

    func testTestsStartFromTheLatestReadingAndAreCreditedWhileOpen() {
        var ledger = AttributionLedger()
        ledger.noteUnreclaimable(50 << 20)
        ledger.testStarted(key: "a", name: "a", source: .pytest, pid: 1, at: 0, memoryBytes: 300 << 20, cpuNanos: 0)
        ledger.noteUnreclaimable(150 << 20)
        ledger.noteUnreclaimable(60 << 20)
        ledger.testEnded(key: "a", at: 1, outcome: .passed, memoryBytes: 300 << 20, cpuNanos: 0)
        ledger.noteUnreclaimable(70 << 20)
        ledger.testStarted(key: "b", name: "b", source: .pytest, pid: 1, at: 1, memoryBytes: 300 << 20, cpuNanos: 0)
        ledger.testEnded(key: "b", at: 2, outcome: .passed, memoryBytes: 300 << 20, cpuNanos: 0)
        ledger.testStarted(key: "p", name: "p", source: .xctest, pid: 9, at: 2, memoryBytes: 0, cpuNanos: 0, attribution: .process)
        ledger.noteUnreclaimable(500 << 20)
        ledger.processSample(key: "p", rssBytes: 40 << 20)
        XCTAssertEqual(ledger.tests.map(\.unreclaimablePeakBytes), [150 << 20, 70 << 20, nil])
        XCTAssertEqual(ledger.tests.map(\.ownedPeakBytes), [150 << 20, 70 << 20, 40 << 20], "a test in its own process: its RSS")
    }

    func testABatchedTestOwnsWhatTheGroupOwnedAtItsStartPlusWhatItsProcessAdded() {
        var readings = GroupReadings()
        readings.append(.init(time: 0.00, memoryBytes: 100 << 20, cpuNanos: 0, peakBytes: 100 << 20, unreclaimableBytes: 10 << 20))
        readings.append(.init(time: 0.01, memoryBytes: 100 << 20, cpuNanos: 0, peakBytes: 100 << 20, unreclaimableBytes: 60 << 20))
        let span = readings.span(from: 0.001, to: 0.009)
        XCTAssertEqual(span?.startUnreclaimableBytes, 10 << 20, "the reading at its start, not its neighbour's after it")
        var ledger = AttributionLedger()
        ledger.testStarted(key: "t", name: "t", source: .pytest, pid: 1, at: 0.001, memoryBytes: 100 << 20, cpuNanos: 0,
                           attribution: .window, processStartBytes: 30 << 20)
        ledger.noteUnreclaimable(60 << 20)   // a reading after its end, while its end was held back
        ledger.testEndedBatched(key: "t", at: 0.009, outcome: .passed, reportedDuration: 0.008, cpuNanos: 0, processPeakBytes: 31 << 20,
                                unreclaimableStartBytes: span?.startUnreclaimableBytes)
        XCTAssertEqual(ledger.tests[0].unreclaimablePeakBytes, 11 << 20)
    }

    func testALiveTestOwnsAtLeastWhatItsProcessAddedBetweenReadings() {
        var ledger = AttributionLedger()
        ledger.noteUnreclaimable(30 << 20)
        ledger.testStarted(key: "a", name: "a", source: .pytest, pid: 1, at: 0, memoryBytes: 300 << 20, cpuNanos: 0, processStartBytes: 40 << 20)
        ledger.noteUnreclaimable(80 << 20)   // a reading caught it half-way
        ledger.testEnded(key: "a", at: 0.08, outcome: .passed, memoryBytes: 300 << 20, cpuNanos: 0, processPeakBytes: 140 << 20)
        XCTAssertEqual(ledger.tests[0].unreclaimablePeakBytes, 130 << 20, "30 MiB at its start + the 100 MiB its process added")
    }

    func testATestOfAnotherWorkerProcessDoesNotTakeTheGroupsFigure() {
        var ledger = AttributionLedger()
        ledger.noteUnreclaimable(100 << 20)
        ledger.testStarted(key: "1:a", name: "a", source: .pytest, pid: 1, at: 0, memoryBytes: 300 << 20, cpuNanos: 0, processStartBytes: 40 << 20)
        ledger.testStarted(key: "2:b", name: "b", source: .pytest, pid: 2, at: 0, memoryBytes: 300 << 20, cpuNanos: 0, processStartBytes: 40 << 20)
        ledger.noteUnreclaimable(160 << 20)
        ledger.testEnded(key: "1:a", at: 1, outcome: .passed, memoryBytes: 300 << 20, cpuNanos: 0, processPeakBytes: 41 << 20)
        XCTAssertEqual(ledger.tests[0].attribution, .process)
        XCTAssertNil(ledger.tests[0].unreclaimablePeakBytes, "the group's figure mixes the workers")
        XCTAssertEqual(ledger.tests[0].ownedPeakBytes, 41 << 20)
    }

    func testPeakRssJudgesWhatReclaimCannotDropAndPeakUsageTheLimitsCounter() throws {
        var report = Fixtures.report(peak: 64 << 20)
        report.memory.unreclaimablePeakBytes = 1 << 20
        report.profile.budgets = try ProfileParser(file: "p.yaml", text: "budgets: {suite: {peak_rss: 32Mi}}\n").parse().budgets
        XCTAssertEqual(BudgetJudge.judge(report).exitCode, 0, "page cache is not the suite's memory")
        report.profile.budgets = try ProfileParser(file: "p.yaml", text: "budgets: {suite: {peak_usage: 32Mi}}\n").parse().budgets
        let usage = BudgetJudge.judge(report)
        XCTAssertEqual(usage.exitCode, 99)
        XCTAssertEqual(usage.reason, "the command succeeded but 1 budget failed: suite peak_usage 64.0 MiB > limit 32.0 MiB")
        report.memory.unreclaimablePeakBytes = nil   // a report of a confine before the figure: the usage peak
        report.profile.budgets = try ProfileParser(file: "p.yaml", text: "budgets: {suite: {peak_rss: 32Mi}}\n").parse().budgets
        XCTAssertEqual(BudgetJudge.judge(report).exitCode, 99)
    }

    func testTheSummarySaysHowMuchOfThePeakWasPageCache() {
        var report = Fixtures.report(peak: 64 << 20)
        report.memory.limitBytes = 64 << 20
        report.memory.unreclaimablePeakBytes = 1_258_291   // 1.2 MiB
        report.memory.fullestReadingBytes = 63 << 20
        report.memory.fullestReadingPageCacheBytes = 62 << 20
        let summary = Summary.render(report, reportPath: nil)
        XCTAssertTrue(summary.contains("peak 64.0 MiB of 64.0 MiB limit (100.0%) [memory.max_usage_in_bytes]; "
                                       + "62.0 MiB page cache at the fullest sample (63.0 MiB); unreclaimable peak 1.2 MiB"), summary)
        report.memory.unreclaimablePeakBytes = 64 << 20
        XCTAssertFalse(Summary.render(report, reportPath: nil).contains("page cache"), "no cache: nothing to say")
    }

    func testTheNewFieldsRoundTrip() throws {
        var report = Fixtures.report(tests: [Fixtures.test("t", duration: 1, peak: 300 << 20, growth: 0)])
        report.memory.unreclaimablePeakBytes = 12 << 20
        report.tests[0].unreclaimablePeakBytes = 11 << 20
        let decoded = try RunReport.decode(try report.jsonData())
        XCTAssertEqual(decoded.memory.unreclaimablePeakBytes, 12 << 20)
        XCTAssertEqual(decoded.tests[0].unreclaimablePeakBytes, 11 << 20)
    }

    func testAMergeOwnsTheLargestOwnedPeakOfItsShards() throws {
        var cache = Fixtures.report(peak: 64 << 20)
        cache.memory.unreclaimablePeakBytes = 3 << 20
        var shm = Fixtures.report(peak: 41 << 20)
        shm.memory.unreclaimablePeakBytes = 40 << 20
        let merged = try ReportMerger.merge([(path: "a.json", report: cache), (path: "b.json", report: shm)])
        XCTAssertEqual(merged.memory.peakBytes, 64 << 20)
        XCTAssertEqual(merged.memory.unreclaimablePeakBytes, 40 << 20, "not the usage peak's shard's figure")
        shm.memory.unreclaimablePeakBytes = nil
        XCTAssertNil(try ReportMerger.merge([(path: "a.json", report: cache), (path: "b.json", report: shm)]).memory.unreclaimablePeakBytes,
                     "a shard without the figure: unknown, not the others' maximum")
    }

    func testCompareUsesWhatBothReportsHave() throws {
        var base = Fixtures.report(tests: [Fixtures.test("t", duration: 1, peak: 300 << 20, growth: 0)], peak: 300 << 20)
        var head = base
        head.memory.peakBytes = 200 << 20   // less page cache
        head.memory.unreclaimablePeakBytes = 50 << 20
        let mixed = try Comparator.compare(base: base, head: head, basePath: "a", headPath: "b")
        XCTAssertEqual(mixed.rows.first { $0.kind == "suite" && $0.metric.hasPrefix("peak") }?.metric, "peak_usage",
                       "one side lacks the figure: usage against usage")
        base.memory.unreclaimablePeakBytes = 40 << 20
        let both = try Comparator.compare(base: base, head: head, basePath: "a", headPath: "b")
        let row = try XCTUnwrap(both.rows.first { $0.kind == "suite" && $0.metric == "peak_rss" })
        XCTAssertEqual(row.verdict, .regression, "40 → 50 MiB the suite owns, though its usage fell")
    }
}

/// Pressure that did not kill, and shmem a run leaves charged.
final class PressureTests: XCTestCase {
    func record() throws -> RunRecord {
        var record = RunRecord(command: ["sh"], profile: ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: "limits: {memory: 64Mi}\n").parse(),
                                                                         chain: ["p.yaml"]),
                               confineVersion: "test", host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2),
                               startedAt: "2026-11-30T20:00:00Z")
        record.mainPid = 42
        record.termination = .exited(0)
        record.lastSample = CgroupSample()
        return record
    }

    func testPressureIsReportedAndIsNotAKill() throws {
        var record = try record()
        record.memoryPressure = .init(limitHits: 1234, highEvents: nil, source: .failcnt)
        let report = BudgetJudge.judge(RunReport(record: record))
        XCTAssertEqual(report.exitCode, 0, "pressure that reclaim answered fails nothing")
        XCTAssertEqual(report.memory.pressure?.limitHits, 1234)
        let summary = Summary.render(report, reportPath: nil)
        XCTAssertTrue(summary.contains("  pressure usage reached the limit 1234 times and the kernel reclaimed (no OOM kill) [memory.failcnt]"), summary)
        XCTAssertEqual(report.memory.pressure?.limitReached, false, "a peak of 0 B is far from 64 MiB")
        XCTAssertTrue(summary.contains("  oom      no OOM kills"), summary)
        XCTAssertEqual(try RunReport.decode(try report.jsonData()).memory.pressure, report.memory.pressure)
    }

    func testShmemLeftChargedIsAWarningNamingTheFiles() throws {
        var record = try record()
        record.shmemLeftBytes = 40 << 20
        record.shmemLeftFiles = ["/dev/shm/cache (40.0 MiB)"]
        let report = RunReport(record: record)
        XCTAssertEqual(report.warnings, ["shmem: 40.0 MiB of shared memory or tmpfs files stayed charged after the run's processes exited "
                                         + "(in production it counts against the pod's limit until removed): /dev/shm/cache (40.0 MiB)"])
        record.shmemLeftBytes = 4096
        XCTAssertEqual(RunReport(record: record).warnings, [], "a page or two is noise")
    }
}
