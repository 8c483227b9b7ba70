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

    /// `confine-<pid>-<random>`: is that pid a live confine?
    func ownerIsRunning(_ name: String) -> Bool {
        let parts = name.dropFirst(RunPlan.groupPrefix.count).split(separator: "-")
        guard let pidText = parts.first, let pid = Int32(pidText) else { return false }
        if pid == getpid() { return true }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        let comm = (try? readTextFile("/proc/\(pid)/comm"))?.trimmed() ?? ""
        return comm == "confine"
    }
}
