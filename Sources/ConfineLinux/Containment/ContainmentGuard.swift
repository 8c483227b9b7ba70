#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import ConfineCore

/// Answers, for container profiles, the calls by which a target could reach outside its run.
/// Signals, ptrace and process_vm_* aimed at a process outside the run's group are refused with
/// ESRCH, as in a container, whose pid namespace does not show them (kill(-1) with EPERM). Opens
/// for writing and raised resource limits pass on to the kernel, which refuses them (read-only
/// mounts, no CAP_SYS_RESOURCE); the guard only records them. Best effort: the caller's memory
/// and pids are read after the call was made, so a racing target could mislead the record; the
/// kernel-side refusals do not depend on it (docs/security.md).
public final class ContainmentGuard {
    /// Always notified (rare calls).
    public static let watchedSyscalls = ["kill", "tkill", "tgkill", "pidfd_open", "ptrace", "process_vm_readv", "process_vm_writev",
                                  "creat", "openat2"]
    /// Notified only for some arguments (SeccompCompiler.conditionalInterceptions): opens for
    /// writing, prlimit64 that sets a limit.
    public static let conditionallyWatchedSyscalls = ["open", "openat", "prlimit64"]
    public static var interceptedSyscalls: [String] { watchedSyscalls + conditionallyWatchedSyscalls }
    /// Under a read-only root or a non-root user: the calls that make or remove a name, which the
    /// root or the uid refuse as they refuse a write-open (`os.makedirs` is how a test meets it).
    public static let pathSyscalls = ["mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
                                      "symlink", "symlinkat", "link", "linkat"]

    /// Denied by container seccomp profiles; listed as attempts when the target makes them.
    static let escapeSyscalls: Set<String> = ["unshare", "setns", "clone", "mount", "umount2", "pivot_root", "open_by_handle_at",
                                              "fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "init_module",
                                              "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf", "swapon",
                                              "swapoff", "reboot"]

    let groupPaths: Set<String>
    let confinePid = getpid()
    let confineGroup = getpgrp()
    let readOnlyPrefixes: [String]
    /// Under a read-only root: what stays writable (volumes, /dev/shm, /dev, /proc, /sys); the
    /// longest matching prefix decides.
    let writablePrefixes: [String]
    let rootReadOnly: Bool
    /// The uid and groups the target runs as, when not root: writes they may not make are listed.
    let identity: ContainerFilesystem.Identity?
    let keepsSysResource: Bool
    /// Each attempt as confine answered it; the process's command line is looked up when the report is made.
    private var attempts: [Attempt] = []

    private struct Attempt {
        var syscall: String
        var target: String
        var verdict: RunReport.ContainmentAttempt.Verdict
        var errno: Int32?
        var why: String
        var tgid: Int32
        var atSeconds: Double
        var cause: RunReport.ContainmentAttempt.Cause?
    }
    private(set) var unlisted = 0
    static let maximumAttempts = 1_000

    init(groupPaths: [String], plan: ContainmentPlan, container: ContainerFilesystem? = nil) {
        self.groupPaths = Set(groupPaths)
        readOnlyPrefixes = plan.readOnlyMounts.map(\.path) + (container?.readOnlyMounts.map(\.path) ?? [])
        writablePrefixes = container?.readOnlyMounts.isEmpty == false ? container!.writablePaths : []
        rootReadOnly = container?.readOnlyMounts.isEmpty == false
        identity = container?.identity.flatMap { $0.uid == 0 ? nil : $0 }
        keepsSysResource = plan.keptCapabilities & (1 << 24) != 0
    }

    enum Answer: Equatable {
        case proceed
        case refuse(Int32)
    }

    func decide(syscall: String, tid: Int32, tgid: Int32, arguments: [UInt64], at time: Double) -> Answer {
        func pidArgument(_ index: Int) -> Int32 { Int32(truncatingIfNeeded: arguments[index]) }
        switch syscall {
        case "kill":
            let pid = pidArgument(0)
            if pid == -1 {
                return refuse(syscall, "every process on the host (kill -1)", EPERM, "a container's kill(-1) reaches only its own processes",
                              tgid, time)
            }
            if pid == 0 {
                return processGroup(of: tgid) == confineGroup
                    ? refuse(syscall, "process group \(confineGroup) (confine's)", EPERM, "confine's process group is outside the run", tgid, time)
                    : .proceed
            }
            let target = pid > 0 ? pid : -pid
            if pid < 0 && target == confineGroup {
                return refuse(syscall, "process group \(target) (confine's)", EPERM, "confine's process group is outside the run", tgid, time)
            }
            return requireMember(target, syscall: syscall, what: pid > 0 ? "pid" : "process group", tgid: tgid, at: time)
        case "tkill", "pidfd_open", "process_vm_readv", "process_vm_writev":
            return requireMember(pidArgument(0), syscall: syscall, what: "pid", tgid: tgid, at: time)
        case "tgkill":
            return requireMember(pidArgument(0), syscall: syscall, what: "pid", tgid: tgid, at: time)
        case "ptrace":
            // PTRACE_ATTACH, PTRACE_SEIZE: the only requests that take hold of another process.
            guard arguments[0] == 16 || arguments[0] == 0x4206 else { return .proceed }
            return requireMember(pidArgument(1), syscall: syscall, what: "pid", tgid: tgid, at: time)
        case "prlimit64":
            return raisedLimit(tid: tid, tgid: tgid, arguments: arguments, at: time)
        case "open", "creat":
            let creates = syscall == "creat" || arguments[1] & UInt64(O_CREAT) != 0
            return writeOpen(syscall, tid: tid, tgid: tgid, directory: nil, pathAddress: arguments[0], creates: creates, at: time)
        case "openat", "openat2":
            let creates: Bool? = syscall == "openat" ? arguments[2] & UInt64(O_CREAT) != 0 : nil
            return writeOpen(syscall, tid: tid, tgid: tgid, directory: Int32(truncatingIfNeeded: arguments[0]), pathAddress: arguments[1],
                             creates: creates, at: time)
        case "mkdir", "rmdir", "unlink", "rename":
            let change: NameChange = syscall == "mkdir" ? .create : .remove
            return nameChange(syscall, change, tid: tid, tgid: tgid, directory: nil, pathAddress: arguments[0], at: time)
        case "mkdirat", "unlinkat", "renameat", "renameat2":
            return nameChange(syscall, syscall == "mkdirat" ? .create : .remove, tid: tid, tgid: tgid,
                              directory: Int32(truncatingIfNeeded: arguments[0]), pathAddress: arguments[1], at: time)
        case "symlink", "link":
            return nameChange(syscall, .create, tid: tid, tgid: tgid, directory: nil, pathAddress: arguments[1], at: time)
        case "symlinkat":
            return nameChange(syscall, .create, tid: tid, tgid: tgid, directory: Int32(truncatingIfNeeded: arguments[1]),
                              pathAddress: arguments[2], at: time)
        case "linkat":
            return nameChange(syscall, .create, tid: tid, tgid: tgid, directory: Int32(truncatingIfNeeded: arguments[2]),
                              pathAddress: arguments[3], at: time)
        default:
            return .proceed
        }
    }

    /// The attempts confine answered, in order, each process named by its command line.
    func attempts(commandOf: (Int32) -> String?) -> [RunReport.ContainmentAttempt] {
        attempts.map { attempt in
            var report = RunReport.ContainmentAttempt(syscall: attempt.syscall, target: attempt.target, verdict: attempt.verdict,
                                                      errnoName: attempt.errno.map(errnoName), why: attempt.why, pid: attempt.tgid,
                                                      command: commandOf(attempt.tgid) ?? "?", atSeconds: attempt.atSeconds)
            report.cause = attempt.cause
            return report
        }
    }

    /// Seccomp denials of namespace, mount and module calls, as containment attempts.
    func escapeAttempts(from violations: [RunReport.SeccompViolation]) -> [RunReport.ContainmentAttempt] {
        violations.filter { Self.escapeSyscalls.contains($0.syscall) }.map { violation in
            RunReport.ContainmentAttempt(
                syscall: violation.syscall, target: violation.count > 1 ? "\(violation.count) calls" : "1 call", verdict: .refused,
                errnoName: violation.errnoName, why: "the seccomp profile denies it (a container has no CAP_SYS_ADMIN)",
                pid: violation.pid, command: violation.command, atSeconds: violation.firstSeconds)
        }
    }

    // MARK: -

    private func requireMember(_ pid: Int32, syscall: String, what: String, tgid: Int32, at time: Double) -> Answer {
        if pid > 0 && isMember(pid) { return .proceed }
        let name = pid == confinePid ? " (confine)" : commandName(pid).map { " (\($0))" } ?? ""
        return refuse(syscall, "\(what) \(pid)\(name)", ESRCH, "outside the run's cgroup: invisible from a container", tgid, time)
    }

    private func refuse(_ syscall: String, _ target: String, _ error: Int32, _ why: String, _ tgid: Int32, _ time: Double) -> Answer {
        record(syscall, target, verdict: .refused, errno: error, why: why, tgid: tgid, at: time)
        return .refuse(error)
    }

    private func record(_ syscall: String, _ target: String, verdict: RunReport.ContainmentAttempt.Verdict, errno: Int32?, why: String, tgid: Int32,
                        at time: Double, cause: RunReport.ContainmentAttempt.Cause? = nil) {
        guard attempts.count < Self.maximumAttempts else {
            unlisted += 1
            return
        }
        attempts.append(Attempt(syscall: syscall, target: target, verdict: verdict, errno: errno, why: why, tgid: tgid,
                                atSeconds: (time * 1000).rounded() / 1000, cause: cause))
    }

    /// A process is in the run when one of its /proc/<pid>/cgroup paths is the run's group (or below it).
    func isMember(_ pid: Int32) -> Bool {
        guard let memberships = try? ProcFS.cgroups(.pid(pid)) else { return false }
        return memberships.contains { membership in
            groupPaths.contains(membership.path) || groupPaths.contains(where: { membership.path.hasPrefix($0 + "/") })
        }
    }

    private func processGroup(of pid: Int32) -> Int32? {
        (try? ProcFS.stat(.pid(pid)))?.processGroup
    }

    private func commandName(_ pid: Int32) -> String? {
        try? ProcFS.comm(.pid(pid))
    }

    /// prlimit64(pid, resource, new, old) with a new limit: recorded when it raises a hard limit.
    private func raisedLimit(tid: Int32, tgid: Int32, arguments: [UInt64], at time: Double) -> Answer {
        let pid = Int32(truncatingIfNeeded: arguments[0])
        if pid != 0 && pid != tgid && !isMember(pid) {
            return refuse("prlimit64", "pid \(pid)", ESRCH, "outside the run's cgroup: invisible from a container", tgid, time)
        }
        guard let bytes = readMemory(pid: tid, at: arguments[2], count: 16) else { return .proceed }
        let newHard = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        let resource = Int32(truncatingIfNeeded: arguments[1])
        var current = rlimit()
        guard confine_prlimit(pid == 0 ? tgid : pid, resource, nil, &current) == 0, newHard > UInt64(current.rlim_max) else { return .proceed }
        let name = ResourceLimits.kernelNameByNumber[resource] ?? "resource \(resource)"
        record("prlimit64", "\(name) hard limit \(UInt64(current.rlim_max)) → \(newHard == UInt64.max ? "unlimited" : "\(newHard)")",
               verdict: .kernel, errno: keepsSysResource ? nil : EPERM,
               why: keepsSysResource ? "the profile keeps CAP_SYS_RESOURCE" : "raising a hard limit needs CAP_SYS_RESOURCE, which a container lacks",
               tgid: tgid, at: time)
        return .proceed
    }


    /// An open for writing of a cgroup file, an OOM score or a sysctl: recorded, then left to the kernel.
    enum NameChange { case create, remove }

    /// The path a call names, made absolute against its directory descriptor or the caller's cwd.
    private func resolvedPath(tid: Int32, tgid: Int32, directory: Int32?, pathAddress: UInt64) -> String? {
        guard let path = readString(pid: tid, at: pathAddress) else { return nil }
        if path.hasPrefix("/") { return path }
        let base = directory == nil || directory == -100 /* AT_FDCWD */
            ? readLink(ProcFS.path(.pid(tgid), "cwd")) : readLink(ProcFS.path(.pid(tgid), "fd/\(directory!)"))
        guard let base else { return nil }
        return base + (base.hasSuffix("/") ? "" : "/") + path
    }

    /// Whether `path` is on a read-only mount for the target (the longest matching mount decides).
    private func isReadOnly(_ path: String) -> Bool {
        func longest(_ prefixes: [String]) -> Int {
            prefixes.filter { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }.map(\.count).max() ?? -1
        }
        let readOnly = longest(readOnlyPrefixes)
        return readOnly >= 0 && readOnly >= longest(writablePrefixes)
    }

    /// Why a read-only `path` is so, and whether that is the pod's read-only root (its fault) or
    /// containment (the cgroup filesystems, /proc and /sys, as a container has them).
    private func readOnlyReason(_ path: String) -> (why: String, cause: RunReport.ContainmentAttempt.Cause?) {
        if path.hasPrefix("/sys/fs/cgroup") || (!path.hasPrefix("/proc/") && !rootReadOnly) {
            return ("the cgroup filesystems are read-only for the target, as in a container", nil)
        }
        if path.hasPrefix("/proc/") || path.hasPrefix("/sys/") { return ("read-only for the target, as in a container", nil) }
        return ("the root filesystem is read-only (readOnlyRootFilesystem), as in the pod; write to a volume", .readOnlyRoot)
    }

    /// mkdir, unlink, rmdir, rename, symlink, link: in the kernel's order — the path walk, then
    /// EEXIST (a name that exists) or ENOENT (one that does not), then the read-only mount, then
    /// write and search permission on the directory (and the sticky bit for a removal).
    private func nameChange(_ syscall: String, _ change: NameChange, tid: Int32, tgid: Int32, directory: Int32?, pathAddress: UInt64,
                            at time: Double) -> Answer {
        guard let path = resolvedPath(tid: tid, tgid: tgid, directory: directory, pathAddress: pathAddress) else { return .proceed }
        let root = "/proc/\(tgid)/root"
        if let identity, let denied = Self.searchDenied(path, root: root, identity: identity) {
            record(syscall, path, verdict: .kernel, errno: EACCES,
                   why: "uid \(identity.uid) may not reach it (\(denied)): the pod's user, not root", tgid: tgid, at: time, cause: .user)
            return .proceed
        }
        var info = stat()
        let exists = lstat(root + path, &info) == 0
        guard exists == (change == .remove) else { return .proceed }
        if isReadOnly(path) {
            let (why, cause) = readOnlyReason(path)
            record(syscall, path, verdict: .kernel, errno: EROFS, why: why, tgid: tgid, at: time, cause: cause)
        } else if let identity {
            let parent = "/" + path.split(separator: "/").dropLast().joined(separator: "/")
            var directoryInfo = stat()
            guard stat(root + parent, &directoryInfo) == 0 else { return .proceed }
            var denied: String?
            if Self.permissionDenied(directoryInfo, need: 0o3, identity: identity) {
                denied = "its directory owned by uid \(directoryInfo.st_uid), gid \(directoryInfo.st_gid), mode \(String(directoryInfo.st_mode & 0o7777, radix: 8))"
            } else if change == .remove, directoryInfo.st_mode & S_ISVTX != 0, info.st_uid != identity.uid, directoryInfo.st_uid != identity.uid {
                denied = "a sticky directory, and the name is uid \(info.st_uid)'s"
            }
            if let denied {
                record(syscall, path, verdict: .kernel, errno: change == .remove && denied.hasPrefix("a sticky") ? EPERM : EACCES,
                       why: "uid \(identity.uid) may not \(change == .create ? "make" : "remove") it (\(denied)): the pod's user, not root",
                       tgid: tgid, at: time, cause: .user)
            }
        }
        return .proceed
    }

    private func writeOpen(_ syscall: String, tid: Int32, tgid: Int32, directory: Int32?, pathAddress: UInt64, creates: Bool?,
                           at time: Double) -> Answer {
        guard let path = resolvedPath(tid: tid, tgid: tgid, directory: directory, pathAddress: pathAddress) else { return .proceed }
        // The kernel's order: the path walk (search permission on each directory) first, then a
        // read-only mount, then write permission on the file or its directory.
        let root = "/proc/\(tgid)/root"
        if let identity, let denied = Self.searchDenied(path, root: root, identity: identity) {
            record(syscall, path, verdict: .kernel, errno: EACCES,
                   why: "uid \(identity.uid) may not reach it (\(denied)): the pod's user, not root", tgid: tgid, at: time, cause: .user)
        } else if isReadOnly(path) {
            let (why, cause) = readOnlyReason(path)
            record(syscall, path, verdict: .kernel, errno: EROFS, why: why, tgid: tgid, at: time, cause: cause)
        } else if path.hasPrefix("/proc/"), path.hasSuffix("/oom_score_adj") || path.hasSuffix("/oom_adj") {
            record(syscall, path, verdict: .kernel, errno: keepsSysResource ? nil : EACCES,
                   why: keepsSysResource ? "the profile keeps CAP_SYS_RESOURCE"
                                         : "lowering an OOM score needs CAP_SYS_RESOURCE, which a container lacks (raising it is allowed)",
                   tgid: tgid, at: time)
        } else if let identity, let denied = Self.writeDenied(path, root: root, creates: creates, identity: identity) {
            record(syscall, path, verdict: .kernel, errno: EACCES,
                   why: "uid \(identity.uid) may not write it (\(denied)): the pod's user, not root", tgid: tgid, at: time, cause: .user)
        }
        return .proceed
    }

    /// Why `identity` may not walk to `path`: the first directory on the way without search
    /// (execute) permission for it. nil when it may, or when that cannot be told.
    static func searchDenied(_ path: String, root: String, identity: ContainerFilesystem.Identity) -> String? {
        var directory = ""
        for component in path.split(separator: "/").dropLast() {
            directory += "/" + component
            var info = stat()
            guard stat(root + directory, &info) == 0 else { return nil }
            if permissionDenied(info, need: 0o1, identity: identity) {
                return "\(directory) owned by uid \(info.st_uid), gid \(info.st_gid), mode \(String(info.st_mode & 0o7777, radix: 8))"
            }
        }
        return nil
    }

    /// Whether the owner, group and mode in `info` deny `identity` the bits in `need` (0o1 search, 0o2 write).
    static func permissionDenied(_ info: stat, need: mode_t, identity: ContainerFilesystem.Identity) -> Bool {
        let mode = info.st_mode
        if info.st_uid == identity.uid { return mode & (need << 6) != need << 6 }
        if info.st_gid == identity.gid || identity.groups.contains(info.st_gid) { return mode & (need << 3) != need << 3 }
        return mode & need != need
    }

    /// Why `identity` may not open `path` for writing (as seen from `root`, the target's mount
    /// namespace), from the owner, group and mode: the file's, or for a file it creates, its
    /// directory's (write and search). nil when it may, or when that cannot be told.
    static func writeDenied(_ path: String, root: String, creates: Bool?, identity: ContainerFilesystem.Identity) -> String? {
        func denied(_ info: stat, need: mode_t) -> Bool { permissionDenied(info, need: need, identity: identity) }
        func describe(_ what: String, _ info: stat) -> String {
            "\(what) owned by uid \(info.st_uid), gid \(info.st_gid), mode \(String(info.st_mode & 0o7777, radix: 8))"
        }
        var info = stat()
        if stat(root + path, &info) == 0 {
            return denied(info, need: 0o2) ? describe("the file", info) : nil
        }
        guard errno == ENOENT, creates == true else { return nil }
        let directory = path.split(separator: "/").dropLast().joined(separator: "/")
        guard stat(root + "/" + directory, &info) == 0 else { return nil }
        return denied(info, need: 0o3) ? describe("its directory", info) : nil
    }

    private func readString(pid: Int32, at address: UInt64) -> String? {
        guard address != 0 else { return nil }
        var bytes: [UInt8] = []
        var cursor = address
        while bytes.count < 4096 {
            // Up to the end of the page: the next one may not be mapped.
            let count = Int(4096 - cursor % 4096)
            guard let chunk = readMemory(pid: pid, at: cursor, count: count) else { return nil }
            if let end = chunk.firstIndex(of: 0) { return String(decoding: bytes + chunk[..<end], as: UTF8.self) }
            bytes += chunk
            cursor += UInt64(count)
        }
        return nil
    }

    private func readMemory(pid: Int32, at address: UInt64, count: Int) -> [UInt8]? {
        guard address != 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { confine_read_process_memory(pid, $0.baseAddress, UInt(address), UInt(count)) }
        return read == count ? buffer : nil
    }
}
