#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// Shared memory a run leaves behind: tmpfs pages (POSIX shm in /dev/shm, files in a tmpfs
/// /tmp) stay charged to the group after every process of it has exited, as they do to a pod.
enum ShmemLeftovers {
    /// Regular files under `directory` (not recursing) whose contents changed at or after
    /// `since` (seconds since the epoch), as `name (size)`, largest first.
    static func files(in directory: String = "/dev/shm", changedSince since: Int) -> [String] {
        var found: [(name: String, bytes: Int64)] = []
        for entry in directoryEntries(directory) {
            var info = stat()
            guard lstat(directory + "/" + entry, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                  info.st_mtim.tv_sec >= since else { continue }
            found.append((directory + "/" + entry, Int64(info.st_blocks) * 512))
        }
        return found.sorted { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
            .map { "\($0.name) (\(ByteQuantity.human(UInt64(max(0, $0.bytes)))))" }
    }
}
