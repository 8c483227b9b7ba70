import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

/// What `run`, `load` and `capacity` share: the profile with the flags as its last layer, the
/// target's environment, supervising a plan, and delivering the report (file, step summary, summary).
enum RunSupport {
    static func resolveProfile(_ profile: String?, limits: LimitOptions) throws -> ResolvedProfile {
        let loader = BuiltinProfiles.loader()
        var spec = ProfileSpec()
        var chain = ["cli"]
        if let profile {
            (spec, chain) = try loader.load(profile)
        }
        let flags = try limits.spec()
        if flags != ProfileSpec() { chain.append(chain == ["cli"] ? "" : "cli flags") }
        spec = spec.overridden(by: flags)
        return ResolvedProfile(spec: spec, chain: chain.filter { !$0.isEmpty })
    }

    /// profile → plan for `arguments`: the profile with the flags as its last layer, the target's
    /// environment, the probe channel; `adjust` sets the options a command has of its own. Throws
    /// the exit code (64) for a bad profile or plan.
    static func plan(profile: String?, limits: LimitOptions, arguments: [String], probe: Bool, strict: Bool,
                     pythonPlugin: Bool? = nil, adjust: (inout RunOptions) -> Void = { _ in }) throws -> RunPlan {
        let resolved: ResolvedProfile
        do {
            resolved = try resolveProfile(profile, limits: limits)
        } catch let error as ProfileError {
            throw failWithProfileError(error)
        }
        // The pytest plugin also shards: it is on the path for `--shard` even without the probe channel.
        var options = RunOptions(arguments: arguments, environment: environment(probe: pythonPlugin ?? probe), confineVersion: Confine.version)
        options.probeChannel = probe
        options.strictSeccomp = strict
        options.profileDirectories = BuiltinProfiles.directories()
        adjust(&options)
        do {
            return try RunPlanner.plan(resolved, options)
        } catch {
            throw failWithPlanError(error)
        }
    }

    /// confine's environment, plus the Python probe module and pytest plugin on PYTHONPATH and
    /// PYTEST_PLUGINS (a no-op for anything but Python and pytest), and a `TOX_OVERRIDE` that has
    /// tox (4.11 and later) pass PYTHONPATH and the CONFINE_* variables into its test environments,
    /// which it otherwise strips (appended to the caller's overrides, `;`-separated as tox reads
    /// them). Not PYTEST_PLUGINS: a tox environment that sets its own PYTHONPATH would then fail
    /// to import the plugin it names; the plugin's entry point (`confine_pytest.dist-info` on
    /// PYTHONPATH) loads it when PYTHONPATH gets through, and nothing breaks when it does not.
    static func environment(probe: Bool) -> [String] {
        var variables = ProcessInfo.processInfo.environment
        if probe {
            let passEnv = "testenv.pass_env+=CONFINE_*,PYTHONPATH"
            let overrides = (variables["TOX_OVERRIDE"] ?? "").split(separator: ";").map(String.init)
            if !overrides.contains(passEnv) { variables["TOX_OVERRIDE"] = (overrides + [passEnv]).joined(separator: ";") }
        }
        if probe, let directory = PythonSupport.directory() {
            variables["PYTHONPATH"] = [directory, variables["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }
                .joined(separator: ":")
            let plugins = (variables["PYTEST_PLUGINS"] ?? "").split(separator: ",").map(String.init)
            if !plugins.contains(PythonSupport.pytestPlugin) {
                variables["PYTEST_PLUGINS"] = (plugins + [PythonSupport.pytestPlugin]).joined(separator: ",")
            }
        }
        return variables.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// The plan run to its end under a fresh supervisor (leftovers of a SIGKILLed confine collected
    /// first); a record of the failed step when no cgroup driver could be set up.
    static func supervise(_ plan: RunPlan, quiet: Bool, control: SupervisorControl? = nil,
                          beforeRun: () -> Void = {}) -> RunRecord {
        do {
            let driver = try CgroupDrivers.detect()
            let collector = GarbageCollector(driver: driver)
            _ = collector.collect() // leftovers of a confine that was SIGKILLed
            collector.collectProbeDirectories()
            collector.collectVolumeDirectories()
            let supervisor = Supervisor(plan: plan, driver: driver)
            supervisor.control = control
            if !quiet { supervisor.notice = { Stderr.write("confine: \($0)\n") } }
            beforeRun()
            return supervisor.run()
        } catch {
            control?.abandon()
            return .setupFailure(command: plan.arguments, profile: plan.profile, confineVersion: plan.confineVersion,
                                 host: .current(layout: .unknown),
                                 startedAt: rfc3339Now(), failure: .init(step: error.step, errno: error.errno, message: error.description))
        }
    }

    /// The report to its file (or its JSON to stderr when that fails), the GitHub step summary,
    /// and the summary on stderr.
    static func deliver(_ report: RunReport, to path: String, quiet: Bool) {
        FaultInjection.pause(at: "before-report")
        var written = true
        do {
            try ReportWriter.write(report, to: path)
        } catch {
            written = false
            Stderr.write("confine: \(error)\n")
            if let json = error.json { Stderr.write(json) }
        }
        appendStepSummary(report)
        if !quiet {
            Stderr.write(Summary.render(report, reportPath: written ? path : nil))
        }
    }

    /// On GitHub Actions, the Markdown report goes into the job's summary page as well.
    static func appendStepSummary(_ report: RunReport) {
        guard let path = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !path.isEmpty else { return }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            Stderr.write("confine: cannot append to GITHUB_STEP_SUMMARY (\(path))\n")
            return
        }
        handle.seekToEndOfFile()
        handle.write(Data(MarkdownRenderer.render(report).utf8))
        handle.closeFile()
    }
}
