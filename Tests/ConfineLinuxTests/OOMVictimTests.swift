@testable import ConfineLinux
import ConfineCore
import Foundation
import XCTest

/// Each OOM victim's parent and RSS at the kill, and the stall watch that calls out a group left
/// idle after one: on kernel text captured from this machine's kernel (6.18) and readings made up.
final class OOMVictimTests: XCTestCase {
    let fixtures = Bundle.module.resourcePath! + "/Fixtures"

    /// kmsg records, one a line, continuation lines escaped as `\n` (as the fixtures are stored).
    func records(_ name: String) throws -> [String] {
        try String(contentsOfFile: fixtures + "/" + name, encoding: .utf8).split(separator: "\n")
            .map { $0.replacingOccurrences(of: "\\n", with: "\n") }
    }

    // MARK: the "Killed process" line

    /// A `multiprocessing.Pool` worker killed under `--memory 128Mi --swap 0` (real records, with a
    /// later kill of another group's run after it).
    func testTheKilledProcessLineGivesTheVictimsRSS() throws {
        var parser = KernelOOMParser(groupName: "confine-18198-527a1aa6")
        let events = try records("kmsg-oom-pool.txt").compactMap { parser.feed(record: $0) }
        XCTAssertEqual(events.count, 2, "\(events)")
        XCTAssertEqual(events.first?.kill?.pid, 18253)
        XCTAssertEqual(events.first?.kill?.usageBytes, 128 << 20)
        XCTAssertEqual(events.last, .victimMemory(pid: 18253, .init(anonRssBytes: 126_100 << 10, fileRssBytes: 3456 << 10, shmemRssBytes: 0)))
        var other = KernelOOMParser(groupName: "confine-15688-135ba49a")
        XCTAssertTrue(try records("kmsg-oom-pool.txt").compactMap { other.feed(record: $0) }.isEmpty,
                      "another group's kill, and its Killed process line, are not this group's")
    }

    func testKilledProcessLinesOfOtherKernelsAndOddTaskNames() {
        typealias Memory = KernelOOMVictimMemory
        // 6.x, a task name with a space and a parenthesis (comm is any 15 bytes).
        XCTAssertEqual(KernelOOMParser.victimMemory("77 (my (odd) ta) total-vm:1000kB, anon-rss:300000kB, file-rss:1234kB, shmem-rss:8kB, "
                                                    + "UID:0 pgtables:800kB oom_score_adj:0")?.1,
                       Memory(anonRssBytes: 300_000 << 10, fileRssBytes: 1234 << 10, shmemRssBytes: 8 << 10))
        // 4.6 to 5.0: no prefix, no UID or pgtables.
        XCTAssertEqual(KernelOOMParser.victimMemory("4242 (python3) total-vm:123456kB, anon-rss:65536kB, file-rss:0kB, shmem-rss:0kB")?.0, 4242)
        // Before 4.6: no shmem-rss.
        XCTAssertEqual(KernelOOMParser.victimMemory("4242 (python3) total-vm:123456kB, anon-rss:65536kB, file-rss:4kB")?.1,
                       Memory(anonRssBytes: 65536 << 10, fileRssBytes: 4 << 10, shmemRssBytes: nil))
        XCTAssertNil(KernelOOMParser.victimMemory("4242 (python3)"))
        XCTAssertNil(KernelOOMParser.victimMemory("x (python3) total-vm:1kB, anon-rss:1kB, file-rss:1kB"))

        // Only for a victim this group's oom-kill: line named, once.
        var parser = KernelOOMParser(groupName: "confine-1-ab")
        let killedLine = "3,11,2000,-;Out of memory: Killed process 4242 (python3) total-vm:1kB, anon-rss:2kB, file-rss:3kB, shmem-rss:4kB"
        XCTAssertNil(parser.feed(record: killedLine), "no oom-kill: line for 4242 yet")
        XCTAssertEqual(parser.feed(record: "6,10,1990,-;oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/confine-1-ab,"
                                   + "task_memcg=/confine-1-ab,task=python3,pid=4242,uid=0")?.kill?.pid, 4242)
        XCTAssertEqual(parser.feed(record: "3,11,2000,-;Out of memory: Killed process 4243 (python3) total-vm:1kB, anon-rss:2kB, file-rss:3kB"),
                       nil, "another pid")
        XCTAssertEqual(parser.feed(record: killedLine), .victimMemory(pid: 4242, .init(anonRssBytes: 2048, fileRssBytes: 3072, shmemRssBytes: 4096)))
        XCTAssertNil(parser.feed(record: killedLine), "once")
    }

    // MARK: named kills

    func testANamedKillCarriesItsParentAndRSS() throws {
        var processes = ProcessTable()
        processes.commandLine = { "python3 pool.py #\($0)" }
        processes.reaper = 18198
        processes.addRoot(18200, at: 0)
        processes.handle(.fork(parent: 18200, child: 18253), at: 0.2)
        processes.handle(.exit(pid: 18253, status: 9), at: 0.45)
        var victims = OOMVictims(groupName: "confine-18198-527a1aa6")
        for record in try records("kmsg-oom-pool.txt") { victims.feed(record) }
        let start = 8908.794198 - 0.437
        let kills = victims.named(count: 1, mainPid: 18200, start: start, endedAt: 3.5, limitBytes: 128 << 20, processes: processes)
        XCTAssertEqual(kills.count, 1)
        let kill = try XCTUnwrap(kills.first)
        XCTAssertEqual(kill.source, .kernelLog)
        XCTAssertEqual(kill.pid, 18253)
        XCTAssertEqual(kill.command, "python3 pool.py #18253")
        XCTAssertEqual(kill.atSeconds, 0.437, accuracy: 0.001)
        XCTAssertEqual(kill.parentPid, 18200)
        XCTAssertEqual(kill.anonRssBytes, 126_100 << 10)
        XCTAssertEqual(kill.fileRssBytes, 3456 << 10)
        XCTAssertEqual(kill.shmemRssBytes, 0)
        XCTAssertEqual(victims.firstLogged(start: start)?.pid, 18253)

        // Without the kernel log: the process that exited by SIGKILL, its parent known, no RSS.
        let exits = OOMVictims(groupName: "confine-18198-527a1aa6")
            .named(count: 1, mainPid: 18200, start: start, endedAt: 3.5, limitBytes: 128 << 20, processes: processes)
        XCTAssertEqual(exits.first?.source, .processExit)
        XCTAssertEqual(exits.first?.parentPid, 18200)
        XCTAssertNil(exits.first?.anonRssBytes)
    }

    func testAnOrphansParentIsTheSubreaper() {
        var processes = ProcessTable()
        processes.commandLine = { "cmd-\($0)" }
        processes.reaper = 99
        processes.addRoot(100, at: 0)
        processes.handle(.fork(parent: 100, child: 101), at: 0.1)
        processes.handle(.fork(parent: 101, child: 102), at: 0.2)
        XCTAssertEqual(processes.parent(of: 100), 99, "the main process is confine's")
        XCTAssertEqual(processes.parent(of: 102), 101)
        processes.handle(.exit(pid: 101, status: 0), at: 0.3)
        XCTAssertEqual(processes.parent(of: 102), 99, "its parent exited: the kernel reparented it to confine")
        XCTAssertEqual(processes.parent(of: 101), 100, "an exited process keeps its parent at exit")
        XCTAssertNil(processes.parent(of: 555))
    }

    // MARK: the stall watch

    /// Readings every 50 ms from `from` to `to`, CPU rising at `cpus` CPUs.
    func feed(_ watch: inout StallWatch, from: Double, to: Double, cpus: Double, cpu: inout UInt64) -> [StallWatch.Event] {
        var events: [StallWatch.Event] = []
        var time = from
        while time <= to + 1e-9 {
            cpu += UInt64(cpus * 0.05 * 1e9)
            if let event = watch.reading(at: time, cpuNanos: cpu) { events.append(event) }
            time += 0.05
        }
        return events
    }

    func testNoCPUForAWindowAfterAKillIsAStallUntilTheCPUComesBack() {
        var watch = StallWatch(stallTimeout: nil)
        var cpu: UInt64 = 0
        XCTAssertEqual(feed(&watch, from: 0, to: 3, cpus: 0, cpu: &cpu), [], "no kill known: idle is no stall")
        watch.killKnown(at: 3)
        var events = feed(&watch, from: 3, to: 3.5, cpus: 1, cpu: &cpu) // the victim exits, the pool reacts
        events += feed(&watch, from: 3.55, to: 6, cpus: 0.005, cpu: &cpu) // half a percent: idle
        guard case .began(let since, let seconds)? = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(events.count, 1, "one notice, however long it lasts")
        XCTAssertEqual(since, 3.5, accuracy: 0.051)
        XCTAssertEqual(seconds, OOMStall.window, accuracy: 0.051)
        XCTAssertTrue(watch.isStalled)
        // Work again: the stall ends, at its last idle reading.
        events = feed(&watch, from: 6.05, to: 6.5, cpus: 0.5, cpu: &cpu)
        guard case .ended(_, let length)? = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(length, 6 - since, accuracy: 0.051)
        XCTAssertFalse(watch.isStalled)
        XCTAssertNil(watch.finish())
    }

    func testBriefWakeupsAreStillIdleButSteadyWorkIsNot() {
        var watch = StallWatch(stallTimeout: nil)
        watch.killKnown(at: 0)
        var cpu: UInt64 = 0
        // 3 ms of CPU every 0.5 s (a timer): under 1% of a CPU (10 ms a second) in any window.
        var events: [StallWatch.Event] = []
        for step in 0...80 {
            let time = Double(step) * 0.05
            if step % 10 == 0 && step > 0 { cpu += 3_000_000 }
            if let event = watch.reading(at: time, cpuNanos: cpu) { events.append(event) }
        }
        XCTAssertEqual(events.count, 1, "a timer that wakes twice a second is idle: \(events)")
        var busy = StallWatch(stallTimeout: 1)
        busy.killKnown(at: 0)
        cpu = 0
        XCTAssertEqual(feed(&busy, from: 0, to: 10, cpus: 0.05, cpu: &cpu), [], "5% of a CPU is work")
    }

    func testTheStallTimeoutEndsTheRunOnce() {
        var watch = StallWatch(stallTimeout: 3)
        watch.killKnown(at: 0.4)
        var cpu: UInt64 = 0
        let events = feed(&watch, from: 0.4, to: 10, cpus: 0, cpu: &cpu)
        XCTAssertEqual(events.count, 2, "\(events)")
        guard case .timedOut(let since, let seconds)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(since, 0.4, accuracy: 1e-9)
        XCTAssertEqual(seconds, 3, accuracy: 0.051)
        XCTAssertNil(watch.finish(), "the timeout recorded it")
        // A stall timeout under the window is the window: a stall is called after that long.
        XCTAssertEqual(StallWatch(stallTimeout: 0.2).stallTimeout, OOMStall.window)
        // The run ends during a stall: it is noted to the last idle reading.
        var ended = StallWatch(stallTimeout: nil)
        ended.killKnown(at: 0)
        cpu = 0
        _ = feed(&ended, from: 0, to: 2, cpus: 0, cpu: &cpu)
        guard case .ended(0, let length)? = ended.finish() else { return XCTFail() }
        XCTAssertEqual(length, 2, accuracy: 0.051)
    }
}
