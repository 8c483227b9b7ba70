#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel

/// A process event from the kernel's process connector (netlink `NETLINK_CONNECTOR`,
/// `CN_IDX_PROC`): every fork, exec and exit on the machine, as it happens.
public enum ProcessEvent: Equatable, Sendable {
    case fork(parent: Int32, child: Int32)
    case exec(pid: Int32)
    /// `status` is the wait status (`WTERMSIG` in the low 7 bits).
    case exit(pid: Int32, status: UInt32)
}

/// Listens to the process connector (needs CAP_NET_ADMIN). Lets confine name every process of
/// the run, even one that lives 20 ms, by reading its command line the moment it execs.
final class ProcessConnector {
    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 16384)

    private static let netlinkConnector: Int32 = 11 // NETLINK_CONNECTOR
    private static let idxProc: UInt32 = 1          // CN_IDX_PROC
    private static let valProc: UInt32 = 1          // CN_VAL_PROC
    private static let mcastListen: UInt32 = 1      // PROC_CN_MCAST_LISTEN

    init() throws(SystemError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                        Self.netlinkConnector)
        guard fd >= 0 else { throw SystemError("socket NETLINK_CONNECTOR", errno: errno) }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        address.nl_groups = Self.idxProc
        address.nl_pid = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw SystemError("bind CN_IDX_PROC", errno: code)
        }
        // Bigger receive buffer: a fork storm produces bursts of events.
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        do {
            try subscribe()
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    private func subscribe() throws(SystemError) {
        // nlmsghdr (16) + cn_msg (20) + u32 op
        var message = [UInt8](repeating: 0, count: 40)
        func put32(_ value: UInt32, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { message[offset + i] = byte } }
        }
        put32(40, at: 0)                         // nlmsg_len
        put32(UInt32(NLMSG_DONE), at: 4)         // nlmsg_type (u16) + flags (u16) = 0
        put32(UInt32(bitPattern: getpid()), at: 12)
        put32(Self.idxProc, at: 16)              // cn_msg.id.idx
        put32(Self.valProc, at: 20)              // cn_msg.id.val
        put32(4, at: 32)                         // cn_msg.len (u16) + flags (u16)
        put32(Self.mcastListen, at: 36)
        let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == 40 else { throw SystemError("send PROC_CN_MCAST_LISTEN", errno: errno) }
    }

    /// Every event available now. Returns false if events were lost (ENOBUFS).
    @discardableResult
    func drain(_ visit: (ProcessEvent) -> Void) -> Bool {
        var complete = true
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { recv(fd, raw.baseAddress, raw.count, 0) } }
            if count < 0 {
                if errno == ENOBUFS { complete = false; continue }
                return complete
            }
            if count == 0 { return complete }
            buffer.withUnsafeBytes { raw in Self.parse(UnsafeRawBufferPointer(rebasing: raw[0..<count]), visit) }
        }
    }

    /// Parses one datagram: nlmsghdr, cn_msg, proc_event (see linux/cn_proc.h).
    static func parse(_ bytes: UnsafeRawBufferPointer, _ visit: (ProcessEvent) -> Void) {
        var offset = 0
        while offset + 16 <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= 16, offset + length <= bytes.count else { return }
            let event = offset + 36 // nlmsghdr 16 + cn_msg 20
            if length >= 36 + 16 + 8 {
                let what = bytes.loadUnaligned(fromByteOffset: event, as: UInt32.self)
                let data = event + 16
                func u32(_ index: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: data + 4 * index, as: UInt32.self) }
                switch what {
                case 0x0000_0001 where length >= 36 + 16 + 16: // PROC_EVENT_FORK
                    let childPid = Int32(bitPattern: u32(2)), childTgid = Int32(bitPattern: u32(3))
                    if childPid == childTgid { visit(.fork(parent: Int32(bitPattern: u32(1)), child: childTgid)) }
                case 0x0000_0002: // PROC_EVENT_EXEC
                    visit(.exec(pid: Int32(bitPattern: u32(1))))
                case 0x8000_0000 where length >= 36 + 16 + 12: // PROC_EVENT_EXIT
                    let pid = Int32(bitPattern: u32(0)), tgid = Int32(bitPattern: u32(1))
                    if pid == tgid { visit(.exit(pid: tgid, status: u32(2))) }
                default: break
                }
            }
            offset += (length + 3) & ~3
        }
    }
}
