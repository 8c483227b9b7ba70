import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// `--shard I/N` and `--shard-durations REPORT` (run), and `confine shard`: the split itself is
/// ConfineCore's (`ShardAssignment`); here the flags, the previous report's durations, the
/// variables a runner reads, and `swift test`'s own test list.
struct ShardOptions: ParsableArguments {
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Run the I-th of N disjoint parts of the suite (a CI matrix's shard): pytest through the plugin, "
                               + "swift test by filters from `swift test list`; other runners read CONFINE_SHARD_INDEX/_TOTAL.",
                               valueName: "i/n"))
    var shard: String?

    @Option(name: .customLong("shard-durations"), parsing: .unconditional,
            help: ArgumentHelp("A previous run's report (e.g. main's baseline): shards balanced by its tests' durations, "
                               + "longest first into the lightest; tests it lacks go by a hash of their name.", valueName: "report"))
    var shardDurations: String?

    var position: ShardPosition? {
        get throws {
            guard let shard else { return nil }
            do { return try ShardPosition.parse(shard) } catch { throw ValidationError("--shard: \(error.message)") }
        }
    }

    func validate() throws {
        _ = try position
        if shardDurations != nil && shard == nil { throw ValidationError("--shard-durations: give --shard I/N too") }
    }

    /// When the durations report was made (its `startedAt`): shards split by different reports do
    /// not add up, and `confine merge` says so.
    func durationsBaseline() throws -> String? {
        guard let path = shardDurations else { return nil }
        return try loadReports([path])[0].startedAt
    }

    /// The split: balanced by the report's durations when one is given, else by hash.
    func assignment(total: Int) throws -> ShardAssignment {
        guard let path = shardDurations else { return ShardAssignment(total: total) }
        let report = try loadReports([path])[0]
        let durations = report.tests.compactMap { test in test.durationSeconds.map { (test.name, $0) } }
        return ShardAssignment.balanced(durations: durations, total: total)
    }
}

enum ShardSupport {
    /// What the target gets for a shard: CONFINE_SHARD_INDEX and _TOTAL, and the balanced
    /// assignment (written by the run's setup where the target can read it: CONFINE_SHARD_FILE).
    static func apply(_ position: ShardPosition, assignment: ShardAssignment, to plan: inout RunPlan) {
        plan.environment = plan.environment.filter { !$0.hasPrefix("CONFINE_SHARD_") }
            + ["CONFINE_SHARD_INDEX=\(position.index)", "CONFINE_SHARD_TOTAL=\(position.total)"]
        plan.shardAssignment = assignment.assigned.isEmpty ? nil : Array(assignment.json())
    }

    /// The value of a `swift test` option given as `--name value` or `--name=value`.
    static let listOptions = ["--package-path", "--scratch-path", "--build-path", "-c", "--configuration", "--triple", "--sdk"]

    /// `swift test …` with a `--filter` that selects this shard's tests from `swift test list`
    /// (run first, outside the limits, with the command's package and build options), and how
    /// many tests it selects (nil: the command is not `swift test`). Throws `ShardError` when the
    /// list cannot be had (the run's setup failure, with a report).
    static func swiftTestArguments(_ arguments: [String], position: ShardPosition, assignment: ShardAssignment,
                                   quiet: Bool) throws(ShardError) -> (arguments: [String], selected: Int?) {
        guard let testIndex = arguments.firstIndex(of: "test") else { return (arguments, nil) }
        var listArguments = Array(arguments[...testIndex]) + ["list"]
        var index = testIndex + 1
        while index < arguments.count {
            let word = arguments[index]
            let name = String(word.prefix { $0 != "=" })
            if listOptions.contains(name) {
                if word.contains("=") {
                    listArguments.append(word)
                } else if index + 1 < arguments.count {
                    listArguments += [word, arguments[index + 1]]
                    index += 1
                }
            } else if word == "--skip-build" {
                listArguments.append(word)
            }
            index += 1
        }
        let names = try list(listArguments)
        let selected = assignment.aliasing(names).select(names, for: position)
        // One alternation of the exact names (a regex, as swift test's --filter takes), anchored
        // at the start and ended by `/` or the end: Swift Testing matches its own identifiers,
        // which go on past the name (`Module.test()/File.swift:12:2`), XCTest `Module.Class/test`.
        let escaped = selected.map { NSRegularExpression.escapedPattern(for: $0) }
        let filter = selected.isEmpty ? "^$" : "^(" + escaped.joined(separator: "|") + ")(/|$)"
        if !quiet { Stderr.write("confine: shard \(position): \(selected.count) of \(names.count) tests (swift test list)\n") }
        return (arguments + ["--filter", filter], selected.count)
    }

    struct ShardError: Error { var message: String }

    /// The names `swift test list` prints, one per line.
    static func list(_ command: [String]) throws(ShardError) -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do { try process.run() } catch {
            throw ShardError(message: "cannot run \(command.joined(separator: " ")): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ShardError(message: "\(command.joined(separator: " ")) exited with status \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

/// `confine shard --list FILE --shard I/N`: this shard's names from a list, for runners confine
/// does not shard itself (a script that takes test names).
struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard",
        abstract: "Print the test names of one shard from a list of names (one per line), as confine run --shard splits them.",
        discussion: """
        Example: my-runner --list-tests > names.txt; my-runner $(confine shard --list names.txt --shard 2/3)
        The split is the one confine run --shard and the pytest plugin make: by a previous report's durations
        (--shard-durations), else by a stable hash of each name. Names given twice are printed once.
        """
    )

    @Option(help: ArgumentHelp("The file of test names, one per line (- for stdin).", valueName: "file"))
    var list = "-"

    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        guard sharding.shard != nil else { throw ValidationError("give --shard I/N") }
    }

    func run() throws {
        guard let position = try sharding.position else { return }
        let text: String
        // A FileHandle reads pipes and process substitutions (`--list <(runner --list)`) too.
        guard let handle = list == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: list) else {
            Stderr.write("confine shard: cannot read \(list)\n")
            throw ExitCode(ExitCodes.usage)
        }
        text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var seen = Set<String>()
        let names = text.split(separator: "\n").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty && seen.insert($0).inserted }
        // The same split as `confine run --shard`: report names stand for `swift test list` names.
        for name in try sharding.assignment(total: position.total).aliasing(names).select(names, for: position) { print(name) }
    }
}
