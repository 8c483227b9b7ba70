#if canImport(Glibc)
import Glibc
#endif
import ConfineProbe

/// Stands in for a function with a latency budget: exactly 2 ms of "work".
public func calculateDiscount(_ amount: Int) -> Int {
    Probe.measure("calculate_discount") {
        preciseSleep(nanoseconds: 2_000_000)
        return amount / 10
    }
}

/// Sleeps to 600 µs short of the deadline, then spins to it: a plain sleep overshoots by the
/// timer slack and the wake-up (50–500 µs on a busy machine), which would blur what the test checks.
func preciseSleep(nanoseconds: UInt64) {
    let deadline = ProbeClock.nanoseconds() + nanoseconds
    if nanoseconds > 600_000 { usleep(UInt32((nanoseconds - 600_000) / 1000)) }
    while ProbeClock.nanoseconds() < deadline {}
}

/// An async call with a latency budget (1 ms of waiting), probed across its suspension.
public func fetchQuote() async -> Int {
    await Probe.measure("fetch_quote") {
        try? await Task.sleep(nanoseconds: 1_000_000)
        return 42
    }
}

/// Allocates `mebibytes`, writes every page (so it is resident), frees it; returns a checksum.
public func touchAndFree(mebibytes: Int) -> Int {
    let count = mebibytes << 20
    let block = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
    defer { block.deallocate() }
    block.initialize(repeating: 1, count: count)
    var sum = 0
    for page in stride(from: 0, to: count, by: 4096) { sum &+= Int(block[page]) }
    return sum
}
