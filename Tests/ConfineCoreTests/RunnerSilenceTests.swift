@testable import ConfineCore
import XCTest

/// A runner that ran while no test boundary arrived is said, with its likely cause and fix.
final class RunnerSilenceTests: XCTestCase {
    func process(_ pid: Int32, _ command: String) -> RunReport.ProcessRecord {
        RunReport.ProcessRecord(pid: pid, command: command, peakRssBytes: 10 << 20, firstSeenSeconds: 0.1)
    }

    let channel = RunReport.ProbeSummary(socket: "/tmp/p.sock", datagrams: 0, recordsReceived: 0, recordsDropped: 0, malformedDatagrams: 0)

    func testTheRunnerTheCauseAndTheFixAreNamed() {
        let tox = RunnerSilence.warning(processes: [process(10, "/usr/bin/python3 /usr/bin/tox -e py"), process(12, ".tox/py/bin/python -m pytest -q")],
                                        tests: [], probe: channel)
        XCTAssertEqual(tox?.contains("pytest ran (pid 12"), true, tox ?? "")
        XCTAssertEqual(tox?.contains("passenv = CONFINE_*, PYTEST_PLUGINS, PYTHONPATH"), true, tox ?? "")
        let wrapper = RunnerSilence.warning(processes: [process(7, "/venv/bin/pytest tests")], tests: [], probe: channel)
        XCTAssertEqual(wrapper?.contains("lost PYTEST_PLUGINS or PYTHONPATH"), true, wrapper ?? "")
        XCTAssertEqual(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [], probe: nil)?.contains("--no-probe"), true)
        let make = RunnerSilence.warning(processes: [process(3, "make test"), process(9, "/pkg/.build/debug/PricingPackageTests.xctest")], tests: [], probe: channel)
        XCTAssertEqual(make?.hasSuffix("add --runner swift-test"), true, make ?? "")
    }

    func testNothingIsSaidWhenTheRunnerWasHeard() {
        let test = TestRecord(name: "t.py::test_a", source: .pytest, startSeconds: 0)
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [test], probe: channel))
        var heard = channel
        heard.recordsReceived = 1 // the plugin's collection phase: a suite that collected nothing
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [], probe: heard))
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "/bin/sleep 1")], tests: [], probe: channel), "no runner, nothing to say")
    }
}
