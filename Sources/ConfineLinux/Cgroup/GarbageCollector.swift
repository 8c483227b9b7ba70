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
            for entry in directoryEntries(directory) where entry.hasPrefix(RunGroupName.prefix) {
                if all || !Self.ownerIsRunning(pidIn: entry.dropFirst(RunGroupName.prefix.count), of: directory + "/" + entry) {
                    names.insert(entry)
                }
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

    /// Probe socket directories of confines that are gone (what `collectProbeDirectories` removes).
    public func leftoverProbeDirectories(in parent: String = ProbeReceiver.directoryParent) -> [String] {
        let prefix = ProbeReceiver.directoryPrefix
        return directoryEntries(parent).filter { entry in
            entry.hasPrefix(prefix) && !Self.ownerIsRunning(pidIn: entry.dropFirst(prefix.count), of: parent + "/" + entry)
        }.map { parent + "/" + $0 }
    }

    /// Probe socket directories (`/tmp/confine-probe-<pid>-XXXXXX`) of confines that are gone:
    /// removed, with the socket and the `running` file in each; and the shard assignments a run
    /// without the probe channel wrote beside them (`/tmp/confine-shard-confine-<pid>-<random>.json`).
    /// Returns the paths removed.
    @discardableResult
    public func collectProbeDirectories(in parent: String = ProbeReceiver.directoryParent) -> [String] {
        var removed: [String] = []
        let shardPrefix = ProbeReceiver.shardFilePrefix + "confine-"
        for entry in directoryEntries(parent) where entry.hasPrefix(shardPrefix) && entry.hasSuffix(".json")
            && !Self.ownerIsRunning(pidIn: entry.dropFirst(shardPrefix.count), of: parent + "/" + entry) {
            if unlink(parent + "/" + entry) == 0 { removed.append(parent + "/" + entry) }
        }
        for directory in leftoverProbeDirectories(in: parent) {
            unlink(directory + "/" + ProbeReceiver.socketName)
            unlink(directory + "/" + ProbeReceiver.runningName)
            unlink(directory + "/" + ProbeReceiver.collectedName)
            unlink(directory + "/" + ProbeReceiver.shardName)
            if rmdir(directory) == 0 { removed.append(directory) }
        }
        return removed
    }

    /// Disk volumes (`/var/tmp/confine-volumes/confine-<pid>-<random>`) of confines that are gone.
    public func leftoverVolumeDirectories(in parent: String = ContainerFilesystem.diskVolumeParent) -> [String] {
        directoryEntries(parent).filter { entry in
            entry.hasPrefix("confine-") && !Self.ownerIsRunning(pidIn: entry.dropFirst("confine-".count), of: parent + "/" + entry)
        }.map { parent + "/" + $0 }
    }

    /// Removes those disk volumes with what their runs wrote (the run guard removes only empty
    /// directories). Returns the directories removed.
    @discardableResult
    public func collectVolumeDirectories(in parent: String = ContainerFilesystem.diskVolumeParent) -> [String] {
        leftoverVolumeDirectories(in: parent).filter { directory in
            // The mount points its run made (deepest first; only while empty), then the directory.
            let list = (try? readTextFile(directory + "/" + ContainerFilesystem.mountPointsFile)) ?? ""
            for path in list.split(separator: "\n").reversed() where path.hasPrefix("/") { rmdir(String(path)) }
            removeTree(directory)
            return !fileExists(directory)
        }
    }

    /// Whether the confine that made `path` (`…-<pid>-<random>`, `pidAndRandom` being the part
    /// after the prefix) still runs: its pid is alive, not a zombie, and that process started
    /// before `path` last changed — a pid reused by a later process is not the owner. The name
    /// of the process is not checked: confine may be installed under any name.
    static func ownerIsRunning(pidIn pidAndRandom: Substring, of path: String) -> Bool {
        guard let pidText = pidAndRandom.split(separator: "-").first, let pid = Int32(pidText) else { return false }
        if pid == getpid() { return true }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? ProcFS.stat(.pid(pid)), stat.state != "Z" else { return false }
        guard let startTicks = stat.startTicks, let bootTime = ProcFS.bootTimeSeconds(), let changed = changeTime(of: path)
        else { return true } // cannot tell: leave it alone
        let started = Double(bootTime) + Double(startTicks) / Double(sysconf(Int32(_SC_CLK_TCK)))
        // btime is whole seconds and ticks are coarse: a pid reused within 2 s of the directory's
        // last change is taken for its owner (left for a later collection, never killed early).
        return started <= changed + 2
    }

    /// `stat(2)`'s ctime of `path`, in seconds since the epoch; nil when it cannot be read.
    static func changeTime(of path: String) -> Double? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
    }
}
