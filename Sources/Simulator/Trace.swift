import Foundation

/// One request of a trace.
public struct TraceRequest: Sendable, Equatable {
    /// Seconds from the start of the trace (or of the cut window).
    public var arrival: Double
    public var inputTokens: Int
    public var outputTokens: Int

    public init(arrival: Double, inputTokens: Int, outputTokens: Int) {
        self.arrival = arrival
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// A stretch of a trace known only by its rate: arrivals are synthesised inside it.
public struct RateSegment: Sendable, Equatable {
    public var start: Double
    public var duration: Double
    public var requestsPerSecond: Double
    /// Coefficient of variation of inter-arrival times (1 = Poisson).
    public var interArrivalCV: Double
    public var meanInputTokens: Double
    public var meanOutputTokens: Double
    /// Spread of tokens around the means: 0 when the means are exact (a second's own requests), 1 otherwise.
    public var tokenCV: Double = 1

    public init(
        start: Double, duration: Double, requestsPerSecond: Double, interArrivalCV: Double = 1,
        meanInputTokens: Double, meanOutputTokens: Double, tokenCV: Double = 1
    ) {
        self.start = start
        self.duration = duration
        self.requestsPerSecond = requestsPerSecond
        self.interArrivalCV = interArrivalCV
        self.meanInputTokens = meanInputTokens
        self.meanOutputTokens = meanOutputTokens
        self.tokenCV = tokenCV
    }
}

/// A trace file, as the shared/traces formats give it.
public enum Trace: Sendable {
    /// Every request with its time and tokens (Azure 2023 per-request CSV).
    case requests([TraceRequest])
    /// Rates per interval (per-second rates, ServeGen 600 s windows, the Azure 2024 curve).
    case rates([RateSegment])

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Token means of the Azure 2023 per-request traces (`trace_stats.csv`), for curves that carry no token
    /// counts (the Azure 2024 rate curves): code sends long prompts and gets short answers, conversation the reverse.
    public static let conversationTokens = (input: 1155.0, output: 211.0)
    static let codeTokens = (input: 2048.0, output: 28.0)

    /// The token mix of a curve without token counts, by the workload its file is named for (Azure publishes
    /// `code` and `conv` traces); a name that says neither gets the conversation mix.
    static func tokenMix(forCurveNamed name: String) -> (input: Double, output: Double) {
        let file = name.split(separator: "/").last.map { $0.lowercased() } ?? ""
        return file.contains("code") ? codeTokens : conversationTokens
    }

    /// Reads a trace file, recognising its format by its header.
    public static func load(_ path: String) throws -> Trace {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FormatError(description: "\(path): cannot read file")
        }
        return try parse(text, name: path)
    }

    public static func parse(_ text: String, name: String) throws -> Trace {
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { throw FormatError(description: "\(name): empty file") }
        let header = lines.removeFirst().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        func fields(_ line: String, _ number: Int) throws -> [String] {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard values.count >= header.count else {
                throw FormatError(
                    description: "\(name):\(number + 2): expected \(header.count) columns, got \(values.count)")
            }
            return values
        }
        func number(_ text: String, _ line: Int) throws -> Double {
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw FormatError(description: "\(name):\(line + 2): not a number: \"\(text)\"")
            }
            return value
        }

        if let time = column("TIMESTAMP"), let input = column("ContextTokens"), let output = column("GeneratedTokens") {
            var requests: [TraceRequest] = []
            var first: Double?
            for (index, line) in lines.enumerated() {
                let values = try fields(line, index)
                guard let seconds = parseNaiveTimestamp(values[time]) else {
                    throw FormatError(description: "\(name):\(index + 2): bad TIMESTAMP \"\(values[time])\"")
                }
                let origin = first ?? seconds
                first = origin
                requests.append(
                    TraceRequest(
                        arrival: seconds - origin, inputTokens: Int(try number(values[input], index)),
                        outputTokens: Int(try number(values[output], index))))
            }
            return .requests(requests.sorted { $0.arrival < $1.arrival })
        }
        if let time = column("timestamp_s"), let count = column("requests"), let input = column("input_tokens"),
            let output = column("output_tokens")
        {
            return .rates(
                try lines.enumerated().map { index, line in
                    let values = try fields(line, index)
                    let requests = try number(values[count], index)
                    return RateSegment(
                        start: try number(values[time], index), duration: 1, requestsPerSecond: requests,
                        interArrivalCV: 1,
                        meanInputTokens: requests > 0 ? try number(values[input], index) / requests : 0,
                        meanOutputTokens: requests > 0 ? try number(values[output], index) / requests : 0, tokenCV: 0)
                })
        }
        if let time = column("timestamp_s"), let rate = column("requests_per_s"),
            let cv = column("rate_weighted_iat_cv"),
            let input = column("mean_input_tokens"), let output = column("mean_output_tokens"),
            let gap = column("data_gap")
        {
            var segments: [RateSegment] = []
            for (index, line) in lines.enumerated() {
                let values = try fields(line, index)
                // Collection gaps are missing data, not idle time.
                if try number(values[gap], index) != 0 { continue }
                segments.append(
                    RateSegment(
                        start: try number(values[time], index), duration: 600,
                        requestsPerSecond: try number(values[rate], index),
                        interArrivalCV: max(0.1, try number(values[cv], index)),
                        meanInputTokens: try number(values[input], index),
                        meanOutputTokens: try number(values[output], index)))
            }
            return .rates(segments)
        }
        if let time = column("timestamp_s"), let perMinute = column("requests_per_min_mid") {
            let tokens = tokenMix(forCurveNamed: name)
            let starts = try lines.enumerated().map { try number(fields($0.element, $0.offset)[time], $0.offset) }
            return .rates(
                try lines.enumerated().map { index, line in
                    let values = try fields(line, index)
                    let next = index + 1 < starts.count ? starts[index + 1] : starts[index] + 432.9
                    return RateSegment(
                        start: starts[index], duration: next - starts[index],
                        requestsPerSecond: try number(values[perMinute], index) / 60, interArrivalCV: 1,
                        meanInputTokens: tokens.input, meanOutputTokens: tokens.output)
                })
        }
        throw FormatError(description: "\(name): unknown trace format (header: \(header.joined(separator: ",")))")
    }

    /// `2023-11-16 18:17:03.9799600` (naive, as UTC) → seconds since 1970.
    static func parseNaiveTimestamp(_ text: String) -> Double? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int($0) }
        let time = parts[1].split(separator: ":")
        guard date.count == 3, time.count == 3, let hour = Int(time[0]), let minute = Int(time[1]),
            let second = Double(time[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let day = calendar.date(from: DateComponents(year: date[0], month: date[1], day: date[2])) else {
            return nil
        }
        return day.timeIntervalSince1970 + Double(hour * 3600 + minute * 60) + second
    }

    /// Seconds from the trace's start to its end.
    public var span: Double {
        switch self {
        case .requests(let requests): requests.last?.arrival ?? 0
        case .rates(let segments): segments.map { $0.start + $0.duration }.max() ?? 0
        }
    }

    /// The highest rate over windows of `window` seconds (requests per second).
    public func peakRate(window: Double) -> Double {
        switch self {
        case .requests(let requests):
            var counts: [Int: Int] = [:]
            for request in requests { counts[Int(request.arrival / window), default: 0] += 1 }
            return Double(counts.values.max() ?? 0) / window
        case .rates(let segments):
            // Segments at least as long as the window: their own rate; shorter ones averaged per window.
            var totals: [Int: Double] = [:]
            for segment in segments {
                totals[Int(segment.start / window), default: 0] += segment.requestsPerSecond * segment.duration
            }
            let averaged = (totals.values.max() ?? 0) / window
            return max(averaged, segments.filter { $0.duration >= window }.map(\.requestsPerSecond).max() ?? 0)
        }
    }
}
