import ConfineCore
import Foundation
import XCTest

/// Issue 20 on the real kernel, as root: the container around the process — soft and hard
/// ulimits, a private /dev/shm of Docker's size, the uid and groups, a read-only root with its
/// volumes, hostname, environment and working directory — and nothing of it left on the host.
final class ContainerScenarioTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "mount and UTS namespaces, setuid and tmpfs mounts need root; CI runs as root")
    }

    override func tearDown() {
        XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind")
        XCTAssertEqual(directoryEntries("/var/tmp/confine-volumes"), [], "a disk volume was left behind")
    }

    func directoryEntries(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    func profile(_ yaml: String) throws -> String {
        let path = NSTemporaryDirectory() + "confine-container-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func lines(_ result: Harness.Result) -> [String] {
        result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `--nofile SOFT:HARD`, `--ulimit NAME=…`, and a profile's `limits.ulimits`: both limits set.
    func testSoftAndHardUlimitsReachTheTarget() throws {
        let (flags, report) = Harness.confineRun(["--nofile", "1024:8192", "--ulimit", "nproc=500:1000", "--ulimit", "core=0"],
                                                 ["/bin/bash", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu; ulimit -c"])
        XCTAssertEqual(lines(flags), ["1024", "8192", "500", "1000", "0"], flags.stderr)
        XCTAssertEqual(report?.profile.ulimits?["nofile"], Ulimit(soft: 1024, hard: 8192))
        // Values at or below confine's own hard limits: raising one needs CAP_SYS_RESOURCE, which
        // some CI machines' root lacks (then setrlimit's EPERM is the run's setup failure, named).
        let file = try profile("name: limits\nlimits:\n  nofile: {soft: 256, hard: 512}\n  ulimits:\n    stack: 16777216\n    memlock: 65536:1048576\n")
        let (fromProfile, _) = Harness.confineRun(["--profile", file], ["/bin/bash", "-c", "ulimit -Sn; ulimit -Hn; ulimit -s; ulimit -Sl; ulimit -Hl"])
        XCTAssertEqual(lines(fromProfile), ["256", "512", "16384", "64", "1024"], fromProfile.stderr)
        let bad = Harness.run([Harness.confine, "run", "--nofile", "9:8", "--", "/bin/true"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--nofile: '9:8': the soft limit 9 is above the hard limit 8"), bad.stderr)
    }

    /// Under container-default, /dev/shm is a private 64 MiB tmpfs: 100 MiB does not fit
    /// (ENOSPC), and nothing written reaches the host's /dev/shm; `--shm-size` sizes it.
    func testContainerProfilesGetAPrivate64MiBDevShm() throws {
        let name = "confine-e2e-\(UUID().uuidString)"
        let script = "df -k /dev/shm | tail -1; dd if=/dev/zero of=/dev/shm/\(name) bs=1M count=100 2>&1; ls -l /dev/shm/\(name) | cut -d' ' -f5"
        let (result, report) = Harness.confineRun(["--profile", "container-default"], ["/bin/sh", "-c", script])
        let out = lines(result)
        XCTAssertEqual(out.first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first, "65536", result.stdout)
        XCTAssertTrue(result.stdout.contains("No space left on device"), result.stdout)
        XCTAssertEqual(out.last, String(64 << 20), "the file stopped at the tmpfs's size")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/dev/shm/\(name)"), "written to the host's /dev/shm")
        XCTAssertEqual(report?.profile.shmBytes, 64 << 20)
        // Seen full (the last reading is taken through the descriptor that holds the mount), and said.
        XCTAssertEqual(report?.containment?.shm?.peakBytes, 64 << 20)
        XCTAssertNotNil(report?.containment?.shm?.filledAtSeconds)
        XCTAssertTrue(result.stderr.contains("pod      /dev/shm filled its 64.0 MiB at"), result.stderr)
        XCTAssertTrue(report?.containment?.measures.contains("tmpfs at /dev/shm (mode=1777,size=67108864)") == true, "\(String(describing: report?.containment))")
        let (sized, _) = Harness.confineRun(["--profile", "container-default", "--shm-size", "128Mi"], ["/bin/sh", "-c", "df -k /dev/shm | tail -1"])
        XCTAssertEqual(lines(sized).first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first, "131072", sized.stdout)
    }

    /// A pod's profile: runAsUser/runAsGroup 10001, a read-only root and an emptyDir at /cache.
    /// id prints 10001; a write to /etc fails with EROFS and is listed in the report; /cache is
    /// writable; /cache (made for the run) is gone afterwards.
    func testPodIdentityReadOnlyRootAndEmptyDir() throws {
        let cacheExisted = FileManager.default.fileExists(atPath: "/cache")
        let file = try profile("""
            name: pod
            extends: container-default
            user: {uid: 10001, gid: 10001, supplemental_groups: [2000]}
            filesystem:
              read_only_root: true
              volumes: [{path: /cache, medium: disk}]
            """)
        let script = "id -u; id -g; id -G; echo x > /etc/confine-e2e-write; echo etc=$?; echo cached > /cache/f && cat /cache/f; touch /tmp/x; echo tmp=$?; "
            + "echo y > /root/confine-e2e-denied; echo root=$?; mkdir /etc/confine-e2e-dir; echo mkdir=$?; mkdir -p /etc; echo exists=$?; "
            + "echo n > /dev/null && echo null=ok; test -c /dev/urandom && echo urandom=ok"
        let (result, report) = Harness.confineRun(["--profile", file], ["/bin/sh", "-c", script])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(lines(result), ["10001", "10001", "10001 2000", "etc=2", "cached", "tmp=1", "root=2", "mkdir=1", "exists=0", "null=ok", "urandom=ok"], result.stdout + result.stderr)
        XCTAssertTrue(result.stderr.contains("Read-only file system"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/confine-e2e-write"))
        let attempt = run.containment?.attempts.first { $0.target == "/etc/confine-e2e-write" }
        XCTAssertEqual(attempt?.errnoName, "EROFS", "\(String(describing: run.containment?.attempts))")
        XCTAssertTrue(attempt?.why.contains("root filesystem is read-only") == true)
        XCTAssertEqual(attempt?.cause, .readOnlyRoot)
        // /root is 0700: the path walk fails for uid 10001 before the read-only mount is met (EACCES).
        let denied = run.containment?.attempts.first { $0.target == "/root/confine-e2e-denied" }
        XCTAssertEqual(denied?.errnoName, "EACCES")
        XCTAssertEqual(denied?.cause, .user)
        // Names made or removed count too (os.makedirs meets the read-only root this way); an
        // existing name is EEXIST, not the root's fault, and is not listed.
        XCTAssertEqual(run.containment?.attempts.first { $0.syscall == "mkdir" }?.target, "/etc/confine-e2e-dir")
        XCTAssertEqual(run.containment?.attempts.filter { $0.syscall == "mkdir" }.count, 1)
        XCTAssertTrue(result.stderr.contains("pod      3 writes refused by the read-only root (EROFS), as in the pod"), result.stderr)
        XCTAssertTrue(result.stderr.contains("pod      1 write refused to the pod's user (EACCES)"), result.stderr)
        XCTAssertFalse(result.stderr.contains("to leave the run"), "the pod's own refusals are not escapes: \(result.stderr)")
        XCTAssertEqual(run.profile.user, UserSpec(uid: 10001, gid: 10001, supplementalGroups: [2000]))
        XCTAssertEqual(run.profile.readOnlyRoot, true)
        XCTAssertTrue(run.containment?.measures.contains("runs as uid 10001, gid 10001, groups 2000") == true)
        if !cacheExisted { XCTAssertFalse(FileManager.default.fileExists(atPath: "/cache"), "the mount point confine made is removed") }
        XCTAssertEqual(run.outcome, .passed, "the script itself ends well: the failed writes are the pod's, listed")
    }

    /// A container profile whose seccomp is unconfined (what an imported Kubernetes pod gets by
    /// default) still lists the read-only root's refusals: confine's own filter sees the calls.
    func testUnconfinedSeccompStillListsThePodsFaults() throws {
        let file = try profile("name: pod\nextends: container-default\nseccomp: unconfined\nfilesystem: {read_only_root: true}\n")
        let (result, report) = Harness.confineRun(["--profile", file], ["/bin/sh", "-c", "echo x > /etc/confine-e2e-unconfined; mkdir /etc/confine-e2e-dir2; true"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let causes = report?.containment?.attempts.filter { $0.cause == .readOnlyRoot }.map(\.target)
        XCTAssertEqual(causes, ["/etc/confine-e2e-unconfined", "/etc/confine-e2e-dir2"], "\(String(describing: report?.containment))")
        XCTAssertNil(report?.seccomp, "no seccomp profile was asked for: the report has none")
        XCTAssertTrue(result.stderr.contains("pod      2 writes refused by the read-only root"), result.stderr)
    }

    /// runAsNonRoot as the kubelet checks it: uid 0 (given, or confine's own) does not start —
    /// exit 125 naming the reason, and a report.
    func testRunAsNonRootRefusesUid0() throws {
        let file = try profile("name: strict\nuser: {uid: 0, run_as_non_root: true}\n")
        let (given, report) = Harness.confineRun(["--profile", file], ["/bin/true"])
        XCTAssertEqual(given.status, 125, given.stderr)
        XCTAssertTrue(given.stderr.contains("run_as_non_root with user.uid 0"), given.stderr)
        XCTAssertEqual(report?.setupError?.step, "container setup")
        XCTAssertEqual(report?.setupError?.errno, 0, "a refusal of the profile's: no call failed")
        let (inherited, _) = Harness.confineRun(["--run-as-non-root"], ["/bin/true"])
        XCTAssertEqual(inherited.status, 125)
        XCTAssertTrue(inherited.stderr.contains("the target would run as root"), inherited.stderr)
        let (nonRoot, _) = Harness.confineRun(["--run-as-non-root", "--user", "10001"], ["/bin/sh", "-c", "id -u"])
        XCTAssertEqual(nonRoot.status, 0, nonRoot.stderr)
        XCTAssertEqual(lines(nonRoot), ["10001"])
    }

    /// Hostname in a UTS namespace of its own, variables from --env and --env-file over the
    /// inherited ones, the working directory.
    func testHostnameEnvironmentAndWorkingDirectory() throws {
        let envFile = NSTemporaryDirectory() + "confine-e2e-\(UUID().uuidString).env"
        try "# the pod's config\nMODE=production\nHOME=/home/app\n".write(toFile: envFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: envFile) }
        let host = ProcessInfo.processInfo.hostName
        let (result, report) = Harness.confineRun(["--hostname", "checkout-0", "--env-file", envFile, "-e", "WORKERS=4", "--workdir", "/usr"],
                                                  ["/bin/sh", "-c", "hostname; echo $MODE $WORKERS $HOME; pwd"])
        XCTAssertEqual(lines(result), ["checkout-0", "production 4 /home/app", "/usr"], result.stderr)
        XCTAssertEqual(ProcessInfo.processInfo.hostName, host, "the host's name is unchanged")
        XCTAssertEqual(report?.profile.hostname, "checkout-0")
        XCTAssertEqual(report?.profile.env?["MODE"], "production")
        let (missing, missingReport) = Harness.confineRun(["--workdir", "/nonexistent-confine"], ["/bin/true"])
        XCTAssertEqual(missing.status, 125)
        XCTAssertEqual(missingReport?.setupError?.step, "chdir /nonexistent-confine")
    }

    /// A memory-backed volume is a tmpfs charged to the run's memory as the kernel charges the
    /// pod's: 48 MiB written there shows in the run's peak, and its size limit holds.
    func testMemoryVolumeIsChargedToTheRun() throws {
        let (result, report) = Harness.confineRun(["--memory", "256Mi", "--tmpfs", "/confine-e2e-scratch:size=32Mi", "--tmpfs", "/confine-e2e-big"],
                                                  ["/bin/sh", "-c", "dd if=/dev/zero of=/confine-e2e-big/f bs=1M count=48 2>/dev/null; "
                                                   + "dd if=/dev/zero of=/confine-e2e-scratch/f bs=1M count=40 2>&1; sleep 0.3"])
        let run = try XCTUnwrap(report)
        XCTAssertTrue(result.stdout.contains("No space left on device"), "size=32Mi holds: \(result.stdout)")
        XCTAssertGreaterThanOrEqual(run.memory.peakBytes, 48 << 20, "tmpfs pages are the run's memory")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/confine-e2e-big"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/confine-e2e-scratch"))
    }

    /// A SIGKILLed confine leaves no mount point behind: the run guard removes what it made.
    func testAKilledConfineLeavesNoMountPointBehind() throws {
        let point = "/confine-e2e-killed-\(UUID().uuidString.prefix(8))"
        let child = Harness.Child([Harness.confine, "run", "--quiet", "--report", "/dev/null", "--volume", point, "--", "/bin/sleep", "30"])
        var waited = 0.0
        while !FileManager.default.fileExists(atPath: point) && waited < 10 { usleep(20_000); waited += 0.02 }
        XCTAssertTrue(FileManager.default.fileExists(atPath: point), "the run made its mount point")
        usleep(200_000)
        kill(child.pid, SIGKILL)
        _ = child.wait()
        waited = 0
        while FileManager.default.fileExists(atPath: point) && waited < 10 { usleep(50_000); waited += 0.05 }
        XCTAssertFalse(FileManager.default.fileExists(atPath: point), "the guard removed the mount point")
        _ = Harness.run([Harness.confine, "gc"])
    }

    /// pytest under a read-only root with an emptyDir at /tmp (its tempfile needs one, as in the
    /// pod): per-test figures still arrive — the probe's directory under /tmp stays reachable
    /// and writable for the plugin though a tmpfs covers /tmp.
    func testPytestUnderAReadOnlyRootKeepsItsPerTestFigures() throws {
        let project = "/var/tmp/confine-e2e-pytest-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: project) }
        try "def test_small():\n    assert sum(range(100))\n\ndef test_large():\n    assert len(bytearray(20_000_000))\n"
            .write(toFile: project + "/test_ro.py", atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--profile", "container-default", "--read-only", "--tmpfs", "/tmp"],
                                                  ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", project + "/test_ro.py"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(report?.tests.map(\.name).sorted(), ["test_ro.py::test_large", "test_ro.py::test_small"], result.stderr)
        // A volume over /tmp alone (no read-only root) hides the probe's directory there too: still reached.
        let (tmpOnly, tmpReport) = Harness.confineRun(["--tmpfs", "/tmp"],
                                                      ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", project + "/test_ro.py"])
        XCTAssertEqual(tmpOnly.status, 0, tmpOnly.stdout + tmpOnly.stderr)
        XCTAssertEqual(tmpReport?.tests.count, 2, tmpOnly.stderr)
        // Without the emptyDir, Python finds no writable temporary directory: the pod's failure, named.
        let (bare, bareReport) = Harness.confineRun(["--profile", "container-default", "--read-only"],
                                                    ["python3", "-c", "import tempfile; tempfile.mkstemp()"])
        XCTAssertNotEqual(bare.status, 0)
        XCTAssertTrue(bareReport?.containment?.attempts.contains { $0.cause == .readOnlyRoot && $0.target.hasPrefix("/tmp/") } == true,
                      "\(String(describing: bareReport?.containment?.attempts))")
    }

    /// `--keep-writable .`: the suite's checkout stays writable (reached through the new mount:
    /// the target enters its directory again after the mounts), the rest of the root does not.
    func testKeepWritableLeavesTheCheckoutWritable() throws {
        let project = "/var/tmp/confine-e2e-kw-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: project) }
        let (result, report) = Harness.confineRun(["--read-only", "--keep-writable", project, "--workdir", project],
                                                  ["/bin/sh", "-c", "echo kept > relative.txt && cat relative.txt; echo x > /var/tmp/confine-e2e-outside; echo outside=$?; "
                                                   + "echo z > /dev/confine-e2e-dev && echo dev=ok; touch /sys/confine-e2e; echo sys=$?"])
        XCTAssertEqual(lines(result), ["kept", "outside=2", "dev=ok", "sys=1"], result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/dev/confine-e2e-dev"), "the private /dev keeps what the target wrote in the run")
        XCTAssertEqual(try String(contentsOfFile: project + "/relative.txt", encoding: .utf8), "kept\n", "written to the host's checkout")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/var/tmp/confine-e2e-outside"))
        XCTAssertTrue(report?.containment?.measures.contains("kept writable: \(project) (the host's, with its content)") == true)
    }

    /// As the pod's non-root user, the probe channel still works: functions measured by the
    /// Python probe arrive (the socket's directory is searchable, the socket writable by any uid).
    func testTheProbeWorksForTheNonRootUser() throws {
        let script = "/var/tmp/confine-e2e-probe-\(UUID().uuidString.prefix(8)).py"
        try "import os\nfrom confine_probe import measure\n@measure('work')\ndef work():\n    return sum(range(1000))\nfor _ in range(20):\n    work()\nprint(os.getuid())\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o644)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let (result, report) = Harness.confineRun(["--profile", "container-default", "--user", "10001", "--workdir", "/var/tmp"],
                                                  ["/usr/bin/python3", script])
        XCTAssertEqual(lines(result), ["10001"], result.stderr)
        XCTAssertEqual(report?.functions.first { $0.name == "work" }?.calls, 20, result.stderr)
    }

    /// containers/common seccomp profiles load (errno names honoured); keys no runtime reads are
    /// warnings, errors under --strict.
    func testContainersCommonSeccompProfileLoads() throws {
        let file = NSTemporaryDirectory() + "confine-e2e-\(UUID().uuidString).json"
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrno": "ENOSYS", "vendorNote": "x", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errno": "EACCES"}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (result, report) = Harness.confineRun(["--seccomp", file], ["/bin/sh", "-c", "mkdir /tmp/confine-e2e-denied-$$ 2>&1; true"])
        XCTAssertTrue(result.stdout.contains("Permission denied"), "EACCES from the errno name: \(result.stdout)")
        XCTAssertTrue(report?.warnings.contains { $0.contains("vendorNote: unknown key 'vendorNote'") && $0.contains("ignored") } == true,
                      "\(String(describing: report?.warnings))")
        let strict = Harness.run([Harness.confine, "run", "--strict", "--seccomp", file, "--", "/bin/true"])
        XCTAssertEqual(strict.status, 64)
        XCTAssertTrue(strict.stderr.contains("vendorNote") && strict.stderr.contains("(--strict)"), strict.stderr)
    }
}
