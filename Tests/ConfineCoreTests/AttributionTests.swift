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
            .ended(.xctest, name: "BigTests.testBig", outcome: .passed, durationSeconds: 0.102),
            .ended(.xctest, name: "BigTests.testFails", outcome: .failed, durationSeconds: 0.001),
            .ended(.xctest, name: "BigTests.testSkip", outcome: .skipped, durationSeconds: 0),
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
            "◇ Test case passing 1 argument x → 1 to f(x:) started.",
            "✔ Test case passing 1 argument x → 1 to f(x:) passed after 0.001 seconds.",
            "✔ Test f(x:) with 3 test cases passed after 0.004 seconds.",
            "➜ Test later() skipped: \"not yet\"",
            "✔ Suite STSuite passed after 0.101 seconds.",
            "✔ Test run with 3 tests in 1 suite passed after 0.101 seconds.",
        ])
        XCTAssertEqual(found, [
            .started(.swiftTesting, name: "big()"),
            .started(.swiftTesting, name: "Small one"),
            .ended(.swiftTesting, name: "Small one", outcome: .passed, durationSeconds: 0.001),
            .ended(.swiftTesting, name: "big()", outcome: .failed, durationSeconds: 0.1),
            .ended(.swiftTesting, name: "f(x:)", outcome: .passed, durationSeconds: 0.004),
            .ended(.swiftTesting, name: "later()", outcome: .skipped, durationSeconds: nil),
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
        XCTAssertEqual(cases.map(\.outcome), [.passed, .failed, .skipped, .error])
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
        ledger.testEnded(key: "a", at: 1, outcome: .passed, memoryBytes: 30 * mib, cpuNanos: 500_000_000)
        ledger.testStarted(key: "big", name: "big", source: .pytest, pid: 1, at: 1, memoryBytes: 30 * mib, cpuNanos: 500_000_000)
        ledger.segmentPeak(130 * mib)
        ledger.testEnded(key: "big", at: 2, outcome: .passed, memoryBytes: 32 * mib, cpuNanos: 700_000_000)
        XCTAssertEqual(ledger.tests.map(\.peakGrowthBytes), [1 * mib, 100 * mib])
        XCTAssertEqual(ledger.tests[1].endGrowthBytes, Int64(2 * mib))
        XCTAssertEqual(ledger.tests[0].cpuSeconds ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertEqual(ledger.tests[1].durationSeconds, 1)
        XCTAssertEqual(ledger.test(at: 1.5), "big")
    }

    /// Short tests whose boundaries came batched: growth is the worker's (how far it raised its
    /// high-water mark) on the group's memory at the start; CPU comes from the readings.
    func testBatchedEndsTakeTheWorkersGrowthAndTheReadingsCPU() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "a", name: "a", source: .pytest, pid: 1, at: 0.010, memoryBytes: 40 * mib, cpuNanos: 5_000_000,
                           attribution: .window, processStartBytes: 30 * mib)
        // A later reading's peak (the next test's allocation) must not reach this test.
        ledger.testEndedBatched(key: "a", at: 0.011, outcome: .failed, reportedDuration: 0.001, cpuNanos: 5_800_000,
                                processPeakBytes: 30 * mib + 512 * 1024)
        let test = ledger.tests[0]
        XCTAssertEqual(test.attribution, .window)
        XCTAssertEqual(test.peakGrowthBytes, 512 * 1024)
        XCTAssertEqual(test.peakBytes, 40 * mib + 512 * 1024)
        XCTAssertNil(test.endGrowthBytes)
        XCTAssertEqual(test.cpuSeconds ?? 0, 0.0008, accuracy: 1e-12)
        XCTAssertEqual(test.outcome, .failed)
        XCTAssertEqual(ledger.openTestCount, 0)
        // A live start with a batched end becomes a window test too.
        ledger.testStarted(key: "b", name: "b", source: .pytest, pid: 1, at: 0.02, memoryBytes: 41 * mib, cpuNanos: 6_000_000,
                           processStartBytes: 31 * mib)
        XCTAssertNil(ledger.openWindowTestStart(key: "b"), "a live start is not placed by the readings")
        ledger.testEndedBatched(key: "b", at: 0.021, outcome: .passed, reportedDuration: 0.001, cpuNanos: 5_000_000,
                                processPeakBytes: 30 * mib)
        XCTAssertEqual(ledger.tests[1].attribution, .window)
        XCTAssertEqual(ledger.tests[1].peakGrowthBytes, 0, "a mark below the start is no growth")
        XCTAssertEqual(ledger.tests[1].cpuSeconds, 0, "CPU read backwards is none")
        // The owned memory at its start read while the previous test's 30 MiB was not yet freed:
        // it cannot own more than the group used.
        ledger.testStarted(key: "c", name: "c", source: .pytest, pid: 1, at: 0.03, memoryBytes: 31 * mib, cpuNanos: 6_000_000,
                           attribution: .window, processStartBytes: 31 * mib)
        ledger.testEndedBatched(key: "c", at: 0.031, outcome: .passed, reportedDuration: 0.001, cpuNanos: 6_000_000,
                                processPeakBytes: 31 * mib, unreclaimableStartBytes: 60 * mib)
        XCTAssertEqual(ledger.tests[2].peakBytes, 31 * mib)
        XCTAssertEqual(ledger.tests[2].unreclaimablePeakBytes, 31 * mib, "owned ≤ usage")
    }

    /// A long test whose start came batched: the window's peak covers what it did before confine knew.
    func testWindowStartWithLiveEndTakesTheWindowPeak() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "big", name: "big", source: .pytest, pid: 1, at: 1.0, memoryBytes: 40 * mib, cpuNanos: 0,
                           attribution: .window)
        XCTAssertEqual(ledger.openWindowTestStart(key: "big"), 1.0)
        ledger.segmentPeak(90 * mib)
        ledger.testEnded(key: "big", at: 1.5, outcome: .passed, memoryBytes: 41 * mib, cpuNanos: 400_000_000,
                         processPeakBytes: 140 * mib, windowPeakBytes: 140 * mib)
        let test = ledger.tests[0]
        XCTAssertEqual(test.attribution, .window)
        XCTAssertEqual(test.peakBytes, 140 * mib)
        XCTAssertEqual(test.peakGrowthBytes, 100 * mib)
        XCTAssertEqual(test.endGrowthBytes, Int64(mib))
        XCTAssertEqual(test.cpuSeconds ?? 0, 0.4, accuracy: 1e-9)
        XCTAssertEqual(test.processPeakBytes, 140 * mib)
    }

    func testConcurrentTestsShareAndSayHowMany() {
        var ledger = AttributionLedger()
        ledger.testStarted(key: "x", name: "f()", source: .swiftTesting, pid: nil, at: 0, memoryBytes: 0, cpuNanos: 0)
        ledger.testStarted(key: "x", name: "f()", source: .swiftTesting, pid: nil, at: 0.1, memoryBytes: 0, cpuNanos: 0)
        ledger.segmentPeak(10 * mib)
        ledger.testEnded(key: "x", at: 0.2, outcome: .passed, memoryBytes: 0, cpuNanos: 0)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(ledger.tests.map(\.concurrentTests), [1, 1])
        XCTAssertEqual(ledger.tests.map(\.outcome), [.passed, .crashed], "same-named tests end first in, first out")
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
                                               JUnitCase(name: "test_big", className: "examples.s.test_attribution", outcome: .passed)))
        XCTAssertTrue(AttributionLedger.isSame("MemoryXCTests.testBig", JUnitCase(name: "testBig", className: "PricingTests.MemoryXCTests", outcome: .passed)))
        XCTAssertFalse(AttributionLedger.isSame("MemoryXCTests.testBig", JUnitCase(name: "testBig", className: "Other", outcome: .passed)))
    }
}

final class GroupReadingsTests: XCTestCase {
    let mib: UInt64 = 1 << 20

    func readings(_ points: [(Double, UInt64, UInt64, UInt64)], capacity: Int = 64) -> GroupReadings {
        var readings = GroupReadings(capacity: capacity)
        for (time, memory, cpu, peak) in points {
            readings.append(.init(time: time, memoryBytes: memory * mib, cpuNanos: cpu, peakBytes: peak * mib))
        }
        return readings
    }

    func testSpanTakesTheIntervalsThatOverlapIt() throws {
        // Readings every 10 ms; the interval (0.02, 0.03] peaked at 90 MiB.
        let ring = readings([(0.00, 40, 0, 40), (0.01, 40, 10_000_000, 41), (0.02, 42, 20_000_000, 43),
                             (0.03, 45, 30_000_000, 90), (0.04, 44, 40_000_000, 46)])
        let inside = try XCTUnwrap(ring.span(from: 0.012, to: 0.018))
        XCTAssertEqual(inside.startBytes, 40 * mib)
        XCTAssertEqual(inside.endBytes, 42 * mib)
        XCTAssertEqual(inside.peakBytes, 43 * mib, "only the interval holding the span")
        XCTAssertEqual(inside.startCPUNanos, 12_000_000)
        XCTAssertEqual(inside.endCPUNanos, 18_000_000)
        let across = try XCTUnwrap(ring.span(from: 0.015, to: 0.035))
        XCTAssertEqual(across.peakBytes, 90 * mib)
        XCTAssertEqual(across.endBytes, 44 * mib)
        let onReading = try XCTUnwrap(ring.span(from: 0.03, to: 0.031))
        XCTAssertEqual(onReading.peakBytes, 90 * mib, "a start on a reading overlaps the interval it closes")
        XCTAssertEqual(ring.cpu(at: 0.035), 35_000_000)
    }

    func testSpansOutsideTheReadings() throws {
        let ring = readings([(1.0, 40, 100, 50), (2.0, 41, 200, 41)])
        let early = try XCTUnwrap(ring.span(from: 0.5, to: 0.6))
        XCTAssertEqual(early.startBytes, 40 * mib)
        XCTAssertEqual(early.peakBytes, 50 * mib, "the first reading's interval reaches back before it")
        XCTAssertEqual(early.startCPUNanos, 100)
        let late = try XCTUnwrap(ring.span(from: 2.5, to: 3.0))
        XCTAssertEqual(late.startBytes, 41 * mib)
        XCTAssertEqual(late.peakBytes, 41 * mib, "after the last reading only its memory is known")
        XCTAssertEqual(late.endCPUNanos, 200)
        XCTAssertNil(GroupReadings().span(from: 0, to: 1))
        XCTAssertEqual(GroupReadings().cpu(at: 1), 0)
    }

    func testTheRingKeepsTheNewestInOrder() throws {
        var ring = GroupReadings(capacity: 4)
        for step in 0..<10 {
            ring.append(.init(time: Double(step), memoryBytes: UInt64(step), cpuNanos: UInt64(step) * 10, peakBytes: UInt64(step)))
        }
        ring.append(.init(time: 3, memoryBytes: 99, cpuNanos: 0, peakBytes: 99))  // out of order: ignored
        XCTAssertEqual(ring.count, 4)
        XCTAssertEqual((0..<4).map { ring[$0].time }, [6, 7, 8, 9])
        XCTAssertEqual(ring.cpu(at: 7.5), 75)
        XCTAssertEqual(try XCTUnwrap(ring.span(from: 8.2, to: 8.4)).peakBytes, 9)
    }
}

final class RunningSlotsTests: XCTestCase {
    func file(_ slots: [(Int, [UInt8])]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: RunningSlots.fileSize)
        for (slot, content) in slots { bytes.replaceSubrange(slot * 512..<slot * 512 + 512, with: content) }
        return bytes
    }

    func testOnlyWholeSlotsOfTheirOwnProcessCount() {
        let good = RunningSlots.Test(pid: 130, startNanoseconds: 123_456_789, name: "tests/test_x.py::test_ü[1]")
        var torn = RunningSlots.encode(RunningSlots.Test(pid: 65, startNanoseconds: 1, name: "torn"), sequence: 3)
        var badName = RunningSlots.encode(RunningSlots.Test(pid: 67, startNanoseconds: 1, name: "ab"))
        badName[18] = 0xFF
        let misplaced = RunningSlots.encode(RunningSlots.Test(pid: 68, startNanoseconds: 1, name: "elsewhere"))
        var tooLong = RunningSlots.encode(RunningSlots.Test(pid: 69, startNanoseconds: 1, name: "x"))
        tooLong[16] = 0xFF
        tooLong[17] = 0x01
        let bytes = file([(130 % 64, RunningSlots.encode(good)), (1, torn), (3, badName), (9, misplaced), (5, tooLong)])
        XCTAssertEqual(bytes.withUnsafeBytes { RunningSlots.scan($0) }, [good])
        torn[0] = 4
        XCTAssertEqual(file([(1, torn)]).withUnsafeBytes { RunningSlots.scan($0) }.map(\.name), ["torn"], "written through")
        // A slot that changed between two reads is skipped; the others stand.
        var changed = bytes
        changed[2 * 512 + 20] ^= 1
        let confirmed = bytes.withUnsafeBytes { first in changed.withUnsafeBytes { RunningSlots.scan(first, confirmation: $0) } }
        XCTAssertEqual(confirmed, [])
        XCTAssertEqual(bytes.withUnsafeBytes { first in bytes.withUnsafeBytes { RunningSlots.scan(first, confirmation: $0) } }, [good])
        XCTAssertEqual([UInt8](repeating: 0xFF, count: 700).withUnsafeBytes { RunningSlots.scan($0) }, [])
        XCTAssertEqual([UInt8]().withUnsafeBytes { RunningSlots.scan($0) }, [])
    }

    func testTestsEndUpInTheOrderTheyBegan() {
        var ledger = AttributionLedger()
        // Read from the running file first, though it began after the two batched ones.
        ledger.testStarted(key: "1:c", name: "c", source: .pytest, pid: 1, at: 0.3, memoryBytes: 0, cpuNanos: 0, attribution: .window)
        ledger.testStarted(key: "1:a", name: "a", source: .pytest, pid: 1, at: 0.1, memoryBytes: 0, cpuNanos: 0, attribution: .window)
        ledger.testEndedBatched(key: "1:a", at: 0.15, outcome: .passed, reportedDuration: 0.05, cpuNanos: 0, processPeakBytes: nil)
        ledger.testStarted(key: "1:b", name: "b", source: .pytest, pid: 1, at: 0.2, memoryBytes: 0, cpuNanos: 0, attribution: .window)
        ledger.testEndedBatched(key: "1:b", at: 0.25, outcome: .passed, reportedDuration: 0.05, cpuNanos: 0, processPeakBytes: nil)
        ledger.finish(at: 1, memoryBytes: 0, cpuNanos: 0)
        XCTAssertEqual(ledger.tests.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(ledger.tests.map(\.concurrentTests), [0, 0, 0], "a test that began later did not run alongside")
        XCTAssertEqual(ledger.tests.map(\.outcome), [.passed, .passed, .crashed])
    }
}
