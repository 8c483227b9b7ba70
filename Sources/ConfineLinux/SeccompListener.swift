#if canImport(Glibc)
import Glibc
#endif
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
        var action: String
    }

    struct Record {
        var count = 0
        var first: Double
        var last: Double
        var errno: Int32?
    }

    private(set) var records: [Key: Record] = [:]
    private var order: [Key] = []

    init(fd: Int32, profile: ResolvedSeccompProfile) {
        self.fd = fd
        self.profile = profile
        _ = seccomp_notify_alloc(&request, &response)
    }

    deinit {
        seccomp_notify_free(request, response)
        close(fd)
    }

    /// Answers every pending notification. `commandOf` names the process for the report.
    func drain(at time: () -> Double, tgidOf: (Int32) -> Int32) {
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

            memset(response, 0, MemoryLayout<seccomp_notif_resp>.size)
            response.pointee.id = request.pointee.id
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

            let key = Key(pid: tgidOf(pid), syscall: name, action: actionName(verdict))
            let now = time()
            if records[key] == nil {
                records[key] = Record(first: now, last: now, errno: errnoValue)
                order.append(key)
            }
            records[key]?.count += 1
            records[key]?.last = now
        }
    }

    func violations(commandOf: (Int32) -> String?) -> [RunReport.SeccompViolation] {
        order.compactMap { key in
            guard let record = records[key] else { return nil }
            return RunReport.SeccompViolation(
                syscall: key.syscall, action: key.action, errno: record.errno,
                errnoName: record.errno.map(errnoName), pid: key.pid, command: commandOf(key.pid) ?? "?",
                count: record.count, firstSeconds: (record.first * 1000).rounded() / 1000,
                lastSeconds: (record.last * 1000).rounded() / 1000)
        }
    }

    private func actionName(_ action: SeccompAction) -> String {
        switch action {
        case .allow: return "allow"
        case .errno: return "errno"
        case .killThread: return "kill_thread"
        case .killProcess: return "kill_process"
        case .trap: return "trap"
        case .log: return "log"
        case .notify: return "notify"
        }
    }
}

/// The thread group of a thread id (`Tgid:` in /proc/<tid>/status).
func threadGroup(of tid: Int32) -> Int32 {
    guard let status = try? readTextFile("/proc/\(tid)/status") else { return tid }
    for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
        return Int32(line.dropFirst(5).trimmingCharacters()) ?? tid
    }
    return tid
}

private extension Substring {
    func trimmingCharacters() -> Substring {
        drop { $0 == " " || $0 == "\t" }
    }
}
