#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// What a container runtime does to its process that confine does too, for profiles that name
/// capabilities: the capability set cut down to the profile's, and the cgroup filesystems
/// read-only in a private mount namespace. Needs root; without it confine runs the target as
/// it is and says so. (docs/security.md: what this is and what it is not.)
public struct ContainmentPlan: Sendable, Equatable {
    public struct ReadOnlyMount: Sendable, Equatable {
        public var path: String
        /// MS_NOSUID, MS_NODEV, … as the mount has them (a bind remount must repeat them).
        public var flags: UInt
    }

    public var readOnlyMounts: [ReadOnlyMount]
    /// Bit n set: capability n stays.
    public var keptCapabilities: UInt64
    public var capabilityLast: Int32
    /// The profile's capability names confine does not know (left out of the kept set).
    public var unknownCapabilities: [String]

    /// Docker's readonlyPaths under /proc (moby oci/defaults.go); those that exist are remounted read-only.
    public static let dockerReadOnlyProcPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The plan for `profile`, or nil with the reason when there is none to apply. `host` gives
    /// what the machine has: root or not, its mounts, `cap_last_cap`, which /proc paths exist.
    public static func make(for profile: ResolvedProfile, host: PlanHost) -> (plan: ContainmentPlan?, warning: String?) {
        let isRoot = host.isRoot
        guard profile.containment == true else { return (nil, nil) }
        guard isRoot else {
            return (nil, "containment: not root, so the target keeps confine's capabilities and a writable cgroup filesystem")
        }
        var kept: UInt64 = 0
        var unknown: [String] = []
        for name in profile.capabilities {
            let canonical = name.uppercased().hasPrefix("CAP_") ? name.uppercased() : "CAP_" + name.uppercased()
            if let number = capabilityNumbers[canonical] { kept |= 1 << number } else { unknown.append(name) }
        }
        let procPaths = host.existingProcPaths.map { ReadOnlyMount(path: $0, flags: UInt(MS_REC) | UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)) }
        return (ContainmentPlan(readOnlyMounts: cgroupMounts(host.mountInfo ?? "") + procPaths, keptCapabilities: kept,
                                capabilityLast: host.capabilityLast,
                                unknownCapabilities: unknown),
                unknown.isEmpty ? nil : "containment: unknown capabilities \(unknown.joined(separator: ", ")) left out")
    }

    /// Every cgroup and cgroup2 mount in `/proc/self/mountinfo`, with the flags it carries.
    static func cgroupMounts(_ mountInfo: String) -> [ReadOnlyMount] {
        MountInfo.parse(mountInfo).filter(\.isCgroup).map { ReadOnlyMount(path: $0.mountPoint, flags: flags(of: $0)) }
    }

    /// The per-mount flags a bind remount must repeat (MS_NOSUID, MS_NODEV, …), from mountinfo's options.
    static func flags(of mount: MountInfo) -> UInt {
            var flags: UInt = 0
            for option in mount.options {
                switch option {
                case "nosuid": flags |= UInt(MS_NOSUID)
                case "nodev": flags |= UInt(MS_NODEV)
                case "noexec": flags |= UInt(MS_NOEXEC)
                case "noatime": flags |= UInt(MS_NOATIME)
                case "nodiratime": flags |= UInt(MS_NODIRATIME)
                case "relatime": flags |= UInt(MS_RELATIME)
                case "strictatime": flags |= UInt(MS_STRICTATIME)
                default: break
                }
            }
            return flags
    }

    /// What the report lists as applied.
    /// What was applied, as the report's `containment.measures` says it; signals, ptrace and
    /// process_vm_* are confined only when `signalsGuarded` (the seccomp listener ran the guard).
    public func measures(signalsGuarded: Bool) -> [String] {
        var list = ["capabilities: \(keptCapabilities.nonzeroBitCount) kept, the rest dropped from the bounding, inheritable and ambient sets"]
        if !readOnlyMounts.isEmpty {
            let proc = readOnlyMounts.map(\.path).filter { $0.hasPrefix("/proc/") }
            let cgroups = readOnlyMounts.count - proc.count
            list.append("read-only in a private mount namespace: \(cgroups) cgroup filesystem\(cgroups == 1 ? "" : "s")"
                        + proc.map { ", " + $0 }.joined())
        }
        if signalsGuarded { list.append("signals, ptrace and process_vm_* limited to the run's own processes") }
        return list
    }

    /// include/uapi/linux/capability.h
    static let capabilityNumbers: [String: Int] = [
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
        "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10,
        "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
        "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20,
        "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
        "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30,
        "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
        "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
    ]
}
