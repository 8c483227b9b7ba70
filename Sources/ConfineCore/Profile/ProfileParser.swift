import Yams

/// Turns one profile file's YAML into a `ProfileSpec`, or one `ProfileError` naming
/// file:line:column and what was expected.
struct ProfileParser {
    static let topLevelKeys = ["name", "description", "extends", "limits", "timeout", "stall_timeout", "sampling", "seccomp", "capabilities", "network",
                               "budgets", "regression", "filesystem", "user", "env", "working_dir", "hostname"]
    static let filesystemKeys = ["read_only_root", "shm_size", "volumes", "keep_writable"]
    static let volumeKeys = ["path", "medium", "size_limit"]
    static let userKeys = ["uid", "gid", "supplemental_groups", "run_as_non_root"]
    static let limitKeys = ["memory", "swap", "cpus", "cpuset", "pids", "nofile", "ulimits"]
    static let samplingKeys = ["interval"]

    let file: String
    let text: String

    func parse() throws(ProfileError) -> ProfileSpec {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlSyntaxError(error)
        } catch {
            throw ProfileError(file: file, "cannot parse YAML: \(error)")
        }
        guard let root else { throw ProfileError(at: location(line: 1, column: 1), "the profile is empty; expected a mapping with keys such as name, limits, timeout") }
        let top = try mapping(root, what: "the profile", allowed: Self.topLevelKeys)
        var spec = ProfileSpec()
        for (key, value) in top {
            switch key.string {
            case "name": spec.name = try string(value, key: "name")
            case "description": spec.description = try string(value, key: "description")
            case "extends":
                spec.extends = try string(value, key: "extends")
                spec.extendsLocation = location(of: value)
            case "timeout": spec.timeout = try unit(value, key: "timeout", DurationQuantity.parse)
            case "stall_timeout": spec.stallTimeout = try unit(value, key: "stall_timeout", DurationQuantity.parse)
            case "seccomp":
                spec.seccomp = try string(value, key: "seccomp")
                spec.seccompLocation = location(of: value)
            case "capabilities": spec.capabilities = try capabilities(value)
            case "network": spec.network = try network(value)
            case "limits": spec.limits = try limits(value)
            case "budgets": spec.budgets = try budgets(value)
            case "regression": spec.regression = try regression(value)
            case "filesystem": spec.filesystem = try filesystem(value)
            case "user": spec.user = try user(value)
            case "env":
                var env: [String: String] = [:]
                for (name, entry) in try mapping(value, what: "'env'", allowed: nil) {
                    guard !name.string.isEmpty, !name.string.contains("=") else {
                        throw ProfileError(at: location(of: name), "env: '\(name.string)' is not a variable name (no '=', not empty)")
                    }
                    guard let text = entry.scalar?.string else {
                        throw ProfileError(at: location(of: entry), "env.\(name.string) must be a single value, found \(kind(of: entry))")
                    }
                    env[name.string] = text
                }
                spec.env = env
            case "working_dir":
                let directory = try string(value, key: "working_dir")
                guard directory.hasPrefix("/") else {
                    throw ProfileError(at: location(of: value), "'working_dir' must be an absolute path, found '\(directory)'")
                }
                spec.workingDirectory = directory
            case "hostname":
                let name = value.scalar?.string ?? ""
                if let problem = Hostname.problem(name) { throw ProfileError(at: location(of: value), "'hostname': \(problem)") }
                spec.hostname = name
            case "sampling":
                for (samplingKey, samplingValue) in try mapping(value, what: "'sampling'", allowed: Self.samplingKeys) {
                    if samplingKey.string == "interval" {
                        let interval = try unit(samplingValue, key: "sampling.interval", DurationQuantity.parse)
                        guard interval >= 0.001 else {
                            throw ProfileError(at: location(of: samplingValue),
                                               "sampling.interval must be at least 1ms; the kernel's counters do not move faster")
                        }
                        spec.samplingInterval = interval
                    }
                }
            default: break // `mapping` already rejected unknown keys
            }
        }
        return spec
    }

    /// `host`, `none`, `allow:HOST:PORT,...`, or `{allow: [HOST:PORT, ...]}`.
    private func network(_ node: Node) throws(ProfileError) -> NetworkProfile {
        if node.scalar != nil { return try unit(node, key: "network", NetworkProfile.parse) }
        guard let mapping = node.mapping, mapping.count == 1, let entries = mapping["allow"]?.sequence else {
            throw ProfileError(at: location(of: node), "'network' must be host, none, or {allow: [HOST:PORT, ...]}")
        }
        var endpoints: [NetworkEndpoint] = []
        for entry in entries {
            endpoints.append(try unit(entry, key: "network.allow", NetworkEndpoint.parse))
        }
        return .allow(endpoints)
    }

    /// `default` (Docker's set) or a list of capability names, with or without `CAP_`.
    private func capabilities(_ node: Node) throws(ProfileError) -> [String]? {
        if let scalar = node.scalar {
            guard scalar.string == "default" else {
                throw ProfileError(at: location(of: node), "'capabilities' must be 'default' or a list such as [CAP_NET_ADMIN, CAP_SYS_PTRACE]")
            }
            return ResolvedProfile.defaultCapabilities
        }
        guard let sequence = node.sequence else {
            throw ProfileError(at: location(of: node), "'capabilities' must be 'default' or a list such as [CAP_NET_ADMIN, CAP_SYS_PTRACE]")
        }
        var names: [String] = []
        for item in sequence {
            guard let text = item.scalar?.string, !text.isEmpty,
                  text.allSatisfy({ $0.isLetter || $0 == "_" }) else {
                throw ProfileError(at: location(of: item), "capabilities: expected a capability name such as CAP_SYS_PTRACE")
            }
            let upper = text.uppercased()
            names.append(upper.hasPrefix("CAP_") ? upper : "CAP_" + upper)
        }
        return names
    }

    private func limits(_ node: Node) throws(ProfileError) -> LimitsSpec {
        var limits = LimitsSpec()
        for (key, value) in try mapping(node, what: "'limits'", allowed: Self.limitKeys) {
            switch key.string {
            case "memory":
                limits.memory = try positive(unit(value, key: "limits.memory", ByteQuantity.parse), value, "limits.memory")
            case "swap":
                let text = try scalarText(value, key: "limits.swap")
                if text == "max" || text == "unlimited" || text == "-1" {
                    limits.swap = .unlimited
                } else {
                    limits.swap = .bytes(try unit(value, key: "limits.swap", ByteQuantity.parse))
                }
            case "cpus": limits.cpus = try unit(value, key: "limits.cpus", CPUQuantity.parse)
            case "cpuset": limits.cpuset = try unit(value, key: "limits.cpuset", CPUSetList.parse)
            case "pids": limits.pids = try count(value, key: "limits.pids")
            case "nofile":
                guard limits.ulimits["nofile"] == nil else {
                    throw ProfileError(at: location(of: key), "'limits.nofile' is also given under limits.ulimits; keep one")
                }
                limits.ulimits["nofile"] = try ulimit(value, key: "limits.nofile")
            case "ulimits":
                for (name, limit) in try mapping(value, what: "'limits.ulimits'", allowed: Ulimits.names.keys.sorted()) {
                    guard limits.ulimits[name.string] == nil else {
                        throw ProfileError(at: location(of: name), "'limits.nofile' is also given; keep one")
                    }
                    limits.ulimits[name.string] = try ulimit(limit, key: "limits.ulimits.\(name.string)")
                }
            default: break
            }
        }
        return limits
    }

    /// `filesystem: {read_only_root: true, shm_size: 64Mi, volumes: [{path: /cache, medium: memory, size_limit: 100Mi}]}`.
    private func filesystem(_ node: Node) throws(ProfileError) -> FilesystemSpec {
        var filesystem = FilesystemSpec()
        for (key, value) in try mapping(node, what: "'filesystem'", allowed: Self.filesystemKeys) {
            switch key.string {
            case "read_only_root": filesystem.readOnlyRoot = try bool(value, key: "filesystem.read_only_root")
            case "keep_writable":
                guard let items = value.sequence else {
                    throw ProfileError(at: location(of: value), "'filesystem.keep_writable' must be a list of paths ('.' for the working directory)")
                }
                var paths: [String] = []
                for item in items {
                    let text = try string(item, key: "filesystem.keep_writable")
                    if text != ".", let problem = Volume.problem(path: text) {
                        throw ProfileError(at: location(of: item), "filesystem.keep_writable: '\(text)' \(problem) (or '.' for the working directory)")
                    }
                    paths.append(text)
                }
                filesystem.keepWritable = paths
            case "shm_size": filesystem.shmBytes = try positive(unit(value, key: "filesystem.shm_size", ByteQuantity.parse), value, "filesystem.shm_size")
            case "volumes":
                guard let items = value.sequence else {
                    throw ProfileError(at: location(of: value), "'filesystem.volumes' must be a list of {path, medium, size_limit}")
                }
                var volumes: [Volume] = []
                for item in items {
                    var path: String?, medium = Volume.Medium.disk, size: UInt64?
                    for (field, entry) in try mapping(item, what: "a volume", allowed: Self.volumeKeys) {
                        switch field.string {
                        case "path":
                            let text = try string(entry, key: "filesystem.volumes.path")
                            if let problem = Volume.problem(path: text) {
                                throw ProfileError(at: location(of: entry), "a volume's path \(problem), found '\(text)'")
                            }
                            path = text
                        case "medium":
                            let text = try string(entry, key: "filesystem.volumes.medium")
                            guard let parsed = Volume.Medium(rawValue: text.lowercased()) else {
                                throw ProfileError(at: location(of: entry), "a volume's medium must be memory (a tmpfs) or disk, found '\(text)'")
                            }
                            medium = parsed
                        default:
                            size = try positive(unit(entry, key: "filesystem.volumes.size_limit", ByteQuantity.parse), entry, "filesystem.volumes.size_limit")
                        }
                    }
                    guard let path else { throw ProfileError(at: location(of: item), "a volume needs a path") }
                    if volumes.contains(where: { $0.path == path }) {
                        throw ProfileError(at: location(of: item), "the volume \(path) is listed twice")
                    }
                    volumes.append(Volume(path: path, medium: medium, sizeBytes: size))
                }
                filesystem.volumes = volumes
            default: break
            }
        }
        return filesystem
    }

    /// `user: {uid: 10001, gid: 10001, supplemental_groups: [2000], run_as_non_root: true}`, or `user: 10001:10001`.
    private func user(_ node: Node) throws(ProfileError) -> UserSpec {
        if node.scalar != nil { return try unit(node, key: "user", UserSpec.parse) }
        var user = UserSpec()
        func id(_ value: Node, _ key: String) throws(ProfileError) -> UInt32 {
            guard let number = UserSpec.id(try scalarText(value, key: key)) else {
                throw ProfileError(at: location(of: value), "'\(key)' must be a numeric id from 0 to 2147483647, found \(kind(of: value))")
            }
            return number
        }
        for (key, value) in try mapping(node, what: "'user'", allowed: Self.userKeys) {
            switch key.string {
            case "uid": user.uid = try id(value, "user.uid")
            case "gid": user.gid = try id(value, "user.gid")
            case "supplemental_groups":
                guard let items = value.sequence else {
                    throw ProfileError(at: location(of: value), "'user.supplemental_groups' must be a list of group ids")
                }
                var groups: [UInt32] = []
                for item in items { groups.append(try id(item, "user.supplemental_groups")) }
                user.supplementalGroups = groups
            default: user.runAsNonRoot = try bool(value, key: "user.run_as_non_root")
            }
        }
        return user
    }

    private func bool(_ node: Node, key: String) throws(ProfileError) -> Bool {
        switch try scalarText(node, key: key).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ProfileError(at: location(of: node), "'\(key)' must be true or false, found \(kind(of: node))")
        }
    }

    // MARK: - node helpers, each error naming where and what was expected

    /// The pairs of a mapping; `allowed` nil takes any key (`env`).
    func mapping(_ node: Node, what: String, allowed: [String]?) throws(ProfileError) -> [(key: Node, value: Node)] {
        guard let mapping = node.mapping else {
            throw ProfileError(at: location(of: node), "\(what) must be a mapping (key: value lines), found \(kind(of: node))")
        }
        var seen: [String: Node] = [:]
        var pairs: [(key: Node, value: Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                throw ProfileError(at: location(of: key), "keys in \(what) must be plain names, found \(kind(of: key))")
            }
            if let allowed, !allowed.contains(name) {
                var message = "unknown key '\(name)' in \(what)"
                if let suggestion = closestMatch(to: name, in: allowed) { message += "; did you mean '\(suggestion)'?" }
                message += " (expected one of: \(allowed.joined(separator: ", ")))"
                throw ProfileError(at: location(of: key), message)
            }
            if let first = seen[name] {
                throw ProfileError(at: location(of: key),
                                   "duplicate key '\(name)' in \(what) (first given at line \(location(of: first).line))")
            }
            seen[name] = key
            pairs.append((key, value))
        }
        return pairs
    }

    func scalarText(_ node: Node, key: String) throws(ProfileError) -> String {
        guard let scalar = node.scalar else {
            throw ProfileError(at: location(of: node), "'\(key)' must be a single value, found \(kind(of: node))")
        }
        if scalar.style == .plain && (scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null") {
            throw ProfileError(at: location(of: node), "'\(key)' has no value; expected \(expectation(for: key))")
        }
        return scalar.string
    }

    private func string(_ node: Node, key: String) throws(ProfileError) -> String {
        try scalarText(node, key: key)
    }

    private func unit<T>(_ node: Node, key: String, _ parse: (String) throws(UnitError) -> T) throws(ProfileError) -> T {
        let text = try scalarText(node, key: key)
        do {
            return try parse(text)
        } catch {
            throw ProfileError(at: location(of: node), "'\(key)': \(error.message)")
        }
    }

    private func positive(_ bytes: UInt64, _ node: Node, _ key: String) throws(ProfileError) -> UInt64 {
        guard bytes > 0 else {
            throw ProfileError(at: location(of: node), "'\(key)' must be greater than zero; expected \(expectation(for: key))")
        }
        return bytes
    }

    private func count(_ node: Node, key: String) throws(ProfileError) -> Int {
        let text = try scalarText(node, key: key)
        guard let value = Int(text) else {
            throw ProfileError(at: location(of: node), "'\(key)': '\(text)' is not a whole number; expected \(expectation(for: key))")
        }
        guard value > 0 else {
            throw ProfileError(at: location(of: node), "'\(key)' must be greater than zero, found \(value); expected \(expectation(for: key))")
        }
        return value
    }

    /// `1024` (soft = hard), `1024:8192`, `unlimited`, or `{soft: 1024, hard: 8192}` as in Compose.
    private func ulimit(_ node: Node, key: String) throws(ProfileError) -> Ulimit {
        if node.mapping != nil {
            var soft: UInt64??, hard: UInt64??
            for (side, value) in try mapping(node, what: "'\(key)'", allowed: ["soft", "hard"]) {
                let text = try scalarText(value, key: "\(key).\(side.string)")
                let parsed: UInt64?
                do { parsed = try Ulimits.value(text, whole: text) } catch { throw ProfileError(at: location(of: value), "'\(key).\(side.string)': \(error.message)") }
                if side.string == "soft" { soft = .some(parsed) } else { hard = .some(parsed) }
            }
            guard let soft, let hard else {
                throw ProfileError(at: location(of: node), "'\(key)' needs both soft and hard (or one number for both)")
            }
            do { return try Ulimits.checked(Ulimit(soft: soft, hard: hard), text: "\(key)") } catch {
                throw ProfileError(at: location(of: node), error.message)
            }
        }
        return try unit(node, key: key, Ulimits.parse)
    }

    private func expectation(for key: String) -> String {
        switch key {
        case "limits.memory", "limits.swap": return "a byte quantity such as 512Mi, 1G or 64m"
        case "limits.cpus": return "CPUs such as 500m, 0.5 or 2"
        case "limits.cpuset": return "a CPU list such as 0-3"
        case "limits.pids": return "a whole number of processes such as 256"
        case "limits.nofile": return "a number of open files such as 1024, or SOFT:HARD such as 1024:8192"
        case "timeout", "stall_timeout", "sampling.interval": return "a duration such as 10ms, 30s or 5m"
        default: return key.hasPrefix("limits.") ? "a number, SOFT:HARD such as 1024:8192, or unlimited" : "a string"
        }
    }

    func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return "'\(scalar.string)'"
        case .alias: return "an alias"
        }
    }

    func location(of node: Node) -> SourceLocation {
        guard let mark = node.mark else { return location(line: 1, column: 1) }
        return location(line: mark.line, column: mark.column)
    }

    private func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    private func yamlSyntaxError(_ error: YamlError) -> ProfileError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return ProfileError(at: location(line: mark.line, column: mark.column), message)
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the mapping; point at the repeated key itself, as an editor would.
            let key = duplicates.first ?? ""
            // Lines as YAML counts them: \r\n, \r and \n all end one (a lone \r is a line break
            // to Yams; splitting on \n alone put its marks past the end — found by fuzzing).
            let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            let column = context.mark.column
            let markIndex = min(max(context.mark.line - 1, 0), lines.count)
            var occurrences: [Int] = []
            for index in markIndex..<lines.count {
                let line = lines[index]
                let indent = line.prefix { $0 == " " }.count
                if indent + 1 < column && index > markIndex && !line.trimmingWhitespace().isEmpty { break }
                if indent + 1 == column && line.dropFirst(indent).hasPrefix(key + ":") { occurrences.append(index + 1) }
            }
            // The mapping's own key is on the nearest line above that is indented less.
            var what = "the profile"
            if column > 1 {
                for index in stride(from: markIndex - 1, through: 0, by: -1) {
                    let line = lines[index]
                    let indent = line.prefix { $0 == " " }.count
                    if indent + 1 < column, let colon = line.firstIndex(of: ":") {
                        what = "'\(line[..<colon].trimmingWhitespace())'"
                        break
                    }
                }
            }
            guard occurrences.count >= 2 else {
                return ProfileError(at: location(line: context.mark.line, column: column), "duplicate key '\(key)' in \(what)")
            }
            return ProfileError(at: location(line: occurrences[1], column: column),
                                "duplicate key '\(key)' in \(what) (first given at line \(occurrences[0]))")
        case let .reader(problem, offset, _, _):
            return ProfileError(file: file, "invalid YAML text: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return ProfileError(file: file, "invalid YAML: \(error)")
        }
    }
}

extension Node {
    /// The scalar's text, or empty for anything else.
    var string: String { scalar?.string ?? "" }
}

extension ProfileSpec {
    /// Parses one profile's YAML text (no `extends` followed); `file` names it in errors.
    public static func parse(yaml text: String, file: String) throws(ProfileError) -> ProfileSpec {
        try ProfileParser(file: file, text: text).parse()
    }
}
