import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that this machine can run confine, and say how to fix what it cannot.",
        discussion: "Exits 0 when confine can run (warnings are limitations), 125 when it cannot."
    )

    @Option(help: ArgumentHelp("Check this cgroup directory instead of confine's own (a delegated subtree).", valueName: "dir"))
    var cgroupParent: String?

    func run() throws {
        let checks = Doctor.run(parentOverride: cgroupParent)
        let width = checks.map(\.name.count).max() ?? 10
        for check in checks {
            let mark = check.status == .ok ? "ok  " : check.status == .warn ? "warn" : "FAIL"
            print("\(mark)  \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)")
            if let fix = check.fix { print("      \(String(repeating: " ", count: width))  fix: \(fix)") }
        }
        let failed = checks.filter { $0.status == .fail }
        print(failed.isEmpty ? "confine can run here." : "confine cannot run here: \(failed.map(\.name).joined(separator: ", ")).")
        if !failed.isEmpty { throw ExitCode(ExitCodes.setupFailed) }
    }
}
