#if canImport(Glibc)
import Glibc
#endif

/// What another thread shares with a running `Supervisor` (`confine load`'s driver thread): it
/// can ask the supervisor to stop the target as a container runtime stops one (SIGTERM, grace,
/// SIGKILL), learn when the target has ended or confine was signalled, and get the exit status
/// of a child it started itself — the supervisor reaps every child (it is a subreaper), so it
/// hands over the statuses of the children claimed here. Thread-safe.
public final class SupervisorControl: @unchecked Sendable {
    /// A pipe the supervisor polls (its read end): `requestStop` writes a byte.
    let stopFD: Int32
    private let stopWriteFD: Int32
    private var mutex = pthread_mutex_t()
    private var claimed: Set<Int32> = []
    private var exits: [Int32: Int32] = [:]
    private var _runStart: Double?
    private var _targetPid: Int32?
    private var _targetEnded = false
    private var _interrupted = false

    public init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
        }
        (stopFD, stopWriteFD) = (ends[0], ends[1])
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        if stopFD >= 0 { close(stopFD) }
        if stopWriteFD >= 0 { close(stopWriteFD) }
        pthread_mutex_destroy(&mutex)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// Asks the supervisor to stop the target: SIGTERM to its group, SIGKILL after the plan's grace period.
    public func requestStop() {
        var one: UInt8 = 1
        _ = write(stopWriteFD, &one, 1)
    }

    /// CLOCK_MONOTONIC seconds at which the run started (the run's clock's zero), once it has.
    public var runStart: Double? { locked { _runStart } }
    /// The target's (main process's) pid once it was spawned.
    public var targetPid: Int32? { locked { _targetPid } }
    /// The target (the main process) has ended.
    public var targetEnded: Bool { locked { _targetEnded } }
    /// confine received SIGINT, SIGTERM or SIGHUP and is stopping the run.
    public var interrupted: Bool { locked { _interrupted } }

    /// Starts a child whose exit status this thread wants: `spawn` runs with the claim held, so
    /// the supervisor cannot reap the child before it is known as claimed.
    public func claimChild<E: Error>(_ spawn: () throws(E) -> Int32) throws(E) -> Int32 {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let pid = try spawn()
        if pid > 0 { claimed.insert(pid) }
        return pid
    }

    /// The claimed child's wait status once the supervisor (or this thread) reaped it.
    public func exitStatus(of pid: Int32) -> Int32? {
        locked {
            if let status = exits[pid] { return status }
            // The supervisor has returned: reap it here.
            var status: Int32 = 0
            if _targetEnded, waitpid(pid, &status, WNOHANG) == pid {
                exits[pid] = status
                return status
            }
            return nil
        }
    }

    // MARK: the supervisor's side

    func started(at start: Double) { locked { _runStart = start } }
    /// The supervisor never ran (no cgroup driver): the other thread stops waiting for it.
    public func abandon() { locked { _targetEnded = true } }

    func spawned(_ pid: Int32) { locked { _targetPid = pid } }
    func ended() { locked { _targetEnded = true } }
    func noteInterrupted() { locked { _interrupted = true } }

    /// A child the supervisor reaped: kept when it was claimed.
    func reaped(_ pid: Int32, status: Int32) {
        locked { if claimed.contains(pid) { exits[pid] = status } }
    }

    /// Drains the pipe: true when a stop was requested since the last drain.
    func takeStopRequest() -> Bool {
        var bytes = [UInt8](repeating: 0, count: 16)
        return read(stopFD, &bytes, bytes.count) > 0
    }
}
