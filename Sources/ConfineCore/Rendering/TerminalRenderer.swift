/// Tables for a terminal, at most 100 columns; colour only when asked (the CLI asks when
/// stdout is a terminal and `NO_COLOR` is unset).
public enum TerminalRenderer {
    public static let width = 100

    struct Palette {
        let color: Bool
        func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        func red(_ text: String) -> String { paint(text, "31") }
        func green(_ text: String) -> String { paint(text, "32") }
        func yellow(_ text: String) -> String { paint(text, "33") }
        func bold(_ text: String) -> String { paint(text, "1") }
        func dim(_ text: String) -> String { paint(text, "2") }
    }

    public static func render(_ report: RunReport, color: Bool) -> String {
        let palette = Palette(color: color)
        var lines = Summary.render(report, reportPath: nil).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last?.isEmpty == true { lines.removeLast() }
        // The summary's first line is the verdict: colour it.
        if let first = lines.first {
            lines[0] = report.exitCode == 0 ? palette.green(first) : palette.red(first)
        }
        if let budgets = report.budgets, !budgets.isEmpty {
            lines.append("")
            lines.append(palette.bold("budgets"))
            var table = TextTable(header: ["", "target", "metric", "measured", "limit"], rightAligned: [3, 4])
            let ordered = budgets.sorted { MarkdownRenderer.order($0.verdict) < MarkdownRenderer.order($1.verdict) }
            for result in ordered {
                table.rows.append([result.verdict.rawValue, Format.fit(result.target ?? (result.scope == .suite ? "suite" : result.pattern), 50),
                                   result.metric.rawValue, result.measured.map { result.metric.format($0) } ?? "—",
                                   "\(result.comparison.rawValue) \(result.metric.format(result.limit))"])
            }
            lines += table.render().enumerated().map { index, line in
                guard index > 0 else { return palette.dim(line) }
                switch ordered[index - 1].verdict {
                case .fail: return palette.red(line)
                case .warn, .missing: return palette.yellow(line)
                case .pass: return line
                }
            }
        }
        if !report.functions.isEmpty {
            lines.append("")
            lines.append(palette.bold("functions"))
            var table = TextTable(header: ["function", "calls", "p50", "p95", "p99", "max"], rightAligned: [1, 2, 3, 4, 5])
            for function in report.functions.prefix(20) {
                table.rows.append([Format.fit(function.name, 44), String(function.calls), Format.value("p50", function.p50Seconds),
                                   Format.value("p95", function.p95Seconds), Format.value("p99", function.p99Seconds),
                                   Format.value("max", function.maxSeconds)])
            }
            lines += table.render()
        }
        return lines.map { fitLine($0, color: color) }.joined(separator: "\n") + "\n"
    }

    public static func render(_ comparison: Comparison, color: Bool) -> String {
        let palette = Palette(color: color)
        let regressions = comparison.regressions
        var lines: [String] = []
        let count = { (verdict: Comparison.Verdict) in comparison.rows.filter { $0.verdict == verdict }.count }
        let verdict = regressions.isEmpty ? "confine compare: no regression the gate stands behind"
            : "confine compare: \(regressions.count) regression\(regressions.count == 1 ? "" : "s")"
        lines.append(regressions.isEmpty ? palette.green(verdict) : palette.red(verdict))
        lines.append(palette.dim("  \(comparison.base) → \(comparison.head) (\(comparison.baseReports.count) base, "
                                 + "\(comparison.headReports.count) head run\(comparison.headReports.count == 1 ? "" : "s"))"))
        // Notes are the verdict's reasons: wrapped, never cut at the width.
        for note in comparison.notes { lines += wrap("note: " + note, indent: "  ").map { palette.dim($0) } }
        // The gate's changes first, then what was seen once or is inconclusive, then improvements.
        let order: [Comparison.Verdict: Int] = [.regression: 0, .seenOnce: 1, .inconclusive: 2, .improvement: 3, .added: 4, .removed: 5]
        let notable = comparison.rows.filter { $0.verdict != .unchanged }
            .sorted { (order[$0.verdict] ?? 9, -abs($0.change ?? 0)) < (order[$1.verdict] ?? 9, -abs($1.change ?? 0)) }
        let shown = Array(notable.prefix(40))
        if !shown.isEmpty {
            var table = TextTable(header: ["", "what", "signal", "base", "head", "change (95% CI)", "evidence"], rightAligned: [3, 4])
            for row in shown {
                table.rows.append([row.verdict.rawValue, Format.fit("\(row.kind) \(row.name)", 40), row.metric,
                                   Format.value(row.metric, row.base), Format.value(row.metric, row.head), Format.changeWithInterval(row),
                                   Format.evidence(row)])
            }
            lines += table.render().enumerated().map { index, line in
                guard index > 0 else { return palette.dim(line) }
                switch shown[index - 1].verdict {
                case .regression: return palette.red(line)
                case .improvement: return palette.green(line)
                default: return line
                }
            }
        }
        if notable.count > shown.count { lines.append("  … and \(notable.count - shown.count) more changes (all in --format json)") }
        let improvements = count(.improvement)
        lines.append("  \(count(.seenOnce)) seen once, \(count(.inconclusive)) inconclusive, \(improvements) improvement"
                     + "\(improvements == 1 ? "" : "s"), \(count(.unchanged)) not flagged")
        return lines.map { fitLine($0, color: color) }.joined(separator: "\n") + "\n"
    }

    /// `text` in lines of at most the width, broken at spaces, each after `indent`.
    static func wrap(_ text: String, indent: String) -> [String] {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count > indent.count && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent + "  "
            }
            line += (line.count > indent.count && !line.hasSuffix("  ") ? " " : "") + word
        }
        lines.append(line)
        return lines
    }

    /// Lines longer than the width are cut (colour codes do not count; cut lines lose them).
    static func fitLine(_ line: String, color: Bool) -> String {
        let visible = line.replacingEscapes()
        guard visible.count > width else { return line }
        return String(visible.prefix(width - 1)) + "…"
    }
}
