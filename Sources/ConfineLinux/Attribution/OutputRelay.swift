#if canImport(Glibc)
import Glibc
#endif

/// The target's stdout through confine: every byte passed on unchanged to confine's own
/// descriptor, and each complete line handed to a parser the moment it arrives.
///
/// The child writes to a pseudo-terminal, not a pipe: C stdio (and so Swift's `print`, which
/// XCTest and Swift Testing use) buffers whole blocks when stdout is a pipe, which would deliver
/// every test boundary at exit. On a terminal it flushes each line, as it does for a user.
/// Output post-processing is off, so bytes pass unchanged (no `\n` → `\r\n`).
public final class OutputRelay {
    /// The read end confine polls.
    public let fd: Int32
    /// The write end the child gets as its stdout or stderr (closed in confine after spawn).
    public private(set) var childFD: Int32
    let destination: Int32
    private var pending: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)
    /// Longest line kept for parsing; the rest of a longer line is passed on, not parsed.
    static let maximumLine = 64 * 1024
    public private(set) var isClosed = false

    public init(destination: Int32) throws(SystemError) {
        // posix_openpt and friends are hidden from Swift's Glibc module; their ioctls are not.
        let master = retryingEINTR { open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }
        guard master >= 0 else { throw SystemError("open", path: "/dev/ptmx", errno: errno) }
        var unlock: Int32 = 0
        let tiocsptlck: UInt = 0x4004_5431 // _IOW('T', 0x31, int)
        let tiocgptpeer: UInt = 0x5441 // _IO('T', 0x41): the peer, opened without a path (Linux 4.13)
        let slave = ioctl(master, tiocsptlck, &unlock) == 0 ? ioctl(master, tiocgptpeer, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1
        guard slave >= 0 else {
            let error = errno
            Glibc.close(master)
            throw SystemError("ioctl TIOCGPTPEER", path: "/dev/ptmx", errno: error)
        }
        var settings = termios()
        if tcgetattr(slave, &settings) == 0 {
            settings.c_oflag &= ~tcflag_t(OPOST)
            settings.c_lflag &= ~tcflag_t(ECHO | ICANON)
            _ = tcsetattr(slave, TCSANOW, &settings)
        }
        // The terminal's size, so column-aware output looks as it would for the user. Without one
        // (CI: a pipe or a file), as many rows as a terminal can say: a pager that stops at a
        // screenful (less -F, git's default) then never waits for a key nobody will press.
        var size = winsize()
        if ioctl(destination, UInt(TIOCGWINSZ), &size) != 0 || size.ws_col == 0 {
            size = winsize(ws_row: UInt16(Int16.max), ws_col: 160, ws_xpixel: 0, ws_ypixel: 0)
        }
        _ = ioctl(slave, UInt(TIOCSWINSZ), &size)
        fd = master
        childFD = slave
        self.destination = destination
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// After spawn: only the child holds the write end now, so EOF comes when it (and its children) are done.
    public func closeChildEnd() {
        if childFD >= 0 { Glibc.close(childFD) }
        childFD = -1
    }

    /// Reads what is available, passes it on, and — when `parsing` — calls `line` for each
    /// complete line. Not parsing (no runner found yet) the bytes only pass: no line is made of
    /// output nobody reads. Most of the relay's cost is the pseudo-terminal itself, not this
    /// (bench/relay-overhead: 388 → 371 ms median for 39 MB either way, within its noise).
    public func drain(parsing: Bool = true, _ line: (Substring) -> Void) {
        while !isClosed {
            let count = chunk.withUnsafeMutableBytes { buffer in retryingEINTR { read(fd, buffer.baseAddress, buffer.count) } }
            if count < 0 {
                // A pseudo-terminal whose last writer closed reads EIO, not EOF.
                guard errno == EIO else { return }
            }
            if count <= 0 {
                isClosed = true
                if !pending.isEmpty { emit(pending[...], line) }
                pending = []
                return
            }
            passOn(count)
            guard parsing else {
                pending.removeAll(keepingCapacity: true)
                continue
            }
            var start = 0
            // memchr, not a Swift loop over the bytes: a flood without newlines costs one call per read.
            while start < count, let index = newline(from: start, to: count) {
                if pending.isEmpty {
                    emit(chunk[start..<index], line)
                } else {
                    pending += chunk[start..<index]
                    emit(pending[...], line)
                    pending.removeAll(keepingCapacity: true)
                }
                start = index + 1
            }
            if start < count, pending.count < Self.maximumLine {
                pending += chunk[start..<min(count, start + Self.maximumLine - pending.count)]
            }
        }
    }

    private func newline(from start: Int, to end: Int) -> Int? {
        chunk.withUnsafeBytes { bytes in
            memchr(bytes.baseAddress! + start, 0x0A, end - start).map { $0 - UnsafeMutableRawPointer(mutating: bytes.baseAddress!) }
        }
    }

    private func emit(_ bytes: ArraySlice<UInt8>, _ line: (Substring) -> Void) {
        var text = String(decoding: bytes, as: UTF8.self)[...]
        if text.hasSuffix("\r") { text = text.dropLast() }
        line(text)
    }

    private func passOn(_ count: Int) {
        var offset = 0
        while offset < count {
            let written = chunk.withUnsafeBytes { buffer in retryingEINTR { write(destination, buffer.baseAddress! + offset, count - offset) } }
            if written < 0 {
                if errno == EAGAIN {
                    var ready = pollfd(fd: destination, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, 100)
                    continue
                }
                return // our own output is gone (closed pipe): keep parsing, stop passing on
            }
            offset += written
        }
    }

    public func close() {
        closeChildEnd()
        Glibc.close(fd)
    }
}
