/// JUnit XML for a CI's test UI: the run itself, then one test case per budget (a failure
/// carries the measured value and the limit), or one per comparison row.
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
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine", tests: cases.count, failures: failures, skipped: skipped,
                        time: report.durationSeconds, cases: cases)
    }

    public static func render(_ comparison: Comparison) -> String {
        var cases: [String] = []
        for row in comparison.rows {
            let name = "\(row.name) \(row.metric)".xmlEscaped
            let open = "    <testcase classname=\"confine.compare.\(row.kind)\" name=\"\(name)\" time=\"0\""
            switch row.verdict {
            case .regression:
                let detail = "\(Format.value(row.metric, row.base)) → \(Format.value(row.metric, row.head)) (\(Format.change(row.change)))"
                    + (row.pValue.map { ", p = \(Format.pValue($0))" } ?? "")
                cases.append(open + ">\n      <failure type=\"regression\" message=\"\(detail.xmlEscaped)\">threshold \(row.threshold ?? "")</failure>\n    </testcase>")
            case .added, .removed:
                cases.append(open + ">\n      <skipped message=\"\(row.verdict.rawValue)\"/>\n    </testcase>")
            case .improvement, .unchanged:
                cases.append(open + "/>")
            }
        }
        let failures = cases.filter { $0.contains("<failure") }.count
        let skipped = cases.filter { $0.contains("<skipped") }.count
        return document(name: "confine compare", tests: cases.count, failures: failures, skipped: skipped, time: 0, cases: cases)
    }

    static func document(name: String, tests: Int, failures: Int, skipped: Int, time: Double, cases: [String]) -> String {
        var lines = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                     "<testsuites name=\"\(name)\" tests=\"\(tests)\" failures=\"\(failures)\" skipped=\"\(skipped)\">",
                     "  <testsuite name=\"\(name)\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\" time=\"\(formatFixed(time, digits: 3))\">"]
        lines += cases
        lines += ["  </testsuite>", "</testsuites>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
