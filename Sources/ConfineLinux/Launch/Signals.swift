#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel

/// confine handles its signals synchronously through a `signalfd(2)` in the supervisor loop,
/// so they are blocked in every thread from the start (the spawn shim unblocks them in the child).
public enum Signals {
    /// Signals forwarded to the target's whole group.
    public static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Blocks the forwarded signals and SIGCHLD. Call before any thread starts.
    public static func blockHandledSignals() {
        var set = handledSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func handledSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwarded + [SIGCHLD] { sigaddset(&set, signal) }
        return set
    }

    /// A non-blocking signalfd for the handled signals.
    static func makeSignalFD() throws(SystemError) -> Int32 {
        var set = handledSet()
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError("signalfd", errno: errno) }
        return fd
    }

    /// Signals waiting on the fd, in arrival order.
    static func drain(_ fd: Int32) -> [Int32] {
        var received: [Int32] = []
        var info = signalfd_siginfo()
        while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
            received.append(Int32(info.ssi_signo))
        }
        return received
    }
}
