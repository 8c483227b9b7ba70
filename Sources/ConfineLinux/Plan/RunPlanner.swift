#if canImport(Glibc)
import Glibc
#endif
import ConfineCore
import struct Foundation.Data

/// What a user asked of one run besides its profile: the command, its environment, and the
/// run options of `confine run`.
public struct RunOptions: Sendable {
    public var arguments: [String]
    public var environment: [String]
    public var confineVersion: String
    /// Open the probe channel (off with `--no-probe`).
    public var probeChannel = true
    /// `--runner`: nil reads no runner output.
    public var runnerOutput: RunnerOutputKind?
    /// `--runner auto` with no runner in the command: find it in the process tree.
    public var detectsRunner = false
    /// `--junit` files, read after the run.
    public var junitPaths: [String] = []
    /// `--strict`: syscall names libseccomp does not know are errors, not warnings.
    public var strictSeccomp = false
    /// Directories holding the built-in profiles; a seccomp name is looked up in `<dir>/seccomp/<name>.json`.
    public var profileDirectories: [String] = []

    public init(arguments: [String], environment: [String], confineVersion: String) {
        self.arguments = arguments
        self.environment = environment
        self.confineVersion = confineVersion
    }
}

/// What the planner reads from the machine, injectable so plans can be made in unit tests
/// without root, a kernel of a given release, or DNS.
public struct PlanHost: Sendable {
    /// `geteuid() == 0`: containment needs root.
    public var isRoot: Bool
    /// `/proc/self/mountinfo` (the cgroup mounts containment remounts read-only); nil if unreadable.
    public var mountInfo: String?
    /// `uname -r`, for seccomp rules gated by `minKernel`.
    public var kernelRelease: String
    /// The machine's architecture in Go's names (`amd64`, `arm64`), for arch-gated seccomp rules.
    public var architecture: String = SeccompCompiler.hostArchitecture
    /// The highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`).
    public var capabilityLast: Int32 = 40
    /// Those of Docker's read-only /proc paths that exist here (containment remounts them).
    public var existingProcPaths: [String] = []
    /// Where compiled seccomp programs are cached; nil compiles every time.
    public var seccompCacheDirectory: String?
    /// Resolves the allow-list's names to addresses (getaddrinfo on the real host).
    public var resolveEndpoints: @Sendable ([NetworkEndpoint]) throws(NetworkResolutionError) -> [ResolvedEndpoint]

    public init(isRoot: Bool, mountInfo: String?, kernelRelease: String, seccompCacheDirectory: String?,
                resolveEndpoints: @escaping @Sendable ([NetworkEndpoint]) throws(NetworkResolutionError) -> [ResolvedEndpoint]) {
        self.isRoot = isRoot
        self.mountInfo = mountInfo
        self.kernelRelease = kernelRelease
        self.seccompCacheDirectory = seccompCacheDirectory
        self.resolveEndpoints = resolveEndpoints
    }

    /// This machine, as confine runs on it.
    public static func current() -> PlanHost {
        var host = PlanHost(isRoot: geteuid() == 0, mountInfo: try? ProcFS.readText(.current, "mountinfo"),
                            kernelRelease: ConfineLinux.kernelRelease(), seccompCacheDirectory: SeccompCompiler.defaultCacheDirectory(),
                            resolveEndpoints: { endpoints throws(NetworkResolutionError) in try NetworkAllowList.resolve(endpoints) })
        host.capabilityLast = (try? readTextFile("/proc/sys/kernel/cap_last_cap")).flatMap { Int32($0.trimmingWhitespace()) } ?? 40
        host.existingProcPaths = ContainmentPlan.dockerReadOnlyProcPaths.filter(fileExists)
        return host
    }
}

/// Why a plan could not be made. Each is the user's input (exit 64); `description` names the
/// file and, for seccomp JSON, the path within it.
public enum PlanError: Error, Sendable, CustomStringConvertible {
    /// A name in the network allow-list did not resolve.
    case network(NetworkResolutionError)
    /// No built-in seccomp profile by that name and no such file.
    case seccompNotFound(reference: String, builtinNames: [String])
    /// The seccomp JSON is malformed (names the file and JSON path).
    case seccompProfile(SeccompProfileError)
    /// libseccomp refused the resolved profile.
    case seccompCompile(path: String, SeccompCompileError)
    /// The seccomp file is not a regular file, or too large to be a profile.
    case seccompFile(path: String, reason: String)
    /// `--strict` and the profile names syscalls libseccomp does not know.
    case unknownSyscalls(path: String, warning: String)
    /// A volume or a path kept writable that this machine cannot hold as asked (a file, a link to a
    /// kernel tree, too many mounts).
    case container(String)

    public var description: String {
        switch self {
        case .container(let message): "container: \(message)"
        case .network(let error): "network: \(error)"
        case .seccompNotFound(let reference, let names):
            "seccomp: no built-in profile or file named '\(reference)' (built-in: \(names.joined(separator: ", ")))"
        case .seccompProfile(let error): "\(error)"
        case .seccompCompile(let path, let error): "\(path): error: \(error)"
        case .seccompFile(let path, let reason): "\(path): error: \(reason); expected an OCI/Docker seccomp JSON file"
        case .unknownSyscalls(let path, let warning): "\(path): error: \(warning) (--strict)"
        }
    }
}

/// The plan stage: one resolved profile and the run options in, one `RunPlan` out. Resolves the
/// network allow-list, decides containment, and prepares the seccomp filter with the calls
/// confine must see (the allow-list's connect/send*, containment's signals and write-opens).
public enum RunPlanner {
    /// The profile's variables over the inherited ones, as a runtime sets the manifest's over the
    /// image's — but confine's own parts of PYTHONPATH (the directory holding confine_probe.py)
    /// and PYTEST_PLUGINS (confine_pytest) are kept after the profile's, or the plugin the run
    /// names would not load.
    static func environment(_ inherited: [String], with env: [String: String]) -> [String] {
        var values: [String: String] = [:]
        for entry in inherited {
            let name = String(entry.prefix { $0 != "=" })
            values[name] = String(entry.dropFirst(name.count + 1))
        }
        var merged = values
        for (name, value) in env { merged[name] = value }
        if let given = env["PYTHONPATH"], let old = values["PYTHONPATH"] {
            let ours = old.split(separator: ":").map(String.init).filter { fileExists($0 + "/confine_probe.py") }
            merged["PYTHONPATH"] = ([given] + ours).filter { !$0.isEmpty }.joined(separator: ":")
        }
        if let given = env["PYTEST_PLUGINS"], let old = values["PYTEST_PLUGINS"], old.split(separator: ",").contains("confine_pytest") {
            let plugins = given.split(separator: ",").map(String.init)
            merged["PYTEST_PLUGINS"] = (plugins.contains("confine_pytest") ? plugins : plugins + ["confine_pytest"]).joined(separator: ",")
        }
        return merged.map { "\($0.key)=\($0.value)" }.sorted()
    }

    public static func plan(_ profile: ResolvedProfile, _ options: RunOptions, host: PlanHost = .current()) throws(PlanError) -> RunPlan {
        var plan = RunPlan(arguments: options.arguments, environment: options.environment, profile: profile,
                           confineVersion: options.confineVersion)
        plan.probeChannel = options.probeChannel
        plan.runnerOutput = options.runnerOutput
        plan.detectsRunner = options.runnerOutput == nil && options.detectsRunner
        plan.junitPaths = options.junitPaths

        var intercepting: [String] = []
        if case .allow(let endpoints) = profile.networkProfile {
            do {
                plan.networkAllowList = try host.resolveEndpoints(endpoints)
            } catch {
                throw .network(error)
            }
            intercepting = NetworkAllowList.interceptedSyscalls
        }
        plan.container = ContainerFilesystem.make(for: profile, host: host, groupName: plan.groupName)
        if let problem = plan.container?.hostProblem() { throw .container(problem) }
        if let warning = plan.container?.warning { plan.setupWarnings.append(warning) }
        if let env = profile.env, !env.isEmpty {
            plan.environment = Self.environment(plan.environment, with: env)
        }
        let containment = ContainmentPlan.make(for: profile, host: host)
        plan.containment = containment.plan
        if let warning = containment.warning { plan.setupWarnings.append(warning) }

        // With containment, signals, ptrace and writes to what a container cannot write pass by
        // confine too — with the profile's seccomp filter, or one of its own when it has none
        // (a Kubernetes pod runs Unconfined unless it asks for RuntimeDefault).
        if containment.plan != nil { intercepting += ContainmentGuard.interceptedSyscalls }
        // Under a read-only root or a non-root user, names made and removed are the pod's faults too.
        if containment.plan != nil, let container = plan.container, container.refusal == nil,
           !container.readOnlyMounts.isEmpty || container.identity.map({ $0.uid != 0 }) == true {
            intercepting += ContainmentGuard.pathSyscalls
        }
        if let reference = profile.seccomp {
            let prepared = try SeccompPreparation.prepare(reference, directories: options.profileDirectories,
                                                          capabilities: profile.capabilities, intercepting: intercepting,
                                                          kernelRelease: host.kernelRelease, architecture: host.architecture,
                                                          cacheDirectory: host.seccompCacheDirectory)
            if options.strictSeccomp, let unknown = prepared.compiled.warnings.first(where: { $0.hasPrefix(SeccompCompiler.unknownSyscallsWarning) }) {
                throw .unknownSyscalls(path: prepared.path, warning: unknown)
            }
            if options.strictSeccomp, let ignored = prepared.profile.warnings.first {
                throw .seccompProfile(SeccompProfileError(file: prepared.path, path: "", message: "\(ignored) (--strict)"))
            }
            plan.seccomp = prepared.compiled
        } else if !intercepting.isEmpty {
            // No seccomp profile: a filter that allows everything but hands connect/send* (the
            // allow-list) and containment's calls to confine.
            let allowAll = ResolvedSeccompProfile(defaultAction: .allow, architectures: [], flags: [], rules: [])
            do {
                plan.seccomp = try SeccompCompiler.compile(allowAll, intercepting: intercepting, cacheDirectory: host.seccompCacheDirectory)
            } catch {
                throw .seccompCompile(path: containment.plan != nil ? "(containment)" : "(network allow-list)", error)
            }
            plan.seccompOnlyIntercepts = true
        }
        return plan
    }
}

/// Seccomp profiles as files: built-in names (`seccomp/<name>.json` in the profile directories)
/// or paths, loaded, resolved for this container and machine, and compiled.
public enum SeccompPreparation {
    public struct Prepared: Sendable {
        /// The JSON file the profile came from.
        public var path: String
        /// The profile as the file says it, before gating.
        public var profile: SeccompProfile
        public var resolved: ResolvedSeccompProfile
        public var compiled: CompiledSeccompFilter
    }

    /// The built-in seccomp profile names found in `directories`, sorted.
    public static func builtinNames(in directories: [String]) -> [String] {
        var names = Set<String>()
        for directory in directories {
            for entry in directoryEntries(directory + "/seccomp") where entry.hasSuffix(".json") { names.insert(String(entry.dropLast(5))) }
        }
        return names.sorted()
    }

    /// The largest seccomp profile confine reads (Docker's default is 27 KiB).
    public static let maximumFileBytes = 16 << 20

    /// Why `path` is not read as a profile: not a regular file (a device, a FIFO would never end
    /// or never come), or larger than `maximumFileBytes`; nil when it can be.
    static func unreadableReason(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil } // reading it says why
        guard info.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        guard info.st_size <= maximumFileBytes else {
            return "\(ByteQuantity.human(UInt64(info.st_size))); a seccomp profile is at most \(ByteQuantity.human(UInt64(maximumFileBytes)))"
        }
        return nil
    }

    /// A built-in name, or a path (profile files make theirs absolute when they are loaded).
    public static func locate(_ reference: String, in directories: [String]) -> String? {
        if !reference.contains("/") && !reference.hasSuffix(".json") {
            for directory in directories {
                let path = directory + "/seccomp/" + reference + ".json"
                if fileExists(path) { return path }
            }
        }
        return fileExists(reference) ? reference : nil
    }

    /// Locates, loads, resolves (capabilities, architecture, `kernelRelease`) and compiles a
    /// seccomp profile. Throws `seccompNotFound`, `seccompProfile` (malformed JSON, with its
    /// path) or `seccompCompile` (libseccomp refused it).
    public static func prepare(_ reference: String, directories: [String],
                               capabilities: [String] = ResolvedProfile.defaultCapabilities, intercepting: [String] = [],
                               kernelRelease: String, architecture: String = SeccompCompiler.hostArchitecture,
                               cacheDirectory: String?) throws(PlanError) -> Prepared {
        if let path = locate(reference, in: directories), let problem = unreadableReason(path) {
            throw .seccompFile(path: path, reason: problem)
        }
        guard let path = locate(reference, in: directories), let bytes = try? readBinaryFile(path) else {
            throw .seccompNotFound(reference: reference, builtinNames: builtinNames(in: directories))
        }
        let profile: SeccompProfile
        do {
            profile = try SeccompProfileLoader.load(file: path, data: Data(bytes))
        } catch {
            throw .seccompProfile(error)
        }
        let resolved = SeccompProfileLoader.resolve(profile, capabilities: capabilities, architecture: architecture,
                                                    kernelRelease: kernelRelease)
        do {
            var compiled = try SeccompCompiler.compile(resolved, intercepting: intercepting, cacheDirectory: cacheDirectory)
            compiled.warnings = profile.warnings.map { "seccomp profile \(path): \($0)" } + compiled.warnings
            return Prepared(path: path, profile: profile, resolved: resolved, compiled: compiled)
        } catch {
            throw .seccompCompile(path: path, error)
        }
    }

    /// `confine profile lint FILE.json`: prepares the profile as `confine run --seccomp` does
    /// (the same errors, with their JSON paths) and returns its warnings, each syscall name
    /// libseccomp does not know named where it is in the file (`syscalls[3].names[1]`).
    public static func lint(_ reference: String, directories: [String],
                            capabilities: [String] = ResolvedProfile.defaultCapabilities,
                            kernelRelease: String, architecture: String = SeccompCompiler.hostArchitecture) throws(PlanError) -> [String] {
        let prepared = try prepare(reference, directories: directories, capabilities: capabilities, kernelRelease: kernelRelease,
                                   architecture: architecture, cacheDirectory: nil)
        var warnings: [String] = []
        for rule in prepared.profile.rules
        where SeccompProfileLoader.applies(rule, capabilities: capabilities, architecture: architecture, kernelRelease: kernelRelease) {
            for (name, path) in zip(rule.names, rule.namePaths) where !SeccompCompiler.isKnown(name) {
                warnings.append("\(prepared.path): warning: \(path): syscall '\(name)' is unknown to libseccomp; the rule skips it")
            }
        }
        for warning in prepared.profile.warnings { warnings.append("\(prepared.path): warning: \(warning)") }
        for warning in prepared.compiled.warnings
        where !warning.hasPrefix(SeccompCompiler.unknownSyscallsWarning) && !warning.hasPrefix("seccomp profile \(prepared.path): ") {
            warnings.append("\(prepared.path): warning: \(warning)")
        }
        return warnings
    }
}
