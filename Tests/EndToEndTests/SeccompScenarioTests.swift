import ConfineCore
import Foundation
import XCTest

/// Seccomp on the real kernel: the filter installed last before execve, denials answered and
/// recorded by confine's listener.
final class SeccompScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    var dockerDefault: String {
        Harness.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/docker-default.json").path
    }

    func expectContainerVerdicts(_ seccomp: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (result, report) = Harness.confineRun(["--seccomp", seccomp], [Harness.stress, "syscalls", "3"])
        let run = try XCTUnwrap(report, file: file, line: line)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        let outcomes = Dictionary(uniqueKeysWithValues: result.stdout.split(separator: "\n").map {
            let parts = $0.split(separator: " ")
            return (String(parts[0]), String(parts[1]))
        })
        XCTAssertEqual(outcomes, ["unshare": "EPERM", "mount": "EPERM", "keyctl": "EPERM", "add_key": "EPERM",
                                  "bpf": "EPERM", "clone3": "ENOSYS", "socket_vsock": "EPERM"], file: file, line: line)
        let section = try XCTUnwrap(run.seccomp, file: file, line: line)
        var seen: [String: (Int, String?)] = [:]
        for violation in section.violations {
            XCTAssertEqual(violation.pid, run.mainProcess?.pid, file: file, line: line)
            XCTAssertEqual(violation.command, "\(Harness.stress) syscalls 3", file: file, line: line)
            seen[violation.syscall] = (violation.count, violation.errnoName)
        }
        for name in ["unshare", "mount", "keyctl", "add_key", "bpf"] {
            XCTAssertEqual(seen[name]?.0, 3, "\(name) denied 3 times", file: file, line: line)
            XCTAssertEqual(seen[name]?.1, "EPERM", file: file, line: line)
        }
        XCTAssertEqual(seen["clone3"]?.1, "ENOSYS", file: file, line: line)
        XCTAssertEqual(seen["socket"]?.0, 3, "socket(AF_VSOCK)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains("(pid \(run.mainProcess?.pid ?? 0)): unshare ×3 → EPERM"), result.stderr, file: file, line: line)
    }

    func testContainerDefaultDeniesWhatDockerDenies() throws {
        try expectContainerVerdicts("container-default")
    }

    func testDockersOwnProfileLoadsUnchangedAndBehavesTheSame() throws {
        try expectContainerVerdicts(dockerDefault)
    }

    func testOrdinaryProgramsRunUnderTheProfile() throws {
        for command in [["/bin/true"], ["python3", "-c", "import multiprocessing, socket; socket.socket().close()"],
                        ["/bin/sh", "-c", "ls / >/dev/null && cat /proc/self/status >/dev/null"]] {
            let (result, report) = Harness.confineRun(["--seccomp", "container-default"], command)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            XCTAssertEqual(report?.seccomp?.violations.count, 0, "\(command) was denied: \(report?.seccomp?.violations ?? [])")
        }
    }

    func testKillProcessRuleKillsWithSIGSYSAndNamesTheSyscall() throws {
        let profile = NSTemporaryDirectory() + "confine-kill-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--seccomp", profile], [Harness.stress, "getppid", "1"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 128 + SIGSYS, result.stderr)
        XCTAssertEqual(run.outcome, .signaled)
        XCTAssertEqual(run.mainProcess?.signalName, "SIGSYS")
        XCTAssertEqual(run.seccomp?.violations.first?.syscall, "getppid")
        XCTAssertEqual(run.seccomp?.violations.first?.action, .killProcess)
    }

    func testUnknownSyscallNamesWarnAndFailUnderStrict() throws {
        let profile = NSTemporaryDirectory() + "confine-unknown-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["frobnicate", "mount"], "action": "SCMP_ACT_ERRNO"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--seccomp", profile], ["/bin/true"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(report?.warnings, ["syscalls unknown to libseccomp skipped: frobnicate"])
        let strict = Harness.run([Harness.confine, "run", "--strict", "--seccomp", profile, "--", "/bin/true"])
        XCTAssertEqual(strict.status, 64)
        XCTAssertTrue(strict.stderr.contains("frobnicate (--strict)"), strict.stderr)
    }

    func testBadSeccompProfilesExit64NamingTheJSONPath() throws {
        let profile = NSTemporaryDirectory() + "confine-bad-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQUAL"}]}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let bad = Harness.run([Harness.confine, "run", "--seccomp", profile, "--", "/bin/true"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("\(profile): error: syscalls[1].args[0].op: unknown operator 'SCMP_CMP_EQUAL'"), bad.stderr)
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ERRNO"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let deniesExit = Harness.run([Harness.confine, "run", "--seccomp", profile, "--", "/bin/true"])
        XCTAssertEqual(deniesExit.status, 64)
        XCTAssertTrue(deniesExit.stderr.contains("the profile denies exit_group"), deniesExit.stderr)
        let missing = Harness.run([Harness.confine, "run", "--seccomp", "no-such-profile", "--", "/bin/true"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("built-in: container-default"), missing.stderr)
    }

    /// Under Docker's profile every process that starts a thread is answered clone3 → ENOSYS and
    /// glibc falls back to clone: the summary says so once, and the report keeps each denial with
    /// the number the kernel saw.
    func testExpectedClone3FallbacksAreOneSummaryLineAndEveryDenialHasItsNumber() throws {
        let thread = "python3 -c 'import threading; t=threading.Thread(target=print); t.start(); t.join()'"
        let (result, report) = Harness.confineRun(["--seccomp", "container-default"],
                                                  ["/bin/sh", "-c", "\(thread) & \(thread) & \(thread); wait"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let violations = try XCTUnwrap(run.seccomp?.violations)
        let clone3 = violations.filter { $0.syscall == "clone3" }
        XCTAssertEqual(Set(clone3.map(\.pid)).count, 3, "one clone3 denial per python3: \(violations)")
        XCTAssertTrue(clone3.allSatisfy { $0.errnoName == "ENOSYS" }, "\(clone3)")
        for violation in violations { XCTAssertNotNil(violation.number, "every denial has its number: \(violation)") }
        XCTAssertEqual(Set(clone3.map(\.number)), [435], "clone3 is 435 on x86_64 and arm64")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("  seccomp  ") }
        XCTAssertEqual(lines, ["  seccomp  expected fallbacks: clone3 → ENOSYS in 3 processes (glibc falls back)"], result.stderr)
    }

    func testProfileLintReadsSeccompJSON() throws {
        let profile = NSTemporaryDirectory() + "confine-lint-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}, {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": "EPERM"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let bad = Harness.run([Harness.confine, "profile", "lint", profile])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("\(profile): error: syscalls[1].errnoRet: expected an errno number"), bad.stderr)
        let run = Harness.run([Harness.confine, "run", "--seccomp", profile, "--", "/bin/true"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("\(profile): error: syscalls[1].errnoRet: expected an errno number"), "the same error as run")

        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}, {"names": ["umount2", "frobnicate"], "action": "SCMP_ACT_ERRNO"}]}"#
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let unknown = Harness.run([Harness.confine, "profile", "lint", profile])
        XCTAssertEqual(unknown.status, 0, unknown.stderr)
        XCTAssertEqual(unknown.stderr, "\(profile): warning: syscalls[1].names[1]: syscall 'frobnicate' is unknown to libseccomp; the rule skips it\n")
        XCTAssertEqual(unknown.stdout, "\(profile): ok (1 warning)\n")

        let builtin = Harness.run([Harness.confine, "profile", "lint", dockerDefault])
        XCTAssertEqual(builtin.status, 0, builtin.stderr)
        XCTAssertEqual(builtin.stderr, "", "Docker's own profile names nothing unknown on this machine")
    }
}
