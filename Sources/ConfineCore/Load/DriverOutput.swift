/// What a load driver measured (issue 19, `confine load`): the latency of each request when the
/// driver writes them (hey's CSV, a plain list), else the percentiles it summarised (wrk).
/// Pure parsers: text in, figures out, errors naming file, line and column.
public struct DriverResult: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        /// `hey -o csv`: a header, then per request `response-time,…,status-code,offset` (seconds).
        case hey
        /// wrk's report with `--latency`: the latency distribution's percentiles and the totals.
        case wrk
        /// One latency per line, a number of seconds or a duration with its unit (`12.5ms`).
        case plain
    }

    public var format: Format
    /// Every request's latency, seconds (hey, plain); empty when the driver summarised (wrk).
    public var latencies: [Double] = []
    /// When each request in `latencies` was sent, seconds since the driver started (hey's
    /// `offset`); empty when the driver does not say. Same order as `latencies`.
    public var sentAt: [Double] = []
    /// Whether each request in `latencies` failed (a status outside 2xx/3xx, or a transport
    /// error); empty when the driver gives no per-request status (then `errors` is the total).
    public var failed: [Bool] = []
    /// Percentiles the driver printed (wrk, locust, k6): percentile (50, 99) → seconds.
    public var percentiles: [Double: Double] = [:]
    /// The largest latency the driver reported, seconds, when it summarised instead of listing.
    public var maxLatency: Double?
    /// Requests made, and those answered with a status outside 2xx/3xx or not answered at all.
    public var requests = 0
    public var errors = 0
    /// Seconds the load ran (hey: the last request's offset plus its time; wrk: its own figure).
    public var durationSeconds: Double?
    /// Per endpoint, when the driver names them (locust's `Name`, k6's tagged metrics).
    public var endpoints: [Endpoint] = []
    /// Per second, when the driver writes a history (locust's `_stats_history.csv`): seconds
    /// since the driver started.
    public var history: [HistoryPoint] = []

    /// One endpoint's figures as the driver summarised them.
    public struct Endpoint: Sendable, Equatable {
        public var name: String
        /// The HTTP method, when the driver says (locust's `Type`).
        public var method: String?
        public var requests: Int
        public var errors: Int
        /// Percentile → seconds.
        public var percentiles: [Double: Double]
        public var maxLatency: Double?
        public init(name: String, method: String? = nil, requests: Int, errors: Int, percentiles: [Double: Double] = [:],
                    maxLatency: Double? = nil) {
            self.name = name
            self.method = method
            self.requests = requests
            self.errors = errors
            self.percentiles = percentiles
            self.maxLatency = maxLatency
        }
    }

    /// One second of the driver's own history.
    public struct HistoryPoint: Sendable, Equatable {
        /// Seconds since the driver started.
        public var t: Double
        public var requestsPerSecond: Double
        public var errorsPerSecond: Double
        /// p95 over the driver's window at `t`, seconds; nil when it had no answer yet.
        public var p95: Double?
        public init(t: Double, requestsPerSecond: Double, errorsPerSecond: Double, p95: Double?) {
            self.t = t
            self.requestsPerSecond = requestsPerSecond
            self.errorsPerSecond = errorsPerSecond
            self.p95 = p95
        }
    }

    public init(format: Format) { self.format = format }
}

public struct DriverOutputError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "\(path):\(line):\(column): \(message)" }
}

public enum DriverOutput {
    public static func parse(_ text: String, format: DriverResult.Format, path: String) throws(DriverOutputError) -> DriverResult {
        switch format {
        case .hey: return try hey(text, path: path)
        case .wrk: return try wrk(text, path: path)
        case .plain: return try plain(text, path: path)
        }
    }

    /// The format a driver command writes, from its program and options (`hey … -o csv`, `wrk … --latency`).
    public static func detect(_ command: [String]) -> DriverResult.Format? {
        guard let program = command.first?.split(separator: "/").last else { return nil }
        switch program {
        case "hey": return command.contains("csv") ? .hey : nil
        case "wrk": return .wrk
        default: return nil
        }
    }

    static func hey(_ text: String, path: String) throws(DriverOutputError) -> DriverResult {
        var result = DriverResult(format: .hey)
        var columns: [Substring: Int] = [:]
        var lastEnd = 0.0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            if columns.isEmpty {
                for (index, name) in fields.enumerated() { columns[name] = index }
                guard columns["response-time"] != nil, columns["status-code"] != nil else {
                    throw DriverOutputError(path: path, line: number + 1, column: 1,
                                            message: "expected hey's CSV header (response-time,…,status-code,offset); run hey with -o csv")
                }
                continue
            }
            func field(_ name: Substring) throws(DriverOutputError) -> Substring {
                guard let index = columns[name], index < fields.count else {
                    throw DriverOutputError(path: path, line: number + 1, column: line.count + 1, message: "missing the \(name) field")
                }
                return fields[index]
            }
            let timeText = try field("response-time")
            guard let time = Double(timeText), time >= 0, time.isFinite else {
                throw DriverOutputError(path: path, line: number + 1, column: 1, message: "'\(timeText)' is not a response time in seconds")
            }
            let statusText = try field("status-code")
            guard let status = Int(statusText) else {
                throw DriverOutputError(path: path, line: number + 1, column: column(of: columns["status-code"]!, in: fields),
                                        message: "'\(statusText)' is not an HTTP status code")
            }
            result.latencies.append(time)
            result.requests += 1
            let failed = !(200..<400).contains(status)
            result.failed.append(failed)
            if failed { result.errors += 1 }
            if let offset = columns["offset"].flatMap({ $0 < fields.count ? Double(fields[$0]) : nil }) {
                result.sentAt.append(offset)
                lastEnd = max(lastEnd, offset + time)
            }
        }
        if columns.isEmpty { throw DriverOutputError(path: path, line: 1, column: 1, message: "empty: hey wrote no CSV (did it start?)") }
        result.durationSeconds = lastEnd > 0 ? lastEnd : nil
        if result.sentAt.count != result.latencies.count { result.sentAt = [] }
        return result
    }

    static func wrk(_ text: String, path: String) throws(DriverOutputError) -> DriverResult {
        var result = DriverResult(format: .wrk)
        var sawDistribution = false
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = raw.split(separator: " ")
            guard let first = words.first else { continue }
            if first == "Latency" && words.count >= 2 && words[1] == "Distribution" { sawDistribution = true; continue }
            if sawDistribution, first.hasSuffix("%"), words.count >= 2, let percentile = Double(first.dropLast()) {
                guard let seconds = wrkDuration(words[1]) else {
                    throw DriverOutputError(path: path, line: number + 1, column: (raw.range(of: words[1])?.lowerBound).map { raw.distance(from: raw.startIndex, to: $0) + 1 } ?? 1,
                                            message: "'\(words[1])' is not a wrk duration (us, ms, s, m)")
                }
                result.percentiles[percentile] = seconds
                continue
            }
            // "    Latency   215.21ms   17.32ms 243.52ms   80.00%": average, deviation, max
            if first == "Latency", !sawDistribution, words.count >= 4 { result.maxLatency = wrkDuration(words[3]) }
            // "  35 requests in 2.00s, 9.83MB read"
            if words.count >= 4, words[1] == "requests", words[2] == "in", let count = Int(words[0]) {
                result.requests = count
                result.durationSeconds = wrkDuration(words[3].hasSuffix(",") ? words[3].dropLast() : words[3])
            }
            // "  Non-2xx or 3xx responses: 12" and "  Socket errors: connect 0, read 1, write 0, timeout 2"
            if raw.contains("Non-2xx or 3xx responses:"), let count = words.last.flatMap({ Int($0) }) { result.errors += count }
            if raw.contains("Socket errors:") {
                for (index, word) in words.enumerated() where index + 1 < words.count && ["connect", "read", "write", "timeout"].contains(word) {
                    result.errors += Int(words[index + 1].trimmingSuffix(",")) ?? 0
                }
            }
        }
        guard !result.percentiles.isEmpty else {
            throw DriverOutputError(path: path, line: 1, column: 1, message: "no latency distribution: run wrk with --latency")
        }
        return result
    }

    static func plain(_ text: String, path: String) throws(DriverOutputError) -> DriverResult {
        var result = DriverResult(format: .plain)
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let seconds = Double(line).flatMap({ $0 >= 0 && $0.isFinite ? $0 : nil }) ?? wrkDuration(line) else {
                throw DriverOutputError(path: path, line: number + 1, column: raw.count - line.count + 1,
                                        message: "'\(line)' is not a latency: a number of seconds or a duration such as 12.5ms")
            }
            result.latencies.append(seconds)
            result.requests += 1
        }
        return result
    }

    /// `215.21ms`, `17.32us`, `1.02s`, `2.00m` → seconds.
    static func wrkDuration(_ text: Substring) -> Double? {
        let units: [(String, Double)] = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let value = Double(text.dropLast(unit.count)), value >= 0, value.isFinite else { return nil }
            return value * scale
        }
        return nil
    }

    private static func column(of index: Int, in fields: [Substring]) -> Int {
        fields.prefix(index).reduce(1) { $0 + $1.count + 1 }
    }
}

private extension Substring {
    func trimmingSuffix(_ suffix: String) -> Substring { hasSuffix(suffix) ? dropLast(suffix.count) : self }
}
