import ConfineCore
@testable import ConfineLinux
import Foundation
import XCTest

/// Runs a classic-BPF seccomp program on one `struct seccomp_data`, as the kernel would: enough
/// of the instruction set for what libseccomp emits (loads, ALU on the accumulator, jumps, ret).
struct SeccompBPFMachine {
    let program: [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)]

    init(_ bytes: [UInt8]) {
        program = stride(from: 0, to: bytes.count, by: 8).map { offset in
            let code = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            let k = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + 4 + $1]) << (8 * $1) }
            return (code, bytes[offset + 2], bytes[offset + 3], k)
        }
    }

    func run(nr: Int32, arch: UInt32 = 0xC000_003E, args: [UInt64] = []) -> UInt32 {
        var data = [UInt32](repeating: 0, count: 16) // nr, arch, ip(2), args(12)
        data[0] = UInt32(bitPattern: nr)
        data[1] = arch
        for (index, value) in args.prefix(6).enumerated() {
            data[4 + 2 * index] = UInt32(truncatingIfNeeded: value)
            data[5 + 2 * index] = UInt32(truncatingIfNeeded: value >> 32)
        }
        var a: UInt32 = 0, x: UInt32 = 0
        var scratch = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < program.count {
            let (code, jt, jf, k) = program[pc]
            pc += 1
            switch code {
            case 0x20: a = data[Int(k) / 4]                       // ld [k]
            case 0x00: a = k                                      // ld #k
            case 0x01: x = k                                      // ldx #k
            case 0x60: a = scratch[Int(k)]                        // ld M[k]
            case 0x61: x = scratch[Int(k)]                        // ldx M[k]
            case 0x02: scratch[Int(k)] = a                        // st M[k]
            case 0x03: scratch[Int(k)] = x                        // stx M[k]
            case 0x54: a &= k                                     // and #k
            case 0x5c: a &= x                                     // and x
            case 0x44: a |= k                                     // or #k
            case 0x87: a = x                                      // txa
            case 0x07: x = a                                      // tax
            case 0x05: pc += Int(k)                               // ja
            case 0x15: pc += a == k ? Int(jt) : Int(jf)           // jeq #k
            case 0x25: pc += a > k ? Int(jt) : Int(jf)            // jgt #k
            case 0x35: pc += a >= k ? Int(jt) : Int(jf)           // jge #k
            case 0x45: pc += a & k != 0 ? Int(jt) : Int(jf)       // jset #k
            case 0x1d: pc += a == x ? Int(jt) : Int(jf)           // jeq x
            case 0x2d: pc += a > x ? Int(jt) : Int(jf)            // jgt x
            case 0x3d: pc += a >= x ? Int(jt) : Int(jf)           // jge x
            case 0x06: return k                                   // ret #k
            case 0x16: return a                                   // ret a
            default: fatalError(String(format: "BPF opcode 0x%02x not handled", code))
            }
        }
        fatalError("BPF program fell off its end")
    }
}

final class SeccompEquivalenceTests: XCTestCase {
    var root: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    func resolved(_ path: String, capabilities: [String] = ResolvedProfile.defaultCapabilities) throws -> ResolvedSeccompProfile {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let profile = try SeccompProfileLoader.load(file: path, data: data)
        return SeccompProfileLoader.resolve(profile, capabilities: capabilities, kernelRelease: kernelRelease())
    }

    /// Representative arguments where profiles look at them: clone flags, socket families,
    /// personality values.
    let argumentCases: [String: [[UInt64]]] = [
        "clone": [[0x0120_0011], [0x1000_0000], [0x2000_0000], [0x4000_0000], [0x0002_0000], [0x0800_0000], [0x0400_0000], [0x8000_0000]],
        "socket": [[1], [2], [10], [16], [17], [38], [40], [41]],
        "personality": [[0], [8], [0x20000], [0x20008], [0xffff_ffff], [0x0040_0000], [1]],
    ]

    func testContainerDefaultGivesDockersVerdictForEverySyscall() throws {
        for capabilities in [ResolvedProfile.defaultCapabilities, ResolvedProfile.defaultCapabilities + ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]] {
            let ours = try SeccompCompiler.compile(
                resolved(root.appendingPathComponent("profiles/seccomp/container-default.json").path, capabilities: capabilities),
                recordDenials: false)
            let docker = try SeccompCompiler.compile(
                resolved(root.deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/docker-default.json").path,
                         capabilities: capabilities),
                recordDenials: false)
            let oursMachine = SeccompBPFMachine(ours.program), dockerMachine = SeccompBPFMachine(docker.program)
            var compared = 0
            for name in SeccompCompiler.knownSyscallNames() {
                let number = seccompNumber(name)
                for args in argumentCases[name] ?? [[]] {
                    XCTAssertEqual(oursMachine.run(nr: number, args: args), dockerMachine.run(nr: number, args: args),
                                   "\(name)\(args) with \(capabilities.count) capabilities")
                    compared += 1
                }
            }
            XCTAssertGreaterThan(compared, 300)
            // A number above every known syscall (a syscall newer than both profiles) gets ENOSYS.
            XCTAssertEqual(oursMachine.run(nr: 1000), 0x0005_0000 | UInt32(ENOSYS))
        }
    }

    func testCompiledFilterMatchesTheVerdictModel() throws {
        let profile = try resolved(root.appendingPathComponent("profiles/seccomp/container-default.json").path)
        let machine = SeccompBPFMachine(try SeccompCompiler.compile(profile, recordDenials: false).program)
        func expected(_ action: SeccompAction) -> UInt32 {
            switch action {
            case .allow: return 0x7fff_0000
            case .errno(let code): return 0x0005_0000 | UInt32(code)
            default: return 0
            }
        }
        for name in ["read", "unshare", "mount", "keyctl", "add_key", "bpf", "clone3", "ptrace", "reboot"] {
            XCTAssertEqual(machine.run(nr: seccompNumber(name)), expected(profile.verdict(syscall: name)), name)
        }
        XCTAssertEqual(machine.run(nr: seccompNumber("clone3")), 0x0005_0000 | UInt32(ENOSYS))
        XCTAssertEqual(machine.run(nr: seccompNumber("socket"), args: [40]), 0x0005_0000 | UInt32(EPERM), "AF_VSOCK")
        XCTAssertEqual(machine.run(nr: seccompNumber("socket"), args: [2]), 0x7fff_0000, "AF_INET")
        // With denials recorded, every non-allow verdict goes to the listener instead.
        let notifying = SeccompBPFMachine(try SeccompCompiler.compile(profile, recordDenials: true).program)
        XCTAssertEqual(notifying.run(nr: seccompNumber("unshare")), 0x7fc0_0000)
        XCTAssertEqual(notifying.run(nr: seccompNumber("read")), 0x7fff_0000)
    }

    func testProfilesThatDenyExecveAreRefused() throws {
        let profile = try SeccompProfileLoader.load(file: "p.json", data: Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]}"#.utf8))
        XCTAssertThrowsError(try SeccompCompiler.compile(SeccompProfileLoader.resolve(profile, kernelRelease: "6.1"))) { error in
            XCTAssertTrue("\(error)".contains("the profile denies execve"), "\(error)")
        }
    }

    func testUnknownSyscallNamesAreSkippedWithAWarning() throws {
        let profile = try SeccompProfileLoader.load(file: "p.json", data: Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "execve", "exit_group", "exit", "frobnicate"], "action": "SCMP_ACT_ALLOW"}]}"#.utf8))
        let compiled = try SeccompCompiler.compile(SeccompProfileLoader.resolve(profile, kernelRelease: "6.1"))
        XCTAssertEqual(compiled.warnings, ["syscalls unknown to libseccomp skipped: frobnicate"])
    }

    func seccompNumber(_ name: String) -> Int32 {
        Int32(SeccompCompiler.number(ofSyscall: name))
    }
}

final class SeccompCacheTests: XCTestCase {
    func testCachedProgramIsTheCompiledOneAndACorruptCacheIsRecompiled() throws {
        let directory = NSTemporaryDirectory() + "confine-seccomp-cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let path = url.appendingPathComponent("profiles/seccomp/container-default.json").path
        let profile = SeccompProfileLoader.resolve(try SeccompProfileLoader.load(file: path, data: Data(contentsOf: URL(fileURLWithPath: path))),
                                                   kernelRelease: "6.1")
        let fresh = try SeccompCompiler.compile(profile, cacheDirectory: nil)
        let first = try SeccompCompiler.compile(profile, cacheDirectory: directory)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(files.count, 1)
        let cached = try SeccompCompiler.compile(profile, cacheDirectory: directory)
        XCTAssertEqual(first.program, fresh.program)
        XCTAssertEqual(cached.program, fresh.program)
        // Another mode is another program, under another key.
        _ = try SeccompCompiler.compile(profile, recordDenials: false, cacheDirectory: directory)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).count, 2)
        // A damaged cache entry is ignored and replaced.
        try Data("confine-bpf-1\nshort".utf8).write(to: URL(fileURLWithPath: directory + "/" + files[0]))
        XCTAssertEqual(try SeccompCompiler.compile(profile, cacheDirectory: directory).program, fresh.program)
    }
}

final class SeccompAarch64EquivalenceTests: XCTestCase {
    /// On aarch64 the compiled programs cannot run here; the resolved profiles (what the compiler
    /// is given) must agree for every name libseccomp knows and the representative arguments.
    func testContainerDefaultResolvesLikeDockersOnArm64() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        func resolved(_ path: String) throws -> ResolvedSeccompProfile {
            SeccompProfileLoader.resolve(try SeccompProfileLoader.load(file: path, data: Data(contentsOf: URL(fileURLWithPath: path))),
                                         architecture: "arm64", kernelRelease: "6.1")
        }
        let ours = try resolved(url.appendingPathComponent("profiles/seccomp/container-default.json").path)
        let docker = try resolved(url.deletingLastPathComponent().appendingPathComponent("shared/fixtures/seccomp/docker-default.json").path)
        let names = Set(SeccompCompiler.knownSyscallNames() + ["arm_fadvise64_64", "breakpoint", "cacheflush", "set_tls", "arch_prctl"])
        for name in names {
            for args in [[], [0x1000_0000], [40], [0x0040_0000]] as [[UInt64]] {
                XCTAssertEqual(ours.verdict(syscall: name, arguments: args), docker.verdict(syscall: name, arguments: args), "\(name)\(args)")
            }
        }
        XCTAssertEqual(ours.verdict(syscall: "breakpoint"), .allow, "arm-only rules apply on arm64")
        XCTAssertEqual(ours.verdict(syscall: "arch_prctl"), .errno(1), "amd64-only rules do not")
    }
}
