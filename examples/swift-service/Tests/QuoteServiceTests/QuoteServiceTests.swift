import QuoteService
import XCTest

final class QuoteServiceTests: XCTestCase {
    func testVolumeDiscounts() {
        let service = QuoteService()
        XCTAssertEqual(service.price([("a", 100, 1)]), 100)
        XCTAssertEqual(service.price([("a", 100, 10)]), 950)
        XCTAssertEqual(service.price([("a", 100, 100)]), 8500)
    }

    func testQuotesAreCachedPerCustomerAndBasket() {
        let service = QuoteService()
        for customer in 0..<2_000 {
            for _ in 0..<5 { _ = service.quote(customer: "c\(customer)", items: [("sku-\(customer % 50)", 1_999, customer % 120)]) }
        }
        XCTAssertEqual(service.cachedQuotes, 2_000)
    }
}
