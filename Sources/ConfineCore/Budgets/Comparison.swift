/// `confine compare base.json head.json`: what got worse, what got better, what came and went.
public struct Comparison: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case regression, improvement, unchanged, added, removed
    }

    public struct Row: Codable, Sendable, Equatable {
        /// `suite`, `test` or `function`.
        public var kind: String
        public var name: String
        /// `duration`, `cpu_time`, `peak_rss`, or the percentile that moved most (`p95`).
        public var metric: String
        public var base: Double?
        public var head: Double?
        /// (head − base) / base.
        public var change: Double?
        /// The threshold that applied (`+10%`).
        public var threshold: String?
        /// Latency only: the one-sided Mann-Whitney p-value in the direction of the change, and the calls on each side.
        public var pValue: Double?
        public var baseCalls: UInt64?
        public var headCalls: UInt64?
        public var verdict: Verdict
    }

    public var schemaVersion = RunReport.currentSchemaVersion
    public var base: String
    public var head: String
    public var regression: RegressionSpec
    public var rows: [Row]

    public var regressions: [Row] { rows.filter { $0.verdict == .regression } }
    public var improvements: [Row] { rows.filter { $0.verdict == .improvement } }
    public var hasRegression: Bool { rows.contains { $0.verdict == .regression } }
}

public struct CompareError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

public enum Comparator {
    public static func compare(base: RunReport, head: RunReport, basePath: String, headPath: String,
                               spec: RegressionSpec? = nil) throws(CompareError) -> Comparison {
        guard base.schemaVersion == head.schemaVersion else {
            throw CompareError(message: "\(basePath) has report schema version \(base.schemaVersion), \(headPath) has \(head.schemaVersion); "
                               + "compare reports written by the same confine release")
        }
        let spec = spec ?? head.profile.regression ?? RegressionSpec()
        var rows: [Row] = []
        typealias Row = Comparison.Row

        func scalar(_ kind: String, _ name: String, _ metric: String, _ base: Double?, _ head: Double?,
                    _ threshold: RegressionThreshold) -> Row? {
            let unit: BudgetMetric = metric == "peak_rss" || metric == "peak_usage" ? .peakRss : .duration
            guard let base, let head else { return nil }
            var verdict = Comparison.Verdict.unchanged
            if threshold.exceeded(base: base, head: head) { verdict = .regression }
            else if threshold.exceeded(base: head, head: base) { verdict = .improvement }
            return Row(kind: kind, name: name, metric: metric, base: base, head: head, change: base > 0 ? (head - base) / base : nil,
                       threshold: threshold.description(unit), verdict: verdict)
        }

        // Memory: what reclaim cannot drop when both reports have it (page cache is not the
        // tests'), else the usage peak on both sides — never one against the other.
        func memoryRow(_ kind: String, _ name: String, _ old: (unreclaimable: UInt64?, usage: UInt64?),
                       _ new: (unreclaimable: UInt64?, usage: UInt64?)) -> Row? {
            if let before = old.unreclaimable, let after = new.unreclaimable {
                return scalar(kind, name, "peak_rss", Double(before), Double(after), spec.peakRss)
            }
            return scalar(kind, name, "peak_usage", old.usage.map { Double($0) }, new.usage.map { Double($0) }, spec.peakRss)
        }

        // The suite.
        rows += [scalar("suite", "suite", "duration", base.durationSeconds, head.durationSeconds, spec.duration),
                 scalar("suite", "suite", "cpu_time", base.cpu.usageSeconds, head.cpu.usageSeconds, spec.cpuTime),
                 memoryRow("suite", "suite", (base.memory.unreclaimablePeakBytes, base.memory.peakBytes),
                           (head.memory.unreclaimablePeakBytes, head.memory.peakBytes))]
            .compactMap { $0 }

        // Tests, matched by name (the first of a repeated name).
        var baseIndex: [String: Int] = [:]
        baseIndex.reserveCapacity(base.tests.count)
        for (index, test) in base.tests.enumerated() where baseIndex[test.name] == nil { baseIndex[test.name] = index }
        var seen = Set<String>(minimumCapacity: head.tests.count)
        for test in head.tests where seen.insert(test.name).inserted {
            guard let index = baseIndex[test.name] else {
                rows.append(Row(kind: "test", name: test.name, metric: "duration", head: test.durationSeconds, verdict: .added))
                continue
            }
            let old = base.tests[index]
            if let row = scalar("test", test.name, "duration", old.durationSeconds, test.durationSeconds, spec.duration) { rows.append(row) }
            if let row = memoryRow("test", test.name, (old.unreclaimablePeakBytes, old.peakBytes), (test.unreclaimablePeakBytes, test.peakBytes)) {
                rows.append(row)
            }
        }
        for (index, test) in base.tests.enumerated() where baseIndex[test.name] == index && !seen.contains(test.name) {
            rows.append(Row(kind: "test", name: test.name, metric: "duration", base: test.durationSeconds, verdict: .removed))
        }

        // Functions: every percentile against the threshold, the whole distribution against chance.
        let baseFunctions = Dictionary(base.functions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let headNames = Set(head.functions.map(\.name))
        for function in head.functions {
            guard let old = baseFunctions[function.name] else {
                rows.append(Row(kind: "function", name: function.name, metric: "p95", head: function.p95Seconds,
                                headCalls: function.calls, verdict: .added))
                continue
            }
            rows.append(compareFunction(old, function, spec))
        }
        for function in base.functions where !headNames.contains(function.name) {
            rows.append(Row(kind: "function", name: function.name, metric: "p95", base: function.p95Seconds,
                            baseCalls: function.calls, verdict: .removed))
        }
        return Comparison(base: basePath, head: headPath, regression: spec, rows: rows)
    }

    static func compareFunction(_ old: FunctionRecord, _ new: FunctionRecord, _ spec: RegressionSpec) -> Comparison.Row {
        let percentiles: [(String, Double, Double)] = [
            ("p50", old.p50Seconds, new.p50Seconds), ("p90", old.p90Seconds, new.p90Seconds),
            ("p95", old.p95Seconds, new.p95Seconds), ("p99", old.p99Seconds, new.p99Seconds),
        ]
        let test = old.distribution.flatMap { base in new.distribution.flatMap { MannWhitney.test(base: base, head: $0) } }
        // The percentile that moved most, in either direction.
        let moved = percentiles.max { abs(change($0.1, $0.2)) < abs(change($1.1, $1.2)) }!
        let slower = percentiles.filter { spec.latency.exceeded(base: $0.1, head: $0.2) }
        let faster = percentiles.filter { spec.latency.exceeded(base: $0.2, head: $0.1) }
        var verdict = Comparison.Verdict.unchanged
        var pValue: Double?
        var shown = moved
        // Without per-call histograms (an older report) the thresholds alone decide.
        if !slower.isEmpty && (test.map { $0.pSlower < spec.alpha } ?? true) {
            verdict = .regression
            shown = slower.max { change($0.1, $0.2) < change($1.1, $1.2) }!
            pValue = test?.pSlower
        } else if !faster.isEmpty && (test.map { $0.pFaster < spec.alpha } ?? true) {
            verdict = .improvement
            shown = faster.min { change($0.1, $0.2) < change($1.1, $1.2) }!
            pValue = test?.pFaster
        } else {
            pValue = test.map { change(moved.1, moved.2) >= 0 ? $0.pSlower : $0.pFaster }
        }
        return Comparison.Row(kind: "function", name: new.name, metric: shown.0, base: shown.1, head: shown.2,
                              change: shown.1 > 0 ? (shown.2 - shown.1) / shown.1 : nil, threshold: spec.latency.description(.p95),
                              pValue: pValue, baseCalls: old.calls, headCalls: new.calls, verdict: verdict)
    }

    private static func change(_ base: Double, _ head: Double) -> Double { base > 0 ? (head - base) / base : 0 }
}

extension Comparison.Row {
    init(kind: String, name: String, metric: String, base: Double? = nil, head: Double? = nil, baseCalls: UInt64? = nil,
         headCalls: UInt64? = nil, verdict: Comparison.Verdict) {
        self.init(kind: kind, name: name, metric: metric, base: base, head: head, change: nil, threshold: nil, pValue: nil,
                  baseCalls: baseCalls, headCalls: headCalls, verdict: verdict)
    }
}
