/// JUnit XML for a CI's test UI: the run itself, one test case per test the run saw (its
/// outcome as JUnit readers expect: `failure` for a failed assertion, `error` for an error or a
/// test the run cut short — OOM-killed, timed out, crashed, interrupted —, `skipped` for skipped
/// and never-run tests), then one per budget (a failure carries the measured value and the
/// limit); or one per comparison row.
public enum JUnitRenderer {
    public static func render(_ report: RunReport) -> String {
        var cases: [String] = []
        let run = "run \(Summary.display(report.command.joined(separator: " "), limit: 80))".xmlEscaped
        if report.exitCode == 0 || report.outcome == .budgetExceeded && (report.budgets?.contains { $0.verdict == .fail } ?? false) {
            cases.append("    <testcase classname=\"confine.run\" name=\"\(run)\" time=\"\(formatFixed(report.durationSeconds, digits: 3))\"/>")
        } else {
            cases.append("    <testcase classname=\"confine.run\" name=\"\(run)\" time=\"\(formatFixed(report.durationSeconds, digits: 3))\">\n"
                         + "      <failure type=\"\(report.outcome.rawValue)\" message=\"\(report.reason.xmlEscaped)\">exit \(report.exitCode)</failure>\n"
                         + "    </testcase>")
        }
        for test in report.tests {
            cases.append(testCase(test, in: report))
        }
        for result in report.budgets ?? [] {
            let subject = result.target ?? (result.scope == .suite ? "suite" : result.pattern)
            let name = "\(subject) \(result.metric.rawValue) \(result.comparison.rawValue) \(result.metric.format(result.limit))".xmlEscaped
            let open = "    <testcase classname=\"confine.budgets.\(result.scope.rawValue)\" name=\"\(name)\" time=\"0\""
            switch result.verdict {
            case .pass:
                cases.append(open + "/>")
            case .fail:
                cases.append(open + ">\n      <failure type=\"budget\" message=\"\(result.message.xmlEscaped)\">"
                             + "measured \(result.measured.map { result.metric.format($0) } ?? "—"), limit \(result.comparison.rawValue) \(result.metric.format(result.limit))"
                             .xmlEscaped + "</failure>\n    </testcase>")
            case .warn:
                cases.append(open + ">\n      <system-out>warn: \(result.message.xmlEscaped)</system-out>\n    </testcase>")
            case .missing:
                cases.append(open + ">\n      <skipped message=\"\(result.message.xmlEscaped)\"/>\n    </testcase>")
            }
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let errors = cases.filter { $0.contains("<error") }.count
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine", tests: cases.count, failures: failures, errors: errors, skipped: skipped,
                        time: report.durationSeconds, cases: cases)
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
        let open = "    <testcase classname=\"\(className.xmlEscaped)\" name=\"\(name.xmlEscaped)\" "
            + "time=\"\(formatFixed(test.durationSeconds ?? 0, digits: 3))\""
        let at = test.endSeconds.map { " at \(formatFixed($0, digits: 2)) s" } ?? ""
        let kill = report.oomKills.first { $0.test == test.name }
        switch test.outcome {
        case .passed?, nil:
            return open + "/>"
        case .failed?:
            return open + ">\n      <failure type=\"failed\" message=\"the test failed\"/>\n    </testcase>"
        case .error?:
            return open + ">\n      <error type=\"error\" message=\"the test had an error outside its body (setup or teardown)\"/>\n    </testcase>"
        case .skipped?:
            return open + ">\n      <skipped/>\n    </testcase>"
        case .notRun?:
            return open + ">\n      <skipped type=\"not_run\" message=\"collected but never run: the run ended or the runner stopped first\"/>\n    </testcase>"
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
            return open + ">\n      <error type=\"\(outcome.rawValue)\" message=\"\(message.xmlEscaped)\"/>\n    </testcase>"
        }
    }

    public static func render(_ comparison: Comparison) -> String {
        var cases: [String] = []
        for row in comparison.rows {
            let name = "\(row.name) \(row.metric)".xmlEscaped
            let open = "    <testcase classname=\"confine.compare.\(row.kind)\" name=\"\(name)\" time=\"0\""
            switch row.verdict {
            case .regression:
                let detail = "\(Format.value(row.metric, row.base)) → \(Format.value(row.metric, row.head)) (\(Format.changeWithInterval(row)); "
                    + "\(Format.evidence(row)))"
                cases.append(open + ">\n      <failure type=\"regression\" message=\"\(detail.xmlEscaped)\">threshold \(row.threshold ?? "")</failure>\n    </testcase>")
            case .added, .removed, .seenOnce, .inconclusive:
                let detail = row.verdict == .seenOnce || row.verdict == .inconclusive
                    ? "\(row.verdict.rawValue): \(Format.change(row.change)) (\(Format.evidence(row)))" : row.verdict.rawValue
                cases.append(open + ">\n      <skipped message=\"\(detail.xmlEscaped)\"/>\n    </testcase>")
            case .improvement, .unchanged:
                cases.append(open + "/>")
            }
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine compare", tests: cases.count, failures: failures, errors: 0, skipped: skipped, time: 0, cases: cases)
    }

    static func document(name: String, tests: Int, failures: Int, errors: Int, skipped: Int, time: Double, cases: [String]) -> String {
        var lines = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                     "<testsuites name=\"\(name)\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\">",
                     "  <testsuite name=\"\(name)\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(formatFixed(time, digits: 3))\">"]
        lines += cases
        lines += ["  </testsuite>", "</testsuites>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
