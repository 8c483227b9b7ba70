@testable import ConfineCore
import XCTest

final class RunnerOutputTests: XCTestCase {
    func events(_ lines: [String]) -> (events: [RunnerEvent], parser: SwiftTestOutputParser) {
        var parser = SwiftTestOutputParser()
        let events = lines.compactMap { parser.feed($0[...]) }
        return (events, parser)
    }

    func testXCTestLines() {
        let (found, parser) = events([
            "Test Suite 'All tests' started at 2026-11-22 12:17:25.582",
            "Test Case 'BigTests.testBig' started at 2026-11-22 12:17:25.620",
            "Test Case 'BigTests.testBig' passed (0.102 seconds)",
            "/tmp/A.swift:7: error: BigTests.testFails : XCTAssertEqual failed",
            "Test Case 'BigTests.testFails' failed (0.001 seconds)",
            "Test Case 'BigTests.testSkip' skipped (0.0 seconds)",
        ])
        XCTAssertEqual(found, [
            .started(.xctest, name: "BigTests.testBig"),
            .ended(.xctest, name: "BigTests.testBig", outcome: "passed", durationSeconds: 0.102),
            .ended(.xctest, name: "BigTests.testFails", outcome: "failed", durationSeconds: 0.001),
            .ended(.xctest, name: "BigTests.testSkip", outcome: "skipped", durationSeconds: 0),
        ])
        XCTAssertEqual(parser.unrecognizedCount, 0)
    }

    func testSwiftTestingLines() {
        let (found, parser) = events([
            "◇ Test run started.",
            "↳ Testing Library Version: 6.3.1 (937120cbc281cf2)",
            "◇ Suite STSuite started.",
            "◇ Test big() started.",
            "◇ Test \"Small one\" started.",
            "\u{1B}[1;32m✔\u{1B}[0m Test \"Small one\" passed after 0.001 seconds.",
            "✘ Test big() recorded an issue at A.swift:9:5: Expectation failed: 1 == 2",
            "✘ Test big() failed after 0.100 seconds with 1 issue.",
            "✔ Test f(x:) with 3 test cases passed after 0.004 seconds.",
            "➜ Test later() skipped: \"not yet\"",
            "✔ Suite STSuite passed after 0.101 seconds.",
            "✔ Test run with 3 tests in 1 suite passed after 0.101 seconds.",
        ])
        XCTAssertEqual(found, [
            .started(.swiftTesting, name: "big()"),
            .started(.swiftTesting, name: "Small one"),
            .ended(.swiftTesting, name: "Small one", outcome: "passed", durationSeconds: 0.001),
            .ended(.swiftTesting, name: "big()", outcome: "failed", durationSeconds: 0.1),
            .ended(.swiftTesting, name: "f(x:)", outcome: "passed", durationSeconds: 0.004),
            .ended(.swiftTesting, name: "later()", outcome: "skipped", durationSeconds: nil),
        ])
        XCTAssertEqual(parser.unrecognizedCount, 0)
    }

    func testLinesThatLookLikeBoundariesButDoNotParseAreCounted() {
        let (found, parser) = events(["Test Case 'X.y' exploded", "◇ Test nonsense started.", "plain output"])
        XCTAssertEqual(found, [])
        XCTAssertEqual(parser.unrecognizedCount, 2)
        XCTAssertEqual(parser.unrecognized.first, "Test Case 'X.y' exploded")
    }
}

final class JUnitReaderTests: XCTestCase {
    func testPytestFile() throws {
        let xml = """
        <?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.1">\
        <testcase classname="tests.test_a" name="test_ok" time="0.001" /><testcase classname="tests.test_a" name="test_bad[1-&lt;2&gt;]" time="0.002">\
        <failure message="assert 1 == 2">def test_bad():
        &gt;       assert 1 == 2</failure></testcase><testcase classname="tests.test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="no" /></testcase>\
        <testcase classname="tests.test_a" name="test_err" time="0.003"><error message="fixture"/></testcase></testsuite></testsuites>
        """
        let cases = try JUnitReader.parse(xml, path: "j.xml")
        XCTAssertEqual(cases.map(\.qualifiedName), ["tests.test_a.test_ok", "tests.test_a.test_bad[1-<2>]", "tests.test_a.test_skip", "tests.test_a.test_err"])
        XCTAssertEqual(cases.map(\.outcome), ["passed", "failed", "skipped", "error"])
        XCTAssertEqual(cases[1].durationSeconds, 0.002)
    }

    func testErrorsNameLineAndColumn() {
        let table: [(String, String)] = [
            ("", "j.xml:1:1: no <testsuites> or <testsuite> element"),
            ("{\"not\": \"xml\"}", "j.xml:1:1: text outside the root element; this is not an XML file"),
            ("<html><body/></html>", "j.xml:1:1: root element is <html>, expected <testsuites> or <testsuite>"),
            ("<testsuite>\n  <testcase name='a'>\n</testsuite>", "j.xml:3:1: </testsuite> closes <testcase>"),
            ("<testsuite>\n<testcase time='1'/></testsuite>", "j.xml:2:1: <testcase> without a name attribute"),
            ("<testsuite>\n<testcase name='a &bogus;'/></testsuite>", "j.xml:2:19: unknown entity &bogus;"),
            ("<testsuite><testcase name='a'/>", "j.xml:1:32: end of file inside <testsuite>"),
            ("<testsuite/><testsuite/>", "j.xml:1:13: a second root element <testsuite>"),
            ("<testsuite><!-- never closed", "j.xml:1:12: comment is not closed"),
        ]
        for (xml, expected) in table {
            XCTAssertThrowsError(try JUnitReader.parse(xml, path: "j.xml"), xml) { error in
                XCTAssertEqual("\(error)", expected, xml)
            }
        }
    }
}

final class ProbeWireTests: XCTestCase {
    func record(_ name: String, kind: ProbeWire.Kind = .call, duration: UInt64 = 1000, flags: UInt8 = 0, value: Int64 = 0) -> ProbeWire.Record {
        .init(kind: kind, flags: flags, name: name, tid: 7, startNanoseconds: 42, durationNanoseconds: duration, value: value)
    }

    func testRoundTrip() throws {
        let records = [record("a"), record("b", flags: 1, value: 4096), record("a", kind: .testEnd, flags: 1 | 4, value: 1 << 20)]
        let bytes = ProbeWire.encode(pid: 1234, dropped: 3, records: records)
        XCTAssertEqual(bytes.count, 20 + (2 + 1) * 2 + 3 * 32)
        let datagram = try bytes.withUnsafeBytes { try ProbeWire.decode($0) }
        XCTAssertEqual(datagram.pid, 1234)
        XCTAssertEqual(datagram.senderDropped, 3)
        XCTAssertEqual(datagram.records, records)
        XCTAssertEqual(datagram.records[1].bytes, 4096)
        XCTAssertEqual(datagram.records[2].outcome, .failed)
        XCTAssertEqual(datagram.records[2].processPeakBytes, 1 << 20)
    }

    func testMalformedDatagramsAreRefusedWithAReason() {
        var valid = ProbeWire.encode(pid: 1, records: [record("a")])
        let cases: [([UInt8], String)] = [
            (Array("CPRB".utf8), "shorter than the 20-byte header"),
            (Array("XXXX".utf8) + valid.dropFirst(4), "does not start with \"CPRB\""),
            (Array(valid.dropLast(5)), "header announces 1 records"),
            ({ var v = valid; v[4] = 9; return v }(), "protocol version 9"),
            ({ var v = valid; v[23] = 5; return v }(), "unknown kind 5"),
            ({ var v = valid; v[25] = 3; return v }(), "names entry 3 of 1"),
            ({ var v = valid; v[20] = 200; return v }(), "name 0 runs past"),
        ]
        for (bytes, reason) in cases {
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try ProbeWire.decode($0) }) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error) should contain \(reason)")
            }
        }
        valid[0] = UInt8(ascii: "C")
    }
}

final class AttributionLedgerTests: XCTestCase {
    let mib: UInt64 = 1 << 20

    func testSegmentPeaksGoToTheTestsOpenDuringThem() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "a", name: "a", source: .pytest, pid: 1, at: 0, memoryBytes: 30 * mib, cpuNanos: 0)
        ledger.segmentPeak(31 * mib)
        ledger.testEnded(key: "a", at: 1, outcome: "passed", memoryBytes: 30 * mib, cpuNanos: 500_000_000)
        ledger.testStarted(key: "big", name: "big", source: .pytest, pid: 1, at: 1, memoryBytes: 30 * mib, cpuNanos: 500_000_000)
        ledger.segmentPeak(130 * mib)
        ledger.testEnded(key: "big", at: 2, outcome: "passed", memoryBytes: 32 * mib, cpuNanos: 700_000_000)
        XCTAssertEqual(ledger.tests.map(\.peakGrowthBytes), [1 * mib, 100 * mib])
        XCTAssertEqual(ledger.tests[1].endGrowthBytes, Int64(2 * mib))
        XCTAssertEqual(ledger.tests[0].cpuSeconds ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertEqual(ledger.tests[1].durationSeconds, 1)
        XCTAssertEqual(ledger.test(at: 1.5), "big")
    }

    func testConcurrentTestsShareAndSayHowMany() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "x", name: "f()", source: .swiftTesting, pid: nil, at: 0, memoryBytes: 0, cpuNanos: 0)
        ledger.testStarted(key: "x", name: "f()", source: .swiftTesting, pid: nil, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        ledger.segmentPeak(10 * mib)
        ledger.testEnded(key: "x", at: 0.2, outcome: "passed", memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(ledger.tests.map(\.concurrentTests), [1, 1])
        XCTAssertEqual(ledger.tests.map(\.outcome), ["passed", "incomplete"], "same-named tests end first in, first out")
        XCTAssertEqual(ledger.maximumConcurrency, 2)
    }

    /// One call per datagram, as confine receives them (names resolved per datagram).
    func add(_ ledger: inout AttributionLedger, _ name: String, duration: UInt64, bytes: Int64?, memoryBytes: UInt64) throws {
        let record = ProbeWire.Record(kind: .call, flags: bytes == nil ? 0 : 1, name: name, tid: 1, startNanoseconds: 0,
                                      durationNanoseconds: duration, value: bytes ?? 0)
        let datagram = ProbeWire.encode(pid: 1, records: [record])
        try datagram.withUnsafeBytes { ledger.addCalls(try ProbeWire.scan($0), memoryBytes: memoryBytes) }
    }

    func testFunctionsHistogramAndLimit() throws {
        var ledger = AttributionLedger()
        for i in 0..<1000 { try add(&ledger, "f", duration: UInt64(1000 + i), bytes: 8, memoryBytes: UInt64(i)) }
        let record = ledger.functionRecords[0]
        XCTAssertEqual(record.calls, 1000)
        XCTAssertEqual(record.p50Seconds, 1.5e-6, accuracy: 0.01e-6)
        XCTAssertEqual(record.maxSeconds, 1.999e-6, accuracy: 0.002e-6)
        XCTAssertEqual(record.bytes, 8000)
        XCTAssertEqual(record.memoryGrowthBytes, 999)
        for i in 0..<(AttributionLedger.maximumFunctions + 5) { try add(&ledger, "g\(i)", duration: 1, bytes: nil, memoryBytes: 0) }
        XCTAssertEqual(ledger.droppedFunctionRecords, 6)
    }

    func testJUnitMatchesLiveNames() {
        XCTAssertTrue(AttributionLedger.isSame("examples/s/test_attribution.py::test_big",
                                               JUnitCase(name: "test_big", className: "examples.s.test_attribution", outcome: "passed")))
        XCTAssertTrue(AttributionLedger.isSame("MemoryXCTests.testBig", JUnitCase(name: "testBig", className: "PricingTests.MemoryXCTests", outcome: "passed")))
        XCTAssertFalse(AttributionLedger.isSame("MemoryXCTests.testBig", JUnitCase(name: "testBig", className: "Other", outcome: "passed")))
    }
}
