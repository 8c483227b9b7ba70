@testable import ConfineLinux
import Foundation
import XCTest

/// The procfs parsers, fed text as the kernel writes it (proc(5)); the last test reads this process's own files.
final class ProcFSTests: XCTestCase {
    func testStatTakesCommUpToTheLastParenthesis() {
        let line = "4242 (we) (ird) name) S 17 4242 4242 0 -1 4194560 139 0 0 0 0 0 0 0 20 0 1 0 8 1 2 3\n"
        XCTAssertEqual(ProcFS.parseStat(line),
                       ProcFS.Stat(pid: 4242, comm: "we) (ird) name", state: "S", parentPid: 17, processGroup: 4242,
                                   startTicks: 8, threads: 1), "num_threads is field 20, starttime field 22")
        XCTAssertEqual(ProcFS.parseStat("99 (python3) S 1 99 99 0 -1 4194560 139 0 0 0 0 0 0 0 20 0 32 0 8")?.threads, 32)
        XCTAssertEqual(ProcFS.parseStat("7 (confine) Z 1 7 7 0")?.state, "Z")
        XCTAssertNil(ProcFS.parseStat("7 (confine) Z 1 7 7 0")?.startTicks, "a line cut short has no start time")
        XCTAssertEqual(ProcFS.parseStat("7 (a b) R 1 9")?.comm, "a b")
        XCTAssertEqual(ProcFS.parseStat("7 () R 1 9")?.comm, "", "an empty comm still parses")
    }

    func testMalformedStatIsNil() {
        XCTAssertNil(ProcFS.parseStat(""))
        XCTAssertNil(ProcFS.parseStat("7 confine S 1 7"), "no parentheses")
        XCTAssertNil(ProcFS.parseStat("7 (confine) S 1"), "no process group")
        XCTAssertNil(ProcFS.parseStat("x (confine) S 1 7"), "pid not a number")
        XCTAssertNil(ProcFS.parseStat("7 (confine) S one 7"), "ppid not a number")
        XCTAssertNil(ProcFS.parseStat("7 )confine( S 1 7"), "parentheses the wrong way round")
    }

    func testCommAndCommandLine() {
        XCTAssertEqual(ProcFS.parseComm("python3\n"), "python3")
        XCTAssertEqual(ProcFS.parseCommandLine("python3\0-m\0pytest\0-k\0a b\0"), "python3 -m pytest -k a b")
        XCTAssertEqual(ProcFS.parseCommandLine("sleep\0"), "sleep")
        XCTAssertEqual(ProcFS.parseCommandLine("x\0\0\0"), "x", "trailing empty arguments dropped")
        XCTAssertNil(ProcFS.parseCommandLine(""), "kernel threads and zombies have none")
    }

    private func field(_ key: StaticString, _ text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes { ProcFS.statusField(key, in: $0) }
    }

    func testStatusFieldsFromBytes() {
        let status = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4243\nPPid:\t1\n"
            + "VmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n"
        XCTAssertEqual(field("Tgid", status), 4242)
        XCTAssertEqual(field("Pid", status), 4243, "not PPid")
        XCTAssertEqual(field("PPid", status), 1)
        XCTAssertEqual(field("VmHWM", status), 20480, "kibibytes, padding skipped")
        XCTAssertEqual(field("Threads", status), 3, "the last line")
        XCTAssertNil(field("VmSwap", status), "absent")
        XCTAssertNil(field("Name", status), "not a number")
        XCTAssertNil(field("Vm", status), "a key is matched whole")
        XCTAssertNil(field("VmHWM", "VmHWM:"), "cut off after the key")
        XCTAssertNil(field("VmHWM", ""))
        XCTAssertEqual(field("VmHWM", "VmHWM:\t 7 kB"), 7, "no trailing newline")
    }

    func testResidentPagesFromStatm() {
        XCTAssertEqual(Array("2817 659 512 1 0 261 0\n".utf8).withUnsafeBytes { ProcFS.residentPages(inStatm: $0) }, 659)
        XCTAssertNil(Array("2817".utf8).withUnsafeBytes { ProcFS.residentPages(inStatm: $0) })
    }

    func testCgroupMemberships() {
        let text = "12:memory:/user.slice\n4:cpu,cpuacct:/a:b\n1:name=systemd:/init.scope\n0::/ci/job\nnonsense\nx:memory:/y\n"
        XCTAssertEqual(ProcFS.parseCgroups(text), [
            .init(hierarchyID: 12, controllers: ["memory"], path: "/user.slice"),
            .init(hierarchyID: 4, controllers: ["cpu", "cpuacct"], path: "/a:b"),
            .init(hierarchyID: 1, controllers: ["name=systemd"], path: "/init.scope"),
            .init(hierarchyID: 0, controllers: [], path: "/ci/job"),
        ])
        XCTAssertEqual(CgroupLayoutParser.ownPaths(fromProcCgroup: text),
                       ["memory": "/user.slice", "cpu": "/a:b", "cpuacct": "/a:b", "name=systemd": "/init.scope", "": "/ci/job"])
    }

    func testPaths() {
        XCTAssertEqual(ProcFS.path(.pid(42), "stat"), "/proc/42/stat")
        XCTAssertEqual(ProcFS.path(.current, "cgroup", root: "/tmp/p"), "/tmp/p/self/cgroup")
    }

    func testReadsThisProcessesOwnFiles() throws {
        let stat = try XCTUnwrap(try ProcFS.stat(.pid(getpid())))
        XCTAssertEqual(stat.pid, getpid())
        XCTAssertEqual(stat.parentPid, getppid())
        XCTAssertEqual(stat.processGroup, getpgrp())
        XCTAssertEqual(stat.comm, try ProcFS.comm(.current))
        XCTAssertEqual(try ProcFS.statusField("Tgid", of: .current), UInt64(getpid()))
        XCTAssertGreaterThan(try XCTUnwrap(try ProcFS.statusField("VmHWM", of: .current)), 0)
        XCTAssertNotNil(try ProcFS.commandLine(.current))
        XCTAssertFalse(try ProcFS.cgroups(.current).isEmpty)
        XCTAssertThrowsError(try ProcFS.stat(.pid(Int32.max)), "no such process")
    }
}
