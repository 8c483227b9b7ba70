/// What `--ready` checks before the driver starts, as a kubelet's readiness probe does:
/// an HTTP GET answered 2xx or 3xx, or a TCP connection accepted.
public enum ReadinessTarget: Sendable, Equatable, CustomStringConvertible {
    /// `http://HOST:PORT/PATH` (port 80 when not given).
    case http(host: String, port: UInt16, path: String)
    /// `tcp:HOST:PORT`.
    case tcp(host: String, port: UInt16)

    public var host: String {
        switch self {
        case .http(let host, _, _), .tcp(let host, _): host
        }
    }

    public var port: UInt16 {
        switch self {
        case .http(_, let port, _), .tcp(_, let port): port
        }
    }

    public var description: String {
        switch self {
        case .http(let host, let port, let path): "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
        case .tcp(let host, let port): "tcp:\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }

    /// `http://127.0.0.1:8080/health`, `tcp:127.0.0.1:8080`, `tcp:[::1]:8080`; the error says
    /// what was expected. HTTPS is refused: the check speaks plain HTTP, as the pod's own port does
    /// behind its ingress.
    public static func parse(_ text: String) throws(UnitError) -> ReadinessTarget {
        if text.hasPrefix("http://") {
            let rest = text.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            // A fragment is the client's own: never sent.
            let path = rest.dropFirst(authority.count).prefix { $0 != "#" }
            if authority.contains("@") {
                throw UnitError("'\(text)': credentials in the address are not sent by the readiness check; give http://HOST:PORT/PATH")
            }
            if path.contains(" ") { throw UnitError("'\(text)': a space in the path must be written %20") }
            let (host, port) = try hostAndPort(authority, defaultPort: 80, text: text)
            return .http(host: host, port: port, path: path.isEmpty ? "/" : path.hasPrefix("?") ? "/" + path : String(path))
        }
        if text.hasPrefix("tcp:") {
            let (host, port) = try hostAndPort(text.dropFirst(4), defaultPort: nil, text: text)
            return .tcp(host: host, port: port)
        }
        if text.hasPrefix("https://") {
            throw UnitError("'\(text)': the readiness check speaks plain HTTP; give http://HOST:PORT/PATH or tcp:HOST:PORT")
        }
        throw UnitError("'\(text)' is not a readiness check; expected http://HOST:PORT/PATH (answered 2xx or 3xx) or tcp:HOST:PORT")
    }

    private static func hostAndPort(_ authority: Substring, defaultPort: UInt16?, text: String) throws(UnitError) -> (String, UInt16) {
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw UnitError("'\(text)': an IPv6 address needs its closing ']'") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty {
                throw UnitError("'\(text)': expected ':PORT' after the address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw UnitError("'\(text)': no host; expected e.g. 127.0.0.1") }
        if host == "localhost" { host = "127.0.0.1" }
        guard let portText else {
            guard let defaultPort else { throw UnitError("'\(text)': no port; expected tcp:HOST:PORT") }
            return (String(host), defaultPort)
        }
        guard let port = UInt16(portText), port > 0 else { throw UnitError("'\(text)': '\(portText)' is not a port (1-65535)") }
        return (String(host), port)
    }
}
