#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// Which test and which function were running: the probe socket, the runner's output, the
/// processes that run one test each, and the `AttributionLedger` they feed (docs/ARCHITECTURE.md,
/// "Attribution"). The supervisor's poll loop calls it when one of its descriptors is readable,
/// on process events, and after each sample; at every test boundary it asks the `BoundaryReader`
/// (the `GroupSampler`) for a reading and the segment's peak.
final class TestWatcher {
    private let plan: RunPlan
    private let reader: any BoundaryReader
    /// CLOCK_MONOTONIC seconds at the run's start: the timeline's zero.
    private let start: Double
    private(set) var ledger = AttributionLedger()
    private var probe: ProbeReceiver?
    private var relay: OutputRelay?
    private var outputParser = SwiftTestOutputParser()
    /// The runner whose output is read: the plan's, or (`plan.detectsRunner`) the first one the
    /// process tree showed — until then the output passes through unread.
    private var outputRunner: RunnerOutputKind?
    /// The process that showed it: `swift test` started by make, a script, tox.
    private(set) var detectedRunner: (pid: Int32, command: String)?
    /// Whether a runner's output was read (named by the plan, or found).
    var readRunnerOutput: Bool { outputRunner != nil }
    /// The group at every boundary reading and, once the probe has sent a test boundary, at every
    /// sample: batched boundaries (short pytest tests) are attributed from these after the fact.
    private var readings = GroupReadings()
    /// Once the probe has sent a test boundary, every sample closes a segment (the sampler reads it whole).
    private var readsEverySample: Bool { reader.readsEverySampleInDetail }
    /// Per process, a test opened from the `running` file under a name the slot may have cut
    /// (`RunningSlots.nameLimit`): its key and that name, until a record gives the whole name.
    private var cutNames: [Int32: (key: String, name: String)] = [:]
    /// Per process, the latest test start known (from a record or the `running` file), in ns.
    private var latestStart: [Int32: UInt64] = [:]
    /// XCTest tests running one per process (`swift test --parallel`), by pid, while they run.
    private var testProcesses: [Int32: KeptOpenFile?] = [:]
    private var processTestNames = Set<String>()
    private(set) var warnings: [String] = []

    init(plan: RunPlan, reader: any BoundaryReader, start: Double) {
        self.plan = plan
        self.reader = reader
        self.start = start
        outputRunner = plan.runnerOutput
    }

    private func now() -> Double { monotonicSeconds() - start }

    private func seconds(fromMonotonic nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 - start }

    // MARK: before the spawn

    /// Opens the probe socket (named in `environment`) and the runner-output relay, as the plan asks.
    func prepare(environment: [String]) -> [String] {
        var environment = environment
        if plan.probeChannel {
            do {
                let receiver = try ProbeReceiver()
                probe = receiver
                environment.removeAll { $0.hasPrefix(ProbeReceiver.environmentVariable + "=") }
                environment.append("\(ProbeReceiver.environmentVariable)=\(receiver.path)")
            } catch {
                warnings.append("probe channel unavailable (\(error)): no per-function figures, no pytest test boundaries")
            }
        }
        if plan.runnerOutput != nil || plan.detectsRunner {
            // The target writes to a terminal only confine reads. Where confine's own output is no
            // terminal, the target would not page without confine: it must not with it either —
            // pagers by the variables tools read, and a `less` called directly quits after one
            // screen (of 32767 rows) and leaves the keypad alone (git's default FRX, and --no-keypad).
            if isatty(1) == 0 {
                for (name, value) in [("PAGER", "cat"), ("GIT_PAGER", "cat"), ("SYSTEMD_PAGER", "cat"), ("LESS", "-FRX --no-keypad")]
                where !environment.contains(where: { $0.hasPrefix(name + "=") }) {
                    environment.append(name + "=" + value)
                }
            }
            do {
                relay = try OutputRelay(destination: 1)
            } catch {
                warnings.append("cannot read the runner's output (\(error)): no test boundaries from it")
            }
        }
        return environment
    }

    /// What the child's stdout should be (-1: confine's own).
    var childStdout: Int32 { relay?.childFD ?? -1 }

    /// After the spawn (or its failure): only the child may hold the relay's write end.
    func spawned() { relay?.closeChildEnd() }

    // MARK: while it runs

    var probeFD: Int32? { probe?.fd }
    /// The probe's directory (its socket and the files the pytest plugin writes), if open.
    var probeDirectory: String? { probe?.directory }
    var outputFD: Int32? { relay?.fd }
    var outputClosed: Bool { relay?.isClosed ?? true }

    func drainProbe() {
        probe?.drain { receive($0) }
    }

    func drainOutput() {
        relay?.drain(parsing: outputRunner != nil) { line in parse(line) }
    }

    /// After each sample (taken with detail while `readsEverySample`): samples between boundaries
    /// are credited to the open tests too. The plugin's `running` file is read at the supervisor's
    /// slower cadence (`slowCadence`, about every 50 ms): soon enough to know a long test while it runs.
    func sampled(slowCadence: Bool) {
        if readsEverySample {
            let sample = closeSegment(alreadyRead: true)
            if slowCadence { adoptRunningTests(sample) }
        } else if ledger.openTestCount > 0 {
            ledger.segmentPeak(reader.latest.memoryBytes)
            // As fresh as the last detailed reading, which is never older than the last boundary.
            ledger.noteUnreclaimable(reader.latest.unreclaimableBytes)
        }
        guard ledger.openTestCount > 0 else { return }
        for pid in testProcesses.keys { readHighWaterMark(pid) }
    }

    /// Reads the group now and closes the segment since the previous reading: its peak (the
    /// kernel's counter, then reset) is credited to every test open during it and kept as a reading.
    @discardableResult
    private func closeSegment(alreadyRead: Bool = false) -> CgroupSample {
        let (sample, peak) = reader.readBoundary(alreadyRead: alreadyRead)
        ledger.segmentPeak(peak)
        ledger.noteUnreclaimable(sample.unreclaimableBytes)
        readings.append(.init(time: now(), memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos, peakBytes: peak,
                              unreclaimableBytes: sample.unreclaimableBytes))
        return sample
    }

    /// Tests the plugin says are running (its `running` file) that confine has no start for
    /// yet — their start records are held back in the plugin: opened now, placed by the readings.
    private func adoptRunningTests(_ sample: CgroupSample) {
        guard let probe else { return }
        for running in probe.runningTests() where running.startNanoseconds > latestStart[running.pid] ?? 0 {
            latestStart[running.pid] = running.startNanoseconds
            let key = "\(running.pid):\(running.name)"
            guard !ledger.isOpen(key: key) else { continue }
            if running.name.utf8.count > RunningSlots.nameLimit - 4 { cutNames[running.pid] = (key, running.name) }
            openWindowTest(key: key, name: running.name, pid: running.pid, startNanoseconds: running.startNanoseconds,
                           processStartBytes: nil, sample)
        }
    }

    private func openWindowTest(key: String, name: String, pid: Int32, startNanoseconds: UInt64, processStartBytes: UInt64?,
                                _ sample: CgroupSample) {
        let start = seconds(fromMonotonic: startNanoseconds)
        let span = readings.span(from: start, to: start)
        ledger.testStarted(key: key, name: name, source: .pytest, pid: pid, at: start,
                           memoryBytes: span?.startBytes ?? sample.memoryBytes, cpuNanos: span?.startCPUNanos ?? sample.cpuUsageNanos,
                           attribution: .window, processStartBytes: processStartBytes,
                           startUnreclaimableBytes: span?.startUnreclaimableBytes)
    }

    private func receive(_ datagram: ProbeWire.View) {
        var sample = reader.latest
        ledger.addCalls(datagram, memoryBytes: sample.memoryBytes)
        // Test boundaries: the pytest plugin's. Live ones were sent the moment they happened, so
        // one reading of the group now serves all of them (a test's end and the next one's start
        // share a datagram); batched ones are placed among the readings by their own times.
        var readNow = false
        for index in 0..<datagram.count where datagram.kind(index) != ProbeWire.Kind.call.rawValue {
            let record = datagram.record(index)
            if record.kind == .phase {
                ledger.phaseBegan(record.name, pid: datagram.pid, at: seconds(fromMonotonic: record.startNanoseconds))
                continue
            }
            if !readNow {
                sample = closeSegment()
                readNow = true
                if !readsEverySample { reader.readEverySampleInDetail() }
            }
            let key = "\(datagram.pid):\(record.name)"
            // Opened from the running file under a cut name: the record has the whole one.
            if let cut = cutNames[datagram.pid], record.name.hasPrefix(cut.name), record.name != cut.name, !ledger.isOpen(key: key) {
                ledger.rename(key: cut.key, to: key, name: record.name)
                cutNames[datagram.pid] = nil
            }
            let start = seconds(fromMonotonic: record.startNanoseconds)
            let end = seconds(fromMonotonic: record.startNanoseconds &+ record.durationNanoseconds)
            let duration = Double(record.durationNanoseconds) / 1e9
            if record.kind == .testStart {
                // Opened already from the `running` file: only the process's figure is new.
                if record.startNanoseconds <= latestStart[datagram.pid] ?? 0, ledger.isOpen(key: key) {
                    ledger.noteProcessStart(key: key, bytes: record.processPeakBytes)
                    continue
                }
                latestStart[datagram.pid] = max(latestStart[datagram.pid] ?? 0, record.startNanoseconds)
            }
            switch (record.kind, record.isBatched) {
            case (.testStart, false):
                // The group's owned memory at the start lies between the reading before the test
                // began (which may still hold what the previous test freed as it ended) and the one
                // taken as the datagram arrived (which may already hold what this test allocated,
                // and its process's high-water mark counts again): the lower of the two.
                let before = readings.span(from: start, to: start)?.startUnreclaimableBytes ?? sample.unreclaimableBytes
                ledger.testStarted(key: key, name: record.name, source: .pytest, pid: datagram.pid, at: start,
                                   memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos,
                                   processStartBytes: record.processPeakBytes,
                                   startUnreclaimableBytes: min(before, sample.unreclaimableBytes))
            case (.testStart, true):
                openWindowTest(key: key, name: record.name, pid: datagram.pid, startNanoseconds: record.startNanoseconds,
                               processStartBytes: record.processPeakBytes, sample)
            case (.testEnd, false):
                // A test whose start came batched: the readings since it began hold its early peak.
                let windowPeak = ledger.openWindowTestStart(key: key).flatMap { readings.span(from: $0, to: end)?.peakBytes }
                ledger.testEnded(key: key, at: end, outcome: record.outcome.testOutcome, reportedDuration: duration,
                                 memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos,
                                 processPeakBytes: record.processPeakBytes, windowPeakBytes: windowPeak)
            case (.testEnd, true):
                ledger.testEndedBatched(key: key, at: end, outcome: record.outcome.testOutcome, reportedDuration: duration,
                                        cpuNanos: readings.cpu(at: end), processPeakBytes: record.processPeakBytes,
                                        unreclaimableStartBytes: readings.span(from: start, to: end)?.startUnreclaimableBytes)
            default:
                break
            }
        }
    }

    private func parse(_ line: Substring) {
        guard let event = outputParser.feed(line) else { return }
        // With --parallel, SwiftPM reprints a failed test's output after it ran: that test is already measured.
        if case .started(.xctest, let name) = event, processTestNames.contains(name) { return }
        if case .ended(.xctest, let name, _, _) = event, processTestNames.contains(name) { return }
        let sample = closeSegment()
        switch event {
        case .started(let source, let name):
            ledger.testStarted(key: "\(source.rawValue):\(name)", name: name, source: source, pid: nil, at: now(),
                               memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos)
        case .ended(let source, let name, let outcome, let duration):
            ledger.testEnded(key: "\(source.rawValue):\(name)", at: now(), outcome: outcome, reportedDuration: duration,
                             memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos)
        }
    }

    /// A test ends when its process dies: the tests a process was running when it exited end
    /// then (`AttributionLedger.processExited`). With `swift test --parallel`, each XCTest test
    /// is a process of its own (`….xctest Module.Class/test`), measured from its exec to its exit.
    func processEvent(_ event: ProcessEvent, command: (Int32) -> String?) {
        switch event {
        case .exec(let pid):
            if outputRunner == nil, plan.detectsRunner, let line = command(pid), RunnerDetection.isSwiftTest(RunnerDetection.words(line)) {
                // Before its first line: `swift test` builds first, and its tests print later still.
                outputRunner = .swiftTest
                detectedRunner = (pid, line)
            }
            guard outputRunner == .swiftTest, let line = command(pid), let name = Self.parallelXCTestName(line) else { return }
            let sample = reader.latest
            testProcesses[pid] = .some(KeptOpenFile(ProcFS.path(.pid(pid), "status"), capacity: 4096))
            processTestNames.insert(name)
            ledger.testStarted(key: "pid:\(pid)", name: name, source: .xctest, pid: pid, at: now(),
                               memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos, attribution: .process)
        case .exit(let pid, let status):
            if testProcesses[pid] != nil {
                readHighWaterMark(pid)
                testProcesses.removeValue(forKey: pid)
                // An exit status is the test's verdict; a signal is a death (an OOM kill, the timeout).
                if status & 0x7f == 0 {
                    let sample = reader.latest
                    ledger.testEnded(key: "pid:\(pid)", at: now(), outcome: status == 0 ? .passed : .failed,
                                     memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos)
                }
            }
            guard ledger.hasOpenTest(pid: pid) else { return }
            // What it sent before it died (the plugin flushes held-back ends on its way out) first,
            // and the test its slot of the `running` file names (its start may have been held back).
            drainProbe()
            if readsEverySample { adoptRunningTests(reader.latest) }
            let sample = reader.latest
            ledger.processExited(pid: pid, at: now(), memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos)
        case .fork:
            break
        }
    }

    /// Confine is about to signal the tree (the timeout, a stall, an interrupt): the tests that
    /// die from now on were cut short by it.
    func runCutShort(as outcome: TestRecord.Outcome) {
        ledger.runCutShort(at: now(), as: outcome)
    }

    /// The kernel's exit report for a thread: exact for a test's process, even after its exit event.
    func taskExited(_ exit: TaskExit) {
        guard !processTestNames.isEmpty else { return }
        ledger.processSample(key: "pid:\(exit.tgid)", rssBytes: exit.peakRssBytes,
                             cpuSeconds: exit.pid == exit.tgid ? Double(exit.cpuMicroseconds) / 1e6 : nil)
    }

    /// `/path/PkgPackageTests.xctest Module.Class/testName` → `Class.testName`, as serial XCTest names it.
    static func parallelXCTestName(_ command: String) -> String? {
        let words = command.split(separator: " ")
        guard words.count >= 2, words[0].hasSuffix(".xctest") else { return nil }
        let test = words[words.count - 1]
        // A comma-separated list is a filtered serial run (`--filter`, `--shard`), not one test's process.
        guard let slash = test.firstIndex(of: "/"), !test.hasPrefix("-"), !test.contains(",") else { return nil }
        let className = test[..<slash].split(separator: ".").last ?? test[..<slash]
        return "\(className).\(test[test.index(after: slash)...])"
    }

    /// The kernel keeps each process's RSS high-water mark (`VmHWM`): one read after the peak finds it.
    private func readHighWaterMark(_ pid: Int32) {
        guard let file = testProcesses[pid] ?? nil, let bytes = file.read(),
              let kilobytes = ProcFS.statusField("VmHWM", in: bytes) else { return }
        ledger.processSample(key: "pid:\(pid)", rssBytes: kilobytes * 1024)
    }

    // MARK: after it ran

    /// Everything the target sent before it ended (output in the terminal, batches sent at exit),
    /// the last segment, the tests still open closed as the run ended them (`AttributionLedger.finish`),
    /// and the collected tests that never ran listed.
    func finish() {
        drainOutput()
        drainProbe()
        if readsEverySample { adoptRunningTests(reader.latest) }
        if ledger.openTestCount > 0 { closeSegment() }
        let sample = reader.latest
        ledger.finish(at: now(), memoryBytes: sample.memoryBytes, cpuNanos: sample.cpuUsageNanos)
        if let probe {
            let collected = probe.collectedTests()
            ledger.collected(collected.names, source: .pytest, ranInOrderBy: collected.inOrderPid)
        }
        relay?.close()
        relay = nil
        testProcesses = [:]
    }

    /// JUnit import, the probe channel's accounting, and a warning for each kind of bad input.
    /// Closes the probe socket.
    func close() -> RunReport.ProbeSummary? {
        for path in plan.junitPaths {
            do {
                let text = try readTextFile(path)
                do {
                    ledger.merge(junit: try JUnitReader.parse(text, path: path))
                } catch {
                    warnings.append("junit: \(error)")
                }
            } catch {
                warnings.append("junit: cannot read \(path): \(error)")
            }
        }
        if let detected = detectedRunner, plan.environment.contains(where: { $0.hasPrefix("CONFINE_SHARD_TOTAL=") }) {
            // confine splits `swift test` by adding --filter to the command it was given.
            warnings.append("--shard: swift test (pid \(detected.pid)) was started by another command, which confine cannot add its "
                            + "--filter to: this shard ran every test it ran; give `swift test` as the command, "
                            + "or pass the filter from `confine shard --list`")
        }
        if outputRunner != nil {
            if outputParser.unrecognizedCount > 0 {
                warnings.append("runner output: \(outputParser.unrecognizedCount) lines looked like test boundaries but did not parse, "
                                + "first: \"\(outputParser.unrecognized.first ?? "")\"")
            }
            if outputParser.boundaries == 0 && processTestNames.isEmpty && !plan.shardIsEmpty {
                warnings.append("runner output: no test boundaries in \(outputParser.linesRead) lines of `swift test` output")
            }
        }
        if ledger.droppedFunctionRecords > 0 {
            warnings.append("probe: more than \(AttributionLedger.maximumFunctions) function names; "
                            + "\(ledger.droppedFunctionRecords) records of later names not kept")
        }
        guard let probe else { return nil }
        defer {
            probe.close()
            self.probe = nil
        }
        if probe.malformedDatagrams > 0 {
            warnings.append("probe: \(probe.malformedDatagrams) malformed datagrams ignored, first: \(probe.firstMalformed.first ?? "")")
        }
        if probe.droppedBySenders > 0 {
            warnings.append("probe: senders could not deliver \(probe.droppedBySenders) records")
        }
        return RunReport.ProbeSummary(socket: probe.path, datagrams: probe.datagrams, recordsReceived: probe.records,
                                      recordsDropped: probe.droppedBySenders + ledger.droppedFunctionRecords,
                                      malformedDatagrams: probe.malformedDatagrams)
    }
}
