import ConfineCore

/// Who holds the group's tasks when it is at its pids limit: each member's threads and parent
/// from `/proc/<pid>/stat` (`num_threads`, `ppid`), read when a sample finds `pids.current` at
/// or near the limit (`GroupSampler.takePidsCensusDue`) — a few dozen reads, at most twice a run.
enum TaskCensus {
    /// The group now: `members` from `cgroup.procs`, `tasks` the `pids.current` just read.
    static func take(members: [Int32], tasks: Int, at time: Double, command: (Int32) -> String?) -> RunReport.PidsAtLimit {
        let stats = members.compactMap { pid in (try? ProcFS.stat(.pid(pid))).flatMap { $0 } }
        return census(stats, tasks: tasks, at: time) { pid in
            command(pid) ?? ProcessTable.readCommandLine(pid) ?? stats.first { $0.pid == pid }?.comm ?? "?"
        }
    }

    /// The census of these stat lines (pure): processes, threads in all, and the process holding
    /// the most of the limit — its own threads plus its child processes among them (ties: lower pid).
    static func census(_ stats: [ProcFS.Stat], tasks: Int, at time: Double, command: (Int32) -> String) -> RunReport.PidsAtLimit {
        var children: [Int32: Int] = [:]
        for stat in stats { children[stat.parentPid, default: 0] += 1 }
        let threads = stats.reduce(0) { $0 + ($1.threads ?? 1) }
        let holds = { (stat: ProcFS.Stat) in (stat.threads ?? 1) + (children[stat.pid] ?? 0) }
        let top = stats.max { (holds($0), $1.pid) < (holds($1), $0.pid) }
        return RunReport.PidsAtLimit(
            atSeconds: (time * 1000).rounded() / 1000, tasks: tasks, processes: stats.count, threads: threads,
            topProcess: top.map { RunReport.TaskHolder(pid: $0.pid, command: command($0.pid), threads: $0.threads ?? 1,
                                                       children: children[$0.pid] ?? 0) })
    }
}
