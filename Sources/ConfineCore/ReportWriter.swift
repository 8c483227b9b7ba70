import Foundation

/// Writes the run report so that it is never lost: atomically to the file, or, when that
/// fails (read-only directory, full disk), as JSON on stderr as a last resort.
public enum ReportWriter {
    /// Returns true if the file was written.
    @discardableResult
    public static func write(_ report: RunReport, to path: String) -> Bool {
        let data: Data
        do {
            data = try report.jsonData()
        } catch {
            FileHandle.standardError.write(Data("confine: cannot encode the report: \(error)\n".utf8))
            return false
        }
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
            return true
        } catch {
            let reason = Self.describe(error)
            FileHandle.standardError.write(Data("confine: cannot write the report to \(path): \(reason); the report follows on stderr\n".utf8))
            FileHandle.standardError.write(data)
            return false
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
