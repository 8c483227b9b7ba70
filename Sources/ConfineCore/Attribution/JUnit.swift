/// One `<testcase>` of a JUnit XML file.
public struct JUnitCase: Equatable, Sendable {
    public var name: String
    public var className: String?
    /// `passed`, `failed`, `error` or `skipped`.
    public var outcome: TestRecord.Outcome
    public var durationSeconds: Double?

    /// `classname.name`, as most tools display it.
    public var qualifiedName: String { className.map { "\($0).\(name)" } ?? name }
}

public struct JUnitError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "\(path):\(line):\(column): \(message)" }
}

/// Reads the JUnit XML that pytest (`--junitxml`), `swift test --xunit-output`, gotestsum,
/// Maven Surefire and most CI tools write: `<testsuites>`/`<testsuite>` around `<testcase>`
/// elements, with `<failure>`, `<error>` or `<skipped>` children. Nothing else of XML is kept.
public enum JUnitReader {
    public static func parse(_ text: String, path: String) throws(JUnitError) -> [JUnitCase] {
        var cases: [JUnitCase] = []
        var current: JUnitCase?
        var sawRoot = false
        var scanner = XMLScanner(Array(text.utf8), path: path)
        while let token = try scanner.next() {
            switch token {
            case .start(let name, let attributes, let selfClosing):
                if !sawRoot {
                    guard name == "testsuites" || name == "testsuite" else {
                        throw scanner.error("root element is <\(name)>, expected <testsuites> or <testsuite>", at: scanner.tagStart)
                    }
                    sawRoot = true
                }
                switch name {
                case "testcase":
                    guard let caseName = attributes["name"] else { throw scanner.error("<testcase> without a name attribute", at: scanner.tagStart) }
                    let time = attributes["time"].flatMap { Double($0.filter { $0 != "," }) }
                    let testCase = JUnitCase(name: caseName, className: attributes["classname"].flatMap { $0.isEmpty ? nil : $0 },
                                             outcome: .passed, durationSeconds: time)
                    if selfClosing { cases.append(testCase) } else { current = testCase }
                case "failure": current?.outcome = .failed
                case "error": if current?.outcome != .failed { current?.outcome = .error }
                case "skipped": if current?.outcome == .passed { current?.outcome = .skipped }
                default: break
                }
            case .end(let name):
                if name == "testcase", let done = current {
                    cases.append(done)
                    current = nil
                }
            }
        }
        guard sawRoot else { throw scanner.error("no <testsuites> or <testsuite> element") }
        return cases
    }
}

/// Just enough XML: elements, attributes, entities, comments, CDATA, processing instructions,
/// with well-formedness checked and errors placed by line and column.
struct XMLScanner {
    enum Token {
        case start(String, [String: String], selfClosing: Bool)
        case end(String)
    }

    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var open: [String] = []
    private var seenRootEnd = false
    /// Where the last start tag began, for errors about the element as a whole.
    private(set) var tagStart = 0

    init(_ bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    func error(_ message: String, at position: Int? = nil) -> JUnitError {
        let position = min(position ?? index, bytes.count)
        var line = 1
        var column = 1
        for byte in bytes[..<position] {
            if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return JUnitError(path: path, line: line, column: column, message: message)
    }

    mutating func next() throws(JUnitError) -> Token? {
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<") else {
                let text = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "<") { index += 1 }
                if open.isEmpty, bytes[text..<index].contains(where: { !isSpace($0) }) {
                    throw error("text outside the root element; this is not an XML file", at: text)
                }
                continue
            }
            if starts("<?") { try skip(past: "?>", what: "processing instruction"); continue }
            if starts("<!--") { try skip(past: "-->", what: "comment"); continue }
            if starts("<![CDATA[") { try skip(past: "]]>", what: "CDATA section"); continue }
            if starts("<!") { try skip(past: ">", what: "declaration"); continue }
            let tagStart = index
            if starts("</") {
                index += 2
                let name = try readName()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { throw error("expected '>' to close </\(name)") }
                index += 1
                guard let last = open.popLast() else { throw error("</\(name)> closes nothing", at: tagStart) }
                guard last == name else { throw error("</\(name)> closes <\(last)>", at: tagStart) }
                if open.isEmpty { seenRootEnd = true }
                return .end(name)
            }
            self.tagStart = tagStart
            index += 1
            let name = try readName()
            if seenRootEnd { throw error("a second root element <\(name)>", at: tagStart) }
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                guard index < bytes.count else { throw error("<\(name) is not closed before the end of the file", at: tagStart) }
                if bytes[index] == UInt8(ascii: ">") {
                    index += 1
                    open.append(name)
                    return .start(name, attributes, selfClosing: false)
                }
                if starts("/>") {
                    index += 2
                    if open.isEmpty { seenRootEnd = true }
                    return .start(name, attributes, selfClosing: true)
                }
                let attribute = try readName()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw error("expected '=' after attribute \(attribute)") }
                index += 1
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                    throw error("expected a quoted value for attribute \(attribute)")
                }
                let quote = bytes[index]
                index += 1
                let valueStart = index
                while index < bytes.count, bytes[index] != quote {
                    if bytes[index] == UInt8(ascii: "<") { throw error("'<' inside the value of attribute \(attribute)") }
                    index += 1
                }
                guard index < bytes.count else { throw error("value of attribute \(attribute) is not closed", at: valueStart) }
                attributes[attribute] = try decodeEntities(bytes[valueStart..<index], at: valueStart)
                index += 1
            }
        }
        if let last = open.last { throw error("end of file inside <\(last)>") }
        return nil
    }

    private func starts(_ prefix: String) -> Bool {
        let utf8 = Array(prefix.utf8)
        return bytes.count - index >= utf8.count && bytes[index..<index + utf8.count].elementsEqual(utf8)
    }

    private mutating func skip(past terminator: String, what: String) throws(JUnitError) {
        let start = index
        let utf8 = Array(terminator.utf8)
        while index + utf8.count <= bytes.count {
            if bytes[index..<index + utf8.count].elementsEqual(utf8) {
                index += utf8.count
                return
            }
            index += 1
        }
        throw error("\(what) is not closed", at: start)
    }

    private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private mutating func skipSpace() { while index < bytes.count, isSpace(bytes[index]) { index += 1 } }

    private mutating func readName() throws(JUnitError) -> String {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            let isNameByte = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: ":") || byte >= 0x80
            guard isNameByte else { break }
            index += 1
        }
        guard index > start else { throw error("expected a name") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private func decodeEntities(_ raw: ArraySlice<UInt8>, at position: Int) throws(JUnitError) -> String {
        guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        var cursor = raw.startIndex
        while cursor < raw.endIndex {
            guard raw[cursor] == UInt8(ascii: "&") else {
                out.append(raw[cursor])
                cursor += 1
                continue
            }
            guard let semicolon = raw[cursor...].firstIndex(of: UInt8(ascii: ";")) else {
                throw error("'&' without a closing ';'", at: cursor)
            }
            let entity = String(decoding: raw[(cursor + 1)..<semicolon], as: UTF8.self)
            switch entity {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                guard let number, let scalar = Unicode.Scalar(number) else {
                    throw error("unknown entity &\(entity);", at: cursor)
                }
                out += Array(String(Character(scalar)).utf8)
            }
            cursor = semicolon + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
