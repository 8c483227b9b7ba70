#if canImport(Glibc)
import Glibc
#endif

/// Test hooks for the fault suite: `CONFINE_FAULT_PAUSE=<point>` makes confine announce the point
/// on stderr and sleep there for 5 s, so a test can SIGKILL it exactly there. Points:
/// `after-guard`, `after-group`, `after-spawn`, `before-cleanup`, `before-report`.
///
/// The one place outside the CLI that writes to stderr: the announcement must come from inside
/// the phase, at the moment it is reached, and it is off unless the variable is set.
public enum FaultInjection {
    static let point: String? = environmentVariable("CONFINE_FAULT_PAUSE")

    public static func pause(at name: String) {
        guard point == name else { return }
        let line = "confine: fault injection: paused at \(name)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        let until = monotonicSeconds() + 5
        while monotonicSeconds() < until { usleep(20_000) }
    }
}
