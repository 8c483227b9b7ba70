@testable import ConfineCore
import Foundation
import XCTest

/// What the report says about OOM kills beyond the count: the victim's parent and RSS at the
/// kill, the kills a timeout followed, and a run that stalled after one.
final class OOMStallTests: XCTestCase {
    let worker = RunReport.OOMKill(pid: 4242, command: "/usr/bin/python3 -m pytest -n 2", atSeconds: 0.38, usageBytes: 128 << 20,
                                   limitBytes: 128 << 20, mainProcess: false, source: .kernelLog, parentPid: 4200,
                                   anonRssBytes: 307_200 << 10, fileRssBytes: 6764 << 10, shmemRssBytes: 0)

    func record(_ yaml: String = "limits: {memory: 128Mi}\ntimeout: 60s\nstall_timeout: 5s\n") throws -> RunRecord {
        RunRecord(command: ["python3", "-m", "pytest"], profile: ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: yaml).parse(),
                                                                                  chain: ["p.yaml"]),
                  confineVersion: "test", host: .init(kernel: "6.18.0", cgroupLayout: .hybrid, cgroups: [:], cpuCount: 2),
                  startedAt: "2026-11-30T20:00:00Z")
    }

    // MARK: the timeout's reason

    func testTheTimeoutReasonNamesTheOOMKillsBeforeIt() {
        var second = worker
        second.pid = 4250
        second.atSeconds = 2.5
        let timedOut = Verdict.decide(RunFacts(termination: .signaled(15), timedOut: true, timeoutSeconds: 60, oomKillCount: 2,
                                               firstOOMKill: worker))
        XCTAssertEqual(timedOut.outcome, .timeout)
        XCTAssertEqual(timedOut.exitCode, 124)
        XCTAssertEqual(timedOut.reason, "the run hit its timeout of 1m; the whole process tree was killed; 2 processes were OOM-killed "
                       + "in its group before it, the first at 0.38s (pid 4242 python3 -m pytest -n 2)")
        let one = Verdict.decide(RunFacts(termination: .signaled(15), timedOut: true, timeoutSeconds: 60, oomKillCount: 1,
                                          firstOOMKill: worker))
        XCTAssertEqual(one.reason, "the run hit its timeout of 1m; the whole process tree was killed; 1 process was OOM-killed "
                       + "in its group before it, at 0.38s (pid 4242 python3 -m pytest -n 2)")
        // A kill during the grace period after SIGTERM is not "before it"; a counted kill has no pid to name.
        var late = worker
        late.atSeconds = 60.4
        late.pid = 0
        XCTAssertEqual(Verdict.decide(RunFacts(timedOut: true, timeoutSeconds: 60, oomKillCount: 1, firstOOMKill: late)).reason,
                       "the run hit its timeout of 1m; the whole process tree was killed; 1 process was OOM-killed in its group, at 60.40s")
        XCTAssertEqual(Verdict.decide(RunFacts(timedOut: true, timeoutSeconds: 60)).reason,
                       "the run hit its timeout of 1m; the whole process tree was killed", "no kills: as before")
    }

    func testTheReportsTimeoutReasonComesFromTheRecordsFirstKill() throws {
        var record = try record()
        record.mainPid = 4200
        record.termination = .signaled(15)
        record.timedOut = true
        var later = worker
        later.pid = 4251
        later.atSeconds = 3
        record.oomKills = [later, worker] // whatever the order, the earliest is named
        let report = RunReport(record: record)
        XCTAssertEqual(report.outcome, .timeout)
        XCTAssertTrue(report.reason.hasSuffix("2 processes were OOM-killed in its group before it, the first at 0.38s (pid 4242 python3 -m pytest -n 2)"),
                      report.reason)
    }

    // MARK: a stall after an OOM kill

    func testAStallEndedByItsTimeoutIsItsOwnOutcomeWithExit124() throws {
        let stall = OOMStall(victimPid: 4242, victimCommand: "/usr/bin/python3 pool.py", killedAtSeconds: 0.38, sinceSeconds: 0.45,
                             seconds: 5.02)
        let verdict = Verdict.decide(RunFacts(termination: .signaled(15), oomKillCount: 1, firstOOMKill: worker, stall: stall,
                                              stallTimeoutSeconds: 5))
        XCTAssertEqual(verdict.outcome, .stalled)
        XCTAssertEqual(verdict.exitCode, ExitCodes.stalled)
        XCTAssertEqual(verdict.exitCode, 124)
        XCTAssertEqual(verdict.reason, "stalled for 5s after pid 4242 (python3 pool.py) was OOM-killed at 0.38s; the whole process tree was killed")
        // Precedence: a setup failure and a timeout come first; a stall before the main process's own death.
        XCTAssertEqual(Verdict.decide(RunFacts(timedOut: true, stall: stall)).outcome, .timeout)
        XCTAssertEqual(Verdict.decide(RunFacts(termination: .signaled(9), mainProcessOOMKilled: true, stall: stall)).outcome, .stalled)
        // Only the counter saw the kill: no pid to name.
        let unnamed = OOMStall(victimPid: nil, victimCommand: nil, killedAtSeconds: 0.5, sinceSeconds: 0.5, seconds: 1.04)
        XCTAssertEqual(Verdict.decide(RunFacts(stall: unnamed)).reason,
                       "stalled for 1.0s after a process was OOM-killed at 0.50s; the whole process tree was killed")
        XCTAssertEqual(unnamed.notice, "stalled since a process was OOM-killed at 0.50s (no CPU for 1.0s)")
    }

    func testEachStallIsAWarningInTheReport() throws {
        var record = try record()
        record.mainPid = 4200
        record.termination = .signaled(15)
        record.oomKills = [worker]
        let first = OOMStall(victimPid: 4242, victimCommand: "python3 pool.py", killedAtSeconds: 0.38, sinceSeconds: 0.45, seconds: 1.6)
        let last = OOMStall(victimPid: 4242, victimCommand: "python3 pool.py", killedAtSeconds: 0.38, sinceSeconds: 2.5, seconds: 5.0)
        XCTAssertEqual(first.notice, "stalled since pid 4242 was OOM-killed at 0.38s (no CPU for 1.6s)")
        record.stalls = [first, last]
        record.stalledOut = last
        let report = RunReport(record: record)
        XCTAssertEqual(report.outcome, .stalled)
        XCTAssertEqual(report.exitCode, 124)
        XCTAssertEqual(report.warnings, [
            "stalled since pid 4242 (python3 pool.py) was OOM-killed at 0.38s: no CPU for 1.6s from 0.45s",
            "stalled since pid 4242 (python3 pool.py) was OOM-killed at 0.38s: no CPU for 5.0s from 2.50s",
        ])
        XCTAssertEqual(BudgetJudge.judge(report).outcome, .stalled, "budgets turn only a passing run into exit 99")
        // A stall that passed (the group used CPU again) is a warning on a run that went on.
        record.stalls = [first]
        record.stalledOut = nil
        record.termination = .exited(0)
        let passed = RunReport(record: record)
        XCTAssertEqual(passed.outcome, .passed)
        XCTAssertEqual(passed.warnings.count, 1)
    }

    func testStallTimeoutIsAProfileKeyAndInheritedLikeTimeout() throws {
        XCTAssertEqual(try record().profile.stallTimeoutSeconds, 5)
        XCTAssertNil(try record("limits: {memory: 128Mi}\n").profile.stallTimeoutSeconds)
        XCTAssertTrue(try record().profile.yaml().contains("\nstall_timeout: 5s\n"))
        var base = ProfileSpec()
        base.stallTimeout = 3
        XCTAssertEqual(base.overridden(by: ProfileSpec()).stallTimeout, 3)
        var child = ProfileSpec()
        child.stallTimeout = 10
        XCTAssertEqual(base.overridden(by: child).stallTimeout, 10)
        XCTAssertThrowsError(try ProfileParser(file: "p.yaml", text: "stall_timeout: 5\n").parse()) { error in
            XCTAssertEqual((error as? ProfileError)?.description,
                           "p.yaml:1:16: error: 'stall_timeout': '5' has no unit; expected a duration such as 10ms, 30s, 5m or 1h30m")
        }
    }

    // MARK: the victim's parent and RSS

    func testTheVictimsParentAndRSSRoundTripAndOlderReportsStillDecode() throws {
        var report = ReportTests.report(case: 0)
        report.oomKills = [worker]
        let data = try report.jsonData()
        XCTAssertEqual(try RunReport.decode(data), report)
        let json = String(decoding: data, as: UTF8.self)
        for key in ["\"parentPid\" : 4200", "\"anonRssBytes\" : 314572800", "\"fileRssBytes\" : 6926336", "\"shmemRssBytes\" : 0"] {
            XCTAssertTrue(json.contains(key), key)
        }
        // A report written before these fields: each is nil.
        var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var kills = object["oomKills"] as! [[String: Any]]
        for key in ["parentPid", "anonRssBytes", "fileRssBytes", "shmemRssBytes"] { kills[0][key] = nil }
        object["oomKills"] = kills
        var profile = object["profile"] as! [String: Any]
        profile["stallTimeoutSeconds"] = nil
        object["profile"] = profile
        let old = try ReportFiles.decode(try JSONSerialization.data(withJSONObject: object), path: "r.json")
        XCTAssertNil(old.oomKills[0].parentPid)
        XCTAssertNil(old.oomKills[0].anonRssBytes)
        XCTAssertNil(old.oomKills[0].shmemRssBytes)
        XCTAssertNil(old.profile.stallTimeoutSeconds)
        XCTAssertEqual(old.oomKills[0].pid, 4242)
    }

    func testTheSummaryShowsTheVictimsParentAndAnonRSS() {
        var report = ReportTests.report(case: 0)
        report.oomKills = [worker]
        let summary = Summary.render(report, reportPath: nil)
        XCTAssertTrue(summary.contains("  oom      killed python3 -m pytest -n 2 (pid 4242, parent 4200, worker) at 0.38s, "
                                       + "usage 128.0 MiB of 128.0 MiB; its anon RSS 300.0 MiB\n"), summary)
        report.oomKills[0].parentPid = nil
        report.oomKills[0].anonRssBytes = nil
        XCTAssertTrue(Summary.render(report, reportPath: nil).contains("(pid 4242, worker) at 0.38s, usage 128.0 MiB of 128.0 MiB\n"))
    }
}
