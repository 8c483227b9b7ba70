/// An environment file as the runtimes read one: `NAME=value` per line, `#` comments and blank
/// lines skipped, a bare `NAME` taking the variable from confine's own environment (Docker's
/// `--env-file`). Compose's `env_file` (dotenv) also strips one pair of matching quotes around a
/// value (`quotes: true`).
public enum EnvFile {
    /// The variables in order of the file; throws naming `file:line:column` and what was expected.
    public static func parse(_ text: String, file: String, quotes: Bool = false,
                             inherited: [String: String] = [:]) throws(UnitError) -> [(name: String, value: String)] {
        var variables: [(name: String, value: String)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var entry = trimmed
            if quotes, entry.hasPrefix("export ") { entry = entry.dropFirst(7).drop { $0 == " " } }
            let name = String(entry.prefix { $0 != "=" })
            let column = line.count - trimmed.count + 1
            guard !name.isEmpty, !name.contains(" "), !name.contains("\t") else {
                throw UnitError("\(file):\(index + 1):\(column): '\(entry.prefix(40))' is not NAME=value (a variable name has no spaces)")
            }
            guard entry.contains("=") else {
                if let value = inherited[name] { variables.append((name, value)) }
                continue
            }
            var value = String(entry.dropFirst(name.count + 1))
            if quotes, value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            variables.append((name, value))
        }
        return variables
    }
}
