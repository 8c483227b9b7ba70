#if canImport(Glibc)
import Glibc
#endif
@testable import ConfineCore
import ConfineProbe
import Synchronization
import XCTest

/// The Swift probe library against confine's decoder: what `Probe.measure` sends, from several
/// threads, is exactly what `ProbeWire` reads back. (The library reads CONFINE_PROBE_SOCKET
/// once, at first use: this test process points it at a socket of its own first.)
final class ProbeConformanceTests: XCTestCase {
    /// One path for the whole process (the library reads the variable once); each test binds
    /// and removes the socket there itself.
    static let directory = "/tmp/confine-probetest-\(getpid())"
    static let path: String = {
        setenv("CONFINE_PROBE_SOCKET", directory + "/probe.sock", 1)
        return directory + "/probe.sock"
    }()

    var receiver: Int32 = -1

    override func setUpWithError() throws {
        mkdir(Self.directory, 0o700)
        receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, byte) in Self.path.utf8.enumerated() { raw[i] = byte } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0, "bind \(Self.path)")
    }

    override func tearDown() {
        close(receiver)
        unlink(Self.path)
        rmdir(Self.directory)
    }

    /// Runs `body` while a second thread reads the socket (senders block when its queue is
    /// full, as they would with confine), then returns every datagram read.
    func receiving(_ body: () -> Void) -> [ProbeWire.Datagram] {
        let done = DispatchSemaphore(value: 0)
        let stop = StopFlag() // atomic: ThreadSanitizer caught a plain Bool here
        nonisolated(unsafe) var datagrams: [ProbeWire.Datagram] = []
        let fd = receiver
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            while true {
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&ready, 1, 50) <= 0 {
                    if stop.isSet { break } else { continue }
                }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { continue }
                datagrams.append(try! buffer.withUnsafeBytes { try ProbeWire.decode(UnsafeRawBufferPointer(rebasing: $0[0..<count])) })
            }
            done.signal()
        }
        body()
        stop.set()
        done.wait()
        return datagrams
    }

    func testWhatTheLibrarySendsIsWhatConfineReads() throws {
        XCTAssertTrue(Probe.isEnabled)
        let threads = 4, calls = 3000 // more than two batches per thread
        let datagrams = receiving {
            // Four threads of their own (a dispatch pool may run everything on one).
            let done = DispatchSemaphore(value: 0)
            for _ in 0..<threads {
                Thread.detachNewThread {
                    for i in 0..<calls {
                        let value = Probe.measure(i % 2 == 0 ? "even" : "odd") { i * 2 }
                        precondition(value == i * 2)
                    }
                    Probe.record("with bytes", startNanoseconds: ProbeClock.nanoseconds(), durationNanoseconds: 1500, bytes: 4096)
                    done.signal()
                }
            }
            for _ in 0..<threads { done.wait() }
            Probe.flush()
        }
        let records = datagrams.flatMap { datagram in datagram.records.map { (datagram.pid, $0) } }
        XCTAssertEqual(records.filter { $0.1.name == "even" }.count, threads * calls / 2)
        XCTAssertEqual(records.filter { $0.1.name == "odd" }.count, threads * calls / 2)
        let withBytes = records.filter { $0.1.name == "with bytes" }
        XCTAssertEqual(withBytes.count, threads)
        XCTAssertTrue(withBytes.allSatisfy { $0.1.bytes == 4096 && $0.1.durationNanoseconds == 1500 })
        XCTAssertTrue(records.allSatisfy { $0.0 == getpid() && $0.1.kind == .call })
        XCTAssertEqual(Set(records.map(\.1.tid)).count, threads, "thread ids are the kernel's, one per thread")
        let now = ProbeClock.nanoseconds()
        XCTAssertTrue(records.allSatisfy { $0.1.startNanoseconds <= now && $0.1.startNanoseconds > now - 60_000_000_000 })
        XCTAssertEqual(Probe.droppedRecords, 0)
    }

    func testAsyncMeasureSpansTheSuspension() async throws {
        let value = await Probe.measure("async") { () async -> Int in
            try? await Task.sleep(nanoseconds: 5_000_000)
            return 7
        }
        XCTAssertEqual(value, 7)
        let record = try XCTUnwrap(receiving { Probe.flush() }.flatMap(\.records).first { $0.name == "async" })
        XCTAssertGreaterThanOrEqual(record.durationNanoseconds, 5_000_000)
    }
}

/// A flag one thread sets and another polls.
private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
