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
        regression); 66 compare's baseline report does not exist; 124 timeout; \
        125 confine could not set up the run; 137 the main process was OOM-killed; 128+n the main \
        process died of signal n.
        """,
        version: version,
        subcommands: [Run.self, ReportCommand.self, CompareCommand.self, MergeCommand.self, BisectMemory.self, DoctorCommand.self, ProfileCommand.self, SeccompCommand.self, GC.self]
    )
}

/// The command `run` and `bisect-memory` capture after their own options (`captureForPassthrough`):
/// what follows `--`, or everything from the first word confine does not know.
enum PassthroughCommand {
    /// The command's words, without a leading `--`.
    static func words(_ captured: [String]) -> [String] {
        captured.first == "--" ? Array(captured.dropFirst()) : captured
    }

    /// A first word that looks like an option (and is not `--`) is a mistyped confine option,
    /// not a program to run: `confine run --sampling-interval 0 -- true` must not run
    /// `--sampling-interval`.
    static func validate(_ captured: [String]) throws {
        if let first = captured.first, first != "--", first.hasPrefix("-") {
            throw ValidationError("unknown option '\(first)'; the command to run goes after --")
        }
    }
}
