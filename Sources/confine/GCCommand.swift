import ArgumentParser
import ConfineCore
import ConfineLinux
import Foundation

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove cgroups, probe directories and disk volumes left behind by a confine that was killed before it could clean up."
    )

    @Flag(help: "List what would be removed without removing it.")
    var dryRun = false

    @Flag(help: "Also remove the groups of confine runs that are still running.")
    var all = false

    func run() throws {
        let driver: any CgroupDriver
        do {
            driver = try CgroupDrivers.detect()
        } catch {
            Stderr.write("confine gc: \(error)\n")
            throw ExitCode(ExitCodes.setupFailed)
        }
        let collector = GarbageCollector(driver: driver)
        if dryRun {
            for name in collector.leftovers(all: all) { print(name) }
            for directory in collector.leftoverProbeDirectories() + collector.leftoverVolumeDirectories() { print(directory) }
            return
        }
        var failed = false
        for removal in collector.collect(all: all) {
            if let error = removal.error {
                failed = true
                Stderr.write("confine gc: \(removal.name): \(error)\n")
            } else {
                print("removed \(removal.name)\(removal.killedProcesses > 0 ? " (killed \(removal.killedProcesses) processes)" : "")")
            }
        }
        for directory in collector.collectProbeDirectories() + collector.collectVolumeDirectories() { print("removed \(directory)") }
        if failed { throw ExitCode(ExitCodes.setupFailed) }
    }
}
