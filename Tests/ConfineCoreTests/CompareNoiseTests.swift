import XCTest
@testable import ConfineCore

/// Comparisons that do not cry wolf (issue 18): seeded suites of short tests with the noise of a
/// busy machine (log-normal spread plus rare heavy outliers), compared as a single pair and as
/// rounds. The gate's false-alarm rate is measured over many same-distribution comparisons
/// (bench/compare-noise prints it precisely; asserted loosely here).
final class CompareNoiseTests: XCTestCase {
    /// A suite of `count` tests of 2–20 ms; `slow` names tests made `factor` slower; every
    /// duration gets the machine's noise (`sigma` log-normal, 1 in 50 runs 2–6× slower); `speed`
    /// scales every test (another machine).
    struct Suite {
        var count = 300
        var slow: Set<Int> = []
        var factor = 1.6
        var sigma = 0.15
        var speed = 1.0

        func run(_ random: inout Fixtures.Random, hostname: String = "runner-a") -> RunReport {
            var tests: [TestRecord] = []
            for index in 0..<count {
                // The test's own length, the same in every run: 2–20 ms spread over the suite.
                let length = 0.002 + 0.018 * Double((index * 7919) % count) / Double(count)
                var duration = length * (slow.contains(index) ? factor : 1) * speed
                let normal = (-2 * log(max(random.uniform(), 1e-300))).squareRoot() * cos(2 * Double.pi * random.uniform())
                duration *= exp(sigma * normal)
                if random.uniform() < 0.02 { duration *= 2 + 4 * random.uniform() }
                var test = Fixtures.test("t.py::test_\(index)", duration: duration, peak: 30 << 20, growth: 0)
                test.cpuSeconds = duration * 0.9
                test.unreclaimablePeakBytes = 30 << 20
                tests.append(test)
            }
            var report = Fixtures.report(tests: tests, duration: tests.compactMap(\.durationSeconds).reduce(0, +) + 0.5)
            report.host.hostname = hostname
            report.host.cpuModel = "model"
            report.memory.unreclaimablePeakBytes = 40 << 20
            return report
        }
    }

    func compare(base: [RunReport], head: [RunReport]) throws -> Comparison {
        try Comparator.compare(bases: base.enumerated().map { ("base-\($0.offset).json", $0.element) },
                               heads: head.enumerated().map { ("head-\($0.offset).json", $0.element) })
    }

    func rounds(_ suite: Suite, _ count: Int, _ random: inout Fixtures.Random, hostname: String = "runner-a") -> [RunReport] {
        (0..<count).map { _ in suite.run(&random, hostname: hostname) }
    }

    func testTheSameCodeAsASinglePairAndAsRoundsPassesTheGate() throws {
        var random = Fixtures.Random(state: 18)
        let suite = Suite()
        let pair = try compare(base: [suite.run(&random)], head: [suite.run(&random)])
        XCTAssertFalse(pair.hasRegression, pair.regressions.map { "\($0.name) \($0.metric) \(Format.change($0.change))" }.description)
        XCTAssertTrue(pair.notes.contains { $0.hasPrefix("one run per side") })
        let fiveRounds = try compare(base: rounds(suite, 5, &random), head: rounds(suite, 5, &random))
        XCTAssertFalse(fiveRounds.hasRegression, fiveRounds.regressions.map { "\($0.name) \($0.metric) \(Format.change($0.change))" }.description)
        XCTAssertTrue(fiveRounds.notes.isEmpty)
    }

    func testThreeTestsMadeSixtyPercentSlowerAreFoundFromFiveRounds() throws {
        var random = Fixtures.Random(state: 1818)
        let slowed: Set<Int> = [17, 140, 251]
        let comparison = try compare(base: rounds(Suite(), 5, &random), head: rounds(Suite(slow: slowed), 5, &random))
        let flagged = Set(comparison.regressions.filter { $0.kind == "test" }.map(\.name))
        let expected = Set(slowed.map { "t.py::test_\($0)" })
        XCTAssertTrue(expected.isSubset(of: flagged), "found \(flagged.sorted()); "
                      + comparison.rows.filter { expected.contains($0.name) && $0.metric == "duration" }
                      .map { "\($0.name) \($0.verdict) \(Format.changeWithInterval($0)) q \($0.qValue ?? -1) p \($0.pValue ?? -1) \($0.base ?? 0) \($0.head ?? 0)" }.description)
        XCTAssertLessThanOrEqual(flagged.subtracting(expected).count, 2, "others flagged: \(flagged.subtracting(expected).sorted())")
        let row = try XCTUnwrap(comparison.regressions.first { $0.name == "t.py::test_17" && $0.metric == "duration" })
        XCTAssertEqual(row.change ?? 0, 0.6, accuracy: 0.25)
        XCTAssertLessThan(row.changeLow ?? 1, 0.6)
        XCTAssertGreaterThan(row.changeHigh ?? 0, 0.6)
        XCTAssertLessThanOrEqual(row.qValue ?? 1, Comparator.falseDiscoveryRate)
        XCTAssertEqual(row.baseRounds, 5)
    }

    func testASinglePairShowsAFarChangeAsSeenOnceWithoutFailingTheGate() throws {
        var random = Fixtures.Random(state: 7)
        let comparison = try compare(base: [Suite(sigma: 0.05).run(&random)], head: [Suite(slow: [42], factor: 4, sigma: 0.05).run(&random)])
        XCTAssertFalse(comparison.hasRegression)
        XCTAssertTrue(comparison.rows.contains { $0.name == "t.py::test_42" && $0.metric == "duration" && $0.verdict == .seenOnce })
    }

    /// Same-distribution comparisons, seeded: the gate fails on noise in under 5% of them
    /// (asserted at 10%: 100 repetitions hold few events; bench/compare-noise runs more).
    func testTheGatesFalseAlarmRateIsLow() throws {
        var alarms = 0
        let repetitions = 100
        for seed in 0..<UInt64(repetitions) {
            var random = Fixtures.Random(state: 9000 + seed)
            let suite = Suite(count: 200)
            if try compare(base: rounds(suite, 5, &random), head: rounds(suite, 5, &random)).hasRegression { alarms += 1 }
        }
        XCTAssertLessThan(Double(alarms) / Double(repetitions), 0.10, "\(alarms) false alarms in \(repetitions)")
    }

    /// A baseline from another machine 30% slower at everything: no test fails the gate; the
    /// drift is stated, and a real change cannot be told from the machine: inconclusive.
    func testAnotherMachinesUniformSlowdownDoesNotFailTheGate() throws {
        var random = Fixtures.Random(state: 31)
        let base = rounds(Suite(), 5, &random, hostname: "runner-a")
        let head = rounds(Suite(slow: [5], factor: 2.5, speed: 1.3), 5, &random, hostname: "runner-b")
        let comparison = try compare(base: base, head: head)
        XCTAssertTrue(comparison.acrossRunners)
        XCTAssertFalse(comparison.hasRegression, comparison.regressions.map(\.name).description)
        XCTAssertEqual(comparison.typicalTestChange ?? 0, 0.3, accuracy: 0.08)
        XCTAssertTrue(comparison.notes.contains { $0.hasPrefix("base and head ran on different machines") })
        let five = comparison.rows.first { $0.name == "t.py::test_5" && $0.metric == "duration" }
        XCTAssertEqual(five?.verdict, .inconclusive, five.map { "\(Format.changeWithInterval($0)) q \($0.qValue ?? -1) \($0.base ?? 0) \($0.head ?? 0)" } ?? "")
    }

    /// A 30% shift of a probed function's latency is found from one pair (every call is evidence).
    func testALatencyShiftOfAProbedFunctionIsFoundFromOnePair() throws {
        var base = Fixtures.report(functions: [Fixtures.function("f", Fixtures.samples(seed: 1, count: 2000))])
        var head = Fixtures.report(functions: [Fixtures.function("f", Fixtures.samples(seed: 2, count: 2000, scale: 1.3))])
        base.host.hostname = "a"
        head.host.hostname = "a"
        let comparison = try compare(base: [base], head: [head])
        let row = try XCTUnwrap(comparison.rows.first { $0.kind == "function" })
        XCTAssertEqual(row.verdict, .regression)
        XCTAssertEqual(row.baseCalls, 2000)
    }

    func testStudentTMatchesKnownValues() {
        XCTAssertEqual(StudentT.upperTail(2.228, degrees: 10), 0.025, accuracy: 0.0005)
        XCTAssertEqual(StudentT.quantile(0.975, degrees: 4), 2.776, accuracy: 0.002)
        XCTAssertEqual(StudentT.upperTail(0, degrees: 3), 0.5, accuracy: 1e-9)
    }

    func testBenjaminiHochberg() {
        let q = NoiseModel.benjaminiHochberg([(0, 0.01), (1, 0.04), (2, 0.03), (3, 0.5)]).sorted { $0.index < $1.index }.map(\.q)
        XCTAssertEqual(q[0], 0.04, accuracy: 1e-12)
        XCTAssertEqual(q[1], 0.04 * 4 / 3, accuracy: 1e-12)
        XCTAssertEqual(q[2], 0.04 * 4 / 3, accuracy: 1e-12)
        XCTAssertEqual(q[3], 0.5, accuracy: 1e-12)
    }

    /// Found by a newcomer: a test OOM-killed or timed out in every head run vanished, and a
    /// test that failed fast counted as faster. Only passed runs are timed; outcomes compare on their own.
    func testATestThatStoppedPassingIsARegressionNotAFasterTest() throws {
        var random = Fixtures.Random(state: 77)
        let base = rounds(Suite(count: 50), 5, &random)
        var head = rounds(Suite(count: 50), 5, &random)
        for round in head.indices {
            head[round].tests[9].outcome = .oomKilled
            head[round].tests[10].outcome = .failed
            head[round].tests[10].durationSeconds = 0.0001
            if round < 2 { head[round].tests[11].outcome = .timedOut }
        }
        let comparison = try compare(base: base, head: head)
        let outcome = { (n: Int) in comparison.rows.first { $0.name == "t.py::test_\(n)" && $0.metric == "outcome" }?.verdict }
        XCTAssertEqual(outcome(9), .regression)
        XCTAssertEqual(outcome(10), .regression)
        XCTAssertEqual(outcome(11), .inconclusive, "timed out in 2 of 5 head runs: flaky")
        XCTAssertNil(comparison.rows.first { $0.name == "t.py::test_10" && $0.metric == "duration" && $0.verdict == .improvement },
                     "a failed run's duration is not a speed")
        XCTAssertEqual(comparison.rows.first { $0.name == "t.py::test_11" && $0.metric == "duration" }?.headRounds, 3)
        XCTAssertTrue(comparison.hasRegression)
    }

    func testTheSameRunTwiceOnOneSideIsRefused() throws {
        var random = Fixtures.Random(state: 5)
        let run = Suite(count: 20).run(&random)
        XCTAssertThrowsError(try compare(base: [run, run], head: rounds(Suite(count: 20), 2, &random))) { error in
            XCTAssertTrue("\(error)".contains("is the same run as base-0.json"), "\(error)")
        }
    }

    /// Two base runs are too few to gate: a change is seen once at most, and the note says why.
    func testFewerThanThreeRoundsASideDoNotFailTheGate() throws {
        var random = Fixtures.Random(state: 99)
        let comparison = try compare(base: rounds(Suite(), 2, &random), head: rounds(Suite(slow: [3], factor: 3), 5, &random))
        XCTAssertFalse(comparison.hasRegression)
        XCTAssertTrue(comparison.notes.contains { $0.contains("at least 3 runs on each side") }, comparison.notes.description)
    }

    /// Across machines the p-values are of the change net of the machine: a test that moved only
    /// with the machine is not significant.
    func testAcrossMachinesTheEvidenceIsNetOfTheMachine() throws {
        var random = Fixtures.Random(state: 12)
        let comparison = try compare(base: rounds(Suite(), 5, &random, hostname: "a"), head: rounds(Suite(speed: 1.3), 5, &random, hostname: "b"))
        let durations = comparison.rows.filter { $0.kind == "test" && $0.metric == "duration" }
        let significant = durations.filter { ($0.qValue ?? 1) <= 0.05 }
        XCTAssertLessThanOrEqual(significant.count, 3, "moved with the machine only: \(significant.count) of \(durations.count) significant")
    }
}
