/// `confine merge`: the shard reports of a CI matrix as one report — tests and functions
/// unioned (histograms merged), suite figures combined and kept per shard in `shards`. The
/// merged report is not judged: its budgets are judged once on the whole (`BudgetJudge`).
public enum ReportMerger {
    public static func merge(_ shards: [(path: String, report: RunReport)]) throws(CompareError) -> RunReport {
        guard var merged = shards.first?.report else { throw CompareError(message: "merge: no reports given") }
        for shard in shards where shard.report.schemaVersion != merged.schemaVersion {
            throw CompareError(message: "\(shard.path) has report schema version \(shard.report.schemaVersion), "
                               + "\(shards[0].path) has \(merged.schemaVersion); merge reports written by the same confine release")
        }
        let reports = shards.map(\.report)
        merged.shards = shards.map { path, report in
            RunReport.Shard(path: path, command: report.command, outcome: report.outcome, exitCode: report.exitCode,
                            startedAt: report.startedAt, durationSeconds: report.durationSeconds, peakBytes: report.memory.peakBytes,
                            cpuSeconds: report.cpu.usageSeconds, tests: report.tests.count)
        }
        // The worst shard decides, budgets aside: they are judged again on the merged figures.
        let decisive = reports.map(BudgetJudge.unjudged).max { severity($0.outcome) < severity($1.outcome) }!
        merged.outcome = decisive.outcome
        merged.exitCode = decisive.exitCode
        merged.reason = decisive.outcome == .passed ? "all \(reports.count) shards succeeded within their limits"
            : "shard \(shards[reports.firstIndex { $0.outcome == decisive.outcome }!].path): \(decisive.reason)"
        merged.durationSeconds = reports.map(\.durationSeconds).max() ?? 0
        merged.startedAt = reports.map(\.startedAt).min() ?? merged.startedAt
        let peakShard = reports.max { $0.memory.peakBytes < $1.memory.peakBytes }!
        merged.memory = peakShard.memory
        // What the shards owned is judged on its own peak, not the usage peak's shard's figure.
        let owned = reports.compactMap(\.memory.unreclaimablePeakBytes)
        merged.memory.unreclaimablePeakBytes = owned.count == reports.count ? owned.max() : nil
        merged.cpu.usageSeconds = reports.reduce(0) { $0 + $1.cpu.usageSeconds }
        merged.cpu.periods = reports.reduce(0) { $0 + $1.cpu.periods }
        merged.cpu.throttledPeriods = reports.reduce(0) { $0 + $1.cpu.throttledPeriods }
        merged.cpu.throttledSeconds = reports.reduce(0) { $0 + $1.cpu.throttledSeconds }
        merged.pids.peak = reports.map(\.pids.peak).max() ?? 0
        merged.oomKills = reports.flatMap(\.oomKills)
        merged.processes = Array(reports.flatMap(\.processes).sorted { $0.peakRssBytes > $1.peakRssBytes }.prefix(50))
        if merged.seccomp != nil { merged.seccomp?.violations = reports.flatMap { $0.seccomp?.violations ?? [] } }
        if merged.network != nil { merged.network?.attempts = reports.flatMap { $0.network?.attempts ?? [] } }
        merged.tests = reports.flatMap(\.tests)
        merged.functions = mergeFunctions(reports.map(\.functions))
        merged.probe = reports.compactMap(\.probe).reduce(nil) { total, probe in
            guard var total else { return probe }
            total.datagrams += probe.datagrams
            total.recordsReceived += probe.recordsReceived
            total.recordsDropped += probe.recordsDropped
            total.malformedDatagrams += probe.malformedDatagrams
            return total
        }
        merged.supervisor = nil
        merged.warnings = shards.flatMap { path, report in report.warnings.map { "\(path): \($0)" } }
        merged.budgets = nil
        return merged
    }

    static func severity(_ outcome: Outcome) -> Int {
        switch outcome {
        case .passed: 0
        case .budgetExceeded: 1
        case .failed, .notReady: 2
        case .signaled: 3
        case .oomKilled: 4
        case .stalled: 5
        case .interrupted: 6
        case .timeout: 7
        case .setupFailed, .driverFailed: 8
        }
    }

    static func mergeFunctions(_ shards: [[FunctionRecord]]) -> [FunctionRecord] {
        var order: [String] = []
        var byName: [String: [FunctionRecord]] = [:]
        for function in shards.joined() {
            if byName[function.name] == nil { order.append(function.name) }
            byName[function.name, default: []].append(function)
        }
        return order.map { name in
            let parts = byName[name]!
            guard parts.count > 1 else { return parts[0] }
            let distributions = parts.compactMap(\.distribution)
            guard distributions.count == parts.count else { return parts.max { $0.calls < $1.calls }! } // no histograms: keep the largest shard's
            var distribution = distributions[0]
            for other in distributions.dropFirst() { distribution.merge(other) }
            let bytes = parts.compactMap(\.bytes)
            return FunctionRecord(name: name, distribution: distribution, bytes: bytes.isEmpty ? nil : bytes.reduce(0, &+),
                                  memoryGrowthBytes: parts.map(\.memoryGrowthBytes).max() ?? 0,
                                  processes: parts.reduce(0) { $0 + $1.processes })
        }.sorted { ($0.p99Seconds, $1.name) > ($1.p99Seconds, $0.name) }
    }
}
