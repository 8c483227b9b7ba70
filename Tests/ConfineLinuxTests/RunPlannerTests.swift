@testable import ConfineLinux
@testable import ConfineCore
import Foundation
import XCTest

/// The plan stage without root, DNS or the machine's mounts: every host fact is injected.
final class RunPlannerTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let profileDirectory = packageRoot.appendingPathComponent("profiles").path
    static let mountInfo = try! String(contentsOfFile: Bundle.module.resourcePath! + "/Fixtures/mountinfo-legacy.txt", encoding: .utf8)

    func host(isRoot: Bool = false, resolve: @escaping @Sendable ([NetworkEndpoint]) throws(NetworkResolutionError) -> [ResolvedEndpoint] = { endpoints in
        endpoints.map { ResolvedEndpoint(address: "127.0.0.1", port: $0.port) }
    }) -> PlanHost {
        var host = PlanHost(isRoot: isRoot, mountInfo: Self.mountInfo, kernelRelease: "6.18.0-1-cloud-amd64", seccompCacheDirectory: nil,
                            resolveEndpoints: resolve)
        host.capabilityLast = 40
        host.existingProcPaths = ["/proc/sys"]
        return host
    }

    func profile(_ yaml: String) throws -> ResolvedProfile {
        ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: yaml).parse(), chain: ["p.yaml"])
    }

    func options(strict: Bool = false) -> RunOptions {
        var options = RunOptions(arguments: ["pytest", "-q"], environment: ["A=1"], confineVersion: "test")
        options.junitPaths = ["junit.xml"]
        options.strictSeccomp = strict
        options.profileDirectories = [Self.profileDirectory]
        return options
    }

    func testAPlainProfileNeedsNoFilterAndNoContainment() throws {
        let plan = try RunPlanner.plan(try profile("limits: {memory: 64Mi, cpus: 500m, pids: 32}\n"), options(), host: host())
        XCTAssertNil(plan.seccomp)
        XCTAssertNil(plan.containment)
        XCTAssertEqual(plan.arguments, ["pytest", "-q"])
        XCTAssertEqual(plan.junitPaths, ["junit.xml"])
        XCTAssertEqual(plan.cgroupLimits, CgroupLimits(memoryMax: 64 << 20, swapMax: 0, cpuQuotaMicros: 50_000, pidsMax: 32))
        XCTAssertTrue(plan.groupName.hasPrefix("confine-\(getpid())-"))
    }

    func testAnAllowListIsResolvedAndInterceptedWithoutASeccompProfile() throws {
        let plan = try RunPlanner.plan(try profile("network: {allow: [\"db.internal:5432\"]}\n"), options(), host: host())
        XCTAssertEqual(plan.networkAllowList, [ResolvedEndpoint(address: "127.0.0.1", port: 5432)])
        XCTAssertTrue(plan.seccompOnlyIntercepts)
        XCTAssertEqual(Set(plan.seccomp?.intercepted ?? []), Set(NetworkAllowList.interceptedSyscalls))
    }

    func testANameThatDoesNotResolveIsAPlanError() throws {
        let failing = host(resolve: { _ throws(NetworkResolutionError) in throw NetworkResolutionError(description: "nowhere.invalid: no such host") })
        XCTAssertThrowsError(try RunPlanner.plan(try profile("network: {allow: [\"nowhere.invalid:80\"]}\n"), options(), host: failing)) {
            XCTAssertEqual("\($0)", "network: nowhere.invalid: no such host")
        }
    }

    func testContainmentAsRootRemountsTheCgroupMountsAndGuardsSignals() throws {
        let container = try profile("seccomp: container-default\ncapabilities: default\n")
        let plan = try RunPlanner.plan(container, options(), host: host(isRoot: true))
        let containment = try XCTUnwrap(plan.containment)
        XCTAssertTrue(containment.readOnlyMounts.contains { $0.path == "/sys/fs/cgroup/memory" }, "\(containment.readOnlyMounts)")
        XCTAssertEqual(containment.readOnlyMounts.map(\.path).filter { $0.hasPrefix("/proc/") }, ["/proc/sys"], "the host's /proc paths, no more")
        XCTAssertEqual(containment.capabilityLast, 40)
        let intercepted = Set(plan.seccomp?.intercepted ?? [])
        XCTAssertTrue(Set(ContainmentGuard.interceptedSyscalls).isSubset(of: intercepted))
        XCTAssertFalse(plan.seccompOnlyIntercepts)
        XCTAssertTrue(plan.setupWarnings.isEmpty, "\(plan.setupWarnings)")

        let notRoot = try RunPlanner.plan(container, options(), host: host(isRoot: false))
        XCTAssertNil(notRoot.containment)
        XCTAssertEqual(notRoot.setupWarnings.count, 2, "\(notRoot.setupWarnings)")
        XCTAssertTrue(notRoot.setupWarnings.contains { $0.hasPrefix("containment: not root") })
        XCTAssertTrue(notRoot.setupWarnings.contains { $0.hasPrefix("/dev/shm: not root") })
        XCTAssertTrue(Set(notRoot.seccomp?.intercepted ?? []).isDisjoint(with: ContainmentGuard.interceptedSyscalls))
    }

    func testSeccompProblemsAreTypedErrorsNamingTheFile() throws {
        XCTAssertThrowsError(try RunPlanner.plan(try profile("seccomp: no-such-profile\n"), options(), host: host())) {
            XCTAssertEqual("\($0)", "seccomp: no built-in profile or file named 'no-such-profile' (built-in: container-default)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("planner-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let malformed = directory.appendingPathComponent("bad.json").path
        try #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": 7}]}"#.write(toFile: malformed, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunPlanner.plan(try profile("seccomp: \(malformed)\n"), options(), host: host())) { error in
            guard case PlanError.seccompProfile = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".hasPrefix("\(malformed): error: syscalls[0].action"), "\(error)")
        }
        // A device or a FIFO would never end: refused before it is read.
        let zero = directory.appendingPathComponent("zero.json").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        XCTAssertThrowsError(try RunPlanner.plan(try profile("seccomp: \(zero)\n"), options(), host: host())) {
            XCTAssertEqual("\($0)", "\(zero): error: not a regular file; expected an OCI/Docker seccomp JSON file")
        }
        let unknown = directory.appendingPathComponent("unknown.json").path
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#
            .write(toFile: unknown, atomically: true, encoding: .utf8)
        let lenient = try RunPlanner.plan(try profile("seccomp: \(unknown)\n"), options(), host: host())
        XCTAssertTrue(lenient.seccomp?.warnings.contains { $0.hasPrefix("syscalls unknown") } ?? false)
        XCTAssertThrowsError(try RunPlanner.plan(try profile("seccomp: \(unknown)\n"), options(strict: true), host: host())) { error in
            guard case PlanError.unknownSyscalls(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, unknown)
            XCTAssertTrue("\(error)".hasSuffix("(--strict)"))
        }
    }
}

/// The container around the process, planned from the profile and the host's mounts.
final class ContainerFilesystemPlanTests: XCTestCase {
    /// A host's mounts as mountinfo lists them: the root, its kernel filesystems, a separate /work.
    static let mountInfo = """
        23 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        24 23 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw
        25 23 0:6 / /sys rw,nosuid,nodev,noexec,relatime shared:3 - sysfs sysfs rw
        26 25 0:7 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
        27 23 0:8 / /dev rw,nosuid shared:5 - devtmpfs udev rw
        28 27 0:9 / /dev/shm rw,nosuid,nodev shared:6 - tmpfs tmpfs rw
        29 23 8:2 / /work rw,nosuid,relatime shared:7 - ext4 /dev/sda2 rw
        30 23 0:10 / /tmp rw,nosuid,nodev shared:8 - tmpfs tmpfs rw

        """

    func plan(_ yaml: String, isRoot: Bool = true, uid: UInt32 = 0) throws -> RunPlan {
        let host = PlanHost(isRoot: isRoot, mountInfo: Self.mountInfo, kernelRelease: "6.18.0", seccompCacheDirectory: nil,
                            resolveEndpoints: { endpoints throws(NetworkResolutionError) in [] })
        let options = RunOptions(arguments: ["true"], environment: ["A=1", "PATH=/usr/bin"], confineVersion: "test")
        let profile = ResolvedProfile(spec: try ProfileParser(file: "p.yaml", text: yaml).parse(), chain: ["p.yaml"])
        var plan = try RunPlanner.plan(profile, options, host: host)
        // The uid confine runs as is the caller's; re-plan the container part with the one asked.
        plan.container = ContainerFilesystem.make(for: profile, host: host, groupName: plan.groupName, confineUid: uid, confineGid: uid)
        return plan
    }

    func testAReadOnlyRootRemountsEveryHostMountButTheKernelsOwn() throws {
        let container = try XCTUnwrap(try plan("filesystem: {read_only_root: true, volumes: [{path: /cache, medium: memory, size_limit: 1Mi}, {path: /data}]}\n").container)
        let paths = container.readOnlyMounts.map(\.path)
        XCTAssertEqual(paths, ["/", "/work", "/tmp", "/sys", "/sys/fs/cgroup"], "the host's tree, and sysfs as a container has it")
        XCTAssertTrue(container.privateDev, "/dev is the run's own tmpfs")
        XCTAssertEqual(Set(paths).count, paths.count, "each mount point once")
        XCTAssertEqual(container.mounts.map(\.target), ["/cache", "/data"])
        XCTAssertEqual(container.mounts[0].data, "mode=1777,size=1048576")
        XCTAssertNil(container.mounts[0].source)
        XCTAssertTrue(container.mounts[1].source?.hasPrefix(ContainerFilesystem.diskVolumeParent + "/confine-") == true)
        XCTAssertEqual(container.writablePaths, ["/dev", "/proc", "/cache", "/data"])
        XCTAssertNil(container.refusal)
    }

    func testIdentityAndRefusals() throws {
        let given = try XCTUnwrap(try plan("user: {uid: 10001}\n").container?.identity)
        XCTAssertEqual(given, ContainerFilesystem.Identity(uid: 10001, gid: 10001, groups: []), "the gid defaults to the uid's number")
        XCTAssertEqual(try plan("user: {uid: 0, run_as_non_root: true}\n").container?.refusal?.contains("runAsUser breaks non-root policy"), true)
        XCTAssertEqual(try plan("user: {run_as_non_root: true}\n").container?.refusal?.contains("the target would run as root"), true)
        XCTAssertNil(try plan("user: {run_as_non_root: true}\n", uid: 1000).container?.refusal, "a non-root confine runs the target as itself")
        XCTAssertEqual(try plan("hostname: web\n", isRoot: false, uid: 1000).container?.refusal?.contains("need root"), true)
        // Not root, a container profile still runs: the host's /dev/shm, said once (as for capabilities).
        let nonRoot = try plan("capabilities: default\n", isRoot: false, uid: 1000)
        XCTAssertNil(nonRoot.container?.refusal)
        XCTAssertEqual(nonRoot.container?.mounts.count, 0)
        XCTAssertEqual(nonRoot.container?.warning, "/dev/shm: not root, so the target uses the host's /dev/shm, not a private 64.0 MiB one")
        XCTAssertNil(try plan("limits: {memory: 1Gi}\n").container, "nothing asked, nothing planned")
    }

    /// `-e PYTHONPATH=/app` keeps confine's probe directory after it (and its pytest plugin).
    func testTheProfilesPythonPathKeepsConfinesProbe() throws {
        let probe = NSTemporaryDirectory() + "confine-probe-dir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: probe + "/confine_probe.py", contents: Data())
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let merged = RunPlanner.environment(["PYTHONPATH=\(probe):/host/lib", "PYTEST_PLUGINS=confine_pytest", "A=1"],
                                            with: ["PYTHONPATH": "/app", "PYTEST_PLUGINS": "myplugin", "A": "2"])
        XCTAssertEqual(merged, ["A=2", "PYTEST_PLUGINS=myplugin,confine_pytest", "PYTHONPATH=/app:\(probe)"])
    }

    func testContainerProfilesGetDockersShmAndTheProfilesEnvironmentWins() throws {
        let plan = try plan("capabilities: default\nenv: {A: \"2\", B: x}\n")
        XCTAssertEqual(plan.container?.mounts.map(\.target), ["/dev/shm"])
        XCTAssertEqual(plan.container?.mounts.first?.data, "mode=1777,size=67108864")
        XCTAssertEqual(plan.environment.filter { $0.hasPrefix("A=") || $0.hasPrefix("B=") }, ["A=2", "B=x"])
    }
}
