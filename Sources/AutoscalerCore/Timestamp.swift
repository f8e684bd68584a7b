import Foundation

/// RFC 3339 timestamps as the Kubernetes API writes them (`2026-11-23T21:30:00Z`), with milliseconds kept when an
/// instant is not a whole second so that a decision replayed from status sees the same instants.
public enum Timestamp {
    /// Formats `date` in UTC; whole seconds have no fraction.
    public static func format(_ date: Date) -> String {
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (millis / 1000).rounded(.down)
        let fraction = Int(millis - seconds * 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: seconds))
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!,
            parts.minute!, parts.second!)
        if fraction != 0 { text += String(format: ".%03d", fraction) }
        return text + "Z"
    }

    /// Parses RFC 3339 with `Z` or a numeric offset and an optional fraction; nil when malformed.
    public static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= scalars.count else { return nil }
            var value = 0
            for byte in scalars[start..<start + count] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        func byte(_ index: Int) -> UInt8? { index < scalars.count ? scalars[index] : nil }
        guard let year = number(0, 4), byte(4) == UInt8(ascii: "-"), let month = number(5, 2),
            byte(7) == UInt8(ascii: "-"), let day = number(8, 2), byte(10) == UInt8(ascii: "T") || byte(10) == 116,
            let hour = number(11, 2), byte(13) == UInt8(ascii: ":"), let minute = number(14, 2),
            byte(16) == UInt8(ascii: ":"), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if byte(index) == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while let digit = byte(index), digit >= 48, digit <= 57 {
                fraction += Double(digit - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        switch byte(index) {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = byte(index) == UInt8(ascii: "+") ? 1 : -1
            guard let hours = number(index + 1, 2), byte(index + 3) == UInt8(ascii: ":"),
                let minutes = number(index + 4, 2)
            else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index += 6
        default:
            return nil
        }
        guard index == scalars.count else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let base = calendar.date(from: components), calendar.component(.day, from: base) == day else {
            return nil
        }
        return base.addingTimeInterval(fraction - Double(offset))
    }
}

/// Encodes and decodes `Date` as an RFC 3339 string.
@propertyWrapper
public struct RFC3339: Codable, Sendable, Equatable, Hashable {
    public var wrappedValue: Date
    public init(wrappedValue: Date) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        wrappedValue = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Timestamp.format(wrappedValue))
    }
}

extension KeyedDecodingContainer {
    func decodeTime(forKey key: Key) throws -> Date {
        try decode(RFC3339.self, forKey: key).wrappedValue
    }

    func decodeTimeIfPresent(forKey key: Key) throws -> Date? {
        try decodeIfPresent(RFC3339.self, forKey: key)?.wrappedValue
    }
}

extension KeyedEncodingContainer {
    mutating func encodeTime(_ date: Date, forKey key: Key) throws {
        try encode(RFC3339(wrappedValue: date), forKey: key)
    }

    mutating func encodeTimeIfPresent(_ date: Date?, forKey key: Key) throws {
        if let date { try encode(RFC3339(wrappedValue: date), forKey: key) }
    }
}
