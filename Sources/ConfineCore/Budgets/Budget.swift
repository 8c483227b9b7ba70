/// Performance budgets a profile declares (`budgets:`), and how a run is judged against them.
/// See docs/profiles.md ("Budgets").

/// What a budget can limit. Every metric is "lower is better" but throughput (`rps`), the one a
/// budget bounds from below; each applies to some scopes.
public enum BudgetMetric: String, CaseIterable, Codable, Sendable {
    case duration
    case cpuTime = "cpu_time"
    /// The memory reclaim cannot drop (anon, shmem, unreclaimable kernel; page cache excluded):
    /// `memory.unreclaimablePeakBytes`, `tests[].unreclaimablePeakBytes` — the usage peak in
    /// reports that lack it, and for a test measured by its own process (its RSS).
    case peakRss = "peak_rss"
    /// The group's usage peak, page cache included (what the memory limit counts): `memory.peakBytes`, `tests[].peakBytes`.
    case peakUsage = "peak_usage"
    case rssGrowth = "rss_growth"
    case throttled
    case oomKills = "oom_kills"
    case seccompDenials = "seccomp_denials"
    case networkAttempts = "network_attempts"
    case p50, p90, p95, p99, max, mean
    case calls
    /// `load.errorRate`: requests answered outside 2xx/3xx or not answered, percent of requests.
    case errorRate = "error_rate"
    /// `load.requestsPerSecond`: requests the driver completed per second of load. Higher is better.
    case rps

    public enum Unit: Sendable { case seconds, bytes, percent, count, perSecond }

    /// Throughput: a budget bounds it from below (`rps >= 200`).
    public var higherIsBetter: Bool { self == .rps }

    /// Wall-clock metrics a CPU quota can stretch: duration and the latency percentiles (not CPU time).
    public var isTime: Bool { unit == .seconds && self != .cpuTime }

    public var unit: Unit {
        switch self {
        case .duration, .cpuTime, .p50, .p90, .p95, .p99, .max, .mean: .seconds
        case .peakRss, .peakUsage, .rssGrowth: .bytes
        case .throttled: .percent
        case .oomKills, .seccompDenials, .networkAttempts, .calls: .count
        case .errorRate: .percent
        case .rps: .perSecond
        }
    }

    public static func allowed(in scope: BudgetScope) -> [BudgetMetric] {
        switch scope {
        case .suite: [.duration, .cpuTime, .peakRss, .peakUsage, .throttled, .oomKills, .seccompDenials, .networkAttempts]
        case .tests: [.duration, .cpuTime, .peakRss, .peakUsage, .rssGrowth, .oomKills]
        case .functions: [.p50, .p90, .p95, .p99, .max, .mean, .calls]
        case .load: [.p50, .p90, .p95, .p99, .max, .errorRate, .rps]
        }
    }

    /// A value of this metric for people: `2.0ms`, `256.0 MiB`, `20%`, `3`.
    public func format(_ value: Double) -> String {
        switch unit {
        case .seconds: DurationQuantity.formatMeasured(value)
        case .bytes: ByteQuantity.human(UInt64(Swift.max(0, value)))
        case .percent: formatFixed(value, digits: 1) + "%"
        case .count: String(Int(value))
        case .perSecond: formatFixed(value, digits: value < 10 ? 2 : 1) + " req/s"
        }
    }

    /// Parses a limit in this metric's unit: `2ms`, `400Mi`, `20%`, `0`.
    public func parseLimit(_ text: String) throws(UnitError) -> Double {
        switch unit {
        case .seconds: return try DurationQuantity.parse(text)
        case .bytes: return Double(try ByteQuantity.parse(text))
        case .percent:
            guard text.hasSuffix("%"), let value = Double(text.dropLast().trimmingWhitespace()), value >= 0, value <= 100 else {
                throw UnitError("'\(text)' is not a percentage; expected one from 0% to 100%, such as 20%")
            }
            return value
        case .count:
            guard let value = Int(text), value >= 0 else { throw UnitError("'\(text)' is not a whole number; expected a count such as 0 or 3") }
            return Double(value)
        case .perSecond:
            var number = text.trimmingWhitespace()[...]
            for suffix in ["req/s", "rps", "/s"] where number.hasSuffix(suffix) {
                number = number.dropLast(suffix.count)
                break
            }
            guard let value = Double(String(number).trimmingWhitespace()), value >= 0, value.isFinite else {
                throw UnitError("'\(text)' is not a throughput; expected requests per second such as 200 or 200/s")
            }
            return value
        }
    }
}

public enum BudgetScope: String, Codable, Sendable, CaseIterable {
    case suite, tests, functions
    /// The load a driver put on a service (`confine load`, `capacity`): the report's `load`.
    case load
}

public enum BudgetLevel: String, Codable, Sendable {
    /// A broken budget fails the run (exit 99).
    case fail
    /// A broken budget is reported; the exit code does not change.
    case warn
}

/// How a budget's limit bounds the measured value (the profile's `p95 < 2ms`, `400Mi`).
public enum BudgetComparison: String, ReportValue {
    /// `<`: the value must stay below the limit.
    case lessThan = "<"
    /// `<=`: the value may reach the limit (a bare value in the profile).
    case atMost = "<="
    /// `>`: the value must stay above the limit (throughput only).
    case greaterThan = ">"
    /// `>=`: the value may fall to the limit, not below (a bare throughput in the profile).
    case atLeast = ">="

    /// The sign a message shows between the measured value and the limit: the comparison itself
    /// when the budget held, its opposite when it broke (`p95 120ms > limit 100ms`, `rps 150 < limit 200`).
    func relation(held: Bool) -> String {
        switch (self, held) {
        case (.lessThan, true): "<"
        case (.atMost, true): "≤"
        case (.lessThan, false): "≥"
        case (.atMost, false): ">"
        case (.greaterThan, true): ">"
        case (.atLeast, true): "≥"
        case (.greaterThan, false): "≤"
        case (.atLeast, false): "<"
        }
    }
}

/// One limit: `p95 < 2ms`, `peak_rss <= 400Mi` (a bare value means "at most").
public struct BudgetThreshold: Codable, Sendable, Equatable {
    public var metric: BudgetMetric
    public var comparison: BudgetComparison
    public var limit: Double
    public var level: BudgetLevel

    public init(metric: BudgetMetric, comparison: BudgetComparison = .atMost, limit: Double, level: BudgetLevel = .fail) {
        self.metric = metric
        self.comparison = comparison
        self.limit = limit
        self.level = level
    }

    public func holds(_ value: Double) -> Bool {
        switch comparison {
        case .lessThan: value < limit
        case .atMost: value <= limit
        case .greaterThan: value > limit
        case .atLeast: value >= limit
        }
    }

    /// `p95 < 2.0ms`.
    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(metric.format(limit))" }

    /// `p95<2ms`, `< 20%`, `400Mi`, `>= 200` (the metric known from the key): the comparison and
    /// the limit. A bare value is "at most", or "at least" for throughput (`rps`), the one metric
    /// bounded from below.
    public static func parse(metric: BudgetMetric, _ text: String) throws(UnitError) -> (BudgetComparison, Double) {
        var rest = text.trimmingWhitespace()[...]
        var comparison = metric.higherIsBetter ? BudgetComparison.atLeast : .atMost
        let lower = rest.hasPrefix("<"), upper = rest.hasPrefix(">")
        if lower, metric.higherIsBetter {
            throw UnitError("'\(text)': \(metric.rawValue) is bounded from below (higher is better); write '>= value' or a bare value (at least)")
        }
        if upper, !metric.higherIsBetter {
            throw UnitError("'\(text)': budgets are upper limits; write '< value' or a bare value (at most)")
        }
        if rest.hasPrefix("<=") || rest.hasPrefix(">=") {
            rest = rest.dropFirst(2)
        } else if lower || upper {
            comparison = lower ? .lessThan : .greaterThan
            rest = rest.dropFirst()
        }
        let value = String(rest).trimmingWhitespace()
        guard !value.isEmpty else { throw UnitError("'\(text)' has no limit after '\(comparison.rawValue)'") }
        return (comparison, try metric.parseLimit(value))
    }
}

/// Budgets for one scope and name pattern (`tests: "ReportTests/*": {...}`).
public struct BudgetRule: Codable, Sendable, Equatable {
    public var scope: BudgetScope
    /// A glob (`*`, `?`) over test or function names; empty for the suite.
    public var pattern: String
    public var thresholds: [BudgetThreshold]

    public init(scope: BudgetScope, pattern: String, thresholds: [BudgetThreshold]) {
        self.scope = scope
        self.pattern = pattern
        self.thresholds = thresholds
    }
}

/// Everything under `budgets:`.
public struct BudgetSpec: Codable, Sendable, Equatable {
    public var rules: [BudgetRule]
    public init(rules: [BudgetRule] = []) { self.rules = rules }

    /// A child profile's rules replace the parent's for the same scope and pattern.
    public func overridden(by child: BudgetSpec) -> BudgetSpec {
        var merged = rules.filter { rule in !child.rules.contains { $0.scope == rule.scope && $0.pattern == rule.pattern } }
        merged += child.rules
        return BudgetSpec(rules: merged)
    }

    /// OOM kills the suite may have (`budgets.suite.oom_kills`); 0 unless the profile allows more.
    public var allowedOOMKills: Int {
        rules.filter { $0.scope == .suite }.flatMap(\.thresholds).first { $0.metric == .oomKills }
            .map { Int($0.comparison == .lessThan ? $0.limit - 1 : $0.limit) } ?? 0
    }
}

/// The verdict on one threshold for one target.
public struct BudgetResult: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case pass, warn, fail
        /// No test or function matched the rule's pattern (renamed? removed?).
        case missing
    }

    public var scope: BudgetScope
    public var pattern: String
    /// The test or function measured; nil when `missing` (and for the suite).
    public var target: String?
    public var metric: BudgetMetric
    public var comparison: BudgetComparison
    public var limit: Double
    public var measured: Double?
    public var level: BudgetLevel
    public var verdict: Verdict
    /// A duration or latency budget that did not pass while the CPU quota held the group back:
    /// the percentage of periods it was throttled in — the test's own 100 ms periods for a test
    /// (`CPUContention.testShare`), the run's for the suite and for functions. Set from 25%.
    public var throttledPercent: Double? = nil

    public init(scope: BudgetScope, pattern: String, target: String?, metric: BudgetMetric, comparison: BudgetComparison, limit: Double,
                measured: Double?, level: BudgetLevel, verdict: Verdict) {
        self.scope = scope
        self.pattern = pattern
        self.target = target
        self.metric = metric
        self.comparison = comparison
        self.limit = limit
        self.measured = measured
        self.level = level
        self.verdict = verdict
    }

    /// `calculate_discount p95 3.1ms > limit 2.0ms`, and when it ran throttled
    /// ` (throttled in 60% of its periods)`.
    public var message: String {
        let subject = target ?? (scope == .suite ? "suite" : scope == .load ? "load" : pattern)
        guard let measured else {
            if scope == .load { return "load \(metric.rawValue): not measured (\(pattern))" }
            return "\(subject): no \(scope == .tests ? "test" : "function") matches '\(pattern)'"
        }
        let relation = comparison.relation(held: verdict == .pass)
        var text = "\(subject) \(metric.rawValue) \(metric.format(measured)) \(relation) limit \(metric.format(limit))"
        if let throttledPercent {
            let whose = scope == .tests ? "its" : "the run's"
            text += " (throttled in \(formatFixed(throttledPercent, digits: 0))% of \(whose) periods)"
        }
        return text
    }
}

public enum BudgetEvaluator {
    /// Judges `report` against `spec`: one result per threshold and matching target, and one
    /// `missing` result per threshold of a rule that matched nothing.
    public static func evaluate(_ report: RunReport, _ spec: BudgetSpec) -> [BudgetResult] {
        var results: [BudgetResult] = []
        for rule in spec.rules {
            // Each target: its name, its figures, and the share of periods it ran throttled in.
            let targets: [(String?, (BudgetMetric) -> Double?, Double?)]
            switch rule.scope {
            case .suite:
                targets = [(nil, { suiteValue(report, $0) }, CPUContention.runShare(report.cpu))]
            case .tests:
                targets = report.tests.filter { Glob.matches(rule.pattern, $0.name) }
                    .map { test in (test.name, { testValue(test, $0) }, CPUContention.testShare(test)) }
            case .functions:
                let run = CPUContention.runShare(report.cpu)
                targets = report.functions.filter { Glob.matches(rule.pattern, $0.name) }
                    .map { function in (function.name, { functionValue(function, $0) }, run) }
            case .load:
                // A run without load (`confine run` under a profile with load budgets) is not judged on them.
                guard let load = report.load else { continue }
                targets = [("load", { loadValue(load, $0) }, CPUContention.runShare(report.cpu))]
            }
            for threshold in rule.thresholds {
                if rule.scope == .load, let (_, value, _) = targets.first, value(threshold.metric) == nil {
                    // The driver does not give this figure (wrk prints no p95; no request was answered).
                    results.append(BudgetResult(scope: .load, pattern: report.load?.missingReason(threshold.metric) ?? "",
                                                target: nil, metric: threshold.metric, comparison: threshold.comparison,
                                                limit: threshold.limit, measured: nil, level: threshold.level,
                                                verdict: threshold.level == .warn ? .warn : .fail))
                    continue
                }
                if targets.isEmpty {
                    results.append(BudgetResult(scope: rule.scope, pattern: rule.pattern, target: nil, metric: threshold.metric,
                                                comparison: threshold.comparison, limit: threshold.limit, measured: nil,
                                                level: threshold.level, verdict: .missing))
                }
                for (name, value, throttledShare) in targets {
                    guard let measured = value(threshold.metric) else { continue }
                    let verdict: BudgetResult.Verdict = threshold.holds(measured) ? .pass : (threshold.level == .warn ? .warn : .fail)
                    var result = BudgetResult(scope: rule.scope, pattern: rule.pattern, target: name, metric: threshold.metric,
                                              comparison: threshold.comparison, limit: threshold.limit, measured: measured,
                                              level: threshold.level, verdict: verdict)
                    if verdict != .pass, threshold.metric.isTime, let share = throttledShare, share >= CPUContention.budgetShare {
                        result.throttledPercent = (share * 1000).rounded() / 10
                    }
                    results.append(result)
                }
            }
        }
        return results
    }

    static func suiteValue(_ report: RunReport, _ metric: BudgetMetric) -> Double? {
        switch metric {
        case .duration: report.durationSeconds
        case .cpuTime: report.cpu.usageSeconds
        case .peakRss: Double(report.memory.unreclaimablePeakBytes ?? report.memory.peakBytes)
        case .peakUsage: Double(report.memory.peakBytes)
        case .throttled: report.cpu.periods > 0 ? Double(report.cpu.throttledPeriods) / Double(report.cpu.periods) * 100 : 0
        case .oomKills: Double(report.oomKills.count)
        case .seccompDenials: Double(report.seccomp?.violations.reduce(0) { $0 + $1.count } ?? 0)
        case .networkAttempts: Double(report.network?.attempts.count ?? 0)
        default: nil
        }
    }

    static func loadValue(_ load: RunReport.Load, _ metric: BudgetMetric) -> Double? {
        switch metric {
        case .p50: load.latency.p50
        case .p90: load.latency.p90
        case .p95: load.latency.p95
        case .p99: load.latency.p99
        case .max: load.latency.max
        case .errorRate: load.requests > 0 ? load.errorRate : nil
        case .rps: load.requestsPerSecond
        default: nil
        }
    }

    static func testValue(_ test: TestRecord, _ metric: BudgetMetric) -> Double? {
        switch metric {
        case .duration: test.durationSeconds
        case .cpuTime: test.cpuSeconds
        case .peakRss: test.ownedPeakBytes.map { Double($0) }
        case .peakUsage: test.peakBytes.map { Double($0) }
        case .rssGrowth: test.peakGrowthBytes.map { Double($0) }
        case .oomKills: Double(test.oomKills)
        default: nil
        }
    }

    static func functionValue(_ function: FunctionRecord, _ metric: BudgetMetric) -> Double? {
        switch metric {
        case .p50: function.p50Seconds
        case .p90: function.p90Seconds
        case .p95: function.p95Seconds
        case .p99: function.p99Seconds
        case .max: function.maxSeconds
        case .mean: function.meanSeconds
        case .calls: Double(function.calls)
        default: nil
        }
    }
}

/// Shell-style globs over test and function names: `*` any run, `?` one character. A name also
/// matches in its slash form (`ReportTests.testMonthly`, `tests/test_x.py::test_y` match
/// `ReportTests/*` and `tests/test_x.py/*`).
public enum Glob {
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        if match(Array(pattern.unicodeScalars), Array(name.unicodeScalars)) { return true }
        let slashed = name.replacingAll("::", with: "/").replacingAll(".", with: "/")
        let slashedPattern = pattern.replacingAll("::", with: "/").replacingAll(".", with: "/")
        return match(Array(slashedPattern.unicodeScalars), Array(slashed.unicodeScalars))
    }

    /// Iterative matcher with one backtrack point per `*` (linear in practice).
    static func match(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0, t = 0
        var star = -1, resume = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p
                resume = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
