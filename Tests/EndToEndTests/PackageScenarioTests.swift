import ConfineCore
import Foundation
import XCTest

/// Issue 21: `ci/package` makes a tarball, a .deb and the pytest plugin's wheel from the release
/// build; each is installed the way a user installs it and run from where it was installed —
/// never from this checkout (confine's own variables are removed from every command).
final class PackageScenarioTests: XCTestCase {
    /// ci/package's output, made once for the class (packaging takes about half a minute).
    nonisolated(unsafe) static var output = ""
    nonisolated(unsafe) static var packaging: Harness.Result?

    /// The variables that would point confine or Python at this checkout's files.
    static let clean = ["/usr/bin/env", "-u", "CONFINE_PROFILES", "-u", "CONFINE_PYTHON", "-u", "PYTHONPATH",
                        "-u", "PYTEST_PLUGINS", "-u", "CONFINE"]

    override class func setUp() {
        super.setUp()
        guard Harness.isRoot else { return }
        output = NSTemporaryDirectory() + "confine-package-\(UUID().uuidString)"
        // ci/test runs ci/build before swift test; building here would wait on this swift test's lock.
        let release = Harness.packageRoot.appendingPathComponent(".build/release/confine").path
        guard FileManager.default.isExecutableFile(atPath: release) else { return }
        packaging = Harness.run(["/usr/bin/env", "CONFINE=\(release)",
                                 Harness.packageRoot.appendingPathComponent("ci/package").path, "-o", output])
    }

    override class func tearDown() {
        if !output.isEmpty { try? FileManager.default.removeItem(atPath: output) }
        super.tearDown()
    }

    var directory = ""
    var version = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.isRoot, "needs root: dpkg installs into a root of its own, confine creates cgroups")
        let packaging = try XCTUnwrap(Self.packaging, "no release build at .build/release/confine: run ci/build first (ci/test does)")
        XCTAssertEqual(packaging.status, 0, packaging.stderr)
        version = try XCTUnwrap(Harness.run([Harness.confine, "--version"]).stdout.split(separator: "\n").first.map(String.init))
        XCTAssertEqual(packaging.stdout.split(separator: "\n").map(String.init), [
            "\(Self.output)/confine-\(version)-linux-\(Self.uname()).tar.gz",
            "\(Self.output)/confine_\(version)_\(Self.debianArchitecture()).deb",
            "\(Self.output)/confine_pytest-\(version)-py3-none-any.whl",
        ], "ci/package prints the paths it made")
        directory = NSTemporaryDirectory() + "confine-package-scenario-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        if Harness.isRoot { XCTAssertEqual(Harness.leftoverGroups(), [], "a confine cgroup was left behind") }
    }

    static func uname() -> String {
        Harness.run(["/usr/bin/uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func debianArchitecture() -> String {
        Harness.run(["/usr/bin/dpkg", "--print-architecture"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Two tests: the first prints where the plugin was loaded from (if it was), the second
    /// allocates 8 MiB.
    func writeSuite() throws -> String {
        let suite = directory + "/suite"
        try FileManager.default.createDirectory(atPath: suite, withIntermediateDirectories: true)
        try """
            import sys

            def test_one():
                plugin = sys.modules.get("confine_pytest")
                print("confine-plugin-file:", getattr(plugin, "__file__", None))

            def test_two():
                data = bytearray(8 << 20)
                assert len(data) == 8 << 20
            """.write(toFile: suite + "/test_tiny.py", atomically: true, encoding: .utf8)
        return suite
    }

    func pytest(_ python: String, _ suite: String) -> [String] {
        [python, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--rootdir", suite, suite]
    }

    /// `confine run` through `binary`, with confine's variables removed; the decoded report.
    func run(_ binary: String, _ options: [String], _ command: [String], file: StaticString = #filePath,
             line: UInt = #line) throws -> (Harness.Result, RunReport) {
        let reportPath = directory + "/report-\(UUID().uuidString).json"
        let result = Harness.run(Self.clean + [binary, "run"] + options + ["--report", reportPath, "--"] + command)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: reportPath),
                                 "no report; stderr: \(result.stderr)", file: file, line: line)
        return (result, try RunReport.decode(data))
    }

    func testTheDebInstallsWithDpkgAndRunsFromTheInstalledTree() throws {
        let deb = "\(Self.output)/confine_\(version)_\(Self.debianArchitecture()).deb"
        let depends = Harness.run(["/usr/bin/dpkg-deb", "-f", deb, "Depends"]).stdout
        // Exactly the packages of the libraries the binary links dynamically.
        let packages = depends.split(separator: ",").map { $0.split(separator: " ").first.map(String.init) ?? "" }
        XCTAssertEqual(Set(packages), ["libc6", "libgcc-s1", "libseccomp2", "libstdc++6"], depends)
        XCTAssertTrue(depends.contains("libseccomp2 (>= "), depends)

        // A fresh dpkg database: first with nothing installed, where dpkg refuses to configure it…
        func freshRoot(_ name: String, status: String) throws -> String {
            let root = directory + "/" + name
            for path in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"] {
                try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
            }
            try status.write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
            return root
        }
        func install(_ root: String) -> Harness.Result {
            Harness.run(["/usr/bin/dpkg", "--root=\(root)", "--log=\(root)/var/log/dpkg.log", "-i", deb])
        }
        let bare = try freshRoot("bare", status: "")
        let refused = install(bare)
        XCTAssertNotEqual(refused.status, 0, "dpkg configured confine without its dependencies")
        XCTAssertTrue(refused.stderr.contains("confine depends on libseccomp2"), refused.stderr)

        // …then with this host's entries for its dependencies, where it installs without --force.
        let hostEntries = Harness.run(["/usr/bin/dpkg-query", "-s"] + packages)
        XCTAssertEqual(hostEntries.status, 0, hostEntries.stderr)
        let root = try freshRoot("root", status: hostEntries.stdout)
        for package in packages {   // their file lists: empty here (dpkg would warn of missing ones)
            FileManager.default.createFile(atPath: "\(root)/var/lib/dpkg/info/\(package):\(Self.debianArchitecture()).list", contents: nil)
        }
        let installed = install(root)
        XCTAssertEqual(installed.status, 0, installed.stdout + installed.stderr)
        let status = Harness.run(["/usr/bin/dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-W",
                                  "-f=${Status} ${Version}", "confine"])
        XCTAssertEqual(status.stdout, "install ok installed \(version)", status.stderr)
        let listed = Set(Harness.run(["/usr/bin/dpkg", "--root=\(root)", "-L", "confine"]).stdout.split(separator: "\n").map(String.init))
        for path in ["/usr/bin/confine", "/usr/share/confine/profiles/k8s-512mi.yaml",
                     "/usr/share/confine/profiles/seccomp/container-default.json",
                     "/usr/share/confine/python/confine_pytest.py", "/usr/share/confine/python/confine_probe.py",
                     "/usr/share/confine/python/confine_pytest-\(version)-py3-none-any.whl",
                     "/usr/share/confine/python/confine_pytest.dist-info/entry_points.txt",
                     "/usr/share/doc/confine/confine.txt", "/usr/share/doc/confine/docs/ci.md"] {
            XCTAssertTrue(listed.contains(path), "dpkg -L does not list \(path)")
            XCTAssertTrue(exists(root + path), "\(path) is not installed")
        }
        let confine = root + "/usr/bin/confine"

        let doctor = Harness.run(Self.clean + [confine, "doctor"])
        XCTAssertEqual(doctor.status, 0, doctor.stdout + doctor.stderr)
        XCTAssertTrue(doctor.stdout.contains("confine can run here."), doctor.stdout)

        // The built-in profile (and its seccomp profile) and the plugin come from the installed tree.
        let suite = try writeSuite()
        let (result, report) = try run(confine, ["--profile", "k8s-512mi"], pytest("python3", suite))
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("confine-plugin-file: \(root)/usr/share/confine/python/confine_pytest.py"),
                      "the plugin was not the installed one: \(result.stdout)")
        XCTAssertEqual(report.profile.name, "k8s-512mi")
        XCTAssertEqual(report.memory.limitBytes, 512 << 20)
        XCTAssertEqual(report.seccomp?.profile, "container-default")
        XCTAssertEqual(report.tests.map(\.name), ["test_tiny.py::test_one", "test_tiny.py::test_two"])
        for test in report.tests {
            XCTAssertEqual(test.source, .pytest, test.name)
            XCTAssertEqual(test.outcome, .passed, test.name)
            XCTAssertNotNil(test.durationSeconds, test.name)
            XCTAssertNotNil(test.cpuSeconds, test.name)
            XCTAssertGreaterThan(test.peakBytes ?? 0, 0, test.name)
        }

        // The control: the same binary with no share/ beside it finds no profile and no plugin, so
        // the run above did not find them anywhere else (this checkout, say).
        let alone = directory + "/alone/confine"
        try FileManager.default.createDirectory(atPath: directory + "/alone", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: confine, toPath: alone)
        let noProfile = Harness.run(Self.clean + [alone, "profile", "show", "k8s-512mi"])
        XCTAssertEqual(noProfile.status, 64, "a lone binary found k8s-512mi: \(noProfile.stdout)")
        let (lonely, lonelyReport) = try run(alone, [], pytest("python3", suite))
        XCTAssertTrue(lonely.stdout.contains("confine-plugin-file: None"), lonely.stdout)
        XCTAssertEqual(lonelyReport.tests, [], "a lone binary found the plugin")
    }

    func testTheTarballRunsFromWhereItIsUnpacked() throws {
        let tarball = "\(Self.output)/confine-\(version)-linux-\(Self.uname()).tar.gz"
        let listing = Harness.run(["/usr/bin/tar", "-tzf", tarball]).stdout.split(separator: "\n").map(String.init)
        XCTAssertFalse(listing.isEmpty)
        XCTAssertTrue(listing.allSatisfy { $0.hasPrefix("confine-\(version)/") }, "one top directory: \(listing)")
        let unpacked = Harness.run(["/usr/bin/tar", "-xzf", tarball, "-C", directory])
        XCTAssertEqual(unpacked.status, 0, unpacked.stderr)
        let top = "\(directory)/confine-\(version)"
        let versionResult = Harness.run(Self.clean + [top + "/bin/confine", "--version"])
        XCTAssertEqual(versionResult.stdout, version + "\n", versionResult.stderr)
        for path in ["share/confine/profiles/k8s-512mi.yaml", "share/confine/profiles/seccomp/container-default.json",
                     "share/confine/python/confine_pytest.py", "share/confine/python/confine_probe.py",
                     "share/confine/python/confine_pytest-\(version)-py3-none-any.whl"] {
            XCTAssertTrue(exists(top + "/" + path), path)
        }
        let help = try String(contentsOfFile: top + "/share/doc/confine/confine.txt", encoding: .utf8)
        for section in ["confine", "confine run", "confine doctor", "confine profile import", "confine seccomp inspect"] {
            XCTAssertTrue(help.contains("\n\(section)\n") || help.hasPrefix("\(section)\n"), "no section \(section)")
        }
        XCTAssertTrue(help.contains("Run a command under a profile's cgroup limits"), "confine run's help")
        // The built-in profiles are found next to the binary.
        let show = Harness.run(Self.clean + [top + "/bin/confine", "profile", "show", "k8s-512mi"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("512Mi"), show.stdout)
    }

    func testTheWheelLoadsThePluginThroughItsEntryPoint() throws {
        let wheel = "\(Self.output)/confine_pytest-\(version)-py3-none-any.whl"
        let venv = directory + "/venv"
        // --system-site-packages: pytest from the host's Python, the plugin from the wheel alone.
        let made = Harness.run(Self.clean + ["python3", "-m", "venv", "--system-site-packages", venv])
        XCTAssertEqual(made.status, 0, made.stderr)
        let pip = Harness.run(Self.clean + [venv + "/bin/python", "-m", "pip", "install", "--no-index",
                                            "--disable-pip-version-check", "--quiet", wheel])
        XCTAssertEqual(pip.status, 0, pip.stdout + pip.stderr)
        let sitePackages = Harness.run([venv + "/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(exists(sitePackages + "/confine_probe.py"), "the wheel holds confine_probe (confine_pytest imports it)")

        // pytest lists it among the plugins of its entry points.
        let plugins = Harness.run(Self.clean + [venv + "/bin/python", "-m", "pytest", "--version", "--version"])
        XCTAssertTrue((plugins.stdout + plugins.stderr).contains("confine-pytest-\(version) at \(sitePackages)/confine_pytest.py"),
                      plugins.stdout + plugins.stderr)

        let suite = try writeSuite()
        // Under confine: the entry point and confine's PYTEST_PLUGINS both name confine_pytest, and
        // pytest loads it once.
        let (both, bothReport) = try run(Harness.confine, [], pytest(venv + "/bin/python", suite))
        XCTAssertEqual(both.status, 0, both.stdout + both.stderr)
        XCTAssertFalse((both.stdout + both.stderr).contains("already registered"), both.stdout + both.stderr)
        XCTAssertEqual(bothReport.tests.map(\.name), ["test_tiny.py::test_one", "test_tiny.py::test_two"])

        // A runner that strips confine's PYTEST_PLUGINS and PYTHONPATH (tox): the entry point alone.
        let strip = ["/usr/bin/env", "-u", "PYTEST_PLUGINS", "-u", "PYTHONPATH"]
        let (stripped, strippedReport) = try run(Harness.confine, [], strip + pytest(venv + "/bin/python", suite))
        XCTAssertEqual(stripped.status, 0, stripped.stdout + stripped.stderr)
        XCTAssertTrue(stripped.stdout.contains("confine-plugin-file: \(sitePackages)/confine_pytest.py"), stripped.stdout)
        XCTAssertEqual(strippedReport.tests.map(\.name), ["test_tiny.py::test_one", "test_tiny.py::test_two"])
        XCTAssertTrue(strippedReport.tests.allSatisfy { $0.source == .pytest && $0.durationSeconds != nil })

        // The control: the host's Python, without the wheel, stripped the same way, reports no test.
        let (control, controlReport) = try run(Harness.confine, [], strip + pytest("python3", suite))
        XCTAssertEqual(control.status, 0, control.stderr)
        XCTAssertEqual(controlReport.tests, [])
        XCTAssertTrue(controlReport.warnings.contains { $0.contains("no test boundary reached confine") }, "\(controlReport.warnings)")
    }
}
