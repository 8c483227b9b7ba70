import Foundation

/// A probed function's calls as a histogram that survives the report: HdrHistogram's recorded
/// buckets (each bucket's highest equivalent value, in nanoseconds, and its count), the exact
/// extremes and the exact sum. Enough to recompute every percentile, to merge shards, and to
/// test two runs against each other call by call.
public struct LatencyDistribution: Sendable, Equatable {
    /// Sorted by value, no zero counts.
    public var values: [UInt64]
    public var counts: [UInt64]
    public var minimum: UInt64
    public var maximum: UInt64
    public var sumNanoseconds: UInt64

    public init(values: [UInt64], counts: [UInt64], minimum: UInt64, maximum: UInt64, sumNanoseconds: UInt64) {
        self.values = values
        self.counts = counts
        self.minimum = minimum
        self.maximum = maximum
        self.sumNanoseconds = sumNanoseconds
    }

    /// From raw samples (tests, benchmarks): every value its own bucket.
    public init(samples: [UInt64]) {
        var tally: [UInt64: UInt64] = [:]
        for sample in samples { tally[sample, default: 0] += 1 }
        let sorted = tally.keys.sorted()
        self.init(values: sorted, counts: sorted.map { tally[$0]! }, minimum: sorted.first ?? 0, maximum: sorted.last ?? 0,
                  sumNanoseconds: samples.reduce(0, &+))
    }

    public var count: UInt64 { counts.reduce(0, +) }

    /// HdrHistogram's definition: the smallest bucket value at or below which `percentile`% of calls fall.
    public func percentile(_ percentile: Double) -> UInt64 {
        let total = count
        guard total > 0 else { return 0 }
        if percentile <= 0 { return minimum }
        if percentile >= 100 { return maximum }
        let target = Swift.max(1, UInt64((percentile.nextDown * Double(total) / 100).rounded(.up)))
        var running: UInt64 = 0
        for (value, count) in zip(values, counts) {
            running += count
            if running >= target { return Swift.max(Swift.min(value, maximum), minimum) }
        }
        return maximum
    }

    public mutating func merge(_ other: LatencyDistribution) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        var mergedValues: [UInt64] = []
        var mergedCounts: [UInt64] = []
        mergedValues.reserveCapacity(values.count + other.values.count)
        mergedCounts.reserveCapacity(values.count + other.values.count)
        var i = 0, j = 0
        while i < values.count || j < other.values.count {
            if j == other.values.count || (i < values.count && values[i] < other.values[j]) {
                mergedValues.append(values[i]); mergedCounts.append(counts[i]); i += 1
            } else if i == values.count || other.values[j] < values[i] {
                mergedValues.append(other.values[j]); mergedCounts.append(other.counts[j]); j += 1
            } else {
                mergedValues.append(values[i]); mergedCounts.append(counts[i] + other.counts[j]); i += 1; j += 1
            }
        }
        values = mergedValues
        counts = mergedCounts
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
        sumNanoseconds &+= other.sumNanoseconds
    }

    /// `[[value, count], ...]`, the report's `functions[].histogram`.
    public var pairs: [[UInt64]] { zip(values, counts).map { [$0, $1] } }

    public init?(pairs: [[UInt64]], minimum: UInt64, maximum: UInt64, sumNanoseconds: UInt64) {
        guard pairs.allSatisfy({ $0.count == 2 }) else { return nil }
        let sorted = pairs.sorted { $0[0] < $1[0] }
        self.init(values: sorted.map { $0[0] }, counts: sorted.map { $0[1] }, minimum: minimum, maximum: maximum,
                  sumNanoseconds: sumNanoseconds)
    }
}

/// The Mann-Whitney U test on two latency distributions, ties (shared buckets) handled with
/// mid-ranks and the tie-corrected variance, normal approximation. One-sided: is `head`
/// stochastically greater (slower) than `base`?
public struct MannWhitney: Sendable, Equatable {
    public var baseCount: UInt64
    public var headCount: UInt64
    /// U for head: how often a head call was slower than a base call (ties count half).
    public var u: Double
    public var z: Double
    /// P(U ≥ observed) if both runs came from one distribution: small means head is slower.
    public var pSlower: Double
    /// P(U ≤ observed): small means head is faster.
    public var pFaster: Double

    public static func test(base: LatencyDistribution, head: LatencyDistribution) -> MannWhitney? {
        let n1 = Double(base.count), n2 = Double(head.count)
        guard n1 > 0, n2 > 0 else { return nil }
        var i = 0, j = 0
        var rank = 0.0
        var headRankSum = 0.0
        var tieTerm = 0.0
        while i < base.values.count || j < head.values.count {
            let value: UInt64
            if j == head.values.count || (i < base.values.count && base.values[i] <= head.values[j]) {
                value = base.values[i]
            } else {
                value = head.values[j]
            }
            var inBase = 0.0, inHead = 0.0
            if i < base.values.count && base.values[i] == value { inBase = Double(base.counts[i]); i += 1 }
            if j < head.values.count && head.values[j] == value { inHead = Double(head.counts[j]); j += 1 }
            let tied = inBase + inHead
            let midRank = rank + (tied + 1) / 2
            headRankSum += inHead * midRank
            tieTerm += tied * tied * tied - tied
            rank += tied
        }
        let u = headRankSum - n2 * (n2 + 1) / 2
        let n = n1 + n2
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else {
            return MannWhitney(baseCount: base.count, headCount: head.count, u: u, z: 0, pSlower: 1, pFaster: 1)
        }
        // Continuity correction of 0.5 towards the mean.
        let mean = n1 * n2 / 2
        let zSlower = (u - mean - 0.5) / variance.squareRoot()
        let zFaster = (u - mean + 0.5) / variance.squareRoot()
        return MannWhitney(baseCount: base.count, headCount: head.count, u: u, z: (u - mean) / variance.squareRoot(),
                           pSlower: upperTail(zSlower), pFaster: 1 - upperTail(zFaster))
    }

    /// P(Z ≥ z) for a standard normal.
    static func upperTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }
}
