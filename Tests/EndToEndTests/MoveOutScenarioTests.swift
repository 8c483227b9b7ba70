import ConfineCore
import Foundation
import XCTest

/// A process that moves itself out of the run's cgroup takes its memory and CPU out of the
/// figures and the limits: without a container profile (which refuses the move) confine says so.
final class MoveOutScenarioTests: XCTestCase {
    func testAProcessThatMovesItselfOutOfTheGroupIsReported() throws {
        // Into confine's own memory cgroup (the run's parent): no cgroup is created for it.
        let script = """
            p=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3); [ -n "$p" ] || p=$(grep '^0::' /proc/self/cgroup | cut -d: -f3)
            root=/sys/fs/cgroup/memory; [ -d "$root" ] || root=/sys/fs/cgroup
            echo $$ > "$root${p%/*}/cgroup.procs" && sleep 0.4
            """
        let (result, report) = Harness.confineRun([], ["sh", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let moved = try XCTUnwrap(run.movedOutOfGroup, result.stderr)
        let shell = try XCTUnwrap(moved.first { $0.startedOutsideBy == nil })
        XCTAssertEqual(shell.pid, run.mainProcess?.pid)
        XCTAssertTrue(shell.command.hasPrefix("sh -c"), shell.command)
        XCTAssertLessThan(shell.atSeconds, 0.4)
        XCTAssertFalse(shell.cgroup.split(separator: "/").contains { $0.hasPrefix("confine-") }, shell.cgroup)
        XCTAssertEqual(moved.first { $0.command.hasPrefix("sleep") }?.startedOutsideBy, shell.pid, "sleep was started outside by the shell")
        XCTAssertTrue(result.stderr.contains("moved itself out of the run's cgroup"), result.stderr)
        XCTAssertTrue(Harness.leftoverGroups().isEmpty)
    }

    func testAProcessThatStaysInsideIsNotReported() throws {
        let (result, report) = Harness.confineRun([], ["sh", "-c", "sleep 0.3 & sleep 0.3; wait"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertNil(try XCTUnwrap(report).movedOutOfGroup)
    }
}

/// A negative limit is a bad value (exit 64 naming it), not a missing one.
final class NegativeOptionTests: XCTestCase {
    func testNegativeLimitsAreBadValuesNamedAsSuch() {
        for (option, value) in [("--stall-timeout", "-1s"), ("--cpus", "-1"), ("--memory", "-5Mi"), ("--timeout", "-3s")] {
            let result = Harness.run([Harness.confine, "run", option, value, "--", "true"])
            XCTAssertEqual(result.status, 64, "\(option) \(value): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("\(option): '\(value)' is negative"), result.stderr)
        }
    }
}
