/// What `confine capacity` writes (`--report`, default `confine-capacity.json`): each step's
/// figures and the answer. Each step is also a full run report of its own (`steps[].report`).
/// docs/load.md ("capacity").
public struct CapacityReport: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 1
    public var schemaVersion = CapacityReport.currentSchemaVersion
    public var confineVersion: String
    /// `concurrency` or `rate`: the driver's placeholder the search filled.
    public var placeholder: String
    /// The driver command with its placeholder, and the service command.
    public var driver: String
    public var command: [String]
    /// The budgets each step was judged on: `p95 < 100ms`, and no OOM kill.
    public var budgets: [String]
    /// The highest value that held its budgets; nil when even the lowest failed.
    public var maxConcurrency: Int?
    public var maxRate: Int?
    /// Requests per second the service carried at that value.
    public var requestsPerSecond: Double?
    /// What broke first at the lowest failing value: `cpu`, `memory`, `errors`, `latency`; nil if none failed.
    public var limitedBy: LimitingFactor?
    /// One sentence: what held, and why the next step did not (and why the search stopped early).
    public var answer: String
    /// Why the search stopped before its answer: a step whose service or driver failed, or
    /// confine interrupted (that step's reason); nil when it finished.
    public var stoppedBy: String?
    public var steps: [Step]
    public var totalSeconds: Double

    public struct Step: Codable, Sendable, Equatable {
        /// The placeholder's value at this step.
        public var value: Int
        public var passed: Bool
        /// The step measured the load (its service and driver ran it): false for a step cut short
        /// (not ready, crashed, driver failed, interrupted), which answers nothing about capacity.
        public var measured: Bool
        public var outcome: Outcome
        public var requests: Int
        public var requestsPerSecond: Double?
        public var errorRate: Double
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?
        /// Percent of the run's CFS periods that were throttled (nil without a CPU quota).
        public var throttledPercent: Double?
        /// The group's memory usage peak (page cache included, as the limit counts), bytes.
        public var memoryPeakBytes: UInt64
        public var memoryLimitBytes: UInt64?
        public var oomKills: Int
        /// The budgets that failed (`load p95 120ms > limit 100ms`), and the step's own report file.
        public var failedBudgets: [String]
        public var report: String
        public var durationSeconds: Double

        public init(value: Int, report run: RunReport, path: String, failedBudgets: [String], passed: Bool, measured: Bool = true) {
            self.value = value
            self.passed = passed
            self.measured = measured
            outcome = run.outcome
            requests = run.load?.requests ?? 0
            requestsPerSecond = run.load?.requestsPerSecond
            errorRate = run.load?.errorRate ?? 0
            p50 = run.load?.latency.p50
            p95 = run.load?.latency.p95
            p99 = run.load?.latency.p99
            // While the driver ran: the service's start-up is not the load's.
            throttledPercent = run.cpu.limitCpus != nil ? run.load?.throttledPercent : nil
            memoryPeakBytes = run.memory.peakBytes
            memoryLimitBytes = run.memory.limitBytes
            oomKills = run.oomKills.count
            self.failedBudgets = failedBudgets
            report = path
            durationSeconds = run.durationSeconds
        }

        /// What broke: an OOM kill or usage within 5% of the limit, then errors, then CPU
        /// throttling in at least a quarter of the periods, else latency alone.
        public var limitingFactor: LimitingFactor {
            if oomKills > 0 { return .memory }
            if let limit = memoryLimitBytes, limit > 0, Double(memoryPeakBytes) >= Double(limit) * 0.95 { return .memory }
            if failedBudgets.contains(where: { $0.contains("error_rate") }) { return .errors }
            if let throttled = throttledPercent, throttled >= 25 { return .cpu }
            return .latency
        }
    }

    public enum LimitingFactor: String, ReportValue {
        /// The CPU quota: the group was throttled in a quarter or more of its periods.
        case cpu
        /// The memory limit: an OOM kill, or usage within 5% of the limit.
        case memory
        /// Requests failed past the error-rate budget.
        case errors
        /// Latency broke its budget without the CPU quota or memory limit being reached.
        case latency
    }

    public init(confineVersion: String, placeholder: String, driver: String, command: [String], budgets: [String], steps: [Step],
                totalSeconds: Double, stoppedBy: String? = nil) {
        self.stoppedBy = stoppedBy
        self.confineVersion = confineVersion
        self.placeholder = placeholder
        self.driver = driver
        self.command = command
        self.budgets = budgets
        self.steps = steps
        self.totalSeconds = LoadMeasurement.rounded(totalSeconds)
        let best = steps.filter(\.passed).max { $0.value < $1.value }
        let broke = steps.filter { $0.measured && !$0.passed }.min { $0.value < $1.value }
        if placeholder == "rate" { maxRate = best?.value } else { maxConcurrency = best?.value }
        requestsPerSecond = best?.requestsPerSecond
        limitedBy = broke?.limitingFactor
        var sentence: String
        if let best {
            sentence = "held \(placeholder) \(best.value)"
            if let rps = best.requestsPerSecond { sentence += " (\(BudgetMetric.rps.format(rps)))" }
        } else {
            sentence = "no \(placeholder) tried held its budgets"
        }
        if let broke {
            sentence += "; at \(broke.value) " + broke.limitingFactor.words(broke)
        } else if best != nil && stoppedBy == nil {
            sentence += ", the highest tried: the limit is above it"
        }
        if let stoppedBy, let last = steps.last {
            sentence += "; the search stopped at \(placeholder) \(last.value): \(stoppedBy)"
        }
        answer = sentence
    }
}

extension CapacityReport.LimitingFactor {
    /// `the CPU quota broke it first (throttled in 92% of periods; p95 240ms > limit 100ms)`.
    func words(_ step: CapacityReport.Step) -> String {
        // The budgets' own "(throttled in N% of …)" would repeat what this sentence says.
        let messages = step.failedBudgets.prefix(2).map { $0.components(separatedBy: " (throttled in ").first ?? $0 }
        let budgets = messages.isEmpty ? "" : "; " + messages.joined(separator: "; ")
        switch self {
        case .cpu:
            return "the CPU quota broke it first (throttled in \(formatFixed(step.throttledPercent ?? 0, digits: 0))% of periods\(budgets))"
        case .memory:
            let kills = step.oomKills > 0 ? "\(step.oomKills) OOM kill\(step.oomKills == 1 ? "" : "s"), " : ""
            return "the memory limit broke it first (\(kills)peak \(ByteQuantity.human(step.memoryPeakBytes))"
                + (step.memoryLimitBytes.map { " of \(ByteQuantity.human($0))" } ?? "") + "\(budgets))"
        case .errors:
            return "requests failed first (\(formatFixed(step.errorRate, digits: 1))% errors\(budgets))"
        case .latency:
            return "latency broke its budget with the CPU quota and memory limit not reached\(budgets)"
        }
    }
}
