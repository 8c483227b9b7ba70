/// One self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched): the verdict,
/// the memory timeline with the limit line, OOM kills and test spans, per-function latency
/// against its budget, the worst tests, and every budget.
public enum HTMLRenderer {
    public static func render(_ report: RunReport) -> String {
        var body: [String] = []
        let ok = report.exitCode == 0
        body.append("<header class=\"\(ok ? "ok" : "bad")\"><h1>confine: \(report.outcome.rawValue) "
                    + "(exit \(report.exitCode))</h1><p>\(report.reason.xmlEscaped)</p><p class=\"meta\"><code>"
                    + "\(report.command.joined(separator: " ").xmlEscaped)</code> under <b>\(report.profile.name.xmlEscaped)</b> · "
                    + "\(report.startedAt) · \(formatFixed(report.durationSeconds, digits: 2))s · kernel \(report.host.kernel.xmlEscaped) "
                    + "(\(report.host.cgroupLayout.rawValue))</p></header>")
        body.append("<section><h2>Memory</h2>\(memoryChart(report))</section>")
        if let load = report.load {
            body.append("<section><h2>Load</h2>\(loadTable(load))"
                        + (load.timeline.isEmpty ? "" : "<h2>p95 per second (as the driver measured it) and CPU throttling</h2>\(loadChart(report, load))")
                        + "</section>")
        }
        if !report.functions.isEmpty {
            body.append("<section><h2>Function latency</h2>\(latencyChart(report))</section>")
        }
        if let budgets = report.budgets, !budgets.isEmpty {
            var rows = ""
            for result in budgets.sorted(by: { MarkdownRenderer.order($0.verdict) < MarkdownRenderer.order($1.verdict) }) {
                let subject = result.target ?? (result.scope == .suite ? "suite" : result.pattern)
                rows += "<tr class=\"\(result.verdict.rawValue)\"><td><span class=\"badge \(result.verdict.rawValue)\">\(result.verdict.rawValue)</span></td>"
                    + "<td><code>\(subject.xmlEscaped)</code></td><td>\(result.metric.rawValue)</td>"
                    + "<td class=\"n\">\(result.measured.map { result.metric.format($0) } ?? "—")</td>"
                    + "<td class=\"n\">\(result.comparison.rawValue.xmlEscaped) \(result.metric.format(result.limit))</td></tr>"
            }
            body.append("<section><h2>Budgets</h2><table><tr><th></th><th>target</th><th>metric</th><th>measured</th><th>limit</th></tr>\(rows)</table></section>")
        }
        if !report.tests.isEmpty {
            var rows = ""
            let worst = report.tests.sorted { ($0.ownedPeakBytes ?? 0, $0.durationSeconds ?? 0) > ($1.ownedPeakBytes ?? 0, $1.durationSeconds ?? 0) }
            for test in worst.prefix(20) {
                rows += "<tr><td><code>\(test.name.xmlEscaped)</code></td><td>\(test.outcome?.rawValue ?? "—")</td>"
                    + "<td class=\"n\">\(Format.value("duration", test.durationSeconds))</td>"
                    + "<td class=\"n\">\(Format.value("peak_rss", test.ownedPeakBytes.map { Double($0) }))</td>"
                    + "<td class=\"n\">\(test.peakGrowthBytes.map { "+" + ByteQuantity.human($0) } ?? "—")</td>"
                    + "<td>\(test.attribution.rawValue)\(test.concurrentTests > 0 ? ", \(test.concurrentTests) concurrent" : "")</td></tr>"
            }
            body.append("<section><h2>Worst tests (\(report.tests.count) in all, hungriest first)</h2><table><tr><th>test</th><th>outcome</th>"
                        + "<th>duration</th><th title=\"the memory reclaim could not drop while it ran (page cache excluded); "
                        + "a test in its own process: its peak RSS\">owned peak</th><th>usage growth</th><th>attribution</th></tr>\(rows)</table></section>")
        }
        if !report.warnings.isEmpty {
            body.append("<section><h2>Warnings</h2><ul>" + report.warnings.map { "<li>\($0.xmlEscaped)</li>" }.joined() + "</ul></section>")
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>confine: \(report.outcome.rawValue) — \(report.profile.name.xmlEscaped)</title>
        <style>
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
        header{padding:18px 28px;color:#fff}header.ok{background:#1f7a3f}header.bad{background:#b3261e}
        header h1{margin:0 0 4px;font-size:22px}header p{margin:2px 0}.meta{opacity:.85;font-size:12px}
        section{background:#fff;margin:16px 28px;padding:14px 18px;border-radius:8px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
        h2{font-size:16px;margin:0 0 10px}table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #e6e8ec;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}tr.fail td{background:#fdecea}tr.warn td,tr.missing td{background:#fff7e0}
        code{font-size:12px}svg text{font:11px system-ui,sans-serif;fill:#4a5160}
        .usage{fill:none;stroke:#2f6fde;stroke-width:1.6}.area{fill:#2f6fde;opacity:.12}.limit{stroke:#d93025;stroke-width:2;stroke-dasharray:6 4}
        .oom{fill:#d93025}.span{fill:#7b61ff;opacity:.35}.grid{stroke:#e6e8ec}.budget{stroke:#d93025;stroke-width:2}
        .throttled{fill:#f29900;opacity:.25}.p95line{fill:none;stroke:#b3261e;stroke-width:1.6}.p95dot{fill:#b3261e}
        .p50{fill:#9cc3ff}.p95{fill:#4d8df6}.p99{fill:#1f4fae}
        .badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;color:#fff;background:#1f7a3f}
        .badge.fail{background:#b3261e}.badge.warn,.badge.missing{background:#b26a00}
        </style></head><body>
        \(body.joined(separator: "\n"))
        </body></html>

        """
    }

    /// Where the charts' shared x-axis (the run's clock) ends: the memory and load charts line up.
    static func chartEnd(_ report: RunReport) -> Double {
        max(report.durationSeconds, report.memory.timeline.last?.t ?? 0, report.load?.timeline.last.map { $0.t + 1 } ?? 0, 0.001)
    }

    /// Usage over time, the limit as a dashed red line, OOM kills as red dots, test spans as a band below.
    static func memoryChart(_ report: RunReport) -> String {
        let width = 960.0, plotHeight = 220.0, left = 70.0, top = 12.0
        let points = report.memory.timeline
        let end = chartEnd(report)
        let peak = Double(max(report.memory.peakBytes, points.map(\.memoryBytes).max() ?? 0))
        let ceiling = max(peak, Double(report.memory.limitBytes ?? 0)) * 1.1 + 1
        let spans = report.tests.filter { $0.startSeconds != nil }
        let lanes = min(6, max(1, spans.map(\.concurrentTests).max().map { $0 + 1 } ?? 1))
        let bandTop = top + plotHeight + 26
        let height = bandTop + (spans.isEmpty ? 0 : Double(lanes) * 12 + 20)
        func x(_ t: Double) -> Double { left + t / end * (width - left - 10) }
        func y(_ bytes: Double) -> Double { top + plotHeight - bytes / ceiling * plotHeight }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\" "
            + "aria-label=\"memory over time\">"
        for step in 0...4 {
            let bytes = ceiling / 4 * Double(step)
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(bytes))\" y2=\"\(y(bytes))\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(bytes) + 4)\" text-anchor=\"end\">\(ByteQuantity.human(UInt64(bytes)))</text>"
        }
        for step in 0...5 {
            let t = end / 5 * Double(step)
            svg += "<text x=\"\(x(t))\" y=\"\(top + plotHeight + 14)\" text-anchor=\"middle\">\(formatFixed(t, digits: t < 10 ? 1 : 0))s</text>"
        }
        if !points.isEmpty {
            let line = points.map { "\(formatFixed(x($0.t), digits: 1)),\(formatFixed(y(Double($0.memoryBytes)), digits: 1))" }.joined(separator: " ")
            svg += "<polygon class=\"area\" points=\"\(formatFixed(x(points[0].t), digits: 1)),\(y(0)) \(line) "
                + "\(formatFixed(x(points[points.count - 1].t), digits: 1)),\(y(0))\"/>"
            svg += "<polyline class=\"usage\" points=\"\(line)\"/>"
        }
        if let limit = report.memory.limitBytes {
            svg += "<line id=\"limit-line\" class=\"limit\" x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(Double(limit)))\" y2=\"\(y(Double(limit)))\">"
                + "<title>limit \(ByteQuantity.human(limit))</title></line>"
            svg += "<text x=\"\(width - 12)\" y=\"\(y(Double(limit)) - 5)\" text-anchor=\"end\" style=\"fill:#d93025\">limit \(ByteQuantity.human(limit))</text>"
        }
        for kill in report.oomKills {
            svg += "<circle class=\"oom\" cx=\"\(x(kill.atSeconds))\" cy=\"\(y(Double(kill.usageBytes ?? report.memory.limitBytes ?? UInt64(peak))))\" r=\"6\">"
                + "<title>OOM kill: \(kill.command.xmlEscaped) (pid \(kill.pid)) at \(formatFixed(kill.atSeconds, digits: 2))s</title></circle>"
        }
        if !spans.isEmpty {
            svg += "<text x=\"\(left - 6)\" y=\"\(bandTop + 9)\" text-anchor=\"end\">tests</text>"
            var laneEnds = [Double](repeating: -1, count: lanes)
            for test in spans {
                let start = test.startSeconds!, stop = test.endSeconds ?? end
                let lane = laneEnds.firstIndex { $0 <= start } ?? (laneEnds.indices.min { laneEnds[$0] < laneEnds[$1] } ?? 0)
                laneEnds[lane] = stop
                svg += "<rect class=\"span\" x=\"\(formatFixed(x(start), digits: 1))\" y=\"\(bandTop + Double(lane) * 12)\" "
                    + "width=\"\(formatFixed(max(1, x(stop) - x(start)), digits: 1))\" height=\"10\"><title>\(test.name.xmlEscaped): "
                    + "\(Format.value("duration", test.durationSeconds)), peak \(Format.value("peak_rss", test.peakBytes.map { Double($0) }))</title></rect>"
            }
        }
        return svg + "</svg>"
    }

    /// The load's totals and how they were measured: driver, readiness, pacing, stop.
    static func loadTable(_ load: RunReport.Load) -> String {
        func latency(_ value: Double?) -> String { value.map(DurationQuantity.formatMeasured) ?? "—" }
        var html = "<table><tr><th>requests</th><th>errors</th><th>req/s</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>"
            + "<tr><td class=\"n\">\(load.requests)</td><td class=\"n\">\(load.errors) (\(formatFixed(load.errorRate, digits: 1))%)</td>"
            + "<td class=\"n\">\(load.requestsPerSecond.map { formatFixed($0, digits: 1) } ?? "—")</td>"
            + "<td class=\"n\">\(latency(load.latency.p50))</td><td class=\"n\">\(latency(load.latency.p90))</td>"
            + "<td class=\"n\">\(latency(load.latency.p95))</td><td class=\"n\">\(latency(load.latency.p99))</td>"
            + "<td class=\"n\">\(latency(load.latency.max))</td></tr></table><ul>"
        html += "<li>driver <code>\(load.driver.command.xmlEscaped)</code> (\(load.driver.format?.rawValue ?? "format unknown"))"
            + (load.driver.exitCode.map { ", exit \($0)" } ?? "") + (load.driver.startError.map { ": could not start: \($0.xmlEscaped)" } ?? "")
            + (load.driver.outputError.map { "; \($0.xmlEscaped)" } ?? "") + "</li>"
        let correction: String
        switch load.latencyCorrection {
        case .corrected: correction = "corrected for coordinated omission (each request measured from its due time, every "
            + "\(DurationQuantity.formatMeasured(load.expectedIntervalSeconds ?? 0)))"
        case .byDriver: correction = "corrected by the driver"
        case .uncorrected: correction = "closed-loop, <b>uncorrected</b> for coordinated omission"
        case .none: correction = "as the driver measured them"
        }
        html += "<li>latencies \(correction)</li>"
        html += "<li>ready: \(load.readiness.target.xmlEscaped) \(load.readiness.result.rawValue)"
            + (load.readiness.readyAtSeconds.map { " after \(formatFixed($0, digits: 2))s" } ?? "")
            + (load.readiness.lastError.map { " (last: \($0.xmlEscaped))" } ?? "") + "</li>"
        if let throttled = load.throttledPercent { html += "<li>throttled in \(formatFixed(throttled, digits: 0))% of CFS periods during the load</li>" }
        if let stop = load.stop {
            html += "<li>stopped with \(stop.signal)" + (stop.exitedAfterSeconds.map { ", exited after \(formatFixed($0, digits: 2))s" } ?? "")
                + (stop.killed ? ", SIGKILLed after its \(DurationQuantity.format(stop.graceSeconds)) grace period" : "") + "</li>"
        }
        return html + "</ul>"
    }

    /// The load's p95 per second (line, left axis) over the share of CFS periods throttled in that
    /// second (bars, right axis), on the memory chart's x-axis (the run's clock), so a reader sees
    /// latency rise where throttling does.
    static func loadChart(_ report: RunReport, _ load: RunReport.Load) -> String {
        let width = 960.0, plotHeight = 160.0, left = 70.0, top = 12.0
        let end = chartEnd(report)
        let ceiling = max(load.timeline.compactMap(\.p95).max() ?? 0, 0.001) * 1.15
        func x(_ t: Double) -> Double { left + t / end * (width - left - 10) }
        func y(_ seconds: Double) -> Double { top + plotHeight - seconds / ceiling * plotHeight }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(top + plotHeight + 22))\" width=\"100%\" "
            + "role=\"img\" aria-label=\"p95 latency and CPU throttling per second\">"
        for step in 0...4 {
            let seconds = ceiling / 4 * Double(step)
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(seconds))\" y2=\"\(y(seconds))\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(seconds) + 4)\" text-anchor=\"end\">\(DurationQuantity.formatMeasured(seconds))</text>"
        }
        for step in 0...5 {
            let t = end / 5 * Double(step)
            svg += "<text x=\"\(x(t))\" y=\"\(top + plotHeight + 14)\" text-anchor=\"middle\">\(formatFixed(t, digits: t < 10 ? 1 : 0))s</text>"
        }
        for second in load.timeline {
            guard let throttled = second.throttledPercent else { continue }
            let height = throttled / 100 * plotHeight
            svg += "<rect class=\"throttled\" x=\"\(formatFixed(x(second.t), digits: 1))\" y=\"\(formatFixed(top + plotHeight - height, digits: 1))\" "
                + "width=\"\(formatFixed(max(1, x(second.t + 1) - x(second.t) - 1), digits: 1))\" height=\"\(formatFixed(height, digits: 1))\">"
                + "<title>\(formatFixed(second.t, digits: 0))s: throttled in \(formatFixed(throttled, digits: 0))% of periods</title></rect>"
        }
        let points = load.timeline.compactMap { second in second.p95.map { (second.t + 0.5, $0, second.requests) } }
        svg += "<polyline class=\"p95line\" points=\""
            + points.map { "\(formatFixed(x($0.0), digits: 1)),\(formatFixed(y($0.1), digits: 1))" }.joined(separator: " ") + "\"/>"
        for point in points {
            svg += "<circle class=\"p95dot\" cx=\"\(formatFixed(x(point.0), digits: 1))\" cy=\"\(formatFixed(y(point.1), digits: 1))\" r=\"2.5\">"
                + "<title>p95 \(DurationQuantity.formatMeasured(point.1)) over \(point.2) requests</title></circle>"
        }
        svg += "<text x=\"\(width - 12)\" y=\"\(top + 10)\" text-anchor=\"end\">bars: % of CFS periods throttled (0–100%)</text>"
        return svg + "</svg>"
    }

    /// p50, p95 and p99 per function as bars, the tightest budget on any of them as a red tick.
    static func latencyChart(_ report: RunReport) -> String {
        let functions = Array(report.functions.prefix(20))
        let budgets = (report.budgets ?? []).filter { $0.scope == .functions && [.p50, .p90, .p95, .p99, .max].contains($0.metric) }
        let scale = max(functions.map(\.p99Seconds).max() ?? 0, budgets.map(\.limit).max() ?? 0) * 1.1 + 1e-9
        let width = 960.0, left = 240.0, row = 34.0
        let height = Double(functions.count) * row + 30
        func x(_ seconds: Double) -> Double { left + seconds / scale * (width - left - 20) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\" "
            + "aria-label=\"function latency\">"
        for (index, function) in functions.enumerated() {
            let y = Double(index) * row + 6
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 16)\" text-anchor=\"end\">\(Format.fit(function.name, 36).xmlEscaped)</text>"
            for (offset, (name, value)) in [("p99", function.p99Seconds), ("p95", function.p95Seconds), ("p50", function.p50Seconds)].enumerated() {
                svg += "<rect class=\"\(name)\" x=\"\(left)\" y=\"\(y + Double(offset) * 8)\" width=\"\(formatFixed(max(1, x(value) - left), digits: 1))\" "
                    + "height=\"8\"><title>\(name) \(Format.value(name, value))</title></rect>"
            }
            svg += "<text x=\"\(x(function.p99Seconds) + 4)\" y=\"\(y + 8)\">p99 \(Format.value("p99", function.p99Seconds))</text>"
            for budget in budgets where budget.target == function.name {
                svg += "<line class=\"budget\" x1=\"\(x(budget.limit))\" x2=\"\(x(budget.limit))\" y1=\"\(y - 2)\" y2=\"\(y + 26)\">"
                    + "<title>budget \(budget.metric.rawValue) \(budget.comparison.rawValue.xmlEscaped) \(budget.metric.format(budget.limit))</title></line>"
            }
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 6)\">0</text><text x=\"\(width - 20)\" y=\"\(height - 6)\" text-anchor=\"end\">"
            + "\(DurationQuantity.formatMeasured(scale))</text>"
        return svg + "</svg>"
    }
}
