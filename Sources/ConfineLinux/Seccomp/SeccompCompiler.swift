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
    /// `seccomp(2)` flags from the profile's `flags`.
    public var kernelFlags: UInt32 {
        var flags: UInt32 = 0
        for flag in profile.flags {
            switch flag {
            case "SECCOMP_FILTER_FLAG_LOG": flags |= 2
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW": flags |= 4
            default: break // TSYNC: the child has one thread; others are not for a child to set
            }
        }
        return flags
    }
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
    ///   - cacheDirectory: compiled programs are kept here, keyed by everything that shapes them
    ///     (libseccomp compiles Docker's default for three x86 ABIs in ~15 ms; a cached one loads in
    ///     well under 1 ms). nil disables the cache.
    public static func compile(_ profile: ResolvedSeccompProfile, recordDenials: Bool = true,
                               intercepting: [String] = [], cacheDirectory: String? = defaultCacheDirectory())
        throws(SeccompCompileError) -> CompiledSeccompFilter {
        for name in essentialSyscalls where profile.verdict(syscall: name) != .allow {
            throw SeccompCompileError(message: "the profile denies \(name) (\(profile.verdict(syscall: name))); "
                                      + "no program could run under it, so it is refused")
        }
        let unknown = profile.rules.map(\.name).filter { !isKnown($0) }
        var cacheFile: String?
        if let cacheDirectory {
            cacheFile = cacheDirectory + "/" + cacheKey(profile, recordDenials: recordDenials, intercepting: intercepting) + ".bpf"
            if let program = readCachedProgram(cacheFile!) {
                return CompiledSeccompFilter(
                    program: program, usesListener: (recordDenials || !intercepting.isEmpty) && !program.isEmpty,
                    profile: profile, warnings: unknownWarning(unknown), intercepted: intercepting)
            }
        }
        var compiled = try compileWithLibseccomp(profile, recordDenials: recordDenials, intercepting: intercepting)
        compiled.warnings += unknownWarning(unknown)
        if let cacheFile { writeCachedProgram(compiled.program, to: cacheFile) }
        return compiled
    }

    /// How the warning naming the syscalls libseccomp does not know begins (`--strict` makes it an error).
    public static let unknownSyscallsWarning = "syscalls unknown to libseccomp skipped: "

    private static func unknownWarning(_ unknown: [String]) -> [String] {
        var seen: [String] = []
        for name in unknown where !seen.contains(name) { seen.append(name) }
        return seen.isEmpty ? [] : [unknownSyscallsWarning + seen.joined(separator: ", ")]
    }

    private static func compileWithLibseccomp(_ profile: ResolvedSeccompProfile, recordDenials: Bool,
                                              intercepting: [String]) throws(SeccompCompileError) -> CompiledSeccompFilter {
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
        var maxKnown: Int32 = 0
        // Conditional interceptions replace the profile's rule only where it is a plain allow.
        let conditional = Set(intercepting.filter { name in
            Self.conditionalInterceptions[name] != nil && profile.verdict(syscall: name) == .allow
                && profile.rules.filter { $0.name == name }.allSatisfy { $0.action == .allow && $0.args.isEmpty }
        })
        for rule in profile.rules where !(intercepting.contains(rule.name) && rule.action == .allow)
            && !conditional.contains(rule.name) {
            let number = seccomp_syscall_resolve_name(rule.name)
            guard number != __NR_SCMP_ERROR else { continue } // reported by compile(_:)
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
        for name in conditional {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR, let interception = Self.conditionalInterceptions[name] else { continue }
            maxKnown = max(maxKnown, number)
            for (action, comparisons) in [(UInt32(SCMP_ACT_NOTIFY), interception.notify), (UInt32(SCMP_ACT_ALLOW), interception.allow)]
            where action != kernelAction(profile.defaultAction) { // the default already does it
                for var comparison in comparisons {
                    let status = seccomp_rule_add_array(context, action, number, 1, &comparison)
                    if status < 0 && status != -EEXIST {
                        warnings.append("interception of \(name) not added: \(String(cString: strerror(-status)))")
                    }
                }
            }
        }
        for name in intercepting where Self.conditionalInterceptions[name] == nil
            && (profile.verdict(syscall: name) == .allow || profile.rules.contains(where: { $0.name == name })) {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR else { continue }
            maxKnown = max(maxKnown, number)
            _ = seccomp_rule_add_array(context, UInt32(SCMP_ACT_NOTIFY), number, 0, nil)
        }

        var program = try export(context)
        if case .errno = profile.defaultAction, native == confine_arch_x86_64, maxKnown > 0 {
            program = newSyscallsGetENOSYS(above: UInt32(maxKnown)) + program
        }
        return CompiledSeccompFilter(program: program, usesListener: (recordDenials || !intercepting.isEmpty) && program.count > 0,
                                     profile: profile, warnings: warnings, intercepted: intercepting)
    }

    /// The name libseccomp gives a syscall number on the native architecture.
    /// Syscalls intercepted for some arguments only, one comparison per rule (the rules of one
    /// action are alternatives): opens for writing (the access mode is O_WRONLY or O_RDWR) and
    /// prlimit64 with a new limit. Every other value of the argument stays allowed.
    static let conditionalInterceptions: [String: (notify: [scmp_arg_cmp], allow: [scmp_arg_cmp])] = {
        func accessMode(_ index: UInt32, _ mode: UInt64) -> scmp_arg_cmp {
            scmp_arg_cmp(arg: index, op: SCMP_CMP_MASKED_EQ, datum_a: 3 /* O_ACCMODE */, datum_b: mode)
        }
        func opens(_ index: UInt32) -> (notify: [scmp_arg_cmp], allow: [scmp_arg_cmp]) {
            ([accessMode(index, 1), accessMode(index, 2)], [accessMode(index, 0), accessMode(index, 3)])
        }
        return [
            "open": opens(1),
            "openat": opens(2),
            "prlimit64": ([scmp_arg_cmp(arg: 2, op: SCMP_CMP_NE, datum_a: 0, datum_b: 0)],
                          [scmp_arg_cmp(arg: 2, op: SCMP_CMP_EQ, datum_a: 0, datum_b: 0)]),
        ]
    }()

    public static func name(ofSyscall number: Int32) -> String {
        guard let name = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), number) else { return "syscall \(number)" }
        defer { free(name) }
        return String(cString: name)
    }

    /// This machine's architecture as OCI profiles name it in `includes.arches` (Go's names).
    public static var hostArchitecture: String {
        #if arch(arm64)
        return "arm64"
        #else
        return "amd64"
        #endif
    }

    /// `$XDG_CACHE_HOME/confine/seccomp`, else `~/.cache/confine/seccomp`.
    public static func defaultCacheDirectory() -> String? {
        if let cache = environmentVariable("XDG_CACHE_HOME") { return cache + "/confine/seccomp" }
        if let home = environmentVariable("HOME") { return home + "/.cache/confine/seccomp" }
        return nil
    }

    /// FNV-1a over everything that shapes the program: the rules, the modes, the native ABI and
    /// libseccomp's version.
    static func cacheKey(_ profile: ResolvedSeccompProfile, recordDenials: Bool, intercepting: [String]) -> String {
        var text = "confine-seccomp-v1|\(recordDenials)|\(intercepting)|\(profile.defaultAction)|\(profile.architectures)|"
        text += "\(seccomp_arch_native())|"
        if let version = seccomp_version() { text += "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)|" }
        for rule in profile.rules {
            text += "\(rule.name) \(rule.action) \(rule.args.map { "\($0.index) \($0.op.rawValue) \($0.value) \($0.valueTwo)" });"
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private static let cacheMagic = Array("confine-bpf-1\n".utf8)

    private static func readCachedProgram(_ path: String) -> [UInt8]? {
        guard let text = try? readBinaryFile(path), text.count > cacheMagic.count,
              Array(text.prefix(cacheMagic.count)) == cacheMagic else { return nil }
        let program = Array(text.dropFirst(cacheMagic.count))
        return program.count % 8 == 0 ? program : nil
    }

    private static func writeCachedProgram(_ program: [UInt8], to path: String) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        makeDirectories(directory)
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = cacheMagic + program
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == bytes.count { rename(temporary, path) } else { unlink(temporary) }
    }

    /// The native number of a syscall name (negative if libseccomp does not know it).
    public static func number(ofSyscall name: String) -> Int32 {
        seccomp_syscall_resolve_name(name)
    }

    /// Whether libseccomp knows the name on any architecture (a name of another ABI, `socketcall`
    /// on x86_64, resolves to a pseudo-number and is dropped quietly); unknown names are skipped with a warning.
    public static func isKnown(_ name: String) -> Bool {
        seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR
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
