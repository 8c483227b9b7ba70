/// What a container is besides its limits: its filesystem (a read-only root, the writable volumes
/// the manifest declares, a private `/dev/shm`), the identity its process runs as, its
/// environment, working directory and hostname. Declared in a profile (`filesystem:`, `user:`,
/// `env:`, `working_dir:`, `hostname:`), carried by the importers, applied by the spawn (root only).

/// A writable path inside the container: Kubernetes `emptyDir`, a Compose `tmpfs:` entry.
public struct Volume: Equatable, Sendable, Codable {
    public enum Medium: String, Sendable, Codable, CaseIterable {
        /// A tmpfs: its pages are charged to the run's memory, as the kernel charges the pod's
        /// (`emptyDir: {medium: Memory}`, Compose `tmpfs`).
        case memory
        /// A fresh empty directory on the host's disk, removed after the run (`emptyDir: {}`).
        case disk
    }
    /// Where it is mounted, absolute.
    public var path: String
    public var medium: Medium
    /// The tmpfs size in bytes (`sizeLimit`, tmpfs `size`); nil: the kernel's default (half of
    /// RAM) — the memory limit bounds it anyway. Not enforced for disk volumes (the kubelet
    /// evicts, it does not refuse writes).
    public var sizeBytes: UInt64?

    /// Why `path` cannot hold a volume, or nil: it must be absolute, not /, without `..`, and not
    /// in the kernel's trees a container gets fresh (/proc, /sys, /dev — runc refuses mounts over
    /// /proc; /dev/shm has `shm_size`).
    public static func problem(path: String) -> String? {
        guard path.hasPrefix("/"), path != "/", !path.split(separator: "/").contains("..") else {
            return "must be an absolute path, not / and without '..'"
        }
        let normal = "/" + path.split(separator: "/").joined(separator: "/")
        if normal == "/dev/shm" || normal.hasPrefix("/dev/shm/") { return "is /dev/shm: size it with shm_size (--shm-size)" }
        for tree in ["/proc", "/sys", "/dev"] where normal == tree || normal.hasPrefix(tree + "/") {
            return "is in \(tree), which the kernel provides (a container's is its own, not a volume)"
        }
        return nil
    }

    /// As a profile writes it: `{path: /cache, medium: memory, size_limit: 64Mi}`.
    public var yamlFlow: String {
        "{path: \(path), medium: \(medium.rawValue)" + (sizeBytes.map { ", size_limit: \(ByteQuantity.format($0))" } ?? "") + "}"
    }

    public init(path: String, medium: Medium, sizeBytes: UInt64? = nil) {
        self.path = path
        self.medium = medium
        self.sizeBytes = sizeBytes
    }
}

/// The identity the target runs as (Kubernetes `securityContext`, Compose `user:`).
public struct UserSpec: Equatable, Sendable, Codable {
    /// `runAsUser`; nil: confine's own uid.
    public var uid: UInt32?
    /// `runAsGroup`; nil: the uid's own group id when a uid is given (Kubernetes uses the
    /// image's, which confine cannot see: it uses the uid), else confine's.
    public var gid: UInt32?
    /// `supplementalGroups` (and `fsGroup`, which Kubernetes adds to them).
    public var supplementalGroups: [UInt32]?
    /// `runAsNonRoot`: refuse to start when the target would run as uid 0, as the kubelet does.
    public var runAsNonRoot: Bool?

    public init(uid: UInt32? = nil, gid: UInt32? = nil, supplementalGroups: [UInt32]? = nil, runAsNonRoot: Bool? = nil) {
        self.uid = uid
        self.gid = gid
        self.supplementalGroups = supplementalGroups
        self.runAsNonRoot = runAsNonRoot
    }

    public func overridden(by other: UserSpec) -> UserSpec {
        UserSpec(uid: other.uid ?? uid, gid: other.gid ?? gid, supplementalGroups: other.supplementalGroups ?? supplementalGroups,
                 runAsNonRoot: other.runAsNonRoot ?? runAsNonRoot)
    }

    /// The ids a container may run as: 0 to 2147483647, as Kubernetes validates them (and
    /// runc's int32 fields hold). 4294967295 is -1, which setresuid takes as "unchanged": the
    /// target would stay root.
    public static let idRange: ClosedRange<UInt32> = 0...2_147_483_647

    /// A uid or gid as written, or nil when it is not a whole number in `idRange`.
    public static func id(_ text: String) -> UInt32? {
        guard let number = UInt32(text), idRange.contains(number) else { return nil }
        return number
    }

    /// `UID`, `UID:GID` (Docker's `--user` with numbers; names would need the image's /etc/passwd).
    public static func parse(_ raw: String) throws(UnitError) -> UserSpec {
        let parts = raw.trimmingWhitespace().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), let uid = id(parts[0]), parts.count == 1 || id(parts[1]) != nil else {
            throw UnitError("'\(raw)' is not a user; expected UID or UID:GID as numbers from 0 to 2147483647, such as 10001 or 10001:10001")
        }
        return UserSpec(uid: uid, gid: parts.count == 2 ? id(parts[1]) : nil)
    }
}

/// `filesystem:` in a profile.
public struct FilesystemSpec: Equatable, Sendable {
    /// `read_only_root`: the root filesystem (every mount but /proc, /dev and /sys's own) read-only.
    public var readOnlyRoot: Bool?
    /// `shm_size`: the private /dev/shm tmpfs's size.
    public var shmBytes: UInt64?
    /// `volumes`: writable paths; a child profile's volume replaces its parent's at the same path.
    public var volumes: [Volume]?
    /// `keep_writable`: host paths that stay writable, with their content, under a read-only root
    /// (`.` is the working directory: a suite that writes into its checkout). Not a pod's: say so.
    public var keepWritable: [String]?
    public init(readOnlyRoot: Bool? = nil, shmBytes: UInt64? = nil, volumes: [Volume]? = nil, keepWritable: [String]? = nil) {
        self.readOnlyRoot = readOnlyRoot
        self.shmBytes = shmBytes
        self.volumes = volumes
        self.keepWritable = keepWritable
    }

    public func overridden(by other: FilesystemSpec) -> FilesystemSpec {
        var merged = volumes ?? []
        for volume in other.volumes ?? [] {
            merged.removeAll { $0.path == volume.path }
            merged.append(volume)
        }
        return FilesystemSpec(readOnlyRoot: other.readOnlyRoot ?? readOnlyRoot, shmBytes: other.shmBytes ?? shmBytes,
                              volumes: volumes == nil && other.volumes == nil ? nil : merged,
                              keepWritable: other.keepWritable ?? keepWritable)
    }
}

/// A hostname as Kubernetes validates one (RFC 1123): labels of letters, digits and `-`, each
/// 1–63 long, not starting or ending with `-`, at most 64 in all (the kernel's limit).
public enum Hostname {
    public static func problem(_ name: String) -> String? {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 64, labels.allSatisfy({ label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }) else {
            return "'\(name)' is not a hostname: labels of letters, digits and '-' (not first or last), joined by '.', up to 64 characters"
        }
        return nil
    }
}

/// Docker's default /dev/shm (moby `config.DefaultShmSize`): what a container profile gets
/// unless it says otherwise.
public let dockerDefaultShmBytes: UInt64 = 64 << 20
