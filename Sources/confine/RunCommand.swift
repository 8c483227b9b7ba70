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

    @Option(parsing: .unconditional, help: ArgumentHelp("RLIMIT_NOFILE: N (soft = hard) or SOFT:HARD, e.g. 1024:8192.", valueName: "n"))
    var nofile: String?

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A resource limit as docker run takes it: NAME=N or NAME=SOFT:HARD (nproc, core, memlock, stack, …; "
                               + "unlimited or -1 for no limit). Repeatable.", valueName: "name=limit"))
    var ulimit: [String] = []

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

    @Flag(name: .customLong("read-only"), help: "The root filesystem read-only for the target, as readOnlyRootFilesystem (root only).")
    var readOnly = false

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A memory-backed volume (tmpfs) at PATH, optionally sized: /cache or /cache:size=64Mi (repeatable).",
                               valueName: "path[:size=bytes]"))
    var tmpfs: [String] = []

    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A disk-backed empty volume at PATH, removed after the run (repeatable).", valueName: "path"))
    var volume: [String] = []

    @Option(name: .customLong("keep-writable"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Under --read-only, keep this host path writable with its content ('.' the working directory; repeatable).",
                               valueName: "path"))
    var keepWritable: [String] = []

    @Option(name: .customLong("shm-size"), parsing: .unconditional,
            help: ArgumentHelp("A private /dev/shm of this size (container profiles get Docker's 64Mi).", valueName: "bytes"))
    var shmSize: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Run the target as UID or UID:GID (root only).", valueName: "uid[:gid]"))
    var user: String?

    @Option(name: .customLong("group-add"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A supplementary group id for the target (repeatable).", valueName: "gid"))
    var groupAdd: [String] = []

    @Flag(name: .customLong("run-as-non-root"), help: "Refuse to start when the target would run as uid 0 (runAsNonRoot).")
    var runAsNonRoot = false

    @Option(name: [.customShort("e"), .customLong("env")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Set a variable for the target: NAME=value, or NAME to pass confine's (repeatable).", valueName: "name=value"))
    var env: [String] = []

    @Option(name: .customLong("env-file"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Read variables from a file of NAME=value lines, as docker run --env-file (repeatable).", valueName: "file"))
    var envFile: [String] = []

    @Option(name: [.customShort("w"), .customLong("workdir")], parsing: .unconditional,
            help: ArgumentHelp("The target's working directory (absolute).", valueName: "dir"))
    var workdir: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The hostname the target sees, in a UTS namespace of its own (root only).", valueName: "name"))
    var hostname: String?

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
        for entry in ulimit {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Ulimits.names[parts[0]] != nil else {
                throw ValidationError("--ulimit: '\(entry)': expected NAME=LIMIT with NAME one of \(Ulimits.names.keys.sorted().joined(separator: ", "))")
            }
            guard spec.limits.ulimits[parts[0]] == nil else { throw ValidationError("--ulimit \(parts[0]): given twice") }
            spec.limits.ulimits[parts[0]] = try parse("ulimit \(parts[0])", parts[1], Ulimits.parse)
        }
        if let limit = try parse("nofile", nofile, Ulimits.parse) {
            guard spec.limits.ulimits["nofile"] == nil else { throw ValidationError("--nofile and --ulimit nofile=…: give it once") }
            spec.limits.ulimits["nofile"] = limit
        }
        spec.timeout = try parse("timeout", timeout, DurationQuantity.parse)
        spec.stallTimeout = try parse("stall-timeout", stallTimeout, DurationQuantity.parse)
        spec.samplingInterval = try parse("sample-interval", sampleInterval, DurationQuantity.parse)
        spec.seccomp = seccomp
        spec.network = try parse("network", network, NetworkProfile.parse)
        try containerSpec(into: &spec)
        return spec
    }

    /// `--read-only`, `--tmpfs`, `--volume`, `--shm-size`, `--user`, `--group-add`, `--run-as-non-root`, `--env`,
    /// `--env-file`, `--workdir`, `--hostname` as the profile's `filesystem`, `user`, `env`, `working_dir`, `hostname`.
    private func containerSpec(into spec: inout ProfileSpec) throws {
        var filesystem = FilesystemSpec()
        if readOnly { filesystem.readOnlyRoot = true }
        var volumes: [Volume] = []
        for entry in tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            var size: UInt64?
            if parts.count == 2 {
                guard parts[1].hasPrefix("size=") else { throw ValidationError("--tmpfs: '\(entry)': expected PATH or PATH:size=BYTES") }
                do { size = try ByteQuantity.parse(String(parts[1].dropFirst(5))) } catch { throw ValidationError("--tmpfs: \(error.message)") }
            }
            volumes.append(Volume(path: parts[0], medium: .memory, sizeBytes: size))
        }
        volumes += volume.map { Volume(path: $0, medium: .disk) }
        for volume in volumes {
            if let problem = Volume.problem(path: volume.path) {
                throw ValidationError("--\(volume.medium == .memory ? "tmpfs" : "volume"): '\(volume.path)' \(problem)")
            }
        }
        if Set(volumes.map(\.path)).count != volumes.count {
            throw ValidationError("--tmpfs/--volume: a path is given twice")
        }
        if !volumes.isEmpty { filesystem.volumes = volumes }
        for path in keepWritable where path != "." {
            if let problem = Volume.problem(path: path) { throw ValidationError("--keep-writable: '\(path)' \(problem) (or '.' for the working directory)") }
        }
        if !keepWritable.isEmpty { filesystem.keepWritable = keepWritable }
        if let shmSize {
            do { filesystem.shmBytes = try ByteQuantity.parse(shmSize) } catch { throw ValidationError("--shm-size: \(error.message)") }
            if filesystem.shmBytes == 0 { throw ValidationError("--shm-size: must be greater than zero") }
        }
        if filesystem != FilesystemSpec() { spec.filesystem = filesystem }
        var user = UserSpec()
        if let text = self.user {
            do { user = try UserSpec.parse(text) } catch { throw ValidationError("--user: \(error.message)") }
        }
        if !groupAdd.isEmpty {
            user.supplementalGroups = try groupAdd.map { text in
                guard let gid = UserSpec.id(text) else { throw ValidationError("--group-add: '\(text)' is not a numeric group id from 0 to 2147483647") }
                return gid
            }
        }
        if runAsNonRoot { user.runAsNonRoot = true }
        if user != UserSpec() { spec.user = user }
        var variables: [String: String] = [:]
        let inherited = ProcessInfo.processInfo.environment
        for file in envFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("--env-file: cannot read \(file)")
            }
            do {
                for (name, value) in try EnvFile.parse(text, file: file, inherited: inherited) { variables[name] = value }
            } catch { throw ValidationError("--env-file: \(error.message)") }
        }
        for entry in env {
            let name = String(entry.prefix { $0 != "=" })
            guard !name.isEmpty else { throw ValidationError("--env: '\(entry)': expected NAME=value or NAME") }
            if entry.contains("=") { variables[name] = String(entry.dropFirst(name.count + 1)) }
            else if let value = inherited[name] { variables[name] = value }
        }
        if !variables.isEmpty { spec.env = variables }
        if let workdir {
            guard workdir.hasPrefix("/") else { throw ValidationError("--workdir: '\(workdir)' must be an absolute path") }
            spec.workingDirectory = workdir
        }
        if let hostname {
            if let problem = Hostname.problem(hostname) { throw ValidationError("--hostname: \(problem)") }
            spec.hostname = hostname
        }
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

    @Option(help: ArgumentHelp("Whose console output to read test boundaries from: auto (swift test, also when make, tox or a script starts it: the output then passes through confine), swift-test, none (the target keeps confine's stdout).",
                               valueName: "runner"))
    var runner = "auto"

    @Flag(help: "Do not open the probe channel (no per-function figures, no pytest plugin).")
    var noProbe = false

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Start N copies of the command at once in the same cgroup, sharing its limits (replicas in one pod); "
                               + "the exit status is the worst of them. Each copy gets CONFINE_COPY (0…N-1).", valueName: "n"))
    var copies = 1

    @OptionGroup var sharding: ShardOptions

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
        default: return RunnerDetection.isSwiftTest(arguments) ? .swiftTest : nil
        }
    }

    /// `--runner auto` and a command that is no runner confine knows (`make test`, `tox`, a
    /// script): the runner is looked for in the process tree. Python and pytest themselves are
    /// reached by the plugin, and keep the terminal as their output.
    private var detectsRunner: Bool {
        runner == "auto" && runnerOutput == nil && !RunnerDetection.isPython(arguments)
    }

    func run() throws {
        // Before any thread exists: the supervisor takes these signals from a signalfd.
        Signals.blockHandledSignals()
        // A reader of confine's output that goes away (`| head`) must not kill confine: the
        // report still has to be written. The child's dispositions are reset before exec.
        signal(SIGPIPE, SIG_IGN)

        // profile → plan → supervise → record → report → budgets → files and summary.
        // N copies: the launcher is the main process, in the group, and starts them together.
        // A shard: this part of the suite (swift test by its own filters; pytest and other runners
        // from the variables), the split by a previous report's durations or by hash.
        let shardPosition = try sharding.position
        var position = shardPosition
        let assignment = try shardPosition.map { try sharding.assignment(total: $0.total) }
        if position != nil, let baseline = try sharding.durationsBaseline() { position?.durationsFrom = baseline }
        if shardPosition != nil, runnerOutput == .swiftTest,
           arguments.contains(where: { $0 == "--filter" || $0.hasPrefix("--filter=") || $0 == "--skip" || $0.hasPrefix("--skip=") }) {
            Stderr.write("confine: --shard with swift test chooses the tests with --filter itself: drop the command's --filter/--skip\n")
            throw ExitCode(ExitCodes.usage)
        }
        func launched(_ command: [String]) -> [String] {
            copies > 1 ? [executablePath(), "copies-launcher", "--count", String(copies), "--"] + command : command
        }
        var plan = try RunSupport.plan(profile: profile, limits: limits, arguments: launched(arguments), probe: !noProbe, strict: strict,
                                       pythonPlugin: !noProbe || shardPosition != nil) { options in
            // Copies' console output interleaves: boundaries come from the probe and the plugin only.
            options.runnerOutput = copies > 1 ? nil : runnerOutput
            options.detectsRunner = copies == 1 && detectsRunner
            options.junitPaths = junit
        }
        if let shardPosition, let assignment {
            ShardSupport.apply(shardPosition, assignment: assignment, to: &plan)
            if runnerOutput == .swiftTest {
                do {
                    let sharded = try ShardSupport.swiftTestArguments(arguments, position: shardPosition, assignment: assignment, quiet: quiet)
                    plan.arguments = launched(sharded.arguments)
                    plan.shardIsEmpty = sharded.selected == 0
                } catch {
                    // The list is the run's first step: its failure is a setup failure, with a report.
                    var record = RunRecord.setupFailure(command: arguments, profile: plan.profile, confineVersion: plan.confineVersion,
                                                        host: .current(layout: .unknown), startedAt: rfc3339Now(),
                                                        failure: .init(step: "swift test list", errno: 0, message: "--shard: \(error.message)"))
                    record.shard = position
                    RunSupport.deliver(RunReport(record: record), to: report, quiet: quiet)
                    throw ExitCode(ExitCodes.setupFailed)
                }
            }
        }

        var record = RunSupport.supervise(plan, quiet: quiet)
        record.shard = position
        if copies > 1 {
            record.command = arguments
            record.copies = copies
        }
        var unjudged = RunReport(record: record)
        if let assignment, !assignment.assigned.isEmpty, !unjudged.tests.isEmpty,
           !unjudged.tests.contains(where: { assignment.assigned[$0.name] != nil }) {
            unjudged.warnings.append("--shard-durations: none of this run's tests is in \(sharding.shardDurations ?? "the report"): the split went by hash")
        }
        let report = BudgetJudge.judge(unjudged)
        RunSupport.deliver(report, to: self.report, quiet: quiet)
        throw ExitCode(report.exitCode)
    }
}
