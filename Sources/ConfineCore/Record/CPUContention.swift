/// What a CPU quota did to the run, from the report's own figures (pure): the warning when the
/// target sees more CPUs than its quota runs and was throttled most of the time, each test's
/// share of the group's throttling, and the throttling a duration or latency budget ran under.
public enum CPUContention {
    /// The CFS period confine sets with a quota (`cpu.cfs_period_us`, v2 `cpu.max`): 100 ms.
    public static let periodSeconds = 0.1
    /// The run was throttled "most of the time" from this share of its periods.
    public static let warningShare = 0.5
    /// A failing duration or latency budget says it ran throttled from this share of periods.
    public static let budgetShare = 0.25

    /// The warning for a run throttled most of the time (at least half of the periods) under a
    /// quota below the CPUs the target sees. With more processes runnable at once than the quota
    /// runs (or when that count is unknown), it names the likely cause: pools sized from the CPU
    /// count; with one process runnable at a time, the quota itself is below what it needs. Nil
    /// otherwise (or when the visible CPUs are unknown).
    public static func warning(_ cpu: RunReport.CPU) -> String? {
        guard let quota = cpu.limitCpus, let visible = cpu.visibleCpus, quota < Double(visible),
              let share = runShare(cpu), share >= warningShare else { return nil }
        let seen = "the target sees \(visible) CPU\(visible == 1 ? "" : "s") but its quota is \(cpus(quota)) CPU; "
            + "throttled in \(percent(share))% of periods"
        if let runnable = cpu.peakRunnableProcesses, runnable > 0, Double(runnable) <= max(1, quota.rounded(.up)) {
            return "cpu: \(seen) with \(runnable == 1 ? "one process" : "\(runnable) processes") runnable at a time at most: "
                + "the work needs more CPU than the quota gives (not a pool sized from the CPU count)"
        }
        var text = "cpu: \(seen) — tools that size thread or worker pools from the CPU count "
            + "(pytest -n auto, make -j$(nproc), GOMAXPROCS, os.cpu_count()) start more than the quota runs"
        if let runnable = cpu.peakRunnableProcesses, runnable > 0 {
            text += "; up to \(runnable) processes were runnable at once"
        }
        return text
    }

    /// The share of the run's periods in which it was throttled; nil without periods (no quota).
    public static func runShare(_ cpu: RunReport.CPU) -> Double? {
        cpu.periods > 0 ? Double(cpu.throttledPeriods) / Double(cpu.periods) : nil
    }

    /// The share of a test's 100 ms periods (its duration over the period, at least one) in which
    /// the group was throttled; nil when the test carries no throttling figures.
    public static func testShare(_ test: TestRecord) -> Double? {
        guard let throttled = test.throttledPeriods, let duration = test.durationSeconds else { return nil }
        return min(1, Double(throttled) / max(1, duration / periodSeconds))
    }

    /// CPUs as a plain decimal (`0.5`, `2`, `0.25`), as the warning states the quota.
    static func cpus(_ value: Double) -> String {
        var text = formatFixed(value, digits: 3)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// A whole percentage for messages (`98`).
    public static func percent(_ share: Double) -> String { formatFixed(share * 100, digits: 0) }

    /// One reading of the group's cumulative CPU counters (`cpu.stat`): seconds since the start,
    /// `nr_periods`, `nr_throttled`, throttled nanoseconds.
    public typealias Reading = (t: Double, periods: UInt64, throttled: UInt64, throttledNanos: UInt64)

    /// Sets each test's `throttledPeriods` and `throttledSeconds`: the group's counters
    /// interpolated linearly at its start and end between the readings — zero when the group was
    /// made (t 0), each timeline point that read them, and `end` (the final reading) — and
    /// subtracted. Tests without a start or an end are left alone.
    public static func fillThrottling(_ tests: inout [TestRecord], timeline: [TimelinePoint], end: Reading) {
        var readings: [Reading] = [(0, 0, 0, 0)]
        for point in timeline {
            guard let periods = point.periods, let seconds = point.throttledSeconds, point.t > readings[readings.count - 1].t else { continue }
            readings.append((point.t, periods, point.throttledPeriods, UInt64((seconds * 1e9).rounded())))
        }
        if end.t > readings[readings.count - 1].t { readings.append(end) }
        for index in tests.indices {
            guard let start = tests[index].startSeconds, let stop = tests[index].endSeconds, stop >= start else { continue }
            let (a, b) = (value(at: start, readings), value(at: stop, readings))
            tests[index].throttledPeriods = UInt64(max(0, b.throttled - a.throttled).rounded())
            tests[index].throttledSeconds = (max(0, b.nanos - a.nanos) / 1e6).rounded() / 1000
        }
    }

    /// The counters at `t`, linear between the readings around it (held at the last one past it).
    static func value(at t: Double, _ readings: [Reading]) -> (throttled: Double, nanos: Double) {
        var low = 0, high = readings.count // first reading at or after t
        while low < high {
            let middle = (low + high) / 2
            if readings[middle].t < t { low = middle + 1 } else { high = middle }
        }
        if low == readings.count { return (Double(readings[low - 1].throttled), Double(readings[low - 1].throttledNanos)) }
        let after = readings[low]
        guard low > 0 else { return (Double(after.throttled), Double(after.throttledNanos)) }
        let before = readings[low - 1]
        let fraction = after.t > before.t ? (t - before.t) / (after.t - before.t) : 1
        func between(_ x: UInt64, _ y: UInt64) -> Double { Double(x) + (Double(y) - Double(x)) * fraction }
        return (between(before.throttled, after.throttled), between(before.throttledNanos, after.throttledNanos))
    }
}
