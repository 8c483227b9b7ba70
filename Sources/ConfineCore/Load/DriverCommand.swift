/// A driver command as given to `--driver` (a shell command line): its words, its output
/// format, how it paces requests, and capacity's placeholders (`{concurrency}`, `{rate}`).
public struct DriverCommand: Sendable, Equatable {
    /// As the user wrote it; run by `/bin/sh -c`.
    public var text: String

    public init(_ text: String) { self.text = text }

    /// The command's words as a POSIX shell splits them (quotes and backslashes; no expansion).
    /// Used to tell the program and its options, not to run it.
    public var words: [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                escaped = true
                inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            default:
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// The program's words without what runs it: leading `VAR=value`, `env` (and its options),
    /// `nice`/`timeout`/`stdbuf`/`taskset` with their arguments, and `python3 -m` (`python3 -m locust`).
    public var programWords: [String] {
        var words = Array(words.drop { $0 == "env" || ($0.contains("=") && !$0.hasPrefix("-")) })
        while let first = words.first {
            let name = first.split(separator: "/").last.map(String.init) ?? first
            if name == "env" || name == "nice" || name == "stdbuf" {
                words = Array(words.dropFirst().drop { $0.hasPrefix("-") || $0.contains("=") || Int($0) != nil })
            } else if name == "timeout" || name == "taskset" {
                // One non-option argument: the duration or the CPU mask.
                var rest = Array(words.dropFirst().drop { $0.hasPrefix("-") })
                if !rest.isEmpty { rest.removeFirst() }
                words = rest
            } else {
                break
            }
        }
        if let first = words.first, first.split(separator: "/").last?.hasPrefix("python") == true, words.count > 2, words[1] == "-m" {
            words = Array(words.dropFirst(2))
        }
        return words
    }

    /// The program's name (`hey`, `wrk`, `locust`).
    public var program: String? { programWords.first.map { String($0.split(separator: "/").last ?? Substring($0)) } }

    /// The value of an option (`-q 10`, `-q=10`, `--csv PREFIX`, `--csv=PREFIX`), the last one given.
    /// A one-dash name also matches its two-dash spelling (`--q 10`: Go's flag package takes both).
    public func option(_ names: String...) -> String? {
        let words = programWords
        var found: String?
        let spellings = names + names.filter { $0.hasPrefix("-") && !$0.hasPrefix("--") }.map { "-" + $0 }
        for (index, word) in words.enumerated() {
            for name in spellings {
                if word == name, index + 1 < words.count { found = words[index + 1] }
                if word.hasPrefix(name + "=") { found = String(word.dropFirst(name.count + 1)) }
            }
        }
        return found
    }

    /// How the driver paces its requests, and the interval one connection means to leave between
    /// its requests when it says (hey's `-q`: requests per second per worker): what
    /// coordinated-omission correction needs.
    public var pacing: (loop: LoadLoop, correction: LatencyCorrection, interval: Double?) {
        switch program {
        case "hey":
            // hey's workers each wait for an answer; -q caps each worker's rate, and a tick missed
            // while a request waited is dropped, not caught up: the requests a stall held back
            // were never sent, which is what the corrected recording puts back.
            if let rate = option("-q").flatMap(Double.init), rate > 0 { return (.closed, .corrected, 1 / rate) }
            return (.closed, .uncorrected, nil)
        case "wrk":
            // wrk2 keeps wrk's name for its binary in some builds; its -R (rate) is its mark.
            if option("-R", "--rate") != nil { return (.open, .byDriver, nil) }
            return (.closed, .uncorrected, nil)
        case "wrk2": return (.open, .byDriver, nil)
        case "locust": return (.closed, .uncorrected, nil)
        default: return (.unknown, .none, nil)
        }
    }

    /// Placeholders capacity fills (`{concurrency}`, `{rate}`) that the command contains.
    public var placeholders: [String] { ["concurrency", "rate"].filter { text.contains("{\($0)}") } }

    /// Whether the command needs a shell: shell syntax, or a leading `VAR=value` assignment.
    public var needsShell: Bool {
        // Outside quotes only: `'http://x/?a=1'` is one plain argument.
        let shellCharacters = Set("|&;<>()$`*?[]~#\n")
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped { escaped = false; continue }
            if let open = quote {
                if character == open { quote = nil } else if open == "\"" && (character == "$" || character == "`") { return true }
                continue
            }
            if character == "\\" { escaped = true } else if character == "'" || character == "\"" { quote = character }
            else if shellCharacters.contains(character) { return true }
        }
        return words.first?.contains("=") == true || words.isEmpty
    }

    /// What confine can tell before the load runs about reading this driver's output: nil when
    /// it can read it, else what to change (`hey` without `-o csv`, an unknown program).
    public func formatProblem(given format: DriverResult.Format?) -> String? {
        if program == "wrk" || program == "wrk2", format ?? .wrk == .wrk, !words.contains("--latency"), !words.contains("-L") {
            return "wrk prints its latency distribution only with --latency; add --latency to the driver"
        }
        if format != nil { return nil }
        if DriverOutput.detect(programWords) != nil { return nil }
        switch program {
        case "hey": return "hey prints figures confine can read only with -o csv; add -o csv to the driver"
        case "locust": return "locust writes figures confine can read only with --csv PREFIX (and --headless); add --csv"
        case "k6": return "k6 writes figures confine can read only with --summary-export FILE; add it"
        default:
            return "cannot tell \(program.map { "'\($0)'" } ?? "the driver")'s output format from its command; give --driver-format "
                + "(hey, wrk, locust, k6, or plain: one latency per line)"
        }
    }

    /// The command with `{name}` replaced by `value`.
    public func filling(_ name: String, with value: Int) -> DriverCommand {
        DriverCommand(text.replacingAll("{\(name)}", with: String(value)))
    }
}
