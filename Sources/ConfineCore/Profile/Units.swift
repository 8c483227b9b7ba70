// Quantities as users write them in Kubernetes and Docker manifests.
//
// Memory:  `512Mi`, `1Gi` (binary, Kubernetes), `1G`, `500M` (decimal, Kubernetes),
//          `64m`, `1g`, `512k`, `64mb` (binary, Docker's lowercase suffixes), `1048576` (bytes).
// CPUs:    `500m` (millicores, Kubernetes), `0.5`, `2` (cores, Docker's --cpus).
// Time:    `10ms`, `2s`, `5m`, `1h`, `1m30s`, `250us` (Go-style, as Docker and Kubernetes use).

/// A parse failure of a unit string; the caller adds file/line/column.
public struct UnitError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

public enum ByteQuantity {
    private static let suffixes: [(String, UInt64)] = [
        // Kubernetes binary
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60),
        // Kubernetes decimal
        ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000), ("E", 1_000_000_000_000_000_000),
        // Docker (binary, lowercase, optional trailing b)
        ("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("tb", 1 << 40),
        ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40),
        ("b", 1), ("B", 1),
    ]

    /// Parses a byte quantity. Fractions are allowed with a suffix (`1.5Gi`).
    public static func parse(_ text: String) throws(UnitError) -> UInt64 {
        let s = text.trimmingWhitespace()
        let expected = "expected a byte quantity such as 512Mi, 1Gi, 1G or 64m"
        guard !s.isEmpty else { throw UnitError("empty value; \(expected)") }
        if s.hasPrefix("-") { throw UnitError("'\(s)' is negative; \(expected)") }
        var number = s
        var multiplier: UInt64 = 1
        for (suffix, value) in suffixes where s.hasSuffix(suffix) {
            number = String(s.dropLast(suffix.count))
            multiplier = value
            break
        }
        guard let amount = Double(number), amount.isFinite, isPlainDecimal(number) else {
            throw UnitError("'\(s)' is not a byte quantity; \(expected)")
        }
        let bytes = amount * Double(multiplier)
        guard bytes < 9.2e18 else { throw UnitError("'\(s)' is too large") }
        return UInt64(bytes.rounded(.up))
    }

    /// The shortest exact spelling (`512Mi`, `1536Mi`, `100M`, `12345`).
    public static func format(_ bytes: UInt64) -> String {
        for (suffix, value) in [("Ei", UInt64(1) << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30),
                                ("Mi", 1 << 20), ("Ki", 1 << 10)] where bytes >= value && bytes % value == 0 {
            return "\(bytes / value)\(suffix)"
        }
        for (suffix, value) in [("G", UInt64(1_000_000_000)), ("M", 1_000_000), ("K", 1_000)]
        where bytes >= value && bytes % value == 0 {
            return "\(bytes / value)\(suffix)"
        }
        return "\(bytes)"
    }

    /// A human figure for summaries (`61.2 MiB`).
    public static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : "\(formatFixed(value, digits: 1)) \(units[unit])"
    }
}

public enum CPUQuantity {
    /// Parses a CPU count: `500m` millicores or a decimal number of cores.
    public static func parse(_ text: String) throws(UnitError) -> Double {
        let s = text.trimmingWhitespace()
        let expected = "expected CPUs such as 500m, 0.5 or 2"
        guard !s.isEmpty else { throw UnitError("empty value; \(expected)") }
        if s.hasPrefix("-") { throw UnitError("'\(s)' is negative; \(expected)") }
        let cpus: Double
        if s.hasSuffix("m") {
            let digits = String(s.dropLast())
            guard let milli = Double(digits), isPlainDecimal(digits) else {
                throw UnitError("'\(s)' is not a CPU quantity; \(expected)")
            }
            cpus = milli / 1000
        } else {
            guard let value = Double(s), isPlainDecimal(s) else {
                throw UnitError("'\(s)' is not a CPU quantity; \(expected)")
            }
            cpus = value
        }
        guard cpus > 0 else { throw UnitError("'\(s)' must be greater than zero; \(expected)") }
        // The kernel's smallest CFS quota is 1 ms per 100 ms period.
        guard cpus >= 0.01 else { throw UnitError("'\(s)' is below the kernel's minimum of 10m (0.01 CPUs)") }
        return cpus
    }

    public static func format(_ cpus: Double) -> String {
        let milli = (cpus * 1000).rounded()
        if milli.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int(milli / 1000))" }
        return "\(Int(milli))m"
    }
}

public enum DurationQuantity {
    private static let units: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
    ]

    /// Parses a duration in seconds: `10ms`, `1m30s`, `2.5s`.
    public static func parse(_ text: String) throws(UnitError) -> Double {
        let s = text.trimmingWhitespace()
        let expected = "expected a duration such as 10ms, 30s, 5m or 1h30m"
        guard !s.isEmpty else { throw UnitError("empty value; \(expected)") }
        if s.hasPrefix("-") { throw UnitError("'\(s)' is negative; \(expected)") }
        var rest = Substring(s)
        var total = 0.0
        while !rest.isEmpty {
            let numberPart = rest.prefix { $0.isNumber || $0 == "." }
            guard !numberPart.isEmpty, let value = Double(numberPart) else {
                throw UnitError("'\(s)' is not a duration; \(expected)")
            }
            rest = rest.dropFirst(numberPart.count)
            let unitPart = rest.prefix { !($0.isNumber || $0 == ".") }
            guard !unitPart.isEmpty else {
                throw UnitError("'\(s)' has no unit; \(expected)")
            }
            guard let scale = units.first(where: { $0.0 == unitPart })?.1 else {
                throw UnitError("'\(s)' has an unknown unit '\(unitPart)'; \(expected)")
            }
            total += value * scale
            rest = rest.dropFirst(unitPart.count)
        }
        guard total > 0 else { throw UnitError("'\(s)' must be greater than zero; \(expected)") }
        return total
    }

    /// A measured time for people, four significant figures at most: `812ns`, `41.2µs`, `2.004ms`, `1.25s`.
    public static func formatMeasured(_ seconds: Double) -> String {
        let magnitude = abs(seconds)
        let (value, unit): (Double, String) = magnitude < 1e-6 ? (seconds * 1e9, "ns")
            : magnitude < 1e-3 ? (seconds * 1e6, "µs") : magnitude < 1 ? (seconds * 1e3, "ms") : (seconds, "s")
        let digits = abs(value) >= 100 ? 1 : abs(value) >= 10 ? 2 : 3
        return formatFixed(value, digits: unit == "ns" ? 0 : digits) + unit
    }

    public static func format(_ seconds: Double) -> String {
        if seconds < 1 {
            let ms = seconds * 1000
            if ms == ms.rounded() { return "\(Int(ms))ms" }
            return "\(Int((seconds * 1e6).rounded()))us"
        }
        var rest = Int(seconds.rounded(.down))
        let fraction = seconds - Double(rest)
        if fraction > 0 { return "\(formatFixed(seconds, digits: 3).trimmingTrailingZeros())s" }
        var out = ""
        if rest >= 3600 { out += "\(rest / 3600)h"; rest %= 3600 }
        if rest >= 60 { out += "\(rest / 60)m"; rest %= 60 }
        if rest > 0 || out.isEmpty { out += "\(rest)s" }
        return out
    }
}

/// A cpuset list as the kernel writes it: `0-3,6,8-9`.
public enum CPUSetList {
    public static func parse(_ text: String) throws(UnitError) -> [Int] {
        let s = text.trimmingWhitespace()
        let expected = "expected a CPU list such as 0-3 or 0,2,4-5"
        guard !s.isEmpty else { throw UnitError("empty value; \(expected)") }
        var cpus: [Int] = []
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                  let low = Int(bounds[0].trimmingWhitespace()), low >= 0,
                  let high = Int(bounds.last!.trimmingWhitespace()), high >= low
            else { throw UnitError("'\(s)' is not a CPU list; \(expected)") }
            cpus.append(contentsOf: low...high)
        }
        return Array(Set(cpus)).sorted()
    }

    public static func format(_ cpus: [Int]) -> String {
        var ranges: [String] = []
        var index = 0
        while index < cpus.count {
            var end = index
            while end + 1 < cpus.count, cpus[end + 1] == cpus[end] + 1 { end += 1 }
            ranges.append(end == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[end])")
            index = end + 1
        }
        return ranges.joined(separator: ",")
    }
}

// MARK: - small helpers shared by the formatters

/// `12.5`, `0.25` — fixed digits without Foundation's locale-dependent formatting.
public func formatFixed(_ value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    // Past Int's range (or not finite) Swift's own notation; Int(_:) would trap (found by fuzzing).
    guard scaled.isFinite, scaled < 9.0e18 else { return "\(value)" }
    let whole = Int(scaled / scale)
    let fraction = Int(scaled) - whole * Int(scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return "\(sign)\(whole)" }
    var fractionText = String(fraction)
    while fractionText.count < digits { fractionText = "0" + fractionText }
    return "\(sign)\(whole).\(fractionText)"
}

private func isPlainDecimal<S: StringProtocol>(_ s: S) -> Bool {
    !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && s.filter { $0 == "." }.count <= 1
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines (no Foundation needed).
    public func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

extension String {
    func trimmingTrailingZeros() -> String {
        guard contains(".") else { return self }
        var s = self
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
