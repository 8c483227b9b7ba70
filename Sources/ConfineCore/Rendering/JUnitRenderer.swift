/// JUnit XML for a CI's test UI: the run itself, one test case per test the run saw (its
/// outcome as JUnit readers expect: `failure` for a failed assertion, `error` for an error or a
/// test the run cut short — OOM-killed, timed out, crashed, interrupted —, `skipped` for skipped
/// and never-run tests), then one per budget (a failure carries the measured value and the
/// limit); or one per comparison row.
///
/// A test confine measured carries its figures as `<properties>` first in its `<testcase>`, the
/// form pytest's `record_property` writes and Jenkins' JUnit plugin, Testmo and others read
/// (`testProperties`: names, units and where each figure comes from). A test without figures —
/// known only from a `--junit` file, or collected and never run — has no `<properties>`.
///
/// Schema: everything validates against the strict JUnit schema CI tools check with (Jenkins
/// xUnit's `junit-10.xsd`, the one pytest tests its own output against) but for that one
/// extension, which `junit-10.xsd` does not admit inside `<testcase>` (only inside
/// `<testsuite>`): a comparison, a run without tests and a report of tests without figures are
/// valid under it unchanged. The only schema-valid alternative, `[[PROPERTY|name=value]]` lines
/// in `<system-out>`, is Testmo's convention alone, and would put the figures in every test's
/// output pane. Text from outside — test names, commands, messages — is escaped, and what XML
/// 1.0 forbids even escaped (control characters from a test's output) is replaced
/// (`String.xmlEscaped`). The XML is written here, not through FoundationXML: on Linux that
/// pulls in libxml2 (and ICU) as shared libraries, which the static `ci/build` binary would then
/// need on every machine.
public enum JUnitRenderer {
    public static func render(_ report: RunReport) -> String {
        var cases: [String] = []
        let run = "run \(Summary.display(report.command.joined(separator: " "), limit: 80))"
        let runOpen = open(className: "confine.run", name: run, time: report.durationSeconds)
        if report.exitCode == 0 || report.outcome == .budgetExceeded && (report.budgets?.contains { $0.verdict == .fail } ?? false) {
            cases.append(runOpen + "/>")
        } else {
            cases.append(runOpen + ">\n"
                         + "      <failure type=\"\(report.outcome.rawValue.xmlAttributeEscaped)\" message=\"\(report.reason.xmlAttributeEscaped)\">exit \(report.exitCode)</failure>\n"
                         + "    </testcase>")
        }
        for test in report.tests {
            cases.append(testCase(test, in: report))
        }
        for result in report.budgets ?? [] {
            let subject = result.target ?? (result.scope == .suite ? "suite" : result.pattern)
            let name = "\(subject) \(result.metric.rawValue) \(result.comparison.rawValue) \(result.metric.format(result.limit))"
            let open = open(className: "confine.budgets.\(result.scope.rawValue)", name: name, time: 0)
            switch result.verdict {
            case .pass:
                cases.append(open + "/>")
            case .fail:
                cases.append(open + ">\n      <failure type=\"budget\" message=\"\(result.message.xmlAttributeEscaped)\">"
                             + "measured \(result.measured.map { result.metric.format($0) } ?? "—"), limit \(result.comparison.rawValue) \(result.metric.format(result.limit))"
                             .xmlEscaped + "</failure>\n    </testcase>")
            case .warn:
                cases.append(open + ">\n      <system-out>warn: \(result.message.xmlEscaped)</system-out>\n    </testcase>")
            case .missing:
                cases.append(open + ">\n      <skipped message=\"\(result.message.xmlAttributeEscaped)\"/>\n    </testcase>")
            }
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let errors = cases.filter { $0.contains("<error") }.count
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine", tests: cases.count, failures: failures, errors: errors, skipped: skipped,
                        time: report.durationSeconds, cases: cases)
    }

    /// A test's figures as JUnit properties, in this order, each only when the report has it;
    /// none for a test confine did not measure (`junit` attribution, or never started). Values
    /// are plain numbers — bytes, seconds, counts — but for `confine.attribution`:
    ///
    /// * `confine.attribution`: whose figures these are (`tests[].attribution`): `group` — the
    ///   run's cgroup while the test ran, shared with tests alongside it; `window` — the same,
    ///   from the readings around a test whose boundaries came batched; `process` — the test's own
    ///   process.
    /// * `confine.cpu_seconds`: CPU time (user + system) while the test ran: the group's, or its
    ///   process's (`cpuSeconds`).
    /// * `confine.usage_peak_bytes`: the group's memory usage at its highest while the test ran —
    ///   what the memory limit counts, page cache included (`peakBytes`, group and window only).
    /// * `confine.unreclaimable_peak_bytes`: the most memory reclaim could not drop while the test
    ///   ran — anonymous, shmem and unreclaimable kernel memory, page cache excluded
    ///   (`unreclaimablePeakBytes`).
    /// * `confine.process_peak_rss_bytes`: the peak RSS of the test's process during the test —
    ///   its `peakBytes` when it is measured by its own process, else the worker's high-water mark
    ///   the pytest plugin read (`processPeakBytes`).
    /// * `confine.owned_peak_bytes`: the owned peak — the unreclaimable peak, or for a test
    ///   measured by its own process that process's peak RSS (`ownedPeakBytes`): the figure of
    ///   the "hungriest" list and of `peak_rss` budgets.
    /// * `confine.throttled_periods`, `confine.throttled_seconds`: under a CPU quota, the group's
    ///   CFS periods throttled while the test ran, and for how long.
    /// * `confine.oom_kills`: OOM kills charged to the test; `confine.concurrent_tests`: tests that
    ///   overlapped it, whose memory is in its group figures.
    static func testProperties(_ test: TestRecord) -> [(name: String, value: String)] {
        guard test.attribution != .junit, test.startSeconds != nil else { return [] }
        var properties: [(name: String, value: String)] = [("confine.attribution", test.attribution.rawValue)]
        func add(_ name: String, _ value: UInt64?) { if let value { properties.append((name, String(value))) } }
        func add(_ name: String, seconds: Double?) {
            if let seconds, seconds.isFinite { properties.append((name, formatFixed(max(0, seconds), digits: 6))) }
        }
        add("confine.cpu_seconds", seconds: test.cpuSeconds)
        add("confine.usage_peak_bytes", test.attribution.followsGroup ? test.peakBytes : nil)
        add("confine.unreclaimable_peak_bytes", test.unreclaimablePeakBytes)
        add("confine.process_peak_rss_bytes", test.attribution == .process ? test.peakBytes : test.processPeakBytes)
        add("confine.owned_peak_bytes", test.ownedPeakBytes)
        add("confine.throttled_periods", test.throttledPeriods)
        add("confine.throttled_seconds", seconds: test.throttledSeconds)
        add("confine.oom_kills", UInt64(max(0, test.oomKills)))
        add("confine.concurrent_tests", UInt64(max(0, test.concurrentTests)))
        return properties
    }

    /// `dir/test_x.py::Class::test_y` → (`dir.test_x.Class`, `test_y`) as pytest's own JUnit
    /// writes it; `Class.testName` → (`Class`, `testName`); else no class.
    static func junitName(_ name: String) -> (className: String, name: String) {
        // Separators count before a parameter list only: `test_p[a::b]` is one test name.
        let head = name[..<(name.firstIndex(of: "[") ?? name.endIndex)]
        if let separator = head.range(of: "::", options: .backwards) {
            var className = String(name[..<separator.lowerBound]).replacingOccurrences(of: ".py::", with: ".")
                .replacingOccurrences(of: "::", with: ".")
            if className.hasSuffix(".py") { className.removeLast(3) }
            return (className.replacingOccurrences(of: "/", with: "."), String(name[separator.upperBound...]))
        }
        if let dot = head.lastIndex(of: "."), !head.contains(" "), !head.contains("/") {
            return (String(name[..<dot]), String(name[name.index(after: dot)...]))
        }
        return ("confine.tests", name)
    }

    private static func testCase(_ test: TestRecord, in report: RunReport) -> String {
        let (className, name) = junitName(test.name)
        let open = open(className: className, name: name, time: test.durationSeconds ?? 0)
        let properties = testProperties(test)
        var children: [String] = []
        if !properties.isEmpty {
            children.append("      <properties>")
            children += properties.map { "        <property name=\"\($0.name.xmlAttributeEscaped)\" value=\"\($0.value.xmlAttributeEscaped)\"/>" }
            children.append("      </properties>")
        }
        let at = test.endSeconds.map { " at \(formatFixed($0, digits: 2)) s" } ?? ""
        let kill = report.oomKills.first { $0.test == test.name }
        switch test.outcome {
        case .passed?, nil:
            break
        case .failed?:
            children.append("      <failure type=\"failed\" message=\"the test failed\"/>")
        case .error?:
            children.append("      <error type=\"error\" message=\"the test had an error outside its body (setup or teardown)\"/>")
        case .skipped?:
            children.append("      <skipped/>")
        case .notRun?:
            children.append("      <skipped type=\"not_run\" message=\"collected but never run: the run ended or the runner stopped first\"/>")
        case let outcome?:
            let message: String
            switch outcome {
            case .oomKilled:
                message = "OOM-killed by the kernel\(kill.map { " (pid \($0.pid), \(Summary.display($0.command, limit: 40)))" } ?? "")\(at)"
            case .timedOut: message = "cut short by the run's timeout\(at)"
            case .interrupted: message = "cut short: confine was interrupted\(at)"
            case .crashed: message = "its process died while it ran\(at)"
            default: message = "it never ended\(at)"
            }
            children.append("      <error type=\"\(outcome.rawValue.xmlAttributeEscaped)\" message=\"\(message.xmlAttributeEscaped)\"/>")
        }
        return children.isEmpty ? open + "/>" : ([open + ">"] + children + ["    </testcase>"]).joined(separator: "\n")
    }

    /// `<testcase classname="…" name="…" time="…"`, left open for its children or its end.
    private static func open(className: String, name: String, time: Double) -> String {
        "    <testcase classname=\"\(className.xmlAttributeEscaped)\" name=\"\(name.xmlAttributeEscaped)\" time=\"\(seconds(time))\""
    }

    /// Seconds as `junit-10.xsd`'s `SUREFIRE_TIME` admits them: digits, a point, three decimals
    /// (never negative, never `nan` or an exponent, whatever a report file holds).
    static func seconds(_ value: Double) -> String {
        value.isFinite && value > 0 ? formatFixed(min(value, 1e12), digits: 3) : "0.000"
    }

    public static func render(_ comparison: Comparison) -> String {
        var cases: [String] = []
        for row in comparison.rows {
            let open = open(className: "confine.compare.\(row.kind)", name: "\(row.name) \(row.metric)", time: 0)
            switch row.verdict {
            case .regression:
                let detail = "\(Format.value(row.metric, row.base)) → \(Format.value(row.metric, row.head)) (\(Format.changeWithInterval(row)); "
                    + "\(Format.evidence(row)))"
                cases.append(open + ">\n      <failure type=\"regression\" message=\"\(detail.xmlAttributeEscaped)\">threshold \((row.threshold ?? "").xmlEscaped)</failure>\n    </testcase>")
            case .added, .removed, .seenOnce, .inconclusive:
                let detail = row.verdict == .seenOnce || row.verdict == .inconclusive
                    ? "\(row.verdict.rawValue): \(Format.change(row.change)) (\(Format.evidence(row)))" : row.verdict.rawValue
                cases.append(open + ">\n      <skipped message=\"\(detail.xmlAttributeEscaped)\"/>\n    </testcase>")
            case .improvement, .unchanged:
                cases.append(open + "/>")
            }
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine compare", tests: cases.count, failures: failures, errors: 0, skipped: skipped, time: 0, cases: cases)
    }

    /// `<testsuites>` (name, tests, failures, errors, time: `junit-10.xsd` has no `skipped` there)
    /// around one `<testsuite>` (which has).
    static func document(name: String, tests: Int, failures: Int, errors: Int, skipped: Int, time: Double, cases: [String]) -> String {
        let name = name.xmlAttributeEscaped
        let counts = "tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\""
        var lines = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                     "<testsuites name=\"\(name)\" \(counts) time=\"\(seconds(time))\">",
                     "  <testsuite name=\"\(name)\" \(counts) skipped=\"\(skipped)\" time=\"\(seconds(time))\">"]
        lines += cases
        lines += ["  </testsuite>", "</testsuites>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
