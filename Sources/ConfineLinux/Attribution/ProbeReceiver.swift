#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// The probe channel (docs/probe-protocol.md): a Unix datagram socket in a private directory,
/// named to the target in `CONFINE_PROBE_SOCKET`. Datagram sockets keep each batch whole,
/// work across `close_fds` and network namespaces, and block a sender whose batches confine
/// has not read yet, so a fast target is slowed, never silently cut.
public final class ProbeReceiver {
    public static let environmentVariable = "CONFINE_PROBE_SOCKET"
    /// The layout on disk: `<parent>/confine-probe-<confine pid>-XXXXXX/{probe.sock,running}`
    /// (`GarbageCollector` removes those of confines that are gone).
    public static let directoryParent = "/tmp"
    public static let directoryPrefix = "confine-probe-"
    public static let socketName = "probe.sock"
    public static let runningName = "running"
    /// The tests the runner collected, one name per line (the pytest plugin writes it once collection
    /// is done); read at the end to list the tests that never ran.
    public static let collectedName = "collected"
    /// `--shard-durations`: the balanced assignment the pytest plugin reads (`CONFINE_SHARD_FILE`),
    /// here because the probe's directory is what the target reaches under any container settings.
    public static let shardName = "shard.json"
    /// Without the probe channel the assignment goes beside the probe directories, named
    /// `<prefix><run's group name>.json` (the group name carries confine's pid, for gc).
    public static let shardFilePrefix = "confine-shard-"
    /// A larger `collected` file is read this far (about 500,000 test names).
    static let collectedLimit = 64 << 20
    /// Larger than any batch the libraries send (1800 records and their names).
    static let bufferSize = 256 * 1024

    public let directory: String
    public let path: String
    public let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    /// The `running` file (`RunningSlots`): where the pytest plugin says which test runs.
    public let runningPath: String
    /// -1 when the file could not be made.
    private var runningFD: Int32 = -1
    private var runningBuffer: UnsafeMutableRawBufferPointer

    public private(set) var datagrams = 0
    public private(set) var records = 0
    public private(set) var malformedDatagrams = 0
    public private(set) var firstMalformed: [String] = []
    /// Per sender process, the records it says it could not deliver (a running total).
    public private(set) var senderDropped: [Int32: UInt32] = [:]

    public init() throws(SystemError) {
        let stem = "\(Self.directoryParent)/\(Self.directoryPrefix)\(getpid())-"
        var template = Array((stem + "XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: stem + "*", errno: errno) }
        let directory = String(cString: made)
        let path = directory + "/" + Self.socketName
        self.directory = directory
        self.path = path
        // Targets may drop privileges; anyone may write, no one else can list or replace it.
        chmod(directory, 0o711)
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else {
            rmdir(directory)
            throw SystemError("socket AF_UNIX", path: path, errno: errno)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let error = errno
            Glibc.close(socket)
            rmdir(directory)
            throw SystemError("bind", path: path, errno: error)
        }
        chmod(path, 0o777)
        var size: Int32 = 4 << 20
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        fd = socket
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 8)
        runningPath = directory + "/" + Self.runningName
        runningBuffer = .allocate(byteCount: 2 * RunningSlots.fileSize, alignment: 8)
        // Without it the plugin sends every boundary it holds back at the next live one: the
        // figures stay right, only a running test whose start is held is unknown until it ends.
        let running = open(runningPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o666)
        if running >= 0 {
            fchmod(running, 0o666)
            if ftruncate(running, off_t(RunningSlots.fileSize)) == 0 { runningFD = running } else { Glibc.close(running) }
        }
        // Targets may drop privileges and cannot make files in the directory: made here, writable by all.
        let collected = open(directory + "/" + Self.collectedName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o666)
        if collected >= 0 {
            fchmod(collected, 0o666)
            Glibc.close(collected)
        }
    }

    /// The path of the `collected` file (made empty, mode 0666, at `init`; absent if it could not be).
    public var collectedPath: String { directory + "/" + Self.collectedName }

    /// The tests the runner collected (`collected` file): each name once, in the order written,
    /// and the process that runs them all in that order (the header's `pid=N in-order=1`; nil for
    /// an xdist worker, which runs a share of them).
    public struct CollectedTests: Equatable, Sendable {
        public var names: [String] = []
        public var inOrderPid: Int32?
    }

    /// The `collected` file read (empty without one). Header lines start with `# `.
    public func collectedTests() -> CollectedTests {
        let fd = retryingEINTR { open(collectedPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { return CollectedTests() }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count < Self.collectedLimit {
            let count = chunk.withUnsafeMutableBytes { raw in retryingEINTR { read(fd, raw.baseAddress, raw.count) } }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        var seen = Set<Substring>()
        var collected = CollectedTests()
        // A line cut at the limit is not a name.
        let complete = bytes.count >= Self.collectedLimit ? bytes[..<(bytes.lastIndex(of: 0x0A) ?? 0)] : bytes[...]
        for line in String(decoding: complete, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            if line.hasPrefix("# confine-collected ") {
                let fields = line.split(separator: " ")
                if fields.contains("in-order=1"), let pid = fields.first(where: { $0.hasPrefix("pid=") }).flatMap({ Int32($0.dropFirst(4)) }) {
                    collected.inOrderPid = pid
                }
                continue
            }
            if seen.insert(line).inserted { collected.names.append(Self.unescapeCollected(line)) }
        }
        return collected
    }

    /// A `collected` line's name: `\\`, `\n` and `\r` as the plugin escaped a backslash, a newline
    /// and a carriage return (any other backslash is kept as it is).
    static func unescapeCollected(_ line: Substring) -> String {
        guard line.contains("\\") else { return String(line) }
        var out = ""
        var escaped = false
        for character in line {
            if escaped {
                switch character {
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "\\": out.append("\\")
                default: out.append("\\"); out.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        if escaped { out.append("\\") }
        return out
    }

    /// The tests the plugin says are running now (empty when there is no `running` file).
    public func runningTests() -> [RunningSlots.Test] {
        guard runningFD >= 0 else { return [] }
        let half = RunningSlots.fileSize
        let first = pread(runningFD, runningBuffer.baseAddress, half, 0)
        let second = pread(runningFD, runningBuffer.baseAddress! + half, half, 0)
        guard first > 0, second > 0 else { return [] }
        return RunningSlots.scan(UnsafeRawBufferPointer(rebasing: runningBuffer[0..<first]),
                                 confirmation: UnsafeRawBufferPointer(rebasing: runningBuffer[half..<half + second]))
    }

    /// Reads every datagram waiting, handing each validated one to `visit` (valid only during the call).
    public func drain(_ visit: (ProbeWire.View) -> Void) {
        while true {
            let count = retryingEINTR { recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_TRUNC)) }
            if count < 0 { return }
            datagrams += 1
            guard count <= buffer.count else {
                noteMalformed("datagram of \(count) bytes is larger than \(buffer.count)")
                continue
            }
            do {
                let datagram = try ProbeWire.scan(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                records += datagram.count
                if datagram.senderDropped > 0 { senderDropped[datagram.pid] = max(senderDropped[datagram.pid] ?? 0, datagram.senderDropped) }
                visit(datagram)
            } catch {
                noteMalformed(error.reason)
            }
        }
    }

    private func noteMalformed(_ reason: String) {
        malformedDatagrams += 1
        if firstMalformed.count < 3 { firstMalformed.append(reason) }
    }

    public var droppedBySenders: Int { senderDropped.values.reduce(0) { $0 + Int($1) } }

    /// Closes the socket and removes its directory.
    public func close() {
        Glibc.close(fd)
        unlink(path)
        if runningFD >= 0 { Glibc.close(runningFD) }
        unlink(runningPath)
        unlink(collectedPath)
        unlink(directory + "/" + Self.shardName)
        rmdir(directory)
        buffer.deallocate()
        runningBuffer.deallocate()
        runningBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }
}
