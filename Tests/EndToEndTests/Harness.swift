import ConfineCore
import Foundation
import XCTest

/// Runs the built `confine` binary the way a user does, on the real kernel.
enum Harness {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// `.build/<config>/confine`, next to the test bundle.
    static let confine: String = {
        let products = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
        for candidate in [products.appendingPathComponent("confine").path,
                          packageRoot.appendingPathComponent(".build/debug/confine").path]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        fatalError("the confine binary is not built; run `swift build` first")
    }()

    /// The static stress helper (Tests/Helpers/stress.c), compiled once per test process.
    static let stress: String = {
        let output = NSTemporaryDirectory() + "confine-stress-\(getpid())"
        let source = packageRoot.appendingPathComponent("Tests/Helpers/stress.c").path
        let result = run(["/usr/bin/env", "cc", "-static", "-O2", "-o", output, source])
        precondition(result.status == 0, "cannot compile \(source): \(result.stderr)")
        removeAtExit(output)
        return output
    }()

    /// Compiled helpers are removed when the test process exits.
    static func removeAtExit(_ path: String) {
        helpers.append(path)
        if helpers.count == 1 { atexit { for path in Harness.helpers { unlink(path) } } }
    }
    nonisolated(unsafe) static var helpers: [String] = []

    /// The probe flooder (Tests/Helpers/probeflood.c), compiled once per test process.
    static let probeFlood: String = {
        let output = NSTemporaryDirectory() + "confine-probeflood-\(getpid())"
        let source = packageRoot.appendingPathComponent("Tests/Helpers/probeflood.c").path
        let result = run(["/usr/bin/env", "cc", "-O2", "-o", output, source])
        precondition(result.status == 0, "cannot compile \(source): \(result.stderr)")
        removeAtExit(output)
        return output
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Starts a process with posix_spawn, stdout and stderr to files. (Not Foundation's Process:
    /// its SIGCHLD monitoring on Linux can miss the exit of a SIGKILLed child.)
    final class Child {
        let pid: pid_t
        let base: String
        let start = Date()

        init(_ arguments: [String], environment extra: [String: String] = [:]) {
            base = NSTemporaryDirectory() + "confine-harness-\(UUID().uuidString)"
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { posix_spawn_file_actions_destroy(&actions) }
            let argv = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            var variables = ProcessInfo.processInfo.environment
            for (key, value) in extra { variables[key] = value }
            let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            let status = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
            precondition(status == 0, "cannot start \(arguments[0]): \(String(cString: strerror(status)))")
            self.pid = pid
        }

        /// What it wrote to stderr so far.
        var stderrSoFar: String { String(decoding: FileManager.default.contents(atPath: base + ".err") ?? Data(), as: UTF8.self) }

        func wait() -> Result {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let out = FileManager.default.contents(atPath: base + ".out") ?? Data()
            let err = FileManager.default.contents(atPath: base + ".err") ?? Data()
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
            return Result(status: code, stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), seconds: Date().timeIntervalSince(start))
        }
    }

    @discardableResult
    static func run(_ arguments: [String]) -> Result {
        Child(arguments).wait()
    }

    /// `report` as JSON at `path`, for `confine merge`, `compare` or `report` to read; returns `path`.
    @discardableResult
    static func write(_ report: RunReport?, to path: String) throws -> String {
        try XCTUnwrap(report, "no report to write to \(path)").jsonData().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `confine merge <paths> --output <output>`; returns the result and the merged report.
    static func merge(_ paths: [String], output: String) throws -> (Result, RunReport) {
        let result = run([confine, "merge"] + paths + ["--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        return (result, try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: output))))
    }

    /// `confine run <options> --report <tmp> -- <command>`; returns the result and the decoded report.
    static func confineRun(_ options: [String], _ command: [String], file: StaticString = #filePath,
                           line: UInt = #line) -> (Result, RunReport?) {
        let reportPath = NSTemporaryDirectory() + "confine-e2e-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        let result = run([confine, "run"] + options + ["--report", reportPath, "--"] + command)
        guard let data = FileManager.default.contents(atPath: reportPath) else {
            XCTFail("no report written; stderr: \(result.stderr)", file: file, line: line)
            return (result, nil)
        }
        do {
            return (result, try RunReport.decode(data))
        } catch {
            XCTFail("report does not decode: \(error)", file: file, line: line)
            return (result, nil)
        }
    }

    /// Run groups whose confine is gone: what a confine that cleaned up must not leave. (Groups of
    /// confines still running elsewhere on the machine are theirs, and not counted.)
    static func leftoverGroups() -> [String] {
        let result = run([confine, "gc", "--dry-run"])
        // Groups only: `gc --dry-run` also lists probe directories (paths) of confines that are gone.
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("/") }
    }

    /// Every run group present, live or not.
    static func allGroups() -> [String] {
        run([confine, "gc", "--dry-run", "--all"]).stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("/") }
    }

    static var isRoot: Bool { getuid() == 0 }

    /// True while `pid` is a live process (a zombie awaiting its reaper counts as dead).
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[close...].dropFirst(2).first != "Z"
    }
}

/// A scenario on the real kernel that works in a temporary directory of its own (removed after
/// each test) and checks that no confine cgroup is left behind.
class DirectoryScenario: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups (CI runs as root)")
        directory = NSTemporaryDirectory() + "confine-scenario-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }
}
