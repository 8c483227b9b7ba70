#if canImport(Glibc)
import Glibc
#endif

extension RunReport {
    /// The report of a run, from its record: the outcome decided by `Verdict` (before budgets),
    /// the figures as the report states them, each OOM kill charged to the tests running at its
    /// moment, and each seccomp denial, network attempt and containment attempt named with the
    /// test running at the time. Pure: no I/O, no clock.
    /// Budgets are not judged here (`BudgetJudge.judge`).
    public init(record: RunRecord) {
        var ledger = record.ledger
        var oomKills = record.oomKills
        for (index, place) in ledger.chargeOOMKills(oomKills.map { ($0.atSeconds, $0.pid, $0.parentPid) }).enumerated() {
            oomKills[index].test = place.test
            oomKills[index].phase = place.phase
        }
        var facts = RunFacts(
            setupFailure: record.setupFailure, execFailureExitCode: record.execFailureExitCode, termination: record.termination,
            timedOut: record.timedOut, timeoutSeconds: record.profile.timeoutSeconds,
            mainProcessOOMKilled: record.oomKills.contains { $0.mainProcess } || Self.copyOOMKilled(record),
            oomKillCount: record.oomKills.count,
            firstOOMKill: record.oomKills.min { $0.atSeconds < $1.atSeconds }, stall: record.stalledOut,
            stallTimeoutSeconds: record.profile.stallTimeoutSeconds)
        facts.interruptedBy = record.interruptedBy
        facts.mainProcessKillPlace = oomKills.first { $0.mainProcess }?.place
        if let load = record.load {
            facts.load = LoadFacts(readiness: load.readiness, driverStartError: load.driverStartError, driverExitCode: load.driverExitCode,
                                   driverOutputError: load.outputError, measured: load.measured,
                                   stoppedByConfine: record.stopRequestedAt != nil)
        }
        let verdict = Verdict.decide(facts)
        let profile = record.profile
        let last = record.lastSample ?? CgroupSample()
        let final = record.finalSample
        let measured = record.measured
        self.init(
            confineVersion: record.confineVersion, outcome: verdict.outcome, exitCode: verdict.exitCode, reason: verdict.reason,
            command: record.command, profile: profile, host: record.host, startedAt: record.startedAt,
            durationSeconds: record.durationSeconds, mainProcess: record.mainPid.map { MainProcess(pid: $0, termination: record.termination) },
            setupError: record.setupFailure,
            memory: Memory(limitBytes: record.appliedMemoryLimitBytes ?? profile.memoryBytes, swapLimitBytes: profile.swapBytes,
                           peakBytes: record.kernelPeak.map { max($0.bytes, record.segmentPeakMaxBytes) } ?? record.samplePeakMemoryBytes,
                           peakSource: record.kernelPeak?.source ?? (measured ? .samples : .none),
                           last: record.lastSample.map(\.breakdown), timeline: record.timeline,
                           timelineResolutionSeconds: measured ? profile.samplingIntervalSeconds * Double(record.timelineStride) : 0),
            cpu: CPU(limitCpus: profile.cpus, usageSeconds: Double(max(final.cpuUsageNanos, last.cpuUsageNanos)) / 1e9,
                     periods: max(final.periods, last.periods), throttledPeriods: max(final.throttledPeriods, last.throttledPeriods),
                     throttledSeconds: Double(max(final.throttledNanos, last.throttledNanos)) / 1e9),
            pids: Pids(limit: profile.pids, peak: record.pidsPeak ?? record.samplePeakPids,
                       peakSource: record.pidsPeak != nil ? .pidsPeak : measured ? .samples : .none, forkFailures: record.forkFailures),
            oomKills: oomKills, processes: record.processes,
            seccomp: record.seccomp.map { Self.naming($0, by: ledger) },
            network: record.network.map { Self.naming($0, by: ledger) },
            warnings: record.warnings)
        // A test's own figure may catch memory held between the run's detailed readings: the run
        // owned at least as much as any of its tests, and never more than it used.
        let testsOwned = ledger.tests.lazy.filter { $0.attribution.followsGroup }.compactMap(\.unreclaimablePeakBytes).max() ?? 0
        memory.unreclaimablePeakBytes = measured && record.lastSample != nil
            ? min(max(record.unreclaimablePeakBytes, testsOwned), max(memory.peakBytes, record.unreclaimablePeakBytes)) : nil
        if let fullest = record.fullestReading {
            memory.fullestReadingBytes = fullest.memoryBytes
            memory.fullestReadingPageCacheBytes = fullest.fileBytes > fullest.shmemBytes ? fullest.fileBytes - fullest.shmemBytes : 0
        }
        memory.pressure = record.memoryPressure
        if let limit = memory.limitBytes, memory.pressure != nil {
            memory.pressure?.limitReached = memory.peakBytes &+ (256 << 10) >= limit
        }
        warnings += record.stalls.map(\.warning)
        if record.shmemLeftBytes >= 1 << 20 {
            let files = record.shmemLeftFiles.isEmpty ? "" : ": " + record.shmemLeftFiles.prefix(5).joined(separator: ", ")
                + (record.shmemLeftFiles.count > 5 ? " and \(record.shmemLeftFiles.count - 5) more" : "")
            warnings.append("shmem: \(ByteQuantity.human(record.shmemLeftBytes)) of shared memory or tmpfs files stayed charged after "
                            + "the run's processes exited (in production it counts against the pod's limit until removed)\(files)")
        }
        cpu.visibleCpus = record.visibleCpus
        cpu.peakRunnableProcesses = record.peakRunnableProcesses
        if let warning = CPUContention.warning(cpu) { warnings.append(warning) }
        pids.atLimit = record.pidsAtLimit
        if let at = pids.atLimit { pids.atLimit?.test = ledger.test(at: at.atSeconds, pid: at.topProcess?.pid) }
        if !record.movedOutOfGroup.isEmpty {
            movedOutOfGroup = record.movedOutOfGroup
            let movers = record.movedOutOfGroup.filter { $0.startedOutsideBy == nil }
            for moved in movers.prefix(5) {
                let children = record.movedOutOfGroup.filter { $0.startedOutsideBy == moved.pid }.count
                warnings.append("pid \(moved.pid) (\(Summary.display(moved.command, limit: 50))) moved itself out of the run's cgroup "
                                + "at \(formatFixed(moved.atSeconds, digits: 2))s, to \(moved.cgroup)"
                                + (children > 0 ? " (and started \(children) process\(children == 1 ? "" : "es") there)" : "")
                                + ": from then on its memory and CPU are neither in the figures nor under the limits "
                                + "(a container profile refuses the move)")
            }
            if movers.count > 5 {
                warnings.append("\(movers.count - 5) more processes moved out of the run's cgroup (movedOutOfGroup in the report)")
            }
        }
        tests = ledger.tests
        // The command's exit status is the runner's word; a test whose process died under it is not.
        let crashed = tests.filter { $0.outcome == .crashed }
        if outcome == .passed, let first = crashed.first {
            warnings.append("\(crashed.count) test\(crashed.count == 1 ? "" : "s") crashed (the process died while it ran) although the command "
                            + "exited 0: \(Format.fit(first.name, 80))\(crashed.count > 1 ? " and \(crashed.count - 1) more" : "")")
        }
        if profile.cpus != nil {
            CPUContention.fillThrottling(&tests, timeline: record.timeline,
                                         end: (record.durationSeconds, record.finalSample.periods, record.finalSample.throttledPeriods,
                                               record.finalSample.throttledNanos))
        }
        functions = ledger.functionRecords
        probe = record.probe
        if let silence = RunnerSilence.warning(processes: record.processes, tests: tests, probe: record.probe,
                                               runnerHeard: ledger.heardRunner, outputRead: record.runnerOutputRead,
                                               shard: record.shard, command: record.command) {
            warnings.append(silence)
        }
        copies = record.copies
        shard = record.shard
        supervisor = record.supervisorCost
        containment = record.containment.map { Self.naming($0, by: ledger) }
        if let load = record.load {
            // --grace 0: SIGKILL at once, as terminationGracePeriodSeconds: 0 — what was asked, not a warning.
            let immediate = load.graceSeconds == 0
            let stop = record.stopRequestedAt.map { at in
                RunReport.Stop(signal: immediate ? "SIGKILL" : "SIGTERM", graceSeconds: load.graceSeconds,
                               exitedAfterSeconds: record.stopExitedAt.map { LoadMeasurement.rounded($0 - at) }, killed: record.stopKilled)
            }
            self.load = LoadMeasurement.section(load, timeline: record.timeline, stop: stop)
            if record.stopKilled && !immediate {
                warnings.append("the service did not stop within its \(DurationQuantity.format(load.graceSeconds)) grace period after SIGTERM "
                                + "and was SIGKILLed (as a container runtime does): in production it would lose in-flight requests")
            }
            if let code = load.driverExitCode, code != 0, load.measured {
                warnings.append("the load driver exited with status \(code); its figures were read")
            }
            if let load = self.load, load.errors > 0 {
                warnings.append("load: \(load.errors) of \(load.requests) requests failed (\(formatFixed(load.errorRate, digits: 1))%: "
                                + "answered outside 2xx/3xx or not answered)")
            }
            if self.load?.latencyCorrection == .uncorrected, load.measured {
                warnings.append("load: closed-loop latencies, uncorrected (each connection waited for its answer, so a stall "
                                + "holds back the requests that would have seen it; give the driver a rate, e.g. hey -q, to correct them)")
            }
            if let note = self.load?.throttlingNote { warnings.append("load: \(note)") }
        }
    }

    /// `--copies N`: the launcher died of SIGKILL because a copy did, and a copy (a child of the
    /// launcher) was OOM-killed — the run's "main process" was OOM-killed, as it is without copies.
    static func copyOOMKilled(_ record: RunRecord) -> Bool {
        guard (record.copies ?? 1) > 1, record.termination == .signaled(SIGKILL), let launcher = record.mainPid else { return false }
        return record.oomKills.contains { $0.parentPid == launcher || $0.parentPid == nil }
    }

    private static func naming(_ seccomp: Seccomp, by ledger: AttributionLedger) -> Seccomp {
        var seccomp = seccomp
        for index in seccomp.violations.indices {
            seccomp.violations[index].test = ledger.test(at: seccomp.violations[index].firstSeconds, pid: seccomp.violations[index].pid)
        }
        return seccomp
    }

    private static func naming(_ network: Network, by ledger: AttributionLedger) -> Network {
        var network = network
        for index in network.attempts.indices {
            network.attempts[index].test = ledger.test(at: network.attempts[index].atSeconds, pid: network.attempts[index].pid)
        }
        return network
    }

    private static func naming(_ containment: Containment, by ledger: AttributionLedger) -> Containment {
        var containment = containment
        for index in containment.attempts.indices {
            containment.attempts[index].test = ledger.test(at: containment.attempts[index].atSeconds, pid: containment.attempts[index].pid)
        }
        if let filled = containment.shm?.filledAtSeconds { containment.shm?.test = ledger.test(at: filled, pid: nil) }
        return containment
    }
}

extension RunReport.MainProcess {
    /// The main process as `waitpid` saw it end (nil: it never ended, e.g. setup failed after the spawn).
    public init(pid: Int32, termination: Termination?) {
        self.init(pid: pid)
        switch termination {
        case .exited(let status): exitStatus = status
        case .signaled(let signal):
            self.signal = signal
            signalName = ConfineCore.signalName(signal)
        case nil: break
        }
    }
}
