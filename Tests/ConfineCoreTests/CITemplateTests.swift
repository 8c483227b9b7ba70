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

    func assertOnlyRealCommands(_ path: String) throws {
        let lines = try commands(path)
        XCTAssertFalse(lines.isEmpty, "\(path) runs nothing")
        var used = Set<String>()
        for line in lines {
            let words = line.split(whereSeparator: { " \t;|&()\"$".contains($0) }).map(String.init)
            for (index, word) in words.enumerated() where word == "confine" && index + 1 < words.count {
                let subcommand = words[index + 1]
                guard !subcommand.hasPrefix("/") && !subcommand.hasPrefix("-") else { continue }
                XCTAssertTrue(Self.subcommands.contains(subcommand), "\(path): `confine \(subcommand)` does not exist (\(line))")
                used.insert(subcommand)
            }
            for word in words where word.contains("ci/") {
                let script = String(word[word.range(of: "ci/")!.lowerBound...])
                XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.root.appendingPathComponent(script).path),
                              "\(path): \(script) is not a script of this repository")
            }
        }
        XCTAssertTrue(used.isSuperset(of: ["run", "report", "doctor", "compare"]), "\(path) uses \(used)")
    }

    func testGitHubWorkflow() throws {
        try assertOnlyRealCommands("ci/github/load-and-limits.yml")
        let workflow = try XCTUnwrap(try Yams.load(yaml: String(contentsOf: Self.root.appendingPathComponent("ci/github/load-and-limits.yml"),
                                                                 encoding: .utf8)) as? [String: Any])
        XCTAssertNotNil(workflow["jobs"])
        XCTAssertNotNil(workflow["on"] ?? workflow["true"], "the trigger (YAML 1.1 reads `on` as true)")
    }

    func testGitLabJob() throws {
        try assertOnlyRealCommands("ci/gitlab/load-and-limits.yml")
    }

    func testTheDockerfileBuildsWithTheScriptCIRuns() throws {
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        XCTAssertTrue(dockerfile.contains("RUN cp \"$(ci/build)\" /usr/local/bin/confine"), dockerfile)
        let test = try String(contentsOf: Self.root.appendingPathComponent("ci/test"), encoding: .utf8)
        XCTAssertTrue(test.contains("\nci/build"), "ci/test runs ci/build")
        let demo = try String(contentsOf: Self.root.appendingPathComponent("ci/demo"), encoding: .utf8)
        XCTAssertTrue(demo.contains("$(ci/build)"), "the demo builds with ci/build unless given a confine")
    }
}
