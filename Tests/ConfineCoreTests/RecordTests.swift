@testable import ConfineCore
import XCTest

/// Record → report: a pure function, tested without a kernel.
final class RecordTests: XCTestCase {
    func profile(_ yaml: String = "limits: {memory: 64Mi, cpus: 500m, pids: 32}\n") throws -> ResolvedProfile {
        ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: yaml).parse(), chain: ["p.yaml"])
    }

    func record(_ profile: ResolvedProfile) -> RunRecord {
        RunRecord(command: ["pytest"], profile: profile, confineVersion: "test",
                  host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: ["memory": "/confine-1-ab"], cpuCount: 2),
                  startedAt: "2026-11-30T20:00:00Z")
    }

    /// A run of pid 42 that exited with `exit`: test_a from 0.1 to 0.5 s, test_b from 0.6 to 0.9 s.
    func recordOfTwoTests(exit: Int32) throws -> RunRecord {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .exited(exit)
        for (name, start, end) in [("test_a", 0.1, 0.5), ("test_b", 0.6, 0.9)] {
            record.ledger.testStarted(key: name, name: name, source: .pytest, pid: 42, at: start, memoryBytes: 0, cpuNanos: 0)
            record.ledger.testEnded(key: name, at: end, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        }
        return record
    }

    func sample(memory: UInt64, cpuNanos: UInt64, throttled: UInt64 = 0) -> CgroupSample {
        var sample = CgroupSample()
        sample.memoryBytes = memory
        sample.anonBytes = memory / 2
        sample.fileBytes = memory / 4
        sample.cpuUsageNanos = cpuNanos
        sample.periods = 10
        sample.throttledPeriods = throttled
        return sample
    }

    func testAPassedRunStatesItsReadings() throws {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .exited(0)
        record.durationSeconds = 1.5
        record.lastSample = sample(memory: 30 << 20, cpuNanos: 800_000_000, throttled: 3)
        record.finalSample = sample(memory: 10 << 20, cpuNanos: 900_000_000, throttled: 2)
        record.kernelPeak = KernelMemoryPeak(bytes: 40 << 20, source: .maxUsageInBytes)
        record.samplePeakMemoryBytes = 35 << 20
        record.samplePeakPids = 5
        record.appliedMemoryLimitBytes = (64 << 20) - 4096
        record.timelineStride = 2
        record.warnings = ["w"]
        record.fullestReading = sample(memory: 40 << 20, cpuNanos: 1)   // anon 20, file 10 MiB
        record.fullestReading?.shmemBytes = 2 << 20

        let report = RunReport(record: record)
        XCTAssertEqual(report.outcome, .passed)
        XCTAssertEqual(report.exitCode, 0)
        XCTAssertEqual(report.mainProcess, RunReport.MainProcess(pid: 42, exitStatus: 0))
        XCTAssertEqual(report.memory.peakBytes, 40 << 20, "the kernel's counter, not the samples'")
        XCTAssertEqual(report.memory.peakSource, .maxUsageInBytes)
        XCTAssertEqual(report.memory.limitBytes, (64 << 20) - 4096, "the limit as the kernel applied it")
        XCTAssertEqual(report.memory.last, MemoryBreakdown(anonBytes: 15 << 20, fileBytes: 30 << 18))
        XCTAssertEqual(report.memory.timelineResolutionSeconds, 0.02, accuracy: 1e-12)
        XCTAssertEqual(report.cpu.usageSeconds, 0.9, accuracy: 1e-12, "CPU counters are cumulative: the later reading")
        XCTAssertEqual(report.cpu.throttledPeriods, 3)
        XCTAssertEqual(report.cpu.limitCpus, 0.5)
        XCTAssertEqual(report.pids.peak, 5)
        XCTAssertEqual(report.pids.peakSource, .samples)
        XCTAssertEqual(report.host.cgroups, ["memory": "/confine-1-ab"])
        XCTAssertEqual(report.warnings, ["w"])
        XCTAssertEqual(report.memory.fullestReadingBytes, 40 << 20)
        XCTAssertEqual(report.memory.fullestReadingPageCacheBytes, 8 << 20, "file less shmem, from one reading")
        XCTAssertNil(report.budgets, "the record becomes a report; budgets are judged after")
    }

    func testTheRunsPeakIsTheLargerOfTheFinalCounterAndTheSegmentPeaks() throws {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .exited(0)
        record.kernelPeak = KernelMemoryPeak(bytes: 20 << 20, source: .maxUsageInBytes)
        record.segmentPeakMaxBytes = 50 << 20
        XCTAssertEqual(RunReport(record: record).memory.peakBytes, 50 << 20, "the counter was reset after a 50 MiB segment")
        record.segmentPeakMaxBytes = 10 << 20
        XCTAssertEqual(RunReport(record: record).memory.peakBytes, 20 << 20)
    }

    func testOOMKillsAreChargedToTheTestRunningThen() throws {
        var record = try recordOfTwoTests(exit: 1)
        record.oomKills = [.init(pid: 43, command: "worker", atSeconds: 0.7, usageBytes: nil, limitBytes: 64 << 20,
                                 mainProcess: false, source: .kernelLog)]
        XCTAssertEqual(RunReport(record: record).tests.map(\.oomKills), [0, 1])
    }

    func testWithoutAKernelCounterThePeakComesFromSamples() throws {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .exited(0)
        record.lastSample = sample(memory: 30 << 20, cpuNanos: 1)
        record.samplePeakMemoryBytes = 35 << 20
        record.pidsPeak = 9
        let report = RunReport(record: record)
        XCTAssertEqual(report.memory.peakBytes, 35 << 20)
        XCTAssertEqual(report.memory.peakSource, .samples)
        XCTAssertEqual(report.pids.peak, 9)
        XCTAssertEqual(report.pids.peakSource, .pidsPeak)
    }

    func testASetupFailureIsARecordToo() throws {
        let failure = RunReport.SetupError(step: "create cgroup", errno: 13, message: "mkdir /sys/fs/cgroup/x: EACCES")
        let record = RunRecord.setupFailure(command: ["pytest"], profile: try profile(), confineVersion: "test",
                                            host: .init(kernel: "6.18.0", cgroupLayout: .unknown, cgroups: [:], cpuCount: 2),
                                            startedAt: "2026-11-30T20:00:00Z", failure: failure)
        let report = BudgetJudge.judge(RunReport(record: record))
        XCTAssertEqual(report.outcome, .setupFailed)
        XCTAssertEqual(report.exitCode, 125)
        XCTAssertEqual(report.reason, "setup failed at 'create cgroup': mkdir /sys/fs/cgroup/x: EACCES")
        XCTAssertEqual(report.setupError, failure)
        XCTAssertNil(report.mainProcess)
        // A call's error that names its step says it once.
        let repeated = RunReport.SetupError(step: "chdir /srv", errno: 13, message: "chdir /srv: EACCES (Permission denied)")
        let again = RunRecord.setupFailure(command: ["pytest"], profile: try profile(), confineVersion: "test",
                                           host: .init(kernel: "6.18.0", cgroupLayout: .unknown, cgroups: [:], cpuCount: 2),
                                           startedAt: "2026-11-30T20:00:00Z", failure: repeated)
        XCTAssertEqual(BudgetJudge.judge(RunReport(record: again)).reason, "setup failed at 'chdir /srv': EACCES (Permission denied)")
        XCTAssertEqual(report.memory.peakSource, RunReport.Memory.PeakSource.none, "nothing was read: not even a sample")
        XCTAssertEqual(report.pids.peakSource, RunReport.Pids.PeakSource.none)
        XCTAssertEqual(report.memory.timelineResolutionSeconds, 0)
        XCTAssertEqual(report.memory.limitBytes, 64 << 20, "the profile's limit when none was applied")
    }

    func testASetupFailureInTheSupervisorStillSaysWhatItMeasured() throws {
        var record = record(try profile())
        record.setupFailure = RunReport.SetupError(step: "set cpuset", errno: 22, message: "write cpuset.cpus: EINVAL")
        let report = RunReport(record: record)
        XCTAssertEqual(report.exitCode, 125)
        XCTAssertEqual(report.memory.peakSource, .samples, "the supervisor ran: its samples (none) are the figure")
        XCTAssertEqual(report.memory.timelineResolutionSeconds, 0.01, accuracy: 1e-12)
    }

    func testTheMainProcessKilledBySignalOrOOM() throws {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .signaled(9)
        XCTAssertEqual(RunReport(record: record).exitCode, 137)
        XCTAssertEqual(RunReport(record: record).mainProcess?.signalName, "SIGKILL")
        XCTAssertEqual(RunReport(record: record).outcome, .signaled)
        record.oomKills = [.init(pid: 42, command: "pytest", atSeconds: 0.5, usageBytes: 64 << 20, limitBytes: 64 << 20,
                                 mainProcess: true, source: .kernelLog)]
        XCTAssertEqual(RunReport(record: record).outcome, .oomKilled)
        XCTAssertEqual(RunReport(record: record).exitCode, 137)
        record.termination = .exited(127)
        record.oomKills = []
        record.execFailureExitCode = 127
        XCTAssertEqual(RunReport(record: record).reason, "the command could not be executed")
    }

    func testAWorkerOOMKillIsJudgedWithTheBudgetsOnce() throws {
        var record = record(try profile())
        record.mainPid = 42
        record.termination = .exited(0)
        record.oomKills = [.init(pid: 43, command: "worker", atSeconds: 0.5, usageBytes: nil, limitBytes: 64 << 20,
                                 mainProcess: false, source: .processExit)]
        let unjudged = RunReport(record: record)
        XCTAssertEqual(unjudged.outcome, .passed, "the verdict before budgets")
        let judged = BudgetJudge.judge(unjudged)
        XCTAssertEqual(judged.exitCode, 99)
        XCTAssertEqual(judged.reason, "the command succeeded but 1 process was OOM-killed in its group")
        XCTAssertEqual(BudgetJudge.judge(judged), judged, "judging twice changes nothing")
        record.profile = try profile("budgets: {suite: {oom_kills: 1}}\n")
        let allowed = BudgetJudge.judge(RunReport(record: record))
        XCTAssertEqual(allowed.exitCode, 0)
        XCTAssertEqual(allowed.budgets?.map(\.verdict), [.pass])
        XCTAssertEqual(BudgetJudge.judge(judged, against: record.profile.budgets).exitCode, 0, "judged again against another profile")
    }

    func testDenialsAndAttemptsNameTheTestRunningThen() throws {
        var record = try recordOfTwoTests(exit: 0)
        record.seccomp = .init(profile: "container-default", defaultAction: .errno(1), rules: 1, instructions: 10, violations: [
            .init(syscall: "unshare", action: .errno, errno: 1, errnoName: "EPERM", pid: 42, command: "pytest", count: 1,
                  firstSeconds: 0.2, lastSeconds: 0.2),
        ])
        record.network = .init(mode: .allow, allowed: ["127.0.0.1:5432"], resolved: ["127.0.0.1:5432"], attempts: [
            .init(address: "10.0.0.1", port: 80, protocol: "tcp", verdict: .refused, syscall: "connect", pid: 42, command: "pytest",
                  atSeconds: 0.7),
        ])
        record.containment = .init(measures: ["capabilities"], attempts: [
            .init(syscall: "kill", target: "pid 1", verdict: .refused, errnoName: "ESRCH", why: "outside", pid: 42, command: "pytest",
                  atSeconds: 0.95),
        ])
        let report = RunReport(record: record)
        XCTAssertEqual(report.tests.map(\.name), ["test_a", "test_b"])
        XCTAssertEqual(report.seccomp?.violations.first?.test, "test_a")
        XCTAssertEqual(report.network?.attempts.first?.test, "test_b")
        XCTAssertNil(report.containment?.attempts.first?.test, "no test ran at 0.95 s")
    }
}
