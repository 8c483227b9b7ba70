#if canImport(Glibc)
import Glibc
#endif

/// `confine compare`: what got worse, what got better, what came and went — and how sure it is
/// (docs/compare.md). One report per side is a single pair; several are rounds.
public struct Comparison: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        /// Worse, beyond the threshold, with the evidence the gate stands behind: fails it.
        case regression
        case improvement, unchanged, added, removed
        /// A single pair shows a change far outside the noise of all tests: worth a look, not
        /// enough to fail the gate (run rounds).
        case seenOnce = "seen_once"
        /// The change cannot be told apart from what is not the code: base and head ran on
        /// different machines (run same-runner rounds), or memory known only as the usage peak,
        /// which holds page cache (reports without the owned figure).
        case inconclusive
    }

    public struct Row: Codable, Sendable, Equatable {
        /// `suite`, `test` or `function`.
        public var kind: String
        public var name: String
        /// The signal: `duration`, `cpu_time`, `peak_rss` (owned memory), `peak_usage`, or the
        /// percentile of a probed function that moved most (`p95`).
        public var metric: String
        /// Base and head figures: the median over the rounds of each side.
        public var base: Double?
        public var head: Double?
        /// Relative change, (head − base) / base (for tests with rounds: the change of the
        /// typical run, from the means of the logs).
        public var change: Double?
        /// 95% confidence interval of `change` (tests and suite with rounds).
        public var changeLow: Double?
        public var changeHigh: Double?
        /// The threshold that applied (`+10%`).
        public var threshold: String?
        /// The p-value of "no change": tests (two-sided Student's t on the rounds, moderated),
        /// suite (Welch's t on the rounds), functions (one-sided Mann-Whitney over every call).
        public var pValue: Double?
        /// Tests: the p-value adjusted for every test compared (Benjamini–Hochberg): the change
        /// is a discovery at the gate's false-discovery rate when this is at most it.
        public var qValue: Double?
        /// The evidence: runs on each side, and for functions, calls.
        public var baseRounds: Int?
        public var headRounds: Int?
        public var baseCalls: UInt64?
        public var headCalls: UInt64?
        public var verdict: Verdict
    }

    public var schemaVersion = RunReport.currentSchemaVersion
    /// The first report of each side (every one: `baseReports`, `headReports`).
    public var base: String
    public var head: String
    public var baseReports: [String] = []
    public var headReports: [String] = []
    public var regression: RegressionSpec
    /// The false-discovery rate the gate holds its test-level changes to.
    public var falseDiscoveryRate = Comparator.falseDiscoveryRate
    /// The typical change of all tests' durations (median; relative): the machine-speed drift
    /// when the sides ran on different machines.
    public var typicalTestChange: Double?
    /// The sides ran on different machines (hostname or CPU model differ).
    public var acrossRunners = false
    /// What the reader should know about the evidence (single pair, across runners, …).
    public var notes: [String] = []
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
    /// The gate's false-discovery rate over the tests' changes.
    public static let falseDiscoveryRate = 0.05
    /// A test's change must also exceed this (seconds): below it, timer and scheduler granularity.
    static let testAbsoluteFloor = 0.001
    /// Rounds each side needs before a test's change can fail the gate: with two, one disturbed
    /// run is half the evidence (fewer: seen once at most).
    public static let gatingRounds = 3
    /// Significance of a suite figure's change over rounds (Welch's t).
    static let suiteAlpha = 0.01

    /// A single pair.
    public static func compare(base: RunReport, head: RunReport, basePath: String, headPath: String,
                               spec: RegressionSpec? = nil) throws(CompareError) -> Comparison {
        try compare(bases: [(basePath, base)], heads: [(headPath, head)], spec: spec)
    }

    /// Base rounds against head rounds (one report each is a single pair).
    public static func compare(bases: [(path: String, report: RunReport)], heads: [(path: String, report: RunReport)],
                               spec: RegressionSpec? = nil) throws(CompareError) -> Comparison {
        guard let first = bases.first, let last = heads.first else { throw CompareError(message: "name a base and a head report") }
        let all = bases + heads
        if let other = all.first(where: { $0.report.schemaVersion != first.report.schemaVersion }) {
            throw CompareError(message: "\(first.path) has report schema version \(first.report.schemaVersion), \(other.path) has "
                               + "\(other.report.schemaVersion); compare reports written by the same confine release")
        }
        // The same run twice on one side is not two rounds: its noise would count as evidence.
        for side in [bases, heads] {
            var seenRuns: [String: String] = [:]
            for (path, report) in side {
                let run = "\(report.startedAt) \(report.durationSeconds) \(report.host.hostname ?? "")"
                if let earlier = seenRuns[run] {
                    throw CompareError(message: "\(path) is the same run as \(earlier) (same start, duration and machine): "
                                       + "each round must be a run of its own")
                }
                seenRuns[run] = path
            }
        }
        let spec = spec ?? last.report.profile.regression ?? RegressionSpec()
        let baseReports = bases.map(\.report), headReports = heads.map(\.report)
        var comparison = Comparison(base: first.path, head: last.path, baseReports: bases.map(\.path), headReports: heads.map(\.path),
                                    regression: spec, rows: [])
        comparison.acrossRunners = differentMachines(baseReports, headReports)
        if bases.count == 1 && heads.count == 1 {
            comparison.notes.append("one run per side: a test's change counts only far outside the spread of all tests' changes, "
                                    + "and then as seen once, not failing the gate — run rounds (--base/--head several times) for evidence")
        } else if min(bases.count, heads.count) < gatingRounds {
            comparison.notes.append("\(bases.count) base and \(heads.count) head runs: a test's change fails the gate only with at least "
                                    + "\(gatingRounds) runs on each side; with fewer it is seen once at most")
        }
        var rows = suiteRows(baseReports, headReports, spec: spec, acrossRunners: comparison.acrossRunners)
        let (testRows, typical) = testRows(baseReports, headReports, spec: spec, acrossRunners: comparison.acrossRunners)
        rows += testRows
        comparison.typicalTestChange = typical.map { exp($0) - 1 }
        if comparison.acrossRunners {
            let drift = comparison.typicalTestChange.map { " (the typical test changed \(formatFixed($0 * 100, digits: 1))%: machine speed)" } ?? ""
            comparison.notes.append("base and head ran on different machines\(drift): durations are compared net of that drift, and a "
                                    + "change the machine could explain is inconclusive — run same-runner rounds")
        }
        rows += functionRows(baseReports, headReports, spec: spec)
        rows += loadRows(baseReports, headReports, spec: spec)
        comparison.rows = rows
        return comparison
    }

    // MARK: suite

    static func suiteRows(_ bases: [RunReport], _ heads: [RunReport], spec: RegressionSpec, acrossRunners: Bool) -> [Comparison.Row] {
        var rows: [Comparison.Row] = []
        for (metric, threshold, figure) in [("duration", spec.duration, { (r: RunReport) in r.durationSeconds }),
                                            ("cpu_time", spec.cpuTime, { (r: RunReport) in r.cpu.usageSeconds })] {
            rows.append(timedRow("suite", "suite", metric, bases.map(figure), heads.map(figure), threshold, acrossRunners: acrossRunners))
        }
        if let row = memoryRow("suite", "suite", bases.map { ($0.memory.unreclaimablePeakBytes, $0.memory.peakBytes) },
                               heads.map { ($0.memory.unreclaimablePeakBytes, $0.memory.peakBytes) }, spec) {
            rows.append(row)
        }
        return rows
    }

    /// A suite figure: the medians against the threshold; with rounds on both sides, Welch's t
    /// on the logs must also say it is not chance. One run per side: a change beyond the
    /// threshold is seen once. Across runners: inconclusive.
    static func timedRow(_ kind: String, _ name: String, _ metric: String, _ base: [Double], _ head: [Double],
                         _ threshold: RegressionThreshold, acrossRunners: Bool) -> Comparison.Row {
        let (b, h) = (NoiseModel.median(base) ?? 0, NoiseModel.median(head) ?? 0)
        var row = Comparison.Row(kind: kind, name: name, metric: metric, base: b, head: h, baseRounds: base.count, headRounds: head.count,
                                 verdict: .unchanged)
        row.change = b > 0 ? (h - b) / b : nil
        row.threshold = threshold.description(metric == "cpu_time" ? .cpuTime : .duration)
        let worse = threshold.exceeded(base: b, head: h), better = threshold.exceeded(base: h, head: b)
        guard worse || better else { return row }
        if base.count >= 2 && head.count >= 2, let welch = welch(base.filter { $0 > 0 }.map(log), head.filter { $0 > 0 }.map(log)) {
            row.pValue = welch.p
            row.changeLow = exp(welch.low) - 1
            row.changeHigh = exp(welch.high) - 1
            guard welch.p < suiteAlpha else { return row }
            row.verdict = acrossRunners ? .inconclusive : worse ? .regression : .improvement
        } else {
            row.verdict = acrossRunners ? .inconclusive : .seenOnce
        }
        return row
    }

    /// Welch's t on two samples: two-sided p and the 95% interval of the difference of means.
    static func welch(_ a: [Double], _ b: [Double]) -> (p: Double, low: Double, high: Double)? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let (va, vb) = (NoiseModel.variance(a) / Double(a.count), NoiseModel.variance(b) / Double(b.count))
        let difference = b.reduce(0, +) / Double(b.count) - a.reduce(0, +) / Double(a.count)
        let standardError = (va + vb).squareRoot()
        guard standardError > 0 else { return (difference == 0 ? 1 : 0, difference, difference) }
        let degrees = (va + vb) * (va + vb) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        let critical = StudentT.quantile(0.975, degrees: degrees)
        return (2 * StudentT.upperTail(abs(difference / standardError), degrees: degrees),
                difference - critical * standardError, difference + critical * standardError)
    }

    /// Memory the target owns (unreclaimable) when every report has it — never page cache
    /// against owned memory — else the usage peak; medians of the rounds against the threshold.
    static func memoryRow(_ kind: String, _ name: String, _ base: [(unreclaimable: UInt64?, usage: UInt64?)],
                          _ head: [(unreclaimable: UInt64?, usage: UInt64?)], _ spec: RegressionSpec) -> Comparison.Row? {
        let owned = (base + head).allSatisfy { $0.unreclaimable != nil }
        let pick = { (side: [(unreclaimable: UInt64?, usage: UInt64?)]) in
            side.compactMap { owned ? $0.unreclaimable : $0.usage }.map { Double($0) }
        }
        guard let b = NoiseModel.median(pick(base)), let h = NoiseModel.median(pick(head)) else { return nil }
        var row = Comparison.Row(kind: kind, name: name, metric: owned ? "peak_rss" : "peak_usage", base: b, head: h,
                                 baseRounds: base.count, headRounds: head.count, verdict: .unchanged)
        row.change = b > 0 ? (h - b) / b : nil
        row.threshold = spec.peakRss.description(.peakRss)
        // The usage peak holds page cache the kernel can drop: a change in it is not the code's to answer for.
        if spec.peakRss.exceeded(base: b, head: h) { row.verdict = owned ? .regression : .inconclusive }
        else if spec.peakRss.exceeded(base: h, head: b) { row.verdict = owned ? .improvement : .inconclusive }
        return row
    }

    // MARK: tests

    /// Tests matched by name across every report (the first of a repeated name in each); only
    /// runs the test finished (passed or failed) count. Duration and CPU time through the noise
    /// model, every test's p-value of both signals in one Benjamini–Hochberg family; owned memory
    /// against its threshold.
    static func testRows(_ bases: [RunReport], _ heads: [RunReport], spec: RegressionSpec,
                         acrossRunners: Bool) -> (rows: [Comparison.Row], typicalShift: Double?) {
        // A test's figures count from the runs it passed: a failed or cut-short run's duration
        // says how it ended, not how fast it is (outcomes are compared on their own, below).
        func byName(_ reports: [RunReport], passedOnly: Bool) -> [[String: TestRecord]] {
            reports.map { report in
                var byName: [String: TestRecord] = [:]
                for test in report.tests where byName[test.name] == nil && (!passedOnly || test.outcome == .passed) {
                    byName[test.name] = test
                }
                return byName
            }
        }
        let (baseTests, headTests) = (byName(bases, passedOnly: true), byName(heads, passedOnly: true))
        let (baseAll, headAll) = (byName(bases, passedOnly: false), byName(heads, passedOnly: false))
        var names: [String] = []
        var seen = Set<String>()
        for report in heads + bases {
            for test in report.tests where seen.insert(test.name).inserted { names.append(test.name) }
        }
        var rows: [Comparison.Row] = []
        var compared: [String] = []
        for name in names {
            let inBase = bases.contains { report in report.tests.contains { $0.name == name } }
            let inHead = heads.contains { report in report.tests.contains { $0.name == name } }
            if inHead && !inBase {
                rows.append(Comparison.Row(kind: "test", name: name, metric: "duration",
                                           head: NoiseModel.median(headTests.compactMap { $0[name]?.durationSeconds }), verdict: .added))
            } else if inBase && !inHead {
                rows.append(Comparison.Row(kind: "test", name: name, metric: "duration",
                                           base: NoiseModel.median(baseTests.compactMap { $0[name]?.durationSeconds }), verdict: .removed))
            } else {
                compared.append(name)
            }
        }
        let figures: [(metric: String, threshold: RegressionThreshold, value: (TestRecord) -> Double?)] = [
            ("duration", spec.duration, { $0.durationSeconds }), ("cpu_time", spec.cpuTime, { $0.cpuSeconds }),
        ]
        var timed: [Comparison.Row] = []
        var timedSamples: [NoiseModel.Samples?] = []
        var typicalShift: Double?
        var pValues: [(index: Int, p: Double)] = []
        for figure in figures {
            let samples = compared.map { name -> NoiseModel.Samples in
                let runs = baseTests.compactMap { $0[name] } + headTests.compactMap { $0[name] }
                // CPU time means different things per attribution (the group's, a window's, a
                // process's): compared only when every run measured it the same way.
                if figure.metric == "cpu_time", Set(runs.map(\.attribution)).count > 1 { return NoiseModel.Samples(base: [], head: []) }
                return NoiseModel.Samples(base: baseTests.compactMap { $0[name].flatMap(figure.value) },
                                          head: headTests.compactMap { $0[name].flatMap(figure.value) })
            }
            let (effects, typical) = NoiseModel.effects(samples, netOfTypical: acrossRunners)
            if figure.metric == "duration" { typicalShift = samples.contains { !$0.base.isEmpty && !$0.head.isEmpty } ? typical : nil }
            for (position, name) in compared.enumerated() {
                guard let effect = effects[position] else { continue }
                let sample = samples[position]
                // Across runners the shift is already net of the machine's drift.
                let shift = effect.shift
                var row = Comparison.Row(kind: "test", name: name, metric: figure.metric, base: NoiseModel.median(sample.base),
                                         head: NoiseModel.median(sample.head), baseRounds: sample.base.count,
                                         headRounds: sample.head.count, verdict: .unchanged)
                row.change = exp(shift) - 1
                row.pValue = effect.pValue
                if let interval = effect.interval {
                    row.changeLow = exp(interval.low) - 1
                    row.changeHigh = exp(interval.high) - 1
                }
                row.threshold = RegressionThreshold(relative: figure.threshold.relative, absolute: testAbsoluteFloor)
                    .description(figure.metric == "cpu_time" ? .cpuTime : .duration)
                if let score = effect.outlierScore {
                    // One run per side: only far outside every test's spread, and only as seen once.
                    let offset = abs(score) >= NoiseModel.seenOnceAt && beyond(row, figure.threshold)
                    if offset { row.verdict = acrossRunners ? .inconclusive : .seenOnce }
                }
                if let p = effect.pValue { pValues.append((timed.count, p)) }
                timedSamples.append(sample)
                timed.append(row)
            }
        }
        // One family for every test-level p-value: the gate's false alarms stay at the rate.
        for (index, q) in NoiseModel.benjaminiHochberg(pValues) {
            timed[index].qValue = q
            guard q <= falseDiscoveryRate, beyond(timed[index], figures.first { $0.metric == timed[index].metric }!.threshold),
                  let samples = timedSamples[index] else { continue }
            let worse = (timed[index].change ?? 0) > 0
            // Most runs must agree, not a few wild ones: every head run past the typical base run.
            let typicalBase = NoiseModel.median(samples.base) ?? 0
            let consistent = worse ? samples.head.min()! > typicalBase : samples.head.max()! < typicalBase
            let enough = samples.base.count >= gatingRounds && samples.head.count >= gatingRounds
            if acrossRunners {
                timed[index].verdict = .inconclusive
            } else if !consistent {
                continue
            } else if !enough {
                timed[index].verdict = .seenOnce
            } else {
                timed[index].verdict = worse ? .regression : .improvement
            }
        }
        rows += timed
        // Outcomes: a test that passed in every base run and in no head run regressed, whatever
        // its figures; one that passed in some head runs only is flaky: inconclusive.
        for name in compared {
            let base = baseAll.compactMap { $0[name]?.outcome }, head = headAll.compactMap { $0[name]?.outcome }
            let headFailures = head.filter { $0 != .passed && $0 != .skipped && $0 != .notRun }
            guard !headFailures.isEmpty, base.allSatisfy({ $0 == .passed || $0 == .skipped }) else { continue }
            var row = Comparison.Row(kind: "test", name: name, metric: "outcome", baseRounds: base.count, headRounds: head.count,
                                     verdict: headFailures.count == head.count ? .regression : .inconclusive)
            row.threshold = headFailures.map(\.rawValue).joined(separator: ", ")
            rows.append(row)
        }
        // Owned memory: what the tests own, per test, medians of the rounds.
        for name in compared {
            let pair = { (tests: [[String: TestRecord]]) in tests.compactMap { $0[name] }.map { ($0.unreclaimablePeakBytes, $0.peakBytes) } }
            if let row = memoryRow("test", name, pair(baseTests), pair(headTests), spec) { rows.append(row) }
        }
        return (rows, typicalShift)
    }

    /// The change passes the threshold's relative part and the 1 ms floor (in either direction).
    static func beyond(_ row: Comparison.Row, _ threshold: RegressionThreshold) -> Bool {
        guard let change = row.change, let base = row.base, let head = row.head else { return false }
        if let relative = threshold.relative, abs(change) <= relative { return false }
        return abs(head - base) > testAbsoluteFloor
    }

    // MARK: load

    /// The requests of every load run on each side pooled, judged as a probed function's calls
    /// are: each percentile against the latency threshold, the whole distribution against
    /// chance (one-sided Mann–Whitney over every request). Only where both sides have per-request
    /// latencies (hey's CSV, a plain list); a driver that summarised (wrk, locust, k6) is compared
    /// on its percentiles alone.
    static func loadRows(_ bases: [RunReport], _ heads: [RunReport], spec: RegressionSpec) -> [Comparison.Row] {
        func pooled(_ reports: [RunReport]) -> FunctionRecord? {
            let loads = reports.compactMap(\.load).filter { $0.requests > 0 }
            guard !loads.isEmpty else { return nil }
            let distributions = loads.compactMap(\.requestDistribution)
            if distributions.count == loads.count, var merged = distributions.first {
                for distribution in distributions.dropFirst() { merged.merge(distribution) }
                return FunctionRecord(name: "requests", distribution: merged, bytes: nil, memoryGrowthBytes: 0, processes: 0)
            }
            // Summarised figures: the median of each percentile over the rounds.
            func median(_ values: [Double?]) -> Double { NoiseModel.median(values.compactMap { $0 }) ?? 0 }
            return FunctionRecord(name: "requests", calls: UInt64(loads.map(\.requests).reduce(0, +)), totalSeconds: 0, minSeconds: 0,
                                  meanSeconds: 0, p50Seconds: median(loads.map(\.latency.p50)), p90Seconds: median(loads.map(\.latency.p90)),
                                  p95Seconds: median(loads.map(\.latency.p95)), p99Seconds: median(loads.map(\.latency.p99)),
                                  maxSeconds: median(loads.map(\.latency.max)), bytes: nil, memoryGrowthBytes: 0, processes: 0, histogram: nil)
        }
        guard let old = pooled(bases), let new = pooled(heads) else { return [] }
        var row = compareFunction(old, new, spec)
        row.kind = "load"
        row.baseRounds = bases.count
        row.headRounds = heads.count
        let formats = (Set(bases.compactMap { $0.load?.driver.format }), Set(heads.compactMap { $0.load?.driver.format }))
        if formats.0 != formats.1 {
            // Two drivers measure differently (wrk's own percentiles, hey's every request): no gate.
            if row.verdict == .regression || row.verdict == .improvement { row.verdict = .inconclusive }
        } else if old.histogram == nil || new.histogram == nil, row.verdict == .regression || row.verdict == .improvement {
            // Percentiles a driver summarised, with no request to test: a change worth a look, not a gate.
            row.verdict = .seenOnce
        }
        return [row] + (errorRateRow(bases, heads, spec: spec).map { [$0] } ?? [])
    }

    /// The share of failed requests, each side's rounds pooled: a regression when the head's is
    /// at least 1 percentage point higher and a one-sided two-proportion z-test puts the rise
    /// below `alpha` (an improvement the other way). A change that breaks every request is not
    /// a faster load.
    static func errorRateRow(_ bases: [RunReport], _ heads: [RunReport], spec: RegressionSpec) -> Comparison.Row? {
        func pooled(_ reports: [RunReport]) -> (errors: Double, requests: Double) {
            reports.compactMap(\.load).reduce((0, 0)) { ($0.0 + Double($1.errors), $0.1 + Double($1.requests)) }
        }
        let (base, head) = (pooled(bases), pooled(heads))
        guard base.requests > 0, head.requests > 0 else { return nil }
        let (p1, p2) = (base.errors / base.requests, head.errors / head.requests)
        let all = (base.errors + head.errors) / (base.requests + head.requests)
        let spread = (all * (1 - all) * (1 / base.requests + 1 / head.requests)).squareRoot()
        // One-sided p for the observed direction (the normal tail, from erfc).
        let p = spread > 0 ? 0.5 * erfc(abs(p2 - p1) / spread / 2.0.squareRoot()) : (p1 == p2 ? 1 : 0)
        var row = Comparison.Row(kind: "load", name: "requests", metric: "error_rate", base: p1 * 100, head: p2 * 100,
                                 baseCalls: UInt64(base.requests), headCalls: UInt64(head.requests), verdict: .unchanged)
        row.baseRounds = bases.count
        row.headRounds = heads.count
        row.pValue = p
        row.threshold = "+1 percentage point"
        if abs(p2 - p1) >= 0.01 && p < spec.alpha { row.verdict = p2 > p1 ? .regression : .improvement }
        return row
    }

    // MARK: functions

    /// Every call of each side's rounds pooled; every percentile against the threshold, the whole
    /// distribution against chance (one-sided Mann-Whitney).
    static func functionRows(_ bases: [RunReport], _ heads: [RunReport], spec: RegressionSpec) -> [Comparison.Row] {
        let (base, head) = (ReportMerger.mergeFunctions(bases.map(\.functions)), ReportMerger.mergeFunctions(heads.map(\.functions)))
        var rows: [Comparison.Row] = []
        let baseFunctions = Dictionary(base.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let headNames = Set(head.map(\.name))
        for function in head {
            guard let old = baseFunctions[function.name] else {
                rows.append(Comparison.Row(kind: "function", name: function.name, metric: "p95", head: function.p95Seconds,
                                           headCalls: function.calls, verdict: .added))
                continue
            }
            var row = compareFunction(old, function, spec)
            row.baseRounds = bases.count
            row.headRounds = heads.count
            rows.append(row)
        }
        for function in base where !headNames.contains(function.name) {
            rows.append(Comparison.Row(kind: "function", name: function.name, metric: "p95", base: function.p95Seconds,
                                       baseCalls: function.calls, verdict: .removed))
        }
        return rows
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
        var row = Comparison.Row(kind: "function", name: new.name, metric: shown.0, base: shown.1, head: shown.2,
                                 baseCalls: old.calls, headCalls: new.calls, verdict: verdict)
        row.change = shown.1 > 0 ? (shown.2 - shown.1) / shown.1 : nil
        row.threshold = spec.latency.description(.p95)
        row.pValue = pValue
        return row
    }

    private static func change(_ base: Double, _ head: Double) -> Double { base > 0 ? (head - base) / base : 0 }

    /// Whether the sides ran on different machines: a hostname or CPU model that differs between
    /// them (reports without those figures count as the same machine).
    static func differentMachines(_ bases: [RunReport], _ heads: [RunReport]) -> Bool {
        let identity = { (report: RunReport) in [report.host.hostname, report.host.cpuModel] }
        let known = { (reports: [RunReport]) in Set(reports.map(identity).filter { $0.allSatisfy { $0 != nil } }) }
        let (b, h) = (known(bases), known(heads))
        return !b.isEmpty && !h.isEmpty && b != h
    }
}

extension Comparison.Row {
    init(kind: String, name: String, metric: String, base: Double? = nil, head: Double? = nil, baseRounds: Int? = nil,
         headRounds: Int? = nil, baseCalls: UInt64? = nil, headCalls: UInt64? = nil, verdict: Comparison.Verdict) {
        self.init(kind: kind, name: name, metric: metric, base: base, head: head, change: nil, changeLow: nil, changeHigh: nil,
                  threshold: nil, pValue: nil, qValue: nil, baseRounds: baseRounds, headRounds: headRounds,
                  baseCalls: baseCalls, headCalls: headCalls, verdict: verdict)
    }
}
