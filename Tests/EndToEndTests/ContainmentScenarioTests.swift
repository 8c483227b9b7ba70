import ConfineCore
import Foundation
import XCTest

/// A target that tries every way out of its run a container forbids (Tests/Helpers/stress.c,
/// `escape`), under container-default: each attempt fails, confine survives, and the report
/// lists every one. Real kernel, built binary, run as root (as in CI).
final class ContainmentScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "containment needs root (capabilities, mount namespaces); CI runs as root")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    func testEveryEscapeAttemptFailsAndIsRecorded() throws {
        let (result, report) = Harness.confineRun(["--profile", "container-default"], [Harness.stress, "escape", "-"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, "confine survived its target: \(result.stderr)")
        var outcomes: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2 { outcomes[String(words[0])] = String(words[1]) }
        }
        let expected = [
            "move-to-parent-cgroup": "EROFS", "raise-memory-limit": "EROFS", "raise-rlimit-nofile": "EPERM",
            "oom-score-adj": "EACCES", "unshare-mount-namespace": "EPERM", "setns-host-network": "EPERM",
            "mount-cgroupfs": "EPERM", "ptrace-confine": "ESRCH", "pidfd-open-confine": "ESRCH",
            "kill-everything": "EPERM", "kill-confine": "ESRCH",
        ]
        XCTAssertEqual(outcomes, expected, result.stdout)

        let containment = try XCTUnwrap(run.containment)
        XCTAssertTrue(containment.measures.contains { $0.hasPrefix("capabilities: 14 kept") }, "\(containment.measures)")
        XCTAssertTrue(containment.measures.contains { $0.contains("cgroup filesystem") && $0.contains("/proc/sys") }, "\(containment.measures)")
        let attempts = containment.attempts
        func attempt(_ syscall: String, _ target: (String) -> Bool) -> RunReport.ContainmentAttempt? {
            attempts.first { $0.syscall == syscall && target($0.target) }
        }
        XCTAssertEqual(attempt("openat") { $0.hasSuffix("/cgroup.procs") }?.errnoName, "EROFS", "\(attempts)")
        XCTAssertEqual(attempt("openat") { $0.hasSuffix("/memory.limit_in_bytes") || $0.hasSuffix("/memory.max") }?.errnoName, "EROFS")
        XCTAssertEqual(attempt("openat") { $0 == "/proc/self/oom_score_adj" }?.errnoName, "EACCES")
        XCTAssertEqual(attempt("prlimit64") { $0.hasPrefix("RLIMIT_NOFILE hard limit") }?.errnoName, "EPERM")
        for syscall in ["unshare", "setns", "mount"] {
            XCTAssertEqual(attempt(syscall) { _ in true }?.verdict, .refused, "\(syscall): \(attempts)")
        }
        let confineTarget = { (target: String) in target.hasSuffix("(confine)") }
        XCTAssertEqual(attempt("ptrace", confineTarget)?.errnoName, "ESRCH")
        XCTAssertEqual(attempt("pidfd_open", confineTarget)?.errnoName, "ESRCH")
        XCTAssertEqual(attempt("kill", confineTarget)?.errnoName, "ESRCH")
        XCTAssertEqual(attempt("kill") { $0.contains("kill -1") }?.errnoName, "EPERM")
        XCTAssertTrue(attempts.allSatisfy { $0.command.hasSuffix(" escape -") }, "each names the process: \(attempts)")
        XCTAssertEqual(attempts.count, 11, "\(attempts.map { "\($0.syscall) \($0.target)" })")
        // The target stayed in its group: its memory and pids are the group's.
        XCTAssertEqual(run.pids.peak, 1)
    }

    func testTheTargetGetsDockersCapabilitiesOnlyUnderAContainerProfile() throws {
        func boundingSet(_ options: [String]) throws -> String {
            let (result, _) = Harness.confineRun(options, ["/bin/grep", "CapBnd", "/proc/self/status"])
            return try XCTUnwrap(result.stdout.split(separator: "\t").last).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // moby's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
        // NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP — what `docker run` shows as CapBnd.
        XCTAssertEqual(try boundingSet(["--profile", "container-default"]), "00000000a80425fb")
        XCTAssertNotEqual(try boundingSet([]), "00000000a80425fb", "a plain run keeps confine's own capabilities")
    }

    func testSignalsWithinTheRunStillWork() throws {
        // Guarded calls aimed inside the run pass: a child killed by its parent, a shell that
        // signals itself, a process group signal.
        let script = "sleep 5 & child=$!; kill $child; wait $child; echo child=$?; "
            + "sh -c 'kill -TERM $$'; echo self=$?; kill -0 -$$; echo group=$?; kill -0 0; echo zero=$?"
        let (result, report) = Harness.confineRun(["--profile", "container-default"], ["/bin/sh", "-c", script])
        for expected in ["child=143", "self=143", "group=0", "zero=0"] {
            XCTAssertTrue(result.stdout.contains(expected), "\(expected): \(result.stdout) \(result.stderr)")
        }
        XCTAssertEqual(report?.containment?.attempts ?? [], [], "nothing inside the run counts as an attempt")
        XCTAssertLessThan(result.seconds, 4, "nothing waited for a refused signal")
    }
}
