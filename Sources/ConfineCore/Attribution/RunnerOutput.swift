/// A test boundary read from a runner's console output.
public enum RunnerEvent: Equatable, Sendable {
    case started(TestSource, name: String)
    case ended(TestSource, name: String, outcome: TestRecord.Outcome, durationSeconds: Double?)
}

/// Reads `swift test` output line by line, XCTest and Swift Testing alike, as it streams:
///
///     Test Case 'BigTests.testBig' started at 2026-11-22 12:17:25.620
///     Test Case 'BigTests.testBig' passed (0.102 seconds)
///     ◇ Test big() started.
///     ✔ Test big() passed after 0.100 seconds.
///     ✘ Test "Small one" failed after 0.002 seconds with 1 issue.
///
/// Lines that look like a boundary but do not parse are counted, so a runner whose format
/// changed shows up as a warning instead of as silently empty `tests[]`.
public struct SwiftTestOutputParser: Sendable {
    public private(set) var linesRead = 0
    public private(set) var boundaries = 0
    /// Lines that began like a test boundary but did not parse.
    public private(set) var unrecognized: [String] = []
    public private(set) var unrecognizedCount = 0

    public init() {}

    public mutating func feed(_ rawLine: Substring) -> RunnerEvent? {
        linesRead += 1
        let line = Self.strippingEscapes(rawLine)
        let event: RunnerEvent?
        if line.hasPrefix("Test Case '") {
            event = Self.xctest(line.dropFirst("Test Case '".count))
        } else if let rest = Self.swiftTestingBody(line) {
            // A run's totals, and a parameterized test's cases (`Test case passing 1 argument x → 1
            // to param(x:) started.`): parts of a test, whose own lines bound it.
            if rest.hasPrefix("Test run ") || rest.hasPrefix("Test case ") { return nil }
            event = Self.swiftTesting(rest)
            if event == nil, rest.hasPrefix("Test ") && (rest.hasSuffix(" started.") || rest.contains(" after ")) {
                noteUnrecognized(line)
            }
            if event != nil { boundaries += 1 }
            return event
        } else {
            return nil
        }
        if event == nil { noteUnrecognized(line) } else { boundaries += 1 }
        return event
    }

    private mutating func noteUnrecognized(_ line: Substring) {
        unrecognizedCount += 1
        if unrecognized.count < 5 { unrecognized.append(String(line.prefix(200))) }
    }

    /// `BigTests.testBig' started at …` / `… passed (0.102 seconds)`.
    static func xctest(_ rest: Substring) -> RunnerEvent? {
        guard let quote = rest.firstIndex(of: "'") else { return nil }
        let name = String(rest[..<quote])
        let tail = rest[rest.index(after: quote)...]
        guard !name.isEmpty else { return nil }
        if tail.hasPrefix(" started") { return .started(.xctest, name: name) }
        for outcome in [TestRecord.Outcome.passed, .failed, .skipped] where tail.hasPrefix(" \(outcome.rawValue) (") {
            let number = tail.dropFirst(outcome.rawValue.count + 3).prefix { $0.isNumber || $0 == "." }
            return .ended(.xctest, name: name, outcome: outcome, durationSeconds: Double(number))
        }
        return nil
    }

    /// The text after Swift Testing's status symbol, for lines about a test.
    static func swiftTestingBody(_ line: Substring) -> Substring? {
        guard let first = line.first, "◇✔✘➜⚠".contains(first) || (first.unicodeScalars.first.map { $0.value >= 0x100000 } ?? false)
        else { return nil }
        let rest = line.dropFirst().drop { $0 == " " }
        return rest.hasPrefix("Test ") ? rest : nil
    }

    /// `Test big() started.` / `Test "Small one" passed after 0.001 seconds.` /
    /// `Test f(x:) with 3 test cases passed after …` / `Test x() skipped: "reason"`.
    static func swiftTesting(_ rest: Substring) -> RunnerEvent? {
        let body = rest.dropFirst("Test ".count)
        let name: Substring
        let tail: Substring
        if body.hasPrefix("\"") {
            guard let close = body.dropFirst().firstIndex(of: "\"") else { return nil }
            name = body[body.index(after: body.startIndex)..<close]
            tail = body[body.index(after: close)...]
        } else {
            guard let paren = body.firstIndex(of: ")") else { return nil }
            name = body[...paren]
            tail = body[body.index(after: paren)...]
        }
        guard !name.isEmpty, !name.contains(" recorded ") else { return nil }
        var verb = tail.drop { $0 == " " }
        if verb.hasPrefix("with "), let range = verb.range(of: " test case") {
            verb = verb[range.upperBound...].drop { $0 != " " }.drop { $0 == " " }
        }
        if verb.hasPrefix("started.") { return .started(.swiftTesting, name: String(name)) }
        if verb.hasPrefix("recorded") || verb.hasPrefix("received") { return nil }
        for outcome in [TestRecord.Outcome.passed, .failed, .skipped] where verb.hasPrefix(outcome.rawValue) {
            var duration: Double?
            if let after = verb.range(of: " after ") {
                duration = Double(verb[after.upperBound...].prefix { $0.isNumber || $0 == "." })
            }
            return .ended(.swiftTesting, name: String(name), outcome: outcome, durationSeconds: duration)
        }
        return nil
    }

    /// Without ANSI colour sequences, which Swift Testing adds on colour terminals.
    static func strippingEscapes(_ line: Substring) -> Substring {
        line.contains("\u{1B}") ? Substring(String(line).replacingEscapes()) : line
    }
}
