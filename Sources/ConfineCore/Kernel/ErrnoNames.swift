#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The symbolic names confine prints for errno values (`EBUSY`), in messages and in the
/// report's `errnoName` fields: the one table, for ConfineCore (report writing) and
/// ConfineLinux (system call errors, seccomp and containment records). Values are the C
/// library's constants (asm-generic/errno-base.h, errno.h on Linux).
public enum ErrnoNames {
    /// errno value → name, for the errors confine meets and reports.
    public static let byNumber: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", E2BIG: "E2BIG",
        ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR",
        EISDIR: "EISDIR", EINVAL: "EINVAL", EMFILE: "EMFILE", ENOSPC: "ENOSPC", EROFS: "EROFS",
        ENOTEMPTY: "ENOTEMPTY", ENOSYS: "ENOSYS", EOPNOTSUPP: "EOPNOTSUPP", ENODEV: "ENODEV",
        EDQUOT: "EDQUOT",
    ]
}

/// The symbolic name of errno value `code` (`EBUSY`), or `errno <code>` for one the table lacks.
public func errnoName(_ code: Int32) -> String {
    ErrnoNames.byNumber[code] ?? "errno \(code)"
}
