import ConfineCore

/// Tells when the run's group sits idle after an OOM kill (`OOMStall`): a `multiprocessing.Pool`
/// whose worker the kernel killed waits forever for its result, and so does the run.
///
/// Fed the group's cumulative CPU usage at the detailed samples (about every 50 ms) once confine
/// knows of a kill; the group is idle when the CPU it used over the last `OOMStall.window`
/// (between the newest reading at least that old and now) is under `OOMStall.idleShare` of one
/// CPU. A stall begins at the start of its first idle window and ends at the first window that
/// is not idle; `stallTimeout` (at least a window) ends the run. Pure: readings in, events out.
struct StallWatch {
    enum Event: Equatable {
        /// No CPU for a window: the stall began at `since` and has lasted `seconds` (the notice).
        case began(since: Double, seconds: Double)
        /// The group used CPU again: the stall from `since` lasted `seconds`.
        case ended(since: Double, seconds: Double)
        /// Idle for the stall timeout: the run is to be ended. No events follow.
        case timedOut(since: Double, seconds: Double)
    }

    /// How long a stall may last before the run is ended; nil: never.
    let stallTimeout: Double?
    /// When confine first knew of an OOM kill (seconds since the start): readings start there.
    private(set) var killKnownAt: Double?
    /// The readings since then whose window may still be needed: the newest at least a window
    /// old (the base of the window ending now) and every later one.
    private var readings: [(time: Double, cpuNanos: UInt64)] = []
    /// The current stall's start, and the last reading at which it was still idle.
    private var since: Double?
    private var lastIdle = 0.0
    private var ended = false

    init(stallTimeout: Double?) {
        self.stallTimeout = stallTimeout.map { max($0, OOMStall.window) }
    }

    /// Whether a stall is going on now.
    var isStalled: Bool { since != nil }

    mutating func killKnown(at time: Double) {
        if killKnownAt == nil { killKnownAt = time }
    }

    /// One reading of the group's cumulative CPU usage at `time` (seconds since the start).
    mutating func reading(at time: Double, cpuNanos: UInt64) -> Event? {
        guard let known = killKnownAt, time >= known, !ended else { return nil }
        readings.append((time, cpuNanos))
        while readings.count > 2, time - readings[1].time >= OOMStall.window { readings.removeFirst() }
        let base = readings[0]
        let span = time - base.time
        guard span >= OOMStall.window else { return nil }
        let used = cpuNanos >= base.cpuNanos ? cpuNanos - base.cpuNanos : 0
        let idle = Double(used) < OOMStall.idleShare * span * 1e9
        if idle {
            lastIdle = time
            guard let start = since else {
                since = base.time
                return .began(since: base.time, seconds: time - base.time)
            }
            if let stallTimeout, time - start >= stallTimeout {
                ended = true
                return .timedOut(since: start, seconds: time - start)
            }
            return nil
        }
        guard let start = since else { return nil }
        since = nil
        return .ended(since: start, seconds: lastIdle - start)
    }

    /// The run ended: the stall going on then, if any, as ended at its last idle reading.
    mutating func finish() -> Event? {
        guard !ended, let start = since else { return nil }
        ended = true
        since = nil
        return .ended(since: start, seconds: lastIdle - start)
    }
}
