import ConfineCore
import Foundation
import XCTest

/// A `multiprocessing.Pool` whose worker the kernel OOM-kills waits forever for that worker's
/// result: on the real kernel, confine calls the stall out while it happens, names the victim
/// (its parent and RSS at the kill from the kernel's own line), and `--stall-timeout` ends it.
final class OOMStallScenarioTests: DirectoryScenario {
    /// Task 1 allocates 300 MiB in a pool worker under a 128 MiB limit; `pool.map` never returns.
    static let pool = """
        import multiprocessing as mp
        def work(n):
            if n == 1:
                return len(bytearray(300 << 20))
            return n
        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map(work, [0, 1]))
        """

    func testAPoolWaitingForAnOOMKilledWorkerIsEndedByTheStallTimeout() throws {
        let (result, report) = Harness.confineRun(["--memory", "128Mi", "--swap", "0", "--stall-timeout", "3s", "--timeout", "60s"],
                                                  ["python3", "-c", Self.pool])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.outcome, .stalled, run.reason)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(run.exitCode, 124)
        XCTAssertLessThan(result.seconds, 20, "ended by the stall timeout, not the 60 s one")
        XCTAssertGreaterThanOrEqual(run.durationSeconds, 3)
        XCTAssertEqual(run.profile.stallTimeoutSeconds, 3)

        XCTAssertGreaterThanOrEqual(run.oomKills.count, 1)
        let first = try XCTUnwrap(run.oomKills.first)
        XCTAssertFalse(first.mainProcess)
        XCTAssertTrue(run.reason.hasPrefix("stalled for 3s after pid \(first.pid) (python3 -c "), run.reason)
        XCTAssertTrue(run.reason.contains(" was OOM-killed at "), run.reason)
        for kill in run.oomKills where kill.source == .kernelLog {
            XCTAssertEqual(kill.parentPid, run.mainProcess?.pid, "a pool worker is the main process's child")
            XCTAssertGreaterThan(kill.anonRssBytes ?? 0, 100 << 20, "the worker held most of the limit")
            XCTAssertNotNil(kill.fileRssBytes)
        }
        // Said once while it happened, and warned of in the report with how long it lasted.
        let notices = result.stderr.split(separator: "\n").filter { $0.hasPrefix("confine: stalled since ") }
        XCTAssertEqual(notices.count, 1, result.stderr)
        XCTAssertTrue(notices.first?.hasPrefix("confine: stalled since pid \(first.pid) was OOM-killed at ") ?? false, result.stderr)
        XCTAssertTrue(notices.first?.contains(" (no CPU for 1.") ?? false, result.stderr)
        let warning = try XCTUnwrap(run.warnings.first { $0.hasPrefix("stalled since pid \(first.pid) (") }, "\(run.warnings)")
        XCTAssertTrue(warning.contains("was OOM-killed at"), warning)
        XCTAssertTrue(warning.contains(": no CPU for 3."), warning)
        XCTAssertTrue(result.stderr.contains("(pid \(first.pid), parent \(run.mainProcess?.pid ?? -1), worker)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("; its anon RSS "), result.stderr)
    }

    /// Without `--stall-timeout` the timeout ends the run, and its reason names the kill before it.
    func testATimeoutAfterAnOOMKillNamesTheKillAndTheStallIsAWarning() throws {
        let (result, report) = Harness.confineRun(["--memory", "128Mi", "--swap", "0", "--timeout", "3s"], ["python3", "-c", Self.pool])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.outcome, .timeout, run.reason)
        XCTAssertEqual(result.status, 124, result.stderr)
        let first = try XCTUnwrap(run.oomKills.first)
        XCTAssertTrue(run.reason.hasPrefix("the run hit its timeout of 3s; the whole process tree was killed; "), run.reason)
        XCTAssertTrue(run.reason.contains("OOM-killed in its group before it, "), run.reason)
        XCTAssertTrue(run.reason.contains("(pid \(first.pid) python3 -c "), run.reason)
        XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.hasPrefix("confine: stalled since pid \(first.pid) ") }.count, 1,
                       result.stderr)
        XCTAssertTrue(run.warnings.contains { $0.hasPrefix("stalled since pid \(first.pid) (") }, "\(run.warnings)")
    }
}
