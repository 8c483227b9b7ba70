import Foundation

/// A size as Docker reads it (`docker/go-units` `RAMInBytes`, which Compose uses for
/// `mem_limit`, `memswap_limit`, `shm_size`, `deploy.resources.limits.memory` and tmpfs `size`):
/// a decimal number, an optional space, and an optional unit `k` `m` `g` `t` `p` — always
/// binary (`1G` and `1GB` are both 1 GiB, 1,073,741,824 bytes), case-insensitive, with an
/// optional `i` and `b` (`1gib`, `512mb`). No unit: bytes. The fraction is truncated to whole
/// bytes, as Go's `int64(size * multiplier)` does.
public enum DockerByteSize {
    static let units: [Character: UInt64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50]

    /// Throws, naming what was expected, for what Docker refuses ("invalid size").
    public static func parse(_ raw: String) throws(UnitError) -> UInt64 {
        let text = raw.trimmingWhitespace()
        let expected = "expected a Docker size such as 512m, 1g, 1GB or 1048576 (Docker's units are binary: 1g is 1 GiB)"
        let number = text.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        var rest = text.dropFirst(number.count)
        if rest.first == " " { rest = rest.dropFirst() }
        var multiplier: UInt64 = 1
        if let first = rest.first, let unit = units[Character(first.lowercased())] {
            multiplier = unit
            rest = rest.dropFirst()
            if rest.first == "i" || rest.first == "I" { rest = rest.dropFirst() }
        }
        if rest.first == "b" || rest.first == "B" { rest = rest.dropFirst() }
        guard !number.isEmpty, number.first != ".", rest.isEmpty, number.filter({ $0 == "." }).count <= 1,
              let amount = Double(number) else {
            throw UnitError("'\(text)' is not a size Docker reads; \(expected)")
        }
        let bytes = amount * Double(multiplier)
        guard bytes < 9.2e18 else { throw UnitError("'\(text)' is too large") }
        return UInt64(bytes.rounded(.towardZero))
    }
}
