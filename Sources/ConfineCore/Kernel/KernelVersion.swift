/// A Linux kernel version, `major.minor.patch`, as the kernel's release string starts
/// (`uname -r`, `/proc/sys/kernel/osrelease`: `6.18.0-1-cloud-amd64`) and as seccomp
/// profiles' `minKernel` (`4.8`) write it. Ordered as versions are: 5.19 < 6.1 < 6.12.
///
/// Pure: ConfineLinux's `kernelRelease()` reads the running kernel's release string.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(_ major: Int, _ minor: Int = 0, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// The version a release string starts with: the first run of digits and dots, its parts
    /// in order (`6.18.0-1-cloud-amd64` → 6.18.0; `6.1` → 6.1.0; `v6.1` → 6.1.0; parts past
    /// the third are ignored). Nil when the string holds no number at all.
    public init?(release: some StringProtocol) {
        guard let version = release.split(whereSeparator: { !$0.isNumber && $0 != "." }).first else { return nil }
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return nil }
        self.init(major, parts.count > 1 ? parts[1] : 0, parts.count > 2 ? parts[2] : 0)
    }

    public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    /// `6.18.0`
    public var description: String { "\(major).\(minor).\(patch)" }
}
