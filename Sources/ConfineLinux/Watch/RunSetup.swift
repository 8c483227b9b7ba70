#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import ConfineCore

/// What a run holds open while it runs, made in order before the target's first instruction:
/// the signalfd, the run guard, the group (with its sampler and test watcher), the kernel log,
/// the netlink sockets, then the spawn and the seccomp listener. A failed step stops the
/// setup and is said in `failure`; what was made before it is still here, to be cleaned up.
struct RunSetup {
    var signalFD: Int32 = -1
    var runGuard: RunGuard?
    var group: (any RunGroup)?
    var sampler: GroupSampler?
    var tests: TestWatcher?
    var kernelLog: KernelLogReader?
    var connector: ProcessConnector?
    var taskStats: TaskStatsListener?
    var seccompListener: SeccompListener?
    /// The command's process; 0 until spawned.
    var mainPid: Int32 = 0
    /// `clone-into-cgroup` or `cgroup.procs`: how the child entered its group.
    var joinMethod: RunReport.Host.JoinMethod?
    var failure: RunReport.SetupError?
    /// `execve` failed: 127 or 126, as shells say.
    var execFailureExitCode: Int32?
    var warnings: [String] = []
    /// Directories made on the host for the container's mounts (mount points that did not
    /// exist, disk volumes), removed after the run, deepest first.
    var madeDirectories: [String] = []
    /// Files made for the run outside its directories (the shard file without a probe channel).
    var madeFiles: [String] = []

    /// Sets the run up. `start`: the run's zero, CLOCK_MONOTONIC seconds.
    static func make(plan: RunPlan, driver: any CgroupDriver, start: Double) -> RunSetup {
        var setup = RunSetup()
        setup.make(plan: plan, driver: driver, start: start)
        return setup
    }

    private mutating func make(plan: RunPlan, driver: any CgroupDriver, start: Double) {
        do {
            signalFD = try Signals.makeSignalFD()
        } catch {
            failure = .init(step: "signalfd", errno: error.errno, message: error.description)
            return
        }
        if let refusal = plan.container?.refusal {
            // A refusal of the profile's (runAsNonRoot with uid 0): no call failed, so no errno.
            failure = .init(step: "container setup", errno: 0, message: refusal)
            return
        }
        // Mount points the container's mounts need: made on the host (nothing else can hold a
        // mount), listed for the guard, which removes them (empty) if confine is killed.
        let missing = plan.container.map(Self.missingDirectories) ?? []
        // The run's own directory under /var/tmp/confine-volumes: its disk volumes, and the list
        // of mount points made, which `confine gc` reads if confine and its guard are both killed.
        let runDirectory = plan.container?.diskVolumeRoot
            ?? (missing.isEmpty ? nil : "\(ContainerFilesystem.diskVolumeParent)/\(plan.groupName)")
        let volumeDirectories = runDirectory.map { [$0] + (plan.container?.diskVolumeSources ?? []) } ?? []
        // Before the group exists: from its first moment, a SIGKILLed confine takes it down.
        do {
            runGuard = try RunGuard(groupDirectories: driver.parentDirectories.map { $0 + "/" + plan.groupName } + missing.reversed()
                                    + volumeDirectories.reversed())
        } catch {
            warnings.append("\(error): if confine is killed, the target's other processes live until `confine gc`")
        }
        if let container = plan.container {
            do {
                try makeDirectories(missing, container: container, runDirectory: runDirectory)
            } catch {
                failure = .init(step: "\(error.call) \(error.path ?? "")", errno: error.errno, message: error.description)
                return
            }
        }
        FaultInjection.pause(at: "after-guard")
        let group: any RunGroup
        do {
            group = try driver.createGroup(named: plan.groupName, limits: plan.cgroupLimits)
        } catch {
            failure = .init(step: error.step, errno: error.errno, message: error.description)
            return
        }
        self.group = group
        warnings += group.warnings
        let sampler = GroupSampler(group: group, start: start, interval: plan.profile.samplingIntervalSeconds,
                                   pidsLimit: plan.profile.pids)
        let tests = TestWatcher(plan: plan, reader: sampler, start: start)
        (self.sampler, self.tests) = (sampler, tests)
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
        spawn(plan: plan, group: group, tests: tests)
    }

    /// The mount points of `container`'s mounts that do not exist, each missing level, shallowest first.
    static func missingDirectories(_ container: ContainerFilesystem) -> [String] {
        var missing: [String] = []
        for mount in container.mounts {
            var path = ""
            for component in mount.target.split(separator: "/") {
                path += "/" + component
                if !fileExists(path) && !missing.contains(path) { missing.append(path) }
            }
        }
        return missing
    }

    /// Makes the missing mount points and the disk volumes' directories (world-writable, as an
    /// emptyDir is), remembering each for `removeMadeDirectories`.
    private mutating func makeDirectories(_ missing: [String], container: ContainerFilesystem, runDirectory: String?) throws(SystemError) {
        guard let runDirectory else { return }
        for path in [ContainerFilesystem.diskVolumeParent, runDirectory] {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw SystemError("mkdir", path: path, errno: errno) }
        }
        madeDirectories.append(runDirectory)
        // Listed before they are made: a kill in between leaves nothing gc cannot find.
        let list = missing.joined(separator: "\n") + "\n"
        guard writeFile(runDirectory + "/" + ContainerFilesystem.mountPointsFile, list) else {
            throw SystemError("write", path: runDirectory + "/" + ContainerFilesystem.mountPointsFile, errno: errno)
        }
        for path in missing {
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SystemError("mkdir", path: path, errno: errno) }
            madeDirectories.append(path)
        }
        for source in container.diskVolumeSources {
            guard mkdir(source, 0o777) == 0 else { throw SystemError("mkdir", path: source, errno: errno) }
            chmod(source, 0o777) // past the umask
        }
    }

    /// After the run: the mount points made, deepest first, then the run's directory with the
    /// disk volumes (and what the target wrote). A mount point the target wrote beside (a
    /// parent confine made, now not empty) stays, and is said.
    func removeMadeDirectories() -> [String] {
        for file in madeFiles { unlink(file) }
        var warnings: [String] = []
        for path in madeDirectories.reversed() {
            if path.hasPrefix(ContainerFilesystem.diskVolumeParent + "/") {
                removeTree(path)
            } else if rmdir(path) != 0 && errno != ENOENT {
                warnings.append("\(path): made for a mount point, not removed (\(errnoName(errno))): the target wrote into it on the host")
            }
        }
        return warnings
    }

    private mutating func spawn(plan: RunPlan, group: any RunGroup, tests: TestWatcher) {
        // The probe's directory exists once the watcher prepared the environment (it opens the channel).
        var environment = tests.prepare(environment: plan.environment)
        if let assignment = plan.shardAssignment {
            // In the probe's directory (reachable under a read-only root, a tmpfs over /tmp, another
            // uid); without the probe channel, beside it in /tmp, removed after the run.
            let file = tests.probeDirectory.map { $0 + "/" + ProbeReceiver.shardName }
                ?? "\(ProbeReceiver.directoryParent)/\(ProbeReceiver.shardFilePrefix)\(plan.groupName).json"
            if writeFile(file, String(decoding: assignment, as: UTF8.self)) {
                chmod(file, 0o644)
                if tests.probeDirectory == nil { madeFiles.append(file) }
                environment.append("CONFINE_SHARD_FILE=\(file)")
            } else {
                // Not by hash instead: the other shards went by the durations, and the split would not add up.
                failure = .init(step: "write \(file)", errno: errno, message: "--shard-durations: cannot write \(file): \(errnoName(errno))")
                return
            }
        }
        var request = SpawnRequest(
            arguments: plan.arguments, environment: environment, joinFiles: group.joinFiles,
            cloneIntoDirectory: group.cloneIntoDirectory, ulimits: plan.profile.ulimits ?? [:])
        request.stdoutFD = tests.childStdout
        request.seccomp = plan.seccomp
        request.newNetworkNamespace = plan.profile.networkProfile == .none
        request.containment = plan.containment
        // Under a read-only root, or a volume over /tmp, the probe's directory stays reachable and
        // writable (the pytest plugin writes its `running` and `collected` files there): confine's
        // channel, not the pod's filesystem.
        var container = plan.container
        if let directory = tests.probeDirectory, let planned = container,
           !planned.readOnlyMounts.isEmpty || planned.mounts.contains(where: { directory.hasPrefix($0.target + "/") }) {
            container?.mounts.append(.init(target: directory, source: directory, data: "", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)))
        }
        request.container = container
        defer { tests.spawned() }
        do {
            let spawned = try Spawner.spawn(request)
            mainPid = spawned.pid
            joinMethod = spawned.joinMethod
            if let fd = spawned.seccompListener, let filter = plan.seccomp {
                let containmentGuard = plan.containment.map { ContainmentGuard(groupPaths: Array(group.kernelPaths.values), plan: $0, container: container) }
                seccompListener = SeccompListener(fd: fd, profile: filter.profile, intercepted: filter.intercepted,
                                                  allowList: Set(plan.networkAllowList), containment: containmentGuard)
            }
        } catch {
            if error.isExecFailure {
                execFailureExitCode = error.errno == ENOENT ? 127 : 126
                let identity = container?.identity.map { " (as uid \($0.uid), gid \($0.gid): the profile's user may not execute it or reach its directory)" }
                warnings.append("\(error)" + (error.errno == EACCES ? identity ?? "" : ""))
            } else {
                failure = .init(step: error.step, errno: error.errno, message: error.description)
            }
        }
    }
}
