/// What network the target gets.
public enum NetworkProfile: Equatable, Sendable {
    /// The host's network, unchanged (Docker's bridge network is treated as host).
    case host
    /// A fresh network namespace with only `lo`, up (`docker run --network none`).
    case none
    /// The host's network, but only these endpoints may be reached; every attempt is recorded.
    case allow([NetworkEndpoint])

    public var mode: NetworkMode {
        switch self {
        case .host: return .host
        case .none: return .none
        case .allow: return .allow
        }
    }

    /// Parses `host`, `none` or `allow:HOST:PORT,HOST:PORT` (`[::1]:5432` for IPv6). An empty
    /// list (`allow:`) allows nothing: every outbound attempt is refused and recorded.
    public static func parse(_ text: String) throws(UnitError) -> NetworkProfile {
        let trimmed = text.trimmingWhitespace()
        switch trimmed {
        case "host", "bridge", "default": return .host
        case "none": return .none
        default: break
        }
        guard trimmed.hasPrefix("allow:") else {
            throw UnitError("'\(trimmed)' is not a network profile; expected host, none or allow:HOST:PORT,HOST:PORT")
        }
        let list = trimmed.dropFirst("allow:".count)
        guard !list.isEmpty else { return .allow([]) }
        let entries = list.split(separator: ",", omittingEmptySubsequences: false)
        return .allow(try entries.map { entry throws(UnitError) in try NetworkEndpoint.parse(String(entry)) })
    }

    public var description: String {
        switch self {
        case .host: return "host"
        case .none: return "none"
        case .allow(let endpoints): return "allow:" + endpoints.map(\.description).joined(separator: ",")
        }
    }
}

/// One allow-list entry: a host name or address and a port.
public struct NetworkEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public static func parse(_ text: String) throws(UnitError) -> NetworkEndpoint {
        let entry = text.trimmingWhitespace()
        let expected = "expected HOST:PORT such as 127.0.0.1:5432, localhost:6379 or [::1]:8080"
        var host: Substring
        var portText: Substring
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]"), entry[entry.index(after: close)...].hasPrefix(":") else {
                throw UnitError("allow-list entry '\(entry)' does not parse; \(expected)")
            }
            host = entry[entry.index(after: entry.startIndex)..<close]
            portText = entry[entry.index(close, offsetBy: 2)...]
        } else {
            guard let colon = entry.lastIndex(of: ":"), !entry[..<colon].contains(":") else {
                throw UnitError("allow-list entry '\(entry)' does not parse; \(expected)")
            }
            host = entry[..<colon]
            portText = entry[entry.index(after: colon)...]
        }
        guard !host.isEmpty, let port = UInt16(portText), port > 0 else {
            throw UnitError("allow-list entry '\(entry)' does not parse; \(expected)")
        }
        return NetworkEndpoint(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
