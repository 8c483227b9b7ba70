import Foundation

/// How a run ended; the report's `outcome`. See docs/report-schema.md.
public enum Outcome: String, ReportValue {
    case passed
    case failed
    case oomKilled = "oom_killed"
    case timeout
    /// The group sat idle after an OOM kill for `--stall-timeout` (`stallTimeoutSeconds`) and
    /// confine ended it as it ends a timeout: exit 124.
    case stalled
    /// confine received SIGINT, SIGTERM or SIGHUP (a cancelled CI job, Ctrl-C) and stopped the
    /// tree: exit 128 + that signal, whatever the command made of it.
    case interrupted
    case signaled
    case setupFailed = "setup_failed"
    case budgetExceeded = "budget_exceeded"
    /// `confine load`: the service never answered its readiness check (`--ready-timeout`), or
    /// exited with status 0 before it did.
    case notReady = "not_ready"
    /// `confine load`: the driver could not start, or ran and gave no requests confine could read.
    case driverFailed = "driver_failed"
}

/// A closed set the report writes as one of its raw strings. Decoding any other string fails
/// with the JSON path and the values expected (`ReportFiles` shows them as `at: reason`).
public protocol ReportValue: RawRepresentable<String>, CaseIterable, Codable, Sendable {}

extension ReportValue {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw ReportJSON.unknownValue(text, expected: Self.allCases.map(\.rawValue), codingPath: decoder.codingPath)
        }
        self = value
    }
}

/// The host's cgroup layout (`CgroupLayoutParser` reads it from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`); the report's `host.cgroupLayout`.
public enum CgroupLayoutKind: String, ReportValue {
    /// cgroup v2 only (`/sys/fs/cgroup` is cgroup2).
    case unified
    /// v1 controllers plus a cgroup2 mount without them (systemd's hybrid mode).
    case hybrid
    /// cgroup v1 only.
    case legacy
    /// Not read: the report of a run whose setup failed before the layout was known (`setupFailure`).
    case unknown
}

/// The report's `network.mode`: which network the target got (`NetworkProfile.mode`).
public enum NetworkMode: String, ReportValue {
    /// The host's network, unchanged (`NetworkProfile.host`).
    case host
    /// A network namespace of its own with only `lo` (`NetworkProfile.none`).
    case none
    /// The host's network with an allow-list; every attempt recorded (`NetworkProfile.allow`).
    case allow
}

/// The run report, schema version 2. Written on every outcome.
public struct RunReport: Codable, Sendable, Equatable {
    /// 2 added `tests`, `functions`, `probe`, and the test running at each denial and network attempt.
    public static let currentSchemaVersion = 2

    public var schemaVersion = RunReport.currentSchemaVersion
    public var confineVersion: String
    public var outcome: Outcome
    public var exitCode: Int32
    /// One sentence saying why the run ended this way.
    public var reason: String
    public var command: [String]
    public var profile: ResolvedProfile
    public var host: Host
    /// Wall-clock start, RFC 3339 UTC.
    public var startedAt: String
    public var durationSeconds: Double
    public var mainProcess: MainProcess?
    public var setupError: SetupError?
    public var memory: Memory
    public var cpu: CPU
    public var pids: Pids
    public var oomKills: [OOMKill]
    /// The processes seen in the group, hungriest first (bounded).
    public var processes: [ProcessRecord]
    /// Processes of the run that moved themselves out of its cgroup while it ran (absent when
    /// none did): their memory and CPU left the figures and the limits from then on.
    public var movedOutOfGroup: [MovedProcess]? = nil
    /// Present when the run had a seccomp profile.
    public var seccomp: Seccomp?
    public var network: Network?
    /// The tests that ran, in start order (see docs/report-schema.md for how memory is attributed).
    public var tests: [TestRecord] = []
    /// Probed functions, slowest p99 first.
    public var functions: [FunctionRecord] = []
    /// The probe channel's accounting; nil when it was off.
    public var probe: ProbeSummary?
    /// What confine itself cost: its own peak RSS (`VmHWM`) and CPU time.
    public var supervisor: SupervisorCost?
    /// What confine did to keep the target in (container profiles) and what the target tried.
    public var containment: Containment?
    /// The profile's budgets, judged after the run (absent when it has none).
    public var budgets: [BudgetResult]?
    /// Present in a report made by `confine merge`: each shard's own suite figures.
    public var shards: [Shard]?
    /// Present in a report made by `confine load` (and each `confine capacity` step): the driver's
    /// figures on the run's clock (docs/load.md).
    public var load: Load?
    /// `confine run --copies N`: N copies of `command` ran at once in the one cgroup (absent for one).
    public var copies: Int?
    /// `confine run --shard I/N`: this run ran the I-th of N disjoint parts of the suite
    /// (`confine merge` checks that its shards are all there, once each).
    public var shard: ShardPosition?

    public struct Shard: Codable, Sendable, Equatable {
        public var path: String
        public var command: [String]
        public var outcome: Outcome
        public var exitCode: Int32
        public var startedAt: String
        public var durationSeconds: Double
        public var peakBytes: UInt64
        public var cpuSeconds: Double
        public var tests: Int
    }

    public struct SupervisorCost: Codable, Sendable, Equatable {
        public var peakRssBytes: UInt64
        public var cpuSeconds: Double
        public init(peakRssBytes: UInt64, cpuSeconds: Double) {
            self.peakRssBytes = peakRssBytes
            self.cpuSeconds = cpuSeconds
        }
    }

    public struct ProbeSummary: Codable, Sendable, Equatable {
        /// The socket named in `CONFINE_PROBE_SOCKET` (removed after the run).
        public var socket: String
        public var datagrams: Int
        public var recordsReceived: Int
        /// Records senders could not deliver plus records of function names past the limit.
        public var recordsDropped: Int
        public var malformedDatagrams: Int
        public init(socket: String, datagrams: Int, recordsReceived: Int, recordsDropped: Int, malformedDatagrams: Int) {
            self.socket = socket
            self.datagrams = datagrams
            self.recordsReceived = recordsReceived
            self.recordsDropped = recordsDropped
            self.malformedDatagrams = malformedDatagrams
        }
    }

    public struct Network: Codable, Sendable, Equatable {
        public var mode: NetworkMode
        /// The allow-list as given (`allow` mode).
        public var allowed: [String]
        /// Addresses the allow-list resolved to before the run (`127.0.0.1:5432`).
        public var resolved: [String]
        /// Every outbound attempt (`allow` mode), in order.
        public var attempts: [NetworkAttempt]
        public init(mode: NetworkMode, allowed: [String] = [], resolved: [String] = [], attempts: [NetworkAttempt] = []) {
            self.mode = mode
            self.allowed = allowed
            self.resolved = resolved
            self.attempts = attempts
        }
    }

    public struct Containment: Codable, Sendable, Equatable {
        /// What was applied (capabilities, read-only cgroup filesystems, confined signals).
        public var measures: [String]
        /// Every attempt to reach out of the run: refused, or let through where the kernel
        /// itself refuses it (a read-only mount, a missing capability).
        public var attempts: [ContainmentAttempt]
        /// Attempts past the first 1,000 (counted, not listed).
        public var unlistedAttempts: Int?
        /// The run's private /dev/shm, when it had one.
        public var shm: Shm?
        public init(measures: [String], attempts: [ContainmentAttempt], unlistedAttempts: Int? = nil) {
            self.measures = measures
            self.attempts = attempts
            self.unlistedAttempts = unlistedAttempts
        }
    }

    /// The private /dev/shm tmpfs as `statfs(2)` saw it through the target's root
    /// (`/proc/<pid>/root/dev/shm`), read with the CPU counters (about every 50 ms) while the
    /// main process lived: a fill shorter than that can be missed.
    public struct Shm: Codable, Sendable, Equatable {
        /// The tmpfs's size: what the profile set (`filesystem.shm_size`, Docker's 64 MiB).
        public var sizeBytes: UInt64
        /// The most it held at a reading (bytes in use: blocks minus free blocks, times the block size).
        public var peakBytes: UInt64
        /// When it was first seen full (no free block): writes there fail with ENOSPC, and a
        /// process touching mmap'd POSIX shared memory past it gets SIGBUS — as in the pod.
        public var filledAtSeconds: Double?
        /// The test running then.
        public var test: String?
        public init(sizeBytes: UInt64, peakBytes: UInt64, filledAtSeconds: Double? = nil) {
            self.sizeBytes = sizeBytes
            self.peakBytes = peakBytes
            self.filledAtSeconds = filledAtSeconds
        }
    }

    public struct ContainmentAttempt: Codable, Sendable, Equatable {
        /// `kill`, `ptrace`, `openat`, `prlimit64`, `unshare`, …
        public var syscall: String
        /// What it aimed at: `pid 812 (confine)`, `/sys/fs/cgroup/memory/…/cgroup.procs`, `RLIMIT_NOFILE`.
        public var target: String
        public var verdict: Verdict
        public var errnoName: String?
        public var why: String
        public var pid: Int32
        public var command: String
        public var atSeconds: Double
        public var test: String?
        /// Set when the call failed because of the container's environment rather than as an
        /// attempt to leave the run: it would fail in the pod too.
        public var cause: Cause?

        public enum Cause: String, ReportValue {
            /// A write the read-only root refused (EROFS).
            case readOnlyRoot = "read_only_root"
            /// A write the target's uid and groups may not make (EACCES), judged from the file's
            /// (or, for a new file, its directory's) owner, group and mode.
            case user
        }
        public init(syscall: String, target: String, verdict: Verdict, errnoName: String?, why: String, pid: Int32,
                    command: String, atSeconds: Double) {
            self.syscall = syscall
            self.target = target
            self.verdict = verdict
            self.errnoName = errnoName
            self.why = why
            self.pid = pid
            self.command = command
            self.atSeconds = atSeconds
        }

        /// What became of an attempt to reach out of the run (`ContainmentGuard` decides).
        public enum Verdict: String, ReportValue {
            /// confine refused the call itself, answering with `errnoName`.
            case refused
            /// Let through to a kernel that refuses it (a read-only mount, a missing capability).
            case kernel
        }
    }

    public struct NetworkAttempt: Codable, Sendable, Equatable {
        public var address: String
        public var port: Int
        /// `tcp`, `udp` or another socket type.
        public var `protocol`: String
        public var verdict: Verdict
        public var syscall: String
        public var pid: Int32
        public var command: String
        public var atSeconds: Double
        /// The test running at the time, when confine knew the tests.
        public var test: String?
        public init(address: String, port: Int, protocol: String, verdict: Verdict, syscall: String, pid: Int32,
                    command: String, atSeconds: Double) {
            self.address = address
            self.port = port
            self.protocol = `protocol`
            self.verdict = verdict
            self.syscall = syscall
            self.pid = pid
            self.command = command
            self.atSeconds = atSeconds
        }

        /// What the seccomp listener did with a send or connect in `allow` mode (`SeccompListener`).
        public enum Verdict: String, ReportValue {
            /// The destination is on the allow-list: the call went through.
            case allowed
            /// The destination is not on it: the call failed (ECONNREFUSED for connect, EPERM for sends).
            case refused
        }
    }
    public var warnings: [String]

    public struct Seccomp: Codable, Sendable, Equatable {
        /// The profile as given (`container-default`, a path).
        public var profile: String
        /// The profile's default action as libseccomp names it (`SCMP_ACT_ERRNO(1)`).
        public var defaultAction: SeccompAction
        /// Rules that applied after capability, architecture and kernel gating.
        public var rules: Int
        /// Size of the compiled BPF program.
        public var instructions: Int
        public var violations: [SeccompViolation]
        public init(profile: String, defaultAction: SeccompAction, rules: Int, instructions: Int, violations: [SeccompViolation]) {
            self.profile = profile
            self.defaultAction = defaultAction
            self.rules = rules
            self.instructions = instructions
            self.violations = violations
        }
    }

    /// Calls the profile denied, one entry per process, syscall and action.
    public struct SeccompViolation: Codable, Sendable, Equatable {
        public var syscall: String
        /// The syscall number the kernel saw (nil in reports written before it was recorded).
        public var number: Int32?
        /// What the profile said to do with the call (the action without its errno).
        public var action: SeccompAction.Kind
        public var errno: Int32?
        public var errnoName: String?
        public var pid: Int32
        public var command: String
        public var count: Int
        public var firstSeconds: Double
        public var lastSeconds: Double
        /// The test running at the first denial, when confine knew the tests.
        public var test: String?
        public init(syscall: String, action: SeccompAction.Kind, errno: Int32?, errnoName: String?, pid: Int32, command: String,
                    count: Int, firstSeconds: Double, lastSeconds: Double, number: Int32? = nil) {
            self.syscall = syscall
            self.number = number
            self.action = action
            self.errno = errno
            self.errnoName = errnoName
            self.pid = pid
            self.command = command
            self.count = count
            self.firstSeconds = firstSeconds
            self.lastSeconds = lastSeconds
        }

        /// ENOSYS is the answer glibc expects for a call the kernel (or the profile) does not
        /// have: it falls back to an older call (clone3 → clone), so the run is unaffected.
        /// ENOSYS for a call glibc answers by calling an older one (`glibcFallbacks`): noise, not a
        /// failure. ENOSYS for any other call reaches the program, and is listed as a denial.
        public var isExpectedFallback: Bool { action == .errno && errnoName == "ENOSYS" && Self.glibcFallbacks[syscall] != nil }

        /// Calls glibc retries with an older one only when they fail with ENOSYS; any other
        /// errno reaches the program (a clone3 EPERM fails `pthread_create`).
        public static let glibcFallbacks: [String: String] = [
            "clone3": "clone", "faccessat2": "faccessat", "statx": "fstatat", "fchmodat2": "fchmodat",
        ]

        /// Denied with an errno other than ENOSYS where glibc would have fallen back on ENOSYS.
        public var glibcFallbackMissed: String? {
            guard action == .errno, errnoName != "ENOSYS" else { return nil }
            return Self.glibcFallbacks[syscall]
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public var kernel: String
        public var cgroupLayout: CgroupLayoutKind
        /// The run's cgroup, as `/proc/<pid>/cgroup` names it (per controller on v1).
        public var cgroups: [String: String]
        public var cpuCount: Int
        /// How the target entered its cgroup before running (nil when it never started).
        public var joinMethod: JoinMethod?
        /// The machine, as `confine compare` tells runners apart: `uname` nodename, and the CPU's
        /// model name from /proc/cpuinfo (nil in reports of older confines).
        public var hostname: String? = nil
        public var cpuModel: String? = nil
        public init(kernel: String, cgroupLayout: CgroupLayoutKind, cgroups: [String: String], cpuCount: Int,
                    joinMethod: JoinMethod? = nil) {
            self.kernel = kernel
            self.cgroupLayout = cgroupLayout
            self.cgroups = cgroups
            self.cpuCount = cpuCount
            self.joinMethod = joinMethod
        }

        /// How the target entered its cgroup (`Spawner` reports which happened).
        public enum JoinMethod: String, ReportValue {
            /// Born in it: `clone3` with `CLONE_INTO_CGROUP` (cgroup v2, Linux 5.7+).
            case cloneIntoCgroup = "clone-into-cgroup"
            /// Moved between fork and exec: the child wrote its pid into the group (`tasks` on v1).
            case cgroupProcs = "cgroup.procs"
        }
    }

    public struct MainProcess: Codable, Sendable, Equatable {
        public var pid: Int32
        /// Set when the process exited normally.
        public var exitStatus: Int32?
        /// Set when the process was killed by a signal.
        public var signal: Int32?
        public var signalName: String?
        public init(pid: Int32, exitStatus: Int32? = nil, signal: Int32? = nil, signalName: String? = nil) {
            self.pid = pid
            self.exitStatus = exitStatus
            self.signal = signal
            self.signalName = signalName
        }
    }

    public struct SetupError: Codable, Sendable, Equatable {
        /// The setup step that failed (`create cgroup`, `join cgroup`, `setrlimit nofile`, `execve`, ...).
        public var step: String
        public var errno: Int32?
        public var message: String
        public init(step: String, errno: Int32?, message: String) {
            self.step = step
            self.errno = errno
            self.message = message
        }
    }

    public struct Memory: Codable, Sendable, Equatable {
        public var limitBytes: UInt64?
        public var swapLimitBytes: UInt64?
        /// The group's peak usage from the kernel's own counter (see `peakSource`): what the limit
        /// counts, page cache included.
        public var peakBytes: UInt64
        public var peakSource: PeakSource
        /// The most memory reclaim could not drop — anonymous, shmem/tmpfs and unreclaimable kernel
        /// memory (`memory.stat`), clean page cache excluded — among the detailed readings (every
        /// test boundary, about every 50 ms between). What `peak_rss` budgets judge; absent in
        /// reports of confine before it was measured, and when nothing was measured.
        public var unreclaimablePeakBytes: UInt64?
        /// How often usage reached the limit and the kernel reclaimed (page cache first) instead
        /// of killing: pressure, not an OOM kill. Absent when the kernel's counter was not read.
        public var pressure: MemoryPressure?
        /// The detailed reading (usage and its `memory.stat` split read together) with the highest
        /// usage, and the clean page cache in it (`file` − `shmem`): what filled the group then.
        public var fullestReadingBytes: UInt64?
        public var fullestReadingPageCacheBytes: UInt64?
        /// Memory usage at the last sample, split by kind (bytes).
        public var last: MemoryBreakdown?
        public var timeline: [TimelinePoint]
        /// Seconds between two timeline points after downsampling (the sampling interval if none happened).
        public var timelineResolutionSeconds: Double
        public init(limitBytes: UInt64?, swapLimitBytes: UInt64?, peakBytes: UInt64, peakSource: PeakSource,
                    last: MemoryBreakdown?, timeline: [TimelinePoint], timelineResolutionSeconds: Double) {
            self.limitBytes = limitBytes
            self.swapLimitBytes = swapLimitBytes
            self.peakBytes = peakBytes
            self.peakSource = peakSource
            self.last = last
            self.timeline = timeline
            self.timelineResolutionSeconds = timelineResolutionSeconds
        }

        /// Where `peakBytes` comes from (the cgroup driver's `memoryPeak()`, else the supervisor's samples).
        public enum PeakSource: String, ReportValue {
            /// The kernel's counter on cgroup v2 (Linux 5.19+).
            case memoryPeak = "memory.peak"
            /// The kernel's counter on cgroup v1.
            case maxUsageInBytes = "memory.max_usage_in_bytes"
            /// The highest of confine's samples: the kernel has no peak counter.
            case samples
            /// Nothing measured: the run's setup failed before confine found a cgroup layout (`RunRecord.setupFailure`).
            case none
        }
    }

    /// Memory pressure that did not kill (`memory.pressure`).
    public struct MemoryPressure: Codable, Sendable, Equatable {
        /// Times usage reached the limit and reclaim ran: v2 `memory.events` `max`; v1
        /// `memory.failcnt` plus `memory.memsw.failcnt` — which Linux 6.x leaves at 0 when a
        /// memory+swap limit is set, so on v1 `limitReached` is the signal to trust.
        public var limitHits: UInt64
        /// The usage peak came within one charge batch (256 KiB) of the limit: the kernel had to
        /// reclaim to go on. Set when the report is made.
        public var limitReached: Bool?
        /// v2 `memory.events` `high`: times usage went over `memory.high` (confine sets none, so
        /// this counts only pressure from above); nil on v1.
        public var highEvents: UInt64?
        public var source: Source
        public init(limitHits: UInt64, highEvents: UInt64?, source: Source) {
            self.limitHits = limitHits
            self.highEvents = highEvents
            self.source = source
        }

        public enum Source: String, ReportValue {
            /// cgroup v1 `memory.failcnt`.
            case failcnt = "memory.failcnt"
            /// cgroup v2 `memory.events`.
            case memoryEvents = "memory.events"
        }
    }

    public struct CPU: Codable, Sendable, Equatable {
        /// The quota in CPUs (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, v2 `cpu.max`); nil: no quota.
        public var limitCpus: Double?
        public var usageSeconds: Double
        /// CFS periods (100 ms, as confine sets them) in which the group had runnable tasks
        /// (`nr_periods` of `cpu.stat`; counted only under a quota).
        public var periods: UInt64
        /// Periods in which the group used its whole quota and was stopped until the next (`nr_throttled`).
        public var throttledPeriods: UInt64
        public var throttledSeconds: Double
        /// The CPUs the target sees: those in its main process's affinity mask (`sched_getaffinity`
        /// right after the spawn) — what `nproc` and Python's `os.process_cpu_count()` report.
        /// `os.cpu_count()`, `make -j$(nproc)`, `GOMAXPROCS` and `pytest -n auto` size their pools
        /// from this or from the online CPUs, which are the same unless a cpuset or `taskset`
        /// narrows the mask. A quota does not change it. nil: not read (older reports, setup failures).
        public var visibleCpus: Int?
        /// The most processes of the run found runnable (state `R` in `/proc/<pid>/stat`: running or
        /// waiting for a CPU, throttled ones included) at one per-process sample (about every 100 ms);
        /// read only under a CPU quota. A process counts by its main thread. nil: not measured.
        public var peakRunnableProcesses: Int?
        public init(limitCpus: Double?, usageSeconds: Double, periods: UInt64, throttledPeriods: UInt64,
                    throttledSeconds: Double) {
            self.limitCpus = limitCpus
            self.usageSeconds = usageSeconds
            self.periods = periods
            self.throttledPeriods = throttledPeriods
            self.throttledSeconds = throttledSeconds
        }
    }

    public struct Pids: Codable, Sendable, Equatable {
        public var limit: Int?
        public var peak: Int
        public var peakSource: PeakSource
        /// Forks and clones the kernel refused because of the limit (`pids.events` max) — a thread
        /// refused counts as a fork.
        public var forkFailures: UInt64?
        /// Who filled the limit, read the moment a sample found the group at (or within a few tasks
        /// of) it; nil without a limit, or when no sample came that close.
        public var atLimit: PidsAtLimit?
        public init(limit: Int?, peak: Int, peakSource: PeakSource, forkFailures: UInt64?) {
            self.limit = limit
            self.peak = peak
            self.peakSource = peakSource
            self.forkFailures = forkFailures
        }

        /// Where `peak` comes from (the supervisor reads the counter when the kernel has one).
        public enum PeakSource: String, ReportValue {
            /// The kernel's `pids.peak` counter.
            case pidsPeak = "pids.peak"
            /// The highest of confine's samples: the kernel has no peak counter.
            case samples
            /// Nothing measured: the run's setup failed before confine found a cgroup layout (`RunRecord.setupFailure`).
            case none
        }
    }

    /// The group when a sample found `pids.current` at its highest near the limit (`pids.atLimit`).
    /// The kernel charges every task — each thread as well as each process — one pid.
    public struct PidsAtLimit: Codable, Sendable, Equatable {
        /// Seconds since the run started, of the sample.
        public var atSeconds: Double
        /// `pids.current` then: the tasks (threads of every process) charged to the group.
        public var tasks: Int
        /// The group's processes then (`cgroup.procs`).
        public var processes: Int
        /// Their threads in all (`num_threads` of each `/proc/<pid>/stat`, main threads included),
        /// read just after `pids.current`: equal to `tasks` unless tasks came or went in between.
        public var threads: Int
        /// The process holding the most of the limit: its own threads plus its child processes
        /// in the group; nil when none could be read.
        public var topProcess: TaskHolder?
        /// The test running then (preferring one of `topProcess`), named when the report is made.
        public var test: String?
        public init(atSeconds: Double, tasks: Int, processes: Int, threads: Int, topProcess: TaskHolder?) {
            self.atSeconds = atSeconds
            self.tasks = tasks
            self.processes = processes
            self.threads = threads
            self.topProcess = topProcess
        }
    }

    /// One process of the group at the pids limit, and the tasks it accounts for.
    public struct TaskHolder: Codable, Sendable, Equatable {
        public var pid: Int32
        public var command: String
        /// Its threads, the main thread included (`num_threads` in `/proc/<pid>/stat`).
        public var threads: Int
        /// Processes in the group whose parent it is (`ppid` in their `/proc/<pid>/stat`).
        public var children: Int
        public init(pid: Int32, command: String, threads: Int, children: Int) {
            self.pid = pid
            self.command = command
            self.threads = threads
            self.children = children
        }
    }

    public struct OOMKill: Codable, Sendable, Equatable {
        public var pid: Int32
        /// The full command line when confine saw it, else the kernel's 15-character task name.
        public var command: String
        public var atSeconds: Double
        public var usageBytes: UInt64?
        public var limitBytes: UInt64?
        public var mainProcess: Bool
        /// How the victim was identified.
        public var source: Source
        /// The test running in the victim (or, when the victim ran none, in the group) at the kill.
        public var test: String? = nil
        /// When no test was running: the runner's phase (`collection`, `session finish` from the
        /// pytest plugin) or where the kill fell among the tests (`before the first test`, …).
        public var phase: String? = nil

        /// Where the kill landed, as a sentence part: `in test_x.py::test_big`, `during
        /// collection`, `before the first test`; nil when neither is known.
        public var place: String? {
            if let test { return "in \(test)" }
            guard let phase else { return nil }
            return ["before ", "between ", "after ", "outside "].contains { phase.hasPrefix($0) } ? phase : "during \(phase)"
        }
        /// The victim's parent pid at the kill, from the process connector's fork events (a
        /// process whose parent exited first is confine's, the run's subreaper); nil when confine
        /// did not see the victim's fork. confine's own pid for the main process.
        public var parentPid: Int32?
        /// The victim's resident anonymous memory at the kill, bytes: the kernel's `anon-rss` on
        /// the "Killed process" line that follows the `oom-kill:` line (mm/oom_kill.c,
        /// `__oom_kill_process`, `MM_ANONPAGES`); nil unless `source` is `kernel-log`.
        public var anonRssBytes: UInt64?
        /// The victim's resident file-backed memory at the kill, bytes (`file-rss`, `MM_FILEPAGES`; same line).
        public var fileRssBytes: UInt64?
        /// The victim's resident shmem/tmpfs memory at the kill, bytes (`shmem-rss`, `MM_SHMEMPAGES`; same
        /// line, Linux 4.6 and later).
        public var shmemRssBytes: UInt64?
        public init(pid: Int32, command: String, atSeconds: Double, usageBytes: UInt64?, limitBytes: UInt64?,
                    mainProcess: Bool, source: Source, parentPid: Int32? = nil, anonRssBytes: UInt64? = nil,
                    fileRssBytes: UInt64? = nil, shmemRssBytes: UInt64? = nil) {
            self.pid = pid
            self.command = command
            self.atSeconds = atSeconds
            self.usageBytes = usageBytes
            self.limitBytes = limitBytes
            self.mainProcess = mainProcess
            self.source = source
            self.parentPid = parentPid
            self.anonRssBytes = anonRssBytes
            self.fileRssBytes = fileRssBytes
            self.shmemRssBytes = shmemRssBytes
        }

        /// How the supervisor named an OOM kill, in order of evidence (docs/ARCHITECTURE.md, "OOM kills").
        public enum Source: String, ReportValue {
            /// The kernel's `oom-kill:` line naming this run's group (/dev/kmsg): pid, usage, limit, moment.
            case kernelLog = "kernel-log"
            /// A process of the run's tree that exited by SIGKILL while the `oom_kill` counter rose.
            case processExit = "process-exit"
            /// Only the kernel's `oom_kill` count is known.
            case counter
        }
    }

    /// A process of the run's tree found outside the run's cgroup (`movedOutOfGroup[]`): listed by
    /// the run's `cgroup.procs` no longer, placed elsewhere by `/proc/<pid>/cgroup`.
    public struct MovedProcess: Codable, Sendable, Equatable {
        public var pid: Int32
        public var command: String
        /// When confine found it outside (read with each process's RSS, about every 100 ms), seconds since the start.
        public var atSeconds: Double
        /// Where it went: its cgroup path (memory controller on v1, the unified hierarchy on v2).
        public var cgroup: String
        /// Set when it did not move itself: it was started outside by this process, which had.
        public var startedOutsideBy: Int32?
        public init(pid: Int32, command: String, atSeconds: Double, cgroup: String, startedOutsideBy: Int32? = nil) {
            self.startedOutsideBy = startedOutsideBy
            self.pid = pid
            self.command = command
            self.atSeconds = atSeconds
            self.cgroup = cgroup
        }
    }

    public struct ProcessRecord: Codable, Sendable, Equatable {
        public var pid: Int32
        public var command: String
        public var peakRssBytes: UInt64
        public var firstSeenSeconds: Double
        public init(pid: Int32, command: String, peakRssBytes: UInt64, firstSeenSeconds: Double) {
            self.pid = pid
            self.command = command
            self.peakRssBytes = peakRssBytes
            self.firstSeenSeconds = firstSeenSeconds
        }
    }

    public init(confineVersion: String, outcome: Outcome, exitCode: Int32, reason: String, command: [String],
                profile: ResolvedProfile, host: Host, startedAt: String, durationSeconds: Double,
                mainProcess: MainProcess?, setupError: SetupError?, memory: Memory, cpu: CPU, pids: Pids,
                oomKills: [OOMKill], processes: [ProcessRecord], seccomp: Seccomp? = nil, network: Network? = nil,
                warnings: [String]) {
        self.confineVersion = confineVersion
        self.outcome = outcome
        self.exitCode = exitCode
        self.reason = reason
        self.command = command
        self.profile = profile
        self.host = host
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.mainProcess = mainProcess
        self.setupError = setupError
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
        self.oomKills = oomKills
        self.processes = processes
        self.seccomp = seccomp
        self.network = network
        self.warnings = warnings
    }

    /// Pretty, sorted keys; the large arrays written by hand (ReportJSON).
    public func jsonData() throws -> Data {
        try ReportJSON.encode(self)
    }

    public static func decode(_ data: Data) throws -> RunReport {
        try ReportJSON.decode(data)
    }
}

public struct MemoryBreakdown: Codable, Sendable, Equatable {
    public var anonBytes: UInt64
    public var fileBytes: UInt64
    public var kernelBytes: UInt64
    public var shmemBytes: UInt64
    public init(anonBytes: UInt64 = 0, fileBytes: UInt64 = 0, kernelBytes: UInt64 = 0, shmemBytes: UInt64 = 0) {
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.kernelBytes = kernelBytes
        self.shmemBytes = shmemBytes
    }
}

/// One point of the timeline. Memory fields are the maximum over the points it stands for,
/// counters are their value at the end of it.
public struct TimelinePoint: Codable, Sendable, Equatable {
    public var t: Double
    public var memoryBytes: UInt64
    public var anonBytes: UInt64
    public var fileBytes: UInt64
    public var kernelBytes: UInt64
    public var shmemBytes: UInt64
    public var cpuSeconds: Double
    public var throttledPeriods: UInt64
    public var pids: Int
    /// `nr_periods` and the throttled time (seconds) of `cpu.stat` — present only on points
    /// whose sample read the CPU counters (about every 50 ms, every sample once test boundaries
    /// arrive batched; `cpuSeconds` and `throttledPeriods` keep the last read value in between).
    /// Tests' throttling is interpolated between these points.
    public var periods: UInt64?
    public var throttledSeconds: Double?
    public init(t: Double, memoryBytes: UInt64, breakdown: MemoryBreakdown, cpuSeconds: Double,
                throttledPeriods: UInt64, pids: Int, periods: UInt64? = nil, throttledSeconds: Double? = nil) {
        self.periods = periods
        self.throttledSeconds = throttledSeconds
        self.t = t
        self.memoryBytes = memoryBytes
        anonBytes = breakdown.anonBytes
        fileBytes = breakdown.fileBytes
        kernelBytes = breakdown.kernelBytes
        shmemBytes = breakdown.shmemBytes
        self.cpuSeconds = cpuSeconds
        self.throttledPeriods = throttledPeriods
        self.pids = pids
    }

    /// `later` absorbing `self`: peaks kept, counters from the later point.
    func merged(with later: TimelinePoint) -> TimelinePoint {
        var point = later
        point.memoryBytes = max(memoryBytes, later.memoryBytes)
        point.anonBytes = max(anonBytes, later.anonBytes)
        point.fileBytes = max(fileBytes, later.fileBytes)
        point.kernelBytes = max(kernelBytes, later.kernelBytes)
        point.shmemBytes = max(shmemBytes, later.shmemBytes)
        point.pids = max(pids, later.pids)
        return point
    }
}
