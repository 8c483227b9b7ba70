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

    /// Records dropped because confine could not be reached (reported to confine in later batches).
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

/// The socket and the per-thread buffers. Internal to the library; `@usableFromInline` so
/// that `measure` inlines into the caller and costs two clock reads and a 32-byte store: each
/// thread fills its own buffer (no lock), and sends it itself when full or old.
public final class ProbeSink: @unchecked Sendable {
    @usableFromInline
    static let shared: ProbeSink? = ProbeSink.fromEnvironment()

    let batchSize: Int
    let flushInterval: UInt64
    private let socket: Int32
    private let address: sockaddr_un
    /// Every thread's buffer, for the flush at exit.
    fileprivate let buffers = LockedBuffers()
    private let dropped = Atomic<UInt32>(0)
    private let key: pthread_key_t

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
        var key = pthread_key_t()
        // A thread that ends sends what it buffered, and its buffer goes (a program that starts
        // threads by the thousand must not keep a batch for each).
        guard pthread_key_create(&key, { raw in
            guard let raw, let sink = ProbeSink.shared else { return }
            let buffer = Unmanaged<ThreadBuffer>.fromOpaque(raw).takeUnretainedValue()
            sink.send(buffer)
            sink.buffers.withLock { $0.removeAll { $0 === buffer } }
        }) == 0 else { return nil }
        self.key = key
        self.socket = fd
        self.address = address
        self.batchSize = batchSize
        self.flushInterval = flushIntervalNanoseconds
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

    var droppedCount: UInt32 { dropped.load(ordering: .relaxed) }

    @usableFromInline
    func record(_ name: String, start: UInt64, end: UInt64, bytes: Int64?) {
        guard let raw = pthread_getspecific(key) else {
            let buffer = newBuffer()
            if buffer.append(name, start: start, duration: end &- start, bytes: bytes, flushInterval: flushInterval) { send(buffer) }
            return
        }
        // The thread's buffer lives as long as the sink (registered in `buffers`): no retain needed.
        let full = Unmanaged<ThreadBuffer>.fromOpaque(raw)._withUnsafeGuaranteedRef {
            $0.append(name, start: start, duration: end &- start, bytes: bytes, flushInterval: flushInterval)
        }
        if full { send(Unmanaged<ThreadBuffer>.fromOpaque(raw).takeUnretainedValue()) }
    }

    private func newBuffer() -> ThreadBuffer {
        let buffer = ThreadBuffer(tid: ProbeSink.kernelThreadID(), capacity: batchSize)
        buffers.withLock { $0.append(buffer) }
        pthread_setspecific(key, Unmanaged.passUnretained(buffer).toOpaque())
        return buffer
    }

    /// Sends every thread's buffer (at exit, and from `Probe.flush()`).
    func flush() {
        for buffer in buffers.withLock({ $0 }) { send(buffer) }
    }

    /// One datagram per buffer: header, the batch's names, the records as the thread wrote them.
    /// Blocks while confine's queue is full (backpressure, never loss); if confine cannot be
    /// reached the records are counted as dropped and the count travels in later headers.
    func send(_ buffer: ThreadBuffer) {
        guard let batch = buffer.take() else { return }
        let count = batch.count
        var datagram = [UInt8]()
        datagram.reserveCapacity(ProbeWireFormat.headerSize + batch.nameBytes.count + batch.records.count)
        datagram += ProbeWireFormat.magic
        datagram.append(ProbeWireFormat.version)
        datagram.append(0)
        append(UInt16(batch.names), to: &datagram)
        append(UInt32(bitPattern: getpid()), to: &datagram)
        append(UInt32(count), to: &datagram)
        append(dropped.load(ordering: .relaxed), to: &datagram)
        datagram += batch.nameBytes
        datagram += batch.records
        var address = self.address
        let sent = datagram.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    retryingEINTR {
                        sendto(socket, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), socketAddress,
                               socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
        }
        if sent < 0 { dropped.add(UInt32(count), ordering: .relaxed) }
    }

    private func append<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    /// The kernel's thread id, from `/proc/thread-self` (`<pid>/task/<tid>`): Swift cannot call
    /// the variadic `syscall` and Glibc's module does not export `gettid`. Once per thread.
    static func kernelThreadID() -> UInt32 {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return UInt32(bitPattern: getpid()) }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { UInt32($0) } ?? UInt32(bitPattern: getpid())
    }
}

/// The list of thread buffers behind a pthread mutex, which ThreadSanitizer understands.
/// Synchronization's `Mutex` locks with an atomic word and futex calls inside a runtime library
/// not built for ThreadSanitizer: two threads ending at once (each removing its buffer) were
/// reported as a race on the list.
final class LockedBuffers: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var buffers: [ThreadBuffer] = []

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: (inout [ThreadBuffer]) -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&buffers)
    }
}

/// One thread's batch, in wire format already: records are written where they will be sent from.
/// Its state sits behind a pointer (no dynamic exclusivity checks on the hot path) and a spin
/// lock that only the exit flush ever contends for.
final class ThreadBuffer: @unchecked Sendable {
    struct State {
        var count = 0
        var oldest: UInt64 = 0
        var lastName = ""
        var lastIndex: UInt16 = 0
        var names: [String] = []
        var nameIndex: [String: UInt16] = [:]
        var nameBytes: [UInt8] = []
    }

    let tid: UInt32
    let capacity: Int
    let records: UnsafeMutableRawPointer
    let state: UnsafeMutablePointer<State>
    private let lock = Atomic<Bool>(false)

    init(tid: UInt32, capacity: Int) {
        self.tid = tid
        self.capacity = capacity
        records = .allocate(byteCount: capacity * ProbeWireFormat.recordSize, alignment: 8)
        state = .allocate(capacity: 1)
        state.initialize(to: State())
    }

    deinit {
        records.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    @inline(__always)
    func withLock<T>(_ body: () -> T) -> T {
        while lock.exchange(true, ordering: .acquiring) {}
        defer { lock.store(false, ordering: .releasing) }
        return body()
    }

    /// Appends one call; true when the batch should be sent now.
    @inline(__always)
    func append(_ name: String, start: UInt64, duration: UInt64, bytes: Int64?, flushInterval: UInt64) -> Bool {
        withLock {
            let index = self.index(of: name)
            let used = state.pointee.count
            if used == 0 { state.pointee.oldest = start }
            let slot = records + used * ProbeWireFormat.recordSize
            slot.storeBytes(of: ProbeWireFormat.kindCall, as: UInt8.self)
            slot.storeBytes(of: bytes == nil ? 0 : ProbeWireFormat.flagBytes, toByteOffset: 1, as: UInt8.self)
            slot.storeBytes(of: index.littleEndian, toByteOffset: 2, as: UInt16.self)
            slot.storeBytes(of: tid.littleEndian, toByteOffset: 4, as: UInt32.self)
            slot.storeBytes(of: start.littleEndian, toByteOffset: 8, as: UInt64.self)
            slot.storeBytes(of: duration.littleEndian, toByteOffset: 16, as: UInt64.self)
            slot.storeBytes(of: (bytes ?? 0).littleEndian, toByteOffset: 24, as: Int64.self)
            state.pointee.count = used + 1
            return used + 1 >= capacity || start &- state.pointee.oldest >= flushInterval
        }
    }

    @inline(__always)
    private func index(of name: String) -> UInt16 {
        if state.pointee.count > 0, name == state.pointee.lastName { return state.pointee.lastIndex }
        let found = state.pointee.nameIndex[name] ?? intern(name)
        state.pointee.lastName = name
        state.pointee.lastIndex = found
        return found
    }

    private func intern(_ name: String) -> UInt16 {
        let utf8 = Array(name.utf8.prefix(1024))
        let index = UInt16(state.pointee.names.count)
        withUnsafeBytes(of: UInt16(utf8.count).littleEndian) { state.pointee.nameBytes.append(contentsOf: $0) }
        state.pointee.nameBytes += utf8
        state.pointee.names.append(name)
        state.pointee.nameIndex[name] = index
        return index
    }

    /// The batch as a datagram body (names, records), and the buffer emptied; nil when empty.
    func take() -> (names: Int, nameBytes: [UInt8], records: [UInt8], count: Int)? {
        withLock {
            let count = state.pointee.count
            guard count > 0 else { return nil }
            let taken = (state.pointee.names.count, state.pointee.nameBytes,
                         Array(UnsafeRawBufferPointer(start: records, count: count * ProbeWireFormat.recordSize)), count)
            state.pointee.count = 0
            state.pointee.names.removeAll(keepingCapacity: true)
            state.pointee.nameIndex.removeAll(keepingCapacity: true)
            state.pointee.nameBytes.removeAll(keepingCapacity: true)
            return taken
        }
    }
}

/// Runs `body` until it stops failing with EINTR: this library's one place EINTR is retried.
/// ConfineProbe is linked into targets and depends on nothing, so it cannot share ConfineLinux's
/// `retryingEINTR` (Syscalls.swift).
@inline(__always)
private func retryingEINTR(_ body: () -> Int) -> Int {
    var result: Int
    repeat { result = body() } while result < 0 && errno == EINTR
    return result
}
