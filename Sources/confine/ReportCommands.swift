import ArgumentParser
import ConfineCore
import Foundation

/// The formats `report` and `compare` write.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case terminal, markdown, junit, json, html
    /// GitHub Actions workflow commands: annotations on the pull request (`report` only).
    case github
}

/// Where and how `report` and `compare` write: stdout unless `--output`.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("terminal, markdown, junit, json, html, or github (annotations for GitHub Actions).", valueName: "format"))
    var format: OutputFormat = .terminal

    @Option(help: ArgumentHelp("Write here instead of stdout.", valueName: "file"))
    var output: String?

    /// Colour for the terminal format: only on a terminal, never with NO_COLOR set.
    var color: Bool {
        output == nil && isatty(1) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
    }

    func write(_ text: String) throws {
        guard let output else {
            Stdout.write(text)
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            Stderr.write("confine: cannot write \(output): \(error.localizedDescription)\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
    }
}

/// Loads reports (in parallel) or exits 64 naming the file and JSON path; a missing file
/// exits `missingCode[path]` when one is given for it.
func loadReports(_ paths: [String], missingCode: [String: Int32] = [:]) throws -> [RunReport] {
    try zip(paths, ReportFiles.loadAll(paths)).map { path, result in
        switch result {
        case .success(let report): return report
        case .failure(let error):
            Stderr.write("confine: \(error)\n")
            if case .missing = error { throw ExitCode(missingCode[path] ?? ExitCodes.usage) }
            throw ExitCode(ExitCodes.usage)
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a run report: terminal, Markdown, JUnit XML, JSON or a self-contained HTML page.",
        discussion: """
        Examples:
          confine report head.json --format html --output report.html
          confine report head.json --format junit --output budgets.xml
          confine report head.json --profile api.yaml     # judge it against these budgets instead
        Exits 0 when the output was written, 64 for an unreadable report or profile.
        """
    )

    @Argument(help: "The run report (JSON) written by confine run or confine merge.")
    var report: String

    @Option(help: ArgumentHelp("Judge the report against this profile's budgets instead of its own.", valueName: "profile"))
    var profile: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        var loaded = try loadReports([report])[0]
        if let profile {
            let spec: ProfileSpec
            do {
                (spec, _) = try BuiltinProfiles.loader().load(profile)
            } catch {
                throw failWithProfileError(error)
            }
            loaded = BudgetJudge.judge(loaded, against: spec.budgets ?? BudgetSpec())
        }
        switch output.format {
        case .terminal: try output.write(TerminalRenderer.render(loaded, color: output.color))
        case .markdown: try output.write(MarkdownRenderer.render(loaded))
        case .junit: try output.write(JUnitRenderer.render(loaded))
        case .json: try output.write(String(decoding: try loaded.jsonData(), as: UTF8.self))
        case .html: try output.write(HTMLRenderer.render(loaded))
        case .github: try output.write(GitHubAnnotations.render(loaded))
        }
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare run reports with a baseline: regressions, improvements, tests and functions added or removed, and how sure it is.",
        discussion: """
        One report per side (`confine compare base.json head.json`) is a single pair: a test's change
        counts only far outside the spread of all tests' changes, and then as seen once, not failing
        the gate. Several per side (`--base a1.json --base a2.json … --head b1.json …`, runs
        interleaved on one machine: ci/rounds) are rounds: each test's change is tested against its
        own spread between rounds (moderated), every test together at a 5% false-discovery rate,
        and must also pass the threshold. Probed functions: a percentile worse than the threshold
        AND a one-sided Mann-Whitney U test over every call (pooled over rounds) with p < alpha.
        Thresholds come from the head report's profile (regression:) or the defaults: latency +10%,
        peak_rss +5% and +1Mi (memory the tests own, never page cache), duration and cpu_time +10%
        and +10ms (a test's: +10% and +1ms). Reports from different machines are compared net of
        the machine's speed drift, and what the machine could explain is inconclusive.
        docs/compare.md explains the statistics.
        Exit codes: 0 no regression; 99 a regression; 66 a baseline report does not exist;
        64 unreadable reports or reports of different schema versions.
        """
    )

    @Argument(help: ArgumentHelp("The baseline report and the report to judge (one run per side).", valueName: "base head"))
    var reports: [String] = []

    @Option(name: .customLong("base"), help: ArgumentHelp("A baseline report (repeat for rounds).", valueName: "report"))
    var bases: [String] = []

    @Option(name: .customLong("head"), help: ArgumentHelp("A report to judge (repeat for rounds).", valueName: "report"))
    var heads: [String] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if !reports.isEmpty && (!bases.isEmpty || !heads.isEmpty) {
            throw ValidationError("give two reports (base head), or --base and --head options, not both")
        }
        if reports.isEmpty && (bases.isEmpty || heads.isEmpty) {
            throw ValidationError("name a base and a head report: `confine compare base.json head.json`, or --base … --head …")
        }
        if !reports.isEmpty && reports.count != 2 {
            throw ValidationError("expected two reports (base head), got \(reports.count); for rounds use --base and --head")
        }
    }

    func run() throws {
        let (basePaths, headPaths) = reports.isEmpty ? (bases, heads) : ([reports[0]], [reports[1]])
        // The baseline's absence comes first: it has its own exit code.
        for base in basePaths where !FileManager.default.fileExists(atPath: base) {
            Stderr.write("confine: \(base): no such report (no baseline yet?)\n")
            throw ExitCode(ExitCodes.baselineMissing)
        }
        let loaded = try loadReports(basePaths + headPaths)
        let comparison: Comparison
        do {
            comparison = try Comparator.compare(bases: Array(zip(basePaths, loaded.prefix(basePaths.count))).map { ($0, $1) },
                                                heads: Array(zip(headPaths, loaded.suffix(headPaths.count))).map { ($0, $1) })
        } catch {
            Stderr.write("confine: \(error)\n")
            throw ExitCode(ExitCodes.usage)
        }
        switch output.format {
        case .terminal: try output.write(TerminalRenderer.render(comparison, color: output.color))
        case .markdown: try output.write(MarkdownRenderer.render(comparison))
        case .junit: try output.write(JUnitRenderer.render(comparison))
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try output.write(String(decoding: try encoder.encode(comparison), as: UTF8.self) + "\n")
        case .html, .github:
            Stderr.write("confine: compare writes terminal, markdown, junit or json; \(output.format.rawValue) is for `confine report`\n")
            throw ExitCode(ExitCodes.usage)
        }
        if comparison.hasRegression { throw ExitCode(ExitCodes.budgetExceeded) }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the reports of CI shards into one (tests and functions unioned, histograms merged).",
        discussion: """
        Example: confine merge shard-*.json --output all.json
        The merged report keeps each shard's suite figures under `shards`; its budgets are judged
        again on the merged figures. Reports of `confine run --shard I/N` are checked to be the
        complete, disjoint set: a missing, repeated or overlapping shard is a warning (stderr and
        the report's warnings). Exits 0 when written, 64 for an unreadable report.
        """
    )

    @Argument(help: "Shard reports.")
    var reports: [String]

    @Option(help: ArgumentHelp("Write the merged report here instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        guard !reports.isEmpty else { throw ValidationError("name the shard reports to merge") }
        let shards = zip(reports, try loadReports(reports)).map { (path: $0, report: $1) }
        let merged: RunReport
        do {
            merged = BudgetJudge.judge(try ReportMerger.merge(shards))
        } catch {
            Stderr.write("confine: \(error)\n")
            throw ExitCode(ExitCodes.usage)
        }
        // A missing, repeated or overlapping shard is said where the CI log shows it, and kept in the report.
        for problem in merged.warnings where problem.hasPrefix("merge: ") { Stderr.write("confine \(problem.replacingOccurrences(of: "merge: ", with: "merge: warning: "))\n") }
        let text = String(decoding: try merged.jsonData(), as: UTF8.self)
        try OutputOptions.parse(output.map { ["--output", $0] } ?? []).write(text)
    }
}
