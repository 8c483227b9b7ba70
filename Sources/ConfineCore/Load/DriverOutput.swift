/// What a load driver measured (issue 19, `confine load`): the latency of each request when the
/// driver writes them (hey's CSV, a plain list), else the percentiles it summarised (wrk, locust,
/// k6), with locust's and k6's per-endpoint figures and locust's per-second history.
/// Pure parsers: text in, figures out, errors naming file, line and column.
public struct DriverResult: Sendable, Equatable {
    public enum Format: String, ReportValue {
        /// `hey -o csv`: a header, then per request `response-time,…,status-code,offset` (seconds).
        case hey
        /// wrk's report with `--latency`: the latency distribution's percentiles and the totals.
        case wrk
        /// One latency per line, a number of seconds or a duration with its unit (`12.5ms`).
        case plain
        /// `locust --csv PREFIX`: `PREFIX_stats.csv` (per endpoint, then `Aggregated`; milliseconds)
        /// and `PREFIX_stats_history.csv` (per second); see `DriverOutput.parseLocust`.
        case locust
        /// `k6 run --summary-export FILE`: JSON with `http_req_duration`'s figures (milliseconds),
        /// the `http_reqs` counter, the `http_req_failed` rate and `{name:…}` submetrics per endpoint.
        case k6
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
        case .locust: return try parseLocust(stats: text, history: nil, path: path)
        case .k6: return try k6(text, path: path)
        }
    }

    /// The format a driver command writes, from its program and options (`hey … -o csv`, `wrk … --latency`,
    /// `locust … --csv PREFIX` or `python3 -m locust … --csv PREFIX`, `k6 run … --summary-export FILE`);
    /// nil when the command writes nothing confine reads (hey's text summary, locust without `--csv`).
    public static func detect(_ command: [String]) -> DriverResult.Format? {
        guard let program = command.first?.split(separator: "/").last else { return nil }
        switch program {
        case "hey": return command.contains("csv") || command.contains("-o=csv") || command.contains("--o=csv") ? .hey : nil
        case "wrk", "wrk2": return .wrk
        case "locust": return option("--csv", in: command) != nil ? .locust : nil
        case "k6": return command.contains("run") && option("--summary-export", in: command) != nil ? .k6 : nil
        default:
            // `python3 -m locust …`, `python -m locust …`, `python3.11 -m locust …`
            if program.hasPrefix("python"), command.count > 2, command[1] == "-m", command[2] == "locust" {
                return option("--csv", in: command) != nil ? .locust : nil
            }
            return nil
        }
    }

    /// Where a driver writes what confine reads when it is not standard output, as the command
    /// names them (relative to the driver's working directory when relative): locust's
    /// `--csv PREFIX` (or `--csv=PREFIX`) → `PREFIX_stats.csv` and `PREFIX_stats_history.csv`; k6's
    /// `--summary-export FILE` (or `=FILE`) → `FILE`. Nil for drivers that print to standard output
    /// (hey, wrk, plain) and when the option is missing.
    public static func outputFiles(of command: [String], format: DriverResult.Format) -> (primary: String, secondary: String?)? {
        switch format {
        case .locust:
            guard let prefix = option("--csv", in: command) else { return nil }
            return (prefix + "_stats.csv", prefix + "_stats_history.csv")
        case .k6:
            return option("--summary-export", in: command).map { ($0, nil) }
        case .hey, .wrk, .plain:
            return nil
        }
    }

    /// The value of a long option given as `--name VALUE` or `--name=VALUE` (the last one wins, as
    /// in locust's argparse and k6's flags); nil when absent or given without a value.
    static func option(_ name: String, in command: [String]) -> String? {
        var value: String?
        var index = 1
        while index < command.count {
            let argument = command[index]
            if argument == name, index + 1 < command.count {
                value = command[index + 1]
                index += 2
                continue
            }
            if argument.hasPrefix(name + "=") { value = String(argument.dropFirst(name.count + 1)) }
            index += 1
        }
        return value.flatMap { $0.isEmpty ? nil : $0 }
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
            if let offset = columns["offset"].flatMap({ $0 < fields.count ? Double(fields[$0]) : nil }), offset.isFinite {
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
            if raw.contains("Non-2xx or 3xx responses:"), let count = words.last.flatMap({ Int($0) }) {
                result.errors = result.errors.saturatingAdd(count)
            }
            if raw.contains("Socket errors:") {
                for (index, word) in words.enumerated() where index + 1 < words.count && ["connect", "read", "write", "timeout"].contains(word) {
                    result.errors = result.errors.saturatingAdd(Int(words[index + 1].trimmingSuffix(",")) ?? 0)
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

    // MARK: locust

    /// locust's `--csv PREFIX` files (read with locust 2.12, Debian's python3-locust; the run behind
    /// Tests/Fixtures/load/locust_*.csv is in locustfile.py there). `stats` is `PREFIX_stats.csv`: a
    /// header (`Type,Name,Request Count,Failure Count,…,Max Response Time,…,Requests/s,…,50%,66%,…,
    /// 100%`), a row per endpoint, then the `Aggregated` row (empty `Type`). `history` is
    /// `PREFIX_stats_history.csv`: a header (`Timestamp,User Count,Type,Name,Requests/s,Failures/s,
    /// 50%,…`), an `Aggregated` row a second (and before it one per endpoint with
    /// `--csv-full-history`). Response times are milliseconds, `Timestamp` unix seconds, a percentile
    /// `N/A` before the first answer; Python's csv module ends rows with CRLF and quotes a name
    /// holding a comma. locust rewrites the stats once a second and not when it exits, so they lack
    /// up to its last second (the fixture's run printed 582 requests, its stats CSV holds 551).
    ///
    /// - `requests`, `errors`, `percentiles`, `maxLatency`: the stats' `Aggregated` row.
    /// - `endpoints`: the stats' other rows (`Name`; `Type`, the HTTP method, as `method`).
    /// - `history`: the history's `Aggregated` rows, `t` counted from its first `Timestamp`;
    ///   `requestsPerSecond` and `errorsPerSecond` are locust's current rates (its `Requests/s`,
    ///   `Failures/s`), `p95` its `95%` column, which locust computes over the whole run so far
    ///   (over its recent window with `--csv-full-history`).
    /// - `durationSeconds`: the larger of the history's span (last − first `Timestamp` + 1) and the
    ///   `Aggregated` row's `Request Count` ÷ `Requests/s` (locust's start to its last request).
    ///   locust flushes the history every 10 s and not when it exits, so the last seconds of a run
    ///   are often missing from it (the fixture's 15 s run kept 11 rows).
    ///
    /// Errors name `path` (the stats file) or `historyPath` (by default `path` with `_history`
    /// before `.csv`, as locust names the file), the line and the column.
    public static func parseLocust(stats: String, history: String?, path: String,
                                   historyPath: String? = nil) throws(DriverOutputError) -> DriverResult {
        var result = DriverResult(format: .locust)
        let table = try CSVTable(stats, path: path, what: "locust's stats CSV",
                                 required: ["Type", "Name", "Request Count", "Failure Count", "Max Response Time"],
                                 hint: "give confine PREFIX_stats.csv from locust --csv PREFIX")
        var aggregated: CSVRow?
        for row in table.rows {
            let name = row.text("Name") ?? ""
            let type = row.text("Type") ?? ""
            let requests = try row.count("Request Count", "a request count (a whole number)")
            let errors = try row.count("Failure Count", "a failure count (a whole number)")
            let percentiles = try row.percentiles()
            var maxLatency: Double?
            if requests > 0 { maxLatency = try row.milliseconds("Max Response Time") }
            if name == "Aggregated" && type.isEmpty {
                result.requests = requests
                result.errors = errors
                result.percentiles = percentiles
                result.maxLatency = maxLatency
                aggregated = row
            } else {
                result.endpoints.append(.init(name: name, method: type.isEmpty ? nil : type, requests: requests, errors: errors,
                                              percentiles: percentiles, maxLatency: maxLatency))
            }
        }
        guard let aggregated else {
            throw DriverOutputError(path: path, line: table.endLine, column: 1,
                                    message: "no Aggregated row: locust ends its stats CSV with one (was the file cut short?)")
        }
        if let rate = try aggregated.optionalNumber("Requests/s", "a rate per second"), rate > 0 {
            let seconds = Double(result.requests) / rate
            if seconds.isFinite { result.durationSeconds = seconds }
        }
        guard let history else { return result }

        let historyTable = try CSVTable(history, path: historyPath ?? locustHistoryPath(path), what: "locust's stats history CSV",
                                        required: ["Timestamp", "Name", "Requests/s", "Failures/s"],
                                        hint: "give confine PREFIX_stats_history.csv from locust --csv PREFIX")
        var first: Double?
        var last = 0.0
        for row in historyTable.rows where row.text("Name") == "Aggregated" && (row.text("Type") ?? "").isEmpty {
            let timestamp = try row.number("Timestamp", "a unix time in seconds")
            let t = timestamp - (first ?? timestamp)
            if first == nil { first = timestamp }
            last = max(last, t)
            let p95 = historyTable.columns["95%"] == nil ? nil : try row.milliseconds("95%")
            result.history.append(.init(t: t, requestsPerSecond: try row.number("Requests/s", "a rate per second"),
                                        errorsPerSecond: try row.number("Failures/s", "a rate per second"), p95: p95))
        }
        if first != nil { result.durationSeconds = max(result.durationSeconds ?? 0, last + 1) }
        return result
    }

    /// `run_stats.csv` → `run_stats_history.csv`, as locust names its history next to its stats.
    static func locustHistoryPath(_ statsPath: String) -> String {
        statsPath.hasSuffix(".csv") ? String(statsPath.dropLast(4)) + "_history.csv" : statsPath + "_history"
    }

    // MARK: k6

    /// k6's `--summary-export FILE`: the legacy summary JSON k6 still writes (v0.58, v1):
    /// `{"root_group": …, "metrics": {"http_req_duration": {"avg", "min", "med", "max", "p(90)",
    /// "p(95)"}, "http_reqs": {"count", "rate"}, "http_req_failed": {"passes", "fails", "value"},
    /// "http_req_duration{name:quote}": {…}, …}}`, durations in milliseconds, more percentiles
    /// (`p(99)`) when the script's `summaryTrendStats` asks for them. Also read: `handleSummary()`'s
    /// data, where each metric's figures sit under `values`.
    ///
    /// `http_req_failed` is a rate of *failed* requests: its `passes` count the requests for which
    /// "failed" held, the failed ones, and its `fails` the requests that succeeded (grafana/k6#2386,
    /// a maintainer: "since the http_req_failed metric is tracking the failures, it's technically
    /// correct"; grafana/k6-docs#1185; k6's end-of-test docs print `http_req_failed: 0.00% ✓ 0 ✗ 180`
    /// for 180 good requests; the fixture's run printed "0.00% 0 out of 1597" and exported
    /// `"passes": 0, "fails": 1597`). So `errors` is `passes`.
    ///
    /// - `percentiles`: every `p(N)` of `http_req_duration`, and `med` as the 50th without a `p(50)`.
    /// - `durationSeconds`: `http_reqs`' `count` ÷ `rate` (k6's rate is per second of the test run).
    /// - `endpoints`: the `http_req_duration{name:…}` submetrics (tags `name` and optionally
    ///   `method`; k6 exports those a script names in its thresholds), with the `count` of
    ///   `http_reqs` (else of the trend itself) and the `passes` of `http_req_failed` under the same
    ///   tags; sorted by name.
    ///
    /// Errors give the line and column where the JSON breaks off or where the offending value
    /// starts, and name it by its JSON path (`metrics.http_reqs.count: expected a whole number …`).
    static func k6(_ text: String, path: String) throws(DriverOutputError) -> DriverResult {
        let root = try JSONReader.parse(text, path: path)
        func failure(_ node: JSONNode, _ message: String) -> DriverOutputError {
            DriverOutputError(path: path, line: node.position.line, column: node.position.column, message: message)
        }
        guard case .object(let top) = root.value else {
            throw failure(root, "expected k6's --summary-export JSON (an object with \"metrics\"), found \(root.kind)")
        }
        guard let metricsNode = top["metrics"], case .object(let metrics) = metricsNode.value else {
            throw failure(top["metrics"] ?? root, "metrics: expected an object of k6's metrics (is this k6's --summary-export file?)")
        }

        /// A metric's figures: its own members (--summary-export) or its `values` (handleSummary).
        struct Figures {
            var node: JSONNode
            var members: [String: JSONNode]
            var path: String
        }
        func figures(_ key: String) -> Figures? {
            guard let node = metrics[key], case .object(let members) = node.value else { return nil }
            if let values = members["values"], case .object(let inner) = values.value {
                return Figures(node: values, members: inner, path: jsonPath(jsonPath("metrics", key), "values"))
            }
            return Figures(node: node, members: members, path: jsonPath("metrics", key))
        }
        func number(_ figures: Figures, _ name: String) throws(DriverOutputError) -> Double? {
            guard let node = figures.members[name] else { return nil }
            guard case .number(let value) = node.value, value.isFinite, value >= 0 else {
                throw failure(node, "\(jsonPath(figures.path, name)): expected a number, not negative, found \(node.kind)")
            }
            return value
        }
        func count(_ figures: Figures, _ name: String) throws(DriverOutputError) -> Int? {
            guard let value = try number(figures, name) else { return nil }
            guard let whole = Int(exactly: value) else {
                throw failure(figures.members[name]!, "\(jsonPath(figures.path, name)): expected a whole number, found \(value)")
            }
            return whole
        }
        func percentiles(_ figures: Figures) throws(DriverOutputError) -> [Double: Double] {
            var result: [Double: Double] = [:]
            for name in figures.members.keys.sorted() where name.hasPrefix("p(") && name.hasSuffix(")") {
                guard let percentile = Double(name.dropFirst(2).dropLast()), (0...100).contains(percentile) else { continue }
                if let milliseconds = try number(figures, name) { result[percentile] = milliseconds / 1000 }
            }
            if result[50] == nil, let median = try number(figures, "med") { result[50] = median / 1000 }
            return result
        }
        /// Failed requests: `passes` (see above), else the rate (`value`, or `rate` under `values`)
        /// times the requests.
        func failed(_ figures: Figures, requests: Int) throws(DriverOutputError) -> Int? {
            if let passes = try count(figures, "passes") { return passes }
            for name in ["value", "rate"] {
                guard let rate = try number(figures, name) else { continue }
                guard rate <= 1 else { throw failure(figures.members[name]!, "\(jsonPath(figures.path, name)): expected a rate from 0 to 1, found \(rate)") }
                let estimate = (rate * Double(requests)).rounded()
                return estimate < 9e18 ? Int(estimate) : requests
            }
            return nil
        }

        var result = DriverResult(format: .k6)
        guard let duration = figures("http_req_duration"), duration.members["p(95)"] != nil else {
            throw failure(metrics["http_req_duration"] ?? metricsNode,
                          "metrics.http_req_duration: expected an object with \"p(95)\" (k6 exports it when the script made HTTP requests)")
        }
        result.percentiles = try percentiles(duration)
        result.maxLatency = try number(duration, "max").map { $0 / 1000 }
        guard let counter = figures("http_reqs"), let requests = try count(counter, "count") else {
            throw failure(metrics["http_reqs"] ?? metricsNode, "metrics.http_reqs: expected an object with \"count\"")
        }
        result.requests = requests
        if let rate = try number(counter, "rate"), rate > 0 {
            let seconds = Double(requests) / rate
            if seconds.isFinite { result.durationSeconds = seconds }
        }
        if let failures = figures("http_req_failed") { result.errors = try failed(failures, requests: requests) ?? 0 }

        for key in metrics.keys.sorted() where key.hasPrefix("http_req_duration{") && key.hasSuffix("}") {
            let selector = String(key.dropFirst("http_req_duration".count))
            guard let tags = k6Tags(selector.dropFirst().dropLast()), let name = tags["name"],
                  Set(tags.keys).isSubset(of: ["name", "method"]), let trend = figures(key) else { continue }
            var endpoint = DriverResult.Endpoint(name: name, method: tags["method"], requests: 0, errors: 0,
                                                 percentiles: try percentiles(trend), maxLatency: try number(trend, "max").map { $0 / 1000 })
            if let counter = figures("http_reqs" + selector), let count = try count(counter, "count") {
                endpoint.requests = count
            } else if let count = try count(trend, "count") {
                endpoint.requests = count
            }
            if let failures = figures("http_req_failed" + selector) {
                endpoint.errors = try failed(failures, requests: endpoint.requests) ?? 0
            }
            result.endpoints.append(endpoint)
        }
        result.endpoints.sort { ($0.name, $0.method ?? "") < ($1.name, $1.method ?? "") }
        return result
    }

    /// A k6 submetric's tags, `name:quote,method:GET` → ["name": "quote", "method": "GET"], trimmed
    /// of spaces and quotes (`name:"a b"`); nil when a tag has no `:`. k6 splits a submetric's tags
    /// at commas too (its ParseMetricName), so a name in a submetric holds no comma.
    static func k6Tags(_ text: Substring) -> [String: String]? {
        var tags: [String: String] = [:]
        for tag in text.split(separator: ",") {
            guard let colon = tag.firstIndex(of: ":") else { return nil }
            let key = tag[..<colon].trimming([" ", "\t"])
            let value = tag[tag.index(after: colon)...].trimming([" ", "\t"]).trimming(["\"", "'"])
            tags[String(key)] = String(value)
        }
        return tags
    }

    /// `metrics` + `http_reqs` → `metrics.http_reqs`; a member that is not a plain name in
    /// brackets: `metrics["http_req_duration{name:quote}"]`, `….values["p(95)"]`.
    static func jsonPath(_ base: String, _ member: String) -> String {
        let plain = !member.isEmpty && member.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        return plain ? "\(base).\(member)" : "\(base)[\"\(member)\"]"
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
    /// Without the given characters at either end.
    func trimming(_ characters: Set<Character>) -> Substring {
        var text = self
        while let first = text.first, characters.contains(first) { text.removeFirst() }
        while let last = text.last, characters.contains(last) { text.removeLast() }
        return text
    }
}

private extension Int {
    /// `self + other`, held at `Int.max` or `Int.min` instead of trapping: drivers' counts are
    /// outside input (two `Non-2xx or 3xx responses:` lines with huge counts would overflow).
    func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

// MARK: CSV (RFC 4180), for locust

/// A place in a text file: line and column from 1, columns counting Unicode scalars.
struct TextPosition: Equatable, Sendable {
    var line: Int
    var column: Int
}

/// One CSV record: its fields unquoted, where each starts, where the record ends (just after its
/// last character) and whether a line break ended it (not so for a last line cut short).
struct CSVRecord {
    var fields: [String]
    var starts: [TextPosition]
    var end: TextPosition
    var terminated: Bool
}

enum CSV {
    /// RFC 4180 records: fields split at commas; a field in double quotes holds commas, line breaks
    /// and doubled quotes (`""`); a record ends at CRLF, LF or a lone CR (Python's csv module, which
    /// locust writes with, ends rows with CRLF). A quote inside an unquoted field is kept as text, as
    /// Python reads it; blank lines are skipped. Refused: a quoted field left open (a file cut
    /// short) and text after a closing quote.
    static func records(_ text: String, path: String) throws(DriverOutputError) -> [CSVRecord] {
        enum State { case fieldStart, unquoted, quoted, afterQuote }
        let scalars = Array(text.unicodeScalars)
        var records: [CSVRecord] = []
        var fields: [String] = []
        var starts: [TextPosition] = []
        var field = String.UnicodeScalarView()
        var state = State.fieldStart
        var position = TextPosition(line: 1, column: 1)
        var fieldStart = position
        var quoteOpened = position

        func endField() {
            fields.append(String(field))
            starts.append(fieldStart)
            field = String.UnicodeScalarView()
        }
        func endRecord(terminated: Bool) {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) {
                records.append(CSVRecord(fields: fields, starts: starts, end: position, terminated: terminated))
            }
            fields = []
            starts = []
            state = .fieldStart
        }

        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let lineBreak = scalar == "\n" || scalar == "\r"
            // CRLF is one line break.
            let breakLength = scalar == "\r" && index + 1 < scalars.count && scalars[index + 1] == "\n" ? 2 : 1
            switch state {
            case .quoted:
                if scalar == "\"" {
                    if index + 1 < scalars.count && scalars[index + 1] == "\"" {
                        field.append("\"")
                        index += 2
                        position.column += 2
                    } else {
                        state = .afterQuote
                        index += 1
                        position.column += 1
                    }
                    continue
                }
                if lineBreak {
                    field.append(contentsOf: scalars[index..<index + breakLength])
                    index += breakLength
                    position = TextPosition(line: position.line + 1, column: 1)
                    continue
                }
                field.append(scalar)
            case .fieldStart, .unquoted, .afterQuote:
                if scalar == "," {
                    endField()
                    state = .fieldStart
                    index += 1
                    position.column += 1
                    fieldStart = position
                    continue
                }
                if lineBreak {
                    endRecord(terminated: true)
                    index += breakLength
                    position = TextPosition(line: position.line + 1, column: 1)
                    fieldStart = position
                    continue
                }
                if state == .afterQuote {
                    throw DriverOutputError(path: path, line: position.line, column: position.column,
                                            message: "expected a comma or the end of the line after the closing quote")
                }
                if scalar == "\"" && state == .fieldStart {
                    state = .quoted
                    quoteOpened = position
                } else {
                    state = .unquoted
                    field.append(scalar)
                }
            }
            index += 1
            position.column += 1
        }
        if state == .quoted {
            throw DriverOutputError(path: path, line: quoteOpened.line, column: quoteOpened.column,
                                    message: "the quoted field opened here is not closed (was the file cut short?)")
        }
        if state != .fieldStart || !fields.isEmpty { endRecord(terminated: false) }
        return records
    }
}

/// A CSV file read by its header: the column of each name (the first of a name wins), then the
/// rows, each checked to have every column and to end with a line break.
struct CSVTable {
    var path: String
    var columns: [String: Int]
    /// The header's percentile columns (`50%`, `99.9%`, `100%`): percentile → column.
    var percentileColumns: [(percentile: Double, index: Int)]
    var rows: [CSVRow] = []
    /// The line after the last row, where a missing row would be.
    var endLine: Int

    /// - what: the file as errors name it ("locust's stats CSV"); hint: how to get the right one.
    init(_ text: String, path: String, what: String, required: [String], hint: String) throws(DriverOutputError) {
        let records = try CSV.records(text, path: path)
        guard let header = records.first else {
            throw DriverOutputError(path: path, line: 1, column: 1, message: "empty: expected \(what) (\(hint))")
        }
        self.path = path
        var columns: [String: Int] = [:]
        var percentiles: [(percentile: Double, index: Int)] = []
        for (index, name) in header.fields.enumerated() where columns[name] == nil {
            columns[name] = index
            if name.hasSuffix("%"), let percentile = Double(name.dropLast()), (0...100).contains(percentile) {
                percentiles.append((percentile, index))
            }
        }
        for name in required where columns[name] == nil {
            throw DriverOutputError(path: path, line: header.starts[0].line, column: 1,
                                    message: "expected the header of \(what), with a '\(name)' column (\(hint))")
        }
        self.columns = columns
        self.percentileColumns = percentiles
        let last = records.last!
        endLine = last.terminated ? last.end.line + 1 : last.end.line
        for record in records.dropFirst() {
            if record.fields.count < header.fields.count {
                throw DriverOutputError(path: path, line: record.end.line, column: record.end.column,
                                        message: "the row ends before its '\(header.fields[record.fields.count])' column "
                                            + "(\(record.fields.count) of the header's \(header.fields.count) fields; was the file cut short?)")
            }
            if !record.terminated {
                throw DriverOutputError(path: path, line: record.end.line, column: record.end.column,
                                        message: "the file ends in the middle of this row; \(what) ends every row with a line break (was it cut short?)")
            }
            rows.append(CSVRow(record: record, columns: columns, percentileColumns: percentiles, path: path))
        }
    }
}

/// One row of a CSVTable, its fields read by column name; errors point at the field.
struct CSVRow {
    var record: CSVRecord
    var columns: [String: Int]
    var percentileColumns: [(percentile: Double, index: Int)]
    var path: String

    /// The field in the named column; nil when the header has no such column.
    func text(_ name: String) -> String? { columns[name].map { record.fields[$0] } }

    private func failure(_ index: Int, _ message: String) -> DriverOutputError {
        let start = record.starts[index]
        return DriverOutputError(path: path, line: start.line, column: start.column, message: message)
    }

    private func value(_ index: Int, _ what: String) throws(DriverOutputError) -> Double {
        let text = record.fields[index]
        guard let value = Double(text), value.isFinite, value >= 0 else { throw failure(index, "'\(text)' is not \(what)") }
        return value
    }

    /// A number, not negative, in a column the header has (checked by CSVTable's `required`).
    func number(_ name: String, _ what: String) throws(DriverOutputError) -> Double {
        try value(columns[name]!, what)
    }

    /// A number in a column the header may lack (nil then).
    func optionalNumber(_ name: String, _ what: String) throws(DriverOutputError) -> Double? {
        guard let index = columns[name] else { return nil }
        return try value(index, what)
    }

    /// A whole number, not negative, in a required column.
    func count(_ name: String, _ what: String) throws(DriverOutputError) -> Int {
        let index = columns[name]!
        let text = record.fields[index]
        guard let count = Int(text), count >= 0 else { throw failure(index, "'\(text)' is not \(what)") }
        return count
    }

    /// Milliseconds → seconds; nil for locust's `N/A` (no answer yet).
    func milliseconds(_ name: String) throws(DriverOutputError) -> Double? {
        try milliseconds(at: columns[name]!)
    }

    private func milliseconds(at index: Int) throws(DriverOutputError) -> Double? {
        if record.fields[index] == "N/A" { return nil }
        return try value(index, "a response time in milliseconds (or N/A)") / 1000
    }

    /// The percentile columns: percentile → seconds, without the `N/A` ones.
    func percentiles() throws(DriverOutputError) -> [Double: Double] {
        var result: [Double: Double] = [:]
        for (percentile, index) in percentileColumns {
            if let seconds = try milliseconds(at: index) { result[percentile] = seconds }
        }
        return result
    }
}

// MARK: JSON, for k6

/// A JSON value and where it starts, so that an error can point at it.
struct JSONNode {
    enum Value {
        case object([String: JSONNode])
        case array([JSONNode])
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    var value: Value
    var position: TextPosition

    /// What the value is, for errors: "an object", "the number 3.5", "a string".
    var kind: String {
        switch value {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number(let number): return "the number \(number)"
        case .bool(let bool): return "\(bool)"
        case .null: return "null"
        }
    }
}

/// RFC 8259 JSON with the line and column of every value and of every syntax error (Foundation's
/// parsers give neither on Linux). Duplicate member names: the last wins. Nesting is limited to
/// `maxDepth` levels, so that outside input cannot exhaust the stack.
struct JSONReader {
    static let maxDepth = 256
    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var position = TextPosition(line: 1, column: 1)

    private init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    static func parse(_ text: String, path: String) throws(DriverOutputError) -> JSONNode {
        var reader = JSONReader(bytes: Array(text.utf8), path: path)
        if reader.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 } // a byte order mark
        reader.skipWhitespace()
        guard reader.index < reader.bytes.count else { throw reader.error("empty: expected a JSON object") }
        let node = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == reader.bytes.count else { throw reader.error("unexpected \(reader.found) after the JSON value") }
        return node
    }

    private func error(_ message: String, at position: TextPosition? = nil) -> DriverOutputError {
        let at = position ?? self.position
        return DriverOutputError(path: path, line: at.line, column: at.column, message: message)
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// The character at the current place, quoted, for errors.
    private var found: String {
        guard index < bytes.count else { return "the end of the file" }
        let character = String(decoding: bytes[index..<min(index + 4, bytes.count)], as: UTF8.self).first ?? "?"
        return character.isWhitespace || character.unicodeScalars.first!.value < 0x20 ? "a control character" : "'\(character)'"
    }

    private mutating func advance() {
        let byte = bytes[index]
        index += 1
        if byte == 0x0A {
            position = TextPosition(line: position.line + 1, column: 1)
        } else if byte & 0xC0 != 0x80 { // not a UTF-8 continuation byte: the next character starts after it
            position.column += 1
        }
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { advance() }
    }

    private static func isDigit(_ byte: UInt8?) -> Bool { byte.map { (0x30...0x39).contains($0) } ?? false }

    private func cutShort(inside what: String, openedAt start: TextPosition) -> DriverOutputError {
        error("the JSON ends inside the \(what) opened at line \(start.line), column \(start.column) (was the file cut short?)")
    }

    private mutating func value(depth: Int) throws(DriverOutputError) -> JSONNode {
        skipWhitespace()
        let start = position
        guard let byte = current else { throw error("the JSON ends where a value was expected (was the file cut short?)") }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return JSONNode(value: .string(try string()), position: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return JSONNode(value: .number(try number()), position: start)
        case UInt8(ascii: "t"): try literal("true"); return JSONNode(value: .bool(true), position: start)
        case UInt8(ascii: "f"): try literal("false"); return JSONNode(value: .bool(false), position: start)
        case UInt8(ascii: "n"): try literal("null"); return JSONNode(value: .null, position: start)
        default: throw error("expected a JSON value, found \(found)")
        }
    }

    private mutating func object(depth: Int) throws(DriverOutputError) -> JSONNode {
        let start = position
        guard depth <= Self.maxDepth else { throw error("objects and arrays nested deeper than \(Self.maxDepth) levels") }
        advance() // {
        var members: [String: JSONNode] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            advance()
            return JSONNode(value: .object(members), position: start)
        }
        while true {
            skipWhitespace()
            guard let byte = current else { throw cutShort(inside: "object", openedAt: start) }
            guard byte == UInt8(ascii: "\"") else { throw error("expected a member name in double quotes, found \(found)") }
            let name = try string()
            skipWhitespace()
            guard let colon = current else { throw cutShort(inside: "object", openedAt: start) }
            guard colon == UInt8(ascii: ":") else { throw error("expected ':' after the member name \(Self.quoted(name)), found \(found)") }
            advance()
            skipWhitespace()
            guard current != nil else { throw cutShort(inside: "object", openedAt: start) }
            members[name] = try value(depth: depth)
            skipWhitespace()
            guard let next = current else { throw cutShort(inside: "object", openedAt: start) }
            if next == UInt8(ascii: ",") {
                advance()
                continue
            }
            if next == UInt8(ascii: "}") {
                advance()
                return JSONNode(value: .object(members), position: start)
            }
            throw error("expected ',' or '}' after the member \(Self.quoted(name)), found \(found)")
        }
    }

    private mutating func array(depth: Int) throws(DriverOutputError) -> JSONNode {
        let start = position
        guard depth <= Self.maxDepth else { throw error("objects and arrays nested deeper than \(Self.maxDepth) levels") }
        advance() // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            advance()
            return JSONNode(value: .array(elements), position: start)
        }
        while true {
            skipWhitespace()
            guard current != nil else { throw cutShort(inside: "array", openedAt: start) }
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard let next = current else { throw cutShort(inside: "array", openedAt: start) }
            if next == UInt8(ascii: ",") {
                advance()
                continue
            }
            if next == UInt8(ascii: "]") {
                advance()
                return JSONNode(value: .array(elements), position: start)
            }
            throw error("expected ',' or ']' after an element of the array, found \(found)")
        }
    }

    private mutating func string() throws(DriverOutputError) -> String {
        let start = position
        advance() // "
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else { throw cutShort(inside: "string", openedAt: start) }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escapeStart = position
                advance()
                guard let escape = current else { throw cutShort(inside: "string", openedAt: start) }
                advance()
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4(escapeStart)
                    // A surrogate pair (\uD83D\uDE00) is one character; a lone surrogate becomes U+FFFD.
                    if (0xD800...0xDBFF).contains(code), current == UInt8(ascii: "\\"),
                       index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                        let lowStart = position
                        advance()
                        advance()
                        let low = try hex4(lowStart)
                        if (0xDC00...0xDFFF).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            UTF8.encode("\u{FFFD}") { utf8.append($0) }
                            code = low
                        }
                    }
                    UTF8.encode(Unicode.Scalar(code) ?? "\u{FFFD}") { utf8.append($0) }
                default:
                    throw error("'\\\(Character(Unicode.Scalar(escape)))' is not a JSON escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", at: escapeStart)
                }
            case 0x00..<0x20:
                throw error("a control character inside a string: JSON needs it escaped")
            default:
                utf8.append(byte)
                advance()
            }
        }
    }

    /// The four hex digits of a `\u` escape starting at `start`.
    private mutating func hex4(_ start: TextPosition) throws(DriverOutputError) -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = UInt32(String(UnicodeScalar(byte)), radix: 16) else {
                throw error("'\\u' needs four hex digits", at: start)
            }
            code = code << 4 | digit
            advance()
        }
        return code
    }

    private mutating func number() throws(DriverOutputError) -> Double {
        let start = position
        let from = index
        if current == UInt8(ascii: "-") { advance() }
        guard Self.isDigit(current) else { throw error("expected a digit in the number") }
        if current == UInt8(ascii: "0") {
            advance()
        } else {
            while Self.isDigit(current) { advance() }
        }
        if current == UInt8(ascii: ".") {
            advance()
            guard Self.isDigit(current) else { throw error("expected a digit after the decimal point") }
            while Self.isDigit(current) { advance() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            advance()
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
            guard Self.isDigit(current) else { throw error("expected a digit in the exponent") }
            while Self.isDigit(current) { advance() }
        }
        let text = String(decoding: bytes[from..<index], as: UTF8.self)
        guard let value = Double(text) else { throw error("'\(text)' is not a number", at: start) }
        return value
    }

    private mutating func literal(_ word: String) throws(DriverOutputError) {
        let start = position
        for expected in word.utf8 {
            guard let byte = current else { throw error("the JSON ends inside '\(word)' (was the file cut short?)") }
            guard byte == expected else { throw error("expected a JSON value ('\(word)'?)", at: start) }
            advance()
        }
    }

    /// A member name for an error, in quotes, cut at 60 characters.
    private static func quoted(_ name: String) -> String {
        name.count > 60 ? "\"\(name.prefix(60))…\"" : "\"\(name)\""
    }
}
