import ArgumentParser
import ConfineCore

@main
struct Confine: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "confine",
        abstract: "Run a test suite under production container limits and report how close it came to them.",
        discussion: """
        Exit codes: 0 passed; 1-123 the command's own failure; 64 invalid arguments or profile; \
        99 a budget failed (or an OOM kill in the group while the main process succeeded; for compare: a \
        regression); 66 compare's baseline report does not exist; 124 timeout (or stalled after an OOM kill: --stall-timeout); \
        125 confine could not set up the run; 137 the main process was OOM-killed; 128+n the main \
        process died of signal n.
        """,
        version: version,
        subcommands: [Run.self, Load.self, Capacity.self, ReportCommand.self, CompareCommand.self, MergeCommand.self, ShardCommand.self, BisectMemory.self, DoctorCommand.self, ProfileCommand.self, SeccompCommand.self, GC.self, CopiesLauncher.self]
    )
}

/// The command `run` and `bisect-memory` capture after their own options (`captureForPassthrough`):
/// what follows `--`, or everything from the first word confine does not know.
enum PassthroughCommand {
    /// The command's words, without a leading `--`.
    static func words(_ captured: [String]) -> [String] {
        captured.first == "--" ? Array(captured.dropFirst()) : captured
    }

    /// A first word that looks like an option (and is not `--`) is a mistyped option of
    /// `command`, not a program to run: `confine run --memry 64Mi -- true` must not run
    /// `--memry`. The error names the closest option `command` has (from its own help text).
    ///
    /// Words before a later `--` (`confine run --no-probe yes -- pytest`: `yes` is no value of
    /// `--no-probe`) would be the command, and the suite after `--` its arguments: refused, naming
    /// the stray word, rather than run something else and pass.
    static func validate(_ captured: [String], of command: any ParsableCommand.Type) throws {
        guard let first = captured.first, first != "--" else { return }
        if first.hasPrefix("-") {
            let name = String(first.prefix { $0 != "=" })
            var message = "unknown option '\(name)'"
            if let suggestion = closestMatch(to: name, in: optionNames(of: command)) { message += "; did you mean '\(suggestion)'?" }
            throw ValidationError(message + " (the command to run goes after --)")
        }
        if let separator = captured.firstIndex(of: "--") {
            let stray = captured[..<separator].map { "'\($0)'" }.joined(separator: " ")
            throw ValidationError("\(stray) before -- is not an option of this command; the command to run goes after -- "
                                  + "(did an option that takes no value get one?)")
        }
    }

    /// The long options `command` accepts, as its help lists them.
    static func optionNames(of command: any ParsableCommand.Type) -> [String] {
        let help = command.helpMessage(columns: 1000)
        var names = Set<String>()
        var index = help.startIndex
        while let range = help.range(of: "--", range: index..<help.endIndex) {
            let name = help[range.lowerBound...].prefix { $0 == "-" || $0.isLetter || $0.isNumber }
            if name.count > 2 { names.insert(String(name)) }
            index = range.upperBound
        }
        return names.sorted()
    }
}
