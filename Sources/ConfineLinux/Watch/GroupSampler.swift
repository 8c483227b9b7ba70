import ConfineCore

/// How the test watcher reads the group at a test boundary: the one narrow door it has to it.
protocol BoundaryReader: AnyObject {
    /// The latest reading, without reading again (what a boundary between samples is credited).
    var latest: CgroupSample { get }
    /// Reads the group now (unless `alreadyRead`: the sample just taken is the reading) and
    /// closes the segment since the previous boundary: returns the reading and the segment's
    /// peak — the kernel's counter, then reset, where the kernel allows; else the reading's usage.
    func readBoundary(alreadyRead: Bool) -> (sample: CgroupSample, peakBytes: UInt64)
    /// From now on every sample reads the breakdown and CPU counters too (batched boundaries are
    /// placed among the readings after the fact, so each must be whole).
    func readEverySampleInDetail()
    /// Whether `readEverySampleInDetail` was asked for.
    var readsEverySampleInDetail: Bool { get }
}

/// The one place the run's group is read while it runs, and the one place that decides when:
/// at the sampling cadence (`sampleIfDue`, called by the supervisor's loop) and at test
/// boundaries (the test watcher, through `BoundaryReader`). Keeps the latest reading, the
/// bounded timeline and the peaks the samples saw.
final class GroupSampler: BoundaryReader {
    private let group: any RunGroup
    private let start: Double
    /// The profile's sampling interval, seconds.
    private let interval: Double
    /// Usage and pids every sample; the breakdown and CPU counters (costlier, and CPU is
    /// cumulative) about every 50 ms; per-process RSS, a few syscalls per process, every 100 ms.
    private let detailEvery: Int
    private let processEvery: Int
    /// CLOCK_MONOTONIC seconds of the next sample.
    private(set) var nextSample: Double
    private var sampleCount = 0
    private(set) var latest = CgroupSample()
    private(set) var timeline = BoundedTimeline()
    /// The largest usage seen by samples and at boundaries (the peak where the kernel has no counter).
    private(set) var peakMemoryBytes: UInt64 = 0
    private(set) var peakPids = 0
    /// The largest unreclaimable figure (anon + shmem + unreclaimable kernel) among the detailed
    /// readings: every boundary, and samples about every 50 ms (every sample once boundaries
    /// arrive batched). No kernel counter keeps this peak: between readings it is sampled.
    private(set) var unreclaimablePeakBytes: UInt64 = 0
    /// The detailed reading with the highest usage: its split says what filled the group then.
    /// (A timeline point's split may be older than its usage: fields not read keep their value.)
    private(set) var fullestReading: CgroupSample?
    /// The largest segment peak: the kernel's run-wide counter restarts at each reset, so the
    /// run's peak is at least this.
    private(set) var segmentPeakMax: UInt64 = 0
    private var segmentPeaksWork = true
    private(set) var readsEverySampleInDetail = false
    /// Usage at the last detailed reading, and the rise past it that calls for one now.
    private var lastDetailedUsage: UInt64 = 0
    static let riseForDetail: UInt64 = 4 << 20
    private var pidBuffer: [Int32] = []
    /// The pids limit, and the task count from which a sample counts as at it: within 1/32 of
    /// the limit (at least one task), since the count at the limit may last less than a sample.
    private let pidsLimit: Int?
    private let pidsNearLimit: Int
    /// The task count at the last time the group was found near its pids limit.
    private var pidsCensusTasks: Int?
    /// A sample found the group near its pids limit, higher than before: who holds the tasks
    /// should be read now (`takePidsCensusDue`). At most twice a run: on first coming near the
    /// limit, and again if a later sample finds it at the limit itself.
    private var pidsCensusDue = false

    /// `start`: CLOCK_MONOTONIC seconds at the run's start, the timeline's zero; `interval`: the
    /// profile's sampling interval in seconds; `pidsLimit`: the group's `pids.max`, if any.
    init(group: any RunGroup, start: Double, interval: Double, pidsLimit: Int? = nil) {
        self.group = group
        self.start = start
        self.interval = interval
        self.pidsLimit = pidsLimit
        pidsNearLimit = pidsLimit.map { $0 - max(1, $0 / 32) } ?? .max
        detailEvery = max(1, Int((0.05 / interval).rounded()))
        processEvery = max(1, Int((0.1 / interval).rounded()))
        nextSample = start
    }

    /// Takes the sample that is due at CLOCK_MONOTONIC `now`, if one is. Returns whether it was
    /// one of the samples at which per-process RSS is read too (about every 100 ms) — and whether
    /// it was the slower cadence (about every 50 ms) at which the breakdown is read.
    func sampleIfDue(now: Double) -> (processes: Bool, slowCadence: Bool)? {
        guard now >= nextSample else { return nil }
        let slow = sampleCount % detailEvery == 0
        let processes = sampleCount % processEvery == 0
        sample(at: now - start, detail: slow)
        sampleCount += 1
        nextSample += interval
        if nextSample < now { nextSample = now + interval } // fell behind: do not burst
        return (processes, slow)
    }

    /// A sample now (`at`: seconds since the start): usage and pids always; the `memory.stat`
    /// breakdown and CPU counters with `detail`, or always once batched boundaries need every
    /// reading whole. Appended to the timeline.
    func sample(at time: Double, detail: Bool) {
        var detailed = detail || readsEverySampleInDetail
        group.sample(detail: detailed, into: &latest)
        // Memory that rose since the last detailed reading is read in detail now: shmem or anon
        // held for less than the slower cadence would otherwise pass unseen by the owned figure.
        if !detailed && latest.memoryBytes > lastDetailedUsage &+ Self.riseForDetail {
            group.sample(detail: true, into: &latest)
            detailed = true
        }
        if detailed { noteDetailedReading() }
        peakMemoryBytes = max(peakMemoryBytes, latest.memoryBytes)
        peakPids = max(peakPids, latest.pids)
        notePidsNearLimit()
        timeline.append(TimelinePoint(
            t: (time * 1000).rounded() / 1000, memoryBytes: latest.memoryBytes, breakdown: latest.breakdown,
            cpuSeconds: Double(latest.cpuUsageNanos) / 1e9, throttledPeriods: latest.throttledPeriods, pids: latest.pids,
            periods: detailed ? latest.periods : nil, throttledSeconds: detailed ? Double(latest.throttledNanos) / 1e9 : nil))
    }

    private func notePidsNearLimit() {
        guard let limit = pidsLimit, latest.pids >= pidsNearLimit else { return }
        if let before = pidsCensusTasks, before >= limit || latest.pids < limit { return }
        pidsCensusTasks = latest.pids
        pidsCensusDue = true
    }

    /// Whether the latest sample found the group near its pids limit for a census (once per such sample).
    func takePidsCensusDue() -> Bool {
        defer { pidsCensusDue = false }
        return pidsCensusDue
    }

    /// The group's members now (a kept-open `cgroup.procs`), for per-process RSS.
    func memberPids() -> [Int32] {
        group.sampledPids(into: &pidBuffer)
        return pidBuffer
    }

    func readEverySampleInDetail() { readsEverySampleInDetail = true }

    /// `latest` was read whole (usage with its `memory.stat` split at one moment).
    private func noteDetailedReading() {
        lastDetailedUsage = latest.memoryBytes
        unreclaimablePeakBytes = max(unreclaimablePeakBytes, latest.unreclaimableBytes)
        if latest.memoryBytes > fullestReading?.memoryBytes ?? 0 { fullestReading = latest }
    }

    func readBoundary(alreadyRead: Bool) -> (sample: CgroupSample, peakBytes: UInt64) {
        if !alreadyRead { group.sample(detail: true, into: &latest) }
        noteDetailedReading()
        var peak = latest.memoryBytes
        if segmentPeaksWork {
            if let segment = group.takeSegmentPeak() {
                peak = max(peak, segment)
            } else {
                segmentPeaksWork = false
            }
        }
        segmentPeakMax = max(segmentPeakMax, peak)
        peakMemoryBytes = max(peakMemoryBytes, peak)
        return (latest, peak)
    }

    /// The group read once more after the command ended (final CPU counters, the breakdown).
    func finalReading() -> CgroupSample {
        var final = latest
        group.sample(detail: true, into: &final)
        return final
    }
}
