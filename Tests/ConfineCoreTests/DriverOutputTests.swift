import Foundation
import XCTest
@testable import ConfineCore

/// Load drivers' output as the real tools write it (Tests/Fixtures/load: hey 0.1.4 and wrk 4.1
/// from Debian, against a local server), and bad input named by file, line and column.
final class DriverOutputTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/load/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    func testHeysCSVGivesEveryRequest() throws {
        let result = try DriverOutput.parse(try fixture("hey.csv"), format: .hey, path: "hey.csv")
        XCTAssertEqual(result.requests, 35)
        XCTAssertEqual(result.latencies.count, 35)
        XCTAssertEqual(result.latencies.first ?? 0, 0.2491, accuracy: 1e-9)
        XCTAssertEqual(result.errors, 0)
        XCTAssertEqual(result.durationSeconds ?? 0, 2, accuracy: 0.5)
    }

    func testWrksReportGivesItsPercentiles() throws {
        let result = try DriverOutput.parse(try fixture("wrk.txt"), format: .wrk, path: "wrk.txt")
        XCTAssertEqual(result.percentiles[50] ?? 0, 0.21693, accuracy: 1e-9)
        XCTAssertEqual(result.percentiles[99] ?? 0, 0.24352, accuracy: 1e-9)
        XCTAssertEqual(result.requests, 35)
        XCTAssertEqual(result.durationSeconds ?? 0, 2.0, accuracy: 1e-9)
    }

    func testPlainLatenciesAndBadInput() throws {
        let result = try DriverOutput.parse("0.012\n  12.5ms\n# comment\n3us\n", format: .plain, path: "l.txt")
        XCTAssertEqual(result.latencies, [0.012, 0.0125, 3e-6])
        XCTAssertThrowsError(try DriverOutput.parse("0.1\n  fast\n", format: .plain, path: "l.txt")) { error in
            XCTAssertEqual("\(error)", "l.txt:2:3: 'fast' is not a latency: a number of seconds or a duration such as 12.5ms")
        }
        XCTAssertThrowsError(try DriverOutput.parse("Summary:\n  Total: 2s\n", format: .hey, path: "h")) { error in
            XCTAssertTrue("\(error)".hasPrefix("h:1:1: expected hey's CSV header"), "\(error)")
        }
        XCTAssertThrowsError(try DriverOutput.parse("Running 2s test\n", format: .wrk, path: "w")) { error in
            XCTAssertTrue("\(error)".contains("run wrk with --latency"), "\(error)")
        }
    }

    func testTheFormatIsDetectedFromTheDriverCommand() {
        XCTAssertEqual(DriverOutput.detect(["hey", "-z", "30s", "-o", "csv", "http://x"]), .hey)
        XCTAssertEqual(DriverOutput.detect(["/usr/bin/wrk", "-d", "5s", "--latency", "http://x"]), .wrk)
        XCTAssertNil(DriverOutput.detect(["hey", "http://x"]), "hey's text summary has no per-request latencies")
    }
}
