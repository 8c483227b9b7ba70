@testable import ConfineLinux
import Foundation
import XCTest

/// Whose is a leftover: a live owner is the process that made the directory, whatever its name.
final class GarbageCollectorTests: XCTestCase {
    func testALiveOwnerIsKnownByItsStartTimeNotItsName() throws {
        // A process that is not named confine, started now.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { child.terminate(); child.waitUntilExit() }
        let pid = child.processIdentifier

        // A directory made after it started: that process is its owner, although it is `sleep`.
        let made = NSTemporaryDirectory() + "confine-\(pid)-0000abcd"
        try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: made) }
        XCTAssertTrue(GarbageCollector.ownerIsRunning(pidIn: "\(pid)-0000abcd", of: made))

        // A directory that last changed long before the process started: the pid was reused.
        let old = "/usr/share"
        let changed = try XCTUnwrap(GarbageCollector.changeTime(of: old))
        XCTAssertLessThan(changed, Date().timeIntervalSince1970 - 60, "\(old) should not have changed in the last minute")
        XCTAssertFalse(GarbageCollector.ownerIsRunning(pidIn: "\(pid)-0000abcd", of: old))

        // A pid that is not alive, and a name without a pid.
        child.terminate()
        child.waitUntilExit()
        XCTAssertFalse(GarbageCollector.ownerIsRunning(pidIn: "\(pid)-0000abcd", of: made))
        XCTAssertFalse(GarbageCollector.ownerIsRunning(pidIn: "x-0000abcd", of: made))
        XCTAssertTrue(GarbageCollector.ownerIsRunning(pidIn: "\(getpid())-1", of: old), "confine's own groups are never leftovers")
    }

    func testBootTimeIsReadFromProcStat() throws {
        let boot = try XCTUnwrap(ProcFS.bootTimeSeconds())
        XCTAssertLessThan(Double(boot), Date().timeIntervalSince1970)
        XCTAssertGreaterThan(boot, 1_500_000_000)
    }
}
