#if canImport(Glibc)
import Glibc
#endif
import ConfineProbe

/// Stands in for a function with a latency budget: 2 ms of "work".
public func calculateDiscount(_ amount: Int) -> Int {
    Probe.measure("calculate_discount") {
        usleep(2000)
        return amount / 10
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
