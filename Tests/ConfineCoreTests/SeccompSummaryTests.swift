@testable import ConfineCore
import Foundation
import XCTest

/// How seccomp denials reach the summary: expected fallbacks (ENOSYS) grouped on one line, real
/// denials one by one, and every denial kept in the report with its syscall number.
final class SeccompSummaryTests: XCTestCase {
    static func violation(_ syscall: String, number: Int32?, errno: Int32, pid: Int32, count: Int = 1) -> RunReport.SeccompViolation {
        RunReport.SeccompViolation(syscall: syscall, action: .errno, errno: errno, errnoName: errnoName(errno), pid: pid,
                                   command: "/usr/bin/python3 -c pass", count: count, firstSeconds: 0.1, lastSeconds: 0.2,
                                   number: number)
    }

    static func report(_ violations: [RunReport.SeccompViolation]) -> RunReport {
        var report = Fixtures.report()
        report.seccomp = .init(profile: "container-default", defaultAction: .errno(1), rules: 363, instructions: 1226,
                               violations: violations)
        return report
    }

    static let mixed = report((0..<9).map { violation("clone3", number: 435, errno: 38, pid: 100 + Int32($0)) }
                              + [violation("unshare", number: 272, errno: 1, pid: 104, count: 3)])

    func seccompLines(_ report: RunReport) -> [String] {
        Summary.render(report, reportPath: nil).split(separator: "\n").map(String.init).filter { $0.hasPrefix("  seccomp  ") }
    }

    func testExpectedFallbacksAreOneGroupedLineAndRealDenialsAreListed() {
        XCTAssertEqual(seccompLines(Self.mixed), [
            "  seccomp  expected fallbacks: clone3 → ENOSYS in 9 processes (glibc falls back)",
            "  seccomp  python3 -c pass (pid 104): unshare ×3 → EPERM",
        ])
    }

    func testFallbacksOfSeveralSyscallsAndOneProcessShareTheLine() {
        let report = Self.report([Self.violation("clone3", number: 435, errno: 38, pid: 7, count: 2),
                                  Self.violation("faccessat2", number: 439, errno: 38, pid: 7)])
        XCTAssertEqual(seccompLines(report), [
            "  seccomp  expected fallbacks: clone3 → ENOSYS in 1 process, faccessat2 → ENOSYS in 1 process (glibc falls back)",
        ])
        XCTAssertEqual(seccompLines(Self.report([])), ["  seccomp  container-default: no denied calls"])
        // ENOSYS for a call nothing falls back from reaches the program: a denial, not noise.
        XCTAssertEqual(seccompLines(Self.report([Self.violation("getsid", number: 124, errno: 38, pid: 7)])).count, 1)
        XCTAssertFalse(seccompLines(Self.report([Self.violation("getsid", number: 124, errno: 38, pid: 7)]))[0].contains("expected fallbacks"))
    }

    func testClone3EPERMSaysGlibcFallsBackOnlyOnENOSYS() {
        let report = Self.report([Self.violation("clone3", number: 435, errno: 1, pid: 7, count: 2),
                                  Self.violation("mount", number: 165, errno: 1, pid: 7)])
        XCTAssertEqual(seccompLines(report), [
            "  seccomp  python3 -c pass (pid 7): clone3 ×2 → EPERM (glibc falls back to clone only on ENOSYS)",
            "  seccomp  python3 -c pass (pid 7): mount ×1 → EPERM",
        ])
    }

    func testTheReportKeepsEveryViolationWithItsNumber() throws {
        let decoded = try RunReport.decode(try Self.mixed.jsonData())
        XCTAssertEqual(decoded, Self.mixed)
        XCTAssertEqual(decoded.seccomp?.violations.count, 10, "expected fallbacks stay in the report")
        XCTAssertEqual(decoded.seccomp?.violations.map(\.number), Array(repeating: 435, count: 9) + [272])
        let json = String(decoding: try Self.mixed.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"number\" : 435"), json)
    }

    func testAReportWithoutNumbersStillReads() throws {
        let old = Self.report([Self.violation("clone3", number: nil, errno: 38, pid: 7)])
        let json = String(decoding: try old.jsonData(), as: UTF8.self)
        XCTAssertFalse(json.contains("\"number\""), json)
        let decoded = try RunReport.decode(Data(json.utf8))
        XCTAssertEqual(decoded.seccomp?.violations.first?.syscall, "clone3")
        XCTAssertNil(decoded.seccomp?.violations.first?.number)
    }
}
