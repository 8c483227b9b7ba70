#if canImport(Glibc)
import Glibc
#endif
import CConfineSpawn
import ConfineCore

/// What to start and how: everything prepared in the parent before fork.
public struct SpawnRequest: Sendable {
    public var arguments: [String]
    public var environment: [String]
    /// `cgroup.procs` files the child joins before exec.
    public var joinFiles: [String]
    /// cgroup v2: the group's directory, for clone3(CLONE_INTO_CGROUP).
    public var cloneIntoDirectory: String?
    /// Resource limits by Docker's name (`nofile`, `nproc`, …), set before exec.
    public var ulimits: [String: Ulimit]
    public var dieWithParent = true
    /// Installed last, just before execve.
    public var seccomp: CompiledSeccompFilter?
    /// A fresh network namespace with only lo (`--network none`).
    public var newNetworkNamespace = false
    /// Pipes that become the child's stdout and stderr (-1: inherit confine's).
    public var stdoutFD: Int32 = -1
    public var stderrFD: Int32 = -1
    /// Capabilities cut to the profile's, cgroup filesystems read-only (root only).
    public var containment: ContainmentPlan?
    /// The container's filesystem, identity, working directory and hostname (root only).
    public var container: ContainerFilesystem?

    public init(arguments: [String], environment: [String], joinFiles: [String], cloneIntoDirectory: String?,
                ulimits: [String: Ulimit]) {
        self.arguments = arguments
        self.environment = environment
        self.joinFiles = joinFiles
        self.cloneIntoDirectory = cloneIntoDirectory
        self.ulimits = ulimits
    }
}

/// A setup step that failed, named, with its errno.
public struct SpawnError: Error, Equatable, Sendable, CustomStringConvertible {
    public var step: String
    public var errno: Int32
    /// The child existed and was reaped (its pid), or 0 if it never did.
    public var pid: Int32
    /// The command itself could not be executed (not found, not executable): 127/126, as shells do.
    public var isExecFailure = false

    public var description: String {
        "\(step): \(errnoName(errno)) (\(String(cString: strerror(errno))))"
    }
}

/// A started target.
public struct SpawnedProcess: Sendable {
    public var pid: Int32
    /// How it entered its cgroup: born there or moved before exec.
    public var joinMethod: RunReport.Host.JoinMethod
    /// The seccomp user-notification listener (denied calls wait here for confine's answer).
    public var seccompListener: Int32?
}

public enum Spawner {
    /// Starts the target: fork (or clone3 into the cgroup), own process group, die-with-parent,
    /// join cgroup, rlimits, clean signal state, exec (see CConfineSpawn).
    public static func spawn(_ request: SpawnRequest) throws(SpawnError) -> SpawnedProcess {
        guard let program = request.arguments.first else {
            throw SpawnError(step: "execve", errno: ENOENT, pid: 0, isExecFailure: true)
        }
        guard let path = resolveExecutable(program, environment: request.environment) else {
            throw SpawnError(step: "execve \(program)", errno: ENOENT, pid: 0, isExecFailure: true)
        }
        var joinFDs: [Int32] = []
        defer { for fd in joinFDs { close(fd) } }
        for file in request.joinFiles {
            let fd = retryingEINTR { open(file, O_WRONLY | O_CLOEXEC) }
            guard fd >= 0 else { throw SpawnError(step: "open \(file)", errno: errno, pid: 0) }
            joinFDs.append(fd)
        }
        var cloneFD: Int32 = -1
        if let directory = request.cloneIntoDirectory {
            cloneFD = retryingEINTR { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        }
        defer { if cloneFD >= 0 { close(cloneFD) } }
        // Soft and hard as given; RLIM_INFINITY (all ones) for unlimited.
        let limitNames = request.ulimits.keys.sorted()
        var rlimits: [confine_rlimit] = []
        for name in limitNames {
            guard let limit = request.ulimits[name], let resource = ResourceLimits.numberByDockerName[name] else {
                throw SpawnError(step: "setrlimit \(name): not a resource limit", errno: EINVAL, pid: 0)
            }
            rlimits.append(confine_rlimit(resource: resource, soft: limit.soft ?? UInt64.max, hard: limit.hard ?? UInt64.max))
        }

        let argv = CStringArray(request.arguments)
        let envp = CStringArray(request.environment)
        let filterProgram = request.seccomp?.program ?? []
        var readOnlyMounts = request.containment?.readOnlyMounts ?? []
        for mount in request.container?.readOnlyMounts ?? [] where !readOnlyMounts.contains(where: { $0.path == mount.path }) {
            readOnlyMounts.append(mount)
        }
        let readOnly = CStringArray(readOnlyMounts.map(\.path))
        let readOnlyFlags = readOnlyMounts.map { CUnsignedLong($0.flags) }
        let container = request.container
        let mountList = container?.mounts ?? []
        let mountTargets = CStringArray(mountList.map(\.target))
        let mountSources = CStringArray(mountList.map { $0.source ?? "" })
        let mountData = CStringArray(mountList.map(\.data))
        var mounts: [confine_mount] = mountList.indices.map { index in
            confine_mount(target: UnsafePointer(mountTargets.pointers[index]),
                          source: mountList[index].source == nil ? nil : UnsafePointer(mountSources.pointers[index]),
                          data: UnsafePointer(mountData.pointers[index]), flags: CUnsignedLong(mountList[index].flags))
        }
        let identityGroups = container?.identity?.groups ?? []
        let devOptions = CStringArray([ContainerFilesystem.devOptions])
        let hostDevNodes = container?.hostDevNodes ?? []
        let devNodes = CStringArray(hostDevNodes)
        let devLinks = CStringArray(ContainerFilesystem.devLinks.flatMap { [$0.target, $0.link] })
        func strings(_ array: CStringArray) -> UnsafePointer<UnsafePointer<CChar>?> {
            UnsafeRawPointer(array.pointers).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
        }
        let hostname = CStringArray(container?.hostname.map { [$0] } ?? [])
        let workingDirectory = CStringArray(container?.enterDirectory.map { [$0] } ?? [])
        let result: confine_spawn_result = path.withCString { cPath in
            joinFDs.withUnsafeBufferPointer { fds in
                rlimits.withUnsafeBufferPointer { limits in
                    filterProgram.withUnsafeBytes { filter in readOnlyFlags.withUnsafeBufferPointer { mountFlags in
                        var spawnRequest = confine_spawn_request(
                            path: cPath, argv: UnsafePointer(argv.pointers), envp: UnsafePointer(envp.pointers),
                            cgroup_fds: fds.baseAddress, cgroup_fd_count: Int32(fds.count), clone_cgroup_fd: cloneFD,
                            rlimits: limits.baseAddress, rlimit_count: Int32(limits.count),
                            die_with_parent: request.dieWithParent ? 1 : 0,
                            seccomp_program: filterProgram.isEmpty ? nil : filter.baseAddress,
                            seccomp_length: UInt16(filterProgram.count / 8),
                            seccomp_listener: request.seccomp?.usesListener == true ? 1 : 0,
                            seccomp_flags: request.seccomp?.kernelFlags ?? 0,
                            new_network_namespace: request.newNetworkNamespace ? 1 : 0,
                            stdout_fd: request.stdoutFD, stderr_fd: request.stderrFD,
                            readonly_mounts: UnsafeRawPointer(readOnly.pointers).assumingMemoryBound(to: UnsafePointer<CChar>?.self),
                            readonly_mount_flags: mountFlags.baseAddress, readonly_mount_count: Int32(mountFlags.count),
                            capabilities_kept: request.containment?.keptCapabilities ?? 0,
                            capability_last: request.containment?.capabilityLast ?? 0,
                            drop_capabilities: request.containment == nil ? 0 : 1,
                            mounts: nil, mount_count: 0, private_dev: container?.privateDev == true ? 1 : 0,
                            dev_options: UnsafePointer(devOptions.pointers[0]),
                            dev_nodes: strings(devNodes), dev_node_count: Int32(hostDevNodes.count),
                            dev_links: strings(devLinks), dev_link_count: Int32(ContainerFilesystem.devLinks.count),
                            hostname: container?.hostname == nil ? nil : UnsafePointer(hostname.pointers[0]),
                            set_identity: container?.identity == nil ? 0 : 1,
                            uid: container?.identity?.uid ?? 0, gid: container?.identity?.gid ?? 0,
                            groups: nil, group_count: Int32(identityGroups.count),
                            working_directory: container?.enterDirectory == nil ? nil : UnsafePointer(workingDirectory.pointers[0]))
                        return mounts.withUnsafeMutableBufferPointer { mountBuffer in
                            identityGroups.withUnsafeBufferPointer { groups in
                                spawnRequest.mounts = UnsafePointer(mountBuffer.baseAddress)
                                spawnRequest.mount_count = Int32(mountBuffer.count)
                                spawnRequest.groups = groups.baseAddress
                                return confine_spawn(&spawnRequest)
                            }
                        }
                    } }
                }
            }
        }
        guard result.failed_step == Int32(CONFINE_STEP_NONE.rawValue) else {
            let index = Int(result.failed_index)
            var step: String
            switch UInt32(result.failed_step) {
            case CONFINE_STEP_FORK.rawValue: step = "fork"
            case CONFINE_STEP_PIPE.rawValue: step = "pipe"
            case CONFINE_STEP_PGROUP.rawValue: step = "setpgid"
            case CONFINE_STEP_PDEATHSIG.rawValue: step = "prctl PR_SET_PDEATHSIG"
            case CONFINE_STEP_JOIN_CGROUP.rawValue:
                step = "join cgroup \(index < request.joinFiles.count ? request.joinFiles[index] : "?")"
            case CONFINE_STEP_RLIMIT.rawValue:
                let name = index < limitNames.count ? limitNames[index] : "?"
                step = "setrlimit \(Ulimits.names[name] ?? name) \(request.ulimits[name]?.description ?? "")"
                if result.failed_errno == EPERM {
                    step += " (raising a hard limit above confine's own needs CAP_SYS_RESOURCE"
                        + (name == "nofile" ? "; nofile is capped at fs.nr_open, \((try? readTextFile("/proc/sys/fs/nr_open"))?.trimmingWhitespace() ?? "?"))" : ")")
                }
            case CONFINE_STEP_SIGNALS.rawValue: step = "sigprocmask"
            case CONFINE_STEP_EXEC.rawValue: step = "execve"
            case CONFINE_STEP_NO_NEW_PRIVS.rawValue: step = "prctl PR_SET_NO_NEW_PRIVS"
            case CONFINE_STEP_SECCOMP.rawValue: step = "seccomp SECCOMP_SET_MODE_FILTER"
            case CONFINE_STEP_LISTENER.rawValue: step = "pidfd_getfd seccomp listener"
            case CONFINE_STEP_NETNS.rawValue: step = "unshare CLONE_NEWNET"
            case CONFINE_STEP_LOOPBACK.rawValue: step = "bring lo up"
            case CONFINE_STEP_STDIO.rawValue: step = "dup2 fd \(index)"
            case CONFINE_STEP_MOUNTNS.rawValue: step = index == 0 ? "unshare CLONE_NEWNS" : "mount / MS_SLAVE"
            case CONFINE_STEP_READONLY.rawValue:
                step = "remount \(index < readOnlyMounts.count ? readOnlyMounts[index].path : "?") read-only"
            case CONFINE_STEP_MOUNT.rawValue:
                let mount = index < mountList.count ? mountList[index] : nil
                step = mount.map { $0.source == nil ? "mount tmpfs at \($0.target) (\($0.data))" : "bind \($0.source!) at \($0.target)" } ?? "mount"
            case CONFINE_STEP_HOSTNAME.rawValue: step = index == 0 ? "unshare CLONE_NEWUTS" : "sethostname \(container?.hostname ?? "")"
            case CONFINE_STEP_DEV.rawValue:
                let nodes = hostDevNodes, links = ContainerFilesystem.devLinks
                step = index == 0 ? "mount tmpfs at /dev (\(ContainerFilesystem.devOptions))"
                    : index <= nodes.count ? "bind /dev/\(nodes[index - 1]) into the private /dev"
                    : index - 1000 < links.count && index >= 1000 ? "link \(links[index - 1000].link) → \(links[index - 1000].target)" : "the private /dev"
            case CONFINE_STEP_IDENTITY.rawValue:
                let identity = container?.identity
                step = ["setgroups \(identity?.groups.map(String.init).joined(separator: ",") ?? "")", "setresgid \(identity?.gid ?? 0)",
                        "setresuid \(identity?.uid ?? 0)"][min(max(index, 0), 2)]
            case CONFINE_STEP_CHDIR.rawValue: step = "chdir \(container?.enterDirectory ?? "")"
            case CONFINE_STEP_CAPABILITIES.rawValue:
                step = index >= 0 ? "prctl PR_CAPBSET_DROP \(index)" : ["ambient clear", "capget", "capset"][-index - 1]
            default: step = "step \(result.failed_step)"
            }
            let execFailed = result.failed_step == Int32(CONFINE_STEP_EXEC.rawValue)
            throw SpawnError(step: execFailed ? "execve \(path)" : step, errno: result.failed_errno, pid: result.pid,
                             isExecFailure: execFailed)
        }
        return SpawnedProcess(pid: result.pid, joinMethod: result.cloned_into_cgroup != 0 ? .cloneIntoCgroup : .cgroupProcs,
                              seccompListener: result.listener_fd >= 0 ? result.listener_fd : nil)
    }


    /// `execvp`'s search, done in the parent (the child must not allocate).
    public static func resolveExecutable(_ program: String, environment: [String]) -> String? {
        if program.contains("/") { return program }
        let pathVariable = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in pathVariable.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if access(candidate, X_OK) == 0 && !isDirectory(candidate) { return candidate }
        }
        return nil
    }
}

/// A NULL-terminated `char *const *` that owns its strings.
final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int
    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }
    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}
