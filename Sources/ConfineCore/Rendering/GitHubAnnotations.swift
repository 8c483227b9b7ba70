/// `confine report --format github`: workflow commands GitHub Actions turns into annotations on
/// the pull request (`::error file=…,title=…::message`) — failed budgets as errors and warned ones
/// as warnings, OOM kills as errors, seccomp denials and the pod's own faults (docs/profiles.md)
/// as warnings. A test's file comes from its pytest node id (`tests/test_x.py::test_y`); runners
/// that give no file annotate the run.
public enum GitHubAnnotations {
    public static func render(_ report: RunReport) -> String {
        var lines: [String] = []
        func add(_ level: String, title: String, test: String?, _ message: String) {
            var properties: [String] = []
            if let file = test.flatMap(file(of:)) { properties.append("file=\(escapeProperty(file))") }
            properties.append("title=\(escapeProperty(title))")
            lines.append("::\(level) \(properties.joined(separator: ","))::\(escapeData(message + (test.map { " (\($0))" } ?? "")))")
        }
        for result in report.budgets ?? [] where result.verdict != .pass {
            let test = result.scope == .tests ? result.target : nil
            add(result.verdict == .fail && result.level == .fail ? "error" : "warning",
                title: "confine budget \(result.metric.rawValue)", test: test, result.message)
        }
        for kill in report.oomKills {
            add("error", title: "confine: OOM kill", test: kill.test,
                "\(kill.mainProcess ? "the main process" : "pid \(kill.pid)") (\(kill.command)) was OOM-killed at \(formatFixed(kill.atSeconds, digits: 2)) s"
                    + (kill.limitBytes.map { " under a \(ByteQuantity.human($0)) limit" } ?? ""))
        }
        for violation in report.seccomp?.violations ?? [] {
            add("warning", title: "confine: seccomp denied \(violation.syscall)", test: violation.test,
                "\(violation.syscall) denied by the seccomp profile (\(violation.errnoName ?? violation.action.rawValue)) to \(violation.command), \(violation.count) time\(violation.count == 1 ? "" : "s")")
        }
        for attempt in report.containment?.attempts ?? [] where attempt.cause != nil {
            add("warning", title: attempt.cause == .readOnlyRoot ? "confine: read-only root" : "confine: the pod's user",
                test: attempt.test, "\(attempt.syscall) \(attempt.target): \(attempt.errnoName ?? "refused") — \(attempt.why)")
        }
        if let shm = report.containment?.shm, let filled = shm.filledAtSeconds {
            add("warning", title: "confine: /dev/shm full", test: shm.test,
                "/dev/shm filled its \(ByteQuantity.human(shm.sizeBytes)) at \(formatFixed(filled, digits: 2)) s: writes there fail with ENOSPC, as in the pod")
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// The file of a pytest node id (`tests/test_x.py::test_y[1]` → `tests/test_x.py`).
    static func file(of test: String) -> String? {
        guard let separator = test.range(of: "::") else { return nil }
        let file = String(test[..<separator.lowerBound])
        return file.hasSuffix(".py") ? file : nil
    }

    /// GitHub's escaping of a command's data (`%`, CR, LF), by Unicode scalar — CR LF is one
    /// Swift Character, which a replacement of "\n" would miss — and the other controls a name
    /// may carry (ESC, BEL) as their pictures, as the summary shows them.
    static func escapeData(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out.printableLine
    }

    /// … and of a property's value (also `:` and `,`).
    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingAll(":", with: "%3A").replacingAll(",", with: "%2C")
    }
}
