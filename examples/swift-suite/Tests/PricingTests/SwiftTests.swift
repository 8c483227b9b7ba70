#if canImport(Glibc)
import Glibc
#endif
import Pricing
import Testing

// Swift Testing runs these concurrently in one process unless --no-parallel. Memory of one
// process cannot be split between tests running at the same moment, so the big test waits
// until the small ones are done before it allocates (confine reports `concurrentTests` on each).
@Test func bigAllocation() {
    usleep(300_000)
    #expect(touchAndFree(mebibytes: 100) == 100 * 256)
}

@Test func smallOne() {
    #expect(touchAndFree(mebibytes: 1) == 256)
}

@Test("small two") func smallTwo() {
    #expect("confine".count == 7)
}

@Test func asyncQuotes() async {
    for _ in 0..<50 { #expect(await fetchQuote() == 42) }
}
