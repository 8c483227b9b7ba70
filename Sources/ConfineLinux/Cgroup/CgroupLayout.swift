import ConfineCore

/// One mounted cgroup hierarchy.
public struct CgroupMount: Equatable, Sendable {
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    public var mountPoint: String
    /// The cgroup path at the mount's root (`/` unless a container bind-mounted a sub-tree).
    public var root: String
    /// `cgroup2` or `cgroup`.
    public var fsType: String
    /// v1 controllers attached (`memory`, `cpu`, `cpuacct`); empty for cgroup2.
    public var controllers: [String]
}

/// Where this process sits: the hierarchies and its own cgroup in each.
public struct CgroupPlacement: Equatable, Sendable {
    public var kind: CgroupLayoutKind
    public var mounts: [CgroupMount]
    /// v1: controller name → own cgroup path; v2: "" → own cgroup path.
    public var ownPaths: [String: String]

    /// The directory of the process's own cgroup in a given mount.
    public func ownDirectory(in mount: CgroupMount, ownPath: String) -> String {
        var relative = ownPath
        if mount.root != "/" {
            if relative.hasPrefix(mount.root) { relative = String(relative.dropFirst(mount.root.count)) }
        }
        if relative == "/" { relative = "" }
        if !relative.isEmpty && !relative.hasPrefix("/") { relative = "/" + relative }
        return mount.mountPoint + relative
    }
}

public enum CgroupLayoutError: Error, Equatable, Sendable, CustomStringConvertible {
    case noCgroupMounts
    case notInCgroup(String)

    public var description: String {
        switch self {
        case .noCgroupMounts: return "no cgroup filesystem is mounted (see /proc/self/mountinfo)"
        case .notInCgroup(let what): return "/proc/self/cgroup does not name this process's \(what) cgroup"
        }
    }
}

public enum CgroupLayoutParser {
    /// The cgroup and cgroup2 mounts in mountinfo text (`MountInfo`), with their v1 controllers.
    public static func mounts(fromMountinfo text: String) -> [CgroupMount] {
        let known = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices",
                     "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"]
        return MountInfo.parse(text).filter(\.isCgroup).map { mount in
            CgroupMount(mountPoint: mount.mountPoint, root: mount.root, fsType: mount.fsType,
                        controllers: mount.fsType == "cgroup" ? mount.superOptions.filter { known.contains($0) } : [])
        }
    }

    /// Parses `/proc/self/cgroup`: `id:controllers:path` lines; `0::path` is cgroup v2.
    public static func ownPaths(fromProcCgroup text: String) -> [String: String] {
        var paths: [String: String] = [:]
        for membership in ProcFS.parseCgroups(text) {
            if membership.controllers.isEmpty {
                paths[""] = membership.path
            } else {
                for controller in membership.controllers { paths[controller] = membership.path }
            }
        }
        return paths
    }

    public static func placement(mountinfo: String, procCgroup: String) throws(CgroupLayoutError) -> CgroupPlacement {
        let mounts = mountsOfInterest(mounts(fromMountinfo: mountinfo))
        guard !mounts.isEmpty else { throw .noCgroupMounts }
        let v1 = mounts.filter { $0.fsType == "cgroup" && !$0.controllers.isEmpty }
        let v2 = mounts.contains { $0.fsType == "cgroup2" }
        let kind: CgroupLayoutKind = v1.isEmpty ? .unified : (v2 ? .hybrid : .legacy)
        let paths = ownPaths(fromProcCgroup: procCgroup)
        if kind == .unified && paths[""] == nil { throw .notInCgroup("cgroup v2") }
        return CgroupPlacement(kind: kind, mounts: mounts, ownPaths: paths)
    }

    /// The same hierarchy can be mounted several times (bind mounts); keep the first of each.
    private static func mountsOfInterest(_ all: [CgroupMount]) -> [CgroupMount] {
        var seen = Set<String>()
        return all.filter { mount in
            let key = mount.fsType == "cgroup2" ? "cgroup2" : mount.controllers.joined(separator: ",")
            if mount.fsType == "cgroup" && mount.controllers.isEmpty { return false } // name=systemd
            return seen.insert(key).inserted
        }
    }
}
