import ConfineCore

/// The seccomp listener's records as the report's `seccomp`, `network` and `containment`
/// sections, each process named by its command line. The tests running at each moment are
/// named later, from the record (`RunReport(record:)`).
struct ListenerSections {
    var seccomp: RunReport.Seccomp?
    var network: RunReport.Network
    var containment: RunReport.Containment?
    /// Attempts enforced but not listed (past the listener's bound).
    var warnings: [String] = []

    init(plan: RunPlan, listener: SeccompListener?, commandOf: (Int32) -> String?) {
        if let filter = plan.seccomp, !plan.seccompOnlyIntercepts {
            seccomp = RunReport.Seccomp(
                profile: plan.profile.seccomp ?? "custom", defaultAction: filter.profile.defaultAction,
                rules: filter.profile.rules.count, instructions: filter.instructionCount,
                violations: listener?.violations(commandOf: commandOf) ?? [])
        }
        let mode = plan.profile.networkProfile
        if case .allow(let endpoints) = mode {
            network = RunReport.Network(mode: mode.mode, allowed: endpoints.map(\.description),
                                        resolved: plan.networkAllowList.map(\.description),
                                        attempts: listener?.networkAttempts(commandOf: commandOf) ?? [])
            if let dropped = listener?.droppedAttempts, dropped > 0 {
                warnings.append("network: \(dropped) attempts past the first \(SeccompListener.maximumAttempts) were enforced but not listed")
            }
        } else {
            network = RunReport.Network(mode: mode.mode)
        }
        let container = plan.container?.refusal == nil ? plan.container : nil
        if let plan = plan.containment {
            let guardian = listener?.containment
            let measures = plan.measures(signalsGuarded: guardian != nil) + (container?.measures ?? [])
            var attempts = guardian?.attempts(commandOf: commandOf) ?? []
            attempts += guardian?.escapeAttempts(from: seccomp?.violations ?? []) ?? []
            attempts.sort { $0.atSeconds < $1.atSeconds }
            let unlisted = guardian?.unlisted ?? 0
            containment = RunReport.Containment(measures: measures, attempts: attempts, unlistedAttempts: unlisted > 0 ? unlisted : nil)
        } else if let container, !container.measures.isEmpty {
            // No capability set named (plain `--read-only`, `--user`): the measures, without the
            // guard that lists failed writes (it needs a container profile's seccomp listener).
            containment = RunReport.Containment(measures: container.measures, attempts: [], unlistedAttempts: nil)
        }
    }
}
