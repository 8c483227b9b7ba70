/// The one place a report is judged against budgets: `confine run` after the record becomes a
/// report, `confine report --profile` against another profile's budgets, and `confine merge` on
/// the merged figures all call `judge`.
public enum BudgetJudge {
    /// `report` judged against `spec` (the report's own profile's budgets when nil):
    /// 1. any earlier judgement is taken back (a report judged again starts from its run's verdict);
    /// 2. OOM kills in the group beyond what the budgets allow (`budgets.suite.oom_kills`, 0 by
    ///    default) turn a run that otherwise passed into `budget_exceeded` (exit 99);
    /// 3. every budget rule is evaluated into `budgets`; a failed fail-level budget turns a run
    ///    that otherwise passed into `budget_exceeded`. Worse outcomes keep their exit code.
    public static func judge(_ report: RunReport, against spec: BudgetSpec? = nil) -> RunReport {
        var judged = unjudged(report)
        let spec = spec ?? report.profile.budgets ?? BudgetSpec()
        let oomKills = judged.oomKills.count
        if judged.outcome == .passed && oomKills > spec.allowedOOMKills {
            judged.outcome = .budgetExceeded
            judged.exitCode = ExitCodes.budgetExceeded
            judged.reason = "the command succeeded but \(oomKills) \(oomKills == 1 ? "process was" : "processes were") OOM-killed in its group"
        }
        guard !spec.rules.isEmpty else { return judged }
        let results = BudgetEvaluator.evaluate(judged, spec)
        judged.budgets = results
        let failed = results.filter { $0.verdict == .fail }
        if !failed.isEmpty && judged.outcome == .passed {
            judged.outcome = .budgetExceeded
            judged.exitCode = ExitCodes.budgetExceeded
            let succeeded = judged.load != nil ? "the service ran the load" : "the command succeeded"
            judged.reason = "\(succeeded) but \(failed.count) budget\(failed.count == 1 ? "" : "s") failed: \(failed[0].message)"
        }
        return judged
    }

    /// The report as its run ended, before any budget: `budget_exceeded` only ever comes from
    /// judging, so it goes back to `passed`, and the budget results are dropped.
    public static func unjudged(_ report: RunReport) -> RunReport {
        var report = report
        report.budgets = nil
        if report.outcome == .budgetExceeded {
            report.outcome = .passed
            report.exitCode = ExitCodes.success
            report.reason = Verdict.passedReason
        }
        return report
    }
}
