import ConfineProbe

/// Prices a basket and caches quotes, the two hot paths a latency budget watches.
public final class QuoteService: @unchecked Sendable {
    private var cache: [String: Int] = [:]

    public init() {}

    /// The price of a basket in cents after volume discounts (probed as `price_basket`).
    public func price(_ items: [(sku: String, cents: Int, quantity: Int)]) -> Int {
        Probe.measure("price_basket") {
            items.reduce(0) { total, item in
                let volume = item.quantity >= 100 ? 0.85 : item.quantity >= 10 ? 0.95 : 1.0
                return total + Int(Double(item.cents * item.quantity) * volume)
            }
        }
    }

    /// A quote for a customer, computed once and cached (probed as `quote`).
    public func quote(customer: String, items: [(sku: String, cents: Int, quantity: Int)]) -> Int {
        Probe.measure("quote") {
            let key = customer + ":" + items.map { "\($0.sku)x\($0.quantity)" }.joined(separator: ",")
            if let cached = cache[key] { return cached }
            let price = self.price(items)
            cache[key] = price
            return price
        }
    }

    public var cachedQuotes: Int { cache.count }
}
