/// The short human summary confine prints to stderr after a run.
public enum Summary {
    public static func render(_ report: RunReport, reportPath: String?) -> String {
        var lines: [String] = []
        let profile = report.profile.name
        lines.append("confine: \(report.outcome.rawValue) (exit \(report.exitCode)) in "
                     + "\(formatFixed(report.durationSeconds, digits: 2))s under profile \(profile)"
                     + (report.copies.map { " (\($0) copies at once)" } ?? "") + ": \(report.reason)")
        if let setup = report.setupError {
            lines.append("  setup    \(setup.step): \(setup.message)")
        }
        lines += loadLines(report.load)
        let memory = report.memory
        var memoryLine = "  memory   peak \(ByteQuantity.human(memory.peakBytes))"
        if let limit = memory.limitBytes, limit == 0 {
            memoryLine += " of a 0 B limit (under one page: the kernel allows no memory at all)"
        } else if let limit = memory.limitBytes {
            let percent = Double(memory.peakBytes) / Double(limit) * 100
            memoryLine += " of \(ByteQuantity.human(limit)) limit (\(formatFixed(percent, digits: 1))%)"
        } else {
            memoryLine += " (no limit)"
        }
        memoryLine += " [\(memory.peakSource.rawValue)]"
        if let unreclaimable = memory.unreclaimablePeakBytes, memory.peakBytes >= unreclaimable + (1 << 20) {
            // Usage and its split read at one moment, not a difference of two peaks taken apart.
            if let fullest = memory.fullestReadingBytes, let cache = memory.fullestReadingPageCacheBytes, cache >= 1 << 20 {
                memoryLine += "; \(ByteQuantity.human(cache)) page cache at the fullest sample (\(ByteQuantity.human(fullest)))"
            }
            memoryLine += "; unreclaimable peak \(ByteQuantity.human(unreclaimable))"
        }
        lines.append(memoryLine)
        let cpu = report.cpu
        var cpuLine = "  cpu      \(formatFixed(cpu.usageSeconds, digits: 2))s used"
        if report.durationSeconds > 0 {
            cpuLine += " (\(formatFixed(cpu.usageSeconds / report.durationSeconds, digits: 2)) CPUs on average"
            cpuLine += cpu.limitCpus.map { " of \(CPUQuantity.format($0)) allowed)" } ?? ", no limit)"
        }
        // What the target sizes its pools from, next to the quota it runs under.
        if let visible = cpu.visibleCpus, cpu.limitCpus != nil { cpuLine += "; the target sees \(visible) CPU\(visible == 1 ? "" : "s")" }
        if cpu.periods > 0 {
            let percent = Double(cpu.throttledPeriods) / Double(cpu.periods) * 100
            cpuLine += "; throttled in \(cpu.throttledPeriods) of \(cpu.periods) periods "
                + "(\(formatFixed(percent, digits: 0))%, \(formatFixed(cpu.throttledSeconds, digits: 2))s)"
        }
        lines.append(cpuLine)
        var pidsLine = "  pids     peak \(report.pids.peak)"
        pidsLine += report.pids.limit.map { " of \($0)" } ?? " (no limit)"
        if let line = pidsAtLimitLine(report.pids) {
            lines += [pidsLine, line]
        } else {
            if let failures = report.pids.forkFailures, failures > 0 { pidsLine += "; \(failures) fork\(failures == 1 ? "" : "s") refused by the limit" }
            lines.append(pidsLine)
        }
        if let pressure = memory.pressure, pressure.limitHits > 0 || pressure.limitReached == true {
            // Pressure is not a kill: the kernel made room (page cache first) and the run went on.
            let times = pressure.limitHits > 0 ? " \(pressure.limitHits) time\(pressure.limitHits == 1 ? "" : "s")" : ""
            lines.append("  pressure usage reached the limit\(times) and the kernel reclaimed\(report.oomKills.isEmpty ? " (no OOM kill)" : "")"
                         + " [\(pressure.limitHits > 0 ? pressure.source.rawValue : "peak at the limit")]")
        }
        if report.oomKills.isEmpty {
            lines.append("  oom      no OOM kills")
        } else {
            for kill in report.oomKills {
                let parent = kill.parentPid.map { ", parent \($0)" } ?? ""
                var line = "  oom      killed \(display(kill.command)) (pid \(kill.pid)\(parent), \(kill.mainProcess ? "main process" : "worker"))"
                line += " at \(formatFixed(kill.atSeconds, digits: 2))s"
                if let place = kill.place { line += " " + (kill.test.map { "in \(Format.fit($0, 50))" } ?? place) }
                if let usage = kill.usageBytes, let limit = kill.limitBytes {
                    line += ", usage \(ByteQuantity.human(usage)) of \(ByteQuantity.human(limit))"
                }
                // What the victim itself held when it was killed (the kernel's own line).
                if let anon = kill.anonRssBytes { line += "; its anon RSS \(ByteQuantity.human(anon))" }
                lines.append(line)
            }
        }
        if let seccomp = report.seccomp {
            if seccomp.violations.isEmpty {
                lines.append("  seccomp  \(seccomp.profile): no denied calls")
            }
            lines += seccompLines(seccomp.violations)
        }
        if let containment = report.containment {
            let escapes = containment.attempts.filter { $0.cause == nil }
            if !escapes.isEmpty {
                let refused = escapes.filter { $0.verdict == .refused }.count
                lines.append("  contain  \(escapes.count) attempt\(escapes.count == 1 ? "" : "s") to leave the run, all failed "
                             + "(\(refused) refused by confine, \(escapes.count - refused) by the kernel)")
                for attempt in escapes.prefix(5) {
                    lines.append("  contain  \(display(attempt.command, limit: 30)) (pid \(attempt.pid)): \(attempt.syscall) "
                                 + "\(pathOrTarget(attempt.target)) → \(attempt.errnoName ?? attempt.verdict.rawValue)")
                }
                if escapes.count > 5 { lines.append("  contain  … \(escapes.count - 5) more in the report") }
            }
            lines += podFindings(containment, outcome: report.outcome).map { "  pod      " + $0 }
        }
        if let network = report.network {
            if network.mode == .allow {
                let refused = network.attempts.filter { $0.verdict == .refused }.count
                lines.append("  network  allow-list: \(network.attempts.count) attempts, \(refused) refused")
                for attempt in network.attempts where attempt.verdict == .refused {
                    lines.append("  network  \(display(attempt.command, limit: 40)) (pid \(attempt.pid)): "
                                 + "\(attempt.protocol) \(attempt.address):\(attempt.port) refused")
                }
            } else {
                lines.append("  network  \(network.mode.rawValue)")
            }
        }
        lines += offenders(report)
        lines += budgetLines(report)
        for warning in report.warnings { lines.append("  warning  \(warning)") }
        if let reportPath { lines.append("  report   \(reportPath)") }
        // Names and commands come from the suite: not one of their bytes may start a line or a sequence.
        return lines.map(\.printableLine).joined(separator: "\n") + "\n"
    }

    /// What the container's environment refused — the faults the pod would have too — one
    /// finding per line, for the summary's `pod` lines and the Markdown report: writes to
    /// the read-only root (EROFS), writes the uid may not make (EACCES), a full /dev/shm (ENOSPC).
    static func podFindings(_ containment: RunReport.Containment, outcome: Outcome) -> [String] {
        var lines: [String] = []
        let verdict = outcome == .passed ? "the run passed anyway" : "look here first: the run \(outcome.rawValue)"
        for (cause, what, fix) in [(RunReport.ContainmentAttempt.Cause.readOnlyRoot, "refused by the read-only root (EROFS)",
                                    "write to a volume (filesystem.volumes: an emptyDir, a Compose tmpfs)"),
                                   (.user, "refused to the pod's user (EACCES)", "make the path writable for that uid or group (fsGroup)")] {
            let writes = containment.attempts.filter { $0.cause == cause }
            guard !writes.isEmpty else { continue }
            lines.append("\(writes.count) write\(writes.count == 1 ? "" : "s") \(what), as in the pod; \(verdict)")
            for write in writes.prefix(3) {
                let path = pathOrTarget(write.target)
                lines.append("\(display(write.command, limit: 30)) (pid \(write.pid)): \(path)"
                             + (write.test.map { " in \($0)" } ?? ""))
            }
            if writes.count > 3 { lines.append("… \(writes.count - 3) more in the report") }
            lines.append("fix: \(fix)")
        }
        if let shm = containment.shm, let filled = shm.filledAtSeconds {
            lines.append("/dev/shm filled its \(ByteQuantity.human(shm.sizeBytes)) at \(formatFixed(filled, digits: 2)) s"
                         + (shm.test.map { " in \($0)" } ?? "") + ": writes there fail with ENOSPC and mmap'd shared memory with SIGBUS, "
                         + "as in the pod; \(verdict)")
            lines.append("fix: a larger filesystem.shm_size (--shm-size; Compose shm_size; a Memory emptyDir at /dev/shm)")
        }
        return lines
    }

    /// Who filled the pids limit: `limit 32 reached at 0.41 s in test_x: 1 process with 32
    /// threads (python3 …, pid 7) — threads count against the limit; 1 fork/clone refused`.
    /// `load     1,204 requests, 0 errors, 40.1 req/s; p50 … p99 … max … (closed-loop, uncorrected)`.
    static func loadLines(_ load: RunReport.Load?) -> [String] {
        guard let load else { return [] }
        var lines: [String] = []
        let ready = load.readiness
        switch ready.result {
        case .ready:
            lines.append("  ready    \(ready.target) after \(formatFixed(ready.readyAtSeconds ?? 0, digits: 2))s (\(ready.checks) check\(ready.checks == 1 ? "" : "s"))")
        default:
            lines.append("  ready    \(ready.target): \(ready.result.rawValue) after \(ready.checks) checks"
                         + (ready.lastError.map { " (last: \($0))" } ?? ""))
        }
        let driver = load.driver
        if let error = driver.startError {
            lines.append("  driver   could not start: \(error)")
            return lines
        }
        guard driver.startedAtSeconds != nil else { return lines }
        var driverLine = "  driver   \(display(driver.command, limit: 60))"
        if let exit = driver.exitCode { driverLine += ": exit \(exit)" }
        if let seconds = driver.durationSeconds { driverLine += " after \(formatFixed(seconds, digits: 1))s" }
        if let output = driver.outputPath { driverLine += "; output \(output)" }
        lines.append(driverLine)
        if let error = driver.outputError { lines.append("  driver   \(error)") }
        if let tail = driver.stderrTail, driver.exitCode != 0 || driver.outputError != nil {
            for line in tail.split(separator: "\n").suffix(3) { lines.append("  driver   stderr: \(display(String(line), limit: 100))") }
        }
        guard load.requests > 0 else { return lines }
        func latency(_ name: String, _ value: Double?) -> String? { value.map { "\(name) \(DurationQuantity.formatMeasured($0))" } }
        let figures = [latency("p50", load.latency.p50), latency("p90", load.latency.p90), latency("p95", load.latency.p95),
                       latency("p99", load.latency.p99), latency("max", load.latency.max)].compactMap { $0 }
        var loadLine = "  load     \(load.requests) requests, \(load.errors) error\(load.errors == 1 ? "" : "s")"
            + " (\(formatFixed(load.errorRate, digits: 1))%)"
        if let rps = load.requestsPerSecond { loadLine += ", \(BudgetMetric.rps.format(rps))" }
        loadLine += "; " + figures.joined(separator: " ")
        switch load.latencyCorrection {
        case .uncorrected: loadLine += " (closed-loop, uncorrected)"
        case .corrected:
            loadLine += " (corrected for coordinated omission at \(DurationQuantity.formatMeasured(load.expectedIntervalSeconds ?? 0)) per request"
                + (load.uncorrectedLatency?.p99.map { "; uncorrected p99 \(DurationQuantity.formatMeasured($0))" } ?? "") + ")"
        case .byDriver: loadLine += " (corrected by the driver)"
        case .none: break
        }
        lines.append(loadLine)
        for endpoint in load.endpoints.prefix(5) {
            lines.append("  endpoint \(display((endpoint.method.map { "\($0) " } ?? "") + endpoint.name, limit: 40)): \(endpoint.requests) requests, "
                         + "\(endpoint.errors) errors" + (endpoint.latency.p95.map { ", p95 \(DurationQuantity.formatMeasured($0))" } ?? ""))
        }
        if let stop = load.stop {
            lines.append("  stop     \(stop.signal)" + (stop.exitedAfterSeconds.map { ", exited after \(formatFixed($0, digits: 2))s" } ?? "")
                         + (stop.killed ? "; SIGKILLed after its \(DurationQuantity.format(stop.graceSeconds)) grace period" : ""))
        }
        return lines
    }

    static func pidsAtLimitLine(_ pids: RunReport.Pids) -> String? {
        guard let at = pids.atLimit, let limit = pids.limit else { return nil }
        var line = "  pids     limit \(limit) \(at.tasks >= limit ? "reached" : "neared (\(at.tasks) tasks)") at \(formatFixed(at.atSeconds, digits: 2)) s"
        if let test = at.test { line += " in \(Format.fit(test, 50))" }
        func plural(_ count: Int, _ word: String, _ words: String? = nil) -> String { "\(count) \(count == 1 ? word : words ?? word + "s")" }
        if let top = at.topProcess, at.processes == 1 {
            line += ": 1 process with \(plural(top.threads, "thread")) (\(display(top.command, limit: 40)), pid \(top.pid))"
        } else {
            line += ": \(plural(at.processes, "process", "processes")), \(plural(at.threads, "thread")) in all"
            if let top = at.topProcess {
                var holds: [String] = []
                if top.threads >= 2 { holds.append(plural(top.threads, "thread")) }
                if top.children >= 2 { holds.append(plural(top.children, "child process", "child processes")) }
                if !holds.isEmpty {
                    line += "; pid \(top.pid) (\(display(top.command, limit: 40))) has \(holds.joined(separator: " and "))"
                }
            }
        }
        // Extra threads took a quarter of the limit or more: the count is not of processes.
        if (at.threads - at.processes) * 4 >= limit { line += " — threads count against the limit" }
        if let failures = pids.forkFailures, failures > 0 { line += "; \(failures) fork\(failures == 1 ? "" : "s")/clone\(failures == 1 ? "" : "s") refused" }
        return line
    }

    /// Expected fallbacks (ENOSYS, which glibc answers by calling an older syscall) on one line,
    /// grouped by syscall; then every real denial, one line each.
    static func seccompLines(_ violations: [RunReport.SeccompViolation]) -> [String] {
        var lines: [String] = []
        var fallbacks: [(syscall: String, pids: Set<Int32>)] = []
        for violation in violations where violation.isExpectedFallback {
            if let index = fallbacks.firstIndex(where: { $0.syscall == violation.syscall }) {
                fallbacks[index].pids.insert(violation.pid)
            } else {
                fallbacks.append((violation.syscall, [violation.pid]))
            }
        }
        if !fallbacks.isEmpty {
            let groups = fallbacks.map { "\($0.syscall) → ENOSYS in \($0.pids.count) process\($0.pids.count == 1 ? "" : "es")" }
            lines.append("  seccomp  expected fallbacks: \(groups.joined(separator: ", ")) (glibc falls back)")
        }
        for violation in violations where !violation.isExpectedFallback {
            let verdict = violation.errnoName ?? violation.action.rawValue.uppercased()
            var line = "  seccomp  \(display(violation.command, limit: 40)) (pid \(violation.pid)): "
                + "\(violation.syscall) ×\(violation.count) → \(verdict)"
            if let older = violation.glibcFallbackMissed { line += " (glibc falls back to \(older) only on ENOSYS)" }
            lines.append(line)
        }
        return lines
    }

    /// The budgets' tally, then every one that did not pass (failed first).
    static func budgetLines(_ report: RunReport) -> [String] {
        guard let results = report.budgets, !results.isEmpty else { return [] }
        let count = { (verdict: BudgetResult.Verdict) in results.filter { $0.verdict == verdict }.count }
        var lines = ["  budgets  \(count(.pass)) passed, \(count(.fail)) failed, \(count(.warn)) warned, \(count(.missing)) missing"]
        for verdict in [BudgetResult.Verdict.fail, .warn, .missing] {
            for result in results where result.verdict == verdict {
                lines.append("  \(verdict.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(result.message)")
            }
        }
        return lines
    }

    /// `2 passed, 9 oom_killed, 1 not_run`: how many tests ended each way, in a fixed order.
    public static func outcomeCounts(_ tests: [TestRecord]) -> String {
        var counts: [String] = []
        for outcome in TestRecord.Outcome.allCases {
            let count = tests.filter { $0.outcome == outcome }.count
            if count > 0 { counts.append("\(count) \(outcome.rawValue)") }
        }
        let unknown = tests.filter { $0.outcome == nil }.count
        if unknown > 0 { counts.append("\(unknown) without an outcome") }
        return counts.joined(separator: ", ")
    }

    /// Tests and functions a reviewer should look at first: slowest tests, hungriest tests,
    /// slowest functions by p99 (three of each).
    static func offenders(_ report: RunReport) -> [String] {
        var lines: [String] = []
        let tests = report.tests
        if !tests.isEmpty {
            lines.append("  tests    \(tests.count): \(outcomeCounts(tests))")
            let cutShort = tests.filter { $0.outcome?.wasCutShort == true }
            for test in cutShort.prefix(5) {
                let label = test.outcome!.rawValue
                lines.append("  \(label.padding(toLength: max(8, label.count), withPad: " ", startingAt: 0)) \(Format.fit(test.name, 60))"
                             + (test.endSeconds.map { " at \(formatFixed($0, digits: 2))s" } ?? ""))
            }
            if cutShort.count > 5 { lines.append("  …        \(cutShort.count - 5) more cut short, in the report") }
            for test in tests.filter({ $0.durationSeconds != nil }).sorted(by: { $0.durationSeconds! > $1.durationSeconds! }).prefix(3) {
                lines.append("  slowest  \(formatFixed(test.durationSeconds!, digits: 3))s  \(Format.fit(test.name, 60))")
            }
            let hungry = tests.filter { $0.ownedPeakBytes != nil }.sorted { ($0.ownedPeakBytes!, $0.name) > ($1.ownedPeakBytes!, $1.name) }.prefix(3)
            for test in hungry {
                var line = "  hungriest "
                if let unreclaimable = test.unreclaimablePeakBytes {
                    line += "\(ByteQuantity.human(unreclaimable)) unreclaimable"
                    if let peak = test.peakBytes { line += " (usage peak \(ByteQuantity.human(peak)))" }
                } else {
                    line += "\(ByteQuantity.human(test.peakBytes!)) peak"
                    if let growth = test.peakGrowthBytes { line += " (+\(ByteQuantity.human(growth)))" }
                }
                line += "  \(Format.fit(test.name, 50))"
                // Its process's RSS: the test's own (swift test --parallel) or its xdist worker's, which ran it alone.
                if test.attribution == .process { line += " [process RSS]" }
                if test.concurrentTests > 0 && test.attribution == .group { line += " [shared with \(test.concurrentTests) concurrent]" }
                lines.append(line)
            }
        }
        for function in report.functions.prefix(3) {
            let ms = { (seconds: Double) in formatFixed(seconds * 1000, digits: 3) + "ms" }
            lines.append("  function \(display(function.name, limit: 40)): p50 \(ms(function.p50Seconds)) p99 \(ms(function.p99Seconds)) "
                         + "max \(ms(function.maxSeconds)) over \(function.calls) calls")
        }
        return lines
    }

    /// A command line on one line of at most `limit` characters, the program by its base name
    /// (`python3 -m pytest`, not `/root/.pyenv/versions/3.11.7/bin/python3 -m pytest`).
    /// A path whole, or its end when long (`…/memory/confine-1-ab/cgroup.procs`); other targets as they are.
    static func pathOrTarget(_ target: String, limit: Int = 60) -> String {
        target.count <= limit ? target : "…" + target.suffix(limit - 1)
    }

    static func display(_ command: String, limit: Int = 72) -> String {
        var words = command.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        if let program = words.first, let slash = program.lastIndex(of: "/"), program.index(after: slash) < program.endIndex {
            words[0] = program[program.index(after: slash)...]
        }
        let flat = words.joined(separator: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}
