@testable import ConfineCore
import Foundation
import XCTest

/// `confine profile import` on manifests, compose files and OCI configs like production's
/// (Tests/Fixtures/import): the values, where they came from, and what was left out.
final class ImportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/import")

    func load(_ name: String, select: String? = nil) throws -> ImportedProfile {
        let path = Self.fixtures.appendingPathComponent(name).path
        return try ProfileImporter.importProfile(path: path, text: try String(contentsOfFile: path, encoding: .utf8), select: select)
    }

    func value(_ profile: ImportedProfile, _ key: String) -> String? { profile.values.first { $0.key == key }?.value }

    /// The imported YAML must itself be a valid profile, resolving to these limits.
    func resolve(_ profile: ImportedProfile) throws -> ResolvedProfile { try Self.resolve(profile) }

    static func resolve(_ profile: ImportedProfile) throws -> ResolvedProfile {
        let directory = NSTemporaryDirectory() + "confine-import-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "name: container-default\n".write(toFile: directory + "/container-default.yaml", atomically: true, encoding: .utf8)
        let path = directory + "/imported.yaml"
        try profile.yaml().write(toFile: path, atomically: true, encoding: .utf8)
        return try ProfileLoader(builtinDirectories: [directory]).resolve(path)
    }

    func testKubernetesDeploymentWithTwoContainers() throws {
        XCTAssertThrowsError(try load("deployment.yaml")) { error in
            XCTAssertTrue("\(error)".hasSuffix("2 containers; pick one with --container: Deployment/api: api, Deployment/api: log-shipper"), "\(error)")
        }
        XCTAssertThrowsError(try load("deployment.yaml", select: "nope")) { XCTAssertTrue("\($0)".contains("no container named 'nope'")) }
        let api = try load("deployment.yaml", select: "api")
        XCTAssertEqual(value(api, "limits.memory"), "1Gi")
        XCTAssertEqual(value(api, "limits.cpus"), "2")
        XCTAssertEqual(value(api, "limits.swap"), "0")
        XCTAssertEqual(value(api, "seccomp"), "container-default")
        XCTAssertEqual(value(api, "capabilities"), "[CAP_NET_BIND_SERVICE]")
        XCTAssertTrue(api.yaml().contains("memory: 1Gi    # spec.containers[0].resources.limits.memory: 1Gi (requests: 256Mi)"), api.yaml())
        XCTAssertTrue(api.warnings.contains { $0.contains("ephemeral-storage") })
        XCTAssertEqual(value(api, "filesystem.read_only_root"), "true", "readOnlyRootFilesystem is carried")
        let resolved = try resolve(api)
        XCTAssertEqual(resolved.memoryBytes, 1 << 30)
        XCTAssertEqual(resolved.cpus, 2)
        XCTAssertEqual(resolved.capabilities, ["CAP_NET_BIND_SERVICE"])
        // 1024Mi and a bare 0.5 CPU in the sidecar.
        let sidecar = try resolve(try load("deployment.yaml", select: "log-shipper"))
        XCTAssertEqual(sidecar.memoryBytes, 1 << 30)
        XCTAssertEqual(sidecar.cpus, 0.5)
    }

    /// Kubernetes' own quantity grammar: `m` is milli, `k` kilo, exponents, rounding up to whole
    /// bytes; values no pod could run with refused naming the likely intent; the minimum CPU quota.
    func testKubernetesQuantitiesAreReadAsKubernetesReadsThem() throws {
        func pod(memory: String? = nil, cpu: String? = nil) throws -> ImportedProfile {
            var limits: [String] = []
            if let memory { limits.append("memory: \"\(memory)\"") }
            if let cpu { limits.append("cpu: \"\(cpu)\"") }
            let text = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    resources:\n      limits: {\(limits.joined(separator: ", "))}\n"
            return try ProfileImporter.kubernetes(path: "pod.yaml", text: text, container: nil)
        }
        // Kubernetes writes 2.7 GiB back as millibytes: 2899102924.8 bytes, rounded up.
        let normalised = try pod(memory: "2899102924800m")
        XCTAssertEqual(try resolve(normalised).memoryBytes, 2_899_102_925)
        XCTAssertTrue(normalised.yaml().contains("2899102924800m = 2899102925 bytes, rounded up as Kubernetes rounds"), normalised.yaml())
        XCTAssertEqual(try resolve(try pod(memory: "129e6")).memoryBytes, 129_000_000)
        XCTAssertEqual(try resolve(try pod(memory: "1.5Gi")).memoryBytes, 1_610_612_736)
        XCTAssertEqual(try resolve(try pod(memory: "5120k")).memoryBytes, 5_120_000)
        XCTAssertThrowsError(try pod(memory: "512k")) { XCTAssertTrue("\($0)".hasSuffix("is 512000 bytes in Kubernetes' units; no container starts with under 1 MiB"), "\($0)") }
        XCTAssertThrowsError(try pod(memory: "64")) { XCTAssertTrue("\($0)".hasSuffix("did you mean 64Mi?"), "\($0)") }
        XCTAssertThrowsError(try pod(memory: "512m")) {
            XCTAssertEqual("\($0)", "pod.yaml: spec.containers[0].resources.limits.memory: '512m' is 1 byte in Kubernetes' units "
                           + "(m is milli: 512m is 0.512 bytes); no container starts with that — did you mean 512Mi?")
        }
        XCTAssertThrowsError(try pod(memory: "512K")) { XCTAssertTrue("\($0)".contains("Kubernetes' kilo is a lowercase k"), "\($0)") }
        XCTAssertThrowsError(try pod(memory: "lots")) { XCTAssertTrue("\($0)".contains("expected a Kubernetes quantity"), "\($0)") }
        // CPU: millicores rounded up; under the kernel's 1 ms per 100 ms the kubelet's minimum quota.
        XCTAssertEqual(try resolve(try pod(cpu: "250m")).cpus, 0.25)
        XCTAssertEqual(try resolve(try pod(cpu: "0.0005")).cpus, 0.01)
        let tiny = try pod(cpu: "1m")
        XCTAssertEqual(try resolve(tiny).cpus, 0.01)
        XCTAssertTrue(tiny.yaml().contains("raised to the kernel's minimum CFS quota"), tiny.yaml())
        XCTAssertEqual(try resolve(try pod(cpu: "2e0")).cpus, 2)
        let zero = try pod(cpu: "0")
        XCTAssertNil(value(zero, "limits.cpus"))
        XCTAssertTrue(zero.warnings.contains { $0.contains("no CPU quota for a zero limit") }, "\(zero.warnings)")
    }

    func testCronJobWithoutLimitsAndALocalhostSeccompProfile() throws {
        let report = try load("cronjob.yaml")
        XCTAssertNil(value(report, "limits.memory"))
        XCTAssertEqual(value(report, "seccomp"), "profiles/report.json")
        XCTAssertEqual(value(report, "network"), "host")
        XCTAssertTrue(report.warnings.contains { $0.contains("limits.memory is not set") && $0.contains("(requests: 1G)") }, "\(report.warnings)")
    }

    func testComposeServices() throws {
        XCTAssertThrowsError(try load("docker-compose.yml")) { XCTAssertTrue("\($0)".contains("3 services; pick one with --service: batch, web, worker")) }
        let worker = try load("docker-compose.yml", select: "worker")
        XCTAssertEqual(value(worker, "limits.memory"), "512Mi", "Docker's 512m is 512 MiB")
        XCTAssertEqual(value(worker, "limits.swap"), "256Mi", "memswap_limit 768m minus mem_limit 512m")
        XCTAssertEqual(value(worker, "limits.nofile"), "1024:4096", "soft and hard")
        XCTAssertEqual(value(worker, "filesystem.shm_size"), "256Mi")
        XCTAssertEqual(value(worker, "network"), "none")
        XCTAssertEqual(value(worker, "seccomp"), "./worker-seccomp.json")
        XCTAssertEqual(value(worker, "capabilities"), "[CAP_NET_BIND_SERVICE, CAP_SYS_PTRACE]")
        XCTAssertEqual(try resolve(worker).ulimits?["nofile"], Ulimit(soft: 1024, hard: 4096))
        XCTAssertEqual(try resolve(worker).shmBytes, 256 << 20)
        XCTAssertTrue(worker.warnings.contains { $0.hasPrefix("services.worker.image: the image is not run") }, "\(worker.warnings)")
        let batch = try load("docker-compose.yml", select: "batch")
        XCTAssertEqual(value(batch, "limits.memory"), "2Gi", "Docker's 2G is a GiB")
        XCTAssertEqual(value(batch, "limits.cpus"), "1.5")
        XCTAssertEqual(value(batch, "limits.pids"), "512")
        let resolved = try resolve(batch)
        XCTAssertEqual(resolved.memoryBytes, 2 << 30)
        XCTAssertEqual(resolved.cpus, 1.5)
    }

    func testOCIConfig() throws {
        let oci = try load("config.json")
        XCTAssertEqual(oci.name, "payments")
        XCTAssertEqual(value(oci, "limits.memory"), "536870912")
        XCTAssertEqual(value(oci, "limits.swap"), "0")
        XCTAssertEqual(value(oci, "limits.cpus"), "0.5")
        XCTAssertEqual(value(oci, "limits.cpuset"), "0-1")
        XCTAssertEqual(value(oci, "limits.nofile"), "1024:65536")
        XCTAssertEqual(value(oci, "limits.ulimits.core"), "0")
        XCTAssertEqual(value(oci, "capabilities"), "[CAP_CHOWN]")
        XCTAssertEqual(value(oci, "hostname"), "payments")
        XCTAssertEqual(value(oci, "network"), "none")
        XCTAssertEqual(value(oci, "seccomp"), "payments-seccomp.json")
        let seccomp = try JSONSerialization.jsonObject(with: try XCTUnwrap(oci.seccompJSON)) as? [String: Any]
        XCTAssertEqual(seccomp?["defaultAction"] as? String, "SCMP_ACT_ERRNO")
        XCTAssertEqual(Set(oci.warnings.map { String($0.prefix(20)) }), ["process.args: the co", "linux.resources.devi", "linux.namespaces[0] ", "linux.namespaces[2] "])
        XCTAssertTrue(oci.warnings.contains("linux.namespaces[0] pid: the run shares the host's pid namespace"), "\(oci.warnings)")
        XCTAssertEqual(try resolve(oci).ulimits, ["nofile": Ulimit(soft: 1024, hard: 65536), "core": Ulimit(soft: 0, hard: 0)])
    }

    func testNotAManifest() {
        XCTAssertThrowsError(try ProfileImporter.importProfile(path: "x.yaml", text: "kind: ConfigMap\nmetadata: {name: c}\n", select: nil)) {
            XCTAssertEqual("\($0)", "x.yaml: no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob with containers (found ConfigMap c)")
        }
        XCTAssertThrowsError(try ProfileImporter.importProfile(path: "config.json", text: "[1]", select: nil)) {
            XCTAssertTrue("\($0)".contains("not a JSON object"))
        }
        XCTAssertThrowsError(try ProfileImporter.importProfile(path: "p.yaml", text: "kind: Pod\nspec:\n  containers:\n    - name: a\n      resources: {limits: {memory: lots}}\n", select: nil)) {
            XCTAssertTrue("\($0)".contains("spec.containers[0].resources.limits.memory: 'lots'"), "\($0)")
        }
    }
}
