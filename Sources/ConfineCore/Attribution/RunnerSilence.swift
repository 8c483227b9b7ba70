/// A test runner that ran while no test boundary reached confine: never silence. The processes
/// the run saw name the runner (`RunnerDetection`: pytest as a program or `-m pytest`, `swift
/// test`, an `.xctest` bundle), and the warning says the likely cause and the fix — a tox that did
/// not take confine's `TOX_OVERRIDE`, a wrapper that cleared the environment, `--runner none`.
public enum RunnerSilence {
    /// `probe`: the channel's accounting (nil: it was off); a plugin that sent anything (its
    /// collection phase, for a suite that collected nothing) was heard, and is not warned of.
    public static func warning(processes: [RunReport.ProcessRecord], tests: [TestRecord], probe: RunReport.ProbeSummary?) -> String? {
        guard tests.isEmpty, (probe?.recordsReceived ?? 0) == 0 else { return nil }
        let probeChannel = probe != nil
        // pytest as the program (`pip install pytest` in a tox environment is not pytest running).
        let pytest = processes.first { RunnerDetection.isPytest(RunnerDetection.words($0.command)) }
        if let pytest {
            guard probeChannel else {
                return "tests: pytest ran (pid \(pytest.pid)) but --no-probe left confine's plugin out: no per-test figures"
            }
            let viaTox = processes.contains { RunnerDetection.isTox(RunnerDetection.words($0.command)) }
            return "tests: pytest ran (pid \(pytest.pid): \(Summary.display(pytest.command, limit: 50))) but no test boundary reached confine: "
                + (viaTox
                    ? "tox strips the environment that loads confine's plugin and did not take confine's TOX_OVERRIDE "
                        + "(tox older than 4.11, or the command's own -x/--override); add to the testenv in tox.ini: "
                        + "`pass_env = CONFINE_*, PYTEST_PLUGINS, PYTHONPATH` (docs/ci.md)"
                    : "its environment lost PYTEST_PLUGINS or PYTHONPATH (a wrapper that clears the environment); pass them through, "
                        + "or add `-p confine_pytest` with confine's python directory on the path (docs/ci.md)")
        }
        if let xctest = processes.first(where: { RunnerDetection.isSwiftTest(RunnerDetection.words($0.command)) }) {
            return "tests: swift test ran (pid \(xctest.pid)) but confine did not read its output (--runner none, or --copies): "
                + "add --runner swift-test"
        }
        return nil
    }
}
