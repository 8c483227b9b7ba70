import Foundation
import XCTest
import Yams

/// Runs GitHub Actions jobs here, the way the runner does, closely enough to exercise this
/// repository's action (action.yml, fan-in/, same-runner/) and workflow template for real:
/// `run:` steps with bash (`bash --noprofile --norc -eo pipefail`, the runner's default), the
/// workflow's, job's and step's `env:`, `${{ }}` expressions from a small table — an expression
/// it does not know fails the test —, `if:` conditions, GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH
/// / GITHUB_STEP_SUMMARY honoured between steps. `uses:` steps are simulated for a fixed set
/// (checkout, upload/download-artifact, the baseline download, the sticky comment, confine's own
/// actions, run as composite actions); any other fails the test.
final class FakeGitHubRunner {
    let workspace: String
    let scratch: String
    /// Artifacts this workflow run uploaded: `artifacts/<name>/<files>`.
    let artifacts: String
    /// Artifacts of main's last run (what dawidd6/action-download-artifact finds).
    let mainArtifacts: String
    var eventName = "push"
    var ref = "refs/heads/main"
    var sha = "0000000000000000000000000000000000000000"
    var event: [String: Any] = [:]
    var vars: [String: String] = [:]
    /// Workflow-level `env:` overrides (what a user sets after copying the template).
    var envOverrides: [String: String] = [:]
    /// Extra variables every step sees (CONFINE_RELEASE_URL).
    var extraEnvironment: [String: String] = [:]
    /// Comments the sticky-comment action would have posted.
    var comments: [String] = []
    /// Everything the steps printed, in order.
    var log = ""
    let file: StaticString
    let line: UInt

    init(workspace: String, scratch: String, file: StaticString = #filePath, line: UInt = #line) throws {
        self.workspace = workspace
        self.scratch = scratch
        artifacts = scratch + "/artifacts"
        mainArtifacts = scratch + "/main-artifacts"
        self.file = file
        self.line = line
        for dir in [artifacts, mainArtifacts] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    }

    func fail(_ message: String) { XCTFail(message, file: file, line: line) }

    // MARK: jobs

    struct StepResult {
        var id: String?
        var name: String
        var ran: Bool
        var status: Int32
        var outputs: [String: String]
        /// For composite actions: their own steps.
        var inner: [StepResult] = []
    }

    struct JobResult {
        var status: Int32
        var steps: [StepResult]
        var summary: String
        var log: String
        func step(_ id: String) -> StepResult? { steps.first { $0.id == id } }
    }

    /// The job's state while it runs: the runner's files and contexts.
    final class Context {
        var env: [String: String]           // the process environment of every step
        var workflowEnv: [String: String]   // env.* (workflow, job)
        var matrix: [String: String]
        var inputs: [String: String]?       // inside a composite action
        var actionPath: String?
        var steps: [String: [String: String]] = [:]
        var stepIDs: Set<String> = []
        var failed = false
        var path: [String] = []             // GITHUB_PATH lines, newest first
        var githubEnv: [String: String] = [:]
        let summaryFile: String
        init(env: [String: String], workflowEnv: [String: String], matrix: [String: String], summaryFile: String) {
            self.env = env
            self.workflowEnv = workflowEnv
            self.matrix = matrix
            self.summaryFile = summaryFile
        }
    }

    /// The test's PATH (its python3 and pytest, as setup-python would give) without any confine:
    /// the action must install it.
    static var pathWithoutConfine: String {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
            .filter { !FileManager.default.isExecutableFile(atPath: $0 + "/confine") }.joined(separator: ":")
    }

    static func string(_ value: Any?) -> String {
        switch value {
        case nil: return ""
        case let string as String: return string
        case let bool as Bool: return bool ? "true" : "false"
        case let int as Int: return String(int)
        case let double as Double: return String(double)
        default: return "\(value!)"
        }
    }

    static func load(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any], "\(path) is not a mapping")
    }

    /// The matrix's combinations (one key at a time is all the template uses).
    static func matrix(of job: [String: Any]) -> [[String: String]] {
        guard let strategy = job["strategy"] as? [String: Any], let matrix = strategy["matrix"] as? [String: Any] else { return [[:]] }
        var combinations: [[String: String]] = [[:]]
        for (key, values) in matrix.sorted(by: { $0.key < $1.key }) {
            let list = (values as? [Any]) ?? [values]
            combinations = combinations.flatMap { combination in list.map { combination.merging([key: string($0)]) { $1 } } }
        }
        return combinations
    }

    /// Runs `workflow.jobs[name]` (with the given matrix values) in a fresh RUNNER_TEMP.
    func runJob(_ workflow: [String: Any], _ name: String, matrix: [String: String] = [:]) throws -> JobResult {
        let jobs = try XCTUnwrap(workflow["jobs"] as? [String: Any])
        let job = try XCTUnwrap(jobs[name] as? [String: Any], "no job \(name)")
        let runnerTemp = scratch + "/runner-temp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: runnerTemp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: runnerTemp) }
        let eventPath = runnerTemp + "/event.json"
        try JSONSerialization.data(withJSONObject: event).write(to: URL(fileURLWithPath: eventPath))
        let summaryFile = runnerTemp + "/step-summary.md"
        FileManager.default.createFile(atPath: summaryFile, contents: nil)
        var env: [String: String] = [
            "PATH": Self.pathWithoutConfine,
            "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root",
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": workspace,
            "GITHUB_EVENT_NAME": eventName,
            "GITHUB_EVENT_PATH": eventPath,
            "GITHUB_REF": ref,
            "GITHUB_SHA": sha,
            "GITHUB_REPOSITORY": "example/app",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_JOB": name,
            "RUNNER_TEMP": runnerTemp,
            "RUNNER_ARCH": "X64",
            "RUNNER_OS": "Linux",
        ]
        env.merge(extraEnvironment) { $1 }
        var workflowEnv: [String: String] = [:]
        for (key, value) in (workflow["env"] as? [String: Any]) ?? [:] { workflowEnv[key] = Self.string(value) }
        workflowEnv.merge(envOverrides) { $1 }
        let context = Context(env: env, workflowEnv: workflowEnv, matrix: matrix, summaryFile: summaryFile)
        for (key, value) in (job["env"] as? [String: Any]) ?? [:] { context.workflowEnv[key] = try substitute(Self.string(value), context) }
        if let condition = job["if"] {
            // The job's own condition: the caller decides whether to run it; say when it would not.
            let run = try truthy(evaluate(Self.string(condition), context))
            if !run { return JobResult(status: 0, steps: [], summary: "", log: "job \(name) skipped by its condition\n") }
        }
        let before = log.count
        let steps = try XCTUnwrap(job["steps"] as? [[String: Any]], "job \(name) has no steps")
        let results = try runSteps(steps, context)
        let status = results.first { $0.ran && $0.status != 0 }?.status ?? 0
        let summary = (try? String(contentsOfFile: summaryFile, encoding: .utf8)) ?? ""
        return JobResult(status: status, steps: results, summary: summary, log: String(log.dropFirst(before)))
    }

    func runSteps(_ steps: [[String: Any]], _ context: Context) throws -> [StepResult] {
        for step in steps { if let id = step["id"] as? String { context.stepIDs.insert(id) } }
        var results: [StepResult] = []
        for (index, step) in steps.enumerated() {
            let id = step["id"] as? String
            let name = (step["name"] as? String) ?? (step["uses"] as? String) ?? "step \(index + 1)"
            let condition = (step["if"]).map { Self.string($0) } ?? "success()"
            guard try truthy(evaluate(condition, context)) else {
                results.append(StepResult(id: id, name: name, ran: false, status: 0, outputs: [:]))
                if let id { context.steps[id] = [:] }
                log += "--- \(name): skipped (\(condition))\n"
                continue
            }
            log += "--- \(name)\n"
            var result: StepResult
            if let script = step["run"] as? String {
                result = try runScript(script, step, context)
            } else if let uses = step["uses"] as? String {
                result = try runUses(uses, step, context)
            } else {
                fail("step \(name) neither runs nor uses")
                result = StepResult(id: id, name: name, ran: true, status: 1, outputs: [:])
            }
            result.id = id
            result.name = name
            if let id { context.steps[id] = result.outputs }
            if result.status != 0 {
                context.failed = true
                log += "--- \(name): exit \(result.status)\n"
            }
            results.append(result)
        }
        return results
    }

    /// The step's environment: the job's, GITHUB_ENV's, env.* and the step's own `env:`.
    func environment(_ step: [String: Any], _ context: Context) throws -> [String: String] {
        var env = context.env
        env.merge(context.workflowEnv) { $1 }
        env.merge(context.githubEnv) { $1 }
        for (key, value) in (step["env"] as? [String: Any]) ?? [:] { env[key] = try substitute(Self.string(value), context) }
        if !context.path.isEmpty { env["PATH"] = (context.path + [env["PATH"] ?? ""]).joined(separator: ":") }
        if let actionPath = context.actionPath {
            env["GITHUB_ACTION_PATH"] = actionPath
            env["GITHUB_ACTION_REPOSITORY"] = "confine-dev/confine"
        }
        return env
    }

    func runScript(_ script: String, _ step: [String: Any], _ context: Context) throws -> StepResult {
        let text = try substitute(script, context)
        let runnerTemp = context.env["RUNNER_TEMP"]!
        let base = runnerTemp + "/step-\(UUID().uuidString.prefix(8))"
        let files = ["GITHUB_OUTPUT": base + ".output", "GITHUB_ENV": base + ".env", "GITHUB_PATH": base + ".path"]
        for path in files.values { FileManager.default.createFile(atPath: path, contents: nil) }
        defer { for path in files.values { try? FileManager.default.removeItem(atPath: path) } }
        var env = try environment(step, context)
        env.merge(files) { $1 }
        env["GITHUB_STEP_SUMMARY"] = context.summaryFile
        let directory = (step["working-directory"] as? String).map { $0.hasPrefix("/") ? $0 : workspace + "/" + $0 } ?? workspace
        if let shell = step["shell"] as? String, shell != "bash" { fail("a step runs with shell \(shell)") }
        try ("cd '\(directory)'\n" + text + "\n").write(toFile: base + ".sh", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: base + ".sh") }
        let child = Harness.Child(["/usr/bin/env", "-i"] + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                                  + ["bash", "--noprofile", "--norc", "-eo", "pipefail", base + ".sh"])
        let result = child.wait()
        log += result.stdout + result.stderr
        let outputs = Self.parseOutputs((try? String(contentsOfFile: files["GITHUB_OUTPUT"]!, encoding: .utf8)) ?? "")
        for (key, value) in Self.parseOutputs((try? String(contentsOfFile: files["GITHUB_ENV"]!, encoding: .utf8)) ?? "") {
            context.githubEnv[key] = value
        }
        let added = ((try? String(contentsOfFile: files["GITHUB_PATH"]!, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        context.path = added.reversed() + context.path
        return StepResult(id: nil, name: "", ran: true, status: result.status, outputs: outputs)
    }

    /// NAME=value lines and NAME<<DELIMITER blocks (GITHUB_OUTPUT, GITHUB_ENV).
    static func parseOutputs(_ text: String) -> [String: String] {
        var outputs: [String: String] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        while let line = lines.popFirst() {
            if let range = line.range(of: "<<"), !line[..<range.lowerBound].contains("=") {
                let name = String(line[..<range.lowerBound]), delimiter = String(line[range.upperBound...])
                var value: [String] = []
                while let next = lines.popFirst(), next != delimiter { value.append(next) }
                outputs[name] = value.joined(separator: "\n")
            } else if let equals = line.firstIndex(of: "=") {
                outputs[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
        }
        return outputs
    }

    // MARK: uses

    func with(_ step: [String: Any], _ context: Context) throws -> [String: String] {
        var inputs: [String: String] = [:]
        for (key, value) in (step["with"] as? [String: Any]) ?? [:] { inputs[key] = try substitute(Self.string(value), context) }
        return inputs
    }

    func checkKeys(_ inputs: [String: String], _ known: Set<String>, _ uses: String) {
        for key in inputs.keys where !known.contains(key) { fail("\(uses): the simulation does not know the input \(key)") }
    }

    func runUses(_ uses: String, _ step: [String: Any], _ context: Context) throws -> StepResult {
        let inputs = try with(step, context)
        let ok = StepResult(id: nil, name: "", ran: true, status: 0, outputs: [:])
        switch uses {
        case "actions/checkout@v4":
            // The workspace is the checkout already (with its whole history).
            checkKeys(inputs, ["fetch-depth"], uses)
            return ok
        case "actions/upload-artifact@v4":
            checkKeys(inputs, ["name", "path", "if-no-files-found"], uses)
            let name = inputs["name"] ?? "artifact"
            let target = artifacts + "/" + name
            if FileManager.default.fileExists(atPath: target) { fail("artifact \(name) uploaded twice in one run (upload-artifact@v4 refuses)") }
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            var found = 0
            for path in (inputs["path"] ?? "").split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where !path.isEmpty {
                let source = path.hasPrefix("/") ? path : workspace + "/" + path
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else { continue }
                // A directory's contents go to the artifact's root, as upload-artifact does.
                let files = isDirectory.boolValue ? try FileManager.default.contentsOfDirectory(atPath: source).map { source + "/" + $0 } : [source]
                for file in files { try FileManager.default.copyItem(atPath: file, toPath: target + "/" + (file as NSString).lastPathComponent) }
                found += files.count
            }
            if found == 0 {
                log += "upload-artifact: no files found for \(name)\n"
                if inputs["if-no-files-found"] == "error" { return StepResult(id: nil, name: "", ran: true, status: 1, outputs: [:]) }
            }
            return ok
        case "actions/download-artifact@v4":
            checkKeys(inputs, ["name", "pattern", "path", "merge-multiple"], uses)
            let path = workspace + "/" + (inputs["path"] ?? ".")
            let names = try FileManager.default.contentsOfDirectory(atPath: artifacts).sorted()
            let chosen: [String]
            if let name = inputs["name"] {
                chosen = names.filter { $0 == name }
            } else {
                let pattern = inputs["pattern"] ?? "*"
                chosen = names.filter { fnmatch(pattern, $0, 0) == 0 }
            }
            guard !chosen.isEmpty else { return StepResult(id: nil, name: "", ran: true, status: 1, outputs: [:]) }
            for name in chosen {
                let target = inputs["name"] != nil || inputs["merge-multiple"] == "true" ? path : path + "/" + name
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                for file in try FileManager.default.contentsOfDirectory(atPath: artifacts + "/" + name) {
                    try FileManager.default.copyItem(atPath: artifacts + "/" + name + "/" + file, toPath: target + "/" + file)
                }
            }
            return ok
        case "dawidd6/action-download-artifact@v6":
            checkKeys(inputs, ["workflow", "branch", "name", "path", "if_no_artifact_found"], uses)
            XCTAssertEqual(inputs["branch"], "main", file: file, line: line)
            let name = inputs["name"] ?? ""
            let source = mainArtifacts + "/" + name
            guard FileManager.default.fileExists(atPath: source) else {
                log += "action-download-artifact: no artifact \(name) on main\n"
                return StepResult(id: nil, name: "", ran: true, status: inputs["if_no_artifact_found"] == "warn" ? 0 : 1, outputs: [:])
            }
            let target = workspace + "/" + (inputs["path"] ?? ".")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: source) {
                try? FileManager.default.removeItem(atPath: target + "/" + file)
                try FileManager.default.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
            }
            return ok
        case "marocchino/sticky-pull-request-comment@v2":
            checkKeys(inputs, ["header", "path"], uses)
            let path = workspace + "/" + (inputs["path"] ?? "")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else {
                fail("the comment's file \(inputs["path"] ?? "") does not exist or is empty")
                return StepResult(id: nil, name: "", ran: true, status: 1, outputs: [:])
            }
            comments.append(text)
            return ok
        default:
            let confine = ["confine-dev/confine", "./"]
            guard let prefix = confine.first(where: { uses.hasPrefix($0) }) else {
                fail("a step uses \(uses), which this simulation does not know")
                return StepResult(id: nil, name: "", ran: true, status: 1, outputs: [:])
            }
            var sub = String(uses.dropFirst(prefix.count))
            if prefix == "confine-dev/confine" {
                guard let at = sub.firstIndex(of: "@") else { fail("\(uses) has no version"); return ok }
                sub = String(sub[..<at]).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            }
            return try runAction(sub, inputs, context)
        }
    }

    /// One of this repository's composite actions (the root's, fan-in/, same-runner/).
    func runAction(_ sub: String, _ given: [String: String], _ outer: Context) throws -> StepResult {
        let actionPath = sub.isEmpty ? Harness.packageRoot.path : Harness.packageRoot.appendingPathComponent(sub).path
        let action = try Self.load(actionPath + "/action.yml")
        let declared = (action["inputs"] as? [String: Any]) ?? [:]
        var inputs: [String: String] = [:]
        for (name, spec) in declared {
            let spec = spec as? [String: Any] ?? [:]
            if let value = given[name] {
                inputs[name] = value
            } else if Self.string(spec["required"]) == "true" {
                fail("\(sub.isEmpty ? "the action" : sub): the required input \(name) is not given")
            } else {
                inputs[name] = Self.string(spec["default"])
            }
        }
        for name in given.keys where declared[name] == nil { fail("the action \(sub) has no input \(name)") }
        let runs = try XCTUnwrap(action["runs"] as? [String: Any])
        XCTAssertEqual(runs["using"] as? String, "composite", file: file, line: line)
        let context = Context(env: outer.env, workflowEnv: outer.workflowEnv, matrix: outer.matrix, summaryFile: outer.summaryFile)
        context.inputs = inputs
        context.actionPath = actionPath
        context.path = outer.path
        context.githubEnv = outer.githubEnv
        let inner = try runSteps(try XCTUnwrap(runs["steps"] as? [[String: Any]]), context)
        // GITHUB_PATH and GITHUB_ENV written inside the action hold for the job's later steps.
        outer.path = context.path
        outer.githubEnv = context.githubEnv
        var outputs: [String: String] = [:]
        for (name, spec) in (action["outputs"] as? [String: Any]) ?? [:] {
            outputs[name] = try substitute(Self.string((spec as? [String: Any])?["value"]), context)
        }
        let status = inner.first { $0.ran && $0.status != 0 }?.status ?? 0
        return StepResult(id: nil, name: "", ran: true, status: status, outputs: outputs, inner: inner)
    }

    // MARK: expressions

    enum Value: Equatable {
        case string(String), bool(Bool), null
        var text: String {
            switch self {
            case .string(let s): return s
            case .bool(let b): return b ? "true" : "false"
            case .null: return ""
            }
        }
    }

    struct UnknownExpression: Error, CustomStringConvertible { var description: String }

    func truthy(_ value: Value) -> Bool {
        switch value {
        case .string(let s): return !s.isEmpty
        case .bool(let b): return b
        case .null: return false
        }
    }

    /// Every `${{ … }}` in `text` replaced by its value; an unknown one fails the test (and throws).
    func substitute(_ text: String, _ context: Context) throws -> String {
        var result = ""
        var rest = text[...]
        while let open = rest.range(of: "${{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw UnknownExpression(description: "unclosed ${{ in \(text)") }
            result += try evaluate(String(rest[open.upperBound..<close.lowerBound]), context).text
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    func evaluate(_ expression: String, _ context: Context) throws -> Value {
        var source = expression.trimmingCharacters(in: .whitespaces)
        if source.hasPrefix("${{") && source.hasSuffix("}}") { source = String(source.dropFirst(3).dropLast(2)) }
        var parser = Parser(tokens: try Self.tokenize(source), runner: self, context: context)
        do {
            let value = try parser.or()
            guard parser.position == parser.tokens.count else { throw UnknownExpression(description: "trailing tokens") }
            return value
        } catch let error as UnknownExpression {
            fail("unknown expression `\(expression)`: \(error)")
            throw error
        }
    }

    static func tokenize(_ source: String) throws -> [String] {
        var tokens: [String] = []
        var chars = Array(source)[...]
        while let c = chars.first {
            if c == " " || c == "\t" || c == "\n" { chars.removeFirst(); continue }
            if c == "'" {
                chars.removeFirst()
                var literal = ""
                while let next = chars.popFirst() {
                    if next == "'" {
                        if chars.first == "'" { literal.append("'"); chars.removeFirst(); continue }
                        break
                    }
                    literal.append(next)
                }
                tokens.append("'" + literal)
                continue
            }
            let two = String(chars.prefix(2))
            if ["==", "!=", "&&", "||"].contains(two) { tokens.append(two); chars.removeFirst(2); continue }
            if "()!".contains(c) { tokens.append(String(c)); chars.removeFirst(); continue }
            var word = ""
            while let next = chars.first, next.isLetter || next.isNumber || "._-*".contains(next) { word.append(next); chars.removeFirst() }
            guard !word.isEmpty else { throw UnknownExpression(description: "unexpected \(c)") }
            tokens.append(word)
        }
        return tokens
    }

    struct Parser {
        var tokens: [String]
        var position = 0
        let runner: FakeGitHubRunner
        let context: Context

        mutating func next() -> String? { position < tokens.count ? tokens[position] : nil }

        mutating func or() throws -> Value {
            var left = try and()
            while next() == "||" { position += 1; let right = try and(); left = runner.truthy(left) ? left : right }
            return left
        }

        mutating func and() throws -> Value {
            var left = try equality()
            while next() == "&&" { position += 1; let right = try equality(); left = runner.truthy(left) ? right : left }
            return left
        }

        mutating func equality() throws -> Value {
            var left = try unary()
            while let op = next(), op == "==" || op == "!=" {
                position += 1
                let right = try unary()
                // GitHub compares strings case-insensitively; null equals only null.
                let equal = left == .null || right == .null ? left == right : left.text.lowercased() == right.text.lowercased()
                left = .bool(op == "==" ? equal : !equal)
            }
            return left
        }

        mutating func unary() throws -> Value {
            if next() == "!" { position += 1; return .bool(!runner.truthy(try unary())) }
            return try primary()
        }

        mutating func primary() throws -> Value {
            guard let token = next() else { throw UnknownExpression(description: "missing operand") }
            position += 1
            if token == "(" {
                let value = try or()
                guard next() == ")" else { throw UnknownExpression(description: "missing )") }
                position += 1
                return value
            }
            if token.hasPrefix("'") { return .string(String(token.dropFirst())) }
            if token == "true" || token == "false" { return .bool(token == "true") }
            if Double(token) != nil { return .string(token) }
            if ["always", "success", "failure", "cancelled"].contains(token) {
                guard next() == "(", position + 1 < tokens.count, tokens[position + 1] == ")" else {
                    throw UnknownExpression(description: "\(token) is a function")
                }
                position += 2
                switch token {
                case "always": return .bool(true)
                case "success": return .bool(!context.failed)
                case "failure": return .bool(context.failed)
                default: return .bool(false)
                }
            }
            return try runner.lookup(token, context)
        }
    }

    /// The contexts the table knows: inputs, matrix, env, vars, github, steps.
    func lookup(_ name: String, _ context: Context) throws -> Value {
        let parts = name.split(separator: ".").map(String.init)
        let rest = Array(parts.dropFirst())
        switch parts[0] {
        case "inputs":
            guard let inputs = context.inputs, rest.count == 1, let value = inputs[rest[0]] else {
                throw UnknownExpression(description: "\(name): no such input")
            }
            return .string(value)
        case "matrix":
            guard rest.count == 1, let value = context.matrix[rest[0]] else { throw UnknownExpression(description: "\(name): not in the matrix") }
            return .string(value)
        case "env":
            guard rest.count == 1, let value = context.workflowEnv[rest[0]] ?? context.githubEnv[rest[0]] else {
                throw UnknownExpression(description: "\(name): no such env")
            }
            return .string(value)
        case "vars":
            guard rest.count == 1 else { throw UnknownExpression(description: name) }
            return vars[rest[0]].map(Value.string) ?? .null
        case "steps":
            guard rest.count == 3, rest[1] == "outputs", context.stepIDs.contains(rest[0]) else {
                throw UnknownExpression(description: "\(name): no step with id \(rest.first ?? "")")
            }
            return context.steps[rest[0]]?[rest[2]].map(Value.string) ?? .string("")
        case "github":
            guard let key = rest.first else { throw UnknownExpression(description: name) }
            switch key {
            case "event_name": return .string(eventName)
            case "ref": return .string(ref)
            case "sha": return .string(sha)
            case "workspace": return .string(workspace)
            case "repository": return .string("example/app")
            case "action_path":
                guard let path = context.actionPath else { throw UnknownExpression(description: "github.action_path outside an action") }
                return .string(path)
            case "event":
                var node: Any? = event
                for part in rest.dropFirst() { node = (node as? [String: Any])?[part] }
                guard let node else { throw UnknownExpression(description: "\(name): not in the fake event") }
                return .string(Self.string(node))
            default: throw UnknownExpression(description: "\(name): not in the table")
            }
        default:
            throw UnknownExpression(description: "\(name): unknown context")
        }
    }
}
