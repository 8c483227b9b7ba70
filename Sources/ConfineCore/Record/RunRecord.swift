/// What happened in one run, as the supervisor saw it: facts and readings, no judgement.
///
/// The supervisor fills it while the run goes on and hands it over at the end; a run that never
/// started is a record too (`RunRecord.setupFailure`). `RunReport(record:)` turns it into the
/// report, a pure function; budgets are judged on the report after that (`BudgetJudge`).
/// Times are seconds since the run started (CLOCK_MONOTONIC), memory is bytes.
public struct RunRecord: Sendable {
    // MARK: what ran

    public var command: [String]
    /// `--copies N`: N copies of `command` ran at once in the group; nil for one.
    public var copies: Int?
    /// `--shard I/N`: the part of the suite this run ran.
    public var shard: ShardPosition?
    public var profile: ResolvedProfile
    public var confineVersion: String
    public var host: RunReport.Host
    /// Wall-clock start, RFC 3339 UTC.
    public var startedAt: String
    public var durationSeconds: Double = 0

    // MARK: how it ended

    /// The step that failed before the command could start (no cgroup, no permission, …).
    public var setupFailure: RunReport.SetupError?
    /// `execve` failed: 127 (not found) or 126 (not executable), as shells say.
    public var execFailureExitCode: Int32?
    /// The command's process; nil when it was never spawned.
    public var mainPid: Int32?
    /// How the main process ended (`waitpid`); nil when it never started or never ended.
    public var termination: Termination?
    /// The run hit its timeout and confine killed the tree.
    public var timedOut = false
    /// The first signal confine received and passed on to the tree (SIGINT, SIGTERM, SIGHUP):
    /// the run was stopped from outside.
    public var interruptedBy: Int32?
    /// Each time the group sat idle after an OOM kill (`OOMStall`), in order (at most
    /// `RunRecord.stallsKept`); the report warns of each.
    public var stalls: [OOMStall] = []
    /// The stall `--stall-timeout` ended the run with (confine killed the tree); also in `stalls`.
    public var stalledOut: OOMStall?
    public static let stallsKept = 10
    /// `confine load`: when confine asked the service to stop (SIGTERM) because the driver ended,
    /// and when the service then exited; `stopKilled` when it outlived the grace period.
    public var stopRequestedAt: Double?
    public var stopExitedAt: Double?
    public var stopKilled = false
    /// `confine load`: readiness, the driver and its output (the CLI adds it after the supervisor returns).
    public var load: LoadRecord?

    // MARK: readings of the group

    /// False for a run confine could not begin to measure (no cgroup layout found, so no
    /// supervisor): its peaks say `none` rather than `samples`.
    public var measured = true
    /// The last sample taken while the command ran; nil when no sample was taken.
    public var lastSample: CgroupSample?
    /// The group read once more after the command ended, before it was removed (CPU counters
    /// and the breakdown are final here).
    public var finalSample = CgroupSample()
    /// The kernel's peak counter (`memory.peak`, `memory.max_usage_in_bytes`) at the end; nil
    /// when the kernel has no peak counter.
    public var kernelPeak: KernelMemoryPeak?
    /// The largest segment peak read at test boundaries: where the counter is reset at each
    /// boundary (v1, v2 from 6.12), the run's peak is the larger of this and the final counter.
    public var segmentPeakMaxBytes: UInt64 = 0
    /// The largest usage seen by samples and at test boundaries.
    public var samplePeakMemoryBytes: UInt64 = 0
    /// The largest memory reclaim cannot drop (`CgroupSample.unreclaimableBytes`) among the
    /// detailed readings: each test boundary and about every 50 ms between them.
    public var unreclaimablePeakBytes: UInt64 = 0
    /// The detailed reading (usage and `memory.stat` at one moment) with the highest usage.
    public var fullestReading: CgroupSample?
    /// The most processes and threads seen by samples.
    public var samplePeakPids = 0
    /// The memory limit as the kernel applied it (whole pages); nil for `max` or no group.
    public var appliedMemoryLimitBytes: UInt64?
    /// Limit hits that reclaim answered (`memory.failcnt`, `memory.events`); nil if unread.
    public var memoryPressure: RunReport.MemoryPressure?
    /// shmem/tmpfs memory still charged to the group after its processes were gone (files left
    /// in /dev/shm or another tmpfs), bytes; and those files in /dev/shm changed during the run.
    public var shmemLeftBytes: UInt64 = 0
    public var shmemLeftFiles: [String] = []
    /// Processes of the run found outside its cgroup (they moved themselves out), in time order.
    public var movedOutOfGroup: [RunReport.MovedProcess] = []
    /// `pids.peak`; nil where the kernel has no such counter.
    public var pidsPeak: Int?
    /// Forks the kernel refused at the pids limit (`pids.events` max).
    public var forkFailures: UInt64?
    /// The group at its highest sample near the pids limit: tasks, processes, threads and the
    /// process holding the most (`RunReport.PidsAtLimit`; its test is named with the report).
    public var pidsAtLimit: RunReport.PidsAtLimit?
    /// CPUs in the main process's affinity mask just after the spawn (what `nproc` says).
    public var visibleCpus: Int?
    /// The most processes in state `R` at one per-process sample, under a CPU quota; else nil.
    public var peakRunnableProcesses: Int?
    /// The bounded timeline and how many samples each point stands for.
    public var timeline: [TimelinePoint] = []
    public var timelineStride = 1

    // MARK: what the kernel did to it, and what it tried

    /// OOM kills, each named as exactly as the evidence allowed (its `source`), in time order;
    /// as many as the kernel's `oom_kill` counter says.
    public var oomKills: [RunReport.OOMKill] = []
    /// The processes seen in the group, hungriest first (bounded).
    public var processes: [RunReport.ProcessRecord] = []
    /// Present with a seccomp profile; violations not yet named by test.
    public var seccomp: RunReport.Seccomp?
    public var network: RunReport.Network?
    public var containment: RunReport.Containment?

    // MARK: attribution and confine's own cost

    /// Tests and functions as they ran, closed at the end (JUnit merged); OOM kills are charged
    /// to tests when the report is made.
    public var ledger = AttributionLedger()
    /// The probe channel's accounting; nil when it was off.
    public var probe: RunReport.ProbeSummary?
    /// A runner's console output was read for test boundaries (`swift test`, named or found in
    /// the process tree); what it held is the watcher's warning, not a silence.
    public var runnerOutputRead = false
    public var supervisorCost: RunReport.SupervisorCost?
    public var warnings: [String] = []

    public init(command: [String], profile: ResolvedProfile, confineVersion: String, host: RunReport.Host, startedAt: String) {
        self.command = command
        self.profile = profile
        self.confineVersion = confineVersion
        self.host = host
        self.startedAt = startedAt
    }

    /// The record of a run that never reached the supervisor: the step that failed, and nothing measured.
    public static func setupFailure(command: [String], profile: ResolvedProfile, confineVersion: String, host: RunReport.Host,
                                    startedAt: String, failure: RunReport.SetupError) -> RunRecord {
        var record = RunRecord(command: command, profile: profile, confineVersion: confineVersion, host: host, startedAt: startedAt)
        record.setupFailure = failure
        record.measured = false
        return record
    }
}

/// The kernel's own peak of the group's memory usage, and the file it came from.
public struct KernelMemoryPeak: Sendable, Equatable {
    public var bytes: UInt64
    /// `memory.peak` (v2) or `memory.max_usage_in_bytes` (v1).
    public var source: RunReport.Memory.PeakSource
    public init(bytes: UInt64, source: RunReport.Memory.PeakSource) {
        self.bytes = bytes
        self.source = source
    }
}
