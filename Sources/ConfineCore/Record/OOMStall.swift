/// The run's group sat idle after an OOM kill: its CPU usage grew by less than
/// `OOMStall.idleShare` of one CPU over `OOMStall.window` or longer (a `multiprocessing.Pool`
/// waits forever for the result of a worker the kernel killed). Times are seconds since the start.
public struct OOMStall: Sendable, Equatable {
    /// How long the group must go (nearly) without CPU after an OOM kill before it is called
    /// stalled. A second is far longer than any pause a busy suite makes between two bursts of
    /// work (process start, a GC cycle, a lock handoff are milliseconds), yet short enough that
    /// a run that will never finish is called out at once instead of at its timeout.
    public static let window = 1.0
    /// "No CPU": less than 1% of one CPU over the window (10 ms of CPU per second). Not 0: idle
    /// processes still wake now and then (timers, a pool's handler threads, the kernel's own
    /// accounting), and a group that does real work uses far more.
    public static let idleShare = 0.01

    /// The first OOM kill of the run: its victim (nil when only the kernel's counter saw it) and
    /// command, and when it happened.
    public var victimPid: Int32?
    public var victimCommand: String?
    public var killedAtSeconds: Double
    /// When the group's CPU stopped: the start of the first idle window.
    public var sinceSeconds: Double
    /// How long it stayed idle (to the last reading of the stall).
    public var seconds: Double

    public init(victimPid: Int32?, victimCommand: String?, killedAtSeconds: Double, sinceSeconds: Double, seconds: Double) {
        self.victimPid = victimPid
        self.victimCommand = victimCommand
        self.killedAtSeconds = killedAtSeconds
        self.sinceSeconds = sinceSeconds
        self.seconds = seconds
    }

    /// "pid 4242" (or "a process" when only the counter saw the kill).
    var victim: String { victimPid.map { "pid \($0)" } ?? "a process" }
    /// "pid 4242 (python3 -c …)".
    var victimWithCommand: String {
        victim + (victimPid != nil ? victimCommand.map { " (\(Summary.display($0, limit: 40)))" } ?? "" : "")
    }
    var killedAt: String { "\(formatFixed(killedAtSeconds, digits: 2))s" }

    /// The line confine prints while it happens: "stalled since pid 4242 was OOM-killed at 0.38s (no CPU for 1.0s)".
    public var notice: String {
        "stalled since \(victim) was OOM-killed at \(killedAt) (no CPU for \(formatFixed(seconds, digits: 1))s)"
    }

    /// The report's warning: the same words, the command, and how long it stalled.
    public var warning: String {
        "stalled since \(victimWithCommand) was OOM-killed at \(killedAt): no CPU for \(formatFixed(seconds, digits: 1))s "
            + "from \(formatFixed(sinceSeconds, digits: 2))s"
    }
}
