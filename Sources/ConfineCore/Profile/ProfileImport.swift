import Foundation
import Yams

/// A profile drawn from what production runs: a Kubernetes manifest, a Compose file or an OCI
/// runtime `config.json`. Every value carries where it came from; fields confine cannot honour
/// become warnings in the output, never silently dropped.
public struct ImportedProfile: Sendable {
    public struct Value: Sendable {
        public var key: String
        public var value: String
        public var source: String
    }

    public var name: String
    public var description: String
    public var origin: String
    public var values: [Value] = []
    public var warnings: [String] = []
    /// An embedded seccomp profile to write beside the profile (OCI), and the name it is referenced by.
    public var seccompJSON: Data?

    mutating func set(_ key: String, _ value: String, from source: String) {
        values.removeAll { $0.key == key }
        values.append(Value(key: key, value: value, source: source))
    }

    /// The profile as YAML, each value commented with its source.
    public func yaml() -> String {
        var lines = ["# Imported by `confine profile import` from \(origin).",
                     "# Check it before trusting it: confine profile show <this file>."]
        lines.append("name: \(name)")
        lines.append("description: \"\(description.replacingAll("\"", with: "'"))\"")
        let order = ["extends", "limits.memory", "limits.swap", "limits.cpus", "limits.cpuset", "limits.pids", "limits.nofile",
                     "seccomp", "capabilities", "network"]
        let sorted = values.sorted { (order.firstIndex(of: $0.key) ?? 99) < (order.firstIndex(of: $1.key) ?? 99) }
        var inLimits = false
        for value in sorted {
            if value.key.hasPrefix("limits.") {
                if !inLimits { lines.append("limits:"); inLimits = true }
                lines.append("  \(value.key.dropFirst(7)): \(value.value)    # \(value.source)")
            } else {
                inLimits = false
                lines.append("\(value.key): \(value.value)    # \(value.source)")
            }
        }
        if !warnings.isEmpty {
            lines.append("# Not carried over (confine cannot honour these, or they do not apply to a test run):")
            for warning in warnings { lines.append("#   - \(warning)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

public struct ImportError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    init(_ message: String) { self.message = message }
}

public enum ProfileImporter {
    /// Which format a file is: by name (`config.json`, compose names), else by content.
    public static func importProfile(path: String, text: String, select: String?) throws(ImportError) -> ImportedProfile {
        let base = (path as NSString).lastPathComponent
        if base.hasSuffix(".json") { return try oci(path: path, text: text) }
        if base.contains("compose") || text.contains("\nservices:") || text.hasPrefix("services:") {
            return try compose(path: path, text: text, service: select)
        }
        return try kubernetes(path: path, text: text, container: select)
    }

    /// Every document as plain values. Yams' `load` traps on two kinds of input, both found by
    /// fuzzing: a mapping key that is not a scalar (`{[a]: 1}`) and a YAML 1.1 base-60 integer
    /// too large for Int (`1:21:1:4:22:4:21:1:4:22:4`). So the composed nodes are checked first
    /// and such a file is refused with the line and column.
    static func loadYAMLDocuments(_ text: String, path: String) throws -> [Any] {
        var documents: [Any] = []
        for node in try Yams.compose_all(yaml: text) {
            try checkNodes(node, path: path)
            documents.append(node.any)
        }
        return documents
    }

    private static func checkNodes(_ node: Node, path: String) throws {
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else {
                    throw ImportError("\(path):\(markText(key)): a mapping key must be a plain string, not \(key.mapping != nil ? "a mapping" : key.sequence != nil ? "a list" : "an alias")")
                }
                try checkNodes(key, path: path)
                try checkNodes(value, path: path)
            }
        case .sequence(let sequence):
            for item in sequence { try checkNodes(item, path: path) }
        case .scalar(let scalar):
            if node.tag.rawValue == Tag.Name.int.rawValue, !sexagesimalFitsInt(scalar.string) {
                throw ImportError("\(path):\(markText(node)): '\(scalar.string.prefix(40))' reads as a YAML 1.1 base-60 integer too large for 64 bits; quote it if it is a string")
            }
        default:
            break
        }
    }

    private static func markText(_ node: Node) -> String {
        node.mark.map { "\($0.line):\($0.column)" } ?? "?"
    }

    /// Mirrors Yams' base-60 arithmetic (which also multiplies the base once past the last
    /// digit) with overflow checks; true for anything that is not base-60 at all.
    static func sexagesimalFitsInt(_ text: String) -> Bool {
        var digits = Substring(text.replacingAll("_", with: ""))
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard digits.contains(":"), !digits.hasPrefix("0") else { return true }
        var base = 1, value = 0
        for component in digits.split(separator: ":", omittingEmptySubsequences: false).reversed() {
            guard let digit = Int(component, radix: 10) else { return true } // Yams gives up: a string
            let (product, productOverflow) = digit.multipliedReportingOverflow(by: base)
            let (sum, sumOverflow) = value.addingReportingOverflow(product)
            let (nextBase, baseOverflow) = base.multipliedReportingOverflow(by: 60)
            if productOverflow || sumOverflow || baseOverflow { return false }
            (value, base) = (sum, nextBase)
        }
        return true
    }

    // MARK: Kubernetes

    static let podTemplates: [String: [String]] = [
        "Pod": ["spec"], "Deployment": ["spec", "template", "spec"], "StatefulSet": ["spec", "template", "spec"],
        "DaemonSet": ["spec", "template", "spec"], "ReplicaSet": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
        "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    ]

    public static func kubernetes(path: String, text: String, container wanted: String?) throws(ImportError) -> ImportedProfile {
        let documents: [Any]
        do {
            documents = try loadYAMLDocuments(text, path: path)
        } catch let error as ImportError {
            throw error
        } catch {
            throw ImportError("\(path): not YAML: \(error)")
        }
        var found: [(workload: String, kind: String, pod: [String: Any], container: [String: Any], index: Int)] = []
        var skipped: [String] = []
        for document in documents {
            guard let object = document as? [String: Any], let kind = object["kind"] as? String else { continue }
            let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? "unnamed"
            guard let route = podTemplates[kind] else { skipped.append("\(kind) \(name)"); continue }
            var pod: Any? = object
            for key in route { pod = (pod as? [String: Any])?[key] }
            guard let podSpec = pod as? [String: Any], let containers = podSpec["containers"] as? [[String: Any]] else { continue }
            for (index, container) in containers.enumerated() {
                found.append((name, kind, podSpec, container, index))
            }
        }
        guard !found.isEmpty else {
            throw ImportError("\(path): no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob with containers"
                              + (skipped.isEmpty ? "" : " (found \(skipped.joined(separator: ", ")))"))
        }
        let names = found.map { "\($0.kind)/\($0.workload): \($0.container["name"] as? String ?? "?")" }
        let chosen: (workload: String, kind: String, pod: [String: Any], container: [String: Any], index: Int)
        if let wanted {
            guard let match = found.first(where: { ($0.container["name"] as? String) == wanted }) else {
                throw ImportError("\(path): no container named '\(wanted)'; containers: \(names.joined(separator: ", "))")
            }
            chosen = match
        } else {
            guard found.count == 1 else {
                throw ImportError("\(path): \(found.count) containers; pick one with --container: \(names.joined(separator: ", "))")
            }
            chosen = found[0]
        }
        let containerName = chosen.container["name"] as? String ?? "container"
        let at = "\(chosen.kind)/\(chosen.workload) container \(containerName)"
        var profile = ImportedProfile(name: containerName, description: "\(at), imported from \((path as NSString).lastPathComponent)",
                                      origin: "\(path) (\(at))")
        profile.set("extends", "container-default", from: "the container runtime's defaults (seccomp, capabilities)")
        let prefix = "spec.containers[\(chosen.index)]"
        let resources = chosen.container["resources"] as? [String: Any] ?? [:]
        let limits = resources["limits"] as? [String: Any] ?? [:]
        let requests = resources["requests"] as? [String: Any] ?? [:]
        func note(_ key: String) -> String { requests[key].map { " (requests: \(describe($0)))" } ?? "" }
        // Quantities as Kubernetes reads them (`m` is milli, `k` kilo, exponents), written back in
        // confine's unambiguous units.
        if let memory = limits["memory"] {
            let text = describe(memory)
            do {
                let quantity = try KubernetesQuantity.parse(text)
                let bytes = try quantity.memoryBytes()
                let exact = quantity.value == quantity.roundedUp ? "" : " = \(bytes) bytes, rounded up as Kubernetes rounds"
                profile.set("limits.memory", ByteQuantity.format(bytes), from: "\(prefix).resources.limits.memory: \(text)\(exact)\(note("memory"))")
                profile.set("limits.swap", "0", from: "Kubernetes gives containers no swap unless the node enables NodeSwap")
            } catch {
                throw ImportError("\(path): \(prefix).resources.limits.memory: \(error.message)")
            }
        } else {
            profile.warnings.append("\(prefix).resources.limits.memory is not set: the container may use the node's memory\(note("memory"))")
        }
        if let cpu = limits["cpu"] {
            let text = describe(cpu)
            do {
                if let (cpus, raised) = try KubernetesQuantity.parse(text).cpus() {
                    let why = raised ? " (raised to the kernel's minimum CFS quota, 1 ms per 100 ms period, as the kubelet does)" : ""
                    profile.set("limits.cpus", CPUQuantity.format(cpus), from: "\(prefix).resources.limits.cpu: \(text)\(why)\(note("cpu"))")
                } else {
                    profile.warnings.append("\(prefix).resources.limits.cpu is \(text): Kubernetes sets no CPU quota for a zero limit")
                }
            } catch {
                throw ImportError("\(path): \(prefix).resources.limits.cpu: \(error.message)")
            }
        } else {
            profile.warnings.append("\(prefix).resources.limits.cpu is not set: no CPU quota\(note("cpu"))")
        }
        for key in limits.keys.sorted() where key != "memory" && key != "cpu" {
            profile.warnings.append("\(prefix).resources.limits.\(key): not a limit confine sets")
        }
        // Seccomp: the container's own setting, else the pod's.
        let podSecurity = chosen.pod["securityContext"] as? [String: Any] ?? [:]
        let security = chosen.container["securityContext"] as? [String: Any] ?? [:]
        let seccomp = (security["seccompProfile"] ?? podSecurity["seccompProfile"]) as? [String: Any]
        let seccompPath = security["seccompProfile"] != nil ? "\(prefix).securityContext.seccompProfile" : "spec.securityContext.seccompProfile"
        switch seccomp?["type"] as? String {
        case "RuntimeDefault": profile.set("seccomp", "container-default", from: "\(seccompPath).type: RuntimeDefault")
        case "Unconfined": profile.set("seccomp", "unconfined", from: "\(seccompPath).type: Unconfined")
        case "Localhost":
            let file = seccomp?["localhostProfile"] as? String ?? "profile.json"
            profile.set("seccomp", file, from: "\(seccompPath).localhostProfile (relative to the kubelet's seccomp directory; copy it beside this profile)")
        default:
            profile.set("seccomp", "unconfined", from: "no seccompProfile: Kubernetes runs containers Unconfined unless the kubelet defaults to RuntimeDefault")
        }
        if let capabilities = security["capabilities"] as? [String: Any] {
            let (set, add, drop) = capabilitySet(add: capabilities["add"], drop: capabilities["drop"])
            profile.set("capabilities", "[\(set.joined(separator: ", "))]",
                        from: "\(prefix).securityContext.capabilities (add \(add), drop \(drop)) over Docker's default set")
        }
        if chosen.pod["hostNetwork"] as? Bool == true {
            profile.set("network", "host", from: "spec.hostNetwork: true")
        } else {
            profile.set("network", "host", from: "the pod network: reachable like the host's (narrow it with allow:HOST:PORT)")
        }
        if security["privileged"] as? Bool == true { profile.warnings.append("\(prefix).securityContext.privileged: true is not reproduced") }
        if security["readOnlyRootFilesystem"] as? Bool == true {
            profile.warnings.append("\(prefix).securityContext.readOnlyRootFilesystem: the test run's filesystem stays writable")
        }
        if chosen.container["volumeMounts"] != nil { profile.warnings.append("\(prefix).volumeMounts: volumes are not part of a profile") }
        return profile
    }

    /// Docker's default capability set with `drop` removed (`ALL`: everything) and `add` added, as
    /// container runtimes apply them; names with or without `CAP_`.
    static func capabilitySet(add: Any?, drop: Any?) -> (set: [String], add: [String], drop: [String]) {
        let normalise = { (name: String) in name.uppercased().hasPrefix("CAP_") ? name.uppercased() : "CAP_" + name.uppercased() }
        let dropped = (drop as? [String] ?? []).map(normalise)
        let added = (add as? [String] ?? []).map(normalise)
        var set = dropped.contains("CAP_ALL") ? [] : ResolvedProfile.defaultCapabilities.filter { !dropped.contains($0) }
        for name in added where !set.contains(name) { set.append(name) }
        return (set, added, dropped)
    }

    /// A YAML scalar as Kubernetes writes it (`512Mi`, `0.5`, `2`).
    static func describe(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        if let number = value as? Double { return number == number.rounded() ? String(Int(number)) : String(number) }
        return "\(value)"
    }

    // MARK: Compose

    public static func compose(path: String, text: String, service wanted: String?) throws(ImportError) -> ImportedProfile {
        let document: Any?
        do {
            document = try loadYAMLDocuments(text, path: path).first
        } catch let error as ImportError {
            throw error
        } catch {
            throw ImportError("\(path): not YAML: \(error)")
        }
        guard let services = (document as? [String: Any])?["services"] as? [String: Any], !services.isEmpty else {
            throw ImportError("\(path): no services")
        }
        let name: String
        if let wanted {
            guard services[wanted] != nil else {
                throw ImportError("\(path): no service named '\(wanted)'; services: \(services.keys.sorted().joined(separator: ", "))")
            }
            name = wanted
        } else {
            guard services.count == 1 else {
                throw ImportError("\(path): \(services.count) services; pick one with --service: \(services.keys.sorted().joined(separator: ", "))")
            }
            name = services.keys.first!
        }
        let service = services[name] as? [String: Any] ?? [:]
        let at = "services.\(name)"
        var profile = ImportedProfile(name: name, description: "Compose service \(name), imported from \((path as NSString).lastPathComponent)",
                                      origin: "\(path) (service \(name))")
        profile.set("extends", "container-default", from: "Docker's defaults (seccomp, capabilities)")
        let deployLimits = ((service["deploy"] as? [String: Any])?["resources"] as? [String: Any])?["limits"] as? [String: Any] ?? [:]
        func bytes(_ value: Any, _ key: String) throws(ImportError) -> UInt64 {
            do { return try ByteQuantity.parse(describe(value)) } catch { throw ImportError("\(path): \(at).\(key): \(error.message)") }
        }
        var memory: UInt64?
        var memoryText = ""
        if let value = service["mem_limit"] {
            memory = try bytes(value, "mem_limit")
            memoryText = describe(value)
            profile.set("limits.memory", memoryText, from: "\(at).mem_limit")
        } else if let value = deployLimits["memory"] {
            memory = try bytes(value, "deploy.resources.limits.memory")
            memoryText = describe(value)
            profile.set("limits.memory", memoryText, from: "\(at).deploy.resources.limits.memory")
        } else {
            profile.warnings.append("\(at): no mem_limit or deploy.resources.limits.memory: no memory limit")
        }
        if let value = service["memswap_limit"] {
            let text = describe(value)
            if text == "-1" {
                profile.set("limits.swap", "max", from: "\(at).memswap_limit: -1 (unlimited swap)")
            } else if let memory {
                let total = try bytes(value, "memswap_limit")
                profile.set("limits.swap", ByteQuantity.format(total > memory ? total - memory : 0),
                            from: "\(at).memswap_limit \(text) minus mem_limit (Docker counts memory and swap together)")
            }
        } else if memory != nil {
            profile.set("limits.swap", memoryText,
                        from: "Docker's default: swap equal to the memory limit when memswap_limit is unset (if the host has swap)")
        }
        if let value = service["cpus"] ?? deployLimits["cpus"] {
            profile.set("limits.cpus", describe(value), from: "\(at).\(service["cpus"] != nil ? "cpus" : "deploy.resources.limits.cpus")")
        } else if let quota = service["cpu_quota"] as? Int {
            let period = service["cpu_period"] as? Int ?? 100_000
            profile.set("limits.cpus", formatFixed(Double(quota) / Double(period), digits: 3).trimmingTrailingZeros(),
                        from: "\(at).cpu_quota \(quota) / cpu_period \(period)")
        }
        if let value = service["pids_limit"] ?? deployLimits["pids"] {
            profile.set("limits.pids", describe(value), from: "\(at).\(service["pids_limit"] != nil ? "pids_limit" : "deploy.resources.limits.pids")")
        }
        if let cpuset = service["cpuset"] { profile.set("limits.cpuset", describe(cpuset), from: "\(at).cpuset") }
        if let nofile = (service["ulimits"] as? [String: Any])?["nofile"] {
            let value = (nofile as? [String: Any]).flatMap { $0["hard"] ?? $0["soft"] } ?? nofile
            profile.set("limits.nofile", describe(value), from: "\(at).ulimits.nofile (soft = hard in confine)")
        }
        for option in service["security_opt"] as? [String] ?? [] {
            let parts = option.split(separator: option.contains("=") ? "=" : ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "seccomp" else {
                profile.warnings.append("\(at).security_opt \(option): not reproduced")
                continue
            }
            profile.set("seccomp", parts[1] == "unconfined" ? "unconfined" : parts[1], from: "\(at).security_opt \(option)")
        }
        switch service["network_mode"] as? String {
        case "none": profile.set("network", "none", from: "\(at).network_mode: none")
        case let mode?: profile.set("network", "host", from: "\(at).network_mode: \(mode)")
        case nil: profile.set("network", "host", from: "the default bridge network: outbound like the host's")
        }
        if service["cap_add"] != nil || service["cap_drop"] != nil {
            let (set, _, _) = capabilitySet(add: service["cap_add"], drop: service["cap_drop"])
            profile.set("capabilities", "[\(set.joined(separator: ", "))]", from: "\(at).cap_add / cap_drop over Docker's default set")
        }
        for key in ["mem_reservation", "shm_size", "privileged", "read_only", "tmpfs", "volumes", "oom_kill_disable"] where service[key] != nil {
            profile.warnings.append("\(at).\(key): not reproduced")
        }
        return profile
    }

    // MARK: OCI runtime config

    public static func oci(path: String, text: String) throws(ImportError) -> ImportedProfile {
        guard let data = text.data(using: .utf8), let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ImportError("\(path): not a JSON object (an OCI runtime config.json?)")
        }
        guard let linux = config["linux"] as? [String: Any] else { throw ImportError("\(path): no 'linux' section: not an OCI runtime config for Linux") }
        let name = ((config["hostname"] as? String) ?? ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent)
            .replacingAll(" ", with: "-")
        var profile = ImportedProfile(name: name.isEmpty ? "oci" : name, description: "OCI bundle, imported from \((path as NSString).lastPathComponent)",
                                      origin: path)
        let resources = linux["resources"] as? [String: Any] ?? [:]
        let memory = resources["memory"] as? [String: Any] ?? [:]
        let limit = (memory["limit"] as? NSNumber)?.int64Value
        if let limit, limit > 0 {
            profile.set("limits.memory", String(limit), from: "linux.resources.memory.limit (bytes)")
            if let swap = (memory["swap"] as? NSNumber)?.int64Value {
                profile.set("limits.swap", swap < 0 ? "max" : String(max(0, swap - limit)),
                            from: "linux.resources.memory.swap \(swap) minus the limit (OCI counts memory and swap together)")
            }
        } else {
            profile.warnings.append("linux.resources.memory.limit is not set: no memory limit")
        }
        let cpu = resources["cpu"] as? [String: Any] ?? [:]
        if let quota = (cpu["quota"] as? NSNumber)?.int64Value, quota > 0 {
            let given = (cpu["period"] as? NSNumber)?.int64Value ?? 100_000
            let period = given > 0 ? given : 100_000
            profile.set("limits.cpus", formatFixed(Double(quota) / Double(period), digits: 3).trimmingTrailingZeros(),
                        from: "linux.resources.cpu.quota \(quota) / period \(period)")
        }
        if let cpus = cpu["cpus"] as? String, !cpus.isEmpty { profile.set("limits.cpuset", cpus, from: "linux.resources.cpu.cpus") }
        if let pids = ((resources["pids"] as? [String: Any])?["limit"] as? NSNumber)?.int64Value, pids > 0 {
            profile.set("limits.pids", String(pids), from: "linux.resources.pids.limit")
        }
        let rlimits = (config["process"] as? [String: Any])?["rlimits"] as? [[String: Any]] ?? []
        for rlimit in rlimits {
            guard let type = rlimit["type"] as? String else { continue }
            if type == "RLIMIT_NOFILE", let hard = (rlimit["hard"] as? NSNumber)?.int64Value {
                profile.set("limits.nofile", String(hard), from: "process.rlimits RLIMIT_NOFILE (hard)")
            } else {
                profile.warnings.append("process.rlimits \(type): confine sets RLIMIT_NOFILE only")
            }
        }
        if let seccomp = linux["seccomp"] {
            // JSONSerialization traps (not throws) on a top-level value that is not an object or array.
            guard seccomp is [String: Any] else { throw ImportError("\(path): linux.seccomp: expected an object (a seccomp profile), found \(jsonKind(seccomp))") }
            profile.seccompJSON = try? JSONSerialization.data(withJSONObject: seccomp, options: [.prettyPrinted, .sortedKeys])
            profile.set("seccomp", "\(profile.name)-seccomp.json", from: "linux.seccomp, written beside this profile")
        } else {
            profile.set("seccomp", "unconfined", from: "no linux.seccomp in the config")
        }
        let namespaces = linux["namespaces"] as? [[String: Any]] ?? []
        if let network = namespaces.first(where: { $0["type"] as? String == "network" }) {
            if network["path"] == nil {
                profile.set("network", "none", from: "linux.namespaces: a new network namespace (only lo, until a CNI plugin adds more)")
            } else {
                profile.set("network", "host", from: "linux.namespaces network joins \(network["path"]!): treated as the host's")
            }
        } else {
            profile.set("network", "host", from: "no network namespace in linux.namespaces: the host's network")
        }
        for key in ["devices", "hugepageLimits", "blockIO", "rdma", "unified"] where resources[key] != nil {
            profile.warnings.append("linux.resources.\(key): not reproduced")
        }
        if (config["process"] as? [String: Any])?["capabilities"] != nil {
            profile.warnings.append("process.capabilities: not reproduced (seccomp capability gating uses Docker's default set)")
        }
        return profile
    }
}

/// What a decoded JSON value is, in JSON's words, for error messages.
func jsonKind(_ value: Any) -> String {
    switch value {
    case is [String: Any]: return "an object"
    case is [Any]: return "an array"
    case is String: return "a string"
    case is NSNull: return "null"
    case let scalar as NSNumber: return "the scalar \(scalar)"
    default: return "\(type(of: value))"
    }
}
