import AutoscalerCore
import Foundation
import Testing

private let utc = TimeZone(identifier: "UTC")!
private let amsterdam = TimeZone(identifier: "Europe/Amsterdam")!
private let newYork = TimeZone(identifier: "America/New_York")!
private let lordHowe = TimeZone(identifier: "Australia/Lord_Howe")!
private let havana = TimeZone(identifier: "America/Havana")!

/// An instant from an ISO 8601 string such as `2026-03-29T01:00:00Z` (fractional seconds allowed).
private func iso(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions =
        text.contains(".")
        ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { fatalError("bad ISO 8601 instant in test: \(text)") }
    return date
}

private func cron(_ expression: String) throws -> CronSchedule {
    try CronSchedule(parsing: expression)
}

/// The first `count` fire times after `date`.
private func fires(_ schedule: CronSchedule, after date: Date, in zone: TimeZone, count: Int) -> [Date] {
    var result: [Date] = []
    var cursor = date
    while result.count < count, let next = schedule.nextFire(after: cursor, in: zone) {
        result.append(next)
        cursor = next
    }
    return result
}

// MARK: - Time zones on this platform

@Test func timeZoneIdentifiersResolveOnThisPlatform() throws {
    let zone = try #require(TimeZone(identifier: "Europe/Amsterdam"))
    #expect(zone.identifier == "Europe/Amsterdam")
    #expect(zone.secondsFromGMT(for: iso("2026-01-15T12:00:00Z")) == 3_600)
    #expect(zone.secondsFromGMT(for: iso("2026-07-15T12:00:00Z")) == 7_200)
    #expect(zone.nextDaylightSavingTimeTransition(after: iso("2026-03-01T00:00:00Z")) == iso("2026-03-29T01:00:00Z"))
    #expect(TimeZone(identifier: "Mars/Olympus") == nil)
}

// MARK: - Parsing

@Test(arguments: [
    // (expression, after, expected next fire), all in UTC.
    ("* * * * *", "2026-05-10T10:20:30Z", "2026-05-10T10:21:00Z"),
    ("*/15 * * * *", "2026-05-10T10:07:00Z", "2026-05-10T10:15:00Z"),
    ("1,15,30 * * * *", "2026-05-10T10:16:00Z", "2026-05-10T10:30:00Z"),
    ("1,15,30 * * * *", "2026-05-10T10:30:00Z", "2026-05-10T11:01:00Z"),
    ("1-5 * * * *", "2026-05-10T10:05:00Z", "2026-05-10T11:01:00Z"),
    ("1-30/5 * * * *", "2026-05-10T10:21:00Z", "2026-05-10T10:26:00Z"),
    ("1-30/5 * * * *", "2026-05-10T10:26:00Z", "2026-05-10T11:01:00Z"),
    ("5/15 * * * *", "2026-05-10T10:51:00Z", "2026-05-10T11:05:00Z"),
    ("5/15 * * * *", "2026-05-10T10:36:00Z", "2026-05-10T10:50:00Z"),
    ("0 */6 * * *", "2026-05-10T12:00:00Z", "2026-05-10T18:00:00Z"),
    ("0 9-17/4 * * *", "2026-05-10T13:00:00Z", "2026-05-10T17:00:00Z"),
    ("0 0 1 jan *", "2026-03-02T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("0 0 1 JAN-Mar,oct *", "2026-03-02T00:00:00Z", "2026-10-01T00:00:00Z"),
    ("0 0 1 */4 *", "2026-05-02T00:00:00Z", "2026-09-01T00:00:00Z"),
    // 2026-01-01 is a Thursday.
    ("0 12 * * mon,WED", "2026-01-01T00:00:00Z", "2026-01-05T12:00:00Z"),
    ("0 12 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z"),
    ("0 12 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z"),
    ("0 12 * * Sun", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z"),
    ("0 12 * * 6-7", "2026-01-03T13:00:00Z", "2026-01-04T12:00:00Z"),
    ("0 12 * * 5-7", "2026-01-04T13:00:00Z", "2026-01-09T12:00:00Z"),
    ("0 12 * * fri-sat", "2026-01-03T13:00:00Z", "2026-01-09T12:00:00Z"),
    ("0 12 * * */2", "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"),
    ("0 12 * * 1/2", "2026-01-02T13:00:00Z", "2026-01-05T12:00:00Z"),
    ("0\t9  *   *\t 1-5", "2026-01-03T00:00:00Z", "2026-01-05T09:00:00Z"),
    ("  0 9 * * *  ", "2026-01-03T00:00:00Z", "2026-01-03T09:00:00Z"),
    ("@yearly", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("@annually", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("@monthly", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"),
    ("@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),
    ("@daily", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
    ("@midnight", "2026-06-01T10:00:00Z", "2026-06-02T00:00:00Z"),
    ("@hourly", "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"),
    ("@Daily", "2026-06-01T10:00:00Z", "2026-06-02T00:00:00Z"),
])
func validExpressionsFireWhereExpected(expression: String, after: String, expected: String) throws {
    let schedule = try cron(expression)
    #expect(schedule.nextFire(after: iso(after), in: utc) == iso(expected))
    #expect(schedule.expression == expression)
    #expect(schedule.description == expression)
}

@Test(arguments: [
    ("", "expression"),
    ("   ", "expression"),
    ("* * * *", "expression"),
    ("* * * * * *", "expression"),
    ("0 0 * * * 2026", "expression"),
    ("@every 5m", "expression"),
    ("@fortnightly", "expression"),
    ("@daily 0", "expression"),
    ("60 * * * *", "minute"),
    ("* 24 * * *", "hour"),
    ("* * 0 * *", "day of month"),
    ("* * 32 * *", "day of month"),
    ("* * * 0 *", "month"),
    ("* * * 13 *", "month"),
    ("* * * * 8", "day of week"),
    ("5-1 * * * *", "minute"),
    ("* * * dec-jan *", "month"),
    ("* * * * sat-sun", "day of week"),
    ("*/0 * * * *", "minute"),
    ("* 1-5/0 * * *", "hour"),
    ("*/ * * * *", "minute"),
    ("* * */32 * *", "day of month"),
    ("1/2/3 * * * *", "minute"),
    ("1,,2 * * * *", "minute"),
    ("1, * * * *", "minute"),
    (",1 * * * *", "minute"),
    ("1-2-3 * * * *", "minute"),
    ("-1 * * * *", "minute"),
    ("* 3- * * *", "hour"),
    ("99999999999999999999999 * * * *", "minute"),
    ("a * * * *", "minute"),
    ("jan * * * *", "minute"),
    ("* * * sun *", "month"),
    ("* * * january *", "month"),
    ("* * mon * *", "day of month"),
    ("0 0 ? * *", "day of month"),
    ("0 0 L * *", "day of month"),
    ("* * * * 1#2", "day of week"),
    ("* * * * mon-", "day of week"),
    ("0x1 * * * *", "minute"),
    ("+1 * * * *", "minute"),
    ("** * * * *", "minute"),
    ("٣ * * * *", "minute"),
])
func invalidExpressionsNameTheField(expression: String, field: String) {
    let error = #expect(throws: CronParseError.self) {
        _ = try CronSchedule(parsing: expression)
    }
    #expect(error?.field == field)
}

@Test func parseErrorsSayWhatIsWrong() {
    func failure(_ expression: String) -> CronParseError? {
        do {
            _ = try CronSchedule(parsing: expression)
            return nil
        } catch {
            return error
        }
    }
    #expect(failure("61 * * * *") == CronParseError(field: "minute", message: "value 61 out of range 0-59"))
    #expect(failure("61 * * * *")?.description == "minute: value 61 out of range 0-59")
    #expect(failure("5-1 * * * *")?.message.contains("reversed") == true)
    #expect(failure("*/0 * * * *")?.message == "step 0 out of range 1-60")
    #expect(
        failure("* * * *")?.description
            == "expression: expected 5 fields (minute hour day-of-month month day-of-week), got 4")
}

@Test func equalityFollowsTheExpression() throws {
    #expect(try cron("0 9 * * 1-5") == cron("0 9 * * 1-5"))
    #expect(try cron("0 9 * * 1-5") != cron("0 9 * * 1-6"))
}

// MARK: - Previous and next fire in UTC

@Test(arguments: [
    // (expression, date, previous fire at or before, next fire after)
    ("0 9 * * *", "2026-05-10T08:59:59Z", "2026-05-09T09:00:00Z", "2026-05-10T09:00:00Z"),
    ("0 9 * * *", "2026-05-10T09:00:00Z", "2026-05-10T09:00:00Z", "2026-05-11T09:00:00Z"),
    ("0 9 * * *", "2026-05-10T09:00:30.500Z", "2026-05-10T09:00:00Z", "2026-05-11T09:00:00Z"),
    ("* * * * *", "2026-05-10T10:20:30Z", "2026-05-10T10:20:00Z", "2026-05-10T10:21:00Z"),
    ("* * * * *", "2026-05-10T10:20:00Z", "2026-05-10T10:20:00Z", "2026-05-10T10:21:00Z"),
    ("*/15 * * * *", "2026-12-31T23:50:00Z", "2026-12-31T23:45:00Z", "2027-01-01T00:00:00Z"),
    ("59 23 31 12 *", "2027-01-01T00:00:00Z", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"),
    ("30 7 1 * *", "2026-03-15T00:00:00Z", "2026-03-01T07:30:00Z", "2026-04-01T07:30:00Z"),
    ("0 0 1 1 *", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    ("0 12 * * 1", "1969-12-31T00:00:00Z", "1969-12-29T12:00:00Z", "1970-01-05T12:00:00Z"),
])
func previousAndNextFireInUTC(expression: String, date: String, previous: String, next: String) throws {
    let schedule = try cron(expression)
    #expect(schedule.previousFire(atOrBefore: iso(date), in: utc) == iso(previous))
    #expect(schedule.nextFire(after: iso(date), in: utc) == iso(next))
}

/// Cross-checks against a plain minute-by-minute scan on zones without daylight saving time (including one with a
/// half-hour offset), using predicates written independently of the parser.
@Test func agreesWithMinuteByMinuteScanWithoutDaylightSaving() throws {
    let kolkata = try #require(TimeZone(identifier: "Asia/Kolkata"))
    // Local (minute, hour, day, month, weekday with Sunday = 1), as Calendar reports them.
    typealias Local = (minute: Int, hour: Int, day: Int, month: Int, weekday: Int)
    let cases: [(String, (Local) -> Bool)] = [
        ("*/7 3-5 * * *", { $0.minute % 7 == 0 && (3...5).contains($0.hour) }),
        (
            "15,45 */5 * * mon-fri",
            { [15, 45].contains($0.minute) && $0.hour % 5 == 0 && (2...6).contains($0.weekday) }
        ),
        ("0 6 1-3 * sun", { $0.minute == 0 && $0.hour == 6 && ((1...3).contains($0.day) || $0.weekday == 1) }),
        ("0 6 */2 * sun", { $0.minute == 0 && $0.hour == 6 && $0.day % 2 == 1 && $0.weekday == 1 }),
        ("30 22 * feb,mar 0,6", { $0.minute == 30 && $0.hour == 22 && $0.month >= 2 && [1, 7].contains($0.weekday) }),
    ]
    let start = iso("2026-02-20T00:00:00Z")
    let instants = (0..<(28 * 24 * 60)).map { start.addingTimeInterval(TimeInterval($0 * 60)) }
    for zone in [utc, kolkata] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let locals = instants.map { instant -> Local in
            let parts = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: instant)
            return (parts.minute!, parts.hour!, parts.day!, parts.month!, parts.weekday!)
        }
        for (expression, matches) in cases {
            let schedule = try cron(expression)
            let fireTimes = zip(instants, locals).filter { matches($0.1) }.map(\.0)
            try #require(fireTimes.count >= 2, "\(expression) should fire in the window")
            #expect(
                fires(schedule, after: start.addingTimeInterval(-1), in: zone, count: fireTimes.count) == fireTimes,
                "\(expression) in \(zone.identifier)")
            for (earlier, later) in zip(fireTimes, fireTimes.dropFirst()) {
                let between = earlier.addingTimeInterval(later.timeIntervalSince(earlier) / 2)
                #expect(schedule.previousFire(atOrBefore: between, in: zone) == earlier)
                #expect(schedule.previousFire(atOrBefore: later, in: zone) == later)
                #expect(schedule.nextFire(after: between, in: zone) == later)
            }
        }
    }
}

// MARK: - Day of month and day of week

@Test func restrictedDayOfMonthAndDayOfWeekMatchEither() throws {
    // 2026-01-13 is a Tuesday; the Fridays of January 2026 are the 2nd, 9th, 16th, 23rd and 30th.
    let schedule = try cron("0 0 13 * 5")
    let expected = [
        "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z",
        "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z",
        "2026-02-20T00:00:00Z",
    ].map(iso)
    #expect(fires(schedule, after: iso("2026-01-01T00:00:00Z"), in: utc, count: expected.count) == expected)
    #expect(schedule.previousFire(atOrBefore: iso("2026-01-15T00:00:00Z"), in: utc) == iso("2026-01-13T00:00:00Z"))
}

@Test func unrestrictedFieldMakesBothMatch() throws {
    // With day of week `*` only the 13th counts, and with day of month `*` only Fridays.
    #expect(
        fires(try cron("0 0 13 * *"), after: iso("2026-01-01T00:00:00Z"), in: utc, count: 2)
            == [iso("2026-01-13T00:00:00Z"), iso("2026-02-13T00:00:00Z")])
    #expect(
        fires(try cron("0 0 * * 5"), after: iso("2026-01-01T00:00:00Z"), in: utc, count: 3)
            == [iso("2026-01-02T00:00:00Z"), iso("2026-01-09T00:00:00Z"), iso("2026-01-16T00:00:00Z")])
    // Vixie cron looks only at the first character: `*/2` counts as unrestricted, so this means odd-numbered days
    // that are also Fridays (not odd days or Fridays).
    #expect(
        fires(try cron("0 0 */2 * fri"), after: iso("2026-01-01T00:00:00Z"), in: utc, count: 3)
            == [iso("2026-01-09T00:00:00Z"), iso("2026-01-23T00:00:00Z"), iso("2026-02-13T00:00:00Z")])
}

// MARK: - Time zones and daylight saving time

@Test func weekdayMorningsInAmsterdamFollowWinterAndSummerTime() throws {
    let schedule = try cron("30 7 * * 1-5")
    // Winter (CET, UTC+1): from Friday afternoon to Monday 07:30.
    #expect(schedule.nextFire(after: iso("2026-01-09T12:00:00Z"), in: amsterdam) == iso("2026-01-12T06:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-01-11T12:00:00Z"), in: amsterdam) == iso("2026-01-09T06:30:00Z"))
    // Summer (CEST, UTC+2).
    #expect(schedule.nextFire(after: iso("2026-07-03T12:00:00Z"), in: amsterdam) == iso("2026-07-06T05:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-07-06T05:29:59Z"), in: amsterdam) == iso("2026-07-03T05:30:00Z"))
    // Across the spring change: Friday in CET, Monday in CEST.
    #expect(
        fires(schedule, after: iso("2026-03-26T12:00:00Z"), in: amsterdam, count: 2)
            == [iso("2026-03-27T06:30:00Z"), iso("2026-03-30T05:30:00Z")])
    // 06:45 UTC on a winter Monday is already 07:45 in Amsterdam: that morning's fire has passed.
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-01-12T06:45:00Z"), in: amsterdam) == iso("2026-01-12T06:30:00Z"))
    // The same instant in New York is 01:45 on Monday, so the last fire there was Friday 07:30 EST.
    #expect(schedule.previousFire(atOrBefore: iso("2026-01-12T06:45:00Z"), in: newYork) == iso("2026-01-09T12:30:00Z"))
}

@Test func skippedWallTimeFiresWhenTheGapEnds() throws {
    // Europe/Amsterdam, 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    let schedule = try cron("30 2 * * *")
    #expect(schedule.nextFire(after: iso("2026-03-28T12:00:00Z"), in: amsterdam) == iso("2026-03-29T01:00:00Z"))
    #expect(schedule.nextFire(after: iso("2026-03-29T01:00:00Z"), in: amsterdam) == iso("2026-03-30T00:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-03-29T01:00:00Z"), in: amsterdam) == iso("2026-03-29T01:00:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-03-29T00:59:59Z"), in: amsterdam) == iso("2026-03-28T01:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-03-29T12:00:00Z"), in: amsterdam) == iso("2026-03-29T01:00:00Z"))

    // Several skipped wall times still fire only once, together with the first real minute after the gap.
    let quarterHours = try cron("*/15 2,3 * * *")
    #expect(
        fires(quarterHours, after: iso("2026-03-29T00:00:00Z"), in: amsterdam, count: 5)
            == [
                "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z", "2026-03-29T01:30:00Z", "2026-03-29T01:45:00Z",
                "2026-03-30T00:00:00Z",
            ].map(iso))
    let beforeGap = try cron("59 1 * * *")
    #expect(beforeGap.nextFire(after: iso("2026-03-29T00:00:00Z"), in: amsterdam) == iso("2026-03-29T00:59:00Z"))

    // America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
    #expect(
        fires(schedule, after: iso("2026-03-07T00:00:00Z"), in: newYork, count: 3)
            == [iso("2026-03-07T07:30:00Z"), iso("2026-03-08T07:00:00Z"), iso("2026-03-09T06:30:00Z")])
    #expect(schedule.previousFire(atOrBefore: iso("2026-03-08T08:00:00Z"), in: newYork) == iso("2026-03-08T07:00:00Z"))
}

@Test func repeatedWallTimeFiresOnlyAtItsFirstOccurrence() throws {
    // Europe/Amsterdam, 2026-10-25: 03:00 CEST goes back to 02:00 CET at 01:00 UTC, so 02:30 happens at 00:30 UTC
    // and again at 01:30 UTC.
    let schedule = try cron("30 2 * * *")
    #expect(
        fires(schedule, after: iso("2026-10-24T12:00:00Z"), in: amsterdam, count: 2)
            == [iso("2026-10-25T00:30:00Z"), iso("2026-10-26T01:30:00Z")])
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-10-25T01:45:00Z"), in: amsterdam) == iso("2026-10-25T00:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-10-25T01:30:00Z"), in: amsterdam) == iso("2026-10-25T00:30:00Z"))
    #expect(
        schedule.previousFire(atOrBefore: iso("2026-10-25T00:29:59Z"), in: amsterdam) == iso("2026-10-24T00:30:00Z"))
    #expect(schedule.nextFire(after: iso("2026-10-25T00:45:00Z"), in: amsterdam) == iso("2026-10-26T01:30:00Z"))

    // Every minute of the repeated hour fires during the first pass only.
    let everyMinute = try cron("* 2 * * *")
    #expect(everyMinute.nextFire(after: iso("2026-10-25T00:58:30Z"), in: amsterdam) == iso("2026-10-25T00:59:00Z"))
    #expect(everyMinute.nextFire(after: iso("2026-10-25T00:59:00Z"), in: amsterdam) == iso("2026-10-26T01:00:00Z"))
    #expect(
        everyMinute.previousFire(atOrBefore: iso("2026-10-25T01:45:00Z"), in: amsterdam) == iso("2026-10-25T00:59:00Z"))
    // 03:00 CET (02:00 UTC) comes after the repeated hour.
    let afterRepeat = try cron("0 3 * * *")
    #expect(afterRepeat.nextFire(after: iso("2026-10-25T00:00:00Z"), in: amsterdam) == iso("2026-10-25T02:00:00Z"))

    // America/New_York, 2026-11-01: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    #expect(
        fires(try cron("30 1 * * *"), after: iso("2026-10-31T12:00:00Z"), in: newYork, count: 2)
            == [iso("2026-11-01T05:30:00Z"), iso("2026-11-02T06:30:00Z")])
}

/// Cross-checks the daylight-saving rules against a brute-force model that steps through every UTC minute: a wall time
/// fires the first time the clock shows it, and wall times the clock jumps over fire at the instant of the jump.
@Test func agreesWithMinuteByMinuteModelAcrossDaylightSavingChanges() throws {
    typealias Local = (minute: Int, hour: Int, day: Int, month: Int, weekday: Int)
    let cases: [(String, (Local) -> Bool)] = [
        ("*/15 * * * *", { $0.minute % 15 == 0 }),
        ("30 2 * * *", { $0.minute == 30 && $0.hour == 2 }),
        ("* 2 * * *", { $0.hour == 2 }),
        ("@daily", { $0.minute == 0 && $0.hour == 0 }),
        ("45 1 * * sun", { $0.minute == 45 && $0.hour == 1 && $0.weekday == 1 }),
        ("0,30 0-3 * * *", { $0.minute % 30 == 0 && $0.hour <= 3 }),
    ]
    // Five-day windows around each change of 2026; the first day only primes the model.
    let windows: [(TimeZone, String)] = [
        (amsterdam, "2026-03-27T00:00:00Z"), (amsterdam, "2026-10-23T00:00:00Z"),
        (newYork, "2026-03-06T00:00:00Z"), (newYork, "2026-10-30T00:00:00Z"),
        (lordHowe, "2026-04-02T00:00:00Z"), (lordHowe, "2026-10-01T00:00:00Z"),
        (havana, "2026-03-06T00:00:00Z"), (havana, "2026-10-30T00:00:00Z"),
    ]
    var wallCalendar = Calendar(identifier: .gregorian)
    wallCalendar.timeZone = utc
    func local(wall: Int) -> Local {
        let parts = wallCalendar.dateComponents(
            [.minute, .hour, .day, .month, .weekday], from: Date(timeIntervalSince1970: TimeInterval(wall)))
        return (parts.minute!, parts.hour!, parts.day!, parts.month!, parts.weekday!)
    }
    for (zone, startText) in windows {
        let start = Int(iso(startText).timeIntervalSince1970)
        let instants = stride(from: start, to: start + 5 * 86_400, by: 60)
        let walls = instants.map { $0 + zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval($0))) }
        #expect(
            Set(walls).count < walls.count || walls.last! - walls.first! > 5 * 86_400 - 60,
            "the window starting \(startText) should contain a change in \(zone.identifier)")
        for (expression, matches) in cases {
            var seen = Set<Int>()
            var expected: [Date] = []
            for (index, (instant, wall)) in zip(instants, walls).enumerated() {
                let skipped = index == 0 ? [] : Array(stride(from: walls[index - 1] + 60, to: wall, by: 60))
                let firstShowing = !seen.contains(wall) && matches(local(wall: wall))
                let jumpedOver = skipped.contains { matches(local(wall: $0)) }
                seen.insert(wall)
                if (firstShowing || jumpedOver) && instant >= start + 86_400 {
                    expected.append(Date(timeIntervalSince1970: TimeInterval(instant)))
                }
            }
            let schedule = try cron(expression)
            let from = Date(timeIntervalSince1970: TimeInterval(start + 86_400 - 1))
            #expect(
                fires(schedule, after: from, in: zone, count: expected.count) == expected,
                "\(expression) in \(zone.identifier) from \(startText)")
            for (earlier, later) in zip(expected, expected.dropFirst()) {
                let between = earlier.addingTimeInterval(later.timeIntervalSince(earlier) / 2)
                #expect(schedule.previousFire(atOrBefore: between, in: zone) == earlier, "\(expression) \(between)")
                #expect(schedule.previousFire(atOrBefore: later, in: zone) == later, "\(expression) \(later)")
                #expect(schedule.nextFire(after: between, in: zone) == later, "\(expression) \(between)")
            }
        }
    }
}

@Test func halfHourDaylightSavingInLordHowe() throws {
    // Australia/Lord_Howe moves its clocks by 30 minutes: UTC+10:30 in winter, UTC+11 in summer.
    // 2026-10-04 02:00 jumps to 02:30 (at 15:30 UTC the day before); 02:15 is skipped.
    let skipped = try cron("15 2 * * *")
    #expect(skipped.nextFire(after: iso("2026-10-03T00:00:00Z"), in: lordHowe) == iso("2026-10-03T15:30:00Z"))
    // 2026-04-05 02:00 goes back to 01:30 (at 15:00 UTC the day before); 01:45 first happens at 14:45 UTC.
    #expect(
        fires(try cron("45 1 * * *"), after: iso("2026-04-04T00:00:00Z"), in: lordHowe, count: 2)
            == [iso("2026-04-04T14:45:00Z"), iso("2026-04-05T15:15:00Z")])
}

@Test func daylightSavingChangeAtMidnight() throws {
    // America/Havana changes at midnight: on 2026-03-08 midnight itself is skipped (00:00 CST becomes 01:00 CDT at
    // 05:00 UTC), and on 2026-11-01 midnight happens twice (04:00 and 05:00 UTC).
    let schedule = try cron("@daily")
    #expect(
        fires(schedule, after: iso("2026-03-07T00:00:00Z"), in: havana, count: 3)
            == [iso("2026-03-07T05:00:00Z"), iso("2026-03-08T05:00:00Z"), iso("2026-03-09T04:00:00Z")])
    #expect(
        fires(schedule, after: iso("2026-10-31T00:00:00Z"), in: havana, count: 3)
            == [iso("2026-10-31T04:00:00Z"), iso("2026-11-01T04:00:00Z"), iso("2026-11-02T05:00:00Z")])
    #expect(schedule.previousFire(atOrBefore: iso("2026-11-01T05:30:00Z"), in: havana) == iso("2026-11-01T04:00:00Z"))
}

// MARK: - Rare and impossible schedules

@Test func leapDayIsFoundYearsAway() throws {
    let schedule = try cron("0 0 29 2 *")
    #expect(schedule.nextFire(after: iso("2026-01-01T00:00:00Z"), in: utc) == iso("2028-02-29T00:00:00Z"))
    #expect(schedule.previousFire(atOrBefore: iso("2026-01-01T00:00:00Z"), in: utc) == iso("2024-02-29T00:00:00Z"))
    // 2100 is not a leap year, so the gap is eight years.
    #expect(schedule.nextFire(after: iso("2096-03-01T00:00:00Z"), in: utc) == iso("2104-02-29T00:00:00Z"))
    #expect(schedule.previousFire(atOrBefore: iso("2104-02-28T00:00:00Z"), in: utc) == iso("2096-02-29T00:00:00Z"))
    #expect(schedule.nextFire(after: iso("2026-01-01T00:00:00Z"), in: amsterdam) == iso("2028-02-28T23:00:00Z"))
}

@Test(arguments: ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *", "0 0 31 2 */2"])
func impossibleSchedulesNeverFire(expression: String) throws {
    let schedule = try cron(expression)
    #expect(schedule.nextFire(after: iso("2026-01-01T00:00:00Z"), in: amsterdam) == nil)
    #expect(schedule.previousFire(atOrBefore: iso("2026-01-01T00:00:00Z"), in: amsterdam) == nil)
}

@Test func impossibleDayOfMonthStillFiresOnTheRestrictedWeekday() throws {
    // Both fields restricted: either may match, so February Mondays count although February 31 does not exist.
    #expect(
        try cron("0 0 31 2 mon").nextFire(after: iso("2026-01-01T00:00:00Z"), in: utc) == iso("2026-02-02T00:00:00Z"))
}

@Test func datesOutsideAnySensibleRangeGiveNil() throws {
    let schedule = try cron("* * * * *")
    #expect(schedule.previousFire(atOrBefore: .distantPast, in: utc) == nil)
    #expect(schedule.nextFire(after: Date(timeIntervalSince1970: .nan), in: utc) == nil)
    #expect(schedule.nextFire(after: Date(timeIntervalSince1970: .infinity), in: utc) == nil)
    #expect(schedule.nextFire(after: .distantFuture, in: utc) == iso("4001-01-01T00:01:00Z"))
}

@Test func manyLookupsWalkDaysNotMinutes() throws {
    // By construction each lookup visits at most a week of days and one candidate per matching day; 2,000 of them
    // would take far too long if the search stepped through minutes.
    let schedule = try cron("0 9 * * 1")
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = amsterdam
    let start = iso("2026-01-01T00:00:00Z")
    for step in 0..<2_000 {
        let date = start.addingTimeInterval(TimeInterval(step) * 16_411)
        let fire = try #require(schedule.previousFire(atOrBefore: date, in: amsterdam))
        let local = calendar.dateComponents([.weekday, .hour, .minute, .second], from: fire)
        #expect(local.weekday == 2 && local.hour == 9 && local.minute == 0 && local.second == 0)
        #expect(fire <= date && date.timeIntervalSince(fire) < 7 * 86_400)
    }
}
