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
        XCTAssertEqual(tox?.contains("pytest was started (pid 12"), true, tox ?? "")
        XCTAssertEqual(tox?.contains("a `set_env` of PYTHONPATH in tox.ini replaces confine's"), true, tox ?? "")
        XCTAssertEqual(tox?.contains("pass_env = CONFINE_*, PYTHONPATH"), true, tox ?? "")
        XCTAssertEqual(tox?.contains("TOX_OVERRIDE"), true, tox ?? "")
        XCTAssertEqual(tox?.contains("was not applied"), false, "not a shard")
        let emptied = RunnerSilence.warning(processes: [process(3, "tox"), process(12, "python -m pytest")], tests: [], probe: channel,
                                            shard: ShardPosition(index: 2, total: 4), command: ["env", "-i", "PATH=/usr/bin", "tox"])
        XCTAssertEqual(emptied?.contains("an `env -i` in the run cleared"), true, emptied ?? "")
        XCTAssertEqual(emptied?.hasSuffix("--shard 2/4 was not applied: this pytest was not split (whatever it ran, it ran whole)"), true, emptied ?? "")
        let wrapper = RunnerSilence.warning(processes: [process(7, "/venv/bin/pytest tests")], tests: [], probe: channel)
        XCTAssertEqual(wrapper?.contains("lost CONFINE_*, PYTEST_PLUGINS or PYTHONPATH"), true, wrapper ?? "")
        let disabled = RunnerSilence.warning(processes: [process(7, "python3 -m pytest -q -p no:confine_pytest tests")], tests: [], probe: channel)
        XCTAssertEqual(disabled?.contains("its command disables confine's plugin (-p no:confine_pytest)"), true, disabled ?? "")
        XCTAssertEqual(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [], probe: nil)?.contains("--no-probe"), true)
        let make = RunnerSilence.warning(processes: [process(3, "make test"), process(9, "/pkg/.build/debug/PricingPackageTests.xctest")], tests: [], probe: channel)
        XCTAssertEqual(make?.hasSuffix("add --runner swift-test"), true, make ?? "")
    }

    func testNothingIsSaidWhenTheRunnerWasHeard() {
        let test = TestRecord(name: "t.py::test_a", source: .pytest, startSeconds: 0)
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [test], probe: channel))
        // The plugin's collection phase: a suite that collected nothing.
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [], probe: channel, runnerHeard: true))
        // Probed calls alone are not the runner: a suite using confine_probe whose plugin was off.
        var probed = channel
        probed.recordsReceived = 381
        XCTAssertNotNil(RunnerSilence.warning(processes: [process(7, "pytest")], tests: [], probe: probed, runnerHeard: false))
        // swift test's output was read (an empty shard): the watcher says what it held.
        XCTAssertNil(RunnerSilence.warning(processes: [process(9, "/p/.build/debug/PTests.xctest")], tests: [], probe: channel, outputRead: true))
        XCTAssertNil(RunnerSilence.warning(processes: [process(7, "/bin/sleep 1")], tests: [], probe: channel), "no runner, nothing to say")
    }
}

/// The runner a command line is, by the names `RunnerDetection` knows.
final class RunnerDetectionTests: XCTestCase {
    func words(_ line: String) -> [Substring] { RunnerDetection.words(line) }

    func testSwiftTestThroughTheDriverEnvAndItsProcesses() {
        XCTAssertTrue(RunnerDetection.isSwiftTest(words("swift test --parallel")))
        XCTAssertTrue(RunnerDetection.isSwiftTest(words("/usr/bin/env FOO=1 /opt/swift/usr/bin/swift test")))
        XCTAssertTrue(RunnerDetection.isSwiftTest(words("/opt/swift/usr/bin/swift-test --skip-build")))
        XCTAssertTrue(RunnerDetection.isSwiftTest(words("/p/.build/debug/PricingPackageTests.xctest")))
        XCTAssertTrue(RunnerDetection.isSwiftTest(words("/opt/swift/usr/libexec/swift/pm/swiftpm-testing-helper --test-bundle-path x")))
        XCTAssertFalse(RunnerDetection.isSwiftTest(words("swift build")))
        XCTAssertFalse(RunnerDetection.isSwiftTest(words("make test")))
        XCTAssertFalse(RunnerDetection.isSwiftTest(words("swift")))
    }

    func testPytestIsTheProgramNotAWord() {
        XCTAssertTrue(RunnerDetection.isPytest(words("pytest -q")))
        XCTAssertTrue(RunnerDetection.isPytest(words("/venv/bin/python3.11 -I -m pytest tests")))
        XCTAssertTrue(RunnerDetection.isPytest(words("/venv/bin/python /venv/bin/pytest -q")), "a console script's process")
        XCTAssertTrue(RunnerDetection.isPytest(words("python -X dev -m pytest")))
        XCTAssertFalse(RunnerDetection.isPytest(words("python -I -m pip install pytest")), "tox installing pytest is not pytest running")
        XCTAssertFalse(RunnerDetection.isPytest(words("python -c import pytest")))
        XCTAssertFalse(RunnerDetection.isPytest(words("grep pytest setup.cfg")))
    }

    func testToxAndPython() {
        XCTAssertTrue(RunnerDetection.isTox(words("/usr/bin/python3 /usr/bin/tox -e py")))
        XCTAssertTrue(RunnerDetection.isTox(words("tox")))
        XCTAssertTrue(RunnerDetection.isTox(words("python3 -m tox")))
        XCTAssertFalse(RunnerDetection.isTox(words("nox")))
        XCTAssertTrue(RunnerDetection.clearsEnvironment(words("env -i PATH=/bin tox")))
        XCTAssertTrue(RunnerDetection.clearsEnvironment(words("/usr/bin/env --ignore-environment A=1 sh")))
        XCTAssertTrue(RunnerDetection.clearsEnvironment(words("env -iu X sh")))
        XCTAssertFalse(RunnerDetection.clearsEnvironment(words("env -u X sh -i")), "-i of the command, not env's")
        XCTAssertFalse(RunnerDetection.clearsEnvironment(words("env A=1 pytest")))
        XCTAssertTrue(RunnerDetection.isPython(["python3", "-m", "pytest"]))
        XCTAssertTrue(RunnerDetection.isPython(["env", "-u", "X", "pytest"]))
        XCTAssertFalse(RunnerDetection.isPython(["make", "test"]))
        XCTAssertFalse(RunnerDetection.isPython(["tox"]))
    }
}
