/// Which test runner a command line is: the command confine was given (`swift test`, `env X=1
/// swift test`, `python3 -m pytest`) or a process the run exec'd (`/usr/bin/swift-test`, an
/// `.xctest` bundle, `make` → `swift test`). One place for the names, so the choice of reading the
/// runner's output, the process-tree detection and the silence warning agree.
///
/// Command lines are words as `/proc/PID/cmdline` gives them (a process table's command is its
/// words joined by spaces: split on spaces).
public enum RunnerDetection {
    /// The program of a word: its last path component (`/opt/swift/usr/bin/swift` → `swift`).
    static func program<S: StringProtocol>(_ word: S) -> Substring {
        let text = Substring(word)
        return text.split(separator: "/").last ?? text
    }

    /// The words after `env`, its `NAME=value` assignments and its options.
    static func afterEnv<S: StringProtocol>(_ words: [S]) -> ArraySlice<S> {
        var rest = words[...]
        guard let first = rest.first, program(first) == "env" else { return rest }
        rest = rest.dropFirst()
        while let word = rest.first, word.contains("=") || word.hasPrefix("-") {
            // env's options that take the next word: -u NAME, -C DIR.
            rest = rest.dropFirst(["-u", "--unset", "-C", "--chdir"].contains(word) ? 2 : 1)
        }
        return rest
    }

    /// `swift test …`, `swift-test …` (what the `swift` driver execs), an XCTest bundle run by
    /// SwiftPM (`….xctest`), or Swift Testing's `swiftpm-testing-helper`: output `swift test` prints.
    public static func isSwiftTest<S: StringProtocol>(_ words: [S]) -> Bool {
        let rest = afterEnv(words)
        guard let first = rest.first else { return false }
        let name = program(first)
        if name == "swift" { return rest.dropFirst().first.map { $0 == "test" } ?? false }
        return name == "swift-test" || name.hasSuffix(".xctest") || name == "swiftpm-testing-helper"
    }

    /// What a command runs: its program, or for a Python interpreter the module of `-m` or the
    /// script (a console script's process is `python /venv/bin/pytest …`); nil for `python -c`.
    static func target<S: StringProtocol>(_ words: [S]) -> Substring? {
        let rest = Array(afterEnv(words))
        guard let first = rest.first else { return nil }
        guard program(first).hasPrefix("python") else { return program(first) }
        var index = 1
        while index < rest.count {
            let word = rest[index]
            if word == "-m" { return index + 1 < rest.count ? Substring(rest[index + 1]) : nil }
            if word == "-c" { return nil }
            if word == "-X" || word == "-W" { index += 2; continue }   // options that take a value
            if !word.hasPrefix("-") { return program(word) }
            index += 1
        }
        return nil
    }

    /// `pytest …`, `py.test …`, `python3 -m pytest …`, `python /venv/bin/pytest …` (through `env` too).
    public static func isPytest<S: StringProtocol>(_ words: [S]) -> Bool {
        guard let target = target(words) else { return false }
        return target == "pytest" || target == "py.test"
    }

    /// A Python interpreter or pytest itself: confine's plugin reaches pytest through the
    /// environment, so the output needs no reading (and keeps its terminal).
    public static func isPython<S: StringProtocol>(_ words: [S]) -> Bool {
        guard let first = afterEnv(words).first else { return false }
        let name = program(first)
        return name.hasPrefix("python") || name == "pytest" || name == "py.test"
    }

    /// `tox`, as a program, `python -m tox` or `python /usr/bin/tox`: it strips the environment
    /// unless told otherwise.
    public static func isTox<S: StringProtocol>(_ words: [S]) -> Bool { target(words) == "tox" }

    /// `env -i …` / `env --ignore-environment …` / `env - …`: what follows starts from an empty environment.
    public static func clearsEnvironment<S: StringProtocol>(_ words: [S]) -> Bool {
        guard let first = words.first, program(first) == "env" else { return false }
        for word in words.dropFirst() {
            if word == "-i" || word == "--ignore-environment" || word == "-" { return true }
            if word.hasPrefix("-") && !word.hasPrefix("--") && word.dropFirst().contains("i") && !word.contains("=") { return true }
            if !word.hasPrefix("-") && !word.contains("=") { return false }   // the command: env's options end
        }
        return false
    }

    /// The same, for a process table's command (words joined by spaces).
    public static func words(_ command: String) -> [Substring] { command.split(separator: " ") }
}
