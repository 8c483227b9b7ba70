@testable import ConfineCore
import XCTest

final class UnitsTests: XCTestCase {
    func testByteQuantitiesAsKubernetesAndDockerWriteThem() throws {
        let table: [(String, UInt64)] = [
            ("512Mi", 512 << 20), ("1Gi", 1 << 30), ("1.5Gi", 3 << 29), ("128Ki", 128 << 10),
            ("1G", 1_000_000_000), ("500M", 500_000_000), ("1K", 1000),
            ("64m", 64 << 20), ("1g", 1 << 30), ("512k", 512 << 10), ("64mb", 64 << 20), ("2gb", 2 << 30),
            ("1048576", 1 << 20), ("100b", 100), ("0", 0), (" 8Mi ", 8 << 20),
        ]
        for (text, bytes) in table { XCTAssertEqual(try ByteQuantity.parse(text), bytes, text) }
        for bad in ["", "Mi", "12Qi", "-1Mi", "1e9", "1..5Gi", "ten"] {
            XCTAssertThrowsError(try ByteQuantity.parse(bad), bad)
        }
    }

    func testByteFormattingRoundTrips() throws {
        for bytes: UInt64 in [512 << 20, 1 << 30, 1536 << 20, 1_000_000_000, 12345, 64 << 10] {
            XCTAssertEqual(try ByteQuantity.parse(ByteQuantity.format(bytes)), bytes)
        }
        XCTAssertEqual(ByteQuantity.format(512 << 20), "512Mi")
        XCTAssertEqual(ByteQuantity.human(64 << 20), "64.0 MiB")
        XCTAssertEqual(ByteQuantity.human(1536), "1.5 KiB")
    }

    func testCPUs() throws {
        XCTAssertEqual(try CPUQuantity.parse("500m"), 0.5)
        XCTAssertEqual(try CPUQuantity.parse("250m"), 0.25)
        XCTAssertEqual(try CPUQuantity.parse("0.5"), 0.5)
        XCTAssertEqual(try CPUQuantity.parse("2"), 2)
        for bad in ["0", "0m", "-1", "5m", "1.5.1", "two", "1c"] { XCTAssertThrowsError(try CPUQuantity.parse(bad), bad) }
        XCTAssertEqual(CPUQuantity.format(0.5), "500m")
        XCTAssertEqual(CPUQuantity.format(2), "2")
    }

    func testDurations() throws {
        let table: [(String, Double)] = [("10ms", 0.01), ("2s", 2), ("5m", 300), ("1h", 3600), ("1m30s", 90),
                                         ("250us", 0.00025), ("1.5s", 1.5), ("1h30m", 5400)]
        for (text, seconds) in table { XCTAssertEqual(try DurationQuantity.parse(text), seconds, accuracy: 1e-9, text) }
        for bad in ["", "10", "5 minutes", "-1s", "0s", "1x", "s"] { XCTAssertThrowsError(try DurationQuantity.parse(bad), bad) }
        XCTAssertEqual(DurationQuantity.format(0.01), "10ms")
        XCTAssertEqual(DurationQuantity.format(90), "1m30s")
        XCTAssertEqual(DurationQuantity.format(2.5), "2.5s")
    }

    func testCPUSets() throws {
        XCTAssertEqual(try CPUSetList.parse("0-3,6"), [0, 1, 2, 3, 6])
        XCTAssertEqual(CPUSetList.format([0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9")
        for bad in ["", "a", "3-1", "1,,2", "-1"] { XCTAssertThrowsError(try CPUSetList.parse(bad), bad) }
    }
}

final class VerdictTests: XCTestCase {
    func testExitCodePrecedence() {
        let setup = RunReport.SetupError(step: "create cgroup", errno: 13, message: "EACCES")
        XCTAssertEqual(Verdict.decide(RunFacts(setupFailure: setup, timedOut: true)).exitCode, 125)
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .signaled(15), timedOut: true)).outcome, .timeout)
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .signaled(9), mainProcessOOMKilled: true, oomKillCount: 1)).exitCode, 137)
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .signaled(2))).exitCode, 130)
        let failedWithOOM = Verdict.decide(RunFacts(termination: .exited(3), oomKillCount: 1))
        XCTAssertEqual(failedWithOOM.exitCode, 3)
        XCTAssertEqual(failedWithOOM.reason, "the command exited with status 3; 1 process was OOM-killed in its group")
        // A worker OOM-killed while the command succeeded: judged with the budgets (BudgetJudge).
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .exited(0), oomKillCount: 1)).outcome, .passed)
        var report = Fixtures.report()
        report.oomKills = [RunReport.OOMKill(pid: 7, command: "worker", atSeconds: 1, usageBytes: nil, limitBytes: nil,
                                             mainProcess: false, source: .counter)]
        let worker = BudgetJudge.judge(report)
        XCTAssertEqual(worker.exitCode, 99)
        XCTAssertEqual(worker.outcome, .budgetExceeded)
        XCTAssertEqual(worker.reason, "the command succeeded but 1 process was OOM-killed in its group")
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .exited(0))).outcome, .passed)
        XCTAssertEqual(Verdict.decide(RunFacts(execFailureExitCode: 127)).exitCode, 127)
    }
}

final class TimelineTests: XCTestCase {
    func point(_ t: Double, _ memory: UInt64) -> TimelinePoint {
        TimelinePoint(t: t, memoryBytes: memory, breakdown: MemoryBreakdown(), cpuSeconds: t, throttledPeriods: 0, pids: 1)
    }

    func testStaysBoundedAndKeepsThePeak() {
        var timeline = BoundedTimeline(capacity: 64)
        for index in 0..<100_000 { timeline.append(point(Double(index), index == 54_321 ? 999 : 1)) }
        XCTAssertLessThanOrEqual(timeline.finished.count, 65)
        XCTAssertGreaterThanOrEqual(timeline.finished.count, 32)
        XCTAssertEqual(timeline.finished.map(\.memoryBytes).max(), 999, "downsampling must not lose the peak")
        XCTAssertEqual(timeline.finished.last?.cpuSeconds, 99_999, "counters keep their latest value")
        XCTAssertEqual(timeline.finished.map(\.t), timeline.finished.map(\.t).sorted())
    }

    func testShortRunsKeepEverySample() {
        var timeline = BoundedTimeline(capacity: 64)
        for index in 0..<10 { timeline.append(point(Double(index), UInt64(index))) }
        XCTAssertEqual(timeline.finished.map(\.memoryBytes), Array(0..<10))
        XCTAssertEqual(timeline.stride, 1)
    }
}

final class ReportTests: XCTestCase {
    func testReportRoundTripsAndSummaryNamesTheKill() throws {
        var spec = ProfileSpec()
        spec.limits.memory = 64 << 20
        let report = RunReport(
            confineVersion: "test", outcome: .oomKilled, exitCode: 137, reason: "the main process was OOM-killed by the kernel",
            command: ["python3", "-c", "x"], profile: ResolvedProfile(spec: spec, chain: ["cli"]),
            host: .init(kernel: "6.1", cgroupLayout: .unified, cgroups: ["unified": "/confine-1-a"], cpuCount: 2),
            startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1.5, mainProcess: .init(pid: 42, signal: 9, signalName: "SIGKILL"),
            setupError: nil,
            memory: .init(limitBytes: 64 << 20, swapLimitBytes: 0, peakBytes: 64 << 20, peakSource: .memoryPeak,
                          last: nil, timeline: [], timelineResolutionSeconds: 0.01),
            cpu: .init(limitCpus: nil, usageSeconds: 1, periods: 0, throttledPeriods: 0, throttledSeconds: 0),
            pids: .init(limit: nil, peak: 1, peakSource: .pidsPeak, forkFailures: nil),
            oomKills: [.init(pid: 42, command: "python3 -c x", atSeconds: 1.4, usageBytes: 64 << 20, limitBytes: 64 << 20,
                             mainProcess: true, source: .kernelLog)],
            processes: [], warnings: [])
        let decoded = try RunReport.decode(try report.jsonData())
        XCTAssertEqual(decoded, report)
        let json = String(decoding: try report.jsonData(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"outcome\" : \"oom_killed\""), json)
        XCTAssertTrue(json.contains("\"schemaVersion\" : 2"), json)
        let summary = Summary.render(report, reportPath: "r.json")
        XCTAssertTrue(summary.contains("peak 64.0 MiB of 64.0 MiB limit (100.0%)"), summary)
        XCTAssertTrue(summary.contains("killed python3 -c x (pid 42, main process) at 1.40s"), summary)
        XCTAssertEqual(Summary.display("python3 -c \nimport x\n" + String(repeating: "y", count: 100)).count, 72)
        XCTAssertEqual(Summary.display("/root/.pyenv/versions/3.11.7/bin/python3 -m pytest"), "python3 -m pytest")
    }

    /// A report carrying `case` of each closed set (single-valued fields take the index modulo their count).
    static func report(case index: Int) -> RunReport {
        func pick<T: CaseIterable>(_: T.Type) -> T { Array(T.allCases)[index % T.allCases.count] }
        var spec = ProfileSpec()
        spec.budgets = BudgetSpec(rules: [BudgetRule(scope: .suite, pattern: "", thresholds: BudgetComparison.allCases.map {
            BudgetThreshold(metric: .duration, comparison: $0, limit: 10)
        })])
        let defaultActions: [SeccompAction] = [.allow, .errno(1), .killThread, .killProcess, .trap, .log, .notify]
        var report = RunReport(
            confineVersion: "test", outcome: .passed, exitCode: 0, reason: "the command succeeded within its limits",
            command: ["true"], profile: ResolvedProfile(spec: spec, chain: ["cli"]),
            host: .init(kernel: "6.18", cgroupLayout: pick(CgroupLayoutKind.self), cgroups: [:], cpuCount: 2,
                        joinMethod: pick(RunReport.Host.JoinMethod.self)),
            startedAt: "2026-01-01T00:00:00Z", durationSeconds: 1, mainProcess: .init(pid: 42, exitStatus: 0), setupError: nil,
            memory: .init(limitBytes: nil, swapLimitBytes: nil, peakBytes: 1 << 20, peakSource: pick(RunReport.Memory.PeakSource.self),
                          last: nil, timeline: [], timelineResolutionSeconds: 0.01),
            cpu: .init(limitCpus: nil, usageSeconds: 0.5, periods: 0, throttledPeriods: 0, throttledSeconds: 0),
            pids: .init(limit: nil, peak: 1, peakSource: pick(RunReport.Pids.PeakSource.self), forkFailures: nil),
            oomKills: RunReport.OOMKill.Source.allCases.map {
                .init(pid: 7, command: "worker", atSeconds: 0.5, usageBytes: nil, limitBytes: nil, mainProcess: false, source: $0)
            },
            processes: [],
            seccomp: .init(profile: "p.json", defaultAction: defaultActions[index % defaultActions.count], rules: 1, instructions: 9,
                           violations: SeccompAction.Kind.allCases.map {
                               .init(syscall: "mount", action: $0, errno: nil, errnoName: nil, pid: 7, command: "worker", count: 1,
                                     firstSeconds: 0.1, lastSeconds: 0.1)
                           }),
            network: .init(mode: pick(NetworkMode.self), allowed: ["127.0.0.1:5432"], resolved: ["127.0.0.1:5432"],
                           attempts: RunReport.NetworkAttempt.Verdict.allCases.map {
                               .init(address: "127.0.0.1", port: 5432, protocol: "tcp", verdict: $0, syscall: "connect", pid: 7,
                                     command: "worker", atSeconds: 0.2)
                           }),
            warnings: [])
        report.load = .init(driver: .init(command: "hey -o csv http://x/", format: pick(DriverResult.Format.self)),
                            readiness: .init(target: "tcp:127.0.0.1:1", result: pick(ReadinessResult.self), timeoutSeconds: 30),
                            loop: pick(LoadLoop.self), latencyCorrection: pick(LatencyCorrection.self), requests: 3, errors: 1,
                            errorRate: 33.3, requestsPerSecond: 3, latency: .init(p50: 0.01, p95: 0.02, max: 0.03),
                            requestHistogram: [[10_000_000, 2], [30_000_000, 1]],
                            timeline: [.init(t: 0.5, requests: 3, errors: 1, p95: 0.02, throttledPercent: 10, memoryBytes: 1 << 20)],
                            stop: .init(signal: "SIGTERM", graceSeconds: 10, exitedAfterSeconds: 0.1, killed: index % 2 == 1))
        report.containment = .init(measures: ["capabilities: 14 kept"], attempts: RunReport.ContainmentAttempt.Verdict.allCases.map {
            .init(syscall: "openat", target: "/proc/sys/vm/x", verdict: $0, errnoName: "EROFS", why: "read-only", pid: 7,
                  command: "worker", atSeconds: 0.3)
        })
        return BudgetJudge.judge(report)
    }

    func testEveryClosedSetRoundTripsAsItsJSONString() throws {
        // The strings the schema promises (docs/report-schema.md), written out: a new case must be added here.
        let sets: [(key: String, values: [String], count: Int)] = [
            ("cgroupLayout", ["unified", "hybrid", "legacy", "unknown"], CgroupLayoutKind.allCases.count),
            ("joinMethod", ["clone-into-cgroup", "cgroup.procs"], RunReport.Host.JoinMethod.allCases.count),
            ("peakSource", ["memory.peak", "memory.max_usage_in_bytes", "samples", "none", "pids.peak"],
             Set(RunReport.Memory.PeakSource.allCases.map(\.rawValue) + RunReport.Pids.PeakSource.allCases.map(\.rawValue)).count),
            ("source", ["kernel-log", "process-exit", "counter"], RunReport.OOMKill.Source.allCases.count),
            ("action", ["allow", "errno", "kill_thread", "kill_process", "trap", "log", "notify"], SeccompAction.Kind.allCases.count),
            ("defaultAction", ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO(1)", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
                               "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"], 7),
            ("mode", ["host", "none", "allow"], NetworkMode.allCases.count),
            ("verdict", ["allowed", "refused", "kernel"],
             Set(RunReport.NetworkAttempt.Verdict.allCases.map(\.rawValue) + RunReport.ContainmentAttempt.Verdict.allCases.map(\.rawValue)).count),
            ("comparison", ["<", "<=", ">", ">="], BudgetComparison.allCases.count),
            ("loop", ["closed", "open", "unknown"], LoadLoop.allCases.count),
            ("latencyCorrection", ["corrected", "by_driver", "uncorrected", "none"], LatencyCorrection.allCases.count),
            ("result", ["ready", "timed_out", "service_exited", "interrupted"], ReadinessResult.allCases.count),
            ("format", ["hey", "wrk", "plain", "locust", "k6"], DriverResult.Format.allCases.count),
        ]
        var seen: [String: Set<String>] = [:]
        for index in 0..<7 {
            let report = Self.report(case: index)
            XCTAssertNotNil(report.load)
            let data = try report.jsonData()
            XCTAssertEqual(try RunReport.decode(data), report)
            XCTAssertEqual(try ReportFiles.decode(data, path: "r.json"), report)
            let json = String(decoding: data, as: UTF8.self)
            for (key, values, _) in sets {
                for value in values where json.contains("\"\(key)\" : \"\(value)\"") { seen[key, default: []].insert(value) }
            }
        }
        for (key, values, count) in sets {
            XCTAssertEqual(seen[key], Set(values), key)
            XCTAssertEqual(values.count, count, "\(key): a case without its string here")
        }
    }

    func testAnUnknownValueFailsDecodingNamingItsPathAndTheExpectedValues() throws {
        let json = try JSONSerialization.jsonObject(with: try Self.report(case: 0).jsonData()) as! [String: Any]
        func decode(_ change: (inout [String: Any]) -> Void) throws -> ReportFiles.LoadError? {
            var object = json
            change(&object)
            let data = try JSONSerialization.data(withJSONObject: object)
            XCTAssertThrowsError(try RunReport.decode(data))
            do {
                _ = try ReportFiles.decode(data, path: "r.json")
                return nil
            } catch {
                return error
            }
        }
        func set(_ object: inout [String: Any], _ path: [String], _ index: Int?, _ key: String, _ value: String) {
            var inner = object[path[0]] as! [String: Any]
            if path.count > 1, let index {
                var list = inner[path[1]] as! [[String: Any]]
                list[index][key] = value
                inner[path[1]] = list
            } else {
                inner[key] = value
            }
            object[path[0]] = inner
        }
        XCTAssertEqual(try decode { $0["outcome"] = "crashed" },
                       .invalid(path: "r.json", at: "outcome", reason: "unknown outcome 'crashed'; expected passed, failed, oom_killed, timeout, "
                                + "stalled, interrupted, signaled, setup_failed, budget_exceeded, not_ready or driver_failed"))
        XCTAssertEqual(try decode { set(&$0, ["network", "attempts"], 1, "verdict", "maybe") },
                       .invalid(path: "r.json", at: "network.attempts[1].verdict", reason: "unknown verdict 'maybe'; expected allowed or refused"))
        XCTAssertEqual(try decode { set(&$0, ["containment", "attempts"], 0, "verdict", "allowed") },
                       .invalid(path: "r.json", at: "containment.attempts[0].verdict", reason: "unknown verdict 'allowed'; expected refused or kernel"))
        XCTAssertEqual(try decode { set(&$0, ["network"], nil, "mode", "bridge") },
                       .invalid(path: "r.json", at: "network.mode", reason: "unknown mode 'bridge'; expected host, none or allow"))
        XCTAssertEqual(try decode { set(&$0, ["memory"], nil, "peakSource", "memory.high") },
                       .invalid(path: "r.json", at: "memory.peakSource",
                                reason: "unknown peakSource 'memory.high'; expected memory.peak, memory.max_usage_in_bytes, samples or none"))
        XCTAssertEqual(try decode { set(&$0, ["pids"], nil, "peakSource", "memory.peak") },
                       .invalid(path: "r.json", at: "pids.peakSource", reason: "unknown peakSource 'memory.peak'; expected pids.peak, samples or none"))
        XCTAssertEqual(try decode { set(&$0, ["host"], nil, "cgroupLayout", "v3") },
                       .invalid(path: "r.json", at: "host.cgroupLayout", reason: "unknown cgroupLayout 'v3'; expected unified, hybrid, legacy or unknown"))
        XCTAssertEqual(try decode { set(&$0, ["host"], nil, "joinMethod", "tasks") },
                       .invalid(path: "r.json", at: "host.joinMethod", reason: "unknown joinMethod 'tasks'; expected clone-into-cgroup or cgroup.procs"))
        XCTAssertEqual(try decode { set(&$0, ["seccomp", "violations"], 2, "action", "SCMP_ACT_KILL") },
                       .invalid(path: "r.json", at: "seccomp.violations[2].action",
                                reason: "unknown action 'SCMP_ACT_KILL'; expected allow, errno, kill_thread, kill_process, trap, log or notify"))
        XCTAssertEqual(try decode { set(&$0, ["seccomp"], nil, "defaultAction", "errno") },
                       .invalid(path: "r.json", at: "seccomp.defaultAction",
                                reason: "unknown defaultAction 'errno'; expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(errno), SCMP_ACT_KILL_THREAD, "
                                    + "SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG or SCMP_ACT_NOTIFY"))
        XCTAssertEqual(try decode { object in
            var kills = object["oomKills"] as! [[String: Any]]
            kills[0]["source"] = "dmesg"
            object["oomKills"] = kills
        }, .invalid(path: "r.json", at: "oomKills[0].source", reason: "unknown source 'dmesg'; expected kernel-log, process-exit or counter"))
        XCTAssertEqual(try decode { object in
            var budgets = object["budgets"] as! [[String: Any]]
            budgets[1]["comparison"] = "=="
            object["budgets"] = budgets
        }, .invalid(path: "r.json", at: "budgets[1].comparison", reason: "unknown comparison '=='; expected <, <=, > or >="))
    }
}
