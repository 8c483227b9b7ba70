import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

struct SeccompCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seccomp",
        abstract: "Inspect seccomp profiles.",
        subcommands: [Inspect.self, List.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load, resolve and compile a seccomp profile; print what it does and how long that took.")

        @Argument(help: "A built-in seccomp profile name or an OCI/Docker JSON file.")
        var profile: String

        @Flag(help: "Compile with libseccomp even if a compiled program is cached.")
        var noCache = false

        @Option(help: "Syscalls to show the verdict for.")
        var check: [String] = ["read", "clone3", "unshare", "mount", "bpf", "ptrace"]

        func run() throws {
            let start = Date()
            let prepared: SeccompPreparation.Prepared
            do {
                prepared = try SeccompPreparation.prepare(
                    profile, directories: BuiltinProfiles.directories(), kernelRelease: kernelRelease(),
                    cacheDirectory: noCache ? nil : SeccompCompiler.defaultCacheDirectory())
            } catch {
                throw failWithPlanError(error)
            }
            let (path, resolved, compiled) = (prepared.path, prepared.resolved, prepared.compiled)
            let milliseconds = Date().timeIntervalSince(start) * 1000
            print("profile       \(path)")
            print("default       \(resolved.defaultAction)")
            print("rules         \(resolved.rules.count) after capability, architecture and kernel gating")
            print("program       \(compiled.instructionCount) BPF instructions")
            print("prepared in   \(formatFixed(milliseconds, digits: 2)) ms (load JSON, resolve, compile\(noCache ? "" : " or load from cache"))")
            for name in check { print("  \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(resolved.verdict(syscall: name))") }
            for warning in compiled.warnings { print("warning: \(warning)") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in seccomp profiles.")
        func run() throws {
            for name in SeccompPreparation.builtinNames(in: BuiltinProfiles.directories()) { print(name) }
        }
    }
}
