#if canImport(Glibc)
import Glibc
#endif

/// How the main process ended, as `waitpid` told it.
public enum Termination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)
}

/// Everything that decides a run's outcome, gathered after the run.
public struct RunFacts: Sendable {
    public var setupFailure: RunReport.SetupError?
    /// Set when the command itself could not be executed (`execve` failed): 126 or 127 as shells do.
    public var execFailureExitCode: Int32?
    public var termination: Termination?
    public var timedOut: Bool
    public var timeoutSeconds: Double?
    /// The signal confine received and passed on to the tree (`RunRecord.interruptedBy`).
    public var interruptedBy: Int32? = nil
    public var mainProcessOOMKilled: Bool
    /// Where the main process's OOM kill landed: `in test_x.py::test_big`, `during collection`.
    public var mainProcessKillPlace: String? = nil
    /// OOM kills in the group (the main process's included). Whether kills of other processes
    /// fail a run that otherwise succeeded is for the budgets to say (`BudgetJudge`).
    public var oomKillCount: Int
    /// The earliest OOM kill (the record's first), which the timeout's reason names.
    public var firstOOMKill: RunReport.OOMKill?
    /// Set when `--stall-timeout` ended the run: the group sat idle after an OOM kill.
    public var stall: OOMStall?
    public var stallTimeoutSeconds: Double?
    /// `confine load`: the readiness wait, the driver, and whether confine stopped the service.
    public var load: LoadFacts? = nil
    public init(setupFailure: RunReport.SetupError? = nil, execFailureExitCode: Int32? = nil,
                termination: Termination? = nil, timedOut: Bool = false, timeoutSeconds: Double? = nil,
                mainProcessOOMKilled: Bool = false, oomKillCount: Int = 0, firstOOMKill: RunReport.OOMKill? = nil,
                stall: OOMStall? = nil, stallTimeoutSeconds: Double? = nil, interruptedBy: Int32? = nil) {
        self.interruptedBy = interruptedBy
        self.setupFailure = setupFailure
        self.execFailureExitCode = execFailureExitCode
        self.termination = termination
        self.timedOut = timedOut
        self.timeoutSeconds = timeoutSeconds
        self.mainProcessOOMKilled = mainProcessOOMKilled
        self.oomKillCount = oomKillCount
        self.firstOOMKill = firstOOMKill
        self.stall = stall
        self.stallTimeoutSeconds = stallTimeoutSeconds
    }
}

/// The public exit codes (README, "Exit codes"). Stable: CI scripts branch on them.
public enum ExitCodes {
    public static let success: Int32 = 0
    public static let usage: Int32 = 64
    public static let budgetExceeded: Int32 = 99
    /// `confine compare`: the baseline report does not exist (first run on main).
    public static let baselineMissing: Int32 = 66
    public static let timeout: Int32 = 124
    /// `--stall-timeout` ended a run idle after an OOM kill: a hang, as a timeout is, so scripts
    /// that treat 124 as "did not finish" need no change; the outcome (`stalled`) tells them apart.
    public static let stalled: Int32 = 124
    public static let setupFailed: Int32 = 125
    public static let oomKilled: Int32 = 137
}

/// What decides a `confine load` run beyond a command's run.
public struct LoadFacts: Sendable {
    public var readiness: RunReport.Readiness
    public var driverStartError: String?
    public var driverExitCode: Int32?
    public var driverOutputError: String?
    /// The driver's output gave at least one request.
    public var measured: Bool
    /// confine stopped the service after the driver ended (its end is then not a failure).
    public var stoppedByConfine: Bool
    public init(readiness: RunReport.Readiness, driverStartError: String?, driverExitCode: Int32?, driverOutputError: String?,
                measured: Bool, stoppedByConfine: Bool) {
        self.readiness = readiness
        self.driverStartError = driverStartError
        self.driverExitCode = driverExitCode
        self.driverOutputError = driverOutputError
        self.measured = measured
        self.stoppedByConfine = stoppedByConfine
    }
}

public struct Verdict: Equatable, Sendable {
    static let passedReason = "the command succeeded within its limits"

    public var outcome: Outcome
    public var exitCode: Int32
    public var reason: String

    /// Precedence, worst first: setup failure, the command could not be executed (126/127),
    /// timeout, stalled after an OOM kill (`--stall-timeout`), main process OOM-killed, main process signalled, command failed, passed. An OOM kill elsewhere in the group is judged with the
    /// budgets (`BudgetJudge`), which may turn `passed` into `budget_exceeded`.
    public static func decide(_ facts: RunFacts, signalName: (Int32) -> String = ConfineCore.signalName) -> Verdict {
        if let failure = facts.setupFailure {
            // A call's error names its step already (`chdir /x: EACCES (…)`): said once.
            let detail = failure.message.hasPrefix(failure.step + ": ") ? String(failure.message.dropFirst(failure.step.count + 2)) : failure.message
            return Verdict(outcome: .setupFailed, exitCode: ExitCodes.setupFailed,
                           reason: "setup failed at '\(failure.step)': \(detail)")
        }
        if let code = facts.execFailureExitCode {
            return Verdict(outcome: .failed, exitCode: code, reason: "the command could not be executed")
        }
        if facts.timedOut {
            let limit = facts.timeoutSeconds.map { " of \(DurationQuantity.format($0))" } ?? ""
            var killed = ""
            if facts.oomKillCount > 0 {
                let count = facts.oomKillCount
                killed = "; \(count) process\(count == 1 ? " was" : "es were") OOM-killed in its group"
                if let first = facts.firstOOMKill {
                    if first.atSeconds < facts.timeoutSeconds ?? .infinity { killed += " before it" }
                    let victim = first.pid > 0 ? " (pid \(first.pid) \(Summary.display(first.command, limit: 40)))" : ""
                    killed += (count == 1 ? ", at " : ", the first at ") + "\(formatFixed(first.atSeconds, digits: 2))s\(victim)"
                }
            }
            return Verdict(outcome: .timeout, exitCode: ExitCodes.timeout,
                           reason: "the run hit its timeout\(limit); the whole process tree was killed\(killed)")
        }
        if let stall = facts.stall {
            let length = facts.stallTimeoutSeconds.map(DurationQuantity.format) ?? "\(formatFixed(stall.seconds, digits: 1))s"
            return Verdict(outcome: .stalled, exitCode: ExitCodes.stalled,
                           reason: "stalled for \(length) after \(stall.victimWithCommand) was OOM-killed at \(stall.killedAt); "
                               + "the whole process tree was killed")
        }
        if let signal = facts.interruptedBy {
            let ended: String
            switch facts.termination {
            case .signaled(let death)?: ended = "the main process died of \(signalName(death))"
            case .exited(let status)?: ended = "the command exited with status \(status)"
            case nil: ended = "the command did not end"
            }
            return Verdict(outcome: .interrupted, exitCode: 128 + signal,
                           reason: "confine received \(signalName(signal)) and stopped the run (passed on to every process, "
                               + "SIGKILL after the grace period); \(ended)")
        }
        if let load = facts.load, let start = load.driverStartError {
            return Verdict(outcome: .driverFailed, exitCode: ExitCodes.setupFailed, reason: "the load driver could not start: \(start)")
        }
        if facts.mainProcessOOMKilled {
            return Verdict(outcome: .oomKilled, exitCode: ExitCodes.oomKilled,
                           reason: "the main process was OOM-killed by the kernel" + (facts.mainProcessKillPlace.map { " \($0)" } ?? ""))
        }
        if let load = facts.load { return decideLoad(load, facts, signalName: signalName) }
        let alsoOOM = facts.oomKillCount > 0
            ? "; \(facts.oomKillCount) process\(facts.oomKillCount == 1 ? " was" : "es were") OOM-killed in its group" : ""
        switch facts.termination {
        case .signaled(let signal):
            return Verdict(outcome: .signaled, exitCode: 128 + signal,
                           reason: "the main process died of \(signalName(signal))\(alsoOOM)")
        case .exited(let status) where status != 0:
            return Verdict(outcome: .failed, exitCode: status, reason: "the command exited with status \(status)\(alsoOOM)")
        case .exited, nil:
            break
        }
        return Verdict(outcome: .passed, exitCode: ExitCodes.success, reason: Verdict.passedReason)
    }

    /// A service under load: not ready, ended on its own (a failure, whatever its status: a
    /// service is stopped, it does not finish), the driver measured nothing, or passed.
    static func decideLoad(_ load: LoadFacts, _ facts: RunFacts, signalName: (Int32) -> String) -> Verdict {
        let readiness = load.readiness
        func ended(_ when: String) -> Verdict? {
            switch facts.termination {
            case .signaled(let signal)?:
                return Verdict(outcome: .signaled, exitCode: 128 + signal, reason: "the service died of \(signalName(signal)) \(when)")
            case .exited(let status)? where status != 0:
                return Verdict(outcome: .failed, exitCode: status, reason: "the service exited with status \(status) \(when)")
            case .exited?:
                return nil
            case nil:
                return nil
            }
        }
        switch readiness.result {
        case .ready:
            break
        case .timedOut, .interrupted:
            let last = readiness.lastError.map { " (last check: \($0))" } ?? ""
            return Verdict(outcome: .notReady, exitCode: ExitCodes.timeout,
                           reason: "the service never passed its readiness check \(readiness.target) within "
                               + "\(DurationQuantity.format(readiness.timeoutSeconds))\(last)")
        case .serviceExited:
            if let verdict = ended("before it was ready") { return verdict }
            return Verdict(outcome: .notReady, exitCode: 1,
                           reason: "the service exited with status 0 before it passed its readiness check \(readiness.target)")
        }
        if !load.stoppedByConfine {
            if let verdict = ended("while under load") { return verdict }
            return Verdict(outcome: .failed, exitCode: 1, reason: "the service exited (status 0) while under load, before the driver ended")
        }
        if !load.measured {
            let status = load.driverExitCode.map { "exited with status \($0)" } ?? "ended"
            let why = load.driverOutputError.map { ": \($0)" } ?? " and its output gave no requests"
            return Verdict(outcome: .driverFailed, exitCode: ExitCodes.setupFailed, reason: "the load driver \(status)\(why)")
        }
        return Verdict(outcome: .passed, exitCode: ExitCodes.success, reason: "the service ran the load within its limits")
    }
}
