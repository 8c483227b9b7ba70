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
    Stderr.write("confine: \(error)\n")
    return ExitCode(ExitCodes.usage)
}

/// Prints a plan error (a malformed seccomp profile, an allow-list name that does not resolve)
/// the way compilers do and exits 64.
func failWithPlanError(_ error: PlanError) -> ExitCode {
    Stderr.write("confine: \(error)\n")
    return ExitCode(ExitCodes.usage)
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
