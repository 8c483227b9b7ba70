#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

// The host confine runs on: its kernel, its clock, its own executable.

/// The running kernel's release (`uname -r`, e.g. `6.18.0-1-cloud-amd64`), from `uname(2)`'s
/// `release` field: for the report's `host.kernel` and seccomp's `minKernel`. `KernelVersion`
/// parses it.
public func kernelRelease() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The running kernel is at least `major.minor` (`KernelVersion` of `kernelRelease()`); false
/// when the release holds no version.
func kernelIsAtLeast(_ major: Int, _ minor: Int) -> Bool {
    KernelVersion(release: kernelRelease()).map { $0 >= KernelVersion(major, minor) } ?? false
}

/// Now as RFC 3339 UTC (`2026-11-22T10:54:49Z`), the report's `startedAt`: `time(2)`, whole seconds.
public func rfc3339Now() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// This binary's absolute path: the `/proc/self/exe` link (proc(5)), read with `readlink(2)`;
/// `argv[0]` when it cannot be read.
public func executablePath() -> String {
    readLink("/proc/self/exe") ?? CommandLine.arguments[0]
}

extension RunReport.Host {
    /// This machine as a report describes it: `uname -r` and the online CPUs
    /// (`_SC_NPROCESSORS_ONLN`); the run's cgroup paths and join method are added by the run.
    public static func current(layout: CgroupLayoutKind) -> RunReport.Host {
        var host = RunReport.Host(kernel: kernelRelease(), cgroupLayout: layout, cgroups: [:], cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        host.hostname = nodeName()
        host.cpuModel = cpuModelName()
        return host
    }
}

/// `uname(2)`'s nodename.
func nodeName() -> String? {
    var names = utsname()
    guard uname(&names) == 0 else { return nil }
    return withUnsafeBytes(of: &names.nodename) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The first `model name` line of /proc/cpuinfo (x86; other architectures may have none).
func cpuModelName() -> String? {
    guard let text = try? readTextFile("/proc/cpuinfo") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        return String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
    }
    return nil
}
