import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// confine's own messages to stderr. Written with write(2), errors ignored: Foundation's
/// `FileHandle.write` traps (SIGILL) when the write fails — stderr piped to a reader that went
/// away (`| head`), or to a full disk — and a report must still be written and the exit code kept.
enum Stderr {
    static func write(_ text: String) { ConsoleWrite.all(Array(text.utf8), to: 2) }
    static func write(_ data: Data) { ConsoleWrite.all([UInt8](data), to: 2) }
}

/// What confine prints on stdout (`confine report`, `profile import`), as `Stderr` writes.
enum Stdout {
    static func write(_ text: String) { ConsoleWrite.all(Array(text.utf8), to: 1) }
}

enum ConsoleWrite {
    static func all(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
