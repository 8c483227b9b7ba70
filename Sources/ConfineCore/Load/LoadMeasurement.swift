import Histogram

/// What `confine load` did beside the supervisor: the readiness wait, the driver's run and its
/// parsed output. Times are seconds on the run's clock (CLOCK_MONOTONIC since the run started).
public struct LoadRecord: Sendable {
    public var driver: DriverCommand
    public var format: DriverResult.Format?
    public var readiness: RunReport.Readiness
    public var driverStartedAt: Double?
    public var driverEndedAt: Double?
    /// Exit status, or 128 + signal.
    public var driverExitCode: Int32?
    public var driverStartError: String?
    public var outputPath: String?
    public var result: DriverResult?
    public var outputError: String?
    public var stderrTail: String?
    public var graceSeconds: Double

    public init(driver: DriverCommand, format: DriverResult.Format?, readiness: RunReport.Readiness, graceSeconds: Double) {
        self.driver = driver
        self.format = format
        self.readiness = readiness
        self.graceSeconds = graceSeconds
    }

    /// Whether the driver measured anything confine could read.
    public var measured: Bool { (result?.requests ?? 0) > 0 }
}

/// The report's `load` section from a `LoadRecord` and the run's cgroup timeline. Pure.
public enum LoadMeasurement {
    /// Latencies are recorded in microseconds, from 1 µs to an hour, to 3 significant digits.
    static let highestMicroseconds: UInt64 = 3_600_000_000

    public static func section(_ record: LoadRecord, timeline: [TimelinePoint], stop: RunReport.Stop?) -> RunReport.Load {
        var driver = RunReport.Driver(command: record.driver.text, format: record.format)
        driver.startedAtSeconds = record.driverStartedAt.map(rounded)
        if let start = record.driverStartedAt, let end = record.driverEndedAt { driver.durationSeconds = rounded(end - start) }
        driver.exitCode = record.driverExitCode
        driver.outputPath = record.outputPath
        driver.startError = record.driverStartError
        driver.outputError = record.outputError
        driver.stderrTail = record.stderrTail
        let pacing = record.driver.pacing
        var load = RunReport.Load(driver: driver, readiness: record.readiness, loop: pacing.loop, latencyCorrection: pacing.correction)
        load.stop = stop
        guard let result = record.result else { return load }

        load.requests = result.requests
        load.errors = result.errors
        // hey's CSV lists answered requests only: with -n N, the ones missing were not answered
        // (connection refused, reset, timed out) — transport errors, as hey's own summary counts them.
        if record.format == .hey, record.driverExitCode == 0, let total = record.driver.option("-n").flatMap(Int.init),
           total > result.requests, total <= 100_000_000 {
            load.errors += total - result.requests
            load.requests = total
        }
        load.errorRate = load.requests > 0 ? rounded(Double(load.errors) / Double(load.requests) * 100) : 0
        // Throughput needs a load that lasted: one request's "rate" is its own latency inverted.
        if let length = result.durationSeconds ?? driver.durationSeconds, length > 0, result.requests >= 2 {
            load.requestsPerSecond = rounded(Double(result.requests) / length)
        }

        if !result.latencies.isEmpty {
            var latencies = result.latencies
            load.latency = figures(histogram(latencies))
            if pacing.correction == .corrected, let rate = pacing.intendedRate, result.sentAt.count == result.latencies.count {
                load.uncorrectedLatency = load.latency
                latencies = corrected(result, intendedRate: rate)
                load.latency = figures(histogram(latencies))
                load.expectedIntervalSeconds = rounded(1 / rate)
            }
            load.requestHistogram = buckets(latencies)
            if pacing.correction == .corrected && load.uncorrectedLatency == nil {
                load.latencyCorrection = .uncorrected // no send times to place requests on the schedule
            }
        } else {
            // The driver summarised (wrk, locust, k6): its own percentiles, none invented.
            load.latency = RunReport.LatencyFigures(p50: result.percentiles[50], p90: result.percentiles[90],
                                                    p95: result.percentiles[95], p99: result.percentiles[99], max: result.maxLatency)
            if pacing.correction == .corrected { load.latencyCorrection = .uncorrected }
        }
        load.endpoints = result.endpoints.map {
            RunReport.Endpoint(name: $0.name, method: $0.method, requests: $0.requests, errors: $0.errors,
                               latency: .init(p50: $0.percentiles[50], p90: $0.percentiles[90], p95: $0.percentiles[95],
                                              p99: $0.percentiles[99], max: $0.maxLatency))
        }
        if let start = record.driverStartedAt { load.timeline = perSecond(result, driverStart: start, timeline: timeline) }
        if let start = record.driverStartedAt, let end = record.driverEndedAt {
            load.throttledPercent = group(in: start, end, timeline: timeline).0
        }
        return load
    }

    /// Latencies as `[[nanoseconds, count]]`, each rounded to 3 significant digits (as
    /// HdrHistogram keeps them): bounded however many requests there were.
    static func buckets(_ latencies: [Double]) -> [[UInt64]] {
        var tally: [UInt64: UInt64] = [:]
        for latency in latencies {
            var nanoseconds = UInt64(max(0, min(3600, latency)) * 1e9)
            var scale: UInt64 = 1
            while nanoseconds >= 1000 {
                nanoseconds = (nanoseconds + 5) / 10
                scale *= 10
            }
            tally[nanoseconds * scale, default: 0] += 1
        }
        return tally.keys.sorted().map { [$0, tally[$0]!] }
    }

    /// Every latency in a histogram (µs, HdrHistogram at 3 significant digits).
    static func histogram(_ latencies: [Double]) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: highestMicroseconds, numberOfSignificantValueDigits: .three)
        for latency in latencies { _ = histogram.record(min(highestMicroseconds, UInt64(max(0, (latency * 1e6).rounded())))) }
        return histogram
    }

    /// Latencies measured from when each request should have been sent, as wrk2 measures them:
    /// the k-th request (in send order) was due at k / `intendedRate` after the first; one a
    /// stall held back is charged the wait since then, not only its own round trip. (HdrHistogram's
    /// `recordCorrectedValue` back-fills from the latency alone; with the driver's send times the
    /// schedule itself is known, and the count stays the requests made.)
    static func corrected(_ result: DriverResult, intendedRate: Double) -> [Double] {
        let order = result.sentAt.indices.sorted { result.sentAt[$0] < result.sentAt[$1] }
        guard let first = order.first.map({ result.sentAt[$0] }) else { return result.latencies }
        var latencies = result.latencies
        for (rank, index) in order.enumerated() {
            let due = first + Double(rank) / intendedRate
            latencies[index] = max(result.latencies[index], result.sentAt[index] + result.latencies[index] - due)
        }
        return latencies
    }

    static func figures(_ histogram: Histogram<UInt64>) -> RunReport.LatencyFigures {
        func seconds(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1e6 }
        return RunReport.LatencyFigures(p50: seconds(50), p90: seconds(90), p95: seconds(95), p99: seconds(99),
                                        max: Double(histogram.max) / 1e6)
    }

    /// Per second of load on the run's clock: requests that completed in it (hey: send time +
    /// latency) or the driver's own history (locust), with the group's throttling and memory then.
    static func perSecond(_ result: DriverResult, driverStart: Double, timeline: [TimelinePoint]) -> [RunReport.Second] {
        var seconds: [RunReport.Second] = []
        if !result.sentAt.isEmpty {
            var buckets: [Int: (latencies: [Double], errors: Int)] = [:]
            for index in result.latencies.indices {
                let second = Int((result.sentAt[index] + result.latencies[index]).rounded(.down))
                guard second >= 0, second < 86_400 else { continue }
                buckets[second, default: ([], 0)].latencies.append(result.latencies[index])
                if index < result.failed.count, result.failed[index] { buckets[second, default: ([], 0)].errors += 1 }
            }
            for second in buckets.keys.sorted() {
                let bucket = buckets[second]!
                let sorted = bucket.latencies.sorted()
                let p95 = sorted[min(sorted.count - 1, Int((0.95 * Double(sorted.count)).rounded(.up)) - 1)]
                seconds.append(.init(t: rounded(driverStart + Double(second)), requests: sorted.count, errors: bucket.errors,
                                     p95: p95, throttledPercent: nil, memoryBytes: nil))
            }
        } else {
            for point in result.history.prefix(86_400) {
                seconds.append(.init(t: rounded(driverStart + point.t), requests: Int(point.requestsPerSecond.rounded()),
                                     errors: Int(point.errorsPerSecond.rounded()), p95: point.p95, throttledPercent: nil, memoryBytes: nil))
            }
        }
        for index in seconds.indices {
            let (throttled, memory) = group(in: seconds[index].t, seconds[index].t + 1, timeline: timeline)
            seconds[index].throttledPercent = throttled
            seconds[index].memoryBytes = memory
        }
        return seconds
    }

    /// The share of CFS periods throttled between `from` and `to` (the CPU readings at or before
    /// each end), and the group's highest memory usage sampled in [from, to) (nil: no sample then).
    static func group(in from: Double, _ to: Double, timeline: [TimelinePoint]) -> (Double?, UInt64?) {
        let withPeriods = timeline.filter { $0.periods != nil }
        let before = withPeriods.last { $0.t <= from } ?? withPeriods.first
        let after = withPeriods.last { $0.t <= to }
        var throttled: Double?
        if let before, let after, let start = before.periods, let end = after.periods, end > start {
            throttled = rounded(Double(after.throttledPeriods &- before.throttledPeriods) / Double(end - start) * 100)
        }
        return (throttled, timeline.filter { $0.t >= from && $0.t < to }.map(\.memoryBytes).max())
    }

    /// To the microsecond, as the report writes times.
    public static func rounded(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }
}

extension RunReport.Load {
    /// When the seconds the service was throttled in most of its periods (≥ 50%) had a higher
    /// p95 than the others: "p95 was 480 ms in the 12 s the service was throttled in 95% of its
    /// periods, 40 ms in the other 18 s". Nil without two seconds of each kind (one is noise: the
    /// last, part-filled second).
    public var throttlingNote: String? {
        let measured = timeline.filter { $0.p95 != nil && $0.throttledPercent != nil && $0.requests > 0 }
        let throttled = measured.filter { $0.throttledPercent! >= 50 }
        let calm = measured.filter { $0.throttledPercent! < 50 }
        guard throttled.count >= 2, calm.count >= 2 else { return nil }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let hot = median(throttled.map { $0.p95! }), cool = median(calm.map { $0.p95! })
        guard hot > cool * 1.2 else { return nil }
        let share = median(throttled.map { $0.throttledPercent! })
        return "p95 was \(DurationQuantity.formatMeasured(hot)) in the \(throttled.count) s the service was throttled in "
            + "\(formatFixed(share, digits: 0))% of its periods, \(DurationQuantity.formatMeasured(cool)) in the other \(calm.count) s"
    }
}
