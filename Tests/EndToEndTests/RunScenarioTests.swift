import ConfineCore
import Foundation
import XCTest

/// The acceptance scenarios, on the real kernel, through the built binary.
final class RunScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        // Creating cgroups needs root (or a delegated cgroup); CI runs as root, so these always run there.
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    func testOOMReproductionKillsMainProcessWithExit137() throws {
        let (result, report) = Harness.confineRun(["--memory", "64Mi", "--swap", "0"], [Harness.stress, "alloc", "256"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        XCTAssertEqual(run.outcome, .oomKilled)
        XCTAssertEqual(run.exitCode, 137)
        XCTAssertEqual(run.oomKills.count, 1)
        XCTAssertEqual(run.oomKills.first?.mainProcess, true)
        XCTAssertEqual(run.oomKills.first?.pid, run.mainProcess?.pid)
        XCTAssertEqual(run.memory.limitBytes, 64 << 20)
        let peak = Double(run.memory.peakBytes)
        XCTAssertLessThanOrEqual(peak, Double(64 << 20))
        XCTAssertGreaterThanOrEqual(peak, Double(64 << 20) * 0.98, "peak should be within 2% below the limit")
        XCTAssertTrue(result.stderr.contains("oom_killed"), result.stderr)
        XCTAssertTrue(result.stderr.contains("main process) at"), result.stderr)
    }

    func testWorkerOOMIsReportedWhileMainSucceeds() throws {
        let (result, report) = Harness.confineRun(["--memory", "64Mi", "--swap", "0"], [Harness.stress, "worker-oom", "256"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 99, result.stderr)
        XCTAssertEqual(run.outcome, .budgetExceeded)
        XCTAssertEqual(run.mainProcess?.exitStatus, 0)
        XCTAssertEqual(run.oomKills.count, 1)
        let kill = try XCTUnwrap(run.oomKills.first)
        XCTAssertFalse(kill.mainProcess)
        XCTAssertNotEqual(kill.pid, run.mainProcess?.pid)
        XCTAssertGreaterThan(kill.pid, 0)
        XCTAssertEqual(kill.command, "\(Harness.stress) alloc 256", "the worker is named by its own command line")
        // The worker printed its pid: the report names that same process.
        XCTAssertTrue(result.stdout.contains("worker \(kill.pid) ended: signal 9"), result.stdout)
    }

    func testCPUQuotaThrottlesABusyLoop() throws {
        let (_, limited) = Harness.confineRun(["--cpus", "0.25"], [Harness.stress, "busy", "2"])
        let run = try XCTUnwrap(limited)
        XCTAssertEqual(run.outcome, .passed)
        XCTAssertLessThanOrEqual(run.cpu.usageSeconds, 0.75, "0.25 CPUs for 2 s allows about 0.5 s")
        XCTAssertGreaterThan(run.cpu.usageSeconds, 0.2)
        XCTAssertGreaterThan(run.cpu.throttledPeriods, 0)
        XCTAssertGreaterThan(run.cpu.throttledSeconds, 0)

        let (_, unlimited) = Harness.confineRun([], [Harness.stress, "busy", "2"])
        let free = try XCTUnwrap(unlimited)
        // About 2 s on an idle machine; a loaded CI machine may give it less, never as little as the quota.
        XCTAssertGreaterThan(free.cpu.usageSeconds, max(0.9, 2 * run.cpu.usageSeconds), "without a limit the loop is not held back")
        XCTAssertEqual(free.cpu.throttledPeriods, 0)
    }

    func testAQuotaBelowTheCPUsTheTargetSeesIsSaid() throws {
        // Two busy workers (as `pytest -n auto` would start on this machine) under half a CPU.
        let script = """
            import multiprocessing, os, time
            def spin(seconds):
                end = time.time() + seconds
                while time.time() < end: pass
            if __name__ == "__main__":
                print("cpu_count", os.cpu_count(), flush=True)
                workers = [multiprocessing.Process(target=spin, args=(3,)) for _ in range(2)]
                for worker in workers: worker.start()
                for worker in workers: worker.join()
            """
        let (result, report) = Harness.confineRun(["--cpus", "0.5"], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let nproc = Harness.run(["/usr/bin/env", "nproc"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(run.cpu.visibleCpus.map(String.init), nproc, "the target sees what nproc sees")
        XCTAssertTrue(result.stdout.contains("cpu_count \(nproc)"), "os.cpu_count() too: \(result.stdout)")
        XCTAssertEqual(run.cpu.limitCpus, 0.5)
        XCTAssertGreaterThanOrEqual(run.cpu.peakRunnableProcesses ?? 0, 2, "both workers wanted a CPU at once")
        let warning = run.warnings.first { $0.hasPrefix("cpu: the target sees \(nproc) CPUs but its quota is 0.5 CPU; throttled in ") }
        XCTAssertNotNil(warning, "\(run.warnings)")
        XCTAssertTrue(warning?.contains("pytest -n auto") ?? false)
        XCTAssertTrue(result.stderr.contains("the target sees \(nproc) CPUs"), result.stderr)
        XCTAssertTrue(result.stderr.contains("  warning  cpu: the target sees"), result.stderr)
    }

    func testForkStormStopsAtThePidsLimit() throws {
        let (result, report) = Harness.confineRun(["--pids", "32"], [Harness.stress, "forkstorm", "100"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.pids.limit, 32)
        XCTAssertLessThanOrEqual(run.pids.peak, 32)
        XCTAssertGreaterThan(run.pids.peak, 16)
        let failedLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("forks failed:") }
        let failed = Int(failedLine?.split(separator: " ")[2] ?? "") ?? 0
        XCTAssertGreaterThan(failed, 0, "forks must fail inside the group: \(result.stdout)")
        if let refused = run.pids.forkFailures { XCTAssertGreaterThan(refused, 0) }
    }

    func testTimeoutKillsADaemonizedGrandchild() throws {
        let pidFile = NSTemporaryDirectory() + "confine-daemon-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let (result, report) = Harness.confineRun(["--timeout", "2s"], [Harness.stress, "daemon", pidFile])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(run.outcome, .timeout)
        XCTAssertLessThan(result.seconds, 4.0, "exit within 2 s of the deadline")
        let daemon = try XCTUnwrap(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertFalse(Harness.isAlive(daemon), "the setsid grandchild \(daemon) survived the timeout")
    }

    func testInterruptIsForwardedAndTheReportStillWritten() throws {
        let reportPath = NSTemporaryDirectory() + "confine-int-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let confine = Harness.Child([Harness.confine, "run", "--quiet", "--report", reportPath, "--", "/bin/sleep", "30"])
        Thread.sleep(forTimeInterval: 0.5)
        kill(confine.pid, SIGINT)
        let result = confine.wait()
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertLessThan(result.seconds, 5)
        let report = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: reportPath)))
        XCTAssertEqual(report.outcome, .interrupted)
        XCTAssertTrue(report.reason.hasPrefix("confine received SIGINT"), report.reason)
        XCTAssertEqual(report.mainProcess?.signalName, "SIGINT")
    }

    func testSIGKILLedConfineTakesItsDaemonsAlongAndGCRemovesTheRest() throws {
        let pidFile = NSTemporaryDirectory() + "confine-killed-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let confine = Harness.Child([Harness.confine, "run", "--quiet", "--report", "/dev/null", "--", Harness.stress, "daemon", pidFile])
        var waited = 0.0
        while !FileManager.default.fileExists(atPath: pidFile) && waited < 5 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 0.05
        }
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(Harness.allGroups().filter { $0.hasPrefix("confine-\(confine.pid)-") }.count, 1,
                       "the run's group exists while it runs")
        kill(confine.pid, SIGKILL)
        XCTAssertEqual(confine.wait().status, 128 + SIGKILL)
        let daemon = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        // The run guard kills the setsid daemon (out of PR_SET_PDEATHSIG's reach) and removes the group.
        let deadline = Date().addingTimeInterval(5)
        while (Harness.isAlive(daemon) || !Harness.allGroups().filter({ $0.hasPrefix("confine-\(confine.pid)-") }).isEmpty)
            && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertFalse(Harness.isAlive(daemon), "the daemonized grandchild outlived confine")
        XCTAssertEqual(Harness.leftoverGroups(), [])
        let gc = Harness.run([Harness.confine, "gc"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertTrue(gc.stdout.contains("removed /tmp/confine-probe-\(confine.pid)-"), "the probe socket's directory: \(gc.stdout)")
        XCTAssertFalse(((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).contains { $0.hasPrefix("confine-probe-\(confine.pid)-") })
    }

    func testAReaderThatGoesAwayDoesNotStopTheReport() throws {
        // `confine run … -- swift test | head -1`: confine's stdout closes early; it must carry on.
        let report = NSTemporaryDirectory() + "confine-epipe-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let result = Harness.run(["/bin/sh", "-c", "\(Harness.confine) run --runner swift-test --report \(report) -- "
                                  + "sh -c 'for i in $(seq 1 20000); do echo \"Test Case x.y$i started\"; done' | head -1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: report), result.stderr)
    }

    func testSetupFailureStillWritesAReport() throws {
        let (result, report) = Harness.confineRun(["--cpuset", "9999"], ["/bin/true"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(run.outcome, .setupFailed)
        XCTAssertEqual(run.setupError?.step, "set cpuset")
        XCTAssertTrue(result.stderr.contains("cpuset.cpus"), "the message names the file: \(result.stderr)")
        XCTAssertNotNil(run.setupError?.errno, "the kernel's errno is kept")

        // A container profile's sections are in the report although the command never ran.
        let (container, containerReport) = Harness.confineRun(["--profile", "k8s-512mi", "--cpuset", "9999",
                                                               "--network", "allow:127.0.0.1:9"], ["/bin/true"])
        let failed = try XCTUnwrap(containerReport)
        XCTAssertEqual(container.status, 125, container.stderr)
        XCTAssertEqual(failed.network?.mode, .allow)
        XCTAssertEqual(failed.seccomp?.profile, "container-default")
        XCTAssertNotNil(failed.containment)
        XCTAssertNotNil(failed.supervisor)
        XCTAssertEqual(failed.memory.peakSource, .samples, "confine measured, but the group never held the command")
        XCTAssertTrue(container.stderr.contains("seccomp  container-default"), container.stderr)
    }

    func testCommandExitStatusPassesThroughAndMissingCommandIs127() throws {
        let (result, report) = Harness.confineRun([], ["/bin/sh", "-c", "exit 3"])
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(report?.outcome, .failed)
        let (missing, missingReport) = Harness.confineRun([], ["no-such-command-confine"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(missingReport?.outcome, .failed)
    }

    func testProfileLimitsAreAppliedAndFlagsOverrideThem() throws {
        let (_, report) = Harness.confineRun(["--profile", "k8s-512mi", "--cpus", "1"], ["/bin/true"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.profile.memoryBytes, 512 << 20)
        XCTAssertEqual(run.profile.cpus, 1)
        XCTAssertEqual(run.profile.pids, 4096)
        XCTAssertEqual(run.profile.chain, ["container-default", "k8s-512mi", "cli flags"])
        XCTAssertEqual(run.outcome, .passed)
        XCTAssertFalse(run.memory.timeline.isEmpty)
    }

    func testTargetRunsInsideItsCgroupFromItsFirstInstruction() throws {
        // `cat` reads its own /proc/self/cgroup as its first act: it must already be in the group.
        let (result, report) = Harness.confineRun([], ["/bin/cat", "/proc/self/cgroup"])
        let run = try XCTUnwrap(report)
        XCTAssertFalse(run.host.cgroups.isEmpty)
        for (controller, path) in run.host.cgroups {
            let line = result.stdout.split(separator: "\n").first {
                controller == "unified" ? $0.hasPrefix("0::") : $0.split(separator: ":")[1].split(separator: ",").contains(Substring(controller))
            }
            XCTAssertEqual(line.map { String($0.split(separator: ":", maxSplits: 2)[2]) }, path, "\(controller): \(result.stdout)")
        }
        XCTAssertEqual(run.host.joinMethod, run.host.cgroupLayout == .unified ? RunReport.Host.JoinMethod.cloneIntoCgroup : .cgroupProcs)
    }

    func testReportGoesToStderrWhenItsFileCannotBeWritten() throws {
        let result = Harness.run([Harness.confine, "run", "--report", "/nonexistent-confine-dir/report.json", "--",
                                  "/bin/sh", "-c", "exit 3"])
        XCTAssertEqual(result.status, 3, "the exit code does not depend on the report")
        XCTAssertTrue(result.stderr.contains("cannot write the report to /nonexistent-confine-dir/report.json"), result.stderr)
        let json = try XCTUnwrap(result.stderr.range(of: "{\n").map { String(result.stderr[$0.lowerBound...]) })
        let end = try XCTUnwrap(json.range(of: "\n}\n", options: .backwards))
        let report = try RunReport.decode(Data(json[..<end.upperBound].utf8))
        XCTAssertEqual(report.outcome, .failed)
    }

    func testReportIntoADeviceDoesNotReplaceIt() throws {
        let result = Harness.run([Harness.confine, "run", "--quiet", "--report", "/dev/null", "--", "/bin/true"])
        XCTAssertEqual(result.status, 0)
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null must still be a character device")
    }

    func testNofileRlimitReachesTheTarget() throws {
        let (result, _) = Harness.confineRun(["--nofile", "123"], ["/bin/sh", "-c", "ulimit -n"])
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "123")
    }

    func testInvalidFlagAndProfileExit64WithLocation() throws {
        let bad = Harness.run([Harness.confine, "run", "--memory", "64Qi", "--", "/bin/true"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--memory"), bad.stderr)
        let file = NSTemporaryDirectory() + "confine-bad-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "name: x\nlimits:\n  memroy: 1Gi\n".write(toFile: file, atomically: true, encoding: .utf8)
        let lint = Harness.run([Harness.confine, "profile", "lint", file])
        XCTAssertEqual(lint.status, 64)
        XCTAssertTrue(lint.stderr.contains("\(file):3:3: error: unknown key 'memroy' in 'limits'; did you mean 'memory'?"), lint.stderr)
        let run = Harness.run([Harness.confine, "run", "--profile", file, "--", "/bin/true"])
        XCTAssertEqual(run.status, 64)
    }

    /// `confine run --help` shows help; it must not run a program named --help (it once did, and
    /// wrote a report of the failed exec into the current directory).
    func testRunHelpShowsHelpAndRunsNothing() throws {
        let directory = NSTemporaryDirectory() + "confine-help-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let help = Harness.run(["/bin/sh", "-c", "cd '\(directory)' && exec '\(Harness.confine)' run --help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        XCTAssertTrue(help.stdout.contains("USAGE: confine run"), help.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "no report written")
        let missing = Harness.run([Harness.confine, "run", "--profile", "container-default"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("name the command to run after --"), missing.stderr)

        // A mistyped option before -- is refused, not run as the program (nor a report written).
        let mistyped = Harness.run(["/bin/sh", "-c", "cd '\(directory)' && exec '\(Harness.confine)' run --sampling-interval 0 -- /bin/true"])
        XCTAssertEqual(mistyped.status, 64, mistyped.stderr)
        XCTAssertTrue(mistyped.stderr.contains("unknown option '--sampling-interval'; did you mean '--sample-interval'?"), mistyped.stderr)
        let memry = Harness.run([Harness.confine, "run", "--memry", "64Mi", "--", "true"])
        XCTAssertEqual(memry.status, 64, memry.stderr)
        XCTAssertTrue(memry.stderr.contains("unknown option '--memry'; did you mean '--memory'?"), memry.stderr)
        // A word before -- (a value given to a flag that takes none) is refused: the suite after
        // -- would have been its arguments, and the run would have passed without it.
        let stray = Harness.run([Harness.confine, "run", "--no-probe", "true", "--", "/bin/false"])
        XCTAssertEqual(stray.status, 64, stray.stderr)
        XCTAssertTrue(stray.stderr.contains("'true' before -- is not an option of this command"), stray.stderr)
        let bisect = Harness.run([Harness.confine, "bisect-memory", "--sampling-interval", "0", "--", "/bin/true"])
        XCTAssertEqual(bisect.status, 64, bisect.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "no report written")
    }
}
