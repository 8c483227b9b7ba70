@testable import ConfineCore
import Foundation
import XCTest

final class SeccompProfileTests: XCTestCase {
    /// Docker's own default profile, used by path as DESIGN.md asks (shared/ sits beside the checkout).
    var dockerDefault: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/docker-default.json")
    }

    func load(_ json: String) throws -> SeccompProfile {
        try SeccompProfileLoader.load(file: "p.json", data: Data(json.utf8))
    }

    func error(_ json: String) -> String {
        do {
            _ = try load(json)
            XCTFail("expected an error for \(json)")
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testDockersDefaultProfileResolvesAsDockerDoesForADefaultContainer() throws {
        let data = try Data(contentsOf: dockerDefault)
        let profile = try SeccompProfileLoader.load(file: dockerDefault.path, data: data)
        XCTAssertEqual(profile.defaultAction, .errno(1))
        XCTAssertTrue(profile.architectures.contains("SCMP_ARCH_X86_64"))
        XCTAssertTrue(profile.architectures.contains("SCMP_ARCH_X32"), "sub-architectures from archMap")
        let resolved = SeccompProfileLoader.resolve(profile, kernelRelease: "6.18.44-fc-v669")
        XCTAssertEqual(resolved.verdict(syscall: "read"), .allow)
        XCTAssertEqual(resolved.verdict(syscall: "ptrace"), .allow, "minKernel 4.8 holds on 6.18")
        XCTAssertEqual(resolved.verdict(syscall: "arch_prctl"), .allow, "amd64-only rule applies on amd64")
        XCTAssertEqual(resolved.verdict(syscall: "clone3"), .errno(38), "clone3 gets ENOSYS so glibc falls back to clone")
        XCTAssertEqual(resolved.verdict(syscall: "bpf"), .errno(1), "CAP_SYS_ADMIN / CAP_BPF rules do not apply")
        XCTAssertEqual(resolved.verdict(syscall: "unshare"), .errno(1))
        XCTAssertEqual(resolved.verdict(syscall: "mount"), .errno(1))
        XCTAssertEqual(resolved.verdict(syscall: "keyctl"), .errno(1))
        XCTAssertEqual(resolved.verdict(syscall: "chroot"), .allow, "CAP_SYS_CHROOT is in Docker's default set")
        XCTAssertEqual(resolved.verdict(syscall: "reboot"), .errno(1))
        XCTAssertEqual(resolved.verdict(syscall: "socket", arguments: [2]), .allow, "AF_INET")
        XCTAssertEqual(resolved.verdict(syscall: "socket", arguments: [40]), .errno(1), "AF_VSOCK is denied")
        XCTAssertEqual(resolved.verdict(syscall: "personality", arguments: [0x0008]), .allow)
        XCTAssertEqual(resolved.verdict(syscall: "personality", arguments: [0x0040_0000]), .errno(1))
        // clone without namespace flags is allowed, with CLONE_NEWUSER (0x10000000) it is not.
        XCTAssertEqual(resolved.verdict(syscall: "clone", arguments: [0x0120_0011]), .allow)
        XCTAssertEqual(resolved.verdict(syscall: "clone", arguments: [0x1000_0000]), .errno(1))

        let admin = SeccompProfileLoader.resolve(profile, capabilities: ResolvedProfile.defaultCapabilities + ["CAP_SYS_ADMIN"],
                                                 kernelRelease: "6.18")
        XCTAssertEqual(admin.verdict(syscall: "unshare"), .allow, "CAP_SYS_ADMIN rules apply once the capability is granted")
        XCTAssertEqual(admin.verdict(syscall: "clone3"), .allow)
        let oldKernel = SeccompProfileLoader.resolve(profile, kernelRelease: "4.4.0")
        XCTAssertEqual(oldKernel.verdict(syscall: "ptrace"), .errno(1), "minKernel 4.8 does not hold on 4.4")
        let arm = SeccompProfileLoader.resolve(profile, architecture: "arm64", kernelRelease: "6.1")
        XCTAssertEqual(arm.verdict(syscall: "arch_prctl"), .errno(1))
    }

    func testBadProfilesNameTheJSONPath() {
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}"#),
                       "p.json: error: syscalls[0].action: unknown action 'SCMP_ACT_ALOW'; did you mean 'SCMP_ACT_ALLOW'? (expected one of: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_TRACE, SCMP_ACT_NOTIFY)")
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQUAL"}]}]}"#),
                       "p.json: error: syscalls[1].args[0].op: unknown operator 'SCMP_CMP_EQUAL'; expected one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ")
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#),
                       "p.json: error: syscalls[0].args[0].index: expected an argument index from 0 to 5")
        XCTAssertEqual(error(#"{"syscalls": []}"#), "p.json: error: defaultAction: missing; expected an action such as SCMP_ACT_ERRNO")
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#),
                       "p.json: error: syscalls[0]: needs 'names' (a list of syscall names)")
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#),
                       "p.json: error: defaultErrnoRet: expected an errno number from 1 to 4095 (1 is EPERM, 38 is ENOSYS)")
        XCTAssertTrue(error("{").hasPrefix("p.json: error: not valid JSON"))
    }

    /// Keys no runtime reads are ignored by Go's JSON decoding in Docker, podman and CRI-O: a
    /// warning naming the JSON path (and the likely key), not an error; `--strict` refuses them
    /// (RunPlanner, tested end to end).
    func testKeysTheRuntimesIgnoreAreWarnings() throws {
        let profile = try load(#"{"defaultAction": "SCMP_ACT_ALLOW", "sycalls": [], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "commment": "x"}]}"#)
        XCTAssertEqual(profile.warnings, [
            "sycalls: unknown key 'sycalls'; did you mean 'syscalls'? (expected one of: defaultAction, defaultErrnoRet, defaultErrno, architectures, archMap, flags, syscalls, listenerPath, listenerMetadata, comment); ignored, as the runtimes ignore it",
            "syscalls[0].commment: unknown key 'commment'; did you mean 'comment'? (expected one of: names, name, action, errnoRet, errno, args, includes, excludes, comment); ignored, as the runtimes ignore it",
        ])
        XCTAssertEqual(profile.rules.count, 1)
    }

    /// containers/common's profiles (podman, CRI-O) name errnos: `defaultErrno` beside
    /// `defaultErrnoRet`, a rule's `errno` beside `errnoRet`. Names are honoured; a number and a
    /// name that disagree keep the number, with a warning; an unknown name is an error naming it.
    func testContainersCommonErrnoNamesAreHonoured() throws {
        let profile = try load(#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errno": "EACCES"}, {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}, {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM", "errnoRet": 13}]}"#)
        XCTAssertEqual(profile.defaultAction, .errno(38))
        let resolved = SeccompProfileLoader.resolve(profile, kernelRelease: "6.18")
        XCTAssertEqual(resolved.verdict(syscall: "mount"), .errno(13))
        XCTAssertEqual(resolved.verdict(syscall: "ptrace"), .errno(38), "a rule's bare SCMP_ACT_ERRNO takes the default errno")
        XCTAssertEqual(resolved.verdict(syscall: "reboot"), .errno(13))
        XCTAssertEqual(profile.warnings, ["syscalls[2].errno: EPERM (1) disagrees with syscalls[2].errnoRet 13; the number is used"])
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSIS"}"#),
                       "p.json: error: defaultErrno: expected an errno name such as EPERM or ENOSYS, found 'ENOSIS'; did you mean 'ENOSYS'?")
        XCTAssertEqual(error(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "errno": 1}]}"#),
                       "p.json: error: syscalls[0].errno: expected an errno name such as EPERM or ENOSYS, found the scalar 1")
    }

    func testTraceBecomesENOSYSAndErrnoDefaultsToDefaultErrnoRet() throws {
        let profile = try load(#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13, "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_TRACE"}, {"names": ["mount"], "action": "SCMP_ACT_ERRNO"}, {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#)
        let resolved = SeccompProfileLoader.resolve(profile, kernelRelease: "6.1")
        XCTAssertEqual(resolved.verdict(syscall: "ptrace"), .errno(38))
        XCTAssertEqual(resolved.verdict(syscall: "mount"), .errno(13))
        XCTAssertEqual(resolved.verdict(syscall: "kill"), .killProcess)
        XCTAssertEqual(resolved.verdict(syscall: "other"), .errno(13))
    }

    func testMaskedEqualComparesTheMaskedArgument() {
        let condition = SeccompArgument(index: 0, value: 0xff00, valueTwo: 0x1200, op: .maskedEqual)
        XCTAssertTrue(condition.matches(0x12ab))
        XCTAssertFalse(condition.matches(0x13ab))
    }

    func testEachNameKnowsItsJSONPathForLint() throws {
        let profile = try load(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}, {"names": ["umount2", "frobnicate"], "name": "wibble", "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}}]}"#)
        XCTAssertEqual(profile.rules.map(\.namePaths), [["syscalls[0].names[0]"],
                                                       ["syscalls[1].names[0]", "syscalls[1].names[1]", "syscalls[1].name"]])
        XCTAssertEqual(profile.rules.map(\.names), [["mount"], ["umount2", "frobnicate", "wibble"]])
        let applies = profile.rules.map {
            SeccompProfileLoader.applies($0, capabilities: [], architecture: "amd64", kernelRelease: "6.18.0")
        }
        XCTAssertEqual(applies, [true, false], "the arm64-only rule is gated out on amd64")
    }
}
