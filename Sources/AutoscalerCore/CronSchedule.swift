import Foundation

/// A standard five-field cron expression (`minute hour day-of-month month day-of-week`), evaluated on the wall clock
/// of a time zone. Used for schedule windows: "from `start` until `end`, keep at least N replicas".
///
/// Supported syntax: `*`, values, lists (`1,15,30`), ranges (`1-5`), steps (`*/15`, `1-30/5`, `5/15` meaning
/// `5-max/15`), month names `jan`-`dec` and day names `sun`-`sat` (any case), day of week 0-7 with both 0 and 7
/// meaning Sunday, and the macros `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`.
///
/// Day of month and day of week combine as in Vixie cron: when both fields are restricted (neither starts with `*`)
/// a day matches if either matches; otherwise both must match. Note that `*/2` starts with `*` and therefore counts
/// as unrestricted for this rule, exactly as in Vixie cron.
///
/// Daylight saving time: a wall time that occurs twice fires once, at its first occurrence; a wall time skipped by a
/// spring-forward gap fires once, at the instant the gap ends (like Vixie cron running skipped jobs right after the
/// change). All fire instants are whole minutes of local time.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The expression as it was written.
    public let expression: String

    // Allowed values, ascending, for walking through a matching day.
    private let minutes: [Int]
    private let hours: [Int]
    // Bit sets for the cheap per-day test: days of month use bits 1-31, months 1-12, days of week 0-6 (Sunday 0).
    private let daysOfMonth: UInt64
    private let months: UInt64
    private let daysOfWeek: UInt64
    private let dayOfMonthIsStar: Bool
    private let dayOfWeekIsStar: Bool
    // False when no month contains an allowed day of month (`0 0 31 2 *`) and the day of week cannot help either,
    // so searches can give up at once instead of walking eight years of days.
    private let canEverFire: Bool

    /// About eight years of days: long enough to find `0 0 29 2 *` even across a non-leap century year.
    private static let searchDays = 8 * 366

    /// Parses a 5-field expression (or a macro such as `@daily`); throws a ``CronParseError`` naming the field.
    public init(parsing expression: String) throws(CronParseError) {
        self.expression = expression
        let fields = try Self.splitFields(expression)
        minutes = Self.members(of: try Self.parseField(fields[0], as: .minute))
        hours = Self.members(of: try Self.parseField(fields[1], as: .hour))
        let monthDays = try Self.parseField(fields[2], as: .dayOfMonth)
        let allowedMonths = try Self.parseField(fields[3], as: .month)
        var weekdays = try Self.parseField(fields[4], as: .dayOfWeek)
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & ~(1 << 7)) | 1
        }
        daysOfMonth = monthDays
        months = allowedMonths
        daysOfWeek = weekdays
        dayOfMonthIsStar = fields[2].hasPrefix("*")
        dayOfWeekIsStar = fields[4].hasPrefix("*")

        if !dayOfMonthIsStar && !dayOfWeekIsStar {
            // Either field may match, and every month has every weekday.
            canEverFire = true
        } else {
            let longestMonth = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            canEverFire = (1...12).contains { month in
                let daysInMonth: UInt64 = (1 << UInt64(longestMonth[month] + 1)) - 2
                return allowedMonths & (1 << UInt64(month)) != 0 && monthDays & daysInMonth != 0
            }
        }
    }

    /// The expression as it was written.
    public var description: String { expression }

    /// The latest instant t <= `date` at which the schedule fires, in `zone`; nil when none in the last ~8 years.
    public func previousFire(atOrBefore date: Date, in zone: TimeZone) -> Date? {
        guard canEverFire, let local = LocalTime(of: date, in: zone) else { return nil }
        // If the clocks went back within the last day, wall times later than the current one may already have had
        // their first occurrence, so start looking as much later as the clocks went back.
        let offsetADayAgo = Self.offset(in: zone, at: local.instant - 26 * 3_600)
        let latest = local.seconds + max(0, offsetADayAgo - local.offset)
        var day = local.day
        while day.number < Self.floorDivide(latest, 86_400) {
            day.moveForward()
        }
        var lastMinute = (latest - day.number * 86_400) / 60
        for _ in 0..<Self.searchDays {
            if matches(day) {
                for hour in hours.reversed() where hour * 60 <= lastMinute {
                    for minute in minutes.reversed() where hour * 60 + minute <= lastMinute {
                        let fire = Self.instant(ofWallClock: day.number * 86_400 + hour * 3_600 + minute * 60, in: zone)
                        if fire <= date { return fire }
                    }
                }
            }
            lastMinute = 24 * 60 - 1
            day.moveBackward()
        }
        return nil
    }

    /// The earliest instant t > `date` at which the schedule fires, in `zone`; nil when none in the next ~8 years.
    public func nextFire(after date: Date, in zone: TimeZone) -> Date? {
        guard canEverFire, let local = LocalTime(of: date, in: zone) else { return nil }
        // Wall times up to the current one cannot fire later than `date` (the wall-to-instant mapping never goes
        // backwards), so start at the next whole minute.
        var day = local.day
        var firstMinute = (local.seconds - day.number * 86_400) / 60 + 1
        for _ in 0..<Self.searchDays {
            if matches(day) {
                for hour in hours where hour * 60 + 59 >= firstMinute {
                    for minute in minutes where hour * 60 + minute >= firstMinute {
                        let fire = Self.instant(ofWallClock: day.number * 86_400 + hour * 3_600 + minute * 60, in: zone)
                        if fire > date { return fire }
                    }
                }
            }
            firstMinute = 0
            day.moveForward()
        }
        return nil
    }

    private func matches(_ day: LocalDay) -> Bool {
        guard months & (1 << UInt64(day.month)) != 0 else { return false }
        let dayOfMonthMatches = daysOfMonth & (1 << UInt64(day.day)) != 0
        let dayOfWeekMatches = daysOfWeek & (1 << UInt64(day.weekday)) != 0
        if dayOfMonthIsStar || dayOfWeekIsStar {
            return dayOfMonthMatches && dayOfWeekMatches
        }
        return dayOfMonthMatches || dayOfWeekMatches
    }
}

/// Why a cron expression was rejected.
public struct CronParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `minute`, `hour`, `day of month`, `month`, `day of week`, or `expression` for the expression as a whole.
    public var field: String
    /// What is wrong, for example `value 61 out of range 0-59`.
    public var message: String

    /// Creates an error for `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`.
    public var description: String { "\(field): \(message)" }
}

// MARK: - Parsing

extension CronSchedule {
    private struct Field {
        var name: String
        /// Values that may be written.
        var bounds: ClosedRange<Int>
        /// What `*` and the open end of `N/step` cover (day of week: 0-6, so Sunday is not counted twice).
        var fullRange: ClosedRange<Int>
        /// Three-letter names, the first standing for `fullRange.lowerBound`.
        var names: [String] = []

        static let minute = Field(name: "minute", bounds: 0...59, fullRange: 0...59)
        static let hour = Field(name: "hour", bounds: 0...23, fullRange: 0...23)
        static let dayOfMonth = Field(name: "day of month", bounds: 1...31, fullRange: 1...31)
        static let month = Field(
            name: "month", bounds: 1...12, fullRange: 1...12,
            names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
        static let dayOfWeek = Field(
            name: "day of week", bounds: 0...7, fullRange: 0...6,
            names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"])

        func error(_ message: String) -> CronParseError {
            CronParseError(field: name, message: message)
        }
    }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    private static func splitFields(_ expression: String) throws(CronParseError) -> [Substring] {
        let trimmed = expression.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw CronParseError(field: "expression", message: "empty expression")
        }
        if trimmed.hasPrefix("@") {
            guard let expansion = macros[trimmed.lowercased()] else {
                throw CronParseError(
                    field: "expression",
                    message: "unknown macro \"\(trimmed)\" (use @yearly, @annually, @monthly, @weekly, @daily, "
                        + "@midnight or @hourly)")
            }
            return expansion.split(separator: " ")
        }
        let fields = trimmed.split(whereSeparator: \.isWhitespace)
        guard fields.count == 5 else {
            throw CronParseError(
                field: "expression",
                message: "expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        return fields
    }

    /// The allowed values of one field as a bit set (bit n set = value n allowed).
    private static func parseField(_ text: Substring, as field: Field) throws(CronParseError) -> UInt64 {
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits |= try parseItem(item, of: text, as: field)
        }
        return bits
    }

    private static func parseItem(
        _ item: Substring, of text: Substring, as field: Field
    ) throws(CronParseError)
        -> UInt64
    {
        guard !item.isEmpty else { throw field.error("empty list item in \"\(text)\"") }
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw field.error("more than one \"/\" in \"\(item)\"") }

        var step = 1
        if parts.count == 2 {
            guard !parts[1].isEmpty else { throw field.error("missing step after \"/\" in \"\(item)\"") }
            guard let value = number(parts[1]) else { throw field.error("invalid step \"\(parts[1])\"") }
            guard value >= 1 && value <= field.bounds.count else {
                throw field.error("step \(value) out of range 1-\(field.bounds.count)")
            }
            step = value
        }

        let low: Int
        let high: Int
        if parts[0] == "*" {
            (low, high) = (field.fullRange.lowerBound, field.fullRange.upperBound)
        } else {
            let ends = parts[0].split(separator: "-", omittingEmptySubsequences: false)
            switch ends.count {
            case 1:
                low = try value(ends[0], in: item, as: field)
                // `5/15` means `5-max/15`.
                high = parts.count == 2 ? max(low, field.fullRange.upperBound) : low
            case 2:
                low = try value(ends[0], in: item, as: field)
                high = try value(ends[1], in: item, as: field)
                guard low <= high else { throw field.error("reversed range \"\(parts[0])\"") }
            default:
                throw field.error("invalid range \"\(parts[0])\"")
            }
        }

        var bits: UInt64 = 0
        for value in stride(from: low, through: high, by: step) {
            bits |= 1 << UInt64(value)
        }
        return bits
    }

    private static func value(_ text: Substring, in item: Substring, as field: Field) throws(CronParseError) -> Int {
        guard !text.isEmpty else { throw field.error("missing value in \"\(item)\"") }
        if let index = field.names.firstIndex(of: text.lowercased()) {
            return field.fullRange.lowerBound + index
        }
        guard let value = number(text) else { throw field.error("invalid value \"\(text)\"") }
        guard field.bounds.contains(value) else {
            throw field.error("value \(text) out of range \(field.bounds.lowerBound)-\(field.bounds.upperBound)")
        }
        return value
    }

    /// A plain decimal number; nil for anything else (signs, spaces, non-ASCII digits). Absurdly long numbers come
    /// back as `Int.max` so that they are reported as out of range rather than as garbage.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Int(text) ?? Int.max
    }

    private static func members(of bits: UInt64) -> [Int] {
        (0..<64).filter { bits & (1 << UInt64($0)) != 0 }
    }
}

// MARK: - Local time

extension CronSchedule {
    /// A calendar day on the local wall clock, stepped through without asking a Calendar for every day.
    private struct LocalDay {
        /// Days since 1970-01-01 on the wall clock.
        var number: Int
        var year: Int
        var month: Int
        var day: Int
        /// 0 = Sunday ... 6 = Saturday.
        var weekday: Int

        mutating func moveForward() {
            number += 1
            weekday = (weekday + 1) % 7
            day += 1
            if day > Self.length(ofMonth: month, in: year) {
                day = 1
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
            }
        }

        mutating func moveBackward() {
            number -= 1
            weekday = (weekday + 6) % 7
            day -= 1
            if day < 1 {
                month -= 1
                if month < 1 {
                    month = 12
                    year -= 1
                }
                day = Self.length(ofMonth: month, in: year)
            }
        }

        static func length(ofMonth month: Int, in year: Int) -> Int {
            switch month {
            case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        }
    }

    /// The wall-clock reading in a zone at some instant.
    private struct LocalTime {
        /// The instant, truncated to whole seconds since 1970.
        var instant: Int
        /// The zone's UTC offset then, in seconds.
        var offset: Int
        /// The wall-clock time: seconds since 1970-01-01T00:00 as if the wall clock were UTC.
        var seconds: Int
        var day: LocalDay

        /// Nil for dates outside any sensible range.
        init?(of date: Date, in zone: TimeZone) {
            let interval = date.timeIntervalSince1970
            // Roughly the years 1653 to 5138: clear of the Julian dates Calendar uses before 1582 (the day stepping
            // below is purely Gregorian), and no NaN or infinity.
            guard interval > -1e10 && interval < 1e11 else { return nil }
            // Truncate first: Calendar rounds fractional seconds, which can push 23:59:59.9999999 into the next day.
            instant = Int(interval.rounded(.down))
            offset = CronSchedule.offset(in: zone, at: instant)
            seconds = instant + offset
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            let parts = calendar.dateComponents(
                [.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: TimeInterval(instant)))
            guard let year = parts.year, let month = parts.month, let dayOfMonth = parts.day,
                let weekday = parts.weekday
            else { return nil }
            day = LocalDay(
                number: CronSchedule.floorDivide(seconds, 86_400), year: year, month: month, day: dayOfMonth,
                weekday: weekday - 1)
        }
    }

    /// The instant at which the wall clock in `zone` shows `wall` (seconds since 1970-01-01T00:00 as if it were
    /// UTC). A wall time shown twice gives its first occurrence; one skipped by a gap gives the end of the gap.
    private static func instant(ofWallClock wall: Int, in zone: TimeZone) -> Date {
        // UTC offsets are well under a day, so the offsets a day either side are those before and after any
        // transition that affects this wall time.
        let offsetBefore = offset(in: zone, at: wall - 86_400)
        let offsetAfter = offset(in: zone, at: wall + 86_400)
        let candidates = offsetBefore == offsetAfter ? [offsetBefore] : [offsetBefore, offsetAfter]
        // An offset is right if the zone really uses it at the instant it gives; with two (the repeated hour after
        // the clocks went back) the earlier instant is the first occurrence.
        let valid = candidates.map { wall - $0 }.filter { offset(in: zone, at: $0) == wall - $0 }
        if let first = valid.min() {
            return Date(timeIntervalSince1970: TimeInterval(first))
        }
        guard offsetAfter > offsetBefore else {
            // Neither offset fits and yet the clocks did not go forward: several transitions within two days.
            // Not seen in practice; the instant by the earlier offset is as good an answer as any.
            return Date(timeIntervalSince1970: TimeInterval(wall - offsetBefore))
        }
        // The wall time was skipped. The gap ends at the transition, which lies in (wall - after, wall - before].
        let lower = wall - offsetAfter
        let upper = wall - offsetBefore
        let searchFrom = Date(timeIntervalSince1970: TimeInterval(lower))
        if let transition = zone.nextDaylightSavingTimeTransition(after: searchFrom),
            transition.timeIntervalSince1970 <= TimeInterval(upper)
        {
            return transition
        }
        // Not reported as a daylight-saving transition (a change of standard offset, say): bisect for it instead.
        let offsetAtLower = offset(in: zone, at: lower)
        var (low, high) = (lower, upper)
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(in: zone, at: middle) == offsetAtLower {
                low = middle
            } else {
                high = middle
            }
        }
        return Date(timeIntervalSince1970: TimeInterval(high))
    }

    private static func offset(in zone: TimeZone, at seconds: Int) -> Int {
        zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> Int {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}
