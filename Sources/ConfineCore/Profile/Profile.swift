/// Where a value came from, for error messages and `profile show`.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// Swap beyond the memory limit (cgroup v2 `memory.swap.max` semantics).
public enum SwapLimit: Equatable, Sendable {
    case bytes(UInt64)
    case unlimited
}

/// Limits as declared: every field optional, so profiles can be layered with `extends`.
public struct LimitsSpec: Equatable, Sendable {
    public var memory: UInt64?
    public var swap: SwapLimit?
    public var cpus: Double?
    public var cpuset: [Int]?
    public var pids: Int?
    /// Resource limits by Docker's name (`nofile`, `nproc`, `core`, `memlock`, `stack`, …): `limits.nofile`
    /// and `limits.ulimits` in a profile, `--nofile` and `--ulimit` on the command line.
    public var ulimits: [String: Ulimit]
    public init(memory: UInt64? = nil, swap: SwapLimit? = nil, cpus: Double? = nil, cpuset: [Int]? = nil,
                pids: Int? = nil, ulimits: [String: Ulimit] = [:]) {
        self.memory = memory
        self.swap = swap
        self.cpus = cpus
        self.cpuset = cpuset
        self.pids = pids
        self.ulimits = ulimits
    }

    /// `other`'s fields win where set (a child profile over its parent, CLI flags over a profile);
    /// resource limits one by one.
    public func overridden(by other: LimitsSpec) -> LimitsSpec {
        LimitsSpec(memory: other.memory ?? memory, swap: other.swap ?? swap, cpus: other.cpus ?? cpus,
                   cpuset: other.cpuset ?? cpuset, pids: other.pids ?? pids,
                   ulimits: ulimits.merging(other.ulimits) { _, child in child })
    }
}

/// One profile file as written (before `extends` is applied).
public struct ProfileSpec: Equatable, Sendable {
    public var name: String?
    public var description: String?
    public var extends: String?
    public var extendsLocation: SourceLocation?
    public var limits = LimitsSpec()
    public var timeout: Double?
    /// `stall_timeout`: how long the group may sit idle after an OOM kill before the run is ended (`stalled`).
    public var stallTimeout: Double?
    public var samplingInterval: Double?
    /// A built-in seccomp profile name, a path to OCI/Docker JSON, or `unconfined`.
    public var seccomp: String?
    public var seccompLocation: SourceLocation?
    /// Capabilities that capability-gated seccomp rules are evaluated against (`CAP_*`).
    public var capabilities: [String]?
    public var network: NetworkProfile?
    public var budgets: BudgetSpec?
    public var regression: RegressionSpec?
    /// The container's filesystem, identity, environment (ContainerSettings.swift).
    public var filesystem: FilesystemSpec?
    public var user: UserSpec?
    /// `env:`: variables set for the target over the ones it inherits.
    public var env: [String: String]?
    public var workingDirectory: String?
    public var hostname: String?
    public init() {}

    public func overridden(by child: ProfileSpec) -> ProfileSpec {
        var merged = self
        merged.name = child.name ?? name
        merged.description = child.description ?? description
        merged.extends = child.extends
        merged.extendsLocation = child.extendsLocation
        merged.limits = limits.overridden(by: child.limits)
        merged.timeout = child.timeout ?? timeout
        merged.stallTimeout = child.stallTimeout ?? stallTimeout
        merged.samplingInterval = child.samplingInterval ?? samplingInterval
        if child.seccomp != nil {
            merged.seccomp = child.seccomp
            merged.seccompLocation = child.seccompLocation
        }
        merged.capabilities = child.capabilities ?? capabilities
        merged.network = child.network ?? network
        if let childBudgets = child.budgets { merged.budgets = (budgets ?? BudgetSpec()).overridden(by: childBudgets) }
        merged.regression = child.regression ?? regression
        if let childFilesystem = child.filesystem { merged.filesystem = (filesystem ?? FilesystemSpec()).overridden(by: childFilesystem) }
        if let childUser = child.user { merged.user = (user ?? UserSpec()).overridden(by: childUser) }
        if let childEnv = child.env { merged.env = (env ?? [:]).merging(childEnv) { _, new in new } }
        merged.workingDirectory = child.workingDirectory ?? workingDirectory
        merged.hostname = child.hostname ?? hostname
        return merged
    }
}

/// A profile with every default filled in: what a run actually uses.
/// `nil` limits mean "no limit" (the kernel's `max`).
public struct ResolvedProfile: Equatable, Sendable, Codable {
    public static let defaultSamplingInterval = 0.010

    public var name: String
    public var description: String
    /// The chain of profiles applied, base first (`container-default`, `k8s-512mi`, ...).
    public var chain: [String]
    public var memoryBytes: UInt64?
    /// Swap allowed beyond `memoryBytes`; nil means unlimited.
    public var swapBytes: UInt64?
    public var cpus: Double?
    public var cpuset: [Int]?
    public var pids: Int?
    /// Resource limits set on the target before exec (setrlimit), by Docker's name (`nofile`,
    /// `nproc`, …); a resource not named keeps what confine inherited. Reports of earlier confines
    /// had `nofile` (soft = hard) instead.
    public var ulimits: [String: Ulimit]?
    /// RLIMIT_NOFILE's soft limit, when the profile sets one.
    public var nofile: Int? { ulimits?["nofile"]?.soft.map { Int(clamping: $0) } }
    public var timeoutSeconds: Double?
    /// How long the group may sit idle (`OOMStall`) after an OOM kill before confine ends the
    /// run as it ends a timeout (outcome `stalled`, exit 124); nil: a stall is only warned of.
    /// At least `OOMStall.window` in effect: a stall is called after that long. Absent in
    /// reports of older confines.
    public var stallTimeoutSeconds: Double?
    public var samplingIntervalSeconds: Double
    /// The seccomp profile (built-in name or path); nil means unconfined.
    public var seccomp: String?
    public var capabilities: [String]
    /// The profile names its capabilities (container profiles do): the target gets only those,
    /// and a container's view of the cgroup filesystems (read-only). Plain `confine run
    /// --memory …` leaves both as they are. Absent in reports before confine 0.2.
    public var containment: Bool?
    /// `host`, `none` or `allow:HOST:PORT,...`.
    public var network: String
    /// Performance budgets checked after the run (none: only the OOM rule).
    public var budgets: BudgetSpec?
    /// Thresholds for `confine compare` (defaults when absent).
    public var regression: RegressionSpec?
    /// The root filesystem is read-only for the target (in its private mount namespace), but for
    /// `volumes`, /dev (with /dev/shm), /proc and /sys as a container has them. Absent: writable.
    public var readOnlyRoot: Bool?
    /// The private /dev/shm tmpfs's size in bytes (charged to the run's memory as the kernel
    /// charges tmpfs pages); Docker's 64 MiB under container profiles; nil: the host's /dev/shm.
    public var shmBytes: UInt64?
    /// Writable paths mounted for the target (tmpfs or a fresh disk directory).
    public var volumes: [Volume]?
    /// Host paths kept writable under a read-only root (`.`: the working directory).
    public var keepWritable: [String]?
    /// The uid, gid and groups the target runs as; nil: confine's.
    public var user: UserSpec?
    /// Variables set for the target over the ones it inherits.
    public var env: [String: String]?
    /// The target's working directory; nil: confine's.
    public var workingDirectory: String?
    /// The hostname the target sees (`gethostname`), in a UTS namespace of its own.
    public var hostname: String?

    /// Docker's default capability set for a container (moby `oci/caps/defaults.go`).
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]

    public init(spec: ProfileSpec, chain: [String]) {
        name = spec.name ?? chain.last ?? "cli"
        description = spec.description ?? ""
        self.chain = chain
        memoryBytes = spec.limits.memory
        // Production containers on Kubernetes never swap; a memory limit without an
        // explicit swap therefore means no swap at all.
        switch spec.limits.swap {
        case .bytes(let bytes): swapBytes = bytes
        case .unlimited: swapBytes = nil
        case nil: swapBytes = spec.limits.memory == nil ? nil : 0
        }
        cpus = spec.limits.cpus
        cpuset = spec.limits.cpuset
        pids = spec.limits.pids
        ulimits = spec.limits.ulimits.isEmpty ? nil : spec.limits.ulimits
        timeoutSeconds = spec.timeout
        stallTimeoutSeconds = spec.stallTimeout
        samplingIntervalSeconds = spec.samplingInterval ?? Self.defaultSamplingInterval
        seccomp = spec.seccomp == "unconfined" ? nil : spec.seccomp
        capabilities = spec.capabilities ?? Self.defaultCapabilities
        containment = spec.capabilities != nil
        network = (spec.network ?? .host).description
        budgets = spec.budgets
        regression = spec.regression
        readOnlyRoot = spec.filesystem?.readOnlyRoot
        shmBytes = spec.filesystem?.shmBytes ?? (spec.capabilities != nil ? dockerDefaultShmBytes : nil)
        volumes = spec.filesystem?.volumes
        keepWritable = spec.filesystem?.keepWritable
        user = spec.user
        env = spec.env
        workingDirectory = spec.workingDirectory
        hostname = spec.hostname
    }

    /// Whether the profile asks for anything of a container's filesystem, identity or host
    /// name (each needs root and a namespace of the target's own).
    public var hasContainerSettings: Bool {
        readOnlyRoot == true || shmBytes != nil || !(volumes ?? []).isEmpty || user != nil || hostname != nil
    }

    /// The network profile (validated when the profile was parsed).
    public var networkProfile: NetworkProfile { (try? NetworkProfile.parse(network)) ?? .host }

    /// The profile as YAML, every default written out, for `confine profile show`.
    public func yaml() -> String {
        func orMax<T>(_ value: T?, _ format: (T) -> String) -> String { value.map(format) ?? "max" }
        var lines: [String] = []
        lines.append("name: \(name)")
        if !description.isEmpty { lines.append("description: \(yamlQuoted(description))") }
        if chain.count > 1 { lines.append("# extends: \(chain.dropLast().reversed().joined(separator: " <- "))") }
        lines.append("limits:")
        lines.append("  memory: \(orMax(memoryBytes, ByteQuantity.format))"
                     + (memoryBytes.map { "    # \($0) bytes" } ?? "    # no limit"))
        lines.append("  swap: \(orMax(swapBytes, ByteQuantity.format))")
        lines.append("  cpus: \(orMax(cpus, CPUQuantity.format))"
                     + (cpus.map { "    # cfs quota \(Int(($0 * 100_000).rounded()))us per 100000us period" } ?? ""))
        lines.append("  cpuset: \(orMax(cpuset, CPUSetList.format))")
        lines.append("  pids: \(orMax(pids, String.init))")
        lines.append("  nofile: \(ulimits?["nofile"]?.description ?? "inherit")")
        let others = (ulimits ?? [:]).filter { $0.key != "nofile" }.sorted { $0.key < $1.key }
        if !others.isEmpty {
            lines.append("  ulimits:")
            for (name, limit) in others { lines.append("    \(name): \"\(limit.description)\"") }
        }
        lines.append("timeout: \(orMax(timeoutSeconds, DurationQuantity.format))")
        lines.append("stall_timeout: \(orMax(stallTimeoutSeconds, DurationQuantity.format))")
        lines.append("sampling:")
        lines.append("  interval: \(DurationQuantity.format(samplingIntervalSeconds))")
        lines.append("seccomp: \(seccomp ?? "unconfined")")
        lines.append("network: \(network)")
        if readOnlyRoot != nil || shmBytes != nil || volumes != nil {
            lines.append("filesystem:")
            if let readOnlyRoot { lines.append("  read_only_root: \(readOnlyRoot)") }
            if let shmBytes { lines.append("  shm_size: \(ByteQuantity.format(shmBytes))") }
            if let keepWritable, !keepWritable.isEmpty { lines.append("  keep_writable: [\(keepWritable.joined(separator: ", "))]") }
            if let volumes, !volumes.isEmpty {
                lines.append("  volumes:")
                for volume in volumes {
                    lines.append("    - \(volume.yamlFlow)")
                }
            }
        }
        if let user {
            lines.append("user:")
            if let uid = user.uid { lines.append("  uid: \(uid)") }
            if let gid = user.gid { lines.append("  gid: \(gid)") }
            if let groups = user.supplementalGroups { lines.append("  supplemental_groups: [\(groups.map(String.init).joined(separator: ", "))]") }
            if let nonRoot = user.runAsNonRoot { lines.append("  run_as_non_root: \(nonRoot)") }
        }
        if let env, !env.isEmpty {
            lines.append("env:")
            for (name, value) in env.sorted(by: { $0.key < $1.key }) { lines.append("  \(name): \(yamlQuoted(value))") }
        }
        if let workingDirectory { lines.append("working_dir: \(yamlQuoted(workingDirectory))") }
        if let hostname { lines.append("hostname: \(hostname)") }
        lines.append(capabilities == Self.defaultCapabilities
                     ? "capabilities: default    # \(capabilities.count): Docker's default set"
                     : "capabilities: [\(capabilities.joined(separator: ", "))]")
        return lines.joined(separator: "\n") + "\n"
    }
}

func yamlQuoted(_ s: String) -> String {
    let escaped = s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n")
    return "\"\(escaped)\""
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
