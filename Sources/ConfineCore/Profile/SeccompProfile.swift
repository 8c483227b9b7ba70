import Foundation

// OCI / Docker seccomp profiles (the JSON `docker run --security-opt seccomp=` and
// `linux.seccomp` in an OCI config.json take), loaded unchanged, and resolved the way Docker
// resolves them for one container: capability-, architecture- and kernel-gated rules applied.
// Compiling to BPF and installing are ConfineLinux's job (issue 3); this file is pure parsing.

/// What a rule or the default does to a matching syscall.
public enum SeccompAction: Equatable, Sendable, CustomStringConvertible {
    case allow
    case errno(Int32)
    case killThread
    case killProcess
    case trap
    case log
    case notify

    public var description: String {
        switch self {
        case .allow: return "SCMP_ACT_ALLOW"
        case .errno(let code): return "SCMP_ACT_ERRNO(\(code))"
        case .killThread: return "SCMP_ACT_KILL_THREAD"
        case .killProcess: return "SCMP_ACT_KILL_PROCESS"
        case .trap: return "SCMP_ACT_TRAP"
        case .log: return "SCMP_ACT_LOG"
        case .notify: return "SCMP_ACT_NOTIFY"
        }
    }

    /// The action without its errno: what a report's `seccomp.violations[].action` says.
    public enum Kind: String, ReportValue {
        /// `SCMP_ACT_ALLOW`: the call ran (the listener found no rule denying these arguments).
        case allow
        /// `SCMP_ACT_ERRNO`: the call failed with the rule's errno.
        case errno
        /// `SCMP_ACT_KILL_THREAD`: the calling thread got SIGSYS.
        case killThread = "kill_thread"
        /// `SCMP_ACT_KILL_PROCESS`: the calling process got SIGSYS.
        case killProcess = "kill_process"
        /// `SCMP_ACT_TRAP`: the caller got SIGSYS.
        case trap
        /// `SCMP_ACT_LOG`: the call ran and was logged.
        case log
        /// `SCMP_ACT_NOTIFY`: no other supervisor under confine, so the call failed with ENOSYS.
        case notify
    }

    public var kind: Kind {
        switch self {
        case .allow: return .allow
        case .errno: return .errno
        case .killThread: return .killThread
        case .killProcess: return .killProcess
        case .trap: return .trap
        case .log: return .log
        case .notify: return .notify
        }
    }

    /// Reads `description` back: `SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO(1)`, …
    public init?(description: String) {
        if description.hasPrefix("SCMP_ACT_ERRNO("), description.hasSuffix(")"),
           let code = Int32(description.dropFirst("SCMP_ACT_ERRNO(".count).dropLast()) {
            self = .errno(code)
            return
        }
        guard let action = [SeccompAction.allow, .killThread, .killProcess, .trap, .log, .notify]
            .first(where: { $0.description == description }) else { return nil }
        self = action
    }
}

/// A report's `seccomp.defaultAction`: written as `description`.
extension SeccompAction: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let action = SeccompAction(description: text) else {
            let expected = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO(errno)", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"]
            throw ReportJSON.unknownValue(text, expected: expected, codingPath: decoder.codingPath)
        }
        self = action
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public enum SeccompOperator: String, Equatable, Sendable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

public struct SeccompArgument: Equatable, Sendable {
    public var index: Int
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: SeccompOperator

    /// Whether a syscall argument value satisfies this condition (libseccomp's semantics:
    /// MASKED_EQ compares `arg & value == valueTwo`).
    public func matches(_ argument: UInt64) -> Bool {
        switch op {
        case .notEqual: return argument != value
        case .lessThan: return argument < value
        case .lessOrEqual: return argument <= value
        case .equal: return argument == value
        case .greaterOrEqual: return argument >= value
        case .greaterThan: return argument > value
        case .maskedEqual: return argument & value == valueTwo
        }
    }
}

/// `includes` / `excludes` of a rule.
public struct SeccompFilterCondition: Equatable, Sendable {
    public var caps: [String] = []
    public var arches: [String] = []
    public var minKernel: String?
}

public struct SeccompRule: Equatable, Sendable {
    public var names: [String]
    /// Where each of `names` is in the file, as a JSON path (`syscalls[3].names[1]`, `syscalls[4].name`).
    public var namePaths: [String] = []
    public var action: SeccompAction
    public var args: [SeccompArgument]
    public var includes: SeccompFilterCondition
    public var excludes: SeccompFilterCondition
}

public struct SeccompProfile: Equatable, Sendable {
    public var defaultAction: SeccompAction
    /// `SCMP_ARCH_*` names from `architectures` and `archMap` (main and sub-architectures).
    public var architectures: [String]
    public var flags: [String]
    public var rules: [SeccompRule]
    /// What the loader passed over as the runtimes' loaders do (keys none of them reads), each
    /// named by its JSON path; `--strict` makes them errors.
    public var warnings: [String] = []
}

/// A profile resolved for one container: only the rules that apply, in order.
public struct ResolvedSeccompProfile: Equatable, Sendable {
    public var defaultAction: SeccompAction
    public var architectures: [String]
    public var flags: [String]
    public var rules: [(name: String, action: SeccompAction, args: [SeccompArgument])]

    public init(defaultAction: SeccompAction, architectures: [String], flags: [String],
                rules: [(name: String, action: SeccompAction, args: [SeccompArgument])]) {
        self.defaultAction = defaultAction
        self.architectures = architectures
        self.flags = flags
        self.rules = rules
    }

    public static func == (lhs: ResolvedSeccompProfile, rhs: ResolvedSeccompProfile) -> Bool {
        lhs.defaultAction == rhs.defaultAction && lhs.architectures == rhs.architectures && lhs.flags == rhs.flags
            && lhs.rules.count == rhs.rules.count
            && zip(lhs.rules, rhs.rules).allSatisfy { $0.name == $1.name && $0.action == $1.action && $0.args == $1.args }
    }

    /// The verdict for one call, as the kernel filter would give it: a rule without arguments
    /// or whose conditions all hold decides; otherwise the default.
    public func verdict(syscall name: String, arguments: [UInt64] = []) -> SeccompAction {
        var verdict: SeccompAction?
        for rule in rules where rule.name == name {
            let holds = rule.args.allSatisfy { $0.index < arguments.count ? $0.matches(arguments[$0.index]) : $0.matches(0) }
            guard holds else { continue }
            // libseccomp keeps the most restrictive action when several rules match one call.
            verdict = verdict.map { Self.moreRestrictive($0, rule.action) } ?? rule.action
        }
        return verdict ?? defaultAction
    }

    static func moreRestrictive(_ a: SeccompAction, _ b: SeccompAction) -> SeccompAction {
        func rank(_ action: SeccompAction) -> Int {
            switch action {
            case .killProcess: return 0
            case .killThread: return 1
            case .trap: return 2
            case .errno: return 3
            case .notify: return 4
            case .log: return 5
            case .allow: return 6
            }
        }
        return rank(a) <= rank(b) ? a : b
    }
}

/// A bad seccomp profile: the file and the JSON path of what is wrong.
public struct SeccompProfileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var message: String
    public var description: String { "\(file): error: \(path.isEmpty ? "" : path + ": ")\(message)" }
    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }
}

public enum SeccompProfileLoader {

    static let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"]
    /// The keys of moby's and containers/common's `Seccomp` (containers/common adds `defaultErrno`,
    /// an errno name, beside the numeric `defaultErrnoRet`).
    static let topLevelKeys = ["defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "flags", "syscalls",
                               "listenerPath", "listenerMetadata", "comment"]
    /// A rule's keys: `errno` (a name) is containers/common's, beside `errnoRet`.
    static let ruleKeys = ["names", "name", "action", "errnoRet", "errno", "args", "includes", "excludes", "comment"]

    public static func load(file: String, data: Data) throws(SeccompProfileError) -> SeccompProfile {
        func fail(_ path: String, _ message: String) -> SeccompProfileError {
            SeccompProfileError(file: file, path: path, message: message)
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw fail("", "not valid JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")")
        }
        guard let top = json as? [String: Any] else { throw fail("", "expected a JSON object with defaultAction and syscalls") }
        // Keys no runtime reads are ignored by their JSON decoders (Go's encoding/json): a
        // warning here, so any profile Docker, podman or CRI-O load, confine loads.
        var warnings: [String] = []
        for key in top.keys.sorted() where !topLevelKeys.contains(key) {
            warnings.append("\(key): \(unknownKeyMessage(key, allowed: topLevelKeys)); ignored, as the runtimes ignore it")
        }
        guard let defaultName = top["defaultAction"] as? String else {
            throw fail("defaultAction", "missing; expected an action such as SCMP_ACT_ERRNO")
        }
        let defaultErrno = try errno(number: top["defaultErrnoRet"], name: top["defaultErrno"], path: "", fail, &warnings)
        let defaultAction = try action(defaultName, errnoRet: defaultErrno, path: "defaultAction", fail)

        var architectures: [String] = []
        if let list = top["architectures"] {
            guard let names = list as? [String] else { throw fail("architectures", "expected a list of SCMP_ARCH_* names") }
            architectures += names
        }
        if let map = top["archMap"] {
            guard let entries = map as? [[String: Any]] else { throw fail("archMap", "expected a list of objects") }
            for (index, entry) in entries.enumerated() {
                guard let main = entry["architecture"] as? String else {
                    throw fail("archMap[\(index)].architecture", "missing; expected an SCMP_ARCH_* name")
                }
                architectures.append(main)
                architectures += (entry["subArchitectures"] as? [String]) ?? []
            }
        }
        let flags = (top["flags"] as? [String]) ?? []

        var rules: [SeccompRule] = []
        let syscalls = top["syscalls"] ?? [Any]()
        guard let list = syscalls as? [Any] else { throw fail("syscalls", "expected a list of rules") }
        for (index, item) in list.enumerated() {
            let path = "syscalls[\(index)]"
            guard let rule = item as? [String: Any] else { throw fail(path, "expected an object with names and action") }
            for key in rule.keys.sorted() where !ruleKeys.contains(key) {
                warnings.append("\(path).\(key): \(unknownKeyMessage(key, allowed: ruleKeys)); ignored, as the runtimes ignore it")
            }
            var names = (rule["names"] as? [String]) ?? []
            var namePaths = names.indices.map { "\(path).names[\($0)]" }
            if let name = rule["name"] as? String {
                names.append(name)
                namePaths.append("\(path).name")
            }
            guard !names.isEmpty else { throw fail(path, "needs 'names' (a list of syscall names)") }
            guard let actionName = rule["action"] as? String else {
                throw fail("\(path).action", "missing; expected an action such as SCMP_ACT_ALLOW")
            }
            let errnoRet = try errno(number: rule["errnoRet"], name: rule["errno"], path: "\(path).", fail, &warnings)
            let ruleAction = try action(actionName, errnoRet: errnoRet ?? (actionName == "SCMP_ACT_ERRNO" ? defaultErrno : nil),
                                        path: "\(path).action", fail)
            var args: [SeccompArgument] = []
            if let argList = rule["args"], !(argList is NSNull) {
                guard let entries = argList as? [[String: Any]] else { throw fail("\(path).args", "expected a list of objects") }
                for (argIndex, arg) in entries.enumerated() {
                    let argPath = "\(path).args[\(argIndex)]"
                    guard let index = (arg["index"] as? NSNumber)?.intValue, (0...5).contains(index) else {
                        throw fail("\(argPath).index", "expected an argument index from 0 to 5")
                    }
                    guard let opName = arg["op"] as? String else { throw fail("\(argPath).op", "missing; expected SCMP_CMP_EQ and the like") }
                    guard let op = SeccompOperator(rawValue: opName) else {
                        throw fail("\(argPath).op", "unknown operator '\(opName)'; expected one of "
                                   + SeccompOperator.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    args.append(SeccompArgument(index: index, value: try number(arg["value"], "\(argPath).value", fail),
                                                valueTwo: try number(arg["valueTwo"] ?? 0, "\(argPath).valueTwo", fail), op: op))
                }
            }
            rules.append(SeccompRule(names: names, namePaths: namePaths, action: ruleAction, args: args,
                                     includes: try condition(rule["includes"], "\(path).includes", fail),
                                     excludes: try condition(rule["excludes"], "\(path).excludes", fail)))
        }
        return SeccompProfile(defaultAction: defaultAction, architectures: architectures, flags: flags, rules: rules, warnings: warnings)
    }

    /// Applies `includes`/`excludes` as Docker does for a container with `capabilities` on
    /// `architecture` (Go names: amd64, arm64) under kernel `kernelRelease`.
    public static func resolve(_ profile: SeccompProfile, capabilities: [String] = ResolvedProfile.defaultCapabilities,
                               architecture: String = "amd64", kernelRelease: String) -> ResolvedSeccompProfile {
        var rules: [(name: String, action: SeccompAction, args: [SeccompArgument])] = []
        for rule in profile.rules where applies(rule, capabilities: capabilities, architecture: architecture, kernelRelease: kernelRelease) {
            for name in rule.names { rules.append((name, rule.action, rule.args)) }
        }
        return ResolvedSeccompProfile(defaultAction: profile.defaultAction, architectures: profile.architectures,
                                      flags: profile.flags, rules: rules)
    }

    /// Whether a rule applies to a container with `capabilities` on `architecture` under
    /// `kernelRelease`: every `includes` condition holds and no `excludes` one does.
    public static func applies(_ rule: SeccompRule, capabilities: [String], architecture: String, kernelRelease: String) -> Bool {
        let caps = Set(capabilities)
        let kernel = KernelVersion(release: kernelRelease) ?? KernelVersion(0)
        let includes = rule.includes
        let included = (includes.caps.isEmpty || includes.caps.allSatisfy(caps.contains))
            && (includes.arches.isEmpty || includes.arches.contains(architecture))
            && (includes.minKernel.map { kernel >= KernelVersion(release: $0) ?? KernelVersion(0) } ?? true)
        let excluded = (!rule.excludes.caps.isEmpty && rule.excludes.caps.contains(where: caps.contains))
            || (!rule.excludes.arches.isEmpty && rule.excludes.arches.contains(architecture))
            || (rule.excludes.minKernel.map { kernel >= KernelVersion(release: $0) ?? KernelVersion(0) } ?? false)
        return included && !excluded
    }

    // MARK: - helpers

    private static func action(_ name: String, errnoRet: Int32?, path: String,
                               _ fail: (String, String) -> SeccompProfileError) throws(SeccompProfileError) -> SeccompAction {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(errnoRet ?? 1) // EPERM, as runc defaults
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .killThread
        case "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "SCMP_ACT_TRAP": return .trap
        case "SCMP_ACT_LOG": return .log
        case "SCMP_ACT_TRACE": return .errno(38) // no tracer under confine: ENOSYS, as runc does without one
        case "SCMP_ACT_NOTIFY": return .notify
        default:
            var message = "unknown action '\(name)'"
            if let suggestion = closestMatch(to: name, in: actions) { message += "; did you mean '\(suggestion)'?" }
            throw fail(path, message + " (expected one of: \(actions.joined(separator: ", ")))")
        }
    }

    /// The errno of a default (`defaultErrnoRet` / `defaultErrno`) or a rule (`errnoRet` /
    /// `errno`): the number, else the name read as containers/common reads it; both given and
    /// disagreeing, the number wins (it is what moby and runc read) with a warning.
    private static func errno(number: Any?, name: Any?, path: String, _ fail: (String, String) -> SeccompProfileError,
                              _ warnings: inout [String]) throws(SeccompProfileError) -> Int32? {
        let numberKey = path.isEmpty ? "defaultErrnoRet" : "\(path)errnoRet"
        let nameKey = path.isEmpty ? "defaultErrno" : "\(path)errno"
        let code = try errnoValue(number, path: numberKey, fail)
        guard let name, !(name is NSNull) else { return code }
        guard let text = name as? String, let named = ErrnoNames.byName[text.uppercased()] else {
            var message = "expected an errno name such as EPERM or ENOSYS, found " + ((name as? String).map { "'\($0)'" } ?? jsonKind(name))
            if let text = name as? String, let suggestion = closestMatch(to: text.uppercased(), in: Array(ErrnoNames.byName.keys)) {
                message += "; did you mean '\(suggestion)'?"
            }
            throw fail(nameKey, message)
        }
        if let code, code != named {
            warnings.append("\(nameKey): \(text) (\(named)) disagrees with \(numberKey) \(code); the number is used")
            return code
        }
        return named
    }

    private static func errnoValue(_ value: Any?, path: String,
                                   _ fail: (String, String) -> SeccompProfileError) throws(SeccompProfileError) -> Int32? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, let code = Int32(exactly: number.doubleValue), code > 0, code < 4096 else {
            throw fail(path, "expected an errno number from 1 to 4095 (1 is EPERM, 38 is ENOSYS)")
        }
        return code
    }

    private static func number(_ value: Any?, _ path: String,
                               _ fail: (String, String) -> SeccompProfileError) throws(SeccompProfileError) -> UInt64 {
        guard let number = value as? NSNumber, number.doubleValue >= 0 else {
            throw fail(path, "expected a non-negative whole number")
        }
        return number.uint64Value
    }

    private static func condition(_ value: Any?, _ path: String,
                                  _ fail: (String, String) -> SeccompProfileError) throws(SeccompProfileError) -> SeccompFilterCondition {
        guard let value, !(value is NSNull) else { return SeccompFilterCondition() }
        guard let object = value as? [String: Any] else { throw fail(path, "expected an object with caps, arches or minKernel") }
        for key in object.keys.sorted() where !["caps", "arches", "minKernel"].contains(key) {
            throw fail("\(path).\(key)", unknownKeyMessage(key, allowed: ["caps", "arches", "minKernel"]))
        }
        return SeccompFilterCondition(caps: (object["caps"] as? [String]) ?? [], arches: (object["arches"] as? [String]) ?? [],
                                      minKernel: object["minKernel"] as? String)
    }

    private static func unknownKeyMessage(_ key: String, allowed: [String]) -> String {
        var message = "unknown key '\(key)'"
        if let suggestion = closestMatch(to: key, in: allowed) { message += "; did you mean '\(suggestion)'?" }
        return message + " (expected one of: \(allowed.joined(separator: ", ")))"
    }
}
