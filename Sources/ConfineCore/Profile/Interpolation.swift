/// Variable substitution as Compose does it (compose-spec "Interpolation") in a Compose file and
/// in its dotenv files: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
/// (unset), `${VAR:?message}` / `${VAR?message}` (an error), `${VAR:+other}` / `${VAR+other}`,
/// and `$$` for a literal `$`. An unset variable without a default is empty, as Compose makes it.
public enum Interpolation {
    public static func expand(_ text: String, _ variables: [String: String]) throws(UnitError) -> String {
        var output = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            guard let next = rest.first else { output += "$"; break }
            if next == "$" {
                output += "$"
                rest = rest.dropFirst()
            } else if next == "{" {
                guard let close = rest.firstIndex(of: "}") else {
                    throw UnitError("'${\(rest.dropFirst().prefix(30))': a ${ without its closing }")
                }
                output += try substitute(String(rest[rest.index(after: rest.startIndex)..<close]), variables)
                rest = rest[rest.index(after: close)...]
            } else if next == "_" || (next.isASCII && next.isLetter) {
                let name = rest.prefix { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
                output += variables[String(name)] ?? ""
                rest = rest.dropFirst(name.count)
            } else {
                output += "$"
            }
        }
        output += rest
        return output
    }

    /// One `${…}` body: a name and an optional operator with its word.
    static func substitute(_ body: String, _ variables: [String: String]) throws(UnitError) -> String {
        let name = String(body.prefix { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
        guard !name.isEmpty else { throw UnitError("'${\(body)}' does not name a variable") }
        let operation = body.dropFirst(name.count)
        let value = variables[name]
        let setAndNonEmpty = value.map { !$0.isEmpty } ?? false
        for (op, needsNonEmpty) in [(":-", true), ("-", false), (":?", true), ("?", false), (":+", true), ("+", false)] where operation.hasPrefix(op) {
            let word = try expand(String(operation.dropFirst(op.count)), variables)
            let present = needsNonEmpty ? setAndNonEmpty : value != nil
            switch op.last {
            case "-": return present ? value! : word
            case "?":
                if !present { throw UnitError("required variable \(name) is \(value == nil ? "unset" : "empty")" + (word.isEmpty ? "" : ": \(word)")) }
                return value!
            default: return present ? word : ""
            }
        }
        guard operation.isEmpty else { throw UnitError("'${\(body)}': expected ${\(name)}, ${\(name):-default}, ${\(name):?message} or ${\(name):+other}") }
        return value ?? ""
    }
}
