import Foundation
import XCTest
import Yams

/// The CI templates users copy: valid YAML, and every confine subcommand and ci/ script they
/// name exists. The Dockerfile builds with ci/build, the script CI runs.
final class CITemplateTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let subcommands: Set<String> = ["run", "report", "compare", "merge", "bisect-memory", "doctor", "profile", "seccomp", "gc"]

    /// Every shell line in the file's `run:` steps or `script:`/`before_script:` lists.
    func commands(_ path: String) throws -> [String] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let document = try XCTUnwrap(try Yams.load(yaml: text), "\(path) is empty")
        var lines: [String] = []
        func walk(_ node: Any) {
            if let map = node as? [String: Any] {
                for (key, value) in map {
                    if key == "run", let script = value as? String { lines += script.split(separator: "\n").map(String.init) }
                    if key == "script" || key == "before_script", let items = value as? [String] {
                        lines += items.flatMap { $0.split(separator: "\n").map(String.init) }
                    }
                    walk(value)
                }
            } else if let list = node as? [Any] {
                list.forEach(walk)
            }
        }
        walk(document)
        return lines
    }

    /// The shell lines of a script of this repository, comments left out.
    func scriptLines(_ script: String) throws -> [String] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(script), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            .map { line in line.range(of: " # ").map { String(line[..<$0.lowerBound]) } ?? line }
    }

    /// Every `confine X` in the file's steps, and in the ci/action scripts they run, is a real
    /// subcommand; every `ci/…` they name is a script of this repository. Returns the subcommands used.
    @discardableResult
    func assertOnlyRealCommands(_ path: String) throws -> Set<String> {
        var lines = try commands(path)
        XCTAssertFalse(lines.isEmpty, "\(path) runs nothing")
        var used = Set<String>()
        var seen = Set<String>()
        while !lines.isEmpty {
            let line = lines.removeFirst()
            let words = line.split(whereSeparator: { " \t;|&()\"$'`".contains($0) }).map(String.init)
            for (index, word) in words.enumerated() where word == "confine" && index + 1 < words.count {
                let subcommand = words[index + 1]
                // A subcommand is a lowercase word (not `confine 2>/dev/null`, `confine {`, `confine_root/…`).
                guard subcommand.range(of: "^[a-z][a-z-]*$", options: .regularExpression) != nil else { continue }
                XCTAssertTrue(Self.subcommands.contains(subcommand), "\(path): `confine \(subcommand)` does not exist (\(line))")
                used.insert(subcommand)
            }
            for word in words where word.contains("ci/") {
                let script = String(word[word.range(of: "ci/")!.lowerBound...])
                XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.root.appendingPathComponent(script).path),
                              "\(path): \(script) is not a script of this repository")
                // The action's scripts are read too: they hold the confine commands.
                if script.hasPrefix("ci/action/"), seen.insert(script).inserted { lines += try scriptLines(script) }
            }
        }
        return used
    }

    /// `uses: confine-dev/confine[/sub]@v1` names an action of this repository, whose steps are checked too.
    func assertActionsExist(_ path: String) throws -> Set<String> {
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        var used = Set<String>()
        for line in text.split(separator: "\n") {
            guard let range = line.range(of: "uses: confine-dev/confine") else { continue }
            let rest = line[range.upperBound...]
            let sub = rest.prefix { $0 != "@" }.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            XCTAssertTrue(rest.contains("@v1"), "\(path): \(line) pins no major version")
            let action = sub.isEmpty ? "action.yml" : sub + "/action.yml"
            XCTAssertTrue(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(action).path), "\(path): \(action) does not exist")
            used.formUnion(try assertOnlyRealCommands(action))
        }
        return used
    }

    func testGitHubWorkflow() throws {
        let used = try assertActionsExist("ci/github/load-and-limits.yml")
        XCTAssertTrue(used.isSuperset(of: ["run", "report", "compare", "merge"]), "the workflow's actions use \(used)")
        let workflow = try XCTUnwrap(try Yams.load(yaml: String(contentsOf: Self.root.appendingPathComponent("ci/github/load-and-limits.yml"),
                                                                 encoding: .utf8)) as? [String: Any])
        let jobs = try XCTUnwrap(workflow["jobs"] as? [String: Any])
        XCTAssertEqual(Set(jobs.keys), ["shard", "fan-in", "same-runner"])
        XCTAssertEqual((jobs["fan-in"] as? [String: Any])?["needs"] as? String, "shard")
        XCTAssertEqual((jobs["same-runner"] as? [String: Any])?["if"] as? String,
                       "github.event_name == 'pull_request' && vars.CONFINE_SAME_RUNNER == 'true'", "same-runner mode is off by default")
        XCTAssertNotNil(workflow["on"] ?? workflow["true"], "the trigger (YAML 1.1 reads `on` as true)")
    }

    /// The action's inputs reach its scripts as environment variables, never as shell text.
    func testTheActionsPassInputsThroughTheEnvironment() throws {
        for path in ["action.yml", "fan-in/action.yml", "same-runner/action.yml"] {
            let action = try XCTUnwrap(try Yams.load(yaml: String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)) as? [String: Any])
            let steps = try XCTUnwrap((action["runs"] as? [String: Any])?["steps"] as? [[String: Any]])
            for step in steps {
                guard let run = step["run"] as? String else { continue }
                XCTAssertFalse(run.contains("inputs."), "\(path): \(run) interpolates an input into shell text")
                XCTAssertTrue(run.hasPrefix("\"${{ github.action_path }}/"), "\(path): \(run) is not one script")
                XCTAssertEqual(step["shell"] as? String, "bash", path)
            }
        }
    }

    func testGitLabJob() throws {
        let used = try assertOnlyRealCommands("ci/gitlab/load-and-limits.yml")
        XCTAssertTrue(used.isSuperset(of: ["run", "report", "doctor", "compare", "merge"]), "the GitLab template uses \(used)")
    }

    func testTheDockerfileBuildsWithTheScriptCIRuns() throws {
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        XCTAssertTrue(dockerfile.contains("RUN cp \"$(ci/build)\" /usr/local/bin/confine"), dockerfile)
        let test = try String(contentsOf: Self.root.appendingPathComponent("ci/test"), encoding: .utf8)
        XCTAssertTrue(test.contains("\nci/build"), "ci/test runs ci/build")
        let demo = try String(contentsOf: Self.root.appendingPathComponent("ci/demo"), encoding: .utf8)
        XCTAssertTrue(demo.contains("$(ci/build)"), "the demo builds with ci/build unless given a confine")
    }

    /// The plugin's entry point found through PYTHONPATH (tox passes it, not PYTEST_PLUGINS) is
    /// the plugin's, under confine's version: ci/package rewrites it, the source tree's must agree.
    func testThePluginsEntryPointBesideItMatchesConfine() throws {
        let python = Self.root.appendingPathComponent("Sources/ConfinePython/confine_pytest.dist-info")
        let metadata = try String(contentsOf: python.appendingPathComponent("METADATA"), encoding: .utf8)
        let entryPoints = try String(contentsOf: python.appendingPathComponent("entry_points.txt"), encoding: .utf8)
        XCTAssertTrue(entryPoints.contains("[pytest11]\nconfine_pytest = confine_pytest"), "the entry point is named as the module: \(entryPoints)")
        let confine = try String(contentsOf: Self.root.appendingPathComponent("Sources/confine/Confine.swift"), encoding: .utf8)
        let version = try XCTUnwrap(confine.firstMatch(of: /static let version = "([^"]+)"/)?.1)
        XCTAssertTrue(metadata.contains("\nVersion: \(version)\n"), metadata)
    }
}
