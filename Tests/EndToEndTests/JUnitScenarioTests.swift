import ConfineCore
import Foundation
import FoundationXML
import XCTest

/// The JUnit export (issue 21) as a CI reads it: a real pytest suite under `confine run`, then
/// `confine report --format junit` (and `confine compare --format junit`) validated by `xmllint`
/// against Jenkins xUnit's `junit-10.xsd` — the strict schema CI tools check with — and read back
/// with Foundation's XML parser: one test case per test, each measured test's figures as
/// `<properties>` with the report's values.
///
/// `ci/setup` installs xmllint (libxml2-utils) and fetches the schema into
/// /var/cache/confine-ci/junit-10.xsd (`CONFINE_JUNIT_XSD` to use another copy); without them
/// these tests fail, saying so.
final class JUnitScenarioTests: DirectoryScenario {
    static let schemaPath = ProcessInfo.processInfo.environment["CONFINE_JUNIT_XSD"] ?? "/var/cache/confine-ci/junit-10.xsd"

    /// xmllint and junit-10.xsd as fetched, or a failure naming what is missing.
    func tools() throws -> (xmllint: String, schema: String) {
        let xmllint = try XCTUnwrap(["/usr/bin/xmllint", "/bin/xmllint", "/usr/local/bin/xmllint"]
                                        .first { FileManager.default.isExecutableFile(atPath: $0) },
                                    "xmllint is not installed: run ci/setup (it installs libxml2-utils)")
        let schema = try XCTUnwrap(FileManager.default.fileExists(atPath: Self.schemaPath) ? Self.schemaPath : nil,
                                   "junit-10.xsd is not at \(Self.schemaPath): run ci/setup (it fetches it from pytest's source distribution)")
        return (xmllint, schema)
    }

    /// junit-10.xsd admitting the one extension confine's export uses: `<properties>` inside
    /// `<testcase>` (the schema has them inside `<testsuite>` only; pytest's `record_property`,
    /// Jenkins' JUnit plugin and Testmo put them in the test case). The minimal change: the
    /// schema's own `properties` element added to the choice of a test case's children, nothing
    /// else — so every other rule of the strict schema still holds for the export. Made here,
    /// from the file as fetched, so the repository carries no copy of the schema.
    func schemaWithTestCaseProperties(_ schema: String) throws -> String {
        let text = try String(contentsOfFile: schema, encoding: .utf8)
        let choice = "<xs:choice minOccurs=\"0\" maxOccurs=\"unbounded\">"
        let testcase = try XCTUnwrap(text.range(of: "<xs:element name=\"testcase\">"), "junit-10.xsd declares no testcase element")
        let rest = testcase.upperBound..<text.endIndex
        let children = try XCTUnwrap(text.range(of: choice, range: rest), "junit-10.xsd's testcase has no choice of children")
        let nextDeclaration = text.range(of: "<xs:element name=", range: rest)?.lowerBound ?? text.endIndex
        XCTAssertLessThan(children.lowerBound, nextDeclaration, "the choice found is not the test case's own")
        XCTAssertFalse(text[testcase.upperBound..<nextDeclaration].contains("ref=\"properties\""),
                       "junit-10.xsd now admits properties in a test case: validate against it unchanged")
        var derived = text
        derived.insert(contentsOf: "\n                    <xs:element ref=\"properties\" minOccurs=\"0\"/>", at: children.upperBound)
        let path = directory + "/junit-10-testcase-properties.xsd"
        try derived.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `xmllint --noout --schema schema file`: status 0 when the file is valid.
    func validate(_ file: String, against schema: String, xmllint: String) -> Harness.Result {
        Harness.run([xmllint, "--noout", "--schema", schema, file])
    }

    func write(_ report: RunReport, _ name: String) throws -> String {
        let path = directory + "/" + name
        try report.jsonData().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `confine report PATH --format junit --output DIR/NAME`; returns the XML file's path.
    func junit(of reportPath: String, _ name: String) -> String {
        let path = directory + "/" + name
        let result = Harness.run([Harness.confine, "report", reportPath, "--format", "junit", "--output", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return path
    }

    /// Each `<testcase>`: (classname, name, its properties by name).
    func testCases(_ path: String) throws -> [(className: String, name: String, properties: [String: String])] {
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: path), options: [])
        return try document.nodes(forXPath: "//testcase").compactMap { $0 as? XMLElement }.map { element in
            var properties: [String: String] = [:]
            for property in try element.nodes(forXPath: "properties/property").compactMap({ $0 as? XMLElement }) {
                let name = try XCTUnwrap(property.attribute(forName: "name")?.stringValue)
                XCTAssertNil(properties[name], "\(name) given twice")
                properties[name] = property.attribute(forName: "value")?.stringValue
            }
            return (element.attribute(forName: "classname")?.stringValue ?? "", element.attribute(forName: "name")?.stringValue ?? "",
                    properties)
        }
    }

    func testAPytestRunsExportValidatesAndCarriesEachTestsFiguresAsProperties() throws {
        let (xmllint, schema) = try tools()
        let suite = directory + "/suite"
        try FileManager.default.createDirectory(atPath: suite, withIntermediateDirectories: true)
        try """
            import time

            import pytest


            def test_allocates():
                b = bytearray(64 << 20)
                for i in range(0, len(b), 4096):
                    b[i] = 1
                time.sleep(0.05)


            def test_spins():
                end = time.process_time() + 0.2
                while time.process_time() < end:
                    pass


            def test_fails():
                assert 1 == 2


            @pytest.mark.skip(reason="not here")
            def test_skipped():
                pass

            """.write(toFile: suite + "/test_figures.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--memory", "256Mi", "--swap", "0"],
                                                  ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", suite, suite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 1, "one test fails: \(result.stderr)")
        XCTAssertEqual(Set(run.tests.map(\.name)), ["test_figures.py::test_allocates", "test_figures.py::test_spins",
                                                    "test_figures.py::test_fails", "test_figures.py::test_skipped"], result.stderr)
        let xml = junit(of: try write(run, "run.json"), "run.xml")

        // Valid under junit-10.xsd but for the test cases' <properties>; and that extension is
        // really there: the unmodified schema refuses it, for that reason only.
        let derived = try schemaWithTestCaseProperties(schema)
        let valid = validate(xml, against: derived, xmllint: xmllint)
        XCTAssertEqual(valid.status, 0, "the export is not valid under junit-10.xsd (+ test case properties):\n\(valid.stderr)")
        let strict = validate(xml, against: schema, xmllint: xmllint)
        XCTAssertNotEqual(strict.status, 0, "junit-10.xsd itself admits <properties> in a test case now: \(strict.stderr)")
        let refusals = strict.stderr.split(separator: "\n").filter { $0.contains("validity error") }
        XCTAssertFalse(refusals.isEmpty, strict.stderr)
        XCTAssertTrue(refusals.allSatisfy { $0.contains("Element 'properties': This element is not expected.") },
                      "junit-10.xsd refuses something besides the test cases' properties:\n\(strict.stderr)")

        let cases = try testCases(xml)
        let tests = cases.filter { $0.className != "confine.run" }
        XCTAssertEqual(cases.filter { $0.className == "confine.run" }.count, 1)
        XCTAssertEqual(tests.count, run.tests.count, "one test case per test: \(cases.map(\.name))")
        XCTAssertEqual(Set(tests.map(\.name)), ["test_allocates", "test_spins", "test_fails", "test_skipped"])
        for test in run.tests {
            let name = String(test.name.split(separator: ":").last!)
            let testCase = try XCTUnwrap(tests.first { $0.name == name && $0.className == "test_figures" }, "\(name) has no test case")
            let properties = testCase.properties
            XCTAssertEqual(properties["confine.attribution"], test.attribution.rawValue, name)
            // The figures are the report's, as plain numbers.
            let cpu = try XCTUnwrap(properties["confine.cpu_seconds"].flatMap(Double.init), "\(name): \(properties)")
            XCTAssertGreaterThanOrEqual(cpu, 0)
            XCTAssertEqual(cpu, try XCTUnwrap(test.cpuSeconds), accuracy: 1e-6, name)
            let peak = try XCTUnwrap((properties["confine.usage_peak_bytes"] ?? properties["confine.process_peak_rss_bytes"])
                                        .flatMap(UInt64.init), "\(name): \(properties)")
            XCTAssertGreaterThan(peak, 0, name)
            XCTAssertEqual(peak, test.peakBytes, name)
            XCTAssertEqual(properties["confine.owned_peak_bytes"].flatMap(UInt64.init), test.ownedPeakBytes, name)
            XCTAssertEqual(properties["confine.unreclaimable_peak_bytes"].flatMap(UInt64.init), test.unreclaimablePeakBytes, name)
            XCTAssertEqual(properties["confine.oom_kills"], "0", name)
            XCTAssertNil(properties["confine.throttled_periods"], "no CPU quota, no throttling figure: \(properties)")
        }
        let allocates = try XCTUnwrap(tests.first { $0.name == "test_allocates" }?.properties)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(allocates["confine.usage_peak_bytes"].flatMap(UInt64.init)), 64 << 20,
                                    "the group held the test's 64 MiB at its peak: \(allocates)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(allocates["confine.owned_peak_bytes"].flatMap(UInt64.init)), 60 << 20,
                                    "the test's 64 MiB are anonymous memory: \(allocates)")
        let spins = try XCTUnwrap(tests.first { $0.name == "test_spins" }?.properties)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(spins["confine.cpu_seconds"].flatMap(Double.init)), 0.15,
                                    "the test spun 0.2 s of CPU: \(spins)")
    }

    /// What carries no per-test figures is valid under junit-10.xsd exactly as fetched: a run
    /// without tests, tests known only from a JUnit file — whose names and the run's reason hold
    /// ANSI colour codes, a bell, a NUL and a newline — and a comparison.
    func testARunWithoutTestsAndAComparisonAreValidUnderTheUnmodifiedSchema() throws {
        let (xmllint, schema) = try tools()
        let (result, report) = Harness.confineRun(["--memory", "64Mi"], ["true"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var run = try XCTUnwrap(report)
        XCTAssertEqual(run.tests, [])
        let empty = junit(of: try write(run, "empty.json"), "empty.xml")
        let emptyValid = validate(empty, against: schema, xmllint: xmllint)
        XCTAssertEqual(emptyValid.status, 0, "a run without tests is not valid under junit-10.xsd:\n\(emptyValid.stderr)")

        // Imported from a JUnit file: no figures, so no properties; names from a colour terminal.
        var base = run
        for (index, name) in ["pkg.Suite.test_\u{1B}[31mred\u{1B}[0m", "pkg.Suite.test_bell\u{7}", "pkg.Suite.test_plain"].enumerated() {
            var test = TestRecord(name: name, source: .junit, startSeconds: nil)
            test.attribution = .junit
            test.outcome = index == 0 ? .failed : .passed
            test.durationSeconds = 0.1 * Double(index + 1)
            base.tests.append(test)
        }
        base.reason = "exit 1\u{0}\nwith \u{1B}[1mcolour\u{1B}[0m"
        base.outcome = .failed
        base.exitCode = 1
        let basePath = try write(base, "base.json")
        let imported = junit(of: basePath, "imported.xml")
        let importedValid = validate(imported, against: schema, xmllint: xmllint)
        XCTAssertEqual(importedValid.status, 0, "control characters broke the document:\n\(importedValid.stderr)")
        let importedText = try String(contentsOfFile: imported, encoding: .utf8)
        XCTAssertFalse(importedText.contains("<properties>"), importedText)
        XCTAssertTrue(importedText.contains("name=\"test_␛[31mred␛[0m\""), importedText)

        // A comparison: a test slower, one removed, one added, more memory.
        run = base
        run.tests[1].durationSeconds = 3
        run.tests.remove(at: 2)
        var added = TestRecord(name: "pkg.Suite.test_new", source: .junit, startSeconds: nil)
        added.attribution = .junit
        added.outcome = .passed
        added.durationSeconds = 0.2
        run.tests.append(added)
        run.memory.peakBytes *= 3
        run.memory.unreclaimablePeakBytes = run.memory.unreclaimablePeakBytes.map { $0 * 3 }
        let headPath = try write(run, "head.json")
        let comparisonPath = directory + "/compare.xml"
        let compared = Harness.run([Harness.confine, "compare", basePath, headPath, "--format", "junit", "--output", comparisonPath])
        XCTAssertTrue([0, 99].contains(compared.status), compared.stderr)
        let comparison = try String(contentsOfFile: comparisonPath, encoding: .utf8)
        XCTAssertTrue(comparison.contains("<skipped message=\"added\"/>") && comparison.contains("<skipped message=\"removed\"/>"), comparison)
        let comparisonValid = validate(comparisonPath, against: schema, xmllint: xmllint)
        XCTAssertEqual(comparisonValid.status, 0, "the comparison is not valid under junit-10.xsd:\n\(comparisonValid.stderr)\n\(comparison)")
    }
}
