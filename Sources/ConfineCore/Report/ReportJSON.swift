import Foundation

/// The report's two arrays that grow with the suite — `tests` and `functions`, 100,000 tests
/// and millions of histogram buckets in a big run — written and read by hand; Foundation's
/// Codable JSON takes the rest. (Through Codable, a 40 MiB report took 3.5 s to read and
/// 2 s to write; bench/report-scale.) Same keys, same order, same layout as Codable's.
enum ReportJSON {
    // MARK: writing

    /// The report as Foundation writes it (pretty, sorted keys), with the big arrays spliced in.
    static func encode(_ report: RunReport) throws -> Data {
        var shell = report
        shell.tests = []
        shell.functions = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes = [UInt8](try encoder.encode(shell))
        // Later key first, so the earlier one's offset still holds.
        for (key, write) in [("tests", { (out: inout [UInt8]) in writeTests(report.tests, into: &out) }),
                             ("functions", { (out: inout [UInt8]) in writeFunctions(report.functions, into: &out) })] {
            let marker = Array("\n  \"\(key)\" : [\n\n  ]".utf8)
            guard let range = bytes.firstRange(of: marker) else { continue }
            var replacement = Array("\n  \"\(key)\" : ".utf8)
            write(&replacement)
            bytes.replaceSubrange(range, with: replacement)
        }
        bytes.append(0x0A)
        return Data(bytes)
    }

    static func writeTests(_ tests: [TestRecord], into out: inout [UInt8]) {
        writeArray(tests, into: &out) { test, object in
            object.string("attribution", test.attribution.rawValue)
            object.number("concurrentTests", test.concurrentTests)
            object.double("cpuSeconds", test.cpuSeconds)
            object.double("durationSeconds", test.durationSeconds)
            object.number("endGrowthBytes", test.endGrowthBytes)
            object.double("endSeconds", test.endSeconds)
            object.string("name", test.name)
            object.number("oomKills", test.oomKills)
            object.string("outcome", test.outcome?.rawValue)
            object.number("peakBytes", test.peakBytes)
            object.number("peakGrowthBytes", test.peakGrowthBytes)
            object.number("pid", test.pid)
            object.number("processPeakBytes", test.processPeakBytes)
            object.string("source", test.source.rawValue)
            object.number("startBytes", test.startBytes)
            object.double("startSeconds", test.startSeconds)
            object.number("throttledPeriods", test.throttledPeriods)
            object.double("throttledSeconds", test.throttledSeconds)
            object.number("unreclaimablePeakBytes", test.unreclaimablePeakBytes)
        }
    }

    static func writeFunctions(_ functions: [FunctionRecord], into out: inout [UInt8]) {
        writeArray(functions, into: &out) { function, object in
            object.number("bytes", function.bytes)
            object.number("calls", function.calls)
            if let histogram = function.histogram {
                object.raw("histogram") { out in
                    out.append(UInt8(ascii: "["))
                    for (index, pair) in histogram.enumerated() {
                        if index > 0 { out.append(UInt8(ascii: ",")) }
                        out.append(UInt8(ascii: "["))
                        out.append(contentsOf: String(pair[0]).utf8)
                        out.append(UInt8(ascii: ","))
                        out.append(contentsOf: String(pair[1]).utf8)
                        out.append(UInt8(ascii: "]"))
                    }
                    out.append(UInt8(ascii: "]"))
                }
            }
            object.double("maxSeconds", function.maxSeconds)
            object.double("meanSeconds", function.meanSeconds)
            object.number("memoryGrowthBytes", function.memoryGrowthBytes)
            object.double("minSeconds", function.minSeconds)
            object.string("name", function.name)
            object.double("p50Seconds", function.p50Seconds)
            object.double("p90Seconds", function.p90Seconds)
            object.double("p95Seconds", function.p95Seconds)
            object.double("p99Seconds", function.p99Seconds)
            object.number("processes", function.processes)
            object.double("totalSeconds", function.totalSeconds)
        }
    }

    /// Fields of one object, in the order given (callers give them sorted), nil ones left out.
    struct ObjectWriter {
        var out: [UInt8]
        var first = true

        mutating func key(_ key: StaticString) {
            out.append(contentsOf: first ? Self.firstKey : Self.nextKey)
            first = false
            key.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: Self.colon)
        }
        static let firstKey = Array("\n      \"".utf8)
        static let nextKey = Array(",\n      \"".utf8)
        static let colon = Array("\" : ".utf8)
        mutating func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            appendString(value, into: &out)
        }
        mutating func number<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
            guard let value else { return }
            key(name)
            out.append(contentsOf: String(value).utf8)
        }
        mutating func double(_ name: StaticString, _ value: Double?) {
            guard let value else { return }
            key(name)
            out.append(contentsOf: formatDouble(value).utf8)
        }
        mutating func raw(_ name: StaticString, _ write: (inout [UInt8]) -> Void) {
            key(name)
            write(&out)
        }
    }

    static func writeArray<T>(_ items: [T], into out: inout [UInt8], _ fields: (T, inout ObjectWriter) -> Void) {
        guard !items.isEmpty else {
            out += Array("[\n\n  ]".utf8)
            return
        }
        out += Array("[".utf8)
        var writer = ObjectWriter(out: [])
        writer.out.reserveCapacity(1024)
        out.reserveCapacity(out.count + items.count * 512)
        let open = Array("\n    {".utf8), nextOpen = Array(",\n    {".utf8), close = Array("\n    }".utf8)
        for (index, item) in items.enumerated() {
            out.append(contentsOf: index == 0 ? open : nextOpen)
            writer.out.removeAll(keepingCapacity: true)
            writer.first = true
            fields(item, &writer)
            out.append(contentsOf: writer.out)
            out.append(contentsOf: close)
        }
        out += Array("\n  ]".utf8)
    }

    /// JSON's number grammar from Swift's shortest round-trip form (`1e-05` → `1e-05` is valid; `inf` is not).
    static func formatDouble(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func appendString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: text.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [92, 34]
            case UInt8(ascii: "\\"): out += [92, 92]
            case 0x0A: out += [92, UInt8(ascii: "n")]
            case 0x0D: out += [92, UInt8(ascii: "r")]
            case 0x09: out += [92, UInt8(ascii: "t")]
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: reading

    struct Failure: Error {
        var at: String
        var reason: String
    }

    /// A string outside a closed set (a `ReportValue`, a seccomp action) as Codable's error; the
    /// Failure in it, with the JSON path and the values expected, is what `ReportFiles` shows.
    static func unknownValue(_ text: String, expected: [String], codingPath: [any CodingKey]) -> DecodingError {
        let name = codingPath.last.flatMap { $0.intValue == nil ? $0.stringValue : nil } ?? "value"
        let choices = expected.count > 1 ? expected.dropLast().joined(separator: ", ") + " or " + expected.last! : expected.joined()
        let failure = Failure(at: path(codingPath), reason: "unknown \(name) '\(text)'; expected \(choices)")
        return .dataCorrupted(.init(codingPath: codingPath, debugDescription: failure.reason, underlyingError: failure))
    }

    /// A Codable coding path as a JSON path: `network.attempts[0].verdict`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        guard !codingPath.isEmpty else { return "(root)" }
        var text = ""
        for key in codingPath {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    /// The report: `tests` and `functions` parsed here, the rest (with those two emptied) by Codable.
    static func decode(_ data: Data) throws -> RunReport {
        let bytes = [UInt8](data)
        var spans: [String: Range<Int>] = [:]
        do {
            spans = try bytes.withUnsafeBytes { raw in try topLevelSpans(raw, keys: ["tests", "functions"]) }
        } catch {
            // Not an object we can walk: let Codable say what is wrong with it.
            return try JSONDecoder().decode(RunReport.self, from: data)
        }
        var rest = bytes
        for range in spans.values.sorted(by: { $0.lowerBound > $1.lowerBound }) {
            rest.replaceSubrange(range, with: Array("[]".utf8))
        }
        var report = try JSONDecoder().decode(RunReport.self, from: Data(rest))
        try bytes.withUnsafeBytes { raw in
            if let range = spans["tests"] {
                var reader = Reader(raw, range)
                report.tests = try reader.array("tests") { reader, path in try reader.test(path()) }
            }
            if let range = spans["functions"] {
                var reader = Reader(raw, range)
                report.functions = try reader.array("functions") { reader, path in try reader.function(path()) }
            }
        }
        return report
    }

    /// Where the values of `keys` lie in the top-level object.
    static func topLevelSpans(_ raw: UnsafeRawBufferPointer, keys: Set<String>) throws -> [String: Range<Int>] {
        var reader = Reader(raw, 0..<raw.count)
        var spans: [String: Range<Int>] = [:]
        reader.skipSpace()
        try reader.expect(UInt8(ascii: "{"), "(root)")
        reader.skipSpace()
        if reader.peek == UInt8(ascii: "}") { return spans }
        while true {
            reader.skipSpace()
            let key = try reader.string("(root)")
            reader.skipSpace()
            try reader.expect(UInt8(ascii: ":"), key)
            reader.skipSpace()
            let start = reader.index
            try reader.skipValue(key)
            if keys.contains(key) { spans[key] = start..<reader.index }
            reader.skipSpace()
            if reader.peek == UInt8(ascii: ",") { reader.index += 1; continue }
            try reader.expect(UInt8(ascii: "}"), "(root)")
            return spans
        }
    }

    /// A byte-level JSON reader over one range of the document.
    struct Reader {
        let raw: UnsafeRawBufferPointer
        var index: Int
        let end: Int

        init(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) {
            self.raw = raw
            index = range.lowerBound
            end = range.upperBound
        }

        var peek: UInt8 { index < end ? raw[index] : 0 }

        mutating func skipSpace() {
            while index < end, raw[index] == 0x20 || raw[index] == 0x0A || raw[index] == 0x0D || raw[index] == 0x09 { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ path: @autoclosure () -> String) throws {
            guard peek == byte else { throw Failure(at: path(), reason: "expected '\(Character(Unicode.Scalar(byte)))'") }
            index += 1
        }

        mutating func string(_ path: @autoclosure () -> String) throws -> String {
            guard peek == UInt8(ascii: "\"") else { throw Failure(at: path(), reason: "expected a string") }
            index += 1
            let start = index
            var escaped = false
            while index < end, raw[index] != UInt8(ascii: "\"") {
                if raw[index] == UInt8(ascii: "\\") { escaped = true; index += 1 }
                index += 1
            }
            guard index < end else { throw Failure(at: path(), reason: "string is not closed") }
            let body = UnsafeRawBufferPointer(rebasing: raw[start..<index])
            index += 1
            guard escaped else { return String(decoding: body, as: UTF8.self) }
            // Rare (names with quotes or backslashes): let Foundation undo the escapes.
            let quoted = [UInt8(ascii: "\"")] + Array(body) + [UInt8(ascii: "\"")]
            guard let text = try? JSONDecoder().decode(String.self, from: Data(quoted)) else {
                throw Failure(at: path(), reason: "invalid escape in string")
            }
            return text
        }

        /// An integer or a decimal number; `null` is nil.
        mutating func number(_ path: @autoclosure () -> String) throws -> (integer: Int64?, double: Double)? {
            if literal("null") { return nil }
            let start = index
            var isInteger = true
            while index < end {
                let byte = raw[index]
                if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { isInteger = false }
                guard (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || !isInteger && byte != 0x2C
                        && byte != 0x7D && byte != 0x5D && byte != 0x20 && byte != 0x0A else { break }
                index += 1
            }
            if isInteger, index > start, index - start < 19 {
                // Most numbers are whole (bytes, counts, pids): no String, no strtod.
                var value: Int64 = 0
                var negative = false
                for position in start..<index {
                    let byte = raw[position]
                    if byte == UInt8(ascii: "-") && position == start { negative = true; continue }
                    guard byte >= 0x30 && byte <= 0x39 else { throw Failure(at: path(), reason: "expected a number") }
                    value = value * 10 + Int64(byte - 0x30)
                }
                if negative { value = -value }
                return (value, Double(value))
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<index]), as: UTF8.self)
            guard let double = Double(text) else { throw Failure(at: path(), reason: "expected a number") }
            return (isInteger ? Int64(text) : nil, double)
        }

        mutating func literal(_ word: String) -> Bool {
            let bytes = Array(word.utf8)
            guard end - index >= bytes.count, raw[index..<index + bytes.count].elementsEqual(bytes) else { return false }
            index += bytes.count
            return true
        }

        /// Past a string, without making one.
        mutating func skipString(_ path: @autoclosure () -> String) throws {
            index += 1
            while index < end {
                let byte = raw[index]
                if byte == UInt8(ascii: "\\") { index += 2; continue }
                index += 1
                if byte == UInt8(ascii: "\"") { return }
            }
            throw Failure(at: path(), reason: "string is not closed")
        }

        /// Past any value, checking only that brackets balance and strings close.
        mutating func skipValue(_ path: @autoclosure () -> String) throws {
            switch peek {
            case UInt8(ascii: "\""): try skipString(path())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < end {
                    let byte = raw[index]
                    if byte == UInt8(ascii: "\"") { try skipString(path()); continue }
                    if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                    if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 { index += 1; return }
                    }
                    index += 1
                }
                throw Failure(at: path(), reason: "not closed (truncated?)")
            default:
                let start = index
                while index < end, raw[index] != UInt8(ascii: ","), raw[index] != UInt8(ascii: "}"), raw[index] != UInt8(ascii: "]"),
                      raw[index] > 0x20 { index += 1 }
                guard index > start else { throw Failure(at: path(), reason: "expected a value") }
            }
        }

        mutating func array<T>(_ path: String, _ element: (inout Reader, @autoclosure () -> String) throws -> T) throws -> [T] {
            skipSpace()
            try expect(UInt8(ascii: "["), path)
            var items: [T] = []
            skipSpace()
            if peek == UInt8(ascii: "]") { index += 1; return items }
            while true {
                skipSpace()
                let count = items.count
                items.append(try element(&self, "\(path)[\(count)]"))
                skipSpace()
                if peek == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"), path)
                return items
            }
        }

        /// Calls `field` with each key of an object; unknown keys are skipped by the caller's `default`.
        mutating func object(_ path: String, _ field: (inout Reader, String) throws -> Void) throws {
            skipSpace()
            try expect(UInt8(ascii: "{"), path)
            skipSpace()
            if peek == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipSpace()
                let key = try string(path)
                skipSpace()
                try expect(UInt8(ascii: ":"), "\(path).\(key)")
                skipSpace()
                try field(&self, key)
                skipSpace()
                if peek == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"), path)
                return
            }
        }

        mutating func int<T: FixedWidthInteger>(_ path: @autoclosure () -> String, _: T.Type) throws -> T? {
            guard let value = try number(path()) else { return nil }
            guard let integer = value.integer, let exact = T(exactly: integer) else {
                throw Failure(at: path(), reason: "expected a whole number")
            }
            return exact
        }

        mutating func double(_ path: @autoclosure () -> String) throws -> Double? { try number(path())?.double }

        mutating func optionalString(_ path: @autoclosure () -> String) throws -> String? {
            if literal("null") { return nil }
            return try string(path())
        }

        mutating func required<T>(_ value: T?, _ path: @autoclosure () -> String) throws -> T {
            guard let value else { throw Failure(at: path(), reason: "missing; is this a confine run report?") }
            return value
        }

        mutating func test(_ path: @autoclosure () -> String) throws -> TestRecord {
            var test = TestRecord(name: "", source: .junit, startSeconds: nil)
            var sawName = false, sawSource = false
            try object(path()) { reader, key in
                func at() -> String { "\(path()).\(key)" }
                switch key {
                case "name": test.name = try reader.string(at()); sawName = true
                case "source":
                    let text = try reader.string(at())
                    guard let parsed = TestSource(rawValue: text) else { throw Failure(at: at(), reason: "unknown test source '\(text)'") }
                    test.source = parsed
                    sawSource = true
                case "attribution":
                    let text = try reader.string(at())
                    guard let parsed = TestRecord.Attribution(rawValue: text) else { throw Failure(at: at(), reason: "unknown attribution '\(text)'") }
                    test.attribution = parsed
                case "outcome":
                    if let text = try reader.optionalString(at()) {
                        guard let parsed = TestRecord.Outcome(rawValue: text) else {
                            throw Failure(at: at(), reason: "unknown test outcome '\(text)', expected one of "
                                          + TestRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))
                        }
                        test.outcome = parsed
                    }
                case "pid": test.pid = try reader.int(at(), Int32.self)
                case "startSeconds": test.startSeconds = try reader.double(at())
                case "endSeconds": test.endSeconds = try reader.double(at())
                case "durationSeconds": test.durationSeconds = try reader.double(at())
                case "cpuSeconds": test.cpuSeconds = try reader.double(at())
                case "startBytes": test.startBytes = try reader.int(at(), UInt64.self)
                case "peakBytes": test.peakBytes = try reader.int(at(), UInt64.self)
                case "peakGrowthBytes": test.peakGrowthBytes = try reader.int(at(), UInt64.self)
                case "endGrowthBytes": test.endGrowthBytes = try reader.int(at(), Int64.self)
                case "processPeakBytes": test.processPeakBytes = try reader.int(at(), UInt64.self)
                case "unreclaimablePeakBytes": test.unreclaimablePeakBytes = try reader.int(at(), UInt64.self)
                case "throttledPeriods": test.throttledPeriods = try reader.int(at(), UInt64.self)
                case "throttledSeconds": test.throttledSeconds = try reader.double(at())
                case "concurrentTests": test.concurrentTests = try reader.int(at(), Int.self) ?? 0
                case "oomKills": test.oomKills = try reader.int(at(), Int.self) ?? 0
                default: try reader.skipValue(at())
                }
            }
            guard sawName else { throw Failure(at: "\(path()).name", reason: "missing; is this a confine run report?") }
            guard sawSource else { throw Failure(at: "\(path()).source", reason: "missing; is this a confine run report?") }
            return test
        }

        mutating func function(_ path: @autoclosure () -> String) throws -> FunctionRecord {
            var name: String?
            var numbers: [String: Double] = [:]
            var integers: [String: Int64] = [:]
            var histogram: [[UInt64]]?
            var bytes: Int64?
            try object(path()) { reader, key in
                func at() -> String { "\(path()).\(key)" }
                switch key {
                case "name": name = try reader.string(at())
                case "histogram":
                    if reader.literal("null") { return }
                    histogram = try reader.array(at()) { reader, pairPath in
                        let pair = try reader.array(pairPath()) { reader, valuePath in try reader.required(reader.int(valuePath(), UInt64.self), valuePath()) }
                        guard pair.count == 2 else { throw Failure(at: pairPath(), reason: "expected [nanoseconds, count]") }
                        return pair
                    }
                case "bytes": bytes = try reader.int(at(), Int64.self)
                case "calls", "memoryGrowthBytes", "processes":
                    integers[key] = try reader.required(reader.int(at(), Int64.self), at())
                case "totalSeconds", "minSeconds", "meanSeconds", "p50Seconds", "p90Seconds", "p95Seconds", "p99Seconds", "maxSeconds":
                    numbers[key] = try reader.required(reader.double(at()), at())
                default: try reader.skipValue(at())
                }
            }
            let path = path()
            func number(_ key: String) throws -> Double { try required(numbers[key], "\(path).\(key)") }
            func integer(_ key: String) throws -> Int64 { try required(integers[key], "\(path).\(key)") }
            return FunctionRecord(name: try required(name, "\(path).name"), calls: UInt64(max(0, try integer("calls"))),
                                  totalSeconds: try number("totalSeconds"), minSeconds: try number("minSeconds"),
                                  meanSeconds: try number("meanSeconds"), p50Seconds: try number("p50Seconds"),
                                  p90Seconds: try number("p90Seconds"), p95Seconds: try number("p95Seconds"),
                                  p99Seconds: try number("p99Seconds"), maxSeconds: try number("maxSeconds"), bytes: bytes,
                                  memoryGrowthBytes: try integer("memoryGrowthBytes"), processes: Int(try integer("processes")),
                                  histogram: histogram)
        }
    }
}
