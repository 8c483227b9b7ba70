import Foundation
import Yams

/// A bad profile: one message naming file:line:column and what was expected.
public struct ProfileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var file: String
    public var message: String

    public init(at location: SourceLocation, _ message: String) {
        self.location = location
        self.file = location.file
        self.message = message
    }

    public init(file: String, _ message: String) {
        self.location = nil
        self.file = file
        self.message = message
    }

    public var description: String {
        "\(location.map(String.init(describing:)) ?? file): error: \(message)"
    }
}

/// Finds built-in profiles by name and loads profile files, following `extends`.
public struct ProfileLoader: Sendable {
    /// Directories holding `<name>.yaml` built-in profiles, searched in order.
    public var builtinDirectories: [String]

    public init(builtinDirectories: [String]) {
        self.builtinDirectories = builtinDirectories
    }

    /// Names of the built-in profiles, sorted.
    public func builtinNames() -> [String] {
        var names = Set<String>()
        for directory in builtinDirectories {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for entry in entries where entry.hasSuffix(".yaml") { names.insert(String(entry.dropLast(5))) }
        }
        return names.sorted()
    }

    /// The path of a built-in profile, if there is one by that name.
    public func builtinPath(named name: String) -> String? {
        guard !name.contains("/"), !name.hasSuffix(".yaml"), !name.hasSuffix(".yml") else { return nil }
        for directory in builtinDirectories {
            let path = directory + "/" + name + ".yaml"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// Resolves `reference` (a built-in name or a path) to a fully resolved profile.
    public func resolve(_ reference: String) throws(ProfileError) -> ResolvedProfile {
        let (spec, chain) = try load(reference)
        return ResolvedProfile(spec: spec, chain: chain)
    }

    /// Loads `reference` and its `extends` ancestors, merged; returns the chain of names, base first.
    public func load(_ reference: String) throws(ProfileError) -> (ProfileSpec, [String]) {
        guard let path = locate(reference, relativeTo: nil) else {
            throw ProfileError(file: reference, notFoundMessage(reference))
        }
        return try load(path: path, visiting: [])
    }

    /// Parses one file without following `extends` (used by `profile lint` too).
    public func parseFile(_ path: String) throws(ProfileError) -> ProfileSpec {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ProfileError(file: path, "cannot read profile: \(describeReadError(error, path: path))")
        }
        return try ProfileParser(file: path, text: text).parse()
    }

    private func load(path: String, visiting: [String]) throws(ProfileError) -> (ProfileSpec, [String]) {
        var spec = try parseFile(path)
        // A seccomp profile path is relative to the profile that names it, whichever extends it.
        if let seccomp = spec.seccomp, seccomp.contains("/") || seccomp.hasSuffix(".json"), !seccomp.hasPrefix("/") {
            let directory = (path as NSString).deletingLastPathComponent
            spec.seccomp = directory.isEmpty ? seccomp : directory + "/" + seccomp
        }
        let displayName = spec.name ?? baseName(path)
        guard let parentReference = spec.extends else { return (spec, [displayName]) }
        let location = spec.extendsLocation ?? SourceLocation(file: path, line: 1, column: 1)
        guard let parentPath = locate(parentReference, relativeTo: path) else {
            throw ProfileError(at: location, "extends '\(parentReference)': \(notFoundMessage(parentReference))")
        }
        let canonical = canonicalPath(parentPath)
        let seen = visiting + [canonicalPath(path)]
        if seen.contains(canonical) {
            let cycle = (seen.drop { $0 != canonical } + [canonical]).map(baseName).joined(separator: " -> ")
            throw ProfileError(at: location, "extends cycle: \(cycle); a profile cannot extend itself")
        }
        let (parent, chain) = try load(path: parentPath, visiting: seen)
        return (parent.overridden(by: spec), chain + [displayName])
    }

    /// A reference is a built-in name unless it looks like a path; paths in a profile are
    /// relative to that profile's directory.
    private func locate(_ reference: String, relativeTo profilePath: String?) -> String? {
        if let builtin = builtinPath(named: reference) { return builtin }
        var path = reference
        if !path.hasPrefix("/"), let profilePath {
            let directory = (profilePath as NSString).deletingLastPathComponent
            path = directory.isEmpty ? path : directory + "/" + path
        }
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    private func notFoundMessage(_ reference: String) -> String {
        let names = builtinNames()
        var message = "no built-in profile or file named '\(reference)'"
        if let suggestion = closestMatch(to: reference, in: names) { message += "; did you mean '\(suggestion)'?" }
        message += names.isEmpty ? "" : " (built-in profiles: \(names.joined(separator: ", ")))"
        return message
    }
}

private func baseName(_ path: String) -> String {
    var name = (path as NSString).lastPathComponent
    for suffix in [".yaml", ".yml"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
    return name
}

private func canonicalPath(_ path: String) -> String {
    (path as NSString).resolvingSymlinksInPath
}

private func describeReadError(_ error: Error, path: String) -> String {
    if !FileManager.default.fileExists(atPath: path) { return "no such file" }
    if FileManager.default.fileExists(atPath: path + "/.") { return "it is a directory" }
    return "\((error as NSError).localizedDescription)"
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
public func closestMatch(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
