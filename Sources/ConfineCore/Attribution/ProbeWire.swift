/// Decodes probe datagrams (docs/probe-protocol.md, version 1). Pure: bytes in, records out,
/// and a reason for every datagram it refuses.
public enum ProbeWire {
    public static let magic: [UInt8] = Array("CPRB".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 20
    public static let recordSize = 32

    public enum Kind: UInt8, Sendable {
        case call = 1
        case testStart = 2
        case testEnd = 3
        /// A phase of the runner outside tests began (`collection`, `session finish`): its name and start.
        case phase = 4
    }

    public enum TestOutcome: UInt8, Sendable {
        case passed = 0, failed = 1, skipped = 2, error = 3
        /// The report's outcome for it.
        public var testOutcome: TestRecord.Outcome {
            switch self {
            case .passed: .passed
            case .failed: .failed
            case .skipped: .skipped
            case .error: .error
            }
        }
    }

    /// One decoded record. `name` indexes the datagram's name table, already resolved.
    public struct Record: Sendable, Equatable {
        public var kind: Kind
        public var flags: UInt8
        public var name: String
        public var tid: UInt32
        public var startNanoseconds: UInt64
        public var durationNanoseconds: UInt64
        public var value: Int64

        /// `bytes` of a call, when the sender gave it.
        public var bytes: Int64? { flags & 1 != 0 ? value : nil }
        public var outcome: TestOutcome { TestOutcome(rawValue: flags & 3) ?? .error }
        /// A test end's process peak RSS during the test, when the sender measured it.
        public var processPeakBytes: UInt64? { flags & 4 != 0 && value >= 0 ? UInt64(value) : nil }
        /// A test boundary the sender held back and sent later with others: confine's reading
        /// of the group when it arrives is not the group at that moment.
        public var isBatched: Bool { flags & ProbeWire.batchedFlag != 0 }
    }

    public static let batchedFlag: UInt8 = 8

    public struct Datagram: Sendable {
        public var pid: Int32
        /// Records the sender could not deliver so far (a running total per process).
        public var senderDropped: UInt32
        public var records: [Record]
    }

    public struct Malformed: Error, Equatable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// A validated datagram read in place: names decoded, records left as bytes, so the hot
    /// path (a million records a second) never copies a record or touches a String per record.
    public struct View {
        public let pid: Int32
        public let senderDropped: UInt32
        public let names: [String]
        public let count: Int
        let bytes: UnsafeRawBufferPointer
        let recordsOffset: Int

        @inline(__always) func base(_ index: Int) -> Int { recordsOffset + index * ProbeWire.recordSize }
        @inline(__always) public func kind(_ index: Int) -> UInt8 { bytes[base(index)] }
        @inline(__always) public func flags(_ index: Int) -> UInt8 { bytes[base(index) + 1] }
        @inline(__always) public func nameIndex(_ index: Int) -> Int { Int(load(UInt16.self, bytes, base(index) + 2)) }
        @inline(__always) public func duration(_ index: Int) -> UInt64 { load(UInt64.self, bytes, base(index) + 16) }
        @inline(__always) public func value(_ index: Int) -> Int64 { Int64(bitPattern: load(UInt64.self, bytes, base(index) + 24)) }

        public func record(_ index: Int) -> Record {
            let at = base(index)
            return Record(kind: Kind(rawValue: bytes[at])!, flags: bytes[at + 1], name: names[nameIndex(index)],
                          tid: load(UInt32.self, bytes, at + 4), startNanoseconds: load(UInt64.self, bytes, at + 8),
                          durationNanoseconds: duration(index), value: value(index))
        }
    }

    /// Checks a datagram whole (header, names, every record's kind and name) before any of it is used.
    public static func scan(_ bytes: UnsafeRawBufferPointer) throws(Malformed) -> View {
        guard bytes.count >= headerSize else { throw Malformed(reason: "datagram of \(bytes.count) bytes is shorter than the 20-byte header") }
        guard bytes[0] == magic[0], bytes[1] == magic[1], bytes[2] == magic[2], bytes[3] == magic[3] else {
            throw Malformed(reason: "datagram does not start with \"CPRB\"")
        }
        guard bytes[4] == version else { throw Malformed(reason: "protocol version \(bytes[4]), expected \(version)") }
        let nameCount = Int(load(UInt16.self, bytes, 6))
        let pid = Int32(bitPattern: load(UInt32.self, bytes, 8))
        let recordCount = Int(load(UInt32.self, bytes, 12))
        let dropped = load(UInt32.self, bytes, 16)
        var offset = headerSize
        var names: [String] = []
        names.reserveCapacity(nameCount)
        for index in 0..<nameCount {
            guard offset + 2 <= bytes.count else { throw Malformed(reason: "name \(index) runs past the datagram") }
            let length = Int(load(UInt16.self, bytes, offset))
            offset += 2
            guard offset + length <= bytes.count else { throw Malformed(reason: "name \(index) runs past the datagram") }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self),
                  !name.isEmpty
            else { throw Malformed(reason: "name \(index) is empty or not UTF-8") }
            names.append(name)
            offset += length
        }
        guard bytes.count - offset == recordCount * recordSize else {
            throw Malformed(reason: "header announces \(recordCount) records, the datagram holds \(bytes.count - offset) bytes of them")
        }
        let view = View(pid: pid, senderDropped: dropped, names: names, count: recordCount, bytes: bytes, recordsOffset: offset)
        for index in 0..<recordCount {
            let kind = view.kind(index)
            guard kind >= Kind.call.rawValue && kind <= Kind.phase.rawValue else {
                throw Malformed(reason: "record \(index) has unknown kind \(kind)")
            }
            guard view.nameIndex(index) < nameCount else {
                throw Malformed(reason: "record \(index) names entry \(view.nameIndex(index)) of \(nameCount)")
            }
        }
        return view
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(Malformed) -> Datagram {
        let view = try scan(bytes)
        return Datagram(pid: view.pid, senderDropped: view.senderDropped, records: (0..<view.count).map(view.record))
    }

    /// Encodes a datagram (tests and the test-event senders; the libraries have their own).
    public static func encode(pid: Int32, dropped: UInt32 = 0, records: [Record]) -> [UInt8] {
        var names: [String] = []
        var index: [String: UInt16] = [:]
        for record in records where index[record.name] == nil {
            index[record.name] = UInt16(names.count)
            names.append(record.name)
        }
        var out = magic + [version, 0]
        put(UInt16(names.count), &out)
        put(UInt32(bitPattern: pid), &out)
        put(UInt32(records.count), &out)
        put(dropped, &out)
        for name in names {
            put(UInt16(name.utf8.count), &out)
            out += Array(name.utf8)
        }
        for record in records {
            out += [record.kind.rawValue, record.flags]
            put(index[record.name]!, &out)
            put(record.tid, &out)
            put(record.startNanoseconds, &out)
            put(record.durationNanoseconds, &out)
            put(UInt64(bitPattern: record.value), &out)
        }
        return out
    }

    @inline(__always)
    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    static func put<T: FixedWidthInteger>(_ value: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}

/// The `running` file beside the probe socket (docs/probe-protocol.md, "Running tests"): one
/// 512-byte slot per process (`pid % 64`), where the pytest plugin stores the test it runs with
/// plain memory writes. confine reads it at every sample, so a test whose start the plugin held
/// back is known while it runs. The target writes it: every slot is checked, a torn or
/// malformed one is skipped.
public enum RunningSlots {
    public static let slotSize = 512
    public static let slotCount = 64
    public static let fileSize = slotSize * slotCount
    public static let nameLimit = slotSize - 18

    public struct Test: Sendable, Equatable {
        public var pid: Int32
        public var startNanoseconds: UInt64
        public var name: String

        public init(pid: Int32, startNanoseconds: UInt64, name: String) {
            self.pid = pid
            self.startNanoseconds = startNanoseconds
            self.name = name
        }
    }

    /// The tests in a snapshot of the file. A slot counts when its sequence number is even and
    /// non-zero (written, not mid-write), its pid belongs to it (`pid % 64`), and its name is
    /// non-empty UTF-8 that fits. With `confirmation` (a second snapshot, read right after the
    /// first), only slots identical in both: a read is not atomic, a slot may change under it.
    public static func scan(_ bytes: UnsafeRawBufferPointer, confirmation: UnsafeRawBufferPointer? = nil) -> [Test] {
        var tests: [Test] = []
        for slot in 0..<min(slotCount, bytes.count / slotSize, confirmation.map { $0.count / slotSize } ?? slotCount) {
            let at = slot * slotSize
            if let confirmation, !(0..<slotSize).allSatisfy({ bytes[at + $0] == confirmation[at + $0] }) { continue }
            let sequence = ProbeWire.load(UInt32.self, bytes, at)
            let pid = Int32(bitPattern: ProbeWire.load(UInt32.self, bytes, at + 4))
            let length = Int(ProbeWire.load(UInt16.self, bytes, at + 16))
            guard sequence != 0, sequence % 2 == 0, pid > 0, Int(pid) % slotCount == slot, length > 0, length <= nameLimit,
                  let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[at + 18..<at + 18 + length]), as: UTF8.self)
            else { continue }
            tests.append(Test(pid: pid, startNanoseconds: ProbeWire.load(UInt64.self, bytes, at + 8), name: name))
        }
        return tests
    }

    /// One slot as the plugin writes it (for tests).
    public static func encode(_ test: Test, sequence: UInt32 = 2) -> [UInt8] {
        var slot = [UInt8](repeating: 0, count: slotSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { slot[offset + index] = byte } }
        }
        let name = Array(test.name.utf8.prefix(nameLimit))
        put(sequence, at: 0)
        put(test.pid, at: 4)
        put(test.startNanoseconds, at: 8)
        put(UInt16(name.count), at: 16)
        slot.replaceSubrange(18..<18 + name.count, with: name)
        return slot
    }
}
