#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel
import ConfineCore

/// `confine load`'s second thread, beside the supervisor's loop: waits until the service is
/// ready, runs the driver outside the run's limits (in confine's own cgroup; in the service's
/// network namespace when it has one, as a client in the same pod network would be), asks the
/// supervisor to stop the service when the driver ends, and reads the driver's output.
public final class LoadSession: @unchecked Sendable {
    public struct Options: Sendable {
        public var ready: ReadinessTarget
        public var readyTimeoutSeconds: Double
        public var driver: DriverCommand
        /// `--driver-format`, else detected from the command.
        public var format: DriverResult.Format?
        /// Where the driver's stdout goes (and its stderr, with `.stderr` appended).
        public var outputPath: String
        public var environment: [String]
        /// The service has a network namespace of its own (`--network none`): check and load it there.
        public var joinServiceNetwork: Bool
        public var graceSeconds: Double

        public init(ready: ReadinessTarget, readyTimeoutSeconds: Double, driver: DriverCommand, format: DriverResult.Format?,
                    outputPath: String, environment: [String], joinServiceNetwork: Bool, graceSeconds: Double) {
            self.ready = ready
            self.readyTimeoutSeconds = readyTimeoutSeconds
            self.driver = driver
            self.format = format
            self.outputPath = outputPath
            self.environment = environment
            self.joinServiceNetwork = joinServiceNetwork
            self.graceSeconds = graceSeconds
        }
    }

    let options: Options
    let control: SupervisorControl
    private var thread: pthread_t?
    private var record: LoadRecord

    /// Seconds between readiness checks, and the most one check may take.
    static let checkInterval = 0.1
    static let checkTimeout = 1.0

    public init(_ options: Options, control: SupervisorControl) {
        self.options = options
        self.control = control
        let format = options.format ?? DriverOutput.detect(options.driver.programWords)
        record = LoadRecord(driver: options.driver, format: format,
                            readiness: .init(target: options.ready.description, result: .timedOut, timeoutSeconds: options.readyTimeoutSeconds),
                            graceSeconds: options.graceSeconds)
    }

    /// Starts the thread (signals stay blocked in it, as in every thread confine starts).
    public func start() {
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        pthread_create(&handle, nil, { argument in
            let session = Unmanaged<LoadSession>.fromOpaque(argument!).takeRetainedValue()
            session.work()
            return nil
        }, box.toOpaque())
        thread = handle
    }

    /// Waits for the thread (the driver has ended and been reaped) and returns what it saw.
    public func finish() -> LoadRecord {
        if let thread { pthread_join(thread, nil) }
        thread = nil
        return record
    }

    // MARK: - the thread

    private func work() {
        guard let (start, pid) = waitForTarget() else {
            record.readiness.result = control.interrupted ? .interrupted : .serviceExited
            return
        }
        let clock = { monotonicSeconds() - start }
        if options.joinServiceNetwork, let error = joinNetwork(of: pid) {
            record.driverStartError = error
            control.requestStop()
            return
        }
        guard waitUntilReady(clock: clock) else {
            control.requestStop()
            return
        }
        runDriver(clock: clock)
        control.requestStop()
        readOutput()
    }

    /// The run's zero and the service's pid, once it was spawned; nil if the run ended first.
    private func waitForTarget() -> (Double, Int32)? {
        while true {
            if let start = control.runStart, let pid = control.targetPid { return (start, pid) }
            if control.targetEnded { return nil }
            usleep(2_000)
        }
    }

    /// This thread joins the service's network namespace (its checks and the driver it forks follow).
    private func joinNetwork(of pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "open /proc/\(pid)/ns/net: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        guard confine_join_network_namespace(fd) == 0 else { return "setns into the service's network namespace: \(String(cString: strerror(errno)))" }
        return nil
    }

    private func waitUntilReady(clock: () -> Double) -> Bool {
        let deadline = clock() + options.readyTimeoutSeconds
        while true {
            // Interrupted first: confine passes the signal on, and the service dies of it next.
            if control.interrupted {
                record.readiness.result = .interrupted
                return false
            }
            if control.targetEnded {
                record.readiness.result = .serviceExited
                return false
            }
            let began = clock()
            record.readiness.checks += 1
            if let failure = ReadinessProbe.check(options.ready, timeoutSeconds: min(Self.checkTimeout, max(0.05, deadline - began))) {
                record.readiness.lastError = failure
            } else {
                record.readiness.result = .ready
                record.readiness.readyAtSeconds = LoadMeasurement.rounded(clock())
                record.readiness.lastError = nil
                return true
            }
            if clock() >= deadline {
                // The service may have died while the last check waited.
                record.readiness.result = control.targetEnded ? .serviceExited : .timedOut
                return false
            }
            usleep(UInt32(max(0, Self.checkInterval - (clock() - began)) * 1e6))
        }
    }

    /// Runs the driver to its end, or until the service ends or confine is stopped: then the
    /// driver's process group gets SIGINT — what hey, wrk, locust and k6 take as "stop and report
    /// what you have" (on SIGTERM hey writes nothing) — and SIGKILL 5 s later.
    private func runDriver(clock: () -> Double) {
        record.outputPath = options.outputPath
        let stdout = open(options.outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let stderr = open(options.outputPath + ".stderr", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer {
            if stdout >= 0 { close(stdout) }
            if stderr >= 0 { close(stderr) }
        }
        guard stdout >= 0 else {
            record.driverStartError = "cannot write the driver's output to \(options.outputPath): \(String(cString: strerror(errno)))"
            return
        }
        var request = SpawnRequest(arguments: Self.arguments(options.driver), environment: options.environment,
                                   joinFiles: [], cloneIntoDirectory: nil, ulimits: [:])
        request.stdoutFD = stdout
        request.stderrFD = stderr
        // Dies with this thread (PR_SET_PDEATHSIG follows the forking thread), which lives until the driver is reaped.
        request.dieWithParent = true
        let pid: Int32
        do {
            pid = try control.claimChild { () throws(SpawnError) -> Int32 in try Spawner.spawn(request).pid }
        } catch let error as SpawnError {
            record.driverStartError = error.isExecFailure ? "\(request.arguments[0]): \(error.errno == ENOENT ? "not found" : String(cString: strerror(error.errno)))"
                : error.description
            return
        }
        record.driverStartedAt = LoadMeasurement.rounded(clock())
        var signalledAt: Double?
        while true {
            if let status = control.exitStatus(of: pid) {
                record.driverExitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                break
            }
            if control.targetEnded || control.interrupted {
                if signalledAt == nil {
                    signalledAt = clock()
                    kill(-pid, SIGINT)
                } else if clock() - signalledAt! > 5 {
                    kill(-pid, SIGKILL)
                }
            }
            // 20 checks a second: the driver's end is known within 50 ms, at no cost worth measuring.
            usleep(50_000)
        }
        record.driverEndedAt = LoadMeasurement.rounded(clock())
        record.driverStopped = signalledAt != nil
        // The driver's children that outlived it (a shell's background jobs) go with it.
        kill(-pid, SIGKILL)
    }

    /// Run directly when the command needs no shell (so SIGTERM and PR_SET_PDEATHSIG reach the
    /// driver itself), else by `/bin/sh -c`.
    static func arguments(_ driver: DriverCommand) -> [String] {
        driver.needsShell ? ["/bin/sh", "-c", driver.text] : driver.words
    }

    /// Whether something already accepts connections at the readiness check's address (before
    /// the service started, that is another server: the check and the driver would reach it).
    public static func portAnswers(_ target: ReadinessTarget) -> Bool {
        ReadinessProbe.check(.tcp(host: target.host, port: target.port), timeoutSeconds: 0.5) == nil
    }

    private func readOutput() {
        if let path = record.outputPath, record.driverExitCode != 0 || record.driverStartedAt == nil {
            record.stderrTail = Self.tail(of: path + ".stderr", bytes: 2048)
        }
        guard record.driverStartedAt != nil else { return }
        guard let format = record.format else {
            record.outputError = options.driver.formatProblem(given: nil) ?? "cannot tell the driver's output format"
            return
        }
        let files = DriverOutput.outputFiles(of: options.driver.words, format: format)
        let primary = files?.primary ?? options.outputPath
        guard let text = Self.read(primary) else {
            record.outputError = "\(primary): cannot read the driver's output (\(String(cString: strerror(errno))))"
            return
        }
        do {
            if format == .locust {
                record.result = try DriverOutput.parseLocust(stats: text, history: files?.secondary.flatMap(Self.read), path: primary,
                                                             historyPath: files?.secondary)
            } else {
                record.result = try DriverOutput.parse(text, format: format, path: primary)
            }
            if files != nil { record.outputPath = primary }
        } catch let error as DriverOutputError {
            record.outputError = error.description
        } catch {
            record.outputError = "\(error)"
        }
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func tail(of path: String, bytes: Int) -> String? {
        guard let text = read(path), !text.isEmpty else { return nil }
        return String(text.suffix(bytes))
    }
}
