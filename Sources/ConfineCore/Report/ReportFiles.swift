import Foundation

/// Reading a report back (`confine report`, `compare`, `merge`): every failure names the file
/// and, for content, the JSON path.
public enum ReportFiles {
    public enum LoadError: Error, Equatable, CustomStringConvertible {
        case missing(path: String)
        case unreadable(path: String, reason: String)
        case invalid(path: String, at: String, reason: String)

        public var description: String {
            switch self {
            case .missing(let path): "\(path): no such report"
            case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
            case .invalid(let path, let at, let reason): "\(path): \(at): \(reason)"
            }
        }
    }

    /// Several reports, decoded in parallel (decoding a large report is the slow part of
    /// `compare` and `merge`), each with its own result.
    public static func loadAll(_ paths: [String]) -> [Result<RunReport, LoadError>] {
        let results = UnsafeMutableBufferPointer<Result<RunReport, LoadError>?>.allocate(capacity: paths.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let slots = results
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            slots[index] = Result { () throws(LoadError) -> RunReport in try load(paths[index]) }
        }
        return results.map { $0! }
    }

    public static func load(_ path: String) throws(LoadError) -> RunReport {
        guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, reason: "permission denied or not a file") }
        return try decode(data, path: path)
    }

    public static func decode(_ data: Data, path: String) throws(LoadError) -> RunReport {
        let report: RunReport
        do {
            report = try ReportJSON.decode(data)
        } catch let error as ReportJSON.Failure {
            throw .invalid(path: path, at: error.at, reason: error.reason)
        } catch let error as DecodingError {
            // A report from another confine gets that message, not the first key it lacks.
            if let version = schemaVersion(data), version != RunReport.currentSchemaVersion { throw versionError(version, path) }
            throw describe(error, path: path, size: data.count)
        } catch {
            throw .invalid(path: path, at: "(root)", reason: "\(error)")
        }
        guard report.schemaVersion == RunReport.currentSchemaVersion else { throw versionError(report.schemaVersion, path) }
        return report
    }

    static func versionError(_ version: Int, _ path: String) -> LoadError {
        .invalid(path: path, at: "schemaVersion",
                 reason: "report schema version \(version); this confine reads version \(RunReport.currentSchemaVersion)")
    }

    static func schemaVersion(_ data: Data) -> Int? {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["schemaVersion"] as? Int
    }

    static func describe(_ error: DecodingError, path: String, size: Int) -> LoadError {
        let jsonPath = ReportJSON.path
        switch error {
        case .dataCorrupted(let context):
            if let failure = context.underlyingError as? ReportJSON.Failure {
                return .invalid(path: path, at: failure.at, reason: failure.reason)
            }
            let truncated = context.codingPath.isEmpty ? " (\(size) bytes; truncated or not JSON)" : ""
            return .invalid(path: path, at: jsonPath(context.codingPath), reason: "not valid JSON\(truncated)")
        case .keyNotFound(let key, let context):
            return .invalid(path: path, at: jsonPath(context.codingPath + [key]), reason: "missing; is this a confine run report?")
        case .typeMismatch(let type, let context):
            return .invalid(path: path, at: jsonPath(context.codingPath), reason: "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return .invalid(path: path, at: jsonPath(context.codingPath), reason: "null where \(describe(type)) was expected")
        @unknown default:
            return .invalid(path: path, at: "(root)", reason: "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type, is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "\(type)"
        }
    }
}
