/// `confine capacity`'s search for the most load one service takes within its budgets: ramp up
/// by a factor of 4 from the lowest value until a step fails (or the highest passes), then
/// bisect geometrically between the highest passing and lowest failing step until they are
/// within 25% of each other. For 1–256 that is at most 8 steps (1, 4, 16, 64, 256, then 3).
public struct CapacitySearch: Sendable {
    public let lowest: Int
    public let highest: Int
    public let maxSteps: Int
    /// Each value tried and whether it held, in order.
    public private(set) var tried: [(value: Int, passed: Bool)] = []

    public init(lowest: Int, highest: Int, maxSteps: Int = 8) {
        self.lowest = max(1, lowest)
        self.highest = max(self.lowest, highest)
        self.maxSteps = max(1, maxSteps)
    }

    /// The highest value that held, and the lowest that failed.
    public var highestPassed: Int? { tried.filter(\.passed).map(\.value).max() }
    public var lowestFailed: Int? { tried.filter { !$0.passed }.map(\.value).min() }

    public mutating func record(_ value: Int, passed: Bool) { tried.append((value, passed)) }

    /// The next value to try, or nil when the answer is known (or the steps are spent).
    public var next: Int? {
        guard tried.count < maxSteps else { return nil }
        guard let last = tried.last else { return lowest }
        let passed = highestPassed
        let failed = lowestFailed
        if failed == nil {
            // Still ramping: every step so far held.
            guard last.value < highest else { return nil }
            return min(highest, last.value * 4)
        }
        guard let low = passed else { return nil } // the lowest value already failed
        let high = failed!
        guard high > low + 1, Double(high) > Double(low) * 1.25 else { return nil }
        let middle = Int((Double(low) * Double(high)).squareRoot().rounded())
        let value = min(high - 1, max(low + 1, middle))
        return tried.contains { $0.value == value } ? nil : value
    }
}
