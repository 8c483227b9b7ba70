import ConfineCore
import Foundation
import XCTest

/// Network profiles on the real kernel. Only loopback and namespaces the tests create are used.
final class NetworkScenarioTests: XCTestCase {
    var servers: [Int32] = []

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root to create cgroups and network namespaces")
    }

    override func tearDown() {
        for fd in servers { close(fd) }
        servers = []
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
    }

    /// A TCP server listening on 127.0.0.1 in this (the host's) namespace; returns its port.
    func listen() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0, Glibc.listen(fd, 8) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        XCTAssertEqual(bound, 0)
        servers.append(fd)
        return UInt16(bigEndian: address.sin_port)
    }

    var client: String { Harness.packageRoot.appendingPathComponent("Tests/Helpers/netclient.py").path }

    func testNoneGivesAnOwnNamespaceWithOnlyLoopback() throws {
        let port = try listen()
        let script = "cat /proc/net/dev; readlink /proc/self/ns/net; python3 \(client) \(port)"
        let (result, report) = Harness.confineRun(["--network", "none"], ["/bin/sh", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.network?.mode, NetworkMode.none)
        let interfaces = result.stdout.split(separator: "\n").dropFirst(2).prefix { $0.contains(":") && !$0.hasPrefix("net:") }
            .map { String($0.split(separator: ":")[0]).trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(interfaces, ["lo"], result.stdout)
        XCTAssertTrue(result.stdout.contains("tcp 127.0.0.1:\(port) ECONNREFUSED"), "the host's server is unreachable: \(result.stdout)")
        // The namespace dies with the run: no process still holds it.
        let namespace = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("net:[") })
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        XCTAssertNotEqual(String(namespace), host)
        let holders = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).filter { entry in
            Int(entry) != nil && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/ns/net")) == String(namespace)
        }
        XCTAssertEqual(holders, [], "the run's network namespace outlived it")
    }

    func testAllowListLetsOnlyListedEndpointsThroughAndRecordsEveryAttempt() throws {
        let allowed = try listen(), other = try listen()
        let (result, report) = Harness.confineRun(["--network", "allow:127.0.0.1:\(allowed)"],
                                                  ["python3", client, "\(allowed)", "\(other)", "--dns"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("tcp 127.0.0.1:\(allowed) ok"), result.stdout)
        XCTAssertTrue(result.stdout.contains("tcp 127.0.0.1:\(other) ECONNREFUSED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("udp 127.0.0.1:53 EPERM"), result.stdout)
        let network = try XCTUnwrap(run.network)
        XCTAssertEqual(network.mode, .allow)
        XCTAssertEqual(network.resolved, ["127.0.0.1:\(allowed)"])
        let attempts = network.attempts.map { "\($0.protocol) \($0.address):\($0.port) \($0.verdict.rawValue) \($0.syscall)" }
        XCTAssertEqual(attempts, ["tcp 127.0.0.1:\(allowed) allowed connect", "tcp 127.0.0.1:\(other) refused connect",
                                  "udp 127.0.0.1:53 refused sendto"])
        XCTAssertTrue(network.attempts.allSatisfy { $0.pid == run.mainProcess?.pid && $0.command.contains("netclient.py") })
        XCTAssertNil(run.seccomp, "no seccomp profile was asked for")
        XCTAssertTrue(result.stderr.contains("tcp 127.0.0.1:\(other) refused"), result.stderr)
    }

    /// `network: {allow: []}` allows nothing (it once fell back to host silently).
    func testAnEmptyAllowListRefusesEveryAttempt() throws {
        let port = try listen()
        let profile = NSTemporaryDirectory() + "confine-allow-nothing-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try "name: allow-nothing\nnetwork: {allow: []}\n".write(toFile: profile, atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--profile", profile], ["python3", client, "\(port)"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("tcp 127.0.0.1:\(port) ECONNREFUSED"), result.stdout)
        XCTAssertEqual(run.network?.mode, .allow)
        XCTAssertEqual(run.network?.attempts.map { "\($0.address):\($0.port) \($0.verdict.rawValue)" }, ["127.0.0.1:\(port) refused"])
        XCTAssertEqual(run.profile.network, "allow:")
    }

    func testAllowListWorksTogetherWithTheSeccompProfile() throws {
        let allowed = try listen()
        let (result, report) = Harness.confineRun(["--network", "allow:localhost:\(allowed)", "--seccomp", "container-default"],
                                                  ["/bin/sh", "-c", "python3 \(client) \(allowed); unshare -n true 2>/dev/null; exit 0"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("tcp 127.0.0.1:\(allowed) ok"), "localhost resolved before the run: \(result.stdout)")
        XCTAssertEqual(run.network?.attempts.first?.verdict, .allowed)
        XCTAssertEqual(run.seccomp?.violations.map(\.syscall), ["unshare"])
    }

    func testSendmsgAndIPv6DestinationsAreCheckedToo() throws {
        let udpPort = try listen() // any port number will do for a datagram; reuse a free one
        let (result, report) = Harness.confineRun(["--network", "allow:127.0.0.1:\(udpPort)"],
                                                  ["python3", client, "--sendmsg=\(udpPort)", "--sendmsg=9", "--ipv6=\(udpPort)"])
        let run = try XCTUnwrap(report)
        XCTAssertTrue(result.stdout.contains("udp-sendmsg 127.0.0.1:\(udpPort) ok"), result.stdout)
        XCTAssertTrue(result.stdout.contains("udp-sendmsg 127.0.0.1:9 EPERM"), result.stdout)
        XCTAssertTrue(result.stdout.contains("tcp6 [::1]:\(udpPort) ECONNREFUSED"), result.stdout)
        let attempts = run.network?.attempts.map { "\($0.protocol) \($0.address):\($0.port) \($0.verdict.rawValue) \($0.syscall)" } ?? []
        XCTAssertEqual(attempts, ["udp 127.0.0.1:\(udpPort) allowed sendmsg", "udp 127.0.0.1:9 refused sendmsg",
                                  "tcp ::1:\(udpPort) refused connect"])
    }

    func testBadAllowListEntryExits64NamingIt() {
        let result = Harness.run([Harness.confine, "run", "--network", "allow:127.0.0.1:5432,db-without-port", "--", "/bin/true"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("allow-list entry 'db-without-port' does not parse"), result.stderr)
    }
}
