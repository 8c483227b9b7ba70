/// The group's counters at recent readings, for tests whose boundaries arrive after the fact.
///
/// The pytest plugin batches the boundaries of short tests (docs/probe-protocol.md, "batched"):
/// confine learns of them milliseconds later, when reading the group "now" would describe a
/// later test. It reads the group at every sample instead (and at every live boundary), keeping
/// each reading's memory, cumulative CPU and the kernel's peak since the previous reading; a
/// batched test then gets the figures of the readings around its own span (`attribution:
/// window`). Pure; a bounded ring (`capacity` readings, oldest dropped first).
public struct GroupReadings: Sendable {
    public struct Reading: Sendable, Equatable {
        /// Seconds since the run started.
        public var time: Double
        public var memoryBytes: UInt64
        public var cpuNanos: UInt64
        /// The group's peak since the previous reading (the kernel's counter, or `memoryBytes`).
        public var peakBytes: UInt64
        /// The memory reclaim cannot drop at this reading (`CgroupSample.unreclaimableBytes`).
        public var unreclaimableBytes: UInt64 = 0

        public init(time: Double, memoryBytes: UInt64, cpuNanos: UInt64, peakBytes: UInt64, unreclaimableBytes: UInt64 = 0) {
            self.time = time
            self.memoryBytes = memoryBytes
            self.cpuNanos = cpuNanos
            self.peakBytes = peakBytes
            self.unreclaimableBytes = unreclaimableBytes
        }
    }

    /// What the group did during one span, from the readings around it.
    public struct Span: Sendable, Equatable {
        /// Memory at the last reading at or before the start (the first reading, if none is that old).
        public var startBytes: UInt64
        /// Memory at the first reading at or after the end (the last reading, if none is that recent).
        public var endBytes: UInt64
        /// The highest peak of the intervals between readings that overlap the span: an upper
        /// bound, exact to one sampling interval at each edge.
        public var peakBytes: UInt64
        /// The memory reclaim could not drop at the reading at or before the start (as `startBytes`).
        public var startUnreclaimableBytes: UInt64 = 0
        /// Cumulative CPU at the start and at the end, interpolated linearly between readings.
        public var startCPUNanos: UInt64
        public var endCPUNanos: UInt64
    }

    public let capacity: Int
    private var ring: [Reading] = []
    private var head = 0

    public init(capacity: Int = 8192) {
        self.capacity = max(2, capacity)
        ring.reserveCapacity(min(self.capacity, 1024))
    }

    public var count: Int { ring.count }

    /// Readings in time order.
    subscript(_ position: Int) -> Reading { ring[(head + position) % ring.count] }

    public var last: Reading? { ring.isEmpty ? nil : self[ring.count - 1] }

    /// Adds a reading; readings must come in time order (a reading older than the last is ignored).
    public mutating func append(_ reading: Reading) {
        if let last, reading.time < last.time { return }
        if ring.count < capacity {
            ring.append(reading)
        } else {
            ring[head] = reading
            head = (head + 1) % capacity
        }
    }

    /// The figures for a test that ran from `start` to `end` (seconds since the run started).
    public func span(from start: Double, to end: Double) -> Span? {
        guard !ring.isEmpty else { return nil }
        let end = max(start, end)
        let count = ring.count
        // The last reading at or before the start (or the first), the first at or after the end (or the last).
        let before = max(0, lastIndex(atOrBefore: start))
        var after = lastIndex(atOrBefore: end)
        if after < 0 || self[after].time < end { after = min(count - 1, after + 1) }
        after = max(after, before)
        // Reading i's peak covers the interval since reading i-1: those after `before` up to
        // `after` overlap the span, and `before`'s own when it falls on the start.
        var peak: UInt64 = 0
        for position in before...after {
            let reading = self[position]
            peak = max(peak, reading.memoryBytes)
            if position > before || reading.time >= start { peak = max(peak, reading.peakBytes) }
        }
        return Span(startBytes: self[before].memoryBytes, endBytes: self[after].memoryBytes, peakBytes: peak,
                    startUnreclaimableBytes: self[before].unreclaimableBytes, startCPUNanos: cpu(at: start), endCPUNanos: cpu(at: end))
    }

    /// The position of the last reading at or before `time`, -1 when every reading is later.
    private func lastIndex(atOrBefore time: Double) -> Int {
        var (low, high) = (0, ring.count)  // the answer + 1 lies in low...high
        while low < high {
            let middle = (low + high) / 2
            if self[middle].time <= time { low = middle + 1 } else { high = middle }
        }
        return low - 1
    }

    /// Cumulative CPU at `time`, interpolated between the readings around it.
    public func cpu(at time: Double) -> UInt64 {
        guard let last else { return 0 }
        let lower = lastIndex(atOrBefore: time)
        if lower < 0 { return self[0].cpuNanos }
        if lower == ring.count - 1 { return last.cpuNanos }
        let (a, b) = (self[lower], self[lower + 1])
        guard b.time > a.time, b.cpuNanos >= a.cpuNanos else { return a.cpuNanos }
        let fraction = (time - a.time) / (b.time - a.time)
        return a.cpuNanos + UInt64((Double(b.cpuNanos - a.cpuNanos) * fraction).rounded())
    }
}
