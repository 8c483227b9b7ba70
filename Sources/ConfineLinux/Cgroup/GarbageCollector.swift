#if canImport(Glibc)
import Glibc
#endif

/// Removes run groups left behind by a confine that could not clean up (SIGKILLed, power cut).
public struct GarbageCollector {
    public let driver: any CgroupDriver

    public init(driver: any CgroupDriver) {
        self.driver = driver
    }

    public struct Removal: Sendable {
        public var name: String
        public var killedProcesses: Int
        public var error: String?
    }

    /// Groups named `confine-<pid>-*` whose confine is no longer running. With `all`, also the
    /// groups of live confines.
    public func leftovers(all: Bool = false) -> [String] {
        var names = Set<String>()
        for directory in driver.parentDirectories {
            for entry in directoryEntries(directory) where entry.hasPrefix(RunPlan.groupPrefix) {
                if all || !ownerIsRunning(entry) { names.insert(entry) }
            }
        }
        return names.sorted()
    }

    public func collect(all: Bool = false) -> [Removal] {
        leftovers(all: all).map { name in
            let group = driver.existingGroup(named: name)
            let members = group.memberPids().count
            do {
                try group.remove()
                return Removal(name: name, killedProcesses: members, error: nil)
            } catch {
                return Removal(name: name, killedProcesses: members, error: "\(error)")
            }
        }
    }

    /// Probe socket directories (`/tmp/confine-probe-<pid>-XXXXXX`) of confines that are gone:
    /// removed, with the socket and the `running` file in each. Returns the directories removed.
    @discardableResult
    public func collectProbeDirectories(in parent: String = "/tmp") -> [String] {
        let prefix = "confine-probe-"
        var removed: [String] = []
        for entry in directoryEntries(parent) where entry.hasPrefix(prefix) {
            guard let pidText = entry.dropFirst(prefix.count).split(separator: "-").first, let pid = Int32(pidText),
                  !Self.isRunningConfine(pid) else { continue }
            let directory = parent + "/" + entry
            unlink(directory + "/probe.sock")
            unlink(directory + "/running")
            if rmdir(directory) == 0 { removed.append(directory) }
        }
        return removed
    }

    /// `confine-<pid>-<random>`: is that pid a live confine?
    func ownerIsRunning(_ name: String) -> Bool {
        let parts = name.dropFirst(RunPlan.groupPrefix.count).split(separator: "-")
        guard let pidText = parts.first, let pid = Int32(pidText) else { return false }
        return Self.isRunningConfine(pid)
    }

    static func isRunningConfine(_ pid: Int32) -> Bool {
        if pid == getpid() { return true }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A zombie confine is not running.
        guard let stat = try? ProcFS.stat(.pid(pid)) else { return false }
        return stat.comm == "confine" && stat.state != "Z"
    }
}
