/// One reading of the run's cgroup counters, as the cgroup drivers read them.
///
/// Memory in bytes: `memoryBytes` is the group's usage (v2 `memory.current`, v1
/// `memory.usage_in_bytes`, page cache included); the breakdown comes from `memory.stat`
/// (v2 `anon`/`file`/`kernel`/`shmem`, v1 `total_rss`/`total_cache`/… ). CPU counters are
/// cumulative since the group was made (v2 `cpu.stat`, v1 `cpuacct.usage` and `cpu.stat`);
/// `pids` is the current count (`pids.current`).
public struct CgroupSample: Equatable, Sendable {
    public var memoryBytes: UInt64 = 0
    public var anonBytes: UInt64 = 0
    public var fileBytes: UInt64 = 0
    public var kernelBytes: UInt64 = 0
    public var shmemBytes: UInt64 = 0
    public var cpuUsageNanos: UInt64 = 0
    public var periods: UInt64 = 0
    public var throttledPeriods: UInt64 = 0
    public var throttledNanos: UInt64 = 0
    public var pids: Int = 0
    public init() {}

    /// The `memory.stat` split of this reading, as the report shows it.
    public var breakdown: MemoryBreakdown {
        MemoryBreakdown(anonBytes: anonBytes, fileBytes: fileBytes, kernelBytes: kernelBytes, shmemBytes: shmemBytes)
    }
}
