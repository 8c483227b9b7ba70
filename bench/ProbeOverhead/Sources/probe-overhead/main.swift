// Prints "bare <ns/iteration> probed <ns/iteration>" as the median of `rounds` rounds of
// `iterations` calls, bare and probed interleaved round by round.
#if canImport(Glibc)
import Glibc
#endif
import ConfineProbe

@inline(never)
func work(_ value: Int) -> Int { value &* 31 &+ 7 }

@inline(never)
func blackHole(_ value: Int) { if value == 42 { print("") } }

let arguments = CommandLine.arguments
let iterations = arguments.count > 1 ? Int(arguments[1])! : 1_000_000
let rounds = arguments.count > 2 ? Int(arguments[2])! : 15

func time(_ body: () -> Void) -> Double {
    let start = ProbeClock.nanoseconds()
    body()
    return Double(ProbeClock.nanoseconds() - start) / Double(iterations)
}

var bare: [Double] = []
var probed: [Double] = []
for _ in 0..<rounds {
    bare.append(time { for i in 0..<iterations { blackHole(work(i)) } })
    probed.append(time { for i in 0..<iterations { blackHole(Probe.measure("hot_loop") { work(i) }) } })
}
Probe.flush()
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
print("bare \(median(bare)) probed \(median(probed)) enabled \(Probe.isEnabled) dropped \(Probe.droppedRecords)")
