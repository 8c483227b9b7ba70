import ArgumentParser
import ConfineCore
import Foundation

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Show, check and list profiles.",
        subcommands: [Show.self, Lint.self, List.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a profile fully resolved: extends applied, every default filled in.")

        @Argument(help: "A built-in profile name (k8s-512mi) or a path to a YAML profile.")
        var profile: String

        @Flag(help: "Print JSON instead of YAML.")
        var json = false

        func run() throws {
            let resolved: ResolvedProfile
            do {
                resolved = try BuiltinProfiles.loader().resolve(profile)
            } catch {
                throw failWithProfileError(error)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(resolved), as: UTF8.self))
            } else {
                print(resolved.yaml(), terminator: "")
            }
        }
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check profiles; errors name file:line:column. Exit 64 if any is invalid.")

        @Argument(help: "Profile files or built-in names.")
        var profiles: [String]

        func validate() throws {
            guard !profiles.isEmpty else { throw ValidationError("name at least one profile to check") }
        }

        func run() throws {
            let loader = BuiltinProfiles.loader()
            var failed = false
            for profile in profiles {
                do {
                    _ = try loader.resolve(profile)
                    print("\(profile): ok")
                } catch {
                    failed = true
                    FileHandle.standardError.write(Data("\(error)\n".utf8))
                }
            }
            if failed { throw ExitCode(ExitCodes.usage) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in profiles.")

        func run() throws {
            let loader = BuiltinProfiles.loader()
            for name in loader.builtinNames() {
                let description = (try? loader.resolve(name))?.description ?? ""
                print(name.padding(toLength: max(24, name.count + 2), withPad: " ", startingAt: 0) + description)
            }
        }
    }
}
