#if canImport(Glibc)
import Glibc
#endif

/// `poll(2)` over a fixed list of optional descriptors, addressed by their position in it.
struct Poller {
    private var fds: [pollfd]
    /// Position in the list given → index in `fds` (nil: that source is absent).
    private let slots: [Int?]

    init(_ sources: [Int32?]) {
        var fds: [pollfd] = []
        slots = sources.map { fd in
            guard let fd else { return nil }
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            return fds.count - 1
        }
        self.fds = fds
    }

    /// Waits until a source is readable or CLOCK_MONOTONIC reaches `deadline` (seconds);
    /// true when a source is ready (an interrupted wait is false, as a timeout is).
    mutating func wait(until deadline: Double) -> Bool {
        let timeoutMs = Int32(max(0, ((deadline - monotonicSeconds()) * 1000).rounded(.up)))
        return fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMs) } > 0
    }

    /// The source at `position` was readable (or hung up) at the last wait.
    func isReady(_ position: Int) -> Bool { slots[position].map { fds[$0].revents != 0 } ?? false }

    /// Stops polling the source at `position` (a terminal at end of file stays readable).
    mutating func stopPolling(_ position: Int) {
        if let slot = slots[position] { fds[slot].fd = -1 }
    }
}
