/// `confine merge`: the shard reports of a CI matrix as one report — tests and functions
/// unioned (histograms merged), suite figures combined and kept per shard in `shards`. The
/// merged report is not judged: its budgets are judged once on the whole (`BudgetJudge`).
public enum ReportMerger {
    public static func merge(_ given: [(path: String, report: RunReport)]) throws(CompareError) -> RunReport {
        let shards = mergedOnce(given)
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
        // A test two shards ran (overlapping splits) counts once, from the first shard given; a
        // test's attempts within one shard are its own and stay.
        var shardOfTest: [String: Int] = [:]
        merged.tests = reports.enumerated().flatMap { index, report in
            report.tests.filter { test in
                if let owner = shardOfTest[test.name] { return owner == index }
                shardOfTest[test.name] = index
                return true
            }
        }
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
        merged.warnings = shardProblems(given) + shards.flatMap { path, report in report.warnings.map { "\(path): \($0)" } }
        merged.budgets = nil
        merged.shard = nil
        return merged
    }

    /// The reports a merge takes: a shard given twice (the same file, or a rerun of it) once, the
    /// first given; reports that are not shards all.
    static func mergedOnce(_ given: [(path: String, report: RunReport)]) -> [(path: String, report: RunReport)] {
        var seen = Set<ShardPosition>()
        return given.filter { shard in
            guard let position = shard.report.shard else { return true }
            return seen.insert(ShardPosition(index: position.index, total: position.total)).inserted
        }
    }

    /// Whether the reports are the complete, disjoint set of a `--shard I/N` split: each
    /// problem as a warning beginning `merge:` (a missing or repeated shard, totals that
    /// disagree, a report that is not a shard, tests run by more than one shard).
    public static func shardProblems(_ shards: [(path: String, report: RunReport)]) -> [String] {
        let positioned = shards.compactMap { shard in shard.report.shard.map { (path: shard.path, position: $0) } }
        guard !positioned.isEmpty else {
            // Not shards at all: reports of the same tests merged would count each twice.
            var seen = Set<String>(), repeated = 0
            for (_, report) in shards {
                for name in Set(report.tests.map(\.name)) where !seen.insert(name).inserted { repeated += 1 }
            }
            return repeated == 0 ? [] : ["merge: \(repeated) test\(repeated == 1 ? "" : "s") appear in more than one report: these are not disjoint shards (run them with --shard I/N)"]
        }
        var problems: [String] = []
        let splits = Set(positioned.map { $0.position.durationsFrom ?? "hash" })
        if splits.count > 1 {
            problems.append("merge: the shards were split differently (\(positioned.map { "\($0.path): \($0.position.durationsFrom.map { "durations of the report started \($0)" } ?? "by hash")" }.joined(separator: "; "))): together they need not cover the suite")
        }
        for shard in shards where shard.report.shard == nil {
            problems.append("merge: \(shard.path) is not a shard (it ran without --shard): its tests may repeat the shards'")
        }
        // Disjoint: a test's name in one shard only (attempts of one test within a shard are its own),
        // whatever the shards' totals; a shard given twice is merged once, so not counted here.
        var shardOf: [String: ShardPosition] = [:]
        var overlapping: [(name: String, first: ShardPosition, second: ShardPosition)] = []
        for (_, report) in mergedOnce(shards) {
            guard let given = report.shard else { continue }
            let position = ShardPosition(index: given.index, total: given.total)
            for name in Set(report.tests.map(\.name)) {
                if let first = shardOf[name], first != position { overlapping.append((name, first, position)) } else { shardOf[name] = position }
            }
        }
        var overlap: [String] = []
        if let first = overlapping.min(by: { $0.name < $1.name }) {
            overlap.append("merge: \(overlapping.count) test\(overlapping.count == 1 ? "" : "s") ran in more than one shard (the shards overlap; "
                           + "the merged report keeps each from the first shard given), "
                           + "e.g. \(first.name.printableLine) in \(first.first.index)/\(first.first.total) and \(first.second.index)/\(first.second.total)")
        }
        let totals = Set(positioned.map(\.position.total))
        guard totals.count == 1, let total = totals.first else {
            return problems + ["merge: the shards disagree on how many there are (\(positioned.map { "\($0.path): \($0.position)" }.joined(separator: ", ")))"] + overlap
        }
        let byIndex = Dictionary(grouping: positioned, by: \.position.index)
        for index in 1...total {
            switch byIndex[index]?.count ?? 0 {
            case 0: problems.append("merge: shard \(index)/\(total) is missing: its tests are not in the merged report")
            case 1: break
            default: problems.append("merge: shard \(index)/\(total) is given \(byIndex[index]!.count) times (\(byIndex[index]!.map(\.path).joined(separator: ", "))): "
                                     + "the merged report has it once, from \(byIndex[index]![0].path)")
            }
        }
        return problems + overlap
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
