import ConfineCore
import Foundation
import XCTest

/// Issue 21 §1 on real runs: pytest shards through the plugin and `swift test` shards by filters
/// are disjoint and cover the suite, the same split as `confine shard --list`, balanced by a
/// previous report; merged, they are the unsharded run; a missing shard is said.
final class ShardScenarioTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups; CI runs as root")
        // Not under /tmp: one test covers /tmp with a tmpfs, as a pod does.
        directory = "/var/tmp/confine-shards-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // 30 tests, three of them long.
        var files: [String: String] = [:]
        for file in 0..<3 {
            var text = "import time\n"
            for test in 0..<10 {
                let slow = test == 0
                text += "def test_\(file)_\(test)():\n    time.sleep(\(slow ? "0.3 + \(file) * 0.05" : "0.005"))\n\n"
            }
            files["test_part\(file).py"] = text
        }
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    func pytest(_ options: [String]) -> (Harness.Result, RunReport?) {
        Harness.confineRun(options, ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", directory, directory])
    }

    func names(_ report: RunReport?) -> Set<String> { Set(report?.tests.map(\.name) ?? []) }

    func testPytestShardsAreDisjointCoverTheSuiteAndMergeIntoTheWhole() throws {
        let (whole, wholeReport) = pytest([])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertEqual(names(wholeReport).count, 30)
        var paths: [String] = []
        var seen = Set<String>()
        let listFile = directory + "/names.txt"
        try wholeReport!.tests.map(\.name).joined(separator: "\n").write(toFile: listFile, atomically: true, encoding: .utf8)
        for index in 1...3 {
            let (result, report) = pytest(["--shard", "\(index)/3"])
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
            XCTAssertEqual(report?.shard, ShardPosition(index: index, total: 3))
            XCTAssertTrue(seen.isDisjoint(with: names(report)), "shard \(index) repeats a test")
            seen.formUnion(names(report))
            XCTAssertTrue(result.stdout.contains("deselected"), "pytest says what the shard left to the others: \(result.stdout)")
            // The plugin's split (Python) is confine's (Swift): `confine shard --list` agrees.
            let listed = Harness.run([Harness.confine, "shard", "--list", listFile, "--shard", "\(index)/3"])
            XCTAssertEqual(Set(listed.stdout.split(separator: "\n").map(String.init)), names(report), listed.stderr)
            paths.append(try Harness.write(report, to: directory + "/shard-\(index).json"))
        }
        XCTAssertEqual(seen, names(wholeReport), "the shards cover the suite")
        let output = directory + "/merged.json"
        let (merge, merged) = try Harness.merge(paths, output: output)
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertFalse(merge.stderr.contains("warning"), merge.stderr)
        XCTAssertEqual(names(merged), names(wholeReport))
        // Without the probe channel the plugin still shards (it is on the path for --shard).
        let (noProbe, _) = pytest(["--no-probe", "--shard", "1/3"])
        XCTAssertTrue(noProbe.stdout.contains("deselected"), noProbe.stdout)
        let missing = Harness.run([Harness.confine, "merge", paths[0], paths[2], "--output", output])
        XCTAssertEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("confine merge: warning: shard 2/3 is missing"), missing.stderr)
    }

    /// With the unsharded report's durations, the three long tests land in three shards and the
    /// shards' test time differs by at most 30%.
    func testDurationsFromABaselineBalanceTheShards() throws {
        let (whole, wholeReport) = pytest([])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let baseline = directory + "/baseline.json"
        try XCTUnwrap(wholeReport).jsonData().write(to: URL(fileURLWithPath: baseline))
        var times: [Double] = []
        var slow: [Int: Int] = [:]
        for index in 1...3 {
            let (result, report) = pytest(["--shard", "\(index)/3", "--shard-durations", baseline])
            XCTAssertEqual(result.status, 0, result.stderr)
            let tests = try XCTUnwrap(report).tests
            times.append(tests.compactMap(\.durationSeconds).reduce(0, +))
            for test in tests where test.name.hasSuffix("_0") { slow[index, default: 0] += 1 }
        }
        XCTAssertEqual(slow, [1: 1, 2: 1, 3: 1], "one long test per shard")
        XCTAssertLessThanOrEqual((times.max()! - times.min()!) / times.max()!, 0.30, "\(times)")
    }

    /// A node id longer than the probe's 1024-byte names is in the baseline cut (`…#crc`): its
    /// duration still places it. The long test is the longest, so it goes to shard 1; its id is
    /// chosen so that by hash it would go to shard 2.
    func testALongNodeIdKeepsItsDuration() throws {
        let long = directory + "/long"
        try FileManager.default.createDirectory(atPath: long, withIntermediateDirectories: true)
        var suffix = 0
        func nodeId(_ suffix: Int) -> String { "test_long.py::test_long[\(String(repeating: "p", count: 1100))\(suffix)]" }
        while ShardAssignment(total: 2, assigned: [:]).shard(of: nodeId(suffix)) != 2 { suffix += 1 }
        try """
        import time, pytest
        @pytest.mark.parametrize("p", ["\(String(repeating: "p", count: 1100))\(suffix)"])
        def test_long(p):
            time.sleep(0.3)
        def test_a():
            pass
        def test_b():
            pass
        """.write(toFile: long + "/test_long.py", atomically: true, encoding: .utf8)
        func run(_ options: [String]) -> (Harness.Result, RunReport?) {
            Harness.confineRun(options, ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", long, long])
        }
        let (whole, wholeReport) = run([])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let cut = try XCTUnwrap(wholeReport?.tests.first { $0.name.hasPrefix("test_long.py::test_long[") }).name
        XCTAssertLessThanOrEqual(cut.utf8.count, 1024)
        XCTAssertTrue(cut.contains("…#"), cut)
        let baseline = directory + "/long-baseline.json"
        try XCTUnwrap(wholeReport).jsonData().write(to: URL(fileURLWithPath: baseline))
        let (first, firstReport) = run(["--shard", "1/2", "--shard-durations", baseline])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(names(firstReport).contains(cut), "the longest test goes to shard 1 by its duration: \(names(firstReport))")
    }

    /// The balanced split under a read-only root with a tmpfs over /tmp (a pod's usual setup):
    /// the assignment reaches the plugin through the probe's directory.
    func testDurationsReachThePluginUnderAReadOnlyRoot() throws {
        let (whole, wholeReport) = pytest([])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let baseline = directory + "/baseline.json"
        try XCTUnwrap(wholeReport).jsonData().write(to: URL(fileURLWithPath: baseline))
        var seen = Set<String>()
        for index in 1...3 {
            let (result, report) = pytest(["--profile", "container-default", "--read-only", "--tmpfs", "/tmp",
                                           "--shard", "\(index)/3", "--shard-durations", baseline])
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
            XCTAssertEqual(report?.tests.filter { $0.name.hasSuffix("_0") }.count, 1, "one long test per shard")
            XCTAssertNotNil(report?.shard?.durationsFrom)
            seen.formUnion(names(report))
        }
        XCTAssertEqual(seen, names(wholeReport))
    }

    /// More shards than tests: an empty shard succeeds (pytest's "no tests collected" is not a failure there).
    func testAnEmptyShardSucceeds() throws {
        let (result, report) = pytest(["--shard", "1/2"])
        XCTAssertEqual(result.status, 0)
        let few = directory + "/few"
        try FileManager.default.createDirectory(atPath: few, withIntermediateDirectories: true)
        try "def test_only():\n    pass\n".write(toFile: few + "/test_few.py", atomically: true, encoding: .utf8)
        var ran = 0
        for index in 1...5 {
            let (shard, shardReport) = Harness.confineRun(["--shard", "\(index)/5"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", few])
            XCTAssertEqual(shard.status, 0, "shard \(index): \(shard.stdout)")
            ran += shardReport?.tests.count ?? 0
        }
        XCTAssertEqual(ran, 1)
        _ = report
    }

    /// Merge says when its reports are not shards, or were split differently.
    func testMergeSaysWhatDoesNotAddUp() throws {
        let (_, wholeReport) = pytest([])
        let whole = directory + "/whole.json"
        try XCTUnwrap(wholeReport).jsonData().write(to: URL(fileURLWithPath: whole))
        let twice = Harness.run([Harness.confine, "merge", whole, whole, "--output", directory + "/twice.json"])
        XCTAssertTrue(twice.stderr.contains("30 tests appear in more than one report: these are not disjoint shards"), twice.stderr)
        let (_, hashed) = pytest(["--shard", "1/2"])
        let (_, balanced) = pytest(["--shard", "2/2", "--shard-durations", whole])
        let first = directory + "/h1.json", second = directory + "/d2.json"
        try XCTUnwrap(hashed).jsonData().write(to: URL(fileURLWithPath: first))
        try XCTUnwrap(balanced).jsonData().write(to: URL(fileURLWithPath: second))
        let mixed = Harness.run([Harness.confine, "merge", first, second, "--output", directory + "/mixed.json"])
        XCTAssertTrue(mixed.stderr.contains("the shards were split differently"), mixed.stderr)
    }

    /// `swift test` sharded by the filters confine builds from `swift test list`.
    func testSwiftTestShardsAreDisjointAndCoverTheSuite() throws {
        XCTAssertTrue(AttributionScenarioTests.swiftSuiteBuilt, "examples/swift-suite does not build")
        let suite = AttributionScenarioTests.swiftSuite
        let (whole, wholeReport) = Harness.confineRun([], ["swift", "test", "--skip-build", "--package-path", suite])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        var seen = Set<String>()
        for index in 1...2 {
            let (result, report) = Harness.confineRun(["--shard", "\(index)/2"], ["swift", "test", "--skip-build", "--package-path", suite])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stderr.contains("confine: shard \(index)/2: "), result.stderr)
            XCTAssertTrue(seen.isDisjoint(with: names(report)))
            seen.formUnion(names(report))
        }
        XCTAssertEqual(seen, names(wholeReport))
        XCTAssertGreaterThan(seen.count, 1)
        // A shard the split left empty (more shards than tests) passes quietly: no warning that
        // the output held no boundary or was not read.
        let listed = Harness.run(["/usr/bin/env", "swift", "test", "list", "--skip-build", "--package-path", suite])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let listFile = directory + "/swift-names.txt"
        try listed.stdout.write(toFile: listFile, atomically: true, encoding: .utf8)
        let empty = try XCTUnwrap((1...64).first { index in
            Harness.run([Harness.confine, "shard", "--list", listFile, "--shard", "\(index)/64"]).stdout.isEmpty
        }, "some shard of 64 is empty")
        let (emptied, emptiedReport) = Harness.confineRun(["--shard", "\(empty)/64"], ["swift", "test", "--skip-build", "--package-path", suite])
        XCTAssertEqual(emptied.status, 0, emptied.stderr)
        XCTAssertTrue(emptied.stderr.contains("confine: shard \(empty)/64: 0 of "), emptied.stderr)
        XCTAssertEqual(emptiedReport?.tests.count, 0)
        XCTAssertEqual(emptiedReport?.warnings ?? ["no report"], [], "an empty shard is not a silent runner")
        // The list is the run's first step: when it fails, a setup failure with a report.
        let (broken, brokenReport) = Harness.confineRun(["--shard", "1/2"], ["swift", "test", "--skip-build", "--package-path=/nonexistent-confine"])
        XCTAssertEqual(broken.status, 125, broken.stderr)
        XCTAssertEqual(brokenReport?.setupError?.step, "swift test list")
        XCTAssertEqual(brokenReport?.shard?.index, 1)
    }
}

/// Issue 21 §3, in part: when a runner ran but no test boundary reached confine, the report and
/// the summary say so, naming the runner and the fix — never silence.
final class RunnerSilenceScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups; CI runs as root")
    }

    func testAWrapperThatHidesTheRunnerIsSaid() throws {
        let directory = "/var/tmp/confine-silence-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "def test_a():\n    pass\n".write(toFile: directory + "/test_s.py", atomically: true, encoding: .utf8)
        // A wrapper that drops the variables loading the plugin (what tox does without passenv).
        let (cleared, clearedReport) = Harness.confineRun([], ["env", "-u", "PYTEST_PLUGINS", "-u", "PYTHONPATH", "python3", "-m", "pytest", "-q",
                                                               "-p", "no:cacheprovider", directory + "/test_s.py"])
        XCTAssertEqual(cleared.status, 0, cleared.stderr)
        XCTAssertEqual(clearedReport?.tests.count, 0)
        XCTAssertTrue(cleared.stderr.contains("warning  tests: pytest was started (pid "), cleared.stderr)
        XCTAssertTrue(clearedReport?.warnings.contains { $0.contains("lost CONFINE_*, PYTEST_PLUGINS or PYTHONPATH") } == true)
        // Only PYTEST_PLUGINS lost: the plugin's entry point on PYTHONPATH still loads it.
        let (entry, entryReport) = Harness.confineRun([], ["env", "-u", "PYTEST_PLUGINS", "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                           directory + "/test_s.py"])
        XCTAssertEqual(entry.status, 0, entry.stderr)
        XCTAssertEqual(entryReport?.tests.map(\.name), ["test_s.py::test_a"], entry.stderr)
        // `env -i` named as the cause; a shard the plugin did not reach is said not to be one.
        let (emptied, emptiedReport) = Harness.confineRun(["--shard", "1/3"], ["env", "-i", "PATH=\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")",
                                                                               "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", directory + "/test_s.py"])
        XCTAssertEqual(emptied.status, 0, emptied.stderr)
        let silence = emptiedReport?.warnings.first { $0.hasPrefix("tests: pytest was started") } ?? ""
        XCTAssertTrue(silence.contains("an `env -i` in the run cleared the environment"), silence)
        // A suite that probes its functions, with the plugin switched off: the probe's calls
        // arrive, but no test did — said, and the shard with it.
        try "import confine_probe\n@confine_probe.measure\ndef work():\n    return 1\ndef test_p():\n    work()\n"
            .write(toFile: directory + "/test_p.py", atomically: true, encoding: .utf8)
        let (off, offReport) = Harness.confineRun(["--shard", "1/3"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:confine_pytest",
                                                                       directory + "/test_p.py"])
        XCTAssertEqual(off.status, 0, off.stderr)
        XCTAssertEqual(offReport?.functions.first?.calls, 1, "the probe's call arrived")
        let offSilence = offReport?.warnings.first { $0.hasPrefix("tests: pytest was started") } ?? ""
        XCTAssertTrue(offSilence.contains("its command disables confine's plugin (-p no:confine_pytest)"), "\(offReport?.warnings ?? [])")
        XCTAssertTrue(offSilence.contains("--shard 1/3 was not applied"), offSilence)
        XCTAssertTrue(silence.contains("--shard 1/3 was not applied: this pytest was not split (whatever it ran, it ran whole)"), silence)
        // make → swift test with its output left unread (--runner none): said, with the fix.
        XCTAssertTrue(AttributionScenarioTests.swiftSuiteBuilt, "examples/swift-suite does not build")
        try "test:\n\tswift test --skip-build --package-path \(AttributionScenarioTests.swiftSuite) --filter MemoryXCTests\n"
            .write(toFile: directory + "/Makefile", atomically: true, encoding: .utf8)
        let (unread, unreadReport) = Harness.confineRun(["--runner", "none"], ["make", "-s", "-C", directory, "test"])
        XCTAssertEqual(unread.status, 0, unread.stderr)
        XCTAssertEqual(unreadReport?.tests.count, 0)
        XCTAssertTrue(unread.stderr.contains("but confine did not read its output (--runner none, or --copies): add --runner swift-test"), unread.stderr)
    }
}
