import Foundation

/// Why the run report could not be written; the CLI says so and puts `json` on stderr, so the
/// report is never lost.
public struct ReportWriteError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in the kernel's words where it gave any.
    public var description: String
    /// The report as JSON, when it could be encoded.
    public var json: Data?
}

/// Writes the run report atomically to its file; when that fails (read-only directory, full
/// disk) it throws the reason with the encoded report, for the CLI to print as a last resort.
public enum ReportWriter {
    public static func write(_ report: RunReport, to path: String) throws(ReportWriteError) {
        let data: Data
        do {
            data = try report.jsonData()
        } catch {
            throw ReportWriteError(description: "cannot encode the report: \(error)", json: nil)
        }
        try write(data, to: path)
    }

    /// Any other JSON confine writes (`confine capacity`'s report), as the run report is written.
    public static func writeJSON<T: Encodable>(_ value: T, to path: String) throws(ReportWriteError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value) + Data("\n".utf8)
        } catch {
            throw ReportWriteError(description: "cannot encode the report: \(error)", json: nil)
        }
        try write(data, to: path)
    }

    static func write(_ data: Data, to path: String) throws(ReportWriteError) {
        do {
            // Atomically (temp file + rename) for regular files, so a reader never sees half a
            // report; straight into anything else (/dev/null, /dev/stdout, a fifo), which a
            // rename would replace with a regular file.
            let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
            if type == nil || type == .typeRegular {
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } else {
                guard let handle = FileHandle(forWritingAtPath: path) else {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
                }
                defer { try? handle.close() }
                try handle.write(contentsOf: data)
            }
        } catch {
            throw ReportWriteError(description: "cannot write the report to \(path): \(Self.describe(error)); the report follows on stderr",
                                   json: data)
        }
    }

    /// The kernel's words for why (Foundation's own are vaguer: "The volume is read only.").
    static func describe(_ error: Error) -> String {
        var current: NSError? = error as NSError
        while let nsError = current {
            if nsError.domain == NSPOSIXErrorDomain, let text = strerror(Int32(nsError.code)) {
                return "\(String(cString: text)) (\(errnoName(Int32(nsError.code))))"
            }
            current = nsError.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case CocoaError.fileWriteVolumeReadOnly.rawValue: return "Read-only file system (EROFS)"
            case CocoaError.fileWriteOutOfSpace.rawValue: return "No space left on device (ENOSPC)"
            case CocoaError.fileWriteNoPermission.rawValue: return "Permission denied (EACCES)"
            case CocoaError.fileNoSuchFile.rawValue, CocoaError.fileWriteInvalidFileName.rawValue: return "No such file or directory (ENOENT)"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}
