#if canImport(Glibc)
import Glibc
#endif

/// What confine knows of each process of the run: its command line (read once, as early as
/// possible), peak RSS over the samples, and how it ended.
struct ProcessTable {
    struct Entry {
        var command: String
        var peakRssBytes: UInt64 = 0
        var firstSeen: Double
        var exitStatus: UInt32?
        var exitedAt: Double?
    }

    private(set) var entries: [Int32: Entry] = [:]
    /// Processes descending from the main process, as the process connector reports forks.
    private(set) var tree = Set<Int32>()
    private let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    private var statmBuffer = [UInt8](repeating: 0, count: 128)
    /// `/proc/<pid>/statm` kept open while the process lives: one `pread` per reading.
    private var statmFiles: [Int32: Int32] = [:]

    mutating func addRoot(_ pid: Int32, at time: Double) {
        tree.insert(pid)
        remember(pid, at: time, refresh: true)
    }

    mutating func handle(_ event: ProcessEvent, at time: Double) {
        switch event {
        case .fork(let parent, let child):
            guard tree.contains(parent) else { return }
            tree.insert(child)
            remember(child, at: time, refresh: true)
        case .exec(let pid):
            guard tree.contains(pid) else { return }
            remember(pid, at: time, refresh: true)
        case .exit(let pid, let status):
            guard tree.contains(pid) else { return }
            entries[pid]?.exitStatus = status
            entries[pid]?.exitedAt = time
        }
    }

    /// Records RSS for the group's current members (and names any not seen before).
    mutating func sampleRSS(of pids: [Int32], at time: Double) {
        for pid in pids {
            if entries[pid] == nil { remember(pid, at: time, refresh: false) }
            let rss = residentBytes(pid)
            if rss > entries[pid]?.peakRssBytes ?? 0 { entries[pid]?.peakRssBytes = rss }
        }
        // Close the files of processes that have left the group.
        if statmFiles.count > pids.count {
            let current = Set(pids)
            for (pid, fd) in statmFiles where !current.contains(pid) {
                close(fd)
                statmFiles[pid] = nil
            }
        }
    }

    mutating func closeFiles() {
        for fd in statmFiles.values { close(fd) }
        statmFiles = [:]
    }

    func command(of pid: Int32) -> String? { entries[pid]?.command }

    /// The kernel's exact high-water mark, reported at exit (taskstats), for processes of the run.
    mutating func notePeak(_ pid: Int32, bytes: UInt64) {
        guard tree.contains(pid) || entries[pid] != nil else { return }
        if bytes > entries[pid]?.peakRssBytes ?? 0 { entries[pid]?.peakRssBytes = bytes }
    }

    /// Names a process confine meets outside the samples (a denied call), while it still lives.
    mutating func observe(_ pid: Int32, at time: Double) {
        if entries[pid] == nil { remember(pid, at: time, refresh: false) }
    }

    /// Processes SIGKILLed while the run was alive, in exit order (OOM-kill candidates).
    func sigkilled(before cutoff: Double) -> [(pid: Int32, at: Double)] {
        entries.compactMap { pid, entry in
            guard let status = entry.exitStatus, let at = entry.exitedAt, status & 0x7f == UInt32(SIGKILL), at <= cutoff
            else { return nil }
            return (pid, at)
        }.sorted { $0.at < $1.at }
    }

    private mutating func remember(_ pid: Int32, at time: Double, refresh: Bool) {
        if var entry = entries[pid] {
            if refresh, let command = readCommandLine(pid) { entry.command = command }
            entries[pid] = entry
        } else if let command = readCommandLine(pid) {
            entries[pid] = Entry(command: command, firstSeen: time)
        }
    }

    /// `/proc/<pid>/cmdline`, NULs as spaces; the kernel's `comm` for kernel threads and zombies.
    private func readCommandLine(_ pid: Int32) -> String? {
        if let text = try? readTextFile("/proc/\(pid)/cmdline"), !text.isEmpty {
            var line = String(text.map { $0 == "\0" ? " " : $0 })
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
        if let comm = try? readTextFile("/proc/\(pid)/comm") { return comm.trimmingWhitespace() }
        return nil
    }

    private mutating func residentBytes(_ pid: Int32) -> UInt64 {
        // statm: "size resident shared ..." in pages.
        var fd = statmFiles[pid] ?? -1
        if fd < 0 {
            fd = retryingEINTR { open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else { return 0 }
            statmFiles[pid] = fd
        }
        return statmBuffer.withUnsafeMutableBytes { raw -> UInt64 in
            let count = retryingEINTR { pread(fd, raw.baseAddress, raw.count, 0) }
            guard count > 0 else { return 0 }
            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<count])
            guard let space = bytes.firstIndex(of: 32) else { return 0 }
            let resident = UnsafeRawBufferPointer(rebasing: bytes[(space + 1)...])
            return (parseLeadingNumber(resident) ?? 0) * pageSize
        }
    }
}
