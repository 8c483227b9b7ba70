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
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            return true
        } catch {
            let reason = (error as NSError).localizedDescription
            FileHandle.standardError.write(Data("confine: cannot write the report to \(path): \(reason); the report follows on stderr\n".utf8))
            FileHandle.standardError.write(data)
            return false
        }
    }
}
