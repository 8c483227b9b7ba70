#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import CSeccomp
import ConfineCore

/// Answers the calls a seccomp profile denies, as the profile says, and records each one.
/// Only denied calls come here (allowed ones never leave the kernel), so a suite that behaves
/// pays nothing; one that is denied pays a round trip per denied call.
final class SeccompListener {
    let fd: Int32
    private let profile: ResolvedSeccompProfile
    private var request: UnsafeMutablePointer<seccomp_notif>?
    private var response: UnsafeMutablePointer<seccomp_notif_resp>?

    struct Key: Hashable {
        var pid: Int32
        var syscall: String
        /// The number the kernel saw (the same name can have another number under a sub-ABI).
        var number: Int32
        var action: SeccompAction.Kind
    }

    struct Record {
        var count = 0
        var first: Double
        var last: Double
        var errno: Int32?
    }

    private(set) var records: [Key: Record] = [:]
    private var order: [Key] = []

    /// Network allow-list: intercepted syscalls and the endpoints they may reach.
    private let intercepted: Set<String>
    private let allowList: Set<ResolvedEndpoint>
    /// Each attempt as it happened; the process's command line is looked up when the report is made.
    private var attempts: [Attempt] = []

    private struct Attempt {
        var address: String
        var port: Int
        var `protocol`: String
        var verdict: RunReport.NetworkAttempt.Verdict
        var syscall: String
        var tgid: Int32
        var atSeconds: Double
    }
    /// Bounded so a chatty target cannot grow confine's memory without limit.
    static let maximumAttempts = 10_000
    private(set) var droppedAttempts = 0

    /// Signals, ptrace, opens for writing and raised limits (container profiles).
    let containment: ContainmentGuard?

    init(fd: Int32, profile: ResolvedSeccompProfile, intercepted: [String] = [], allowList: Set<ResolvedEndpoint> = [],
         containment: ContainmentGuard? = nil) {
        self.fd = fd
        self.profile = profile
        self.intercepted = Set(intercepted)
        self.allowList = allowList
        self.containment = containment
        _ = seccomp_notify_alloc(&request, &response)
    }

    deinit {
        seccomp_notify_free(request, response)
        close(fd)
    }

    /// Answers every pending notification. `observe` is called with the caller's thread group
    /// while it is still blocked in the call, so its command line can be read before it exits.
    func drain(at time: () -> Double, tgidOf: (Int32) -> Int32, observe: (Int32) -> Void) {
        guard let request, let response else { return }
        while true {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 0) > 0, ready.revents & Int16(POLLIN) != 0 else { return }
            memset(request, 0, MemoryLayout<seccomp_notif>.size)
            guard seccomp_notify_receive(fd, request) == 0 else { return } // the caller died meanwhile
            let data = request.pointee.data
            let name = SeccompCompiler.name(ofSyscall: data.nr)
            let arguments = withUnsafeBytes(of: data.args) { Array($0.bindMemory(to: UInt64.self)) }
            let verdict = profile.verdict(syscall: name, arguments: arguments)
            let pid = Int32(bitPattern: request.pointee.pid)
            let tgid = tgidOf(pid)
            observe(tgid)

            memset(response, 0, MemoryLayout<seccomp_notif_resp>.size)
            response.pointee.id = request.pointee.id
            if verdict == .allow && intercepted.contains(name), let containment,
               ContainmentGuard.interceptedSyscalls.contains(name) || ContainmentGuard.pathSyscalls.contains(name) {
                switch containment.decide(syscall: name, tid: pid, tgid: tgid, arguments: arguments, at: time()) {
                case .proceed: response.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                case .refuse(let error): response.pointee.error = -error
                }
                _ = seccomp_notify_respond(fd, response)
                continue
            }
            if verdict == .allow && intercepted.contains(name) {
                let decision = networkDecision(syscall: name, pid: pid, tgid: tgid, arguments: arguments, at: time())
                if let refusal = decision {
                    response.pointee.error = -refusal
                } else {
                    response.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                }
                _ = seccomp_notify_respond(fd, response)
                continue
            }
            var errnoValue: Int32?
            switch verdict {
            case .allow, .log:
                response.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            case .errno(let code):
                response.pointee.error = -code
                errnoValue = code
            case .killProcess, .killThread, .trap:
                // The kernel would have sent SIGSYS (or killed outright): do the same.
                kill(pid, SIGSYS)
                response.pointee.error = -ENOSYS
            case .notify:
                // No other supervisor exists under confine: refuse as an unknown call.
                response.pointee.error = -ENOSYS
                errnoValue = ENOSYS
            }
            _ = seccomp_notify_respond(fd, response)

            let key = Key(pid: tgid, syscall: name, number: data.nr, action: verdict.kind)
            let now = time()
            if records[key] == nil {
                records[key] = Record(first: now, last: now, errno: errnoValue)
                order.append(key)
            }
            records[key]?.count += 1
            records[key]?.last = now
        }
    }

    /// Every outbound attempt, in order, each process named by its command line (`?` if confine never saw it).
    func networkAttempts(commandOf: (Int32) -> String?) -> [RunReport.NetworkAttempt] {
        attempts.map { attempt in
            RunReport.NetworkAttempt(address: attempt.address, port: attempt.port, protocol: attempt.protocol, verdict: attempt.verdict,
                                     syscall: attempt.syscall, pid: attempt.tgid, command: commandOf(attempt.tgid) ?? "?",
                                     atSeconds: attempt.atSeconds)
        }
    }

    /// Decides an intercepted send/connect: nil lets it through, otherwise the errno to fail it
    /// with. Destinations that are not IP (unix sockets, netlink) and sends on connected sockets
    /// pass without a record; every IP destination is recorded with its verdict.
    /// (The kernel re-reads the address after CONTINUE, so a target racing its own memory could
    /// slip past: this is a fidelity check, not a security boundary.)
    private func networkDecision(syscall: String, pid: Int32, tgid: Int32, arguments: [UInt64], at time: Double) -> Int32? {
        var destinations: [(address: String, port: UInt16)] = []
        switch syscall {
        case "connect":
            if let destination = readSocketAddress(pid: pid, at: arguments[1], length: arguments[2]) { destinations.append(destination) }
        case "sendto":
            if arguments[4] != 0, let destination = readSocketAddress(pid: pid, at: arguments[4], length: arguments[5]) {
                destinations.append(destination)
            }
        case "sendmsg":
            if let destination = messageDestination(pid: pid, header: arguments[1]) { destinations.append(destination) }
        case "sendmmsg":
            // struct mmsghdr is a msghdr (56 bytes) and an unsigned int, padded to 64.
            for index in 0..<min(arguments[2], 64) {
                if let destination = messageDestination(pid: pid, header: arguments[1] + index * 64) { destinations.append(destination) }
            }
        default: break
        }
        guard !destinations.isEmpty else { return nil }
        let socketType = self.socketType(pid: tgid, fd: Int32(truncatingIfNeeded: arguments[0]))
        var refused = false
        for destination in destinations {
            let allowed = allowList.contains(ResolvedEndpoint(address: destination.address, port: destination.port))
            refused = refused || !allowed
            if attempts.count < Self.maximumAttempts {
                attempts.append(Attempt(address: destination.address, port: Int(destination.port), protocol: socketType,
                                        verdict: allowed ? .allowed : .refused, syscall: syscall, tgid: tgid,
                                        atSeconds: (time * 1000).rounded() / 1000))
            } else {
                droppedAttempts += 1
            }
        }
        guard refused else { return nil }
        return syscall == "connect" ? ECONNREFUSED : EPERM
    }

    private func messageDestination(pid: Int32, header: UInt64) -> (address: String, port: UInt16)? {
        // struct msghdr { void *msg_name; socklen_t msg_namelen; ... }
        guard let bytes = readMemory(pid: pid, at: header, count: 16) else { return nil }
        let name = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let length = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }
        guard name != 0 else { return nil }
        return readSocketAddress(pid: pid, at: name, length: UInt64(length))
    }

    private func readSocketAddress(pid: Int32, at address: UInt64, length: UInt64) -> (address: String, port: UInt16)? {
        guard address != 0, length >= 2, length <= 128, let bytes = readMemory(pid: pid, at: address, count: Int(length)) else {
            return nil
        }
        return bytes.withUnsafeBytes { NetworkAllowList.numericAddress($0.baseAddress!, length: $0.count) }
    }

    /// `process_vm_readv(2)` from the target (root, or the same user under ptrace rules).
    private func readMemory(pid: Int32, at address: UInt64, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { raw -> Int in
            confine_read_process_memory(pid, raw.baseAddress, UInt(address), UInt(count))
        }
        return read == count ? buffer : nil
    }

    /// `tcp`/`udp` from the socket itself, borrowed with pidfd_getfd.
    private func socketType(pid: Int32, fd target: Int32) -> String {
        let copy = confine_pidfd_getfd(pid, target)
        guard copy >= 0 else { return "?" }
        defer { close(copy) }
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return "?" }
        switch type {
        case Int32(SOCK_STREAM.rawValue): return "tcp"
        case Int32(SOCK_DGRAM.rawValue): return "udp"
        case Int32(SOCK_RAW.rawValue): return "raw"
        default: return "type \(type)"
        }
    }

    func violations(commandOf: (Int32) -> String?) -> [RunReport.SeccompViolation] {
        order.compactMap { key in
            guard let record = records[key] else { return nil }
            return RunReport.SeccompViolation(
                syscall: key.syscall, action: key.action, errno: record.errno,
                errnoName: record.errno.map(errnoName), pid: key.pid, command: commandOf(key.pid) ?? "?",
                count: record.count, firstSeconds: (record.first * 1000).rounded() / 1000,
                lastSeconds: (record.last * 1000).rounded() / 1000, number: key.number)
        }
    }
}

/// The thread group of a thread id (`Tgid:` in /proc/<tid>/status).
func threadGroup(of tid: Int32) -> Int32 {
    (try? ProcFS.statusField("Tgid", of: .pid(tid))).flatMap { Int32(exactly: $0) } ?? tid
}
