#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import ConfineCore

/// A seccomp program ready for the child to install with one `seccomp(2)` call.
public struct CompiledSeccompFilter: Sendable {
    /// `struct sock_filter` instructions, 8 bytes each, as the kernel takes them.
    public var program: [UInt8]
    /// Denied calls reach confine through a user-notification listener (so they can be recorded).
    public var usesListener: Bool
    public var profile: ResolvedSeccompProfile
    public var warnings: [String]
    /// Allowed syscalls that still come to the listener (network allow-list).
    public var intercepted: [String] = []
    public var instructionCount: Int { program.count / 8 }
}

public struct SeccompCompileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Compiles a resolved profile with libseccomp, in the parent (as nsjail does).
public enum SeccompCompiler {
    /// Syscalls a profile must allow unconditionally: without them nothing can start or stop, and
    /// confine itself needs read/write between installing the filter and exec.
    public static let essentialSyscalls = ["execve", "exit_group", "exit", "read", "write"]

    /// - Parameter recordDenials: every non-allow action goes to confine's listener, which records
    ///   the call and answers as the profile says; allowed calls never leave the kernel.
    /// - Parameter intercepting: syscalls the profile allows that still go to the listener (the
    ///   network allow-list's connect/sendto/sendmsg/sendmmsg).
    public static func compile(_ profile: ResolvedSeccompProfile, recordDenials: Bool = true,
                               intercepting: [String] = []) throws(SeccompCompileError) -> CompiledSeccompFilter {
        for name in essentialSyscalls where profile.verdict(syscall: name) != .allow {
            throw SeccompCompileError(message: "the profile denies \(name) (\(profile.verdict(syscall: name))); "
                                      + "no program could run under it, so it is refused")
        }
        func kernelAction(_ action: SeccompAction) -> UInt32 {
            if recordDenials && action != .allow { return UInt32(SCMP_ACT_NOTIFY) }
            switch action {
            case .allow: return UInt32(SCMP_ACT_ALLOW)
            case .errno(let code): return 0x0005_0000 | (UInt32(code) & 0xffff)
            case .killThread: return 0x0000_0000
            case .killProcess: return 0x8000_0000
            case .trap: return 0x0003_0000
            case .log: return 0x7ffc_0000
            case .notify: return UInt32(SCMP_ACT_NOTIFY)
            }
        }
        guard let context = seccomp_init(kernelAction(profile.defaultAction)) else {
            throw SeccompCompileError(message: "seccomp_init failed")
        }
        defer { seccomp_release(context) }
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2) // binary tree for large profiles
        let native = seccomp_arch_native()
        for name in profile.architectures {
            let token = archToken(name)
            if token != 0 && token != native && sameFamily(token, native) { _ = seccomp_arch_add(context, token) }
        }

        var warnings: [String] = []
        var unknown: [String] = []
        var maxKnown: Int32 = 0
        for rule in profile.rules where !(intercepting.contains(rule.name) && rule.action == .allow) {
            let number = seccomp_syscall_resolve_name(rule.name)
            guard number != __NR_SCMP_ERROR else {
                if !unknown.contains(rule.name) { unknown.append(rule.name) }
                continue
            }
            if number >= 0 { maxKnown = max(maxKnown, number) }
            let action = kernelAction(rule.action)
            if action == kernelAction(profile.defaultAction) { continue } // libseccomp refuses no-op rules
            var comparisons = rule.args.map { argument in
                scmp_arg_cmp(arg: UInt32(argument.index), op: compareOperator(argument.op),
                             datum_a: argument.value,
                             datum_b: argument.op == .maskedEqual ? argument.valueTwo : 0)
            }
            let status = comparisons.withUnsafeMutableBufferPointer { buffer in
                seccomp_rule_add_array(context, action, number, UInt32(buffer.count), buffer.baseAddress)
            }
            if status < 0 && status != -EEXIST {
                warnings.append("rule for \(rule.name) not added: \(String(cString: strerror(-status)))")
            }
        }
        for name in intercepting where profile.verdict(syscall: name) == .allow || profile.rules.contains(where: { $0.name == name }) {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR else { continue }
            maxKnown = max(maxKnown, number)
            _ = seccomp_rule_add_array(context, UInt32(SCMP_ACT_NOTIFY), number, 0, nil)
        }
        if !unknown.isEmpty {
            warnings.append("syscalls unknown to libseccomp skipped: \(unknown.joined(separator: ", "))")
        }

        var program = try export(context)
        if case .errno = profile.defaultAction, native == confine_arch_x86_64, maxKnown > 0 {
            program = newSyscallsGetENOSYS(above: UInt32(maxKnown)) + program
        }
        return CompiledSeccompFilter(program: program, usesListener: (recordDenials || !intercepting.isEmpty) && program.count > 0,
                                     profile: profile, warnings: warnings, intercepted: intercepting)
    }

    /// The name libseccomp gives a syscall number on the native architecture.
    public static func name(ofSyscall number: Int32) -> String {
        guard let name = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), number) else { return "syscall \(number)" }
        defer { free(name) }
        return String(cString: name)
    }

    /// The native number of a syscall name (negative if libseccomp does not know it).
    public static func number(ofSyscall name: String) -> Int32 {
        seccomp_syscall_resolve_name(name)
    }

    /// Every syscall name libseccomp knows on the native architecture.
    public static func knownSyscallNames() -> [String] {
        (0..<1024).compactMap { number -> String? in
            guard let name = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), Int32(number)) else { return nil }
            defer { free(name) }
            return String(cString: name)
        }
    }

    /// As runc does: syscalls numbered above everything the profile names are newer than it, and
    /// get ENOSYS (so glibc falls back to an older call) instead of the default EPERM.
    static func newSyscallsGetENOSYS(above maxKnown: UInt32) -> [UInt8] {
        let auditArchX86_64: UInt32 = 0xC000_003E
        let instructions: [(UInt16, UInt8, UInt8, UInt32)] = [
            (0x20, 0, 0, 4),                          // ld [4]          arch
            (0x15, 0, 4, auditArchX86_64),            // jeq x86_64 ? next : native filter
            (0x20, 0, 0, 0),                          // ld [0]          nr
            (0x35, 2, 0, 0x4000_0000),                // jge x32 bit ? native filter : next
            (0x25, 0, 1, maxKnown),                   // jgt max ? ENOSYS : native filter
            (0x06, 0, 0, 0x0005_0000 | UInt32(ENOSYS)), // ret ERRNO(ENOSYS)
        ]
        var bytes: [UInt8] = []
        for (code, jt, jf, k) in instructions {
            withUnsafeBytes(of: code.littleEndian) { bytes += $0 }
            bytes += [jt, jf]
            withUnsafeBytes(of: k.littleEndian) { bytes += $0 }
        }
        return bytes
    }

    private static func export(_ context: scmp_filter_ctx) throws(SeccompCompileError) -> [UInt8] {
        let fd = confine_memfd("confine-seccomp")
        guard fd >= 0 else { throw SeccompCompileError(message: "memfd_create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let status = seccomp_export_bpf(context, fd)
        guard status == 0 else { throw SeccompCompileError(message: "seccomp_export_bpf: \(String(cString: strerror(-status)))") }
        let size = Int(lseek(fd, 0, SEEK_END))
        var program = [UInt8](repeating: 0, count: size)
        let count = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        guard count == size else { throw SeccompCompileError(message: "reading the exported filter failed") }
        return program
    }

    private static func compareOperator(_ op: SeccompOperator) -> scmp_compare {
        switch op {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }

    private static func archToken(_ name: String) -> UInt32 {
        let short = name.hasPrefix("SCMP_ARCH_") ? String(name.dropFirst(10)).lowercased() : name.lowercased()
        return seccomp_arch_resolve_name(short)
    }

    private static func sameFamily(_ a: UInt32, _ b: UInt32) -> Bool {
        let x86: Set<UInt32> = [confine_arch_x86_64, confine_arch_x86, confine_arch_x32]
        let arm: Set<UInt32> = [confine_arch_aarch64, confine_arch_arm]
        return (x86.contains(a) && x86.contains(b)) || (arm.contains(a) && arm.contains(b))
    }
}
