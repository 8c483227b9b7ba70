/// One resource limit as `setrlimit(2)` takes it: a soft limit (what the process meets) and a
/// hard limit (how far it may raise the soft one without CAP_SYS_RESOURCE). `nil` is unlimited
/// (`RLIM_INFINITY`). Units are the resource's own: bytes for `core`, `data`, `fsize`,
/// `memlock`, `msgqueue`, `rss`, `stack`, `as`; seconds for `cpu`; microseconds for `rttime`;
/// a count for the rest.
public struct Ulimit: Equatable, Sendable, Codable {
    public var soft: UInt64?
    public var hard: UInt64?
    public init(soft: UInt64?, hard: UInt64?) {
        self.soft = soft
        self.hard = hard
    }

    /// Docker's spelling: `1024` (soft = hard), `1024:8192`, `unlimited`, `-1`.
    public var description: String {
        func text(_ value: UInt64?) -> String { value.map(String.init) ?? "unlimited" }
        return soft == hard ? text(soft) : "\(text(soft)):\(text(hard))"
    }
}

/// The resource limits container runtimes carry (Docker's `--ulimit` names, the OCI
/// `RLIMIT_*` types), and how they are written.
public enum Ulimits {
    /// Docker's names (`docker run --ulimit`, Compose `ulimits:`) → the OCI / kernel name.
    public static let names = Dictionary(uniqueKeysWithValues: ResourceLimits.all.map { ($0.docker, $0.kernel) })

    /// The Docker name for an OCI `RLIMIT_*` type, if it is one.
    public static func name(ociType: String) -> String? {
        names.first { $0.value == ociType.uppercased() }?.key
    }

    /// `1024` (soft = hard), `SOFT:HARD` (`1024:8192`), `unlimited` or `-1` for either.
    /// Throws when a part is not a whole number or the soft limit is above the hard one
    /// (setrlimit's EINVAL; Docker refuses it too).
    public static func parse(_ raw: String) throws(UnitError) -> Ulimit {
        let text = raw.trimmingWhitespace()
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
        guard parts.count == 1 || parts.count == 2 else {
            throw UnitError("'\(text)' is not a limit; expected a number, SOFT:HARD such as 1024:8192, or unlimited")
        }
        let soft = try value(parts[0], whole: text)
        let hard = parts.count == 2 ? try value(parts[1], whole: text) : soft
        return try checked(Ulimit(soft: soft, hard: hard), text: text)
    }

    /// One side of a limit: a whole number, `unlimited`, `infinity` or `-1` (nil).
    public static func value(_ text: String, whole: String) throws(UnitError) -> UInt64? {
        if ["unlimited", "infinity", "-1"].contains(text.lowercased()) { return nil }
        guard let number = UInt64(text) else {
            throw UnitError("'\(whole)': '\(text)' is not a whole number; expected a number, SOFT:HARD such as 1024:8192, or unlimited")
        }
        return number
    }

    public static func checked(_ limit: Ulimit, text: String) throws(UnitError) -> Ulimit {
        if let hard = limit.hard, limit.soft == nil || limit.soft! > hard {
            throw UnitError("'\(text)': the soft limit \(limit.soft.map(String.init) ?? "unlimited") is above the hard limit \(hard); setrlimit refuses it")
        }
        return limit
    }
}
