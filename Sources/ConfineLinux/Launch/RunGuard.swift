#if canImport(Glibc)
import Glibc
#endif
import CConfineSpawn

/// A child of confine that takes the run's group down if confine dies without cleaning up
/// (SIGKILL, OOM kill of confine itself, a crash): the target's own PR_SET_PDEATHSIG reaches only
/// its first process, not the daemons and workers below it. See guard.c.
public final class RunGuard {
    public let pid: Int32
    private var releaseFD: Int32

    /// Starts guarding `groupDirectories` (which may not exist yet).
    public init(groupDirectories: [String]) throws(SystemError) {
        let strings = CStringArray(groupDirectories)
        var fd: Int32 = -1
        let paths = UnsafeRawPointer(strings.pointers).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
        let pid = confine_guard_start(paths, Int32(groupDirectories.count), &fd)
        guard pid > 0 else { throw SystemError("fork (run guard)", errno: errno) }
        self.pid = pid
        releaseFD = fd
    }

    /// confine removed its groups itself: the guard exits without touching anything.
    public func release() {
        guard releaseFD >= 0 else { return }
        _ = retryingEINTR { Int32(write(releaseFD, "r", 1)) }
        close(releaseFD)
        releaseFD = -1
        var status: Int32 = 0
        _ = retryingEINTR { waitpid(pid, &status, 0) }
    }

    deinit { release() }
}
