/// One line of `/proc/<pid>/mountinfo` (proc(5); written by fs/proc_namespace.c `show_mountinfo`):
///
///     36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
///     id par dev root mount  options    optional - type source   super options
///
/// The one mountinfo parser: the cgroup layout (`CgroupLayoutParser`) and the containment plan's
/// read-only mounts (`ContainmentPlan`) both read these. Paths, the type, the source and each
/// option are decoded once: the kernel writes space, tab, newline and backslash (and, in super
/// options, comma and `=`) as a backslash and three octal digits (`\040`).
public struct MountInfo: Equatable, Sendable {
    /// Unique id of the mount (may be reused after it is unmounted).
    public var mountID: Int
    /// The id of the parent mount (its own id at the top of the tree).
    public var parentID: Int
    /// `major:minor` of the filesystem's device (`0:28`).
    public var device: String
    /// The directory of the filesystem that forms this mount's root (`/` unless a bind mount of a sub-tree).
    public var root: String
    /// Where it is mounted, relative to the reading process's root.
    public var mountPoint: String
    /// Per-mount options (`rw`, `nosuid`, `relatime`).
    public var options: [String]
    /// Tagged fields before ` - ` (`shared:1`, `master:2`, `propagate_from:3`, `unbindable`); often none.
    public var optionalFields: [String]
    /// `cgroup2`, `cgroup`, `ext4`, `tmpfs`, …
    public var fsType: String
    /// Filesystem-specific source (`/dev/sda1`, `cgroup`, `none`); may be empty.
    public var source: String
    /// Per-superblock options (`rw`, and for cgroup v1 the controllers: `memory`, `cpu`, `cpuacct`).
    public var superOptions: [String]

    /// A cgroup v1 (`cgroup`) or v2 (`cgroup2`) hierarchy.
    public var isCgroup: Bool { fsType == "cgroup" || fsType == "cgroup2" }

    /// Every well-formed line of a mountinfo text, in order; malformed lines are skipped (see `init?(line:)`).
    public static func parse(_ text: String) -> [MountInfo] {
        text.split(separator: "\n").compactMap { MountInfo(line: $0) }
    }

    /// Comma-separated options, each decoded (an escaped comma, `\054`, stays inside its option).
    private static func optionList(_ field: some StringProtocol) -> [String] {
        field.split(separator: ",").map { unescape($0) }
    }

    /// Decodes the kernel's `\ooo` escapes (`\040` space, `\011` tab, `\012` newline, `\134`
    /// backslash); a backslash not followed by three octal digits of a byte stays as it is.
    public static func unescape(_ field: some StringProtocol) -> String {
        let source = Array(field.utf8)
        guard source.contains(UInt8(ascii: "\\")) else { return String(field) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count,
               let value = octalByte(source[index + 1], source[index + 2], source[index + 3]) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octalByte(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8? {
        let zero = UInt8(ascii: "0"), seven = UInt8(ascii: "7")
        guard (zero...seven).contains(a), (zero...seven).contains(b), (zero...seven).contains(c) else { return nil }
        let value = Int(a - zero) << 6 | Int(b - zero) << 3 | Int(c - zero)
        return UInt8(exactly: value)
    }
}

extension MountInfo {
    /// One line; nil when it lacks the six leading fields, the ` - ` separator or the three after
    /// it, or an id is not a number. Fields are separated by single spaces (an empty source shows
    /// as two spaces and stays empty).
    public init?(line: some StringProtocol) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let separator = fields[6...].firstIndex(of: "-"), fields.count >= separator + 4,
              let mountID = Int(fields[0]), let parentID = Int(fields[1]) else { return nil }
        let optional: [String] = fields[6..<separator].map { String($0) }
        self.init(mountID: mountID, parentID: parentID, device: String(fields[2]), root: Self.unescape(fields[3]),
                  mountPoint: Self.unescape(fields[4]), options: Self.optionList(fields[5]), optionalFields: optional,
                  fsType: Self.unescape(fields[separator + 1]), source: Self.unescape(fields[separator + 2]),
                  superOptions: Self.optionList(fields[separator + 3]))
    }
}
