/// A test runner that ran while no test boundary reached confine: never silence. The processes
/// the run saw name the runner (pytest as a program or `-m pytest`, an `.xctest` bundle), and the
/// warning says the likely cause and the fix — tox strips the variables that load the plugin, a
/// `swift test` started by make or a script is not read for its output.
public enum RunnerSilence {
    /// `probe`: the channel's accounting (nil: it was off); a plugin that sent anything (its
    /// collection phase, for a suite that collected nothing) was heard, and is not warned of.
    public static func warning(processes: [RunReport.ProcessRecord], tests: [TestRecord], probe: RunReport.ProbeSummary?) -> String? {
        guard tests.isEmpty, (probe?.recordsReceived ?? 0) == 0 else { return nil }
        let probeChannel = probe != nil
        let commands = processes.map(\.command)
        func words(_ command: String) -> [Substring] { command.split(separator: " ") }
        func program(_ word: Substring) -> Substring { word.split(separator: "/").last ?? word }
        let pytest = processes.first { process in
            let list = words(process.command)
            return list.contains { ["pytest", "py.test"].contains(program($0)) }
                || zip(list, list.dropFirst()).contains { $0 == "-m" && $1 == "pytest" }
        }
        if let pytest {
            guard probeChannel else {
                return "tests: pytest ran (pid \(pytest.pid)) but --no-probe left confine's plugin out: no per-test figures"
            }
            let viaTox = commands.contains { words($0).contains { program($0) == "tox" } }
            return "tests: pytest ran (pid \(pytest.pid): \(Summary.display(pytest.command, limit: 50))) but no test boundary reached confine: "
                + (viaTox
                    ? "tox strips the environment that loads confine's plugin; add to the testenv in tox.ini: "
                        + "`passenv = CONFINE_*, PYTEST_PLUGINS, PYTHONPATH` (docs/ci.md)"
                    : "its environment lost PYTEST_PLUGINS or PYTHONPATH (a wrapper that clears the environment); pass them through, "
                        + "or add `-p confine_pytest` with confine's python directory on the path (docs/ci.md)")
        }
        if let xctest = processes.first(where: { words($0.command).first.map { program($0).hasSuffix(".xctest") || $0.hasSuffix("swiftpm-testing-helper") } ?? false }) {
            return "tests: swift test ran (pid \(xctest.pid)) under another command (make, a script), whose output confine did not read: "
                + "add --runner swift-test"
        }
        return nil
    }
}
