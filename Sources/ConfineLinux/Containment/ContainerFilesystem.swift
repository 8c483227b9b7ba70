#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// The container's filesystem and identity for one run, as a runtime sets them up: the root
/// read-only (every host mount but the kernel's /proc, /dev and /sys, remounted read-only in the
/// target's private mount namespace), the writable volumes and a private /dev/shm mounted over
/// it, the uid/gid/groups, the working directory and hostname. Root only (mount and UTS
/// namespaces, setuid); planned from the profile and the host's mountinfo, applied by the
/// spawn (CConfineSpawn), cleaned up by `RunSetup` (disk volumes, mount points confine made).
public struct ContainerFilesystem: Sendable, Equatable {
    public struct Mount: Sendable, Equatable {
        /// Where, in the target's view.
        public var target: String
        /// A host directory bound there (a disk volume); nil: a tmpfs.
        public var source: String?
        /// tmpfs options (`size=67108864,mode=1777`).
        public var data: String
        public var flags: UInt
    }
    public struct Identity: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var groups: [UInt32]
    }

    /// With a read-only root: the mounts remounted read-only (each with its own flags).
    public var readOnlyMounts: [ContainmentPlan.ReadOnlyMount] = []
    /// Mounted after them, in order.
    public var mounts: [Mount] = []
    /// The disk volumes' host directories (not the paths kept writable, which are the host's own).
    public var diskVolumeSources: [String] {
        guard let root = diskVolumeRoot else { return [] }
        return mounts.compactMap(\.source).filter { $0.hasPrefix(root + "/") }
    }

    /// In the run's directory: the mount points confine made, one per line, for `confine gc`.
    public static let mountPointsFile = "mount-points"

    /// Disk volumes live under this host directory for the run (`/var/tmp/confine-volumes/<group>`),
    /// removed after it.
    public var diskVolumeRoot: String?
    public var identity: Identity?
    /// Host paths bound writable with their content (`keep_writable`), not a pod's.
    public var keptWritable: [String] = []
    public var hostname: String?
    public var workingDirectory: String?
    /// Where the target enters before exec: the working directory, or confine's own again once
    /// mounts exist, so a path kept writable or a volume over it is reached through the new
    /// mount rather than the directory entered before it.
    public var enterDirectory: String?
    /// Said once in the report (a setting skipped without root).
    public var warning: String?
    /// Why the run must not start (uid 0 under `run_as_non_root`, not root): the setup fails
    /// with it (exit 125), as the kubelet refuses to start such a container.
    public var refusal: String?

    /// A private /dev (a tmpfs with the host's few device nodes), as a container has: under a
    /// read-only root, so that what the target writes in /dev stays in the run.
    public var privateDev = false
    /// Of `devNodes`, those this host has (no /dev/mqueue on some): what the private /dev gets.
    public var hostDevNodes: [String] = []

    /// The private /dev as runc makes one: a small tmpfs, the host's device nodes a program
    /// expects bound in (and /dev/pts, /dev/mqueue, /dev/shm as directories, which a /dev/shm
    /// mount then replaces), the links to the process's own descriptors.
    public static let devOptions = "mode=755,size=65536k"
    public static let devNodes = ["null", "zero", "full", "random", "urandom", "tty", "pts", "mqueue", "shm"]
    public static let devLinks: [(target: String, link: String)] = [
        ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"),
    ]

    /// Paths the target may write under a read-only root, for the containment guard's record.
    public var writablePaths: [String] { ["/dev", "/proc"] + mounts.map(\.target) }

    /// Where disk volumes are made: beside the host's temporary files, not in a tmpfs.
    /// (/tmp's on a machine without /var/tmp, such as an initramfs.)
    public static var diskVolumeParent: String { fileExists("/var/tmp") ? "/var/tmp/confine-volumes" : "/tmp/confine-volumes" }

    /// The plan for `profile`, or nil when it asks for none of it; with a `refusal` when it
    /// needs root and confine is not, or for a uid 0 under `run_as_non_root`.
    public static func make(for profile: ResolvedProfile, host: PlanHost, groupName: String,
                            confineUid: UInt32 = getuid(), confineGid: UInt32 = getgid()) -> ContainerFilesystem? {
        let user = profile.user
        let effectiveUid = user?.uid ?? confineUid
        // setresuid(-1) leaves the uid as it is: the target would stay root. Never planned.
        if let user, [user.uid, user.gid].contains(where: { $0.map { !UserSpec.idRange.contains($0) } ?? false })
            || (user.supplementalGroups ?? []).contains(where: { !UserSpec.idRange.contains($0) }) {
            var refused = ContainerFilesystem()
            refused.refusal = "user: ids must be from 0 to 2147483647 (4294967295 is -1, which setresuid takes as \"unchanged\")"
            return refused
        }
        if user?.runAsNonRoot == true && effectiveUid == 0 {
            var refused = ContainerFilesystem()
            refused.refusal = (user?.uid == nil
                ? "user.run_as_non_root: the target would run as root (uid 0, confine's own: no user.uid given); "
                    + "the kubelet refuses to start such a container (\"container has runAsNonRoot and image will run as root\"): set user.uid"
                : "user.run_as_non_root with user.uid 0: the kubelet refuses to start such a container "
                    + "(\"container's runAsUser breaks non-root policy\")")
            return refused
        }
        guard profile.hasContainerSettings || profile.workingDirectory != nil else { return nil }
        let needsRoot = profile.readOnlyRoot == true || !(profile.volumes ?? []).isEmpty
            || profile.hostname != nil || (user.map { $0.uid != nil || $0.gid != nil || $0.supplementalGroups != nil } ?? false)
        if needsRoot && !host.isRoot {
            var refused = ContainerFilesystem()
            refused.refusal = ("the profile's container settings (read-only root, volumes, user, hostname) need root: "
                             + "mount and UTS namespaces and setuid; run confine as root (sudo)")
            return refused
        }
        var plan = ContainerFilesystem()
        // The private /dev/shm is like containment: without root the target keeps the host's, and the report says so.
        let shmBytes = host.isRoot ? profile.shmBytes : nil
        if !host.isRoot, let shm = profile.shmBytes {
            plan.warning = "/dev/shm: not root, so the target uses the host's /dev/shm, not a private \(ByteQuantity.human(shm)) one"
        }
        if profile.readOnlyRoot == true {
            // The host's tree, and /sys as a container has it (sysfs read-only).
            plan.readOnlyMounts = rootMounts(host.mountInfo ?? "") + sysMounts(host.mountInfo ?? "")
            plan.privateDev = true
            plan.hostDevNodes = devNodes.filter { fileExists("/dev/" + $0) }
        }
        for volume in profile.volumes ?? [] {
            switch volume.medium {
            case .memory:
                plan.mounts.append(Mount(target: volume.path, source: nil,
                                         data: "mode=1777" + (volume.sizeBytes.map { ",size=\($0)" } ?? ""),
                                         flags: UInt(MS_NOSUID | MS_NODEV)))
            case .disk:
                let root = "\(diskVolumeParent)/\(groupName)"
                plan.diskVolumeRoot = root
                // The flags of the mount the directory lives on, which the bind's remount must repeat.
                let hostFlags = MountInfo.parse(host.mountInfo ?? "").filter { root.hasPrefix($0.mountPoint == "/" ? "/" : $0.mountPoint + "/") }
                    .max { $0.mountPoint.count < $1.mountPoint.count }.map(ContainmentPlan.flags(of:)) ?? 0
                plan.mounts.append(Mount(target: volume.path, source: "\(root)/\(plan.mounts.count)", data: "", flags: hostFlags))
            }
        }
        // Host paths kept writable under the read-only root: bound onto themselves, made writable.
        if profile.readOnlyRoot == true {
            for path in profile.keepWritable ?? [] {
                let resolved = path == "." ? (profile.workingDirectory ?? currentDirectory()) : path
                plan.mounts.append(Mount(target: resolved, source: resolved, data: "", flags: UInt(MS_NOSUID | MS_NODEV)))
                plan.keptWritable.append(resolved)
            }
        }
        if let shm = shmBytes {
            plan.mounts.append(Mount(target: "/dev/shm", source: nil, data: "mode=1777,size=\(shm)",
                                     flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)))
        }
        if let user, user.uid != nil || user.gid != nil || user.supplementalGroups != nil {
            let uid = user.uid ?? confineUid
            plan.identity = Identity(uid: uid, gid: user.gid ?? (user.uid != nil ? uid : confineGid), groups: user.supplementalGroups ?? [])
        }
        plan.hostname = profile.hostname
        plan.workingDirectory = profile.workingDirectory
        plan.enterDirectory = profile.workingDirectory ?? (plan.mounts.isEmpty && plan.readOnlyMounts.isEmpty ? nil : currentDirectory())
        return plan
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every mount of the host's tree but the kernel's own (/proc, /dev, /sys and below, which a
    /// container gets fresh), with the flags a bind remount must repeat.
    static func rootMounts(_ mountInfo: String) -> [ContainmentPlan.ReadOnlyMount] {
        let kernelTrees = ["/proc", "/dev", "/sys"]
        var seen = Set<String>()
        var mounts: [ContainmentPlan.ReadOnlyMount] = []
        for mount in MountInfo.parse(mountInfo) {
            let point = mount.mountPoint
            guard !kernelTrees.contains(where: { point == $0 || point.hasPrefix($0 + "/") }), seen.insert(point).inserted else { continue }
            mounts.append(ContainmentPlan.ReadOnlyMount(path: point, flags: ContainmentPlan.flags(of: mount)))
        }
        return mounts
    }

    /// The most mounts one run takes (CConfineSpawn's fixed table).
    public static let maximumMounts = 60

    /// Why this machine cannot hold the mounts as asked, or nil: a mount point that exists but is
    /// not a directory, one that resolves (through a link) to / or into a kernel tree, a path kept
    /// writable that does not exist, too many mounts.
    public func hostProblem() -> String? {
        guard mounts.count <= Self.maximumMounts else {
            return "\(mounts.count) mounts (volumes, /dev/shm, paths kept writable); at most \(Self.maximumMounts)"
        }
        for mount in mounts {
            var info = stat()
            if keptWritable.contains(mount.target) {
                guard stat(mount.target, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    return "keep_writable \(mount.target): not a directory on this machine"
                }
            }
            guard lstat(mount.target, &info) == 0 else { continue } // made for the run
            var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let real = realpath(mount.target, &resolved) != nil
                ? String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : mount.target
            if real == "/" { return "\(mount.target) resolves to /: a volume cannot cover the root" }
            if real != mount.target, mount.target != "/dev/shm", let problem = Volume.problem(path: real) {
                return "\(mount.target) resolves to \(real), which \(problem.hasPrefix("is") ? String(problem.dropFirst(3)) : problem)"
            }
            guard stat(mount.target, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                return "\(mount.target) exists on this machine and is not a directory: a volume is mounted on a directory"
            }
        }
        return nil
    }

    /// /sys and every mount below it (the cgroup filesystems), read-only as in a container.
    static func sysMounts(_ mountInfo: String) -> [ContainmentPlan.ReadOnlyMount] {
        var seen = Set<String>()
        return MountInfo.parse(mountInfo).filter { ($0.mountPoint == "/sys" || $0.mountPoint.hasPrefix("/sys/")) && seen.insert($0.mountPoint).inserted }
            .map { ContainmentPlan.ReadOnlyMount(path: $0.mountPoint, flags: ContainmentPlan.flags(of: $0)) }
    }

    /// What the report's `containment.measures` says of it.
    public var measures: [String] {
        var list: [String] = []
        if !readOnlyMounts.isEmpty { list.append("read-only root: \(readOnlyMounts.count) mount\(readOnlyMounts.count == 1 ? "" : "s") remounted read-only (with /sys)") }
        if privateDev { list.append("a private /dev (tmpfs with the host's \(hostDevNodes.joined(separator: ", ")))") }
        for mount in mounts {
            if keptWritable.contains(mount.target) {
                list.append("kept writable: \(mount.target) (the host's, with its content)")
            } else {
                list.append(mount.source == nil ? "tmpfs at \(mount.target) (\(mount.data))" : "disk volume at \(mount.target)")
            }
        }
        if let identity {
            list.append("runs as uid \(identity.uid), gid \(identity.gid)" + (identity.groups.isEmpty ? "" : ", groups \(identity.groups.map(String.init).joined(separator: ","))"))
        }
        if let hostname { list.append("hostname \(hostname) (own UTS namespace)") }
        if let workingDirectory { list.append("working directory \(workingDirectory)") }
        return list
    }
}
