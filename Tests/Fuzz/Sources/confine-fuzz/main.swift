import ConfineFuzzTargets
import Foundation

// libFuzzer's driver with confine's parsers; the parser is chosen by CONFINE_FUZZ_TARGET.
// (SwiftPM renames an executable's main, so libFuzzer's own main() cannot be used: this one
// hands argc/argv to LLVMFuzzerRunDriver, linked in by -sanitize=fuzzer.)

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

let name = ProcessInfo.processInfo.environment["CONFINE_FUZZ_TARGET"] ?? ""
guard let target = FuzzTarget(rawValue: name) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("CONFINE_FUZZ_TARGET must be one of: \(names) (got '\(name)')\n".utf8))
    exit(2)
}
nonisolated(unsafe) var selected = target

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
