#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// How full the run's private /dev/shm is: `statvfs(3)` (statfs) through the main process's root
/// (`/proc/<pid>/root/dev/shm`, which reaches into its mount namespace), read at the slow
/// cadence. A full tmpfs is where writes fail with ENOSPC and mmap'd POSIX shared memory with
/// SIGBUS — the fault a pod's 64 MiB /dev/shm gives, which the summary names.
final class ShmWatch {
    /// The tmpfs's root, opened through the main process's root once it runs: the descriptor
    /// holds the mount, so the last reading is taken after every process of the run is gone.
    private var fd: Int32
    let sizeBytes: UInt64
    private(set) var peakBytes: UInt64 = 0
    private(set) var filledAtSeconds: Double?

    /// nil when the run has no private /dev/shm.
    init?(plan: RunPlan, mainPid: Int32) {
        guard mainPid > 0, plan.container?.mounts.contains(where: { $0.target == "/dev/shm" && $0.source == nil }) == true,
              let size = plan.profile.shmBytes else { return nil }
        fd = retryingEINTR { open("/proc/\(mainPid)/root/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        sizeBytes = size
    }

    deinit { finish(at: nil) }

    /// One reading.
    func sample(at seconds: Double) {
        var info = statvfs()
        guard fd >= 0, fstatvfs(fd, &info) == 0, info.f_blocks > 0 else { return }
        let blockSize = UInt64(info.f_frsize)
        let used = (UInt64(info.f_blocks) - UInt64(info.f_bfree)) * blockSize
        peakBytes = max(peakBytes, used)
        if info.f_bavail == 0, filledAtSeconds == nil { filledAtSeconds = (seconds * 1000).rounded() / 1000 }
    }

    /// The last reading (at `seconds`, when the run ended), then the mount is let go.
    func finish(at seconds: Double?) {
        guard fd >= 0 else { return }
        if let seconds { sample(at: seconds) }
        close(fd)
        fd = -1
    }

    var report: RunReport.Shm { RunReport.Shm(sizeBytes: sizeBytes, peakBytes: peakBytes, filledAtSeconds: filledAtSeconds) }
}
