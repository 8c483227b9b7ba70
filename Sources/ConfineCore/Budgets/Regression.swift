/// How much worse is a regression, for `confine compare` (`regression:` in a profile).
public struct RegressionThreshold: Codable, Sendable, Equatable {
    /// A fraction: 0.10 for `+10%`.
    public var relative: Double?
    /// In the metric's unit (seconds, bytes): `+2ms`, `+5Mi`.
    public var absolute: Double?

    public init(relative: Double? = nil, absolute: Double? = nil) {
        self.relative = relative
        self.absolute = absolute
    }

    /// `+10%` or `+2ms` / `+5Mi`.
    mutating func add(_ text: String, unit: BudgetMetric) throws(UnitError) {
        var body = text.trimmingWhitespace()[...]
        guard body.hasPrefix("+") else { throw UnitError("'\(text)' must start with '+' (how much worse is a regression), such as +10%") }
        body = body.dropFirst()
        if body.hasSuffix("%") {
            guard let percent = Double(body.dropLast().trimmingWhitespace()), percent >= 0 else {
                throw UnitError("'\(text)' is not a percentage such as +10%")
            }
            relative = percent / 100
        } else {
            absolute = try unit.parseLimit(String(body))
        }
    }

    /// Whether `head` is worse than `base` by more than this threshold (both parts, when both are set).
    public func exceeded(base: Double, head: Double) -> Bool {
        let increase = head - base
        guard increase > 0 else { return false }
        if let relative, base > 0, increase / base <= relative { return false }
        if let relative, base == 0, relative > 0, increase == 0 { return false }
        if let absolute, increase <= absolute { return false }
        return relative != nil || absolute != nil
    }

    /// `+10%`, `+5% and +1.0 MiB`, in the unit of `metric` (seconds or bytes).
    public func description(_ metric: BudgetMetric) -> String {
        [relative.map { "+\(formatFixed($0 * 100, digits: 0))%" }, absolute.map { "+" + metric.format($0) }]
            .compactMap { $0 }.joined(separator: " and ")
    }
}

public struct RegressionSpec: Codable, Sendable, Equatable {
    /// Per percentile of probed functions; a latency regression also needs p < `alpha`.
    public var latency = RegressionThreshold(relative: 0.10)
    public var peakRss = RegressionThreshold(relative: 0.05, absolute: 1_048_576)
    public var duration = RegressionThreshold(relative: 0.10, absolute: 0.010)
    public var cpuTime = RegressionThreshold(relative: 0.10, absolute: 0.010)
    /// Significance level of the latency test (one-sided Mann-Whitney U).
    public var alpha = 0.01
    public init() {}
}
