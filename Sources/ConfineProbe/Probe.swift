#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Per-function timings for confine (docs/probe-protocol.md).
///
///     let price = Probe.measure("calculate_discount") { calculateDiscount(order) }
///
/// Outside confine (`CONFINE_PROBE_SOCKET` unset) `measure` only calls the body. Under confine
/// each call appends one 32-byte record to an in-process buffer; the buffer goes to confine as
/// one datagram when it holds `batchSize` records, when it is older than `flushInterval`, and
/// at exit. A process killed before that loses its last batch; call `Probe.flush()` first
/// where that matters.
public enum Probe {
    /// Times `body` under `name`, rethrowing what it throws.
    @inlinable
    public static func measure<T, E: Error>(_ name: String, _ body: () throws(E) -> T) throws(E) -> T {
        guard let sink = ProbeSink.shared else { return try body() }
        let start = ProbeClock.nanoseconds()
        defer { sink.record(name, start: start, end: ProbeClock.nanoseconds(), bytes: nil) }
        return try body()
    }

    /// Times an async `body` under `name` (wall time, suspension included).
    @inlinable
    public static func measure<T>(_ name: String, isolation: isolated (any Actor)? = #isolation,
                                  _ body: () async throws -> T) async rethrows -> T {
        guard let sink = ProbeSink.shared else { return try await body() }
        let start = ProbeClock.nanoseconds()
        defer { sink.record(name, start: start, end: ProbeClock.nanoseconds(), bytes: nil) }
        return try await body()
    }

    /// Records a call measured elsewhere; `bytes` is whatever the caller counts (allocated, processed).
    public static func record(_ name: String, startNanoseconds: UInt64, durationNanoseconds: UInt64, bytes: Int64? = nil) {
        ProbeSink.shared?.record(name, start: startNanoseconds, end: startNanoseconds &+ durationNanoseconds, bytes: bytes)
    }

    /// Sends what is buffered now (before an intentional crash, say).
    public static func flush() { ProbeSink.shared?.flush() }

    /// True when the process runs under confine with a probe channel.
    public static var isEnabled: Bool { ProbeSink.shared != nil }

    /// Records dropped because confine could not be reached (sent to confine in later batches).
    public static var droppedRecords: UInt32 { ProbeSink.shared?.droppedCount ?? 0 }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock confine's timeline uses.
public enum ProbeClock {
    @inlinable
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

/// The wire format, version 1. Kept in step with ConfineCore's `ProbeWire` decoder.
public enum ProbeWireFormat {
    public static let magic: [UInt8] = Array("CPRB".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 20
    public static let recordSize = 32
    public static let kindCall: UInt8 = 1
    public static let flagBytes: UInt8 = 1
}

/// The process-wide buffer and socket. Internal to the library; `@usableFromInline` so that
/// `measure` inlines into the caller and costs two clock reads and one locked append.
public final class ProbeSink: Sendable {
    @usableFromInline
    static let shared: ProbeSink? = ProbeSink.fromEnvironment()

    @usableFromInline
    struct Pending: Sendable {
        var name: String
        var tid: UInt32
        var start: UInt64
        var duration: UInt64
        var bytes: Int64?
    }

    struct State: Sendable {
        var pending: [Pending] = []
        var oldest: UInt64 = 0
        var dropped: UInt32 = 0
    }

    let batchSize: Int
    let flushInterval: UInt64
    private let socket: Int32
    private let address: sockaddr_un
    private let state = Mutex(State())

    private init?(path: String, batchSize: Int, flushIntervalNanoseconds: UInt64) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        #if canImport(Glibc)
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        self.socket = fd
        self.address = address
        self.batchSize = batchSize
        self.flushInterval = flushIntervalNanoseconds
        state.withLock { $0.pending.reserveCapacity(batchSize) }
    }

    static func fromEnvironment() -> ProbeSink? {
        guard let raw = getenv("CONFINE_PROBE_SOCKET") else { return nil }
        let path = String(cString: raw)
        let batch = getenv("CONFINE_PROBE_BATCH").flatMap { Int(String(cString: $0)) } ?? 1024
        guard let sink = ProbeSink(path: path, batchSize: max(1, min(batch, 1800)),
                                   flushIntervalNanoseconds: 200_000_000) else { return nil }
        atexit { ProbeSink.shared?.flush() }
        return sink
    }

    var droppedCount: UInt32 { state.withLock { $0.dropped } }

    @usableFromInline
    func record(_ name: String, start: UInt64, end: UInt64, bytes: Int64?) {
        let entry = Pending(name: name, tid: ProbeSink.threadID(), start: start, duration: end &- start, bytes: bytes)
        let batch: [Pending]? = state.withLock { state in
            if state.pending.isEmpty { state.oldest = start }
            state.pending.append(entry)
            guard state.pending.count >= batchSize || end &- state.oldest >= flushInterval else { return nil }
            let full = state.pending
            state.pending.removeAll(keepingCapacity: true)
            return full
        }
        if let batch { send(batch) }
    }

    func flush() {
        let batch: [Pending] = state.withLock { state in
            let all = state.pending
            state.pending.removeAll(keepingCapacity: true)
            return all
        }
        if !batch.isEmpty { send(batch) }
    }

    /// Encodes one datagram and sends it, blocking while confine's queue is full (backpressure,
    /// never loss). If confine cannot be reached the records are counted as dropped.
    private func send(_ batch: [Pending]) {
        var names: [String: UInt16] = [:]
        var nameBytes: [UInt8] = []
        var records: [UInt8] = []
        records.reserveCapacity(batch.count * ProbeWireFormat.recordSize)
        for entry in batch {
            let index: UInt16
            if let known = names[entry.name] {
                index = known
            } else {
                index = UInt16(names.count)
                names[entry.name] = index
                let utf8 = Array(entry.name.utf8.prefix(1024))
                append(UInt16(utf8.count), to: &nameBytes)
                nameBytes += utf8
            }
            records.append(ProbeWireFormat.kindCall)
            records.append(entry.bytes == nil ? 0 : ProbeWireFormat.flagBytes)
            append(index, to: &records)
            append(entry.tid, to: &records)
            append(entry.start, to: &records)
            append(entry.duration, to: &records)
            append(UInt64(bitPattern: entry.bytes ?? 0), to: &records)
        }
        let dropped = state.withLock { $0.dropped }
        var datagram = ProbeWireFormat.magic
        datagram.append(ProbeWireFormat.version)
        datagram.append(0)
        append(UInt16(names.count), to: &datagram)
        append(UInt32(bitPattern: getpid()), to: &datagram)
        append(UInt32(batch.count), to: &datagram)
        append(dropped, to: &datagram)
        datagram += nameBytes
        datagram += records
        var address = self.address
        let sent = datagram.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    var result: Int
                    repeat {
                        result = sendto(socket, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), socketAddress,
                                        socklen_t(MemoryLayout<sockaddr_un>.size))
                    } while result < 0 && errno == EINTR
                    return result
                }
            }
        }
        if sent < 0 { state.withLock { $0.dropped &+= UInt32(batch.count) } }
    }

    private func append<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    /// gettid() is a system call; the answer is kept per thread.
    private static let tidKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    @usableFromInline
    static func threadID() -> UInt32 {
        if let cached = pthread_getspecific(tidKey) { return UInt32(truncatingIfNeeded: Int(bitPattern: cached)) }
        let tid = kernelThreadID()
        pthread_setspecific(tidKey, UnsafeRawPointer(bitPattern: Int(tid)))
        return tid
    }

    /// The kernel's thread id, from `/proc/thread-self` (`<pid>/task/<tid>`): Swift cannot call
    /// the variadic `syscall` and Glibc's module does not export `gettid`. Once per thread.
    private static func kernelThreadID() -> UInt32 {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return UInt32(bitPattern: getpid()) }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { UInt32($0) } ?? UInt32(bitPattern: getpid())
    }
}
