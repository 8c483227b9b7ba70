#if canImport(Glibc)
import Glibc
#endif
import ConfineCore

/// One readiness check, as a kubelet's probe makes it: a TCP connection accepted, or an HTTP GET
/// answered with a 2xx or 3xx status. Written on sockets rather than with an HTTP library
/// because the check must run on the calling thread, inside the service's network namespace
/// when it has one (`setns` moves only this thread), and needs nothing but the status line.
enum ReadinessProbe {
    /// nil when the check passed, else what failed (`connection refused`, `HTTP 503`, `timed out`).
    static func check(_ target: ReadinessTarget, timeoutSeconds: Double) -> String? {
        let deadline = monotonicSeconds() + timeoutSeconds
        guard let (fd, error) = connect(target.host, port: target.port, deadline: deadline), fd >= 0 else {
            return "cannot resolve \(target.host)"
        }
        defer { close(fd) }
        if let error { return error }
        guard case .http(let host, let port, let path) = target else { return nil }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: confine-readiness\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        let sent = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.utf8.count else { return "send: \(String(cString: strerror(errno)))" }
        // The status line: "HTTP/1.1 200 OK".
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !received.contains(0x0A) && received.count < 4096 {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = Int32(max(0, (deadline - monotonicSeconds()) * 1000))
            guard poll(&entry, 1, wait) > 0 else { return "no answer within \(formatFixed(timeoutSeconds, digits: 1))s" }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return received.isEmpty ? "connection closed without an answer" : "answer cut short" }
            received += buffer[0..<count]
        }
        let line = String(decoding: received.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), let status = Int(words[1]) else {
            return "not an HTTP answer: \(line.prefix(60))"
        }
        return (200..<400).contains(status) ? nil : "HTTP \(status)"
    }

    /// A connected socket (nil when the name does not resolve), or the socket and why it did not connect.
    private static func connect(_ host: String, port: UInt16, deadline: Double) -> (Int32, String?)? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return (-1, "socket: \(String(cString: strerror(errno)))") }
        if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { return (fd, describe(errno)) }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&entry, 1, Int32(max(0, (deadline - monotonicSeconds()) * 1000))) > 0 else { return (fd, "connect timed out") }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 { return (fd, describe(error)) }
        }
        return (fd, nil)
    }

    private static func describe(_ code: Int32) -> String {
        code == ECONNREFUSED ? "connection refused" : String(cString: strerror(code)).lowercased()
    }
}
