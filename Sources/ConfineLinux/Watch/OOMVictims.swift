import ConfineCore

/// Names the processes the kernel OOM-killed in the run's group. While the run goes on it keeps
/// the kernel log's `oom-kill:` records for this group; at the end it names every kill the
/// kernel's `oom_kill` counter counted, as exactly as the evidence allows:
/// 1. `kernel-log`: the record's pid, usage and limit, and its moment; the victim's RSS from the
///    "Killed process" line after it;
/// 2. `process-exit`: a process of the run that exited by SIGKILL (no kernel log);
/// 3. `counter`: only the count is known.
struct OOMVictims {
    private var parser: KernelOOMParser
    private var logged: [KernelOOMKill] = []

    init(groupName: String) {
        parser = KernelOOMParser(groupName: groupName)
    }

    /// Reads what `/dev/kmsg` has for this group now.
    mutating func read(_ kernelLog: KernelLogReader) {
        kernelLog.drain { record in feed(record) }
    }

    /// One kmsg record: a kill of this group, or the memory of a victim already logged.
    mutating func feed(_ record: String) {
        switch parser.feed(record: record) {
        case .kill(let kill)?:
            logged.append(kill)
        case .victimMemory(let pid, let memory)?:
            if let index = logged.lastIndex(where: { $0.pid == pid && $0.memory == nil }) { logged[index].memory = memory }
        case nil:
            break
        }
    }

    /// The first kill the kernel log named, as seconds since `start` (CLOCK_MONOTONIC seconds).
    func firstLogged(start: Double) -> (pid: Int32, task: String, at: Double)? {
        logged.first.map { ($0.pid, $0.task, max(0, Double($0.timestampMicros) / 1e6 - start)) }
    }

    /// Every kill the counter says happened (`count`), named, in time order. `start`: the run's
    /// start in CLOCK_MONOTONIC seconds (kmsg timestamps count from boot, as that clock does);
    /// `endedAt`: seconds since the start; `limitBytes`: the profile's memory limit, for kills
    /// the log did not give one for.
    func named(count: Int, mainPid: Int32, start: Double, endedAt: Double, limitBytes: UInt64?,
               processes: ProcessTable) -> [RunReport.OOMKill] {
        var kills: [RunReport.OOMKill] = []
        for event in logged {
            let at = Double(event.timestampMicros) / 1e6 - start
            kills.append(.init(pid: event.pid, command: processes.command(of: event.pid) ?? event.task,
                               atSeconds: min(max(0, (at * 1000).rounded() / 1000), endedAt),
                               usageBytes: event.usageBytes, limitBytes: event.limitBytes ?? limitBytes,
                               mainProcess: event.pid == mainPid, source: .kernelLog, parentPid: processes.parent(of: event.pid),
                               anonRssBytes: event.memory?.anonRssBytes, fileRssBytes: event.memory?.fileRssBytes,
                               shmemRssBytes: event.memory?.shmemRssBytes))
        }
        if kills.count < count {
            let named = Set(kills.map(\.pid))
            for candidate in processes.sigkilled(before: endedAt) where !named.contains(candidate.pid) && kills.count < count {
                kills.append(.init(pid: candidate.pid, command: processes.command(of: candidate.pid) ?? "?",
                                   atSeconds: (candidate.at * 1000).rounded() / 1000, usageBytes: nil,
                                   limitBytes: limitBytes, mainProcess: candidate.pid == mainPid, source: .processExit,
                                   parentPid: processes.parent(of: candidate.pid)))
            }
        }
        while kills.count < count {
            kills.append(.init(pid: 0, command: "unknown", atSeconds: endedAt, usageBytes: nil,
                               limitBytes: limitBytes, mainProcess: false, source: .counter))
        }
        return kills.sorted { $0.atSeconds < $1.atSeconds }
    }
}
