#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's release (`uname -r`), for the report and seccomp's `minKernel`.
public func kernelRelease() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// Now as RFC 3339 UTC (`2026-11-22T10:54:49Z`), the report's `startedAt`.
public func rfc3339Now() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
