#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// cgroup v2 (unified hierarchy): one directory; controllers enabled in the parent's
/// `cgroup.subtree_control`.
public struct CgroupV2Driver: CgroupDriver {
    public let kind: CgroupLayoutKind = .unified
    let filesystem: any CgroupFilesystem
    /// confine's own cgroup directory and path.
    let ownDirectory: String
    let ownPath: String

    init(placement: CgroupPlacement, filesystem: any CgroupFilesystem) throws(CgroupError) {
        guard let mount = placement.mounts.first(where: { $0.fsType == "cgroup2" }),
              let own = placement.ownPaths[""] else {
            throw CgroupError(step: "detect cgroup layout", detail: "no cgroup2 mount found")
        }
        self.filesystem = filesystem
        // After an earlier run moved confine into `confine.leaf`, its groups still belong beside it.
        var base = own
        if base.hasSuffix("/" + Self.leafName) { base = String(base.dropLast(Self.leafName.count + 1)) }
        if base.isEmpty { base = "/" }
        ownDirectory = placement.ownDirectory(in: mount, ownPath: base)
        ownPath = base
    }

    static let leafName = "confine.leaf"

    private func childPath(_ name: String) -> String {
        ownPath.hasSuffix("/") ? ownPath + name : ownPath + "/" + name
    }

    public var parentDirectories: [String] { [ownDirectory] }

    public func createGroup(named name: String, limits: CgroupLimits) throws(CgroupError) -> any RunGroup {
        var controllers = ["memory", "cpu", "pids"]
        if limits.cpuset != nil { controllers.append("cpuset") }
        try enableControllers(controllers)
        let group = CgroupV2Group(name: name, directory: ownDirectory + "/" + name, path: childPath(name),
                                  filesystem: filesystem)
        do {
            try filesystem.makeDirectory(group.directory)
        } catch {
            throw CgroupError(step: "create cgroup", error)
        }
        group.exists = true
        do {
            try group.apply(limits)
            group.openCounters(watchingPidsLimit: limits.pidsMax != nil)
        } catch {
            try? group.remove()
            throw error
        }
        return group
    }

    public func existingGroup(named name: String) -> any RunGroup {
        let group = CgroupV2Group(name: name, directory: ownDirectory + "/" + name, path: childPath(name),
                                  filesystem: filesystem)
        group.exists = isDirectory(group.directory)
        return group
    }

    /// Enables `controllers` for confine's children. The no-internal-processes rule forbids this
    /// while confine's own (non-root) cgroup holds processes, so those are first moved to a leaf
    /// `confine.leaf` — what container entrypoints do on a delegated cgroup.
    func enableControllers(_ controllers: [String]) throws(CgroupError) {
        let available = Set(((try? readControl(ownDirectory + "/cgroup.controllers")) ?? "").split(separator: " ")
            .map { String($0).trimmingWhitespace() })
        let enabled = Set(((try? readControl(ownDirectory + "/cgroup.subtree_control")) ?? "").split(separator: " ")
            .map { String($0).trimmingWhitespace() })
        let missing = controllers.filter { !enabled.contains($0) }
        guard !missing.isEmpty else { return }
        let unavailable = missing.filter { !available.contains($0) }
        guard unavailable.isEmpty else {
            throw CgroupError(step: "enable controllers",
                              detail: "controller(s) \(unavailable.joined(separator: ", ")) not available in \(ownDirectory) "
                                  + "(cgroup.controllers: \(available.sorted().joined(separator: " "))); "
                                  + "enable them in the parent's cgroup.subtree_control or delegate them to this cgroup")
        }
        let request = missing.map { "+" + $0 }.joined(separator: " ")
        do {
            try writeExistingFile(ownDirectory + "/cgroup.subtree_control", request)
        } catch {
            guard error.errno == EBUSY else { throw CgroupError(step: "enable controllers", error) }
            try moveOwnProcessesToLeaf()
            do {
                try writeExistingFile(ownDirectory + "/cgroup.subtree_control", request)
            } catch {
                throw CgroupError(step: "enable controllers", error)
            }
        }
    }

    private func moveOwnProcessesToLeaf() throws(CgroupError) {
        let leaf = ownDirectory + "/" + Self.leafName
        if !isDirectory(leaf) {
            do { try filesystem.makeDirectory(leaf) } catch { throw CgroupError(step: "create leaf cgroup", error) }
        }
        for pid in readPids(ownDirectory + "/cgroup.procs") {
            do {
                try writeExistingFile(leaf + "/cgroup.procs", "\(pid)")
            } catch {
                if error.errno != ESRCH { throw CgroupError(step: "move process \(pid) to leaf cgroup", error) }
            }
        }
    }
}

final class CgroupV2Group: RunGroup {
    let name: String
    let directory: String
    let path: String
    let filesystem: any CgroupFilesystem
    var exists = false
    private(set) var warnings: [String] = []

    private var memoryCurrent: KeptOpenFile?
    private var memoryStat: KeptOpenFile?
    private var cpuStat: KeptOpenFile?
    private var pidsCurrent: KeptOpenFile?
    private var procs: KeptOpenFile?
    /// With the kernel's own `pids.peak`, the current count is only needed for the timeline.
    private var pidsEverySample = true

    init(name: String, directory: String, path: String, filesystem: any CgroupFilesystem) {
        self.name = name
        self.directory = directory
        self.path = path
        self.filesystem = filesystem
    }

    var joinFiles: [String] { [directory + "/cgroup.procs"] }
    var cloneIntoDirectory: String? { directory }
    var kernelPaths: [String: String] { ["unified": path] }

    func apply(_ limits: CgroupLimits) throws(CgroupError) {
        if let memory = limits.memoryMax {
            try writeControl(directory, "memory.max", "\(memory)", step: "set memory limit")
        }
        if fileExists(directory + "/memory.swap.max") {
            if limits.memoryMax != nil || limits.swapMax != nil {
                try writeControl(directory, "memory.swap.max", limits.swapMax.map { "\($0)" } ?? "max", step: "set swap limit")
            }
        } else if limits.swapMax != nil {
            warnings.append("memory.swap.max is missing (swap accounting off); the swap limit was not applied")
        }
        if let quota = limits.cpuQuotaMicros {
            try writeControl(directory, "cpu.max", "\(quota) \(CgroupLimits.cpuPeriodMicros)", step: "set cpu quota")
        }
        if let cpus = limits.cpuset {
            try writeControl(directory, "cpuset.cpus", cpus.map(String.init).joined(separator: ","), step: "set cpuset")
        }
        if let pids = limits.pidsMax {
            try writeControl(directory, "pids.max", "\(pids)", step: "set pids limit")
        }
    }

    /// `watchingPidsLimit`: `pids.current` is read every sample (the sampler notes the moment the
    /// limit is reached), not only where the kernel keeps no `pids.peak`.
    func openCounters(watchingPidsLimit: Bool) {
        procs = KeptOpenFile(directory + "/cgroup.procs", capacity: 65536)
        memoryCurrent = KeptOpenFile(directory + "/memory.current")
        // memory.peak takes a per-descriptor reset from Linux 6.12; before, a write fails or is refused.
        segmentPeak = kernelIsAtLeast(6, 12) ? ResettablePeak(directory + "/memory.peak", resetWith: "reset\n") : nil
        memoryStat = KeptOpenFile(directory + "/memory.stat", capacity: 16384)
        cpuStat = KeptOpenFile(directory + "/cpu.stat")
        pidsCurrent = KeptOpenFile(directory + "/pids.current")
        pidsEverySample = watchingPidsLimit || !fileExists(directory + "/pids.peak")
    }

    private static let memoryStatKeys: [[UInt8]] =
        ["anon", "file", "kernel", "shmem", "slab_reclaimable", "kernel_stack", "slab", "percpu", "sock", "pagetables"].map { Array($0.utf8) }
    private static let cpuStatKeys: [[UInt8]] =
        ["usage_usec", "nr_periods", "nr_throttled", "throttled_usec"].map { Array($0.utf8) }

    func sample(detail: Bool, into sample: inout CgroupSample) {
        sample.memoryBytes = memoryCurrent?.readNumber() ?? 0
        if detail || pidsEverySample { sample.pids = Int(pidsCurrent?.readNumber() ?? 0) }
        guard detail else { return }
        if let stat = memoryStat?.read() {
            var kernel: UInt64?
            var kernelParts: UInt64 = 0
            sample.anonBytes = 0; sample.fileBytes = 0; sample.shmemBytes = 0; sample.reclaimableKernelBytes = 0
            scanKeyValues(stat, keys: Self.memoryStatKeys) { key, value in
                switch key {
                case 0: sample.anonBytes = value
                case 1: sample.fileBytes = value
                case 2: kernel = value
                case 3: sample.shmemBytes = value
                case 4: sample.reclaimableKernelBytes = value
                default: kernelParts &+= value // kernels before 5.18 have no `kernel` line
                }
            }
            sample.kernelBytes = kernel ?? kernelParts
        }
        if let stat = cpuStat?.read() {
            scanKeyValues(stat, keys: Self.cpuStatKeys) { key, value in
                switch key {
                case 0: sample.cpuUsageNanos = value &* 1000
                case 1: sample.periods = value
                case 2: sample.throttledPeriods = value
                default: sample.throttledNanos = value &* 1000
                }
            }
        }
    }

    private var segmentPeak: ResettablePeak?

    func takeSegmentPeak() -> UInt64? { segmentPeak?.take() }

    func memoryPeak() -> (bytes: UInt64, source: RunReport.Memory.PeakSource)? {
        guard let text = try? readControl(directory + "/memory.peak"), let value = UInt64(text.trimmingWhitespace()) else { return nil }
        return (value, .memoryPeak)
    }

    func appliedMemoryLimit() -> UInt64? {
        guard let text = try? readControl(directory + "/memory.max") else { return nil }
        return parseLimit(text)
    }

    func pidsPeak() -> Int? {
        guard let text = try? readControl(directory + "/pids.peak") else { return nil }
        return Int(text.trimmingWhitespace())
    }

    func forkFailures() -> UInt64? {
        guard let text = try? readControl(directory + "/pids.events") else { return nil }
        return keyValues(text)["max"]
    }

    func memoryPressure() -> RunReport.MemoryPressure? {
        guard let text = try? readControl(directory + "/memory.events") else { return nil }
        let events = keyValues(text)
        guard let max = events["max"] else { return nil }
        return RunReport.MemoryPressure(limitHits: max, highEvents: events["high"], source: .memoryEvents)
    }

    func oomKillCount() -> UInt64 {
        guard let text = try? readControl(directory + "/memory.events") else { return 0 }
        return keyValues(text)["oom_kill"] ?? 0
    }

    func memberPids() -> [Int32] {
        exists ? readPids(directory + "/cgroup.procs") : []
    }

    func sampledPids(into pids: inout [Int32]) {
        parsePidList(procs?.read(), into: &pids)
    }

    func signalAll(_ signal: Int32) {
        for pid in memberPids() { kill(pid, signal) }
    }

    func killAll() {
        guard exists else { return }
        // cgroup.kill (5.14+) kills the whole group atomically, forks in flight included.
        if (try? writeExistingFile(directory + "/cgroup.kill", "1")) == nil {
            try? writeExistingFile(directory + "/cgroup.freeze", "1")
            for pid in memberPids() { kill(pid, SIGKILL) }
            try? writeExistingFile(directory + "/cgroup.freeze", "0")
        }
        killUntilEmpty(procsFile: directory + "/cgroup.procs")
    }

    func remove() throws(CgroupError) {
        memoryCurrent = nil; segmentPeak = nil; memoryStat = nil; cpuStat = nil; pidsCurrent = nil; procs = nil
        guard exists else { return }
        if !memberPids().isEmpty { killAll() }
        do {
            try removeGroupDirectory(directory, filesystem: filesystem)
        } catch {
            throw CgroupError(step: "remove cgroup", error)
        }
        exists = false
    }
}
