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

    /// Lists each key of `object` that is neither `carried` (the importer read it) nor in
    /// `notCarried` (listed with its reason) as not known: no field is dropped without a word.
    mutating func account(_ object: [String: Any], at path: String, carried: Set<String>, notCarried: [String: String]) {
        for key in object.keys.sorted() where !carried.contains(key) {
            warnings.append((path.isEmpty ? key : "\(path).\(key)") + ": " + (notCarried[key] ?? "not a field confine knows; not carried over"))
        }
    }

    /// The volumes found so far, and where each kind came from: `filesystem.volumes` as one list.
    var volumes: [Volume] = []
    var volumeSources: [String] = []

    mutating func addVolume(_ volume: Volume, from source: String) {
        volumes.append(volume)
        if !volumeSources.contains(source) { volumeSources.append(source) }
        set("filesystem.volumes", "[\(volumes.map(\.yamlFlow).joined(separator: ", "))]", from: volumeSources.joined(separator: "; "))
    }

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
                     "limits.ulimits.", "seccomp", "capabilities", "network", "filesystem.", "user.", "env.", "working_dir", "hostname"]
        func rank(_ key: String) -> Int { order.firstIndex { key == $0 || ($0.hasSuffix(".") && key.hasPrefix($0)) } ?? 99 }
        let sorted = values.sorted { (rank($0.key), $0.key) < (rank($1.key), $1.key) }
        // Dotted keys as nested mappings (`limits.ulimits.nproc`); an env name is one component
        // whatever it holds.
        func components(_ key: String) -> [String] {
            key.hasPrefix("env.") ? ["env", String(key.dropFirst(4))] : key.split(separator: ".").map(String.init)
        }
        var open: [String] = []
        for value in sorted {
            let path = components(value.key)
            let parents = Array(path.dropLast())
            var shared = 0
            while shared < min(open.count, parents.count) && open[shared] == parents[shared] { shared += 1 }
            open = Array(open.prefix(shared))
            for (depth, header) in parents.enumerated().dropFirst(shared) {
                lines.append(String(repeating: "  ", count: depth) + "\(header):")
                open.append(header)
            }
            let text = value.value.contains(":") && !value.value.hasPrefix("[") && !value.value.hasPrefix("{") && !value.value.hasPrefix("\"")
                ? "\"\(value.value)\"" : value.value
            lines.append(String(repeating: "  ", count: parents.count) + "\(path.last!): \(text)    # \(value.source)")
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
        var found: [(workload: String, kind: String, pod: [String: Any], container: [String: Any], index: Int, object: [String: Any])] = []
        var skipped: [String] = []
        for document in documents {
            guard let object = document as? [String: Any], let kind = object["kind"] as? String else { continue }
            let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? "unnamed"
            guard let route = podTemplates[kind] else { skipped.append("\(kind) \(name)"); continue }
            var pod: Any? = object
            for key in route { pod = (pod as? [String: Any])?[key] }
            guard let podSpec = pod as? [String: Any], let containers = podSpec["containers"] as? [[String: Any]] else { continue }
            for (index, container) in containers.enumerated() {
                found.append((name, kind, podSpec, container, index, object))
            }
        }
        guard !found.isEmpty else {
            throw ImportError("\(path): no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob with containers"
                              + (skipped.isEmpty ? "" : " (found \(skipped.joined(separator: ", ")))"))
        }
        let names = found.map { "\($0.kind)/\($0.workload): \($0.container["name"] as? String ?? "?")" }
        let chosen: (workload: String, kind: String, pod: [String: Any], container: [String: Any], index: Int, object: [String: Any])
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
            profile.set("network", "host", from: (chosen.pod["hostNetwork"] != nil ? "spec.hostNetwork false: " : "")
                        + "the pod network: reachable like the host's (narrow it with allow:HOST:PORT)")
        }
        try kubernetesContainerEnvironment(&profile, path: path, pod: chosen.pod, container: chosen.container, prefix: prefix,
                                           podName: chosen.kind == "Pod" ? chosen.workload : nil,
                                           memoryLimit: try? KubernetesQuantity.parse(describe(limits["memory"] ?? "")).memoryBytes())
        kubernetesWorkloadAccount(&profile, chosen.object, kind: chosen.kind)
        // Every field accounted for: carried above, or listed with the reason.
        profile.account(chosen.container, at: prefix, carried: ["name", "resources", "securityContext", "env", "workingDir", "volumeMounts"],
                        notCarried: KubernetesFields.container)
        profile.account(resources, at: "\(prefix).resources", carried: ["limits"],
                        notCarried: ["claims": "dynamic resource claims are not allocated",
                                     "requests": "a request is a scheduling hint; the limits are what the kernel enforces"])
        profile.account(security, at: "\(prefix).securityContext",
                        carried: ["runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "capabilities", "seccompProfile"],
                        notCarried: KubernetesFields.securityContext)
        profile.account(chosen.pod, at: "spec",
                        carried: ["containers", "securityContext", "hostNetwork", "volumes", "hostname"], notCarried: KubernetesFields.pod)
        profile.account(podSecurity, at: "spec.securityContext",
                        carried: ["runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups", "fsGroup", "seccompProfile"],
                        notCarried: KubernetesFields.podSecurityContext)
        for (index, other) in (chosen.pod["containers"] as? [[String: Any]] ?? []).enumerated() where index != chosen.index {
            profile.warnings.append("spec.containers[\(index)] (\(other["name"] as? String ?? "?")): another container of the pod; import it with --container")
        }
        return profile
    }

    /// The container's identity, filesystem, environment, working directory and hostname: the
    /// container's securityContext over the pod's (the container wins, as in Kubernetes), its
    /// volumeMounts resolved against the pod's volumes.
    /// The workload around the pod: its metadata and its controller's settings, each listed.
    static func kubernetesWorkloadAccount(_ profile: inout ImportedProfile, _ object: [String: Any], kind: String) {
        let metadata = object["metadata"] as? [String: Any] ?? [:]
        profile.account(metadata, at: "metadata", carried: ["name"],
                        notCarried: ["namespace": "namespaces do not apply to a run", "labels": "labels change nothing in a run",
                                     "annotations": "annotations change nothing in a run (AppArmor and seccomp are read from securityContext)",
                                     "generateName": "the run has no object name", "uid": "the run has no object name",
                                     "resourceVersion": "not a setting", "generation": "not a setting", "creationTimestamp": "not a setting",
                                     "ownerReferences": "not a setting", "finalizers": "not a setting", "managedFields": "not a setting"])
        for (key, _) in (metadata["annotations"] as? [String: Any] ?? [:]) where key.contains("apparmor") || key.contains("seccomp") {
            profile.warnings.append("metadata.annotations \(key): the deprecated annotation is not read; securityContext.seccompProfile is")
        }
        guard kind != "Pod", let spec = object["spec"] as? [String: Any] else { return }
        let inner = kind == "CronJob" ? (spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any] : nil
        for (at, section) in [("spec", spec)] + (inner.map { [("spec.jobTemplate.spec", $0)] } ?? []) {
            profile.account(section, at: at, carried: ["template", "jobTemplate"], notCarried: [
                "replicas": "import runs one replica; --copies N starts several in one limit",
                "parallelism": "import runs one pod; --copies N starts several in one limit",
            ].merging(Dictionary(uniqueKeysWithValues: section.keys.map { ($0, "a \(kind) controller setting; the run is one pod") })) { first, _ in first })
        }
    }

    static func kubernetesContainerEnvironment(_ profile: inout ImportedProfile, path: String, pod: [String: Any], container: [String: Any],
                                               prefix: String, podName: String?, memoryLimit: UInt64? = nil) throws(ImportError) {
        let podSecurity = pod["securityContext"] as? [String: Any] ?? [:]
        let security = container["securityContext"] as? [String: Any] ?? [:]
        func id(_ key: String) throws(ImportError) -> (value: Int, from: String)? {
            for (context, at) in [(security, "\(prefix).securityContext"), (podSecurity, "spec.securityContext")] {
                guard let value = context[key] else { continue }
                guard let number = value as? Int, number >= 0, number <= Int(UserSpec.idRange.upperBound) else {
                    throw ImportError("\(path): \(at).\(key): expected a numeric id from 0 to 2147483647 (Kubernetes' range), found \(describe(value))")
                }
                return (number, "\(at).\(key)")
            }
            return nil
        }
        // The pod's settings a container's own override, said so.
        for key in ["runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile"] where security[key] != nil && podSecurity[key] != nil {
            profile.warnings.append("spec.securityContext.\(key): overridden by \(prefix).securityContext.\(key) (the container's wins)")
        }
        if let (uid, from) = try id("runAsUser") { profile.set("user.uid", String(uid), from: from) }
        if let (gid, from) = try id("runAsGroup") { profile.set("user.gid", String(gid), from: from) }
        let nonRoot = security["runAsNonRoot"] != nil ? ("\(prefix).securityContext", security["runAsNonRoot"]) : ("spec.securityContext", podSecurity["runAsNonRoot"])
        if let value = nonRoot.1 as? Bool { profile.set("user.run_as_non_root", String(value), from: "\(nonRoot.0).runAsNonRoot") }
        var groups: [String] = []
        for (index, group) in (podSecurity["supplementalGroups"] as? [Any] ?? []).enumerated() {
            guard let number = group as? Int, number >= 0, number <= Int(UserSpec.idRange.upperBound) else {
                throw ImportError("\(path): spec.securityContext.supplementalGroups[\(index)]: expected a numeric id from 0 to 2147483647, found \(describe(group))")
            }
            groups.append(String(number))
        }
        var groupSources = podSecurity["supplementalGroups"] != nil ? ["spec.securityContext.supplementalGroups"] : []
        if let fsGroup = podSecurity["fsGroup"] as? Int, UserSpec.idRange.contains(UInt32(clamping: fsGroup)), fsGroup >= 0 {
            if !groups.contains(String(fsGroup)) { groups.append(String(fsGroup)) }
            groupSources.append("spec.securityContext.fsGroup (Kubernetes adds it to the groups; volume ownership is not changed)")
        }
        if !groupSources.isEmpty { profile.set("user.supplemental_groups", "[\(groups.joined(separator: ", "))]", from: groupSources.joined(separator: " + ")) }

        if let readOnly = security["readOnlyRootFilesystem"] as? Bool {
            profile.set("filesystem.read_only_root", String(readOnly), from: "\(prefix).securityContext.readOnlyRootFilesystem")
        }
        // Volumes as mounted: emptyDir (memory: a tmpfs charged to the pod's memory; disk: an
        // empty directory), a memory emptyDir at /dev/shm as the shm size; other kinds listed.
        let podVolumes = Dictionary((pod["volumes"] as? [[String: Any]] ?? []).compactMap { volume in
            (volume["name"] as? String).map { ($0, volume) }
        }, uniquingKeysWith: { first, _ in first })
        for (index, mount) in (container["volumeMounts"] as? [[String: Any]] ?? []).enumerated() {
            let at = "\(prefix).volumeMounts[\(index)]"
            guard let name = mount["name"] as? String, let mountPath = mount["mountPath"] as? String, mountPath.hasPrefix("/") else {
                throw ImportError("\(path): \(at): expected name and an absolute mountPath")
            }
            guard let volume = podVolumes[name] else {
                throw ImportError("\(path): \(at): no volume named '\(name)' in spec.volumes")
            }
            profile.account(mount, at: at, carried: ["name", "mountPath", "readOnly"],
                            notCarried: ["subPath": "a sub-directory of the volume: here the mount is a volume of its own (two subPaths do not share data)",
                                         "subPathExpr": "a sub-directory of the volume: here the mount is a volume of its own",
                                         "mountPropagation": "the run's mounts are private to it", "recursiveReadOnly": "read-only mounts are not mounted"])
            if let emptyDir = volume["emptyDir"] as? [String: Any] ?? (volume["emptyDir"] != nil ? [:] : nil) {
                let medium = emptyDir["medium"] as? String ?? ""
                guard medium == "" || medium == "Memory" || medium.hasPrefix("HugePages") else {
                    throw ImportError("\(path): spec.volumes \(name).emptyDir.medium: '\(medium)' is not a medium Kubernetes accepts (\"\" or Memory)")
                }
                if medium.hasPrefix("HugePages") {
                    profile.warnings.append("spec.volumes \(name): a \(medium) emptyDir is not reproduced (no huge pages); an empty disk volume stands in")
                }
                let memory = medium == "Memory"
                var size: UInt64?
                if let limit = emptyDir["sizeLimit"] {
                    do { size = try KubernetesQuantity.parse(describe(limit)).memoryBytes() } catch {
                        throw ImportError("\(path): spec.volumes[\(name)].emptyDir.sizeLimit: \(error.message)")
                    }
                }
                if mountPath == "/dev/shm" && memory {
                    // Without sizeLimit Kubernetes sizes a memory emptyDir to the pod's memory limit.
                    if let shm = size ?? memoryLimit {
                        profile.set("filesystem.shm_size", ByteQuantity.format(shm),
                                    from: "spec.volumes \(name): emptyDir medium Memory at /dev/shm"
                                        + (size == nil ? " without sizeLimit: the memory limit, as Kubernetes sizes it" : " sizeLimit"))
                    } else {
                        profile.warnings.append("spec.volumes \(name): a Memory emptyDir at /dev/shm without sizeLimit or memory limit "
                                                + "is sized to the node's memory; set shm_size to what the node gives")
                    }
                    continue
                }
                profile.addVolume(Volume(path: mountPath, medium: memory ? .memory : .disk, sizeBytes: size),
                                  from: "emptyDir volumes mounted by \(prefix).volumeMounts (memory: a tmpfs charged to the run's memory)")
            } else {
                let kind = volume.keys.filter { $0 != "name" }.sorted().first ?? "unknown"
                let writable = mount["readOnly"] as? Bool != true && !["configMap", "secret", "downwardAPI", "projected"].contains(kind)
                if writable {
                    profile.addVolume(Volume(path: mountPath, medium: .disk),
                                      from: "volumes mounted by \(prefix).volumeMounts (a writable \(kind) is an empty disk volume here)")
                }
                profile.warnings.append("\(at) \(mountPath): a \(kind) volume's content is not reproduced"
                                        + (writable ? " (an empty writable directory stands in for it)" : " (the path is not mounted)"))
            }
        }
        // Environment: literal values carried; references listed by name.
        for (index, variable) in (container["env"] as? [[String: Any]] ?? []).enumerated() {
            guard let name = variable["name"] as? String else { throw ImportError("\(path): \(prefix).env[\(index)]: no name") }
            if let value = variable["value"] {
                profile.set("env.\(name)", yamlQuoted(describe(value)), from: "\(prefix).env[\(index)]")
            } else if let from = variable["valueFrom"] as? [String: Any] {
                let kind = from.keys.sorted().first ?? "valueFrom"
                profile.warnings.append("\(prefix).env[\(index)] \(name): valueFrom \(kind) cannot be resolved from the manifest; set it with --env \(name)=…")
            } else {
                profile.set("env.\(name)", "\"\"", from: "\(prefix).env[\(index)] (no value: empty)")
            }
        }
        if let directory = container["workingDir"] as? String {
            guard directory.hasPrefix("/") else { throw ImportError("\(path): \(prefix).workingDir: '\(directory)' is not an absolute path") }
            profile.set("working_dir", yamlQuoted(directory), from: "\(prefix).workingDir")
        }
        if pod["hostNetwork"] as? Bool == true {
            if pod["hostname"] != nil { profile.warnings.append("spec.hostname: with hostNetwork the pod has the node's hostname") }
        } else if let hostname = pod["hostname"] as? String {
            profile.set("hostname", hostname, from: "spec.hostname")
        } else if let podName {
            profile.set("hostname", podName, from: "metadata.name (a pod's hostname is its name)")
        }
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

    public static func compose(path: String, text: String, service wanted: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws(ImportError) -> ImportedProfile {
        var document: Any?
        do {
            document = try loadYAMLDocuments(text, path: path).first
        } catch let error as ImportError {
            throw error
        } catch {
            throw ImportError("\(path): not YAML: \(error)")
        }
        // Values interpolated as Compose does: the shell's variables over the .env file beside it.
        var variables: [String: String] = [:]
        let dotenv = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".env")
        if let text = readSmallRegularFile(dotenv) {
            do {
                for (name, value) in try EnvFile.parse(text, file: dotenv, quotes: true, inherited: environment) { variables[name] = value }
            } catch { throw ImportError(error.message) }
        }
        variables.merge(environment) { _, shell in shell }
        do { document = try document.map { value throws(UnitError) in try interpolated(value, variables) } } catch {
            throw ImportError("\(path): \(error.message)")
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
        let others = services.keys.filter { $0 != name }.sorted()
        var profile = ImportedProfile(name: name, description: "Compose service \(name), imported from \((path as NSString).lastPathComponent)",
                                      origin: "\(path) (service \(name))")
        profile.set("extends", "container-default", from: "Docker's defaults (seccomp, capabilities)")
        let deployLimits = ((service["deploy"] as? [String: Any])?["resources"] as? [String: Any])?["limits"] as? [String: Any] ?? [:]
        // Sizes as Docker reads them: binary units, `1G` is a GiB.
        func bytes(_ value: Any, _ key: String) throws(ImportError) -> UInt64 {
            do { return try DockerByteSize.parse(describe(value)) } catch { throw ImportError("\(path): \(at).\(key): \(error.message)") }
        }
        func sized(_ value: Any, _ key: String) throws(ImportError) -> (bytes: UInt64, note: String) {
            let given = try bytes(value, key)
            let text = describe(value)
            return (given, ByteQuantity.format(given) == text ? "" : " = \(given) bytes (Docker's units are binary)")
        }
        // A value given both as a service key and under deploy.resources.limits: Compose applies
        // the deploy one (docker compose sets the service value, then the deploy limits over it).
        func pick(_ key: String, deploy deployKey: String) -> (value: Any, field: String)? {
            switch (service[key], deployLimits[deployKey]) {
            case let (own?, deployed?):
                if describe(own) != describe(deployed) {
                    profile.warnings.append("\(at).\(key) \(describe(own)) conflicts with \(at).deploy.resources.limits.\(deployKey) "
                                            + "\(describe(deployed)): Compose applies the deploy value, and so does this profile")
                    return (deployed, "deploy.resources.limits.\(deployKey)")
                }
                return (deployed, "deploy.resources.limits.\(deployKey) (and \(at).\(key), the same)")
            case let (own?, nil): return (own, key)
            case let (nil, deployed?): return (deployed, "deploy.resources.limits.\(deployKey)")
            case (nil, nil): return nil
            }
        }
        var memory: UInt64?
        if let (value, field) = pick("mem_limit", deploy: "memory") {
            let (given, note) = try sized(value, field)
            if given > 0 && given < 6 << 20 {
                throw ImportError("\(path): \(at).\(field) \(describe(value)) (\(given) bytes): Docker refuses it (\"Minimum memory limit allowed is 6MB\")")
            }
            if given > 0 {
                memory = given
                profile.set("limits.memory", ByteQuantity.format(given), from: "\(at).\(field): \(describe(value))\(note)")
            } else {
                profile.warnings.append("\(at).\(field) is 0: Docker sets no memory limit")
            }
        }
        if memory == nil { profile.warnings.append("\(at): no mem_limit or deploy.resources.limits.memory: no memory limit") }
        // memswap_limit as Docker documents it: memory and swap together; unset (or 0) with a
        // memory limit gives as much swap again; -1 unlimited; equal to the memory limit, none;
        // below it, or without a memory limit, Docker refuses to create the container.
        let swapText = service["memswap_limit"].map(describe)
        switch (swapText, memory) {
        case ("-1"?, _):
            profile.set("limits.swap", "max", from: "\(at).memswap_limit: -1 (unlimited swap)")
        case (let text?, nil) where text != "0":
            throw ImportError("\(path): \(at).memswap_limit \(text) without a memory limit: Docker refuses it "
                              + "(\"You should always set the Memory limit when using Memoryswap limit\")")
        case (let text?, let memory?) where text != "0":
            let total = try bytes(service["memswap_limit"]!, "memswap_limit")
            guard total >= memory else {
                throw ImportError("\(path): \(at).memswap_limit \(text) (\(total) bytes) is below the memory limit (\(memory) bytes): "
                                  + "Docker refuses it (\"Minimum memoryswap limit should be larger than memory limit\"); "
                                  + "memswap_limit counts memory and swap together")
            }
            profile.set("limits.swap", ByteQuantity.format(total - memory),
                        from: "\(at).memswap_limit \(text) minus the memory limit (Docker counts memory and swap together)")
        case (_, let memory?):
            profile.set("limits.swap", ByteQuantity.format(memory),
                        from: "Docker's default with memswap_limit \(swapText == "0" ? "0 (ignored, as unset)" : "unset"): "
                              + "as much swap again as the memory limit (if the host has swap)")
        default:
            break
        }
        if service["cpus"] != nil && (service["cpu_quota"] != nil || service["cpu_period"] != nil) {
            throw ImportError("\(path): \(at).cpus with \(at).\(service["cpu_quota"] != nil ? "cpu_quota" : "cpu_period"): Docker refuses both "
                              + "(\"Conflicting options: Nano CPUs and CPU Period cannot both be set\"); keep one")
        }
        if let (value, field) = pick("cpus", deploy: "cpus") {
            do {
                let cpus = try CPUQuantity.parse(describe(value))
                if cpus > 0 { profile.set("limits.cpus", CPUQuantity.format(cpus), from: "\(at).\(field): \(describe(value))") }
                else { profile.warnings.append("\(at).\(field) is 0: Docker sets no CPU quota") }
            } catch {
                throw ImportError("\(path): \(at).\(field): \(error.message)")
            }
        } else if let quota = service["cpu_quota"] as? Int, quota > 0 {
            let period = service["cpu_period"] as? Int ?? 100_000
            profile.set("limits.cpus", formatFixed(Double(quota) / Double(period), digits: 3).trimmingTrailingZeros(),
                        from: "\(at).cpu_quota \(quota) / \(at).cpu_period \(period)"
                            + (period == 100_000 ? "" : " (the same share over confine's 100 ms period: throttling comes in other slices)"))
        }
        if let (value, field) = pick("pids_limit", deploy: "pids") {
            if let count = Int(describe(value)), count > 0 {
                profile.set("limits.pids", String(count), from: "\(at).\(field)")
            } else {
                profile.warnings.append("\(at).\(field) \(describe(value)): Docker sets no pids limit for 0 or -1")
            }
        }
        if let cpuset = service["cpuset"] { profile.set("limits.cpuset", describe(cpuset), from: "\(at).cpuset") }
        for (name, value) in (service["ulimits"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard Ulimits.names[name] != nil else {
                throw ImportError("\(path): \(at).ulimits.\(name): not a resource limit Docker knows (\"invalid ulimit type\"); "
                                  + "expected one of \(Ulimits.names.keys.sorted().joined(separator: ", "))")
            }
            let limit: Ulimit
            do throws(UnitError) {
                if let sides = value as? [String: Any] {
                    guard let soft = sides["soft"], let hard = sides["hard"] else {
                        throw UnitError("needs both soft and hard")
                    }
                    let text = "\(describe(soft)):\(describe(hard))"
                    limit = try Ulimits.parse(text)
                } else {
                    limit = try Ulimits.parse(describe(value))
                }
            } catch {
                throw ImportError("\(path): \(at).ulimits.\(name): \(error.message)")
            }
            profile.set(name == "nofile" ? "limits.nofile" : "limits.ulimits.\(name)", limit.description,
                        from: "\(at).ulimits.\(name) (soft:hard)")
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
            profile.set("capabilities", "[\(set.joined(separator: ", "))]", from: "\(at).cap_add / \(at).cap_drop over Docker's default set")
        }
        try composeContainerEnvironment(&profile, path: path, service: service, at: at)
        profile.account(service, at: at,
                        carried: ["mem_limit", "memswap_limit", "cpus", "cpu_quota", "cpu_period", "pids_limit", "cpuset", "ulimits",
                                  "security_opt", "network_mode", "cap_add", "cap_drop", "deploy", "user", "read_only", "tmpfs",
                                  "shm_size", "environment", "env_file", "working_dir", "hostname", "group_add", "volumes"],
                        notCarried: ComposeFields.service)
        for other in others { profile.warnings.append("services.\(other): another service of the file; import it with --service \(other)") }
        let deploy = service["deploy"] as? [String: Any] ?? [:]
        profile.account(deploy, at: "\(at).deploy", carried: ["resources"],
                        notCarried: ["replicas": "import runs one replica; --copies N starts several in one limit",
                                     "mode": "Swarm placement does not apply", "placement": "Swarm placement does not apply",
                                     "endpoint_mode": "Swarm placement does not apply", "labels": "labels change nothing in a run",
                                     "restart_policy": "a run is not restarted", "rollback_config": "Swarm updates do not apply",
                                     "update_config": "Swarm updates do not apply"])
        let deployResources = deploy["resources"] as? [String: Any] ?? [:]
        profile.account(deployResources, at: "\(at).deploy.resources", carried: ["limits"],
                        notCarried: ["reservations": "a reservation is a scheduling hint, not a limit"])
        profile.account(deployLimits, at: "\(at).deploy.resources.limits", carried: ["memory", "cpus", "pids"], notCarried: [:])
        return profile
    }

    /// A Compose service's identity, filesystem, environment, working directory and hostname,
    /// as Docker applies them.
    static func composeContainerEnvironment(_ profile: inout ImportedProfile, path: String, service: [String: Any], at: String) throws(ImportError) {
        if let user = service["user"] {
            let text = describe(user)
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            if let uid = UserSpec.id(parts[0]) {
                profile.set("user.uid", String(uid), from: "\(at).user: \(text)")
                if parts.count == 2 {
                    if let gid = UserSpec.id(parts[1]) { profile.set("user.gid", String(gid), from: "\(at).user: \(text)") }
                    else { profile.warnings.append("\(at).user \(text): the group name \(parts[1]) needs the image's /etc/group; give a number") }
                }
            } else {
                profile.warnings.append("\(at).user \(text): a user name needs the image's /etc/passwd; give a number (uid[:gid])")
            }
        }
        if let groups = service["group_add"] as? [Any] {
            let ids = groups.map(describe)
            let numeric = ids.compactMap { UserSpec.id($0) }.map(String.init)
            if !numeric.isEmpty { profile.set("user.supplemental_groups", "[\(numeric.joined(separator: ", "))]", from: "\(at).group_add") }
            for name in ids where UserSpec.id(name) == nil {
                profile.warnings.append("\(at).group_add \(name): a group name needs the image's /etc/group; give a number")
            }
        }
        if let readOnly = service["read_only"] as? Bool {
            profile.set("filesystem.read_only_root", String(readOnly), from: "\(at).read_only")
        }
        if let shm = service["shm_size"] {
            let bytes: UInt64
            do { bytes = try DockerByteSize.parse(describe(shm)) } catch { throw ImportError("\(path): \(at).shm_size: \(error.message)") }
            profile.set("filesystem.shm_size", ByteQuantity.format(bytes),
                        from: "\(at).shm_size: \(describe(shm))" + (ByteQuantity.format(bytes) == describe(shm) ? "" : " (Docker's units are binary)"))
        }
        func volume(_ target: String, memory: Bool, size: UInt64?, from: String) {
            profile.addVolume(Volume(path: target, medium: memory ? .memory : .disk, sizeBytes: size), from: from)
        }
        // tmpfs: a path, a list of them, each `PATH[:size=…,mode=…]` (Docker's --tmpfs options).
        let tmpfs = (service["tmpfs"] as? [Any])?.map(describe) ?? (service["tmpfs"].map { [describe($0)] } ?? [])
        for entry in tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            var size: UInt64?
            for option in parts.count == 2 ? parts[1].split(separator: ",").map(String.init) : [] {
                if option.hasPrefix("size=") {
                    do { size = try DockerByteSize.parse(String(option.dropFirst(5))) } catch { throw ImportError("\(path): \(at).tmpfs \(entry): \(error.message)") }
                } else if !option.hasPrefix("mode=") {
                    profile.warnings.append("\(at).tmpfs \(parts[0]) option \(option): not applied (the tmpfs is mode 1777, nosuid, nodev)")
                }
            }
            volume(parts[0], memory: true, size: size, from: "\(at).tmpfs (tmpfs, charged to the run's memory as to the container's)")
        }
        for (index, item) in (service["volumes"] as? [Any] ?? []).enumerated() {
            let where_ = "\(at).volumes[\(index)]"
            if let long = item as? [String: Any] {
                let type = long["type"] as? String ?? "volume"
                guard let target = long["target"] as? String, target.hasPrefix("/") else {
                    throw ImportError("\(path): \(where_).target: expected an absolute path")
                }
                if type == "tmpfs" {
                    var size: UInt64?
                    if let given = (long["tmpfs"] as? [String: Any])?["size"] {
                        do { size = try DockerByteSize.parse(describe(given)) } catch { throw ImportError("\(path): \(where_).tmpfs.size: \(error.message)") }
                    }
                    volume(target, memory: true, size: size, from: "\(where_) (type tmpfs, charged to the run's memory)")
                } else {
                    let readOnly = long["read_only"] as? Bool == true
                    if !readOnly { volume(target, memory: false, size: nil, from: "\(where_) (a writable \(type): an empty disk volume stands in for it)") }
                    profile.warnings.append("\(where_) \(target): a \(type)'s content is not reproduced"
                                            + (readOnly ? " (the path is not mounted)" : " (an empty writable directory stands in for it)"))
                }
            } else {
                let text = describe(item)
                let parts = text.split(separator: ":").map(String.init)
                let target = parts.count >= 2 ? parts[1] : parts[0]
                let readOnly = parts.count >= 3 && parts[2].split(separator: ",").contains("ro")
                guard target.hasPrefix("/") else { throw ImportError("\(path): \(where_) \(text): expected SOURCE:TARGET[:MODE] with an absolute target") }
                if !readOnly { volume(target, memory: false, size: nil, from: "\(where_) (an empty disk volume stands in for it)") }
                profile.warnings.append("\(where_) \(text): the volume's content is not reproduced"
                                        + (readOnly ? " (the path is not mounted)" : " (an empty writable directory stands in for it)"))
            }
        }
        // Environment: env_file first, then environment over it, as Compose merges them.
        var variables: [(name: String, value: String?, from: String)] = []
        let files = (service["env_file"] as? [Any]) ?? (service["env_file"].map { [$0] } ?? [])
        for entry in files {
            let relative = (entry as? [String: Any])?["path"] as? String ?? describe(entry)
            let required = (entry as? [String: Any])?["required"] as? Bool ?? true
            let file = relative.hasPrefix("/") ? relative : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(relative)
            guard let text = readSmallRegularFile(file) else {
                if required { throw ImportError("\(path): \(at).env_file: cannot read \(file) (missing, or not a regular file of at most 1 MiB; Compose refuses a missing env_file unless required: false)") }
                continue
            }
            do {
                for (name, value) in try EnvFile.parse(text, file: file, quotes: true, inherited: ProcessInfo.processInfo.environment) {
                    variables.append((name, value, "\(at).env_file \(relative)"))
                }
            } catch { throw ImportError(error.message) }
        }
        if let map = service["environment"] as? [String: Any] {
            for (name, value) in map.sorted(by: { $0.key < $1.key }) {
                variables.append((name, value is NSNull ? nil : describe(value), "\(at).environment"))
            }
        } else if let list = service["environment"] as? [Any] {
            for item in list.map(describe) {
                let name = String(item.prefix { $0 != "=" })
                variables.append((name, item.contains("=") ? String(item.dropFirst(name.count + 1)) : nil, "\(at).environment"))
            }
        }
        for (name, value, from) in variables {
            if let value {
                profile.set("env.\(name)", yamlQuoted(value), from: from)
            } else {
                profile.warnings.append("\(from) \(name): no value: Compose takes it from the shell that runs it; set it with --env \(name)")
            }
        }
        if let directory = service["working_dir"] as? String {
            guard directory.hasPrefix("/") else { throw ImportError("\(path): \(at).working_dir: '\(directory)' is not an absolute path") }
            profile.set("working_dir", yamlQuoted(directory), from: "\(at).working_dir")
        }
        if let hostname = service["hostname"] as? String { profile.set("hostname", hostname, from: "\(at).hostname") }
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
        // The spec's fields are numbers: runc refuses a string ("512Mi") where one belongs.
        func number(_ value: Any?, _ at: String) throws(ImportError) -> Int64? {
            guard let value, !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, !(value is Bool), number.doubleValue == number.doubleValue.rounded() else {
                throw ImportError("\(path): \(at): expected a number (the OCI spec's \(at.hasPrefix("linux.resources.memory") ? "bytes" : "value")), found \(describe(value))")
            }
            return number.int64Value
        }
        for key in ["limit", "swap", "reservation", "kernel", "kernelTCP", "swappiness"] { _ = try number(memory[key], "linux.resources.memory.\(key)") }
        let cpuSection = resources["cpu"] as? [String: Any] ?? [:]
        for key in ["quota", "period", "shares", "realtimeRuntime", "realtimePeriod", "burst"] { _ = try number(cpuSection[key], "linux.resources.cpu.\(key)") }
        profile.account(memory, at: "linux.resources.memory", carried: ["limit", "swap"],
                        notCarried: ["reservation": "a reservation is a soft target, not a limit", "kernel": "kernel memory is not limited apart (cgroup v2 counts it in memory.max)",
                                     "kernelTCP": "TCP buffers are not limited apart", "swappiness": "the host's swappiness applies",
                                     "disableOOMKiller": "the OOM killer stays on, as for a pod", "useHierarchy": "always hierarchical",
                                     "checkBeforeUpdate": "a run is not updated"])
        profile.account(cpuSection, at: "linux.resources.cpu", carried: ["quota", "period", "cpus"],
                        notCarried: ["shares": "CPU weight is not set; only the quota is", "realtimeRuntime": "real-time scheduling is not set",
                                     "realtimePeriod": "real-time scheduling is not set", "mems": "memory nodes are the host's",
                                     "idle": "SCHED_IDLE is not set", "burst": "CFS burst is not set"])
        let limit = (memory["limit"] as? NSNumber)?.int64Value
        if let limit, limit > 0 {
            profile.set("limits.memory", String(limit), from: "linux.resources.memory.limit (bytes)")
            // runc: swap is memory + swap; -1 unlimited; 0 or absent leaves the swap limit unset
            // (the kernel's default: unlimited); below the limit it refuses to start.
            switch (memory["swap"] as? NSNumber)?.int64Value {
            case let swap? where swap < 0:
                profile.set("limits.swap", "max", from: "linux.resources.memory.swap \(swap) (unlimited)")
            case let swap? where swap > 0:
                guard swap >= limit else {
                    throw ImportError("\(path): linux.resources.memory.swap \(swap) is below linux.resources.memory.limit \(limit): "
                                      + "runc refuses it (\"memory+swap limit should be >= memory limit\"); swap counts memory and swap together")
                }
                profile.set("limits.swap", String(swap - limit),
                            from: "linux.resources.memory.swap \(swap) minus the limit (OCI counts memory and swap together)")
            default:
                profile.set("limits.swap", "max", from: "linux.resources.memory.swap unset: runc leaves swap unlimited (the host's swap, if any)")
            }
        } else {
            profile.warnings.append("linux.resources.memory.limit is not set: no memory limit")
        }
        let cpu = resources["cpu"] as? [String: Any] ?? [:]
        if let quota = (cpu["quota"] as? NSNumber)?.int64Value, quota > 0 {
            let given = (cpu["period"] as? NSNumber)?.int64Value ?? 100_000
            let period = given > 0 ? given : 100_000
            guard quota >= 1000 else {
                throw ImportError("\(path): linux.resources.cpu.quota \(quota): below the kernel's minimum of 1000 µs per period; runc fails to write it")
            }
            profile.set("limits.cpus", formatFixed(Double(quota) / Double(period), digits: 3).trimmingTrailingZeros(),
                        from: "linux.resources.cpu.quota \(quota) / period \(period)")
        }
        if let cpus = cpu["cpus"] as? String, !cpus.isEmpty { profile.set("limits.cpuset", cpus, from: "linux.resources.cpu.cpus") }
        if let pids = ((resources["pids"] as? [String: Any])?["limit"] as? NSNumber)?.int64Value, pids > 0 {
            profile.set("limits.pids", String(pids), from: "linux.resources.pids.limit")
        }
        let rlimits = (config["process"] as? [String: Any])?["rlimits"] as? [[String: Any]] ?? []
        for (index, rlimit) in rlimits.enumerated() {
            let type = rlimit["type"] as? String ?? "?"
            guard let name = Ulimits.name(ociType: type) else {
                throw ImportError("\(path): process.rlimits[\(index)].type: '\(type)' is not a resource limit runc knows; expected RLIMIT_NOFILE, RLIMIT_NPROC, …")
            }
            // The OCI fields are uint64: the all-ones value is RLIM_INFINITY.
            func side(_ key: String) throws(ImportError) -> UInt64? {
                guard let number = rlimit[key] as? NSNumber else {
                    throw ImportError("\(path): process.rlimits[\(index)].\(key): expected a number")
                }
                return number.uint64Value == UInt64.max || number.int64Value == -1 ? nil : number.uint64Value
            }
            let limit: Ulimit
            do { limit = try Ulimits.checked(Ulimit(soft: try side("soft"), hard: try side("hard")), text: type) } catch let error as UnitError {
                throw ImportError("\(path): process.rlimits[\(index)]: \(error.message)")
            } catch let error as ImportError {
                throw error
            } catch { throw ImportError("\(path): process.rlimits[\(index)]: \(error)") }
            profile.set(name == "nofile" ? "limits.nofile" : "limits.ulimits.\(name)", limit.description,
                        from: "process.rlimits \(type) (soft:hard)")
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
        let process = config["process"] as? [String: Any] ?? [:]
        if let capabilities = process["capabilities"] as? [String: Any], let bounding = capabilities["bounding"] as? [String] {
            profile.set("capabilities", "[\(bounding.joined(separator: ", "))]", from: "process.capabilities.bounding")
        }
        try ociContainerEnvironment(&profile, path: path, config: config, process: process)
        profile.account(config, at: "", carried: ["ociVersion", "process", "linux", "hostname", "root", "mounts"],
                        notCarried: ["hooks": "runtime hooks do not run", "annotations": "annotations change nothing in a run",
                                     "domainname": "only the hostname is set", "windows": "Windows only", "vm": "the run is not in a VM",
                                     "solaris": "Solaris only", "zos": "z/OS only"])
        profile.account(process, at: "process", carried: ["rlimits", "capabilities", "user", "env", "cwd", "args"],
                        notCarried: ["terminal": "the target gets confine's own terminal", "consoleSize": "the target gets confine's own terminal",
                                     "commandLine": "Windows only", "apparmorProfile": "no AppArmor profile is applied",
                                     "selinuxLabel": "no SELinux label is applied", "oomScoreAdj": "the target keeps confine's OOM score",
                                     "noNewPrivileges": "no_new_privs is set whenever a seccomp profile is, as runc does",
                                     "ioPriority": "the I/O priority is not set", "scheduler": "the scheduling policy is not set",
                                     "execCPUAffinity": "use limits.cpuset"])
        profile.account(linux, at: "linux", carried: ["resources", "seccomp", "namespaces"],
                        notCarried: ["uidMappings": "no user namespace: ids are the host's", "gidMappings": "no user namespace: ids are the host's",
                                     "devices": "devices are not created", "cgroupsPath": "the run has its own cgroup below confine's",
                                     "sysctl": "namespaced sysctls are not set: the host's values apply",
                                     "maskedPaths": "the paths stay visible (Docker's read-only /proc paths are read-only under container profiles)",
                                     "readonlyPaths": "Docker's read-only /proc paths are read-only under container profiles",
                                     "mountLabel": "no SELinux label is applied", "rootfsPropagation": "the run's mounts are private to it",
                                     "intelRdt": "RDT is not set", "personality": "the personality is not set",
                                     "timeOffsets": "no time namespace", "memoryPolicy": "the NUMA policy is not set", "netDevices": "the network is the host's"])
        profile.account(resources, at: "linux.resources", carried: ["memory", "cpu", "pids"],
                        notCarried: ["devices": "device rules are not set", "hugepageLimits": "hugepage limits are not set",
                                     "blockIO": "block I/O weights and limits are not set", "rdma": "RDMA limits are not set",
                                     "unified": "raw cgroup v2 files are not written", "network": "network classes are not set"])
        return profile
    }

    /// An OCI config's identity, root, mounts, environment, working directory and hostname, as runc applies them.
    static func ociContainerEnvironment(_ profile: inout ImportedProfile, path: String, config: [String: Any], process: [String: Any]) throws(ImportError) {
        if let user = process["user"] as? [String: Any] {
            // runc's ids are uint32 in the spec but -1 (4294967295) means "unchanged" to setresuid: refused.
            func id(_ value: Any, _ at: String) throws(ImportError) -> String {
                guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded(), number.int64Value >= 0,
                      number.int64Value <= Int64(UserSpec.idRange.upperBound) else {
                    throw ImportError("\(path): \(at): expected a numeric id from 0 to 2147483647, found \(describe(value))")
                }
                return String(number.int64Value)
            }
            if let uid = user["uid"] { profile.set("user.uid", try id(uid, "process.user.uid"), from: "process.user.uid") }
            if let gid = user["gid"] { profile.set("user.gid", try id(gid, "process.user.gid"), from: "process.user.gid") }
            if let groups = user["additionalGids"] as? [Any], !groups.isEmpty {
                var ids: [String] = []
                for (index, group) in groups.enumerated() { ids.append(try id(group, "process.user.additionalGids[\(index)]")) }
                profile.set("user.supplemental_groups", "[\(ids.joined(separator: ", "))]", from: "process.user.additionalGids")
            }
            for key in user.keys.sorted() where !["uid", "gid", "additionalGids"].contains(key) {
                profile.warnings.append("process.user.\(key): " + (key == "umask" ? "the umask is confine's" : key == "username" ? "Windows only" : "not a field confine knows; not carried over"))
            }
        }
        for (index, entry) in (process["env"] as? [String] ?? []).enumerated() {
            let name = String(entry.prefix { $0 != "=" })
            guard entry.contains("="), !name.isEmpty else { throw ImportError("\(path): process.env[\(index)]: '\(entry)' is not NAME=value") }
            profile.set("env.\(name)", yamlQuoted(String(entry.dropFirst(name.count + 1))), from: "process.env[\(index)]")
        }
        if let cwd = process["cwd"] as? String {
            guard cwd.hasPrefix("/") else { throw ImportError("\(path): process.cwd: '\(cwd)' is not an absolute path; runc requires one") }
            profile.set("working_dir", yamlQuoted(cwd), from: "process.cwd")
        }
        if let capabilities = process["capabilities"] as? [String: Any] {
            profile.account(capabilities, at: "process.capabilities", carried: ["bounding"],
                            notCarried: ["effective": "a root target has the bounding set in effect; a non-root uid none, as Docker gives it",
                                         "permitted": "a root target has the bounding set permitted; a non-root uid none",
                                         "inheritable": "the inheritable set is cut to the bounding set",
                                         "ambient": "ambient capabilities are cleared (a non-root uid runs without capabilities)"])
        }
        let namespaces = (config["linux"] as? [String: Any])?["namespaces"] as? [[String: Any]] ?? []
        for (index, namespace) in namespaces.enumerated() {
            let type = namespace["type"] as? String ?? "?"
            let said: [String: String] = [
                "pid": "the run shares the host's pid namespace", "ipc": "the run shares the host's IPC namespace (/dev/shm is its own)",
                "uts": "a UTS namespace of its own only when a hostname is set", "mount": "a mount namespace of its own when mounts are needed",
                "user": "no user namespace: ids are the host's", "cgroup": "the run sees the host's cgroup paths (read-only)",
                "time": "no time namespace",
            ]
            if let reason = said[type] { profile.warnings.append("linux.namespaces[\(index)] \(type): \(reason)") }
        }
        if process["args"] != nil { profile.warnings.append("process.args: the command is what is given to confine after --") }
        if let hostname = config["hostname"] as? String, !hostname.isEmpty { profile.set("hostname", hostname, from: "hostname") }
        let root = config["root"] as? [String: Any] ?? [:]
        if let readOnly = root["readonly"] as? Bool { profile.set("filesystem.read_only_root", String(readOnly), from: "root.readonly") }
        if root["path"] != nil { profile.warnings.append("root.path: the run sees this machine's root filesystem, not the bundle's") }
        let kernelTypes: Set<String> = ["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"]
        for (index, mount) in (config["mounts"] as? [[String: Any]] ?? []).enumerated() {
            let at = "mounts[\(index)]"
            guard let destination = mount["destination"] as? String else { throw ImportError("\(path): \(at).destination: missing") }
            let type = mount["type"] as? String ?? (((mount["options"] as? [String]) ?? []).contains("bind") ? "bind" : "?")
            let options = mount["options"] as? [String] ?? []
            if kernelTypes.contains(type) || (type == "tmpfs" && destination == "/dev") {
                // What every container gets: the run has the host's (only cgroupfs and /proc/sys read-only).
                profile.warnings.append("\(at) \(destination) (\(type)): the host's \(destination) stays, not a fresh one")
                continue
            }
            if type == "tmpfs" {
                var size: UInt64?
                for option in options where option.hasPrefix("size=") {
                    do { size = try DockerByteSize.parse(String(option.dropFirst(5))) } catch { throw ImportError("\(path): \(at).options \(option): \(error.message)") }
                }
                if destination == "/dev/shm" {
                    profile.set("filesystem.shm_size", ByteQuantity.format(size ?? dockerDefaultShmBytes), from: "\(at): tmpfs at /dev/shm")
                } else {
                    profile.addVolume(Volume(path: destination, medium: .memory, sizeBytes: size), from: "tmpfs mounts, charged to the run's memory")
                }
            } else {
                let readOnly = options.contains("ro")
                if !readOnly {
                    profile.addVolume(Volume(path: destination, medium: .disk), from: "writable binds, each an empty disk volume here")
                }
                profile.warnings.append("\(at) \(destination): a \(type) mount's content is not reproduced"
                                        + (readOnly ? " (the path is not mounted)" : " (an empty writable directory stands in for it)"))
            }
        }
    }
}

/// Every string in a decoded YAML document with Compose's interpolation applied (keys stay).
func interpolated(_ value: Any, _ variables: [String: String]) throws(UnitError) -> Any {
    switch value {
    case let text as String: return try Interpolation.expand(text, variables)
    case let list as [Any]:
        var result: [Any] = []
        for item in list { result.append(try interpolated(item, variables)) }
        return result
    case let mapping as [String: Any]:
        var result: [String: Any] = [:]
        for (key, item) in mapping { result[key] = try interpolated(item, variables) }
        return result
    default: return value
    }
}

/// A regular file of at most 1 MiB as UTF-8 (an env_file): never a device or a FIFO, which
/// would block or never end.
func readSmallRegularFile(_ path: String) -> String? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
          attributes[.type] as? FileAttributeType == .typeRegular,
          let size = attributes[.size] as? NSNumber, size.intValue <= 1 << 20 else { return nil }
    return try? String(contentsOfFile: path, encoding: .utf8)
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
