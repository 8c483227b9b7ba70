#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import ConfineCore

/// Everything a run needs, resolved before anything is created.
public struct RunPlan: Sendable {
    public var arguments: [String]
    public var environment: [String]
    public var profile: ResolvedProfile
    /// Unique per run; `confine-<confine pid>-<random>` so `gc` can tell whose it was.
    public var groupName: String
    public var confineVersion: String
    /// How long the target gets between SIGTERM and SIGKILL at timeout or interruption.
    public var killGraceSeconds: Double = 1
    /// The seccomp program, compiled before anything is created.
    public var seccomp: CompiledSeccompFilter?
    /// The network allow-list, resolved before the run (`allow` mode).
    public var networkAllowList: [ResolvedEndpoint] = []
    /// The seccomp profile was only made to intercept the network (no seccomp profile asked for).
    public var seccompForNetworkOnly = false
    /// Open the probe channel (`CONFINE_PROBE_SOCKET`) for probe libraries and runner plugins.
    public var probeChannel = true
    /// Read test boundaries from the runner's console output (its output passes through confine).
    public var runnerOutput: RunnerOutputKind?
    /// JUnit XML files the runner writes, read after the run.
    public var junitPaths: [String] = []
    /// Container profiles as root: capabilities and a read-only cgroupfs (`ContainmentPlan`);
    /// with a seccomp filter, signals and ptrace are guarded too.
    public var containment: ContainmentPlan?
    /// Said once in the report (containment impossible without root, unknown capabilities).
    public var setupWarnings: [String] = []

    public init(arguments: [String], environment: [String], profile: ResolvedProfile, confineVersion: String) {
        self.arguments = arguments
        self.environment = environment
        self.profile = profile
        self.confineVersion = confineVersion
        groupName = RunPlan.newGroupName()
    }

    public static let groupPrefix = "confine-"

    static func newGroupName() -> String {
        var random: UInt32 = 0
        _ = getrandom(&random, 4, 0)
        let hex = String(random, radix: 16)
        return "\(groupPrefix)\(getpid())-\(String(repeating: "0", count: 8 - hex.count))\(hex)"
    }
}

/// Runners whose console output confine understands.
public enum RunnerOutputKind: String, Sendable {
    /// `swift test`: XCTest and Swift Testing lines; with `--parallel`, one process per XCTest test.
    case swiftTest = "swift-test"
}

/// Runs one plan: create the group, spawn, watch (samples, OOM kills, signals, deadline),
/// clean up, and return the report. One thread, one poll loop, no shared state.
public final class Supervisor {
    let plan: RunPlan
    let driver: any CgroupDriver

    private var group: (any RunGroup)?
    private var processes = ProcessTable()
    private var timeline = BoundedTimeline()
    private var lastSample = CgroupSample()
    private var samplePeakMemory: UInt64 = 0
    private var samplePeakPids = 0
    private var pidBuffer: [Int32] = []
    private var kernelOOMKills: [KernelOOMKill] = []
    private var oomParser: KernelOOMParser
    private var warnings: [String] = []
    private var start = 0.0
    private var seccompListener: SeccompListener?
    private var tests: TestWatcher
    private var runGuard: RunGuard?

    public init(plan: RunPlan, driver: any CgroupDriver) {
        self.plan = plan
        self.driver = driver
        oomParser = KernelOOMParser(groupName: plan.groupName)
        tests = TestWatcher(plan: plan)
    }

    public func run() -> RunReport {
        start = monotonicSeconds()
        tests.start = start
        let startedAt = rfc3339Now()
        var facts = RunFacts(timeoutSeconds: plan.profile.timeoutSeconds)
        var mainPid: Int32 = 0
        var joinMethod: RunReport.Host.JoinMethod?

        // Become the reaper of the target's orphans (daemons it starts), so none outlives us
        // unnoticed and zombies are collected.
        _ = confine_set_child_subreaper()

        let profile = plan.profile
        let limits = CgroupLimits(cpus: profile.cpus, memoryMax: profile.memoryBytes, swapMax: profile.swapBytes,
                                  cpuset: profile.cpuset, pidsMax: profile.pids)
        var kernelLog: KernelLogReader?
        var connector: ProcessConnector?
        var taskStats: TaskStatsListener?
        warnings += plan.seccomp?.warnings ?? []
        warnings += plan.setupWarnings
        var signalFD: Int32 = -1
        setup: do {
            do {
                signalFD = try Signals.makeSignalFD()
            } catch {
                facts.setupFailure = .init(step: "signalfd", errno: error.errno, message: error.description)
                break setup
            }
            // Before the group exists: from its first moment, a SIGKILLed confine takes it down.
            do {
                runGuard = try RunGuard(groupDirectories: driver.parentDirectories.map { $0 + "/" + plan.groupName })
            } catch {
                warnings.append("\(error): if confine is killed, the target's other processes live until `confine gc`")
            }
            FaultInjection.pause(at: "after-guard")
            do {
                group = try driver.createGroup(named: plan.groupName, limits: limits)
            } catch {
                facts.setupFailure = .init(step: error.step, errno: error.errno, message: error.description)
                break setup
            }
            warnings += group?.warnings ?? []
            FaultInjection.pause(at: "after-group")
            kernelLog = KernelLogReader()
            if kernelLog == nil {
                warnings.append("cannot read /dev/kmsg (\(errnoName(errno))): OOM victims are identified from process exits, not the kernel log")
            }
            do {
                connector = try ProcessConnector()
            } catch {
                warnings.append("process connector unavailable (\(error)): short-lived processes may go unnamed")
            }
            do {
                taskStats = try TaskStatsListener()
            } catch {
                warnings.append("taskstats unavailable (\(error)): process peaks come from samples only")
            }
            var environment = plan.environment
            tests.prepare(environment: &environment)
            do {
                var request = SpawnRequest(
                    arguments: plan.arguments, environment: environment, joinFiles: group?.joinFiles ?? [],
                    cloneIntoDirectory: group?.cloneIntoDirectory, nofile: profile.nofile)
                request.stdoutFD = tests.childStdout
                request.seccomp = plan.seccomp
                request.newNetworkNamespace = profile.networkProfile == .none
                request.containment = plan.containment
                let spawned: SpawnedProcess
                defer { tests.spawned() }
                spawned = try Spawner.spawn(request)
                mainPid = spawned.pid
                joinMethod = spawned.joinMethod
                if let fd = spawned.seccompListener, let filter = plan.seccomp {
                    let containmentGuard = plan.containment.map {
                        ContainmentGuard(groupPaths: group.map { Array($0.kernelPaths.values) } ?? [], plan: $0)
                    }
                    seccompListener = SeccompListener(fd: fd, profile: filter.profile, intercepted: filter.intercepted,
                                                      allowList: Set(plan.networkAllowList), containment: containmentGuard)
                }
                processes.addRoot(mainPid, at: 0)
            } catch {
                if error.isExecFailure {
                    facts.execFailureExitCode = error.errno == ENOENT ? 127 : 126
                    warnings.append("\(error)")
                } else {
                    facts.setupFailure = .init(step: error.step, errno: error.errno, message: error.description)
                }
            }
        }

        if mainPid > 0 { FaultInjection.pause(at: "after-spawn") }
        if mainPid > 0, let group {
            facts.termination = watch(mainPid: mainPid, group: group, signalFD: signalFD, kernelLog: kernelLog,
                                      connector: connector, taskStats: taskStats, facts: &facts)
        }
        if signalFD >= 0 { close(signalFD) }
        processes.closeFiles()

        FaultInjection.pause(at: "before-cleanup")
        // Collect, then clean up: the group's counters die with it.
        if let group {
            group.killAll()
            reapAll()
            if let kernelLog { readOOMKills(from: kernelLog) }
            connector?.drain { handleProcessEvent($0) }
            taskStats?.drain { handleTaskExit($0) }
            tests.finish(group, &lastSample)
        }
        let duration = now()
        var finalSample = lastSample
        group?.sample(detail: true, into: &finalSample)
        let kernelPeak = group?.memoryPeak().map { (bytes: max($0.bytes, tests.segmentPeakMax), source: $0.source) }
        samplePeakMemory = max(samplePeakMemory, tests.segmentPeakMax)
        let appliedLimit = group?.appliedMemoryLimit()
        let pidsPeak = group?.pidsPeak()
        let forkFailures = group?.forkFailures()
        let oomCount = Int(group?.oomKillCount() ?? 0)
        let kernelPaths = group?.kernelPaths ?? [:]
        do {
            try group?.remove()
        } catch {
            warnings.append("could not remove cgroup: \(error) (run `confine gc`)")
        }
        group = nil
        runGuard?.release()

        if let dropped = seccompListener?.droppedAttempts, dropped > 0 {
            warnings.append("network: \(dropped) attempts past the first \(SeccompListener.maximumAttempts) were enforced but not listed")
        }
        let oomKills = identifyOOMKills(count: oomCount, mainPid: mainPid, endedAt: duration)
        tests.countOOMKills(oomKills)
        let probeSummary = tests.close()
        warnings += tests.warnings
        facts.oomKillCount = max(oomCount, oomKills.count)
        facts.mainProcessOOMKilled = oomKills.contains { $0.mainProcess }
        facts.allowedOOMKills = plan.profile.budgets?.allowedOOMKills ?? 0
        let verdict = Verdict.decide(facts, signalName: Signals.name)

        var mainProcess: RunReport.MainProcess?
        if mainPid > 0 {
            mainProcess = RunReport.MainProcess(pid: mainPid)
            switch facts.termination {
            case .exited(let status): mainProcess?.exitStatus = status
            case .signaled(let signal):
                mainProcess?.signal = signal
                mainProcess?.signalName = Signals.name(signal)
            case nil: break
            }
        }
        let useSamplesForPeak = kernelPeak == nil
        let usage = Double(max(finalSample.cpuUsageNanos, lastSample.cpuUsageNanos)) / 1e9
        let report = RunReport(
            confineVersion: plan.confineVersion, outcome: verdict.outcome, exitCode: verdict.exitCode,
            reason: verdict.reason, command: plan.arguments, profile: profile,
            host: .init(kernel: kernelRelease(), cgroupLayout: driver.kind, cgroups: kernelPaths,
                        cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), joinMethod: joinMethod),
            startedAt: startedAt, durationSeconds: duration, mainProcess: mainProcess,
            setupError: facts.setupFailure,
            memory: .init(limitBytes: appliedLimit ?? profile.memoryBytes, swapLimitBytes: profile.swapBytes,
                          peakBytes: useSamplesForPeak ? samplePeakMemory : kernelPeak!.bytes,
                          peakSource: useSamplesForPeak ? .samples : kernelPeak!.source,
                          last: lastSample == CgroupSample() ? nil : MemoryBreakdown(
                              anonBytes: lastSample.anonBytes, fileBytes: lastSample.fileBytes,
                              kernelBytes: lastSample.kernelBytes, shmemBytes: lastSample.shmemBytes),
                          timeline: timeline.finished,
                          timelineResolutionSeconds: profile.samplingIntervalSeconds * Double(timeline.stride)),
            cpu: .init(limitCpus: profile.cpus, usageSeconds: usage,
                       periods: max(finalSample.periods, lastSample.periods),
                       throttledPeriods: max(finalSample.throttledPeriods, lastSample.throttledPeriods),
                       throttledSeconds: Double(max(finalSample.throttledNanos, lastSample.throttledNanos)) / 1e9),
            pids: .init(limit: profile.pids, peak: pidsPeak ?? samplePeakPids,
                        peakSource: pidsPeak == nil ? .samples : .pidsPeak, forkFailures: forkFailures),
            oomKills: oomKills, processes: processSummaries(), seccomp: seccompSection(), network: networkSection(),
            warnings: warnings)
        let finishedContainment = containmentSection(seccomp: report.seccomp)
        var finished = report
        finished.tests = tests.ledger.tests
        finished.functions = tests.ledger.functionRecords
        finished.probe = probeSummary
        finished.supervisor = Self.ownCost()
        finished.containment = finishedContainment
        finished = finished.applyingBudgets()
        finished.warnings = warnings
        return finished
    }

    // MARK: - the loop

    private func watch(mainPid: Int32, group: any RunGroup, signalFD: Int32, kernelLog: KernelLogReader?,
                       connector: ProcessConnector?, taskStats: TaskStatsListener?, facts: inout RunFacts) -> Termination? {
        let interval = plan.profile.samplingIntervalSeconds
        let deadline = plan.profile.timeoutSeconds.map { start + $0 }
        var nextSample = start
        var graceDeadline: Double?
        var sampleCount = 0
        // Usage and pids every sample; the breakdown and CPU counters (costlier, and CPU is
        // cumulative) about every 50 ms; per-process RSS, a few syscalls per process, every 100 ms.
        let detailEvery = max(1, Int((0.05 / interval).rounded()))
        let processEvery = max(1, Int((0.1 / interval).rounded()))

        // One pollfd per source; each is drained only when the kernel says it is readable.
        let sources: [Int32?] = [signalFD, seccompListener?.fd, connector?.fd, kernelLog?.fd, tests.probeFD,
                                 tests.outputFD, taskStats?.fd]
        var fds = sources.compactMap { $0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let slots = sources.map { fd in fd.flatMap { fd in fds.firstIndex { $0.fd == fd } } }
        let (signalSlot, listenerSlot, connectorSlot, kernelLogSlot) = (slots[0]!, slots[1], slots[2], slots[3])
        let (probeSlot, stdoutSlot, taskStatsSlot) = (slots[4], slots[5], slots[6])

        while true {
            let current = monotonicSeconds()
            if current >= nextSample {
                takeSample(group, at: current - start, detail: sampleCount % detailEvery == 0,
                           withProcesses: sampleCount % processEvery == 0)
                sampleCount += 1
                nextSample += interval
                if nextSample < current { nextSample = current + interval } // we fell behind; do not burst
            }
            if let deadline, current >= deadline, !facts.timedOut {
                facts.timedOut = true
                group.signalAll(SIGTERM)
                kill(-mainPid, SIGTERM)
                graceDeadline = current + plan.killGraceSeconds
            }
            if let grace = graceDeadline, current >= grace {
                group.killAll()
                graceDeadline = nil
            }
            var wake = nextSample
            if let deadline, !facts.timedOut { wake = min(wake, deadline) }
            if let grace = graceDeadline { wake = min(wake, grace) }
            let timeoutMs = Int32(max(0, ((wake - monotonicSeconds()) * 1000).rounded(.up)))
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMs) }
            guard ready > 0 else { continue }
            let isReady = { (slot: Int?) -> Bool in slot.map { fds[$0].revents != 0 } ?? false }

            // Process events first, so every process is named while it lives; then the denied
            // calls, which wait in the kernel for their answer.
            if isReady(connectorSlot) { connector?.drain { handleProcessEvent($0) } }
            if isReady(probeSlot) { tests.drainProbe(group, &lastSample) }
            if isReady(taskStatsSlot) { taskStats?.drain { handleTaskExit($0) } }
            if isReady(stdoutSlot), let slot = stdoutSlot {
                tests.drainOutput(group, &lastSample)
                // At end of file the terminal stays readable: stop polling it.
                if tests.outputClosed { fds[slot].fd = -1 }
            }
            if isReady(listenerSlot) {
                seccompListener?.drain(at: now, tgidOf: threadGroup) { processes.observe($0, at: now()) }
            }
            if isReady(kernelLogSlot), let kernelLog { readOOMKills(from: kernelLog) }
            guard isReady(signalSlot) else { continue }
            for signal in Signals.drain(signalFD) {
                if signal == SIGCHLD { continue }
                // Forward to the whole group (a daemonised grandchild included), then give it the grace period.
                group.signalAll(signal)
                kill(-mainPid, signal)
                if graceDeadline == nil {
                    graceDeadline = monotonicSeconds() + max(plan.killGraceSeconds, 5)
                } else {
                    group.killAll() // a second signal: stop waiting
                }
            }
            if let termination = reap(mainPid: mainPid) {
                takeSample(group, at: now(), detail: true, withProcesses: false)
                return termination
            }
        }
    }

    private func readOOMKills(from kernelLog: KernelLogReader) {
        kernelLog.drain { record in if let kill = oomParser.feed(record: record) { kernelOOMKills.append(kill) } }
    }

    private func takeSample(_ group: any RunGroup, at time: Double, detail: Bool, withProcesses: Bool) {
        group.sample(detail: detail || tests.readsEverySample, into: &lastSample)
        tests.sampled(group, &lastSample, slowCadence: detail)
        let sample = lastSample
        samplePeakMemory = max(samplePeakMemory, sample.memoryBytes)
        samplePeakPids = max(samplePeakPids, sample.pids)
        timeline.append(TimelinePoint(
            t: (time * 1000).rounded() / 1000, memoryBytes: sample.memoryBytes,
            breakdown: MemoryBreakdown(anonBytes: sample.anonBytes, fileBytes: sample.fileBytes,
                                       kernelBytes: sample.kernelBytes, shmemBytes: sample.shmemBytes),
            cpuSeconds: Double(sample.cpuUsageNanos) / 1e9, throttledPeriods: sample.throttledPeriods, pids: sample.pids))
        if withProcesses {
            group.sampledPids(into: &pidBuffer)
            processes.sampleRSS(of: pidBuffer, at: time)
        }
    }

    /// Reaps every exited child; returns the main process's termination once it has one.
    private func reap(mainPid: Int32) -> Termination? {
        var result: Termination?
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            if pid == mainPid {
                result = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            }
        }
        return result
    }

    private func reapAll() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    private func handleProcessEvent(_ event: ProcessEvent) {
        processes.handle(event, at: now())
        tests.processEvent(event, command: { processes.command(of: $0) }, lastSample)
    }

    private func handleTaskExit(_ exit: TaskExit) {
        processes.notePeak(exit.tgid, bytes: exit.peakRssBytes)
        tests.taskExited(exit)
    }

    // MARK: - cost

    /// confine's own peak RSS (this process's `VmHWM`, not inherited from whoever exec'd it) and CPU time.
    static func ownCost() -> RunReport.SupervisorCost? {
        guard let status = try? readTextFile("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return RunReport.SupervisorCost(peakRssBytes: kilobytes * 1024, cpuSeconds: (cpu * 1000).rounded() / 1000)
    }

    // MARK: - OOM victims

    /// Every OOM kill the kernel counted, named as exactly as the evidence allows: the kernel
    /// log first, then processes SIGKILLed while the counter rose, then just the count.
    private func identifyOOMKills(count: Int, mainPid: Int32, endedAt: Double) -> [RunReport.OOMKill] {
        var kills: [RunReport.OOMKill] = []
        for event in kernelOOMKills {
            // kmsg timestamps and CLOCK_MONOTONIC both count from boot.
            let at = Double(event.timestampMicros) / 1e6 - start
            kills.append(.init(pid: event.pid, command: processes.command(of: event.pid) ?? event.task,
                               atSeconds: min(max(0, (at * 1000).rounded() / 1000), endedAt),
                               usageBytes: event.usageBytes, limitBytes: event.limitBytes ?? plan.profile.memoryBytes,
                               mainProcess: event.pid == mainPid, source: .kernelLog))
        }
        if kills.count < count {
            let named = Set(kills.map(\.pid))
            for candidate in processes.sigkilled(before: endedAt) where !named.contains(candidate.pid) && kills.count < count {
                kills.append(.init(pid: candidate.pid, command: processes.command(of: candidate.pid) ?? "?",
                                   atSeconds: (candidate.at * 1000).rounded() / 1000, usageBytes: nil,
                                   limitBytes: plan.profile.memoryBytes, mainProcess: candidate.pid == mainPid,
                                   source: .processExit))
            }
        }
        while kills.count < count {
            kills.append(.init(pid: 0, command: "unknown", atSeconds: endedAt, usageBytes: nil,
                               limitBytes: plan.profile.memoryBytes, mainProcess: false, source: .counter))
        }
        return kills.sorted { $0.atSeconds < $1.atSeconds }
    }

    private func seccompSection() -> RunReport.Seccomp? {
        guard let filter = plan.seccomp, !plan.seccompForNetworkOnly else { return nil }
        return RunReport.Seccomp(
            profile: plan.profile.seccomp ?? "custom", defaultAction: filter.profile.defaultAction,
            rules: filter.profile.rules.count, instructions: filter.instructionCount,
            violations: (seccompListener?.violations(commandOf: { processes.command(of: $0) }) ?? []).map { violation in
                var violation = violation
                violation.test = tests.test(at: violation.firstSeconds, pid: violation.pid)
                return violation
            })
    }

    private func containmentSection(seccomp: RunReport.Seccomp?) -> RunReport.Containment? {
        guard let containment = plan.containment else { return nil }
        var measures = containment.measures
        let guardian = seccompListener?.containment
        if guardian == nil { measures.removeAll { $0.hasPrefix("signals") } }
        var attempts = (guardian?.attempts ?? []).map { entry in
            var attempt = entry.attempt
            attempt.command = processes.command(of: entry.tgid) ?? attempt.command
            attempt.test = tests.test(at: attempt.atSeconds, pid: attempt.pid)
            return attempt
        }
        attempts += guardian?.escapeAttempts(from: seccomp?.violations ?? []) ?? []
        attempts.sort { $0.atSeconds < $1.atSeconds }
        let unlisted = guardian?.unlisted ?? 0
        return RunReport.Containment(measures: measures, attempts: attempts, unlistedAttempts: unlisted > 0 ? unlisted : nil)
    }

    private func networkSection() -> RunReport.Network {
        let network = plan.profile.networkProfile
        guard case .allow(let endpoints) = network else { return RunReport.Network(mode: network.mode) }
        return RunReport.Network(mode: network.mode, allowed: endpoints.map(\.description),
                                 resolved: plan.networkAllowList.map(\.description),
                                 attempts: (seccompListener?.networkAttempts(commandOf: { processes.command(of: $0) }) ?? []).map { attempt in
                                     var attempt = attempt
                                     attempt.test = tests.test(at: attempt.atSeconds, pid: attempt.pid)
                                     return attempt
                                 })
    }

    private func processSummaries() -> [RunReport.ProcessRecord] {
        processes.entries
            .map { RunReport.ProcessRecord(pid: $0.pid, command: $0.entry.command, peakRssBytes: $0.entry.peakRssBytes,
                                         firstSeenSeconds: ($0.entry.firstSeen * 1000).rounded() / 1000) }
            .sorted { ($0.peakRssBytes, $1.pid) > ($1.peakRssBytes, $0.pid) }
            .prefix(50)
            .map { $0 }
    }

    private func now() -> Double { monotonicSeconds() - start }
}

/// The running kernel's release (`uname -r`), for the report and seccomp's `minKernel`.
public func kernelRelease() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// Now as RFC 3339 UTC (`2026-11-22T10:54:49Z`), the report's `startedAt`.
public func rfc3339Now() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
