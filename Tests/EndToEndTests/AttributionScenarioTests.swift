import ConfineCore
import Foundation
import XCTest

/// Per-test and per-function attribution on real suites: pytest through confine's plugin,
/// a Swift package (XCTest and Swift Testing) through its output, serial and parallel, the
/// probe channel under load and under bad input, and JUnit import.
final class AttributionScenarioTests: XCTestCase {
    static let mebibyte: UInt64 = 1 << 20
    static let pytestSuite = Harness.packageRoot.appendingPathComponent("examples/attribution-pytest").path
    static let swiftSuite = Harness.packageRoot.appendingPathComponent("examples/swift-suite").path

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
        // confine-probe-<confine pid>-XXXXXX of confines that are gone.
        let probes = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { entry in
            guard entry.hasPrefix("confine-probe-"), let pid = Int32(entry.split(separator: "-")[2]) else { return false }
            return !Harness.isAlive(pid)
        } ?? []
        XCTAssertEqual(probes, [], "a probe socket directory was left behind")
    }

    func test(_ report: RunReport, named suffix: String, file: StaticString = #filePath, line: UInt = #line) -> TestRecord? {
        let found = report.tests.first { $0.name.hasSuffix(suffix) }
        XCTAssertNotNil(found, "no test \(suffix) in \(report.tests.map(\.name))", file: file, line: line)
        return found
    }

    /// The big test is credited with its 100 MiB (within 8 MiB); none of the small ones is.
    func assertBigTestAttributed(_ report: RunReport, big: String, small: [String], file: StaticString = #filePath,
                                 line: UInt = #line) {
        guard let bigTest = test(report, named: big, file: file, line: line) else { return }
        let smallTests = small.compactMap { test(report, named: $0, file: file, line: line) }
        let hundred = 100 * Self.mebibyte
        switch bigTest.attribution {
        case .group, .window:
            let growth = bigTest.peakGrowthBytes ?? 0
            XCTAssertLessThanOrEqual(max(growth, hundred) - min(growth, hundred), 8 * Self.mebibyte,
                                     "\(big) grew \(growth >> 20) MiB, expected 100 ± 8", file: file, line: line)
            for small in smallTests {
                XCTAssertLessThan(small.peakGrowthBytes ?? .max, 8 * Self.mebibyte,
                                  "\(small.name) was credited with \((small.peakGrowthBytes ?? 0) >> 20) MiB", file: file, line: line)
            }
        case .process:
            // Each test is a process of its own: the big one's peak is 100 MiB above the small ones'.
            for small in smallTests {
                XCTAssertEqual(small.attribution, .process, file: file, line: line)
                let difference = Int64(bigTest.peakBytes ?? 0) - Int64(small.peakBytes ?? 0)
                XCTAssertLessThanOrEqual(abs(difference - Int64(hundred)), Int64(8 * Self.mebibyte),
                                         "\(big) peaked \(difference >> 20) MiB above \(small.name)", file: file, line: line)
            }
        case .junit:
            XCTFail("\(big) has no memory figures", file: file, line: line)
        }
        XCTAssertEqual(bigTest.outcome, .passed, file: file, line: line)
    }

    func assertTwoMillisecondFunction(_ report: RunReport, name: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let function = report.functions.first(where: { $0.name == name }) else {
            return XCTFail("no function \(name) in \(report.functions.map(\.name))", file: file, line: line)
        }
        XCTAssertEqual(function.calls, 500, file: file, line: line)
        XCTAssertEqual(function.p50Seconds, 0.002, accuracy: 0.0002, "p50 \(function.p50Seconds)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(function.minSeconds, 0.0019, file: file, line: line)
        XCTAssertGreaterThanOrEqual(function.p99Seconds, function.p50Seconds, file: file, line: line)
        // Each call takes at least 2 ms; a busy machine may stretch a few of them.
        XCTAssertGreaterThanOrEqual(function.totalSeconds, 0.999, file: file, line: line)
        XCTAssertLessThan(function.totalSeconds, 5, file: file, line: line)
    }

    // MARK: pytest

    func testPytestSuiteIsAttributedThroughThePlugin() throws {
        let (result, report) = Harness.confineRun(["--memory", "512Mi"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", Self.pytestSuite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.schemaVersion, 2)
        XCTAssertEqual(run.tests.count, 5, "\(run.tests.map(\.name))")
        XCTAssertTrue(run.tests.allSatisfy { $0.source == .pytest && $0.outcome == .passed && $0.pid != nil })
        assertBigTestAttributed(run, big: "::test_big_allocation", small: ["::test_small_before", "::test_small_after", "::test_small_last"])
        // The plugin's own per-process peak agrees.
        let big = try XCTUnwrap(test(run, named: "::test_big_allocation"))
        XCTAssertGreaterThan(big.processPeakBytes ?? 0, 100 * Self.mebibyte)
        // Resetting the kernel's counter at each boundary must not lose the run's own peak.
        XCTAssertGreaterThanOrEqual(run.memory.peakBytes, big.peakBytes ?? .max)
        XCTAssertEqual(run.memory.peakSource, .maxUsageInBytes)
        assertTwoMillisecondFunction(run, name: "sleep_2ms")
        XCTAssertEqual(run.probe?.recordsDropped, 0)
        XCTAssertEqual(run.probe?.malformedDatagrams, 0)
        XCTAssertTrue(result.stderr.contains("hungriest"), result.stderr)
        XCTAssertTrue(result.stderr.contains("test_big_allocation"), result.stderr)
    }

    /// The plugin announces the next test with the previous test's end (one datagram per test):
    /// with -x the session stops after a failure, and the test that never runs must not appear.
    /// Every outcome of short (batched) tests, read from the terminal reporter's lists and, with
    /// `-p no:terminal`, from the reports themselves: the worst phase wins.
    func testPytestOutcomesOfBatchedTestsAreEachTests() throws {
        let directory = NSTemporaryDirectory() + "confine-pytest-outcomes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            import pytest

            @pytest.fixture
            def broken_setup():
                raise RuntimeError("setup")

            @pytest.fixture
            def broken_teardown():
                yield
                raise RuntimeError("teardown")

            def test_pass(): pass
            def test_fail(): assert False
            def test_pass_again(): pass
            def test_skip(): pytest.skip("no")
            @pytest.mark.xfail
            def test_xfail(): assert False
            @pytest.mark.xfail
            def test_xpass(): pass
            def test_setup_error(broken_setup): pass
            def test_teardown_error(broken_teardown): pass
            def test_fail_and_teardown_error(broken_teardown): assert False
            def test_last(): pass

            """.write(toFile: directory + "/test_outcomes.py", atomically: true, encoding: .utf8)
        let expected = ["test_pass passed", "test_fail failed", "test_pass_again passed", "test_skip skipped", "test_xfail skipped",
                        "test_xpass passed", "test_setup_error error", "test_teardown_error error",
                        "test_fail_and_teardown_error error", "test_last passed"]
        for extra in [["-q"], ["-p", "no:terminal"]] { // no:terminal takes -q with it
            let (result, report) = Harness.confineRun([], ["python3", "-m", "pytest", "-p", "no:cacheprovider"] + extra
                                                        + [directory + "/test_outcomes.py"])
            let run = try XCTUnwrap(report, "\(extra)")
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(run.tests.map { "\($0.name.split(separator: ":").last ?? "") \($0.outcome?.rawValue ?? "open")" }, expected, "\(extra)")
            // Short tests: their boundaries went out batched.
            XCTAssertTrue(run.tests.contains { $0.attribution == .window }, "\(extra): \(run.tests.map(\.attribution))")
        }
    }

    /// The plugin wraps pytest's runtestprotocol; a plugin that implements pytest_runtest_protocol
    /// itself (as pytest-rerunfailures does, calling runtestprotocol it imported) would bypass
    /// that, so the plugin wraps the hook instead: every test is still attributed.
    func testPytestPluginRunningTestsItsOwnWayStillHasEveryTestAttributed() throws {
        let directory = NSTemporaryDirectory() + "confine-pytest-own-protocol-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            from _pytest.runner import runtestprotocol

            def pytest_runtest_protocol(item, nextitem):
                item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
                runtestprotocol(item, nextitem=nextitem)
                item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
                return True

            """.write(toFile: directory + "/conftest.py", atomically: true, encoding: .utf8)
        try """
            import _pytest.runner

            def test_first(): pass
            def test_fail(): assert False
            def test_runner_left_alone():
                assert _pytest.runner.runtestprotocol.__module__ == "_pytest.runner"
            def test_last(): pass

            """.write(toFile: directory + "/test_own.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun([], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", directory + "/test_own.py"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(run.tests.map { "\($0.name.split(separator: ":").last ?? "") \($0.outcome?.rawValue ?? "open")" },
                       ["test_first passed", "test_fail failed", "test_runner_left_alone passed", "test_last passed"])
        XCTAssertTrue(run.tests.allSatisfy { $0.endSeconds != nil && $0.pid != nil })
    }

    func testPytestStoppingAtTheFirstFailureReportsTheRestAsNotRun() throws {
        let directory = NSTemporaryDirectory() + "confine-pytest-x-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "def test_a():\n    pass\n\ndef test_b():\n    assert False\n\ndef test_c():\n    pass\n"
            .write(toFile: directory + "/test_stop.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun([], ["python3", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", directory + "/test_stop.py"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(run.tests.map { "\($0.name.split(separator: ":").last ?? "") \($0.outcome?.rawValue ?? "open")" }, ["test_a passed", "test_b failed", "test_c not_run"])
        XCTAssertTrue(run.tests.allSatisfy { ($0.endSeconds != nil) == ($0.outcome != .notRun) })
    }

    func testPytestXdistWorkersAreMeasuredEachInTheirOwnProcess() throws {
        let (result, report) = Harness.confineRun(["--memory", "1Gi"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", Self.pytestSuite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.tests.count, 5, "\(run.tests.map(\.name))")
        XCTAssertEqual(Set(run.tests.compactMap(\.pid)).count, 2, "two workers, each sending its own tests")
        // Workers run tests at the same time: each overlapping test is measured by its worker.
        let big = try XCTUnwrap(test(run, named: "::test_big_allocation"))
        XCTAssertGreaterThan(big.concurrentTests, 0)
        XCTAssertEqual(big.attribution, .process)
        let growth = big.peakGrowthBytes ?? 0
        XCTAssertLessThanOrEqual(max(growth, 100 * Self.mebibyte) - min(growth, 100 * Self.mebibyte), 8 * Self.mebibyte, "grew \(growth >> 20) MiB")
        for name in ["::test_small_before", "::test_small_after", "::test_small_last"] {
            let small = try XCTUnwrap(test(run, named: name))
            XCTAssertLessThan(small.peakGrowthBytes ?? .max, 8 * Self.mebibyte, "\(name) credited with \((small.peakGrowthBytes ?? 0) >> 20) MiB")
        }
        assertTwoMillisecondFunction(run, name: "sleep_2ms")
    }

    func testPytestOOMKillIsChargedToTheTestThatWasRunning() throws {
        // 100 MiB does not fit in 64 MiB: the test dies, its span stays open and is closed at the end.
        let (result, report) = Harness.confineRun(["--memory", "64Mi", "--swap", "0"],
                                                  ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "big_allocation", Self.pytestSuite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        let big = try XCTUnwrap(test(run, named: "::test_big_allocation"))
        XCTAssertEqual(big.outcome, .oomKilled)
        XCTAssertEqual(big.oomKills, 1)
    }

    /// Writes a pytest file into a fresh directory; returns the file's path.
    func pytestFile(_ source: String) throws -> String {
        let directory = NSTemporaryDirectory() + "confine-pytest-batch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        try source.write(toFile: directory + "/test_batch.py", atomically: true, encoding: .utf8)
        return directory + "/test_batch.py"
    }

    /// Sub-millisecond tests go out batched, many per datagram (attribution `window`); the big
    /// test among them still gets its 100 MiB, and its small neighbours none of it.
    func testShortPytestTestsAreBatchedAndAttributedFromTheReadings() throws {
        let file = try pytestFile("""
            import pytest

            @pytest.mark.parametrize("n", range(150))
            def test_a_tiny(n):
                assert n >= 0

            def test_big():
                block = b"\\x01" * (100 << 20)
                assert len(block) == 100 << 20

            @pytest.mark.parametrize("n", range(150))
            def test_z_tiny(n):
                assert n >= 0

            """)
        let (result, report) = Harness.confineRun(["--memory", "512Mi"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", file])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.tests.count, 301)
        XCTAssertTrue(run.tests.allSatisfy { $0.outcome == .passed && $0.endSeconds != nil })
        let tiny = run.tests.filter { $0.name.contains("_tiny[") }
        let windowed = tiny.filter { $0.attribution == .window }
        XCTAssertGreaterThan(windowed.count, 250, "most tiny tests go out batched: \(Dictionary(grouping: tiny, by: \.attribution).mapValues(\.count))")
        // A window spans whole readings (10 ms), so a tiny test can see the interpreter's own
        // growth around it: a new 1 MiB pymalloc arena. None of the big test's 100 MiB.
        let unattributed = windowed.filter { ($0.peakGrowthBytes ?? .max) >= 4 * Self.mebibyte || $0.cpuSeconds == nil || $0.startBytes == nil }
        XCTAssertEqual(unattributed.count, 0, "\(unattributed.map { "\($0.name): growth \($0.peakGrowthBytes.map(String.init) ?? "nil"), cpu \($0.cpuSeconds.map { "\($0)" } ?? "nil"), start \($0.startBytes.map(String.init) ?? "nil")" })")
        XCTAssertLessThan(run.probe?.datagrams ?? .max, 60, "301 tests, batched into few datagrams")
        XCTAssertEqual(run.probe?.recordsDropped, 0)
        assertBigTestAttributed(run, big: "::test_big", small: ["test_a_tiny[149]", "test_z_tiny[0]", "test_z_tiny[149]"])
        // The tests lie in order on the run's timeline.
        let starts = run.tests.compactMap(\.startSeconds)
        XCTAssertEqual(starts, starts.sorted())
    }

    /// A test that leaks after a run of batched ones: its start was held back, and the plugin's
    /// flusher delivers it while the test runs, so the OOM kill is charged to it.
    func testPytestOOMKillAfterBatchedTestsIsChargedToTheLeakingTest() throws {
        let file = try pytestFile("""
            import time
            import pytest

            @pytest.mark.parametrize("n", range(100))
            def test_a_tiny(n):
                assert n >= 0

            def test_leak():
                kept = []
                while True:
                    kept.append(b"\\x01" * (1 << 20))
                    time.sleep(0.002)

            """)
        let (result, report) = Harness.confineRun(["--memory", "128Mi", "--swap", "0"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", file])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        let leak = try XCTUnwrap(test(run, named: "::test_leak"))
        XCTAssertEqual(leak.outcome, .oomKilled)
        XCTAssertEqual(leak.oomKills, 1)
        // The killed worker loses the ends it still held back; the plugin holds back passing ends
        // only, and each test whose process went on to the next one had ended: every one passed,
        // each ending where the next began.
        let tiny = run.tests.filter { $0.name.contains("_tiny[") }
        XCTAssertEqual(tiny.count, 100, "\(run.tests.map { "\($0.name) \($0.outcome?.rawValue ?? "-")" })")
        XCTAssertTrue(tiny.allSatisfy { $0.outcome == .passed }, "\(tiny.map { "\($0.name) \($0.outcome?.rawValue ?? "-")" })")
        XCTAssertTrue(tiny.allSatisfy { $0.oomKills == 0 && ($0.endSeconds ?? 0) <= (leak.startSeconds ?? 0) + 0.001 },
                      "the kill is the leaking test's alone")
        XCTAssertEqual(run.oomKills.first?.test, leak.name)
    }

    // MARK: Swift

    static let swiftSuiteBuilt: Bool = {
        let result = Harness.run(["/usr/bin/env", "swift", "build", "--build-tests", "--package-path", swiftSuite])
        if result.status != 0 { print(result.stdout, result.stderr) }
        return result.status == 0
    }()

    func runSwiftSuite(_ mode: String) throws -> RunReport {
        XCTAssertTrue(Self.swiftSuiteBuilt, "examples/swift-suite does not build")
        let (result, report) = Harness.confineRun([], ["swift", "test", "--skip-build", "--package-path", Self.swiftSuite, mode])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains(mode == "--parallel" ? "Testing PricingTests" : "Test Case"),
                      "the runner's output must still reach the user")
        return try XCTUnwrap(report)
    }

    func testSwiftSuiteSerial() throws {
        let run = try runSwiftSuite("--no-parallel")
        XCTAssertEqual(run.tests.filter { $0.source == .xctest }.count, 4, "\(run.tests.map(\.name))")
        XCTAssertEqual(run.tests.filter { $0.source == .swiftTesting }.count, 4, "\(run.tests.map(\.name))")
        XCTAssertTrue(run.tests.allSatisfy { $0.concurrentTests == 0 && $0.attribution == .group })
        assertBigTestAttributed(run, big: "MemoryXCTests.testBigAllocation", small: ["MemoryXCTests.testSmallA", "MemoryXCTests.testSmallB"])
        assertBigTestAttributed(run, big: "bigAllocation()", small: ["smallOne()", "small two"])
        assertTwoMillisecondFunction(run, name: "calculate_discount")
        XCTAssertEqual(run.functions.first { $0.name == "fetch_quote" }?.calls, 50, "async probes on Swift Testing's threads, flushed at exit")
        XCTAssertEqual(run.warnings, [])
    }

    func testSwiftSuiteParallel() throws {
        let run = try runSwiftSuite("--parallel")
        let xctests = run.tests.filter { $0.source == .xctest }
        XCTAssertEqual(xctests.count, 4, "\(run.tests.map(\.name))")
        XCTAssertTrue(xctests.allSatisfy { $0.attribution == .process && $0.pid != nil && $0.outcome == .passed })
        assertBigTestAttributed(run, big: "MemoryXCTests.testBigAllocation", small: ["MemoryXCTests.testSmallA", "MemoryXCTests.testSmallB"])
        // Swift Testing runs its tests concurrently in one process, and says so.
        XCTAssertTrue(run.tests.filter { $0.source == .swiftTesting }.allSatisfy { $0.concurrentTests > 0 })
        assertBigTestAttributed(run, big: "bigAllocation()", small: ["smallOne()", "small two"])
        assertTwoMillisecondFunction(run, name: "calculate_discount")
        XCTAssertEqual(run.functions.first { $0.name == "fetch_quote" }?.calls, 50)
    }

    // MARK: probe channel

    func testAMillionRecordsFromFourProcessesAreAllCounted() throws {
        let (result, report) = Harness.confineRun([], [Harness.probeFlood, "4", "250000"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.probe?.recordsReceived, 1_000_000)
        XCTAssertEqual(run.probe?.recordsDropped, 0)
        XCTAssertEqual(run.functions.first?.calls, 1_000_000)
        XCTAssertEqual(run.functions.first?.processes, 4)
    }

    func testMalformedProbeDatagramsAreCountedAndTheRunCarriesOn() throws {
        let (result, report) = Harness.confineRun([], [Harness.probeFlood, "2", "5000", "malformed"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.probe?.malformedDatagrams, 10)
        XCTAssertEqual(run.probe?.recordsReceived, 10_000)
        XCTAssertEqual(run.functions.first?.calls, 10_000)
        XCTAssertTrue(run.warnings.contains { $0.contains("10 malformed datagrams") }, "\(run.warnings)")
    }

    func testAPythonTargetThatClosesTheChannelLosesNothingItSent() throws {
        // Sends half, closes its socket, sends the rest from a fresh one, exits without flushing by hand.
        let script = """
        import confine_probe as p
        for i in range(3000): p.record("half", 0, 1000)
        p.flush(); p._socket.close(); p._socket = None
        for i in range(3000): p.record("half", 0, 1000)
        """
        let (result, report) = Harness.confineRun([], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.functions.first { $0.name == "half" }?.calls, 6000)
        XCTAssertEqual(run.probe?.recordsDropped, 0)
    }

    func testWithoutConfineTheProbesCostNothingAndSendNothing() throws {
        // -u: another test in this process may have pointed the variable at its own socket.
        let result = Harness.run(["/usr/bin/env", "-u", "CONFINE_PROBE_SOCKET", "python3", "-c",
                                  "import sys; sys.path.insert(0, '\(Harness.packageRoot.path)/Sources/ConfinePython'); import confine_probe as p; f = lambda: 1; assert p.measure('x')(f) is f; assert not p.enabled"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    // MARK: JUnit

    func testJUnitFromPytestIsImported() throws {
        let file = NSTemporaryDirectory() + "confine-junit-\(UUID().uuidString).xml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        // The plugin off: every test comes from the file.
        let (_, report) = Harness.confineRun(["--junit", file],
                                             ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:confine_pytest",
                                              "--junitxml=\(file)", Self.pytestSuite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.tests.count, 5, "\(run.tests.map(\.name))")
        XCTAssertTrue(run.tests.allSatisfy { $0.source == .junit && $0.outcome == .passed && $0.durationSeconds != nil })
        XCTAssertNotNil(run.tests.first { $0.name.hasSuffix("test_attribution.test_big_allocation") })
    }

    func testJUnitMergesWithLiveTests() throws {
        let file = NSTemporaryDirectory() + "confine-junit-\(UUID().uuidString).xml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (_, report) = Harness.confineRun(["--junit", file],
                                             ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=\(file)", Self.pytestSuite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.tests.count, 5, "live and JUnit tests are the same five: \(run.tests.map(\.name))")
        XCTAssertTrue(run.tests.allSatisfy { $0.source == .pytest })
    }

    func testJUnitFromSwiftTestXunitOutputIsImported() throws {
        XCTAssertTrue(Self.swiftSuiteBuilt, "examples/swift-suite does not build")
        let file = NSTemporaryDirectory() + "confine-xunit-\(UUID().uuidString).xml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        // SwiftPM writes XCTest's file only with --parallel, and Swift Testing's beside it.
        let swiftTesting = file.replacingOccurrences(of: ".xml", with: "-swift-testing.xml")
        defer { try? FileManager.default.removeItem(atPath: swiftTesting) }
        let (result, report) = Harness.confineRun(["--junit", file, "--junit", swiftTesting, "--runner", "none"],
                                                  ["swift", "test", "--skip-build", "--package-path", Self.swiftSuite, "--parallel",
                                                   "--xunit-output", file])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let names = run.tests.map(\.name)
        XCTAssertTrue(names.contains { $0.hasSuffix("MemoryXCTests.testBigAllocation") }, "\(names)")
        XCTAssertTrue(names.contains("PricingTests.bigAllocation()"), "\(names)")
        XCTAssertEqual(run.tests.count, 8, "\(names)")
        XCTAssertTrue(run.tests.allSatisfy { $0.attribution == .junit && $0.outcome == .passed })
    }

    func testJUnitFromGotestsumIsImported() throws {
        let file = Harness.packageRoot.appendingPathComponent("Tests/Fixtures/junit/gotestsum.xml").path
        let (_, report) = Harness.confineRun(["--junit", file], ["true"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.tests.map(\.name), ["example.com/shop/pricing.TestDiscount", "example.com/shop/pricing.TestDiscount/negative_amount",
                                               "example.com/shop/pricing.TestRounding", "example.com/shop/cart.TestTotals"])
        XCTAssertEqual(run.tests.map(\.outcome), [.passed, .failed, .skipped, .passed])
        XCTAssertEqual(run.tests.first?.durationSeconds, 0.12)
    }

    func testMissingOrBrokenJUnitIsAWarningNotAFailure() throws {
        let missing = "/nonexistent/junit.xml"
        let (result, report) = Harness.confineRun(["--junit", missing], ["true"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(report?.warnings.contains { $0.contains("cannot read \(missing)") } == true, "\(report?.warnings ?? [])")

        let broken = NSTemporaryDirectory() + "confine-broken-\(UUID().uuidString).xml"
        defer { try? FileManager.default.removeItem(atPath: broken) }
        try "<testsuites>\n  <testsuite name=\"x\">\n    <testcase name=\"a\">\n</testsuites>\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let (brokenResult, brokenReport) = Harness.confineRun(["--junit", broken], ["true"])
        XCTAssertEqual(brokenResult.status, 0)
        XCTAssertTrue(brokenReport?.warnings.contains { $0.contains("\(broken):4:1: </testsuites> closes <testcase>") } == true,
                      "\(brokenReport?.warnings ?? [])")
    }

    func testUnmatchedRunnerOutputIsReported() throws {
        let (result, report) = Harness.confineRun(["--runner", "swift-test"], ["sh", "-c", "echo \"Test Case 'Broken' exploded\"; echo '◇ Test nonsense started.'"])
        XCTAssertEqual(result.status, 0)
        let warnings = report?.warnings ?? []
        XCTAssertTrue(warnings.contains { $0.contains("did not parse") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("no test boundaries") }, "\(warnings)")
        XCTAssertTrue(result.stdout.contains("Test Case 'Broken' exploded"), "output passes through: \(result.stdout)")
    }
}
