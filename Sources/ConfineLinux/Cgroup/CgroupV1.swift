#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// cgroup v1 (legacy and hybrid hosts): one directory per hierarchy. Limits are given in v2
/// terms and translated here (memory.max → memory.limit_in_bytes, swap → memsw, cpu.max →
/// cfs_quota_us/cfs_period_us).
public struct CgroupV1Driver: CgroupDriver {
    /// Controllers a run always joins (if mounted); cpuset only when a cpuset is asked for,
    /// since a v1 cpuset group is unusable until cpus and mems are written.
    static let wantedControllers = ["memory", "cpu", "cpuacct", "pids", "freezer"]

    public let kind: CgroupLayoutKind
    let filesystem: any CgroupFilesystem
    /// controller → (own directory in its hierarchy, own cgroup path)
    let hierarchies: [String: (directory: String, path: String)]

    init(placement: CgroupPlacement, filesystem: any CgroupFilesystem) throws(CgroupError) {
        kind = placement.kind
        self.filesystem = filesystem
        var hierarchies: [String: (directory: String, path: String)] = [:]
        for mount in placement.mounts where mount.fsType == "cgroup" {
            for controller in mount.controllers {
                guard let own = placement.ownPaths[controller] else { continue }
                hierarchies[controller] = (placement.ownDirectory(in: mount, ownPath: own), own)
            }
        }
        guard hierarchies["memory"] != nil else {
            throw CgroupError(step: "detect cgroup layout",
                              detail: "the cgroup v1 memory controller is not mounted; mount it at /sys/fs/cgroup/memory")
        }
        self.hierarchies = hierarchies
    }

    public var parentDirectories: [String] {
        uniqueDirectories(for: Array(hierarchies.keys)).map(\.directory)
    }

    /// Co-mounted controllers (`cpu,cpuacct`) share one directory; keep each directory once.
    func uniqueDirectories(for controllers: [String]) -> [(controller: String, directory: String, path: String)] {
        var seen = Set<String>()
        var result: [(controller: String, directory: String, path: String)] = []
        for controller in controllers.sorted() {
            guard let entry = hierarchies[controller], seen.insert(entry.directory).inserted else { continue }
            result.append((controller, entry.directory, entry.path))
        }
        return result
    }

    public func createGroup(named name: String, limits: CgroupLimits) throws(CgroupError) -> any RunGroup {
        var controllers = Self.wantedControllers.filter { hierarchies[$0] != nil }
        if limits.cpuset != nil {
            guard hierarchies["cpuset"] != nil else {
                throw CgroupError(step: "create cgroup", detail: "a cpuset was asked for but the cpuset controller is not mounted")
            }
            controllers.append("cpuset")
        }
        if limits.pidsMax != nil && hierarchies["pids"] == nil {
            throw CgroupError(step: "create cgroup", detail: "a pids limit was asked for but the pids controller is not mounted")
        }
        if limits.cpuQuotaMicros != nil && hierarchies["cpu"] == nil {
            throw CgroupError(step: "create cgroup", detail: "a CPU limit was asked for but the cpu controller is not mounted")
        }
        let group = CgroupV1Group(name: name, filesystem: filesystem,
                                  directories: uniqueDirectories(for: controllers).map {
                                      ($0.controller, $0.directory + "/" + name, join($0.path, name))
                                  },
                                  controllerDirectory: { controller in hierarchies[controller].map { $0.directory + "/" + name } })
        do {
            try group.make()
            try group.apply(limits, parentCpusetDirectory: hierarchies["cpuset"]?.directory)
            group.openCounters(watchingPidsLimit: limits.pidsMax != nil)
        } catch {
            try? group.remove()
            throw error
        }
        return group
    }

    public func existingGroup(named name: String) -> any RunGroup {
        let present = uniqueDirectories(for: Array(hierarchies.keys)).filter { isDirectory($0.directory + "/" + name) }
        let group = CgroupV1Group(name: name, filesystem: filesystem,
                                  directories: present.map { ($0.controller, $0.directory + "/" + name, join($0.path, name)) },
                                  controllerDirectory: { controller in hierarchies[controller].map { $0.directory + "/" + name } })
        group.created = present.map { $0.directory + "/" + name }
        return group
    }
}

private func join(_ path: String, _ name: String) -> String {
    path.hasSuffix("/") ? path + name : path + "/" + name
}

final class CgroupV1Group: RunGroup {
    let name: String
    let filesystem: any CgroupFilesystem
    /// (first controller, directory, cgroup path) per hierarchy joined.
    let directories: [(controller: String, directory: String, path: String)]
    let controllerDirectory: (String) -> String?
    var created: [String] = []
    private(set) var warnings: [String] = []

    private var memoryUsage: KeptOpenFile?
    private var memoryStat: KeptOpenFile?
    private var kernelUsage: KeptOpenFile?
    private var cpuacctUsage: KeptOpenFile?
    private var cpuStat: KeptOpenFile?
    private var pidsCurrent: KeptOpenFile?
    private var procs: KeptOpenFile?
    /// With the kernel's own `pids.peak`, the current count is only needed for the timeline.
    private var pidsEverySample = true

    init(name: String, filesystem: any CgroupFilesystem, directories: [(String, String, String)],
         controllerDirectory: @escaping (String) -> String?) {
        self.name = name
        self.filesystem = filesystem
        self.directories = directories.map { (controller: $0.0, directory: $0.1, path: $0.2) }
        self.controllerDirectory = controllerDirectory
    }

    /// `tasks`, not `cgroup.procs`: the child writes "0" for its single thread, which the kernel
    /// migrates without taking the global threadgroup lock (an RCU grace period, ~10 ms here).
    var joinFiles: [String] { directories.map { $0.directory + "/tasks" } }
    var cloneIntoDirectory: String? { nil } // CLONE_INTO_CGROUP is cgroup v2 only

    var kernelPaths: [String: String] {
        Dictionary(directories.map { ($0.controller, $0.path) }, uniquingKeysWith: { first, _ in first })
    }

    func make() throws(CgroupError) {
        for entry in directories {
            do {
                try filesystem.makeDirectory(entry.directory)
            } catch {
                throw CgroupError(step: "create cgroup", error)
            }
            created.append(entry.directory)
        }
    }

    func apply(_ limits: CgroupLimits, parentCpusetDirectory: String?) throws(CgroupError) {
        if let memoryDirectory = controllerDirectory("memory") {
            if let memory = limits.memoryMax {
                try writeControl(memoryDirectory, "memory.limit_in_bytes", "\(memory)", step: "set memory limit")
                let memsw = memoryDirectory + "/memory.memsw.limit_in_bytes"
                if fileExists(memsw) {
                    // memsw counts memory + swap together; it must not be below the memory limit.
                    let total = limits.swapMax.map { "\(memory &+ $0)" } ?? "-1"
                    try writeControl(memoryDirectory, "memory.memsw.limit_in_bytes", total, step: "set swap limit")
                } else if limits.swapMax == 0 {
                    // Without swap accounting, swappiness 0 is the closest v1 gets to "no swap".
                    try? writeExistingFile(memoryDirectory + "/memory.swappiness", "0")
                    warnings.append("swap accounting is off on this kernel (boot with swapaccount=1); "
                                    + "swap could not be limited, memory.swappiness set to 0 instead")
                } else if limits.swapMax != nil {
                    warnings.append("swap accounting is off on this kernel; the swap limit was not applied")
                }
            }
        }
        if let quota = limits.cpuQuotaMicros, let cpuDirectory = controllerDirectory("cpu") {
            try writeControl(cpuDirectory, "cpu.cfs_period_us", "\(CgroupLimits.cpuPeriodMicros)", step: "set cpu period")
            try writeControl(cpuDirectory, "cpu.cfs_quota_us", "\(quota)", step: "set cpu quota")
        }
        if let cpus = limits.cpuset, let cpusetDirectory = controllerDirectory("cpuset") {
            // A new v1 cpuset group starts empty; mems must be copied from the parent first.
            let parentMems = parentCpusetDirectory.flatMap { try? readControl($0 + "/cpuset.mems") } ?? "0"
            try writeControl(cpusetDirectory, "cpuset.mems", parentMems.trimmingWhitespace(), step: "set cpuset mems")
            try writeControl(cpusetDirectory, "cpuset.cpus", cpus.map(String.init).joined(separator: ","), step: "set cpuset")
        }
        if let pids = limits.pidsMax, let pidsDirectory = controllerDirectory("pids") {
            try writeControl(pidsDirectory, "pids.max", "\(pids)", step: "set pids limit")
        }
    }

    /// `watchingPidsLimit`: `pids.current` is read every sample (the sampler notes the moment the
    /// limit is reached), not only where the kernel keeps no `pids.peak`.
    func openCounters(watchingPidsLimit: Bool) {
        if let memory = controllerDirectory("memory") {
            // Every process is in every hierarchy's group: the memory one lists them all.
            procs = KeptOpenFile(memory + "/cgroup.procs", capacity: 65536)
            memoryUsage = KeptOpenFile(memory + "/memory.usage_in_bytes")
            segmentPeak = ResettablePeak(memory + "/memory.max_usage_in_bytes", resetWith: "0")
            memoryStat = KeptOpenFile(memory + "/memory.stat")
            kernelUsage = KeptOpenFile(memory + "/memory.kmem.usage_in_bytes")
        }
        if let cpuacct = controllerDirectory("cpuacct") { cpuacctUsage = KeptOpenFile(cpuacct + "/cpuacct.usage") }
        if let cpu = controllerDirectory("cpu") { cpuStat = KeptOpenFile(cpu + "/cpu.stat") }
        if let pids = controllerDirectory("pids") {
            pidsCurrent = KeptOpenFile(pids + "/pids.current")
            pidsEverySample = watchingPidsLimit || !fileExists(pids + "/pids.peak")
        }
    }

    private static let memoryStatKeys: [[UInt8]] = ["rss", "cache", "shmem"].map { Array($0.utf8) }
    private static let cpuStatKeys: [[UInt8]] = ["nr_periods", "nr_throttled", "throttled_time"].map { Array($0.utf8) }

    func sample(detail: Bool, into sample: inout CgroupSample) {
        sample.memoryBytes = memoryUsage?.readNumber() ?? 0
        if detail || pidsEverySample { sample.pids = Int(pidsCurrent?.readNumber() ?? 0) }
        guard detail else { return }
        if let stat = memoryStat?.read() {
            scanKeyValues(stat, keys: Self.memoryStatKeys) { key, value in
                switch key {
                case 0: sample.anonBytes = value
                case 1: sample.fileBytes = value
                default: sample.shmemBytes = value
                }
            }
        }
        sample.kernelBytes = kernelUsage?.readNumber() ?? 0
        sample.cpuUsageNanos = cpuacctUsage?.readNumber() ?? 0
        if let stat = cpuStat?.read() {
            scanKeyValues(stat, keys: Self.cpuStatKeys) { key, value in
                switch key {
                case 0: sample.periods = value
                case 1: sample.throttledPeriods = value
                default: sample.throttledNanos = value
                }
            }
        }
    }

    private var segmentPeak: ResettablePeak?

    func takeSegmentPeak() -> UInt64? { segmentPeak?.take() }

    func memoryPeak() -> (bytes: UInt64, source: RunReport.Memory.PeakSource)? {
        guard let directory = controllerDirectory("memory"),
              let text = try? readControl(directory + "/memory.max_usage_in_bytes"),
              let value = UInt64(text.trimmingWhitespace()) else { return nil }
        return (value, .maxUsageInBytes)
    }

    func appliedMemoryLimit() -> UInt64? {
        guard let directory = controllerDirectory("memory"),
              let text = try? readControl(directory + "/memory.limit_in_bytes") else { return nil }
        return parseLimit(text)
    }

    func pidsPeak() -> Int? {
        guard let directory = controllerDirectory("pids"), let text = try? readControl(directory + "/pids.peak") else { return nil }
        return Int(text.trimmingWhitespace())
    }

    func forkFailures() -> UInt64? {
        guard let directory = controllerDirectory("pids"), let text = try? readControl(directory + "/pids.events") else { return nil }
        return keyValues(text)["max"]
    }

    func memoryPressure() -> RunReport.MemoryPressure? {
        guard let directory = controllerDirectory("memory"),
              let text = try? readControl(directory + "/memory.failcnt"), let count = UInt64(text.trimmingWhitespace()) else { return nil }
        // With swap accounting the memory+swap counter is charged first: with no swap (memsw =
        // memory) its failures are the limit hits, and memory.failcnt stays 0.
        let memsw = (try? readControl(directory + "/memory.memsw.failcnt")).flatMap { UInt64($0.trimmingWhitespace()) } ?? 0
        return RunReport.MemoryPressure(limitHits: count + memsw, highEvents: nil, source: .failcnt)
    }

    func oomKillCount() -> UInt64 {
        guard let directory = controllerDirectory("memory"),
              let text = try? readControl(directory + "/memory.oom_control") else { return 0 }
        return keyValues(text)["oom_kill"] ?? 0
    }

    func memberPids() -> [Int32] {
        var all = Set<Int32>()
        for directory in created { all.formUnion(readPids(directory + "/cgroup.procs")) }
        return all.sorted()
    }

    func sampledPids(into pids: inout [Int32]) {
        // Opened anew each time: v1 hands a kept-open `cgroup.procs` the list it loaded while
        // that list is read at least once a second — the first members, for ever.
        parsePidList(procs?.readReopening(), into: &pids)
    }

    func signalAll(_ signal: Int32) {
        for pid in memberPids() { kill(pid, signal) }
    }

    /// Freeze, kill, thaw (as runc does on v1): a frozen group cannot fork new members while
    /// we walk its list.
    func killAll() {
        let freezer = controllerDirectory("freezer").flatMap { created.contains($0) ? $0 : nil }
        if let freezer {
            try? writeExistingFile(freezer + "/freezer.state", "FROZEN")
            let deadline = monotonicSeconds() + 1
            while monotonicSeconds() < deadline,
                  (try? readControl(freezer + "/freezer.state"))?.trimmingWhitespace() != "FROZEN" { usleep(1_000) }
        }
        for pid in memberPids() { kill(pid, SIGKILL) }
        if let freezer { try? writeExistingFile(freezer + "/freezer.state", "THAWED") }
        for directory in created { killUntilEmpty(procsFile: directory + "/cgroup.procs") }
    }

    func remove() throws(CgroupError) {
        // Close kept-open counters first: an open file does not block rmdir, but keeps memory.
        memoryUsage = nil; segmentPeak = nil; memoryStat = nil; kernelUsage = nil; cpuacctUsage = nil; cpuStat = nil; pidsCurrent = nil
        procs = nil
        if !memberPids().isEmpty { killAll() }
        var firstError: CgroupError?
        for directory in created.reversed() {
            do {
                try removeGroupDirectory(directory, filesystem: filesystem)
            } catch {
                if firstError == nil { firstError = CgroupError(step: "remove cgroup", error) }
            }
        }
        created = []
        if let firstError { throw firstError }
    }
}
