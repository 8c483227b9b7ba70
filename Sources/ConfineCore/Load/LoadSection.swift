/// The report's `load` section (`confine load`, each step of `confine capacity`): what the
/// driver measured from outside the run's limits, on the run's clock. docs/report-schema.md
/// ("load"), docs/load.md.
extension RunReport {
    public struct Load: Codable, Sendable, Equatable {
        public var driver: Driver
        public var readiness: Readiness
        /// How the driver paced its requests (`LoadLoop`), and what that does to its latencies.
        public var loop: LoadLoop
        public var latencyCorrection: LatencyCorrection
        /// The interval one connection meant to leave between its requests (hey: 1 / `-q`),
        /// seconds: what `latencyCorrection: corrected` back-filled the held-back requests with.
        public var expectedIntervalSeconds: Double?
        /// Requests the driver made (answered or not).
        public var requests: Int
        /// Requests answered with a status outside 2xx/3xx, or not answered (transport errors).
        public var errors: Int
        /// `errors` as a percentage of `requests` (0 with no requests).
        public var errorRate: Double
        /// Requests per second of load (the driver's duration); nil when it does not say how long it ran.
        public var requestsPerSecond: Double?
        /// Latency percentiles over every request, seconds: corrected for coordinated omission
        /// when `latencyCorrection` is `corrected`, else as the driver measured them.
        public var latency: LatencyFigures
        /// The driver's own figures before confine corrected them (only when `corrected`).
        public var uncorrectedLatency: LatencyFigures?
        /// Every request's latency as HdrHistogram buckets, `[[nanoseconds, count], ...]` (as
        /// `functions[].histogram`), when the driver gave per-request latencies: what `confine
        /// compare` tests two runs' loads with (Mann–Whitney). Corrected when `latency` is.
        public var requestHistogram: [[UInt64]]?
        /// Per endpoint, when the driver names them (locust, k6 tags).
        public var endpoints: [Endpoint]
        /// Per second of load on the run's clock (the memory/CPU `timeline`'s `t`).
        public var timeline: [Second]
        /// Percent of the run's CFS periods throttled while the driver ran (not during the
        /// service's start-up); nil without a CPU quota reading.
        public var throttledPercent: Double?
        /// How the service was stopped after the driver ended; nil when it ended on its own first.
        public var stop: Stop?

        public init(driver: Driver, readiness: Readiness, loop: LoadLoop, latencyCorrection: LatencyCorrection,
                    expectedIntervalSeconds: Double? = nil, requests: Int = 0, errors: Int = 0, errorRate: Double = 0,
                    requestsPerSecond: Double? = nil, latency: LatencyFigures = .init(), uncorrectedLatency: LatencyFigures? = nil,
                    requestHistogram: [[UInt64]]? = nil, endpoints: [Endpoint] = [], timeline: [Second] = [], stop: Stop? = nil) {
            self.requestHistogram = requestHistogram
            self.driver = driver
            self.readiness = readiness
            self.loop = loop
            self.latencyCorrection = latencyCorrection
            self.expectedIntervalSeconds = expectedIntervalSeconds
            self.requests = requests
            self.errors = errors
            self.errorRate = errorRate
            self.requestsPerSecond = requestsPerSecond
            self.latency = latency
            self.uncorrectedLatency = uncorrectedLatency
            self.endpoints = endpoints
            self.timeline = timeline
            self.stop = stop
        }

        /// `requestHistogram` as a distribution (its extremes and sum from `latency`; the sum is
        /// the buckets', close enough for the rank test, which uses no sum).
        public var requestDistribution: LatencyDistribution? {
            guard let pairs = requestHistogram, let maximum = latency.max else { return nil }
            let sum = pairs.reduce(UInt64(0)) { $0 &+ ($1.count == 2 ? $1[0] &* $1[1] : 0) }
            let minimum = pairs.first?.first ?? 0
            return LatencyDistribution(pairs: pairs, minimum: minimum, maximum: UInt64((maximum * 1e9).rounded()), sumNanoseconds: sum)
        }

        /// Why a load budget's metric has no value: the driver does not report it, or nothing was measured.
        public func missingReason(_ metric: BudgetMetric) -> String {
            if driver.outputError != nil || requests == 0 { return "the driver's output gave no requests" }
            if metric == .rps { return "\(driver.format?.rawValue ?? "the driver") did not say how long the load ran" }
            return "\(driver.format?.rawValue ?? "the driver") does not report \(metric.rawValue)"
        }
    }

    /// The driver: the clients, run outside the run's limits.
    public struct Driver: Codable, Sendable, Equatable {
        /// As given to `--driver` (run by `/bin/sh -c`).
        public var command: String
        /// The output format parsed; nil when it could not be told (then `outputError` says so).
        public var format: DriverResult.Format?
        /// Seconds after the run started (the run's clock) when the driver was started; nil if it never was.
        public var startedAtSeconds: Double?
        public var durationSeconds: Double?
        /// The driver's exit status, or 128 + the signal that ended it; nil if it never started.
        public var exitCode: Int32?
        /// Where its output was kept (the file confine parsed).
        public var outputPath: String?
        /// Why the driver could not start, or why its output could not be read (file:line:column).
        public var startError: String?
        public var outputError: String?
        /// The last lines the driver wrote to stderr (at most 2 KiB), when it failed.
        public var stderrTail: String?

        public init(command: String, format: DriverResult.Format? = nil) {
            self.command = command
            self.format = format
        }
    }

    /// Waiting for the service to be ready (`--ready`).
    public struct Readiness: Codable, Sendable, Equatable {
        /// `http://127.0.0.1:8080/health` or `tcp:127.0.0.1:8080`.
        public var target: String
        public var result: ReadinessResult
        /// Seconds after the run started when the first check passed.
        public var readyAtSeconds: Double?
        public var checks: Int
        /// The last failed check's answer: `connection refused`, `HTTP 503`.
        public var lastError: String?
        public var timeoutSeconds: Double

        public init(target: String, result: ReadinessResult, readyAtSeconds: Double? = nil, checks: Int = 0, lastError: String? = nil,
                    timeoutSeconds: Double) {
            self.target = target
            self.result = result
            self.readyAtSeconds = readyAtSeconds
            self.checks = checks
            self.lastError = lastError
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// Latency percentiles, seconds; a percentile the driver did not report is absent (wrk: no p95).
    public struct LatencyFigures: Codable, Sendable, Equatable {
        public var p50: Double?
        public var p90: Double?
        public var p95: Double?
        public var p99: Double?
        public var max: Double?
        public init(p50: Double? = nil, p90: Double? = nil, p95: Double? = nil, p99: Double? = nil, max: Double? = nil) {
            self.p50 = p50
            self.p90 = p90
            self.p95 = p95
            self.p99 = p99
            self.max = max
        }
    }

    public struct Endpoint: Codable, Sendable, Equatable {
        public var name: String
        public var method: String?
        public var requests: Int
        public var errors: Int
        public var latency: LatencyFigures
    }

    /// One second of load: requests completed in it, how many failed, their p95, and the share of
    /// the run's CFS periods throttled in the same second (from the cgroup `timeline`).
    public struct Second: Codable, Sendable, Equatable {
        /// Start of the second on the run's clock.
        public var t: Double
        public var requests: Int
        public var errors: Int
        public var p95: Double?
        /// Percent of the CFS periods in this second in which the group was throttled; nil without a CPU quota reading.
        public var throttledPercent: Double?
        /// The group's highest memory usage sampled in this second, bytes (page cache included).
        public var memoryBytes: UInt64?
    }

    /// How the service was stopped once the driver ended, as a container runtime stops one.
    public struct Stop: Codable, Sendable, Equatable {
        /// `SIGTERM`.
        public var signal: String
        public var graceSeconds: Double
        /// Seconds from the signal to the service's exit.
        public var exitedAfterSeconds: Double?
        /// It outlived the grace period and was SIGKILLed.
        public var killed: Bool
    }
}

/// How a driver paces requests.
public enum LoadLoop: String, ReportValue {
    /// Each connection waits for an answer before it sends the next (hey without -q, wrk,
    /// locust users): while the service stalls the clients stop sending, so the stall hides in
    /// a few samples (coordinated omission).
    case closed
    /// Requests are sent at a set rate whatever the answers (hey -q, wrk2 -R, vegeta, k6's
    /// arrival-rate executors).
    case open
    /// Not known from the command (a plain latency list).
    case unknown
}

/// What was done about coordinated omission.
public enum LatencyCorrection: String, ReportValue {
    /// confine recorded each latency as HdrHistogram's `recordCorrectedValue` does with the
    /// interval the driver meant per connection (hey's `-q`): the percentiles include the requests
    /// a stall held back, which the driver never sent.
    case corrected
    /// The driver corrects its own figures (wrk2).
    case byDriver = "by_driver"
    /// Closed-loop figures with no intended rate to correct against: the tail may hide stalls.
    case uncorrected
    /// Open load, or a driver whose pacing is unknown: the figures are the driver's.
    case none
}

/// `--ready`'s outcome.
public enum ReadinessResult: String, ReportValue {
    case ready
    /// No check passed within `--ready-timeout`.
    case timedOut = "timed_out"
    /// The service exited (or was killed) before a check passed.
    case serviceExited = "service_exited"
    /// confine was stopped (SIGINT, SIGTERM) before the service was ready.
    case interrupted
}
