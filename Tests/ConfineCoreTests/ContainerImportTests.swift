@testable import ConfineCore
import Foundation
import XCTest
import Yams

/// Issue 20: each file read as its runtime reads it (Docker's binary sizes, memswap semantics,
/// soft and hard ulimits, the container's identity, filesystem and environment), and every field
/// of a manifest carried over or listed with its reason.
final class ContainerImportTests: XCTestCase {
    func fixture(_ name: String) -> String { ImportTests.fixtures.appendingPathComponent(name).path }

    func load(_ name: String, select: String? = nil) throws -> ImportedProfile {
        try ProfileImporter.importProfile(path: fixture(name), text: try String(contentsOfFile: fixture(name), encoding: .utf8), select: select)
    }

    func value(_ profile: ImportedProfile, _ key: String) -> String? { profile.values.first { $0.key == key }?.value }

    func resolve(_ profile: ImportedProfile) throws -> ResolvedProfile { try ImportTests.resolve(profile) }

    /// Everything the import said: values' keys and sources, and what it left out.
    func said(_ profile: ImportedProfile) -> String {
        (profile.values.map { "\($0.key) \($0.value) \($0.source)" } + profile.warnings).joined(separator: "\n")
    }

    // MARK: quantities

    /// The bytes each runtime uses for the same spelling.
    func testQuantitiesTableAsEachRuntimeReadsThem() throws {
        let table: [(text: String, kubernetes: UInt64?, docker: UInt64?)] = [
            ("1G", 1_000_000_000, 1 << 30), ("1Gi", 1 << 30, 1 << 30), ("512M", 512_000_000, 512 << 20), ("512m", nil, 512 << 20),
            ("1gb", nil, 1 << 30), ("1.5g", nil, 1_610_612_736), ("5120k", 5_120_000, 5120 << 10), ("1048576", 1_048_576, 1_048_576),
            ("129e6", 129_000_000, nil), ("2899102924800m", 2_899_102_925, 2_899_102_924_800 << 20), ("100 MB", nil, 100 << 20), ("1t", nil, 1 << 40),
        ]
        for row in table {
            let kubernetes = try? KubernetesQuantity.parse(row.text).memoryBytes()
            XCTAssertEqual(kubernetes, row.kubernetes, "Kubernetes \(row.text)")
            XCTAssertEqual(try? DockerByteSize.parse(row.text), row.docker, "Docker \(row.text)")
        }
        XCTAssertThrowsError(try DockerByteSize.parse("1Gx")) { XCTAssertTrue(($0 as? UnitError)?.message.contains("Docker's units are binary") == true, "\($0)") }
        XCTAssertThrowsError(try DockerByteSize.parse("-1g"))
        XCTAssertThrowsError(try DockerByteSize.parse("1.2.3m"))
    }

    func compose(_ body: String) throws -> ImportedProfile {
        try ProfileImporter.compose(path: "compose.yml", text: "services:\n  app:\n" + body, service: nil)
    }

    /// memswap_limit as Docker documents it; conflicting limits reported, not silently resolved.
    func testComposeMemswapAndConflicts() throws {
        XCTAssertEqual(value(try compose("    mem_limit: 1g\n"), "limits.swap"), "1Gi", "unset: as much swap again")
        XCTAssertEqual(value(try compose("    mem_limit: 1g\n    memswap_limit: 0\n"), "limits.swap"), "1Gi", "0 is ignored, as unset")
        XCTAssertEqual(value(try compose("    mem_limit: 1g\n    memswap_limit: -1\n"), "limits.swap"), "max")
        XCTAssertEqual(value(try compose("    mem_limit: 1g\n    memswap_limit: 1g\n"), "limits.swap"), "0", "equal: no swap")
        XCTAssertEqual(value(try compose("    mem_limit: 512m\n    memswap_limit: 1g\n"), "limits.swap"), "512Mi")
        XCTAssertThrowsError(try compose("    mem_limit: 1g\n    memswap_limit: 512m\n")) {
            XCTAssertTrue("\($0)".contains("is below the memory limit (1073741824 bytes): Docker refuses it"), "\($0)")
        }
        XCTAssertThrowsError(try compose("    memswap_limit: 1g\n")) { XCTAssertTrue("\($0)".contains("without a memory limit: Docker refuses it"), "\($0)") }
        let conflict = try compose("    mem_limit: 1g\n    deploy: {resources: {limits: {memory: 512m}}}\n")
        XCTAssertEqual(value(conflict, "limits.memory"), "512Mi")
        XCTAssertTrue(conflict.warnings.contains("services.app.mem_limit 1g conflicts with services.app.deploy.resources.limits.memory 512m: "
                                                 + "Compose applies the deploy value, and so does this profile"), "\(conflict.warnings)")
        XCTAssertThrowsError(try compose("    cpus: 0.5\n    cpu_quota: 50000\n")) { XCTAssertTrue("\($0)".contains("Docker refuses both"), "\($0)") }
        XCTAssertThrowsError(try compose("    ulimits: {nofile: {soft: 9000, hard: 1024}}\n")) {
            XCTAssertTrue("\($0)".contains("the soft limit 9000 is above the hard limit 1024"), "\($0)")
        }
    }

    /// OCI: memory.swap counts memory and swap; below the limit runc refuses to start.
    func testOCISwapBelowTheLimitIsAnError() throws {
        func oci(_ memory: String) throws -> ImportedProfile {
            try ProfileImporter.oci(path: "config.json", text: #"{"linux": {"resources": {"memory": \#(memory)}}}"#)
        }
        XCTAssertThrowsError(try oci(#"{"limit": 1073741824, "swap": 536870912}"#)) {
            XCTAssertTrue("\($0)".contains("linux.resources.memory.swap 536870912 is below linux.resources.memory.limit 1073741824: runc refuses it"), "\($0)")
        }
        XCTAssertEqual(value(try oci(#"{"limit": 1073741824, "swap": 2147483648}"#), "limits.swap"), "1073741824")
        XCTAssertEqual(value(try oci(#"{"limit": 1073741824, "swap": -1}"#), "limits.swap"), "max")
        XCTAssertEqual(value(try oci(#"{"limit": 1073741824}"#), "limits.swap"), "max", "unset: runc leaves swap unlimited")
        XCTAssertThrowsError(try ProfileImporter.oci(path: "config.json", text: #"{"linux": {}, "process": {"rlimits": [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]}}"#)) {
            XCTAssertTrue("\($0)".contains("process.rlimits[0].type: 'RLIMIT_BOGUS'"), "\($0)")
        }
    }

    // MARK: the container around the process

    /// A pod with every field: the container's securityContext over the pod's, env literal and
    /// referenced, emptyDir on disk and in memory, /dev/shm, a read-only root; and each field of
    /// the pod, its security context, the container and its security context accounted for.
    func testKubernetesPodWithEveryFieldIsAccountedFor() throws {
        XCTAssertThrowsError(try load("pod-every-field.yaml")) { XCTAssertTrue("\($0)".contains("2 containers; pick one"), "\($0)") }
        let app = try load("pod-every-field.yaml", select: "app")
        XCTAssertEqual(value(app, "user.uid"), "10001", "the container's runAsUser wins over the pod's 1000")
        XCTAssertEqual(value(app, "user.gid"), "3000", "the pod's runAsGroup where the container has none")
        XCTAssertEqual(value(app, "user.run_as_non_root"), "true")
        XCTAssertEqual(value(app, "user.supplemental_groups"), "[4000, 2000]", "supplementalGroups and fsGroup")
        XCTAssertEqual(value(app, "filesystem.read_only_root"), "true")
        XCTAssertEqual(value(app, "filesystem.shm_size"), "256Mi")
        XCTAssertEqual(value(app, "filesystem.volumes"),
                       "[{path: /cache, medium: disk}, {path: /scratch, medium: memory, size_limit: 64Mi}, {path: /data, medium: disk}]")
        XCTAssertEqual(value(app, "env.MODE"), "\"production\"")
        XCTAssertEqual(value(app, "working_dir"), "\"/app\"")
        XCTAssertEqual(value(app, "hostname"), "checkout")
        XCTAssertTrue(app.warnings.contains("spec.containers[0].env[2] DB_PASSWORD: valueFrom secretKeyRef cannot be resolved from the manifest; set it with --env DB_PASSWORD=…"), "\(app.warnings)")
        XCTAssertTrue(app.warnings.contains { $0.hasPrefix("spec.containers[0].env[3] POD_IP: valueFrom fieldRef") })
        XCTAssertTrue(app.warnings.contains("spec.securityContext.runAsUser: overridden by spec.containers[0].securityContext.runAsUser (the container's wins)"))
        XCTAssertTrue(app.warnings.contains { $0.hasPrefix("spec.containers[1] (sidecar): another container of the pod") })

        // Every field of the fixture is said: carried (a value's key or source names it) or listed.
        let text = said(app)
        let document = try XCTUnwrap(try Yams.load(yaml: try String(contentsOfFile: fixture("pod-every-field.yaml"), encoding: .utf8)) as? [String: Any])
        let spec = try XCTUnwrap(document["spec"] as? [String: Any])
        let container = try XCTUnwrap((spec["containers"] as? [[String: Any]])?.first)
        var paths = spec.keys.map { "spec.\($0)" }
        paths += (spec["securityContext"] as? [String: Any] ?? [:]).keys.map { "spec.securityContext.\($0)" }
        paths += container.keys.filter { $0 != "name" }.map { "spec.containers[0].\($0)" }
        paths += (container["securityContext"] as? [String: Any] ?? [:]).keys.map { "spec.containers[0].securityContext.\($0)" }
        paths += (container["resources"] as? [String: Any] ?? [:]).keys.map { "spec.containers[0].resources.\($0)" }
        for path in paths.sorted() {
            XCTAssertTrue(text.contains(path), "\(path) is neither carried nor listed:\n\(text)")
        }
        XCTAssertEqual(app.name, "app")

        // The YAML written is a profile that resolves to all of it.
        let resolved = try resolve(app)
        XCTAssertEqual(resolved.user, UserSpec(uid: 10001, gid: 3000, supplementalGroups: [4000, 2000], runAsNonRoot: true))
        XCTAssertEqual(resolved.readOnlyRoot, true)
        XCTAssertEqual(resolved.shmBytes, 256 << 20)
        XCTAssertEqual(resolved.volumes, [Volume(path: "/cache", medium: .disk), Volume(path: "/scratch", medium: .memory, sizeBytes: 64 << 20),
                                          Volume(path: "/data", medium: .disk)])
        XCTAssertEqual(resolved.env, ["MODE": "production", "WORKERS": "4"])
        XCTAssertEqual(resolved.workingDirectory, "/app")
        XCTAssertEqual(resolved.hostname, "checkout")
    }

    /// A Compose service with the compose-spec fields: every key accounted for, sizes in
    /// Docker's units, env_file under environment, tmpfs and volumes, the user.
    func testComposeServiceWithEveryFieldIsAccountedFor() throws {
        let api = try load("compose-every-field.yml")
        XCTAssertEqual(value(api, "limits.memory"), "768Mi", "deploy's limit wins over mem_limit, said in a warning")
        XCTAssertEqual(value(api, "limits.nofile"), "1024:8192")
        XCTAssertEqual(value(api, "limits.ulimits.nproc"), "512")
        XCTAssertEqual(value(api, "limits.ulimits.memlock"), "unlimited")
        XCTAssertEqual(value(api, "limits.ulimits.stack"), "8388608")
        XCTAssertEqual(value(api, "user.uid"), "10001")
        XCTAssertEqual(value(api, "user.gid"), "10001")
        XCTAssertEqual(value(api, "user.supplemental_groups"), "[2000]")
        XCTAssertEqual(value(api, "filesystem.read_only_root"), "true")
        XCTAssertEqual(value(api, "filesystem.shm_size"), "1Gi", "1gb is a GiB in Docker's units")
        XCTAssertEqual(value(api, "filesystem.volumes"),
                       "[{path: /run, medium: memory, size_limit: 16Mi}, {path: /tmp, medium: memory}, {path: /cache, medium: disk}, {path: /scratch, medium: memory, size_limit: 32Mi}]")
        XCTAssertEqual(value(api, "env.LOG_LEVEL"), "\"debug\"")
        XCTAssertEqual(value(api, "env.QUOTED"), "\"two words\"", "env_file values lose their quotes, as in dotenv")
        XCTAssertEqual(value(api, "env.MODE"), "\"production\"", "environment over env_file")
        XCTAssertEqual(value(api, "env.EMPTY"), "\"\"")
        XCTAssertTrue(api.warnings.contains { $0.contains("FROM_SHELL: no value") }, "\(api.warnings)")
        XCTAssertEqual(value(api, "hostname"), "api-1")
        let text = said(api)
        let document = try XCTUnwrap(try Yams.load(yaml: try String(contentsOfFile: fixture("compose-every-field.yml"), encoding: .utf8)) as? [String: Any])
        let service = try XCTUnwrap((document["services"] as? [String: Any])?["api"] as? [String: Any])
        var paths = service.keys.map { "services.api.\($0)" }
        paths += (service["deploy"] as? [String: Any] ?? [:]).keys.map { "services.api.deploy.\($0)" }
        for path in paths.sorted() {
            XCTAssertTrue(text.contains(path), "\(path) is neither carried nor listed:\n\(text)")
        }
        let resolved = try resolve(api)
        XCTAssertEqual(resolved.ulimits?["nofile"], Ulimit(soft: 1024, hard: 8192))
        XCTAssertEqual(resolved.ulimits?["memlock"], Ulimit(soft: nil, hard: nil))
        XCTAssertEqual(resolved.env?["QUOTED"], "two words")
        XCTAssertEqual(resolved.memoryBytes, 768 << 20)
    }

    /// Compose interpolates the file's values: the shell's variables over the .env beside it.
    func testComposeInterpolation() throws {
        let directory = NSTemporaryDirectory() + "confine-compose-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "MEM=2g\nCPUS=0.5\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        let text = "services:\n  app:\n    mem_limit: ${MEM:-1g}\n    cpus: ${CPUS}\n    hostname: ${HOST:-web}\n    environment: {PRICE: $$5}\n"
        let profile = try ProfileImporter.compose(path: directory + "/compose.yml", text: text, service: nil, environment: ["CPUS": "1.5"])
        XCTAssertEqual(value(profile, "limits.memory"), "2Gi", "from .env")
        XCTAssertEqual(value(profile, "limits.cpus"), "1500m", "the shell's wins over .env")
        XCTAssertEqual(value(profile, "hostname"), "web", "the default")
        XCTAssertEqual(value(profile, "env.PRICE"), "\"$5\"")
        XCTAssertThrowsError(try ProfileImporter.compose(path: "c.yml", text: "services:\n  app:\n    mem_limit: ${MEM:?set MEM}\n", service: nil, environment: [:])) {
            XCTAssertEqual("\($0)", "c.yml: required variable MEM is unset: set MEM")
        }
    }

    /// Values the runtimes refuse are refused; a bad id never becomes "unchanged" (root).
    func testValuesTheRuntimesRefuse() throws {
        XCTAssertThrowsError(try compose("    mem_limit: 1kb\n")) { XCTAssertTrue("\($0)".contains("Minimum memory limit allowed is 6MB"), "\($0)") }
        XCTAssertThrowsError(try compose("    ulimits: {bogus: 1}\n")) { XCTAssertTrue("\($0)".contains("invalid ulimit type"), "\($0)") }
        XCTAssertThrowsError(try ProfileImporter.oci(path: "config.json", text: #"{"linux": {"resources": {"memory": {"limit": "512Mi"}}}}"#)) {
            XCTAssertTrue("\($0)".contains("linux.resources.memory.limit: expected a number"), "\($0)")
        }
        XCTAssertThrowsError(try ProfileImporter.oci(path: "config.json", text: #"{"linux": {}, "process": {"cwd": "app"}}"#)) {
            XCTAssertTrue("\($0)".contains("process.cwd: 'app' is not an absolute path"), "\($0)")
        }
        XCTAssertThrowsError(try ProfileImporter.oci(path: "config.json", text: #"{"linux": {"resources": {"cpu": {"quota": 500}}}}"#)) {
            XCTAssertTrue("\($0)".contains("below the kernel's minimum of 1000 µs"), "\($0)")
        }
        XCTAssertThrowsError(try ProfileImporter.oci(path: "config.json", text: #"{"linux": {}, "process": {"user": {"uid": -5}}}"#)) {
            XCTAssertTrue("\($0)".contains("process.user.uid: expected a numeric id from 0 to 2147483647"), "\($0)")
        }
        let pod = "kind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsUser: 4294967295}\n  containers:\n  - name: app\n"
        XCTAssertThrowsError(try ProfileImporter.kubernetes(path: "pod.yaml", text: pod, container: nil)) {
            XCTAssertTrue("\($0)".contains("expected a numeric id from 0 to 2147483647 (Kubernetes' range), found 4294967295"), "\($0)")
        }
        let lowercase = "kind: Pod\nmetadata: {name: p}\nspec:\n  volumes: [{name: v, emptyDir: {medium: memory}}]\n  containers:\n  - name: app\n    volumeMounts: [{name: v, mountPath: /v}]\n"
        XCTAssertThrowsError(try ProfileImporter.kubernetes(path: "pod.yaml", text: lowercase, container: nil)) {
            XCTAssertTrue("\($0)".contains("'memory' is not a medium Kubernetes accepts"), "\($0)")
        }
        // A Memory emptyDir at /dev/shm without sizeLimit is sized to the memory limit, as Kubernetes sizes it.
        let shm = "kind: Pod\nmetadata: {name: p}\nspec:\n  volumes: [{name: s, emptyDir: {medium: Memory}}]\n  containers:\n  - name: app\n"
            + "    resources: {limits: {memory: 256Mi}}\n    volumeMounts: [{name: s, mountPath: /dev/shm}]\n"
        XCTAssertEqual(value(try ProfileImporter.kubernetes(path: "pod.yaml", text: shm, container: nil), "filesystem.shm_size"), "256Mi")
        // hostNetwork: the node's hostname, not the pod's name.
        let host = "kind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers:\n  - name: app\n"
        XCTAssertNil(value(try ProfileImporter.kubernetes(path: "pod.yaml", text: host, container: nil), "hostname"))
    }

    // MARK: profiles

    func testProfileContainerSettingsAndUlimitsParse() throws {
        let spec = try ProfileSpec.parse(yaml: """
            limits:
              nofile: 1024:8192
              ulimits:
                nproc: {soft: 100, hard: 200}
                core: unlimited
            filesystem:
              read_only_root: true
              shm_size: 128Mi
              volumes:
                - {path: /cache, medium: memory, size_limit: 10Mi}
                - {path: /data}
            user: {uid: 10001, gid: 10001, supplemental_groups: [5], run_as_non_root: true}
            env: {A: "1", B: two words}
            working_dir: /srv
            hostname: web-1
            """, file: "p.yaml")
        let resolved = ResolvedProfile(spec: spec, chain: ["p"])
        XCTAssertEqual(resolved.ulimits, ["nofile": Ulimit(soft: 1024, hard: 8192), "nproc": Ulimit(soft: 100, hard: 200),
                                          "core": Ulimit(soft: nil, hard: nil)])
        XCTAssertEqual(resolved.nofile, 1024)
        XCTAssertEqual(resolved.volumes, [Volume(path: "/cache", medium: .memory, sizeBytes: 10 << 20), Volume(path: "/data", medium: .disk)])
        XCTAssertEqual(resolved.shmBytes, 128 << 20)
        XCTAssertEqual(resolved.user, UserSpec(uid: 10001, gid: 10001, supplementalGroups: [5], runAsNonRoot: true))
        XCTAssertEqual(resolved.env, ["A": "1", "B": "two words"])
        XCTAssertEqual(resolved.workingDirectory, "/srv")
        XCTAssertEqual(resolved.hostname, "web-1")
        // `profile show` says all of it.
        let shown = resolved.yaml()
        for line in ["  nofile: 1024:8192", "    nproc: \"100:200\"", "  read_only_root: true", "  shm_size: 128Mi",
                     "    - {path: /cache, medium: memory, size_limit: 10Mi}", "  uid: 10001", "  B: \"two words\"", "hostname: web-1"] {
            XCTAssertTrue(shown.contains(line), "\(line) in\n\(shown)")
        }
        // Container profiles get Docker's 64 MiB /dev/shm; a plain profile keeps the host's.
        var container = ProfileSpec()
        container.capabilities = ResolvedProfile.defaultCapabilities
        XCTAssertEqual(ResolvedProfile(spec: container, chain: ["c"]).shmBytes, 64 << 20)
        XCTAssertNil(ResolvedProfile(spec: ProfileSpec(), chain: ["c"]).shmBytes)
    }

    func testBadContainerSettingsNameTheirPlace() {
        func error(_ yaml: String) -> String {
            do { _ = try ProfileSpec.parse(yaml: yaml, file: "p.yaml"); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(error("limits:\n  nofile: 9000:1024\n"),
                       "p.yaml:2:11: error: 'limits.nofile': '9000:1024': the soft limit 9000 is above the hard limit 1024; setrlimit refuses it")
        XCTAssertTrue(error("limits:\n  ulimits:\n    nprocs: 5\n").hasPrefix("p.yaml:3:5: error: unknown key 'nprocs' in 'limits.ulimits'; did you mean 'nproc'?"))
        XCTAssertEqual(error("limits:\n  nofile: 5\n  ulimits: {nofile: 6}\n"), "p.yaml:3:13: error: 'limits.nofile' is also given; keep one")
        XCTAssertEqual(error("filesystem:\n  volumes:\n    - {path: cache}\n"),
                       "p.yaml:3:14: error: a volume's path must be an absolute path, not / and without '..', found 'cache'")
        XCTAssertEqual(error("filesystem:\n  volumes: [{path: /proc/x}]\n"),
                       "p.yaml:2:20: error: a volume's path is in /proc, which the kernel provides (a container's is its own, not a volume), found '/proc/x'")
        XCTAssertEqual(error("hostname: \"\"\n"), "p.yaml:1:11: error: 'hostname': '' is not a hostname: labels of letters, digits and '-' (not first or last), joined by '.', up to 64 characters")
        XCTAssertEqual(error("filesystem:\n  volumes:\n    - {path: /c, medium: ssd}\n"),
                       "p.yaml:3:26: error: a volume's medium must be memory (a tmpfs) or disk, found 'ssd'")
        XCTAssertEqual(error("user: {uid: -1}\n"), "p.yaml:1:13: error: 'user.uid' must be a numeric id from 0 to 2147483647, found '-1'")
        // 4294967295 is -1 to setresuid ("unchanged"): it would leave the target root.
        XCTAssertEqual(error("user: {uid: 4294967295}\n"), "p.yaml:1:13: error: 'user.uid' must be a numeric id from 0 to 2147483647, found '4294967295'")
        XCTAssertEqual(error("user: root\n"),
                       "p.yaml:1:7: error: 'user': 'root' is not a user; expected UID or UID:GID as numbers from 0 to 2147483647, such as 10001 or 10001:10001")
        XCTAssertEqual(error("working_dir: srv\n"), "p.yaml:1:14: error: 'working_dir' must be an absolute path, found 'srv'")
        XCTAssertEqual(error("filesystem: {read_only_root: maybe}\n"), "p.yaml:1:30: error: 'filesystem.read_only_root' must be true or false, found 'maybe'")
        XCTAssertEqual(error("env: {A: [1]}\n"), "p.yaml:1:10: error: env.A must be a single value, found a list")
    }

    func testEnvFilesAsDockerAndComposeReadThem() throws {
        let text = "# comment\n\nA=1\nB = spaced\nC=\"quoted\"\nINHERITED\nMISSING\nexport D=4\n"
        let docker = try EnvFile.parse(text.replacingAll("B = spaced\n", with: "").replacingAll("export D=4\n", with: ""),
                                       file: "e.env", inherited: ["INHERITED": "yes"])
        XCTAssertEqual(docker.map { "\($0.name)=\($0.value)" }, ["A=1", "C=\"quoted\"", "INHERITED=yes"])
        XCTAssertThrowsError(try EnvFile.parse(text, file: "e.env")) { XCTAssertEqual(($0 as? UnitError)?.message, "e.env:4:1: 'B = spaced' is not NAME=value (a variable name has no spaces)") }
        let compose = try EnvFile.parse("C=\"quoted\"\nexport D=4\nE='x'\n", file: "e.env", quotes: true)
        XCTAssertEqual(compose.map { "\($0.name)=\($0.value)" }, ["C=quoted", "D=4", "E=x"])
        // dotenv as Compose reads it: inline comments, NAME: value, escapes in double quotes, ${VAR}.
        let dotenv = try EnvFile.parse("BASE=/srv\nINLINE=value # comment\nKEY: v\nDIR=${BASE}/data\nQ=\"a\\nb #kept\"\nS='${BASE} #kept'\nH=${HOME:-/root}\n",
                                       file: "e.env", quotes: true, inherited: [:])
        XCTAssertEqual(dotenv.map { "\($0.name)=\($0.value)" }, ["BASE=/srv", "INLINE=value", "KEY=v", "DIR=/srv/data", "Q=a\nb #kept", "S=${BASE} #kept", "H=/root"])
        XCTAssertThrowsError(try EnvFile.parse("A=\"open\n", file: "e.env", quotes: true)) {
            XCTAssertEqual(($0 as? UnitError)?.message, "e.env:1:1: a \" without its closing \"")
        }
    }
}
