import Simulator

/// The demo's traffic: a quiet start, a ramp up to a peak several replicas wide, a hold, a ramp down, and a quiet
/// end long enough to watch the scale-down. Phases are fractions of the demo's length, so a one-minute test run
/// has the same shape as the five-minute demo.
struct LoadPattern: Sendable {
    struct Phase: Sendable, Equatable {
        var name: String
        var start: Double
        var end: Double
    }

    let duration: Double
    let baseRate: Double
    let peakRate: Double
    let phases: [Phase]
    /// Chat-like requests (the Azure 2023 conversation trace's means are 1,155 in and 211 out).
    static let meanInputTokens = 1_000.0
    static let meanOutputTokens = 200.0

    init(duration: Double, baseRate: Double, peakRate: Double) {
        self.duration = duration
        self.baseRate = baseRate
        self.peakRate = peakRate
        let shape: [(String, Double)] = [
            ("quiet", 0.15), ("ramp-up", 0.25), ("peak", 0.2), ("ramp-down", 0.10), ("quiet again", 0.30),
        ]
        var start = 0.0
        phases = shape.map { name, share in
            defer { start += share * duration }
            return Phase(name: name, start: start, end: start + share * duration)
        }
    }

    /// Requests per second at `time`.
    func rate(at time: Double) -> Double {
        guard let index = phaseIndex(at: time) else { return baseRate }
        let phase = phases[index]
        let progress = (time - phase.start) / max(phase.end - phase.start, 1e-9)
        switch phase.name {
        case "ramp-up": return baseRate + (peakRate - baseRate) * progress
        case "peak": return peakRate
        case "ramp-down": return peakRate - (peakRate - baseRate) * progress
        default: return baseRate
        }
    }

    func phaseIndex(at time: Double) -> Int? {
        phases.firstIndex { time >= $0.start && time < $0.end }
    }

    /// The pattern as one-second rate segments (Poisson arrivals within each), then `extra` seconds at the base rate
    /// for a demo that keeps running.
    func segments(extra: Double) -> [RateSegment] {
        let seconds = Int(duration.rounded(.up))
        var segments = (0..<seconds).map { second in
            RateSegment(
                start: Double(second), duration: 1, requestsPerSecond: rate(at: Double(second) + 0.5),
                interArrivalCV: 1, meanInputTokens: Self.meanInputTokens, meanOutputTokens: Self.meanOutputTokens)
        }
        if extra > 0 {
            segments.append(
                RateSegment(
                    start: Double(seconds), duration: extra, requestsPerSecond: baseRate, interArrivalCV: 1,
                    meanInputTokens: Self.meanInputTokens, meanOutputTokens: Self.meanOutputTokens))
        }
        return segments
    }
}
