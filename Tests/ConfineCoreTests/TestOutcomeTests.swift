import XCTest
@testable import ConfineCore

/// What happened to each test when the run cut it short (issue 17, §2): the ledger's outcomes,
/// OOM kills charged to live tests only, phases outside tests, and how reports render them.
final class TestOutcomeTests: XCTestCase {
    private func emptyReport() throws -> RunReport { try Fixtures.emptyReport() }

    /// xdist, loadfile: worker 10 runs `test_hog` and is OOM-killed; its replacement 11 gets the
    /// same file and is killed too; worker 20 runs two small tests meanwhile.
    private func xdistLedger() -> AttributionLedger {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "10:hog", name: "t.py::test_hog", source: .pytest, pid: 10, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        ledger.testStarted(key: "20:a", name: "u.py::test_a", source: .pytest, pid: 20, at: 0.15, memoryBytes: 0, cpuNanos: 0)
        ledger.processExited(pid: 10, at: 0.40, memoryBytes: 0, cpuNanos: 0)
        ledger.testEnded(key: "20:a", at: 0.5, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        ledger.testStarted(key: "11:hog", name: "t.py::test_hog", source: .pytest, pid: 11, at: 0.6, memoryBytes: 0, cpuNanos: 0)
        ledger.processExited(pid: 11, at: 0.90, memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 2, memoryBytes: 0, cpuNanos: 0)
        ledger.collected(["t.py::test_hog", "t.py::test_after_hog", "u.py::test_a"], source: .pytest)
        return ledger
    }

    func testATestEndsWhenItsProcessDiesAndIsChargedOnlyItsOwnKill() {
        var ledger = xdistLedger()
        let places = ledger.chargeOOMKills([(0.39, 10, nil), (0.89, 11, nil)])
        let hogs = ledger.tests.filter { $0.name == "t.py::test_hog" }
        XCTAssertEqual(hogs.map(\.outcome), [.oomKilled, .oomKilled])
        XCTAssertEqual(hogs.map(\.oomKills), [1, 1], "each attempt is charged its own kill, not the later ones")
        XCTAssertEqual(hogs.map(\.endSeconds), [0.40, 0.90], "each ends at its process's death, not at the run's end")
        let small = ledger.tests.first { $0.name == "u.py::test_a" }
        XCTAssertEqual(small?.outcome, .passed)
        XCTAssertEqual(small?.oomKills, 0, "a test in another worker is not charged a kill of the hog's worker")
        XCTAssertEqual(places.map(\.test), ["t.py::test_hog", "t.py::test_hog"])
        XCTAssertEqual(ledger.tests.last?.name, "t.py::test_after_hog")
        XCTAssertEqual(ledger.tests.last?.outcome, .notRun, "collected, never started")
        XCTAssertNil(ledger.tests.last?.startSeconds)
        XCTAssertEqual(ledger.tests.count, 4, "a collected test seen to run is not listed again")
    }

    func testADeathWithoutAnOOMKillIsACrash() {
        var ledger = xdistLedger()
        _ = ledger.chargeOOMKills([(0.39, 10, nil)])
        XCTAssertEqual(ledger.tests.filter { $0.name == "t.py::test_hog" }.map(\.outcome), [.oomKilled, .crashed])
    }

    func testDenialsAreNamedWithTheLiveTestNotADeadAttempt() {
        let ledger = xdistLedger()
        XCTAssertEqual(ledger.test(at: 0.7, pid: 11), "t.py::test_hog")
        XCTAssertEqual(ledger.test(at: 1.5, pid: 20), nil, "nothing runs at 1.5 s: the dead attempts ended at their deaths")
    }

    func testTheTimeoutCutsTheRunningTestAndAHeldBackEndIsAPass() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "1:before", name: "test_before", source: .pytest, pid: 1, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        // The end of test_before was held back (batched) and never arrived; test_sleep began after it.
        ledger.testStarted(key: "1:sleep", name: "test_sleep", source: .pytest, pid: 1, at: 0.2, memoryBytes: 0, cpuNanos: 0,
                           attribution: .window)
        ledger.runCutShort(at: 3.0, as: .timedOut)
        ledger.processExited(pid: 1, at: 3.05, memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 3.1, memoryBytes: 0, cpuNanos: 0)
        ledger.collected(["test_before", "test_sleep", "test_never"], source: .pytest)
        XCTAssertEqual(ledger.tests.map(\.name), ["test_before", "test_sleep", "test_never"])
        XCTAssertEqual(ledger.tests.map(\.outcome), [.passed, .timedOut, .notRun])
        XCTAssertEqual(ledger.tests[0].endSeconds, 0.2, "it ended when its process began the next test")
        XCTAssertEqual(ledger.tests[1].endSeconds, 3.05)
    }

    func testAnInterruptCutsShortAndATestWithoutAProcessIsSettledByAnyKillWhileItRan() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "x:A.a", name: "A.a", source: .xctest, pid: nil, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        _ = ledger.chargeOOMKills([(0.5, 99, nil)])
        XCTAssertEqual(ledger.tests.first?.outcome, .oomKilled, "the xctest process died of an OOM kill while A.a ran")

        var interrupted = AttributionLedger()
        interrupted.testStarted(key: "x:A.a", name: "A.a", source: .xctest, pid: nil, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        interrupted.runCutShort(at: 0.5, as: .interrupted)
        interrupted.runCutShort(at: 0.6, as: .timedOut)
        interrupted.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(interrupted.tests.first?.outcome, .interrupted, "the first cause counts")
    }

    func testAnOOMKillOutsideTestsIsChargedToThePhase() {
        var ledger = AttributionLedger()
        ledger.phaseBegan("collection", pid: 5, at: 0.0)
        XCTAssertEqual(ledger.chargeOOMKills([(0.3, 5, nil)]), [.init(test: nil, phase: "collection")])
        XCTAssertEqual(ledger.phase(at: 0.3, pid: 5), "collection")

        var plain = AttributionLedger()
        XCTAssertEqual(plain.phase(at: 0.1), "before the first test")
        plain.testStarted(key: "a", name: "a", source: .xctest, pid: nil, at: 1, memoryBytes: 0, cpuNanos: 0)
        plain.testEnded(key: "a", at: 2, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        plain.testStarted(key: "b", name: "b", source: .xctest, pid: nil, at: 3, memoryBytes: 0, cpuNanos: 0)
        plain.testEnded(key: "b", at: 4, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(plain.phase(at: 2.5), "between tests, after a")
        XCTAssertEqual(plain.phase(at: 5), "after the last test")
        plain.phaseBegan("session finish", pid: 5, at: 4.5)
        XCTAssertEqual(plain.phase(at: 5), "session finish")
        XCTAssertEqual(plain.phase(at: 2.5), "between tests, after a", "a phase named later does not reach back")
    }

    func testJUnitSaysWhatHappenedToEachTest() throws {
        var report = try emptyReport()
        report.outcome = .oomKilled
        report.exitCode = 137
        func test(_ name: String, _ outcome: TestRecord.Outcome, end: Double? = 1) -> TestRecord {
            var record = TestRecord(name: name, source: .pytest, startSeconds: end.map { $0 - 0.5 })
            record.outcome = outcome
            record.endSeconds = end
            record.durationSeconds = end.map { _ in 0.5 }
            return record
        }
        report.tests = [test("d/t.py::test_ok", .passed), test("d/t.py::C::test_bad", .failed), test("t.py::test_hog", .oomKilled),
                        test("t.py::test_sleep", .timedOut), test("t.py::test_skip", .skipped), test("t.py::test_never", .notRun, end: nil)]
        var kill = RunReport.OOMKill(pid: 42, command: "python3 -m pytest", atSeconds: 0.9, usageBytes: nil, limitBytes: nil,
                                     mainProcess: false, source: .kernelLog)
        kill.test = "t.py::test_hog"
        report.oomKills = [kill]
        let xml = JUnitRenderer.render(report)
        let cases = try JUnitReader.parse(xml, path: "r.xml")
        XCTAssertEqual(cases.count, 7, "the run and six tests")
        XCTAssertEqual(cases.dropFirst().map(\.outcome), [.passed, .failed, .error, .error, .skipped, .skipped])
        XCTAssertEqual(cases[1].className, "d.t")
        XCTAssertEqual(cases[2].className, "d.t.C")
        XCTAssertEqual(cases[2].name, "test_bad")
        XCTAssertTrue(xml.contains("type=\"oom_killed\" message=\"OOM-killed by the kernel (pid 42, python3 -m pytest) at 1.00 s\""), xml)
        XCTAssertTrue(xml.contains("type=\"not_run\""), xml)
        XCTAssertTrue(xml.contains("tests=\"7\" failures=\"2\" errors=\"2\" skipped=\"2\""), xml)
    }

    func testTheSummaryCountsEachOutcome() throws {
        var report = try emptyReport()
        for (index, outcome) in [TestRecord.Outcome.passed, .passed, .oomKilled, .notRun].enumerated() {
            var record = TestRecord(name: "t\(index)", source: .pytest, startSeconds: Double(index))
            record.outcome = outcome
            report.tests.append(record)
        }
        let text = Summary.render(report, reportPath: nil)
        XCTAssertTrue(text.contains("tests    4: 2 passed, 1 oom_killed, 1 not_run"), text)
        XCTAssertTrue(text.contains("oom_killed t2"), text)
    }

    func testAnUnknownTestOutcomeInAReportFailsWithItsPath() throws {
        var report = try emptyReport()
        var record = TestRecord(name: "t", source: .pytest, startSeconds: 0)
        record.outcome = .timedOut
        report.tests = [record]
        let data = try report.jsonData()
        XCTAssertEqual(try RunReport.decode(data).tests.first?.outcome, .timedOut)
        let bad = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"timed_out\"", with: "\"exploded\"")
        XCTAssertThrowsError(try RunReport.decode(Data(bad.utf8))) { error in
            XCTAssertTrue("\(error)".contains("tests[0].outcome"), "\(error)")
        }
    }
}

extension TestOutcomeTests {
    /// Tests whose start and end the plugin held back when their process was killed: collected
    /// before a test that process was seen to start, so they ran — and passed (only passing ends
    /// are held back). After the last test it started, they never ran.
    func testCollectedTestsBeforeOneThatStartedRanAndPassed() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "7:a", name: "a", source: .pytest, pid: 7, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        ledger.testEnded(key: "7:a", at: 0.2, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        ledger.testStarted(key: "7:leak", name: "leak", source: .pytest, pid: 7, at: 0.5, memoryBytes: 0, cpuNanos: 0, attribution: .window)
        ledger.processExited(pid: 7, at: 0.9, memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        var inOrder = ledger
        inOrder.collected(["a", "b", "c", "leak", "d"], source: .pytest, ranInOrderBy: 7)
        XCTAssertEqual(inOrder.tests.map { "\($0.name) \($0.outcome!.rawValue)" }, ["a passed", "b passed", "c passed", "leak crashed", "d not_run"],
                       "in the order they ran: b and c between a and leak")
        XCTAssertNil(inOrder.tests[1].startSeconds, "no figures for a test seen only through the collection")
        // An xdist worker runs a share of the collection: nothing can be inferred.
        ledger.collected(["a", "b", "c", "leak", "d"], source: .pytest, ranInOrderBy: nil)
        XCTAssertEqual(ledger.tests.map { "\($0.name) \($0.outcome!.rawValue)" }, ["a passed", "leak crashed", "b not_run", "c not_run", "d not_run"])
    }
}

/// Faults a newcomer found in the first version (each a kind, each a test).
final class TestOutcomeFaultTests: XCTestCase {
    private let mib: UInt64 = 1 << 20

    /// A pytest process runs one test at a time: once it starts the next test, the one before
    /// (its end held back) is neither concurrent with it nor credited what the next one uses.
    func testAHeldBackTestIsNotChargedTheNextTestsMemory() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "7:before", name: "before", source: .pytest, pid: 7, at: 0.1, memoryBytes: 20 * mib, cpuNanos: 0)
        ledger.testStarted(key: "7:hog", name: "hog", source: .pytest, pid: 7, at: 0.11, memoryBytes: 20 * mib, cpuNanos: 0,
                           attribution: .window)
        ledger.segmentPeak(128 * mib)
        ledger.noteUnreclaimable(127 * mib)
        ledger.processExited(pid: 7, at: 0.5, memoryBytes: 128 * mib, cpuNanos: 0)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        let before = ledger.tests[0], hog = ledger.tests[1]
        XCTAssertEqual(before.outcome, .passed)
        XCTAssertEqual(before.concurrentTests, 0)
        XCTAssertEqual(before.peakBytes, 20 * mib, "the hog's 128 MiB is the hog's")
        XCTAssertEqual(hog.peakBytes, 128 * mib)
        XCTAssertEqual(hog.concurrentTests, 0)
    }

    /// xdist: both tests are measured by their workers; a child a test forked is OOM-killed: the
    /// kill is that test's (the victim's parent ran it), not a phase "between tests".
    func testAnOOMKillOfATestsChildIsChargedToThatTest() {
        var ledger = AttributionLedger()
        for (pid, name) in [(Int32(10), "a.py::test_forker"), (Int32(20), "b.py::test_sleeper")] {
            ledger.testStarted(key: "\(pid)", name: name, source: .pytest, pid: pid, at: 0.6, memoryBytes: 0, cpuNanos: 0,
                               processStartBytes: 0)
        }
        ledger.testEnded(key: "10", at: 1.6, outcome: .failed, memoryBytes: 0, cpuNanos: 0, processPeakBytes: mib)
        ledger.testEnded(key: "20", at: 2.6, outcome: .passed, memoryBytes: 0, cpuNanos: 0, processPeakBytes: mib)
        XCTAssertEqual(ledger.tests.map(\.attribution), [.process, .process])
        let places = ledger.chargeOOMKills([(1.28, 99, 10)])
        XCTAssertEqual(places, [.init(test: "a.py::test_forker", phase: nil)])
        XCTAssertEqual(ledger.tests.map(\.oomKills), [1, 0])
        XCTAssertEqual(ledger.chargeOOMKills([(1.3, 77, 1)]), [.init(test: nil, phase: "outside the running tests' processes")])
    }

    func testAPlainProgramsOOMKillHasNoTestPhase() {
        var ledger = AttributionLedger()
        XCTAssertEqual(ledger.chargeOOMKills([(0.27, 5, 1)]), [.init(test: nil, phase: nil)])
    }

    func testJUnitKeepsSeparatorsInsideParametersInTheName() {
        XCTAssertEqual(JUnitRenderer.junitName("t/test_names.py::test_p[a::b::c]").className, "t.test_names")
        XCTAssertEqual(JUnitRenderer.junitName("t/test_names.py::test_p[a::b::c]").name, "test_p[a::b::c]")
        XCTAssertEqual(JUnitRenderer.junitName("test_x.py::C::test_q[1.5]").className, "test_x.C")
        XCTAssertEqual(JUnitRenderer.junitName("Suite.testA").className, "Suite")
    }

    func testAnInterruptIsTheOutcomeWhateverTheCommandMadeOfIt() {
        let verdict = Verdict.decide(RunFacts(termination: .exited(2), interruptedBy: SIGINT))
        XCTAssertEqual(verdict.outcome, .interrupted)
        XCTAssertEqual(verdict.exitCode, 130)
        XCTAssertTrue(verdict.reason.hasPrefix("confine received SIGINT and stopped the run"), verdict.reason)
        XCTAssertTrue(verdict.reason.hasSuffix("the command exited with status 2"), verdict.reason)
        let killed = Verdict.decide(RunFacts(termination: .signaled(SIGKILL), interruptedBy: SIGTERM))
        XCTAssertEqual(killed.exitCode, 143, "not 137: nothing was OOM-killed")
        XCTAssertTrue(killed.reason.contains("died of SIGKILL"), killed.reason)
        XCTAssertEqual(Verdict.decide(RunFacts(timedOut: true)).outcome, .timeout)
    }
}

/// Rough edges a newcomer met in the summary.
final class SummaryEdgeTests: XCTestCase {
    func testAZeroByteLimitSaysSoInsteadOfNotANumber() throws {
        let profile = ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: "limits: {memory: 64Mi}\n").parse(), chain: ["p.yaml"])
        var record = RunRecord(command: ["true"], profile: profile, confineVersion: "test",
                               host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2), startedAt: "2026-12-01T00:00:00Z")
        record.mainPid = 1
        record.termination = .exited(0)
        record.appliedMemoryLimitBytes = 0
        let text = Summary.render(RunReport(record: record), reportPath: nil)
        XCTAssertFalse(text.contains("nan"), text)
        XCTAssertTrue(text.contains("0 B limit (under one page"), text)
    }
}
