@testable import ConfineCore
import XCTest

final class KernelVersionTests: XCTestCase {
    func testParsesReleaseStrings() {
        XCTAssertEqual(KernelVersion(release: "6.18.0-1-cloud-amd64"), KernelVersion(6, 18, 0))
        XCTAssertEqual(KernelVersion(release: "6.18.44-fc-v669"), KernelVersion(6, 18, 44))
        XCTAssertEqual(KernelVersion(release: "5.15.0-91-generic"), KernelVersion(5, 15, 0))
        XCTAssertEqual(KernelVersion(release: "6.1"), KernelVersion(6, 1, 0), "minKernel style")
        XCTAssertEqual(KernelVersion(release: "4"), KernelVersion(4, 0, 0))
        XCTAssertEqual(KernelVersion(release: "6.12rc1"), KernelVersion(6, 12, 0), "suffix without a dash")
        XCTAssertEqual(KernelVersion(release: "v6.1.2"), KernelVersion(6, 1, 2), "leading non-digits skipped")
        XCTAssertEqual(KernelVersion(release: "4.4.0.1"), KernelVersion(4, 4, 0), "a fourth part is ignored")
        XCTAssertNil(KernelVersion(release: ""))
        XCTAssertNil(KernelVersion(release: "linux"))
        XCTAssertEqual(KernelVersion(6, 18, 1).description, "6.18.1")
    }

    func testOrdersAsVersionsNotAsText() {
        XCTAssertLessThan(KernelVersion(5, 19), KernelVersion(6, 1))
        XCTAssertLessThan(KernelVersion(6, 1), KernelVersion(6, 12))
        XCTAssertLessThan(KernelVersion(6, 12, 0), KernelVersion(6, 12, 1))
        XCTAssertGreaterThanOrEqual(KernelVersion(release: "6.12.0-x")!, KernelVersion(6, 12))
        XCTAssertFalse(KernelVersion(release: "6.11.9")! >= KernelVersion(6, 12))
        XCTAssertEqual(KernelVersion(release: "6.1")!, KernelVersion(release: "6.1.0")!, "missing parts are zero")
    }
}

final class ErrnoNamesTests: XCTestCase {
    func testNamesTheErrorsConfineReportsAndFallsBackToTheNumber() {
        XCTAssertEqual(errnoName(EPERM), "EPERM")
        XCTAssertEqual(errnoName(EROFS), "EROFS")
        XCTAssertEqual(errnoName(EDQUOT), "EDQUOT", "from the report writer's table")
        XCTAssertEqual(errnoName(ENOTEMPTY), "ENOTEMPTY", "from the system-call table")
        XCTAssertEqual(errnoName(ESRCH), "ESRCH")
        XCTAssertEqual(errnoName(9999), "errno 9999")
    }

    func testEveryNameIsItsConstantsOwn() {
        XCTAssertEqual(ErrnoNames.byNumber.count, 26, "the union of the two former tables")
        XCTAssertEqual(Set(ErrnoNames.byNumber.values).count, ErrnoNames.byNumber.count, "no name twice")
        XCTAssertTrue(ErrnoNames.byNumber.values.allSatisfy { $0.hasPrefix("E") })
        XCTAssertEqual(ErrnoNames.byNumber[EAGAIN], "EAGAIN")
        XCTAssertEqual(ErrnoNames.byNumber[EINVAL], "EINVAL")
    }
}
