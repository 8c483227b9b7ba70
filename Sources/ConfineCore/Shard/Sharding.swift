import Foundation

/// One part of a suite split across CI machines: `--shard I/N` (1-based, as a CI matrix counts).
public struct ShardPosition: Codable, Sendable, Hashable, CustomStringConvertible {
    /// 1…total.
    public var index: Int
    public var total: Int
    /// `--shard-durations`: the `startedAt` of the report whose durations balanced the split;
    /// absent when it went by hash. Shards of different splits do not add up.
    public var durationsFrom: String?

    public init(index: Int, total: Int, durationsFrom: String? = nil) {
        self.index = index
        self.total = total
        self.durationsFrom = durationsFrom
    }

    public var description: String { "\(index)/\(total)" }

    /// `I/N` with 1 ≤ I ≤ N ≤ 1024; throws naming what was expected.
    public static func parse(_ text: String) throws(UnitError) -> ShardPosition {
        let parts = text.trimmingWhitespace().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let total = Int(parts[1]), (1...1024).contains(total), (1...total).contains(index) else {
            throw UnitError("'\(text)' is not a shard; expected I/N with 1 ≤ I ≤ N ≤ 1024, such as 2/3 (the 2nd of 3)")
        }
        return ShardPosition(index: index, total: total)
    }
}

/// Which shard runs which test: by the durations a previous run measured (longest first into the
/// lightest shard), and for a test without one by a stable hash of its name — the same hash in
/// confine, the pytest plugin (`confine_pytest.py`) and `confine shard --list`, so every machine
/// of a matrix makes the same split without talking to the others.
public struct ShardAssignment: Sendable, Equatable {
    public var total: Int
    /// Test name → shard (1-based), for the tests the durations named.
    public var assigned: [String: Int]

    public init(total: Int, assigned: [String: Int] = [:]) {
        self.total = total
        self.assigned = assigned
    }

    /// FNV-1a, 64 bits, over the name's UTF-8: stable across machines, runs and languages.
    public static func hash(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The shard (1-based) a test runs in.
    public func shard(of name: String) -> Int {
        assigned[name] ?? Int(Self.hash(name) % UInt64(total)) + 1
    }

    /// Longest processing time first: each test, longest first (name breaking ties, so every
    /// machine agrees), into the shard with the least time so far (the lowest index on a tie).
    /// Tests measured several times (reruns, copies) count once, with their longest time.
    public static func balanced(durations: [(name: String, seconds: Double)], total: Int) -> ShardAssignment {
        var longest: [String: Double] = [:]
        for (name, seconds) in durations { longest[name] = max(longest[name] ?? 0, max(0, seconds)) }
        var loads = [Double](repeating: 0, count: total)
        var assigned: [String: Int] = [:]
        for (name, seconds) in longest.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            let lightest = loads.indices.min { (loads[$0], $0) < (loads[$1], $1) }!
            loads[lightest] += seconds
            assigned[name] = lightest + 1
        }
        return ShardAssignment(total: total, assigned: assigned)
    }

    /// The name confine's report gives a test `swift test list` names: `Module.Class/test` →
    /// `Class.test`, `Module.function()` → `function()`; other names as they are.
    public static func reportName(listed name: String) -> String {
        guard !name.contains("::") else { return name } // a pytest node id: the same in both
        if let slash = name.firstIndex(of: "/"), name[..<slash].contains(".") {
            let type = name[..<slash].split(separator: ".").last.map(String.init) ?? String(name[..<slash])
            return "\(type).\(name[name.index(after: slash)...])"
        }
        guard name.hasSuffix(")"), let dot = name.firstIndex(of: "."), dot < (name.firstIndex(of: "(") ?? name.endIndex) else { return name }
        return String(name[name.index(after: dot)...])
    }

    /// This assignment for listed names: a duration recorded under the report's name of a
    /// `swift test list` name (`reportName(listed:)`) counts for the listed name.
    public func aliasing(_ names: [String]) -> ShardAssignment {
        var aliased = self
        for name in names where assigned[name] == nil {
            if let shard = assigned[Self.reportName(listed: name)] { aliased.assigned[name] = shard }
        }
        return aliased
    }

    /// The tests of `names` in `position`'s shard, in their order.
    public func select(_ names: [String], for position: ShardPosition) -> [String] {
        names.filter { shard(of: $0) == position.index }
    }

    /// As the pytest plugin reads it (`CONFINE_SHARD_FILE`): `{"assigned": {name: shard}, "total": N}`.
    public func json() -> Data {
        (try? JSONSerialization.data(withJSONObject: ["total": total, "assigned": assigned], options: [.sortedKeys])) ?? Data()
    }
}
