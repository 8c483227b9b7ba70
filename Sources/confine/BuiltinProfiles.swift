import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// Where built-in profiles are found: `$CONFINE_PROFILES` (colon-separated directories), the
/// installed `../share/confine/profiles` next to the binary, or the `profiles/` directory of the
/// source checkout the binary was built in.
enum BuiltinProfiles {
    static func directories() -> [String] {
        var directories: [String] = []
        if let variable = ProcessInfo.processInfo.environment["CONFINE_PROFILES"] {
            directories += variable.split(separator: ":").map(String.init)
        }
        let executable = executablePath()
        var directory = (executable as NSString).deletingLastPathComponent
        directories.append(directory + "/../share/confine/profiles")
        while directory.count > 1 {
            let candidate = directory + "/profiles"
            if FileManager.default.fileExists(atPath: candidate + "/container-default.yaml") {
                directories.append(candidate)
                break
            }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return directories.filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func loader() -> ProfileLoader {
        ProfileLoader(builtinDirectories: directories())
    }
}

/// Prints a profile error the way compilers do and exits 64.
func failWithProfileError(_ error: ProfileError) -> ExitCode {
    FileHandle.standardError.write(Data("confine: \(error)\n".utf8))
    return ExitCode(ExitCodes.usage)
}

/// Built-in seccomp profiles: `seccomp/<name>.json` in the built-in profile directories.
enum SeccompProfiles {
    static func builtinNames() -> [String] {
        var names = Set<String>()
        for directory in BuiltinProfiles.directories() {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/seccomp")) ?? []
            for entry in entries where entry.hasSuffix(".json") { names.insert(String(entry.dropLast(5))) }
        }
        return names.sorted()
    }

    /// A built-in name, or a path (profile files make theirs absolute when they are loaded).
    static func locate(_ reference: String) -> String? {
        if !reference.contains("/") && !reference.hasSuffix(".json") {
            for directory in BuiltinProfiles.directories() {
                let path = directory + "/seccomp/" + reference + ".json"
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        return FileManager.default.fileExists(atPath: reference) ? reference : nil
    }

    /// Locates, loads, resolves (capabilities, architecture, running kernel) and compiles a seccomp
    /// profile. Problems are printed naming the file (and JSON path) and become exit 64.
    static func prepare(_ reference: String, capabilities: [String] = ResolvedProfile.defaultCapabilities,
                        intercepting: [String] = [], cacheDirectory: String? = SeccompCompiler.defaultCacheDirectory())
        throws -> (path: String, resolved: ResolvedSeccompProfile, compiled: CompiledSeccompFilter) {
        guard let path = locate(reference), let data = FileManager.default.contents(atPath: path) else {
            let names = builtinNames().joined(separator: ", ")
            FileHandle.standardError.write(Data("confine: seccomp: no built-in profile or file named '\(reference)' (built-in: \(names))\n".utf8))
            throw ExitCode(ExitCodes.usage)
        }
        do {
            let profile = try SeccompProfileLoader.load(file: path, data: data)
            let resolved = SeccompProfileLoader.resolve(profile, capabilities: capabilities,
                                                        architecture: SeccompCompiler.hostArchitecture,
                                                        kernelRelease: kernelRelease())
            let compiled = try SeccompCompiler.compile(resolved, intercepting: intercepting, cacheDirectory: cacheDirectory)
            return (path, resolved, compiled)
        } catch let error as SeccompProfileError {
            FileHandle.standardError.write(Data("confine: \(error)\n".utf8))
            throw ExitCode(ExitCodes.usage)
        } catch let error as SeccompCompileError {
            FileHandle.standardError.write(Data("confine: \(path): error: \(error)\n".utf8))
            throw ExitCode(ExitCodes.usage)
        }
    }
}

/// The Python side of the probe protocol: `confine_probe.py` and the pytest plugin
/// `confine_pytest.py`, from `$CONFINE_PYTHON`, `../share/confine/python` next to the binary,
/// or `Sources/ConfinePython` of the source checkout the binary was built in.
enum PythonSupport {
    static let pytestPlugin = "confine_pytest"

    static func directory() -> String? {
        var candidates: [String] = []
        if let variable = ProcessInfo.processInfo.environment["CONFINE_PYTHON"] { candidates.append(variable) }
        let executable = executablePath()
        var directory = (executable as NSString).deletingLastPathComponent
        candidates.append(((directory + "/../share/confine/python") as NSString).standardizingPath)
        while directory.count > 1 {
            candidates.append(directory + "/Sources/ConfinePython")
            directory = (directory as NSString).deletingLastPathComponent
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/confine_probe.py") }
    }
}
