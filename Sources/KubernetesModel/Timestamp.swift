import Foundation

/// RFC 3339 timestamps as the Kubernetes API writes them (`2026-11-23T21:30:00Z`), with milliseconds kept when an
/// instant is not a whole second so that a decision replayed from status sees the same instants.
public enum Timestamp {
    /// Formats `date` in UTC; whole seconds have no fraction.
    public static func format(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        return format(millis: millis, fractionDigits: millis % 1000 == 0 ? 0 : 3)
    }

    /// Formats `millis` since 1970 in UTC with exactly `fractionDigits` (0, 3 or 6) digits after the second; for 6
    /// the last three are `micros`.
    ///
    /// Plain arithmetic rather than `Calendar`: a Gregorian calendar and a `TimeZone` pull ICU's tables into
    /// memory (several MiB of resident pages for a controller that only ever writes UTC).
    public static func format(millis: Int64, fractionDigits: Int, micros: Int = 0) -> String {
        let seconds = millis.floorDivided(by: 1000)
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        var text = padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
        text += "T" + padded(secondOfDay / 3600, 2) + ":" + padded(secondOfDay / 60 % 60, 2) + ":"
        text += padded(secondOfDay % 60, 2)
        if fractionDigits >= 3 { text += "." + padded(Int(millis - seconds * 1000), 3) }
        if fractionDigits >= 6 { text += padded(micros, 3) }
        return text + "Z"
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01, by 400-year eras of 146,097 days.
    static func civilDate(daysSince1970: Int64) -> (year: Int, month: Int, day: Int) {
        // Shift the epoch to 0000-03-01 so that a leap day ends its year.
        let shifted = daysSince1970 + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date; the inverse of `civilDate`.
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int64 {
        let marchYear = Int64(month <= 2 ? year - 1 : year)
        let era = marchYear.floorDivided(by: 400)
        let yearOfEra = marchYear - era * 400
        let monthFromMarch = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
        let days = daysSince1970(year: year, month: month, day: day)
        // February 30th and the like: the date must come back as written.
        guard civilDate(daysSince1970: days) == (year, month, day) else { return nil }
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
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

extension Int64 {
    /// Division rounding toward minus infinity, so that instants before 1970 land on the right day.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

extension KeyedDecodingContainer {
    /// An RFC 3339 time, as status and the API write them.
    public func decodeTime(forKey key: Key) throws -> Date {
        try decode(RFC3339.self, forKey: key).wrappedValue
    }

    public func decodeTimeIfPresent(forKey key: Key) throws -> Date? {
        try decodeIfPresent(RFC3339.self, forKey: key)?.wrappedValue
    }
}

extension KeyedEncodingContainer {
    public mutating func encodeTime(_ date: Date, forKey key: Key) throws {
        try encode(RFC3339(wrappedValue: date), forKey: key)
    }

    public mutating func encodeTimeIfPresent(_ date: Date?, forKey key: Key) throws {
        if let date { try encode(RFC3339(wrappedValue: date), forKey: key) }
    }
}
