import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// `confine bisect-memory`: the smallest memory limit at which the command still passes, by
/// running it (each step a real `confine run`, its report kept) under limits halving the gap.
struct BisectMemory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect-memory",
        abstract: "Find the smallest memory limit at which the command still passes.",
        discussion: """
        First runs the command without a memory limit to measure its peak, then searches between
        half that peak and the peak (or --low/--high) for the smallest limit that passes — no OOM
        kill and exit status 0 — with no swap, as production containers run. Each step is a
        `confine run` whose report is kept in --reports. Example:
          confine bisect-memory --profile api.yaml -- swift test
        """
    )

    @Option(help: ArgumentHelp("Profile the runs use (its memory limit is what the headroom is measured against).", valueName: "profile"))
    var profile: String?

    @Option(help: ArgumentHelp("Lowest limit to try (default: half the measured peak).", valueName: "bytes"))
    var low: String?

    @Option(help: ArgumentHelp("Highest limit (default: the measured peak).", valueName: "bytes"))
    var high: String?

    @Option(help: ArgumentHelp("Runs per limit; a limit passes only if every run does (flaky suites).", valueName: "n"))
    var runsPerStep = 1

    @Option(help: ArgumentHelp("Stop after this many runs in all, the unlimited one included.", valueName: "n"))
    var maxRuns = 8

    @Option(help: ArgumentHelp("Stop when the passing and failing limits are this close.", valueName: "bytes"))
    var precision = "2Mi"

    @Option(help: ArgumentHelp("Directory for each step's run report.", valueName: "dir"))
    var reports = "confine-bisect"

    @Argument(parsing: .captureForPassthrough, help: "The command to run (after --).")
    var command: [String] = []

    private var arguments: [String] { PassthroughCommand.words(command) }

    func validate() throws {
        try PassthroughCommand.validate(command, of: BisectMemory.self)
        guard !arguments.isEmpty else { throw ValidationError("name the command after --, e.g. confine bisect-memory -- swift test") }
        guard runsPerStep >= 1, maxRuns >= 2 else { throw ValidationError("--runs-per-step must be at least 1 and --max-runs at least 2") }
        for (flag, value) in [("low", low), ("high", high), ("precision", precision as String?)] {
            if let value { do { _ = try ByteQuantity.parse(value) } catch { throw ValidationError("--\(flag): \(error.message)") } }
        }
    }

    struct Step {
        var limit: UInt64?
        var passed: Bool
        var peak: UInt64
        var report: String
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: reports, withIntermediateDirectories: true)
        var runs = 0
        var steps: [Step] = []
        func attempt(_ limit: UInt64?) throws -> Step {
            var passed = true
            var peak: UInt64 = 0
            var path = ""
            for repeatIndex in 0..<runsPerStep {
                runs += 1
                path = "\(reports)/step-\(steps.count + 1)-\(limit.map { ByteQuantity.format($0) } ?? "unlimited")"
                    + (runsPerStep > 1 ? "-\(repeatIndex + 1)" : "") + ".json"
                let report = try confineRun(limit: limit, report: path)
                peak = max(peak, report.memory.peakBytes)
                let ok = report.oomKills.isEmpty && report.mainProcess?.exitStatus == 0
                if !ok { passed = false; break }
            }
            let step = Step(limit: limit, passed: passed, peak: peak, report: path)
            steps.append(step)
            let limitText = limit.map { ByteQuantity.human($0) } ?? "no limit"
            let line = "confine bisect-memory: step \(steps.count): \(limitText) → \(passed ? "passed" : "failed"), "
                + "peak \(ByteQuantity.human(peak)) (\(path))\n"
            Stderr.write(line)
            return step
        }

        let unlimited = try attempt(nil)
        guard unlimited.passed else {
            Stderr.write("confine bisect-memory: the command fails even without a memory limit; see \(unlimited.report)\n")
            throw ExitCode(1)
        }
        let step = try ByteQuantity.parse(precision)
        let mebibyte: UInt64 = 1 << 20
        var failing = try low.map { try ByteQuantity.parse($0) } ?? unlimited.peak / 2
        var passing = try high.map { try ByteQuantity.parse($0) } ?? (unlimited.peak + mebibyte - 1) / mebibyte * mebibyte
        var passingVerified = false
        while passing > failing + step && runs + runsPerStep <= maxRuns {
            let middle = (failing + passing) / 2 / 4096 * 4096
            if try attempt(middle).passed {
                passing = middle
                passingVerified = true
            } else {
                failing = middle
            }
        }
        if !passingVerified && runs + runsPerStep <= maxRuns {
            // Every limit tried failed: the upper bound itself has not been seen to pass yet.
            passingVerified = try attempt(passing).passed
        }

        let production = try productionLimit()
        var line = "confine bisect-memory: passes down to \(ByteQuantity.human(passing))"
        if !passingVerified { line += " (not verified: out of runs)" }
        line += "; fails at \(ByteQuantity.human(failing)); peak without a limit \(ByteQuantity.human(unlimited.peak)); \(runs) runs"
        if let production {
            let headroom = (Double(production) - Double(passing)) / Double(production) * 100
            line += ". Production gives it \(ByteQuantity.human(production)): \(formatFixed(headroom, digits: 0))% headroom"
        }
        print(line)
        print("reports: \(reports)/")
    }

    /// The profile's memory limit, if it sets one.
    func productionLimit() throws -> UInt64? {
        guard let profile else { return nil }
        do {
            return try BuiltinProfiles.loader().resolve(profile).memoryBytes
        } catch {
            throw failWithProfileError(error)
        }
    }

    /// One step: `confine run` (this very binary) with the limit, no swap, quiet, its report at `report`.
    func confineRun(limit: UInt64?, report: String) throws -> RunReport {
        let executable = executablePath()
        var argv = [executable, "run", "--quiet", "--report", report]
        if let profile { argv += ["--profile", profile] }
        argv += limit.map { ["--memory", String($0), "--swap", "0"] } ?? ["--memory", String(UInt64(1) << 50), "--swap", "0"]
        argv += ["--"] + arguments
        do {
            _ = try runToCompletion(argv)
        } catch {
            Stderr.write("confine bisect-memory: \(error)\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
        guard let data = FileManager.default.contents(atPath: report) else {
            Stderr.write("confine bisect-memory: the step wrote no report (\(report))\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
        do {
            return try RunReport.decode(data)
        } catch {
            Stderr.write("confine bisect-memory: \(report): \(error)\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
    }
}
