import ConfineCore
import Foundation
import XCTest

/// Memory the target owns against page cache the kernel can drop, on the real kernel: the
/// usage peak (what the limit counts) and the unreclaimable peak (what `peak_rss` judges).
final class MemoryScenarioTests: DirectoryScenario {
    /// Writing and reading a file four times the limit fills the limit with page cache: the usage
    /// peak is the limit, but the command owns almost nothing, and a 32Mi `peak_rss` budget holds.
    func testPageCacheFillsTheLimitButPeakRssJudgesWhatTheCommandOwns() throws {
        let profile = directory + "/dd.yaml"
        try "name: dd-cache\nlimits: {memory: 64Mi, swap: 0}\nbudgets: {suite: {peak_rss: 32Mi}}\n"
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let file = directory + "/big"
        let (result, report) = Harness.confineRun(["--profile", profile], [
            "/bin/sh", "-c", "dd if=/dev/zero of=\(file) bs=1M count=256 conv=fsync 2>/dev/null && cat \(file) >/dev/null"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(run.budgets?.first?.metric, .peakRss)
        XCTAssertEqual(run.budgets?.first?.verdict, .pass)
        XCTAssertGreaterThan(run.memory.peakBytes, 48 << 20, "the limit filled with page cache")
        let owned = try XCTUnwrap(run.memory.unreclaimablePeakBytes)
        XCTAssertLessThan(owned, 16 << 20, "dd and cat own a few MiB at most")
        XCTAssertTrue(result.stderr.contains("page cache at the fullest sample"), result.stderr)
        XCTAssertTrue(result.stderr.contains("; unreclaimable peak"), result.stderr)
        XCTAssertTrue(run.oomKills.isEmpty)
        // The limit was reached again and again; reclaim dropped cache each time: pressure, not a kill.
        XCTAssertEqual(run.memory.pressure?.limitReached, true)
        XCTAssertTrue(result.stderr.contains("and the kernel reclaimed (no OOM kill)"), result.stderr)
    }

    /// Files left in /dev/shm stay charged after every process has exited: owned memory, and said.
    func testSharedMemoryLeftBehindIsOwnedAndNamed() throws {
        let file = "/dev/shm/confine-e2e-\(UUID().uuidString)"
        defer { unlink(file) }
        let (result, report) = Harness.confineRun(["--memory", "256Mi"], ["/bin/sh", "-c", "head -c 41943040 /dev/zero > \(file)"])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertGreaterThanOrEqual(run.memory.unreclaimablePeakBytes ?? 0, 40 << 20, "tmpfs pages are shmem: reclaim cannot drop them")
        let warning = try XCTUnwrap(run.warnings.first { $0.hasPrefix("shmem: ") }, "\(run.warnings)")
        XCTAssertTrue(warning.contains("\(file) (40.0 MiB)"), warning)
    }

    /// A test that allocates 100 MiB ranks above a test that streams 300 MiB through the page
    /// cache, which ranks with a trivial test.
    func testTheHungriestTestIsTheOneThatOwnsTheMemoryNotTheOneThatFilledTheCache() throws {
        let suite = directory + "/test_memory.py"
        try """
        import os
        import time


        def test_cache(tmp_path):
            path = tmp_path / "big"
            block = b"\\0" * (1 << 20)
            with open(path, "wb") as f:
                for _ in range(300):
                    f.write(block)
                f.flush()
                os.fsync(f.fileno())
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass


        def test_alloc():
            data = bytearray(100 << 20)
            for i in range(0, len(data), 4096):
                data[i] = 1
            time.sleep(0.05)  # held for a few samples: between boundaries the figure is sampled
            assert data[4096] == 1


        def test_trivial():
            assert True

        """.write(toFile: suite, atomically: true, encoding: .utf8)
        let (result, report) = Harness.confineRun(["--memory", "512Mi"], ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", suite])
        let run = try XCTUnwrap(report)
        XCTAssertEqual(result.status, 0, result.stderr)
        let owned = { (name: String) throws -> UInt64 in
            try XCTUnwrap(run.tests.first { $0.name.hasSuffix("::" + name) }?.unreclaimablePeakBytes, "\(name) in \(run.tests.map(\.name))")
        }
        let (alloc, cache, trivial) = (try owned("test_alloc"), try owned("test_cache"), try owned("test_trivial"))
        XCTAssertLessThan(abs(Int64(alloc) - Int64(trivial + (100 << 20))), 8 << 20,
                          "alloc \(alloc >> 20) MiB, trivial \(trivial >> 20) MiB")
        XCTAssertLessThan(cache, alloc)
        XCTAssertLessThan(cache, trivial + (32 << 20), "the cache test owns little: \(cache >> 20) MiB")
        let hungriest = result.stderr.split(separator: "\n").filter { $0.contains("hungriest") }
        XCTAssertTrue(hungriest.first?.hasSuffix("test_memory.py::test_alloc") ?? false, "\(hungriest)")
        let cacheTest = try XCTUnwrap(run.tests.first { $0.name.hasSuffix("::test_cache") })
        XCTAssertGreaterThan(cacheTest.peakBytes ?? 0, 200 << 20, "its usage peak is the page cache it filled")
    }
}
