import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// The options `load` and `capacity` share: the service's profile and limits, its readiness
/// check, the driver, and how the service is stopped.
struct LoadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A built-in profile name or a YAML profile path.", valueName: "profile"))
    var profile: String?

    @OptionGroup var limits: LimitOptions

    @Option(help: ArgumentHelp("The service is ready when this answers: http://HOST:PORT/PATH (2xx or 3xx) or tcp:HOST:PORT.",
                               valueName: "check"))
    var ready: String

    @Option(name: .customLong("ready-timeout"), parsing: .unconditional,
            help: ArgumentHelp("How long the service may take to become ready (default 30s); then outcome not_ready, exit 124.",
                               valueName: "duration"))
    var readyTimeout = "30s"

    @Option(help: ArgumentHelp("The load driver's command line (run outside the limits, by /bin/sh when it needs a shell), "
                               + "e.g. 'hey -z 30s -c 50 -o csv http://127.0.0.1:8080/'.", valueName: "command"))
    var driver: String

    @Option(name: .customLong("driver-format"),
            help: ArgumentHelp("The driver's output: hey (-o csv), wrk (--latency), locust (--csv), k6 (--summary-export), plain "
                               + "(one latency per line). Detected from the command when not given.", valueName: "format"))
    var driverFormat: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("After the driver ends, how long the service has to exit after SIGTERM before SIGKILL (default 10s).",
                               valueName: "duration"))
    var grace = "10s"

    @Flag(help: "Do not print the summary to stderr.")
    var quiet = false

    @Flag(help: "Treat syscall names the seccomp profile uses but libseccomp does not know as errors, not warnings.")
    var strict = false

    @Flag(help: "Do not open the probe channel (no per-function figures from the service).")
    var noProbe = false

    func validated() throws -> (ReadinessTarget, Double, Double, DriverResult.Format?) {
        let target: ReadinessTarget
        do { target = try ReadinessTarget.parse(ready) } catch { throw ValidationError("--ready: \(error.message)") }
        let timeout: Double
        do { timeout = try DurationQuantity.parse(readyTimeout) } catch { throw ValidationError("--ready-timeout: \(error.message)") }
        guard timeout > 0 else { throw ValidationError("--ready-timeout: must be greater than zero") }
        let graceSeconds: Double
        // 0 is allowed, as Kubernetes allows terminationGracePeriodSeconds: 0 (SIGKILL at once).
        if ["0", "0s"].contains(grace) {
            graceSeconds = 0
        } else {
            do { graceSeconds = try DurationQuantity.parse(grace) } catch { throw ValidationError("--grace: \(error.message)") }
        }
        var format: DriverResult.Format?
        if let driverFormat {
            guard let known = DriverResult.Format(rawValue: driverFormat) else {
                throw ValidationError("--driver-format: '\(driverFormat)' is not one of "
                                      + DriverResult.Format.allCases.map(\.rawValue).joined(separator: ", "))
            }
            format = known
        }
        guard !DriverCommand(driver).words.isEmpty else { throw ValidationError("--driver: give the load driver's command line") }
        // Told before the load runs, not after it.
        if let problem = DriverCommand(driver).formatProblem(given: format) { throw ValidationError("--driver: \(problem)") }
        _ = try limits.spec()
        return (target, timeout, graceSeconds, format)
    }

    /// One load run: the service under the profile, the driver beside it; the judged report.
    /// Throws the exit code for a bad profile or plan.
    func runOnce(service: [String], driver command: DriverCommand, reportPath: String, extraBudgets: BudgetSpec = BudgetSpec(),
                 quietSummary: Bool) throws -> RunReport {
        let (target, timeout, graceSeconds, format) = try validated()
        var plan = try RunSupport.plan(profile: profile, limits: limits, arguments: service, probe: !noProbe, strict: strict)
        plan.killGraceSeconds = graceSeconds

        // Something already answering at the readiness address is another server (a service left
        // running, a port taken): the check and the driver would measure it, not this service.
        if plan.profile.networkProfile != .none, LoadSession.portAnswers(target) {
            var record = RunRecord.setupFailure(
                command: plan.arguments, profile: plan.profile, confineVersion: plan.confineVersion, host: .current(layout: .unknown),
                startedAt: rfc3339Now(),
                failure: .init(step: "readiness address", errno: EADDRINUSE,
                               message: "\(target.host):\(target.port) already accepts connections before the service started: another "
                                   + "server is there, and the readiness check and the driver would measure it, not the service"))
            record.load = LoadRecord(driver: command, format: format, readiness: .init(target: target.description, result: .timedOut,
                                                                                        timeoutSeconds: timeout), graceSeconds: graceSeconds)
            record.load?.readiness.lastError = "another server answered before the service started"
            return BudgetJudge.judge(RunReport(record: record))
        }
        let control = SupervisorControl()
        let outputPath = Self.driverOutputPath(reportPath)
        // The driver gets confine's own environment, not the service's probe variables.
        let session = LoadSession(.init(ready: target, readyTimeoutSeconds: timeout, driver: command, format: format,
                                        outputPath: outputPath, environment: RunSupport.environment(probe: false),
                                        joinServiceNetwork: plan.profile.networkProfile == .none, graceSeconds: graceSeconds),
                                  control: control)
        var record = RunSupport.supervise(plan, quiet: quietSummary, control: control, beforeRun: { session.start() })
        let load = session.finish()
        if record.setupFailure == nil || record.mainPid != nil { record.load = load }
        var report = RunReport(record: record)
        report = BudgetJudge.judge(report, against: Self.adding(extraBudgets, to: report.profile.budgets ?? BudgetSpec()))
        return report
    }

    /// The profile's budgets with `--budget`'s added: a metric both name takes `--budget`'s limit,
    /// the profile's other load budgets stay.
    static func adding(_ extra: BudgetSpec, to profile: BudgetSpec) -> BudgetSpec {
        var merged = profile
        for rule in extra.rules {
            if let index = merged.rules.firstIndex(where: { $0.scope == rule.scope && $0.pattern == rule.pattern }) {
                let replaced = Set(rule.thresholds.map(\.metric))
                merged.rules[index].thresholds = merged.rules[index].thresholds.filter { !replaced.contains($0.metric) } + rule.thresholds
            } else {
                merged.rules.append(rule)
            }
        }
        return merged
    }

    /// `confine-report.json` → `confine-report.driver.txt`, beside the report.
    static func driverOutputPath(_ reportPath: String) -> String {
        (reportPath.hasSuffix(".json") ? String(reportPath.dropLast(5)) : reportPath) + ".driver.txt"
    }
}

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a service under a profile's limits, put it under load from a real driver outside them, and write one report.",
        discussion: """
        The service starts as `confine run` starts a command (limits, seccomp, network, probes, OOM watch). Once \
        --ready answers, the driver runs outside the limits; when it ends the service gets SIGTERM, then SIGKILL \
        after --grace. The report's `load` section has the driver's requests, errors, throughput and latency \
        percentiles, per second on the same clock as memory and CPU; budgets.load in the profile judges them.

        Exit codes: 0 the service ran the load within its limits and budgets; 99 a budget failed; 124 not ready within --ready-timeout; \
        125 the driver could not start or gave no requests; 137 the service was OOM-killed; the service's own \
        status (or 128+signal) when it ended by itself under load; 130/143 confine was interrupted.

        Example:
          confine load --profile k8s-512mi --ready http://127.0.0.1:8080/health \\
              --driver 'hey -z 30s -c 50 -o csv http://127.0.0.1:8080/quote' -- ./quote-service --port 8080
        """
    )

    @OptionGroup var options: LoadOptions

    @Option(help: ArgumentHelp("Where to write the JSON run report (the driver's output goes beside it, .driver.txt).", valueName: "file"))
    var report = "confine-report.json"

    @Argument(parsing: .captureForPassthrough, help: "The service to run (after --).")
    var command: [String] = []

    private var service: [String] { PassthroughCommand.words(command) }

    func validate() throws {
        if command == ["--help"] || command == ["-h"] { throw CleanExit.helpRequest(self) }
        try PassthroughCommand.validate(command, of: Load.self)
        guard !service.isEmpty else { throw ValidationError("name the service to run after --, e.g. confine load … -- ./server --port 8080") }
        let driver = DriverCommand(options.driver)
        if !driver.placeholders.isEmpty {
            throw ValidationError("--driver: '{\(driver.placeholders[0])}' is filled in by `confine capacity`; give a number for `confine load`")
        }
        _ = try options.validated()
    }

    func run() throws {
        Signals.blockHandledSignals()
        signal(SIGPIPE, SIG_IGN)
        let report = try options.runOnce(service: service, driver: DriverCommand(options.driver), reportPath: self.report,
                                         quietSummary: options.quiet)
        RunSupport.deliver(report, to: self.report, quiet: options.quiet)
        throw ExitCode(report.exitCode)
    }
}

struct Capacity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the most load a service takes within its budgets: repeated `load` steps, ramping up, then bisecting.",
        discussion: """
        The driver's {concurrency} (or {rate}) is filled in per step: ×4 from --start until a step breaks a budget \
        (--budget, the profile's budgets.load, and no OOM kill), then bisected until within 25% (at most --max-steps). \
        Each step is a full `confine load` run with its own report in --steps-dir. Prints a table and the answer; \
        --report gets the JSON.

        Exit codes: 0 some step held; 99 none held; otherwise a step's own failure (64, 124, 125, …).

        Example:
          confine capacity --profile k8s-512mi --ready tcp:127.0.0.1:8080 \\
              --driver 'hey -z 20s -c {concurrency} -o csv http://127.0.0.1:8080/quote' \\
              --budget 'p95<100ms' --max-concurrency 256 -- ./quote-service --port 8080
        """
    )

    @OptionGroup var options: LoadOptions

    @Option(help: ArgumentHelp("Load budgets each step must hold, e.g. 'p95<100ms, error_rate<1%, rps>=200' (with the profile's budgets.load).",
                               valueName: "budgets"))
    var budget: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The first value tried (default 1).", valueName: "n"))
    var start = 1

    @Option(name: .customLong("max-concurrency"), parsing: .unconditional,
            help: ArgumentHelp("The highest {concurrency} tried (default 256).", valueName: "n"))
    var maxConcurrency: Int?

    @Option(name: .customLong("max-rate"), parsing: .unconditional,
            help: ArgumentHelp("The highest {rate} tried, in the driver's own unit (hey -q: requests per second per worker).",
                               valueName: "n"))
    var maxRate: Int?

    @Option(name: .customLong("max-steps"), parsing: .unconditional, help: ArgumentHelp("At most this many steps (default 8).", valueName: "n"))
    var maxSteps = 8

    @Option(help: ArgumentHelp("Where to write the capacity JSON.", valueName: "file"))
    var report = "confine-capacity.json"

    @Option(name: .customLong("steps-dir"), help: ArgumentHelp("Where each step's run report goes.", valueName: "directory"))
    var stepsDir = "confine-capacity"

    @Argument(parsing: .captureForPassthrough, help: "The service to run (after --).")
    var command: [String] = []

    private var service: [String] { PassthroughCommand.words(command) }
    private var placeholder: String { DriverCommand(options.driver).placeholders.first ?? "concurrency" }

    /// The error rate a step may have when the budgets name none, percent.
    static let defaultErrorRate = 1.0

    func validate() throws {
        if command == ["--help"] || command == ["-h"] { throw CleanExit.helpRequest(self) }
        try PassthroughCommand.validate(command, of: Capacity.self)
        guard !service.isEmpty else { throw ValidationError("name the service to run after --") }
        let placeholders = DriverCommand(options.driver).placeholders
        guard placeholders.count == 1 else {
            throw ValidationError(placeholders.isEmpty
                ? "--driver: put {concurrency} (or {rate}) where each step's value goes, e.g. 'hey -z 20s -c {concurrency} -o csv URL'"
                : "--driver: use one of {concurrency} and {rate}, not both")
        }
        guard start > 0 else { throw ValidationError("--start: must be at least 1") }
        guard maxSteps > 0 else { throw ValidationError("--max-steps: must be at least 1") }
        if let maxConcurrency, maxConcurrency < start { throw ValidationError("--max-concurrency: must be at least --start (\(start))") }
        if let maxRate, maxRate < start { throw ValidationError("--max-rate: must be at least --start (\(start))") }
        if placeholder == "rate", maxRate == nil { throw ValidationError("--max-rate: give the highest {rate} to try") }
        if placeholder == "rate", maxConcurrency != nil { throw ValidationError("--max-concurrency: the driver fills {rate}; give --max-rate") }
        if placeholder == "concurrency", maxRate != nil { throw ValidationError("--max-rate: the driver fills {concurrency}; give --max-concurrency") }
        // The capacity report is written at the end: its directory must be there before the search.
        let reportDirectory = (report as NSString).deletingLastPathComponent
        if !reportDirectory.isEmpty, !FileManager.default.fileExists(atPath: reportDirectory) {
            throw ValidationError("--report: the directory \(reportDirectory) does not exist")
        }
        _ = try budgets()
        _ = try options.validated()
    }

    /// `--budget` as load budgets.
    private func budgets() throws -> BudgetSpec {
        guard let budget else { return BudgetSpec() }
        do {
            return try BudgetSpec.load(budget)
        } catch {
            // The message without the line and column of the YAML it was parsed through.
            throw ValidationError("--budget: \(error.message.replacingOccurrences(of: "'budgets.load'", with: "'\(budget)'"))")
        }
    }

    func run() throws {
        Signals.blockHandledSignals()
        signal(SIGPIPE, SIG_IGN)
        let extra = try budgets()
        let highest = placeholder == "rate" ? maxRate! : (maxConcurrency ?? 256)
        var search = CapacitySearch(lowest: start, highest: highest, maxSteps: maxSteps)
        do {
            try FileManager.default.createDirectory(atPath: stepsDir, withIntermediateDirectories: true)
        } catch {
            Stderr.write("confine: --steps-dir: cannot create \(stepsDir): \((error as NSError).localizedFailureReason ?? "\(error)")\n")
            throw ExitCode(64)
        }
        let began = Date()
        var steps: [CapacityReport.Step] = []
        var budgetWords: [String] = []
        var failure: RunReport?
        if !options.quiet { Stderr.write(CapacityTable.header(placeholder)) }
        while let value = search.next {
            let path = "\(stepsDir)/\(placeholder)-\(value).json"
            let driver = DriverCommand(options.driver).filling(placeholder, with: value)
            let run = try options.runOnce(service: service, driver: driver, reportPath: path, extraBudgets: extra, quietSummary: true)
            RunSupport.deliver(run, to: path, quiet: true)
            var loadResults = (run.budgets ?? []).filter { $0.scope == .load }
            // A load whose requests fail has not held, whatever its latency: unless the budgets
            // say how many may fail, at most 1% (the failed ones count in its throughput too).
            if !loadResults.contains(where: { $0.metric == .errorRate }), let load = run.load, load.requests > 0 {
                let guardRule = BudgetThreshold(metric: .errorRate, comparison: .lessThan, limit: Self.defaultErrorRate)
                let held = guardRule.holds(load.errorRate)
                loadResults.append(BudgetResult(scope: .load, pattern: "", target: "load", metric: .errorRate, comparison: .lessThan,
                                                limit: Self.defaultErrorRate, measured: load.errorRate, level: .fail,
                                                verdict: held ? .pass : .fail))
            }
            budgetWords = loadResults.map { "\($0.metric.rawValue) \($0.comparison.rawValue) \($0.metric.format($0.limit))" } + ["oom_kills = 0"]
            let failed = loadResults.filter { $0.verdict == .fail }.map(\.message) + (run.oomKills.isEmpty ? [] : ["\(run.oomKills.count) OOM kill(s)"])
            let measuredRun = [.passed, .budgetExceeded, .oomKilled].contains(run.outcome) && run.load?.requests ?? 0 > 0
            let step = CapacityReport.Step(value: value, report: run, path: path, failedBudgets: failed,
                                           passed: measuredRun && failed.isEmpty, measured: measuredRun || run.outcome == .oomKilled)
            steps.append(step)
            if !options.quiet { Stderr.write(CapacityTable.row(step)) }
            if !measuredRun && run.outcome != .oomKilled {
                // Not a budget answer: the service or the driver failed; the search cannot go on.
                failure = run
                break
            }
            search.record(value, passed: step.passed)
        }
        var stoppedBy = failure.map { "\($0.outcome.rawValue): \($0.reason)" }
        if stoppedBy == nil, search.tried.count >= maxSteps, let low = search.highestPassed, let high = search.lowestFailed,
           Double(high) > Double(low) * 1.25, high > low + 1 {
            stoppedBy = "--max-steps \(maxSteps) was reached with the answer between \(low) and \(high)"
        }
        let capacity = CapacityReport(confineVersion: Confine.version, placeholder: placeholder, driver: options.driver, command: service,
                                      budgets: budgetWords, steps: steps, totalSeconds: Date().timeIntervalSince(began), stoppedBy: stoppedBy)
        var written = true
        do {
            try ReportWriter.writeJSON(capacity, to: report)
        } catch {
            written = false
            Stderr.write("confine: \(error)\n")
            if let json = error.json { Stderr.write(json) }
        }
        if let failure {
            Stderr.write("confine: capacity stopped at step \(steps.count): \(failure.reason) (\(steps.last!.report))\n")
            throw ExitCode(failure.exitCode)
        }
        if !options.quiet {
            Stderr.write("\n\(capacity.answer)\n\(steps.count) steps in \(formatFixed(capacity.totalSeconds, digits: 1))s"
                         + (written ? "; report: \(report)\n" : "\n"))
        }
        throw ExitCode(steps.contains(where: \.passed) ? ExitCodes.success : ExitCodes.budgetExceeded)
    }
}

/// capacity's table on stderr, one row per step as it ends.
enum CapacityTable {
    static func header(_ placeholder: String) -> String {
        pad([placeholder, "rps", "p50", "p95", "p99", "errors", "throttled", "memory peak", "held"]) + "\n"
    }

    static func row(_ step: CapacityReport.Step) -> String {
        func latency(_ value: Double?) -> String { value.map(DurationQuantity.formatMeasured) ?? "-" }
        return pad([String(step.value), step.requestsPerSecond.map { formatFixed($0, digits: 1) } ?? "-", latency(step.p50), latency(step.p95),
                    latency(step.p99), formatFixed(step.errorRate, digits: 1) + "%",
                    step.throttledPercent.map { formatFixed($0, digits: 0) + "%" } ?? "-", ByteQuantity.human(step.memoryPeakBytes),
                    step.passed ? "yes" : !step.measured ? "stopped (\(step.outcome.rawValue))"
                        : "no" + (step.oomKills > 0 ? " (OOM kill)" : "")]) + "\n"
    }

    private static func pad(_ cells: [String]) -> String {
        let widths = [11, 9, 9, 9, 9, 7, 10, 12, 4]
        return zip(cells, widths).map { $0.0.padding(toLength: max($0.1, $0.0.count), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
