import Foundation
import XCTest
@testable import ConfineCore

/// Load drivers' output as the real tools write it (Tests/Fixtures/load: hey 0.1.4 and wrk 4.1
/// from Debian, against a local server; locust 2.12.1 from Debian, Tests/Fixtures/load/locustfile.py
/// against `python3 -m http.server`; k6 v0.58.0's --summary-export from a public repository, see
/// testK6sSummaryExport…), and bad input named by file, line and column.
final class DriverOutputTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/load/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    func testHeysCSVGivesEveryRequest() throws {
        let result = try DriverOutput.parse(try fixture("hey.csv"), format: .hey, path: "hey.csv")
        XCTAssertEqual(result.requests, 35)
        XCTAssertEqual(result.latencies.count, 35)
        XCTAssertEqual(result.latencies.first ?? 0, 0.2491, accuracy: 1e-9)
        XCTAssertEqual(result.errors, 0)
        XCTAssertEqual(result.durationSeconds ?? 0, 2, accuracy: 0.5)
    }

    func testWrksReportGivesItsPercentiles() throws {
        let result = try DriverOutput.parse(try fixture("wrk.txt"), format: .wrk, path: "wrk.txt")
        XCTAssertEqual(result.percentiles[50] ?? 0, 0.21693, accuracy: 1e-9)
        XCTAssertEqual(result.percentiles[99] ?? 0, 0.24352, accuracy: 1e-9)
        XCTAssertEqual(result.requests, 35)
        XCTAssertEqual(result.durationSeconds ?? 0, 2.0, accuracy: 1e-9)
    }

    func testPlainLatenciesAndBadInput() throws {
        let result = try DriverOutput.parse("0.012\n  12.5ms\n# comment\n3us\n", format: .plain, path: "l.txt")
        XCTAssertEqual(result.latencies, [0.012, 0.0125, 3e-6])
        XCTAssertThrowsError(try DriverOutput.parse("0.1\n  fast\n", format: .plain, path: "l.txt")) { error in
            XCTAssertEqual("\(error)", "l.txt:2:3: 'fast' is not a latency: a number of seconds or a duration such as 12.5ms")
        }
        XCTAssertThrowsError(try DriverOutput.parse("Summary:\n  Total: 2s\n", format: .hey, path: "h")) { error in
            XCTAssertTrue("\(error)".hasPrefix("h:1:1: expected hey's CSV header"), "\(error)")
        }
        XCTAssertThrowsError(try DriverOutput.parse("Running 2s test\n", format: .wrk, path: "w")) { error in
            XCTAssertTrue("\(error)".contains("run wrk with --latency"), "\(error)")
        }
    }

    func testTheFormatIsDetectedFromTheDriverCommand() {
        XCTAssertEqual(DriverOutput.detect(["hey", "-z", "30s", "-o", "csv", "http://x"]), .hey)
        XCTAssertEqual(DriverOutput.detect(["/usr/bin/wrk", "-d", "5s", "--latency", "http://x"]), .wrk)
        XCTAssertNil(DriverOutput.detect(["hey", "http://x"]), "hey's text summary has no per-request latencies")
        XCTAssertEqual(DriverOutput.detect(["locust", "-f", "locustfile.py", "--headless", "--csv", "/tmp/lc/run"]), .locust)
        XCTAssertEqual(DriverOutput.detect(["/usr/bin/locust", "--headless", "--csv=out/run", "--csv-full-history"]), .locust)
        XCTAssertEqual(DriverOutput.detect(["python3", "-m", "locust", "--headless", "--csv", "run"]), .locust)
        XCTAssertEqual(DriverOutput.detect(["/usr/bin/python3.11", "-m", "locust", "--csv=run"]), .locust)
        XCTAssertNil(DriverOutput.detect(["locust", "--headless", "--csv-full-history"]), "no --csv: locust writes no CSV")
        XCTAssertNil(DriverOutput.detect(["python3", "-m", "http.server", "--csv", "x"]))
        XCTAssertEqual(DriverOutput.detect(["k6", "run", "--summary-export", "k6.json", "script.js"]), .k6)
        XCTAssertEqual(DriverOutput.detect(["/usr/local/bin/k6", "run", "--summary-export=k6.json", "script.js"]), .k6)
        XCTAssertNil(DriverOutput.detect(["k6", "run", "script.js"]), "k6's text summary is not read")
        XCTAssertNil(DriverOutput.detect(["k6", "inspect", "--summary-export", "k6.json", "script.js"]))
    }

    func testWhereDriversWriteTheirOutput() throws {
        let locust = try XCTUnwrap(DriverOutput.outputFiles(of: ["locust", "--headless", "--csv", "/tmp/lc/run", "-t", "5s"], format: .locust))
        XCTAssertEqual(locust.primary, "/tmp/lc/run_stats.csv")
        XCTAssertEqual(locust.secondary, "/tmp/lc/run_stats_history.csv")
        let equals = try XCTUnwrap(DriverOutput.outputFiles(of: ["python3", "-m", "locust", "--csv=out/run", "--csv-full-history"], format: .locust))
        XCTAssertEqual(equals.primary, "out/run_stats.csv")
        XCTAssertEqual(equals.secondary, "out/run_stats_history.csv")
        XCTAssertNil(DriverOutput.outputFiles(of: ["locust", "--headless"], format: .locust))
        XCTAssertNil(DriverOutput.outputFiles(of: ["locust", "--headless", "--csv"], format: .locust), "--csv without its prefix")

        let k6 = try XCTUnwrap(DriverOutput.outputFiles(of: ["k6", "run", "--summary-export", "k6.json", "script.js"], format: .k6))
        XCTAssertEqual(k6.primary, "k6.json")
        XCTAssertNil(k6.secondary)
        XCTAssertEqual(DriverOutput.outputFiles(of: ["k6", "run", "--summary-export=out/k6.json", "s.js"], format: .k6)?.primary, "out/k6.json")
        XCTAssertNil(DriverOutput.outputFiles(of: ["k6", "run", "s.js"], format: .k6))

        for (command, format) in [(["hey", "-o", "csv", "http://x"], DriverResult.Format.hey), (["wrk", "--latency", "http://x"], .wrk),
                                  (["./latencies.sh"], .plain)] {
            XCTAssertNil(DriverOutput.outputFiles(of: command, format: format), "\(format) writes to standard output")
        }
    }

    // MARK: hey and wrk, cut short and malformed

    func testHeyCutShortOrMalformedIsRefusedWithItsPosition() throws {
        let text = try fixture("hey.csv")
        // Cut in the middle of line 3: "0.2508,0.0007,0.00"
        let line3 = text.range(of: "0.2508,0.0007,0.0000")!
        let cut = String(text[..<line3.lowerBound]) + "0.2508,0.0007,0.00"
        XCTAssertThrowsError(try DriverOutput.parse(cut, format: .hey, path: "hey.csv")) { error in
            XCTAssertEqual("\(error)", "hey.csv:3:19: missing the status-code field")
        }
        XCTAssertThrowsError(try DriverOutput.parse(text.replacingOccurrences(of: "0.2508,", with: "fast,"), format: .hey, path: "hey.csv")) { error in
            XCTAssertEqual("\(error)", "hey.csv:3:1: 'fast' is not a response time in seconds")
        }
        XCTAssertThrowsError(try DriverOutput.parse(text.replacingOccurrences(of: "0.2523,0.0013,200,", with: "0.2523,0.0013,2OO,"),
                                                    format: .hey, path: "hey.csv")) { error in
            XCTAssertEqual("\(error)", "hey.csv:4:43: '2OO' is not an HTTP status code")
        }
        XCTAssertThrowsError(try DriverOutput.parse("", format: .hey, path: "hey.csv")) { error in
            XCTAssertEqual("\(error)", "hey.csv:1:1: empty: hey wrote no CSV (did it start?)")
        }
    }

    func testWrkCutShortOrMalformedIsRefusedWithItsPosition() throws {
        let text = try fixture("wrk.txt")
        // Cut in the middle of line 8, "     75%  227.71ms": the percentile has lost its unit.
        let cut = String(text[..<text.range(of: "227.71ms")!.lowerBound]) + "22"
        XCTAssertThrowsError(try DriverOutput.parse(cut, format: .wrk, path: "wrk.txt")) { error in
            XCTAssertEqual("\(error)", "wrk.txt:8:11: '22' is not a wrk duration (us, ms, s, m)")
        }
        XCTAssertThrowsError(try DriverOutput.parse(text.replacingOccurrences(of: "231.98ms", with: "231.98xs"), format: .wrk, path: "wrk.txt")) { error in
            XCTAssertEqual("\(error)", "wrk.txt:9:11: '231.98xs' is not a wrk duration (us, ms, s, m)")
        }
        let beforeDistribution = String(text[..<text.range(of: "  Latency Distribution")!.lowerBound])
        XCTAssertThrowsError(try DriverOutput.parse(beforeDistribution, format: .wrk, path: "wrk.txt")) { error in
            XCTAssertEqual("\(error)", "wrk.txt:1:1: no latency distribution: run wrk with --latency")
        }
        // Counts past Int.max hold there instead of trapping.
        let huge = text + "  Non-2xx or 3xx responses: 9223372036854775807\n  Non-2xx or 3xx responses: 9223372036854775807\n"
        XCTAssertEqual(try DriverOutput.parse(huge, format: .wrk, path: "wrk.txt").errors, Int.max)
    }

    // MARK: locust

    /// locust 2.12.1 (Debian's python3-locust) with Tests/Fixtures/load/locustfile.py, 5 users for
    /// 15 s against `python3 -m http.server` (ok → 200, missing → 404), `--csv run --only-summary`:
    /// locust_stats.csv and locust_stats_history.csv are run_stats.csv and run_stats_history.csv
    /// as locust left them (CRLF rows). The stats are locust's last write, a second before it
    /// exited (it printed 582 requests, the CSV has 551); the history stops at its last 10-second
    /// flush (11 rows of a 15 s run).
    func testLocustsStatsAndHistory() throws {
        let result = try DriverOutput.parseLocust(stats: try fixture("locust_stats.csv"), history: try fixture("locust_stats_history.csv"),
                                                  path: "run_stats.csv")
        XCTAssertEqual(result.format, .locust)
        XCTAssertEqual(result.requests, 551)
        XCTAssertEqual(result.errors, 141)
        XCTAssertEqual(result.percentiles, [50: 0.002, 66: 0.002, 75: 0.003, 80: 0.003, 90: 0.004, 95: 0.005, 98: 0.007, 99: 0.009,
                                            99.9: 0.036, 99.99: 0.036, 100: 0.036])
        XCTAssertEqual(result.maxLatency ?? 0, 0.035568868999689585, accuracy: 1e-15)
        XCTAssertEqual(result.latencies, [])

        XCTAssertEqual(result.endpoints.map(\.name), ["missing, 404", "ok"], "the quoted name keeps its comma")
        let missing = result.endpoints[0], ok = result.endpoints[1]
        XCTAssertEqual(missing.method, "GET")
        XCTAssertEqual(missing.requests, 141)
        XCTAssertEqual(missing.errors, 141)
        XCTAssertEqual(missing.percentiles[95], 0.005)
        XCTAssertEqual(missing.percentiles[100], 0.007)
        XCTAssertEqual(missing.maxLatency ?? 0, 0.0070208230026764795, accuracy: 1e-15)
        XCTAssertEqual(ok.requests, 410)
        XCTAssertEqual(ok.errors, 0)
        XCTAssertEqual(ok.percentiles[99], 0.009)
        XCTAssertEqual(ok.maxLatency ?? 0, 0.035568868999689585, accuracy: 1e-15)

        XCTAssertEqual(result.history.map(\.t), Array(0...10).map(Double.init))
        XCTAssertEqual(result.history[0], .init(t: 0, requestsPerSecond: 0, errorsPerSecond: 0, p95: nil), "N/A before the first answer")
        XCTAssertEqual(result.history[1].p95, 0.009)
        XCTAssertEqual(result.history[3], .init(t: 3, requestsPerSecond: 14, errorsPerSecond: 3, p95: 0.005))
        XCTAssertEqual(result.history[5].requestsPerSecond, 31.333333)
        XCTAssertEqual(result.history[5].errorsPerSecond, 9.666667)
        XCTAssertEqual(result.history[10], .init(t: 10, requestsPerSecond: 36.75, errorsPerSecond: 9, p95: 0.005))
        // 551 requests at 39.42261620590087/s: 13.98 s from locust's start to its last request,
        // more than the 11 s the history kept.
        XCTAssertEqual(result.durationSeconds ?? 0, 551 / 39.42261620590087, accuracy: 1e-9)
    }

    /// The same locustfile for 12 s with `--csv-full-history`: the history has a row per endpoint
    /// before each second's Aggregated row; only the Aggregated rows make the history.
    func testLocustsFullHistoryKeepsTheAggregatedRows() throws {
        let result = try DriverOutput.parseLocust(stats: try fixture("locust_full_stats.csv"), history: try fixture("locust_full_stats_history.csv"),
                                                  path: "full_stats.csv")
        XCTAssertEqual(result.requests, 429)
        XCTAssertEqual(result.errors, 126)
        XCTAssertEqual(result.endpoints.map(\.requests), [126, 303])
        XCTAssertEqual(result.history.count, 11)
        XCTAssertEqual(result.history[1].p95, 0, "locust's current-window percentile before the window has answers")
        XCTAssertEqual(result.history[3], .init(t: 3, requestsPerSecond: 25, errorsPerSecond: 6, p95: 0.005))
        XCTAssertEqual(result.history[10], .init(t: 10, requestsPerSecond: 36.25, errorsPerSecond: 10.5, p95: 0.003))
        XCTAssertEqual(result.durationSeconds ?? 0, 429 / 38.976361933984, accuracy: 1e-9)

        // Without its stats' rate, the duration is the history's span.
        let noRate = try fixture("locust_full_stats.csv").replacingOccurrences(of: ",38.976361933984,", with: ",0.0,")
        XCTAssertEqual(try DriverOutput.parseLocust(stats: noRate, history: try fixture("locust_full_stats_history.csv"), path: "s.csv").durationSeconds, 11)
    }

    func testLocustsStatsAloneThroughParse() throws {
        let result = try DriverOutput.parse(try fixture("locust_stats.csv"), format: .locust, path: "run_stats.csv")
        XCTAssertEqual(result.requests, 551)
        XCTAssertEqual(result.endpoints.count, 2)
        XCTAssertEqual(result.history, [])
        XCTAssertEqual(result.durationSeconds ?? 0, 13.976748704910278, accuracy: 1e-9)
        // LF line ends read alike.
        let lf = try DriverOutput.parse(try fixture("locust_stats.csv").replacingOccurrences(of: "\r\n", with: "\n"), format: .locust, path: "s.csv")
        XCTAssertEqual(lf, result)
    }

    func testLocustCutShortOrMalformedIsRefusedWithItsPosition() throws {
        let stats = try fixture("locust_stats.csv")
        func refused(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try DriverOutput.parseLocust(stats: text, history: nil, path: "run_stats.csv"), file: file, line: line) { error in
                XCTAssertEqual("\(error)", expected, file: file, line: line)
            }
        }
        // Cut in the middle of line 3, "GET,ok,410,0,2,2.57|526563409334,…".
        let okRow = stats.range(of: "2.57526563409334")!
        refused(String(stats[..<okRow.lowerBound]) + "2.57",
                "run_stats.csv:3:20: the row ends before its 'Min Response Time' column (6 of the header's 22 fields; was the file cut short?)")
        // Cut inside the last field of the last row: every column is there, the line break is not.
        refused(String(stats.dropLast(2)), // "\r\n" is one Character
                "run_stats.csv:4:158: the file ends in the middle of this row; locust's stats CSV ends every row with a line break (was it cut short?)")
        // Cut after a whole row: no Aggregated row.
        refused(String(stats[..<stats.range(of: ",Aggregated")!.lowerBound]),
                "run_stats.csv:4:1: no Aggregated row: locust ends its stats CSV with one (was the file cut short?)")
        // Cut inside the quoted name: the quote is left open.
        refused(String(stats[..<stats.range(of: "missing, 404")!.upperBound]),
                "run_stats.csv:2:5: the quoted field opened here is not closed (was the file cut short?)")
        // A non-number in a numeric column, after the quoted name (column 20) and without (column 8).
        refused(stats.replacingOccurrences(of: "404\",141,", with: "404\",l41,"), "run_stats.csv:2:20: 'l41' is not a request count (a whole number)")
        refused(stats.replacingOccurrences(of: "GET,ok,410,", with: "GET,ok,-410,"), "run_stats.csv:3:8: '-410' is not a request count (a whole number)")
        refused(stats.replacingOccurrences(of: ",0.0,2,2,3,3,4,5,7,9,36,36,36", with: ",0.0,2,2,3,3,4,fast,7,9,36,36,36"),
                "run_stats.csv:3:107: 'fast' is not a response time in milliseconds (or N/A)")
        // Text after a closing quote.
        refused(stats.replacingOccurrences(of: "\"missing, 404\"", with: "\"missing\" 404"),
                "run_stats.csv:2:14: expected a comma or the end of the line after the closing quote")
        // A missing header column, an empty file, another file.
        refused(stats.replacingOccurrences(of: "Request Count", with: "Requests"),
                "run_stats.csv:1:1: expected the header of locust's stats CSV, with a 'Request Count' column (give confine PREFIX_stats.csv from locust --csv PREFIX)")
        refused("", "run_stats.csv:1:1: empty: expected locust's stats CSV (give confine PREFIX_stats.csv from locust --csv PREFIX)")
        refused(try fixture("locust_stats_history.csv"),
                "run_stats.csv:1:1: expected the header of locust's stats CSV, with a 'Request Count' column (give confine PREFIX_stats.csv from locust --csv PREFIX)")
    }

    func testLocustHistoryCutShortOrMalformedNamesTheHistoryFile() throws {
        let stats = try fixture("locust_stats.csv"), history = try fixture("locust_stats_history.csv")
        func refused(_ text: String, historyPath: String? = nil, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try DriverOutput.parseLocust(stats: stats, history: text, path: "out/run_stats.csv", historyPath: historyPath),
                                 file: file, line: line) { error in
                XCTAssertEqual("\(error)", expected, file: file, line: line)
            }
        }
        // Cut in the middle of line 12: "1796090599,5,,Aggregated,36.7"
        let lastRow = history.range(of: "1796090599,5,,Aggregated,36.750000")!
        refused(String(history[..<lastRow.upperBound].dropLast(4)),
                "out/run_stats_history.csv:12:31: the row ends before its 'Failures/s' column (5 of the header's 24 fields; was the file cut short?)")
        refused(history.replacingOccurrences(of: "1796090593,", with: "17960905g3,"),
                "out/run_stats_history.csv:6:1: '17960905g3' is not a unix time in seconds")
        refused(history.replacingOccurrences(of: "1796090594,5,,Aggregated,31.333333,", with: "1796090594,5,,Aggregated,N/A,"),
                historyPath: "h.csv", "h.csv:7:26: 'N/A' is not a rate per second")
        refused(history.replacingOccurrences(of: "Failures/s", with: "Fails/s"),
                "out/run_stats_history.csv:1:1: expected the header of locust's stats history CSV, with a 'Failures/s' column (give confine PREFIX_stats_history.csv from locust --csv PREFIX)")
        refused("", "out/run_stats_history.csv:1:1: empty: expected locust's stats history CSV (give confine PREFIX_stats_history.csv from locust --csv PREFIX)")
        // A history with its header and no row yet: no history, the duration from the stats.
        let headerOnly = String(history[..<history.range(of: "\r\n")!.upperBound])
        let result = try DriverOutput.parseLocust(stats: stats, history: headerOnly, path: "run_stats.csv")
        XCTAssertEqual(result.history, [])
        XCTAssertEqual(result.durationSeconds ?? 0, 13.976748704910278, accuracy: 1e-9)
    }

    func testCSVFieldsAsRFC4180ReadsThem() throws {
        let records = try CSV.records("a,\"b, \"\"c\"\"\",\"\"\r\n\r\n\"multi\nline\",x\"y\rlast,", path: "t.csv")
        XCTAssertEqual(records.map(\.fields), [["a", "b, \"c\"", ""], ["multi\nline", "x\"y"], ["last", ""]])
        XCTAssertEqual(records.map(\.terminated), [true, true, false])
        XCTAssertEqual(records[1].starts, [TextPosition(line: 3, column: 1), TextPosition(line: 4, column: 7)])
        XCTAssertEqual(records[2].starts, [TextPosition(line: 5, column: 1), TextPosition(line: 5, column: 6)])
        XCTAssertEqual(try CSV.records("é,\"ü\",x", path: "t.csv")[0].starts.map(\.column), [1, 3, 7], "columns count characters")
    }

    // MARK: k6

    /// k6 v0.58.0's `--summary-export` from a real run: the `summaryExportField.value` of
    /// samples/response-k6.json in github.com/pwrdrvr/crush-test (commit 2472c51, "Add sample
    /// responses"), which its Lambda handler (packages/lambda/src/handler.ts) reads back from
    /// `k6 … --summary-export /tmp/k6-result.json` with JSON.parse; the run (k6/ping.js, a
    /// ramping-arrival-rate scenario against a /ping endpoint, ~3 s) printed "http_req_failed: 0.00%
    /// 0 out of 1597", "http_reqs: 1597 531.652693/s" and p(95)=11.38ms. Re-indented with 4 spaces
    /// as k6 writes it; keys, order and numbers as exported.
    func testK6sSummaryExportFromARealRun() throws {
        let result = try DriverOutput.parse(try fixture("k6-summary.json"), format: .k6, path: "k6-summary.json")
        XCTAssertEqual(result.format, .k6)
        XCTAssertEqual(result.requests, 1597)
        XCTAssertEqual(result.errors, 0, "http_req_failed's passes (0) are the failed requests, its fails (1597) the good ones")
        XCTAssertEqual(result.percentiles, [50: 2.969171 / 1000, 90: 8.26807 / 1000, 95: 11.3877108 / 1000])
        XCTAssertEqual(result.maxLatency ?? 0, 0.060208649, accuracy: 1e-15)
        XCTAssertEqual(result.durationSeconds ?? 0, 1597 / 531.6526933019591, accuracy: 1e-12)
        XCTAssertEqual(result.endpoints, [], "{expected_response:true} is not an endpoint")
    }

    /// Named endpoints and failures in k6's --summary-export shape (hand-written: the real export
    /// above has neither); k6 exports `{name:…}` submetrics that the script's thresholds name.
    func testK6sEndpointsAndFailures() throws {
        let text = """
        {
            "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": {}, "checks": {}},
            "metrics": {
                "http_req_duration": {"avg": 21.5, "min": 1.5, "med": 12, "max": 480.5, "p(90)": 40, "p(95)": 75, "p(99)": 300},
                "http_req_duration{name:quote}": {"avg": 10, "min": 1.5, "med": 9, "max": 50, "p(90)": 15, "p(95)": 25, "p(99)": 45},
                "http_req_duration{name:\\"checkout v2\\",method:POST}": {"med": 30, "max": 480.5, "p(95)": 200, "count": 300},
                "http_req_duration{expected_response:true}": {"med": 11, "max": 400, "p(95)": 70},
                "http_req_duration{name:quote,status:500}": {"med": 9, "max": 9, "p(95)": 9},
                "http_reqs": {"count": 1000, "rate": 99.5},
                "http_reqs{name:quote}": {"count": 700, "rate": 69.65},
                "http_req_failed": {"passes": 30, "fails": 970, "value": 0.03},
                "http_req_failed{name:quote}": {"passes": 7, "fails": 693, "value": 0.01},
                "http_req_failed{name:\\"checkout v2\\",method:POST}": {"value": 0.07666666666666666, "thresholds": {"rate<0.1": false}}
            }
        }
        """
        let result = try DriverOutput.parse(text, format: .k6, path: "k6.json")
        XCTAssertEqual(result.requests, 1000)
        XCTAssertEqual(result.errors, 30)
        XCTAssertEqual(result.percentiles, [50: 0.012, 90: 0.04, 95: 0.075, 99: 0.3])
        XCTAssertEqual(result.maxLatency, 0.4805)
        XCTAssertEqual(result.durationSeconds ?? 0, 1000 / 99.5, accuracy: 1e-12)
        XCTAssertEqual(result.endpoints, [
            .init(name: "checkout v2", method: "POST", requests: 300, errors: 23, percentiles: [50: 0.03, 95: 0.2], maxLatency: 0.4805),
            .init(name: "quote", requests: 700, errors: 7, percentiles: [50: 0.009, 90: 0.015, 95: 0.025, 99: 0.045], maxLatency: 0.05),
        ])
    }

    /// handleSummary()'s data (`JSON.stringify(data)`) nests each metric's figures in `values`.
    func testK6sHandleSummaryDataIsReadToo() throws {
        let text = """
        {"metrics": {"http_req_duration": {"type": "trend", "contains": "time", "values": {"avg": 5, "min": 1, "med": 4, "max": 90, "p(90)": 8, "p(95)": 11}},
                     "http_reqs": {"type": "counter", "contains": "default", "values": {"count": 40, "rate": 20}},
                     "http_req_failed": {"type": "rate", "contains": "default", "values": {"rate": 0.25, "passes": 10, "fails": 30}}},
         "state": {"testRunDurationMs": 2000}}
        """
        let result = try DriverOutput.parse(text, format: .k6, path: "summary.json")
        XCTAssertEqual(result.requests, 40)
        XCTAssertEqual(result.errors, 10)
        XCTAssertEqual(result.percentiles[95], 0.011)
        XCTAssertEqual(result.durationSeconds, 2)
    }

    func testK6CutShortOrMalformedIsRefusedWithItsPosition() throws {
        let json = try fixture("k6-summary.json")
        func refused(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try DriverOutput.parse(text, format: .k6, path: "k6.json"), file: file, line: line) { error in
                XCTAssertEqual("\(error)", expected, file: file, line: line)
            }
        }
        // Cut in the middle of line 35, `            "med": 2.969171,`, inside the member name.
        let med = json.range(of: "\"med\": 2.969171")!
        refused(String(json[..<med.lowerBound]) + "\"me",
                "k6.json:35:16: the JSON ends inside the string opened at line 35, column 13 (was the file cut short?)")
        // Cut after a whole line: the objects are left open.
        refused(String(json[..<json.range(of: "\n", range: med.upperBound..<json.endIndex)!.upperBound]),
                "k6.json:36:1: the JSON ends inside the object opened at line 32, column 30 (was the file cut short?)")
        // A non-number where k6 writes a count, and a count that is not whole.
        let count = "\"http_reqs\": {\n            \"count\": 1597,"
        refused(json.replacingOccurrences(of: count, with: count.replacingOccurrences(of: "1597", with: "\"1597\"")),
                "k6.json:58:22: metrics.http_reqs.count: expected a number, not negative, found a string")
        refused(json.replacingOccurrences(of: count, with: count.replacingOccurrences(of: "1597", with: "1597.5")),
                "k6.json:58:22: metrics.http_reqs.count: expected a whole number, found 1597.5")
        // The trend without p(95) (the first "p(95)" is http_req_duration's, line 38).
        let p95 = json.range(of: "\"p(95)\": 11.3877108")!
        refused(json.replacingCharacters(in: p95, with: "\"p(96)\": 11.3877108"),
                "k6.json:32:30: metrics.http_req_duration: expected an object with \"p(95)\" (k6 exports it when the script made HTTP requests)")
        refused(json.replacingOccurrences(of: "\"http_reqs\": {", with: "\"http_requests\": {"),
                "k6.json:9:16: metrics.http_reqs: expected an object with \"count\"")
        refused(#"{"metrics": {"http_req_duration{name:x}": {"p(95)": -1}, "http_req_duration": {"p(95)": 1}, "http_reqs": {"count": 1}}}"#,
                #"k6.json:1:53: metrics["http_req_duration{name:x}"]["p(95)"]: expected a number, not negative, found the number -1.0"#)
        // Not k6's export, not JSON, empty.
        refused(#"{"root_group": {}}"#, "k6.json:1:1: metrics: expected an object of k6's metrics (is this k6's --summary-export file?)")
        refused("[1, 2]", #"k6.json:1:1: expected k6's --summary-export JSON (an object with "metrics"), found an array"#)
        refused("\n  running (0m03.0s), 0/10 VUs", "k6.json:2:3: expected a JSON value, found 'r'")
        refused(json + "}", "k6.json:119:1: unexpected '}' after the JSON value")
        refused("", "k6.json:1:1: empty: expected a JSON object")
        refused(#"{"metrics": {"a": [1 2]}}"#, "k6.json:1:22: expected ',' or ']' after an element of the array, found '2'")
        refused(#"{"metrics": {"a": "\q"}}"#, #"k6.json:1:20: '\q' is not a JSON escape (\" \\ \/ \b \f \n \r \t \uXXXX)"#)
        refused(String(repeating: "[", count: 300), "k6.json:1:257: objects and arrays nested deeper than 256 levels")
    }

    func testJSONReaderValuesAndPositions() throws {
        let node = try JSONReader.parse("\u{FEFF}{\"é\": [true, null, -1.5e2, \"a\\u00e9\\ud83d\\ude00\\n\"],\n \"b\": {}}", path: "t.json")
        guard case .object(let members) = node.value, case .array(let elements)? = members["é"]?.value else { return XCTFail("\(node)") }
        XCTAssertEqual(elements.count, 4)
        if case .number(let number) = elements[2].value { XCTAssertEqual(number, -150) } else { XCTFail() }
        if case .string(let string) = elements[3].value { XCTAssertEqual(string, "aé😀\n") } else { XCTFail() }
        XCTAssertEqual(elements[3].position, TextPosition(line: 1, column: 28), "columns count characters, not bytes")
        XCTAssertEqual(members["b"]?.position, TextPosition(line: 2, column: 7))
    }
}
