@testable import ConfineCore
import Foundation
import XCTest

/// Malformed profiles, each with the exact message a user sees.
final class ProfileErrorTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "confine-profiles-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "name: base\nlimits:\n  memory: 512Mi\n".write(toFile: directory + "/base.yaml", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var loader: ProfileLoader { ProfileLoader(builtinDirectories: [directory]) }

    func error(loading text: String, name: String = "p.yaml") throws -> String {
        let path = try write(name, text)
        do {
            _ = try loader.resolve(path)
            XCTFail("expected an error for:\n\(text)")
            return ""
        } catch {
            return error.description.replacingOccurrences(of: directory + "/", with: "")
        }
    }

    func testMalformedProfilesTable() throws {
        let cases: [(String, String)] = [
            ("limits:\n  memory: [1, 2\n",
             "p.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"),
            ("name: x\nlimits:\n  memroy: 1Gi\n",
             "p.yaml:3:3: error: unknown key 'memroy' in 'limits'; did you mean 'memory'? (expected one of: memory, swap, cpus, cpuset, pids, nofile, ulimits)"),
            ("nmae: x\n",
             "p.yaml:1:1: error: unknown key 'nmae' in the profile; did you mean 'name'? (expected one of: name, description, extends, limits, timeout, stall_timeout, sampling, seccomp, capabilities, network, budgets, regression, filesystem, user, env, working_dir, hostname)"),
            ("limits:\n  memory: 512Qi\n",
             "p.yaml:2:11: error: 'limits.memory': '512Qi' is not a byte quantity; expected a byte quantity such as 512Mi, 1Gi, 1G or 64m"),
            ("limits:\n  memory: -5Mi\n",
             "p.yaml:2:11: error: 'limits.memory': '-5Mi' is negative; expected a byte quantity such as 512Mi, 1Gi, 1G or 64m"),
            ("limits:\n  memory: 0\n",
             "p.yaml:2:11: error: 'limits.memory' must be greater than zero; expected a byte quantity such as 512Mi, 1G or 64m"),
            ("limits:\n  cpus: 0\n",
             "p.yaml:2:9: error: 'limits.cpus': '0' must be greater than zero; expected CPUs such as 500m, 0.5 or 2"),
            ("limits:\n  cpus: lots\n",
             "p.yaml:2:9: error: 'limits.cpus': 'lots' is not a CPU quantity; expected CPUs such as 500m, 0.5 or 2"),
            ("limits:\n  pids: -1\n",
             "p.yaml:2:9: error: 'limits.pids' must be greater than zero, found -1; expected a whole number of processes such as 256"),
            ("limits:\n  pids: 1.5\n",
             "p.yaml:2:9: error: 'limits.pids': '1.5' is not a whole number; expected a whole number of processes such as 256"),
            ("timeout: 10\n",
             "p.yaml:1:10: error: 'timeout': '10' has no unit; expected a duration such as 10ms, 30s, 5m or 1h30m"),
            ("timeout: 5 minutes\n",
             "p.yaml:1:10: error: 'timeout': '5 minutes' has an unknown unit ' minutes'; expected a duration such as 10ms, 30s, 5m or 1h30m"),
            ("sampling:\n  interval: 100us\n",
             "p.yaml:2:13: error: sampling.interval must be at least 1ms; the kernel's counters do not move faster"),
            ("limits: 512Mi\n",
             "p.yaml:1:9: error: 'limits' must be a mapping (key: value lines), found '512Mi'"),
            ("limits:\n  memory:\n",
             "p.yaml:2:10: error: 'limits.memory' has no value; expected a byte quantity such as 512Mi, 1G or 64m"),
            ("limits:\n  memory: 1Gi\n  memory: 2Gi\n",
             "p.yaml:3:3: error: duplicate key 'memory' in 'limits' (first given at line 2)"),
            ("extends: nowhere\n",
             "p.yaml:1:10: error: extends 'nowhere': no built-in profile or file named 'nowhere' (built-in profiles: base, p)"),
            ("extends: bse\n",
             "p.yaml:1:10: error: extends 'bse': no built-in profile or file named 'bse'; did you mean 'base'? (built-in profiles: base, p)"),
            ("- memory: 1Gi\n",
             "p.yaml:1:1: error: the profile must be a mapping (key: value lines), found a list"),
            ("",
             "p.yaml:1:1: error: the profile is empty; expected a mapping with keys such as name, limits, timeout"),
            ("network: allow:127.0.0.1:5432,db\n",
             "p.yaml:1:10: error: 'network': allow-list entry 'db' does not parse; expected HOST:PORT such as 127.0.0.1:5432, localhost:6379 or [::1]:8080"),
            ("network:\n  allow:\n    - localhost:6379\n    - \"[::1]\"\n",
             "p.yaml:4:7: error: 'network.allow': allow-list entry '[::1]' does not parse; expected HOST:PORT such as 127.0.0.1:5432, localhost:6379 or [::1]:8080"),
            ("network: bridged\n",
             "p.yaml:1:10: error: 'network': 'bridged' is not a network profile; expected host, none or allow:HOST:PORT,HOST:PORT"),
            ("capabilities: all\n",
             "p.yaml:1:15: error: 'capabilities' must be 'default' or a list such as [CAP_NET_ADMIN, CAP_SYS_PTRACE]"),
            ("limits:\n  cpuset: 3-1\n",
             "p.yaml:2:11: error: 'limits.cpuset': '3-1' is not a CPU list; expected a CPU list such as 0-3 or 0,2,4-5"),
        ]
        XCTAssertGreaterThanOrEqual(cases.count, 15)
        for (text, expected) in cases {
            XCTAssertEqual(try error(loading: text), expected, "for profile:\n\(text)")
        }
    }

    func testExtendsCycleIsReportedAtTheExtendsThatClosesIt() throws {
        _ = try write("a.yaml", "extends: b.yaml\n")
        _ = try write("b.yaml", "name: b\nextends: ./a.yaml\n")
        XCTAssertEqual(try error(loading: "extends: b.yaml\n", name: "a.yaml"),
                       "b.yaml:2:10: error: extends cycle: a -> b -> a; a profile cannot extend itself")
    }

    func testSelfExtendIsACycle() throws {
        XCTAssertEqual(try error(loading: "extends: self.yaml\n", name: "self.yaml"),
                       "self.yaml:1:10: error: extends cycle: self -> self; a profile cannot extend itself")
    }

    func testMissingFileNamesIt() {
        XCTAssertThrowsError(try loader.resolve(directory + "/missing.yaml")) { error in
            XCTAssertTrue("\(error)".contains("no built-in profile or file named"), "\(error)")
        }
    }
}

final class ProfileResolutionTests: XCTestCase {
    func testExtendsChainMergesFieldByFieldAndResolvesBuiltinsByName() throws {
        let directory = NSTemporaryDirectory() + "confine-chain-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/team", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "name: base\ndescription: the base\nlimits:\n  memory: 512Mi\n  cpus: 500m\n  pids: 100\ntimeout: 10m\n"
            .write(toFile: directory + "/base.yaml", atomically: true, encoding: .utf8)
        try "extends: base\nlimits:\n  memory: 1Gi\nsampling:\n  interval: 50ms\n"
            .write(toFile: directory + "/team/child.yaml", atomically: true, encoding: .utf8)
        try "name: grandchild\nextends: child.yaml\nlimits:\n  cpus: 2\n  swap: 256Mi\n"
            .write(toFile: directory + "/team/grandchild.yaml", atomically: true, encoding: .utf8)
        let loader = ProfileLoader(builtinDirectories: [directory])
        let resolved = try loader.resolve(directory + "/team/grandchild.yaml")
        XCTAssertEqual(resolved.name, "grandchild")
        XCTAssertEqual(resolved.description, "the base")
        XCTAssertEqual(resolved.chain, ["base", "child", "grandchild"])
        XCTAssertEqual(resolved.memoryBytes, 1 << 30)
        XCTAssertEqual(resolved.swapBytes, 256 << 20)
        XCTAssertEqual(resolved.cpus, 2)
        XCTAssertEqual(resolved.pids, 100)
        XCTAssertEqual(resolved.timeoutSeconds, 600)
        XCTAssertEqual(resolved.samplingIntervalSeconds, 0.05)
    }

    func testSeccompCapabilitiesAndNetworkKeys() throws {
        let directory = NSTemporaryDirectory() + "confine-net-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "seccomp: ./prod.json\ncapabilities: [sys_ptrace, CAP_NET_ADMIN]\nnetwork:\n  allow: [\"localhost:6379\", \"[::1]:5432\"]\n"
            .write(toFile: directory + "/p.yaml", atomically: true, encoding: .utf8)
        let resolved = try ProfileLoader(builtinDirectories: []).resolve(directory + "/p.yaml")
        XCTAssertEqual(resolved.seccomp, directory + "/./prod.json", "relative to the profile that names it")
        XCTAssertEqual(resolved.capabilities, ["CAP_SYS_PTRACE", "CAP_NET_ADMIN"])
        XCTAssertEqual(resolved.networkProfile, .allow([NetworkEndpoint(host: "localhost", port: 6379), NetworkEndpoint(host: "::1", port: 5432)]))
        XCTAssertEqual(resolved.network, "allow:localhost:6379,[::1]:5432")
        XCTAssertEqual(try NetworkProfile.parse("none"), .none)
        // An empty allow-list allows nothing; it does not fall back to host.
        XCTAssertEqual(try NetworkProfile.parse("allow:"), .allow([]))
        var empty = ProfileSpec()
        empty.network = .allow([])
        XCTAssertEqual(ResolvedProfile(spec: empty, chain: ["x"]).networkProfile, .allow([]))
        XCTAssertNil(ResolvedProfile(spec: { var spec = ProfileSpec(); spec.seccomp = "unconfined"; return spec }(), chain: ["x"]).seccomp)
    }

    func testDefaultsAreFilledIn() {
        var spec = ProfileSpec()
        spec.limits.memory = 64 << 20
        let resolved = ResolvedProfile(spec: spec, chain: ["cli"])
        XCTAssertEqual(resolved.swapBytes, 0, "a memory limit without swap means no swap, as on Kubernetes")
        XCTAssertEqual(resolved.samplingIntervalSeconds, 0.010)
        XCTAssertNil(resolved.cpus)
        XCTAssertNil(ResolvedProfile(spec: ProfileSpec(), chain: ["cli"]).swapBytes)
    }

    func testBuiltinProfilesOfTheRepositoryAllResolve() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let loader = ProfileLoader(builtinDirectories: [url.appendingPathComponent("profiles").path])
        let names = loader.builtinNames()
        XCTAssertTrue(names.contains("k8s-512mi"))
        XCTAssertTrue(names.contains("container-default"))
        for name in names { XCTAssertNoThrow(try loader.resolve(name), name) }
        let k8s = try loader.resolve("k8s-512mi")
        XCTAssertEqual(k8s.memoryBytes, 512 << 20)
        XCTAssertEqual(k8s.cpus, 0.5)
        XCTAssertEqual(k8s.chain, ["container-default", "k8s-512mi"])
        XCTAssertTrue(k8s.yaml().contains("memory: 512Mi    # 536870912 bytes"))
        let restricted = try loader.resolve("k8s-restricted-512mi")
        XCTAssertEqual(restricted.capabilities, ["CAP_NET_BIND_SERVICE"])
        XCTAssertEqual(restricted.seccomp, "container-default")
        XCTAssertEqual(restricted.chain, ["container-default", "k8s-restricted", "k8s-restricted-512mi"])
        let lambda = try loader.resolve("lambda-128mb")
        XCTAssertEqual(lambda.memoryBytes, 128 << 20)
        XCTAssertEqual(lambda.cpus, 0.072)
        XCTAssertEqual(lambda.pids, 1024)
        XCTAssertEqual(lambda.timeoutSeconds, 900)
        for name in ["cloud-run-512mi", "lambda-512mb", "lambda-1024mb", "lambda-3008mb", "k8s-restricted-256mi", "k8s-restricted-1gi"] {
            XCTAssertTrue(names.contains(name), name)
        }
    }
}
