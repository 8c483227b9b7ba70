#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// An address and port the target may reach, resolved before the run.
public struct ResolvedEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// Numeric form: `127.0.0.1` or `::1` (IPv4-mapped IPv6 addresses are stored as IPv4).
    public var address: String
    public var port: UInt16
    public var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

public struct NetworkResolutionError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

public enum NetworkAllowList {
    /// The syscalls that send to an address: the ones confine intercepts for an allow-list.
    public static let interceptedSyscalls = ["connect", "sendto", "sendmsg", "sendmmsg"]

    /// Resolves every entry with getaddrinfo, before the run (names the target cannot resolve
    /// itself, since DNS is subject to the allow-list too).
    public static func resolve(_ endpoints: [NetworkEndpoint]) throws(NetworkResolutionError) -> [ResolvedEndpoint] {
        var resolved: [ResolvedEndpoint] = []
        for endpoint in endpoints {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(endpoint.host, nil, &hints, &list)
            guard status == 0, let first = list else {
                throw NetworkResolutionError(description: "allow-list entry '\(endpoint)': cannot resolve '\(endpoint.host)': "
                                             + String(cString: gai_strerror(status)))
            }
            defer { freeaddrinfo(list) }
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let current = entry {
                if let address = current.pointee.ai_addr,
                   let text = numericAddress(UnsafeRawPointer(address), length: Int(current.pointee.ai_addrlen))?.address {
                    let candidate = ResolvedEndpoint(address: text, port: endpoint.port)
                    if !resolved.contains(candidate) { resolved.append(candidate) }
                }
                entry = current.pointee.ai_next
            }
        }
        return resolved
    }

    /// Family, numeric address and port of a `struct sockaddr` (nil for non-IP families).
    static func numericAddress(_ pointer: UnsafeRawPointer, length: Int) -> (address: String, port: UInt16)? {
        guard length >= 2 else { return nil }
        let family = pointer.loadUnaligned(as: UInt16.self)
        if family == UInt16(AF_INET), length >= 8 {
            let port = UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let bytes = (0..<4).map { pointer.load(fromByteOffset: 4 + $0, as: UInt8.self) }
            return (bytes.map(String.init).joined(separator: "."), port)
        }
        if family == UInt16(AF_INET6), length >= 24 {
            let port = UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let bytes = (0..<16).map { pointer.load(fromByteOffset: 8 + $0, as: UInt8.self) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return (bytes[12..<16].map(String.init).joined(separator: "."), port) // IPv4-mapped
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var raw = bytes
            guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return nil }
            return (String(cString: buffer), port)
        }
        return nil
    }
}
