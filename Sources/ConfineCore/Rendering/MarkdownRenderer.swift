/// Markdown for pull-request comments and GitHub job summaries: the verdict first, then only
/// what failed or changed; the rest folded in `<details>`.
public enum MarkdownRenderer {
    public static func render(_ report: RunReport) -> String {
        var lines: [String] = []
        let command = Summary.display(report.command.joined(separator: " "), limit: 60)
        lines.append("### \(Format.outcomeMark(report.outcome)) confine: \(report.outcome.rawValue) (exit \(report.exitCode)) — `\(command)` under `\(report.profile.name)`")
        lines.append("")
        lines.append(report.reason.prefix(1).uppercased() + report.reason.dropFirst() + ".")
        lines.append("")
        var suite = MarkdownTable(header: ["peak memory", "CPU", "throttled", "OOM kills", "duration"])
        let memory = report.memory.limitBytes.map {
            "\(ByteQuantity.human(report.memory.peakBytes)) of \(ByteQuantity.human($0)) (\(formatFixed(Double(report.memory.peakBytes) / Double($0) * 100, digits: 0))%)"
        } ?? ByteQuantity.human(report.memory.peakBytes)
        let throttled = report.cpu.periods > 0
            ? formatFixed(Double(report.cpu.throttledPeriods) / Double(report.cpu.periods) * 100, digits: 0) + "%" : "—"
        suite.rows.append([memory, formatFixed(report.cpu.usageSeconds, digits: 2) + "s", throttled, String(report.oomKills.count),
                           formatFixed(report.durationSeconds, digits: 2) + "s"])
        lines += suite.render()
        if let load = report.load, load.requests > 0 {
            lines.append("")
            var table = MarkdownTable(header: ["requests", "errors", "req/s", "p50", "p95", "p99", "max"], rightAligned: [0, 1, 2, 3, 4, 5, 6])
            table.rows.append([String(load.requests), "\(load.errors) (\(formatFixed(load.errorRate, digits: 1))%)",
                               load.requestsPerSecond.map { formatFixed($0, digits: 1) } ?? "—",
                               Format.value("p50", load.latency.p50), Format.value("p95", load.latency.p95),
                               Format.value("p99", load.latency.p99), Format.value("max", load.latency.max)])
            lines += table.render()
            lines.append("")
            var note = "Load from `\(Summary.display(load.driver.command, limit: 70))`, outside the limits"
            switch load.latencyCorrection {
            case .uncorrected: note += "; closed-loop latencies, **uncorrected** for coordinated omission"
            case .corrected: note += "; latencies corrected for coordinated omission"
            case .byDriver: note += "; latencies corrected by the driver"
            case .none: break
            }
            if let throttling = load.throttlingNote { note += "; " + throttling }
            lines.append(note + ".")
        }
        for kill in report.oomKills {
            lines.append("")
            lines.append("- 💥 OOM kill: `\(Summary.display(kill.command, limit: 60))` (pid \(kill.pid)) at \(formatFixed(kill.atSeconds, digits: 2))s")
        }

        if let budgets = report.budgets, !budgets.isEmpty {
            let count = { (verdict: BudgetResult.Verdict) in budgets.filter { $0.verdict == verdict }.count }
            lines.append("")
            lines.append("**Budgets:** \(count(.pass)) passed, \(count(.fail)) failed, \(count(.warn)) warned, \(count(.missing)) missing")
            let notPassed = budgets.filter { $0.verdict != .pass }
            if !notPassed.isEmpty {
                lines.append("")
                var table = MarkdownTable(header: ["", "budget", "measured", "limit"], rightAligned: [2, 3])
                for result in notPassed.sorted(by: { order($0.verdict) < order($1.verdict) }) {
                    let subject = result.target ?? (result.scope == .suite ? "suite" : result.pattern)
                    table.rows.append([mark(result.verdict), "`\(subject)` \(result.metric.rawValue)",
                                       result.measured.map { result.metric.format($0) } ?? "not in this run",
                                       "\(result.comparison.rawValue) \(result.metric.format(result.limit))"])
                }
                lines += table.render()
            }
        }

        if !report.tests.isEmpty {
            lines.append("")
            lines.append("<details><summary>Tests: \(report.tests.count) — \(Summary.outcomeCounts(report.tests))</summary>")
            lines.append("")
            var table = MarkdownTable(header: ["test", "outcome", "duration", "owned peak", "usage growth"], rightAligned: [2, 3, 4])
            let shown = report.tests.sorted { ($0.ownedPeakBytes ?? 0, $0.durationSeconds ?? 0) > ($1.ownedPeakBytes ?? 0, $1.durationSeconds ?? 0) }
            for test in shown.prefix(25) {
                table.rows.append(["`\(Format.fit(test.name, 70))`", test.outcome?.rawValue ?? "—", Format.value("duration", test.durationSeconds),
                                   Format.value("peak_rss", test.ownedPeakBytes.map { Double($0) }),
                                   test.peakGrowthBytes.map { "+" + ByteQuantity.human($0) } ?? "—"])
            }
            lines += table.render()
            if shown.count > 25 { lines.append(""); lines.append("… and \(shown.count - 25) more (hungriest first).") }
            lines.append("")
            lines.append("Owned peak: the memory reclaim could not drop while the test ran (page cache excluded); "
                         + "for a test in a process of its own, that process's peak RSS; in a report without it, the usage peak.")
            lines.append("")
            lines.append("</details>")
        }

        if !report.functions.isEmpty {
            lines.append("")
            lines.append("<details><summary>Functions: \(report.functions.count)</summary>")
            lines.append("")
            var table = MarkdownTable(header: ["function", "calls", "p50", "p95", "p99", "max"], rightAligned: [1, 2, 3, 4, 5])
            for function in report.functions.prefix(25) {
                table.rows.append(["`\(Format.fit(function.name, 60))`", String(function.calls),
                                   Format.value("p50", function.p50Seconds), Format.value("p95", function.p95Seconds),
                                   Format.value("p99", function.p99Seconds), Format.value("max", function.maxSeconds)])
            }
            lines += table.render()
            lines.append("")
            lines.append("</details>")
        }
        // The container's own faults first and open: what would break in the pod.
        if let containment = report.containment {
            let pod = Summary.podFindings(containment, outcome: report.outcome)
            if !pod.isEmpty {
                lines.append("")
                lines.append("**In the pod this would fail too:**")
                lines.append("")
                for line in pod { lines.append("- " + line.replacingAll("`", with: "'")) }
            }
        }
        let escapes = report.containment?.attempts.filter { $0.cause == nil } ?? []
        if !escapes.isEmpty {
            lines.append("")
            lines.append("<details><summary>Containment: \(escapes.count) attempts to leave the run, all failed</summary>")
            lines.append("")
            for attempt in escapes {
                let target = attempt.target.replacingAll("`", with: "'")
                lines.append("- `\(attempt.syscall)` \(target) → \(attempt.errnoName ?? attempt.verdict.rawValue) (\(attempt.verdict == .refused ? "refused by confine" : "refused by the kernel"): \(attempt.why))")
            }
            lines.append("")
            lines.append("</details>")
        }
        if !report.warnings.isEmpty {
            lines.append("")
            lines.append("<details><summary>Warnings: \(report.warnings.count)</summary>")
            lines.append("")
            for warning in report.warnings { lines.append("- \(warning)") }
            lines.append("")
            lines.append("</details>")
        }
        // Names and commands come from the suite: not one of their bytes may start a line or a sequence.
        return lines.map(\.printableLine).joined(separator: "\n") + "\n"
    }

    /// The verdict first, then only the changes the gate stands behind; what was seen once, what
    /// the machine could explain, improvements, added and removed, unchanged folded below.
    public static func render(_ comparison: Comparison) -> String {
        var lines: [String] = []
        let rows = { (verdict: Comparison.Verdict) in comparison.rows.filter { $0.verdict == verdict } }
        let regressions = rows(.regression)
        let byChange = { (a: Comparison.Row, b: Comparison.Row) in abs(a.change ?? 0) > abs(b.change ?? 0) }
        if regressions.isEmpty {
            let open = rows(.inconclusive).count + rows(.seenOnce).count
            lines.append("### ✅ confine compare: no regression the gate stands behind"
                         + (open > 0 ? " (\(rows(.seenOnce).count) seen once, \(rows(.inconclusive).count) inconclusive: below)" : ""))
        } else {
            lines.append("### ❌ confine compare: \(regressions.count) regression\(regressions.count == 1 ? "" : "s")")
        }
        lines.append("")
        let spec = comparison.regression
        let rounds = "\(comparison.baseReports.count) run\(comparison.baseReports.count == 1 ? "" : "s") of base, "
            + "\(comparison.headReports.count) of head"
        let family = comparison.baseReports.count > 1 && comparison.headReports.count > 1
            ? " · tests at a \(formatFixed(comparison.falseDiscoveryRate * 100, digits: 0))% false-discovery rate" : ""
        lines.append("`\(comparison.base)` → `\(comparison.head)` · \(rounds)\(family) · thresholds: duration and CPU "
                     + "\(spec.duration.description(.duration)) (a test's +1ms), owned memory \(spec.peakRss.description(.peakRss)), "
                     + "latency \(spec.latency.description(.p95)) (one-sided Mann-Whitney p < \(spec.alpha)) · how to read this: "
                     + "docs/compare.md in confine")
        for note in comparison.notes { lines.append(""); lines.append("> \(note)") }
        if !regressions.isEmpty {
            lines.append("")
            lines += table(regressions.sorted(by: byChange), limit: 40)
        }
        for (verdict, title) in [(Comparison.Verdict.seenOnce, "Seen once (a single pair: not failing the gate)"),
                                 (.inconclusive, "Inconclusive: another machine, or memory known only with page cache"), (.improvement, "Improvements")] {
            let folded = rows(verdict).sorted(by: byChange)
            guard !folded.isEmpty else { continue }
            lines.append("")
            lines.append("<details><summary>\(title): \(folded.count)</summary>")
            lines.append("")
            lines += table(folded, limit: 30)
            lines.append("")
            lines.append("</details>")
        }
        let added = rows(.added), removed = rows(.removed)
        if !added.isEmpty || !removed.isEmpty {
            lines.append("")
            lines.append("<details><summary>Added: \(added.count), removed: \(removed.count)</summary>")
            lines.append("")
            for row in added.prefix(50) { lines.append("- added \(row.kind) `\(row.name)`") }
            for row in removed.prefix(50) { lines.append("- removed \(row.kind) `\(row.name)`") }
            if added.count + removed.count > 100 { lines.append("- … and \(added.count + removed.count - 100) more") }
            lines.append("")
            lines.append("</details>")
        }
        let unchanged = rows(.unchanged)
        lines.append("")
        lines.append("<details><summary>Not flagged: \(unchanged.count)</summary>")
        lines.append("")
        lines += table(unchanged.sorted(by: byChange), limit: 50)
        lines.append("")
        lines.append("</details>")
        return lines.map(\.printableLine).joined(separator: "\n") + "\n"
    }

    /// Rows as a table: what, the signal, the figures, the change with its interval, the evidence.
    private static func table(_ rows: [Comparison.Row], limit: Int) -> [String] {
        var table = MarkdownTable(header: ["what", "signal", "base", "head", "change (95% CI)", "evidence"], rightAligned: [2, 3, 4])
        for row in rows.prefix(limit) {
            table.rows.append(["\(row.kind) `\(Format.fit(row.name, 60))`", row.metric, Format.value(row.metric, row.base),
                               Format.value(row.metric, row.head), Format.changeWithInterval(row), Format.evidence(row)])
        }
        var lines = table.render()
        if rows.count > limit { lines += ["", "… and \(rows.count - limit) more (all in `confine compare --format json`)."] }
        return lines
    }

    static func mark(_ verdict: BudgetResult.Verdict) -> String {
        switch verdict {
        case .pass: "✅"
        case .fail: "❌"
        case .warn: "⚠️"
        case .missing: "❔"
        }
    }

    static func order(_ verdict: BudgetResult.Verdict) -> Int {
        switch verdict {
        case .fail: 0
        case .warn: 1
        case .missing: 2
        case .pass: 3
        }
    }
}
