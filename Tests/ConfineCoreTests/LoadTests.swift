import Foundation
import XCTest
@testable import ConfineCore

/// `confine load`'s pure parts: readiness targets, driver commands and their pacing, the load
/// section (coordinated-omission correction, per-second timeline), load budgets (throughput
/// bounded from below), the verdict, and capacity's search.
final class LoadTests: XCTestCase {
    func testReadinessTargetsParseAndBadOnesSayWhatWasExpected() throws {
        XCTAssertEqual(try ReadinessTarget.parse("http://127.0.0.1:8080/health"), .http(host: "127.0.0.1", port: 8080, path: "/health"))
        XCTAssertEqual(try ReadinessTarget.parse("http://localhost"), .http(host: "127.0.0.1", port: 80, path: "/"))
        XCTAssertEqual(try ReadinessTarget.parse("tcp:[::1]:9000"), .tcp(host: "::1", port: 9000))
        XCTAssertEqual(try ReadinessTarget.parse("http://h:1/health#top"), .http(host: "h", port: 1, path: "/health"), "a fragment is not sent")
        XCTAssertEqual(try ReadinessTarget.parse("http://h:1?x=1"), .http(host: "h", port: 1, path: "/?x=1"))
        XCTAssertEqual(ReadinessTarget.tcp(host: "::1", port: 9000).description, "tcp:[::1]:9000")
        for (bad, words) in [("http://u:p@127.0.0.1:1/", "credentials"), ("http://h:1/he alth", "%20"), ("tcp:127.0.0.1", "no port"), ("http://h:99999/", "not a port"), ("https://h/", "plain HTTP"),
                             ("localhost:8080", "expected http://HOST:PORT/PATH")] {
            XCTAssertThrowsError(try ReadinessTarget.parse(bad), bad) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
        }
    }

    func testDriverCommandsAreSplitAsAShellWouldAndTheirPacingKnown() {
        let hey = DriverCommand("hey -z 30s -c 50 -q 20 -o csv 'http://127.0.0.1:8080/quote?a=1&b=2'")
        XCTAssertEqual(hey.words.last, "http://127.0.0.1:8080/quote?a=1&b=2")
        XCTAssertEqual(hey.program, "hey")
        XCTAssertEqual(hey.option("-q"), "20")
        XCTAssertEqual(hey.pacing.loop, .closed)
        XCTAssertEqual(hey.pacing.correction, .corrected)
        XCTAssertEqual(hey.pacing.interval ?? 0, 0.05, accuracy: 1e-12, "-q 20 per worker: 50 ms between one connection's requests")
        XCTAssertEqual(DriverCommand("hey -z 5s http://x/").pacing.correction, .uncorrected)
        XCTAssertEqual(DriverCommand("wrk -t2 -c8 -d5s -R 2000 --latency http://x/").pacing.correction, .byDriver)
        XCTAssertEqual(DriverCommand("env A=1 python3 -m locust --headless").program, "locust")
        XCTAssertEqual(DriverCommand("./my-tool").pacing.loop, .unknown)
        XCTAssertEqual(DriverCommand("hey --q 5 -c 2 -o csv http://x/").pacing.interval, 0.2, "Go flags take --q as -q")
        XCTAssertEqual(DriverCommand("timeout 10 nice -n 5 hey -q 4 -o csv http://x/").program, "hey", "wrappers are not the driver")
        XCTAssertEqual(DriverCommand("timeout 10 hey -q 4 -o csv http://x/").pacing.correction, .corrected)
        XCTAssertEqual(DriverCommand("wrk -c 2 http://x/").formatProblem(given: nil),
                       "wrk prints its latency distribution only with --latency; add --latency to the driver")
        XCTAssertTrue(DriverCommand("C=2 hey -o csv http://x/").needsShell, "an assignment is the shell's")
        XCTAssertTrue(DriverCommand("hey -o csv http://x/ | tee out").needsShell)
        XCTAssertFalse(DriverCommand("hey -z 2s -o csv 'http://x/?a=1'").needsShell, "quoted '=' in an argument is not an assignment")
        XCTAssertNil(DriverCommand("env FOO=1 hey -o=csv http://x/").formatProblem(given: nil))
        XCTAssertEqual(DriverCommand("hey -z 1s http://x/").formatProblem(given: nil),
                       "hey prints figures confine can read only with -o csv; add -o csv to the driver")
        XCTAssertNotNil(DriverCommand("./my-tool").formatProblem(given: nil))
        XCTAssertNil(DriverCommand("./my-tool").formatProblem(given: .plain))
        let capacity = DriverCommand("hey -c {concurrency} http://x/")
        XCTAssertEqual(capacity.placeholders, ["concurrency"])
        XCTAssertEqual(capacity.filling("concurrency", with: 16).text, "hey -c 16 http://x/")
    }

    func record(latencies: [Double], sentAt: [Double], command: String = "hey -o csv http://x/") -> LoadRecord {
        var record = LoadRecord(driver: DriverCommand(command), format: .hey,
                                readiness: .init(target: "tcp:127.0.0.1:1", result: .ready, readyAtSeconds: 0.5, checks: 2, timeoutSeconds: 30),
                                graceSeconds: 10)
        var result = DriverResult(format: .hey)
        result.latencies = latencies
        result.sentAt = sentAt
        result.failed = latencies.map { $0 > 1 }
        result.requests = latencies.count
        result.errors = result.failed.filter { $0 }.count
        result.durationSeconds = zip(sentAt, latencies).map(+).max()
        record.result = result
        record.driverStartedAt = 1.0
        record.driverEndedAt = 11.0
        return record
    }

    /// One request stalled 1 s among 10 ms answers, one connection meaning to send 100 a second:
    /// the 99 requests the stall held back were never sent (hey drops missed ticks); recorded as
    /// HdrHistogram corrects, they are back, at 990 ms … 10 ms, and p95 is no longer 10 ms — while
    /// the median, and every request after the stall, stay at 10 ms.
    func testClosedLoopLatenciesAreCorrectedWithTheIntendedInterval() throws {
        var latencies = [Double](repeating: 0.010, count: 990)
        latencies[500] = 1.0
        // Sent back to back on one connection: each after the previous answer.
        var sentAt: [Double] = []
        var clock = 0.0
        for latency in latencies {
            sentAt.append(clock)
            clock += max(latency, 0.01)
        }
        let plain = LoadMeasurement.section(record(latencies: latencies, sentAt: sentAt), timeline: [], stop: nil)
        XCTAssertEqual(plain.latencyCorrection, .uncorrected)
        XCTAssertEqual(try XCTUnwrap(plain.latency.p99), 0.010, accuracy: 0.0001)
        XCTAssertEqual(try XCTUnwrap(plain.latency.max), 1.0, accuracy: 0.001)

        let corrected = LoadMeasurement.section(record(latencies: latencies, sentAt: sentAt, command: "hey -q 100 -c 1 -o csv http://x/"),
                                                timeline: [], stop: nil)
        XCTAssertEqual(corrected.latencyCorrection, .corrected)
        XCTAssertEqual(corrected.expectedIntervalSeconds ?? 0, 0.01, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(corrected.uncorrectedLatency?.p99), 0.010, accuracy: 0.0001)
        XCTAssertGreaterThan(try XCTUnwrap(corrected.latency.p95), 0.4)
        XCTAssertEqual(try XCTUnwrap(corrected.latency.p50), 0.010, accuracy: 0.0001, "one stall does not move the median")
        XCTAssertEqual(corrected.requestDistribution?.count, 990 + 99, "the histogram holds the back-filled requests")
        XCTAssertEqual(corrected.requests, 990, "correction changes percentiles, not the count of requests made")
    }

    func testTheTimelineIsPerSecondOnTheRunsClockWithTheGroupsThrottling() throws {
        // Two seconds of requests: the first calm, the second slow.
        let latencies = [Double](repeating: 0.01, count: 50) + [Double](repeating: 0.2, count: 4)
        let sentAt = (0..<50).map { Double($0) * 0.018 } + [1.0, 1.2, 1.4, 1.6]
        let breakdown = MemoryBreakdown(anonBytes: 0, fileBytes: 0, kernelBytes: 0, shmemBytes: 0)
        let timeline = [
            TimelinePoint(t: 1.0, memoryBytes: 1 << 20, breakdown: breakdown, cpuSeconds: 0, throttledPeriods: 0, pids: 1, periods: 0),
            TimelinePoint(t: 2.0, memoryBytes: 2 << 20, breakdown: breakdown, cpuSeconds: 0, throttledPeriods: 1, pids: 1, periods: 10),
            TimelinePoint(t: 3.0, memoryBytes: 3 << 20, breakdown: breakdown, cpuSeconds: 0, throttledPeriods: 10, pids: 1, periods: 20),
        ]
        let load = LoadMeasurement.section(record(latencies: latencies, sentAt: sentAt), timeline: timeline, stop: nil)
        XCTAssertEqual(load.timeline.map(\.t), [1.0, 2.0])
        XCTAssertEqual(load.timeline.map(\.requests), [50, 4])
        XCTAssertEqual(load.timeline[0].throttledPercent ?? -1, 10, accuracy: 1e-9)
        XCTAssertEqual(load.timeline[1].throttledPercent ?? -1, 90, accuracy: 1e-9)
        XCTAssertEqual(load.timeline[1].p95 ?? 0, 0.2, accuracy: 1e-9)
        XCTAssertEqual(load.timeline[0].memoryBytes, 1 << 20)
        // A second with no completed request (an outage) is a second of the timeline too.
        let gap = LoadMeasurement.section(record(latencies: [0.01, 3.0, 0.01], sentAt: [0, 0.02, 3.03]), timeline: [], stop: nil)
        XCTAssertEqual(gap.timeline.map(\.requests), [1, 0, 0, 2])
        // One second of each kind is no comparison.
        XCTAssertNil(load.throttlingNote)
        var longer = load
        longer.timeline += longer.timeline.map { var second = $0; second.t += 2; return second }
        let note = try XCTUnwrap(longer.throttlingNote)
        XCTAssertTrue(note.hasPrefix("p95 was 200.0ms in the 2 s the service was throttled in 90% of its periods, "), note)
    }

    /// hey's CSV lists answered requests only: with -n N, the missing ones were not answered —
    /// N rounded down to a multiple of the workers, and only when hey ran to its own end without -z.
    func testHeysUnansweredRequestsAreErrorsWithDashN() throws {
        var record = record(latencies: [0.01, 0.01], sentAt: [0, 0.01], command: "hey -n 10 -c 2 -o csv http://x/")
        record.driverExitCode = 0
        let load = LoadMeasurement.section(record, timeline: [], stop: nil)
        XCTAssertEqual(load.requests, 10)
        XCTAssertEqual(load.errors, 8)
        XCTAssertEqual(load.errorRate, 80)
        var uneven = self.record(latencies: [Double](repeating: 0.01, count: 96), sentAt: (0..<96).map { Double($0) * 0.01 },
                                 command: "hey -n 100 -c 8 -o csv http://x/")
        uneven.driverExitCode = 0
        XCTAssertNil(uneven.heyUnanswered, "hey sends 100 / 8 × 8 = 96: none missing")
        XCTAssertEqual(LoadMeasurement.section(uneven, timeline: [], stop: nil).errors, 0)
        uneven.driverStopped = true
        uneven.driver = DriverCommand("hey -n 1000 -c 8 -o csv http://x/")
        XCTAssertNil(uneven.heyUnanswered, "stopped early, hey did not send what it meant to")
        uneven.driverStopped = false
        uneven.driver = DriverCommand("hey -n 1000 -z 2s -c 8 -o csv http://x/")
        XCTAssertNil(uneven.heyUnanswered, "with -z, hey ignores -n")
        // One request is no throughput.
        let one = LoadMeasurement.section(self.record(latencies: [0.01], sentAt: [0]), timeline: [], stop: nil)
        XCTAssertNil(one.requestsPerSecond)
        XCTAssertThrowsError(try BudgetSpec.load("error_rate < 200%")) { XCTAssertTrue("\($0)".contains("from 0% to 100%"), "\($0)") }
    }

    /// A search stopped by a step that measured nothing says so, and that step decides nothing.
    func testACapacitySearchStoppedEarlySaysWhy() {
        var report = Fixtures.report()
        report.load = LoadMeasurement.section(record(latencies: [0.01, 0.02], sentAt: [0, 0.5]), timeline: [], stop: nil)
        let held = CapacityReport.Step(value: 1, report: report, path: "c-1.json", failedBudgets: [], passed: true)
        report.outcome = .interrupted
        let stopped = CapacityReport.Step(value: 4, report: report, path: "c-4.json", failedBudgets: [], passed: false, measured: false)
        let capacity = CapacityReport(confineVersion: "t", placeholder: "concurrency", driver: "hey", command: ["svc"], budgets: [],
                                      steps: [held, stopped], totalSeconds: 3, stoppedBy: "interrupted: confine received SIGINT")
        XCTAssertEqual(capacity.maxConcurrency, 1)
        XCTAssertNil(capacity.limitedBy, "the interrupted step broke nothing")
        XCTAssertEqual(capacity.answer, "held concurrency 1 (3.85 req/s); the search stopped at concurrency 4: interrupted: confine received SIGINT")
    }

    func testLoadBudgetsBoundThroughputFromBelowAndTheRestFromAbove() throws {
        let spec = try BudgetSpec.load("p95<100ms, rps>=200, error_rate < 1%")
        let thresholds = try XCTUnwrap(spec.rules.first).thresholds
        XCTAssertEqual(try BudgetSpec.load("p95<100ms, p95<200ms").rules.first?.thresholds.map(\.limit), [0.2], "the last one counts")
        XCTAssertEqual(thresholds.map(\.metric), [.p95, .rps, .errorRate])
        XCTAssertEqual(thresholds[1].comparison, .atLeast)
        XCTAssertEqual(thresholds[1].limit, 200)
        XCTAssertTrue(thresholds[1].holds(200))
        XCTAssertFalse(thresholds[1].holds(199.9))
        // A bare throughput is "at least"; "<" on it, or ">" on a latency, is refused with the reason.
        let bare = try ProfileSpec.parse(yaml: "budgets:\n  load:\n    rps: 50/s\n", file: "p.yaml")
        XCTAssertEqual(bare.budgets?.rules.first?.thresholds.first?.comparison, .atLeast)
        XCTAssertThrowsError(try BudgetSpec.load("rps<200")) { XCTAssertTrue("\($0)".contains("bounded from below"), "\($0)") }
        XCTAssertThrowsError(try ProfileSpec.parse(yaml: "budgets:\n  load:\n    p95: \"> 1ms\"\n", file: "p.yaml")) {
            XCTAssertEqual("\($0)", "p.yaml:3:10: error: 'budgets.load.p95': '> 1ms': budgets are upper limits; write '< value' or a bare value (at most)")
        }
        XCTAssertThrowsError(try ProfileSpec.parse(yaml: "budgets:\n  load:\n    p96: 1ms\n", file: "p.yaml")) {
            XCTAssertTrue("\($0)".contains("did you mean 'p90'?") || "\($0)".contains("did you mean 'p95'?"), "\($0)")
        }

        var report = Fixtures.report()
        var load = LoadMeasurement.section(record(latencies: [0.05, 0.05, 0.2, 2.0], sentAt: [0, 0.1, 0.2, 0.3]), timeline: [], stop: nil)
        load.requestsPerSecond = 150
        report.load = load
        let judged = BudgetJudge.judge(report, against: spec)
        XCTAssertEqual(judged.outcome, .budgetExceeded)
        XCTAssertEqual(judged.exitCode, 99)
        let results = try XCTUnwrap(judged.budgets)
        let rps = try XCTUnwrap(results.first { $0.metric == .rps })
        XCTAssertEqual(rps.verdict, .fail)
        XCTAssertEqual(rps.message, "load rps 150.0 req/s < limit 200.0 req/s")
        XCTAssertEqual(results.first { $0.metric == .errorRate }?.message, "load error_rate 25.0% ≥ limit 1.0%")
        // wrk prints no p95: the budget fails as not measured, naming why.
        report.load?.latency.p95 = nil
        report.load?.driver.format = .wrk
        let wrk = BudgetJudge.judge(report, against: spec).budgets?.first { $0.metric == .p95 }
        XCTAssertEqual(wrk?.verdict, .fail)
        XCTAssertEqual(wrk?.message, "load p95: not measured (wrk does not report p95)")
        // A run without load is not judged on load budgets.
        report.load = nil
        XCTAssertEqual(BudgetJudge.judge(report, against: spec).budgets ?? [], [])
    }

    /// compare pools each side's requests and tests them call by call, as it does a function's.
    func testCompareFindsASlowerLoadAndNotTheSameOne() throws {
        func report(_ scale: Double, seed: UInt64) -> RunReport {
            var generator = seed
            let latencies = (0..<2000).map { _ -> Double in
                generator = generator &* 6364136223846793005 &+ 1442695040888963407
                return (0.02 + Double(generator >> 40) / Double(1 << 24) * 0.01) * scale
            }
            var report = Fixtures.report()
            report.startedAt = "2026-12-01T00:00:\(seed)Z"
            report.load = LoadMeasurement.section(record(latencies: latencies, sentAt: latencies.indices.map { Double($0) * 0.03 }),
                                                  timeline: [], stop: nil)
            return report
        }
        XCTAssertNotNil(report(1, seed: 1).load?.requestDistribution)
        let slower = try Comparator.compare(base: report(1, seed: 1), head: report(1.5, seed: 2), basePath: "b.json", headPath: "h.json")
        let row = try XCTUnwrap(slower.rows.first { $0.kind == "load" })
        XCTAssertEqual(row.verdict, .regression)
        XCTAssertLessThan(row.pValue ?? 1, 0.01)
        let same = try Comparator.compare(base: report(1, seed: 1), head: report(1, seed: 2), basePath: "b.json", headPath: "h.json")
        XCTAssertEqual(same.rows.first { $0.kind == "load" }?.verdict, .unchanged)
        // A head whose requests fail is no improvement, however fast its failures come back.
        var broken = report(0.2, seed: 4)
        broken.load?.errors = 1900
        broken.load?.errorRate = 95
        let failing = try Comparator.compare(base: report(1, seed: 1), head: broken, basePath: "b.json", headPath: "h.json")
        let errors = try XCTUnwrap(failing.rows.first { $0.kind == "load" && $0.metric == "error_rate" })
        XCTAssertEqual(errors.verdict, .regression)
        XCTAssertEqual(errors.head ?? 0, 95, accuracy: 1e-9)
        XCTAssertEqual(same.rows.first { $0.metric == "error_rate" }?.verdict, .unchanged)
        // Percentiles a driver summarised cannot be tested request by request: seen once, not gated.
        var summarised = [report(1, seed: 5), report(1.5, seed: 6)]
        for index in summarised.indices {
            summarised[index].load?.requestHistogram = nil
            summarised[index].load?.driver.format = .wrk
        }
        let wrk = try Comparator.compare(base: summarised[0], head: summarised[1], basePath: "b.json", headPath: "h.json")
        XCTAssertEqual(wrk.rows.first { $0.kind == "load" && $0.metric != "error_rate" }?.verdict, .seenOnce)
        // The histogram survives the report's JSON.
        let decoded = try RunReport.decode(try report(1, seed: 3).jsonData())
        XCTAssertEqual(decoded.load?.requestDistribution?.count, 2000)
    }

    func testTheLoadVerdict() {
        let ready = RunReport.Readiness(target: "tcp:127.0.0.1:1", result: .ready, timeoutSeconds: 30)
        func verdict(_ termination: Termination?, readiness: RunReport.Readiness = ready, stopped: Bool = true, measured: Bool = true,
                     start: String? = nil) -> Verdict {
            var facts = RunFacts(termination: termination)
            facts.load = LoadFacts(readiness: readiness, driverStartError: start, driverExitCode: 0, driverOutputError: nil,
                                   measured: measured, stoppedByConfine: stopped)
            return Verdict.decide(facts)
        }
        XCTAssertEqual(verdict(.signaled(SIGTERM)).outcome, .passed, "stopped by confine's SIGTERM is how a service ends")
        XCTAssertEqual(verdict(.exited(0)).exitCode, 0)
        XCTAssertEqual(verdict(.exited(2), stopped: false).exitCode, 2)
        XCTAssertEqual(verdict(.exited(0), stopped: false).outcome, .failed, "a service does not finish by itself under load")
        XCTAssertEqual(verdict(.signaled(SIGSEGV), stopped: false).exitCode, 128 + SIGSEGV)
        XCTAssertEqual(verdict(.exited(0), measured: false).outcome, .driverFailed)
        XCTAssertEqual(verdict(.exited(0), measured: false).exitCode, 125)
        XCTAssertEqual(verdict(.exited(0), start: "hey: not found").exitCode, 125)
        var late = ready
        late.result = .timedOut
        late.lastError = "HTTP 503"
        XCTAssertEqual(verdict(.signaled(SIGTERM), readiness: late).outcome, .notReady)
        XCTAssertEqual(verdict(.signaled(SIGTERM), readiness: late).exitCode, 124)
        XCTAssertTrue(verdict(.signaled(SIGTERM), readiness: late).reason.hasSuffix("within 30s (last check: HTTP 503)"))
        var gone = ready
        gone.result = .serviceExited
        XCTAssertEqual(verdict(.exited(3), readiness: gone).exitCode, 3)
        XCTAssertEqual(verdict(.exited(0), readiness: gone).outcome, .notReady)
    }

    func testCapacityRampsByFourThenBisectsWithinEightStepsFor1To256() {
        for breaking in [1, 2, 3, 5, 17, 40, 100, 200, 256, 1000] {
            var search = CapacitySearch(lowest: 1, highest: 256)
            while let value = search.next { search.record(value, passed: value < breaking) }
            XCTAssertLessThanOrEqual(search.tried.count, 8, "breaking at \(breaking): \(search.tried)")
            if breaking == 1 {
                XCTAssertNil(search.highestPassed)
                continue
            }
            let held = search.highestPassed!
            XCTAssertLessThan(held, breaking)
            if breaking <= 256 {
                let failed = search.lowestFailed!
                XCTAssertGreaterThanOrEqual(failed, breaking)
                XCTAssertTrue(failed <= held + 1 || Double(failed) <= Double(held) * 1.25 || search.tried.count == 8,
                              "breaking at \(breaking): \(search.tried)")
            } else {
                XCTAssertEqual(held, 256)
            }
        }
    }
}
