@testable import ConfineLinux
import Foundation
import XCTest

/// The process table stays bounded however many processes a run starts (bench/long-run found
/// it growing by every exited process), without losing what the report needs from it.
final class ProcessTableTests: XCTestCase {
    private func table() -> ProcessTable {
        var table = ProcessTable()
        table.commandLine = { "cmd-\($0)" }
        table.addRoot(1000, at: 0)
        return table
    }

    func testTenThousandShortLivedChildrenKeepTheTableBounded() {
        var table = table()
        let sigkill: UInt32 = 9
        for child in Int32(2000)..<12000 {
            let time = Double(child) / 1000
            table.handle(.fork(parent: 1000, child: child), at: time)
            // A few big ones early, a few SIGKILLed ones, the rest small and ordinary.
            table.notePeak(child, bytes: child < 2010 ? 1 << 30 : 1 << 20)
            table.handle(.exit(pid: child, status: child % 1000 == 0 ? sigkill : 0), at: time)
        }
        XCTAssertLessThanOrEqual(table.exited.count, ProcessTable.exitedLimit)
        XCTAssertEqual(table.tree, [1000], "exited processes leave the tree")
        XCTAssertEqual(table.live.count, 1)
        // The early big ones survive compaction (the report's top 50), so do all SIGKILLed ones.
        let big = table.entries.filter { $0.entry.peakRssBytes == 1 << 30 }.map(\.pid)
        XCTAssertEqual(big.sorted(), Array(2000..<2010))
        XCTAssertEqual(table.sigkilled(before: 100).map(\.pid), Array(stride(from: Int32(2000), to: 12000, by: 1000)))
        XCTAssertEqual(table.command(of: 11999), "cmd-11999", "recent exits keep their names")
    }

    func testAReusedPidStartsAFreshEntry() {
        var table = table()
        table.handle(.fork(parent: 1000, child: 42), at: 1)
        table.handle(.exit(pid: 42, status: 9), at: 2)
        table.commandLine = { "second-\($0)" }
        table.handle(.fork(parent: 1000, child: 42), at: 3)
        XCTAssertEqual(table.live[42]?.exitStatus, nil, "the new process has not exited")
        XCTAssertEqual(table.command(of: 42), "second-42")
        XCTAssertEqual(table.sigkilled(before: 10).map(\.pid), [42], "the first one's SIGKILL is still known")
        table.notePeak(42, bytes: 5)
        XCTAssertEqual(table.live[42]?.peakRssBytes, 5)
        XCTAssertEqual(table.exited.first?.entry.peakRssBytes, 0)
    }

    func testAPeakReportedAfterTheExitReachesTheExitedEntry() {
        var table = table()
        table.handle(.fork(parent: 1000, child: 7), at: 1)
        table.handle(.exit(pid: 7, status: 0), at: 2)
        table.notePeak(7, bytes: 123)
        XCTAssertEqual(table.exited.last?.entry.peakRssBytes, 123)
        table.notePeak(8, bytes: 456) // not of the run
        XCTAssertNil(table.entries.first { $0.pid == 8 })
    }
}
