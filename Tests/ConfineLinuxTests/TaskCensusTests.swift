@testable import ConfineCore
@testable import ConfineLinux
import XCTest

/// Who holds the tasks at the pids limit, and when the sampler asks for a census.
final class TaskCensusTests: XCTestCase {
    func stat(_ pid: Int32, parent: Int32, threads: Int?) -> ProcFS.Stat {
        ProcFS.Stat(pid: pid, comm: "p\(pid)", state: "S", parentPid: parent, processGroup: 1, startTicks: 1, threads: threads)
    }

    func testOneProcessFullOfThreads() {
        let census = TaskCensus.census([stat(10, parent: 1, threads: 31), stat(11, parent: 10, threads: 1)], tasks: 32, at: 0.4123) { "cmd-\($0)" }
        XCTAssertEqual(census, RunReport.PidsAtLimit(atSeconds: 0.412, tasks: 32, processes: 2, threads: 32,
                                                     topProcess: .init(pid: 10, command: "cmd-10", threads: 31, children: 1)))
    }

    func testAParentOfManyChildren() {
        let children = (0..<19).map { stat(100 + Int32($0), parent: 10, threads: 1) }
        let census = TaskCensus.census([stat(10, parent: 1, threads: 1)] + children, tasks: 20, at: 1) { "cmd-\($0)" }
        XCTAssertEqual(census.processes, 20)
        XCTAssertEqual(census.threads, 20)
        XCTAssertEqual(census.topProcess, .init(pid: 10, command: "cmd-10", threads: 1, children: 19))
    }

    func testNoProcessReadIsNoTopProcess() {
        let census = TaskCensus.census([], tasks: 32, at: 1) { _ in "" }
        XCTAssertNil(census.topProcess)
        XCTAssertEqual(census.processes, 0)
    }

    func testStateInAStatFilesBytes() {
        for (line, state) in [("7 (a) b) R 1 7 7", UInt8(ascii: "R")), ("7 (x) S 1 7", UInt8(ascii: "S"))] {
            let bytes = Array(line.utf8)
            XCTAssertEqual(bytes.withUnsafeBytes { ProcFS.state(inStat: $0) }, state, line)
        }
        XCTAssertNil(Array("7 (x)".utf8).withUnsafeBytes { ProcFS.state(inStat: $0) })
    }

    /// utime + stime (fields 14, 15), counted after a command holding spaces and parentheses;
    /// a short-lived launcher is not a worker (`ProcessTable.workerTicks`).
    func testCPUTicksInAStatFilesBytes() throws {
        let line = "4242 (py (x) y) R 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 500 1000 200"
        XCTAssertEqual(Array(line.utf8).withUnsafeBytes { ProcFS.cpuTicks(inStat: $0) }, 42)
        XCTAssertNil(Array("7 (x) R 1 7 7 0".utf8).withUnsafeBytes { ProcFS.cpuTicks(inStat: $0) })
        let own = try readTextFile("/proc/self/stat")
        XCTAssertNotNil(Array(own.utf8).withUnsafeBytes { ProcFS.cpuTicks(inStat: $0) }, "the kernel's own file parses")
    }

    /// A group whose `pids.current` the test sets.
    final class FakeGroup: RunGroup {
        var pids = 0
        let name = "confine-1-test"
        let joinFiles: [String] = []
        let cloneIntoDirectory: String? = nil
        let kernelPaths: [String: String] = [:]
        let warnings: [String] = []
        func sample(detail: Bool, into sample: inout CgroupSample) { sample.pids = pids }
        func memoryPeak() -> (bytes: UInt64, source: RunReport.Memory.PeakSource)? { nil }
        func takeSegmentPeak() -> UInt64? { nil }
        func appliedMemoryLimit() -> UInt64? { nil }
        func pidsPeak() -> Int? { nil }
        func forkFailures() -> UInt64? { nil }
        func oomKillCount() -> UInt64 { 0 }
        func memoryPressure() -> RunReport.MemoryPressure? { nil }
        func memberPids() -> [Int32] { [] }
        func sampledPids(into pids: inout [Int32]) { pids = [] }
        func signalAll(_ signal: Int32) {}
        func killAll() {}
        func remove() throws(CgroupError) {}
    }

    func testTheSamplerAsksForACensusNearTheLimitAndAgainAtItThenNoMore() {
        let group = FakeGroup()
        let sampler = GroupSampler(group: group, start: 0, interval: 0.01, pidsLimit: 64)
        var asked: [Int] = []
        for (index, pids) in [10, 61, 62, 63, 62, 64, 63, 64, 30, 64].enumerated() {
            group.pids = pids
            sampler.sample(at: Double(index) * 0.01, detail: false)
            if sampler.takePidsCensusDue() { asked.append(pids) }
        }
        XCTAssertEqual(asked, [62, 64], "within 1/32 of the limit (62 of 64), then at the limit itself")

        let unlimited = GroupSampler(group: group, start: 0, interval: 0.01)
        group.pids = 5000
        unlimited.sample(at: 0, detail: false)
        XCTAssertFalse(unlimited.takePidsCensusDue(), "no limit, no census")
    }
}
