#if canImport(Glibc)
import Glibc
#endif

/// One OOM kill as the kernel logged it.
public struct KernelOOMKill: Equatable, Sendable {
    public var pid: Int32
    /// The kernel's task name (comm, at most 15 characters).
    public var task: String
    public var oomMemcg: String
    public var taskMemcg: String
    public var usageBytes: UInt64?
    public var limitBytes: UInt64?
    /// Microseconds since boot, from the kmsg record.
    public var timestampMicros: UInt64
    /// The victim's memory at the kill, from the "Killed process" line that follows (nil until
    /// that line is read, or when the kernel did not log it).
    public var memory: KernelOOMVictimMemory?
}

/// What the kernel's "Killed process" line says the victim held when it was killed, bytes
/// (mm/oom_kill.c, `__oom_kill_process`: `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SHMEMPAGES` in kB).
public struct KernelOOMVictimMemory: Equatable, Sendable {
    public var anonRssBytes: UInt64
    public var fileRssBytes: UInt64
    /// Linux 4.6 and later.
    public var shmemRssBytes: UInt64?
}

/// What one kmsg record says about this group's OOM kills.
public enum KernelOOMEvent: Equatable, Sendable {
    /// The `oom-kill:` line naming a victim in this group.
    case kill(KernelOOMKill)
    /// The "Killed process" line of a victim `kill` named: its RSS at the kill.
    case victimMemory(pid: Int32, KernelOOMVictimMemory)

    /// The kill, if this is one.
    public var kill: KernelOOMKill? {
        if case .kill(let kill) = self { return kill }
        return nil
    }
}

/// Recognises memory-cgroup OOM kills of one group in `/dev/kmsg` records:
///
///     6,1234,5678901,-;memory: usage 65536kB, limit 65536kB, failcnt 120
///     6,1240,5678990,-;oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/x/confine-1-ab,task_memcg=/x/confine-1-ab,task=python3,pid=4242,uid=0
///     3,1241,5678995,-;Memory cgroup out of memory: Killed process 4242 (python3) total-vm:323768kB, anon-rss:65280kB, file-rss:6764kB, shmem-rss:0kB, UID:0 pgtables:196kB oom_score_adj:0
///
/// The last line (mm/oom_kill.c, `__oom_kill_process`; the `Memory cgroup out of memory: `
/// prefix since 5.1, `shmem-rss` since 4.6, `UID`, `pgtables` and `oom_score_adj` later) names
/// no cgroup: it is taken for a pid an `oom-kill:` line of this group named just before it.
public struct KernelOOMParser: Sendable {
    let groupName: String
    private var lastUsage: (usage: UInt64, limit: UInt64)?
    /// Victims named by `oom-kill:` lines whose "Killed process" line has not come yet.
    private var awaitingMemory: [Int32] = []

    public init(groupName: String) {
        self.groupName = groupName
    }

    public mutating func feed(record: String) -> KernelOOMEvent? {
        // "prio,seq,timestamp,flags;message" then optional "\n KEY=VALUE" lines.
        guard let semicolon = record.firstIndex(of: ";") else { return nil }
        let header = record[..<semicolon].split(separator: ",")
        let timestamp = header.count >= 3 ? UInt64(header[2]) ?? 0 : 0
        let message = record[record.index(after: semicolon)...].prefix { $0 != "\n" }

        if !awaitingMemory.isEmpty, let killed = message.firstRange(of: "Killed process ") {
            guard let (pid, memory) = Self.victimMemory(message[killed.upperBound...]),
                  let index = awaitingMemory.firstIndex(of: pid) else { return nil }
            awaitingMemory.remove(at: index)
            return .victimMemory(pid: pid, memory)
        }
        if message.hasPrefix("memory: usage ") {
            // "memory: usage 65536kB, limit 65536kB, failcnt 120"
            let words = message.split(whereSeparator: { $0 == " " || $0 == "," })
            if words.count >= 5, let usage = kilobytes(words[2]), let limit = kilobytes(words[4]) {
                lastUsage = (usage, limit)
            }
            return nil
        }
        guard message.hasPrefix("oom-kill:") else { return nil }
        var fields: [Substring: Substring] = [:]
        for pair in message.dropFirst("oom-kill:".count).split(separator: ",") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            fields[pair[..<equals]] = pair[pair.index(after: equals)...]
        }
        let oomMemcg = String(fields["oom_memcg"] ?? "")
        let taskMemcg = String(fields["task_memcg"] ?? "")
        guard belongs(oomMemcg) || belongs(taskMemcg),
              let pidText = fields["pid"], let pid = Int32(pidText) else { return nil }
        defer { lastUsage = nil }
        awaitingMemory.append(pid)
        if awaitingMemory.count > 16 { awaitingMemory.removeFirst() } // lines the kernel never wrote
        return .kill(KernelOOMKill(pid: pid, task: String(fields["task"] ?? ""), oomMemcg: oomMemcg, taskMemcg: taskMemcg,
                                   usageBytes: lastUsage?.usage, limitBytes: lastUsage?.limit, timestampMicros: timestamp))
    }

    /// "4242 (python3) total-vm:323768kB, anon-rss:65280kB, file-rss:6764kB, shmem-rss:0kB, UID:0 …":
    /// the pid, then the fields after the task name (which may hold spaces and parentheses).
    static func victimMemory(_ text: Substring) -> (Int32, KernelOOMVictimMemory)? {
        guard let pid = Int32(text.prefix { $0.isNumber }), let fieldsStart = text.ranges(of: ") total-vm:").last
        else { return nil }
        var values: [Substring: UInt64] = [:]
        for field in text[fieldsStart.upperBound...].split(whereSeparator: { $0 == " " || $0 == "," }) {
            guard let colon = field.firstIndex(of: ":"), field.hasSuffix("kB"),
                  let kilobytes = UInt64(field[field.index(after: colon)...].dropLast(2)) else { continue }
            values[field[..<colon]] = kilobytes * 1024
        }
        guard let anon = values["anon-rss"], let file = values["file-rss"] else { return nil }
        return (pid, KernelOOMVictimMemory(anonRssBytes: anon, fileRssBytes: file, shmemRssBytes: values["shmem-rss"]))
    }

    /// Cgroup paths in the log are as seen from the root namespace; match our group's own
    /// (unique) name as the last component.
    private func belongs(_ path: String) -> Bool {
        path == "/" + groupName || path.hasSuffix("/" + groupName)
    }

    private func kilobytes(_ word: Substring) -> UInt64? {
        guard word.hasSuffix("kB"), let value = UInt64(word.dropLast(2)) else { return nil }
        return value * 1024
    }
}

/// `/dev/kmsg`, opened at its end, non-blocking: one record per `read(2)`.
final class KernelLogReader {
    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 8192)

    init?() {
        let fd = retryingEINTR { open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        // Only records from now on: older OOM kills are not this run's.
        lseek(fd, 0, SEEK_END)
        self.fd = fd
    }

    deinit { close(fd) }

    /// Every record available now.
    func drain(_ visit: (String) -> Void) {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(fd, raw.baseAddress, raw.count) } }
            if count > 0 {
                visit(String(decoding: buffer[0..<count], as: UTF8.self))
                continue
            }
            // EPIPE: records were overwritten before we read them; the next read continues.
            if count < 0 && errno == EPIPE { continue }
            return
        }
    }
}
