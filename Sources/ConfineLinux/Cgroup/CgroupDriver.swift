#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// Limits in cgroup v2 terms; the v1 driver translates. nil means "no limit" (`max`).
public struct CgroupLimits: Equatable, Sendable {
    /// Docker and Kubernetes both use a 100 ms CFS period.
    public static let cpuPeriodMicros = 100_000

    public var memoryMax: UInt64?
    /// Swap beyond `memoryMax` (`memory.swap.max`); nil = unlimited.
    public var swapMax: UInt64?
    public var cpuQuotaMicros: Int?
    public var cpuset: [Int]?
    public var pidsMax: Int?

    public init(memoryMax: UInt64? = nil, swapMax: UInt64? = nil, cpuQuotaMicros: Int? = nil,
                cpuset: [Int]? = nil, pidsMax: Int? = nil) {
        self.memoryMax = memoryMax
        self.swapMax = swapMax
        self.cpuQuotaMicros = cpuQuotaMicros
        self.cpuset = cpuset
        self.pidsMax = pidsMax
    }

    public init(cpus: Double?, memoryMax: UInt64?, swapMax: UInt64?, cpuset: [Int]?, pidsMax: Int?) {
        self.init(memoryMax: memoryMax, swapMax: swapMax,
                  cpuQuotaMicros: cpus.map { Int(($0 * Double(Self.cpuPeriodMicros)).rounded()) },
                  cpuset: cpuset, pidsMax: pidsMax)
    }
}

/// A failed cgroup operation: what confine was doing, the system error, and how to fix it.
public struct CgroupError: Error, Equatable, Sendable, CustomStringConvertible {
    public var step: String
    public var underlying: SystemError?
    public var detail: String?

    public init(step: String, _ underlying: SystemError) {
        self.step = step
        self.underlying = underlying
        self.detail = nil
    }

    public init(step: String, detail: String) {
        self.step = step
        self.underlying = nil
        self.detail = detail
    }

    public var errno: Int32? { underlying?.errno }

    public var description: String {
        var text = underlying.map(String.init(describing:)) ?? detail ?? step
        if let code = underlying?.errno, code == EACCES || code == EPERM || code == EROFS {
            text += "; confine needs write access to its own cgroup: run as root, or under "
                + "`systemd-run --user --scope -p Delegate=yes`, or in a container started with "
                + "`--privileged --cgroupns=private`"
        }
        return text
    }
}

/// Creates and removes directories in a cgroup filesystem. The real one is `mkdir(2)`/`rmdir(2)`;
/// unit tests use a fake that also writes the control files a kernel would create.
public protocol CgroupFilesystem: Sendable {
    func makeDirectory(_ path: String) throws(SystemError)
    func removeDirectory(_ path: String) throws(SystemError)
}

public struct KernelCgroupFilesystem: CgroupFilesystem {
    public init() {}
    public func makeDirectory(_ path: String) throws(SystemError) {
        guard mkdir(path, 0o755) == 0 else { throw SystemError("mkdir", path: path, errno: errno) }
    }
    public func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 else { throw SystemError("rmdir", path: path, errno: errno) }
    }
}

/// One driver per cgroup version, both behind this protocol (as runc's `fs` and `fs2`).
public protocol CgroupDriver: Sendable {
    var kind: CgroupLayoutKind { get }
    /// The directories below which run groups are created, one per hierarchy (for `gc`).
    var parentDirectories: [String] { get }
    /// Creates the run's group(s) and writes the limits. On failure nothing is left behind.
    func createGroup(named name: String, limits: CgroupLimits) throws(CgroupError) -> any RunGroup
    /// Reopens a group left behind by an earlier confine (for `gc`).
    func existingGroup(named name: String) -> any RunGroup
}

/// A run's cgroup (on v1, one directory per hierarchy).
public protocol RunGroup: AnyObject {
    var name: String { get }
    /// Files the child writes itself into ("0") between fork and exec.
    var joinFiles: [String] { get }
    /// cgroup v2: the directory a child can be cloned straight into (CLONE_INTO_CGROUP).
    var cloneIntoDirectory: String? { get }
    /// controller (or `unified`) → cgroup path as `/proc/<pid>/cgroup` shows it.
    var kernelPaths: [String: String] { get }
    /// Limits that could not be applied as asked, for the report's warnings.
    var warnings: [String] { get }

    /// The sampler's hot path: reads kept-open files, allocates nothing. Usage and pids are read
    /// every time; with `detail`, also the breakdown (`memory.stat`, the costliest file) and CPU
    /// counters, which the supervisor reads every few samples. Fields not read keep their value.
    func sample(detail: Bool, into sample: inout CgroupSample)
    /// The kernel's own peak counter and which file it is; nil if the kernel has none.
    func memoryPeak() -> (bytes: UInt64, source: RunReport.Memory.PeakSource)?
    /// The group's peak since the previous call, the kernel's counter then reset (a segment
    /// between two test boundaries); nil where the kernel cannot reset it (cgroup v2 before 6.12).
    func takeSegmentPeak() -> UInt64?
    /// The memory limit as the kernel applied it (rounded down to whole pages); nil for `max`.
    func appliedMemoryLimit() -> UInt64?
    func pidsPeak() -> Int?
    func forkFailures() -> UInt64?
    func oomKillCount() -> UInt64
    /// Memory pressure that did not (by itself) kill: how often usage reached the limit and
    /// reclaim ran (v1 `memory.failcnt`; v2 `memory.events` `max`, with `high`); nil if unreadable.
    func memoryPressure() -> RunReport.MemoryPressure?
    func memberPids() -> [Int32]
    /// The members, read through a kept-open `cgroup.procs` (one syscall): the sampler's view.
    func sampledPids(into pids: inout [Int32])
    func signalAll(_ signal: Int32)
    /// Kills every process in the group and waits until it is empty.
    func killAll()
    /// Kills anything left and removes the group.
    func remove() throws(CgroupError)
}

/// Finds the host's layout and returns the driver for it.
public enum CgroupDrivers {
    public static func detect(filesystem: any CgroupFilesystem = KernelCgroupFilesystem(),
                              procRoot: String = "/proc") throws(CgroupError) -> any CgroupDriver {
        let mountinfo: String
        let procCgroup: String
        do {
            mountinfo = try ProcFS.readText(.current, "mountinfo", root: procRoot)
            procCgroup = try ProcFS.readText(.current, "cgroup", root: procRoot)
        } catch {
            throw CgroupError(step: "detect cgroup layout", error)
        }
        let placement: CgroupPlacement
        do {
            placement = try CgroupLayoutParser.placement(mountinfo: mountinfo, procCgroup: procCgroup)
        } catch {
            throw CgroupError(step: "detect cgroup layout", detail: error.description)
        }
        return try driver(for: placement, filesystem: filesystem)
    }

    public static func driver(for placement: CgroupPlacement,
                              filesystem: any CgroupFilesystem) throws(CgroupError) -> any CgroupDriver {
        switch placement.kind {
        case .unified: return try CgroupV2Driver(placement: placement, filesystem: filesystem)
        case .hybrid, .legacy: return try CgroupV1Driver(placement: placement, filesystem: filesystem)
        case .unknown: throw CgroupError(step: "detect cgroup layout", detail: "the cgroup layout is unknown")
        }
    }
}

/// Reads a control file, naming it in the error.
func readControl(_ path: String) throws(SystemError) -> String {
    try readTextFile(path)
}

func writeControl(_ directory: String, _ file: String, _ value: String, step: String) throws(CgroupError) {
    do {
        try writeExistingFile(directory + "/" + file, value)
    } catch {
        throw CgroupError(step: step, error)
    }
}

/// Pids listed in a `cgroup.procs` file.
func readPids(_ path: String) -> [Int32] {
    var pids: [Int32] = []
    guard let bytes = try? readBinaryFile(path) else { return pids }
    bytes.withUnsafeBytes { parsePidList($0, into: &pids) }
    return pids
}

/// Removes a directory, retrying briefly while the kernel still releases exiting tasks.
func removeGroupDirectory(_ path: String, filesystem: any CgroupFilesystem) throws(SystemError) {
    var lastError = SystemError("rmdir", path: path, errno: 0)
    for attempt in 0..<200 {
        do {
            try filesystem.removeDirectory(path)
            return
        } catch {
            if error.errno == ENOENT { return }
            guard error.errno == EBUSY else { throw error }
            lastError = error
            usleep(attempt < 20 ? 1_000 : 10_000)
        }
    }
    throw lastError
}

/// A limit file's value: a number, or nil for `max` (v2) and the v1 "unlimited" sentinel
/// (PAGE_COUNTER_MAX pages, printed as 9223372036854771712 on 4 KiB pages).
func parseLimit(_ text: String) -> UInt64? {
    let trimmed = text.trimmingWhitespace()
    guard trimmed != "max", let value = UInt64(trimmed), value < (1 << 62) else { return nil }
    return value
}

/// Parses a `cgroup.procs` buffer (one decimal pid per line) into `pids`, reusing its storage.
func parsePidList(_ bytes: UnsafeRawBufferPointer?, into pids: inout [Int32]) {
    pids.removeAll(keepingCapacity: true)
    guard let bytes else { return }
    var value: Int32 = 0
    var digits = 0
    for byte in bytes {
        if byte >= 48 && byte <= 57 {
            value = value &* 10 &+ Int32(byte - 48)
            digits += 1
        } else {
            if digits > 0 { pids.append(value) }
            value = 0
            digits = 0
        }
    }
    if digits > 0 { pids.append(value) }
}

/// Sends SIGKILL to every pid listed until the group stays empty (bounded).
func killUntilEmpty(procsFile: String, maxWaitSeconds: Double = 10) {
    let deadline = monotonicSeconds() + maxWaitSeconds
    while monotonicSeconds() < deadline {
        let pids = readPids(procsFile)
        if pids.isEmpty { return }
        for pid in pids { kill(pid, SIGKILL) }
        usleep(1_000)
    }
}

/// A peak counter confine reads and resets through one descriptor: cgroup v1's
/// `memory.max_usage_in_bytes` (write 0), or cgroup v2's `memory.peak` on 6.12+, where the
/// reset applies only to the descriptor that wrote it (so `memoryPeak()` stays the run's).
/// Nothing is written until the first `take()`: the first segment runs from the group's creation.
final class ResettablePeak {
    private let fd: Int32
    private let reset: [UInt8]
    private var buffer = [UInt8](repeating: 0, count: 64)

    init?(_ path: String, resetWith value: String) {
        let fd = retryingEINTR { open(path, O_RDWR | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        self.fd = fd
        reset = Array(value.utf8)
    }

    deinit { close(fd) }

    private func writeReset() -> Bool {
        reset.withUnsafeBytes { bytes in retryingEINTR { pwrite(fd, bytes.baseAddress, bytes.count, 0) } } == reset.count
    }

    /// The peak since the previous call; nil once a reset has failed (the values would no longer be per segment).
    func take() -> UInt64? {
        let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { pread(fd, raw.baseAddress, raw.count, 0) } }
        guard count > 0 else { return nil }
        let value = buffer.withUnsafeBytes { parseLeadingNumber(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        return writeReset() ? value : nil
    }
}
