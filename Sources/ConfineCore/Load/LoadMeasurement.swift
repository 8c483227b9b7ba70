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
    /// confine stopped the driver (the service ended, `--timeout`, confine interrupted): it did
    /// not send all it meant to.
    public var driverStopped = false

    public init(driver: DriverCommand, format: DriverResult.Format?, readiness: RunReport.Readiness, graceSeconds: Double) {
        self.driver = driver
        self.format = format
        self.readiness = readiness
        self.graceSeconds = graceSeconds
    }

    /// Whether the driver measured anything confine could read (answered requests, or hey's
    /// requests that got no answer).
    public var measured: Bool { (result?.requests ?? 0) > 0 || (heyUnanswered ?? 0) > 0 }

    /// hey's CSV lists answered requests only. With `-n N` and no `-z`, when hey ran to its own
    /// end, it sent N rounded down to a multiple of its workers (`-c`, default 50): the ones
    /// missing from the CSV got no answer (refused, reset, timed out). Nil when that cannot be known.
    public var heyUnanswered: Int? {
        guard format == .hey, let result, driverExitCode == 0, !driverStopped, driver.option("-z") == nil,
              let total = driver.option("-n").flatMap(Int.init), total > 0, total <= 100_000_000 else { return nil }
        let workers = max(1, driver.option("-c").flatMap(Int.init) ?? 50)
        let sent = workers > total ? total : total / workers * workers
        return sent > result.requests ? sent - result.requests : nil
    }
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
        // Transport errors, as hey's own summary counts them (`heyUnanswered`).
        if let unanswered = record.heyUnanswered {
            load.errors += unanswered
            load.requests += unanswered
        }
        load.errorRate = load.requests > 0 ? rounded(Double(load.errors) / Double(load.requests) * 100) : 0
        // Throughput needs a load that lasted: one request's "rate" is its own latency inverted.
        if let length = result.durationSeconds ?? driver.durationSeconds, length > 0, result.requests >= 2 {
            load.requestsPerSecond = rounded(Double(result.requests) / length)
        }

        if !result.latencies.isEmpty {
            var histogram = histogram(result.latencies, expectedInterval: nil)
            load.latency = figures(histogram)
            if pacing.correction == .corrected, let interval = pacing.interval {
                load.uncorrectedLatency = load.latency
                histogram = self.histogram(result.latencies, expectedInterval: interval)
                load.latency = figures(histogram)
                load.expectedIntervalSeconds = rounded(interval)
            }
            load.requestHistogram = buckets(histogram)
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

    /// The histogram's buckets as `[[nanoseconds, count]]` (each bucket's highest equivalent value).
    static func buckets(_ histogram: Histogram<UInt64>) -> [[UInt64]] {
        histogram.recordedValues().map { [$0.value * 1000, UInt64($0.count)] }
    }

    /// Every latency in a histogram (µs, HdrHistogram at 3 significant digits); with the interval
    /// one connection meant between its requests, each recorded as HdrHistogram's
    /// `recordCorrectedValue` does: a latency L past the interval also stands for the requests the
    /// connection would have sent while it waited, at L − interval, L − 2·interval, … (the ones a
    /// closed-loop driver never sent).
    static func histogram(_ latencies: [Double], expectedInterval: Double?) -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: highestMicroseconds, numberOfSignificantValueDigits: .three)
        let interval = expectedInterval.map { UInt64(max(1, ($0 * 1e6).rounded())) }
        for latency in latencies {
            let value = min(highestMicroseconds, UInt64(max(0, (latency * 1e6).rounded())))
            if let interval { _ = histogram.recordCorrectedValue(value, expectedInterval: interval) } else { _ = histogram.record(value) }
        }
        return histogram
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
            // Every second from the first to the last, those in which no request completed (an
            // outage) included: their throttling and memory are what explains them.
            if let first = buckets.keys.min(), let last = buckets.keys.max() {
                for second in first...last {
                    guard let bucket = buckets[second] else {
                        seconds.append(.init(t: rounded(driverStart + Double(second)), requests: 0, errors: 0, p95: nil,
                                             throttledPercent: nil, memoryBytes: nil))
                        continue
                    }
                    let sorted = bucket.latencies.sorted()
                    let p95 = sorted[min(sorted.count - 1, Int((0.95 * Double(sorted.count)).rounded(.up)) - 1)]
                    seconds.append(.init(t: rounded(driverStart + Double(second)), requests: sorted.count, errors: bucket.errors,
                                         p95: p95, throttledPercent: nil, memoryBytes: nil))
                }
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
