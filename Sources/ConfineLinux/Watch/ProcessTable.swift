#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// What confine knows of each process of the run: its command line (read once, as early as
/// possible), peak RSS over the samples, and how it ended.
///
/// Bounded for long runs: a suite that starts a process every 200 ms for hours must not grow
/// confine (bench/long-run). Live processes are keyed by pid; a process that exits moves to
/// `exited`, which is compacted past `exitedLimit` to what the report can still use: the
/// SIGKILLed ones (OOM-kill candidates), the highest peaks (the report lists the top 50) and
/// the most recent (late lookups by pid). A reused pid starts a fresh entry.
struct ProcessTable {
    struct Entry {
        var command: String
        var peakRssBytes: UInt64 = 0
        var firstSeen: Double
        var exitStatus: UInt32?
        var exitedAt: Double?
        /// The parent as the fork event named it; when that parent exits first, the kernel
        /// reparents the process to the nearest subreaper: `reaper` (confine).
        var parent: Int32?
    }

    static let exitedLimit = 2048
    static let keptAfterCompaction = (killed: 512, highestPeaks: 64, mostRecent: 256)

    private(set) var live: [Int32: Entry] = [:]
    /// Exited processes in exit order (compacted: see above).
    private(set) var exited: [(pid: Int32, entry: Entry)] = []
    /// Living processes descending from the main process, as the process connector reports forks.
    private(set) var tree = Set<Int32>()
    private let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    /// `/proc/<pid>/statm` kept open while the process lives: one `pread` per reading.
    private var statmFiles: [Int32: KeptOpenFile] = [:]
    /// Where command lines come from: /proc, or a test's table.
    var commandLine: (Int32) -> String? = ProcessTable.readCommandLine
    /// Who orphans of the run are reparented to, and the main process's parent: confine, a
    /// child subreaper (`PR_SET_CHILD_SUBREAPER`).
    var reaper: Int32 = getpid()
    /// Count the processes in state `R` at each RSS sample (under a CPU quota: how many workers
    /// wanted a CPU at once); `/proc/<pid>/stat` kept open beside `statm`.
    var countsRunnable = false
    /// The most processes found runnable at one sample.
    private(set) var peakRunnable = 0
    private var statFiles: [Int32: KeptOpenFile] = [:]
    /// Processes already found outside the run's group (`movedOut`).
    private var reportedOutside = Set<Int32>()

    /// Every entry the table still holds, live first.
    var entries: [(pid: Int32, entry: Entry)] { live.map { ($0.key, $0.value) } + exited }

    mutating func addRoot(_ pid: Int32, at time: Double) {
        tree.insert(pid)
        remember(pid, at: time, refresh: true)
        live[pid]?.parent = reaper
    }

    mutating func handle(_ event: ProcessEvent, at time: Double) {
        switch event {
        case .fork(let parent, let child):
            guard tree.contains(parent) else { return }
            tree.insert(child)
            remember(child, at: time, refresh: true)
            live[child]?.parent = parent
        case .exec(let pid):
            guard tree.contains(pid) else { return }
            remember(pid, at: time, refresh: true)
        case .exit(let pid, let status):
            guard tree.remove(pid) != nil, var entry = live.removeValue(forKey: pid) else { return }
            entry.exitStatus = status
            entry.exitedAt = time
            exited.append((pid, entry))
            for orphan in live.keys.filter({ live[$0]?.parent == pid }) { live[orphan]?.parent = reaper }
            if exited.count > Self.exitedLimit { compactExited() }
        }
    }

    /// Records RSS for the group's current members (and names any not seen before).
    mutating func sampleRSS(of pids: [Int32], at time: Double) {
        var runnable = 0
        for pid in pids {
            if live[pid] == nil { remember(pid, at: time, refresh: false) }
            let rss = residentBytes(pid)
            if rss > live[pid]?.peakRssBytes ?? 0 { live[pid]?.peakRssBytes = rss }
            if countsRunnable && isRunnable(pid) { runnable += 1 }
        }
        peakRunnable = max(peakRunnable, runnable)
        // Close the files of processes that have left the group.
        if statmFiles.count > pids.count || statFiles.count > pids.count {
            let current = Set(pids)
            for pid in statmFiles.keys where !current.contains(pid) { statmFiles[pid] = nil }
            for pid in statFiles.keys where !current.contains(pid) { statFiles[pid] = nil }
        }
    }

    /// Processes of the run's tree missing from the group's `members` (its `cgroup.procs`) that
    /// `/proc/<pid>/cgroup` places outside the group named `groupName` — they moved themselves
    /// out, taking their memory and CPU out of the figures and the limits. Each process once. A
    /// process that exited between the members' read and its exit event is not one of them (its
    /// `cgroup` file is gone, or it is a zombie).
    mutating func movedOut(of groupName: String, members: [Int32], at time: Double) -> [RunReport.MovedProcess] {
        guard tree.count > members.count || !tree.isSubset(of: members) else { return [] }
        let inside = Set(members)
        var moved: [RunReport.MovedProcess] = []
        // Parents first: a child started outside by a process that moved is not a move of its own.
        for pid in tree.sorted() where !inside.contains(pid) && !reportedOutside.contains(pid) {
            guard let state = try? ProcFS.stat(.pid(pid)), state.state != "Z",
                  let lines = try? ProcFS.cgroups(.pid(pid)),
                  let line = lines.first(where: { $0.controllers.contains("memory") }) ?? lines.first(where: { $0.hierarchyID == 0 }) else { continue }
            let components = line.path.split(separator: "/")
            guard !components.contains(Substring(groupName)) else { continue }
            reportedOutside.insert(pid)
            if reportedOutside.count > 1024 { continue }
            let parent = live[pid]?.parent
            moved.append(RunReport.MovedProcess(pid: pid, command: command(of: pid) ?? "?", atSeconds: (time * 1000).rounded() / 1000,
                                                cgroup: line.path, startedOutsideBy: parent.flatMap { reportedOutside.contains($0) ? $0 : nil }))
        }
        return moved
    }

    mutating func closeFiles() {
        statmFiles = [:]
        statFiles = [:]
    }

    /// A process counts as a worker wanting CPU once it has used this much (clock ticks, 100 a
    /// second: 0.1 s): launchers that exec or exit at once (a pyenv shim, `npx`) are not workers.
    static let workerTicks: UInt64 = 10

    /// Whether the process's main thread is in state `R` (running, or runnable and waiting —
    /// throttled by the quota included) and it has done some work (`workerTicks`).
    private mutating func isRunnable(_ pid: Int32) -> Bool {
        if statFiles[pid] == nil {
            guard let file = KeptOpenFile(ProcFS.path(.pid(pid), "stat"), capacity: 1024) else { return false }
            statFiles[pid] = file
        }
        guard let bytes = statFiles[pid]?.read() else { return false }
        return ProcFS.state(inStat: bytes) == UInt8(ascii: "R") && (ProcFS.cpuTicks(inStat: bytes) ?? 0) >= Self.workerTicks
    }

    /// The command of the living process `pid`, else of the last one with that pid to exit.
    func command(of pid: Int32) -> String? {
        live[pid]?.command ?? exited.last(where: { $0.pid == pid })?.entry.command
    }

    /// The parent of the living process `pid` (else of the last one with that pid to exit) when
    /// it was last known: at its exit for one that exited. nil if its fork was not seen.
    func parent(of pid: Int32) -> Int32? {
        live[pid]?.parent ?? exited.last(where: { $0.pid == pid })?.entry.parent
    }

    /// The report's process list: the 50 with the highest peak RSS, hungriest first.
    func summaries() -> [RunReport.ProcessRecord] {
        entries
            .map { RunReport.ProcessRecord(pid: $0.pid, command: $0.entry.command, peakRssBytes: $0.entry.peakRssBytes,
                                         firstSeenSeconds: ($0.entry.firstSeen * 1000).rounded() / 1000) }
            .sorted { ($0.peakRssBytes, $1.pid) > ($1.peakRssBytes, $0.pid) }
            .prefix(50)
            .map { $0 }
    }

    /// The kernel's exact high-water mark, reported at exit (taskstats), for processes of the
    /// run. Taskstats and the connector are separate sockets: the exit may be known already.
    mutating func notePeak(_ pid: Int32, bytes: UInt64) {
        if var entry = live[pid] {
            entry.peakRssBytes = max(entry.peakRssBytes, bytes)
            live[pid] = entry
        } else if let index = exited.lastIndex(where: { $0.pid == pid }), bytes > exited[index].entry.peakRssBytes {
            exited[index].entry.peakRssBytes = bytes
        }
    }

    /// Names a process confine meets outside the samples (a denied call), while it still lives.
    mutating func observe(_ pid: Int32, at time: Double) {
        if live[pid] == nil { remember(pid, at: time, refresh: false) }
    }

    /// Processes SIGKILLed while the run was alive, in exit order (OOM-kill candidates).
    func sigkilled(before cutoff: Double) -> [(pid: Int32, at: Double)] {
        exited.compactMap { pid, entry in
            guard let status = entry.exitStatus, let at = entry.exitedAt, status & 0x7f == UInt32(SIGKILL), at <= cutoff
            else { return nil }
            return (pid, at)
        }
    }

    private mutating func compactExited() {
        let limits = Self.keptAfterCompaction
        let killed = exited.indices.filter { exited[$0].entry.exitStatus.map { $0 & 0x7f == UInt32(SIGKILL) } ?? false }
        var keep = Set(killed.suffix(limits.killed))
        keep.formUnion(exited.indices.sorted { exited[$0].entry.peakRssBytes > exited[$1].entry.peakRssBytes }.prefix(limits.highestPeaks))
        keep.formUnion(exited.indices.suffix(limits.mostRecent))
        exited = exited.indices.filter(keep.contains).map { exited[$0] } // exit order kept
    }

    private mutating func remember(_ pid: Int32, at time: Double, refresh: Bool) {
        if var entry = live[pid] {
            if refresh, let command = commandLine(pid) { entry.command = command }
            live[pid] = entry
        } else if let command = commandLine(pid) {
            live[pid] = Entry(command: command, firstSeen: time)
        }
    }

    /// `/proc/<pid>/cmdline`, NULs as spaces; the kernel's `comm` for kernel threads and zombies.
    static func readCommandLine(_ pid: Int32) -> String? {
        (try? ProcFS.commandLine(.pid(pid))) ?? (try? ProcFS.comm(.pid(pid)))
    }

    private mutating func residentBytes(_ pid: Int32) -> UInt64 {
        if statmFiles[pid] == nil {
            guard let file = KeptOpenFile(ProcFS.path(.pid(pid), "statm"), capacity: 128) else { return 0 }
            statmFiles[pid] = file
        }
        guard let bytes = statmFiles[pid]?.read(), !bytes.isEmpty else { return 0 }
        return (ProcFS.residentPages(inStatm: bytes) ?? 0) * pageSize
    }
}
