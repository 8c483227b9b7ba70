import ConfineCore
import Foundation
import XCTest

/// What happened to each test when the run is cut short (issue 17, §2), on the real kernel:
/// OOM kills in pytest-xdist workers, the run's timeout, a crash, a stop after the first failure,
/// and an OOM kill during collection. Each test's outcome, end and OOM kills; the JUnit export.
final class OutcomeScenarioTests: XCTestCase {
    /// Writes `files` (name → source) into a fresh directory; returns its path.
    func suite(_ files: [String: String]) throws -> String {
        let directory = NSTemporaryDirectory() + "confine-outcomes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        for (name, source) in files { try source.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        return directory
    }

    func pytest(_ directory: String, _ extra: [String] = []) -> [String] {
        ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", directory] + extra + [directory]
    }

    func outcomes(_ run: RunReport) -> [String] {
        run.tests.map { "\($0.name) \($0.outcome?.rawValue ?? "-")" }
    }

    /// The JUnit export of a report: its test cases, as confine's own JUnit reader reads them.
    func junit(of run: RunReport) throws -> [JUnitCase] {
        let path = NSTemporaryDirectory() + "confine-outcomes-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run.jsonData().write(to: URL(fileURLWithPath: path))
        let result = Harness.run([Harness.confine, "report", path, "--format", "junit"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JUnitReader.parse(result.stdout, path: "junit")
    }

    /// xdist hands the hog's file to each replacement of a killed worker: every attempt is a test
    /// of its own that ends at its worker's death, OOM-killed, charged that one kill; the test
    /// after it in the file never runs and is listed so; the small files' tests passed.
    func testEachOOMKilledXdistWorkerEndsItsOwnTestAndTheRestAreNotRun() throws {
        let directory = try suite([
            "test_hog.py": """
                def test_hog():
                    b = bytearray(300 << 20)
                    for i in range(0, len(b), 4096):
                        b[i] = 1

                def test_after_hog():
                    pass
                """,
            "test_small_a.py": "def test_a1():\n    pass\n\ndef test_a2():\n    pass\n",
            "test_small_b.py": "def test_b1():\n    pass\n\ndef test_b2():\n    pass\n",
        ])
        // This xdist waits forever once it gives up re-handing a file (no restarts left): bounded.
        let (result, report) = Harness.confineRun(["--memory", "256Mi", "--swap", "0", "--timeout", "60s"],
                                                  pytest(directory, ["-n", "2", "--dist=loadfile", "--max-worker-restart=2"]))
        let run = try XCTUnwrap(report)
        XCTAssertNotEqual(run.outcome, .timeout, result.stderr)
        let hogs = run.tests.filter { $0.name == "test_hog.py::test_hog" }
        XCTAssertGreaterThanOrEqual(hogs.count, 2, outcomes(run).joined(separator: "\n"))
        XCTAssertEqual(hogs.count, run.oomKills.count, "one attempt per killed worker")
        XCTAssertTrue(hogs.allSatisfy { $0.outcome == .oomKilled && $0.oomKills == 1 }, outcomes(run).joined(separator: "\n"))
        XCTAssertEqual(Set(hogs.compactMap(\.pid)).count, hogs.count, "each attempt in its own worker")
        for (hog, kill) in zip(hogs, run.oomKills) {
            XCTAssertEqual(kill.pid, hog.pid)
            XCTAssertEqual(kill.test, hog.name)
            let end = try XCTUnwrap(hog.endSeconds)
            XCTAssertLessThan(end - kill.atSeconds, 0.5, "the attempt ends at its worker's death, not at the run's end")
            XCTAssertGreaterThanOrEqual(end, kill.atSeconds - 0.01)
        }
        XCTAssertEqual(run.tests.first { $0.name == "test_hog.py::test_after_hog" }?.outcome, .notRun)
        for name in ["test_a1", "test_a2", "test_b1", "test_b2"] {
            let small = try XCTUnwrap(run.tests.first { $0.name.hasSuffix("::" + name) }, outcomes(run).joined(separator: "\n"))
            XCTAssertEqual(small.outcome, .passed)
            XCTAssertEqual(small.oomKills, 0, "\(name) ran beside a hog but in another worker")
        }
        XCTAssertTrue(result.stderr.contains("tests    \(run.tests.count): 4 passed, \(hogs.count) oom_killed, 1 not_run"), result.stderr)
        let cases = try junit(of: run)
        XCTAssertEqual(cases.filter { $0.name == "test_hog" }.map(\.outcome), hogs.map { _ in .error })
        XCTAssertEqual(cases.first { $0.name == "test_after_hog" }?.outcome, .skipped)
        XCTAssertEqual(cases.filter { ["test_a1", "test_a2", "test_b1", "test_b2"].contains($0.name) }.map(\.outcome),
                       [.passed, .passed, .passed, .passed])
    }

    /// The passed test before a timeout keeps its outcome (its batched end is flushed on SIGTERM
    /// or inferred from the next start), the sleeping one timed out, the last one never ran.
    func testATimeoutCutsTheRunningTestAndTheNextIsNotRun() throws {
        let directory = try suite(["test_t.py": """
            import time

            def test_before():
                pass

            def test_sleep():
                time.sleep(30)

            def test_never():
                pass
            """])
        let (result, report) = Harness.confineRun(["--timeout", "3s"], pytest(directory))
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(outcomes(run), ["test_t.py::test_before passed", "test_t.py::test_sleep timed_out", "test_t.py::test_never not_run"])
        let sleep = run.tests[1]
        XCTAssertEqual(try XCTUnwrap(sleep.endSeconds), 3, accuracy: 1, "it ran until the timeout's signal")
        XCTAssertLessThan(run.tests[0].durationSeconds ?? 1, 0.5)
        XCTAssertEqual(try junit(of: run).dropFirst().map(\.outcome), [.passed, .error, .skipped])
    }

    /// A test whose process dies (here by SIGSEGV, no OOM kill) crashed; pytest -x stops after a
    /// failure and the rest are not run.
    func testACrashIsACrashAndAStopAfterAFailureLeavesTheRestNotRun() throws {
        let crash = try suite(["test_c.py": """
            import os, signal

            def test_ok():
                pass

            def test_segfault():
                os.kill(os.getpid(), signal.SIGSEGV)

            def test_after():
                pass
            """])
        let (crashed, crashReport) = Harness.confineRun([], pytest(crash))
        let run = try XCTUnwrap(crashReport)
        XCTAssertEqual(crashed.status, 128 + 11, crashed.stderr)
        XCTAssertEqual(outcomes(run), ["test_c.py::test_ok passed", "test_c.py::test_segfault crashed", "test_c.py::test_after not_run"])

        let stop = try suite(["test_x.py": "def test_one():\n    pass\n\ndef test_two():\n    assert False\n\ndef test_three():\n    pass\n"])
        let (_, stopReport) = Harness.confineRun([], pytest(stop, ["-x"]))
        XCTAssertEqual(outcomes(try XCTUnwrap(stopReport)),
                       ["test_x.py::test_one passed", "test_x.py::test_two failed", "test_x.py::test_three not_run"])
    }

    /// A conftest.py that allocates at import is killed before any test: the kill is charged to
    /// collection by name, and the reason says so.
    func testAnOOMKillDuringCollectionIsNamedSo() throws {
        let directory = try suite([
            "conftest.py": "big = bytearray(300 << 20)\nfor i in range(0, len(big), 4096):\n    big[i] = 1\n",
            "test_a.py": "def test_a():\n    pass\n",
        ])
        let (result, report) = Harness.confineRun(["--memory", "128Mi", "--swap", "0"], pytest(directory))
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        let kill = try XCTUnwrap(run.oomKills.first)
        XCTAssertNil(kill.test)
        XCTAssertEqual(kill.phase, "collection")
        XCTAssertTrue(run.reason.hasSuffix("during collection"), run.reason)
        XCTAssertTrue(result.stderr.contains("during collection"), result.stderr)
        XCTAssertTrue(run.tests.isEmpty, "collection never finished: nothing was collected")
    }

    /// Ctrl-C (SIGINT to confine): the test pytest was running when it stopped is `interrupted`,
    /// the next one never ran, and the run says it was stopped from outside (exit 130).
    func testAnInterruptCutsTheRunningTestAndTheRunSaysSo() throws {
        let directory = try suite(["test_t.py": """
            import time

            def test_a():
                pass

            def test_sleep():
                time.sleep(30)

            def test_b():
                pass
            """])
        let reportPath = directory + "/report.json"
        let confine = Harness.Child([Harness.confine, "run", "--quiet", "--report", reportPath, "--"] + pytest(directory))
        Thread.sleep(forTimeInterval: 2.5)
        kill(confine.pid, SIGINT)
        let result = confine.wait()
        XCTAssertEqual(result.status, 130, result.stderr)
        let run = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: reportPath)))
        XCTAssertEqual(run.outcome, .interrupted)
        XCTAssertEqual(outcomes(run), ["test_t.py::test_a passed", "test_t.py::test_sleep interrupted", "test_t.py::test_b not_run"])
    }

    /// pytester's in-process and subprocess runs inside a test are not the suite's tests.
    func testNestedPytestRunsAreNotTheSuitesTests() throws {
        let directory = try suite([
            "conftest.py": "pytest_plugins = ['pytester']\n",
            "test_nested.py": """
                INNER = "def test_inner_ok():\\n    pass\\n\\ndef test_inner_bad():\\n    assert False\\n"

                def test_in_process(pytester):
                    pytester.makepyfile(test_inner=INNER)
                    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, failed=1)

                def test_subprocess(pytester):
                    pytester.makepyfile(test_inner=INNER)
                    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1, failed=1)

                def test_outer():
                    pass
                """,
        ])
        let (result, report) = Harness.confineRun([], pytest(directory))
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(outcomes(run), ["test_nested.py::test_in_process passed", "test_nested.py::test_subprocess passed",
                                       "test_nested.py::test_outer passed"])
    }

    /// Node ids longer than a probe name (1,024 bytes) or a running-file slot (494), in ASCII and
    /// in multi-byte UTF-8: each test once, under the name the probe carries, never malformed.
    func testVeryLongTestNamesAreEachOneTest() throws {
        let directory = try suite(["test_long.py": """
            import time
            import pytest

            @pytest.mark.parametrize("v", ["x" * 3000, "x" * 3000 + "z", "é" * 700, "y" * 600], ids=lambda v: v)
            def test_long(v):
                time.sleep(0.12)

            def test_after():
                pass
            """])
        let (result, report) = Harness.confineRun([], pytest(directory))
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.tests.count, 5, outcomes(run).map { String($0.prefix(60)) }.joined(separator: "\n"))
        XCTAssertEqual(Set(run.tests.map(\.name)).count, 5, "two names sharing their first kilobyte stay two tests")
        XCTAssertTrue(run.tests.allSatisfy { $0.outcome == .passed && $0.startSeconds != nil }, outcomes(run).map { String($0.prefix(60)) }.joined(separator: "\n"))
        XCTAssertTrue(run.tests.allSatisfy { $0.name.utf8.count <= 1024 })
        XCTAssertEqual(run.probe?.malformedDatagrams, 0)
    }

    /// The empty test before one that is OOM-killed is not charged the killer's memory, and
    /// tests that ran one after another are not called concurrent.
    func testTheTestBeforeAnOOMKilledTestIsNotChargedItsMemory() throws {
        let directory = try suite(["test_oom.py": """
            def test_before():
                pass

            def test_hog():
                kept = []
                while True:
                    kept.append(bytearray(1 << 20))

            def test_after():
                pass
            """])
        let (result, report) = Harness.confineRun(["--memory", "128Mi", "--swap", "0"], pytest(directory))
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        XCTAssertEqual(outcomes(run), ["test_oom.py::test_before passed", "test_oom.py::test_hog oom_killed", "test_oom.py::test_after not_run"])
        let before = run.tests[0]
        XCTAssertEqual(before.concurrentTests, 0)
        XCTAssertLessThan(before.peakBytes ?? .max, 64 << 20, "test_before credited \((before.peakBytes ?? 0) >> 20) MiB")
        XCTAssertLessThan(before.ownedPeakBytes ?? .max, 64 << 20)
        XCTAssertEqual(run.tests[1].concurrentTests, 0)
    }

    /// pytest-xdist: a child process a test forked is OOM-killed: the kill is that test's.
    func testAnOOMKilledChildOfAnXdistTestIsChargedToThatTest() throws {
        let directory = try suite([
            "test_a.py": """
                import os, time

                def test_forker():
                    time.sleep(0.5)
                    pid = os.fork()
                    if pid == 0:
                        kept = []
                        while True:
                            kept.append(bytearray(1 << 20))
                    os.waitpid(pid, 0)
                """,
            "test_b.py": "import time\n\ndef test_sleeper():\n    time.sleep(2)\n",
        ])
        let (_, report) = Harness.confineRun(["--memory", "150Mi", "--swap", "0"], pytest(directory, ["-n", "2", "--dist=loadfile"]))
        let run = try XCTUnwrap(report)
        let kill = try XCTUnwrap(run.oomKills.first, outcomes(run).joined(separator: "\n"))
        XCTAssertEqual(kill.test, "test_a.py::test_forker")
        XCTAssertNil(kill.phase)
        XCTAssertEqual(run.tests.first { $0.name == "test_a.py::test_forker" }?.oomKills, 1)
        XCTAssertEqual(run.tests.first { $0.name == "test_b.py::test_sleeper" }?.oomKills, 0)
    }
}
