@testable import ConfineLinux
import Foundation
import XCTest

/// The one mountinfo parser (proc(5)), and its two users: the cgroup layout and the containment plan.
final class MountInfoTests: XCTestCase {
    let fixtures = Bundle.module.resourcePath! + "/Fixtures"

    func testParsesEveryFieldOfALine() throws {
        let mount = try XCTUnwrap(MountInfo(line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"))
        XCTAssertEqual(mount, MountInfo(mountID: 36, parentID: 35, device: "98:0", root: "/mnt1", mountPoint: "/mnt2",
                                        options: ["rw", "noatime"], optionalFields: ["master:1"], fsType: "ext3",
                                        source: "/dev/root", superOptions: ["rw", "errors=continue"]))
        XCTAssertFalse(mount.isCgroup)
    }

    func testOptionalFieldsBeforeTheSeparator() throws {
        let none = try XCTUnwrap(MountInfo(line: "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755"))
        XCTAssertEqual(none.optionalFields, [])
        XCTAssertEqual(none.fsType, "tmpfs")
        let several = try XCTUnwrap(MountInfo(line: "40 31 0:35 / /sys/fs/cgroup/memory rw,nosuid shared:9 master:2 propagate_from:1 unbindable - cgroup cgroup rw,memory"))
        XCTAssertEqual(several.optionalFields, ["shared:9", "master:2", "propagate_from:1", "unbindable"])
        XCTAssertEqual(several.fsType, "cgroup")
        XCTAssertEqual(several.superOptions, ["rw", "memory"])
        XCTAssertTrue(several.isCgroup)
    }

    func testOctalEscapesAreDecodedOnce() throws {
        let mount = try XCTUnwrap(MountInfo(line: #"50 31 0:40 /a\134b /mnt/with\040space\011tab\012newline rw - fuse\040x my\040source rw,opt=a\054b"#))
        XCTAssertEqual(mount.root, #"/a\b"#)
        XCTAssertEqual(mount.mountPoint, "/mnt/with space\ttab\nnewline")
        XCTAssertEqual(mount.fsType, "fuse x")
        XCTAssertEqual(mount.source, "my source")
        XCTAssertEqual(mount.superOptions, ["rw", "opt=a,b"], "an escaped comma stays inside its option")
        XCTAssertEqual(MountInfo.unescape(#"\134040"#), #"\040"#, "decoded once, not twice")
        XCTAssertEqual(MountInfo.unescape(#"/a\04"#), #"/a\04"#, "too short: left as it is")
        XCTAssertEqual(MountInfo.unescape(#"/a\089"#), #"/a\089"#, "not octal: left as it is")
        XCTAssertEqual(MountInfo.unescape(#"/a\777"#), #"/a\777"#, "not a byte: left as it is")
        XCTAssertEqual(MountInfo.unescape(#"/a\"#), #"/a\"#)
    }

    func testAnEmptySourceStaysEmpty() throws {
        let mount = try XCTUnwrap(MountInfo(line: "60 31 0:41 / /mnt rw - tmpfs  rw,size=4k"))
        XCTAssertEqual(mount.source, "")
        XCTAssertEqual(mount.superOptions, ["rw", "size=4k"])
    }

    func testMalformedLinesAreSkipped() {
        let text = """
        22 1 0:21 / / rw,relatime - rootfs rootfs rw
        garbage
        23 22 0:22 / /proc rw,relatime proc proc rw
        24 22 0:23 / /sys rw - sysfs sysfs
        x 22 0:23 / /sys rw - sysfs sysfs rw
        25 22 0:24 / - tmpfs tmpfs rw

        26 22 0:25 / /dev rw - devtmpfs devtmpfs rw
        """
        XCTAssertEqual(MountInfo.parse(text).map(\.mountID), [22, 26], "no separator, a field short, an id not a number, a separator too early")
        XCTAssertNil(MountInfo(line: ""))
        XCTAssertNil(MountInfo(line: "1 2 3:4 /"))
    }

    func testBothUsersReadTheSameMounts() {
        let text = """
        31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
        33 31 0:30 /docker/a\\040b /sys/fs/cgroup/unified\\040dir rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
        34 31 0:31 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,xattr,name=systemd
        """
        XCTAssertEqual(CgroupLayoutParser.mounts(fromMountinfo: text), [
            CgroupMount(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/", fsType: "cgroup", controllers: ["cpu", "cpuacct"]),
            CgroupMount(mountPoint: "/sys/fs/cgroup/unified dir", root: "/docker/a b", fsType: "cgroup2", controllers: []),
            CgroupMount(mountPoint: "/sys/fs/cgroup/systemd", root: "/", fsType: "cgroup", controllers: []),
        ])
        let common = UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC) | UInt(MS_RELATIME)
        XCTAssertEqual(ContainmentPlan.cgroupMounts(text), [
            .init(path: "/sys/fs/cgroup/cpu,cpuacct", flags: common),
            .init(path: "/sys/fs/cgroup/unified dir", flags: common),
            .init(path: "/sys/fs/cgroup/systemd", flags: common),
        ])
    }

    func testFixturesFromRealKernelsParseWhole() throws {
        for name in ["v1/mountinfo.txt", "mountinfo-legacy.txt", "mountinfo-unified.txt"] {
            let text = try String(contentsOfFile: fixtures + "/" + name, encoding: .utf8)
            let lines = text.split(separator: "\n").count
            XCTAssertEqual(MountInfo.parse(text).count, lines, name)
        }
        let live = try ProcFS.readText(.current, "mountinfo")
        XCTAssertEqual(MountInfo.parse(live).count, live.split(separator: "\n").count, "this machine's own")
    }
}
