/// The kernel's resource limits (asm-generic/resource.h, as on x86_64 and arm64): each by
/// Docker's ulimit name, the kernel's (and the OCI spec's) name, and its number — the one table
/// the profile parser, the spawn and the containment guard read.
public enum ResourceLimits {
    public static let all: [(docker: String, kernel: String, number: Int32)] = [
        ("cpu", "RLIMIT_CPU", 0), ("fsize", "RLIMIT_FSIZE", 1), ("data", "RLIMIT_DATA", 2), ("stack", "RLIMIT_STACK", 3),
        ("core", "RLIMIT_CORE", 4), ("rss", "RLIMIT_RSS", 5), ("nproc", "RLIMIT_NPROC", 6), ("nofile", "RLIMIT_NOFILE", 7),
        ("memlock", "RLIMIT_MEMLOCK", 8), ("as", "RLIMIT_AS", 9), ("locks", "RLIMIT_LOCKS", 10), ("sigpending", "RLIMIT_SIGPENDING", 11),
        ("msgqueue", "RLIMIT_MSGQUEUE", 12), ("nice", "RLIMIT_NICE", 13), ("rtprio", "RLIMIT_RTPRIO", 14), ("rttime", "RLIMIT_RTTIME", 15),
    ]

    /// Docker's name → the kernel's number (`nofile` → 7).
    public static let numberByDockerName = Dictionary(uniqueKeysWithValues: all.map { ($0.docker, $0.number) })
    /// The kernel's number → its name (7 → `RLIMIT_NOFILE`).
    public static let kernelNameByNumber = Dictionary(uniqueKeysWithValues: all.map { ($0.number, $0.kernel) })
}
