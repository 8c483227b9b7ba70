#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// `confine doctor`: can this machine run confine, and if not, what to do about it. Every check
/// looks at the real thing (a probe group is created and removed, a network namespace is made).
public struct DoctorCheck: Sendable, Equatable {
    public enum Status: String, Sendable { case ok, warn, fail }
    public var name: String
    public var status: Status
    public var detail: String
    /// A concrete fix, for warn and fail.
    public var fix: String?
}

public enum Doctor {
    static let delegationFixes = "run confine as root; or in a delegated cgroup: `systemd-run --user --scope -p Delegate=yes confine …`; "
        + "or in Docker: `docker run --privileged --cgroupns=private …`"

    /// `parentOverride`: check this directory instead of confine's own cgroup (a delegated subtree).
    public static func run(parentOverride: String? = nil) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let release = kernelRelease()
        let atLeast = kernelIsAtLeast
        checks.append(DoctorCheck(name: "kernel", status: atLeast(5, 7) ? .ok : .warn,
                                  detail: "Linux \(release)" + (atLeast(5, 7) ? "" : ": before 5.7, no clone3 into a cgroup; before 5.0, no seccomp user notification"),
                                  fix: atLeast(5, 7) ? nil : "a 5.7 or newer kernel"))

        let driver: any CgroupDriver
        do {
            driver = try CgroupDrivers.detect()
        } catch {
            checks.append(DoctorCheck(name: "cgroups", status: .fail, detail: "\(error)", fix: "mount cgroup2 on /sys/fs/cgroup (or the v1 controllers); \(delegationFixes)"))
            return checks
        }
        let parents = parentOverride.map { [$0] } ?? driver.parentDirectories
        checks.append(DoctorCheck(name: "cgroup layout", status: .ok,
                                  detail: "\(driver.kind.rawValue) (\(driver.kind == .unified ? "cgroup v2" : "cgroup v1 controllers")); run groups go below \(parents.joined(separator: ", "))"))

        // Controllers: the ones confine limits with.
        if driver.kind == .unified, let parent = parents.first {
            let available = (try? readTextFile(parent + "/cgroup.controllers"))?.split(separator: " ").map { $0.trimmingWhitespace() } ?? []
            let missing = ["memory", "cpu", "pids"].filter { !available.contains($0) }
            checks.append(DoctorCheck(name: "controllers", status: missing.isEmpty ? .ok : .fail,
                                      detail: missing.isEmpty ? "memory, cpu, pids available in \(parent)" : "\(missing.joined(separator: ", ")) not available in \(parent)",
                                      fix: missing.isEmpty ? nil : "enable them in the parent: `echo \"\(missing.map { "+" + $0 }.joined(separator: " "))\" > \(parentDirectory(of: parent))/cgroup.subtree_control`"))
        } else {
            // A hierarchy's directory names its controllers (`/sys/fs/cgroup/cpu,cpuacct/...`):
            // match whole names, so a mounted cpuset does not pass for cpu.
            let mounted = Set(parents.flatMap { $0.split(separator: "/").flatMap { $0.split(separator: ",").map(String.init) } })
            let missing = ["memory", "cpu", "pids"].filter { !mounted.contains($0) }
            checks.append(DoctorCheck(name: "controllers", status: missing.isEmpty ? .ok : .warn,
                                      detail: missing.isEmpty ? "memory, cpu, pids hierarchies mounted" : "no \(missing.joined(separator: ", ")) hierarchy: those limits cannot be set",
                                      fix: missing.isEmpty ? nil : "mount the missing v1 controllers, or boot with cgroup v2"))
        }

        // Writable: make and remove a probe group in each parent.
        var unwritable: [String] = []
        for parent in parents {
            let probe = parent + "/confine-doctor-\(getpid())"
            if mkdir(probe, 0o755) == 0 {
                rmdir(probe)
            } else {
                unwritable.append("\(parent) (\(errnoName(errno)))")
            }
        }
        checks.append(DoctorCheck(name: "cgroup writable", status: unwritable.isEmpty ? .ok : .fail,
                                  detail: unwritable.isEmpty ? "created and removed a probe group" : "cannot create a group in \(unwritable.joined(separator: ", "))",
                                  fix: unwritable.isEmpty ? nil : delegationFixes))

        // Peak counters and group removal.
        if driver.kind == .unified {
            let parent = parents.first ?? ""
            let killable = fileExists(parent + "/cgroup.kill") || atLeast(5, 14)
            checks.append(DoctorCheck(name: "memory.peak", status: atLeast(5, 19) ? .ok : .warn,
                                      detail: atLeast(6, 12) ? "present, resettable per test (6.12+)" : atLeast(5, 19) ? "present; no per-test reset before 6.12 (tests' peaks come from samples)" : "absent before 5.19: peaks come from samples",
                                      fix: atLeast(5, 19) ? nil : "a 5.19 or newer kernel for an exact peak"))
            checks.append(DoctorCheck(name: "cgroup.kill", status: killable ? .ok : .warn,
                                      detail: killable ? "present: a whole group is killed in one write" : "absent before 5.14: confine freezes and kills instead",
                                      fix: nil))
        } else {
            checks.append(DoctorCheck(name: "memory peak", status: .ok, detail: "memory.max_usage_in_bytes, resettable per test"))
        }

        // Seccomp.
        let actions = (try? readTextFile("/proc/sys/kernel/seccomp/actions_avail"))?.trimmingWhitespace() ?? ""
        let notify = actions.contains("user_notif")
        checks.append(DoctorCheck(name: "seccomp", status: actions.isEmpty ? .fail : notify ? .ok : .warn,
                                  detail: actions.isEmpty ? "not available" : "actions: \(actions)",
                                  fix: actions.isEmpty ? "a kernel with CONFIG_SECCOMP_FILTER" : notify ? nil : "a 5.0 or newer kernel: without user notification denials cannot be recorded"))

        // Network namespaces: make one for real.
        // The probe execs confine itself (`--version`, output discarded): present wherever confine is.
        var request = SpawnRequest(arguments: ["/proc/self/exe", "--version"], environment: [], joinFiles: [], cloneIntoDirectory: nil, ulimits: [:])
        request.newNetworkNamespace = true
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        request.stdoutFD = devNull
        var netns = DoctorCheck(name: "network namespaces", status: .ok, detail: "created one with lo up (--network none works)")
        do {
            let spawned = try Spawner.spawn(request)
            var status: Int32 = 0
            _ = retryingEINTR { waitpid(spawned.pid, &status, 0) }
        } catch {
            netns = DoctorCheck(name: "network namespaces", status: .warn, detail: "\(error): --network none and allow-lists are unavailable",
                                fix: "run as root (CAP_SYS_ADMIN), or allow unprivileged user namespaces")
        }
        checks.append(netns)

        // What names OOM victims and short-lived processes.
        let kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if kmsg >= 0 { close(kmsg) }
        checks.append(DoctorCheck(name: "kernel log", status: kmsg >= 0 ? .ok : .warn,
                                  detail: kmsg >= 0 ? "/dev/kmsg readable: OOM victims named from the kernel's own report" : "/dev/kmsg not readable (\(errnoName(errno))): victims named from process exits",
                                  fix: kmsg >= 0 ? nil : "run as root, or `sysctl kernel.dmesg_restrict=0`"))
        let connector = (try? ProcessConnector()) != nil
        checks.append(DoctorCheck(name: "process connector", status: connector ? .ok : .warn,
                                  detail: connector ? "every fork and exec seen as it happens" : "unavailable: short-lived processes may go unnamed",
                                  fix: connector ? nil : "run as root (CAP_NET_ADMIN)"))
        let taskstats = (try? TaskStatsListener()) != nil
        checks.append(DoctorCheck(name: "taskstats", status: taskstats ? .ok : .warn,
                                  detail: taskstats ? "exact peak RSS of every process at exit" : "unavailable: process peaks from samples",
                                  fix: taskstats ? nil : "run as root (CAP_NET_ADMIN), on a kernel with CONFIG_TASKSTATS"))
        return checks
    }

    static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// The directory above `path` (`dirname`).
func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
}
