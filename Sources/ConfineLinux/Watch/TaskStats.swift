#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel

/// What the kernel says about a thread as it exits (taskstats, generic netlink): its process's
/// RSS high-water mark at that moment, and its CPU time. The mark is read before the kernel
/// releases the memory, so even a process that allocates and exits between two samples is
/// measured exactly (docs/ARCHITECTURE.md, "per-test processes").
public struct TaskExit: Equatable, Sendable {
    public var pid: Int32
    /// The thread group (process); the thread's own id when the kernel is too old to say.
    public var tgid: Int32
    public var peakRssBytes: UInt64
    public var cpuMicroseconds: UInt64
}

/// A taskstats listener registered for every CPU (needs CAP_NET_ADMIN, like the process connector).
final class TaskStatsListener {
    let fd: Int32
    private let family: UInt16
    private let cpuMask: String
    private var buffer = [UInt8](repeating: 0, count: 65536)

    init() throws(SystemError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_GENERIC)
        guard fd >= 0 else { throw SystemError("socket NETLINK_GENERIC", errno: errno) }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        let possible = (try? readTextFile("/sys/devices/system/cpu/possible"))?.trimmingWhitespace()
        cpuMask = possible.flatMap { $0.isEmpty ? nil : $0 } ?? "0-\(max(0, sysconf(Int32(_SC_NPROCESSORS_CONF)) - 1))"
        guard bound == 0, let family = Self.resolveFamily(fd) else {
            let code = errno
            close(fd)
            throw SystemError("resolve generic netlink family TASKSTATS", errno: code)
        }
        self.fd = fd
        self.family = family
        guard command(UInt16(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK)) else {
            let code = errno
            close(fd)
            throw SystemError("register taskstats listener for CPUs \(cpuMask)", errno: code)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        _ = command(UInt16(TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK))
        close(fd)
    }

    /// One generic netlink request: nlmsghdr, genlmsghdr, one attribute.
    private static func request(family: UInt16, command: UInt8, version: UInt8, attribute: UInt16, payload: [UInt8]) -> [UInt8] {
        let attributeLength = 4 + payload.count
        let total = 16 + 4 + ((attributeLength + 3) & ~3)
        var message = [UInt8](repeating: 0, count: total)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { message[offset + i] = byte } }
        }
        put(UInt32(total), 0)
        put(family, 4)
        put(UInt16(NLM_F_REQUEST), 6)
        put(UInt32(bitPattern: getpid()), 12)
        message[16] = command
        message[17] = version
        put(UInt16(attributeLength), 20)
        put(attribute, 22)
        for (i, byte) in payload.enumerated() { message[24 + i] = byte }
        return message
    }

    private static func resolveFamily(_ fd: Int32) -> UInt16? {
        let message = request(family: UInt16(GENL_ID_CTRL), command: UInt8(CTRL_CMD_GETFAMILY), version: 1,
                              attribute: UInt16(CTRL_ATTR_FAMILY_NAME), payload: Array(TASKSTATS_GENL_NAME.utf8) + [0])
        guard message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == message.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 8192)
        let count = reply.withUnsafeMutableBytes { raw in retryingEINTR { recv(fd, raw.baseAddress, raw.count, 0) } }
        guard count > 20 else { return nil }
        var family: UInt16?
        reply.withUnsafeBytes { raw in
            forEachAttribute(UnsafeRawBufferPointer(rebasing: raw[20..<count])) { type, payload in
                if type == UInt16(CTRL_ATTR_FAMILY_ID), payload.count >= 2 { family = payload.loadUnaligned(as: UInt16.self) }
            }
        }
        return family
    }

    private func command(_ attribute: UInt16) -> Bool {
        let message = Self.request(family: family, command: UInt8(TASKSTATS_CMD_GET), version: UInt8(TASKSTATS_GENL_VERSION),
                                   attribute: attribute, payload: Array(cpuMask.utf8) + [0])
        return message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == message.count
    }

    /// Every exit reported so far.
    func drain(_ visit: (TaskExit) -> Void) {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { recv(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) } }
            if count < 0 {
                if errno == ENOBUFS { continue } // some exits were lost in a burst; the rest still count
                return
            }
            if count == 0 { return }
            buffer.withUnsafeBytes { raw in Self.parse(UnsafeRawBufferPointer(rebasing: raw[0..<count]), family: family, visit) }
        }
    }

    /// nlmsghdr + genlmsghdr + TASKSTATS_TYPE_AGGR_PID { TASKSTATS_TYPE_PID, TASKSTATS_TYPE_STATS }.
    static func parse(_ bytes: UnsafeRawBufferPointer, family: UInt16, _ visit: (TaskExit) -> Void) {
        var offset = 0
        while offset + 20 <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            guard length >= 20, offset + length <= bytes.count else { return }
            if type == family {
                forEachAttribute(UnsafeRawBufferPointer(rebasing: bytes[(offset + 20)..<(offset + length)])) { kind, payload in
                    guard kind == UInt16(TASKSTATS_TYPE_AGGR_PID) else { return }
                    var pid: Int32 = 0
                    var exit: TaskExit?
                    forEachAttribute(payload) { inner, value in
                        if inner == UInt16(TASKSTATS_TYPE_PID), value.count >= 4 { pid = value.loadUnaligned(as: Int32.self) }
                        if inner == UInt16(TASKSTATS_TYPE_STATS) { exit = decodeStats(value) }
                    }
                    if var exit, pid > 0 {
                        exit.pid = pid
                        if exit.tgid == 0 { exit.tgid = pid }
                        visit(exit)
                    }
                }
            }
            offset += (length + 3) & ~3
        }
    }

    /// Reads the fields confine uses from `struct taskstats`, as far as the kernel's version has them.
    static func decodeStats(_ raw: UnsafeRawBufferPointer) -> TaskExit? {
        func field<T>(_ path: KeyPath<taskstats, T>, as: T.Type) -> T? {
            guard let offset = MemoryLayout<taskstats>.offset(of: path), offset + MemoryLayout<T>.size <= raw.count else { return nil }
            return raw.loadUnaligned(fromByteOffset: offset, as: T.self)
        }
        guard let hiwater = field(\.hiwater_rss, as: UInt64.self) else { return nil }
        let cpu = (field(\.ac_utime, as: UInt64.self) ?? 0) + (field(\.ac_stime, as: UInt64.self) ?? 0)
        let tgid = Int32(bitPattern: field(\.ac_tgid, as: UInt32.self) ?? 0)
        return TaskExit(pid: 0, tgid: tgid, peakRssBytes: hiwater * 1024, cpuMicroseconds: cpu)
    }

    static func forEachAttribute(_ bytes: UnsafeRawBufferPointer, _ visit: (UInt16, UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3FFF // NLA_F_NESTED and friends
            guard length >= 4, offset + length <= bytes.count else { return }
            visit(type, UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
    }
}
