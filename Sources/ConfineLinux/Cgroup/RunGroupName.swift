#if canImport(Glibc)
import Glibc
#endif
import CLinuxKernel

/// How run groups are named: `confine-<confine pid>-<8 hex digits>`, unique per run, so that
/// `GarbageCollector` can tell whose a group is and whether its confine still runs.
public enum RunGroupName {
    public static let prefix = "confine-"

    /// A new name for a group of this process.
    static func make() -> String {
        var random: UInt32 = 0
        _ = getrandom(&random, 4, 0)
        let hex = String(random, radix: 16)
        return "\(prefix)\(getpid())-\(String(repeating: "0", count: 8 - hex.count))\(hex)"
    }
}
