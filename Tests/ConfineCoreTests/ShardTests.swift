@testable import ConfineCore
import Foundation
import XCTest

/// Issue 21 §1: disjoint shards that cover the suite, the same split on every machine, balanced
/// by a previous run's durations; merge checks the set it gets.
final class ShardTests: XCTestCase {
    func testPositionsParseAsACIMatrixCountsThem() throws {
        XCTAssertEqual(try ShardPosition.parse("2/3"), ShardPosition(index: 2, total: 3))
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/2000", "-1/3"] {
            XCTAssertThrowsError(try ShardPosition.parse(bad), bad) { XCTAssertTrue(($0 as? UnitError)?.message.contains("expected I/N") == true) }
        }
    }

    /// FNV-1a 64 as published (the pytest plugin computes the same; ShardScenarioTests runs it).
    func testTheHashIsFNV1a() {
        XCTAssertEqual(ShardAssignment.hash(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(ShardAssignment.hash("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(ShardAssignment.hash("foobar"), 0x8594_4171_f739_67e8)
    }

    func testShardsAreDisjointAndCoverTheSuite() {
        let names = (0..<1000).map { "tests/test_\($0 / 10).py::test_\($0)" }
        for total in [1, 2, 3, 7] {
            let assignment = ShardAssignment(total: total)
            let parts = (1...total).map { assignment.select(names, for: ShardPosition(index: $0, total: total)) }
            XCTAssertEqual(parts.reduce(0) { $0 + $1.count }, names.count, "every test once")
            XCTAssertEqual(Set(parts.joined()), Set(names))
            if total == 3 { XCTAssertTrue(parts.allSatisfy { $0.count > 250 }, "a hash spreads: \(parts.map(\.count))") }
        }
    }

    /// A 30-test suite whose three long tests dominate: three shards within 30% of each other.
    func testDurationsBalanceTheShards() {
        var durations: [(name: String, seconds: Double)] = [("slow_a", 20), ("slow_b", 18), ("slow_c", 15)]
        durations += (0..<27).map { ("fast_\($0)", 0.2 + Double($0 % 5) * 0.1) }
        let assignment = ShardAssignment.balanced(durations: durations, total: 3)
        let loads = (1...3).map { shard in durations.filter { assignment.shard(of: $0.name) == shard }.reduce(0) { $0 + $1.seconds } }
        XCTAssertLessThanOrEqual((loads.max()! - loads.min()!) / loads.max()!, 0.30, "\(loads)")
        XCTAssertEqual(Set(["slow_a", "slow_b", "slow_c"].map(assignment.shard(of:))).count, 3, "one long test per shard")
        // By hash alone the long tests may share a shard: the reason durations are asked for.
        XCTAssertEqual(assignment.shard(of: "new_test"), Int(ShardAssignment.hash("new_test") % 3) + 1, "a test the durations lack goes by hash")
        let json = try? JSONSerialization.jsonObject(with: assignment.json()) as? [String: Any]
        XCTAssertEqual(json?["total"] as? Int, 3)
        XCTAssertEqual((json?["assigned"] as? [String: Int])?["slow_a"], assignment.shard(of: "slow_a"))
    }

    /// `swift test list` names stand for the report's names of the same tests.
    func testListedSwiftNamesTakeTheReportsDurations() {
        XCTAssertEqual(ShardAssignment.reportName(listed: "PricingTests.MemoryXCTests/testSmallA"), "MemoryXCTests.testSmallA")
        XCTAssertEqual(ShardAssignment.reportName(listed: "PricingTests.smallOne()"), "smallOne()")
        XCTAssertEqual(ShardAssignment.reportName(listed: "tests/test_x.py::test_y"), "tests/test_x.py::test_y")
        let assignment = ShardAssignment(total: 3, assigned: ["MemoryXCTests.testSmallA": 3])
        XCTAssertEqual(assignment.aliasing(["PricingTests.MemoryXCTests/testSmallA"]).shard(of: "PricingTests.MemoryXCTests/testSmallA"), 3)
    }

    func testMergeSaysWhenShardsAreMissingRepeatedOrOverlap() throws {
        func shard(_ index: Int, _ total: Int, _ tests: [String]) -> RunReport {
            var report = Fixtures.report(tests: tests.map { Fixtures.test($0, duration: 0.1, peak: 10 << 20, growth: 1 << 20) })
            report.shard = ShardPosition(index: index, total: total)
            return report
        }
        let complete = [("1.json", shard(1, 3, ["a"])), ("2.json", shard(2, 3, ["b"])), ("3.json", shard(3, 3, ["c"]))]
        XCTAssertEqual(ReportMerger.shardProblems(complete), [])
        let merged = try ReportMerger.merge(complete)
        XCTAssertNil(merged.shard)
        XCTAssertEqual(merged.tests.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 3, ["a"])), ("3.json", shard(3, 3, ["c"]))]),
                       ["merge: shard 2/3 is missing: its tests are not in the merged report"])
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 2, ["a"])), ("1b.json", shard(1, 2, ["b"])), ("2.json", shard(2, 2, ["c"]))]),
                       ["merge: shard 1/2 is given 2 times (1.json, 1b.json): the merged report has it once, from 1.json"])
        // Merged once: the same shard twice does not count its tests twice.
        let twice = try ReportMerger.merge([("1.json", shard(1, 2, ["a"])), ("1.json", shard(1, 2, ["a"])), ("2.json", shard(2, 2, ["c"]))])
        XCTAssertEqual(twice.tests.map(\.name), ["a", "c"])
        XCTAssertEqual(twice.shards?.map(\.path), ["1.json", "2.json"])
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 2, ["a", "x"])), ("2.json", shard(2, 2, ["x"]))]),
                       ["merge: 1 test ran in more than one shard (the shards overlap; the merged report keeps each from the first shard given), e.g. x in 1/2 and 2/2"])
        XCTAssertEqual(try ReportMerger.merge([("1.json", shard(1, 2, ["a", "x"])), ("2.json", shard(2, 2, ["x", "b"]))]).tests.map(\.name),
                       ["a", "x", "b"], "x counted once")
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 2, ["a"])), ("2.json", shard(2, 3, ["b"]))]).first?
                        .hasPrefix("merge: the shards disagree on how many there are"), true)
        // Shards of different splits that ran the same test: the overlap is said too.
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 3, ["a", "x"])), ("s.json", shard(1, 2, ["x"]))]).last,
                       "merge: 1 test ran in more than one shard (the shards overlap; the merged report keeps each from the first shard given), e.g. x in 1/3 and 1/2")
        XCTAssertEqual(ReportMerger.shardProblems([("1.json", shard(1, 2, ["a\n::error::x"])), ("2.json", shard(2, 2, ["a\n::error::x"]))]).last?
                        .contains("e.g. a␊::error::x in 1/2"), true, "a name cannot start a line of the warning")
        XCTAssertTrue(try ReportMerger.merge([("1.json", shard(1, 3, ["a"]))]).warnings.contains { $0.contains("shard 2/3 is missing") })
    }
}
