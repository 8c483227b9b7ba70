/// An environment file as the runtimes read one: `NAME=value` per line, `#` comments and blank
/// lines skipped, a bare `NAME` taking the variable from confine's own environment (Docker's
/// `--env-file`, which takes the rest of the line as it is). Compose's `env_file` is dotenv
/// (`quotes: true`): `export` and `NAME: value` accepted, an unquoted value ends at ` #` and is
/// trimmed, single quotes keep the text as it is, double quotes take `\n`, `\t`, `\"` and `\\`,
/// and `${VAR}` is expanded in both (from the file's earlier lines, then `inherited`).
public enum EnvFile {
    /// The variables in order of the file; throws naming `file:line:column` and what was expected.
    public static func parse(_ text: String, file: String, quotes: Bool = false,
                             inherited: [String: String] = [:]) throws(UnitError) -> [(name: String, value: String)] {
        var variables: [(name: String, value: String)] = []
        var known = inherited
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var entry = trimmed
            if quotes, entry.hasPrefix("export ") { entry = entry.dropFirst(7).drop { $0 == " " } }
            let separators: Set<Character> = quotes ? ["=", ":"] : ["="]
            let raw = String(entry.prefix { !separators.contains($0) })
            let name = quotes ? raw.trimmingWhitespace() : raw  // Docker keeps "B " and refuses it; dotenv trims
            let column = line.count - trimmed.count + 1
            let place = "\(file):\(index + 1):\(column)"
            guard !name.isEmpty, !name.contains(" "), !name.contains("\t"), !name.contains("\0") else {
                throw UnitError("\(place): '\(entry.prefix(40))' is not NAME=value (a variable name has no spaces)")
            }
            guard let separator = entry.firstIndex(where: { separators.contains($0) }) else {
                if let value = inherited[name] { variables.append((name, value)) }
                continue
            }
            var value = String(entry[entry.index(after: separator)...])
            if quotes {
                value = try dotenvValue(value, known: known, place: place)
            }
            known[name] = value
            variables.append((name, value))
        }
        return variables
    }

    /// A dotenv value after its `=`: quoted, or unquoted up to an inline comment.
    static func dotenvValue(_ raw: String, known: [String: String], place: String) throws(UnitError) -> String {
        let value = raw.drop { $0 == " " || $0 == "\t" }
        if value.first == "'" {
            guard let close = value.dropFirst().firstIndex(of: "'") else { throw UnitError("\(place): a ' without its closing '") }
            return String(value[value.index(after: value.startIndex)..<close])
        }
        if value.first == "\"" {
            var result = ""
            var iterator = value.dropFirst().makeIterator()
            var closed = false
            while let character = iterator.next() {
                if character == "\"" { closed = true; break }
                if character == "\\", let escaped = iterator.next() {
                    switch escaped {
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    case "r": result.append("\r")
                    default: result.append(escaped)
                    }
                } else {
                    result.append(character)
                }
            }
            guard closed else { throw UnitError("\(place): a \" without its closing \"") }
            do { return try Interpolation.expand(result, known) } catch { throw UnitError("\(place): \(error.message)") }
        }
        var unquoted = value
        if let comment = unquoted.indices.first(where: { unquoted[$0] == "#" && $0 > unquoted.startIndex
            && (unquoted[unquoted.index(before: $0)] == " " || unquoted[unquoted.index(before: $0)] == "\t") }) {
            unquoted = unquoted[..<comment]
        }
        do { return try Interpolation.expand(String(unquoted).trimmingWhitespace(), known) } catch { throw UnitError("\(place): \(error.message)") }
    }
}
