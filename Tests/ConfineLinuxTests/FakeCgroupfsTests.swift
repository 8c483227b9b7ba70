@testable import ConfineLinux
import ConfineCore
import Foundation
import XCTest

/// A cgroup filesystem in a temp dir: `mkdir` also creates the control files a kernel would,
/// filled with output captured from real kernels (Fixtures/v1 from 6.18 on a hybrid host,
/// Fixtures/v2 from Linux 6.1 in the test VM, `CONFINE_VM_APPEND=confine.capture ci/vm-test`). Each test gets its own root, so they run in parallel.
struct FakeCgroupFilesystem: CgroupFilesystem {
    let template: String
    var omit: Set<String> = []
    /// Writable control files and their initial contents.
    var extraFiles: [String: String] = [:]

    func makeDirectory(_ path: String) throws(SystemError) {
        guard mkdir(path, 0o755) == 0 else { throw SystemError("mkdir", path: path, errno: errno) }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: template)) ?? []
        for file in files where !omit.contains(file) && !file.hasSuffix(".txt") {
            try? FileManager.default.copyItem(atPath: template + "/" + file, toPath: path + "/" + file)
        }
        for (file, contents) in extraFiles where !omit.contains(file) {
            _ = FileManager.default.createFile(atPath: path + "/" + file, contents: Data(contents.utf8))
        }
    }

    func removeDirectory(_ path: String) throws(SystemError) {
        do { try FileManager.default.removeItem(atPath: path) } catch { throw SystemError("rmdir", path: path, errno: ENOENT) }
    }
}

final class FakeCgroupfsTests: XCTestCase {
    let fixtures = Bundle.module.resourcePath! + "/Fixtures"
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "confine-fakecg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>"
    }

    // MARK: layout

    func testHybridLayoutFromThisMachinesMountinfo() throws {
        let placement = try CgroupLayoutParser.placement(mountinfo: text(fixtures + "/v1/mountinfo.txt"),
                                                         procCgroup: text(fixtures + "/v1/proc-cgroup.txt"))
        XCTAssertEqual(placement.kind, .hybrid)
        let memory = try XCTUnwrap(placement.mounts.first { $0.controllers == ["memory"] })
        XCTAssertEqual(memory.mountPoint, "/sys/fs/cgroup/memory")
        XCTAssertEqual(placement.ownDirectory(in: memory, ownPath: placement.ownPaths["memory"]!),
                       "/sys/fs/cgroup/memory" + placement.ownPaths["memory"]!)
        XCTAssertFalse(placement.mounts.contains { $0.mountPoint == "/sys/fs/cgroup/systemd" }, "name=systemd has no controllers")
    }

    func testUnifiedAndLegacyLayouts() throws {
        let unified = try CgroupLayoutParser.placement(mountinfo: text(fixtures + "/mountinfo-unified.txt"),
                                                       procCgroup: text(fixtures + "/proc-cgroup-unified.txt"))
        XCTAssertEqual(unified.kind, .unified)
        XCTAssertEqual(unified.ownPaths[""], "/ci/job")
        let legacy = try CgroupLayoutParser.placement(mountinfo: text(fixtures + "/mountinfo-legacy.txt"),
                                                      procCgroup: text(fixtures + "/proc-cgroup-legacy.txt"))
        XCTAssertEqual(legacy.kind, .legacy)
        let cpu = try XCTUnwrap(legacy.mounts.first { $0.controllers.contains("cpuacct") })
        XCTAssertEqual(cpu.controllers, ["cpu", "cpuacct"])
        XCTAssertEqual(cpu.mountPoint, "/sys/fs/cgroup/cpu,cpuacct")
        // A container bind-mounts its own sub-tree: the mount root is stripped from the path.
        let memory = try XCTUnwrap(legacy.mounts.first { $0.controllers == ["memory"] })
        XCTAssertEqual(legacy.ownDirectory(in: memory, ownPath: "/docker/abc/inner"), "/sys/fs/cgroup/memory/inner")
        XCTAssertThrowsError(try CgroupLayoutParser.placement(mountinfo: "", procCgroup: ""))
        XCTAssertEqual(MountInfo.unescape("/a\\040b"), "/a b")
    }

    // MARK: v1

    func v1Driver(omit: Set<String> = []) throws -> CgroupV1Driver {
        var mounts: [CgroupMount] = []
        var paths: [String: String] = [:]
        for controller in ["memory", "cpu", "cpuacct", "pids", "freezer"] {
            let mountPoint = root + "/" + controller
            try FileManager.default.createDirectory(atPath: mountPoint + "/job", withIntermediateDirectories: true)
            mounts.append(CgroupMount(mountPoint: mountPoint, root: "/", fsType: "cgroup", controllers: [controller]))
            paths[controller] = "/job"
        }
        let filesystem = FakeCgroupFilesystem(template: fixtures + "/v1", omit: omit, extraFiles: [
            "cgroup.procs": "", "tasks": "", "memory.limit_in_bytes": "9223372036854771712\n",
            "memory.memsw.limit_in_bytes": "9223372036854771712\n", "memory.swappiness": "60\n",
            "cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n", "pids.max": "max\n", "freezer.state": "THAWED\n",
        ])
        return try CgroupV1Driver(placement: CgroupPlacement(kind: .hybrid, mounts: mounts, ownPaths: paths),
                                  filesystem: filesystem)
    }

    func testV1TranslatesLimitsIntoV1Files() throws {
        let driver = try v1Driver()
        let group = try driver.createGroup(named: "confine-4194304-aa",
                                           limits: CgroupLimits(cpus: 0.25, memoryMax: 64 << 20, swapMax: 0, cpuset: nil, pidsMax: 32))
        XCTAssertEqual(text(root + "/memory/job/confine-4194304-aa/memory.limit_in_bytes"), "\(64 << 20)")
        XCTAssertEqual(text(root + "/memory/job/confine-4194304-aa/memory.memsw.limit_in_bytes"), "\(64 << 20)", "memsw = memory + swap")
        XCTAssertEqual(text(root + "/cpu/job/confine-4194304-aa/cpu.cfs_period_us"), "100000")
        XCTAssertEqual(text(root + "/cpu/job/confine-4194304-aa/cpu.cfs_quota_us"), "25000")
        XCTAssertEqual(text(root + "/pids/job/confine-4194304-aa/pids.max"), "32")
        XCTAssertEqual(group.appliedMemoryLimit(), 64 << 20)
        XCTAssertEqual(Set(group.joinFiles), Set(["memory", "cpu", "cpuacct", "pids", "freezer"].map {
            root + "/\($0)/job/confine-4194304-aa/tasks" }))
        XCTAssertEqual(group.kernelPaths["memory"], "/job/confine-4194304-aa")
        XCTAssertEqual(Set(driver.parentDirectories), Set(["memory", "cpu", "cpuacct", "pids", "freezer"].map { root + "/\($0)/job" }))
        XCTAssertEqual(GarbageCollector(driver: driver).leftovers(), ["confine-4194304-aa"], "no process has pid 4194304 (pid_max is at most 2^22): its confine is gone")
        try group.remove()
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/memory/job/confine-4194304-aa"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/cpu/job/confine-4194304-aa"))
    }

    /// A run's directory under /var/tmp/confine-volumes whose confine is gone: gc removes the
    /// mount points it lists (while empty; one the target wrote into stays), then the directory.
    func testGCRemovesAGoneRunsVolumesAndMadeMountPoints() throws {
        let collector = GarbageCollector(driver: try v1Driver())
        let parent = root + "/volumes"
        let run = parent + "/confine-4194304-cc"
        let emptyPoint = root + "/made/cache", fullPoint = root + "/made/kept"
        for directory in [run + "/0", emptyPoint, fullPoint] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try "written by the target\n".write(toFile: run + "/0/data", atomically: true, encoding: .utf8)
        try "written beside\n".write(toFile: fullPoint + "/file", atomically: true, encoding: .utf8)
        try "\(root)/made\n\(emptyPoint)\n\(fullPoint)\n".write(toFile: run + "/mount-points", atomically: true, encoding: .utf8)
        XCTAssertEqual(collector.leftoverVolumeDirectories(in: parent), [run])
        XCTAssertEqual(collector.collectVolumeDirectories(in: parent), [run])
        XCTAssertFalse(FileManager.default.fileExists(atPath: run))
        XCTAssertFalse(FileManager.default.fileExists(atPath: emptyPoint))
        XCTAssertTrue(FileManager.default.fileExists(atPath: fullPoint + "/file"), "what the target wrote is not removed")
    }

    /// A shard assignment written without the probe channel, whose confine was SIGKILLed: gc
    /// removes it; one whose confine runs (this process) stays.
    func testGCRemovesAGoneRunsShardAssignment() throws {
        let collector = GarbageCollector(driver: try v1Driver())
        let parent = root + "/tmp"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let gone = parent + "/confine-shard-confine-4194304-dd.json", mine = parent + "/confine-shard-confine-\(getpid())-ee.json"
        let other = parent + "/confine-shard-notes.json"
        for path in [gone, mine, other] { try "{}".write(toFile: path, atomically: true, encoding: .utf8) }
        XCTAssertEqual(collector.collectProbeDirectories(in: parent), [gone])
        XCTAssertFalse(FileManager.default.fileExists(atPath: gone))
        XCTAssertTrue(FileManager.default.fileExists(atPath: mine), "its confine still runs")
        XCTAssertTrue(FileManager.default.fileExists(atPath: other), "not a run's file")
    }

    func testV1ReadsCapturedCounters() throws {
        let group = try v1Driver().createGroup(named: "confine-2-bb", limits: CgroupLimits())
        XCTAssertNil(group.appliedMemoryLimit(), "v1's unlimited sentinel 9223372036854771712 means no limit")
        let stat = keyValues(text(fixtures + "/v1/cpu.stat"))
        var sample = CgroupSample()
        group.sample(detail: true, into: &sample)
        XCTAssertEqual(sample.periods, stat["nr_periods"])
        XCTAssertEqual(sample.throttledPeriods, stat["nr_throttled"])
        XCTAssertEqual(sample.throttledNanos, stat["throttled_time"])
        XCTAssertEqual(sample.cpuUsageNanos, UInt64(text(fixtures + "/v1/cpuacct.usage").trimmingWhitespace()))
        XCTAssertEqual(sample.memoryBytes, UInt64(text(fixtures + "/v1/memory.usage_in_bytes").trimmingWhitespace()))
        XCTAssertEqual(group.memoryPeak()?.source, .maxUsageInBytes)
        XCTAssertEqual(group.memoryPeak()?.bytes, UInt64(text(fixtures + "/v1/memory.max_usage_in_bytes").trimmingWhitespace()))
        XCTAssertEqual(group.oomKillCount(), 0)
        XCTAssertEqual(group.pidsPeak(), Int(text(fixtures + "/v1/pids.peak").trimmingWhitespace()))
        try group.remove()
    }

    func testV1WithoutSwapAccountingOrPidsPeak() throws {
        let group = try v1Driver(omit: ["memory.memsw.limit_in_bytes", "pids.peak", "memory.max_usage_in_bytes"])
            .createGroup(named: "confine-3-cc", limits: CgroupLimits(memoryMax: 1 << 30, swapMax: 0))
        XCTAssertEqual(text(root + "/memory/job/confine-3-cc/memory.swappiness"), "0")
        XCTAssertEqual(group.warnings.count, 1)
        XCTAssertTrue(group.warnings[0].contains("swapaccount=1"), group.warnings[0])
        XCTAssertNil(group.pidsPeak(), "old kernels have no pids.peak: the sampler's peak is used")
        XCTAssertNil(group.memoryPeak())
        try group.remove()
    }

    func testV1FailedLimitRemovesWhatWasCreated() throws {
        let driver = try v1Driver(omit: ["pids.max"])
        XCTAssertThrowsError(try driver.createGroup(named: "confine-4-dd", limits: CgroupLimits(pidsMax: 10))) { error in
            XCTAssertEqual((error as? CgroupError)?.step, "set pids limit")
            XCTAssertTrue("\(error)".contains("pids.max"), "the error names the file: \(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/memory/job/confine-4-dd"))
    }

    // MARK: v2

    func v2Driver(omit: Set<String> = [], procs: String = "") throws -> CgroupV2Driver {
        try FileManager.default.createDirectory(atPath: root + "/ci/job", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/ci/job/cgroup.controllers", contents: Data("cpuset cpu io memory pids\n".utf8))
        _ = FileManager.default.createFile(atPath: root + "/ci/job/cgroup.subtree_control", contents: Data("".utf8))
        _ = FileManager.default.createFile(atPath: root + "/ci/job/cgroup.procs", contents: Data(procs.utf8))
        let mounts = [CgroupMount(mountPoint: root, root: "/", fsType: "cgroup2", controllers: [])]
        return try CgroupV2Driver(placement: CgroupPlacement(kind: .unified, mounts: mounts, ownPaths: ["": "/ci/job"]),
                                  filesystem: FakeCgroupFilesystem(template: fixtures + "/v2", omit: omit))
    }

    func testV2EnablesControllersAndWritesLimits() throws {
        let group = try v2Driver().createGroup(named: "confine-5-ee",
                                               limits: CgroupLimits(cpus: 0.5, memoryMax: 512 << 20, swapMax: 0, cpuset: [0, 1], pidsMax: 256))
        let directory = root + "/ci/job/confine-5-ee"
        XCTAssertEqual(text(root + "/ci/job/cgroup.subtree_control"), "+memory +cpu +pids +cpuset")
        XCTAssertEqual(text(directory + "/memory.max"), "\(512 << 20)")
        XCTAssertEqual(text(directory + "/memory.swap.max"), "0")
        XCTAssertEqual(text(directory + "/cpu.max"), "50000 100000")
        XCTAssertEqual(text(directory + "/cpuset.cpus"), "0,1")
        XCTAssertEqual(text(directory + "/pids.max"), "256")
        XCTAssertEqual(group.joinFiles, [directory + "/cgroup.procs"])
        XCTAssertEqual(group.kernelPaths, ["unified": "/ci/job/confine-5-ee"])
        try group.remove()
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory))
    }

    func testV2ReadsCapturedCounters() throws {
        let group = try v2Driver().createGroup(named: "confine-6-ff", limits: CgroupLimits())
        XCTAssertNil(group.appliedMemoryLimit(), "memory.max `max` means no limit")
        let v2 = fixtures + "/v2"
        let memory = keyValues(text(v2 + "/memory.stat"))
        let cpu = keyValues(text(v2 + "/cpu.stat"))
        var sample = CgroupSample()
        group.sample(detail: true, into: &sample)
        XCTAssertEqual(sample.memoryBytes, UInt64(text(v2 + "/memory.current").trimmingWhitespace()))
        XCTAssertEqual(sample.anonBytes, memory["anon"])
        XCTAssertEqual(sample.fileBytes, memory["file"])
        XCTAssertEqual(sample.kernelBytes, memory["kernel"])
        XCTAssertEqual(sample.shmemBytes, memory["shmem"])
        XCTAssertEqual(sample.cpuUsageNanos, cpu["usage_usec"].map { $0 * 1000 })
        XCTAssertEqual(sample.periods, cpu["nr_periods"])
        XCTAssertEqual(sample.throttledPeriods, cpu["nr_throttled"])
        XCTAssertEqual(sample.throttledNanos, cpu["throttled_usec"].map { $0 * 1000 })
        XCTAssertGreaterThan(sample.throttledPeriods, 0, "the capture ran under a 25% quota")
        XCTAssertEqual(sample.pids, Int(text(v2 + "/pids.current").trimmingWhitespace()))
        XCTAssertEqual(group.memoryPeak()?.bytes, UInt64(text(v2 + "/memory.peak").trimmingWhitespace()))
        XCTAssertEqual(group.memoryPeak()?.source, .memoryPeak)
        XCTAssertEqual(group.oomKillCount(), keyValues(text(v2 + "/memory.events"))["oom_kill"])
        XCTAssertNil(group.pidsPeak(), "Linux 6.1 has no pids.peak: the sampler's peak is used")
        XCTAssertEqual(group.forkFailures(), 0)
        try group.remove()
    }

    func testV2OldKernelWithoutPeakFilesOrKernelLine() throws {
        let group = try v2Driver(omit: ["memory.peak", "pids.peak", "memory.swap.max"])
            .createGroup(named: "confine-7-gg", limits: CgroupLimits(memoryMax: 1 << 20, swapMax: 0))
        XCTAssertNil(group.memoryPeak())
        XCTAssertNil(group.pidsPeak())
        XCTAssertEqual(group.warnings.count, 1, "swap could not be limited")
        try group.remove()
    }

    func testV2EnablesOnlyMissingControllersAndNamesUnavailableOnes() throws {
        // The move to confine.leaf on EBUSY needs a real kernel: ci/vm-test's nested-cgroup scenario.
        let driver = try v2Driver(procs: "")
        try driver.enableControllers(["memory"])
        XCTAssertEqual(text(root + "/ci/job/cgroup.subtree_control"), "+memory")
        XCTAssertThrowsError(try driver.enableControllers(["hugetlb"])) { error in
            XCTAssertTrue("\(error)".contains("controller(s) hugetlb not available"), "\(error)")
        }
    }

    func testV2GroupsOfAConfineMovedToItsLeafStayBesideTheLeaf() throws {
        let mounts = [CgroupMount(mountPoint: root, root: "/", fsType: "cgroup2", controllers: [])]
        let driver = try CgroupV2Driver(placement: CgroupPlacement(kind: .unified, mounts: mounts,
                                                                   ownPaths: ["": "/ci/job/confine.leaf"]),
                                        filesystem: FakeCgroupFilesystem(template: fixtures + "/v2"))
        XCTAssertEqual(driver.parentDirectories, [root + "/ci/job"])
        XCTAssertEqual(parseLimit("max\n"), nil)
        XCTAssertEqual(parseLimit("67108864\n"), 67_108_864)
    }

    // MARK: kernel log

    func testKernelLogOOMLinesNameTheVictimOfThisGroupOnly() throws {
        let records = text(fixtures + "/kmsg-oom.txt").split(separator: "\n").map { $0.replacingOccurrences(of: "\\n", with: "\n") }
        var parser = KernelOOMParser(groupName: "confine-15688-135ba49a")
        let events = records.compactMap { parser.feed(record: $0) }
        let kills = events.compactMap(\.kill)
        XCTAssertEqual(kills.count, 1)
        XCTAssertEqual(kills.first?.pid, 15690)
        XCTAssertEqual(kills.first?.task, "exe")
        XCTAssertEqual(kills.first?.usageBytes, 64 << 20)
        XCTAssertEqual(kills.first?.limitBytes, 64 << 20)
        XCTAssertEqual(kills.first?.timestampMicros, 1_272_208_079)
        XCTAssertEqual(events.last, .victimMemory(pid: 15690, .init(anonRssBytes: 65152 << 10, fileRssBytes: 584 << 10, shmemRssBytes: 0)))
        var other = KernelOOMParser(groupName: "confine-15688-135ba49")
        XCTAssertTrue(records.compactMap { other.feed(record: $0) }.isEmpty, "a prefix of the name must not match")
    }

    func testKeyValueScannerOnTheHotPath() {
        let bytes = Array("nr_periods 6\nnr_throttled 5\nthrottled_time 379990118\n".utf8)
        var seen: [Int: UInt64] = [:]
        bytes.withUnsafeBytes { scanKeyValues($0, keys: [Array("nr_throttled".utf8), Array("throttled_time".utf8)]) { seen[$0] = $1 } }
        XCTAssertEqual(seen, [0: 5, 1: 379_990_118])
        XCTAssertNil(Array("max\n".utf8).withUnsafeBytes { parseLeadingNumber($0) })
    }

    func testProcessConnectorParsesKernelEvents() {
        // nlmsghdr(16) + cn_msg(20) + proc_event header(16) + fork data(16)
        var datagram = [UInt8](repeating: 0, count: 68)
        func put(_ value: UInt32, _ offset: Int) { withUnsafeBytes(of: value) { for (i, b) in $0.enumerated() { datagram[offset + i] = b } } }
        put(68, 0)
        put(1, 36)            // PROC_EVENT_FORK
        put(100, 52); put(100, 56); put(200, 60); put(200, 64)
        var events: [ProcessEvent] = []
        datagram.withUnsafeBytes { ProcessConnector.parse($0) { events.append($0) } }
        XCTAssertEqual(events, [.fork(parent: 100, child: 200)])
    }
}
