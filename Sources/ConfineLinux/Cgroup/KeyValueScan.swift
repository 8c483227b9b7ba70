/// Allocation-free parsing of kernel text files such as `memory.stat` and `cpu.stat`
/// (`key value` per line), for the sampling hot path.

/// The first unsigned decimal number in `bytes`, or nil if it starts otherwise (`max`).
@inline(__always)
func parseLeadingNumber(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
    var value: UInt64 = 0
    var digits = 0
    for byte in bytes {
        guard byte >= 48 && byte <= 57 else { break }
        value = value &* 10 &+ UInt64(byte - 48)
        digits += 1
    }
    return digits > 0 ? value : nil
}

/// Calls `visit(keyIndex, value)` for every line whose key is one of `keys`.
func scanKeyValues(_ bytes: UnsafeRawBufferPointer, keys: [[UInt8]], _ visit: (Int, UInt64) -> Void) {
    var lineStart = 0
    let count = bytes.count
    while lineStart < count {
        var space = lineStart
        while space < count && bytes[space] != 32 && bytes[space] != 10 { space += 1 }
        var lineEnd = space
        while lineEnd < count && bytes[lineEnd] != 10 { lineEnd += 1 }
        if space < lineEnd {
            let keyLength = space - lineStart
            for (index, key) in keys.enumerated() where key.count == keyLength {
                var equal = true
                for offset in 0..<keyLength where bytes[lineStart + offset] != key[offset] {
                    equal = false
                    break
                }
                if equal {
                    var value: UInt64 = 0
                    var position = space + 1
                    while position < lineEnd, bytes[position] >= 48, bytes[position] <= 57 {
                        value = value &* 10 &+ UInt64(bytes[position] - 48)
                        position += 1
                    }
                    visit(index, value)
                    break
                }
            }
        }
        lineStart = lineEnd + 1
    }
}

/// The same for a `String` (setup paths and tests, not the hot path).
func keyValues(_ text: String) -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        if parts.count == 2, let value = UInt64(parts[1].split(separator: " ").first ?? "") {
            result[String(parts[0])] = value
        }
    }
    return result
}
