import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Show, check, list and import profiles.",
        subcommands: [Show.self, Lint.self, List.self, Import.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a profile from what production runs: a Kubernetes manifest, a Compose file, an OCI config.json.",
            discussion: """
            Examples:
              confine profile import k8s/deployment.yaml --container api > profiles/api.yaml
              confine profile import docker-compose.yml --service worker > profiles/worker.yaml
              confine profile import bundle/config.json --output profiles/oci.yaml
            Each value is commented with where it came from; what confine cannot reproduce is listed
            at the end (and on stderr). An OCI config's embedded seccomp profile is written beside the
            output as <name>-seccomp.json.
            """)

        @Argument(help: "The manifest, compose file or config.json.")
        var file: String

        @Option(help: ArgumentHelp("The Kubernetes container to import when there are several.", valueName: "name"))
        var container: String?

        @Option(help: ArgumentHelp("The Compose service to import when there are several.", valueName: "name"))
        var service: String?

        @Option(help: ArgumentHelp("Write the profile here instead of stdout.", valueName: "file"))
        var output: String?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                Stderr.write("confine: \(file): cannot read\n")
                throw ExitCode(ExitCodes.usage)
            }
            let imported: ImportedProfile
            do {
                imported = try ProfileImporter.importProfile(path: file, text: String(decoding: data, as: UTF8.self),
                                                             select: container ?? service)
            } catch {
                Stderr.write("confine: \(error)\n")
                throw ExitCode(ExitCodes.usage)
            }
            for warning in imported.warnings {
                Stderr.write("confine: warning: \(warning)\n")
            }
            if let seccomp = imported.seccompJSON {
                let directory = output.map { ($0 as NSString).deletingLastPathComponent } ?? FileManager.default.currentDirectoryPath
                let path = (directory.isEmpty ? "." : directory) + "/\(imported.name)-seccomp.json"
                try seccomp.write(to: URL(fileURLWithPath: path))
                Stderr.write("confine: wrote the embedded seccomp profile to \(path)\n")
            }
            if let output {
                try Data(imported.yaml().utf8).write(to: URL(fileURLWithPath: output))
            } else {
                Stdout.write(imported.yaml())
            }
        }
    }

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
            abstract: "Check profiles; errors name file:line:column. Exit 64 if any is invalid.",
            discussion: """
            A .json file is read as a seccomp profile (OCI/Docker JSON), as `confine run --seccomp` reads it:
            errors name the JSON path (syscalls[1].args[0].op), and syscall names libseccomp does not
            know are warnings naming where they are (syscalls[3].names[1]).
            """)

        @Argument(help: "Profile files or built-in names; seccomp profiles as .json files.")
        var profiles: [String]

        func validate() throws {
            guard !profiles.isEmpty else { throw ValidationError("name at least one profile to check") }
        }

        func run() throws {
            let loader = BuiltinProfiles.loader()
            var failed = false
            for profile in profiles {
                if profile.hasSuffix(".json") {
                    do {
                        let warnings = try SeccompPreparation.lint(profile, directories: BuiltinProfiles.directories(),
                                                                   kernelRelease: kernelRelease())
                        for warning in warnings { Stderr.write("\(warning)\n") }
                        print("\(profile): ok" + (warnings.isEmpty ? "" : " (\(warnings.count) warning\(warnings.count == 1 ? "" : "s"))"))
                    } catch {
                        failed = true
                        Stderr.write("\(error)\n")
                    }
                    continue
                }
                do {
                    _ = try loader.resolve(profile)
                    print("\(profile): ok")
                } catch {
                    failed = true
                    Stderr.write("\(error)\n")
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
