#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxKernel
import ConfineCore

/// A failed system call, naming the call and the file it was about.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String?
    public var errno: Int32

    public init(_ call: String, path: String? = nil, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(call)\(path.map { " \($0)" } ?? ""): \(errnoName(errno)) (\(String(cString: strerror(errno))))"
    }
}

/// Runs `body` until it stops failing with EINTR: the one place EINTR is retried (in Swift;
/// ConfineProbe, which cannot depend on ConfineLinux, has its own). On failure `errno` still
/// holds the call's error, for callers that look at others (EAGAIN, EIO) afterwards.
@inline(__always)
func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// Reads a whole (small) file: procfs, cgroupfs. `open(2)` + `read(2)`.
public func readTextFile(_ path: String) throws(SystemError) -> String {
    String(decoding: try readBinaryFile(path), as: UTF8.self)
}

/// Writes `text` to a new file at `path` (mode 0600, replacing one there); false with errno set.
public func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = retryingEINTR { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { buffer in retryingEINTR { write(fd, buffer.baseAddress, buffer.count) } }
        guard count > 0 else { return false }
        written += count
    }
    return true
}

/// A whole file's bytes.
public func readBinaryFile(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
    guard fd >= 0 else { throw SystemError("open", path: path, errno: errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = chunk.withUnsafeMutableBytes { buffer in
            retryingEINTR { read(fd, buffer.baseAddress, buffer.count) }
        }
        if count < 0 { throw SystemError("read", path: path, errno: errno) }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}

/// Writes `text` to an existing file in one `write(2)`, as cgroupfs expects (O_TRUNC, as a
/// shell `>` does: kernfs ignores it, regular files in a fake cgroupfs need it).
public func writeExistingFile(_ path: String, _ text: String) throws(SystemError) {
    let fd = retryingEINTR { open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) }
    guard fd >= 0 else { throw SystemError("open", path: path, errno: errno) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { buffer in retryingEINTR { write(fd, buffer.baseAddress, buffer.count) } }
    if written < 0 { throw SystemError("write '\(text.trimmingWhitespace())' to", path: path, errno: errno) }
}

/// `mkdir -p`.
public func makeDirectories(_ path: String) {
    var current = ""
    for component in path.split(separator: "/") {
        current += "/" + component
        mkdir(current, 0o755)
    }
}

/// An environment variable (`getenv(3)`), nil if unset or empty.
func environmentVariable(_ name: String) -> String? {
    guard let value = getenv(name), value.pointee != 0 else { return nil }
    return String(cString: value)
}

public func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

public func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// Where the symbolic link `path` points (`readlink(2)`, up to 4096 bytes); nil when it is not
/// a link or cannot be read.
func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4097)
    let length = readlink(path, &buffer, 4096)
    guard length > 0 else { return nil }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Names in a directory, without `.` and `..`. `opendir(3)` + `readdir(3)`.
public func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Removes `path` and everything below it, never following a symbolic link (a disk volume the
/// target wrote into may hold links to anywhere); what cannot be removed stays.
public func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        for entry in directoryEntries(path) { removeTree(path + "/" + entry) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Monotonic seconds (`clock_gettime(CLOCK_MONOTONIC)`).
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// A file kept open and re-read from offset 0 with `pread(2)`: the sampler's hot path
/// costs one syscall per file per sample, and no allocation.
final class KeptOpenFile {
    let path: String
    private let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer

    init?(_ path: String, capacity: Int = 8192) {
        let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        self.path = path
        self.fd = fd
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    /// The file's current contents, valid until the next call.
    func read() -> UnsafeRawBufferPointer? {
        let count = retryingEINTR { pread(fd, buffer.baseAddress, buffer.count, 0) }
        guard count >= 0 else { return nil }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    /// The file's contents read through a descriptor opened for this read alone, into the same
    /// buffer (valid until the next call): for files whose kept-open reads go stale — cgroup v1
    /// keeps the `cgroup.procs` list it loaded for an open file until it lies unread for a second
    /// (`cgroup_pidlist_start`), so a file read every 100 ms would never see a new member.
    func readReopening() -> UnsafeRawBufferPointer? {
        let fresh = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fresh >= 0 else { return nil }
        defer { close(fresh) }
        let count = retryingEINTR { pread(fresh, buffer.baseAddress, buffer.count, 0) }
        guard count >= 0 else { return nil }
        return UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    /// The first unsigned number in the file (`memory.current`, `pids.current`); nil for `max`.
    func readNumber() -> UInt64? {
        guard let bytes = read() else { return nil }
        return parseLeadingNumber(bytes)
    }
}

/// Runs a program with confine's environment and stdio and waits for it: `posix_spawn` then
/// `waitpid`, EINTR retried. Returns the wait status.
public func runToCompletion(_ arguments: [String]) throws(SystemError) -> Int32 {
    var pid: pid_t = 0
    let argv = CStringArray(arguments)
    let spawned = posix_spawn(&pid, arguments[0], nil, nil, argv.pointers, environ)
    guard spawned == 0 else { throw SystemError("posix_spawn", path: arguments[0], errno: spawned) }
    var status: Int32 = 0
    _ = retryingEINTR { waitpid(pid, &status, 0) }
    return status
}

/// The CPUs in `pid`'s affinity mask (`sched_getaffinity`): what `nproc` and
/// `os.process_cpu_count()` in that process report. Nil when it cannot be read (the process is gone).
func affinityCPUCount(of pid: Int32) -> Int? {
    let count = confine_affinity_cpu_count(pid)
    return count > 0 ? Int(count) : nil
}
