import ConfineCore
import Foundation
import XCTest

/// Tests started the way teams start them in CI — make, a script, tox, nox — keep their per-test
/// figures: `swift test` is found in the process tree (no `--runner`), and tox takes confine's
/// `TOX_OVERRIDE` to pass the plugin's variables into its environment. Real make, tox and nox.
final class RunnerWrapperScenarioTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups; CI runs as root")
        directory = "/var/tmp/confine-wrapper-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Two tests, the first holding 40 MiB it wrote: a figure that could only come from the plugin.
    func writePytestProject() throws {
        try """
        import os, time
        def test_big():
            block = bytearray(40 * 1024 * 1024)
            time.sleep(0.2)
            assert len(block) > 0
        def test_small():
            time.sleep(0.05)
            with open(os.path.join(os.path.dirname(__file__), "mark.txt"), "w") as mark:
                mark.write(os.environ.get("MARK", "unset"))
        """.write(toFile: directory + "/test_wrapped.py", atomically: true, encoding: .utf8)
    }

    func assertPytestFigures(_ report: RunReport?, _ result: Harness.Result, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr, file: file, line: line)
        let tests = report?.tests ?? []
        XCTAssertEqual(tests.map(\.name).sorted(), ["test_wrapped.py::test_big", "test_wrapped.py::test_small"], result.stderr, file: file, line: line)
        XCTAssertTrue(tests.allSatisfy { $0.source == .pytest && $0.outcome == .passed }, file: file, line: line)
        let big = tests.first { $0.name.hasSuffix("test_big") }
        XCTAssertGreaterThanOrEqual(big?.peakGrowthBytes ?? 0, 30 << 20, "test_big's 40 MiB is its own", file: file, line: line)
        XCTAssertFalse(report?.warnings.contains { $0.hasPrefix("tests:") } ?? true, "no silence warning: \(report?.warnings ?? [])", file: file, line: line)
    }

    func testMakeAndAScriptStartingSwiftTestAreReadWithoutRunner() throws {
        XCTAssertTrue(AttributionScenarioTests.swiftSuiteBuilt, "examples/swift-suite does not build")
        let swiftTest = "swift test --skip-build --package-path \(AttributionScenarioTests.swiftSuite) --filter MemoryXCTests"
        try "test:\n\t\(swiftTest)\n".write(toFile: directory + "/Makefile", atomically: true, encoding: .utf8)
        let (made, madeReport) = Harness.confineRun([], ["make", "-s", "-C", directory, "test"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let names = madeReport?.tests.map(\.name).sorted() ?? []
        XCTAssertEqual(names, ["MemoryXCTests.testBigAllocation", "MemoryXCTests.testSmallA", "MemoryXCTests.testSmallB"], made.stderr)
        XCTAssertTrue(madeReport?.tests.allSatisfy { $0.source == .xctest && $0.peakBytes != nil } ?? false)
        XCTAssertTrue(made.stdout.contains("Executed 3 tests"), "the output still reaches the terminal: \(made.stdout)")
        // The same through a shell script.
        try "#!/bin/sh\nset -e\n\(swiftTest)\n".write(toFile: directory + "/run-tests.sh", atomically: true, encoding: .utf8)
        chmod(directory + "/run-tests.sh", 0o755)
        let (scripted, scriptedReport) = Harness.confineRun([], [directory + "/run-tests.sh"])
        XCTAssertEqual(scripted.status, 0, scripted.stderr)
        XCTAssertEqual(scriptedReport?.tests.map(\.name).sorted(), names)
        // A shard cannot reach a swift test behind make: said, not silently the whole suite.
        let (sharded, shardedReport) = Harness.confineRun(["--shard", "1/2"], ["make", "-s", "-C", directory, "test"])
        XCTAssertEqual(sharded.status, 0, sharded.stderr)
        XCTAssertTrue(shardedReport?.warnings.contains { $0.hasPrefix("--shard: swift test (pid ") } ?? false, "\(shardedReport?.warnings ?? [])")
    }

    /// A command that is no runner writes to confine's terminal (the runner is looked for in the
    /// process tree); where confine's own output is a pipe, a pager must not stop it: git log's
    /// 101 commits all arrive, with git's exit status.
    func testAPagerDoesNotCutTheOutputOfAWrappedCommand() throws {
        func git(_ arguments: [String]) -> Harness.Result {
            Harness.run(["/usr/bin/git", "-C", directory, "-c", "user.email=ci@example.com", "-c", "user.name=ci"] + arguments)
        }
        XCTAssertEqual(git(["init", "-q"]).status, 0)
        for index in 1...101 { XCTAssertEqual(git(["commit", "-q", "--allow-empty", "-m", "commit \(index)"]).status, 0) }
        let (result, _) = Harness.confineRun(["--quiet"], ["git", "-C", directory, "log", "--oneline"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").filter { $0.contains("commit ") }.count, 101, result.stdout)
        // less called directly: it shows all and quits, with status 0.
        let (less, _) = Harness.confineRun(["--quiet"], ["sh", "-c", "seq 500 | less; echo less-status=$?"])
        XCTAssertEqual(less.status, 0, less.stderr)
        XCTAssertTrue(less.stdout.contains("500") && less.stdout.contains("less-status=0"), less.stdout)
    }

    func testToxPassesThePluginsVariablesThroughConfinesOverride() throws {
        try writePytestProject()
        // system_site_packages: pytest is there already, so nothing is fetched from an index.
        try """
        [tox]
        skipsdist = true
        [testenv]
        system_site_packages = true
        deps = pytest
        commands = python -m pytest -q -p no:cacheprovider
        """.write(toFile: directory + "/tox.ini", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun([], ["tox", "-q", "-c", directory + "/tox.ini"])
        assertPytestFigures(report, result)
        // A caller's own TOX_OVERRIDE is kept, confine's added after a `;`.
        let reportPath = directory + "/kept.json"
        let kept = Harness.run(["/usr/bin/env", "TOX_OVERRIDE=testenv.set_env=MARK=1", Harness.confine, "run", "--report", reportPath, "--",
                                "tox", "-q", "-c", directory + "/tox.ini"])
        let keptReport = try FileManager.default.contents(atPath: reportPath).map { try RunReport.decode($0) }
        assertPytestFigures(keptReport, kept)
        XCTAssertEqual(try String(contentsOfFile: directory + "/mark.txt", encoding: .utf8), "1", "the caller's own override applied too")
        // An override on tox's command line replaces the variable: the figures vanish, and the
        // summary says why and what to add.
        let (hidden, hiddenReport) = Harness.confineRun([], ["tox", "-q", "-c", directory + "/tox.ini", "-x", "testenv.pass_env=HOME"])
        XCTAssertEqual(hidden.status, 0, hidden.stderr)
        XCTAssertEqual(hiddenReport?.tests.count, 0)
        XCTAssertTrue(hidden.stderr.contains("tox did not hand confine's variables to it"), hidden.stderr)
        XCTAssertTrue(hidden.stderr.contains("pass_env = CONFINE_*, PYTHONPATH"), hidden.stderr)
        // A testenv that sets its own PYTHONPATH: the suite still runs (the plugin is not named
        // where it cannot be imported), and the summary names set_env and the wheel.
        try FileManager.default.createDirectory(atPath: directory + "/src", withIntermediateDirectories: true)
        try """
        [tox]
        skipsdist = true
        [testenv]
        system_site_packages = true
        set_env = PYTHONPATH = {toxinidir}/src
        commands = python -m pytest -q -p no:cacheprovider
        """.write(toFile: directory + "/tox.ini", atomically: true, encoding: .utf8)
        let (own, ownReport) = Harness.confineRun([], ["tox", "-q", "-c", directory + "/tox.ini"])
        XCTAssertEqual(own.status, 0, own.stdout + own.stderr)
        XCTAssertFalse(own.stdout.contains("Error importing plugin"), own.stdout)
        XCTAssertEqual(ownReport?.tests.count, 0)
        XCTAssertTrue(own.stderr.contains("a `set_env` of PYTHONPATH in tox.ini replaces confine's"), own.stderr)
    }

    func testNoxPassesTheEnvironmentOn() throws {
        try writePytestProject()
        try """
        import nox

        @nox.session(venv_params=["--system-site-packages"])
        def tests(session):
            session.install("pytest")
            session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
        """.write(toFile: directory + "/noxfile.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun([], ["nox", "-f", directory + "/noxfile.py"])
        assertPytestFigures(report, result)
    }
}

/// Test ids are the suite's text: a newline or an escape sequence in one must neither start a line
/// of confine's summary or Markdown (`::error` is a GitHub workflow command) nor split the test in
/// two (the plugin's `collected` file is line-based).
final class HostileNameScenarioTests: XCTestCase {
    func testANewlineInATestIdStaysInsideItsName() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups; CI runs as root")
        let directory = "/var/tmp/confine-names-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // pytest escapes ids unless told not to; a suite can tell it.
        try "[pytest]\ndisable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n"
            .write(toFile: directory + "/pytest.ini", atomically: true, encoding: .utf8)
        try """
        import pytest
        @pytest.mark.parametrize("s", ["a"], ids=["x\\n::error file=evil.py::INJECTED"])
        def test_hostile(s):
            assert 1 / 0
        @pytest.mark.parametrize("s", ["b"], ids=["\\x1b[31mred\\x07"])
        def test_colour(s):
            pass
        """.write(toFile: directory + "/test_names.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun([], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", directory, directory])
        XCTAssertEqual(result.status, 1, result.stderr)
        let names = report?.tests.map(\.name).sorted() ?? []
        XCTAssertEqual(names, ["test_names.py::test_colour[\u{1b}[31mred\u{07}]", "test_names.py::test_hostile[x\n::error file=evil.py::INJECTED]"],
                       "two tests, each under its own name")
        let summaryLines = result.stderr.split(separator: "\n")
        XCTAssertFalse(summaryLines.contains { $0.hasPrefix("::") }, result.stderr)
        XCTAssertTrue(result.stderr.contains("x ::error file=evil.py::INJECTED") || result.stderr.contains("x␊::error file=evil.py::INJECTED"),
                      "the name is shown, on its line: \(result.stderr)")
        XCTAssertFalse(result.stderr.contains("\u{07}"), "no BEL reaches the terminal")
        let path = directory + "/r.json"
        try XCTUnwrap(report).jsonData().write(to: URL(fileURLWithPath: path))
        let markdown = Harness.run([Harness.confine, "report", path, "--format", "markdown"])
        XCTAssertEqual(markdown.status, 0, markdown.stderr)
        XCTAssertFalse(markdown.stdout.split(separator: "\n").contains { $0.hasPrefix("::") }, markdown.stdout)
        XCTAssertFalse(markdown.stdout.contains("\u{1b}"), markdown.stdout)
    }
}
