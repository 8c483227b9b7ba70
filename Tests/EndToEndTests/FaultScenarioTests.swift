import ConfineCore
import Foundation
import XCTest

/// The fault suite: confine killed at any moment, targets that misbehave in every way the
/// machine allows, a report that cannot be written, eight runs at once. Real kernel, built binary.
final class FaultScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups (CI runs as root)")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    // MARK: confine SIGKILLed

    /// Processes whose command line holds `marker` (the target tree of one run).
    static func processes(marked marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard Harness.isAlive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
    }

    /// Waits until nothing of the killed confine `pid` is left: no process of its target tree,
    /// no group. Returns what is still there after `seconds`.
    static func waitForNothingLeft(confine pid: Int32, marker: String, seconds: Double = 5) -> (processes: [Int32], groups: [String]) {
        let deadline = Date().addingTimeInterval(seconds)
        var left: (processes: [Int32], groups: [String]) = ([], [])
        repeat {
            left = (processes(marked: marker), Harness.allGroups().filter { $0.hasPrefix("confine-\(pid)-") })
            if left.processes.isEmpty && left.groups.isEmpty { return left }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return left
    }

    /// The target: a daemon that leaves the process group and session (PDEATHSIG does not reach
    /// it), plus a sleeping main process; everything carries `marker` on its command line.
    static func daemonTarget(marker: String) -> [String] {
        ["/bin/sh", "-c", "\(Harness.stress) daemon \(marker) & exec /bin/sleep 30", marker]
    }

    func testSIGKILLAtEachPhaseLeavesNoProcessAndTheGuardRemovesTheGroup() throws {
        // after-guard: no group yet; after-group: group, no target; after-spawn: target running;
        // before-cleanup: target ended, its daemon still in the group; before-report: all cleaned.
        for point in ["after-guard", "after-group", "after-spawn", "before-cleanup", "before-report"] {
            let marker = NSTemporaryDirectory() + "confine-fault-\(point)-\(UUID().uuidString)"
            defer { unlink(marker) }
            let target = point == "before-cleanup" || point == "before-report"
                ? ["/bin/sh", "-c", "\(Harness.stress) daemon \(marker) & sleep 0.3", marker]
                : Self.daemonTarget(marker: marker)
            let confine = Harness.Child([Harness.confine, "run", "--quiet", "--report", marker + ".json", "--"] + target,
                                        environment: ["CONFINE_FAULT_PAUSE": point])
            defer { unlink(marker + ".json") }
            let deadline = Date().addingTimeInterval(10)
            while !confine.stderrSoFar.contains("paused at \(point)") && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            XCTAssertTrue(confine.stderrSoFar.contains("paused at \(point)"), "\(point): \(confine.stderrSoFar)")
            if point == "after-spawn" {
                while !FileManager.default.fileExists(atPath: marker) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            }
            if ["after-group", "after-spawn", "before-cleanup"].contains(point) {
                XCTAssertEqual(Harness.allGroups().filter { $0.hasPrefix("confine-\(confine.pid)-") }.count, 1, "\(point): the group exists")
            }
            if point == "after-spawn" || point == "before-cleanup" {
                XCTAssertFalse(Self.processes(marked: marker).isEmpty, "\(point): the target tree is running")
            }
            kill(confine.pid, SIGKILL)
            XCTAssertEqual(confine.wait().status, 128 + SIGKILL)
            let left = Self.waitForNothingLeft(confine: confine.pid, marker: marker)
            XCTAssertEqual(left.processes, [], "\(point): target processes outlived confine")
            XCTAssertEqual(left.groups, [], "\(point): the guard did not remove the group")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker + ".json"), "\(point): no half-written report")
        }
        // What the guard cannot do (the probe socket's directory) the next gc does.
        let gc = Harness.run([Harness.confine, "gc"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertEqual(Harness.run([Harness.confine, "gc", "--dry-run"]).stdout, "")
    }

    /// gc (which every run does first) tells a live confine by its start time, not its name: a
    /// run of confine installed under another name is left alone, and it ends as it would.
    func testGCLeavesTheRunOfARenamedConfineAlone() throws {
        let directory = NSTemporaryDirectory() + "confine-renamed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let renamed = directory + "/confine-1.0"
        try FileManager.default.copyItem(atPath: Harness.confine, toPath: renamed)
        let report = directory + "/report.json"
        let run = Harness.Child([renamed, "run", "--quiet", "--report", report, "--memory", "64Mi", "--", "sleep", "1.5"])
        let deadline = Date().addingTimeInterval(5)
        while !Harness.allGroups().contains(where: { $0.hasPrefix("confine-\(run.pid)-") }) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertEqual(Harness.run([Harness.confine, "gc", "--dry-run"]).stdout, "", "a live run is no leftover")
        XCTAssertEqual(Harness.run([Harness.confine, "gc"]).status, 0)
        XCTAssertEqual(run.wait().status, 0, run.stderrSoFar)
        XCTAssertEqual(try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: report))).outcome, .passed)
    }

    func testSIGKILLAtRandomMomentsLeavesNothingBehind() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<8 {
            let marker = NSTemporaryDirectory() + "confine-random-\(round)-\(UUID().uuidString)"
            defer { unlink(marker) }
            let confine = Harness.Child([Harness.confine, "run", "--quiet", "--report", "/dev/null", "--profile", "container-default",
                                         "--"] + Self.daemonTarget(marker: marker))
            let delay = Double.random(in: 0...0.4, using: &generator)
            Thread.sleep(forTimeInterval: delay)
            kill(confine.pid, SIGKILL)
            _ = confine.wait()
            let left = Self.waitForNothingLeft(confine: confine.pid, marker: marker)
            XCTAssertEqual(left.processes, [], "round \(round), killed after \(Int(delay * 1000)) ms: processes survived")
            XCTAssertEqual(left.groups, [], "round \(round), killed after \(Int(delay * 1000)) ms: group left")
        }
        // The next run collects whatever else a killed confine left (probe directories).
        let (result, _) = Harness.confineRun([], ["/bin/true"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let probeDirectories = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { entry in
            guard entry.hasPrefix("confine-probe-"), let pid = Int32(entry.dropFirst(14).split(separator: "-").first ?? "") else { return false }
            return !Harness.isAlive(pid)
        }
        XCTAssertEqual(probeDirectories, [], "the next run removes the probe directories of dead confines")
    }

    // MARK: targets that misbehave

    func testForkBombIsHeldAtThePidsLimitAndEndsAtTheTimeout() throws {
        let (result, report) = Harness.confineRun(["--pids", "64", "--timeout", "2s"], [Harness.stress, "forkbomb", "60"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(run.outcome, .timeout)
        XCTAssertEqual(run.pids.peak, 64, "the bomb fills the limit and no more")
        XCTAssertGreaterThan(run.pids.forkFailures ?? 0, 100, "the kernel refused forks all along")
        XCTAssertLessThan(result.seconds, 8, "killed at the deadline (+ grace), however many processes")
    }

    func testPageCacheFillsTheLimitAndIsReclaimedWithoutAnOOMKill() throws {
        // Writing a file larger than the limit: the page cache is charged to the group and
        // reclaimed at the limit. A tool that counted it as a leak, or a limit that OOM-killed
        // on it, would both be wrong.
        let file = "/var/tmp/confine-pagecache-\(UUID().uuidString)"
        defer { unlink(file) }
        let (result, report) = Harness.confineRun(["--memory", "64M"], [Harness.stress, "pagecache", file, "256"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("wrote 256 MiB"), result.stdout)
        XCTAssertEqual(run.oomKills.count, 0)
        XCTAssertLessThanOrEqual(run.memory.peakBytes, 64 << 20)
        XCTAssertGreaterThan(run.memory.peakBytes, 32 << 20, "the cache filled the group up to its limit")
    }

    func testThreadsStopAtThePidsLimit() throws {
        let (result, report) = Harness.confineRun(["--pids", "40"], [Harness.stress, "threads", "10000"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("pthread_create failed after 39 threads: EAGAIN"), "threads count against pids: \(result.stdout)")
        XCTAssertEqual(run.pids.peak, 40)
    }

    func testThreadsToThePidsLimitNameTheProcessThatHoldsThem() throws {
        // Python starts threads until the kernel refuses one (RuntimeError), then holds them a moment.
        let script = """
            import threading, time
            stop, count = threading.Event(), 0
            try:
                while True:
                    threading.Thread(target=stop.wait, daemon=True).start(); count += 1
            except RuntimeError as error:
                print("threads started:", count, error, flush=True)
            time.sleep(0.5)
            """
        let (result, report) = Harness.confineRun(["--pids", "32"], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("threads started:"), result.stdout)
        let atLimit = try XCTUnwrap(run.pids.atLimit, "a sample found the group at its limit")
        let top = try XCTUnwrap(atLimit.topProcess)
        XCTAssertTrue(top.command.contains("python3") && top.command.contains("threading"), top.command)
        XCTAssertGreaterThanOrEqual(top.threads, 25, "the tasks are threads of one process")
        XCTAssertEqual(atLimit.processes, 1)
        XCTAssertGreaterThanOrEqual(atLimit.threads, 25)
        XCTAssertGreaterThanOrEqual(run.pids.forkFailures ?? 0, 1)
        XCTAssertTrue(result.stderr.contains("1 process with \(top.threads) threads (python3 -c"), result.stderr)
        XCTAssertTrue(result.stderr.contains("pid \(top.pid)) — threads count against the limit"), result.stderr)
        XCTAssertTrue(result.stderr.contains("fork/clone refused") || result.stderr.contains("forks/clones refused"), result.stderr)
    }

    func testManyChildrenAtThePidsLimitNameTheirParent() throws {
        let script = """
            import os, time
            children = []
            try:
                while True:
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(1.5); os._exit(0)
                    children.append(pid)
            except OSError as error:
                print("children forked:", len(children), error, flush=True)
            for pid in children: os.waitpid(pid, 0)
            """
        let (result, report) = Harness.confineRun(["--pids", "20"], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let atLimit = try XCTUnwrap(run.pids.atLimit, "a sample found the group at its limit")
        let top = try XCTUnwrap(atLimit.topProcess)
        XCTAssertEqual(top.pid, run.mainProcess?.pid, "the parent is the main process")
        XCTAssertGreaterThanOrEqual(top.children, 15)
        XCTAssertEqual(top.threads, 1)
        XCTAssertGreaterThanOrEqual(atLimit.processes, 16)
        XCTAssertTrue(result.stderr.contains("pid \(top.pid) (python3 -c"), result.stderr)
        XCTAssertTrue(result.stderr.contains("has \(top.children) child processes"), result.stderr)
        XCTAssertFalse(result.stderr.contains("threads count against the limit"), result.stderr)
    }

    func testAGibibyteOfBinaryOutputPassesThroughUnchangedInBoundedMemory() throws {
        // 512 MiB on stdout through the runner-output parser (not one newline in it), and
        // 512 MiB on stderr, from one target.
        let report = NSTemporaryDirectory() + "confine-flood-\(UUID().uuidString).json"
        defer { unlink(report) }
        let throughConfine = Harness.run(["/bin/sh", "-c", "\(Harness.confine) run --quiet --runner swift-test --report \(report) -- "
                                          + "\(Harness.stress) flood 512 2>/dev/null | cksum"])
        XCTAssertEqual(throughConfine.status, 0, throughConfine.stderr)
        let direct = Harness.run(["/bin/sh", "-c", "\(Harness.stress) flood 512 2>/dev/null | cksum"])
        XCTAssertEqual(throughConfine.stdout, direct.stdout, "stdout passed through byte for byte")
        let run = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: report)))
        XCTAssertEqual(run.outcome, .passed)
        let supervisor = try XCTUnwrap(run.supervisor)
        XCTAssertLessThan(supervisor.peakRssBytes, 64 << 20, "confine's memory does not grow with the output")
        let stderrBytes = Harness.run(["/bin/sh", "-c", "\(Harness.confine) run --quiet --runner swift-test --report /dev/null -- "
                                       + "\(Harness.stress) flood 512 2>&1 >/dev/null | wc -c"])
        XCTAssertEqual(stderrBytes.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "536870912", stderrBytes.stderr)
    }

    func testTargetsThatExitBeforeSetupEndsAreReportedEveryTime() throws {
        // Every feature that does work after the spawn (seccomp listener hand-over, probe socket,
        // runner output, process connector), against a target that is gone at once.
        for round in 0..<15 {
            let status = Int32(round % 3)
            let command = status == 0 ? ["/bin/true"] : ["/bin/sh", "-c", "exit \(status)"]
            let (result, report) = Harness.confineRun(["--profile", "container-default", "--runner", "swift-test"], command)
            XCTAssertEqual(result.status, status, "round \(round): \(result.stderr)")
            XCTAssertEqual(report?.mainProcess?.exitStatus, status)
        }
    }

    func testATargetIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let (result, report) = Harness.confineRun(["--timeout", "1s"], [Harness.stress, "ignore-term", "-"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(run.outcome, .timeout)
        XCTAssertEqual(run.mainProcess?.signalName, "SIGKILL", "SIGTERM was ignored; SIGKILL ended it")
        XCTAssertGreaterThanOrEqual(run.durationSeconds, 1.9, "1 s timeout + 1 s grace")
        XCTAssertLessThan(run.durationSeconds, 4)
    }

    // MARK: the report cannot be written

    /// A fresh tmpfs mounted at a temporary directory, read-only or tiny.
    static func mountTmpfs(options: String) throws -> String {
        let directory = NSTemporaryDirectory() + "confine-mount-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let mounted = Harness.run(["/bin/mount", "-t", "tmpfs", "-o", options, "confine-test", directory])
        guard mounted.status == 0 else { throw XCTSkip("cannot mount tmpfs: \(mounted.stderr)") }
        return directory
    }

    static func unmount(_ directory: String) {
        _ = Harness.run(["/bin/umount", directory])
        rmdir(directory)
    }

    static func reportOnStderr(_ stderr: String) throws -> RunReport {
        let json = try XCTUnwrap(stderr.range(of: "{\n").map { String(stderr[$0.lowerBound...]) }, stderr)
        let end = try XCTUnwrap(json.range(of: "\n}", options: .backwards))
        return try RunReport.decode(Data(json[..<end.upperBound].utf8))
    }

    func testReadOnlyReportDirectoryFallsBackToStderrWithTheRightExitCode() throws {
        let directory = try Self.mountTmpfs(options: "ro,size=1m")
        defer { Self.unmount(directory) }
        let result = Harness.run([Harness.confine, "run", "--memory", "32M", "--report", directory + "/report.json", "--",
                                  Harness.stress, "alloc", "64"])
        XCTAssertEqual(result.status, 137, "the OOM kill's exit code, report or not: \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("cannot write the report to \(directory)/report.json"), result.stderr)
        XCTAssertTrue(result.stderr.contains("Read-only file system (EROFS)"), result.stderr)
        let report = try Self.reportOnStderr(result.stderr)
        XCTAssertEqual(report.outcome, .oomKilled)
        XCTAssertEqual(report.oomKills.count, 1)
    }

    func testFullDiskFallsBackToStderrAndLeavesNoTemporaryFile() throws {
        let directory = try Self.mountTmpfs(options: "size=64k")
        defer { Self.unmount(directory) }
        // Fill it to the last block.
        _ = Harness.run(["/bin/sh", "-c", "cat /dev/zero > \(directory)/filler 2>/dev/null; true"])
        let result = Harness.run([Harness.confine, "run", "--report", directory + "/report.json", "--", "/bin/sh", "-c", "exit 7"])
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot write the report to \(directory)/report.json"), result.stderr)
        XCTAssertTrue(result.stderr.contains("No space left on device (ENOSPC)"), "says the disk is full: \(result.stderr)")
        let report = try Self.reportOnStderr(result.stderr)
        XCTAssertEqual(report.exitCode, 7)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["filler"], "no partial or temporary file")
    }

    // MARK: eight at once

    func testEightParallelRunsDoNotInterfere() throws {
        // Each run allocates its own amount and sends its own number of probe records; each
        // report must hold exactly its own.
        let runs = (0..<8).map { index -> (Harness.Child, String, Int, Int) in
            let report = NSTemporaryDirectory() + "confine-parallel-\(index)-\(UUID().uuidString).json"
            let mebibytes = 16 + 8 * index
            let records = 1000 * (index + 1)
            let child = Harness.Child([Harness.confine, "run", "--quiet", "--memory", "\(mebibytes + 64)Mi", "--report", report, "--",
                                       "/bin/sh", "-c", "\(Harness.stress) alloc \(mebibytes) && \(Harness.probeFlood) 1 \(records)"])
            return (child, report, mebibytes, records)
        }
        var groups = Set<String>()
        for (child, reportPath, mebibytes, records) in runs {
            defer { unlink(reportPath) }
            let result = child.wait()
            XCTAssertEqual(result.status, 0, result.stderr)
            let report = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: reportPath)))
            XCTAssertEqual(report.memory.limitBytes, UInt64(mebibytes + 64) << 20)
            XCTAssertGreaterThanOrEqual(report.memory.peakBytes, UInt64(mebibytes) << 20, "\(mebibytes) MiB run")
            XCTAssertLessThan(report.memory.peakBytes, UInt64(mebibytes + 12) << 20, "\(mebibytes) MiB run: nobody else's memory")
            XCTAssertEqual(report.functions.reduce(0) { $0 + $1.calls }, UInt64(records), "its own probe records, all of them")
            XCTAssertEqual(report.probe?.recordsDropped, 0)
            let names = Set(report.host.cgroups.values.map { ($0 as NSString).lastPathComponent })
            XCTAssertEqual(names.count, 1, "one group name per run: \(names)")
            groups.formUnion(names)
        }
        XCTAssertEqual(groups.count, 8, "every run had a group of its own")
    }
}
