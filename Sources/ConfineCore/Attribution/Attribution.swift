import Histogram

/// Tests and probed functions as they happen, and what the group did while they ran.
///
/// Test spans arrive live (pytest plugin records, `swift test` output lines, one process per
/// test); between two boundaries lies a *segment* whose peak the caller reads from the kernel
/// (resetting the counter where the kernel allows) or takes from samples, and every test open
/// in that segment is credited with it. A test that owns its process is measured by that
/// process instead (`attribution: process`). Pure: times in seconds since the run started.
public struct AttributionLedger: Sendable {
    /// Distinct function names kept; later names are counted as dropped (a name per call would
    /// otherwise grow without bound).
    public static let maximumFunctions = 256
    public static let maximumTests = 50_000

    struct OpenTest: Sendable {
        var index: Int
        var startBytes: UInt64
        var startCPUNanos: UInt64
        /// The test's own process's RSS at its start, when the runner measured it (pytest plugin).
        var processStartBytes: UInt64?
        /// The group's unreclaimable memory at the test's start (the latest reading then).
        var startUnreclaimable: UInt64? = nil
        /// Its process began another test: it has ended (its end held back by the plugin and not
        /// here yet) and is credited nothing more.
        var superseded = false
    }

    /// Set by `runCutShort`: when confine signalled the tree, and what that makes a test it ends.
    private var cutShort: (time: Double, outcome: TestRecord.Outcome)?
    /// Phases of the runner outside tests (`phaseBegan`), in the order they arrived.
    private var phases: [(time: Double, pid: Int32?, name: String)] = []

    /// Per test: it overlapped a test in another process, so the group's figures are not its own.
    private var overlapsOtherProcess: [Bool] = []

    public private(set) var tests: [TestRecord] = []
    private var open: [String: [OpenTest]] = [:]
    /// Tests that own a process, by key, open or ended: the kernel's exit report may come after the exit event.
    private var processTests: [String: Int] = [:]
    private var openCount = 0
    private var functionSlots: [String: Int] = [:]
    private var functions: [FunctionAccumulator] = []
    public private(set) var droppedFunctionRecords = 0
    public private(set) var droppedTests = 0
    /// Largest number of tests open at once.
    public private(set) var maximumConcurrency = 0
    /// The latest unreclaimable reading of the group (`noteUnreclaimable`): a test that starts
    /// now starts from it.
    private var currentUnreclaimable: UInt64?

    public init() {}

    public var openTestCount: Int { openCount }

    // MARK: tests

    /// A test began. `key` is unique while it runs (source, process and name). `startUnreclaimableBytes`:
    /// the group's unreclaimable memory at `time`, for a test opened after it began (else the latest reading).
    public mutating func testStarted(key: String, name: String, source: TestSource, pid: Int32?, at time: Double,
                                     memoryBytes: UInt64, cpuNanos: UInt64, attribution: TestRecord.Attribution = .group,
                                     processStartBytes: UInt64? = nil, startUnreclaimableBytes: UInt64? = nil) {
        guard tests.count < Self.maximumTests else {
            droppedTests += 1
            return
        }
        var record = TestRecord(name: name, source: source, startSeconds: time)
        record.pid = pid
        record.attribution = attribution
        if attribution.followsGroup {
            record.startBytes = memoryBytes
            record.peakBytes = memoryBytes
            record.unreclaimablePeakBytes = startUnreclaimableBytes ?? currentUnreclaimable
        }
        var overlaps = false
        // A pytest process runs one test at a time: an open test of this process that began
        // before this one has ended, its end held back by the plugin.
        if let pid, source == .pytest {
            for key in open.keys {
                for position in open[key]!.indices where tests[open[key]![position].index].pid == pid
                    && tests[open[key]![position].index].startSeconds ?? time <= time {
                    open[key]![position].superseded = true
                }
            }
        }
        // A test opened earlier that began later (read from the plugin's `running` file before
        // the batched records of the tests before it arrived) did not run alongside this one.
        for other in open.values.joined() where !other.superseded && tests[other.index].startSeconds ?? time <= time {
            tests[other.index].concurrentTests += 1
            record.concurrentTests += 1
            if pid == nil || tests[other.index].pid != pid {
                overlapsOtherProcess[other.index] = true
                overlaps = true
            }
        }
        if attribution == .process { processTests[key] = tests.count }
        open[key, default: []].append(OpenTest(index: tests.count, startBytes: memoryBytes, startCPUNanos: cpuNanos,
                                               processStartBytes: processStartBytes,
                                               startUnreclaimable: startUnreclaimableBytes ?? currentUnreclaimable))
        openCount += 1
        tests.append(record)
        overlapsOtherProcess.append(overlaps)
        maximumConcurrency = max(maximumConcurrency, openCount)
    }

    /// A test ended. `reportedDuration` is the runner's own figure, kept when given;
    /// `processPeakBytes`/`processCPUSeconds` measure the test's own process.
    public mutating func testEnded(key: String, at time: Double, outcome: TestRecord.Outcome, reportedDuration: Double? = nil,
                                   memoryBytes: UInt64, cpuNanos: UInt64, processPeakBytes: UInt64? = nil,
                                   processCPUSeconds: Double? = nil, windowPeakBytes: UInt64? = nil) {
        guard let entry = takeOpen(key) else { return }
        if let windowPeakBytes { credit(entry.index, windowPeakBytes) }
        close(entry, at: time, outcome: outcome, memoryBytes: memoryBytes, cpuNanos: cpuNanos)
        let index = entry.index
        if let reportedDuration { tests[index].durationSeconds = reportedDuration }
        if let processPeakBytes { tests[index].processPeakBytes = processPeakBytes }
        // Memory held only between two readings is missed by them; the test's own process saw
        // its high-water mark: what it added on top of the group's owned memory at the start.
        if tests[index].attribution.followsGroup, let processPeakBytes, let processStart = entry.processStartBytes,
           let start = entry.startUnreclaimable, processPeakBytes > processStart {
            tests[index].unreclaimablePeakBytes = max(tests[index].unreclaimablePeakBytes ?? 0, start + (processPeakBytes - processStart))
        }
        // It cannot own more than the group used while it ran (the rise of its RSS may hold file pages).
        if let owned = tests[index].unreclaimablePeakBytes, let peak = tests[index].peakBytes, tests[index].attribution.followsGroup {
            tests[index].unreclaimablePeakBytes = min(owned, peak)
        }
        // Tests running at once in separate processes (pytest-xdist): the group's figures mix
        // them, the test's own process's do not.
        if overlapsOtherProcess[index], tests[index].attribution.followsGroup, let processPeakBytes,
           let processStart = entry.processStartBytes {
            tests[index].attribution = .process
            tests[index].unreclaimablePeakBytes = nil // the group's figure mixes the workers
            tests[index].startBytes = processStart
            tests[index].peakBytes = processPeakBytes
            tests[index].peakGrowthBytes = processPeakBytes >= processStart ? processPeakBytes - processStart : 0
            tests[index].endGrowthBytes = nil
            tests[index].cpuSeconds = nil
        }
        if tests[index].attribution == .process {
            if let processPeakBytes { tests[index].peakBytes = max(tests[index].peakBytes ?? 0, processPeakBytes) }
            if let processCPUSeconds { tests[index].cpuSeconds = processCPUSeconds }
        }
    }

    public func isOpen(key: String) -> Bool { open[key] != nil }

    /// The open test under `key` is the one named `name` (a name first read cut short), now under `newKey`.
    public mutating func rename(key: String, to newKey: String, name: String) {
        guard let entries = open.removeValue(forKey: key) else { return }
        for entry in entries { tests[entry.index].name = name }
        open[newKey, default: []] += entries
    }

    /// Whether process `pid` is running a test now (cheap: a handful of tests are open at once).
    public func hasOpenTest(pid: Int32) -> Bool {
        openCount > 0 && open.values.contains { $0.contains { tests[$0.index].pid == pid } }
    }

    /// The process's figure at the start of an open test, when it came after the test was opened.
    public mutating func noteProcessStart(key: String, bytes: UInt64?) {
        guard let bytes, open[key]?.isEmpty == false else { return }
        open[key]![0].processStartBytes = bytes
    }

    /// Same-named tests may run at once (Swift Testing names functions without their suite): first in, first out.
    private mutating func takeOpen(_ key: String) -> OpenTest? {
        guard let entry = open[key]?.first else { return nil }
        open[key]!.removeFirst()
        if open[key]!.isEmpty { open[key] = nil }
        openCount -= 1
        return entry
    }

    /// The start of an open test attributed by window (its start came batched), by key.
    public func openWindowTestStart(key: String) -> Double? {
        guard let entry = open[key]?.first, tests[entry.index].attribution == .window else { return nil }
        return tests[entry.index].startSeconds
    }

    /// A test whose end came batched (a short pytest test the plugin held back): the group's
    /// memory at that moment is unknown, so its growth is its worker's — how far the test raised
    /// the process's high-water mark (`processPeakBytes` at the end over `processStartBytes`,
    /// both high-water marks) — on top of the group's memory at its start. CPU: the group's,
    /// interpolated between readings (`cpuNanos` at the end).
    public mutating func testEndedBatched(key: String, at time: Double, outcome: TestRecord.Outcome, reportedDuration: Double,
                                          cpuNanos: UInt64, processPeakBytes: UInt64?, unreclaimableStartBytes: UInt64? = nil) {
        guard let entry = takeOpen(key) else { return }
        let index = entry.index
        tests[index].endSeconds = time
        tests[index].durationSeconds = reportedDuration
        tests[index].outcome = outcome
        tests[index].processPeakBytes = processPeakBytes
        guard tests[index].attribution.followsGroup else { return }
        tests[index].attribution = .window
        let start = tests[index].startBytes ?? entry.startBytes
        var growth: UInt64 = 0
        if let peak = processPeakBytes, let processStart = entry.processStartBytes, peak > processStart { growth = peak - processStart }
        tests[index].peakGrowthBytes = growth
        tests[index].peakBytes = start + growth
        // Readings after its end were credited while its end was held back: like its usage, the
        // group's owned memory at its start plus what its process added — never more than that
        // usage (a start reading that still held what the previous test freed is stale).
        tests[index].unreclaimablePeakBytes = unreclaimableStartBytes.map { min($0 + growth, start + growth) }
        tests[index].endGrowthBytes = nil
        tests[index].cpuSeconds = Double(cpuNanos >= entry.startCPUNanos ? cpuNanos - entry.startCPUNanos : 0) / 1e9
    }

    private mutating func close(_ entry: OpenTest, at time: Double, outcome: TestRecord.Outcome, memoryBytes: UInt64, cpuNanos: UInt64) {
        let index = entry.index
        tests[index].endSeconds = time
        tests[index].durationSeconds = max(0, time - (tests[index].startSeconds ?? time))
        tests[index].outcome = outcome
        if tests[index].attribution.followsGroup {
            credit(index, memoryBytes)
            tests[index].endGrowthBytes = signedGrowth(from: entry.startBytes, to: memoryBytes)
            tests[index].cpuSeconds = Double(cpuNanos &- entry.startCPUNanos) / 1e9
        }
        if let peak = tests[index].peakBytes, let start = tests[index].startBytes {
            tests[index].peakGrowthBytes = peak >= start ? peak - start : 0
        }
    }

    /// A reading of the memory reclaim cannot drop (`CgroupSample.unreclaimableBytes`),
    /// credited to every test open now that follows the group; tests that start later start from it.
    public mutating func noteUnreclaimable(_ bytes: UInt64) {
        currentUnreclaimable = bytes
        for entry in open.values.joined() where !entry.superseded && tests[entry.index].attribution.followsGroup {
            tests[entry.index].unreclaimablePeakBytes = max(tests[entry.index].unreclaimablePeakBytes ?? 0, bytes)
        }
    }

    /// The peak of the segment that just ended (kernel counter since the last boundary, or a
    /// sample), credited to every test open during it.
    public mutating func segmentPeak(_ bytes: UInt64) {
        for entry in open.values.joined() where !entry.superseded { credit(entry.index, bytes) }
    }

    /// A reading of a process that runs one test by itself (its RSS high-water mark, and at
    /// its exit its CPU time); accepted after the test ended too.
    public mutating func processSample(key: String, rssBytes: UInt64, cpuSeconds: Double? = nil) {
        guard let index = processTests[key] else { return }
        tests[index].peakBytes = max(tests[index].peakBytes ?? 0, rssBytes)
        if let cpuSeconds { tests[index].cpuSeconds = cpuSeconds }
    }

    private mutating func credit(_ index: Int, _ bytes: UInt64) {
        guard tests[index].attribution.followsGroup else { return }
        tests[index].peakBytes = max(tests[index].peakBytes ?? 0, bytes)
    }

    /// The moment confine signalled the tree to end the run (`outcome`: `timedOut` for the
    /// timeout or a stall, `interrupted` for a signal confine received): tests that end by
    /// dying from then on end so. The first call counts.
    public mutating func runCutShort(at time: Double, as outcome: TestRecord.Outcome) {
        if cutShort == nil { cutShort = (time, outcome) }
    }

    /// A process exited (the kernel's process connector, `time` when confine saw it): the tests
    /// it was running end now. One it had gone on from — its end held back by the pytest plugin,
    /// which holds back passing ends only, and lost with the process — ended when the next one
    /// began, passed. The one it was running ends at its death: `crashed`, or as the run cut it
    /// short (`runCutShort`); `settleDeaths` later names OOM kills among them.
    public mutating func processExited(pid: Int32, at time: Double, memoryBytes: UInt64, cpuNanos: UInt64) {
        guard openCount > 0 else { return }
        let keys = open.filter { $0.value.contains { tests[$0.index].pid == pid } }.map(\.key)
        for key in keys {
            while let entry = open[key]?.first(where: { tests[$0.index].pid == pid }) {
                open[key]!.removeAll { $0.index == entry.index }
                if open[key]!.isEmpty { open[key] = nil }
                openCount -= 1
                end(entry, died: time, memoryBytes: memoryBytes, cpuNanos: cpuNanos)
            }
        }
    }

    /// An open test the run ended without its runner saying how (`processExited`, `finish`).
    private mutating func end(_ entry: OpenTest, died time: Double, memoryBytes: UInt64, cpuNanos: UInt64) {
        let index = entry.index
        if let pid = tests[index].pid, let start = tests[index].startSeconds,
           let next = tests.lazy.filter({ $0.pid == pid }).compactMap(\.startSeconds).filter({ $0 > start }).min() {
            // Its figures at the end are unknown (the process had moved on), but the plugin holds
            // back only tests that raised their worker's high-water mark by under 1 MiB: its
            // memory is its start's (readings taken before confine knew it had ended belong to
            // the next test); no CPU.
            close(entry, at: min(next, time), outcome: .passed, memoryBytes: entry.startBytes, cpuNanos: entry.startCPUNanos)
            if tests[index].attribution.followsGroup {
                tests[index].attribution = .window
                tests[index].peakBytes = tests[index].startBytes ?? entry.startBytes
                tests[index].peakGrowthBytes = 0
                tests[index].unreclaimablePeakBytes = entry.startUnreclaimable
            }
            tests[index].cpuSeconds = nil
            tests[index].endGrowthBytes = nil
            return
        }
        let outcome = cutShort.map { $0.time <= time ? $0.outcome : .crashed } ?? .crashed
        close(entry, at: time, outcome: outcome, memoryBytes: memoryBytes, cpuNanos: cpuNanos)
    }

    /// Closes what is still open when the run ends (`end(_:died:)`: a test whose process never
    /// said it ended), then puts the tests in the order they began.
    public mutating func finish(at time: Double, memoryBytes: UInt64, cpuNanos: UInt64) {
        for entry in open.values.joined() {
            end(entry, died: time, memoryBytes: memoryBytes, cpuNanos: cpuNanos)
        }
        open = [:]
        openCount = 0
        // In the order they began: batched boundaries arrive after tests confine opened earlier.
        reorder(by: tests.map { $0.startSeconds ?? .infinity })
    }

    /// Puts the tests in the order of `keys` (one per test; ties keep their order).
    private mutating func reorder(by keys: [Double]) {
        let order = tests.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
        guard order != Array(tests.indices) else { return }
        var position = [Int](repeating: 0, count: tests.count)
        for (new, old) in order.enumerated() { position[old] = new }
        tests = order.map { tests[$0] }
        overlapsOtherProcess = order.map { overlapsOtherProcess[$0] }
        processTests = processTests.mapValues { position[$0] }
    }

    /// The tests the runner collected (the pytest plugin's list): each one never seen is listed as
    /// `not_run` — unless `ranInOrderBy`, the process that runs them all in this order, was later
    /// seen to start a test after it: then it ran, its start and its end held back by the plugin
    /// and lost with the process (an OOM kill), and the plugin holds back passing ends only:
    /// `passed`, with no figures. Call after `finish`.
    public mutating func collected(_ names: [String], source: TestSource, ranInOrderBy pid: Int32? = nil) {
        var seen = Set(tests.map(\.name))
        var ranBefore = -1
        if let pid {
            let started = Set(tests.lazy.filter { $0.pid == pid && $0.startSeconds != nil }.map(\.name))
            ranBefore = names.lastIndex { started.contains($0) } ?? -1
        }
        // A test inferred to have run goes just before the next one seen to start, in collection order.
        let startOf = Dictionary(tests.compactMap { test in test.pid == pid ? test.startSeconds.map { (test.name, $0) } : nil },
                                 uniquingKeysWith: min)
        var keys = tests.map { $0.startSeconds ?? .infinity }
        var waiting: [Int] = []
        for (position, name) in names.enumerated() {
            if position <= ranBefore, let start = startOf[name] {
                for (offset, index) in waiting.enumerated() { keys[index] = start - 1e-9 * Double(waiting.count - offset) }
                waiting = []
            }
            guard !seen.contains(name) else { continue }
            seen.insert(name)
            guard tests.count < Self.maximumTests else {
                droppedTests += 1
                continue
            }
            var record = TestRecord(name: name, source: source, startSeconds: nil)
            record.outcome = position < ranBefore ? .passed : .notRun
            record.pid = position < ranBefore ? pid : nil
            if position < ranBefore { waiting.append(tests.count) }
            tests.append(record)
            keys.append(.infinity)
            overlapsOtherProcess.append(false)
        }
        reorder(by: keys)
    }

    /// A phase of the runner outside any test began (`collection`, `session finish`: the pytest
    /// plugin's), in process `pid`: an OOM kill outside tests is charged to it by name.
    /// A runner's boundary reached confine: a test, or a phase outside tests (the plugin's
    /// collection, for a suite that collected nothing). Probed calls alone are not a runner.
    public var heardRunner: Bool { !tests.isEmpty || !phases.isEmpty }

    public mutating func phaseBegan(_ name: String, pid: Int32?, at time: Double) {
        guard phases.count < 1024 else { return }
        phases.append((time, pid, name))
    }

    /// Tests from a JUnit file: the ones already seen live get the file's outcome when they had
    /// none; the others are added with the file's names, outcomes and durations only.
    public mutating func merge(junit cases: [JUnitCase]) {
        var matched = Set<Int>()
        for testCase in cases {
            if let index = tests.indices.first(where: { !matched.contains($0) && Self.isSame(tests[$0].name, testCase) }) {
                matched.insert(index)
                // The runner's word on a test confine saw only collected, or saw without an outcome;
                // what confine saw the run do to a test (an OOM kill, the timeout) is more exact.
                if tests[index].outcome == nil || tests[index].outcome == .notRun || tests[index].outcome == .incomplete {
                    tests[index].outcome = testCase.outcome
                    if tests[index].outcome != .notRun, tests[index].startSeconds == nil {
                        tests[index].attribution = .junit
                        tests[index].source = .junit
                        tests[index].durationSeconds = testCase.durationSeconds
                    }
                }
                continue
            }
            var record = TestRecord(name: testCase.qualifiedName, source: .junit, startSeconds: nil)
            record.attribution = .junit
            record.outcome = testCase.outcome
            record.durationSeconds = testCase.durationSeconds
            tests.append(record)
        }
    }

    /// A live name and a JUnit case name the same test: `dir/test_x.py::test_big` is
    /// `test_x`/`test_big`; `MemoryXCTests.testBig` is `Pkg.MemoryXCTests`/`testBig`.
    static func isSame(_ live: String, _ testCase: JUnitCase) -> Bool {
        if live == testCase.qualifiedName { return true }
        let separators: Set<Character> = [".", ":", "/"]
        let last = live.split(whereSeparator: { separators.contains($0) }).last.map(String.init) ?? live
        guard last == testCase.name || live.hasSuffix("::" + testCase.name) else { return false }
        guard let className = testCase.className else { return true }
        let classLast = className.split(whereSeparator: { separators.contains($0) }).last.map(String.init) ?? className
        return live.contains(classLast)
    }

    /// The test running at `time`: the latest started, among those of process `pid` if any is.
    public func test(at time: Double, pid: Int32? = nil) -> String? {
        let running = tests.filter { test in
            guard let start = test.startSeconds else { return false }
            return start <= time && time <= (test.endSeconds ?? .infinity)
        }
        let own = running.filter { pid != nil && $0.pid == pid }
        return (own.isEmpty ? running : own).max { $0.startSeconds! < $1.startSeconds! }?.name
    }

    /// Where an OOM kill landed: the test it is charged to, or the runner's phase outside tests.
    public struct OOMKillPlace: Sendable, Equatable {
        public var test: String?
        public var phase: String?
    }

    /// OOM kills (time, victim pid, the victim's parent pid) charged to the tests alive at each
    /// kill — the tests of the victim's process, or of its parent (a child the test started),
    /// when one was running; else every test running then — and each test that died with its
    /// process (`crashed`) when that process was a victim (or, for a test without a process of
    /// its own, an OOM kill came while it ran) becomes `oom_killed`. Returns, per kill, the test
    /// it hit or, outside tests, the phase it came in (nil for a run without tests or phases).
    public mutating func chargeOOMKills(_ kills: [(time: Double, pid: Int32, parentPid: Int32?)]) -> [OOMKillPlace] {
        var places: [OOMKillPlace] = []
        for (time, pid, parentPid) in kills {
            let alive = tests.indices.filter { index in
                guard let start = tests[index].startSeconds, start <= time + 0.001 else { return false }
                return time <= (tests[index].endSeconds ?? .infinity) + 0.05
            }
            let own = alive.filter { tests[$0].pid != nil && (tests[$0].pid == pid || tests[$0].pid == parentPid) }
            // A test measured in a process of its own is hit only by a kill of its process or child.
            let running = own.isEmpty ? alive.filter { tests[$0].attribution != .process || tests[$0].pid == nil } : own
            let hit = running
            for index in hit {
                tests[index].oomKills += 1
                if tests[index].outcome == .crashed && (tests[index].pid == pid || tests[index].pid == nil) {
                    tests[index].outcome = .oomKilled
                }
            }
            if let latest = hit.max(by: { (tests[$0].startSeconds ?? 0) < (tests[$1].startSeconds ?? 0) }) {
                places.append(OOMKillPlace(test: tests[latest].name, phase: nil))
            } else if !alive.isEmpty {
                places.append(OOMKillPlace(test: nil, phase: "outside the running tests' processes"))
            } else {
                places.append(OOMKillPlace(test: nil, phase: tests.isEmpty && phases.isEmpty ? nil : phase(at: time, pid: pid)))
            }
        }
        return places
    }

    /// What the runner was doing at `time` outside any test: its own phase (`phaseBegan`) when it
    /// named one since the last test began, else where that moment lies among the tests.
    public func phase(at time: Double, pid: Int32? = nil) -> String {
        let lastTestStart = tests.compactMap(\.startSeconds).filter { $0 <= time }.max()
        let marks = phases.filter { $0.time <= time + 0.001 && $0.time >= (lastTestStart ?? -.infinity) }
        if let mark = marks.last(where: { pid != nil && $0.pid == pid }) ?? marks.last { return mark.name }
        guard let lastTestStart else { return "before the first test" }
        let previous = tests.filter { $0.startSeconds == lastTestStart }.last!
        if tests.contains(where: { ($0.startSeconds ?? -.infinity) > time }) {
            return "between tests, after \(previous.name)"
        }
        return "after the last test"
    }

    // MARK: functions

    /// Every call record of a datagram: names resolved once per datagram, then one histogram
    /// update per record.
    public mutating func addCalls(_ view: ProbeWire.View, memoryBytes: UInt64) {
        var slots: [Int?] = view.names.map { _ in nil }
        var resolved = [Bool](repeating: false, count: view.names.count)
        let call = ProbeWire.Kind.call.rawValue
        for index in 0..<view.count where view.kind(index) == call {
            let name = view.nameIndex(index)
            if !resolved[name] {
                resolved[name] = true
                slots[name] = slot(for: view.names[name], memoryBytes: memoryBytes)
                if let slot = slots[name] { functions[slot].note(pid: view.pid, memoryBytes: memoryBytes) }
            }
            guard let slot = slots[name] else {
                droppedFunctionRecords += 1
                continue
            }
            functions[slot].add(durationNanoseconds: view.duration(index), bytes: view.flags(index) & 1 != 0 ? view.value(index) : nil)
        }
    }

    private mutating func slot(for name: String, memoryBytes: UInt64) -> Int? {
        if let slot = functionSlots[name] { return slot }
        guard functions.count < Self.maximumFunctions else { return nil }
        functionSlots[name] = functions.count
        functions.append(FunctionAccumulator(firstMemoryBytes: memoryBytes))
        return functions.count - 1
    }

    public var functionRecords: [FunctionRecord] {
        functionSlots.map { functions[$0.value].record(name: $0.key) }.sorted { ($0.p99Seconds, $1.name) > ($1.p99Seconds, $0.name) }
    }
}

public enum TestSource: String, Codable, Sendable {
    case pytest
    case xctest
    case swiftTesting = "swift-testing"
    case junit
}

/// One test in the report (`tests[]`).
public struct TestRecord: Codable, Sendable, Equatable {
    public enum Attribution: String, Codable, Sendable {
        /// The group's memory while the test ran (exact segment peaks where the kernel allows a reset).
        case group
        /// The test ran in a process of its own (`swift test --parallel`), or in a worker beside
        /// other workers' tests (pytest-xdist): that process's figures — its RSS; CPU only where the
        /// process was the test's alone (the group's CPU mixes the workers).
        case process
        /// The test's boundaries came batched, after the fact (short pytest tests): the group's
        /// figures over the sampling intervals that held it (`GroupReadings`) — its peak an upper
        /// bound, exact to one interval at each edge; its CPU interpolated between readings.
        case window
        /// Known only from a JUnit file: names, outcomes and durations.
        case junit

        /// Figures come from the group's counters (a boundary reading or the window's readings).
        public var followsGroup: Bool { self == .group || self == .window }
    }

    /// How a test ended: what its runner said, or — when the run cut it short — what happened to it.
    public enum Outcome: String, ReportValue {
        case passed, failed, skipped, error
        /// Its process was killed by the kernel's OOM killer while it ran (or, for a test without a
        /// process of its own, an OOM kill in the group ended it).
        case oomKilled = "oom_killed"
        /// The run's timeout (`--timeout`) or stall timeout cut it: confine signalled the tree while it ran.
        case timedOut = "timed_out"
        /// Its process died while it ran — a signal, `os._exit`, a crash — with no OOM kill and no timeout.
        case crashed
        /// Confine was interrupted (SIGINT, SIGTERM, SIGHUP) and stopped the tree while it ran.
        case interrupted
        /// Collected by the runner (the pytest plugin's list) but never started: the run ended first,
        /// the runner stopped (`-x`, a worker lost), or it was never scheduled.
        case notRun = "not_run"
        /// Written by earlier versions of confine for a test that never ended; read from old reports only.
        case incomplete

        /// The test did not pass: a failure, an error, or the run ended it.
        public var isFailure: Bool { !(self == .passed || self == .skipped || self == .notRun) }
        /// The run, not the test's own code, decided how it ended.
        public var wasCutShort: Bool { [.oomKilled, .timedOut, .crashed, .interrupted, .incomplete].contains(self) }
    }

    public var name: String
    public var source: TestSource
    /// How the test ended (`Outcome`); nil only for a JUnit case the file gave none for.
    public var outcome: Outcome?
    public var attribution: Attribution = .group
    public var pid: Int32?
    public var startSeconds: Double?
    public var endSeconds: Double?
    public var durationSeconds: Double?
    public var cpuSeconds: Double?
    /// Group memory when the test began (group attribution).
    public var startBytes: UInt64?
    /// The peak while the test ran: the group's, or its own process's (see `attribution`).
    public var peakBytes: UInt64?
    /// `peakBytes - startBytes`: what the test added at its highest.
    public var peakGrowthBytes: UInt64?
    /// Group memory at the end minus at the start (negative when the test freed memory).
    public var endGrowthBytes: Int64?
    /// The test's process's own peak RSS during the test, when the runner measured it (pytest).
    public var processPeakBytes: UInt64?
    /// The most memory reclaim could not drop while the test ran — the group's anonymous,
    /// shmem and unreclaimable kernel memory, page cache excluded — at its boundaries and the
    /// detailed samples between them (group and window attribution; nil for a test measured by
    /// its own process, whose RSS is `peakBytes`).
    public var unreclaimablePeakBytes: UInt64?
    /// CFS periods in which the group was throttled while the test ran, and for how long (seconds):
    /// the group's `cpu.stat` counters interpolated at the test's start and end between the
    /// timeline's CPU readings (about every 50 ms), so shared with tests running alongside. Set
    /// when the report is made (`RunReport(record:)`), for a test with a start and an end under a
    /// CPU quota; nil otherwise.
    public var throttledPeriods: UInt64?
    public var throttledSeconds: Double?
    /// Other tests that ran at some point alongside this one; their memory is in this one's group figures.
    public var concurrentTests = 0
    public var oomKills = 0

    /// The memory the test can be said to own, for rankings and `peak_rss`: what reclaim could not
    /// drop while it ran, or — for a test measured by its own process — that process's peak RSS.
    public var ownedPeakBytes: UInt64? { unreclaimablePeakBytes ?? peakBytes }

    public init(name: String, source: TestSource, startSeconds: Double?) {
        self.name = name
        self.source = source
        self.startSeconds = startSeconds
    }
}

/// One probed function in the report (`functions[]`).
public struct FunctionRecord: Codable, Sendable, Equatable {
    public var name: String
    public var calls: UInt64
    public var totalSeconds: Double
    public var minSeconds: Double
    public var meanSeconds: Double
    public var p50Seconds: Double
    public var p90Seconds: Double
    public var p95Seconds: Double
    public var p99Seconds: Double
    public var maxSeconds: Double
    /// Sum of the `bytes` the probes reported, when they reported any.
    public var bytes: Int64?
    /// Group memory when the last calls arrived minus when the first did.
    public var memoryGrowthBytes: Int64
    public var processes: Int
    /// Every call, as HdrHistogram buckets: `[[nanoseconds, count], ...]` (the bucket's highest
    /// equivalent value), for `confine compare` and `confine merge`.
    public var histogram: [[UInt64]]?

    /// The calls as a distribution (nil for a report written without histograms).
    public var distribution: LatencyDistribution? {
        histogram.flatMap {
            LatencyDistribution(pairs: $0, minimum: UInt64((minSeconds * 1e9).rounded()), maximum: UInt64((maxSeconds * 1e9).rounded()),
                                sumNanoseconds: UInt64((totalSeconds * 1e9).rounded()))
        }
    }
}

extension FunctionRecord {
    /// Every figure from the calls themselves (live, and when shards are merged).
    public init(name: String, distribution: LatencyDistribution, bytes: Int64?, memoryGrowthBytes: Int64, processes: Int) {
        let seconds = { (ns: UInt64) in Double(ns) / 1e9 }
        let calls = distribution.count
        self.name = name
        self.calls = calls
        totalSeconds = seconds(distribution.sumNanoseconds)
        minSeconds = seconds(distribution.minimum)
        meanSeconds = calls > 0 ? Double(distribution.sumNanoseconds) / Double(calls) / 1e9 : 0
        p50Seconds = seconds(distribution.percentile(50))
        p90Seconds = seconds(distribution.percentile(90))
        p95Seconds = seconds(distribution.percentile(95))
        p99Seconds = seconds(distribution.percentile(99))
        maxSeconds = seconds(distribution.maximum)
        self.bytes = bytes
        self.memoryGrowthBytes = memoryGrowthBytes
        self.processes = processes
        histogram = distribution.pairs
    }

}

struct FunctionAccumulator: Sendable {
    /// Nanoseconds, 1 ns to 1 hour, 3 significant digits.
    var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000,
                                      numberOfSignificantValueDigits: .three)
    var totalNanoseconds: UInt64 = 0
    var bytes: Int64?
    var firstMemoryBytes: UInt64
    var lastMemoryBytes: UInt64 = 0
    var pids = Set<Int32>()

    init(firstMemoryBytes: UInt64) {
        self.firstMemoryBytes = firstMemoryBytes
        lastMemoryBytes = firstMemoryBytes
    }

    @inline(__always)
    mutating func add(durationNanoseconds: UInt64, bytes: Int64?) {
        _ = histogram.record(min(max(durationNanoseconds, 1), histogram.highestTrackableValue))
        totalNanoseconds &+= durationNanoseconds
        if let bytes { self.bytes = (self.bytes ?? 0) &+ bytes }
    }

    mutating func note(pid: Int32, memoryBytes: UInt64) {
        lastMemoryBytes = memoryBytes
        if pids.count < 1024 { pids.insert(pid) }
    }

    func record(name: String) -> FunctionRecord {
        var values: [UInt64] = []
        var counts: [UInt64] = []
        for bucket in histogram.recordedValues() {
            values.append(bucket.value)
            counts.append(UInt64(bucket.count))
        }
        let distribution = LatencyDistribution(values: values, counts: counts, minimum: histogram.min,
                                               maximum: histogram.maxRecorded, sumNanoseconds: totalNanoseconds)
        return FunctionRecord(name: name, distribution: distribution, bytes: bytes,
                              memoryGrowthBytes: signedGrowth(from: firstMemoryBytes, to: lastMemoryBytes), processes: pids.count)
    }
}

/// `to - from` as a signed byte count, saturated at Int64's bounds: readings come from the
/// kernel and from the probe channel, and a hostile or corrupt value must not trap confine.
func signedGrowth(from start: UInt64, to end: UInt64) -> Int64 {
    end >= start ? Int64(clamping: end - start) : -Int64(clamping: start - end)
}
