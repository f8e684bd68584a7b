import Foundation

/// How to replay a trace.
public struct ReplayOptions: Sendable, Equatable {
    /// More or less traffic on the same time scale (requests thinned or replicated; rates multiplied).
    public var rateScale: Double
    /// Seconds into the trace to begin at.
    public var start: Double
    /// Seconds to replay; nil to the end.
    public var duration: Double?
    public var seed: UInt64

    public init(rateScale: Double = 1, start: Double = 0, duration: Double? = nil, seed: UInt64 = 1) {
        self.rateScale = rateScale
        self.start = start
        self.duration = duration
        self.seed = seed
    }
}

/// The requests of a trace in arrival order, synthesised lazily for rate traces (a 14-day trace at hundreds of
/// requests per second never exists in memory at once). Arrivals are relative to `options.start`.
public struct RequestStream: IteratorProtocol, Sequence, Sendable {
    private let options: ReplayOptions
    private var random: SeededRandom
    private var materialized: [TraceRequest]
    private var index = 0
    private var segments: [RateSegment]
    private var segment = 0
    private var clock: Double?

    public init(_ trace: Trace, options: ReplayOptions = ReplayOptions()) {
        self.options = options
        self.random = SeededRandom(seed: options.seed)
        let end = options.duration.map { options.start + $0 } ?? .infinity
        switch trace {
        case .requests(let requests):
            var rng = SeededRandom(seed: options.seed ^ 0x5EED)
            var scaled: [TraceRequest] = []
            for request in requests where request.arrival >= options.start && request.arrival < end {
                // Whole copies, plus one more with the fractional probability; copies spread over the next second.
                var copies = Int(options.rateScale)
                if rng.unit() < options.rateScale - Double(copies) { copies += 1 }
                for copy in 0..<copies {
                    var shifted = request
                    shifted.arrival = request.arrival - options.start + (copy == 0 ? 0 : rng.unit())
                    scaled.append(shifted)
                }
            }
            materialized = scaled.sorted { $0.arrival < $1.arrival }
            segments = []
        case .rates(let all):
            materialized = []
            segments = all.compactMap { original in
                let from = Swift.max(original.start, options.start)
                let to = Swift.min(original.start + original.duration, end)
                guard to > from else { return nil }
                var clipped = original
                clipped.start = from - options.start
                clipped.duration = to - from
                clipped.requestsPerSecond *= options.rateScale
                return clipped
            }
            .sorted { $0.start < $1.start }
        }
    }

    public mutating func next() -> TraceRequest? {
        if index < materialized.count {
            defer { index += 1 }
            return materialized[index]
        }
        while segment < segments.count {
            let current = segments[segment]
            let end = current.start + current.duration
            guard current.requestsPerSecond > 0 else {
                segment += 1
                clock = nil
                continue
            }
            let mean = 1 / current.requestsPerSecond
            // Entering a segment: its first gap starts at its start (the process restarts at rate changes).
            let from = clock ?? current.start
            let arrival = from + random.gamma(mean: mean, cv: current.interArrivalCV)
            if arrival >= end {
                segment += 1
                clock = nil
                continue
            }
            clock = arrival
            return TraceRequest(
                arrival: arrival, inputTokens: tokens(mean: current.meanInputTokens, cv: current.tokenCV),
                outputTokens: tokens(mean: current.meanOutputTokens, cv: current.tokenCV))
        }
        return nil
    }

    private mutating func tokens(mean: Double, cv: Double) -> Int {
        guard mean > 0 else { return 1 }
        let value = cv > 0 ? random.gamma(mean: mean, cv: cv) : mean
        return Swift.max(1, Int(value.rounded()))
    }
}
