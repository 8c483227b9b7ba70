#if canImport(Glibc)
import Glibc
#endif

/// How much a test's duration moves between runs of the same code, estimated from the runs
/// themselves (docs/compare.md). Pure: durations in, effects and p-values out.
///
/// Durations are compared on a log scale (a test twice as slow is +0.69 whatever its length).
/// With several rounds per side, each test's own spread between rounds is its noise, moderated
/// toward the spread typical of all tests (few rounds give a poor estimate of one test's
/// spread: empirical Bayes, as limma's moderated t does), its change tested with Student's t,
/// and the many tests' p-values controlled together for the false-discovery rate
/// (Benjamini–Hochberg). With one run per side a test has no spread of its own: the spread of
/// all tests' changes is the noise, and only a change far outside it is reported, as seen once.
public enum NoiseModel {
    /// Prior degrees of freedom of the moderated variance: the typical test's spread counts as
    /// much as ten rounds' worth of a test's own — one disturbed run must not make a test's
    /// spread, and so hide its change (five rounds per side give eight degrees of their own).
    static let priorDegrees = 10.0
    /// A single pair flags a change this many robust standard deviations (of all tests' changes)
    /// from the typical change: far outside the envelope even for heavy-tailed noise.
    public static let seenOnceAt = 6.0

    /// One test's evidence: its durations (seconds) in each base and each head run.
    public struct Samples: Sendable, Equatable {
        public var base: [Double]
        public var head: [Double]
        public init(base: [Double], head: [Double]) {
            self.base = base
            self.head = head
        }
    }

    /// The change of one test, on the log scale.
    public struct Effect: Sendable, Equatable {
        /// The Hodges–Lehmann shift of log durations: the median of every log(head) − log(base);
        /// exp(shift) − 1 is the typical run's relative change.
        public var shift: Double
        /// Its standard error (moderated); nil for a single pair.
        public var standardError: Double?
        /// Two-sided p-value of "no change" (nil for a single pair).
        public var pValue: Double?
        /// Benjamini–Hochberg adjusted p-value among all the tests compared (nil for a single pair).
        public var qValue: Double?
        /// 95% confidence interval of the shift (nil for a single pair).
        public var interval: (low: Double, high: Double)?
        /// Single pair: how many robust standard deviations of all tests' changes this one lies
        /// from their median.
        public var outlierScore: Double?

        public static func == (a: Effect, b: Effect) -> Bool {
            a.shift == b.shift && a.standardError == b.standardError && a.pValue == b.pValue && a.qValue == b.qValue
                && a.interval?.low == b.interval?.low && a.interval?.high == b.interval?.high && a.outlierScore == b.outlierScore
        }
    }

    /// The effects of every test (same order as `samples`), and the typical change of all of
    /// them (log scale): the machine-speed drift when base and head ran on different machines.
    /// `netOfTypical`: each change is measured from the typical one (its shift, interval and
    /// p-value), as across machines, where the typical change is the machine's.
    public static func effects(_ samples: [Samples], netOfTypical: Bool = false) -> (effects: [Effect?], typicalShift: Double) {
        let logs = samples.map { sample in
            (base: sample.base.filter { $0 > 0 }.map(Glibc.log), head: sample.head.filter { $0 > 0 }.map(Glibc.log))
        }
        // The change of the typical run: the Hodges–Lehmann shift (the median of every head−base
        // difference of logs), which a disturbed run barely moves and which wastes little evidence.
        let raw = logs.map { $0.base.isEmpty || $0.head.isEmpty ? nil : hodgesLehmann($0.base, $0.head) }
        let typical = median(raw.compactMap { $0 }) ?? 0
        let shifts = raw.map { $0.map { $0 - (netOfTypical ? typical : 0) } }
        let replicated = logs.indices.filter { logs[$0].base.count >= 2 && logs[$0].head.count >= 2 }
        var effects = [Effect?](repeating: nil, count: samples.count)
        if replicated.isEmpty {
            // One run per side: the tests' changes around their median are the noise.
            let spread = robustSpread(raw.compactMap { $0.map { $0 - typical } })
            for index in logs.indices {
                guard let shift = shifts[index], let own = raw[index] else { continue }
                effects[index] = Effect(shift: shift, outlierScore: spread > 0 ? (own - typical) / spread : nil)
            }
            return (effects, typical)
        }
        // Each test's own variance between rounds (robust: from the spread around each side's
        // median), moderated toward the typical one.
        var variances: [Int: (value: Double, degrees: Double)] = [:]
        for index in replicated {
            let (base, head) = (logs[index].base, logs[index].head)
            let degrees = Double(base.count + head.count - 2)
            // The deviations of both sides from their own medians, pooled: their robust spread
            // (an odd side's median deviates by 0 from itself: not counted).
            let deviations = deviationsFromMedian(base) + deviationsFromMedian(head)
            let spread = 1.4826 * (median(deviations.map(abs)) ?? 0)
            variances[index] = (spread * spread, degrees)
        }
        let prior = median(variances.values.map(\.value)) ?? 0
        var pValues: [(index: Int, p: Double)] = []
        for index in replicated {
            guard let shift = shifts[index], let own = variances[index] else { continue }
            let moderated = (priorDegrees * prior + own.degrees * own.value) / (priorDegrees + own.degrees)
            let degrees = priorDegrees + own.degrees
            // The Hodges–Lehmann shift's variance is about π/3 times that of a difference of means (normal data).
            let standardError = (Double.pi / 3 * moderated * (1 / Double(logs[index].base.count) + 1 / Double(logs[index].head.count)))
                .squareRoot()
            var effect = Effect(shift: shift, standardError: standardError)
            if standardError > 0 {
                let t = shift / standardError
                effect.pValue = 2 * StudentT.upperTail(abs(t), degrees: degrees)
                let critical = StudentT.quantile(0.975, degrees: degrees)
                effect.interval = (shift - critical * standardError, shift + critical * standardError)
            } else {
                effect.pValue = shift == 0 ? 1 : 0
                effect.interval = (shift, shift)
            }
            effects[index] = effect
            pValues.append((index, effect.pValue!))
        }
        for (index, q) in benjaminiHochberg(pValues) { effects[index]?.qValue = q }
        return (effects, typical)
    }

    /// Benjamini–Hochberg adjusted p-values (q-values): a test is a discovery at false-discovery
    /// rate `q` when its value is at most `q`.
    public static func benjaminiHochberg(_ pValues: [(index: Int, p: Double)]) -> [(index: Int, q: Double)] {
        let sorted = pValues.sorted { $0.p < $1.p }
        let count = Double(sorted.count)
        var adjusted = [Double](repeating: 1, count: sorted.count)
        var running = 1.0
        for rank in stride(from: sorted.count - 1, through: 0, by: -1) {
            running = min(running, sorted[rank].p * count / Double(rank + 1))
            adjusted[rank] = min(1, running)
        }
        return sorted.indices.map { (sorted[$0].index, adjusted[$0]) }
    }

    // MARK: robust summaries

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// 1.4826 × the median absolute deviation: the standard deviation for normal data, unmoved by outliers.
    static func robustSpread(_ values: [Double]) -> Double {
        guard let center = median(values) else { return 0 }
        return 1.4826 * (median(values.map { abs($0 - center) }) ?? 0)
    }

    /// The median of every difference `head[j] − base[i]`.
    static func hodgesLehmann(_ base: [Double], _ head: [Double]) -> Double {
        var differences: [Double] = []
        differences.reserveCapacity(base.count * head.count)
        for b in base { for h in head { differences.append(h - b) } }
        return median(differences) ?? 0
    }

    /// Each value's distance from the median, without the median's own (0) for an odd count.
    static func deviationsFromMedian(_ values: [Double]) -> [Double] {
        let sorted = values.sorted()
        guard let center = median(sorted) else { return [] }
        var kept = sorted
        if kept.count % 2 == 1 { kept.remove(at: kept.count / 2) }
        return kept.map { $0 - center }
    }

    static func variance(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    }
}

/// Student's t distribution: upper tail and quantiles, through the regularized incomplete beta
/// function (continued fraction, Numerical Recipes §6.4).
public enum StudentT {
    /// P(T > t) for t ≥ 0 with `degrees` degrees of freedom.
    public static func upperTail(_ t: Double, degrees: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 0 : 1 }
        let x = degrees / (degrees + t * t)
        let tail = 0.5 * incompleteBeta(x, a: degrees / 2, b: 0.5)
        return t >= 0 ? tail : 1 - tail
    }

    /// The value t with P(T ≤ t) = `probability` (0.5 < probability < 1), by bisection.
    public static func quantile(_ probability: Double, degrees: Double) -> Double {
        var (low, high) = (0.0, 1000.0)
        for _ in 0..<100 {
            let middle = (low + high) / 2
            if 1 - upperTail(middle, degrees: degrees) < probability { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// The regularized incomplete beta function I_x(a, b).
    static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a: a, b: b) / a }
        return 1 - front * continuedFraction(1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...300 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            result *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            result *= step
            if abs(step - 1) < 1e-12 { break }
        }
        return result
    }
}
