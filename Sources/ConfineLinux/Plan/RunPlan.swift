#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// Everything a run needs, resolved before anything is created: made by `RunPlanner.plan`,
/// handed to the `Supervisor`, never changed while the run goes on.
public struct RunPlan: Sendable {
    public var arguments: [String]
    public var environment: [String]
    public var profile: ResolvedProfile
    /// Unique per run; `confine-<confine pid>-<random>` (`RunGroupName`) so `gc` can tell whose it was.
    public var groupName: String
    public var confineVersion: String
    /// How long the target gets between SIGTERM and SIGKILL at timeout or interruption.
    public var killGraceSeconds: Double = 1
    /// The seccomp program, compiled before anything is created.
    public var seccomp: CompiledSeccompFilter?
    /// The network allow-list, resolved before the run (`allow` mode).
    public var networkAllowList: [ResolvedEndpoint] = []
    /// No seccomp profile was asked for: the filter allows every call and only hands confine the
    /// network allow-list's and containment's calls (the report has no seccomp section for it).
    public var seccompOnlyIntercepts = false
    /// Open the probe channel (`CONFINE_PROBE_SOCKET`) for probe libraries and runner plugins.
    public var probeChannel = true
    /// Read test boundaries from the runner's console output (its output passes through confine).
    public var runnerOutput: RunnerOutputKind?
    /// No runner in the command (`make test`, `tox`, a script): its output passes through confine
    /// and is read once the process tree shows a runner confine understands (`RunnerDetection`).
    public var detectsRunner = false
    /// JUnit XML files the runner writes, read after the run.
    public var junitPaths: [String] = []
    /// Container profiles as root: capabilities and a read-only cgroupfs (`ContainmentPlan`);
    /// with a seccomp filter, signals and ptrace are guarded too.
    public var containment: ContainmentPlan?
    /// The container's filesystem, identity, working directory and hostname (`ContainerFilesystem`).
    public var container: ContainerFilesystem?
    /// `--shard-durations`: the assignment (JSON) the target's runner reads from CONFINE_SHARD_FILE,
    /// written where the target can read it (the probe's directory) when the run is set up.
    public var shardAssignment: [UInt8]?
    /// `--shard` gave this part no test (more shards than tests): no boundary is expected.
    public var shardIsEmpty = false
    /// Said once in the report (containment impossible without root, unknown capabilities).
    public var setupWarnings: [String] = []

    public init(arguments: [String], environment: [String], profile: ResolvedProfile, confineVersion: String) {
        self.arguments = arguments
        self.environment = environment
        self.profile = profile
        self.confineVersion = confineVersion
        groupName = RunGroupName.make()
    }

    /// The limits to write into the run's group, in cgroup v2 terms.
    public var cgroupLimits: CgroupLimits {
        CgroupLimits(cpus: profile.cpus, memoryMax: profile.memoryBytes, swapMax: profile.swapBytes,
                     cpuset: profile.cpuset, pidsMax: profile.pids)
    }
}

/// Runners whose console output confine understands.
public enum RunnerOutputKind: String, Sendable, CaseIterable {
    /// `swift test`: XCTest and Swift Testing lines; with `--parallel`, one process per XCTest test.
    case swiftTest = "swift-test"
}
