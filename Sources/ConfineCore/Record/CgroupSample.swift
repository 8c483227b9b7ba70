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
    /// The part of `kernelBytes` reclaim can drop: v2 `slab_reclaimable` (dentries, inodes);
    /// 0 on v1, whose `memory.stat` has no slab split (its kernel figure is an upper bound).
    public var reclaimableKernelBytes: UInt64 = 0
    public var cpuUsageNanos: UInt64 = 0
    public var periods: UInt64 = 0
    public var throttledPeriods: UInt64 = 0
    public var throttledNanos: UInt64 = 0
    public var pids: Int = 0
    public init() {}

    /// The memory reclaim cannot drop: anonymous memory, shmem/tmpfs, and kernel memory but its
    /// reclaimable slab. Clean page cache — what the kernel drops before it OOM-kills — is not in
    /// it (`fileBytes` less shmem). From `memory.stat`, so as fresh as the last detailed reading.
    public var unreclaimableBytes: UInt64 {
        anonBytes &+ shmemBytes &+ (kernelBytes > reclaimableKernelBytes ? kernelBytes - reclaimableKernelBytes : 0)
    }

    /// The `memory.stat` split of this reading, as the report shows it.
    public var breakdown: MemoryBreakdown {
        MemoryBreakdown(anonBytes: anonBytes, fileBytes: fileBytes, kernelBytes: kernelBytes, shmemBytes: shmemBytes)
    }
}
