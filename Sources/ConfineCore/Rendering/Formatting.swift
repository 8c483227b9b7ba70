/// Shared by the renderers: one way to write each kind of value, and plain-text tables.
enum Format {
    static func value(_ metric: String, _ value: Double?) -> String {
        guard let value else { return "—" }
        switch metric {
        case "peak_rss", "peak_usage", "rss_growth": return ByteQuantity.human(UInt64(max(0, value)))
        case "throttled", "error_rate": return formatFixed(value, digits: 1) + "%"
        case "oom_kills", "seccomp_denials", "network_attempts", "calls": return String(Int(value))
        default: return DurationQuantity.formatMeasured(value)
        }
    }

    static func change(_ change: Double?) -> String {
        guard let change else { return "" }
        return (change >= 0 ? "+" : "") + formatFixed(change * 100, digits: 1) + "%"
    }

    /// `+60.0% (+45.1% … +76.3%)`: the change and, when known, its 95% confidence interval.
    static func changeWithInterval(_ row: Comparison.Row) -> String {
        var text = change(row.change)
        if let low = row.changeLow, let high = row.changeHigh { text += " (\(change(low)) … \(change(high)))" }
        return text
    }

    /// What a comparison row rests on: `5×5 rounds, q 0.0031`, `1200/1180 calls, p <0.0001`, `1 run each`.
    static func evidence(_ row: Comparison.Row) -> String {
        var parts: [String] = []
        if let base = row.baseCalls, let head = row.headCalls { parts.append("\(base)/\(head) \(row.kind == "load" ? "requests" : "calls")") }
        else if let base = row.baseRounds, let head = row.headRounds {
            parts.append(base == 1 && head == 1 ? "1 run each" : "\(base)×\(head) rounds")
        }
        if let q = row.qValue { parts.append("q \(pValue(q))") } else if let p = row.pValue { parts.append("p \(pValue(p))") }
        return parts.joined(separator: ", ")
    }

    static func pValue(_ p: Double?) -> String {
        guard let p else { return "" }
        if p < 0.0001 { return "<0.0001" }
        return formatFixed(p, digits: 4)
    }

    /// Shortens from the left, keeping the end of a test path (its most specific part).
    static func fit(_ text: String, _ width: Int) -> String {
        let flat = text.contains(where: { $0 == "\n" || $0 == "\t" })
            ? text.split(whereSeparator: { $0 == "\n" || $0 == "\t" }).joined(separator: " ") : text
        return flat.count <= width ? flat : "…" + String(flat.suffix(width - 1))
    }

    static func outcomeMark(_ outcome: Outcome) -> String {
        switch outcome {
        case .passed: "✅"
        case .budgetExceeded: "❌"
        default: "❌"
        }
    }
}

/// A plain-text table: columns padded to their widest cell (right-aligned when numeric-looking).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    var rightAligned: Set<Int> = []

    func render(indent: String = "  ") -> [String] {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return rightAligned.contains(index) ? pad + cell : cell + pad
            }
            return (indent + padded.joined(separator: "  ")).trimmingTrailingSpaces()
        }
        return [line(header)] + rows.map(line)
    }
}

/// A Markdown table; `|` in cells escaped.
struct MarkdownTable {
    var header: [String]
    var rows: [[String]] = []
    var rightAligned: Set<Int> = []

    func render() -> [String] {
        func cell(_ text: String) -> String { text.replacingAll("|", with: "\\\\|").replacingAll("\n", with: " ") }
        let separator = header.indices.map { rightAligned.contains($0) ? "---:" : "---" }
        return ["| " + header.map(cell).joined(separator: " | ") + " |", "| " + separator.joined(separator: " | ") + " |"]
            + rows.map { "| " + $0.map(cell).joined(separator: " | ") + " |" }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.hasSuffix(" ") { copy.removeLast() }
        return copy
    }

    /// `&`, `<`, `>`, `"` as entities, for XML and HTML text. What XML 1.0 forbids outright
    /// (`Char` production: C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF) cannot
    /// be written even as a character reference, so it is replaced: a C0 control by its visible
    /// picture from Unicode's Control Pictures block (ESC of an ANSI colour code, from a test's
    /// output, becomes `␛`), U+FFFE and U+FFFF by U+FFFD. One bad byte must not cost a CI its
    /// whole test report: readers refuse the document.
    var xmlEscaped: String { xmlEscaped(attribute: false) }

    /// As `xmlEscaped`, for an attribute value: tab, newline and carriage return as character
    /// references too, since a parser turns them into spaces in an attribute (XML 1.0 §3.3.3).
    var xmlAttributeEscaped: String { xmlEscaped(attribute: true) }

    private func xmlEscaped(attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\t", "\n", "\r":
                if attribute { out += "&#\(scalar.value);" } else { out.unicodeScalars.append(scalar) }
            case "\u{0}"..."\u{1F}":
                out.unicodeScalars.append(scalar.controlPicture)
            case "\u{FFFE}", "\u{FFFF}":
                out.unicodeScalars.append("\u{FFFD}")
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension Unicode.Scalar {
    /// A control shown, not acted on: C0 controls and DEL as their pictures from Unicode's Control
    /// Pictures block (ESC → ␛, LF → ␊, DEL → ␡), C1 controls as U+FFFD; anything else itself.
    /// The one mapping the XML escaping and `printableLine` share.
    var controlPicture: Unicode.Scalar {
        switch value {
        case 0..<0x20: Unicode.Scalar(0x2400 + value)!
        case 0x7F: "\u{2421}"
        case 0x80...0x9F: "\u{FFFD}"
        default: self
        }
    }
}

extension String {
    /// One line of text for a terminal, a CI log or Markdown: what a test name or a command may
    /// carry that a reader would act on — a newline starting a line of its own (`::error` is a
    /// GitHub workflow command), ESC starting a terminal sequence, BEL, CR — shown as its picture
    /// from Unicode's Control Pictures block (C0 and DEL), C1 controls as U+FFFD.
    var printableLine: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars { out.append(scalar.controlPicture) }
        return String(out)
    }

    /// Without ANSI colour sequences (`ESC [ … m`).
    func replacingEscapes() -> String {
        guard contains("\u{1B}") else { return self }
        var out = ""
        var iterator = makeIterator()
        while let character = iterator.next() {
            if character == "\u{1B}" {
                while let next = iterator.next(), !next.isLetter {}
                continue
            }
            out.append(character)
        }
        return out
    }
}
