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
            let reason = (error as NSError).localizedDescription
            FileHandle.standardError.write(Data("confine: cannot write the report to \(path): \(reason); the report follows on stderr\n".utf8))
            FileHandle.standardError.write(data)
            return false
        }
    }
}
