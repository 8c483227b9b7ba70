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
    /// Larger than any batch the libraries send (1800 records and their names).
    static let bufferSize = 256 * 1024

    public let directory: String
    public let path: String
    public let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer

    public private(set) var datagrams = 0
    public private(set) var records = 0
    public private(set) var malformedDatagrams = 0
    public private(set) var firstMalformed: [String] = []
    /// Per sender process, the records it says it could not deliver (a running total).
    public private(set) var senderDropped: [Int32: UInt32] = [:]

    public init() throws(SystemError) {
        var template = Array("/tmp/confine-probe-\(getpid())-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError("mkdtemp", path: "/tmp/confine-probe-*", errno: errno) }
        let directory = String(cString: made)
        let path = directory + "/probe.sock"
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
    }

    /// Reads every datagram waiting, handing each validated one to `visit` (valid only during the call).
    public func drain(_ visit: (ProbeWire.View) -> Void) {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_TRUNC))
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
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
        rmdir(directory)
        buffer.deallocate()
        buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    }
}
