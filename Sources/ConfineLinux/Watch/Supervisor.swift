#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import ConfineCore

/// Runs one plan: set up (`RunSetup`), watch (samples, OOM kills, signals, deadline), clean up,
/// and return what happened as a `RunRecord`. One thread, one poll loop, no shared state.
/// It judges nothing: the record becomes a report, and budgets are judged, after it returns.
public final class Supervisor {
    let plan: RunPlan
    let driver: any CgroupDriver

    private var start = 0.0
    /// The run's start in seconds since the epoch (files changed since then are the run's).
    private var startWall = 0
    private var processes = ProcessTable()
    private var oomVictims: OOMVictims
    /// Processes of the run's tree found outside its cgroup (they moved themselves out).
    private var movedOut: [RunReport.MovedProcess] = []
    /// Stalls after an OOM kill, and the one `--stall-timeout` ended the run with.
    private var stallMonitor: OOMStallMonitor
    /// The first signal confine received and passed on (the run was stopped from outside).
    private var interruptedBy: Int32?

    /// A line for the user while the run goes on (a stall after an OOM kill); the CLI prints it
    /// to stderr. The supervisor itself prints nothing.
    public var notice: (String) -> Void = { _ in }
    /// The group at its highest sample near the pids limit (`TaskCensus`).
    private var pidsAtLimit: RunReport.PidsAtLimit?
    /// Shared with another thread (`confine load`'s driver thread): stop requests, the target's
    /// end, the exit statuses of the children that thread started.
    public var control: SupervisorControl?
    /// When a stop `control` asked for began, when the target then exited, whether it needed SIGKILL.
    private var stopRequestedAt: Double?
    /// The private /dev/shm's fill, when the run has one.
    private var shmWatch: ShmWatch?
    private var stopExitedAt: Double?
    private var stopKilled = false

    public init(plan: RunPlan, driver: any CgroupDriver) {
        self.plan = plan
        self.driver = driver
        oomVictims = OOMVictims(groupName: plan.groupName)
        stallMonitor = OOMStallMonitor(stallTimeout: plan.profile.stallTimeoutSeconds)
        processes.countsRunnable = plan.profile.cpus != nil
    }

    public func run() -> RunRecord {
        start = monotonicSeconds()
        startWall = time(nil)
        control?.started(at: start)
        var record = RunRecord(command: plan.arguments, profile: plan.profile, confineVersion: plan.confineVersion,
                               host: .current(layout: driver.kind),
                               startedAt: rfc3339Now())
        // Become the reaper of the target's orphans (daemons it starts), so none outlives us
        // unnoticed and zombies are collected.
        _ = confine_set_child_subreaper()

        var setup = RunSetup.make(plan: plan, driver: driver, start: start)
        record.warnings = (plan.seccomp?.warnings ?? []) + plan.setupWarnings + setup.warnings
        record.setupFailure = setup.failure
        record.execFailureExitCode = setup.execFailureExitCode
        record.host.joinMethod = setup.joinMethod
        if setup.mainPid > 0 {
            record.mainPid = setup.mainPid
            // What `nproc` in the target says: joined to the group (and its cpuset) before exec.
            record.visibleCpus = affinityCPUCount(of: setup.mainPid)
            processes.addRoot(setup.mainPid, at: 0)
            shmWatch = ShmWatch(plan: plan, mainPid: setup.mainPid)
            control?.spawned(setup.mainPid)
            FaultInjection.pause(at: "after-spawn")
            if let sampler = setup.sampler, let tests = setup.tests {
                (record.termination, record.timedOut) = watch(setup, sampler: sampler, tests: tests)
                shmWatch?.finish(at: now())
                record.interruptedBy = interruptedBy
            }
            record.stopRequestedAt = stopRequestedAt
            record.stopExitedAt = stopExitedAt
            record.stopKilled = stopKilled
            stallMonitor.finish(victim: firstVictim)
            record.stalls = stallMonitor.stalls
            record.stalledOut = stallMonitor.stalledOut
        }
        control?.ended()
        if setup.signalFD >= 0 { close(setup.signalFD) }
        processes.closeFiles()

        FaultInjection.pause(at: "before-cleanup")
        if let group = setup.group, let sampler = setup.sampler, let tests = setup.tests {
            collect(group, sampler: sampler, tests: tests, setup: setup, into: &record)
        } else {
            record.durationSeconds = now()
        }
        setup.group = nil
        record.warnings += setup.removeMadeDirectories()
        setup.runGuard?.release()

        // What the plan and the listener say, whether or not the command ran.
        let sections = ListenerSections(plan: plan, listener: setup.seccompListener, commandOf: { self.processes.command(of: $0) })
        record.warnings += sections.warnings
        record.seccomp = sections.seccomp
        record.network = sections.network
        record.containment = sections.containment
        if let shm = shmWatch?.report { record.containment?.shm = shm }
        record.supervisorCost = Self.ownCost()
        return record
    }

    // MARK: - the loop

    /// Until the main process ends: samples at the profile's interval, drains each source when
    /// the kernel says it is readable, enforces the deadline and forwards signals.
    private func watch(_ setup: RunSetup, sampler: GroupSampler, tests: TestWatcher) -> (Termination?, timedOut: Bool) {
        let (mainPid, group) = (setup.mainPid, setup.group!)
        let deadline = plan.profile.timeoutSeconds.map { start + $0 }
        var timedOut = false
        var graceDeadline: Double?

        // One pollfd per source; each is drained only when the kernel says it is readable.
        var poller = Poller([setup.signalFD, setup.seccompListener?.fd, setup.connector?.fd, setup.kernelLog?.fd, tests.probeFD,
                             tests.outputFD, setup.taskStats?.fd, control?.stopFD])
        let (signals, listener, connector, kernelLog, probe, output, taskStats, stopRequest) = (0, 1, 2, 3, 4, 5, 6, 7)

        while true {
            let current = monotonicSeconds()
            if let due = sampler.sampleIfDue(now: current) {
                sampled(sampler, tests: tests, at: current - start, slowCadence: due.slowCadence, withProcesses: due.processes)
                // CPU counters are read at the slower cadence: a stall is judged on those readings.
                if due.slowCadence, graceDeadline == nil,
                   stallMonitor.sampled(at: current - start, cpuNanos: sampler.latest.cpuUsageNanos,
                                        killLogged: oomVictims.firstLogged(start: start) != nil, oomKillCount: group.oomKillCount,
                                        victim: firstVictim, notice: notice) {
                    tests.runCutShort(as: .timedOut)
                    group.signalAll(SIGTERM)
                    kill(-mainPid, SIGTERM)
                    graceDeadline = current + plan.killGraceSeconds
                }
            }
            if let deadline, current >= deadline, !timedOut, stallMonitor.stalledOut == nil, interruptedBy == nil {
                timedOut = true
                tests.runCutShort(as: .timedOut)
                group.signalAll(SIGTERM)
                kill(-mainPid, SIGTERM)
                graceDeadline = current + plan.killGraceSeconds
            }
            if let grace = graceDeadline, current >= grace {
                group.killAll()
                graceDeadline = nil
                if stopRequestedAt != nil && !timedOut && interruptedBy == nil { stopKilled = true }
            }
            var wake = sampler.nextSample
            if let deadline, !timedOut { wake = min(wake, deadline) }
            if let grace = graceDeadline { wake = min(wake, grace) }
            guard poller.wait(until: wake) else { continue }

            // Process events first, so every process is named while it lives; then the denied
            // calls, which wait in the kernel for their answer.
            if poller.isReady(connector) { setup.connector?.drain { handleProcessEvent($0, tests) } }
            if poller.isReady(probe) { tests.drainProbe() }
            if poller.isReady(taskStats) { setup.taskStats?.drain { handleTaskExit($0, tests) } }
            if poller.isReady(output) {
                tests.drainOutput()
                // At end of file the terminal stays readable: stop polling it.
                if tests.outputClosed { poller.stopPolling(output) }
            }
            if poller.isReady(listener) {
                setup.seccompListener?.drain(at: now, tgidOf: threadGroup) { processes.observe($0, at: now()) }
            }
            if poller.isReady(kernelLog), let log = setup.kernelLog { oomVictims.read(log) }
            if poller.isReady(stopRequest), control?.takeStopRequest() == true, stopRequestedAt == nil, graceDeadline == nil {
                // Stopped as a container runtime stops a container: SIGTERM to every process, SIGKILL after the grace period.
                stopRequestedAt = now()
                group.signalAll(SIGTERM)
                kill(-mainPid, SIGTERM)
                graceDeadline = monotonicSeconds() + plan.killGraceSeconds
            }
            guard poller.isReady(signals) else { continue }
            for signal in Signals.drain(setup.signalFD) where signal != SIGCHLD {
                // Forward to the whole group (a daemonised grandchild included), then give it the grace period.
                tests.runCutShort(as: .interrupted)
                if interruptedBy == nil && !timedOut && stallMonitor.stalledOut == nil { interruptedBy = signal }
                control?.noteInterrupted()
                group.signalAll(signal)
                kill(-mainPid, signal)
                if graceDeadline == nil {
                    graceDeadline = monotonicSeconds() + max(plan.killGraceSeconds, 5)
                } else {
                    group.killAll() // a second signal: stop waiting
                    if stopRequestedAt != nil { stopKilled = true }
                }
            }
            if let termination = reap(mainPid: mainPid) {
                if stopRequestedAt != nil { stopExitedAt = now() }
                sampler.sample(at: now(), detail: true)
                sampled(sampler, tests: tests, at: now(), slowCadence: true, withProcesses: false)
                return (termination, timedOut)
            }
        }
    }

    /// The run's first OOM kill by the best evidence at hand now: the kernel log, else a process
    /// of the run that exited by SIGKILL.
    private func firstVictim() -> OOMStallMonitor.Victim? {
        if let first = oomVictims.firstLogged(start: start) {
            return .init(pid: first.pid, command: processes.command(of: first.pid) ?? first.task, at: first.at)
        }
        return processes.sigkilled(before: now()).first.map { .init(pid: $0.pid, command: processes.command(of: $0.pid), at: $0.at) }
    }

    /// After each sample: the tests are credited with it, and every ~100 ms each process's RSS is read.
    private func sampled(_ sampler: GroupSampler, tests: TestWatcher, at time: Double, slowCadence: Bool, withProcesses: Bool) {
        tests.sampled(slowCadence: slowCadence)
        if slowCadence { shmWatch?.sample(at: time) }
        if withProcesses {
            let members = sampler.memberPids()
            processes.sampleRSS(of: members, at: time)
            movedOut += processes.movedOut(of: plan.groupName, members: members, at: time)
        }
        if sampler.takePidsCensusDue() {
            pidsAtLimit = TaskCensus.take(members: sampler.memberPids(), tasks: sampler.latest.pids, at: time,
                                          command: { processes.command(of: $0) })
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
            } else {
                control?.reaped(pid, status: status)
            }
        }
        return result
    }

    private func handleProcessEvent(_ event: ProcessEvent, _ tests: TestWatcher) {
        processes.handle(event, at: now())
        tests.processEvent(event, command: { processes.command(of: $0) })
    }

    private func handleTaskExit(_ exit: TaskExit, _ tests: TestWatcher) {
        processes.notePeak(exit.tgid, bytes: exit.peakRssBytes)
        tests.taskExited(exit)
    }

    // MARK: - after the loop

    /// Collects, then cleans up (the group's counters die with it): the last events, the final
    /// readings, the OOM victims, the tests, the listener's records; then the group is removed.
    private func collect(_ group: any RunGroup, sampler: GroupSampler, tests: TestWatcher, setup: RunSetup, into record: inout RunRecord) {
        group.killAll()
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            control?.reaped(pid, status: status)
        }
        if let log = setup.kernelLog { oomVictims.read(log) }
        setup.connector?.drain { handleProcessEvent($0, tests) }
        setup.taskStats?.drain { handleTaskExit($0, tests) }
        tests.finish()
        record.durationSeconds = now()
        record.finalSample = sampler.finalReading()
        // Every process of the run is gone: shmem still charged is tmpfs files it left.
        record.shmemLeftBytes = record.finalSample.shmemBytes
        if record.shmemLeftBytes >= 1 << 20 { record.shmemLeftFiles = ShmemLeftovers.files(changedSince: startWall) }
        record.memoryPressure = group.memoryPressure()
        record.lastSample = sampler.latest == CgroupSample() ? nil : sampler.latest
        record.kernelPeak = group.memoryPeak().map { KernelMemoryPeak(bytes: $0.bytes, source: $0.source) }
        record.segmentPeakMaxBytes = sampler.segmentPeakMax
        record.samplePeakMemoryBytes = sampler.peakMemoryBytes
        record.unreclaimablePeakBytes = max(sampler.unreclaimablePeakBytes, record.finalSample.unreclaimableBytes)
        record.fullestReading = sampler.fullestReading
        record.samplePeakPids = sampler.peakPids
        record.timeline = sampler.timeline.finished
        record.timelineStride = sampler.timeline.stride
        record.appliedMemoryLimitBytes = group.appliedMemoryLimit()
        record.pidsPeak = group.pidsPeak()
        record.forkFailures = group.forkFailures()
        record.pidsAtLimit = pidsAtLimit
        record.peakRunnableProcesses = processes.countsRunnable ? processes.peakRunnable : nil
        let oomCount = Int(group.oomKillCount())
        record.host.cgroups = group.kernelPaths
        do {
            try group.remove()
        } catch {
            record.warnings.append("could not remove cgroup: \(error) (run `confine gc`)")
        }

        record.oomKills = oomVictims.named(count: oomCount, mainPid: setup.mainPid, start: start, endedAt: record.durationSeconds,
                                           limitBytes: plan.profile.memoryBytes, processes: processes)
        record.probe = tests.close()
        record.runnerOutputRead = tests.readRunnerOutput
        record.warnings += tests.warnings
        record.ledger = tests.ledger
        record.processes = processes.summaries()
        record.movedOutOfGroup = movedOut
    }

    /// confine's own peak RSS (this process's `VmHWM`, not inherited from whoever exec'd it) and CPU time.
    static func ownCost() -> RunReport.SupervisorCost? {
        guard let kilobytes = try? ProcFS.statusField("VmHWM", of: .current) else { return nil }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return RunReport.SupervisorCost(peakRssBytes: kilobytes * 1024, cpuSeconds: (cpu * 1000).rounded() / 1000)
    }

    private func now() -> Double { monotonicSeconds() - start }
}
