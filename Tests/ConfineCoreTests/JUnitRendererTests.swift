import XCTest
@testable import ConfineCore

/// The JUnit export (issue 21): each test's figures as `<properties>` in its `<testcase>`, none
/// for a test confine did not measure, and a well-formed document whatever the names hold.
/// Validation against `junit-10.xsd` itself is in EndToEndTests (`JUnitScenarioTests`).
final class JUnitRendererTests: XCTestCase {
    private func emptyReport() throws -> RunReport { try Fixtures.emptyReport() }

    private func test(_ name: String, _ outcome: TestRecord.Outcome = .passed, start: Double? = 1,
                      attribution: TestRecord.Attribution = .group, source: TestSource = .pytest) -> TestRecord {
        var record = TestRecord(name: name, source: source, startSeconds: start)
        record.outcome = outcome
        record.attribution = attribution
        record.endSeconds = start.map { $0 + 0.25 }
        record.durationSeconds = 0.25
        return record
    }

    /// The `<properties>` block of the test case named `name` (nil when it has none).
    private func propertiesBlock(_ xml: String, name: String) throws -> String? {
        let open = try XCTUnwrap(xml.range(of: " name=\"\(name)\" "), "no test case \(name) in\n\(xml)")
        let rest = xml[open.upperBound...]
        let caseEnd = rest.range(of: "/>\n    <testcase")?.lowerBound ?? rest.range(of: "</testcase>")?.lowerBound ?? rest.endIndex
        let nextCase = rest.range(of: "<testcase")?.lowerBound ?? rest.endIndex
        guard let start = rest.range(of: "<properties>"), start.lowerBound < min(caseEnd, nextCase),
              let end = rest.range(of: "</properties>") else { return nil }
        return String(rest[start.lowerBound..<end.upperBound])
    }

    func testATestWithFiguresCarriesThemAsPropertiesAndOneWithoutNone() throws {
        var report = try emptyReport()
        var measured = test("t/test_m.py::test_big")
        measured.cpuSeconds = 0.1234567
        measured.startBytes = 20 << 20
        measured.peakBytes = 130 << 20
        measured.peakGrowthBytes = 110 << 20
        measured.unreclaimablePeakBytes = 120 << 20
        measured.processPeakBytes = 118 << 20
        measured.throttledPeriods = 3
        measured.throttledSeconds = 0.125
        measured.oomKills = 1
        measured.concurrentTests = 2
        var own = test("Suite.testOwnProcess", attribution: .process, source: .xctest)
        own.peakBytes = 50 << 20
        own.cpuSeconds = 0.5
        var window = test("t/test_m.py::test_short", attribution: .window)
        window.peakBytes = 21 << 20
        window.cpuSeconds = 0
        window.unreclaimablePeakBytes = 19 << 20
        let imported = test("pkg.Imported.test_from_file", attribution: .junit, source: .junit)
        let neverRun = test("t/test_m.py::test_never", .notRun, start: nil)
        report.tests = [measured, own, window, imported, neverRun]
        let xml = JUnitRenderer.render(report)

        XCTAssertEqual(try propertiesBlock(xml, name: "test_big"), """
            <properties>
                    <property name="confine.attribution" value="group"/>
                    <property name="confine.cpu_seconds" value="0.123457"/>
                    <property name="confine.usage_peak_bytes" value="136314880"/>
                    <property name="confine.unreclaimable_peak_bytes" value="125829120"/>
                    <property name="confine.process_peak_rss_bytes" value="123731968"/>
                    <property name="confine.owned_peak_bytes" value="125829120"/>
                    <property name="confine.throttled_periods" value="3"/>
                    <property name="confine.throttled_seconds" value="0.125000"/>
                    <property name="confine.oom_kills" value="1"/>
                    <property name="confine.concurrent_tests" value="2"/>
                  </properties>
            """, xml)
        // Measured by its own process: its peak is that process's RSS, not the group's usage.
        XCTAssertEqual(try propertiesBlock(xml, name: "testOwnProcess"), """
            <properties>
                    <property name="confine.attribution" value="process"/>
                    <property name="confine.cpu_seconds" value="0.500000"/>
                    <property name="confine.process_peak_rss_bytes" value="52428800"/>
                    <property name="confine.owned_peak_bytes" value="52428800"/>
                    <property name="confine.oom_kills" value="0"/>
                    <property name="confine.concurrent_tests" value="0"/>
                  </properties>
            """, xml)
        let short = try XCTUnwrap(try propertiesBlock(xml, name: "test_short"), xml)
        XCTAssertTrue(short.contains("<property name=\"confine.attribution\" value=\"window\"/>"), short)
        XCTAssertTrue(short.contains("<property name=\"confine.cpu_seconds\" value=\"0.000000\"/>"), short)
        XCTAssertTrue(short.contains("<property name=\"confine.usage_peak_bytes\" value=\"\(21 << 20)\"/>"), short)
        XCTAssertFalse(short.contains("throttled"), "no figure, no property: \(short)")
        // Known only from a JUnit file, or never started: nothing measured, no <properties>.
        XCTAssertTrue(xml.contains("<testcase classname=\"pkg.Imported\" name=\"test_from_file\" time=\"0.250\"/>"), xml)
        XCTAssertNil(try propertiesBlock(xml, name: "test_from_file"), xml)
        XCTAssertNil(try propertiesBlock(xml, name: "test_never"), xml)
        XCTAssertTrue(xml.contains("""
                <testcase classname="t.test_m" name="test_never" time="0.250">
                  <skipped type="not_run"
            """), xml)
        XCTAssertEqual(xml.components(separatedBy: "<properties>").count - 1, 3, "one block per measured test, none for the run or budgets")

        // The properties do not change what a JUnit reader makes of the cases.
        let cases = try JUnitReader.parse(xml, path: "r.xml")
        XCTAssertEqual(cases.map(\.name), ["run pytest", "test_big", "testOwnProcess", "test_short", "test_from_file", "test_never"])
        XCTAssertEqual(cases.map(\.outcome), [.passed, .passed, .passed, .passed, .passed, .skipped])
    }

    func testTheSuitesCarryOnlyWhatTheStrictSchemaAdmits() throws {
        var report = try emptyReport()
        report.durationSeconds = .nan
        report.tests = [test("t.py::test_skip", .skipped)]
        let xml = JUnitRenderer.render(report)
        // junit-10.xsd: no `skipped` on <testsuites> (it is on <testsuite>); times as SUREFIRE_TIME.
        XCTAssertTrue(xml.contains("<testsuites name=\"confine\" tests=\"2\" failures=\"0\" errors=\"0\" time=\"0.000\">\n"), xml)
        XCTAssertTrue(xml.contains("<testsuite name=\"confine\" tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\" time=\"0.000\">\n"), xml)
        XCTAssertEqual(JUnitRenderer.seconds(-1), "0.000")
        XCTAssertEqual(JUnitRenderer.seconds(.infinity), "0.000")
        XCTAssertEqual(JUnitRenderer.seconds(1234.5), "1234.500")
    }

    /// ANSI colour codes from a test's output, a NUL, a bell: XML 1.0 admits none of them, even
    /// as a character reference. The document stays well-formed and says where they were.
    func testControlCharactersInNamesAndMessagesStillGiveAValidDocument() throws {
        var report = try emptyReport()
        report.command = ["pytest", "-k", "\u{1B}[31mred\u{1B}[0m"]
        report.outcome = .failed
        report.exitCode = 1
        report.reason = "the command exited with status 1\u{7}\nsecond line\u{0}\u{FFFF}"
        var crashed = test("t.py::test_colour[\u{1B}[1mbold\u{1B}[0m]", .crashed)
        crashed.cpuSeconds = 0.01
        report.tests = [crashed]
        var kill = RunReport.OOMKill(pid: 7, command: "python3\u{1B}[0m -c x", atSeconds: 0.5, usageBytes: nil, limitBytes: nil,
                                     mainProcess: false, source: .kernelLog)
        kill.test = crashed.name
        report.oomKills = [kill]
        let xml = JUnitRenderer.render(report)

        let forbidden = xml.unicodeScalars.filter { scalar in
            (scalar.value < 0x20 && ![0x9, 0xA, 0xD].contains(scalar.value)) || scalar.value == 0xFFFE || scalar.value == 0xFFFF
        }
        XCTAssertEqual(forbidden.map(\.value), [], "characters XML 1.0 forbids: \(xml)")
        XCTAssertTrue(xml.contains("name=\"test_colour[␛[1mbold␛[0m]\""), xml)
        XCTAssertTrue(xml.contains("name=\"run pytest -k ␛[31mred␛[0m\""), xml)
        // A newline in an attribute is kept as a reference (a parser would make it a space).
        XCTAssertTrue(xml.contains("message=\"the command exited with status 1␇&#10;second line␀\u{FFFD}\""), xml)
        let cases = try JUnitReader.parse(xml, path: "r.xml")
        XCTAssertEqual(cases.map(\.name), ["run pytest -k ␛[31mred␛[0m", "test_colour[␛[1mbold␛[0m]"])
        XCTAssertEqual(cases.map(\.outcome), [.failed, .error])
    }

    func testEscapingKeepsWhatXMLAllows() {
        XCTAssertEqual("a<b>&\"c\"\té😀".xmlEscaped, "a&lt;b&gt;&amp;&quot;c&quot;\té😀")
        XCTAssertEqual("a\tb\r\nc".xmlAttributeEscaped, "a&#9;b&#13;&#10;c")
        XCTAssertEqual("\u{1B}\u{1F}\u{7F}\u{FFFE}".xmlEscaped, "␛␟\u{7F}\u{FFFD}", "DEL is allowed in XML 1.0")
    }
}
