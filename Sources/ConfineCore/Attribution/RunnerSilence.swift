/// A test runner that ran while no test boundary reached confine: never silence. The processes
/// the run saw name the runner (`RunnerDetection`: pytest as a program or `-m pytest`, `swift
/// test`, an `.xctest` bundle), and the warning says the likely cause and the fix — an `env -i`,
/// a tox environment that replaced PYTHONPATH or did not take confine's `TOX_OVERRIDE`, a wrapper
/// that cleared the environment, `--no-probe`, `--runner none`. Under `--shard`, a pytest that
/// confine's plugin did not reach ran every test, not its shard: said too.
public enum RunnerSilence {
    /// `probe`: the channel's accounting (nil: it was off). `runnerHeard`: a test or a phase
    /// reached confine (a plugin that sent its collection phase, for a suite that collected
    /// nothing, was heard) — a probed function's calls are not the runner. `outputRead`: the
    /// runner's output was read (its own warning says what it held).
    /// `command`: the run's own command — the only place an `env -i` shows: env execs what it
    /// runs in its own process, so the process list holds that program, never env.
    public static func warning(processes: [RunReport.ProcessRecord], tests: [TestRecord], probe: RunReport.ProbeSummary?,
                               runnerHeard: Bool = false, outputRead: Bool = false,
                               shard: ShardPosition? = nil, command: [String] = []) -> String? {
        guard tests.isEmpty, !runnerHeard else { return nil }
        let probeChannel = probe != nil
        // pytest as the program (`pip install pytest` in a tox environment is not pytest running).
        let pytest = processes.first { RunnerDetection.isPytest(RunnerDetection.words($0.command)) }
        if let pytest {
            // Without the probe channel the plugin still shards (it is on the path for --shard).
            let unsharded = shard.map { probeChannel ? "; --shard \($0.index)/\($0.total) was not applied: this pytest was not split (whatever it ran, it ran whole)" : "" } ?? ""
            guard probeChannel else {
                return "tests: pytest was started (pid \(pytest.pid)) but --no-probe left confine's plugin out: no per-test figures"
            }
            let cleared = RunnerDetection.clearsEnvironment(command)
            let viaTox = processes.contains { RunnerDetection.isTox(RunnerDetection.words($0.command)) }
            let words = RunnerDetection.words(pytest.command)
            let disabled = zip(words, words.dropFirst()).contains { $0 == "-p" && $1 == "no:confine_pytest" }
                || words.contains("-pno:confine_pytest")
            let cause: String
            if disabled {
                cause = "its command disables confine's plugin (-p no:confine_pytest)"
            } else if cleared {
                cause = "an `env -i` in the run cleared the environment that loads confine's plugin (CONFINE_*, PYTHONPATH, PYTEST_PLUGINS); "
                    + "pass them through it (docs/ci.md)"
            } else if viaTox {
                cause = "tox did not hand confine's variables to it: a `set_env` of PYTHONPATH in tox.ini replaces confine's "
                    + "(install confine's plugin wheel into the environment: `deps = <confine's share/confine/python>/confine_pytest-…whl` "
                    + "and `pass_env = CONFINE_*`), or a tox older than 4.11 or an -x/--override that sets pass_env dropped confine's "
                    + "TOX_OVERRIDE (add `pass_env = CONFINE_*, PYTHONPATH` to the testenv), or a wrapper around it cleared the environment (docs/ci.md)"
            } else {
                cause = "its environment lost CONFINE_*, PYTEST_PLUGINS or PYTHONPATH (a wrapper that clears or replaces them); "
                    + "pass them through, or install confine's plugin wheel into its environment (docs/ci.md)"
            }
            return "tests: pytest was started (pid \(pytest.pid): \(Summary.display(pytest.command, limit: 50))) but no test boundary "
                + "reached confine: \(cause)\(unsharded)"
        }
        if !outputRead, let xctest = processes.first(where: { RunnerDetection.isSwiftTest(RunnerDetection.words($0.command)) }) {
            return "tests: swift test ran (pid \(xctest.pid)) but confine did not read its output (--runner none, or --copies): "
                + "add --runner swift-test"
        }
        return nil
    }
}
