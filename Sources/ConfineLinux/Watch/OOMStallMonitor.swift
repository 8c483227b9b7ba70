import ConfineCore

/// Whether the run's group went idle after an OOM kill, fed by the supervisor's detailed samples:
/// finds out that a kill happened (a kernel log record, else the `oom_kill` counter, read about
/// every 250 ms until it rises), lets `StallWatch` judge the group's CPU, and names each stall by
/// the first OOM kill with the best evidence at hand (`Victim`). Keeps the stalls for the record.
struct OOMStallMonitor {
    /// The first OOM kill as the supervisor can name it now (kernel log, else a process that
    /// exited by SIGKILL); nil when only the counter knows of it.
    struct Victim {
        var pid: Int32
        var command: String?
        /// Seconds since the run's start.
        var at: Double
    }

    private var watch: StallWatch
    /// Stalls that ended (or ended the run), at most `RunRecord.stallsKept`.
    private(set) var stalls: [OOMStall] = []
    /// The stall `--stall-timeout` ended the run with.
    private(set) var stalledOut: OOMStall?
    private var counterRoseAt: Double?
    private var samplesSinceCounterRead = 0

    init(stallTimeout: Double?) {
        watch = StallWatch(stallTimeout: stallTimeout)
    }

    /// After a sample with fresh CPU counters (`cpuNanos`, at `time` seconds since the start).
    /// `killLogged`: the kernel log named a kill; `oomKillCount` reads the group's counter;
    /// `notice` gets the line to print when a stall begins. Returns true when the stall timeout
    /// ends the run now.
    mutating func sampled(at time: Double, cpuNanos: UInt64, killLogged: Bool, oomKillCount: () -> UInt64,
                          victim: () -> Victim?, notice: (String) -> Void) -> Bool {
        if watch.killKnownAt == nil {
            if killLogged {
                watch.killKnown(at: time)
            } else {
                samplesSinceCounterRead += 1
                guard samplesSinceCounterRead >= 5 else { return false }
                samplesSinceCounterRead = 0
                guard oomKillCount() > 0 else { return false }
                counterRoseAt = time
                watch.killKnown(at: time)
            }
        }
        switch watch.reading(at: time, cpuNanos: cpuNanos) {
        case .began(let since, let seconds)?:
            notice(stall(since: since, seconds: seconds, victim: victim()).notice)
        case .ended(let since, let seconds)?:
            keep(stall(since: since, seconds: seconds, victim: victim()))
        case .timedOut(let since, let seconds)?:
            stalledOut = keep(stall(since: since, seconds: seconds, victim: victim()))
            return true
        case nil:
            break
        }
        return false
    }

    /// The run ended: a stall still going on is kept as it stood at its last idle reading.
    mutating func finish(victim: () -> Victim?) {
        if case .ended(let since, let seconds)? = watch.finish() { keep(stall(since: since, seconds: seconds, victim: victim())) }
    }

    private func stall(since: Double, seconds: Double, victim: Victim?) -> OOMStall {
        let rounded = { (value: Double) in (value * 1000).rounded() / 1000 }
        return OOMStall(victimPid: victim?.pid, victimCommand: victim?.command, killedAtSeconds: rounded(victim?.at ?? counterRoseAt ?? since),
                        sinceSeconds: rounded(since), seconds: rounded(seconds))
    }

    @discardableResult
    private mutating func keep(_ stall: OOMStall) -> OOMStall {
        if stalls.count < RunRecord.stallsKept { stalls.append(stall) }
        return stall
    }
}
