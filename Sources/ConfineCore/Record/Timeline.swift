/// A timeline that never holds more than `capacity` points, so a two-hour run costs what a
/// two-minute one does: when full, neighbouring points are merged pairwise (peaks kept) and
/// from then on every `stride` samples make one point.
public struct BoundedTimeline: Sendable {
    public let capacity: Int
    public private(set) var points: [TimelinePoint] = []
    /// How many samples each stored point stands for.
    public private(set) var stride = 1
    private var pending: TimelinePoint?
    private var pendingCount = 0

    public init(capacity: Int = 2048) {
        precondition(capacity >= 2 && capacity % 2 == 0, "capacity must be even")
        self.capacity = capacity
        points.reserveCapacity(capacity)
    }

    public mutating func append(_ sample: TimelinePoint) {
        pending = pending.map { $0.merged(with: sample) } ?? sample
        pendingCount += 1
        guard pendingCount >= stride, let point = pending else { return }
        pending = nil
        pendingCount = 0
        if points.count == capacity { compact() }
        points.append(point)
    }

    /// The stored points plus any partly filled bucket, for the report.
    public var finished: [TimelinePoint] {
        pending.map { points + [$0] } ?? points
    }

    private mutating func compact() {
        var merged: [TimelinePoint] = []
        merged.reserveCapacity(capacity)
        var index = 0
        while index + 1 < points.count {
            merged.append(points[index].merged(with: points[index + 1]))
            index += 2
        }
        points = merged
        stride *= 2
    }
}
