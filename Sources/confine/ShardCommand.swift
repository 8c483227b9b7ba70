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

    /// The split: balanced by the report's durations when one is given, else by hash.
    func assignment(total: Int) throws -> ShardAssignment {
        guard let path = shardDurations else { return ShardAssignment(total: total) }
        let report = try loadReports([path])[0]
        let durations = report.tests.compactMap { test in test.durationSeconds.map { (test.name, $0) } }
        return ShardAssignment.balanced(durations: durations, total: total)
    }
}

enum ShardSupport {
    /// The variables the target gets: CONFINE_SHARD_INDEX and _TOTAL, and CONFINE_SHARD_FILE
    /// (the balanced assignment, for the pytest plugin) written to `file` when there is one.
    static func environment(_ position: ShardPosition, assignment: ShardAssignment, file: String) throws -> [String] {
        var variables = ["CONFINE_SHARD_INDEX=\(position.index)", "CONFINE_SHARD_TOTAL=\(position.total)"]
        if !assignment.assigned.isEmpty {
            do { try assignment.json().write(to: URL(fileURLWithPath: file)) } catch {
                Stderr.write("confine: --shard-durations: cannot write \(file): \(error)\n")
                throw ExitCode(ExitCodes.setupFailed)
            }
            variables.append("CONFINE_SHARD_FILE=\(file)")
        }
        return variables
    }

    /// `swift test …` with a `--filter` that selects this shard's tests from `swift test list`
    /// (run first, outside the limits, with the command's package options). Exit 125 when the
    /// list cannot be had.
    static func swiftTestArguments(_ arguments: [String], position: ShardPosition, assignment: ShardAssignment) throws -> [String] {
        guard let testIndex = arguments.firstIndex(of: "test") else { return arguments }
        if arguments.contains(where: { $0 == "--filter" || $0.hasPrefix("--filter=") || $0 == "--skip" }) {
            throw ValidationError("--shard with swift test chooses the tests with --filter itself: drop the command's --filter/--skip")
        }
        // Options that say which package and build the list is of.
        var listArguments = Array(arguments[...testIndex]) + ["list"]
        var index = testIndex + 1
        while index < arguments.count {
            let word = arguments[index]
            if ["--package-path", "--scratch-path", "--build-path", "-c", "--configuration"].contains(word), index + 1 < arguments.count {
                listArguments += [word, arguments[index + 1]]
                index += 1
            } else if word == "--skip-build" {
                listArguments.append(word)
            }
            index += 1
        }
        let names = try list(listArguments)
        // A report names XCTest tests `Class.test` and Swift Testing ones by their function (or
        // display name), where the list says `Module.Class/test` and `Module.function()`: a
        // duration under the report's name counts for the listed test.
        var aliased = assignment
        for name in names where assignment.assigned[name] == nil {
            if let shard = assignment.assigned[reportName(listed: name)] { aliased.assigned[name] = shard }
        }
        let selected = aliased.select(names, for: position)
        // One alternation of the exact names (a regex, as swift test's --filter takes), anchored
        // at the start and ended by `/` or the end: Swift Testing matches its own identifiers,
        // which go on past the name (`Module.test()/File.swift:12:2`), XCTest `Module.Class/test`.
        let escaped = selected.map { NSRegularExpression.escapedPattern(for: $0) }
        let filter = selected.isEmpty ? "^$" : "^(" + escaped.joined(separator: "|") + ")(/|$)"
        Stderr.write("confine: shard \(position): \(selected.count) of \(names.count) tests (swift test list)\n")
        return arguments + ["--filter", filter]
    }

    /// The name confine's report gives a test `swift test list` names: `Module.Class/test` →
    /// `Class.test`, `Module.function()` → `function()`.
    static func reportName(listed name: String) -> String {
        if let slash = name.firstIndex(of: "/") {
            let type = name[..<slash].split(separator: ".").last.map(String.init) ?? String(name[..<slash])
            return "\(type).\(name[name.index(after: slash)...])"
        }
        return name.split(separator: ".", maxSplits: 1).last.map(String.init) ?? name
    }

    /// The names `swift test list` prints, one per line.
    static func list(_ command: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do { try process.run() } catch {
            Stderr.write("confine: --shard: cannot run \(command.joined(separator: " ")): \(error)\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Stderr.write("confine: --shard: \(command.joined(separator: " ")) exited with status \(process.terminationStatus)\n")
            throw ExitCode(ExitCodes.setupFailed)
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
        (--shard-durations), else by a stable hash of each name.
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
        if list == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: list) else {
                Stderr.write("confine shard: cannot read \(list)\n")
                throw ExitCode(ExitCodes.usage)
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let names = text.split(separator: "\n").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        for name in try sharding.assignment(total: position.total).select(names, for: position) { print(name) }
    }
}
