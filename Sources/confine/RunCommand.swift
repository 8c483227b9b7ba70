import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// Limits given on the command line; each overrides the profile's value.
struct LimitOptions: ParsableArguments {
    // Values are taken as given, even when they start with "-": `--cpus -1` is a bad value
    // (exit 64 naming it), not a missing one.
    @Option(parsing: .unconditional, help: ArgumentHelp("Memory limit, e.g. 512Mi, 1G, 64m.", valueName: "bytes"))
    var memory: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Swap allowed beyond the memory limit (0 = none, max = unlimited).", valueName: "bytes"))
    var swap: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("CPU quota, e.g. 500m, 0.5, 2 (100 ms CFS period).", valueName: "cpus"))
    var cpus: String?

    @Option(help: ArgumentHelp("CPUs the run may use, e.g. 0-1.", valueName: "list"))
    var cpuset: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Maximum number of processes and threads.", valueName: "n"))
    var pids: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("RLIMIT_NOFILE (soft and hard).", valueName: "n"))
    var nofile: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Kill the whole run after this long, e.g. 30s, 10m.", valueName: "duration"))
    var timeout: String?

    @Option(name: .customLong("stall-timeout"), parsing: .unconditional,
            help: ArgumentHelp("After an OOM kill, end the run once its group has used no CPU for this long, e.g. 5s "
                               + "(outcome stalled, exit 124; at least 1s).", valueName: "duration"))
    var stallTimeout: String?

    @Option(name: .customLong("sample-interval"), parsing: .unconditional, help: ArgumentHelp("Sampling interval (default 10ms).", valueName: "duration"))
    var sampleInterval: String?

    @Option(help: ArgumentHelp("Seccomp profile: a built-in name (container-default), an OCI/Docker JSON file, or unconfined.",
                               valueName: "profile"))
    var seccomp: String?

    @Option(help: ArgumentHelp("Network: host, none (own namespace with lo only), or allow:HOST:PORT,HOST:PORT.",
                               valueName: "profile"))
    var network: String?

    /// The flags as a profile layer, or a usage error naming the flag.
    func spec() throws -> ProfileSpec {
        func parse<T>(_ flag: String, _ value: String?, _ parser: (String) throws(UnitError) -> T) throws -> T? {
            guard let value else { return nil }
            do {
                return try parser(value)
            } catch {
                throw ValidationError("--\(flag): \(error.message)")
            }
        }
        func count(_ flag: String, _ value: String?) throws -> Int? {
            guard let value else { return nil }
            guard let number = Int(value), number > 0 else {
                throw ValidationError("--\(flag): '\(value)' must be a whole number greater than zero")
            }
            return number
        }
        var spec = ProfileSpec()
        spec.limits.memory = try parse("memory", memory, ByteQuantity.parse)
        if spec.limits.memory == 0 { throw ValidationError("--memory: must be greater than zero") }
        if let swap {
            spec.limits.swap = ["max", "unlimited", "-1"].contains(swap)
                ? .unlimited : .bytes(try parse("swap", swap, ByteQuantity.parse)!)
        }
        spec.limits.cpus = try parse("cpus", cpus, CPUQuantity.parse)
        spec.limits.cpuset = try parse("cpuset", cpuset, CPUSetList.parse)
        spec.limits.pids = try count("pids", pids)
        spec.limits.nofile = try count("nofile", nofile)
        spec.timeout = try parse("timeout", timeout, DurationQuantity.parse)
        spec.stallTimeout = try parse("stall-timeout", stallTimeout, DurationQuantity.parse)
        spec.samplingInterval = try parse("sample-interval", sampleInterval, DurationQuantity.parse)
        spec.seccomp = seccomp
        spec.network = try parse("network", network, NetworkProfile.parse)
        return spec
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command under a profile's cgroup limits and write a run report.",
        discussion: """
        Examples:
          confine run --profile k8s-512mi -- swift test
          confine run --memory 64Mi --swap 0 --cpus 0.5 --pids 256 -- python3 -m pytest
        """
    )

    @Option(help: ArgumentHelp("A built-in profile name or a YAML profile path.", valueName: "profile"))
    var profile: String?

    @OptionGroup var limits: LimitOptions

    @Option(help: ArgumentHelp("Where to write the JSON run report.", valueName: "file"))
    var report = "confine-report.json"

    @Flag(help: "Do not print the summary (or a stall's notice while it happens) to stderr.")
    var quiet = false

    @Flag(help: "Treat syscall names the seccomp profile uses but libseccomp does not know as errors, not warnings.")
    var strict = false

    @Option(help: ArgumentHelp("A JUnit XML file the command writes; its tests are added to the report after the run (repeatable).",
                               valueName: "file"))
    var junit: [String] = []

    @Option(help: ArgumentHelp("Whose console output to read test boundaries from: auto (swift test), swift-test, none.",
                               valueName: "runner"))
    var runner = "auto"

    @Flag(help: "Do not open the probe channel (no per-function figures, no pytest plugin).")
    var noProbe = false

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Start N copies of the command at once in the same cgroup, sharing its limits (replicas in one pod); "
                               + "the exit status is the worst of them. Each copy gets CONFINE_COPY (0…N-1).", valueName: "n"))
    var copies = 1

    @Argument(parsing: .captureForPassthrough, help: "The command to run (after --).")
    var command: [String] = []

    private var arguments: [String] { PassthroughCommand.words(command) }

    /// More copies than this are a typo, not replicas: each is a process tree of its own.
    static let maxCopies = 1024

    func validate() throws {
        // The command is captured with everything after it, so `confine run --help` would run
        // a program named --help: a lone -h/--help before any `--` asks for this help instead.
        if command == ["--help"] || command == ["-h"] { throw CleanExit.helpRequest(self) }
        try PassthroughCommand.validate(command, of: Run.self)
        guard !arguments.isEmpty else { throw ValidationError("name the command to run after --, e.g. confine run -- swift test") }
        _ = try limits.spec()
        guard (1...Self.maxCopies).contains(copies) else {
            throw ValidationError("--copies: must be from 1 to \(Self.maxCopies) (\(copies) copies would not share one pod's limits; --pids bounds them too)")
        }
        guard ["auto", "none", RunnerOutputKind.swiftTest.rawValue].contains(runner) else {
            throw ValidationError("--runner: '\(runner)' is not one of auto, swift-test, none")
        }
    }

    /// `swift test …` (also through `env` or a path to swift) is read from its output.
    private var runnerOutput: RunnerOutputKind? {
        switch runner {
        case "none": return nil
        case RunnerOutputKind.swiftTest.rawValue: return .swiftTest
        default:
            let words = arguments.drop { $0 == "env" || $0.contains("=") }
            guard let program = words.first, (program as NSString).lastPathComponent == "swift" else { return nil }
            return words.dropFirst().first == "test" ? .swiftTest : nil
        }
    }

    func run() throws {
        // Before any thread exists: the supervisor takes these signals from a signalfd.
        Signals.blockHandledSignals()
        // A reader of confine's output that goes away (`| head`) must not kill confine: the
        // report still has to be written. The child's dispositions are reset before exec.
        signal(SIGPIPE, SIG_IGN)

        // profile → plan → supervise → record → report → budgets → files and summary.
        // N copies: the launcher is the main process, in the group, and starts them together.
        let launched = copies > 1 ? [executablePath(), "copies-launcher", "--count", String(copies), "--"] + arguments : arguments
        let plan = try RunSupport.plan(profile: profile, limits: limits, arguments: launched, probe: !noProbe, strict: strict) { options in
            // Copies' console output interleaves: boundaries come from the probe and the plugin only.
            options.runnerOutput = copies > 1 ? nil : runnerOutput
            options.junitPaths = junit
        }

        var record = RunSupport.supervise(plan, quiet: quiet)
        if copies > 1 {
            record.command = arguments
            record.copies = copies
        }
        let report = BudgetJudge.judge(RunReport(record: record))
        RunSupport.deliver(report, to: self.report, quiet: quiet)
        throw ExitCode(report.exitCode)
    }
}
