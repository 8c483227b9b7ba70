import Foundation

/// A Kubernetes resource quantity, read as Kubernetes reads it (k8s.io/apimachinery
/// `resource.ParseQuantity`): a signed decimal number and one suffix — binary (`Ki` `Mi` `Gi` `Ti`
/// `Pi` `Ei`), decimal SI (`n` `u` `m` none `k` `M` `G` `T` `P` `E`) or a decimal exponent (`e3`,
/// `E-2`). `m` is milli: `512m` of memory is 0.512 bytes, `2899102924800m` (the form Kubernetes
/// writes back when it normalises a value) is 2,899,102,924.8 bytes. Kept exact (`Decimal`), so
/// rounding happens once, where Kubernetes rounds: up, to whole bytes or whole millicores.
public struct KubernetesQuantity: Equatable, Sendable, CustomStringConvertible {
    /// The value in the resource's base unit (bytes, cores).
    public let value: Decimal
    /// As written.
    public let text: String

    public var description: String { text }

    static let binary: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
    static let decimal: [String: Int] = ["n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18]

    /// Throws, naming what was expected, for anything Kubernetes' parser refuses.
    public static func parse(_ raw: String) throws(UnitError) -> KubernetesQuantity {
        let text = raw.trimmingWhitespace()
        let expected = "expected a Kubernetes quantity such as 512Mi, 1Gi, 500m, 1.5, 129e6 or 2899102924800m"
        var rest = Substring(text)
        var sign: Decimal = 1
        if rest.first == "+" || rest.first == "-" {
            if rest.first == "-" { sign = -1 }
            rest = rest.dropFirst()
        }
        let whole = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(whole.count)
        var fraction: Substring = ""
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty, let number = Decimal(string: "\(whole.isEmpty ? "0" : whole).\(fraction.isEmpty ? "0" : fraction)",
                                                                        locale: Locale(identifier: "en_US_POSIX")) else {
            throw UnitError("'\(text)' is not a quantity; \(expected)")
        }
        let suffix = String(rest)
        var scaled = number * sign
        if let power = binary[suffix] {
            scaled *= pow(Decimal(2), power)
        } else if let exponent = decimal[suffix] {
            scaled *= power10(exponent)
        } else if suffix.first == "e" || suffix.first == "E", let exponent = Int(suffix.dropFirst()), abs(exponent) <= 60 {
            scaled *= power10(exponent)
        } else {
            let hint = suffix == "K" ? " (Kubernetes' kilo is a lowercase k; 1024 is Ki)" : ""
            throw UnitError("'\(text)' has the unknown suffix '\(suffix)'\(hint); \(expected)")
        }
        return KubernetesQuantity(value: scaled, text: text)
    }

    static func power10(_ exponent: Int) -> Decimal {
        exponent >= 0 ? pow(Decimal(10), exponent) : 1 / pow(Decimal(10), -exponent)
    }

    /// Rounded up to a whole number, as `Quantity.Value()` rounds (bytes).
    public var roundedUp: Decimal {
        var value = self.value
        var result = Decimal()
        NSDecimalRound(&result, &value, 0, .up)
        return result
    }

    /// Rounded up to whole thousandths, as `Quantity.MilliValue()` rounds (millicores).
    public var milliRoundedUp: Decimal {
        var value = self.value * 1000
        var result = Decimal()
        NSDecimalRound(&result, &value, 0, .up)
        return result
    }

    /// Memory in bytes as the kubelet writes it to the cgroup, or an error for a value no container
    /// could start with (under 1 MiB: `512m` is half a byte — naming the likely intent, `512Mi`), a
    /// negative one, or one past what the kernel takes.
    public func memoryBytes() throws(UnitError) -> UInt64 {
        guard value > 0 else { throw UnitError("'\(text)' is not a memory limit above zero") }
        let bytes = roundedUp
        guard bytes < Decimal(UInt64(1) << 62) else { throw UnitError("'\(text)' is \(bytes) bytes, more than any machine has") }
        let whole = UInt64(truncating: bytes as NSNumber)
        if whole < 1 << 20 {
            var message = "'\(text)' is \(whole) byte\(whole == 1 ? "" : "s") in Kubernetes' units"
            if text.hasSuffix("m") {
                message += " (m is milli: \(text) is \(NSDecimalNumber(decimal: value).stringValue) bytes)"
                message += "; no container starts with that — did you mean \(text.dropLast())Mi?"
            } else if text.allSatisfy({ $0.isASCII && $0.isNumber }) {
                message += "; no container starts with under 1 MiB — did you mean \(text)Mi?"
            } else {
                message += "; no container starts with under 1 MiB"
            }
            throw UnitError(message)
        }
        return whole
    }

    /// CPUs as the kubelet turns the limit into a CFS quota: millicores rounded up, and a quota
    /// under the kernel's 1 ms per 100 ms period raised to it (`1m` → 10m, 0.01 CPU). Nil for 0:
    /// Kubernetes sets no quota for a zero limit. `raised` says when the minimum applied.
    public func cpus() throws(UnitError) -> (cpus: Double, raised: Bool)? {
        guard value >= 0 else { throw UnitError("'\(text)' is negative; a CPU limit is 0 or more") }
        let milli = milliRoundedUp
        if milli == 0 { return nil }
        guard milli < 1_000_000_000 else { throw UnitError("'\(text)' is more CPUs than any machine has") }
        let whole = Int(truncating: milli as NSNumber)
        return (Double(max(whole, 10)) / 1000, whole < 10)
    }
}
