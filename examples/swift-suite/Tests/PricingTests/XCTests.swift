import Pricing
import XCTest

final class MemoryXCTests: XCTestCase {
    func testBigAllocation() {
        XCTAssertEqual(touchAndFree(mebibytes: 100), 100 * 256)
    }

    func testSmallA() {
        XCTAssertEqual(touchAndFree(mebibytes: 1), 256)
    }

    func testSmallB() {
        XCTAssertEqual([3, 1, 2].sorted(), [1, 2, 3])
    }
}

final class LatencyXCTests: XCTestCase {
    func testProbedDiscount() {
        for _ in 0..<500 { XCTAssertEqual(calculateDiscount(1000), 100) }
    }
}
