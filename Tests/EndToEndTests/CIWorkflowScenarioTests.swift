import ConfineCore
import Foundation
import XCTest
import Yams

/// Issue 21: the GitHub Action (action.yml and its scripts in ci/action/), the GitHub workflow
/// template (shards + fan-in, same-runner mode) and the GitLab template's scripts, run here for
/// real on small pytest projects with a fake GitHub environment (FakeGitHubRunner): confine is
/// installed from a release tarball (a file:// URL), runs as root through sudo, and the reports,
/// summaries, comments and exit codes are what a team would get.
final class CIWorkflowScenarioTests: XCTestCase {
    var scratch = ""
    var project = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups; CI runs as root")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "/usr/bin/sudo"), "sudo is missing: ci/setup installs it")
        // Not under /tmp: other tests cover /tmp with a tmpfs.
        scratch = "/var/tmp/confine-ci-\(UUID().uuidString.prefix(8))"
        project = scratch + "/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if !project.isEmpty { _ = Harness.run(["/usr/bin/git", "-C", project, "worktree", "prune"]) }
        if !scratch.isEmpty { try? FileManager.default.removeItem(atPath: scratch) }
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    // MARK: helpers

    /// The release tarball ci/package makes (confine-VERSION/{bin/confine, share/confine/profiles,
    /// share/confine/python}), built from the binary under test; returns the directory URL.
    func releaseDirectory() throws -> (url: String, version: String) {
        let version = Harness.run([Harness.confine, "--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(version.isEmpty)
        let release = scratch + "/release"
        let top = scratch + "/package/confine-\(version)"
        let fm = FileManager.default
        for dir in ["/bin", "/share/confine/python"] {
            try fm.createDirectory(atPath: top + dir, withIntermediateDirectories: true)
        }
        try fm.createDirectory(atPath: release, withIntermediateDirectories: true)
        try fm.copyItem(atPath: Harness.confine, toPath: top + "/bin/confine")
        // The profiles with their seccomp/ directory (container-default.json): the built-in
        // profiles name it.
        try fm.copyItem(atPath: Harness.packageRoot.appendingPathComponent("profiles").path, toPath: top + "/share/confine/profiles")
        let python = Harness.packageRoot.appendingPathComponent("Sources/ConfinePython").path
        for file in try fm.contentsOfDirectory(atPath: python) where file.hasSuffix(".py") {
            try fm.copyItem(atPath: python + "/" + file, toPath: top + "/share/confine/python/" + file)
        }
        let arch = Harness.run(["/usr/bin/uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let tar = Harness.run(["/bin/tar", "-czf", release + "/confine-\(version)-linux-\(arch).tar.gz", "-C", scratch + "/package", "confine-\(version)"])
        XCTAssertEqual(tar.status, 0, tar.stderr)
        try fm.removeItem(atPath: scratch + "/package")
        return ("file://" + release, version)
    }

    func write(_ files: [String: String], in directory: String) throws {
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    @discardableResult
    func git(_ arguments: [String], in directory: String? = nil) -> String {
        let result = Harness.run(["/usr/bin/git", "-C", directory ?? project, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments)
        XCTAssertEqual(result.status, 0, "git \(arguments): \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func commitAll(_ message: String) -> String {
        git(["add", "-A"])
        git(["commit", "-q", "-m", message])
        return git(["rev-parse", "HEAD"])
    }

    /// A pytest project of `files` × `tests` quick tests, committed.
    func pytestProject(files: Int, tests: Int) throws {
        var sources: [String: String] = [".gitignore": "__pycache__/\n"]
        for file in 1...files {
            sources["tests/test_part\(file).py"] = (1...tests).map { "def test_\(file)_\($0)():\n    assert \($0) > 0\n" }.joined(separator: "\n")
        }
        try write(sources, in: project)
        git(["init", "-q", "-b", "main"])
        _ = commitAll("tests")
    }

    func runner(_ release: String) throws -> FakeGitHubRunner {
        let runner = try FakeGitHubRunner(workspace: project, scratch: scratch)
        runner.extraEnvironment["CONFINE_RELEASE_URL"] = release
        return runner
    }

    /// A one-job workflow around the action, as a team writes it.
    func actionWorkflow(_ with: [String: String]) throws -> [String: Any] {
        let step: [String: Any] = ["id": "confine", "uses": "confine-dev/confine@v1", "with": with]
        return ["jobs": ["test": ["steps": [["uses": "actions/checkout@v4"], step]]]]
    }

    func report(_ path: String) throws -> RunReport {
        try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    // MARK: 1. the action alone

    /// The run script on its own, as a newcomer drove it: the suite sees the job's environment
    /// (sudo's env_reset must not strip it), quotes that do not pair up are refused rather than
    /// dropping words, `NAME=value command` and globs go through a shell; the fan-in says a
    /// profile it cannot judge with in its comment and exit code.
    func testTheRunScriptKeepsTheJobsEnvironmentAndRefusesWhatItCannotSplit() throws {
        try """
        import os
        def test_env():
            with open(os.path.join(os.path.dirname(__file__), "seen.txt"), "w") as seen:
                seen.write("%s|%s" % (os.environ.get("MY_DB_URL"), os.environ.get("FOO")))
        """.write(toFile: project + "/test_env.py", atomically: true, encoding: .utf8)
        let bin = (Harness.confine as NSString).deletingLastPathComponent
        let outputs = scratch + "/outputs"
        func runScript(_ name: String, _ environment: [String], arguments: [String] = []) -> (Harness.Result, String) {
            FileManager.default.createFile(atPath: outputs, contents: nil)
            let result = Harness.run(["/usr/bin/env", "-C", project, "PATH=\(bin):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")", "GITHUB_OUTPUT=\(outputs)",
                                      "PYTHONDONTWRITEBYTECODE=1"] + environment
                                     + [Harness.packageRoot.appendingPathComponent("ci/action/\(name)").path] + arguments)
            return (result, (try? String(contentsOfFile: outputs, encoding: .utf8)) ?? "")
        }
        let pytest = "python3 -m pytest -q -p no:cacheprovider test_env.py"
        let (kept, keptOutputs) = runScript("run", ["MY_DB_URL=postgres://db", "INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=r.json", "INPUT_COMMAND=\(pytest)"])
        XCTAssertTrue(keptOutputs.contains("exit=0"), kept.stdout + kept.stderr + keptOutputs)
        XCTAssertEqual(try String(contentsOfFile: project + "/seen.txt", encoding: .utf8), "postgres://db|None", "the job's variables reach the suite")
        let (assigned, assignedOutputs) = runScript("run", ["INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=r.json",
                                                            "INPUT_COMMAND=FOO=1 python3 -m pytest -q -p no:cacheprovider test_e*.py"])
        XCTAssertTrue(assignedOutputs.contains("exit=0"), assigned.stdout + assigned.stderr + assignedOutputs)
        XCTAssertEqual(try String(contentsOfFile: project + "/seen.txt", encoding: .utf8), "None|1", "NAME=value and a glob through a shell")
        try FileManager.default.removeItem(atPath: project + "/r.json")
        let (unpaired, unpairedOutputs) = runScript("run", ["INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=r.json", "INPUT_ARGS=-e MSG=it's --timeout 20m",
                                                            "INPUT_COMMAND=\(pytest)"])
        XCTAssertTrue(unpairedOutputs.contains("exit=64"), unpaired.stderr + unpairedOutputs)
        XCTAssertTrue(unpaired.stderr.contains("the args input has unbalanced quotes"), unpaired.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: project + "/r.json"), "nothing ran with a word lost")
        // The same with shell syntax: bash's syntax error is the input's, not the suite's failure.
        let (unshelled, unshelledOutputs) = runScript("run", ["INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=r.json",
                                                              "INPUT_COMMAND=FOO=1 python3 -m pytest -q -k \"env"])
        XCTAssertTrue(unshelledOutputs.contains("exit=64"), unshelled.stderr + unshelledOutputs)
        XCTAssertTrue(unshelled.stderr.contains("the command input is not valid shell"), unshelled.stderr)
        // A stray word in args would have become the command, the suite its arguments.
        let (stray, strayOutputs) = runScript("run", ["INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=r.json", "INPUT_ARGS=--timeout 20m echo REPLACED",
                                                      "INPUT_COMMAND=\(pytest)"])
        XCTAssertTrue(strayOutputs.contains("exit=64"), stray.stdout + stray.stderr + strayOutputs)
        XCTAssertFalse(stray.stdout.contains("REPLACED"), stray.stdout)
        // The fan-in with a profile that does not exist: no verdict, said in the comment.
        _ = runScript("run", ["INPUT_PROFILE=k8s-512mi", "INPUT_REPORT=shard-1.json", "INPUT_SHARD=1/1", "INPUT_COMMAND=\(pytest)"])
        let (judged, judgedOutputs) = runScript("fan-in", ["INPUT_PROFILE=nope.yaml", "INPUT_REPORT=merged.json", "INPUT_COMMENT=comment.md"],
                                                arguments: ["shard-1.json"])
        XCTAssertEqual(judged.status, 64, judged.stderr)
        XCTAssertTrue(judgedOutputs.contains("exit-code=64"), judgedOutputs)
        let comment = try String(contentsOfFile: project + "/comment.md", encoding: .utf8)
        XCTAssertTrue(comment.contains("could not be judged") && comment.contains("nope.yaml"), comment)
    }

    func testTheActionInstallsFromTheReleaseRunsReportsAndFailsAsConfineDoes() throws {
        try pytestProject(files: 1, tests: 2)
        try write(["tight.yaml": "extends: k8s-512mi\nbudgets:\n  suite:\n    peak_rss: 1Mi\n"], in: project)
        _ = commitAll("a tight profile")
        let (release, version) = try releaseDirectory()
        let runner = try runner(release)
        let command = "python3 -m pytest -q -p no:cacheprovider tests"

        let passed = try runner.runJob(try actionWorkflow(["profile": "k8s-512mi", "command": command]), "test")
        let action = try XCTUnwrap(passed.step("confine"))
        XCTAssertEqual(passed.status, 0, passed.log)
        XCTAssertEqual(action.inner.map(\.name), ["Install confine", "Run the suite under the profile", "Reports", "Upload the reports", "Verdict"])
        XCTAssertTrue(action.inner.allSatisfy(\.ran))
        // Installed from the tarball, not found on PATH or built.
        XCTAssertTrue(passed.log.contains("confine: downloading \(release)/confine-\(version)-linux-"), passed.log)
        XCTAssertTrue(action.inner[0].outputs["path"]?.hasSuffix("/confine/confine-\(version)/bin/confine") == true, "\(action.inner[0].outputs)")
        XCTAssertFalse(passed.log.contains("ci/build"), passed.log)
        // The run step's GITHUB_OUTPUT, the reports step's verdict and the action's outputs.
        XCTAssertEqual(action.inner[1].outputs["exit"], "0")
        XCTAssertEqual(action.inner[2].outputs["exit-code"], "0")
        XCTAssertEqual(action.outputs, ["exit-code": "0", "report": "confine-report.json"])
        let json = try report(project + "/confine-report.json")
        XCTAssertEqual(json.exitCode, 0)
        XCTAssertEqual(Set(json.tests.map(\.name)), ["tests/test_part1.py::test_1_1", "tests/test_part1.py::test_1_2"])
        // The job summary has the Markdown report (once: confine run's own append is left out).
        XCTAssertTrue(passed.summary.contains("confine: passed (exit 0)"), passed.summary)
        XCTAssertTrue(passed.summary.contains("tests/test_part1.py::test_1_2"), passed.summary)
        XCTAssertEqual(passed.summary.components(separatedBy: "confine: passed (exit 0)").count, 2, "the report once in the summary")
        let junit = read(project + "/confine-report.junit.xml")
        XCTAssertTrue(junit.contains("<testcase") && junit.contains("test_1_1"), junit)
        XCTAssertTrue(read(project + "/confine-report.html").contains("<html"))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: runner.artifacts + "/confine-reports")),
                       ["confine-report.json", "confine-report.html", "confine-report.junit.xml", "confine-report.md"])
        XCTAssertEqual(action.inner[4].status, Int32(json.exitCode))

        // A broken budget: exit 99 goes through every step, the reports are still written. This
        // time a confine of the right version is on PATH already: it is used, nothing downloaded.
        try FileManager.default.removeItem(atPath: runner.artifacts + "/confine-reports")
        let bin = scratch + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/confine", withDestinationPath: Harness.confine)
        runner.extraEnvironment["PATH"] = bin + ":" + FakeGitHubRunner.pathWithoutConfine
        let failed = try runner.runJob(try actionWorkflow(["profile": "tight.yaml", "command": command, "report": "tight.json"]), "test")
        let failing = try XCTUnwrap(failed.step("confine"))
        XCTAssertEqual(failed.status, 99, failed.log)
        XCTAssertTrue(failed.log.contains("confine: using \(bin)/confine (\(version))"), failed.log)
        XCTAssertFalse(failed.log.contains("downloading"), failed.log)
        XCTAssertEqual(failing.inner[1].status, 0, "the run step does not fail before the reports exist")
        XCTAssertEqual(failing.inner[1].outputs["exit"], "99")
        XCTAssertTrue(failing.inner[2].ran && failing.inner[3].ran, "reports and upload run after the failure")
        XCTAssertEqual(failing.inner[4].status, 99, "the verdict step exits with confine's code")
        XCTAssertEqual(failing.outputs["exit-code"], "99")
        XCTAssertEqual(try report(project + "/tight.json").exitCode, 99)
        XCTAssertTrue(failed.summary.contains("budget"), failed.summary)
        XCTAssertTrue(read(project + "/tight.junit.xml").contains("<failure"), "the broken budget is a JUnit failure")
        XCTAssertTrue(failed.log.contains("::error"), "a failed budget is an annotation: \(failed.log)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runner.artifacts + "/confine-reports/tight.json"))
    }

    // MARK: 2. the template: shards and fan-in

    func testTheTemplateRunsShardsAndMergesThemInTheFanIn() throws {
        try pytestProject(files: 3, tests: 3)
        let (release, _) = try releaseDirectory()
        let runner = try runner(release)
        runner.envOverrides = ["PROFILE": "k8s-512mi", "TEST_COMMAND": "python3 -m pytest -q -p no:cacheprovider tests"]
        let workflow = try FakeGitHubRunner.load(Harness.packageRoot.appendingPathComponent("ci/github/load-and-limits.yml").path)
        let jobs = try XCTUnwrap(workflow["jobs"] as? [String: Any])
        let matrix = FakeGitHubRunner.matrix(of: try XCTUnwrap(jobs["shard"] as? [String: Any]))
        XCTAssertEqual(matrix, [["shard": "1"], ["shard": "2"], ["shard": "3"]])

        // A push to main: no baseline yet.
        var shardTests: [Set<String>] = []
        for values in matrix {
            let job = try runner.runJob(workflow, "shard", matrix: values)
            XCTAssertEqual(job.status, 0, job.log)
            let index = values["shard"]!
            XCTAssertTrue(job.log.contains("no baseline/confine-report.json yet: shards split by name"), job.log)
            let shard = try report(runner.artifacts + "/confine-shard-\(index)/shard-\(index).json")
            XCTAssertEqual(shard.shard?.index, Int(index))
            shardTests.append(Set(shard.tests.map(\.name)))
            XCTAssertTrue(job.summary.contains("confine: passed"), job.summary)
        }
        XCTAssertEqual(shardTests.map(\.count).reduce(0, +), 9)
        XCTAssertEqual(shardTests.reduce(Set()) { $0.union($1) }.count, 9, "the shards are disjoint")

        let fanIn = try runner.runJob(workflow, "fan-in")
        XCTAssertEqual(fanIn.status, 0, fanIn.log)
        let merged = try report(project + "/confine-report.json")
        XCTAssertEqual(merged.tests.count, 9)
        XCTAssertEqual(Set(merged.tests.map(\.name)).count, 9, "every test exactly once")
        XCTAssertEqual(merged.shards?.count, 3)
        XCTAssertNotNil(merged.budgets ?? [], "judged with the profile")
        XCTAssertTrue(fanIn.summary.contains("### confine: 3 shards merged — passed"), fanIn.summary)
        XCTAssertTrue(fanIn.summary.contains("All 3 shards succeeded"), fanIn.summary)
        XCTAssertTrue(read(project + "/comment.md").contains("3 shards merged"))
        XCTAssertFalse(fanIn.log.contains("warning"), fanIn.log)
        XCTAssertTrue(runner.comments.isEmpty, "no comment on a push")
        // On main the merged report becomes the baseline.
        let baseline = runner.artifacts + "/confine-baseline/confine-report.json"
        XCTAssertTrue(FileManager.default.fileExists(atPath: baseline))

        // A pull request, main's baseline in place, one shard's artifact lost.
        try FileManager.default.createDirectory(atPath: runner.mainArtifacts + "/confine-baseline", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: baseline, toPath: runner.mainArtifacts + "/confine-baseline/confine-report.json")
        try FileManager.default.removeItem(atPath: runner.artifacts + "/confine-baseline")
        try FileManager.default.removeItem(atPath: runner.artifacts + "/confine-shard-2")
        try FileManager.default.removeItem(atPath: runner.artifacts + "/confine-reports")
        try FileManager.default.removeItem(atPath: project + "/shards")
        try FileManager.default.removeItem(atPath: project + "/confine-report.json")
        runner.eventName = "pull_request"
        runner.ref = "refs/pull/7/merge"
        runner.event = ["pull_request": ["number": 7, "base": ["sha": git(["rev-parse", "HEAD"])]]]
        let missing = try runner.runJob(workflow, "fan-in")
        XCTAssertEqual(missing.status, 0, "a missing shard is a warning: \(missing.log)")
        XCTAssertTrue(missing.log.contains("confine merge: warning: shard 2/3 is missing"), missing.log)
        XCTAssertTrue(missing.log.contains("::warning title=confine merge::shard 2/3 is missing"), missing.log)
        XCTAssertTrue(missing.summary.contains("**warning** shard 2/3 is missing"), missing.summary)
        XCTAssertEqual(try report(project + "/confine-report.json").tests.count, 9 - shardTests[1].count)
        // Compared with main's baseline; the sticky comment has the warning and the comparison.
        let comment = try XCTUnwrap(runner.comments.last)
        XCTAssertTrue(comment.contains("shard 2/3 is missing"), comment)
        XCTAssertTrue(comment.contains("2 shards merged"), comment)
        XCTAssertFalse(comment.contains("No baseline report"), "the baseline was found: \(comment)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: runner.artifacts + "/confine-baseline"), "not a baseline off main")
    }

    // MARK: 3. the template: same-runner mode

    func testSameRunnerModeAlternatesBaseAndHeadAndFailsOnTheRegression() throws {
        let slow = "import time\n\n" + (1...4).map { "def test_\($0)():\n    time.sleep(0.02)\n" }.joined(separator: "\n")
        try write([".gitignore": "__pycache__/\nconfine-rounds/\ncomment.md\n", "tests/test_work.py": slow], in: project)
        git(["init", "-q", "-b", "main"])
        let base = commitAll("base")
        try write(["tests/test_work.py": slow.replacingOccurrences(of: "def test_4():\n    time.sleep(0.02)", with: "def test_4():\n    time.sleep(0.3)")], in: project)
        let head = commitAll("head: test_4 is slower")
        let (release, _) = try releaseDirectory()
        let runner = try runner(release)
        let workflow = try FakeGitHubRunner.load(Harness.packageRoot.appendingPathComponent("ci/github/load-and-limits.yml").path)
        runner.envOverrides = ["PROFILE": "k8s-512mi", "TEST_COMMAND": "python3 -m pytest -q -p no:cacheprovider tests",
                               "ROUNDS": "3", "BUILD_COMMAND": "echo built > built.txt"]
        runner.eventName = "pull_request"
        runner.ref = "refs/pull/8/merge"
        runner.sha = head
        runner.event = ["pull_request": ["number": 8, "base": ["sha": base], "head": ["sha": head]]]

        // Off by default.
        let off = try runner.runJob(workflow, "same-runner")
        XCTAssertTrue(off.steps.isEmpty && off.log.contains("skipped by its condition"), off.log)

        runner.vars["CONFINE_SAME_RUNNER"] = "true"
        let job = try runner.runJob(workflow, "same-runner")
        let rounds = project + "/confine-rounds"
        // Alternating: base-1, head-1, base-2, … each started after the one before.
        var starts: [String] = []
        for round in 1...3 {
            for side in ["base", "head"] {
                let run = try report("\(rounds)/\(side)-\(round).json")
                starts.append(run.startedAt)
                let fourth = try XCTUnwrap(run.tests.first { $0.name.hasSuffix("test_4") }?.durationSeconds)
                if side == "base" { XCTAssertLessThan(fourth, 0.2, "the base checkout ran base's code") } else { XCTAssertGreaterThan(fourth, 0.25) }
            }
        }
        XCTAssertEqual(starts, starts.sorted(), "base and head alternate")
        XCTAssertEqual(job.status, 99, "compare's exit: a regression. \(job.log)")
        XCTAssertEqual(job.step("rounds")?.outputs["exit-code"], "99")
        XCTAssertTrue(job.summary.contains("3 rounds each — a regression"), job.summary)
        XCTAssertTrue(job.summary.contains("test_4"), job.summary)
        let comment = try XCTUnwrap(runner.comments.last, "the comment step ran after the failure")
        XCTAssertTrue(comment.contains("test_4") && comment.contains("a regression"), comment)
        // The comparison alone: not the rounds' pytest output (dots, "passed in", colour codes).
        XCTAssertFalse(comment.contains("passed in") || comment.contains("\u{1b}["), comment)
        XCTAssertFalse(job.summary.contains("passed in"), job.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: runner.artifacts + "/confine-rounds/base-3.json"))
        XCTAssertEqual(read(project + "/built.txt"), "built\n", "the head was built")
        // The base checkout is gone again.
        XCTAssertEqual(git(["worktree", "list"]).split(separator: "\n").count, 1, git(["worktree", "list"]))
    }

    // MARK: 4. the GitLab template's scripts

    func testTheGitLabShardsAndFanIn() throws {
        try pytestProject(files: 3, tests: 3)
        let template = try FakeGitHubRunner.load(Harness.packageRoot.appendingPathComponent("ci/gitlab/load-and-limits.yml").path)
        var variables: [String: String] = [:]
        for (key, value) in (template["variables"] as? [String: Any]) ?? [:] { variables[key] = FakeGitHubRunner.string(value) }
        variables["PROFILE"] = "k8s-512mi"
        variables["TEST_COMMAND"] = "python3 -m pytest -q -p no:cacheprovider tests"
        variables["CONFINE_HOME"] = Harness.packageRoot.path   // the clone before_script makes
        let bin = scratch + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/confine", withDestinationPath: Harness.confine)

        func script(_ job: String) throws -> String {
            let spec = try XCTUnwrap(template[job] as? [String: Any], "no job \(job)")
            return try XCTUnwrap(spec["script"] as? [String]).joined(separator: "\n")
        }
        func run(_ text: String, _ extra: [String: String]) throws -> Harness.Result {
            let path = scratch + "/job.sh"
            try ("set -eo pipefail\ncd '\(project)'\n" + text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            var env = variables.merging(extra) { $1 }
            env["PATH"] = bin + ":" + FakeGitHubRunner.pathWithoutConfine
            env["HOME"] = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
            env["CI"] = "true"
            env["GITLAB_CI"] = "true"
            env["CI_DEFAULT_BRANCH"] = "main"
            return Harness.run(["/usr/bin/env", "-i"] + env.map { "\($0.key)=\($0.value)" } + ["bash", path])
        }
        let shards = try XCTUnwrap((template["load-and-limits"] as? [String: Any])?["parallel"] as? Int)
        XCTAssertEqual(shards, 3)
        for index in 1...shards {
            let result = try run(script("load-and-limits"), ["CI_NODE_INDEX": "\(index)", "CI_NODE_TOTAL": "\(shards)"])
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
            XCTAssertEqual(try report(project + "/shard-\(index).json").shard?.index, index)
            XCTAssertTrue(FileManager.default.fileExists(atPath: project + "/shard-\(index).junit.xml"))
        }
        let fanIn = try run(script("load-and-limits-fan-in"), [:])
        XCTAssertEqual(fanIn.status, 0, fanIn.stdout + fanIn.stderr)
        let merged = try report(project + "/confine-report.json")
        XCTAssertEqual(merged.tests.count, 9)
        XCTAssertEqual(Set(merged.tests.map(\.name)).count, 9)
        XCTAssertTrue(read(project + "/comment.md").contains("3 shards merged — passed"))
        XCTAssertTrue(read(project + "/confine-report.junit.xml").contains("<testcase"))
        XCTAssertFalse((fanIn.stdout + fanIn.stderr).contains("::"), "no GitHub workflow commands outside GitHub")

        try FileManager.default.removeItem(atPath: project + "/shard-3.json")
        let missing = try run(script("load-and-limits-fan-in"), [:])
        XCTAssertEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("confine merge: warning: shard 3/3 is missing"), missing.stderr)
        XCTAssertTrue(read(project + "/comment.md").contains("**warning** shard 3/3 is missing"))

        // A failed shard fails the fan-in with its code.
        try write(["tests/test_part2.py": "def test_broken():\n    assert False\n"], in: project)
        for index in 1...shards { _ = try run(script("load-and-limits"), ["CI_NODE_INDEX": "\(index)", "CI_NODE_TOTAL": "\(shards)"]) }
        let broken = try run(script("load-and-limits-fan-in"), [:])
        XCTAssertEqual(broken.status, 1, broken.stdout + broken.stderr)
        XCTAssertTrue(read(project + "/comment.md").contains("failed (exit 1)"))
    }
}
