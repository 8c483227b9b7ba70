import ConfineCore
import Foundation
import XCTest

/// `confine load` and `confine capacity` on the real kernel with a real driver (hey, from
/// Debian) against a small service (Tests/Helpers/load_service.py): the service in the run's
/// cgroup under a CPU quota, the driver outside it, one report on every outcome.
final class LoadScenarioTests: DirectoryScenario {
    static let service = Harness.packageRoot.appendingPathComponent("Tests/Helpers/load_service.py").path

    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipUnless(Self.which("hey") != nil, "needs hey (ci/setup installs it from Debian)")
    }

    static func which(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// A port nothing listens on now.
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
        }
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    static func listening(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    var reportPath: String { directory + "/report.json" }

    func load(_ options: [String], driver: String, port: UInt16, serviceArguments: [String] = [],
              file: StaticString = #filePath, line: UInt = #line) -> (Harness.Result, RunReport?) {
        let result = Harness.run([Harness.confine, "load", "--report", reportPath, "--ready", "http://127.0.0.1:\(port)/health",
                                  "--driver", driver] + options + ["--", "python3", Self.service, String(port)] + serviceArguments)
        return (result, decode(file: file, line: line, stderr: result.stderr))
    }

    func decode(file: StaticString = #filePath, line: UInt = #line, stderr: String) -> RunReport? {
        guard let data = FileManager.default.contents(atPath: reportPath) else {
            XCTFail("no report written; stderr: \(stderr)", file: file, line: line)
            return nil
        }
        do { return try RunReport.decode(data) } catch {
            XCTFail("report does not decode: \(error)", file: file, line: line)
            return nil
        }
    }

    func testALoadUnderAQuarterCPUIsMeasuredFromOutsideTheLimits() throws {
        let port = Self.freePort()
        let (result, report) = load(["--cpus", "0.25", "--grace", "5s"], driver: "hey -z 3s -c 4 -o csv http://127.0.0.1:\(port)/work",
                                    port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.outcome, .passed, run.reason + "\n" + result.stderr)
        XCTAssertEqual(result.status, 0)
        let load = try XCTUnwrap(run.load)
        XCTAssertEqual(load.readiness.result, .ready)
        XCTAssertNotNil(load.readiness.readyAtSeconds)
        XCTAssertEqual(load.driver.format, .hey)
        XCTAssertEqual(load.driver.exitCode, 0)
        XCTAssertEqual(load.loop, .closed)
        XCTAssertEqual(load.latencyCorrection, .uncorrected)
        XCTAssertTrue(run.warnings.contains { $0.hasPrefix("load: closed-loop latencies, uncorrected") }, "\(run.warnings)")
        XCTAssertGreaterThan(load.requests, 20)
        XCTAssertEqual(load.errors, 0)
        XCTAssertGreaterThan(load.requestsPerSecond ?? 0, 5)

        // The percentiles agree with the driver's own per-request figures (nearest rank; HdrHistogram keeps 3 digits).
        let csv = try String(contentsOfFile: try XCTUnwrap(load.driver.outputPath), encoding: .utf8)
        let latencies = csv.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",").first ?? "") }.sorted()
        XCTAssertEqual(latencies.count, load.requests)
        let p95 = latencies[Int((0.95 * Double(latencies.count)).rounded(.up)) - 1]
        XCTAssertEqual(try XCTUnwrap(load.latency.p95), p95, accuracy: p95 * 0.01 + 0.0001)
        XCTAssertEqual(try XCTUnwrap(load.latency.max), latencies.last!, accuracy: latencies.last! * 0.01 + 0.0001)

        // The service ran throttled: 4 clients of 5 ms of CPU each against a quarter of a CPU.
        XCTAssertGreaterThan(run.cpu.throttledPeriods, 5, "the service was throttled")
        XCTAssertFalse(load.timeline.isEmpty)
        XCTAssertTrue(load.timeline.contains { ($0.throttledPercent ?? 0) > 50 }, "\(load.timeline)")
        if let first = load.timeline.first { XCTAssertGreaterThanOrEqual(first.t, load.driver.startedAtSeconds ?? 0) }
        // The service's probed function was measured under the load.
        let work = try XCTUnwrap(run.functions.first { $0.name == "work" })
        XCTAssertGreaterThanOrEqual(Int(work.calls), load.requests, "every call reached confine (the probe flushes on SIGTERM)")
        // The driver was not in the group: no hey among the run's processes.
        XCTAssertFalse(run.processes.contains { $0.command.contains("hey") }, "\(run.processes.map(\.command))")
        // Stopped as a container runtime stops one, and nothing listens afterwards.
        XCTAssertEqual(load.stop?.signal, "SIGTERM")
        XCTAssertEqual(load.stop?.killed, false)
        XCTAssertFalse(Self.listening(port))
        XCTAssertTrue(result.stderr.contains("load "), result.stderr)
    }

    func testAServiceThatNeverBecomesReadyIsNotReadyWithExit124() throws {
        let port = Self.freePort()
        let (result, report) = load(["--ready-timeout", "2s"], driver: "hey -z 2s -o csv http://127.0.0.1:\(port)/work", port: port,
                                    serviceArguments: ["--never-listen"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.outcome, .notReady, run.reason)
        XCTAssertEqual(result.status, 124, result.stderr)
        XCTAssertEqual(run.load?.readiness.result, .timedOut)
        XCTAssertEqual(run.load?.readiness.lastError, "connection refused")
        XCTAssertGreaterThan(run.load?.readiness.checks ?? 0, 5)
        XCTAssertNil(run.load?.driver.startedAtSeconds, "the driver never started")
        XCTAssertTrue(run.reason.contains("never passed its readiness check http://127.0.0.1:\(port)/health within 2s"), run.reason)
        XCTAssertLessThan(result.seconds, 15)
    }

    func testAServiceThatExitsBeforeItIsReadyGivesItsStatus() throws {
        let port = Self.freePort()
        let result = Harness.run([Harness.confine, "load", "--report", reportPath, "--ready", "tcp:127.0.0.1:\(port)",
                                  "--driver", "hey -z 2s -o csv http://127.0.0.1:\(port)/", "--", "python3", "-c", "import sys; sys.exit(3)"])
        let run = try XCTUnwrap(decode(stderr: result.stderr))
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertEqual(run.outcome, .failed)
        XCTAssertEqual(run.load?.readiness.result, .serviceExited)
        XCTAssertTrue(run.reason.contains("before it was ready"), run.reason)
    }

    func testAServiceOOMKilledUnderLoadIsExit137AndTheDriverIsStopped() throws {
        let port = Self.freePort()
        let (result, report) = load(["--memory", "96Mi", "--swap", "0"], driver: "hey -z 20s -c 2 -o csv http://127.0.0.1:\(port)/grow",
                                    port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(run.outcome, .oomKilled, run.reason)
        XCTAssertEqual(result.status, 137, result.stderr)
        XCTAssertLessThan(result.seconds, 15, "the driver was stopped when the service died, not left to run its 20 s")
        XCTAssertNotNil(run.load?.driver.exitCode)
        XCTAssertGreaterThan(run.load?.requests ?? 0, 0, "hey, stopped with SIGINT, wrote what it had measured up to the kill")
        XCTAssertNil(run.load?.stop, "the service ended on its own")
        XCTAssertFalse(Self.listening(port))
    }

    func testADriverThatCannotStartIsExit125() throws {
        let port = Self.freePort()
        let (result, report) = load(["--driver-format", "plain"], driver: "no-such-load-driver -c 2 http://127.0.0.1:\(port)/", port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(run.outcome, .driverFailed)
        XCTAssertTrue(run.reason.contains("no-such-load-driver: not found"), run.reason)
        XCTAssertEqual(run.load?.stop?.signal, "SIGTERM", "the service was stopped")
        XCTAssertFalse(Self.listening(port))
    }

    func testSIGINTDuringTheLoadStopsServiceAndDriverWithAReport() throws {
        let port = Self.freePort()
        let child = Harness.Child([Harness.confine, "load", "--report", reportPath, "--ready", "http://127.0.0.1:\(port)/health",
                                   "--driver", "hey -z 30s -c 2 -o csv http://127.0.0.1:\(port)/work", "--",
                                   "python3", Self.service, String(port)])
        // Until the driver runs (its output file exists), then Ctrl-C.
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: directory + "/report.driver.txt") && Date() < deadline { usleep(50_000) }
        usleep(500_000)
        kill(child.pid, SIGINT)
        let result = child.wait()
        XCTAssertEqual(result.status, 130, result.stderr)
        let run = try XCTUnwrap(decode(stderr: result.stderr))
        XCTAssertEqual(run.outcome, .interrupted, run.reason)
        XCTAssertLessThan(result.seconds, 20)
        XCTAssertGreaterThan(run.load?.requests ?? 0, 0, "the figures up to Ctrl-C are kept")
        XCTAssertFalse(Self.listening(port))
        let heys = Harness.run(["/usr/bin/pgrep", "-f", "hey -z 30s -c 2 -o csv http://127.0.0.1:\(port)/work"])
        XCTAssertEqual(heys.stdout, "", "the driver was left running")
    }

    /// locust (Debian's, headless, --csv): detected from the command, read from its stats and
    /// history files, per endpoint; its exit 1 (it failed requests) is a warning, not a failed run.
    func testLocustsCSVGivesEndpointsAndItsFailures() throws {
        try XCTSkipUnless(Self.which("locust") != nil, "needs locust (ci/setup installs python3-locust)")
        let port = Self.freePort()
        try """
            from locust import HttpUser, task, constant
            class Client(HttpUser):
                wait_time = constant(0)
                @task(3)
                def work(self):
                    self.client.get("/work")
                @task(1)
                def missing(self):
                    self.client.get("/missing")
            """.write(toFile: directory + "/locustfile.py", atomically: true, encoding: .utf8)
        let (result, report) = load(["--cpus", "0.5"], driver: "locust -f \(directory)/locustfile.py --headless -u 4 -r 4 -t 4s "
                                    + "--host http://127.0.0.1:\(port) --csv \(directory)/run --only-summary", port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let load = try XCTUnwrap(run.load)
        XCTAssertEqual(load.driver.format, .locust)
        XCTAssertEqual(load.driver.outputPath, directory + "/run_stats.csv")
        XCTAssertEqual(load.driver.exitCode, 1, "locust exits 1 when requests failed")
        XCTAssertTrue(run.warnings.contains("the load driver exited with status 1; its figures were read"), "\(run.warnings)")
        let missing = try XCTUnwrap(load.endpoints.first { $0.name == "/missing" })
        XCTAssertEqual(missing.errors, missing.requests)
        XCTAssertEqual(missing.method, "GET")
        let work = try XCTUnwrap(load.endpoints.first { $0.name == "/work" })
        XCTAssertEqual(work.errors, 0)
        XCTAssertEqual(load.requests, missing.requests + work.requests)
        XCTAssertEqual(load.errors, missing.errors)
        XCTAssertNotNil(load.latency.p95)
        XCTAssertEqual(load.loop, .closed)
    }

    /// Another server already on the port would be what the check and the driver measure.
    func testAPortAlreadyAnsweringIsRefusedBeforeTheServiceStarts() throws {
        let port = Self.freePort()
        let other = Harness.Child(["/usr/bin/env", "python3", Self.service, String(port)], environment: ["CONFINE_PROBE_SOCKET": ""])
        defer {
            kill(other.pid, SIGKILL)
            _ = other.wait()
        }
        let deadline = Date().addingTimeInterval(10)
        while !Self.listening(port) && Date() < deadline { usleep(50_000) }
        let (result, report) = load([], driver: "hey -z 2s -o csv http://127.0.0.1:\(port)/work", port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(run.outcome, .setupFailed)
        XCTAssertTrue(run.reason.contains("already accepts connections before the service started"), run.reason)
        XCTAssertNil(run.load?.driver.startedAtSeconds)
    }

    /// A capacity search's --budget adds to the profile's load budgets; it does not replace them.
    func testCapacityBudgetsAddToTheProfilesLoadBudgets() throws {
        let port = Self.freePort()
        let profile = directory + "/profile.yaml"
        try "budgets:\n  load:\n    rps: \">= 100000\"\n".write(toFile: profile, atomically: true, encoding: .utf8)
        let capacityPath = directory + "/capacity.json"
        let result = Harness.run([Harness.confine, "capacity", "--profile", profile, "--ready", "http://127.0.0.1:\(port)/health",
                                  "--driver", "hey -z 1s -c {concurrency} -o csv http://127.0.0.1:\(port)/work",
                                  "--budget", "p95<10s", "--max-concurrency", "1", "--report", capacityPath,
                                  "--steps-dir", directory + "/steps", "--", "python3", Self.service, String(port)])
        XCTAssertEqual(result.status, 99, "no step held the profile's throughput floor: \(result.stderr)")
        let capacity = try JSONDecoder().decode(CapacityReport.self, from: try XCTUnwrap(FileManager.default.contents(atPath: capacityPath)))
        XCTAssertEqual(Set(capacity.budgets), ["rps >= 100000.0 req/s", "p95 < 10.00s", "error_rate < 1.0%", "oom_kills = 0"],
                       "the profile's, --budget's, and the 1% error guard capacity adds when no budget names error_rate")
        XCTAssertNil(capacity.maxConcurrency)
    }

    /// A driver whose output confine could not read is refused before anything runs.
    func testAnUnreadableDriverIsRefusedBeforeTheLoad() throws {
        let result = Harness.run([Harness.confine, "load", "--report", reportPath, "--ready", "tcp:127.0.0.1:1",
                                  "--driver", "hey -z 1s http://127.0.0.1:1/", "--", "true"])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.contains("hey prints figures confine can read only with -o csv"), result.stderr)
        XCTAssertLessThan(result.seconds, 5)
    }

    /// capacity: a load whose requests fail has not held, even with no error_rate budget.
    func testCapacityDoesNotHoldALoadWhoseRequestsFail() throws {
        let port = Self.freePort()
        let capacityPath = directory + "/capacity.json"
        let result = Harness.run([Harness.confine, "capacity", "--ready", "http://127.0.0.1:\(port)/health",
                                  "--driver", "hey -z 1s -c {concurrency} -o csv http://127.0.0.1:\(port)/nope",
                                  "--budget", "p95<10s", "--max-concurrency", "1", "--report", capacityPath,
                                  "--steps-dir", directory + "/steps", "--", "python3", Self.service, String(port)])
        XCTAssertEqual(result.status, 99, result.stderr)
        let capacity = try JSONDecoder().decode(CapacityReport.self, from: try XCTUnwrap(FileManager.default.contents(atPath: capacityPath)))
        XCTAssertEqual(capacity.limitedBy, .errors, capacity.answer)
        XCTAssertTrue(capacity.steps.first?.failedBudgets.first?.hasPrefix("load error_rate 100.0%") ?? false, "\(capacity.steps)")
    }

    func testBrokenLoadBudgetsAreExit99NamingThem() throws {
        let port = Self.freePort()
        let profile = directory + "/profile.yaml"
        try "budgets:\n  load:\n    p95: 1us\n    rps: \">= 100000\"\n    error_rate: \"< 1%\"\n".write(toFile: profile, atomically: true, encoding: .utf8)
        let (result, report) = load(["--profile", profile], driver: "hey -z 2s -c 2 -o csv http://127.0.0.1:\(port)/work", port: port)
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 99, result.stderr)
        XCTAssertEqual(run.outcome, .budgetExceeded)
        let failed = (run.budgets ?? []).filter { $0.verdict == .fail }
        XCTAssertEqual(Set(failed.map(\.metric)), [.p95, .rps], "\(failed.map(\.message))")
        XCTAssertEqual(failed.first { $0.metric == .rps }?.comparison, .atLeast)
        XCTAssertTrue(failed.contains { $0.message.hasPrefix("load rps ") && $0.message.contains(" < limit 100000.0 req/s") },
                      "\(failed.map(\.message))")
        XCTAssertTrue(result.stderr.contains("rps"), result.stderr)
        XCTAssertEqual((run.budgets ?? []).first { $0.metric == .errorRate }?.verdict, .pass)
    }

    func testCapacityFindsAConcurrencyThatHoldsAndOneThatBreaks() throws {
        let port = Self.freePort()
        let capacityPath = directory + "/capacity.json"
        let result = Harness.run([Harness.confine, "capacity", "--cpus", "0.25", "--ready", "http://127.0.0.1:\(port)/health",
                                  "--driver", "hey -z 2s -c {concurrency} -o csv http://127.0.0.1:\(port)/work",
                                  "--budget", "p95<100ms", "--max-concurrency", "64", "--report", capacityPath,
                                  "--steps-dir", directory + "/steps", "--", "python3", Self.service, String(port)])
        XCTAssertEqual(result.status, 0, result.stderr)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: capacityPath), result.stderr)
        let capacity = try JSONDecoder().decode(CapacityReport.self, from: data)
        XCTAssertLessThanOrEqual(capacity.steps.count, 8)
        let held = try XCTUnwrap(capacity.maxConcurrency, capacity.answer)
        XCTAssertTrue(capacity.steps.contains { $0.value == held && $0.passed })
        let broke = try XCTUnwrap(capacity.steps.filter { !$0.passed }.map(\.value).min(), capacity.answer)
        XCTAssertGreaterThan(broke, held)
        XCTAssertEqual(capacity.limitedBy, .cpu, capacity.answer)
        XCTAssertTrue(capacity.answer.hasPrefix("held concurrency \(held) ("), capacity.answer)
        for step in capacity.steps { XCTAssertTrue(FileManager.default.fileExists(atPath: step.report), step.report) }
        XCTAssertTrue(result.stderr.contains("held concurrency"), result.stderr)
        XCTAssertFalse(Self.listening(port))
    }
}

/// `confine run --copies N`: N copies at once in one cgroup, sharing its limits.
final class CopiesScenarioTests: DirectoryScenario {
    /// Three copies each burning 1 s of CPU under a 0.5 CPU quota: they share it (throttled,
    /// ~3 s of wall time for 3 s of CPU at half a CPU each… at least 1.5 s), and the exit status
    /// is the worst of theirs (copy i exits i).
    func testCopiesShareTheLimitsAndTheWorstStatusIsTheRuns() throws {
        let script = """
            import os, time
            end = time.process_time() + 0.5
            while time.process_time() < end: pass
            raise SystemExit(int(os.environ["CONFINE_COPY"]) if os.environ["CONFINE_COPIES"] == "3" else 99)
            """
        let (result, report) = Harness.confineRun(["--copies", "3", "--cpus", "0.5"], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertEqual(run.copies, 3)
        XCTAssertEqual(run.command.first, "python3", "the report names the command, not the launcher")
        XCTAssertGreaterThan(run.cpu.usageSeconds, 1.4, "three copies' CPU in one group")
        XCTAssertGreaterThan(run.durationSeconds, 2.5, "1.5 s of CPU at half a CPU")
        XCTAssertGreaterThan(run.cpu.throttledPeriods, 10)
        XCTAssertTrue(result.stderr.contains("(3 copies at once)"), result.stderr)
    }

    /// A copy OOM-killed makes the run's main process die of SIGKILL: exit 137, the kill named.
    func testACopyOOMKilledIsTheRunsWorstStatus() throws {
        let script = """
            import os
            if os.environ["CONFINE_COPY"] == "1":
                x = bytearray(400 << 20)
            """
        let (result, report) = Harness.confineRun(["--copies", "2", "--memory", "128Mi", "--swap", "0"], ["python3", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 137, result.stderr)
        XCTAssertEqual(run.outcome, .oomKilled, run.reason)
        XCTAssertTrue(result.stderr.contains("confine: copy 1 (pid "), result.stderr)
        XCTAssertGreaterThanOrEqual(run.oomKills.count, 1)
    }
}

/// The example service (examples/quote-service: FastAPI on uvicorn, probed) under its own
/// profile, as the README shows it: the load budgets break at eight clients under 250m.
final class QuoteServiceExampleTests: DirectoryScenario {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipUnless(LoadScenarioTests.which("hey") != nil, "needs hey (ci/setup installs it from Debian)")
        let probe = Harness.run(["/usr/bin/env", "python3", "-c", "import fastapi, uvicorn"])
        try XCTSkipUnless(probe.status == 0, "needs fastapi and uvicorn for python3 (ci/setup installs them)")
    }

    func testTheExampleBreaksItsLoadBudgetsUnderAQuarterCPU() throws {
        let port = LoadScenarioTests.freePort()
        let root = Harness.packageRoot.path
        let report = directory + "/quote.json"
        let result = Harness.run([Harness.confine, "load", "--profile", root + "/examples/quote-service/confine.yaml",
                                  "--report", report, "--ready", "http://127.0.0.1:\(port)/health",
                                  "--driver", "hey -z 4s -c 8 -o csv http://127.0.0.1:\(port)/quote",
                                  "--", "python3", root + "/examples/quote-service/quote_service.py", "--port", String(port)])
        let run = try RunReport.decode(try XCTUnwrap(FileManager.default.contents(atPath: report), result.stderr))
        XCTAssertEqual(result.status, 99, result.stderr)
        XCTAssertEqual(run.profile.cpus, 0.25)
        let load = try XCTUnwrap(run.load)
        XCTAssertGreaterThan(load.requests, 20)
        XCTAssertEqual(load.stop?.killed, false, "uvicorn stops on SIGTERM within the grace period")
        let failed = Set((run.budgets ?? []).filter { $0.verdict == .fail && $0.scope == .load }.map(\.metric))
        XCTAssertTrue(failed.contains(.p95), "\(run.budgets ?? [])")
        XCTAssertGreaterThan(Double(run.cpu.throttledPeriods) / Double(max(1, run.cpu.periods)), 0.5)
        // The quote function was measured inside the service, under the load, once per request.
        let quote = try XCTUnwrap(run.functions.first { $0.name == "quote" })
        XCTAssertGreaterThanOrEqual(Int(quote.calls), load.requests)
        XCTAssertFalse(LoadScenarioTests.listening(port))
    }
}

/// confine's own output failing (stderr to a full disk, stdout to a reader that went away) is no
/// reason to lose the exit code or the report: Foundation's FileHandle.write would trap (SIGILL).
final class ConsoleScenarioTests: DirectoryScenario {
    func testAFailingStderrOrStdoutKeepsTheExitCodeAndTheReport() throws {
        let report = directory + "/r.json"
        let stderrFull = Harness.run(["/bin/sh", "-c", "'\(Harness.confine)' run --report '\(report)' -- sh -c 'exit 3' 2>/dev/full"])
        XCTAssertEqual(stderrFull.status, 3, stderrFull.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: report))
        let closedPipe = Harness.run(["/bin/sh", "-c", "'\(Harness.confine)' report '\(report)' --format markdown | true; "
                                      + "echo \"status ${PIPESTATUS:-$?}\""])
        XCTAssertFalse(closedPipe.stderr.contains("Illegal instruction"), closedPipe.stderr)
        let stdoutFull = Harness.run(["/bin/sh", "-c", "'\(Harness.confine)' report '\(report)' >/dev/full"])
        XCTAssertEqual(stdoutFull.status, 0, stdoutFull.stderr)
    }
}
