#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// The per-process files of procfs that confine reads, one reader and one parser each
/// (proc(5); the kernel writes them in fs/proc/array.c, fs/proc/base.c and kernel/cgroup/cgroup.c).
///
/// Parsers take the file's text or bytes, so tests feed them strings and kept-open files
/// (`KeptOpenFile`, a `pread` per sample) share them. Readers read the live file whole and throw
/// `SystemError` when it cannot be opened or read — usually ENOENT or ESRCH: the process is gone.
public enum ProcFS {
    /// Whose directory: a process (or thread) id, or the reading process itself (`self`).
    public enum Process: Sendable, Equatable {
        case pid(Int32)
        case current
    }

    /// `<root>/<pid>/<file>` or `<root>/self/<file>`; `root` is `/proc` but for tests.
    public static func path(_ process: Process, _ file: String, root: String = "/proc") -> String {
        switch process {
        case .pid(let pid): return "\(root)/\(pid)/\(file)"
        case .current: return root + "/self/" + file
        }
    }

    /// A file of the process's directory as text, for files parsed elsewhere (`mountinfo`: `MountInfo`).
    /// Throws `SystemError` (open, read) when it cannot be read.
    public static func readText(_ process: Process, _ file: String, root: String = "/proc") throws(SystemError) -> String {
        try readTextFile(path(process, file, root: root))
    }

    // MARK: - stat

    /// The fields of `/proc/<pid>/stat` confine uses: the first five of
    /// `pid (comm) state ppid pgrp session …`, `num_threads` and `starttime` (proc(5),
    /// fs/proc/array.c `do_task_stat`).
    public struct Stat: Equatable, Sendable {
        public var pid: Int32
        /// The kernel's command name (at most 15 bytes, TASK_COMM_LEN − 1); may hold spaces and parentheses.
        public var comm: String
        /// One letter: `R` running, `S` sleeping, `D` disk sleep, `Z` zombie, `T` stopped, `t`, `X`, `I`, …
        public var state: Character
        public var parentPid: Int32
        public var processGroup: Int32
        /// When the process started, in clock ticks (`sysconf(_SC_CLK_TCK)`) since boot (field 22);
        /// nil in a line cut short.
        public var startTicks: UInt64?
        /// Threads in the process, the main thread included (field 20, `num_threads`); nil in a line cut short.
        public var threads: Int?
    }

    /// Reads and parses `/proc/<pid>/stat`; nil when its text does not parse. Throws `SystemError`
    /// when it cannot be read.
    public static func stat(_ process: Process) throws(SystemError) -> Stat? {
        parseStat(try readText(process, "stat"))
    }

    /// Parses a stat line. `comm` runs from the first `(` to the *last* `)`, since the command
    /// name may itself contain `) (` and spaces. Nil when a field is missing or not a number.
    public static func parseStat(_ text: some StringProtocol) -> Stat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close,
              let pid = Int32(text[..<open].trimmingWhitespace()) else { return nil }
        // After the comm: state (field 3), ppid, pgrp, …, starttime (field 22).
        let fields = text[text.index(after: close)...].split(separator: " ", maxSplits: 20)
        guard fields.count >= 3, fields[0].count == 1, let state = fields[0].first,
              let parent = Int32(fields[1]), let group = Int32(fields[2]) else { return nil }
        return Stat(pid: pid, comm: String(text[text.index(after: open)..<close]), state: state, parentPid: parent,
                    processGroup: group, startTicks: fields.count >= 20 ? UInt64(fields[19]) : nil,
                    threads: fields.count >= 18 ? Int(fields[17]) : nil)
    }

    /// `btime` in `/proc/stat`: when the machine booted, in seconds since the epoch (whole
    /// seconds); nil when it cannot be read.
    public static func bootTimeSeconds(root: String = "/proc") -> UInt64? {
        guard let text = try? readTextFile(root + "/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6).trimmingWhitespace())
        }
        return nil
    }

    // MARK: - comm

    /// `/proc/<pid>/comm`: the kernel's command name (at most 15 bytes), without the newline. Throws
    /// `SystemError` when it cannot be read.
    public static func comm(_ process: Process) throws(SystemError) -> String {
        parseComm(try readText(process, "comm"))
    }

    /// The command name in a `comm` file's text: `name\n`, trimmed of surrounding whitespace.
    public static func parseComm(_ text: some StringProtocol) -> String {
        text.trimmingWhitespace()
    }

    // MARK: - cmdline

    /// `/proc/<pid>/cmdline` as one line; nil when it is empty (kernel threads, zombies). Throws
    /// `SystemError` when it cannot be read.
    public static func commandLine(_ process: Process) throws(SystemError) -> String? {
        parseCommandLine(try readText(process, "cmdline"))
    }

    /// The arguments of a `cmdline` file (each ended by a NUL) joined by spaces, trailing spaces
    /// dropped; nil for an empty file.
    public static func parseCommandLine(_ text: String) -> String? {
        guard !text.isEmpty else { return nil }
        var line = String(text.map { $0 == "\0" ? " " : $0 })
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }

    // MARK: - status

    /// The leading number of field `key` of `/proc/<pid>/status` (`Tgid`, `VmHWM`, `VmRSS`): for
    /// `Vm*` fields kibibytes (`VmHWM:\t  1234 kB`), else the field's own unit. Nil when the field
    /// is absent or not a number. Throws `SystemError` when the file cannot be read.
    public static func statusField(_ key: StaticString, of process: Process) throws(SystemError) -> UInt64? {
        try readBinaryFile(path(process, "status")).withUnsafeBytes { statusField(key, in: $0) }
    }

    /// The same in a status file's bytes — a kept-open file's buffer on the sampling path: no
    /// allocation. The field is a line starting `key:`; spaces and tabs before the number are skipped.
    public static func statusField(_ key: StaticString, in bytes: UnsafeRawBufferPointer) -> UInt64? {
        key.withUTF8Buffer { key -> UInt64? in
            let count = bytes.count
            var lineStart = 0
            while lineStart + key.count < count {
                var matches = bytes[lineStart + key.count] == UInt8(ascii: ":")
                var offset = 0
                while matches && offset < key.count {
                    matches = bytes[lineStart + offset] == key[offset]
                    offset += 1
                }
                if matches {
                    var position = lineStart + key.count + 1
                    while position < count && (bytes[position] == 32 || bytes[position] == 9) { position += 1 }
                    return parseLeadingNumber(UnsafeRawBufferPointer(rebasing: bytes[position...]))
                }
                while lineStart < count && bytes[lineStart] != 10 { lineStart += 1 }
                lineStart += 1
            }
            return nil
        }
    }

    /// The state letter in a `/proc/<pid>/stat` file's bytes (the character after the last `)`
    /// and a space) — a kept-open file's buffer: no allocation. Nil when there is none.
    public static func state(inStat bytes: UnsafeRawBufferPointer) -> UInt8? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
        return bytes[close + 2]
    }

    /// User plus system CPU time in clock ticks (fields 14 and 15 of `/proc/<pid>/stat`, counted
    /// after the command's closing `)`) in a kept-open file's bytes. Allocation-free; nil when cut short.
    public static func cpuTicks(inStat bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After ") ": state is field 3; utime is field 14, stime 15: the 12th and 13th spaces on.
        var field = 2
        var position = close + 1
        var total: UInt64 = 0
        while position < bytes.count {
            if bytes[position] == 32 {
                field += 1
                if field == 14 || field == 15 {
                    guard let value = parseLeadingNumber(UnsafeRawBufferPointer(rebasing: bytes[(position + 1)...])) else { return nil }
                    total += value
                    if field == 15 { return total }
                }
            }
            position += 1
        }
        return nil
    }

    // MARK: - statm

    /// The resident set in a `/proc/<pid>/statm` file's bytes (`size resident shared text lib data dt`,
    /// in pages: multiply by the page size). Allocation-free; nil when there is no second field.
    public static func residentPages(inStatm bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let space = bytes.firstIndex(of: 32) else { return nil }
        return parseLeadingNumber(UnsafeRawBufferPointer(rebasing: bytes[(space + 1)...]))
    }

    // MARK: - cgroup

    /// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path` (proc(5), cgroups(7)).
    public struct CgroupMembership: Equatable, Sendable {
        /// The v1 hierarchy's id; 0 for cgroup v2.
        public var hierarchyID: Int
        /// v1: the controllers bound to the hierarchy (`cpu`, `cpuacct`, `name=systemd`); v2: empty.
        public var controllers: [String]
        /// The cgroup's path relative to the hierarchy's root (`/user.slice/…`).
        public var path: String
    }

    /// Reads and parses `<root>/<pid>/cgroup`. Throws `SystemError` when it cannot be read.
    public static func cgroups(_ process: Process, root: String = "/proc") throws(SystemError) -> [CgroupMembership] {
        parseCgroups(try readText(process, "cgroup", root: root))
    }

    /// Every well-formed line of a `cgroup` file; lines without three `:`-separated fields or a
    /// numeric id are skipped. The path may itself contain `:`.
    public static func parseCgroups(_ text: String) -> [CgroupMembership] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let id = Int(fields[0]) else { return nil }
            return CgroupMembership(hierarchyID: id, controllers: fields[1].split(separator: ",").map(String.init),
                                    path: String(fields[2]))
        }
    }
}
